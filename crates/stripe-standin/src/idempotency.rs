//! Stripe's `Idempotency-Key` header on POST requests. The first successful
//! answer to a key is saved; a repeat of the same request with the key gets
//! that answer again (status 200, the body as it was then, header
//! `Idempotent-Replayed: true`) and changes nothing; the key on a request
//! with other parameters or for another endpoint is refused with a 400
//! `idempotency_error`. As on Stripe, a request refused before it ran (a
//! parameter error, 401, 429, an injected fault) saves nothing, so its retry
//! runs afresh.

use crate::api::stripe_error;
use crate::store::Store;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The first successful answer to an idempotency key.
pub(crate) struct Saved {
    /// `"POST /v1/checkout/sessions"`.
    endpoint: String,
    /// The form parameters, sorted: their order on the wire does not matter.
    params: Vec<(String, String)>,
    body: Value,
}

fn normalized(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut params = params.to_vec();
    params.sort();
    params
}

/// `None` when the request should run; else its answer: the saved one
/// replayed, or Stripe's refusal of a key reused for a different request.
pub(crate) fn check(store: &Store, key: Option<&str>, endpoint: &str, params: &[(String, String)]) -> Option<Response> {
    let key = key?;
    let saved = store.idempotent.get(key)?;
    if saved.endpoint != endpoint {
        let message = format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first used for \
             ('{}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to execute a different request.",
            saved.endpoint
        );
        return Some(stripe_error(StatusCode::BAD_REQUEST, "idempotency_error", &message, None, None));
    }
    if saved.params != normalized(params) {
        let message = format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. \
             Try using a key other than '{key}' if you meant to execute a different request."
        );
        return Some(stripe_error(StatusCode::BAD_REQUEST, "idempotency_error", &message, None, None));
    }
    Some(([("idempotent-replayed", "true")], axum::Json(saved.body.clone())).into_response())
}

/// Saves a successful answer under its key (no key: nothing to save).
pub(crate) fn remember(
    store: &mut Store,
    key: Option<&str>,
    endpoint: &str,
    params: &[(String, String)],
    body: &Value,
) {
    if let Some(key) = key {
        let saved = Saved { endpoint: endpoint.to_owned(), params: normalized(params), body: body.clone() };
        store.idempotent.insert(key.to_owned(), saved);
    }
}
