//! The fake REST API: create and retrieve Checkout sessions, list their line
//! items; every request recorded, faults injected on demand.

use crate::objects::{build_session, list_page};
use crate::store::{Store, lock};
use crate::{param, random_id};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form-encoded body parameters, decoded, in order.
    pub form: Vec<(String, String)>,
    /// The `Authorization: Bearer …` token.
    pub bearer: Option<String>,
    pub idempotency_key: Option<String>,
}

impl RecordedRequest {
    /// The value of a form parameter, e.g. `line_items[0][price]`.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.form, name)
    }
}

/// A fault the next API request(s) will meet.
#[derive(Clone, Debug)]
pub enum Failure {
    /// Answer with this status and a Stripe `api_error` body.
    Status(u16),
    /// Wait this long before answering normally.
    Delay(Duration),
}

pub(crate) fn api_router(store: Arc<Mutex<Store>>) -> Router {
    Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/checkout/sessions/{id}", get(retrieve_session))
        .route("/v1/checkout/sessions/{id}/line_items", get(list_line_items))
        .with_state(store)
}

type Shared = State<Arc<Mutex<Store>>>;

fn stripe_error(status: StatusCode, kind: &str, message: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let request_id = random_id("req_", 14);
    let body = json!({"error": {
        "type": kind,
        "message": message,
        "param": param,
        "code": code,
        "request_log_url": format!("https://dashboard.stripe.com/test/logs/{request_id}"),
    }});
    (status, [("request-id", request_id)], axum::Json(body)).into_response()
}

/// Records the request and decides whether it is served: Stripe's 401 for a
/// request without a test-mode key (no queued fault is used up on it), else
/// the next queued fault, if any.
async fn admit(store: &Mutex<Store>, request: RecordedRequest) -> Result<(), Response> {
    if let Some(response) = unauthorized(&request) {
        lock(store).requests.push(request);
        return Err(response);
    }
    let failure = {
        let mut store = lock(store);
        store.requests.push(request);
        store.failures.pop_front()
    };
    match failure {
        None => Ok(()),
        Some(Failure::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        Some(Failure::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(stripe_error(status, "api_error", "Injected fault from the fake Stripe.", None, None))
        }
    }
}

fn recorded(method: &str, path: String, query: Option<String>, headers: &HeaderMap, body: &[u8]) -> RecordedRequest {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    RecordedRequest {
        method: method.into(),
        path,
        query: query.as_deref().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default(),
        form: serde_urlencoded::from_bytes(body).unwrap_or_default(),
        bearer: header(header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned)),
        idempotency_key: header("idempotency-key"),
    }
}

/// Stripe's 401 for a request without a test-mode key; `None` when authorized.
fn unauthorized(request: &RecordedRequest) -> Option<Response> {
    match request.bearer.as_deref() {
        Some(key) if key.starts_with("sk_test_") || key.starts_with("rk_test_") => None,
        _ => Some(stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided (the fake Stripe takes only test-mode keys).",
            None,
            None,
        )),
    }
}

async fn create_session(State(store): Shared, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let request = recorded("POST", "/v1/checkout/sessions".into(), query, &headers, &body);
    let form = request.form.clone();
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let mut store = lock(&store);
    match build_session(&store, &form) {
        Ok((session, items)) => {
            let id = session["id"].as_str().unwrap_or_default().to_owned();
            store.line_items.insert(id.clone(), items);
            store.sessions.insert(id, session.clone());
            axum::Json(session).into_response()
        }
        Err((param, message)) => stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &message,
            Some(&param),
            Some("parameter_invalid"),
        ),
    }
}

fn no_such_session(id: &str) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        &format!("No such checkout.session: '{id}'"),
        Some("session"),
        Some("resource_missing"),
    )
}

fn line_items_path(session_id: &str) -> String {
    format!("/v1/checkout/sessions/{session_id}/line_items")
}

async fn retrieve_session(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = recorded("GET", format!("/v1/checkout/sessions/{id}"), query, &headers, &[]);
    let expand_line_items = request.query.iter().any(|(k, v)| k.starts_with("expand") && v == "line_items");
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let store = lock(&store);
    let Some(mut session) = store.sessions.get(&id).cloned() else {
        return no_such_session(&id);
    };
    if expand_line_items {
        let items = store.line_items.get(&id).map_or(&[][..], Vec::as_slice);
        session["line_items"] = list_page(items, &[], &line_items_path(&id));
    }
    axum::Json(session).into_response()
}

async fn list_line_items(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = recorded("GET", line_items_path(&id), query, &headers, &[]);
    let params = request.query.clone();
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let store = lock(&store);
    match store.line_items.get(&id) {
        None => no_such_session(&id),
        Some(items) => axum::Json(list_page(items, &params, &line_items_path(&id))).into_response(),
    }
}
