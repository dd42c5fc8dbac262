//! The fulfilment state machine against the in-memory doubles: every
//! outcome, every fault, the votekey-collision retry, leases that run out.
//! No server, no network: the whole module runs in milliseconds.

use super::machine::{NextAction, answer_from_ledger, next_action};
use super::*;
use crate::config::Config;
use crate::doubles::{LedgerOp, MemoryLedger, MemoryMailer, MemoryPayments, ScriptedSource};
use crate::inventory::{CounterKey, HOLD_METADATA_KEY, Hold, HoldStatus, Inventory, Limit};
use crate::ledger::{ClaimOutcome, Notice, OrderStatus, VotekeyUse};
use crate::mail::MailFault;
use crate::stripe::{PaymentStatus, PostalAddress, SessionLineItem, SessionView, StripeFault};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

mod headers;
mod ours;
mod reconcile;
mod refunds;
mod refused;
mod resend;

const EXAMPLE: &str = include_str!("../../../../config.example.json");

/// The example config with these keys added (values as JSON).
fn with_keys(keys: &[(&str, &str)]) -> String {
    let mut config: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    for (key, value) in keys {
        config[*key] = serde_json::from_str(value).unwrap();
    }
    config.to_string()
}
const T0: i64 = 1_800_000_000;

struct Bed {
    fulfill: Fulfill,
    config: Arc<Config>,
    payments: Arc<MemoryPayments>,
    ledger: Arc<MemoryLedger>,
    mailer: Arc<MemoryMailer>,
    clock: Arc<AtomicI64>,
}

impl Bed {
    fn new() -> Bed {
        Bed::with_config(EXAMPLE)
    }

    fn with_config(text: &str) -> Bed {
        let config = Arc::new(Config::from_json(text).expect("test config"));
        let cache = ConfigCache::new(Box::new(ScriptedSource::always(text)), Duration::from_secs(300));
        let payments = Arc::new(MemoryPayments::new());
        let ledger = Arc::new(MemoryLedger::new());
        let mailer = Arc::new(MemoryMailer::new());
        let clock = Arc::new(AtomicI64::new(T0));
        let now = clock.clone();
        let fulfill = Fulfill::new(Arc::new(cache), payments.clone(), ledger.clone(), mailer.clone())
            .with_clock(Arc::new(move || now.load(Ordering::SeqCst)));
        Bed { fulfill, config, payments, ledger, mailer, clock }
    }

    fn map(self, f: impl FnOnce(Fulfill) -> Fulfill) -> Bed {
        Bed { fulfill: f(self.fulfill), ..self }
    }

    fn at(&self, t: i64) {
        self.clock.store(t, Ordering::SeqCst);
    }

    async fn fulfil(&self, id: &str) -> Result<Outcome, FulfillFault> {
        self.fulfill.fulfill(&self.config, id).await
    }

    async fn notify_failure(&self, id: &str) -> Result<Outcome, FulfillFault> {
        self.fulfill.notify_failure(&self.config, id).await
    }

    fn status(&self, id: &str) -> Option<OrderStatus> {
        self.ledger.orders().into_iter().find(|o| o.details.session_id == id).map(|o| o.status)
    }

    fn votekey(&self, id: &str) -> Option<String> {
        self.ledger.orders().into_iter().find(|o| o.details.session_id == id).and_then(|o| o.votekey)
    }
}

