//! A fake Stripe API on loopback, serving objects built from Stripe's own
//! published fixtures (`fixtures/stripe/`), recording every request it gets,
//! and able to fail on demand. The same code is the local stand-in for
//! Stripe's hosted Checkout in the dev server.
//!
//! Implemented: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`
//! (with `expand[]=line_items`), `GET /v1/checkout/sessions/{id}/line_items`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const SESSION_FIXTURE: &str = include_str!("../fixtures/stripe/checkout_session.json");
const ITEM_FIXTURE: &str = include_str!("../fixtures/stripe/item.json");
const EVENT_FIXTURE: &str = include_str!("../fixtures/stripe/event.json");

/// The API version async-stripe 1.0.0-rc.10 pins; events carry it.
pub const API_VERSION: &str = "2026-09-30.endive";

/// A price the fake knows: its amount in the currency's smallest unit.
#[derive(Clone, Debug)]
pub struct FakePrice {
    pub id: String,
    pub name: String,
    pub unit_amount: i64,
    pub currency: String,
}

impl FakePrice {
    pub fn new(id: &str, name: &str, unit_amount: i64, currency: &str) -> FakePrice {
        FakePrice { id: id.into(), name: name.into(), unit_amount, currency: currency.into() }
    }
}

/// The prices and shipping rate of `config.example.json` (the TDF catalog), in yen.
pub fn example_prices() -> Vec<FakePrice> {
    vec![
        FakePrice::new("price_1TdfVisitorTicket", "Visitor ticket", 3000, "jpy"),
        FakePrice::new("price_1TdfBronzeTicket", "Bronze ticket", 10000, "jpy"),
        FakePrice::new("price_1TdfTshirtS", "T-shirt (S)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtM", "T-shirt (M)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtL", "T-shirt (L)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtXL", "T-shirt (XL)", 2500, "jpy"),
    ]
}

/// Shipping rates the fake knows: id → amount (same currency as the items).
pub fn example_shipping_rates() -> Vec<(String, i64)> {
    vec![("shr_1TdfTshirtShipping".into(), 1500)]
}

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
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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

/// The buyer's side of a payment on the hosted page.
#[derive(Clone, Debug)]
pub struct Buyer {
    pub email: String,
    pub name: String,
    /// Required when the session collects a shipping address.
    pub shipping: Option<Address>,
}

#[derive(Clone, Debug, Default)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// How the payment on the hosted page turns out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// A card payment: paid at once.
    Paid,
    /// A delayed method (konbini, bank transfer): the session completes unpaid.
    Pending,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayError {
    #[error("no such checkout session")]
    NoSuchSession,
    #[error("this session is not open")]
    NotOpen,
    #[error("this session collects a shipping address")]
    ShippingRequired,
    #[error("shipping to {0} is not allowed by this session")]
    CountryNotAllowed(String),
    #[error("this session is not awaiting a delayed payment")]
    NotPending,
}

#[derive(Default)]
struct Store {
    sessions: BTreeMap<String, Value>,
    line_items: BTreeMap<String, Vec<Value>>,
    requests: Vec<RecordedRequest>,
    failures: VecDeque<Failure>,
    prices: BTreeMap<String, FakePrice>,
    shipping_rates: BTreeMap<String, i64>,
    /// Accept prices it does not know (the local stand-in, for any organizer's catalog).
    lenient_prices: bool,
    hosted_base: String,
}

/// The fake Stripe server. Dropping it stops the server.
pub struct FakeStripe {
    store: Arc<Mutex<Store>>,
    address: String,
    server: JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Settings for [`FakeStripe::start`].
pub struct FakeStripeOptions {
    pub prices: Vec<FakePrice>,
    pub shipping_rates: Vec<(String, i64)>,
    pub lenient_prices: bool,
    /// Where session `url`s point (the hosted page). Default: Stripe's real host.
    pub hosted_base: Option<String>,
}

impl Default for FakeStripeOptions {
    fn default() -> Self {
        FakeStripeOptions {
            prices: example_prices(),
            shipping_rates: example_shipping_rates(),
            lenient_prices: false,
            hosted_base: None,
        }
    }
}

impl FakeStripe {
    /// Starts on a free loopback port with the example catalog's prices.
    pub async fn start() -> std::io::Result<FakeStripe> {
        FakeStripe::start_with(FakeStripeOptions::default()).await
    }

