//! Refunds and disputes end to end over real HTTP: the fulfill handler with
//! its config in SSM, the orders table (with holds and counters) in DynamoDB
//! and mail through SES (moto, behind a counting proxy), sessions made by the
//! real checkout handler on the fake Stripe, paid, then refunded or disputed
//! there. Events are what the fake says the object is now, signed here. The
//! ledger is read as raw items from moto, so attribute names are checked too.
//! `refunds_lambda` below: the same through the real binary.

use crate::support::capacity::{Counter, config_with};
use crate::support::*;
use http::header;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use testbed::moto::{Moto, SentEmail};
use testbed::proxy::CountingProxy;
use testbed::stripe::{Address, Buyer, FakeStripe, PaymentOutcome};
use tickets::checkout::Checkout;
use tickets::config::{ConfigCache, SsmSource};
use tickets::fulfill::Fulfill;
use tickets::inventory::DynamoInventory;
use tickets::ledger::DynamoLedger;
use tickets::mail::SesMailer;
use tickets::stripe::StripeApi;
use tickets::webhook;

const SENDER_DOMAIN: &str = "tokyodemofest.example";
const QUERY: &str = "DynamoDB_20120810.Query";
const SESSIONS: &str = "/v1/checkout/sessions";
/// Bronze in the example catalog, with its shirt.
const BRONZE_FORM: &str = "type=bronze&tshirt=l";
/// The counter a bronze ticket takes a place from.
const BRONZE_COUNTER: &str = "ticket#bronze";

/// The handlers (checkout and fulfill, both with the orders table as
/// inventory) and everything they talk to.
struct Bed {
    moto: Arc<Moto>,
    proxy: CountingProxy,
    stripe: FakeStripe,
    table: String,
    checkout: Checkout,
    fulfill: Fulfill,
}

impl Bed {
    /// The example config with a bronze capacity, plus `extra` keys.
    async fn new(extra: Value) -> Bed {
        let mut keys = json!({"capacity": {"visitor": 100, "bronze": 5}});
        for (k, v) in extra.as_object().unwrap() {
            keys[k] = v.clone();
        }
        let config = config_with(keys);
        let moto = moto().await;
        moto.verify_domain_identity(SENDER_DOMAIN).await.unwrap();
        let table = unique_name("orders");
        moto.create_orders_table(&table).await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("refunds"));
        moto.put_parameter(&parameter, &config.to_string()).await.unwrap();
        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        let aws = aws_config(&moto).to_builder().endpoint_url(proxy.endpoint_url()).build();
        let stripe = FakeStripe::start().await.unwrap();
        let payments = Arc::new(StripeApi::new(stripe.api_base(), Duration::from_secs(5)));
        let cache = Arc::new(ConfigCache::new(
            Box::new(SsmSource::new(aws_sdk_ssm::Client::new(&aws), parameter)),
            Duration::from_secs(300),
        ));
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let inventory = || Arc::new(DynamoInventory::new(dynamo.clone(), table.clone()));
        let fulfill = Fulfill::new(
            cache.clone(),
            payments.clone(),
            Arc::new(DynamoLedger::new(dynamo.clone(), table.clone())),
            Arc::new(SesMailer::new(&aws)),
        )
        .with_inventory(inventory());
        let checkout = Checkout::new(cache, payments).with_inventory(inventory());
        Bed { moto, proxy, stripe, table, checkout, fulfill }
    }

    /// A bronze ticket bought through the checkout handler and paid by a buyer of its own.
    async fn paid(&self) -> (String, Buyer) {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://tickets.example.org/checkout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::Text(BRONZE_FORM.to_owned()))
            .unwrap();
        let response = self.checkout.handle(request).await;
        assert_eq!(response.status(), 303, "checkout: {}", text(&response));
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        let id = location.rsplit('/').next().unwrap().to_owned();
        let buyer = buyer();
        self.stripe.pay(&id, &buyer, PaymentOutcome::Paid).unwrap();
        (id, buyer)
    }

    /// Paid and fulfilled (`checkout.session.completed`): the votekey email went out.
    async fn fulfilled(&self) -> (String, Buyer, String) {
        let (id, buyer) = self.paid().await;
        let response = self.post(&self.stripe.event("checkout.session.completed", &id).unwrap()).await;
        assert_eq!(outcome(&response), "emailed");
        let charge = self.stripe.charge_for_session(&id).unwrap();
        (id, buyer, charge)
    }

    /// `stripe_event` signed now with the local secret, through the handler.
    async fn post(&self, stripe_event: &Value) -> Response<Body> {
        self.fulfill.handle(signed(&stripe_event.to_string())).await
    }

    /// An event about the object `id` as the fake has it now.
    fn event(&self, event_type: &str, id: &str) -> Value {
        self.stripe.object_event(event_type, id).unwrap_or_else(|| panic!("no {event_type} for {id}"))
    }

    /// Delivers a fresh event about `id`; asserts a 200 and returns its outcome.
    async fn deliver(&self, event_type: &str, id: &str) -> String {
        outcome(&self.post(&self.event(event_type, id)).await)
    }

    async fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        self.moto.sent_emails().await.unwrap().into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
    }

    /// Every item of the table, by `pk`, as stored.
    async fn items(&self) -> BTreeMap<String, Value> {
        let items = self.moto.scan_table(&self.table).await.unwrap();
        items.into_iter().map(|item| (item["pk"]["S"].as_str().unwrap().to_owned(), item)).collect()
    }

    /// The order item of a session, as stored.
    async fn order(&self, session_id: &str) -> Value {
        let key = format!("session#{session_id}");
        self.items().await.remove(&key).unwrap_or_else(|| panic!("no {key}"))
    }

    async fn counter(&self, key: &str) -> Counter {
        self.items().await.get(&format!("counter#{key}")).map(Counter::from_item).unwrap_or_default()
    }

    /// The stored status of the session's hold.
    async fn hold_status(&self, session_id: &str) -> String {
        let session = self.stripe.session(session_id).unwrap();
        let hold = session["metadata"]["hold_id"].as_str().expect("a hold_id");
        let items = self.items().await;
        str_attr(&items[&format!("hold#{hold}")], "status").unwrap()
    }

    /// Stripe's list of sessions by PaymentIntent, asked for so far.
    fn listed_by_payment_intent(&self) -> usize {
        let requests = self.stripe.requests();
        requests.iter().filter(|r| r.path == SESSIONS && r.query.iter().any(|(k, _)| k == "payment_intent")).count()
    }
}

