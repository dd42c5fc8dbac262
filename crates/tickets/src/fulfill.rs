//! The `fulfill` handler: Stripe's webhook (POST) and the buyer's return to
//! the success page (GET `?session_id=cs_…`) both lead here, to one
//! fulfilment routine that is safe to run many times, even concurrently.
//!
//! Fulfilling a session: ledger says emailed → done (no Stripe call);
//! otherwise retrieve the session from Stripe (never trust the event's copy),
//! record it, and if paid claim the votekey email in the ledger, send it,
//! and mark it sent.

use crate::config::{Config, ConfigCache, ConfigUnavailable};
use crate::email::{self, EmailLanguage, PaymentFailedEmail, VotekeyEmail};
use crate::ledger::{ClaimOutcome, Ledger, LedgerFault, Notice, OrderDetails, OrderStatus, VotekeyUse};
use crate::mail::{MailFault, Mailer, OutgoingEmail};
use crate::session::TICKET_METADATA_KEY;
use crate::stripe::{Payments, SessionView, StripeFault};
use crate::web;
use crate::webhook::{self, SignatureError};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Stripe events are a few KiB; anything this large is not one.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// How a fulfilment ended (each is one log line's `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// We sent the votekey email just now.
    Emailed,
    /// The ledger already shows it sent.
    AlreadyEmailed,
    /// Another delivery holds the claim right now.
    InProgress,
    /// Not paid yet (a delayed method): recorded, waiting.
    AwaitingPayment,
    /// The delayed payment failed (the buyer was emailed about it).
    PaymentFailed,
    /// We told the buyer that the delayed payment failed.
    FailureEmailed,
    /// The failure email was sent already.
    FailureAlreadyEmailed,
    /// Nothing to do for this session (e.g. a failure event for a paid order).
    NotApplicable,
    /// Paid, but Stripe has no email address for the buyer: logged for the organizer.
    NoEmailAddress,
    /// Stripe has no such session.
    UnknownSession,
    /// An event type we do not handle.
    #[default]
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Emailed => "emailed",
            Outcome::AlreadyEmailed => "already_emailed",
            Outcome::InProgress => "in_progress",
            Outcome::AwaitingPayment => "awaiting_payment",
            Outcome::PaymentFailed => "payment_failed",
            Outcome::FailureEmailed => "failure_emailed",
            Outcome::FailureAlreadyEmailed => "failure_already_emailed",
            Outcome::NotApplicable => "not_applicable",
            Outcome::NoEmailAddress => "no_email_address",
            Outcome::UnknownSession => "unknown_session",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Why a request could not be handled. Client errors are 4xx and change
