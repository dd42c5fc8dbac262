//! The fulfill handler end to end over real HTTP: config from SSM, the order
//! ledger in DynamoDB and mail through SES (moto, behind a counting proxy that
//! can fail chosen operations), sessions created through the real checkout
//! handler on the fake Stripe and paid there. Tests sign their events
//! themselves; an offset clock moves time past claim leases without sleeping.
//! Every events/fulfill-*.json is replayed.

use crate::support::*;
use http::header;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use testbed::moto::{Moto, SentEmail};
use testbed::proxy::CountingProxy;
use testbed::stripe::{Address, Buyer, Failure, FakeStripe, PaymentOutcome};
use tickets::BoxFuture;
use tickets::checkout::Checkout;
use tickets::config::{ConfigCache, SsmSource};
use tickets::fulfill::{ClaimTiming, Fulfill};
use tickets::ledger::{
    ClaimOutcome, DynamoLedger, Ledger, LedgerFault, Notice, OrderDetails, OrderRecord, OrderStatus, VotekeyUse,
};
use tickets::mail::SesMailer;
use tickets::stripe::StripeApi;
use tickets::webhook::{self, SignatureError, Tolerance, WebhookSecrets};

const SENDER_DOMAIN: &str = "tokyodemofest.example";
const SENDER: &str = "Tokyo Demo Fest <tickets@tokyodemofest.example>";
const THANKS_URL: &str = "http://127.0.0.1:3000/thanks";
const TICKET_PAGE: &str = "http://127.0.0.1:3000/";
const VOTEKEY_LETTERS: &str = "BCDFGHJKLMNPQRSTVWXYZ";
const GET_ITEM: &str = "DynamoDB_20120810.GetItem";
const TRANSACT_WRITE: &str = "DynamoDB_20120810.TransactWriteItems";
const UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";
const SEND_EMAIL: &str = "POST /v2/email/outbound-emails";
const LEASE: Duration = Duration::from_secs(10);
const SEND_BUDGET: Duration = Duration::from_secs(6);

/// One fulfill container and everything it talks to.
struct Bed {
    moto: Arc<Moto>,
    /// Between the handlers' AWS clients and moto: counts calls, injects faults.
    proxy: CountingProxy,
    stripe: FakeStripe,
    table: String,
    checkout: Checkout,
    fulfill: Arc<Fulfill>,
    /// Reads the ledger directly from moto (not through the proxy).
    ledger: DynamoLedger,
    /// Seconds added to the real clock, for the handler and for signing.
    offset: Arc<AtomicI64>,
    /// When non-zero, the handler's clock stands still at this time.
    frozen: Arc<AtomicI64>,
}

impl Bed {
    async fn new() -> Bed {
        Bed::with_config(example_config()).await
    }

    async fn with_config(config: Value) -> Bed {
        Bed::build(config, false).await
    }

    /// `one_ledger_call_at_a_time`: see [`OneAtATime`].
    async fn build(config: Value, one_ledger_call_at_a_time: bool) -> Bed {
        let moto = moto().await;
        moto.verify_domain_identity(SENDER_DOMAIN).await.unwrap();
        let table = unique_name("orders");
        moto.create_orders_table(&table).await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("fulfill"));
        moto.put_parameter(&parameter, &config.to_string()).await.unwrap();

        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        // The SDK's standard retries (3 attempts), with short back-offs so fault tests stay quick.
        let aws = aws_config(&moto)
            .to_builder()
            .endpoint_url(proxy.endpoint_url())
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(10))
                    .with_max_backoff(Duration::from_millis(50)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(10)).build(),
            )
            .build();

        let stripe = FakeStripe::start().await.unwrap();
        let payments = Arc::new(StripeApi::new(stripe.api_base(), Duration::from_secs(5)));
        let cache = Arc::new(ConfigCache::new(
            Box::new(SsmSource::new(aws_sdk_ssm::Client::new(&aws), parameter)),
            Duration::from_secs(300),
        ));
        let offset = Arc::new(AtomicI64::new(0));
        let frozen = Arc::new(AtomicI64::new(0));
        let (clock_offset, clock_frozen) = (offset.clone(), frozen.clone());
        let dynamo = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), table.clone());
        let ledger: Arc<dyn Ledger> = if one_ledger_call_at_a_time {
            Arc::new(OneAtATime { inner: dynamo, lock: tokio::sync::Mutex::new(()) })
        } else {
            Arc::new(dynamo)
        };
        let fulfill = Fulfill::new(cache.clone(), payments.clone(), ledger, Arc::new(SesMailer::new(&aws)))
            .with_clock(Arc::new(move || match clock_frozen.load(Ordering::SeqCst) {
                0 => unix_now() + clock_offset.load(Ordering::SeqCst),
                at => at,
            }))
            .with_timing(ClaimTiming { lease: LEASE, send_budget: SEND_BUDGET });
        let checkout = Checkout::new(cache, payments);
        let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws_config(&moto)), table.clone());
        Bed { moto, proxy, stripe, table, checkout, fulfill: Arc::new(fulfill), ledger, offset, frozen }
    }

    /// The handler's clock.
    fn now(&self) -> i64 {
        match self.frozen.load(Ordering::SeqCst) {
            0 => unix_now() + self.offset.load(Ordering::SeqCst),
            at => at,
        }
    }

    fn advance(&self, by: Duration) {
        let by = by.as_secs() as i64;
        self.offset.fetch_add(by, Ordering::SeqCst);
        let _ = self.frozen.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |at| (at != 0).then_some(at + by));
    }

    /// Stops the handler's clock at its current time (for exact tolerance edges).
    fn freeze(&self) -> i64 {
        let now = self.now();
        self.frozen.store(now, Ordering::SeqCst);
        now
    }

    /// A Checkout Session made by the real checkout handler from this form.
    async fn create_session(&self, form: &str) -> String {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://tickets.example.org/checkout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::Text(form.to_owned()))
            .unwrap();
        let response = self.checkout.handle(request).await;
        assert_eq!(response.status(), 303, "checkout: {}", text(&response));
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// A bronze ticket with an L shirt, paid (or pending) by a buyer of its own.
    async fn bronze(&self, outcome: PaymentOutcome) -> (String, Buyer) {
        let id = self.create_session("type=bronze&tshirt=l").await;
        let buyer = buyer(true);
        self.stripe.pay(&id, &buyer, outcome).unwrap();
        (id, buyer)
    }

    /// A visitor ticket (no shipping), paid (or pending) by a buyer of its own.
    async fn visitor(&self, outcome: PaymentOutcome) -> (String, Buyer) {
        let id = self.create_session("type=visitor").await;
        let buyer = buyer(false);
        self.stripe.pay(&id, &buyer, outcome).unwrap();
        (id, buyer)
    }

    /// A Stripe event about the session as it is now, as Stripe would send it.
    fn event_body(&self, event_type: &str, session_id: &str) -> String {
        self.stripe.event(event_type, session_id).unwrap().to_string()
    }

    /// `body` signed with the local secret at the handler's now.
    fn signed(&self, body: &str) -> Request {
        webhook_request(
            Body::Text(body.to_owned()),
            Some(&webhook::sign(body.as_bytes(), LOCAL_WEBHOOK_SECRET, self.now())),
        )
    }

    async fn post(&self, body: &str) -> Response<Body> {
        self.fulfill.handle(self.signed(body)).await
    }

    /// A fresh, correctly signed `event_type` event about the session.
    async fn deliver(&self, event_type: &str, session_id: &str) -> Response<Body> {
        self.post(&self.event_body(event_type, session_id)).await
    }

    /// The buyer's browser returning to `/fulfill?{query}`.
    async fn land(&self, query: &str) -> Response<Body> {
        self.fulfill.handle(landing_request(query)).await
    }

    /// The buyer's browser back from Stripe's page: the session's own
    /// success URL, as Stripe fills it in (with checkout's return stamp).
    async fn returns(&self, id: &str) -> Response<Body> {
        self.land(&self.return_query(id)).await
    }

    fn return_query(&self, id: &str) -> String {
        return_query(&self.stripe, id)
    }

    async fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        self.moto.sent_emails().await.unwrap().into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
    }

    /// Session retrievals the fake Stripe has received (every GET).
    fn stripe_reads(&self) -> usize {
        self.stripe.requests().iter().filter(|r| r.method == "GET").count()
    }

    async fn order(&self, session_id: &str) -> Option<OrderRecord> {
        self.ledger.get(session_id).await.unwrap()
    }

    /// Every item of this bed's table, by `pk`.
    async fn items(&self) -> BTreeMap<String, Value> {
        self.moto
            .scan_table(&self.table)
            .await
            .unwrap()
            .into_iter()
            .map(|item| (item["pk"]["S"].as_str().unwrap().to_owned(), item))
            .collect()
    }
}