fn buyer() -> Buyer {
    Buyer {
        email: unique_email("refund-buyer"),
        name: "Hanako Yamada".into(),
        shipping: Some(Address {
            line1: "1-2-3 Jinnan".into(),
            line2: None,
            city: "Shibuya-ku".into(),
            state: Some("Tokyo".into()),
            postal_code: "150-0041".into(),
            country: "JP".into(),
        }),
    }
}

fn signed(body: &str) -> Request {
    http::Request::builder()
        .method("POST")
        .uri("https://tickets.example.org/fulfill")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("Stripe-Signature", webhook::sign(body.as_bytes(), LOCAL_WEBHOOK_SECRET, unix_now()))
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// The `outcome` of a 200 webhook answer.
fn outcome(response: &Response<Body>) -> String {
    assert_eq!(response.status(), 200, "{}", text(response));
    let body: Value = serde_json::from_str(&text(response)).unwrap();
    body["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {body}")).to_owned()
}

/// A string attribute of a raw item.
fn str_attr(item: &Value, name: &str) -> Option<String> {
    item[name]["S"].as_str().map(str::to_owned)
}

fn num_attr(item: &Value, name: &str) -> Option<i64> {
    item[name]["N"].as_str().map(|n| n.parse().unwrap())
}

/// The standing's attributes of an order item: status, votekey_state,
/// revoked_reason, dispute_status, cancellation (as stored, absent = None).
fn standing(item: &Value) -> [Option<String>; 5] {
    ["status", "votekey_state", "revoked_reason", "dispute_status", "cancellation"].map(|a| str_attr(item, a))
}

fn some(values: [Option<&str>; 5]) -> [Option<String>; 5] {
    values.map(|v| v.map(str::to_owned))
}

fn amount_of(stripe: &FakeStripe, charge: &str) -> i64 {
    stripe.object(charge).unwrap()["amount"].as_i64().unwrap()
}