/// nothing; faults are 5xx so Stripe (or the buyer) tries again.
#[derive(Debug, thiserror::Error)]
pub enum FulfillError {
    #[error("use POST for Stripe webhooks or GET with ?session_id=")]
    MethodNotAllowed,
    #[error("the request body is too large for a Stripe event")]
    TooLarge,
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the verified body is not a Stripe event")]
    NotAnEvent,
    #[error("the event does not carry a Checkout Session")]
    NotASession,
    #[error("missing or malformed session_id")]
    BadSessionId,
    #[error("the ticket shop is not available right now; please try again in a minute")]
    ConfigUnavailable(#[from] ConfigUnavailable),
    #[error("the ticket shop is not configured to send email (email_from)")]
    NoSender,
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeFault),
    #[error("{0}")]
    Ledger(#[from] LedgerFault),
    #[error("{0}")]
    Mail(#[from] MailFault),
    #[error("the claim's lease ran out before sending")]
    LeaseTooShort,
    #[error("could not draw a votekey: {0}")]
    Votekey(String),
}

impl FulfillError {
    pub fn status(&self) -> StatusCode {
        use FulfillError::*;
        match self {
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Signature(_) | NotAnEvent | NotASession | BadSessionId => StatusCode::BAD_REQUEST,
            ConfigUnavailable(_) | NoSender | LeaseTooShort => StatusCode::SERVICE_UNAVAILABLE,
            Stripe(_) => StatusCode::BAD_GATEWAY,
            Ledger(_) | Mail(_) | Votekey(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn outcome(&self) -> &'static str {
        use FulfillError::*;
        match self {
            MethodNotAllowed => "method_not_allowed",
            TooLarge => "too_large",
            Signature(_) => "bad_signature",
            NotAnEvent => "not_an_event",
            NotASession => "not_a_session",
            BadSessionId => "bad_session_id",
            ConfigUnavailable(_) => "config_unavailable",
            NoSender => "no_sender",
            Stripe(_) => "stripe_error",
            Ledger(_) => "ledger_error",
            Mail(_) => "mail_error",
            LeaseTooShort => "lease_too_short",
            Votekey(_) => "votekey_error",
        }
    }
}

/// Seconds since the Unix epoch; injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
}

/// How long a claim lasts, and the most a send may take. The sender refuses
/// to start a send unless `send_budget` still fits in its lease, so an
/// expired claim can never be sent on: the lease may be shorter than the
/// function timeout and a crashed claim is retried soon.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTiming {
    pub lease: Duration,
    pub send_budget: Duration,
}

impl Default for ClaimTiming {
    fn default() -> Self {
        // The SES client's operation timeout is 6 s (runtime::aws_config); the function's is 15 s.
        ClaimTiming { lease: Duration::from_secs(10), send_budget: Duration::from_secs(6) }
    }
}

/// The fulfill function's state, built once per container.
pub struct Fulfill {
    config: Arc<ConfigCache>,
    payments: Arc<dyn Payments>,
    ledger: Arc<dyn Ledger>,
    mailer: Arc<dyn Mailer>,
    clock: Clock,
    timing: ClaimTiming,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}
#[derive(Deserialize)]
struct EventData {
    object: EventObject,
}
#[derive(Deserialize)]
struct EventObject {
    id: Option<String>,
    object: Option<String>,
}

fn is_session_id(id: &str) -> bool {
    id.starts_with("cs_") && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Fulfill {
    pub fn new(
        config: Arc<ConfigCache>,
        payments: Arc<dyn Payments>,
        ledger: Arc<dyn Ledger>,
        mailer: Arc<dyn Mailer>,
    ) -> Fulfill {
        Fulfill { config, payments, ledger, mailer, clock: system_clock(), timing: ClaimTiming::default() }
    }

    pub fn with_clock(mut self, clock: Clock) -> Fulfill {
        self.clock = clock;
        self
    }

    pub fn with_timing(mut self, timing: ClaimTiming) -> Fulfill {
        self.timing = timing;
        self
    }

    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Handles one request. Every path ends in a response; one log line each.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let html = web::wants_html(&request);
        let result = match method {
            Method::POST => self.webhook(&request).await,
            Method::GET => self.landing(&request).await,
            _ => Err(FulfillError::MethodNotAllowed),
        };
        let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        match result {
            Ok((reply, note)) => {
                tracing::info!(
                    route = "fulfill",
                    method = %method,
                    status = reply.status().as_u16(),
                    outcome = note.outcome.as_str(),
                    event = note.event_type.as_deref().unwrap_or("-"),
                    session = note.session_id.as_deref().unwrap_or("-"),
                    latency_ms,
                    "fulfill"
                );
                reply
            }
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(route = "fulfill", method = %method, status = status.as_u16(), outcome = error.outcome(), error = %redact_emails(&error.to_string()), latency_ms, "fulfill");
                } else {
                    tracing::info!(route = "fulfill", method = %method, status = status.as_u16(), outcome = error.outcome(), reason = %error, latency_ms, "fulfill");
                }
                // Stripe shows the body in the Dashboard; the buyer sees a page.
                let message = if status.is_server_error() && method != Method::POST {
                    "Something went wrong on our side; please reload this page in a minute.".to_owned()
                } else if status.is_server_error() {
                    format!("temporary failure ({}); please retry", error.outcome())
                } else {
                    error.to_string()
                };
                let mut response = web::error_response(status, &message, html && method != Method::POST, None);
                if status == StatusCode::METHOD_NOT_ALLOWED {
                    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                }
                response
            }
        }
    }

