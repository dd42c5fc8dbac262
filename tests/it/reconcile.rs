//! Reconciliation (issue 13): paid sessions whose webhook never came get
//! their email — by hand with `tdf-admin orders reconcile` and on the fulfill
//! function's schedule — through the real binaries, moto (DynamoDB, SSM,
//! SES) and the Stripe stand-in. Sessions are bought through the checkout
//! binary (so they carry the shop's mark) and paid on the stand-in, which
//! delivers no webhook by itself.

use crate::admin::{admin_command, json_of, ok, stderr, stdout};
use crate::support::capacity::{Counter, Shop, checkout_event, config_with, redirect_session, webhook_event};
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;
use testbed::moto::Moto;
use testbed::stripe::{Buyer, PaymentOutcome};
use tickets::config::Config;
use tickets::ledger::{DynamoLedger, Ledger, OrderStatus};
use tickets::order::TicketOrder;
use tickets::session::SessionRequest;
use tickets::stripe::{Payments, StripeApi};

/// The example config, Bronze limited to 5 (so a Bronze session holds a place).
fn config() -> Value {
    config_with(json!({ "capacity": { "bronze": 5 } }))
}

fn buyer(prefix: &str) -> Buyer {
    Buyer { email: unique_email(prefix), name: "Ada Lovelace".into(), shipping: None }
}

/// A Bronze buyer: the T-shirt is shipped.
fn bronze_buyer(prefix: &str) -> Buyer {
    let shipping = testbed::stripe::Address {
        line1: "1-2-3 Shibuya".into(),
        line2: None,
        city: "Shibuya-ku".into(),
        state: Some("Tokyo".into()),
        postal_code: "150-0002".into(),
        country: "JP".into(),
    };
    Buyer { shipping: Some(shipping), ..buyer(prefix) }
}

/// Bought through the checkout binary with `form`, paid on the stand-in; no webhook.
async fn paid_without_webhook(shop: &Shop, checkout: &mut Container, form: &str, buyer: &Buyer) -> String {
    let (response, _) = checkout.invoke(checkout_event(form)).await;
    assert_eq!(status(&response), 303, "{response}\n{}", checkout.logs());
    let session = redirect_session(&response);
    shop.stripe.pay(&session, buyer, PaymentOutcome::Paid).unwrap();
    session
}

/// A paid visitor session of another shop on the same Stripe account
/// (last year's stack: another mark), made straight through Stripe's API.
async fn paid_elsewhere(shop: &Shop) -> String {
    let config = Config::from_json(&config().to_string()).unwrap();
    let order = TicketOrder::from_form(config.catalog(), b"type=visitor").unwrap();
    let mut request = SessionRequest::for_order(&config, &order);
    request.metadata.insert("tdf_shop".into(), "Tokyo Demo Fest 2025".into());
    let api = StripeApi::new(shop.stripe.api_base(), Duration::from_secs(5));
    let created = api.create_checkout_session(config.stripe_secret_key(), &request).await.unwrap();
    shop.stripe.pay(&created.id, &buyer("elsewhere"), PaymentOutcome::Paid).unwrap();
    created.id
}

async fn emails_to(moto: &Moto, address: &str) -> Vec<testbed::moto::SentEmail> {
    moto.sent_emails().await.unwrap().into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
}

fn ledger(shop: &Shop) -> DynamoLedger {
    DynamoLedger::new(aws_sdk_dynamodb::Client::new(&aws_config(&shop.moto)), shop.table.clone())
}

/// `tdf-admin orders reconcile [extra] --table T --config-parameter P`, reaching the stand-in.
fn reconcile(shop: &Shop, extra: &[&str]) -> Output {
    let target = ["--table", shop.table.as_str(), "--config-parameter", shop.parameter.as_str()];
    let args: Vec<&str> = ["orders", "reconcile"].iter().chain(extra).chain(&target).copied().collect();
    admin_command(Some(&shop.moto), &args).env("STRIPE_API_BASE", shop.stripe.api_base()).output().unwrap()
}

/// These counts of a report (JSON), by name.
fn counts(report: &Value, names: &[&str]) -> BTreeMap<String, Value> {
    names.iter().map(|n| (n.to_string(), report[*n].clone())).collect()
}

fn expected(pairs: &[(&str, u64)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(n, v)| (n.to_string(), json!(v))).collect()
}

