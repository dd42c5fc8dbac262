//! Refunds and disputes through the real binaries under the Lambda Runtime
//! API emulator (issue 11's acceptance): `checkout` sells, `fulfill` (with
//! `ORDERS_TABLE`) sends the votekey, then takes Stripe's signed
//! `charge.refunded` / `charge.dispute.created` for the session's charge.
//! The orders table is read raw from moto; mail is moto's SES.
//!
//! Needs `cargo build --bins` first (scripts/test does it).

use crate::support::capacity::*;
use crate::support::*;
use serde_json::{Value, json};
use testbed::stripe::{Address, Buyer, PaymentOutcome};

fn buyer() -> Buyer {
    Buyer {
        email: unique_email("refund-lambda"),
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

fn outcome(response: &Value) -> String {
    assert_eq!(status(response), 200, "{response}");
    json_body(response)["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {response}")).to_owned()
}

/// The order item of a session, as stored.
async fn order(shop: &Shop, session_id: &str) -> Value {
    let items = shop.moto.scan_table(&shop.table).await.unwrap();
    let key = format!("session#{session_id}");
    items.into_iter().find(|i| i["pk"]["S"] == key.as_str()).unwrap_or_else(|| panic!("no {key}"))
}

fn attr(item: &Value, name: &str) -> Option<String> {
    item[name]["S"].as_str().or(item[name]["N"].as_str()).map(str::to_owned)
}

async fn emails_to(shop: &Shop, address: &str) -> usize {
    let sent = shop.moto.sent_emails().await.unwrap();
    sent.iter().filter(|m| m.recipients().any(|r| r == address)).count()
}

/// Bought through the checkout binary, paid, fulfilled by the fulfill
/// binary: (session, buyer, charge).
async fn fulfilled(shop: &Shop, checkout: &mut Container, fulfill: &mut Container) -> (String, Buyer, String) {
    let (response, _) = checkout.invoke(checkout_event("type=bronze&tshirt=l")).await;
    assert_eq!(status(&response), 303, "{response}\n{}", checkout.logs());
    let id = redirect_session(&response);
    let buyer = buyer();
    shop.stripe.pay(&id, &buyer, PaymentOutcome::Paid).unwrap();
    let completed = shop.stripe.event("checkout.session.completed", &id).unwrap();
    let (response, _) = fulfill.invoke(webhook_event(&completed)).await;
    assert_eq!(outcome(&response), "emailed", "{}", fulfill.logs());
    let charge = shop.stripe.charge_for_session(&id).unwrap();
    (id, buyer, charge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_charge_refunded_through_the_real_binary_revokes_once() {
    let shop = Shop::start(config_with(json!({"capacity": {"visitor": 100, "bronze": 5}}))).await;
    let (mut checkout, mut fulfill) = (shop.checkout().await, shop.fulfill().await);
    let (id, buyer, charge) = fulfilled(&shop, &mut checkout, &mut fulfill).await;
    assert_eq!(shop.counter("ticket#bronze").await.sold, 1);

    shop.stripe.refund(&charge, None).unwrap();
    let refunded = shop.stripe.object_event("charge.refunded", &charge).unwrap();
    let (response, _) = fulfill.invoke(webhook_event(&refunded)).await;
    assert_eq!(outcome(&response), "refunded", "{}", fulfill.logs());
    let item = order(&shop, &id).await;
    assert_eq!(attr(&item, "status").as_deref(), Some("refunded"), "{item}");
    assert_eq!(attr(&item, "votekey_state").as_deref(), Some("revoked"), "{item}");
    assert_eq!(attr(&item, "revoked_reason").as_deref(), Some("refund"), "{item}");
    assert_eq!(attr(&item, "cancellation").as_deref(), Some("sent"), "{item}");
    assert_eq!(emails_to(&shop, &buyer.email).await, 2, "the votekey email and one cancellation");
    assert_eq!(shop.counter("ticket#bronze").await.sold, 0, "the place is back on sale");

    // Stripe delivers the same event again (re-signed at its new attempt): 200, nothing more.
    let (again, _) = fulfill.invoke(webhook_event(&refunded)).await;
    assert_eq!(outcome(&again), "unchanged");
    assert_eq!(order(&shop, &id).await, item);
    assert_eq!(emails_to(&shop, &buyer.email).await, 2);

    // A partial refund of another order: recorded, nothing revoked, no email.
    let (other, other_buyer, other_charge) = fulfilled(&shop, &mut checkout, &mut fulfill).await;
    shop.stripe.refund(&other_charge, Some(1000)).unwrap();
    let partial = shop.stripe.object_event("charge.refunded", &other_charge).unwrap();
    let (response, _) = fulfill.invoke(webhook_event(&partial)).await;
    assert_eq!(outcome(&response), "partial_refund");
    let item = order(&shop, &other).await;
    assert_eq!(attr(&item, "status").as_deref(), Some("emailed"), "{item}");
    assert_eq!(attr(&item, "refunded_amount").as_deref(), Some("1000"), "{item}");
    assert_eq!((attr(&item, "votekey_state"), attr(&item, "revoked_reason")), (None, None), "{item}");
    assert_eq!(emails_to(&shop, &other_buyer.email).await, 1);
    assert_eq!(shop.counter("ticket#bronze").await.sold, 1);

    let logs = fulfill.logs();
    let lines = json_lines(&logs);
    let seen: Vec<&str> = lines
        .iter()
        .filter(|l| field(l, "route") == "fulfill")
        .map(|l| field(l, "outcome").as_str().unwrap())
        .collect();
    assert_eq!(seen, ["emailed", "refunded", "unchanged", "emailed", "partial_refund"], "{logs}");
    assert!(!logs.contains(&buyer.email) && !logs.contains(&other_buyer.email), "no addresses in logs: {logs}");
    fulfill.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_through_the_real_binary_is_flagged_with_an_error_line() {
    let shop = Shop::start(config_with(json!({"capacity": {"visitor": 100, "bronze": 5}}))).await;
    let (mut checkout, mut fulfill) = (shop.checkout().await, shop.fulfill().await);
    let (id, buyer, charge) = fulfilled(&shop, &mut checkout, &mut fulfill).await;
    let dispute = shop.stripe.dispute(&charge, "fraudulent");
    let dispute = dispute["id"].as_str().unwrap();
    let created = shop.stripe.object_event("charge.dispute.created", dispute).unwrap();
    let (response, _) = fulfill.invoke(webhook_event(&created)).await;
    assert_eq!(outcome(&response), "disputed", "{}", fulfill.logs());
    let item = order(&shop, &id).await;
    assert_eq!(attr(&item, "dispute_status").as_deref(), Some("open"), "{item}");
    assert_eq!(attr(&item, "dispute").as_deref(), Some(dispute), "{item}");
    assert_eq!(attr(&item, "votekey_state"), None, "revoked only when lost (revoke_on_dispute is off)");
    assert_eq!(emails_to(&shop, &buyer.email).await, 1);

    // The organizer is told: an ERROR line naming the session and the dispute.
    let logs = fulfill.logs();
    let lines = json_lines(&logs);
    let error = lines
        .iter()
        .find(|l| l["level"] == "ERROR" && field(l, "dispute") == dispute)
        .unwrap_or_else(|| panic!("no error line for the dispute: {logs}"));
    assert_eq!(field(error, "session"), id.as_str(), "{error}");
    assert!(field(error, "message").as_str().is_some_and(|m| m.contains("disputed")), "{error}");
    fulfill.assert_alive();
}
