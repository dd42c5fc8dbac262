//! The `checkout` handler: a visitor's ticket form in, `303 See Other` to a
//! Stripe Checkout Session out — after holding a place when the ticket has a
//! capacity (see [`crate::inventory`]). Also `GET /availability`.

mod availability;
pub use availability::{AvailabilityFault, availability_report};
#[cfg(test)]
mod tests;
mod wording;

pub use wording::{Full, SoldOut};

use crate::config::{ConfigCache, ConfigUnavailable, SaleClosed};
use crate::inventory::{self, Hold, Inventory, Reservation};
use crate::lang::Lang;
use crate::ledger::LedgerFault;
use crate::order::{OrderError, TicketOrder};
use crate::session::SessionRequest;
use crate::stripe::{CreatedSession, Payments, StripeFault};
use crate::{Clock, system_clock, web};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

/// A retry after Stripe's 429 starts only with this much of the invocation left.
const MIN_CREATE_TIME: Duration = Duration::from_millis(1500);
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a checkout did not redirect to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("tickets are bought with a POST of the ticket form")]
    MethodNotAllowed,
    #[error("send the form as application/x-www-form-urlencoded (the default for HTML forms)")]
    UnsupportedMediaType,
    #[error("the form is too large")]
    TooLarge,
    #[error("{0}")]
    BadForm(#[from] OrderError),
    #[error("the sale is not open: {0:?}")]
    Closed(SaleClosed),
    #[error("sold out: {0:?}")]
    SoldOut(SoldOut),
    #[error("the ticket shop is not available right now; please try again in a minute")]
    ConfigUnavailable(#[from] ConfigUnavailable),
    #[error("capacity is configured but the function has no orders table: set ORDERS_TABLE")]
    NoInventory,
    #[error("{0}")]
    Inventory(#[from] LedgerFault),
    #[error("the payment service could not be reached; please try again")]
    Stripe(#[from] StripeFault),
    #[error("too many buyers at once: Stripe's rate limit or the counters' write contention outlasted the time budget")]
    Busy,
}

impl CheckoutError {
    pub fn status(&self) -> StatusCode {
        use CheckoutError::*;
        match self {
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BadForm(_) => StatusCode::BAD_REQUEST,
            Closed(_) => StatusCode::FORBIDDEN,
            SoldOut(_) => StatusCode::CONFLICT,
            ConfigUnavailable(_) | NoInventory | Inventory(_) | Busy => StatusCode::SERVICE_UNAVAILABLE,
            Stripe(_) => StatusCode::BAD_GATEWAY,
        }
    }
    fn outcome(&self) -> &'static str {
        use CheckoutError::*;
        match self {
            MethodNotAllowed => "method_not_allowed",
            UnsupportedMediaType => "unsupported_media_type",
            TooLarge => "too_large",
            BadForm(_) => "bad_form",
            Closed(_) => "sale_closed",
            SoldOut(_) => "sold_out",
            ConfigUnavailable(_) => "config_unavailable",
            NoInventory => "no_orders_table",
            Inventory(_) => "ledger_error",
            Stripe(_) => "stripe_error",
            Busy => "stripe_busy",
        }
    }
    /// A dependency's fault the organizer should see (logged as an error).
    fn is_fault(&self) -> bool {
        matches!(self, CheckoutError::NoInventory | CheckoutError::Inventory(_) | CheckoutError::Stripe(_))
    }
}

/// How long checkout keeps retrying Stripe's 429s: short enough that the
/// last attempt still fits in the function's 10 s with Stripe's timeout.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitRetry {
    /// The first pause's ceiling; it doubles per attempt (with full jitter).
    pub base: Duration,
    /// No pause starts once this much time has passed.
    pub budget: Duration,
}

impl Default for RateLimitRetry {
    fn default() -> Self {
        RateLimitRetry { base: Duration::from_millis(250), budget: Duration::from_millis(2500) }
    }
}

/// The checkout function's state, built once per container.
pub struct Checkout {
    config: Arc<ConfigCache>,
    payments: Arc<dyn Payments>,
    inventory: Option<Arc<dyn Inventory>>,
    clock: Clock,
    retry: RateLimitRetry,
}

/// A request the form handler got this far with: for the answer's language and links.
struct Context {
    lang: Lang,
    back_link: Option<String>,
}

impl Checkout {
    pub fn new(config: Arc<ConfigCache>, payments: Arc<dyn Payments>) -> Checkout {
        Checkout { config, payments, inventory: None, clock: system_clock(), retry: RateLimitRetry::default() }
    }

    /// Where holds live; without it a ticket with a capacity cannot be sold (503).
    pub fn with_inventory(mut self, inventory: Arc<dyn Inventory>) -> Checkout {
        self.inventory = Some(inventory);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Checkout {
        self.clock = clock;
        self
    }

    pub fn with_rate_limit_retry(mut self, retry: RateLimitRetry) -> Checkout {
        self.retry = retry;
        self
    }

    /// Handles one request. Every path ends in a response; one log line each.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        web::with_nosniff(self.answer(request).await)
    }

    async fn answer(&self, request: Request) -> Response<Body> {
        if availability::is_availability(&request) {
            return self.availability(&request).await;
        }
        let started = Instant::now();
        let mut context = Context { lang: Lang::negotiate(None, accept_language(&request), "auto"), back_link: None };
        let redirect = self.redirect_to_stripe(&request, &mut context);
        match crate::deadline::scope(crate::deadline::of_request(&request), redirect).await {
            Ok((response, ticket)) => {
                let latency_ms = elapsed_ms(started);
                tracing::info!(route = "checkout", status = 303, outcome = "redirect", ticket = %ticket, latency_ms, "checkout");
                response
            }
            Err(error) => self.refusal(&request, &error, &context, started),
        }
    }

    fn refusal(&self, request: &Request, error: &CheckoutError, context: &Context, started: Instant) -> Response<Body> {
        let status = error.status();
        let (outcome, latency_ms) = (error.outcome(), elapsed_ms(started));
        if let CheckoutError::Stripe(fault) = error {
            let stripe_request = fault.request_log_url().unwrap_or("-");
            tracing::error!(route = "checkout", status = status.as_u16(), outcome, error = %fault, stripe_request, latency_ms, "checkout");
        } else if error.is_fault() {
            tracing::error!(route = "checkout", status = status.as_u16(), outcome, error = %error, latency_ms, "checkout");
        } else {
            tracing::info!(route = "checkout", status = status.as_u16(), outcome, reason = %error, latency_ms, "checkout");
        }
        let (title, paragraphs) = wording::explain(error, context.lang, (self.clock)());
        let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
        let page = web::MessagePage {
            lang: context.lang,
            title: &title,
            paragraphs: &paragraphs,
            back_link: context.back_link.as_deref(),
        };
        let mut response = web::page_response(status, &page, web::wants_html(request));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if matches!(error, CheckoutError::Busy) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        response
    }

    async fn redirect_to_stripe(
        &self,
        request: &Request,
        context: &mut Context,
    ) -> Result<(Response<Body>, String), CheckoutError> {
        let body = checked_form(request)?;
        let config = self.config.current().await?;
        let form_lang = form_field(body, "lang");
        context.lang = Lang::negotiate(form_lang.as_deref(), accept_language(request), config.locale());
        context.back_link = Some(config.cancel_url().to_string());
        let order = TicketOrder::from_form(config.catalog(), body)?;
        order.ticket().sale_window().check((self.clock)()).map_err(CheckoutError::Closed)?;
        let stamp = crate::return_stamp::ReturnStamp::new(config.webhook_secrets()).issue((self.clock)());
        let session_request = SessionRequest::for_order(&config, &order).returning_with(&stamp);
        let limits = inventory::limits(config.catalog(), &order);
        let session = if limits.is_empty() {
            // Nothing limited: today's path, no DynamoDB call.
            self.create_session(&config, &session_request).await?
        } else {
            let inventory = self.inventory.as_deref().ok_or(CheckoutError::NoInventory)?;
            let now = (self.clock)();
            let hold = Hold::new(&limits, now, i64::from(config.hold_minutes()) * 60)?;
            let reservation = match inventory.reserve(&hold, &limits).await {
                Ok(reservation) => reservation,
                Err(fault) => {
                    // It may have committed before its answer was lost: the
                    // release is conditional on the hold, so this is safe either way.
                    self.give_back(inventory, &hold).await;
                    return Err(fault.into());
                }
            };
            match reservation {
                Reservation::Held => {}
                Reservation::SoldOut { counter, counts } => {
                    return Err(CheckoutError::SoldOut(SoldOut::new(&order, &counter, &counts)));
                }
                Reservation::Contended => return Err(CheckoutError::Busy),
            }
            match self.create_session(&config, &session_request.holding(&hold)).await {
                Ok(session) => session,
                Err(error) => {
                    self.give_back(inventory, &hold).await;
                    return Err(error);
                }
            }
        };
        let response = web::see_other(&session.url)
            .ok_or_else(|| StripeFault::Unexpected("the Checkout Session url is not a valid header".into()))?;
        Ok((response, order.ticket().id().to_string()))
    }

    /// Creates the session, retrying Stripe's rate limit (429) with backoff
    /// and jitter within the budget; then the visitor is asked to come back.
    async fn create_session(
        &self,
        config: &crate::config::Config,
        request: &SessionRequest,
    ) -> Result<CreatedSession, CheckoutError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            // Cut off at the invocation's deadline: the visitor gets our 502 page, not the gateway's.
            let create = self.payments.create_checkout_session(config.stripe_secret_key(), request);
            let created = crate::deadline::bounded(create).await.unwrap_or(Err(StripeFault::Timeout));
            match created {
                Err(StripeFault::Api { status: 429, .. }) => {
                    let pause = inventory::jittered(self.retry.base, attempt);
                    let in_time = crate::deadline::allows(pause + MIN_CREATE_TIME);
                    if started.elapsed() + pause > self.retry.budget || !in_time {
                        return Err(CheckoutError::Busy);
                    }
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Stripe made no session for the hold: give its place back at once.
    async fn give_back(&self, inventory: &dyn Inventory, hold: &Hold) {
        if let Err(e) = inventory.release(hold, (self.clock)()).await {
            // The sweeper finds it after expiry (no session carries it) and releases it then.
            tracing::error!(hold = %hold.id, error = %e, "could not give a hold back; the sweeper will after it expires");
        }
    }
}

/// The method, content type and size checks; the form's bytes.
fn checked_form(request: &Request) -> Result<&[u8], CheckoutError> {
    if request.method() != Method::POST {
        return Err(CheckoutError::MethodNotAllowed);
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type
        .is_some_and(|ct| !ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
    {
        return Err(CheckoutError::UnsupportedMediaType);
    }
    let body = web::body_bytes(request);
    if body.len() > web::MAX_BODY_BYTES {
        return Err(CheckoutError::TooLarge);
    }
    Ok(body)
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields.into_iter().find_map(|(k, v)| (k == name).then_some(v))
}

fn accept_language(request: &Request) -> Option<&str> {
    request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

fn elapsed_ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}