    pub async fn start_with(options: FakeStripeOptions) -> std::io::Result<FakeStripe> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        FakeStripe::serve(listener, options, Router::new())
    }

    /// Serves the fake's API routes merged with `extra` (the local dev server
    /// adds its own pages) on `listener`.
    pub fn serve(listener: TcpListener, options: FakeStripeOptions, extra: Router) -> std::io::Result<FakeStripe> {
        let address = listener.local_addr()?.to_string();
        let store = Store {
            prices: options.prices.into_iter().map(|p| (p.id.clone(), p)).collect(),
            shipping_rates: options.shipping_rates.into_iter().collect(),
            lenient_prices: options.lenient_prices,
            hosted_base: options.hosted_base.unwrap_or_else(|| "https://checkout.stripe.com/c/pay".into()),
            ..Store::default()
        };
        let store = Arc::new(Mutex::new(store));
        let app = api_router(store.clone()).merge(extra);
        let server = tokio::spawn(async move {
            // TCP_NODELAY: without it delayed ACK adds ~40 ms to keep-alive requests.
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeStripe { store, address, server })
    }

    /// For `STRIPE_API_BASE`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.address)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.store().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.store().requests.clear();
    }

    /// The next API request(s) meet these faults, in order.
    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        self.store().failures.extend(failures);
    }

    /// The session as the API would return it (without line items).
    pub fn session(&self, id: &str) -> Option<Value> {
        self.store().sessions.get(id).cloned()
    }

    pub fn line_items(&self, id: &str) -> Vec<Value> {
        self.store().line_items.get(id).cloned().unwrap_or_default()
    }

    /// The buyer pays on the hosted page: the session completes, paid or
    /// (for a delayed method) pending. Returns the completed session.
    pub fn pay(&self, id: &str, buyer: &Buyer, outcome: PaymentOutcome) -> Result<Value, PayError> {
        let mut store = self.store();
        let session = store.sessions.get_mut(id).ok_or(PayError::NoSuchSession)?;
        if session["status"] != "open" {
            return Err(PayError::NotOpen);
        }
        let collects_shipping = session["shipping_address_collection"].is_object();
        if collects_shipping {
            let address = buyer.shipping.as_ref().ok_or(PayError::ShippingRequired)?;
            let allowed = session["shipping_address_collection"]["allowed_countries"]
                .as_array()
                .is_some_and(|list| list.iter().any(|c| c == address.country.as_str()));
            if !allowed {
                return Err(PayError::CountryNotAllowed(address.country.clone()));
            }
            session["collected_information"] = json!({
                "business_name": null,
                "individual_name": null,
                "shipping_details": {"name": buyer.name, "address": address_json(address)},
            });
        }
        let billing = buyer.shipping.clone().unwrap_or_default();
        session["customer_details"] = json!({
            "address": {
                "city": null, "country": if billing.country.is_empty() { Value::Null } else { json!(billing.country) },
                "line1": null, "line2": null, "postal_code": null, "state": null
            },
            "email": buyer.email,
            "name": buyer.name,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [],
            "business_name": null,
            "individual_name": null,
        });
        session["status"] = json!("complete");
        session["payment_intent"] = json!(random_id("pi_", 24));
        session["payment_status"] = json!(match outcome {
            PaymentOutcome::Paid => "paid",
            PaymentOutcome::Pending => "unpaid",
        });
        Ok(session.clone())
    }

    /// A delayed payment settles (`succeeded`) or fails, as Stripe reports
    /// with `checkout.session.async_payment_*`.
    pub fn settle_async_payment(&self, id: &str, succeeded: bool) -> Result<Value, PayError> {
        let mut store = self.store();
        let session = store.sessions.get_mut(id).ok_or(PayError::NoSuchSession)?;
        if session["status"] != "complete" || session["payment_status"] != "unpaid" {
            return Err(PayError::NotPending);
        }
        if succeeded {
            session["payment_status"] = json!("paid");
        }
        Ok(session.clone())
    }

    /// A webhook event of `event_type` carrying the session as it is now,
    /// shaped like Stripe's `event` fixture.
    pub fn event(&self, event_type: &str, session_id: &str) -> Option<Value> {
        let session = self.session(session_id)?;
        Some(event_for(event_type, session))
    }
}

