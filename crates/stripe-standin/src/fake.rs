//! [`FakeStripe`]: starting the stand-in, and what tests ask of it.

use crate::api::{Failure, RecordedRequest, api_router};
use crate::catalog::{Mode, PRICES, PRODUCTS, SHIPPING_RATES};
use crate::charges::{RefundError, event_object_kind, kind_of};
use crate::hosted::{HostedCheckout, WebhookDelivery, hosted_router};
use crate::objects::event_for;
use crate::payment::{self, Buyer, PayError, PaymentOutcome};
use crate::prices::{FakePrice, example_prices, example_shipping_rates};
use crate::serve;
use crate::store::{Store, lock};
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The fake Stripe server. Dropping it stops the server.
pub struct FakeStripe {
    pub(crate) store: Arc<Mutex<Store>>,
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
    /// Test-mode prices, each with a product named as the price.
    pub prices: Vec<FakePrice>,
    /// Test-mode fixed-amount shipping rates: id and amount, in the first price's currency (else yen).
    pub shipping_rates: Vec<(String, i64)>,
    pub lenient_prices: bool,
    /// Where session `url`s point (the hosted page). Default: Stripe's real host.
    pub hosted_base: Option<String>,
    /// Start in rate-limit mode (see [`FakeStripe::rate_limit`]). Default: no limit.
    pub rate_limit: Option<u32>,
}

impl Default for FakeStripeOptions {
    fn default() -> Self {
        FakeStripeOptions {
            prices: example_prices(),
            shipping_rates: example_shipping_rates(),
            lenient_prices: false,
            hosted_base: None,
            rate_limit: None,
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
        FakeStripe::serve_inner(listener, options, None, |stand_in| stand_in.merge(extra))
    }

    /// Like [`serve`](FakeStripe::serve), and also serves the hosted Checkout
    /// page under `hosted.route`. Unless `options.hosted_base` says otherwise,
    /// session `url`s point at it on this listener. `app` makes the served
    /// app of the stand-in's routes (the local dev server merges its pages
    /// and puts its Host check in front of all of them).
    pub fn serve_hosted(
        listener: TcpListener,
        options: FakeStripeOptions,
        hosted: HostedCheckout,
        app: impl FnOnce(Router) -> Router,
    ) -> std::io::Result<FakeStripe> {
        FakeStripe::serve_inner(listener, options, Some(hosted), app)
    }

    /// Starts on a free loopback port with the hosted page (for tests).
    pub async fn start_hosted(options: FakeStripeOptions, hosted: HostedCheckout) -> std::io::Result<FakeStripe> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        FakeStripe::serve_hosted(listener, options, hosted, |stand_in| stand_in)
    }