/// A Bronze ticket with an L T-shirt, shipped to Tokyo.
fn session(id: &str, payment_status: PaymentStatus) -> SessionView {
    SessionView {
        id: id.into(),
        payment_status,
        complete: true,
        expired: false,
        created: T0 - 60,
        payment_intent: Some(format!("pi_for_{id}")),
        fully_refunded: false,
        payment_mode: true,
        livemode: false,
        email: Some("ada@example.com".into()),
        name: Some("Ada Lovelace".into()),
        locale: Some("en".into()),
        metadata: [("tdf_shop", "tdf-tickets"), ("ticket", "bronze"), ("tshirt", "l")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        line_items: vec![SessionLineItem {
            price: Some("price_1TdfBronzeTicket".into()),
            description: "Bronze supporter".into(),
            quantity: 1,
            amount_total: 5000,
        }],
        amount_total: Some(5000),
        currency: Some("jpy".into()),
        shipping: Some((
            "Ada Lovelace".into(),
            PostalAddress { line1: Some("1-2-3 Shibuya".into()), country: Some("JP".into()), ..Default::default() },
        )),
    }
}

fn paid(id: &str) -> SessionView {
    session(id, PaymentStatus::Paid)
}

#[tokio::test]
async fn a_paid_session_gets_one_votekey_email_and_a_repeat_asks_nobody() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_1"));
    assert_eq!(bed.fulfil("cs_test_1").await.unwrap(), Outcome::Emailed);
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "ada@example.com");
    let key = bed.votekey("cs_test_1").expect("a votekey is recorded");
    assert!(sent[0].text.contains(&key) && sent[0].html.contains(&key));
    assert_eq!(bed.status("cs_test_1"), Some(OrderStatus::Emailed));

    assert_eq!(bed.fulfil("cs_test_1").await.unwrap(), Outcome::AlreadyEmailed);
    assert_eq!(bed.payments.retrievals(), 1, "a sent order needs no Stripe call");
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test]
async fn a_live_claim_held_elsewhere_is_in_progress_and_sends_nothing() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_2"));
    let details = order_details(&paid("cs_test_2"));
    let held =
        bed.ledger.claim(&details, Notice::Votekey, VotekeyUse::Reserve("BBBBBBBB"), None, T0, 10).await.unwrap();
    assert!(matches!(held, ClaimOutcome::Claimed { .. }));
    bed.at(T0 + 5);
    assert_eq!(bed.fulfil("cs_test_2").await.unwrap(), Outcome::InProgress);
    assert!(bed.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_crashed_holders_claim_is_taken_over_after_its_lease_with_the_same_key() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_3"));
    let details = order_details(&paid("cs_test_3"));
    bed.ledger.claim(&details, Notice::Votekey, VotekeyUse::Reserve("CRASHEDK"), None, T0, 10).await.unwrap();
    bed.at(T0 + 11);
    assert_eq!(bed.fulfil("cs_test_3").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.votekey("cs_test_3").as_deref(), Some("CRASHEDK"));
    assert!(bed.mailer.sent()[0].text.contains("CRASHEDK"));
}

#[tokio::test]
async fn an_unpaid_session_is_recorded_and_waits() {
    let bed = Bed::new();
    bed.payments.put(session("cs_test_4", PaymentStatus::Unpaid));
    assert_eq!(bed.fulfil("cs_test_4").await.unwrap(), Outcome::AwaitingPayment);
    assert_eq!(bed.status("cs_test_4"), Some(OrderStatus::Pending));
    assert!(bed.mailer.sent().is_empty());
    // The delayed payment succeeds later.
    bed.payments.put(paid("cs_test_4"));
    assert_eq!(bed.fulfil("cs_test_4").await.unwrap(), Outcome::Emailed);
}

#[tokio::test]
async fn a_failed_delayed_payment_is_told_once_and_never_gets_a_votekey() {
    let bed = Bed::new();
    bed.payments.put(session("cs_test_5", PaymentStatus::Unpaid));
    assert_eq!(bed.notify_failure("cs_test_5").await.unwrap(), Outcome::FailureEmailed);
    assert_eq!(bed.status("cs_test_5"), Some(OrderStatus::Failed));
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert!(bed.votekey("cs_test_5").is_none());

    assert_eq!(bed.notify_failure("cs_test_5").await.unwrap(), Outcome::FailureAlreadyEmailed);
    assert_eq!(bed.fulfil("cs_test_5").await.unwrap(), Outcome::PaymentFailed, "the landing page after a failure");
    // Stripe later shows it settled anyway: the failed order cannot be claimed for a votekey.
    bed.payments.put(paid("cs_test_5"));
    assert_eq!(bed.fulfil("cs_test_5").await.unwrap(), Outcome::NotApplicable);
    assert_eq!(bed.mailer.sent().len(), 1);
}