/// A webhook event of `event_type` whose `data.object` is `object`.
pub fn event_for(event_type: &str, object: Value) -> Value {
    let mut event: Value = serde_json::from_str(EVENT_FIXTURE).expect("event fixture is JSON");
    event["id"] = json!(random_id("evt_", 24));
    event["type"] = json!(event_type);
    event["created"] = json!(now_unix());
    event["api_version"] = json!(API_VERSION);
    event["pending_webhooks"] = json!(1);
    event["data"] = json!({ "object": object });
    event
}

fn address_json(a: &Address) -> Value {
    json!({
        "city": a.city, "country": a.country, "line1": a.line1, "line2": a.line2,
        "postal_code": a.postal_code, "state": a.state,
    })
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `prefix` + `len` random alphanumerics (ids need not be cryptographic here).
pub fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("OS random source");
    let body: String = bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{prefix}{body}")
}

fn api_router(store: Arc<Mutex<Store>>) -> Router {
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

/// Records the request, then applies a queued fault if there is one.
async fn record(store: &Mutex<Store>, request: RecordedRequest) -> Result<(), Response> {
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

fn authorized(request: &RecordedRequest) -> Result<(), Response> {
    match request.bearer.as_deref() {
        Some(key) if key.starts_with("sk_test_") || key.starts_with("rk_test_") => Ok(()),
        _ => Err(stripe_error(
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
    if let Err(response) = authorized(&request) {
        lock(&store).requests.push(request);
        return response;
    }
    let form = request.form.clone();
    if let Err(response) = record(&store, request).await {
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
        Err((param, message)) => {
            stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, Some(&param), Some("parameter_invalid"))
        }
    }
}

/// Builds the session Stripe would create for this form, or the (param,
/// message) of the first problem Stripe would report.
fn build_session(store: &Store, form: &[(String, String)]) -> Result<(Value, Vec<Value>), (String, String)> {
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let missing = |k: &str| (k.to_owned(), format!("Missing required param: {k}."));
    let mode = get("mode").ok_or_else(|| missing("mode"))?;
    if mode != "payment" {
        return Err(("mode".into(), format!("The fake Stripe supports only mode=payment, not {mode}.")));
    }
    let success_url = get("success_url").ok_or_else(|| missing("success_url"))?;

    let mut items = Vec::new();
    let mut subtotal = 0;
    let mut currency = String::new();
    for i in 0.. {
        let Some(price_id) = get(&format!("line_items[{i}][price]")) else { break };
        let quantity: i64 = get(&format!("line_items[{i}][quantity]"))
            .ok_or_else(|| missing(&format!("line_items[{i}][quantity]")))?
            .parse()
            .map_err(|_| (format!("line_items[{i}][quantity]"), "Invalid integer.".into()))?;
        let price = match store.prices.get(price_id) {
            Some(p) => p.clone(),
            None if store.lenient_prices && price_id.starts_with("price_") => {
                FakePrice::new(price_id, price_id, 1000, "jpy")
            }
            None => {
                return Err((format!("line_items[{i}][price]"), format!("No such price: '{price_id}'")));
            }
        };
        if !currency.is_empty() && currency != price.currency {
            return Err((format!("line_items[{i}][price]"), "All prices must be in the same currency.".into()));
        }
        currency = price.currency.clone();
        subtotal += price.unit_amount * quantity;
        items.push(line_item(&price, quantity));
    }
    if items.is_empty() {
        return Err(missing("line_items"));
    }

    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), json!(v)))
        })
        .collect();
    let countries: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k.starts_with("shipping_address_collection[allowed_countries]"))
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(bad) = countries.iter().find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(("shipping_address_collection[allowed_countries]".into(), format!("Invalid country: {bad}")));
    }
    let shipping_rate = get("shipping_options[0][shipping_rate]");
    let shipping_amount = match shipping_rate {
        None => 0,
        Some(rate) => *store
            .shipping_rates
            .get(rate)
            .or(store.lenient_prices.then_some(&500))
            .ok_or_else(|| ("shipping_options[0][shipping_rate]".to_owned(), format!("No such shipping rate: '{rate}'")))?,
    };
    let allowed_types: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k.starts_with("allowed_payment_method_types"))
        .map(|(_, v)| v.as_str())
        .collect();

    let id = random_id("cs_test_a1", 56);
    let now = now_unix();
    let mut session: Value = serde_json::from_str(SESSION_FIXTURE).expect("session fixture is JSON");
    let fields = json!({
        "id": id,
        "url": format!("{}/{id}", store.hosted_base),
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "success_url": success_url,
        "cancel_url": get("cancel_url"),
        "locale": get("locale"),
        "metadata": metadata,
        "created": now,
        "expires_at": now + 24 * 3600,
        "currency": currency,
        "amount_subtotal": subtotal,
        "amount_total": subtotal + shipping_amount,
        "customer_details": null,
        "customer_email": null,
        "collected_information": null,
        "payment_intent": null,
        "after_expiration": null,
        "currency_conversion": null,
        "discounts": [],
        "payment_method_types": if allowed_types.is_empty() { vec!["card"] } else { allowed_types },
        "shipping_address_collection": if countries.is_empty() { Value::Null } else { json!({"allowed_countries": countries}) },
        "shipping_options": match shipping_rate {
            None => json!([]),
            Some(rate) => json!([{"shipping_amount": shipping_amount, "shipping_rate": rate}]),
        },
        "shipping_cost": match shipping_rate {
            None => Value::Null,
            Some(rate) => json!({"amount_subtotal": shipping_amount, "amount_tax": 0, "amount_total": shipping_amount, "shipping_rate": rate}),
        },
        "total_details": {"amount_discount": 0, "amount_shipping": shipping_amount, "amount_tax": 0},
    });
    for (k, v) in fields.as_object().expect("object literal") {
        session[k] = v.clone();
    }
    Ok((session, items))
}