fn buyer(ships: bool) -> Buyer {
    Buyer {
        email: unique_email("buyer"),
        name: "Hanako Yamada".into(),
        shipping: ships.then(|| Address {
            line1: "1-2-3 Jinnan".into(),
            line2: Some("Demo Building 4F".into()),
            city: "Shibuya-ku".into(),
            state: Some("Tokyo".into()),
            postal_code: "150-0041".into(),
            country: "JP".into(),
        }),
    }
}

/// moto runs a TransactWriteItems step by step and undoes a cancelled one by
/// restoring a copy of the whole table taken when it began, wiping out what
/// concurrent requests wrote meanwhile (the winning claim, its completion).
/// DynamoDB applies each request atomically; this gives moto that property by
/// letting one ledger call at a time reach it. Everything between the calls
/// (Stripe, SES, the handler's decisions) still races.
struct OneAtATime {
    inner: DynamoLedger,
    lock: tokio::sync::Mutex<()>,
}

impl Ledger for OneAtATime {
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.get(session_id).await
        })
    }
    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.record(details, now).await
        })
    }
    fn claim<'a>(
        &'a self,
        details: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        sale: Option<&'a tickets::inventory::Hold>,
        now: i64,
        lease_seconds: i64,
    ) -> BoxFuture<'a, Result<ClaimOutcome, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.claim(details, notice, votekey, sale, now, lease_seconds).await
        })
    }
    fn complete<'a>(
        &'a self,
        session_id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.complete(session_id, notice, token, message_id, now).await
        })
    }
    fn release_claim<'a>(
        &'a self,
        session_id: &'a str,
        token: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.release_claim(session_id, token, now).await
        })
    }
    fn update_standing<'a>(
        &'a self,
        details: &'a OrderDetails,
        change: &'a tickets::ledger::Change,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.update_standing(details, change, now).await
        })
    }
    fn find_by_payment_intent<'a>(
        &'a self,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(async move {
            let _one = self.lock.lock().await;
            self.inner.find_by_payment_intent(payment_intent).await
        })
    }
}

fn webhook_request(body: Body, signature: Option<&str>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("https://tickets.example.org/fulfill")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::USER_AGENT, "Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    if let Some(signature) = signature {
        builder = builder.header("Stripe-Signature", signature);
    }
    builder.body(body).unwrap()
}

