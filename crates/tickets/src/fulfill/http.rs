//! The fulfill function's HTTP side: routing (webhook POST, landing GET),
//! request checks, the status each result maps to, and response bodies.

use super::machine::{FulfillFault, Outcome};
use super::{Fulfill, pages};
use crate::lang::Lang;
use crate::web;
use crate::webhook::{self, SignatureError};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use std::time::Instant;

/// Stripe events are a few KiB; anything this large is not one.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Why a request was refused: the caller's fault (4xx); nothing changed.
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
    #[error("the event does not carry the object its type names")]
    NotASession,
    #[error("missing or malformed session_id")]
    BadSessionId,
}

impl FulfillError {
    pub fn status(&self) -> StatusCode {
        match self {
            FulfillError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            FulfillError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            FulfillError::MethodNotAllowed => "method_not_allowed",
            FulfillError::TooLarge => "too_large",
            FulfillError::Signature(_) => "bad_signature",
            FulfillError::NotAnEvent => "not_an_event",
            FulfillError::NotASession => "not_a_session",
            FulfillError::BadSessionId => "bad_session_id",
        }
    }
}

/// A request that did not end in an outcome.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Error(#[from] FulfillError),
    #[error(transparent)]
    Fault(#[from] FulfillFault),
}

impl From<SignatureError> for Failure {
    fn from(e: SignatureError) -> Failure {
        Failure::Error(e.into())
    }
}

impl From<crate::config::ConfigUnavailable> for Failure {
    fn from(e: crate::config::ConfigUnavailable) -> Failure {
        Failure::Fault(e.into())
    }
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::Error(e) => e.status(),
            Failure::Fault(f) => f.status(),
        }
    }
    fn outcome(&self) -> &'static str {
        match self {
            Failure::Error(e) => e.outcome(),
            Failure::Fault(f) => f.outcome(),
        }
    }
}

/// What the request's log line says besides status and outcome.
#[derive(Default)]
struct Note {
    outcome: Outcome,
    event_type: Option<String>,
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    /// Stripe's: a live-mode event. Older fixtures may leave it out.
    livemode: Option<bool>,
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
    /// A refund's charge (only read from `refund.*` events, to retrieve it).
    charge: Option<String>,
}

impl Event {
    fn session_id(&self) -> Result<String, FulfillError> {
        match (&self.data.object.object, &self.data.object.id) {
            (Some(kind), Some(id)) if kind == "checkout.session" && is_session_id(id) => Ok(id.clone()),
            _ => Err(FulfillError::NotASession),
        }
    }
}

impl Event {
    /// The id of the event's object of kind `object` (`charge`, `dispute`).
    fn object_id(&self, object: &str, prefix: &str) -> Result<String, FulfillError> {
        match (&self.data.object.object, &self.data.object.id) {
            (Some(kind), Some(id)) if kind == object && is_stripe_id(id, prefix) => Ok(id.clone()),
            _ => Err(FulfillError::NotASession),
        }
    }

    /// A `charge.*` event's charge id.
    fn charge_id(&self) -> Result<String, FulfillError> {
        match (&self.data.object.object, &self.data.object.id) {
            (Some(kind), Some(id)) if kind == "charge" && is_charge_id(id) => Ok(id.clone()),
            _ => Err(FulfillError::NotASession),
        }
    }

    /// A dispute event's dispute (`dp_…`, or `du_…` from older accounts).
    fn dispute_id(&self) -> Result<String, FulfillError> {
        self.object_id("dispute", "dp_").or_else(|_| self.object_id("dispute", "du_"))
    }

    /// A refund event's charge id; `None` for a refund without a charge.
    fn refund_charge(&self) -> Result<Option<String>, FulfillError> {
        if self.data.object.object.as_deref() != Some("refund") {
            return Err(FulfillError::NotASession);
        }
        Ok(self.data.object.charge.clone().filter(|c| is_charge_id(c)))
    }
}

/// Charges are `ch_…`, or `py_…` for some payment methods.
fn is_charge_id(id: &str) -> bool {
    is_stripe_id(id, "ch_") || is_stripe_id(id, "py_")
}