fn line_item(price: &FakePrice, quantity: i64) -> Value {
    let mut item: Value = serde_json::from_str(ITEM_FIXTURE).expect("item fixture is JSON");
    let amount = price.unit_amount * quantity;
    item["id"] = json!(random_id("li_", 24));
    item["description"] = json!(price.name);
    item["quantity"] = json!(quantity);
    item["currency"] = json!(price.currency);
    item["amount_subtotal"] = json!(amount);
    item["amount_total"] = json!(amount);
    item["adjustable_quantity"] = Value::Null;
    let p = &mut item["price"];
    p["id"] = json!(price.id);
    p["nickname"] = json!(price.name);
    p["currency"] = json!(price.currency);
    p["unit_amount"] = json!(price.unit_amount);
    p["unit_amount_decimal"] = json!(price.unit_amount.to_string());
    p["type"] = json!("one_time");
    p["recurring"] = Value::Null;
    p["transform_quantity"] = Value::Null;
    p["custom_unit_amount"] = Value::Null;
    item
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

/// A list object as Stripe pages it (`limit`, `starting_after`).
fn list_page(items: &[Value], query: &[(String, String)], url: &str) -> Value {
    let param = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let start = param("starting_after")
        .and_then(|after| items.iter().position(|i| i["id"] == after).map(|p| p + 1))
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    json!({"object": "list", "data": page, "has_more": start + limit < items.len(), "url": url})
}

async fn retrieve_session(State(store): Shared, Path(id): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let request = recorded("GET", format!("/v1/checkout/sessions/{id}"), query, &headers, &[]);
    if let Err(response) = authorized(&request) {
        lock(&store).requests.push(request);
        return response;
    }
    let expand_line_items = request.query.iter().any(|(k, v)| k.starts_with("expand") && v == "line_items");
    if let Err(response) = record(&store, request).await {
        return response;
    }
    let store = lock(&store);
    let Some(mut session) = store.sessions.get(&id).cloned() else {
        return no_such_session(&id);
    };
    if expand_line_items {
        let items = store.line_items.get(&id).map_or(&[][..], Vec::as_slice);
        session["line_items"] = list_page(items, &[], &format!("/v1/checkout/sessions/{id}/line_items"));
    }
    axum::Json(session).into_response()
}

async fn list_line_items(State(store): Shared, Path(id): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let request = recorded("GET", format!("/v1/checkout/sessions/{id}/line_items"), query, &headers, &[]);
    if let Err(response) = authorized(&request) {
        lock(&store).requests.push(request);
        return response;
    }
    let params = request.query.clone();
    if let Err(response) = record(&store, request).await {
        return response;
    }
    let store = lock(&store);
    match store.line_items.get(&id) {
        None => no_such_session(&id),
        Some(items) => axum::Json(list_page(items, &params, &format!("/v1/checkout/sessions/{id}/line_items"))).into_response(),
    }
}
