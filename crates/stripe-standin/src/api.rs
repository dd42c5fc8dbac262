//! The fake REST API: create, retrieve, list and expire Checkout sessions,
//! list their line items; retrieve charges, PaymentIntents, refunds and
//! disputes (`expand[]` of their id fields); products, prices and shipping
//! rates (`catalog`); every request recorded, rate-limited and faults
//! injected on demand, `Idempotency-Key` honoured on POSTs.

use crate::catalog::{Mode, add_routes};
use crate::charges::kind_of;
use crate::expiry::ExpireError;
use crate::idempotency;
use crate::listing::{LIST_URL, list_sessions};
use crate::objects::{InvalidParam, build_session, list_page};
use crate::store::{Store, lock};
use crate::{param, random_id};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    let mut router = Router::new()
        .route(LIST_URL, post(create_session).get(list))
        .route("/v1/checkout/sessions/{id}", get(retrieve_session))
        .route("/v1/checkout/sessions/{id}/expire", post(expire))
        .route("/v1/checkout/sessions/{id}/line_items", get(list_line_items));
    router = add_routes(router);
    for resource in [&CHARGES, &PAYMENT_INTENTS, &REFUNDS, &DISPUTES] {
        let handler = move |s: Shared, id: Path<String>, q: RawQuery, h: HeaderMap| retrieve(s, id, q, h, resource);
        router = router.route(&format!("/v1/{}/{{id}}", resource.path), get(handler));
    }
    router.with_state(store)
}

/// A kind of object `GET /v1/{path}/{id}` retrieves.
struct Resource {
    path: &'static str,
    /// Its `object`, as in Stripe's "No such charge" message.
    object: &'static str,
    /// The `param` Stripe names when there is no such object.
    param: &'static str,
}

const CHARGES: Resource = Resource { path: "charges", object: "charge", param: "id" };
const PAYMENT_INTENTS: Resource = Resource { path: "payment_intents", object: "payment_intent", param: "intent" };
const REFUNDS: Resource = Resource { path: "refunds", object: "refund", param: "refund" };
const DISPUTES: Resource = Resource { path: "disputes", object: "dispute", param: "dispute" };

pub(crate) type Shared = State<Arc<Mutex<Store>>>;

pub(crate) fn stripe_error(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
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

/// Stripe's 429 when the rate limit is exceeded.
fn rate_limited() -> Response {
    let message = "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.";
    let mut response =
        stripe_error(StatusCode::TOO_MANY_REQUESTS, "invalid_request_error", message, None, Some("rate_limit"));
    response.headers_mut().insert("stripe-should-retry", HeaderValue::from_static("true"));
    response
}

/// Stripe's 400 for a parameter it rejects.
pub(crate) fn invalid_param((param, message): InvalidParam) -> Response {
    stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, Some(&param), Some("parameter_invalid"))
}

/// Records the request and decides whether it is served: Stripe's 401 for a
/// request without a test-mode key (no queued fault is used up on it), else
/// a 429 past the rate limit, else the next queued fault, if any.
async fn admit(store: &Mutex<Store>, request: RecordedRequest) -> Result<(), Response> {
    admit_in(store, request, Keys::TestOnly).await.map(drop)
}

/// Which keys a route takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// Checkout and the money behind it: test-mode keys only.
    TestOnly,
    /// The catalog: either mode's keys, each seeing its own mode's objects.
    EitherMode,
}

/// [`admit`], for a route taking `keys`: the key's mode when served.
pub(crate) async fn admit_in(store: &Mutex<Store>, request: RecordedRequest, keys: Keys) -> Result<Mode, Response> {
    let Some(mode) = authorized(&request, keys) else {
        lock(store).requests.push(request);
        return Err(unauthorized());
    };
    let failure = {
        let mut store = lock(store);
        store.requests.push(request);
        if store.over_rate_limit(Instant::now()) {
            return Err(rate_limited());
        }
        store.failures.pop_front()
    };
    match failure {
        None => Ok(mode),
        Some(Failure::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(mode)
        }
        Some(Failure::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(stripe_error(status, "api_error", "Injected fault from the fake Stripe.", None, None))
        }
    }
}