    async fn webhook(&self, request: &Request) -> Result<(Response<Body>, Note), FulfillError> {
        let body = web::body_bytes(request);
        if body.len() > MAX_EVENT_BYTES {
            return Err(FulfillError::TooLarge);
        }
        let config = self.config.current().await?;
        let signature = request.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
        webhook::verify(signature, body, config.webhook_secrets(), config.webhook_tolerance(), (self.clock)())?;
        let event: Event = serde_json::from_slice(body).map_err(|_| FulfillError::NotAnEvent)?;
        let mut note = Note { event_type: Some(event.kind.clone()), ..Note::default() };

        let session_id = || match (&event.data.object.object, &event.data.object.id) {
            (Some(kind), Some(id)) if kind == "checkout.session" && is_session_id(id) => Ok(id.clone()),
            _ => Err(FulfillError::NotASession),
        };
        note.outcome = match event.kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let id = session_id()?;
                note.session_id = Some(id.clone());
                self.fulfill(&config, &id).await?
            }
            "checkout.session.async_payment_failed" => {
                let id = session_id()?;
                note.session_id = Some(id.clone());
                self.notify_failure(&config, &id).await?
            }
            _ => Outcome::Ignored,
        };
        // A duplicate that finds the claim held answers non-2xx: if the holder
        // crashes, Stripe's retry of this delivery still gets the email out.
        let status = if note.outcome == Outcome::InProgress { StatusCode::CONFLICT } else { StatusCode::OK };
        let body = serde_json::json!({ "received": true, "event": event.id, "outcome": note.outcome.as_str() });
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok((response, note))
    }

    async fn landing(&self, request: &Request) -> Result<(Response<Body>, Note), FulfillError> {
        let id = web::query_param(request, "session_id").filter(|id| is_session_id(id)).ok_or(FulfillError::BadSessionId)?;
        let config = self.config.current().await?;
        let outcome = self.fulfill(&config, &id).await?;
        let note = Note { outcome, session_id: Some(id), event_type: None };
        let page = |status: StatusCode, title: &str, message: &str| {
            let mut response = Response::new(Body::Text(landing_page(title, message, config.cancel_url().as_str())));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        };
        let response = match outcome {
            Outcome::Emailed | Outcome::AlreadyEmailed | Outcome::InProgress => {
                web::see_other(config.thanks_url().as_str()).ok_or(FulfillError::BadSessionId)?
            }
            Outcome::AwaitingPayment => page(
                StatusCode::OK,
                "Thank you!",
                "Your payment is still being processed. As soon as it completes we will email you your ticket and votekey.",
            ),
            Outcome::PaymentFailed => page(
                StatusCode::OK,
                "Payment not completed",
                "Your payment did not go through, so no ticket was issued. You can try again from the ticket page.",
            ),
            Outcome::UnknownSession => page(
                StatusCode::NOT_FOUND,
                "Order not found",
                "We could not find this order. If you paid, your ticket email is on its way; otherwise please start again from the ticket page.",
            ),
            _ => page(
                StatusCode::OK,
                "Thank you",
                "This order has no ticket to send. If you think this is wrong, please contact the organizers.",
            ),
        };
        Ok((response, note))
    }

    /// The fulfilment routine (Stripe's "fulfill_checkout"): idempotent, race-safe.
    pub async fn fulfill(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillError> {
        let existing = self.ledger.get(session_id).await?;
        if existing.as_ref().is_some_and(|o| o.status == OrderStatus::Emailed) {
            return Ok(Outcome::AlreadyEmailed);
        }
        let Some(session) = self.payments.retrieve_session(config.stripe_secret_key(), session_id).await? else {
            return Ok(Outcome::UnknownSession);
        };
        let details = order_details(&session);
        if !session.payment_status.is_settled() {
            if existing.as_ref().is_some_and(|o| matches!(o.status, OrderStatus::Failed | OrderStatus::FailureClaimed)) {
                return Ok(Outcome::PaymentFailed);
            }
            self.ledger.record(&details, (self.clock)()).await?;
            return Ok(Outcome::AwaitingPayment);
        }
        let Some(to) = details.email.clone() else {
            self.ledger.record(&details, (self.clock)()).await?;
            tracing::error!(session = session_id, "paid session without an email address: fulfil it by hand");
            return Ok(Outcome::NoEmailAddress);
        };
        let from = config.email().from.clone().ok_or(FulfillError::NoSender)?;

        let format = config.votekey_format();
        let mut attempts = 0;
        let (token, expires_at, votekey) = loop {
            attempts += 1;
            let (votekey, use_) = match existing.as_ref().and_then(|o| o.votekey.clone()) {
                Some(kept) => (kept, true),
                None => (format.generate().map_err(|e| FulfillError::Votekey(e.to_string()))?.into_string(), false),
            };
            let votekey_use = if use_ { VotekeyUse::Keep(&votekey) } else { VotekeyUse::Reserve(&votekey) };
            let now = (self.clock)();
            let lease = self.timing.lease.as_secs() as i64;
            match self.ledger.claim(&details, Notice::Votekey, votekey_use, now, lease).await? {
                ClaimOutcome::Claimed { token, expires_at } => break (token, expires_at, votekey),
                ClaimOutcome::AlreadySent => return Ok(Outcome::AlreadyEmailed),
                ClaimOutcome::InProgress => return Ok(Outcome::InProgress),
                ClaimOutcome::NotApplicable(status) => {
                    tracing::warn!(session = session_id, status = status.as_str(), "paid session in an unexpected state");
                    return Ok(Outcome::NotApplicable);
                }
                // 21^8 keys make this rare; a few draws make it vanishing.
                ClaimOutcome::VotekeyTaken if attempts < 5 => continue,
                ClaimOutcome::VotekeyTaken => return Err(FulfillError::Votekey("every key drawn was taken".into())),
            }
        };

        let rendered = render_votekey_email(config, &session, &details, &votekey);
        let email = outgoing(config, from, to, rendered);
        self.check_lease(expires_at)?;
        let message_id = self.mailer.send(&email).await?;
        self.record_sent(session_id, Notice::Votekey, &token, &message_id).await;
        Ok(Outcome::Emailed)
    }

    /// `checkout.session.async_payment_failed`: tell the buyer once.
    async fn notify_failure(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillError> {
        let existing = self.ledger.get(session_id).await?;
        if existing.as_ref().is_some_and(|o| o.status == OrderStatus::Failed) {
            return Ok(Outcome::FailureAlreadyEmailed);
        }
        let Some(session) = self.payments.retrieve_session(config.stripe_secret_key(), session_id).await? else {
            return Ok(Outcome::UnknownSession);
        };
        if session.payment_status.is_settled() {
            return Ok(Outcome::NotApplicable);
        }
        let details = order_details(&session);
        let Some(to) = details.email.clone() else {
            self.ledger.record(&details, (self.clock)()).await?;
            return Ok(Outcome::NoEmailAddress);
        };
        let from = config.email().from.clone().ok_or(FulfillError::NoSender)?;
        let now = (self.clock)();
        let (token, expires_at) =
            match self.ledger.claim(&details, Notice::PaymentFailed, VotekeyUse::None, now, self.timing.lease.as_secs() as i64).await? {
                ClaimOutcome::Claimed { token, expires_at } => (token, expires_at),
                ClaimOutcome::AlreadySent => return Ok(Outcome::FailureAlreadyEmailed),
                ClaimOutcome::InProgress => return Ok(Outcome::InProgress),
                ClaimOutcome::NotApplicable(_) | ClaimOutcome::VotekeyTaken => return Ok(Outcome::NotApplicable),
            };
        let rendered = email::render_payment_failed(&PaymentFailedEmail {
            language: EmailLanguage::from_stripe_locale(session.locale.as_deref()),
            event_name: config.email().event_name.as_deref(),
            buyer_name: details.name.as_deref(),
            retry_url: config.cancel_url().as_str(),
            subject_override: None,
            intro_override: None,
        });
        let email = outgoing(config, from, to, rendered);
        self.check_lease(expires_at)?;
        let message_id = self.mailer.send(&email).await?;
        self.record_sent(session_id, Notice::PaymentFailed, &token, &message_id).await;
        Ok(Outcome::FailureEmailed)
    }

    /// Marks a notice sent. The email is out whatever happens here, so a
    /// failure must not become a 5xx (Stripe's retry would send it again):
    /// retry a few times, then log loudly for the organizer and carry on.
    async fn record_sent(&self, session_id: &str, notice: Notice, token: &str, message_id: &str) {
        const ATTEMPTS: u64 = 4;
        for attempt in 1..=ATTEMPTS {
            match self.ledger.complete(session_id, notice, token, message_id, (self.clock)()).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(session = session_id, "claim expired while sending; the ledger shows another claimant");
                    return;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(session = session_id, attempt, error = %e, "recording a sent email failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => tracing::error!(
                    session = session_id,
                    message_id,
                    error = %e,
                    "email sent but not recorded in the ledger: mark the order emailed by hand"
                ),
            }
        }
    }

    /// Refuses to start a send that could outlive the claim's lease.
    fn check_lease(&self, expires_at: i64) -> Result<(), FulfillError> {
        if (self.clock)() + self.timing.send_budget.as_secs() as i64 > expires_at {
            return Err(FulfillError::LeaseTooShort);
        }
        Ok(())
    }
}