fn landing_request(query: &str) -> Request {
    let uri = if query.is_empty() {
        "https://tickets.example.org/fulfill".to_owned()
    } else {
        format!("https://tickets.example.org/fulfill?{query}")
    };
    http::Request::builder()
        .method("GET")
        .uri(uri)
        .header(header::ACCEPT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .body(Body::Empty)
        .unwrap()
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// The `outcome` of a webhook's JSON answer.
fn outcome(response: &Response<Body>) -> String {
    let body: Value = serde_json::from_str(&text(response)).unwrap_or_else(|_| panic!("not JSON: {}", text(response)));
    assert_eq!(body["received"], true, "{body}");
    body["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {body}")).to_owned()
}

fn assert_status(response: &Response<Body>, status: u16, what: &str) {
    assert_eq!(response.status().as_u16(), status, "{what}: {}", text(response));
}

/// A refused webhook: plain text, one line.
fn assert_one_line_refusal(response: &Response<Body>, status: u16, what: &str) {
    assert_status(response, status, what);
    let body = text(response);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8", "{what}");
    assert!(!body.trim().is_empty(), "{what}: says why");
    assert!(!body.trim_end().contains('\n'), "{what}: one line: {body:?}");
}

fn assert_votekey_shape(votekey: &str) {
    assert_eq!(votekey.len(), 8, "{votekey}");
    assert!(votekey.chars().all(|c| VOTEKEY_LETTERS.contains(c)), "Wuhu letters only: {votekey}");
}

/// The one email `address` got; panics unless exactly one.
async fn only_email(bed: &Bed, address: &str) -> SentEmail {
    let mut emails = bed.emails_to(address).await;
    assert_eq!(emails.len(), 1, "exactly one email to {address}: {emails:#?}");
    emails.remove(0)
}

// ---- 1. verification ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_are_one_line_400s_and_change_nothing() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let (other, other_buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let body = bed.event_body("checkout.session.completed", &id);
    let now = bed.freeze();
    let sign = |body: &str, secret: &str, t: i64| webhook::sign(body.as_bytes(), secret, t);
    let good = sign(&body, LOCAL_WEBHOOK_SECRET, now);
    let v1 = good.split_once(",v1=").unwrap().1.to_owned();
    let signed_json = |value: Value| {
        let body = value.to_string();
        (sign(&body, LOCAL_WEBHOOK_SECRET, now), body)
    };
    let (not_an_event_sig, not_an_event) = signed_json(json!({"hello": "world"}));
    let (no_session_sig, no_session) = signed_json(json!({
        "id": "evt_1NoSession", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": "pi_3NotASession", "object": "payment_intent"}}
    }));
    let (bad_id_sig, bad_id) = signed_json(json!({
        "id": "evt_1BadId", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_../../etc", "object": "checkout.session"}}
    }));
    // A refund event must carry a charge (the handler retrieves it by that id).
    let (refund_of_session_sig, refund_of_session) = signed_json(bed.stripe.event("charge.refunded", &id).unwrap());
    let swapped = body.replace(&id, &other);
    let cases: Vec<(&str, Option<String>, String, &str)> = vec![
        ("v0 only", Some(format!("t={now},v0={v1}")), body.clone(), "no v1 signature"),
        ("tampered body (one byte more)", Some(good.clone()), format!("{body} "), "no signature matches"),
        ("tampered body (another session)", Some(good.clone()), swapped, "no signature matches"),
        ("wrong secret", Some(sign(&body, "whsec_some_other_endpoint", now)), body.clone(), "no signature matches"),
        ("stale (now - 301)", Some(sign(&body, LOCAL_WEBHOOK_SECRET, now - 301)), body.clone(), "signed too long ago"),
        (
            "future (now + 400)",
            Some(sign(&body, LOCAL_WEBHOOK_SECRET, now + 400)),
            body.clone(),
            "signed in the future",
        ),
        (
            "future (now + 301)",
            Some(sign(&body, LOCAL_WEBHOOK_SECRET, now + 301)),
            body.clone(),
            "signed in the future",
        ),
        ("malformed: no fields", Some("garbage".into()), body.clone(), "malformed Stripe-Signature header"),
        (
            "malformed: timestamp",
            Some(format!("t=yesterday,v1={v1}")),
            body.clone(),
            "malformed Stripe-Signature header",
        ),
        (
            "malformed: signed timestamp",
            Some(format!("t=+{now},v1={v1}")),
            body.clone(),
            "malformed Stripe-Signature header",
        ),
        ("malformed: v1 not hex", Some(format!("t={now},v1=xyz")), body.clone(), "malformed Stripe-Signature header"),
        (
            "malformed: two timestamps",
            Some(format!("t={now},t={now},v1={v1}")),
            body.clone(),
            "malformed Stripe-Signature header",
        ),
        ("malformed: empty", Some(String::new()), body.clone(), "malformed Stripe-Signature header"),
        ("missing header", None, body.clone(), "missing Stripe-Signature header"),
        ("empty body", Some(sign("", LOCAL_WEBHOOK_SECRET, now)), String::new(), "empty request body"),
        (
            "verified, not JSON",
            Some(sign("this is not JSON", LOCAL_WEBHOOK_SECRET, now)),
            "this is not JSON".into(),
            "not a Stripe event",
        ),
        ("verified JSON, not an event", Some(not_an_event_sig), not_an_event, "not a Stripe event"),
        ("completed without a session", Some(no_session_sig), no_session, "does not carry the object its type names"),
        ("completed with a bad session id", Some(bad_id_sig), bad_id, "does not carry the object its type names"),
        (
            "charge.refunded carrying a session",
            Some(refund_of_session_sig),
            refund_of_session,
            "does not carry the object its type names",
        ),
    ];
    let reads_before = bed.stripe_reads();
    let calls_before = bed.proxy.counts();
    for (name, signature, body, reason) in &cases {
        let response = bed.fulfill.handle(webhook_request(Body::Text(body.clone()), signature.as_deref())).await;
        assert_one_line_refusal(&response, 400, name);
        assert!(text(&response).contains(reason), "{name}: {}", text(&response));
        // The same as bytes (API Gateway's base64 bodies arrive as Body::Binary).
        let binary =
            bed.fulfill.handle(webhook_request(Body::Binary(body.clone().into_bytes()), signature.as_deref())).await;
        assert_one_line_refusal(&binary, 400, name);
    }
    assert_eq!(bed.stripe_reads(), reads_before, "no Stripe call for a refused delivery");
    assert!(bed.items().await.is_empty(), "no ledger item: {:?}", bed.items().await);
    assert!(bed.emails_to(&buyer.email).await.is_empty());
    assert!(bed.emails_to(&other_buyer.email).await.is_empty());
    // The only AWS call was the config load (SSM); no DynamoDB, no SES.
    let aws: Vec<String> = bed.proxy.counts().into_keys().filter(|op| !calls_before.contains_key(op)).collect();
    assert!(aws.is_empty(), "AWS calls for refused deliveries: {aws:?}");
    assert!(bed.proxy.counts().keys().all(|op| op.starts_with("AmazonSSM.")), "{:?}", bed.proxy.counts());

    // The genuine delivery still works afterwards.
    let response = bed.fulfill.handle(webhook_request(Body::Text(body.clone()), Some(&good))).await;
    assert_status(&response, 200, "valid");
    assert_eq!(outcome(&response), "emailed");
    only_email(&bed, &buyer.email).await;
    assert!(bed.emails_to(&other_buyer.email).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_signatures() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let body = bed.event_body("checkout.session.completed", &id);
    let now = bed.freeze();
    let good = webhook::sign(body.as_bytes(), LOCAL_WEBHOOK_SECRET, now);
    let v1 = good.split_once(",v1=").unwrap().1.to_owned();
    let other = webhook::sign(body.as_bytes(), "whsec_the_next_secret", now);
    let other_v1 = other.split_once(",v1=").unwrap().1.to_owned();
    let cases = [
        ("valid", good.clone()),
        ("second of two v1", format!("t={now},v1={other_v1},v1={v1}")),
        ("first of two v1", format!("t={now},v1={v1},v1={other_v1}")),
        ("v0 ignored next to v1", format!("t={now},v0={other_v1},v1={v1}")),
        ("unknown scheme ignored", format!("t={now},v1={v1},v9=whatever")),
        ("exactly at the tolerance (now - 300)", webhook::sign(body.as_bytes(), LOCAL_WEBHOOK_SECRET, now - 300)),
        ("ahead by exactly the tolerance (now + 300)", webhook::sign(body.as_bytes(), LOCAL_WEBHOOK_SECRET, now + 300)),
    ];
    for (i, (name, signature)) in cases.iter().enumerate() {
        let response = bed.fulfill.handle(webhook_request(Body::Text(body.clone()), Some(signature))).await;
        assert_status(&response, 200, name);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json", "{name}");
        assert_eq!(outcome(&response), if i == 0 { "emailed" } else { "already_emailed" }, "{name}");
    }
    // A base64-encoded API Gateway body is verified over its decoded bytes.
    let mut event = event_json("fulfill-completed.json");
    event["body"] = body.clone().into();
    let event = base64_body(&resign_event(&event, LOCAL_WEBHOOK_SECRET, now));
    let response = bed.fulfill.handle(request_from_event(&event)).await;
    assert_status(&response, 200, "base64 body");
    assert_eq!(outcome(&response), "already_emailed");
    only_email(&bed, &buyer.email).await;
}

fn base64_body(event: &Value) -> Value {
    use base64::Engine as _;
    let mut event = event.clone();
    let body = event_body_bytes(&event);
    event["body"] = base64::engine::general_purpose::STANDARD.encode(body).into();
    event["isBase64Encoded"] = true.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_list_and_a_configured_tolerance() {
    const OLD: &str = "whsec_the_old_endpoint_secret";
    const NEW: &str = "whsec_the_new_endpoint_secret";
    let mut config = example_config();
    config["webhook_signing_secret"] = json!([OLD, NEW]);
    config["webhook_tolerance_seconds"] = 60.into();
    let bed = Bed::with_config(config).await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let body = bed.event_body("checkout.session.completed", &id);
    let now = bed.freeze();
    let sign = |secret: &str, t: i64| webhook::sign(body.as_bytes(), secret, t);
    let send = |signature: String| bed.fulfill.handle(webhook_request(Body::Text(body.clone()), Some(&signature)));

    // Refused first, so nothing has happened yet.
    assert_one_line_refusal(&send(sign(LOCAL_WEBHOOK_SECRET, now)).await, 400, "a secret not in the list");
    assert_one_line_refusal(&send(sign(NEW, now - 61)).await, 400, "older than the configured 60 s");
    assert_one_line_refusal(&send(sign(NEW, now + 61)).await, 400, "further ahead than 60 s");
    assert!(bed.items().await.is_empty());
    assert_eq!(bed.stripe_reads(), 0);

    let response = send(sign(NEW, now)).await;
    assert_status(&response, 200, "signed with the second secret of the list");
    assert_eq!(outcome(&response), "emailed");
    // `t=…,v1=<old>` followed by the `v1=<new>` of a second header.
    let one_v1_per_secret = format!("{},{}", sign(OLD, now), sign(NEW, now).split_once(',').unwrap().1);
    for (name, signature) in [
        ("signed with the first secret", sign(OLD, now)),
        ("one v1 per secret, as Stripe sends while rolling", one_v1_per_secret),
        ("exactly the configured 60 s old", sign(OLD, now - 60)),
    ] {
        let response = send(signature).await;
        assert_status(&response, 200, name);
        assert_eq!(outcome(&response), "already_emailed", "{name}");
    }
    only_email(&bed, &buyer.email).await;
}

// ---- 2. one email per paid session -----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_session_gets_one_email_with_the_stored_votekey() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let before = bed.now();
    let event = bed.event_body("checkout.session.completed", &id);
    let response = bed.post(&event).await;
    assert_status(&response, 200, "completed");
    assert_eq!(outcome(&response), "emailed");

    let order = bed.order(&id).await.expect("the order is in the ledger");
    assert_eq!(order.status, OrderStatus::Emailed);
    let votekey = order.votekey.clone().expect("a votekey");
    assert_votekey_shape(&votekey);
    let d = &order.details;
    assert_eq!(d.session_id, id);
    assert_eq!(d.email.as_deref(), Some(buyer.email.as_str()));
    assert_eq!(d.name.as_deref(), Some("Hanako Yamada"));
    assert_eq!(d.ticket.as_deref(), Some("bronze"));
    assert_eq!(d.options, BTreeMap::from([("tshirt".to_owned(), "l".to_owned())]));
    assert_eq!(d.items, ["Bronze ticket × 1", "T-shirt (L) × 1"]);
    assert_eq!(d.amount_total, Some(10000 + 2500 + 1500));
    assert_eq!(d.currency.as_deref(), Some("jpy"));
    assert_eq!(d.shipping_name.as_deref(), Some("Hanako Yamada"));
    let address = d.shipping_address.clone().expect("shipping address");
    assert_eq!(address.line1.as_deref(), Some("1-2-3 Jinnan"));
    assert_eq!(address.line2.as_deref(), Some("Demo Building 4F"));
    assert_eq!(address.city.as_deref(), Some("Shibuya-ku"));
    assert_eq!(address.state.as_deref(), Some("Tokyo"));
    assert_eq!(address.postal_code.as_deref(), Some("150-0041"));
    assert_eq!(address.country.as_deref(), Some("JP"));
    let after = bed.now();
    assert!((before..=after).contains(&order.created_at), "created_at {}", order.created_at);
    assert!(order.claimed_at.is_some_and(|t| (before..=after).contains(&t)), "{order:?}");
    assert!(order.emailed_at.is_some_and(|t| (before..=after).contains(&t)), "{order:?}");

    let email = only_email(&bed, &buyer.email).await;
    assert_eq!(email.from, SENDER);
    assert_eq!(email.to, vec![buyer.email.clone()]);
    assert_eq!(email.subject, "Your votekey for Tokyo Demo Fest");
    assert_eq!(order.message_id.as_deref(), Some(email.id.as_str()), "the ledger records SES's message id");
    let html = email.html.clone().expect("an HTML body");
    for needle in [
        votekey.as_str(),
        "Bronze ticket",
        ">T-shirt size</td>",
        ">L</td>",
        "Hanako Yamada",
        "1-2-3 Jinnan",
        "Demo Building 4F",
        "Shibuya-ku Tokyo 150-0041",
        "<br>\nJP</p>",
        "http://wuhu.tokyodemofest.example/",
    ] {
        assert!(html.contains(needle), "the email shows {needle:?}:\n{html}");
    }

    // The votekey is reserved in its own item, pointing back at the order.
    let items = bed.items().await;
    let reservation = &items[&format!("votekey#{votekey}")];
    assert_eq!(reservation["session_id"]["S"], id.as_str(), "{reservation}");
    let item = &items[&format!("session#{id}")];
    assert_eq!(item["status"]["S"], "emailed");
    assert_eq!(item["votekey"]["S"], votekey.as_str());
    assert!(item.get("claim_token").is_none(), "the claim token is removed once sent: {item}");
    assert_eq!(items.len(), 2, "{items:#?}");

    // Stripe redelivers the very same event: no second email, not even a Stripe call.
    let reads = bed.stripe_reads();
    let again = bed.post(&event).await;
    assert_status(&again, 200, "redelivery");
    assert_eq!(outcome(&again), "already_emailed");
    assert_eq!(bed.stripe_reads(), reads, "the ledger answers; Stripe is not asked again");
    only_email(&bed, &buyer.email).await;
    assert_eq!(bed.order(&id).await.unwrap(), order, "the ledger is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_paid_session_gets_its_own_votekey() {
    let bed = Bed::new().await;
    let mut votekeys = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let (id, buyer) = bed.visitor(PaymentOutcome::Paid).await;
        assert_eq!(outcome(&bed.deliver("checkout.session.completed", &id).await), "emailed");
        let email = only_email(&bed, &buyer.email).await;
        let votekey = bed.order(&id).await.unwrap().votekey.unwrap();
        assert!(email.html.as_deref().unwrap().contains(&votekey));
        assert!(email.html.as_deref().unwrap().contains("Visitor ticket"));
        assert!(!email.html.as_deref().unwrap().contains("Shipping address"), "no address for a visitor ticket");
        votekeys.insert(votekey);
    }
    assert_eq!(votekeys.len(), 3);
}

// ---- 3. concurrent deliveries ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_deliveries_and_a_landing_hit_send_one_email() {
    let bed = Bed::build(example_config(), true).await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let event = bed.event_body("checkout.session.completed", &id);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let fulfill = bed.fulfill.clone();
        let request = bed.signed(&event);
        tasks.spawn(async move { (Some(i), fulfill.handle(request).await) });
        if i == 10 {
            let fulfill = bed.fulfill.clone();
            let request = landing_request(&bed.return_query(&id));
            tasks.spawn(async move { (None, fulfill.handle(request).await) });
        }
    }
    let mut conflicts = Vec::new();
    let mut statuses = BTreeMap::<String, usize>::new();
    while let Some(joined) = tasks.join_next().await {
        let (delivery, response) = joined.unwrap();
        let status = response.status().as_u16();
        match delivery {
            None => {
                assert_eq!(status, 303, "landing page: {}", text(&response));
                assert_eq!(response.headers()[header::LOCATION], THANKS_URL);
                *statuses.entry("GET 303".into()).or_default() += 1;
            }
            Some(i) => {
                let outcome = match status {
                    200 | 409 => outcome(&response),
                    _ => panic!("delivery {i}: {status} {}", text(&response)),
                };
                if status == 409 {
                    assert_eq!(outcome, "in_progress");
                    conflicts.push(i);
                }
                *statuses.entry(format!("POST {status} {outcome}")).or_default() += 1;
            }
        }
    }
    eprintln!("20 concurrent deliveries + 1 landing hit: {statuses:?}");
    only_email(&bed, &buyer.email).await;
    let sent = statuses.get("POST 200 emailed").copied().unwrap_or(0);
    assert!(sent <= 1, "{statuses:?}");

    // Stripe retries the ones that got 409: they all succeed now, sending nothing.
    for i in conflicts {
        let response = bed.post(&event).await;
        assert_status(&response, 200, &format!("retry of delivery {i}"));
        assert_eq!(outcome(&response), "already_emailed");
    }
    only_email(&bed, &buyer.email).await;
    let order = bed.order(&id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Emailed);
    let votekey = order.votekey.unwrap();
    assert!(only_email(&bed, &buyer.email).await.html.unwrap().contains(&votekey));
    let reservations: Vec<String> = bed.items().await.into_keys().filter(|k| k.starts_with("votekey#")).collect();
    assert_eq!(reservations, [format!("votekey#{votekey}")], "losing claimants reserve no votekey");
}