// ---- full refunds ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_refund_after_fulfilment_revokes_gives_the_place_back_and_emails_once() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer, charge) = bed.fulfilled().await;
    let sold = bed.counter(BRONZE_COUNTER).await;
    assert_eq!((sold.sold, bed.hold_status(&id).await.as_str()), (1, "sold"));
    let votekey = str_attr(&bed.order(&id).await, "votekey").unwrap();

    bed.stripe.refund(&charge, None).unwrap();
    bed.proxy.reset_counts();
    let event = bed.event("charge.refunded", &charge);
    assert_eq!(outcome(&bed.post(&event).await), "refunded");
    // The order was recorded at fulfilment: the payment-intents index found it, Stripe was not asked.
    assert_eq!(bed.proxy.count(QUERY), 1, "{:?}", bed.proxy.counts());
    assert_eq!(bed.listed_by_payment_intent(), 0);

    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("refunded"), Some("revoked"), Some("refund"), None, Some("sent")]));
    assert_eq!(num_attr(&order, "refunded_amount"), Some(amount_of(&bed.stripe, &charge)));
    assert_eq!(str_attr(&order, "votekey").as_deref(), Some(votekey.as_str()), "the key stays, revoked");
    let returned = bed.counter(BRONZE_COUNTER).await;
    assert_eq!(returned, Counter { held: sold.held, sold: sold.sold - 1, taken: sold.taken - 1 });
    assert_eq!(bed.hold_status(&id).await, "returned");

    let emails = bed.emails_to(&buyer.email).await;
    assert_eq!(emails.len(), 2, "the votekey email, then one cancellation: {emails:#?}");
    let cancellation = &emails[1];
    assert!(cancellation.subject.to_lowercase().contains("cancel") || cancellation.subject.contains("キャンセル"));
    assert!(cancellation.body.contains(&votekey), "names the revoked key: {}", cancellation.body);

    // The same event again, a fresh charge.refunded, and a late `completed`: nothing.
    let items = bed.items().await;
    assert_eq!(outcome(&bed.post(&event).await), "unchanged");
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "unchanged");
    assert_eq!(bed.deliver("checkout.session.completed", &id).await, "refunded");
    assert_eq!(bed.items().await, items, "counters, hold and order unchanged");
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_created_does_what_charge_refunded_does() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer, charge) = bed.fulfilled().await;
    let refund = bed.stripe.refund(&charge, None).unwrap();
    let refund = refund["id"].as_str().unwrap();
    assert_eq!(bed.deliver("refund.created", refund).await, "refunded");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("refunded"), Some("revoked"), Some("refund"), None, Some("sent")]));
    assert_eq!(bed.hold_status(&id).await, "returned");
    // Stripe sends both (and refund.updated): the later ones change nothing.
    let items = bed.items().await;
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "unchanged");
    assert_eq!(bed.deliver("refund.updated", refund).await, "unchanged");
    assert_eq!(bed.items().await, items);
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_before_completion_means_no_votekey_email_ever() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer) = bed.paid().await;
    let charge = bed.stripe.charge_for_session(&id).unwrap();
    let held = bed.counter(BRONZE_COUNTER).await;
    assert_eq!((held.held, held.sold), (1, 0));
    bed.stripe.refund(&id, None).unwrap();

    bed.proxy.reset_counts();
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "refunded");
    // Not in the ledger yet: the index answered nothing, Stripe's list by PaymentIntent did.
    assert_eq!(bed.proxy.count(QUERY), 1, "{:?}", bed.proxy.counts());
    assert_eq!(bed.listed_by_payment_intent(), 1);
    let order = bed.order(&id).await;
    // No key was ever drawn: nothing to revoke, nobody to tell.
    assert_eq!(standing(&order), some([Some("refunded"), None, None, None, None]));
    assert_eq!(str_attr(&order, "votekey"), None);
    assert_eq!(bed.hold_status(&id).await, "released");
    assert_eq!(bed.counter(BRONZE_COUNTER).await, Counter { held: 0, sold: 0, taken: 0 });

    // The completed event and the buyer's return come afterwards: no votekey, ever.
    assert_eq!(bed.deliver("checkout.session.completed", &id).await, "refunded");
    let landing = http::Request::builder()
        .method("GET")
        .uri(format!("https://tickets.example.org/fulfill?session_id={id}"))
        .header(header::ACCEPT, "text/html")
        .body(Body::Empty)
        .unwrap();
    let landing = bed.fulfill.handle(landing).await;
    assert_eq!(landing.status(), 200, "{}", text(&landing));
    assert!(text(&landing).contains("Order refunded"), "{}", text(&landing));
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "unchanged");
    assert!(bed.emails_to(&buyer.email).await.is_empty());
    let order = bed.order(&id).await;
    assert_eq!((str_attr(&order, "status").as_deref(), str_attr(&order, "votekey")), (Some("refunded"), None));
    assert_eq!(bed.counter(BRONZE_COUNTER).await, Counter::default());
}