/// Anyone can start a checkout for any address with a delayed payment method
/// and let it fail: the "name" typed on Stripe's page must not be mailed.
#[tokio::test]
async fn a_failed_payment_email_leaves_out_the_name_typed_at_checkout() {
    let bed = Bed::new();
    let chosen = "Win a prize at evil.example";
    for (id, locale, greeting) in [("cs_test_5en", "en", "Hi,\n"), ("cs_test_5ja", "ja", "お客様\n")] {
        let unpaid = session(id, PaymentStatus::Unpaid);
        bed.payments.put(SessionView { name: Some(chosen.into()), locale: Some(locale.into()), ..unpaid });
        assert_eq!(bed.notify_failure(id).await.unwrap(), Outcome::FailureEmailed);
        let sent = bed.mailer.sent().pop().expect("the failure email");
        assert!(sent.text.starts_with(greeting), "{}", sent.text);
        for part in [&sent.subject, &sent.text, &sent.html] {
            assert!(!part.contains("evil.example"), "{locale}: {part}");
        }
    }
}

#[tokio::test]
async fn a_failure_notice_for_a_paid_session_is_not_applicable() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_6"));
    assert_eq!(bed.notify_failure("cs_test_6").await.unwrap(), Outcome::NotApplicable);
    assert!(bed.mailer.sent().is_empty());
    assert_eq!(bed.status("cs_test_6"), None);
}

#[tokio::test]
async fn a_paid_session_without_an_email_address_is_recorded_for_the_organizer() {
    let bed = Bed::new();
    bed.payments.put(SessionView { email: None, ..paid("cs_test_7") });
    assert_eq!(bed.fulfil("cs_test_7").await.unwrap(), Outcome::NoEmailAddress);
    assert_eq!(bed.status("cs_test_7"), Some(OrderStatus::Pending));
    bed.payments.put(SessionView { email: None, ..session("cs_test_7", PaymentStatus::Unpaid) });
    assert_eq!(bed.notify_failure("cs_test_7").await.unwrap(), Outcome::NoEmailAddress);
    assert!(bed.mailer.sent().is_empty());
}

#[tokio::test]
async fn an_unknown_session_is_reported_and_recorded_nowhere() {
    let bed = Bed::new();
    assert_eq!(bed.fulfil("cs_test_missing").await.unwrap(), Outcome::UnknownSession);
    assert_eq!(bed.notify_failure("cs_test_missing").await.unwrap(), Outcome::UnknownSession);
    assert!(bed.ledger.orders().is_empty());
}

#[tokio::test]
async fn a_taken_votekey_is_drawn_again() {
    let draws = Arc::new(AtomicUsize::new(0));
    let counter = draws.clone();
    let keys = ["TAKENKEY", "TAKENKEY", "FRESHKEY"];
    let bed = Bed::new()
        .map(|f| f.with_votekey_draw(Arc::new(move |_| Ok(keys[counter.fetch_add(1, Ordering::SeqCst)].into()))));
    bed.payments.put(paid("cs_test_other"));
    bed.payments.put(paid("cs_test_8"));
    assert_eq!(bed.fulfil("cs_test_other").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.fulfil("cs_test_8").await.unwrap(), Outcome::Emailed);
    assert_eq!(draws.load(Ordering::SeqCst), 3);
    assert_eq!(bed.votekey("cs_test_8").as_deref(), Some("FRESHKEY"));
}

