//! The votekey pool under concurrency, through the real binaries against
//! moto: keys imported with `tdf-admin votekeys import`, then paid sessions
//! fulfilled by as many `fulfill` containers at once, the config saying
//! `"votekey_source": "pool"`. Every draw is one conditional write on the
//! pool's counter; moto does not serialise concurrent writes to an item the
//! way DynamoDB does, so the proxy forwards DynamoDB calls one at a time
//! ([`testbed::proxy::CountingProxy::serialise`]) while the functions still
//! run concurrently. (Unserialised, moto let this test fail now and then.)
//!
//! Needs `cargo build --workspace --bins` first (scripts/test does it).

use crate::admin::{admin, json_of, ok};
use crate::support::capacity::*;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use testbed::stripe::{Buyer, PaymentOutcome};

const KEYS: usize = 20;
const SEND_EMAIL: &str = "POST /v2/email/outbound-emails";

fn buyer() -> Buyer {
    Buyer { email: unique_email("pool"), name: "Ada Lovelace".into(), shipping: None }
}

/// A visitor session bought through the checkout binary and paid: its id,
/// the buyer, and the signed `checkout.session.completed` webhook.
async fn paid_session(shop: &Shop, checkout: &mut Container) -> (String, Buyer, Value) {
    let (response, _) = checkout.invoke(checkout_event("type=visitor")).await;
    assert_eq!(status(&response), 303, "{response}\n{}", checkout.logs());
    let id = redirect_session(&response);
    let buyer = buyer();
    shop.stripe.pay(&id, &buyer, PaymentOutcome::Paid).unwrap();
    let completed = shop.stripe.event("checkout.session.completed", &id).unwrap();
    (id, buyer, webhook_event(&completed))
}

async fn emails_to(shop: &Shop, address: &str) -> Vec<testbed::moto::SentEmail> {
    let sent = shop.moto.sent_emails().await.unwrap();
    sent.into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
}

/// The votekey the order item records.
async fn order_key(shop: &Shop, session_id: &str) -> Option<String> {
    let items = shop.moto.scan_table(&shop.table).await.unwrap();
    let order = items.iter().find(|i| i["pk"]["S"] == format!("session#{session_id}"))?;
    order["votekey"]["S"].as_str().map(str::to_owned)
}

fn outcome(response: &Value) -> String {
    json_body(response)["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {response}")).to_owned()
}