// ---- 4, 5. delayed payments -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_session_waits_for_its_async_payment() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Pending).await;
    let response = bed.deliver("checkout.session.completed", &id).await;
    assert_status(&response, 200, "completed, unpaid");
    assert_eq!(outcome(&response), "awaiting_payment");
    let order = bed.order(&id).await.expect("recorded while waiting");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.votekey, None);
    assert_eq!(order.details.email.as_deref(), Some(buyer.email.as_str()));
    assert_eq!(order.details.ticket.as_deref(), Some("bronze"));
    assert!(bed.emails_to(&buyer.email).await.is_empty());

    // A redelivery still waits.
    assert_eq!(outcome(&bed.deliver("checkout.session.completed", &id).await), "awaiting_payment");
    assert!(bed.emails_to(&buyer.email).await.is_empty());

    bed.stripe.settle_async_payment(&id, true).unwrap();
    let response = bed.deliver("checkout.session.async_payment_succeeded", &id).await;
    assert_status(&response, 200, "async_payment_succeeded");
    assert_eq!(outcome(&response), "emailed");
    let order = bed.order(&id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Emailed);
    let email = only_email(&bed, &buyer.email).await;
    assert!(email.html.unwrap().contains(order.votekey.as_deref().unwrap()));

    // Redeliveries of either event send nothing more.
    for event_type in ["checkout.session.async_payment_succeeded", "checkout.session.completed"] {
        let response = bed.deliver(event_type, &id).await;
        assert_status(&response, 200, event_type);
        assert_eq!(outcome(&response), "already_emailed", "{event_type}");
    }
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_async_payment_gets_one_failure_email() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.visitor(PaymentOutcome::Pending).await;
    assert_eq!(outcome(&bed.deliver("checkout.session.completed", &id).await), "awaiting_payment");
    bed.stripe.settle_async_payment(&id, false).unwrap();

    let response = bed.deliver("checkout.session.async_payment_failed", &id).await;
    assert_status(&response, 200, "async_payment_failed");
    assert_eq!(outcome(&response), "failure_emailed");
    let email = only_email(&bed, &buyer.email).await;
    assert_eq!(email.from, SENDER);
    assert!(email.subject.contains("did not go through"), "{}", email.subject);
    let html = email.html.clone().unwrap();
    assert!(html.contains(&format!("href=\"{TICKET_PAGE}\"")), "links to the ticket page (cancel_url):\n{html}");
    let order = bed.order(&id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(order.votekey, None, "no votekey for a failed payment");
    assert_eq!(order.message_id.as_deref(), Some(email.id.as_str()));

    let reads = bed.stripe_reads();
    let again = bed.deliver("checkout.session.async_payment_failed", &id).await;
    assert_status(&again, 200, "redelivered failure");
    assert_eq!(outcome(&again), "failure_already_emailed");
    assert_eq!(bed.stripe_reads(), reads, "the ledger answers");
    only_email(&bed, &buyer.email).await;

    // The buyer's return to the success page says so, rather than "processing".
    let page = bed.returns(&id).await;
    assert_status(&page, 200, "landing after a failed payment");
    assert!(text(&page).contains("did not go through"), "{}", text(&page));
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_event_for_a_paid_session_sends_nothing() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.visitor(PaymentOutcome::Paid).await;
    // Events arrive in any order: a (bogus or stale) failure event for a paid session.
    let response = bed.deliver("checkout.session.async_payment_failed", &id).await;
    assert_status(&response, 200, "failure for a paid session");
    assert_eq!(outcome(&response), "not_applicable");
    assert!(bed.emails_to(&buyer.email).await.is_empty());
    assert_eq!(outcome(&bed.deliver("checkout.session.completed", &id).await), "emailed");
    only_email(&bed, &buyer.email).await;
}