/// The refund's own event is lost or late; fulfilment retrieves the session
/// (with its PaymentIntent's charge expanded) and sees the refund itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_stripe_already_shows_refunded_gets_no_votekey() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer) = bed.paid().await;
    bed.stripe.refund(&id, None).unwrap();
    assert_eq!(bed.deliver("checkout.session.completed", &id).await, "refunded");
    let asked = bed.stripe.requests();
    let retrieve = asked.iter().find(|r| r.method == "GET" && r.path == format!("{SESSIONS}/{id}")).unwrap();
    assert!(retrieve.query.iter().any(|(k, v)| k.starts_with("expand") && v == "payment_intent.latest_charge"));
    assert!(bed.emails_to(&buyer.email).await.is_empty());
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("refunded"), None, None, None, None]));
    assert_eq!(str_attr(&order, "votekey"), None);
    assert_eq!(bed.hold_status(&id).await, "released");
    assert_eq!(bed.counter(BRONZE_COUNTER).await, Counter::default());
    assert_eq!(bed.deliver("checkout.session.completed", &id).await, "refunded");
    assert!(bed.emails_to(&buyer.email).await.is_empty());
}

// ---- partial refunds -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_is_recorded_and_revokes_nothing() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer, charge) = bed.fulfilled().await;
    let sold = bed.counter(BRONZE_COUNTER).await;
    bed.stripe.refund(&charge, Some(1000)).unwrap();
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "partial_refund");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), None, None, None, None]));
    assert_eq!(num_attr(&order, "refunded_amount"), Some(1000));
    assert_eq!((bed.counter(BRONZE_COUNTER).await, bed.hold_status(&id).await.as_str()), (sold, "sold"));
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 1, "the votekey email only");
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "unchanged");

    // The rest later: now it is a full refund.
    bed.stripe.refund(&charge, None).unwrap();
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "refunded");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("refunded"), Some("revoked"), Some("refund"), None, Some("sent")]));
    assert_eq!(num_attr(&order, "refunded_amount"), Some(amount_of(&bed.stripe, &charge)));
    assert_eq!(bed.hold_status(&id).await, "returned");
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 2);
}

// ---- disputes ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_is_flagged_then_revoked_when_lost() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer, charge) = bed.fulfilled().await;
    let sold = bed.counter(BRONZE_COUNTER).await;
    let dispute = bed.stripe.dispute(&charge, "fraudulent");
    let dispute = dispute["id"].as_str().unwrap();
    assert_eq!(bed.deliver("charge.dispute.created", dispute).await, "disputed");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), None, None, Some("open"), None]));
    assert_eq!(str_attr(&order, "dispute").as_deref(), Some(dispute));
    assert_eq!(bed.counter(BRONZE_COUNTER).await, sold, "an open dispute keeps the place sold");
    assert_eq!(bed.deliver("charge.dispute.created", dispute).await, "unchanged");

    bed.stripe.close_dispute(dispute, false);
    assert_eq!(bed.deliver("charge.dispute.closed", dispute).await, "dispute_lost");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), Some("revoked"), Some("dispute_lost"), Some("lost"), None]));
    assert_eq!(bed.hold_status(&id).await, "returned");
    assert_eq!(bed.counter(BRONZE_COUNTER).await.sold, sold.sold - 1);
    let items = bed.items().await;
    assert_eq!(bed.deliver("charge.dispute.closed", dispute).await, "unchanged");
    assert_eq!(bed.items().await, items);
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 1, "no email about disputes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_won_clears_the_flag() {
    let bed = Bed::new(json!({})).await;
    let (id, _, charge) = bed.fulfilled().await;
    let dispute = bed.stripe.dispute(&charge, "product_not_received");
    let dispute = dispute["id"].as_str().unwrap();
    assert_eq!(bed.deliver("charge.dispute.created", dispute).await, "disputed");
    bed.stripe.close_dispute(dispute, true);
    assert_eq!(bed.deliver("charge.dispute.closed", dispute).await, "dispute_won");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), None, None, None, None]));
    assert_eq!(str_attr(&order, "dispute"), None);
    assert_eq!(bed.hold_status(&id).await, "sold");
    assert_eq!(bed.deliver("charge.dispute.closed", dispute).await, "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_on_dispute_revokes_at_once_and_a_win_restores_the_key() {
    let bed = Bed::new(json!({"revoke_on_dispute": true})).await;
    let (id, _, charge) = bed.fulfilled().await;
    let dispute = bed.stripe.dispute(&charge, "fraudulent");
    let dispute = dispute["id"].as_str().unwrap();
    assert_eq!(bed.deliver("charge.dispute.created", dispute).await, "disputed");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), Some("revoked"), Some("dispute"), Some("open"), None]));
    assert_eq!(bed.hold_status(&id).await, "sold", "revoked, but the sale stands until the dispute is decided");
    bed.stripe.close_dispute(dispute, true);
    assert_eq!(bed.deliver("charge.dispute.closed", dispute).await, "dispute_won");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("emailed"), None, None, None, None]));
    assert!(str_attr(&order, "votekey").is_some());
}