    fn serve_inner(
        listener: TcpListener,
        options: FakeStripeOptions,
        hosted: Option<HostedCheckout>,
        app: impl FnOnce(Router) -> Router,
    ) -> std::io::Result<FakeStripe> {
        let address = listener.local_addr()?.to_string();
        let hosted_base = match (&options.hosted_base, &hosted) {
            (Some(base), _) => base.trim_end_matches('/').to_owned(),
            (None, Some(h)) => format!("http://{address}{}", h.route.trim_end_matches('/')),
            (None, None) => "https://checkout.stripe.com/c/pay".into(),
        };
        let mut store = Store {
            lenient_prices: options.lenient_prices,
            hosted_base,
            rate_limit: options.rate_limit,
            ..Store::default()
        };
        for price in &options.prices {
            store.catalog.put_price(Mode::Test, price);
        }
        let currency = options.prices.first().map_or("jpy", |p| p.currency.as_str());
        for (id, amount) in &options.shipping_rates {
            store.catalog.put_shipping_rate(Mode::Test, id, "Shipping", *amount, currency);
        }
        let store = Arc::new(Mutex::new(store));
        let mut stand_in = api_router(store.clone());
        if let Some(hosted) = hosted {
            stand_in = stand_in.merge(hosted_router(store.clone(), hosted));
        }
        let server = serve(listener, app(stand_in));
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

    /// The session as the API would return it (without line items); an open
    /// session past its `expires_at` is expired first, as any read does.
    pub fn session(&self, id: &str) -> Option<Value> {
        let mut store = self.store();
        store.expire_overdue();
        store.sessions.get(id).cloned()
    }

    /// How many distinct sessions were created (an idempotent replay creates none).
    pub fn sessions_created(&self) -> usize {
        self.store().sessions.len()
    }

    /// Expires an open session now, as `POST /v1/checkout/sessions/{id}/expire`
    /// does (no webhook is delivered). Returns the expired session; `None`
    /// when there is no such session or it is not open (complete, or already expired).
    pub fn expire_now(&self, id: &str) -> Option<Value> {
        self.store().expire_session(id).ok()
    }

    /// Moves a session `seconds` into the past, as if created then: its
    /// `created` and `expires_at` (the stand-in has no clock to turn; tests
    /// of what runs minutes later, like reconciliation, need older sessions).
    /// Returns the session; `None` when there is no such session.
    pub fn backdate_session(&self, id: &str, seconds: i64) -> Option<Value> {
        let mut store = self.store();
        let session = store.sessions.get_mut(id)?;
        for key in ["created", "expires_at"] {
            if let Some(at) = session[key].as_i64() {
                session[key] = (at - seconds).into();
            }
        }
        Some(session.clone())
    }

    /// Rate-limit mode: API requests beyond `per_second` within the current
    /// one-second window get Stripe's 429 (`code: rate_limit`, header
    /// `Stripe-Should-Retry: true`); they are recorded like any other.
    /// `None` lifts the limit. Starts a fresh window.
    pub fn rate_limit(&self, per_second: Option<u32>) {
        let mut store = self.store();
        store.rate_limit = per_second;
        store.rate_window = None;
    }

    pub fn line_items(&self, id: &str) -> Vec<Value> {
        self.store().line_items.get(id).cloned().unwrap_or_default()
    }

    /// The buyer pays on the hosted page: the session completes, paid or
    /// (for a delayed method) pending. Returns the completed session.
    pub fn pay(&self, id: &str, buyer: &Buyer, outcome: PaymentOutcome) -> Result<Value, PayError> {
        payment::pay_session(&mut self.store(), id, buyer, outcome)
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
        payment::settle_async_payment(&mut self.store(), id, succeeded)
    }

    /// A webhook event of `event_type` carrying the session as it is now,
    /// shaped like Stripe's `event` fixture.
    pub fn event(&self, event_type: &str, session_id: &str) -> Option<Value> {
        let session = self.session(session_id)?;
        Some(event_for(event_type, session))
    }

    /// A webhook event of `event_type` carrying the object `id` names as it
    /// is now: `charge.refunded` (and other `charge.*`) a charge `ch_…`,
    /// `charge.dispute.*` a dispute `dp_…`, `refund.*` and `charge.refund.*`
    /// a refund `re_…`, `payment_intent.*` a PaymentIntent `pi_…`,
    /// `checkout.session.*` a session. `None` when the fake has no such
    /// object or it is not what such an event carries.
    pub fn object_event(&self, event_type: &str, id: &str) -> Option<Value> {
        if event_object_kind(event_type)? != kind_of(id)? {
            return None;
        }
        let mut store = self.store();
        store.expire_overdue();
        Some(event_for(event_type, store.object(id)?.clone()))
    }

    /// Any object the fake keeps, as the API would return it: a session
    /// `cs_…`, PaymentIntent `pi_…`, charge `ch_…`, refund `re_…` or dispute `dp_…`.
    pub fn object(&self, id: &str) -> Option<Value> {
        let mut store = self.store();
        store.expire_overdue();
        store.object(id).cloned()
    }

    /// The successful charge of a paid session; `None` while it is open,
    /// unpaid or awaiting a delayed payment.
    pub fn charge_for_session(&self, session_id: &str) -> Option<String> {
        let store = self.store();
        store.sessions.get(session_id)?;
        store.charge_of(session_id)
    }

    /// Refunds the charge of a charge `ch_…`, session `cs_…` or PaymentIntent
    /// `pi_…`, as the Dashboard would: all that is left when `amount` is
    /// `None`, else `amount`. Creates a `succeeded` refund `re_…` (returned)
    /// and updates the charge: `amount_refunded`, and `refunded` once nothing
    /// is left. No webhook is delivered: build one with [`object_event`](FakeStripe::object_event).
    pub fn refund(&self, charge_or_session_id: &str, amount: Option<i64>) -> Result<Value, RefundError> {
        self.store().refund(charge_or_session_id, amount)
    }

    /// The cardholder disputes the charge (`reason`: Stripe's, e.g.
    /// `fraudulent`, `product_not_received`): returns the new dispute `dp_…`,
    /// `needs_response`, for the charge's amount; the charge is `disputed`.
    ///
    /// # Panics
    /// When there is no such charge, it has not succeeded, or it is already disputed.
    pub fn dispute(&self, charge_id: &str, reason: &str) -> Value {
        self.store().dispute(charge_id, reason).unwrap_or_else(|e| panic!("cannot dispute {charge_id}: {e}"))
    }

    /// The dispute is decided: `won` or `lost`. Returns the closed dispute.
    ///
    /// # Panics
    /// When there is no such dispute or it is already closed.
    pub fn close_dispute(&self, dispute_id: &str, won: bool) -> Value {
        self.store().close_dispute(dispute_id, won).unwrap_or_else(|e| panic!("cannot close {dispute_id}: {e}"))
    }

    /// A paid charge `ch_…` of `amount` (with its PaymentIntent) that no
    /// session made: a payment taken on the same Stripe account but not
    /// through the shop. In the catalog's currency.
    pub fn charge_without_session(&self, amount: i64) -> String {
        let mut store = self.store();
        let currency = store.catalog.first_currency().unwrap_or_else(|| "jpy".to_owned());
        store.charge_without_session(amount, &currency)
    }

    /// Puts a price `price.id` (replacing any of that id) in `mode`, with a
    /// new product named `price.name`, as if made in the Dashboard. Returns
    /// the price; its `product` is the new product's id. Test-mode prices
    /// can be bought through Checkout.
    pub fn put_price(&self, mode: Mode, price: &FakePrice) -> Value {
        self.store().catalog.put_price(mode, price)
    }

    /// Puts a fixed-amount shipping rate `id` (replacing any of that id) in `mode`. Returns it.
    pub fn put_shipping_rate(&self, mode: Mode, id: &str, display_name: &str, amount: i64, currency: &str) -> Value {
        self.store().catalog.put_shipping_rate(mode, id, display_name, amount, currency)
    }

    /// Changes a product, price or shipping rate in place, as the Dashboard
    /// would (e.g. `active: false` archives it). `None` when there is no such object.
    pub fn update_catalog_object(&self, id: &str, change: impl FnOnce(&mut Value)) -> Option<Value> {
        let mut store = self.store();
        let object = store.catalog.get_mut(id)?;
        change(object);
        Some(object.clone())
    }

    /// The products, prices and shipping rates of `mode` (`object`:
    /// `product`, `price` or `shipping_rate`), newest first.
    pub fn catalog_objects(&self, mode: Mode, object: &str) -> Vec<Value> {
        let kind = match object {
            "product" => &PRODUCTS,
            "price" => &PRICES,
            "shipping_rate" => &SHIPPING_RATES,
            _ => return Vec::new(),
        };
        self.store().catalog.list(kind, mode, |_| true)
    }
}