// ---- 6. faults --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_fault_is_a_502_without_a_claim_and_the_retry_sends_once() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let event = bed.event_body("checkout.session.completed", &id);
    let reads = bed.stripe_reads();
    bed.stripe.fail_next([Failure::Status(500), Failure::Status(500), Failure::Status(500)]);
    let failed = bed.post(&event).await;
    assert_one_line_refusal(&failed, 502, "Stripe answers 500");
    assert!(text(&failed).contains("stripe_error"), "{}", text(&failed));
    assert!(!text(&failed).contains("Injected fault"), "Stripe's message is logged, not answered");
    let attempts = bed.stripe_reads() - reads;
    eprintln!("session retrieval attempts against a failing Stripe: {attempts}");
    assert!((2..=3).contains(&attempts), "reads are retried: {attempts} attempts");
    assert!(bed.items().await.is_empty(), "no ledger claim: {:?}", bed.items().await);
    assert!(bed.emails_to(&buyer.email).await.is_empty());

    // Stripe's retry (the fake may still hold a fault: the client's own retry absorbs it).
    let response = bed.post(&event).await;
    assert_status(&response, 200, "retry");
    assert_eq!(outcome(&response), "emailed");
    only_email(&bed, &buyer.email).await;
    assert_eq!(bed.order(&id).await.unwrap().status, OrderStatus::Emailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stripe_is_a_502_too() {
    let bed = Bed::new().await;
    // A client that gives up after 300 ms (the deployed one: 8 s, under the function's 15 s).
    let payments = Arc::new(StripeApi::new(bed.stripe.api_base(), Duration::from_millis(300)));
    let (id, buyer) = bed.visitor(PaymentOutcome::Paid).await;
    let parameter = format!("/tdf-tickets/{}", unique_name("fulfill-slow"));
    bed.moto.put_parameter(&parameter, &example_config().to_string()).await.unwrap();
    let aws = aws_config(&bed.moto);
    let fulfill = Fulfill::new(
        Arc::new(ConfigCache::new(
            Box::new(SsmSource::new(aws_sdk_ssm::Client::new(&aws), parameter)),
            Duration::from_secs(300),
        )),
        payments,
        Arc::new(DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws), bed.table.clone())),
        Arc::new(SesMailer::new(&aws)),
    );
    bed.stripe.fail_next([Failure::Delay(Duration::from_secs(2)), Failure::Delay(Duration::from_secs(2))]);
    let event = bed.event_body("checkout.session.completed", &id);
    let failed = fulfill.handle(bed.signed(&event)).await;
    assert_one_line_refusal(&failed, 502, "Stripe too slow");
    assert!(bed.items().await.is_empty());
    assert!(bed.emails_to(&buyer.email).await.is_empty());
    // Let the delayed answers drain before the retry.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = fulfill.handle(bed.signed(&event)).await;
    assert_status(&response, 200, "retry");
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_faults_are_5xx_without_email_and_the_retry_sends_once() {
    let bed = Bed::new().await;
    // (operation, status): reading the order, then the claim (a transaction with the votekey reservation).
    for (operation, status) in [(GET_ITEM, 500), (GET_ITEM, 400), (TRANSACT_WRITE, 500), (TRANSACT_WRITE, 400)] {
        let what = format!("{operation} answering {status}");
        let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
        let event = bed.event_body("checkout.session.completed", &id);
        let before = bed.proxy.count(operation);
        bed.proxy.fail_next(operation, status, 3);
        let failed = bed.post(&event).await;
        assert_one_line_refusal(&failed, 500, &what);
        assert!(text(&failed).contains("ledger_error"), "{what}: {}", text(&failed));
        assert_eq!(bed.proxy.count(operation) - before, 3, "{what}: the SDK tried 3 times");
        assert_eq!(bed.proxy.pending_faults(operation), 0);
        assert!(bed.emails_to(&buyer.email).await.is_empty(), "{what}: no email");
        assert_eq!(bed.order(&id).await, None, "{what}: nothing claimed");

        let response = bed.post(&event).await;
        assert_status(&response, 200, &format!("{what}, retried"));
        assert_eq!(outcome(&response), "emailed");
        only_email(&bed, &buyer.email).await;
    }
    // One failed attempt is retried by the SDK within the same delivery.
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    bed.proxy.fail_next(TRANSACT_WRITE, 500, 1);
    let response = bed.deliver("checkout.session.completed", &id).await;
    assert_status(&response, 200, "one transient claim failure");
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_frees_the_claim_and_the_next_delivery_sends_the_same_votekey() {
    let bed = Bed::new().await;
    // SES v2 SendEmail: throttled (429 and 400 spellings, retried by the SDK) or rejected (not retried).
    for (status, error) in [(429, "TooManyRequestsException"), (400, "ThrottlingException"), (400, "MessageRejected")] {
        // The handler's clock stands still: no lease can run out during this.
        bed.freeze();
        let what = format!("SendEmail answering {status} {error}");
        let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
        let event = bed.event_body("checkout.session.completed", &id);
        let sends = bed.proxy.count(SEND_EMAIL);
        bed.proxy.fail_next_with(SEND_EMAIL, status, error, 3);
        let failed = bed.post(&event).await;
        assert_one_line_refusal(&failed, 500, &what);
        assert!(text(&failed).contains("mail_error"), "{what}: {}", text(&failed));
        let attempts = bed.proxy.count(SEND_EMAIL) - sends;
        eprintln!("{what}: {attempts} SendEmail attempts");
        bed.proxy.clear_faults();
        assert!(bed.emails_to(&buyer.email).await.is_empty(), "{what}");
        let refused = bed.order(&id).await.expect("the order is recorded");
        let votekey = refused.votekey.clone().expect("the claim reserved a votekey");
        assert_votekey_shape(&votekey);
        assert!(refused.claim_expires_at.is_some_and(|t| t < bed.now()), "{what}: the claim was given up");

        // Stripe's next delivery, in the same second: no 409, the reserved key goes out once.
        let response = bed.post(&event).await;
        assert_status(&response, 200, &format!("{what}: the next delivery"));
        assert_eq!(outcome(&response), "emailed");
        let email = only_email(&bed, &buyer.email).await;
        let order = bed.order(&id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Emailed);
        assert_eq!(order.votekey.as_deref(), Some(votekey.as_str()), "{what}: the same votekey");
        assert!(email.html.unwrap().contains(&votekey), "{what}");
        let reservations: Vec<String> = bed
            .items()
            .await
            .into_iter()
            .filter(|(k, v)| k.starts_with("votekey#") && v["session_id"]["S"] == id.as_str())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(reservations, [format!("votekey#{votekey}")], "{what}: one reservation");
        assert_eq!(outcome(&bed.post(&event).await), "already_emailed");
        only_email(&bed, &buyer.email).await;
    }
}

/// DynamoDB committed the claim but its answer was lost; the SDK's retry
/// finds the claim in place, with our token: it is ours, and the email goes out now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_answer_was_lost_is_still_ours() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let event = bed.event_body("checkout.session.completed", &id);
    // The votekey claim is a transaction (claim + key reservation).
    bed.proxy.lose_answer_next(TRANSACT_WRITE, 1);
    let response = bed.post(&event).await;
    assert_status(&response, 200, "claimed on the SDK's retry");
    assert_eq!(outcome(&response), "emailed");
    only_email(&bed, &buyer.email).await;
    assert_eq!(bed.proxy.pending_faults(TRANSACT_WRITE), 0);

    // A claim without a new key is one conditional UpdateItem (no idempotency token there).
    let (id, buyer) = bed.visitor(PaymentOutcome::Pending).await;
    bed.stripe.settle_async_payment(&id, false).unwrap();
    bed.proxy.lose_answer_next(UPDATE_ITEM, 1);
    let failed = bed.deliver("checkout.session.async_payment_failed", &id).await;
    assert_status(&failed, 200, "the failure notice claimed on the retry");
    assert_eq!(outcome(&failed), "failure_emailed");
    assert_eq!(bed.order(&id).await.unwrap().status, OrderStatus::Failed);
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_claim_and_send_is_recovered_after_the_lease() {
    // A claim whose holder never sends (the function died): the ledger says claimed.
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let event = bed.event_body("checkout.session.completed", &id);
    // SES unreachable for this delivery: the claim is taken, the send fails.
    bed.proxy.fail_next(SEND_EMAIL, 503, 3);
    assert_status(&bed.post(&event).await, 500, "send fails");
    bed.proxy.clear_faults();
    let votekey = bed.order(&id).await.unwrap().votekey.unwrap();
    // Just before the lease ends: still held (and too close to the end to send anyway).
    bed.advance(LEASE - Duration::from_secs(1));
    assert_status(&bed.post(&event).await, 409, "within the lease");
    bed.advance(Duration::from_secs(2));
    // The buyer's return takes the claim over this time.
    let landing = bed.returns(&id).await;
    assert_status(&landing, 303, "landing after the lease");
    let email = only_email(&bed, &buyer.email).await;
    assert!(email.html.unwrap().contains(&votekey));
    assert_eq!(outcome(&bed.post(&event).await), "already_emailed");
    only_email(&bed, &buyer.email).await;
}

/// After SES accepted the email, recording it in the ledger fails. The buyer
/// has their votekey; a later delivery must not send a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_failed_completion_after_sending_does_not_send_twice() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let event = bed.event_body("checkout.session.completed", &id);
    bed.proxy.fail_next(UPDATE_ITEM, 500, 3);
    let first = bed.post(&event).await;
    eprintln!("completion failed: {} {}", first.status(), text(&first));
    only_email(&bed, &buyer.email).await;
    bed.proxy.clear_faults();
    bed.advance(LEASE + Duration::from_secs(1));
    let retry = bed.post(&event).await;
    eprintln!("retry after the lease: {} {}", retry.status(), text(&retry));
    only_email(&bed, &buyer.email).await;
}