pub(crate) fn recorded(
    method: &str,
    path: String,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> RecordedRequest {
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

/// The mode of the request's key; `None` (Stripe's 401) for a key the route
/// does not take: no key, not a secret or restricted key, live mode outside the catalog.
fn authorized(request: &RecordedRequest, keys: Keys) -> Option<Mode> {
    match (request.bearer.as_deref().and_then(Mode::of_key), keys) {
        (Some(Mode::Test), _) => Some(Mode::Test),
        (Some(Mode::Live), Keys::EitherMode) => Some(Mode::Live),
        _ => None,
    }
}

fn unauthorized() -> Response {
    stripe_error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "Invalid API Key provided (the fake Stripe takes test-mode keys, and live-mode keys for products, prices \
         and shipping rates only).",
        None,
        None,
    )
}

/// A POST that got past [`admit`] and its idempotency key.
pub(crate) struct Posted {
    /// `"POST {path}"`, what an idempotency key is tied to.
    endpoint: String,
    pub(crate) form: Vec<(String, String)>,
    key: Option<String>,
}

impl Posted {
    /// Saves the successful answer under the request's idempotency key.
    pub(crate) fn remember(&self, store: &mut Store, body: &Value) {
        idempotency::remember(store, self.key.as_deref(), &self.endpoint, &self.form, body);
    }
}

/// A POST's prologue: recorded and [`admit`]ted, the store locked, the
/// idempotency key checked (a repeat is answered here, with the saved answer).
async fn admit_post(
    store: &Mutex<Store>,
    request: RecordedRequest,
) -> Result<(MutexGuard<'_, Store>, Posted), Response> {
    admit_post_in(store, request, Keys::TestOnly).await.map(|(store, posted, _)| (store, posted))
}

/// [`admit_post`] for a route taking `keys`, with the key's mode.
pub(crate) async fn admit_post_in(
    store: &Mutex<Store>,
    request: RecordedRequest,
    keys: Keys,
) -> Result<(MutexGuard<'_, Store>, Posted, Mode), Response> {
    let posted = Posted {
        endpoint: format!("POST {}", request.path),
        form: request.form.clone(),
        key: request.idempotency_key.clone(),
    };
    let mode = admit_in(store, request, keys).await?;
    let store = lock(store);
    match idempotency::check(&store, posted.key.as_deref(), &posted.endpoint, &posted.form) {
        Some(answer) => Err(answer),
        None => Ok((store, posted, mode)),
    }
}

async fn create_session(State(store): Shared, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let request = recorded("POST", LIST_URL.into(), query, &headers, &body);
    let (mut store, posted) = match admit_post(&store, request).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    match build_session(&store, &posted.form) {
        Ok((session, items)) => {
            posted.remember(&mut store, &session);
            store.insert_session(session.clone(), items);
            axum::Json(session).into_response()
        }
        Err(invalid) => invalid_param(invalid),
    }
}

async fn list(State(store): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let request = recorded("GET", LIST_URL.into(), query, &headers, &[]);
    let params = request.query.clone();
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let mut store = lock(&store);
    store.expire_overdue();
    match list_sessions(&store, &params) {
        Ok(list) => axum::Json(list).into_response(),
        Err(invalid) => invalid_param(invalid),
    }
}

async fn expire(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = recorded("POST", format!("/v1/checkout/sessions/{id}/expire"), query, &headers, &body);
    let (mut store, posted) = match admit_post(&store, request).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    match store.expire_session(&id) {
        Ok(session) => {
            posted.remember(&mut store, &session);
            axum::Json(session).into_response()
        }
        Err(ExpireError::NoSuchSession) => no_such_session(&id),
        Err(ExpireError::NotOpen(status)) => stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &ExpireError::not_open_message(&status),
            None,
            None,
        ),
    }
}

fn no_such_session(id: &str) -> Response {
    no_such("checkout.session", id, "session")
}

/// Stripe's 404 for an id it does not know.
pub(crate) fn no_such(object: &str, id: &str, param: &str) -> Response {
    let message = format!("No such {object}: '{id}'");
    stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", &message, Some(param), Some("resource_missing"))
}

/// `expand[]=field` for fields holding the id of an object the fake keeps
/// (`latest_charge`, `payment_intent`, `charge`): the object replaces its id.
/// A dotted path (`payment_intent.latest_charge`) expands each step in turn,
/// inside the object the step before expanded, as Stripe does. Other paths
/// are left as they are.
pub(crate) fn expand_ids(store: &Store, object: &mut Value, query: &[(String, String)]) {
    for (_, path) in query.iter().filter(|(k, _)| k.starts_with("expand")) {
        expand_path(store, object, &mut path.split('.'));
    }
}

fn expand_path<'p>(store: &Store, object: &mut Value, path: &mut impl Iterator<Item = &'p str>) {
    let Some(field) = path.next() else { return };
    let Some(value) = object.get_mut(field) else { return };
    if let Some(expanded) = value.as_str().and_then(|id| store.object(id)).cloned() {
        *value = expanded;
    }
    if value.is_object() {
        expand_path(store, value, path);
    }
}

async fn retrieve(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    resource: &Resource,
) -> Response {
    let request = recorded("GET", format!("/v1/{}/{id}", resource.path), query, &headers, &[]);
    let params = request.query.clone();
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let store = lock(&store);
    let found = store.object(&id).filter(|_| kind_of(&id) == Some(resource.object));
    let Some(mut object) = found.cloned() else {
        return no_such(resource.object, &id, resource.param);
    };
    expand_ids(&store, &mut object, &params);
    axum::Json(object).into_response()
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
    let params = request.query.clone();
    let expand_line_items = params.iter().any(|(k, v)| k.starts_with("expand") && v == "line_items");
    if let Err(response) = admit(&store, request).await {
        return response;
    }
    let mut store = lock(&store);
    store.expire_overdue();
    let Some(mut session) = store.sessions.get(&id).cloned() else {
        return no_such_session(&id);
    };
    if expand_line_items {
        let items = store.line_items.get(&id).map_or(&[][..], Vec::as_slice);
        session["line_items"] = list_page(items, &[], &line_items_path(&id));
    }
    expand_ids(&store, &mut session, &params);
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