const COUNTS: &[&str] = &["listed", "not_ours", "checked", "already_emailed", "fulfilled_now", "failed"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tdf_admin_reconcile_emails_a_paid_session_whose_webhook_never_came_and_a_second_run_sends_nothing() {
    let shop = Shop::start(config()).await;
    let mut checkout = shop.checkout().await;
    let bronze = bronze_buyer("missed");
    let missed = paid_without_webhook(&shop, &mut checkout, "type=bronze&tshirt=s", &bronze).await;
    let elsewhere = paid_elsewhere(&shop).await;
    assert!(shop.stripe.webhook_deliveries().is_empty());
    assert_eq!(shop.counter("ticket#bronze").await, Counter { held: 1, sold: 0, taken: 1 });

    let printed = ok(reconcile(&shop, &[]));
    assert!(printed.contains(&format!("emailed now: {missed}")), "{printed}");
    assert!(printed.contains("1 paid order had no email"), "{printed}");
    let sent = emails_to(&shop.moto, &bronze.email).await;
    assert_eq!(sent.len(), 1, "exactly one email");
    let order = ledger(&shop).get(&missed).await.unwrap().expect("the order");
    assert_eq!(order.status, OrderStatus::Emailed);
    let votekey = order.votekey.expect("a votekey");
    assert!(sent[0].body.contains(&votekey), "{}", sent[0].body);
    assert_eq!(order.details.options.get("tshirt").map(String::as_str), Some("s"));
    assert_eq!(shop.counter("ticket#bronze").await, Counter { held: 0, sold: 1, taken: 1 }, "its hold sold");
    assert!(ledger(&shop).get(&elsewhere).await.unwrap().is_none(), "another shop's session gets no order");

    let again = json_of(reconcile(&shop, &["--json", "--days", "1"]));
    let wanted = expected(&[
        ("listed", 2),
        ("not_ours", 1),
        ("checked", 1),
        ("already_emailed", 1),
        ("fulfilled_now", 0),
        ("failed", 0),
    ]);
    assert_eq!(counts(&again, COUNTS), wanted, "{again}");
    assert_eq!((&again["days"], &again["fulfilled_sessions"]), (&json!(1), &json!([])));
    assert_eq!(emails_to(&shop.moto, &bronze.email).await.len(), 1, "nothing more is sent");
    let retrievals =
        shop.stripe.requests().iter().filter(|r| r.path == format!("/v1/checkout/sessions/{missed}")).count();
    assert_eq!(retrievals, 1, "the second run asked the ledger, not Stripe");
    checkout.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tdf_admin_reconcile_waits_out_stripes_rate_limit_and_fails_with_exit_1_when_stripe_is_unreachable() {
    use testbed::stripe::Failure::{Delay, Status};
    let shop = Shop::start(config()).await;
    let mut checkout = shop.checkout().await;
    let visitor = buyer("limited");
    let session = paid_without_webhook(&shop, &mut checkout, "type=visitor", &visitor).await;
    shop.stripe.clear_requests();
    // The listing meets two 429s (waited out: 1 s, then 2 s), then the
    // session's retrieval two (its client's immediate retry, then the pass's 2 s pause).
    let answers = [Status(429), Status(429), Delay(Duration::ZERO), Status(429), Status(429)];
    shop.stripe.fail_next(answers);
    let started = std::time::Instant::now();
    let report = json_of(reconcile(&shop, &["--json"]));
    let wanted = expected(&[
        ("listed", 1),
        ("not_ours", 0),
        ("checked", 1),
        ("already_emailed", 0),
        ("fulfilled_now", 1),
        ("failed", 0),
    ]);
    assert_eq!(counts(&report, COUNTS), wanted, "{report}");
    assert!(started.elapsed() >= Duration::from_secs(5), "waited 1 + 2 + 2 s: {:?}", started.elapsed());
    assert_eq!(emails_to(&shop.moto, &visitor.email).await.len(), 1);
    let requests = shop.stripe.requests();
    let to = |path: &str| requests.iter().filter(|r| r.method == "GET" && r.path == path).count();
    let retrieve = format!("/v1/checkout/sessions/{session}");
    assert_eq!((to("/v1/checkout/sessions"), to(&retrieve)), (3, 3), "{requests:?}");

    let unreachable = admin_command(
        Some(&shop.moto),
        &["orders", "reconcile", "--table", &shop.table, "--config-parameter", &shop.parameter],
    )
    .env("STRIPE_API_BASE", "http://127.0.0.1:9")
    .output()
    .unwrap();
    assert_eq!(unreachable.status.code(), Some(1), "{}", stdout(&unreachable));
    assert!(stderr(&unreachable).contains("listing Stripe's completed sessions"), "{}", stderr(&unreachable));
    let no_config = admin_command(Some(&shop.moto), &["orders", "reconcile", "--table", &shop.table]).output().unwrap();
    assert_eq!(no_config.status.code(), Some(2), "{}", stderr(&no_config));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_tick_reconciles_a_paid_session_whose_webhook_never_came() {
    let shop = Shop::start(config()).await;
    let mut checkout = shop.checkout().await;
    let mut fulfill = shop.fulfill().await;
    // Paid ten minutes ago, and its webhook never came.
    let bronze = bronze_buyer("missed");
    let missed = paid_without_webhook(&shop, &mut checkout, "type=bronze&tshirt=m", &bronze).await;
    shop.stripe.backdate_session(&missed, 600).unwrap();
    // Paid just now: its webhook is on its way, so the tick leaves it alone.
    let visitor = buyer("fresh");
    let fresh = paid_without_webhook(&shop, &mut checkout, "type=visitor", &visitor).await;

    let (answer, _) = fulfill.invoke(event_json("sweep-scheduled.json")).await;
    let report = &answer["reconcile"];
    let wanted = expected(&[
        ("listed", 2),
        ("not_ours", 0),
        ("checked", 1),
        ("already_emailed", 0),
        ("fulfilled_now", 1),
        ("failed", 0),
    ]);
    assert_eq!(counts(report, COUNTS), wanted, "{answer}\n{}", fulfill.logs());
    assert_eq!(
        (&report["too_recent"], &report["days"], &answer["sweep"]["checked"]),
        (&json!(1), &json!(7), &json!(0))
    );
    assert_eq!(emails_to(&shop.moto, &bronze.email).await.len(), 1);
    assert!(emails_to(&shop.moto, &visitor.email).await.is_empty(), "left to its webhook");
    assert_eq!(ledger(&shop).get(&missed).await.unwrap().unwrap().status, OrderStatus::Emailed);
    assert_eq!(shop.counter("ticket#bronze").await, Counter { held: 0, sold: 1, taken: 1 });
    let lines = json_lines(&fulfill.logs());
    let alerts: Vec<&Value> = lines.iter().filter(|l| field(l, "alert") == "webhook_missed").collect();
    assert_eq!(alerts.len(), 1, "{}", fulfill.logs());
    assert_eq!(alerts[0]["level"], "ERROR");
    assert!(field(alerts[0], "sessions").as_str().unwrap().contains(&missed));

    // The fresh one's webhook arrives; the next tick sends nothing and alerts nothing.
    let completed = shop.stripe.event("checkout.session.completed", &fresh).unwrap();
    let (delivered, _) = fulfill.invoke(webhook_event(&completed)).await;
    assert_eq!(status(&delivered), 200, "{delivered}");
    let (answer, _) = fulfill.invoke(event_json("sweep-scheduled.json")).await;
    let wanted = expected(&[
        ("listed", 2),
        ("not_ours", 0),
        ("checked", 1),
        ("already_emailed", 1),
        ("fulfilled_now", 0),
        ("failed", 0),
    ]);
    assert_eq!(counts(&answer["reconcile"], COUNTS), wanted, "{answer}");
    assert_eq!(emails_to(&shop.moto, &bronze.email).await.len(), 1);
    assert_eq!(emails_to(&shop.moto, &visitor.email).await.len(), 1);
    let lines = json_lines(&fulfill.logs());
    assert_eq!(lines.iter().filter(|l| field(l, "alert") == "webhook_missed").count(), 1, "no new alert");
    let ticks: Vec<&Value> = lines.iter().filter(|l| field(l, "route") == "reconcile").collect();
    assert_eq!(ticks.len(), 2, "one log line per pass");
    assert_eq!((field(ticks[0], "fulfilled_now"), field(ticks[1], "already_emailed")), (&json!(1), &json!(1)));
    fulfill.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tdf_admin_reconcile_on_a_local_data_dir_writes_into_its_outbox() {
    let stripe = testbed::stripe::FakeStripe::start().await.unwrap();
    let config_text = example_config().to_string();
    let config = Config::from_json(&config_text).unwrap();
    let order = TicketOrder::from_form(config.catalog(), b"type=visitor").unwrap();
    let request = SessionRequest::for_order(&config, &order);
    let api = StripeApi::new(stripe.api_base(), Duration::from_secs(5));
    let session = api.create_checkout_session(config.stripe_secret_key(), &request).await.unwrap().id;
    let visitor = buyer("local");
    stripe.pay(&session, &visitor, PaymentOutcome::Paid).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.json");
    std::fs::write(&config_file, &config_text).unwrap();
    let local = ["--local", dir.path().to_str().unwrap(), "--config-file", config_file.to_str().unwrap()];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = ["orders", "reconcile"].iter().chain(&local).chain(extra).copied().collect();
        admin_command(None, &args).env("STRIPE_API_BASE", stripe.api_base()).output().unwrap()
    };

    let report = json_of(run(&["--json"]));
    assert_eq!(report["fulfilled_sessions"], json!([session]), "{report}");
    let outbox = localstore::OutboxMailer::new(dir.path().join("outbox")).list().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, visitor.email);
    let ledger = localstore::FileLedger::new(dir.path().join("ledger.json"));
    let order = ledger.get(&session).await.unwrap().expect("the order");
    assert_eq!(order.status, OrderStatus::Emailed);
    assert!(outbox[0].text.contains(&order.votekey.unwrap()));

    let again = json_of(run(&["--json"]));
    assert_eq!((&again["already_emailed"], &again["fulfilled_now"]), (&json!(1), &json!(0)), "{again}");
    assert_eq!(localstore::OutboxMailer::new(dir.path().join("outbox")).list().await.unwrap().len(), 1);
}
