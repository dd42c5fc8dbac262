//! The hosted Checkout page: the local stand-in for Stripe's
//! checkout.stripe.com. Showing a session, the buyer paying or walking away
//! (the session expires), and the signed webhook Stripe would deliver afterwards.

mod page;

use crate::expiry::ExpireError;
use crate::now_unix;
use crate::objects::{allowed_countries, collects_shipping, event_for};
use crate::payment::{Address, Buyer, PayError, PaymentOutcome, pay_session};
use crate::store::{Store, lock};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use page::{checkout_page, expired_page, html_response, not_found_page, paid_page};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings for the hosted Checkout page ([`FakeStripe::serve_hosted`](crate::FakeStripe::serve_hosted)).
#[derive(Clone, Debug)]
pub struct HostedCheckout {
    /// The path it is served under: `GET {route}/{id}` shows a session's
    /// page, `POST {route}/{id}` pays, or with the form field `action=expire`
    /// lets the session expire (the page's "Let this session expire" button).
    pub route: String,
    /// Where `checkout.session.completed` is POSTed after a payment, and
    /// `checkout.session.expired` after the expire button, as Stripe would
    /// deliver them to the webhook endpoint; `None` delivers nothing.
    pub webhook_url: Option<String>,
    /// The endpoint's `whsec_…` signing secret.
    pub webhook_secret: String,
}

/// One webhook the hosted page delivered.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub event_id: String,
    pub event_type: String,
    pub session_id: String,
    pub url: String,
    /// The endpoint's HTTP status; `None` if it could not be reached.
    pub status: Option<u16>,
    /// The start of the endpoint's answer, or why it could not be reached.
    pub response: String,
}

struct Hosted {
    store: Arc<Mutex<Store>>,
    settings: HostedCheckout,
    client: Client<HttpConnector, axum::body::Body>,
}

type HostedState = State<Arc<Hosted>>;

pub(crate) fn hosted_router(store: Arc<Mutex<Store>>, settings: HostedCheckout) -> Router {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let path = format!("{}/{{id}}", settings.route.trim_end_matches('/'));
    Router::new().route(&path, get(hosted_page).post(hosted_pay)).with_state(Arc::new(Hosted {
        store,
        settings,
        client,
    }))
}

/// The form field that makes a POST to the page expire the session instead of paying.
const EXPIRE_ACTION: &str = "expire";

/// What the buyer typed into the hosted page.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PayForm {
    /// `expire` from the expire button; empty from the Pay button.
    action: String,
    email: String,
    name: String,
    line1: String,
    line2: String,
    city: String,
    state: String,
    postal_code: String,
    country: String,
}

/// The session's `success_url` with its `{CHECKOUT_SESSION_ID}` filled in, as Stripe redirects.
fn success_url(session: &Value) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    session["success_url"].as_str().unwrap_or_default().replace("{CHECKOUT_SESSION_ID}", id)
}

/// The session and its line items as they are now (expired if overdue).
fn current_session(hosted: &Hosted, id: &str) -> Option<(Value, Vec<Value>)> {
    let mut store = lock(&hosted.store);
    store.expire_overdue();
    store.session_with_items(id)
}