#[tokio::test]
async fn when_every_draw_is_taken_the_delivery_fails_and_claims_nothing() {
    let bed = Bed::new().map(|f| f.with_votekey_draw(Arc::new(|_| Ok("SAMEKEYS".into()))));
    bed.payments.put(paid("cs_test_a"));
    bed.payments.put(paid("cs_test_b"));
    assert_eq!(bed.fulfil("cs_test_a").await.unwrap(), Outcome::Emailed);
    let fault = bed.fulfil("cs_test_b").await.unwrap_err();
    assert!(matches!(fault, FulfillFault::Votekey(_)), "{fault:?}");
    assert_eq!(fault.status(), 500);
    assert_eq!(bed.ledger.calls(LedgerOp::Claim), 1 + 5);
    assert_eq!(bed.status("cs_test_b"), None);
}

#[tokio::test]
async fn a_send_that_cannot_fit_in_the_lease_is_not_started() {
    let timing = ClaimTiming { lease: Duration::from_secs(5), send_budget: Duration::from_secs(6) };
    let bed = Bed::new().map(|f| f.with_timing(timing));
    bed.payments.put(paid("cs_test_9"));
    let fault = bed.fulfil("cs_test_9").await.unwrap_err();
    assert!(matches!(fault, FulfillFault::LeaseTooShort));
    assert!(bed.mailer.sent().is_empty());
    assert_eq!(bed.status("cs_test_9"), Some(OrderStatus::Claimed), "the claim expires and is retried");
}

#[tokio::test]
async fn a_lease_that_runs_out_mid_send_leaves_the_order_to_its_new_claimant() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_10"));
    let (clock, ledger) = (bed.clock.clone(), bed.ledger.clone());
    let details = order_details(&paid("cs_test_10"));
    bed.mailer.during_send(move |_| {
        // The send hangs past the lease and another delivery takes the order over.
        clock.store(T0 + 30, Ordering::SeqCst);
        let key = ledger.orders()[0].votekey.clone().unwrap();
        ledger.with_state(|s| s.claim(&details, Notice::Votekey, VotekeyUse::Keep(&key), None, T0 + 30, 10).unwrap());
    });
    assert_eq!(bed.fulfil("cs_test_10").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.status("cs_test_10"), Some(OrderStatus::Claimed), "the late sender does not mark it");
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_after_sending_is_retried_and_never_resends() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_11"));
    bed.ledger.fail(LedgerOp::Complete, 2);
    assert_eq!(bed.fulfil("cs_test_11").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.ledger.calls(LedgerOp::Complete), 3);
    assert_eq!(bed.status("cs_test_11"), Some(OrderStatus::Emailed));

    bed.payments.put(paid("cs_test_12"));
    bed.ledger.fail(LedgerOp::Complete, 4);
    let outcome = bed.fulfil("cs_test_12").await.unwrap();
    assert_eq!(outcome, Outcome::Emailed, "sent but unrecorded is logged for the organizer, never a 5xx");
    assert_eq!(bed.status("cs_test_12"), Some(OrderStatus::Claimed));
    assert_eq!(bed.mailer.sent().len(), 2);
}

#[tokio::test]
async fn dependency_faults_answer_5xx_and_a_retry_sends_exactly_once() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_13"));
    bed.payments.fail_next(StripeFault::Timeout);
    assert_eq!(bed.fulfil("cs_test_13").await.unwrap_err().status(), 502);
    bed.ledger.fail(LedgerOp::Get, 1);
    assert_eq!(bed.fulfil("cs_test_13").await.unwrap_err().status(), 500);
    bed.mailer.fail_next(MailFault::Unavailable("SES is down".into()));
    assert_eq!(bed.fulfil("cs_test_13").await.unwrap_err().status(), 500);
    let key = bed.votekey("cs_test_13").expect("the failed send kept its key");
    assert!(bed.mailer.sent().is_empty());
    // Stripe retries after the lease: the same key goes out, once.
    bed.at(T0 + 11);
    assert_eq!(bed.fulfil("cs_test_13").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.fulfil("cs_test_13").await.unwrap(), Outcome::AlreadyEmailed);
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains(&key));
}

