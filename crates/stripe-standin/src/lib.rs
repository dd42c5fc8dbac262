//! A stand-in for Stripe: a fake Stripe API on loopback, serving objects built from Stripe's own
//! published fixtures (`fixtures/stripe/`), recording every request it gets,
//! and able to fail on demand. The same code is the local stand-in for
//! Stripe's hosted Checkout in the dev server.
//!
//! Implemented: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`
//! (with `expand[]=line_items`), `GET /v1/checkout/sessions/{id}/line_items`.
//!
//! With [`FakeStripe::serve_hosted`] it also serves the hosted Checkout page
//! (see [`HostedCheckout`]): line items, a shipping form when the session
//! collects an address, and a Pay button that does what [`FakeStripe::pay`]
//! does, delivers a signed `checkout.session.completed` webhook and
//! redirects to the session's `success_url`.

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

/// Serves `app` on `listener` in a background task, with TCP_NODELAY on
/// every connection: without it delayed ACK adds ~40 ms to keep-alive
/// requests and hides the real latency. Aborting the handle stops it.
pub fn serve(listener: TcpListener, app: Router) -> JoinHandle<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    })
}

/// Binds a free loopback port and [`serve`]s `app` there.
pub async fn serve_loopback(app: Router) -> std::io::Result<(std::net::SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve(listener, app)))
}

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
    /// Webhooks the hosted page delivered, oldest first.
    deliveries: Vec<WebhookDelivery>,
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
        FakeStripe::serve_inner(listener, options, None, extra)
    }

    /// Like [`serve`](FakeStripe::serve), and also serves the hosted Checkout
    /// page under `hosted.route`. Unless `options.hosted_base` says otherwise,
    /// session `url`s point at it on this listener.
    pub fn serve_hosted(
        listener: TcpListener,
        options: FakeStripeOptions,
        hosted: HostedCheckout,
        extra: Router,
    ) -> std::io::Result<FakeStripe> {
        FakeStripe::serve_inner(listener, options, Some(hosted), extra)
    }

    /// Starts on a free loopback port with the hosted page (for tests).
    pub async fn start_hosted(options: FakeStripeOptions, hosted: HostedCheckout) -> std::io::Result<FakeStripe> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        FakeStripe::serve_hosted(listener, options, hosted, Router::new())
    }

    fn serve_inner(
        listener: TcpListener,
        options: FakeStripeOptions,
        hosted: Option<HostedCheckout>,
        extra: Router,
    ) -> std::io::Result<FakeStripe> {
        let address = listener.local_addr()?.to_string();
        let hosted_base = match (&options.hosted_base, &hosted) {
            (Some(base), _) => base.trim_end_matches('/').to_owned(),
            (None, Some(h)) => format!("http://{address}{}", h.route.trim_end_matches('/')),
            (None, None) => "https://checkout.stripe.com/c/pay".into(),
        };
        let store = Store {
            prices: options.prices.into_iter().map(|p| (p.id.clone(), p)).collect(),
            shipping_rates: options.shipping_rates.into_iter().collect(),
            lenient_prices: options.lenient_prices,
            hosted_base,
            ..Store::default()
        };
        let store = Arc::new(Mutex::new(store));
        let mut app = api_router(store.clone());
        if let Some(hosted) = hosted {
            app = app.merge(hosted_router(store.clone(), hosted));
        }
        let app = app.merge(extra);
        let server = serve(listener, app);
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
        pay_session(&mut self.store(), id, buyer, outcome)
    }

    /// Webhooks the hosted page delivered so far, oldest first.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.store().deliveries.clone()
    }

    /// Where session `url`s point: `{hosted_base}/{id}`.
    pub fn hosted_base(&self) -> String {
        self.store().hosted_base.clone()
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

/// The buyer pays: the body of [`FakeStripe::pay`], shared with the hosted page.
fn pay_session(store: &mut Store, id: &str, buyer: &Buyer, outcome: PaymentOutcome) -> Result<Value, PayError> {
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
    if let Some(response) = unauthorized(&request) {
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
        Err((param, message)) => stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &message,
            Some(&param),
            Some("parameter_invalid"),
        ),
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
        Some(rate) => *store.shipping_rates.get(rate).or(store.lenient_prices.then_some(&500)).ok_or_else(|| {
            ("shipping_options[0][shipping_rate]".to_owned(), format!("No such shipping rate: '{rate}'"))
        })?,
    };
    let allowed_types: Vec<&str> =
        form.iter().filter(|(k, _)| k.starts_with("allowed_payment_method_types")).map(|(_, v)| v.as_str()).collect();

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

async fn retrieve_session(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = recorded("GET", format!("/v1/checkout/sessions/{id}"), query, &headers, &[]);
    if let Some(response) = unauthorized(&request) {
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

async fn list_line_items(
    State(store): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request = recorded("GET", format!("/v1/checkout/sessions/{id}/line_items"), query, &headers, &[]);
    if let Some(response) = unauthorized(&request) {
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
        Some(items) => {
            axum::Json(list_page(items, &params, &format!("/v1/checkout/sessions/{id}/line_items"))).into_response()
        }
    }
}

// ---------------------------------------------------------------------------
// The hosted Checkout page: the local stand-in for Stripe's checkout.stripe.com.

/// Settings for the hosted Checkout page ([`FakeStripe::serve_hosted`]).
#[derive(Clone, Debug)]
pub struct HostedCheckout {
    /// The path it is served under: `GET {route}/{id}` shows a session's
    /// page, `POST {route}/{id}` pays.
    pub route: String,
    /// Where `checkout.session.completed` is POSTed after a payment, as
    /// Stripe would deliver it to the webhook endpoint; `None` delivers nothing.
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
    client: hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, axum::body::Body>,
}

type HostedState = State<Arc<Hosted>>;

fn hosted_router(store: Arc<Mutex<Store>>, settings: HostedCheckout) -> Router {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let path = format!("{}/{{id}}", settings.route.trim_end_matches('/'));
    Router::new().route(&path, get(hosted_page).post(hosted_pay)).with_state(Arc::new(Hosted {
        store,
        settings,
        client,
    }))
}

/// What the buyer typed into the hosted page.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PayForm {
    email: String,
    name: String,
    line1: String,
    line2: String,
    city: String,
    state: String,
    postal_code: String,
    country: String,
}

fn html_response(status: StatusCode, page: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page)
        .into_response()
}

/// The session and its line items, if the fake has it.
fn session_with_items(store: &Mutex<Store>, id: &str) -> Option<(Value, Vec<Value>)> {
    let store = lock(store);
    let session = store.sessions.get(id)?.clone();
    Some((session, store.line_items.get(id).cloned().unwrap_or_default()))
}

fn not_found_page(id: &str) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        page_shell(
            "Checkout session not found",
            &format!(
                "<main class=\"card\"><h1>Checkout session not found</h1><p>There is no session <code>{}</code>. \
                 The local stand-in keeps sessions in memory, so a restart forgets them: start again from the ticket page.</p></main>",
                esc(id)
            ),
        ),
    )
}