// ---- 7. landing page ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_page_fulfils_and_redirects_to_the_thanks_page() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let response = bed.returns(&id).await;
    assert_status(&response, 303, "paid");
    assert_eq!(response.headers()[header::LOCATION], THANKS_URL);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let email = only_email(&bed, &buyer.email).await;
    let order = bed.order(&id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Emailed);
    assert!(email.html.unwrap().contains(order.votekey.as_deref().unwrap()));

    // The webhook arrives later; a reload of the page too: nothing more is sent or asked.
    let reads = bed.stripe_reads();
    let webhook = bed.deliver("checkout.session.completed", &id).await;
    assert_status(&webhook, 200, "the later webhook");
    assert_eq!(outcome(&webhook), "already_emailed");
    let reload = bed.returns(&id).await;
    assert_status(&reload, 303, "reload");
    assert_eq!(bed.stripe_reads(), reads);
    only_email(&bed, &buyer.email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_page_explains_unknown_and_unpaid_sessions() {
    let bed = Bed::new().await;
    let unknown = bed.land("session_id=cs_test_doesnotexist").await;
    assert_status(&unknown, 404, "unknown session");
    assert_eq!(unknown.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(text(&unknown).contains("Order not found"), "{}", text(&unknown));
    assert!(text(&unknown).contains(&format!("href=\"{TICKET_PAGE}\"")), "links to the ticket page");
    assert_eq!(bed.order("cs_test_doesnotexist").await, None);

    let (id, buyer) = bed.bronze(PaymentOutcome::Pending).await;
    let unpaid = bed.returns(&id).await;
    assert_status(&unpaid, 200, "unpaid");
    assert_eq!(unpaid.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(text(&unpaid).contains("still being processed"), "{}", text(&unpaid));
    assert_eq!(bed.order(&id).await.unwrap().status, OrderStatus::Pending);
    assert!(bed.emails_to(&buyer.email).await.is_empty());

    let reads = bed.stripe_reads();
    for query in [
        "",
        "session_id=",
        "sessionid=cs_test_abc",
        "session_id=pi_3NotASession",
        "session_id=cs_test_%3Cscript%3E",
        &format!("session_id=cs_{}", "a".repeat(300)),
    ] {
        let response = bed.land(query).await;
        assert_status(&response, 400, &format!("?{query}"));
        assert!(text(&response).contains("session_id"), "?{query}: {}", text(&response));
    }
    assert_eq!(bed.stripe_reads(), reads, "no Stripe call for a bad session_id");
    assert!(bed.emails_to(&buyer.email).await.is_empty());

    // Neither GET nor POST: 405 with Allow.
    let put =
        http::Request::builder().method("PUT").uri("https://tickets.example.org/fulfill").body(Body::Empty).unwrap();
    let response = bed.fulfill.handle(put).await;
    assert_status(&response, 405, "PUT");
    assert_eq!(response.headers()[header::ALLOW], "GET, POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_thanks_url_the_landing_page_redirects_to_the_ticket_page() {
    let mut config = example_config();
    config.as_object_mut().unwrap().remove("thanks_url");
    let bed = Bed::with_config(config).await;
    let (id, buyer) = bed.visitor(PaymentOutcome::Paid).await;
    let response = bed.returns(&id).await;
    assert_status(&response, 303, "paid");
    assert_eq!(response.headers()[header::LOCATION], TICKET_PAGE);
    only_email(&bed, &buyer.email).await;
}

// ---- 8. other event types ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_event_types_are_acknowledged_and_ignored() {
    let bed = Bed::new().await;
    let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
    let reads = bed.stripe_reads();
    // (checkout.session.expired is handled: it gives a hold back; see capacity_lambda.)
    // (charge.refunded and charge.dispute.* are handled: see refunds.)
    for event_type in ["payment_intent.succeeded", "charge.succeeded", "customer.created"] {
        let response = bed.deliver(event_type, &id).await;
        assert_status(&response, 200, event_type);
        assert_eq!(outcome(&response), "ignored", "{event_type}");
    }
    assert_eq!(bed.stripe_reads(), reads, "no Stripe call for an ignored event");
    assert!(bed.items().await.is_empty());
    assert!(bed.emails_to(&buyer.email).await.is_empty());
}

// ---- 9. events/fulfill-*.json -------------------------------------------------------

/// What each event needs from the fake Stripe before it is replayed.
#[derive(Clone, Copy, Debug)]
enum Seed {
    /// A paid bronze session.
    Paid,
    /// A konbini-style session, completed unpaid and then settled.
    SettledPaid,
    /// A konbini-style session, completed unpaid and then failed.
    SettledFailed,
    /// A visitor session nobody paid, expired.
    Expired,
    /// The event names no session.
    Nothing,
    /// A paid bronze session, fulfilled, then refunded in full: the event names its charge.
    Refunded,
    /// A paid bronze session, fulfilled, then disputed: the event names the dispute.
    Disputed,
}

/// The charge and dispute the fixtures in events/ name (`ch_…`, `dp_…`).
const FIXTURE_CHARGE: &str = "ch_3TdfEventsFixtureBronzePaid000";
const FIXTURE_DISPUTE: &str = "dp_1TdfEventsFixtureDispute00000";
const FIXTURE_PAYMENT_INTENT: &str = "pi_3TdfEventsFixture0000000";

/// `event` with each `(fixture id, real id)` replaced in its body, its
/// `Content-Length` fixed (unsigned: re-sign it).
fn replace_ids(event: &Value, ids: &[(&str, &str)]) -> Value {
    let mut event = event.clone();
    assert_ne!(event["isBase64Encoded"], true, "a plain-text body");
    let mut body = event["body"].as_str().unwrap().to_owned();
    for (fixture, real) in ids {
        body = body.replace(fixture, real);
    }
    event["headers"]["content-length"] = body.len().to_string().into();
    event["body"] = body.into();
    event
}

/// Every events/fulfill-*.json: expected status, outcome (webhooks) and emails to the buyer.
const FULFILL_EVENTS: &[(&str, u16, Option<&str>, usize, Seed)] = &[
    ("fulfill-async-failed.json", 200, Some("failure_emailed"), 1, Seed::SettledFailed),
    ("fulfill-async-succeeded.json", 200, Some("emailed"), 1, Seed::SettledPaid),
    ("fulfill-bad-signature.json", 400, None, 0, Seed::Paid),
    // The votekey email at fulfilment, then the cancellation.
    ("fulfill-charge-refunded.json", 200, Some("refunded"), 2, Seed::Refunded),
    ("fulfill-completed.json", 200, Some("emailed"), 1, Seed::Paid),
    // The votekey email at fulfilment; a dispute sends none.
    ("fulfill-dispute-created.json", 200, Some("disputed"), 1, Seed::Disputed),
    ("fulfill-expired.json", 200, Some("expired"), 0, Seed::Expired),
    ("fulfill-ignored.json", 200, Some("ignored"), 0, Seed::Nothing),
    ("fulfill-landing.json", 303, None, 1, Seed::Paid),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fulfill_event_gets_its_expected_status() {
    let names: Vec<&str> = FULFILL_EVENTS.iter().map(|(name, ..)| *name).collect();
    assert_eq!(fulfill_event_names(), names, "every events/fulfill-*.json has a row in FULFILL_EVENTS");
    let bed = Bed::new().await;
    for &(name, status, expected_outcome, emails, seed) in FULFILL_EVENTS {
        let original = event_json(name);
        let fixture_session = event_session_id(&original);
        // Charges and disputes: the fixture's ids and the seeded ones.
        let mut ids: Vec<(&str, String)> = Vec::new();
        let (session, buyer) = match seed {
            Seed::Nothing => (None, None),
            Seed::Refunded | Seed::Disputed => {
                let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
                assert_eq!(outcome(&bed.deliver("checkout.session.completed", &id).await), "emailed", "{name}");
                let charge = bed.stripe.charge_for_session(&id).unwrap();
                let intent = bed.stripe.session(&id).unwrap()["payment_intent"].as_str().unwrap().to_owned();
                if matches!(seed, Seed::Refunded) {
                    bed.stripe.refund(&charge, None).unwrap();
                } else {
                    let dispute = bed.stripe.dispute(&charge, "fraudulent");
                    ids.push((FIXTURE_DISPUTE, dispute["id"].as_str().unwrap().to_owned()));
                }
                ids.push((FIXTURE_CHARGE, charge));
                ids.push((FIXTURE_PAYMENT_INTENT, intent));
                (Some(id), Some(buyer))
            }
            Seed::Paid => {
                let (id, buyer) = bed.bronze(PaymentOutcome::Paid).await;
                (Some(id), Some(buyer))
            }
            Seed::Expired => {
                let id = bed.create_session("type=visitor").await;
                assert!(bed.stripe.expire_now(&id).is_some());
                (Some(id), None)
            }
            Seed::SettledPaid | Seed::SettledFailed => {
                let (id, buyer) = bed.visitor(PaymentOutcome::Pending).await;
                bed.stripe.settle_async_payment(&id, matches!(seed, Seed::SettledPaid)).unwrap();
                (Some(id), Some(buyer))
            }
        };
        let names_session = session.is_some() && ids.is_empty();
        assert_eq!(
            fixture_session.is_some(),
            names_session,
            "{name}: names a session exactly when one is seeded for it"
        );
        if let Some(fixture) = &fixture_session {
            assert!(fixture.starts_with("cs_test_a1TdfEventsFixture"), "{name}: {fixture}");
        }
        let mut event = match &session {
            Some(id) if names_session => retarget_event(&original, id),
            _ => original.clone(),
        };
        if names_session {
            assert_eq!(event_session_id(&event).as_deref(), session.as_deref(), "{name}");
        }
        if !ids.is_empty() {
            let body = String::from_utf8(event_body_bytes(&original)).unwrap();
            let object_id = serde_json::from_str::<Value>(&body).unwrap()["data"]["object"]["id"].clone();
            assert!(
                ids.iter().any(|(fixture, _)| object_id == *fixture),
                "{name}: its object is a fixture: {object_id}"
            );
            let pairs: Vec<(&str, &str)> = ids.iter().map(|(f, r)| (*f, r.as_str())).collect();
            event = replace_ids(&event, &pairs);
            let body = String::from_utf8(event_body_bytes(&event)).unwrap();
            assert!(ids.iter().all(|(fixture, _)| !body.contains(fixture)), "{name}: fixture ids replaced: {body}");
        }
        // The buyer's return carries the stamp checkout gave the session (a file cannot hold a fresh one).
        if let (Some(id), "fulfill-landing.json") = (&session, name) {
            let query = bed.return_query(id);
            // Ids and stamps need no percent-decoding.
            let pairs: serde_json::Map<String, Value> =
                query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
            event["queryStringParameters"] = pairs.into();
            event["rawQueryString"] = query.into();
        }
        // Webhooks are re-signed with the local secret and the current time, except the bad one.
        if event["body"].is_string() && name != "fulfill-bad-signature.json" {
            event = resign_event(&event, LOCAL_WEBHOOK_SECRET, bed.now());
        }
        let reads = bed.stripe_reads();
        let response = bed.fulfill.handle(request_from_event(&event)).await;
        assert_status(&response, status, name);
        if let Some(expected) = expected_outcome {
            assert_eq!(outcome(&response), expected, "{name}");
        }
        match status {
            303 => assert_eq!(response.headers()[header::LOCATION], THANKS_URL, "{name}"),
            400 => assert_one_line_refusal(&response, 400, name),
            _ => {}
        }
        if status == 400 || expected_outcome == Some("ignored") {
            assert_eq!(bed.stripe_reads(), reads, "{name}: no Stripe call");
        }
        if let (Some(id), Some(buyer)) = (&session, &buyer) {
            assert_eq!(bed.emails_to(&buyer.email).await.len(), emails, "{name}");
            if emails == 0 {
                assert_eq!(bed.order(id).await, None, "{name}: no ledger item");
            }
        }
    }
}

#[test]
fn fulfill_events_are_well_formed_and_signed_with_the_local_secret() {
    let local = WebhookSecrets::new(vec![LOCAL_WEBHOOK_SECRET.into()]).unwrap();
    // Any age: this checks who signed what, not when (scripts/sign-event refreshes the time).
    let any_age = Tolerance::from_secs(u32::MAX).unwrap();
    for name in fulfill_event_names() {
        let event = event_json(&name);
        assert_eq!(event["version"], "2.0", "{name}");
        assert_eq!(event["rawPath"], "/fulfill", "{name}");
        let method = event["requestContext"]["http"]["method"].as_str().unwrap();
        assert_eq!(event["routeKey"], format!("{method} /fulfill"), "{name}");
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"], "{name}");
        let request = crate::support::event(&name);
        assert_eq!(request.method().as_str(), method, "{name}");
        if method == "GET" {
            assert!(event_session_id(&event).is_some_and(|id| id.starts_with("cs_test_")), "{name}");
            continue;
        }
        let body = event_body_bytes(&event);
        let stripe_event: Value =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
        assert_eq!(stripe_event["object"], "event", "{name}");
        let header =
            event["headers"]["stripe-signature"].as_str().unwrap_or_else(|| panic!("{name}: no stripe-signature"));
        let verified = webhook::verify(Some(header), &body, &local, any_age, unix_now());
        if name == "fulfill-bad-signature.json" {
            assert_eq!(verified, Err(SignatureError::NoMatch), "{name} must stay unverifiable");
        } else {
            assert_eq!(verified, Ok(()), "{name}: signed over another body; run scripts/sign-event {name}");
        }
    }
}

#[test]
fn sign_event_re_signs_a_file_in_place_for_now() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("fulfill-completed.json");
    let original = event_json("fulfill-completed.json");
    std::fs::write(&copy, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let before = unix_now();
    let output = std::process::Command::new(root().join("scripts/sign-event")).arg(&copy).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
    let header = signed["headers"]["stripe-signature"].as_str().unwrap();
    let timestamp: i64 = header.strip_prefix("t=").unwrap().split(',').next().unwrap().parse().unwrap();
    assert!((before..=unix_now()).contains(&timestamp), "{header}");
    let local = WebhookSecrets::new(vec![LOCAL_WEBHOOK_SECRET.into()]).unwrap();
    assert_eq!(
        webhook::verify(Some(header), &event_body_bytes(&signed), &local, Tolerance::default(), unix_now()),
        Ok(())
    );
    // Only the signature changed.
    let mut unsigned = signed.clone();
    unsigned["headers"]["stripe-signature"] = original["headers"]["stripe-signature"].clone();
    assert_eq!(unsigned, original);

    // A base64 body is signed over its decoded bytes.
    let encoded = base64_body(&original);
    std::fs::write(&copy, encoded.to_string()).unwrap();
    let output = std::process::Command::new(root().join("scripts/sign-event")).arg(&copy).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
    let header = signed["headers"]["stripe-signature"].as_str().unwrap();
    assert_eq!(
        webhook::verify(Some(header), &event_body_bytes(&original), &local, Tolerance::default(), unix_now()),
        Ok(())
    );
}