#[tokio::test]
async fn without_a_sender_nothing_is_claimed() {
    let mut config: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    config.as_object_mut().unwrap().remove("email_from");
    let bed = Bed::with_config(&config.to_string());
    bed.payments.put(paid("cs_test_14"));
    let fault = bed.fulfil("cs_test_14").await.unwrap_err();
    assert!(matches!(fault, FulfillFault::NoSender));
    assert_eq!(fault.status(), 503);
    assert_eq!(bed.ledger.calls(LedgerOp::Claim), 0);
}

#[test]
fn the_next_action_table() {
    let unpaid = session("cs_test_t", PaymentStatus::Unpaid);
    let settled = session("cs_test_t", PaymentStatus::NoPaymentRequired);
    let mut failed = crate::doubles::LedgerState::default();
    failed.record(&order_details(&unpaid), T0);
    let token =
        match failed.claim(&order_details(&unpaid), Notice::PaymentFailed, VotekeyUse::None, None, T0, 10).unwrap() {
            ClaimOutcome::Claimed { token, .. } => token,
            other => panic!("{other:?}"),
        };
    let failure_claimed = failed.get("cs_test_t");
    assert!(failed.complete("cs_test_t", Notice::PaymentFailed, &token, "m", T0));
    let failed = failed.get("cs_test_t");
    let send = NextAction::Send { to: "ada@example.com".into() };
    let cases = [
        (Notice::Votekey, None, &settled, send.clone()),
        (Notice::Votekey, None, &unpaid, NextAction::Record(Outcome::AwaitingPayment)),
        (Notice::Votekey, failed.as_ref(), &unpaid, NextAction::Answer(Outcome::PaymentFailed)),
        (Notice::Votekey, failure_claimed.as_ref(), &unpaid, NextAction::Answer(Outcome::PaymentFailed)),
        (Notice::PaymentFailed, None, &settled, NextAction::Answer(Outcome::NotApplicable)),
        (Notice::PaymentFailed, None, &unpaid, send),
    ];
    for (notice, existing, session, expected) in cases {
        assert_eq!(next_action(notice, existing, session), expected, "{notice:?} {:?}", existing.map(|o| o.status));
    }
    assert_eq!(answer_from_ledger(Notice::PaymentFailed, failed.as_ref()), Some(Outcome::FailureAlreadyEmailed));
    assert_eq!(answer_from_ledger(Notice::Votekey, failed.as_ref()), None);
}

#[tokio::test]
async fn the_webhook_answers_each_outcome_with_its_status() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_w"));
    let event = |kind: &str, id: &str| {
        let body = serde_json::json!({ "id": "evt_1", "type": kind, "data": { "object": { "id": id, "object": "checkout.session" } } })
            .to_string();
        let signature = crate::webhook::sign(body.as_bytes(), "whsec_local_development_secret", T0);
        let mut request = lambda_http::Request::new(lambda_http::Body::Text(body));
        *request.method_mut() = ::http::Method::POST;
        request.headers_mut().insert("stripe-signature", signature.parse().unwrap());
        request
    };
    let answer = |response: lambda_http::Response<lambda_http::Body>| {
        let lambda_http::Body::Text(body) = response.body() else { panic!("a JSON body") };
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        (response.status().as_u16(), json["outcome"].as_str().unwrap().to_owned())
    };
    let completed = bed.fulfill.handle(event("checkout.session.completed", "cs_test_w")).await;
    assert_eq!(answer(completed), (200, "emailed".to_owned()));
    let ignored = bed.fulfill.handle(event("customer.created", "cs_test_w")).await;
    assert_eq!(answer(ignored), (200, "ignored".to_owned()));
    let details = order_details(&paid("cs_test_held"));
    bed.ledger.claim(&details, Notice::Votekey, VotekeyUse::Reserve("HELDKEYS"), None, T0, 10).await.unwrap();
    bed.payments.put(paid("cs_test_held"));
    let held = bed.fulfill.handle(event("checkout.session.completed", "cs_test_held")).await;
    assert_eq!(answer(held), (409, "in_progress".to_owned()), "Stripe retries while another delivery holds the claim");
    let mut unsigned = lambda_http::Request::new(lambda_http::Body::Text("{}".into()));
    *unsigned.method_mut() = ::http::Method::POST;
    assert_eq!(bed.fulfill.handle(unsigned).await.status(), 400);
}