fn is_stripe_id(id: &str, prefix: &str) -> bool {
    id.starts_with(prefix) && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) fn is_session_id(id: &str) -> bool {
    id.starts_with("cs_") && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Fulfill {
    /// Handles one request. Every path ends in a response; one log line each.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        web::with_nosniff(self.answer(request).await)
    }

    async fn answer(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let method = request.method().clone();
        let html = web::wants_html(&request);
        let work = async {
            match method {
                Method::POST => self.webhook(&request).await,
                Method::GET => self.landing(&request).await,
                _ => Err(FulfillError::MethodNotAllowed.into()),
            }
        };
        let result = crate::deadline::scope(crate::deadline::of_request(&request), work).await;
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
            Err(failure) => failure_response(&failure, &method, html, latency_ms),
        }
    }

    async fn webhook(&self, request: &Request) -> Result<(Response<Body>, Note), Failure> {
        let body = web::body_bytes(request);
        if body.len() > MAX_EVENT_BYTES {
            return Err(FulfillError::TooLarge.into());
        }
        let config = self.config.current().await?;
        let signature = request.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
        webhook::verify(signature, body, config.webhook_secrets(), config.webhook_tolerance(), self.now())?;
        let event: Event = serde_json::from_slice(body).map_err(|_| FulfillError::NotAnEvent)?;
        let key_is_live = !config.stripe_secret_key().is_test_mode();
        if event.livemode.is_some_and(|live| live != key_is_live) {
            return Err(mismatch(&event, "the event's mode (livemode) is not the secret key's").into());
        }
        let mut note = Note { event_type: Some(event.kind.clone()), ..Note::default() };
        note.outcome = match event.kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let id = event.session_id()?;
                note.session_id = Some(id.clone());
                self.fulfill(&config, &id).await?
            }
            "checkout.session.async_payment_failed" => {
                let id = event.session_id()?;
                note.session_id = Some(id.clone());
                self.notify_failure(&config, &id).await?
            }
            "checkout.session.expired" => {
                let id = event.session_id()?;
                note.session_id = Some(id.clone());
                self.expire(&config, &id).await?
            }
            "charge.refunded" => self.charge_changed(&config, &event.charge_id()?).await?,
            // Sent for every refund since API version 2024-10-28: the same, through the refund's charge.
            "refund.created" | "refund.updated" => match event.refund_charge()? {
                Some(charge) => self.charge_changed(&config, &charge).await?,
                None => Outcome::NotOurs,
            },
            "charge.dispute.created" | "charge.dispute.closed" => {
                self.dispute_changed(&config, &event.dispute_id()?).await?
            }
            _ => Outcome::Ignored,
        };
        if note.outcome == Outcome::UnknownSession {
            // Signed with our webhook secret, yet the secret key cannot see it.
            return Err(mismatch(&event, "Stripe does not know the event's session under the secret key").into());
        }
        // A duplicate that finds the claim held answers non-2xx: if the holder
        // crashes, Stripe's retry of this delivery still gets the email out.
        let status = if note.outcome == Outcome::InProgress { StatusCode::CONFLICT } else { StatusCode::OK };
        let body = serde_json::json!({ "received": true, "event": event.id, "outcome": note.outcome.as_str() });
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok((response, note))
    }

    async fn landing(&self, request: &Request) -> Result<(Response<Body>, Note), Failure> {
        let id =
            web::query_param(request, "session_id").filter(|id| is_session_id(id)).ok_or(FulfillError::BadSessionId)?;
        let config = self.config.current().await?;
        let stamp = web::query_param(request, crate::return_stamp::STAMP_PARAM);
        let outcome = self.fulfill_on_return(&config, &id, stamp.as_deref()).await?;
        let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let lang = Lang::negotiate(web::query_param(request, "lang").as_deref(), accept_language, config.locale());
        let response = pages::landing(&config, outcome, lang).ok_or(FulfillError::BadSessionId)?;
        Ok((response, Note { outcome, session_id: Some(id), event_type: None }))
    }
}

/// A signed event this shop's secret key cannot act on: the webhook secret
/// and the secret key belong to different accounts or modes. Every paid order
/// would be lost, so it is a 5xx (Stripe retries) and an alert.
fn mismatch(event: &Event, why: &str) -> FulfillFault {
    crate::alert!(
        crate::alert::Alert::WebhookMismatch,
        event = %event.id,
        event_type = %event.kind,
        "{why}: check that stripe_api_secret_key and webhook_signing_secret are of the same Stripe account and mode"
    );
    FulfillFault::Mismatch(format!("{why}; the webhook secret and the secret key do not belong together"))
}

/// The answer to a refused or failed request, and its log line. Stripe shows
/// the body in the Dashboard; the buyer sees a page.
fn failure_response(failure: &Failure, method: &Method, html: bool, latency_ms: f64) -> Response<Body> {
    let status = failure.status();
    let outcome = failure.outcome();
    if status.is_server_error() {
        let error = super::redact_emails(&failure.to_string());
        tracing::error!(route = "fulfill", method = %method, status = status.as_u16(), outcome, error = %error, latency_ms, "fulfill");
    } else {
        tracing::info!(route = "fulfill", method = %method, status = status.as_u16(), outcome, reason = %failure, latency_ms, "fulfill");
    }
    let message = if status.is_server_error() && method != Method::POST {
        "Something went wrong on our side; please reload this page in a minute.".to_owned()
    } else if status.is_server_error() {
        format!("temporary failure ({outcome}); please retry")
    } else {
        failure.to_string()
    };
    let mut response = web::error_response(status, &message, html && method != Method::POST, None);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked() {
        assert!(is_session_id("cs_test_a1b2"));
        assert!(!is_session_id("pi_123"));
        assert!(!is_session_id("cs_test_<script>"));
        assert!(!is_session_id(&format!("cs_{}", "a".repeat(300))));
    }

    #[test]
    fn charge_ids_are_ch_or_py() {
        assert!(is_charge_id("ch_3Abc") && is_charge_id("py_3Abc"));
        assert!(!is_charge_id("pi_3Abc") && !is_charge_id("ch_3<script>") && !is_charge_id("re_3Abc"));
    }
}
