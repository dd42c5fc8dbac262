//! The `checkout` handler: a visitor's ticket form in, `303 See Other` to a
//! Stripe Checkout Session out.

use crate::config::{ConfigCache, ConfigUnavailable};
use crate::order::{OrderError, TicketOrder};
use crate::session::SessionRequest;
use crate::stripe::{Payments, StripeFault};
use crate::web;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use std::sync::Arc;
use std::time::Instant;

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
    #[error("the ticket shop is not available right now; please try again in a minute")]
    ConfigUnavailable(#[from] ConfigUnavailable),
    #[error("the payment service could not be reached; please try again")]
    Stripe(#[from] StripeFault),
}

impl CheckoutError {
    pub fn status(&self) -> StatusCode {
        match self {
            CheckoutError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            CheckoutError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CheckoutError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            CheckoutError::BadForm(_) => StatusCode::BAD_REQUEST,
            CheckoutError::ConfigUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            CheckoutError::Stripe(_) => StatusCode::BAD_GATEWAY,
        }
    }
    fn outcome(&self) -> &'static str {
        match self {
            CheckoutError::MethodNotAllowed => "method_not_allowed",
            CheckoutError::UnsupportedMediaType => "unsupported_media_type",
            CheckoutError::TooLarge => "too_large",
            CheckoutError::BadForm(_) => "bad_form",
            CheckoutError::ConfigUnavailable(_) => "config_unavailable",
            CheckoutError::Stripe(_) => "stripe_error",
        }
    }
}

/// The checkout function's state, built once per container.
pub struct Checkout {
    config: Arc<ConfigCache>,
    payments: Arc<dyn Payments>,
}

impl Checkout {
    pub fn new(config: Arc<ConfigCache>, payments: Arc<dyn Payments>) -> Checkout {
        Checkout { config, payments }
    }

    /// Handles one request. Every path ends in a response; one log line each.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let html = web::wants_html(&request);
        match self.redirect_to_stripe(&request).await {
            Ok((response, ticket)) => {
                tracing::info!(
                    route = "checkout",
                    status = 303,
                    outcome = "redirect",
                    ticket = %ticket,
                    latency_ms = elapsed_ms(started),
                    "checkout"
                );
                response
            }
            Err(error) => {
                let status = error.status();
                if let CheckoutError::Stripe(fault) = &error {
                    tracing::error!(
                        route = "checkout",
                        status = status.as_u16(),
                        outcome = error.outcome(),
                        error = %fault,
                        stripe_request = fault.request_log_url().unwrap_or("-"),
                        latency_ms = elapsed_ms(started),
                        "checkout"
                    );
                } else {
                    tracing::info!(
                        route = "checkout",
                        status = status.as_u16(),
                        outcome = error.outcome(),
                        reason = %error,
                        latency_ms = elapsed_ms(started),
                        "checkout"
                    );
                }
                let back = match &error {
                    CheckoutError::BadForm(_) => self.config.current().await.ok().map(|c| c.cancel_url().to_string()),
                    _ => None,
                };
                let mut response = web::error_response(status, &error.to_string(), html, back.as_deref());
                if status == StatusCode::METHOD_NOT_ALLOWED {
                    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                }
                response
            }
        }
    }

    async fn redirect_to_stripe(&self, request: &Request) -> Result<(Response<Body>, String), CheckoutError> {
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
        let config = self.config.current().await?;
        let order = TicketOrder::from_form(config.catalog(), body)?;
        let session_request = SessionRequest::for_order(&config, &order);
        let session = self.payments.create_checkout_session(config.stripe_secret_key(), &session_request).await?;
        let response = web::see_other(&session.url)
            .ok_or_else(|| StripeFault::Unexpected("the Checkout Session url is not a valid header".into()))?;
        Ok((response, order.ticket().id().to_string()))
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}