/// A 303 to `url`, if it is a usable redirect target.
fn see_other(url: &str) -> Option<Response> {
    let location = axum::http::HeaderValue::from_str(url).ok().filter(|_| !url.is_empty())?;
    Some((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

async fn hosted_page(State(hosted): HostedState, Path(id): Path<String>) -> Response {
    let Some((session, items)) = current_session(&hosted, &id) else {
        return not_found_page(&id);
    };
    let form = PayForm { country: default_country(&session), ..PayForm::default() };
    html_response(StatusCode::OK, checkout_page(&session, &items, &form, None))
}

/// Japan when the session ships there (the shop's home), else its first country.
fn default_country(session: &Value) -> String {
    let allowed = allowed_countries(session);
    if allowed.iter().any(|c| c == "JP") { "JP".into() } else { allowed.first().cloned().unwrap_or_default() }
}

async fn hosted_pay(
    State(hosted): HostedState,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<PayForm>,
) -> Response {
    if form.action == EXPIRE_ACTION {
        return hosted_expire(&hosted, &id).await;
    }
    let Some((session, items)) = current_session(&hosted, &id) else {
        return not_found_page(&id);
    };
    let refuse =
        |message: &str| html_response(StatusCode::BAD_REQUEST, checkout_page(&session, &items, &form, Some(message)));
    let buyer = match buyer_from_form(&session, &form) {
        Ok(buyer) => buyer,
        Err(message) => return refuse(&message),
    };
    let paid = pay_session(&mut lock(&hosted.store), &id, &buyer, PaymentOutcome::Paid);
    let session = match paid {
        Ok(session) => session,
        Err(PayError::NoSuchSession) => return not_found_page(&id),
        Err(e) => return refuse(&format!("{e}.")),
    };
    if let Some(url) = &hosted.settings.webhook_url {
        deliver_webhook(&hosted, url, "checkout.session.completed", session.clone()).await;
    }
    see_other(&success_url(&session)).unwrap_or_else(|| html_response(StatusCode::OK, paid_page()))
}

/// The buyer walks away: the session expires, `checkout.session.expired` is
/// delivered, and the browser goes back to the session's `cancel_url`. A
/// session that is not open shows its page as it is.
async fn hosted_expire(hosted: &Hosted, id: &str) -> Response {
    let expired = lock(&hosted.store).expire_session(id);
    let session = match expired {
        Ok(session) => session,
        Err(ExpireError::NoSuchSession) => return not_found_page(id),
        Err(ExpireError::NotOpen(_)) => {
            let Some((session, items)) = current_session(hosted, id) else { return not_found_page(id) };
            return html_response(StatusCode::BAD_REQUEST, checkout_page(&session, &items, &PayForm::default(), None));
        }
    };
    if let Some(url) = &hosted.settings.webhook_url {
        deliver_webhook(hosted, url, "checkout.session.expired", session.clone()).await;
    }
    let cancel_url = session["cancel_url"].as_str().unwrap_or_default();
    see_other(cancel_url).unwrap_or_else(|| html_response(StatusCode::OK, expired_page(&session)))
}

/// The buyer the form describes, or what the page should ask them to fix.
fn buyer_from_form(session: &Value, form: &PayForm) -> Result<Buyer, String> {
    let email = form.email.trim();
    let name = form.name.trim();
    if !email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')) {
        return Err("Enter an email address: your ticket and votekey are sent there.".into());
    }
    if name.is_empty() {
        return Err("Enter your name.".into());
    }
    let shipping = if collects_shipping(session) { Some(shipping_address(form)?) } else { None };
    Ok(Buyer { email: email.into(), name: name.into(), shipping })
}

fn shipping_address(form: &PayForm) -> Result<Address, String> {
    let required = [
        (&form.line1, "address line 1"),
        (&form.city, "city"),
        (&form.postal_code, "postal code"),
        (&form.country, "country"),
    ];
    if let Some((_, field)) = required.iter().find(|(value, _)| value.trim().is_empty()) {
        return Err(format!("Enter the shipping address: the {field} is missing."));
    }
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(Address {
        line1: form.line1.trim().into(),
        line2: optional(&form.line2),
        city: form.city.trim().into(),
        state: optional(&form.state),
        postal_code: form.postal_code.trim().into(),
        country: form.country.trim().to_ascii_uppercase(),
    })
}

/// POSTs a signed event for `session` to `url`, as Stripe delivers webhooks,
/// and records the delivery. Signed with the project's own signing code.
async fn deliver_webhook(hosted: &Hosted, url: &str, event_type: &str, session: Value) -> WebhookDelivery {
    let session_id = session["id"].as_str().unwrap_or_default().to_owned();
    let event = event_for(event_type, session);
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let body = serde_json::to_vec(&event).expect("events serialize");
    let signature = tickets::webhook::sign(&body, &hosted.settings.webhook_secret, now_unix());
    let request = axum::http::Request::post(url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::USER_AGENT, "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .header("stripe-signature", signature)
        .body(axum::body::Body::from(body));
    let (status, response) = match request {
        Err(e) => (None, format!("bad webhook url {url}: {e}")),
        Ok(request) => send_webhook(&hosted.client, request).await,
    };
    let delivery =
        WebhookDelivery { event_id, event_type: event_type.into(), session_id, url: url.into(), status, response };
    match delivery.status {
        Some(s) if (200..300).contains(&s) => {
            tracing::info!(event = %delivery.event_id, status = s, url, "stand-in delivered {event_type}")
        }
        _ => {
            tracing::warn!(event = %delivery.event_id, status = ?delivery.status, response = %delivery.response, url, "stand-in webhook delivery failed (the success page still fulfils)")
        }
    }
    lock(&hosted.store).deliveries.push(delivery.clone());
    delivery
}

/// Sends one webhook request: the endpoint's status and the start of its
/// answer, or no status and why it could not be reached.
async fn send_webhook(
    client: &Client<HttpConnector, axum::body::Body>,
    request: axum::http::Request<axum::body::Body>,
) -> (Option<u16>, String) {
    let sent = tokio::time::timeout(Duration::from_secs(20), async {
        let answer = client.request(request).await.map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let bytes = axum::body::to_bytes(axum::body::Body::new(answer.into_body()), 64 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((status, String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned()))
    })
    .await;
    match sent {
        Ok(Ok((status, text))) => (Some(status), text),
        Ok(Err(e)) => (None, e),
        Err(_) => (None, "timed out after 20 s".into()),
    }
}