// ---------------------------------------------------------------- holds

/// The bed with the ledger as inventory too, and a hold for `session` taken
/// on the bronze ticket and its L shirt.
fn bed_with_hold(session: SessionView) -> (Bed, Hold) {
    let bed = Bed::new();
    let inventory: Arc<dyn Inventory> = bed.ledger.clone();
    let bed = bed.map(|f| f.with_inventory(inventory));
    let limits = [
        Limit { counter: CounterKey::stock("tshirt", "l"), capacity: 5 },
        Limit { counter: CounterKey::group("hall"), capacity: 5 },
    ];
    let hold = Hold::new(&limits, T0 - 60, 35 * 60).unwrap();
    bed.ledger.with_state(|s| s.inventory.reserve(&hold, &limits)).unwrap();
    let mut session = session;
    session.metadata.insert(HOLD_METADATA_KEY.into(), hold.id.clone());
    bed.payments.put(session);
    (bed, hold)
}

fn shirts(bed: &Bed) -> (u32, u32) {
    let counts = bed.ledger.with_state(|s| s.inventory.counts(&[CounterKey::stock("tshirt", "l")]).remove(0));
    (counts.held, counts.sold)
}

fn hold_status(bed: &Bed, hold: &Hold) -> HoldStatus {
    bed.ledger.with_state(|s| s.inventory.hold(&hold.id)).unwrap().status
}

#[tokio::test]
async fn a_paid_session_sells_its_hold_once_in_the_claim() {
    let (bed, hold) = bed_with_hold(paid("cs_test_h1"));
    assert_eq!(bed.fulfil("cs_test_h1").await.unwrap(), Outcome::Emailed);
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Sold, (0, 1)));
    assert_eq!(bed.fulfil("cs_test_h1").await.unwrap(), Outcome::AlreadyEmailed);
    assert_eq!(shirts(&bed), (0, 1), "a duplicate sells nothing");
    let order = bed.ledger.orders().remove(0);
    assert_eq!(order.details.hold_id.as_deref(), Some(hold.id.as_str()));
    assert!(!order.details.options.contains_key(HOLD_METADATA_KEY), "the hold id is not an option");
}

#[tokio::test]
async fn a_failed_claim_leaves_the_hold_held_for_the_retry() {
    let (bed, hold) = bed_with_hold(paid("cs_test_h2"));
    bed.ledger.fail(LedgerOp::Claim, 1);
    assert!(bed.fulfil("cs_test_h2").await.is_err());
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Held, (1, 0)));
    assert_eq!(bed.fulfil("cs_test_h2").await.unwrap(), Outcome::Emailed);
    assert_eq!(shirts(&bed), (0, 1));
}

#[tokio::test]
async fn a_delayed_payment_keeps_its_hold_until_it_fails() {
    let (bed, hold) = bed_with_hold(session("cs_test_h3", PaymentStatus::Unpaid));
    assert_eq!(bed.fulfil("cs_test_h3").await.unwrap(), Outcome::AwaitingPayment);
    assert_eq!(hold_status(&bed, &hold), HoldStatus::Held);
    assert_eq!(bed.notify_failure("cs_test_h3").await.unwrap(), Outcome::FailureEmailed);
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Released, (0, 0)));
}