// ---- not ours -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_of_no_session_of_ours_is_acknowledged_and_nothing_else() {
    let bed = Bed::new(json!({})).await;
    let charge = bed.stripe.charge_without_session(5000);
    bed.stripe.refund(&charge, None).unwrap();
    bed.proxy.reset_counts();
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "not_ours");
    assert_eq!(bed.listed_by_payment_intent(), 1, "Stripe was asked");
    let other = bed.stripe.charge_without_session(7000);
    let dispute = bed.stripe.dispute(&other, "fraudulent");
    assert_eq!(bed.deliver("charge.dispute.created", dispute["id"].as_str().unwrap()).await, "not_ours");
    assert!(bed.items().await.is_empty(), "nothing written");
    let other_calls: usize = bed.proxy.counts().iter().filter(|(op, _)| !op.ends_with("Query")).map(|(_, n)| *n).sum();
    assert_eq!(other_calls, 1, "only the config read: {:?}", bed.proxy.counts());

    // A charge Stripe does not know (a stale or forged id inside a correctly signed event).
    let mut unknown = bed.event("charge.refunded", &charge);
    unknown["data"]["object"]["id"] = "ch_3NoSuchChargeAnywhere0000".into();
    assert_eq!(outcome(&bed.post(&unknown).await), "not_ours");
    // Some payment methods' charges are `py_…`: the handler asks Stripe about them too (refund.* already did).
    unknown["data"]["object"]["id"] = "py_3NoSuchPaymentAnywhere000".into();
    assert_eq!(outcome(&bed.post(&unknown).await), "not_ours");
    let asked = bed.stripe.requests();
    assert!(asked.iter().any(|r| r.path == "/v1/charges/py_3NoSuchPaymentAnywhere000"), "retrieved");
}

/// Stripe retries `completed` after the refund, before `charge.refunded`
/// arrives: the ledger alone answers it (no Stripe call, nothing changes);
/// the refund event then revokes, and the buyer gets one cancellation email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_completed_after_a_refund_changes_nothing_and_the_refund_event_revokes() {
    let bed = Bed::new(json!({})).await;
    let (id, buyer, charge) = bed.fulfilled().await;
    bed.stripe.refund(&charge, None).unwrap();
    let (items, reads) = (bed.items().await, bed.stripe.requests().len());
    assert_eq!(bed.deliver("checkout.session.completed", &id).await, "already_emailed");
    assert_eq!((bed.items().await, bed.stripe.requests().len()), (items, reads));
    assert_eq!(bed.deliver("charge.refunded", &charge).await, "refunded");
    let order = bed.order(&id).await;
    assert_eq!(standing(&order), some([Some("refunded"), Some("revoked"), Some("refund"), None, Some("sent")]));
    assert_eq!(bed.hold_status(&id).await, "returned");
    assert_eq!(bed.emails_to(&buyer.email).await.len(), 2);
}