#[derive(Default)]
struct Note {
    outcome: Outcome,
    event_type: Option<String>,
    session_id: Option<String>,
}

/// What the ledger keeps of a session.
pub fn order_details(session: &SessionView) -> OrderDetails {
    let mut options = session.metadata.clone();
    let ticket = options.remove(TICKET_METADATA_KEY);
    OrderDetails {
        session_id: session.id.clone(),
        email: session.email.clone(),
        name: session.name.clone(),
        ticket,
        options,
        items: session.line_items.iter().map(|i| format!("{} × {}", i.description, i.quantity)).collect(),
        amount_total: session.amount_total,
        currency: session.currency.clone(),
        shipping_name: session.shipping.as_ref().map(|(name, _)| name.clone()),
        shipping_address: session.shipping.as_ref().map(|(_, a)| a.clone()),
        locale: session.locale.clone(),
    }
}

fn render_votekey_email(config: &Config, session: &SessionView, details: &OrderDetails, votekey: &str) -> email::RenderedEmail {
    let settings = config.email();
    let language = EmailLanguage::from_stripe_locale(session.locale.as_deref());
    let catalog = config.catalog();
    let ticket = details.ticket.as_deref().and_then(|id| catalog.ticket(id));
    let ticket_name = ticket.map_or_else(|| details.ticket.clone().unwrap_or_else(|| "Ticket".into()), |t| t.name().to_owned());
    // Show each chosen option with the catalog's labels ("T-shirt size: L").
    let labelled: Vec<(String, String)> = details
        .options
        .iter()
        .map(|(field, value)| {
            let group = ticket.and_then(|t| t.options().iter().find(|g| g.field() == field));
            let label = group.map_or(field.as_str(), |g| g.label()).to_owned();
            let choice = group.and_then(|g| g.choice(value)).map_or(value.as_str(), |c| c.label()).to_owned();
            (label, choice)
        })
        .collect();
    let options: Vec<(&str, &str)> = labelled.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
    let (subject, intro) = match language {
        EmailLanguage::Japanese => (settings.subject_ja.as_deref(), settings.intro_ja.as_deref()),
        EmailLanguage::English => (settings.subject.as_deref(), settings.intro.as_deref()),
    };
    email::render_votekey(&VotekeyEmail {
        language,
        event_name: settings.event_name.as_deref(),
        buyer_name: details.name.as_deref(),
        votekey,
        ticket_name: &ticket_name,
        options: &options,
        shipping: session.shipping.as_ref().map(|(name, address)| (name.as_str(), address)),
        wuhu_url: settings.wuhu_url.as_ref().map(|u| u.as_str()),
        subject_override: subject,
        intro_override: intro,
    })
}