#[tokio::test]
async fn an_expired_session_gives_its_hold_back_once_and_only_when_stripe_says_so() {
    let (bed, hold) = bed_with_hold(SessionView { complete: false, ..session("cs_test_h4", PaymentStatus::Unpaid) });
    // The event claims expiry, Stripe says open: nothing moves.
    assert_eq!(bed.fulfill.expire(&bed.config, "cs_test_h4").await.unwrap(), Outcome::NotApplicable);
    assert_eq!(hold_status(&bed, &hold), HoldStatus::Held);
    bed.payments.expire_session(bed.config.stripe_secret_key(), "cs_test_h4").await.unwrap();
    for _ in 0..2 {
        assert_eq!(bed.fulfill.expire(&bed.config, "cs_test_h4").await.unwrap(), Outcome::Expired);
    }
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Released, (0, 0)));
    assert_eq!(bed.ledger.calls(LedgerOp::Release), 1, "the duplicate found it released");
    // The buyer's old landing link now explains the expiry; no order is recorded.
    assert_eq!(bed.fulfil("cs_test_h4").await.unwrap(), Outcome::Expired);
    assert!(bed.ledger.orders().is_empty());
}

#[tokio::test]
async fn an_expired_event_never_releases_a_sold_hold() {
    let (bed, hold) = bed_with_hold(paid("cs_test_h5"));
    bed.fulfil("cs_test_h5").await.unwrap();
    let session = bed.payments.retrieve_session(bed.config.stripe_secret_key(), "cs_test_h5").await.unwrap();
    bed.payments.put(SessionView { expired: true, ..session.unwrap() });
    bed.fulfill.expire(&bed.config, "cs_test_h5").await.unwrap();
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Sold, (0, 1)));
}

#[tokio::test]
async fn the_sweeper_expires_open_sessions_past_expiry_and_releases_their_holds() {
    let (bed, hold) = bed_with_hold(SessionView { complete: false, ..session("cs_test_s1", PaymentStatus::Unpaid) });
    assert_eq!(bed.fulfill.sweep().await.unwrap(), SweepReport::default(), "nothing is due before expiry");
    bed.at(hold.expires_at + SWEEP_GRACE_SECONDS + 1);
    let report = bed.fulfill.sweep().await.unwrap();
    assert_eq!(report, SweepReport { checked: 1, released: 1, expired_now: 1, ..SweepReport::default() });
    assert_eq!(bed.payments.expirations(), ["cs_test_s1"]);
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Released, (0, 0)));
    assert_eq!(bed.fulfill.sweep().await.unwrap().checked, 0);
}

#[tokio::test]
async fn the_sweeper_fulfils_paid_sessions_keeps_pending_ones_and_releases_orphans() {
    let (bed, paid_hold) = bed_with_hold(paid("cs_test_s2"));
    let pending = session("cs_test_s3", PaymentStatus::Unpaid);
    let limits = [Limit { counter: CounterKey::stock("tshirt", "l"), capacity: 5 }];
    let pending_hold = Hold::new(&limits, T0 - 30, 35 * 60).unwrap();
    let orphan = Hold::new(&limits, T0 - 20, 35 * 60).unwrap();
    bed.ledger.with_state(|s| {
        s.inventory.reserve(&pending_hold, &limits).unwrap();
        s.inventory.reserve(&orphan, &limits).unwrap();
    });
    let mut pending = pending;
    pending.metadata.insert(HOLD_METADATA_KEY.into(), pending_hold.id.clone());
    bed.payments.put(pending);
    bed.at(T0 + 35 * 60 + SWEEP_GRACE_SECONDS + 1);
    let report = bed.fulfill.sweep().await.unwrap();
    assert_eq!(report, SweepReport { checked: 3, released: 1, fulfilled: 1, kept: 1, ..SweepReport::default() });
    assert_eq!(hold_status(&bed, &paid_hold), HoldStatus::Sold);
    assert_eq!(hold_status(&bed, &pending_hold), HoldStatus::Held);
    assert_eq!(hold_status(&bed, &orphan), HoldStatus::Released);
    assert_eq!(bed.mailer.sent().len(), 1, "the missed webhook's email went out");
    assert!(bed.payments.expirations().is_empty(), "complete sessions are not expired");
    // The pending one is parked: later sweeps leave it to its payment's webhook.
    assert_eq!(bed.fulfill.sweep().await.unwrap(), SweepReport::default());
    assert_eq!(bed.notify_failure("cs_test_s3").await.unwrap(), Outcome::FailureEmailed);
    assert_eq!(hold_status(&bed, &pending_hold), HoldStatus::Released);
}