/// Delivers `event` as Stripe does: a non-2xx answer (a DynamoDB call that
/// timed out under load, a claim still leased) is delivered again later.
/// The final answer and how many redeliveries it took.
async fn deliver_as_stripe(container: &mut Container, event: Value) -> (Value, usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let mut redeliveries = 0;
    loop {
        let (response, _) = container.invoke(event.clone()).await;
        if status(&response) < 300 || std::time::Instant::now() > deadline {
            return (response, redeliveries);
        }
        redeliveries += 1;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_fulfilments_draw_twenty_distinct_keys_and_the_21st_is_told_to_import_more() {
    let shop = Shop::start_alone(config_with(json!({ "votekey_source": "pool" }))).await;
    shop.proxy.serialise("DynamoDB_20120810.");
    let moto = shop.moto.clone();
    let table = shop.table.as_str();

    // Wuhu's export: 20 keys, one per line.
    let run = testbed::stripe::random_id("", 6).to_uppercase();
    let imported: Vec<String> = (0..KEYS).map(|i| format!("TDF{run}{i:02}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wuhu-votekeys.txt");
    std::fs::write(&file, imported.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    let report = json_of(admin(Some(&moto), &["votekeys", "import", file, "--table", table, "--json"]));
    assert_eq!((&report["added"], &report["remaining"]), (&json!(KEYS), &json!(KEYS)), "{report}");

    // 21 paid sessions; the first 20 delivered at once, each to its own container.
    let mut checkout = shop.checkout().await;
    let mut sessions = Vec::new();
    for _ in 0..=KEYS {
        sessions.push(paid_session(&shop, &mut checkout).await);
    }
    let last = sessions.pop().unwrap();
    let mut containers = Vec::new();
    for _ in 0..KEYS {
        containers.push(shop.fulfill().await);
    }
    let mut deliveries = tokio::task::JoinSet::new();
    for (mut container, (id, _, event)) in containers.into_iter().zip(sessions.iter().cloned()) {
        deliveries.spawn(async move {
            let (response, redeliveries) = deliver_as_stripe(&mut container, event).await;
            (id, response, redeliveries, container)
        });
    }
    let mut containers = Vec::new();
    let mut redelivered = 0;
    while let Some(done) = deliveries.join_next().await {
        let (id, response, redeliveries, container) = done.unwrap();
        assert_eq!((status(&response), outcome(&response)), (200, "emailed".to_owned()), "{id}: {response}");
        redelivered += redeliveries;
        containers.push(container);
    }
    eprintln!("pool: {KEYS} concurrent fulfilments, {redelivered} redelivered after a non-2xx");

    // 20 emails, 20 distinct keys, every one imported, each the key its order records.
    let imported_set: BTreeSet<&str> = imported.iter().map(String::as_str).collect();
    let mut sent_keys = BTreeSet::new();
    for (id, buyer, _) in &sessions {
        let emails = emails_to(&shop, &buyer.email).await;
        assert_eq!(emails.len(), 1, "{id}: one email");
        let key = order_key(&shop, id).await.unwrap_or_else(|| panic!("{id}: no votekey recorded"));
        assert!(imported_set.contains(key.as_str()), "{id}: {key} is not an imported key");
        assert!(emails[0].body.contains(&key), "{id}: the email carries {key}");
        let others = imported.iter().filter(|k| **k != key && emails[0].body.contains(k.as_str())).count();
        assert_eq!(others, 0, "{id}: one key per email");
        assert!(sent_keys.insert(key.clone()), "{key} was sent twice");
    }
    assert_eq!(sent_keys.len(), KEYS);
    assert_eq!(shop.proxy.count(SEND_EMAIL), KEYS, "{:?}", shop.proxy.counts());

    // The pool is empty: stats says so (the config draws from it).
    let parameter = shop.parameter.as_str();
    let stats =
        json_of(admin(Some(&moto), &["orders", "stats", "--table", table, "--config-parameter", parameter, "--json"]));
    assert_eq!(stats["votekey_pool"], json!({ "remaining": 0, "source": "pool", "empty": true }));
    let text = ok(admin(Some(&moto), &["orders", "stats", "--table", table, "--config-parameter", parameter]));
    assert!(text.starts_with("VOTEKEY POOL EMPTY") && text.contains("tdf-admin votekeys import"), "{text}");

    // The 21st: 503 (Stripe retries), an error line saying to import more, no email, no key.
    let (last_id, last_buyer, last_event) = last;
    let mut fulfill = containers.pop().unwrap();
    let (response, _) = fulfill.invoke(last_event.clone()).await;
    assert_eq!(status(&response), 503, "{response}\n{}", fulfill.logs());
    assert!(body(&response).contains("votekey_pool_empty"), "{response}");
    assert!(emails_to(&shop, &last_buyer.email).await.is_empty());
    assert_eq!(shop.proxy.count(SEND_EMAIL), KEYS, "nothing sent for the 21st");
    assert_eq!(order_key(&shop, &last_id).await, None);
    let logs = fulfill.logs();
    let lines = json_lines(&logs);
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR" && field(l, "outcome") == "votekey_pool_empty")
        .unwrap_or_else(|| panic!("no error line for the empty pool:\n{logs}"));
    assert!(
        field(error, "error")
            .as_str()
            .is_some_and(|e| e.contains("import more keys") && e.contains("tdf-admin votekeys import")),
        "{error}"
    );
    assert_eq!(field(error, "status"), 503, "{error}");

    // The same file again adds nothing: every key was given to an order.
    let again = json_of(admin(Some(&moto), &["votekeys", "import", file, "--table", table, "--json"]));
    assert_eq!((&again["added"], &again["skipped"], &again["remaining"]), (&json!(0), &json!(KEYS), &json!(0)));

    // One more key imported; Stripe's retry of the 21st is then emailed with it.
    let more = dir.path().join("more.txt");
    let extra = format!("TDF{run}XX");
    std::fs::write(&more, format!("{extra}\n")).unwrap();
    let report =
        json_of(admin(Some(&moto), &["votekeys", "import", more.to_str().unwrap(), "--table", table, "--json"]));
    assert_eq!((&report["added"], &report["remaining"]), (&json!(1), &json!(1)));
    let (response, _) = fulfill.invoke(resign_event(&last_event, LOCAL_WEBHOOK_SECRET, unix_now())).await;
    assert_eq!((status(&response), outcome(&response)), (200, "emailed".to_owned()), "{response}");
    assert_eq!(order_key(&shop, &last_id).await.as_deref(), Some(extra.as_str()));
    let emails = emails_to(&shop, &last_buyer.email).await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].body.contains(&extra));
    for mut container in containers.into_iter().chain([fulfill]) {
        container.assert_alive();
    }
}