fn outgoing(config: &Config, from: String, to: String, rendered: email::RenderedEmail) -> OutgoingEmail {
    OutgoingEmail {
        from,
        to,
        reply_to: config.email().reply_to.clone(),
        configuration_set: config.email().configuration_set.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    }
}

fn landing_page(title: &str, message: &str, ticket_page: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em\">\
         <h1>{t}</h1><p>{m}</p><p><a href=\"{u}\">Back to the tickets</a></p></body></html>\n",
        t = web::escape_html(title),
        m = web::escape_html(message),
        u = web::escape_html(ticket_page)
    )
}

/// Email addresses never reach the logs (provider errors sometimes quote them).
pub fn redact_emails(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"' || c == '\'' || c == ',')
        .map(|word| {
            let trimmed = word.trim_end_matches(|c: char| c.is_whitespace() || "<>\"',".contains(c));
            if trimmed.contains('@') {
                format!("<redacted>{}", &word[trimmed.len()..])
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_redacted() {
        assert_eq!(
            redact_emails("Email address is not verified: buyer@example.com, <x@y.jp> ok"),
            "Email address is not verified: <redacted>, <<redacted>> ok"
        );
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(is_session_id("cs_test_a1b2"));
        assert!(!is_session_id("pi_123"));
        assert!(!is_session_id("cs_test_<script>"));
        assert!(!is_session_id(&format!("cs_{}", "a".repeat(300))));
    }
}