#[tokio::test]
async fn one_sweep_lists_each_burst_of_holds_once() {
    let (bed, first) = bed_with_hold(SessionView { complete: false, ..session("cs_test_b1", PaymentStatus::Unpaid) });
    let limits = [Limit { counter: CounterKey::stock("tshirt", "l"), capacity: 5 }];
    // Two more holds: one a minute after the first, one two hours later.
    let near = Hold::new(&limits, first.created_at + 60, 35 * 60).unwrap();
    let later = Hold::new(&limits, first.created_at + 7_200, 35 * 60).unwrap();
    bed.ledger.with_state(|s| {
        s.inventory.reserve(&near, &limits).unwrap();
        s.inventory.reserve(&later, &limits).unwrap();
    });
    bed.at(later.expires_at + SWEEP_GRACE_SECONDS + 1);
    let report = bed.fulfill.sweep().await.unwrap();
    assert_eq!((report.checked, report.released, report.expired_now), (3, 3, 1));
    // Two listings (one per burst), one expiry, one retrieve after it.
    assert_eq!(bed.payments.listings(), 2);
}

#[tokio::test]
async fn a_sweep_that_cannot_reach_stripe_releases_nothing() {
    let (bed, hold) = bed_with_hold(SessionView { complete: false, ..session("cs_test_s4", PaymentStatus::Unpaid) });
    bed.at(hold.expires_at + SWEEP_GRACE_SECONDS + 1);
    bed.payments.fail_next(StripeFault::Timeout);
    assert!(bed.fulfill.sweep().await.is_err());
    assert_eq!(hold_status(&bed, &hold), HoldStatus::Held);
}

// ---------------------------------------------------------------- votekey pool

#[tokio::test]
async fn pool_keys_go_out_in_import_order_once_each_then_the_empty_pool_is_a_5xx() {
    use crate::pool::VotekeyPool;
    let bed = Bed::with_config(&with_keys(&[("votekey_source", "\"pool\"")]));
    let pool: Arc<dyn VotekeyPool> = bed.ledger.clone();
    let bed = bed.map(|f| f.with_votekey_pool(pool.clone()));
    let keys: Vec<String> = ["WUHUKEY1", "WUHUKEY2"].map(String::from).to_vec();
    let report = pool.import(&keys).await.unwrap();
    assert_eq!((report.added, report.skipped, report.remaining), (2, 0, 2));
    for (i, id) in ["cs_test_p1", "cs_test_p2"].into_iter().enumerate() {
        bed.payments.put(paid(id));
        assert_eq!(bed.fulfil(id).await.unwrap(), Outcome::Emailed);
        assert_eq!(bed.votekey(id).as_deref(), Some(keys[i].as_str()));
    }
    bed.payments.put(paid("cs_test_p3"));
    let empty = bed.fulfil("cs_test_p3").await.unwrap_err();
    assert!(matches!(empty, FulfillFault::PoolEmpty), "{empty}");
    assert_eq!(empty.status(), 503);
    assert_eq!(bed.mailer.sent().len(), 2);
    // Imported again (and a given key again): only the new one counts, and the waiting order gets it.
    let report = pool.import(&["WUHUKEY1".into(), "WUHUKEY3".into()]).await.unwrap();
    assert_eq!((report.added, report.skipped, report.remaining), (1, 1, 1));
    assert_eq!(bed.fulfil("cs_test_p3").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.votekey("cs_test_p3").as_deref(), Some("WUHUKEY3"));
}