async fn hosted_page(State(hosted): HostedState, Path(id): Path<String>) -> Response {
    let Some((session, items)) = session_with_items(&hosted.store, &id) else {
        return not_found_page(&id);
    };
    let form = PayForm { country: default_country(&session), ..PayForm::default() };
    html_response(StatusCode::OK, checkout_page(&session, &items, &form, None))
}

fn default_country(session: &Value) -> String {
    let allowed = allowed_countries(session);
    if allowed.iter().any(|c| c == "JP") { "JP".into() } else { allowed.first().cloned().unwrap_or_default() }
}

fn allowed_countries(session: &Value) -> Vec<String> {
    session["shipping_address_collection"]["allowed_countries"]
        .as_array()
        .map(|list| list.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn hosted_pay(
    State(hosted): HostedState,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<PayForm>,
) -> Response {
    let Some((session, items)) = session_with_items(&hosted.store, &id) else {
        return not_found_page(&id);
    };
    let refuse =
        |message: &str| html_response(StatusCode::BAD_REQUEST, checkout_page(&session, &items, &form, Some(message)));
    let email = form.email.trim();
    let name = form.name.trim();
    if !email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')) {
        return refuse("Enter an email address: your ticket and votekey are sent there.");
    }
    if name.is_empty() {
        return refuse("Enter your name.");
    }
    let collects_shipping = session["shipping_address_collection"].is_object();
    let shipping = if collects_shipping {
        let required = [
            (&form.line1, "address line 1"),
            (&form.city, "city"),
            (&form.postal_code, "postal code"),
            (&form.country, "country"),
        ];
        if let Some((_, field)) = required.iter().find(|(value, _)| value.trim().is_empty()) {
            return refuse(&format!("Enter the shipping address: the {field} is missing."));
        }
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Some(Address {
            line1: form.line1.trim().into(),
            line2: optional(&form.line2),
            city: form.city.trim().into(),
            state: optional(&form.state),
            postal_code: form.postal_code.trim().into(),
            country: form.country.trim().to_ascii_uppercase(),
        })
    } else {
        None
    };
    let buyer = Buyer { email: email.into(), name: name.into(), shipping };
    let paid = pay_session(&mut lock(&hosted.store), &id, &buyer, PaymentOutcome::Paid);
    let session = match paid {
        Ok(session) => session,
        Err(PayError::NoSuchSession) => return not_found_page(&id),
        Err(e) => return refuse(&format!("{e}.")),
    };
    if let Some(url) = &hosted.settings.webhook_url {
        deliver_webhook(&hosted, url, "checkout.session.completed", session.clone()).await;
    }
    let success_url = session["success_url"].as_str().unwrap_or_default().replace("{CHECKOUT_SESSION_ID}", &id);
    match axum::http::HeaderValue::from_str(&success_url) {
        Ok(location) if !success_url.is_empty() => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
        }
        _ => html_response(
            StatusCode::OK,
            page_shell(
                "Paid",
                "<main class=\"card\"><h1>Paid</h1><p>The session has no success_url to return to.</p></main>",
            ),
        ),
    }
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
        Ok(request) => {
            let sent = tokio::time::timeout(Duration::from_secs(20), async {
                let answer = hosted.client.request(request).await.map_err(|e| e.to_string())?;
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

fn esc(s: &str) -> String {
    tickets::web::escape_html(s)
}

/// Currencies Stripe counts in whole units.
const ZERO_DECIMAL: &[&str] =
    &["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// `¥14,000`, `$12.50`, `12.50 SEK`.
pub fn format_amount(amount: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let zero_decimal = ZERO_DECIMAL.contains(&currency.as_str());
    let (whole, cents) =
        if zero_decimal { (amount.abs(), None) } else { (amount.abs() / 100, Some(amount.abs() % 100)) };
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(c) = cents {
        grouped.push_str(&format!(".{c:02}"));
    }
    let sign = if amount < 0 { "-" } else { "" };
    match currency.as_str() {
        "jpy" => format!("{sign}¥{grouped}"),
        "usd" => format!("{sign}${grouped}"),
        "eur" => format!("{sign}€{grouped}"),
        "gbp" => format!("{sign}£{grouped}"),
        other => format!("{sign}{grouped} {}", other.to_ascii_uppercase()),
    }
}

fn page_shell(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f9fc; color: #30313d; }}
 .banner {{ background: #fff4ce; border-bottom: 1px solid #e8d48a; padding: .7em 1em; text-align: center; font-size: .95em; }}
 .layout {{ display: flex; flex-wrap: wrap; gap: 2em; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
 .summary {{ flex: 1 1 20em; }} .pay {{ flex: 1 1 22em; }}
 .card {{ background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 1.5em; max-width: 40em; margin: 2em auto; }}
 .pay .card, .summary .card {{ margin: 0; }}
 .total {{ font-size: 2em; font-weight: 600; margin: .2em 0 .8em; }}
 table {{ width: 100%; border-collapse: collapse; }} td {{ padding: .45em 0; border-bottom: 1px solid #eee; }} td.amount {{ text-align: right; }}
 label {{ display: block; font-size: .85em; margin: .8em 0 .25em; color: #6a7383; }}
 input, select {{ width: 100%; box-sizing: border-box; padding: .6em; border: 1px solid #d5dbe1; border-radius: 6px; font-size: 1em; }}
 .row {{ display: flex; gap: .8em; }} .row > div {{ flex: 1; }}
 button {{ width: 100%; margin-top: 1.4em; padding: .8em; font-size: 1.05em; font-weight: 600; color: #fff; background: #635bff; border: 0; border-radius: 6px; cursor: pointer; }}
 .error {{ background: #fdecea; color: #8a1c1c; border-radius: 6px; padding: .6em .8em; margin-bottom: 1em; }}
 .muted {{ color: #6a7383; font-size: .85em; }} code {{ font-size: .85em; }}
 h2 {{ font-size: 1.05em; margin: 1.4em 0 .2em; }}
</style></head><body>
<div class="banner" id="stand-in-notice"><strong>Local stand-in for Stripe Checkout.</strong> No real payment happens here: nothing is charged and no card is needed.</div>
{body}
</body></html>
"#,
        title = esc(title),
    )
}

fn checkout_page(session: &Value, items: &[Value], form: &PayForm, error: Option<&str>) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    let currency = session["currency"].as_str().unwrap_or("jpy");
    let total = session["amount_total"].as_i64().unwrap_or_default();
    if session["status"] == "complete" {
        let success = session["success_url"].as_str().unwrap_or_default().replace("{CHECKOUT_SESSION_ID}", id);
        return page_shell(
            "Already paid",
            &format!(
                "<main class=\"card\"><h1>This order is already paid</h1><p>Session <code>{}</code> was paid.</p>\
                 <p><a href=\"{}\">Continue to the order page</a></p></main>",
                esc(id),
                esc(&success)
            ),
        );
    }
    let mut rows = String::new();
    for item in items {
        let description = item["description"].as_str().unwrap_or("Item");
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        let amount = item["amount_total"].as_i64().unwrap_or_default();
        let quantity = if quantity == 1 { String::new() } else { format!(" × {quantity}") };
        rows.push_str(&format!(
            "<tr class=\"line-item\"><td>{}{quantity}</td><td class=\"amount\">{}</td></tr>",
            esc(description),
            esc(&format_amount(amount, currency))
        ));
    }
    let shipping_amount = session["total_details"]["amount_shipping"].as_i64().unwrap_or_default();
    if !session["shipping_options"].as_array().is_none_or(|o| o.is_empty()) {
        rows.push_str(&format!(
            "<tr><td>Shipping</td><td class=\"amount\">{}</td></tr>",
            esc(&format_amount(shipping_amount, currency))
        ));
    }
    rows.push_str(&format!(
        "<tr><td><strong>Total due</strong></td><td class=\"amount\"><strong>{}</strong></td></tr>",
        esc(&format_amount(total, currency))
    ));
    let field = |name: &str, label: &str, value: &str, kind: &str, required: bool, autocomplete: &str| {
        format!(
            "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\" value=\"{}\" autocomplete=\"{autocomplete}\"{}>",
            esc(value),
            if required { " required" } else { "" }
        )
    };
    let countries = allowed_countries(session);
    let shipping = if countries.is_empty() {
        String::new()
    } else {
        let options: String = countries
            .iter()
            .map(|c| {
                let selected = if *c == form.country { " selected" } else { "" };
                format!("<option value=\"{c}\"{selected}>{c}</option>", c = esc(c))
            })
            .collect();
        format!(
            "<h2>Shipping address</h2>{}{}<div class=\"row\"><div>{}</div><div>{}</div></div>\
             <div class=\"row\"><div>{}</div><div><label for=\"country\">Country</label><select id=\"country\" name=\"country\">{options}</select></div></div>",
            field("line1", "Address line 1", &form.line1, "text", true, "address-line1"),
            field("line2", "Address line 2 (optional)", &form.line2, "text", false, "address-line2"),
            field("city", "City", &form.city, "text", true, "address-level2"),
            field("state", "State / prefecture (optional)", &form.state, "text", false, "address-level1"),
            field("postal_code", "Postal code", &form.postal_code, "text", true, "postal-code"),
        )
    };
    let error = error.map(|e| format!("<div class=\"error\" id=\"pay-error\">{}</div>", esc(e))).unwrap_or_default();
    let back = session["cancel_url"]
        .as_str()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .map(|u| format!("<p class=\"muted\"><a href=\"{}\">← Back to the ticket page</a></p>", esc(u)))
        .unwrap_or_default();
    let body = format!(
        r#"<div class="layout">
<section class="summary"><div class="card">
{back}<div class="muted">Pay (test mode)</div>
<div class="total" id="total">{total}</div>
<table id="line-items">{rows}</table>
<p class="muted">Session <code>{id}</code></p>
</div></section>
<section class="pay"><div class="card">
<form method="post" id="pay-form">
{error}
<h2>Contact information</h2>
{email}
{name}
{shipping}
<h2>Payment</h2>
<p class="muted">Test mode: no card details are asked for. Pressing Pay marks the session paid, sends the
<code>checkout.session.completed</code> webhook and returns you to the shop, as Stripe would.</p>
<button type="submit" id="pay">Pay {total}</button>
</form>
</div></section>
</div>"#,
        total = esc(&format_amount(total, currency)),
        id = esc(id),
        email = field("email", "Email", &form.email, "email", true, "email"),
        name = field("name", "Full name", &form.name, "text", true, "name"),
    );
    page_shell("Pay (local Stripe Checkout stand-in)", &body)
}
