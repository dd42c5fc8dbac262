//! Only this shop's ticket sessions are fulfilled; a webhook the secret key
//! cannot act on is a 5xx; the landing page asks Stripe only about sessions
//! the ledger knows or that come back with a fresh return stamp.

use super::*;
use crate::return_stamp::{ReturnStamp, STAMP_LIFETIME_SECONDS};

fn signed(body: serde_json::Value) -> lambda_http::Request {
    let body = body.to_string();
    let signature = crate::webhook::sign(body.as_bytes(), "whsec_local_development_secret", T0);
    let mut request = lambda_http::Request::new(lambda_http::Body::Text(body));
    *request.method_mut() = ::http::Method::POST;
    request.headers_mut().insert("stripe-signature", signature.parse().unwrap());
    request
}

fn completed(id: &str, livemode: bool) -> lambda_http::Request {
    signed(serde_json::json!({
        "id": "evt_1", "type": "checkout.session.completed", "livemode": livemode,
        "data": { "object": { "id": id, "object": "checkout.session" } }
    }))
}

/// The status and the JSON `outcome` (webhook) or the body (landing page).
fn answer(response: lambda_http::Response<lambda_http::Body>) -> (u16, String) {
    let lambda_http::Body::Text(body) = response.body() else { panic!("a text body") };
    let outcome =
        serde_json::from_str::<serde_json::Value>(body).ok().and_then(|j| j["outcome"].as_str().map(str::to_owned));
    (response.status().as_u16(), outcome.unwrap_or_else(|| body.clone()))
}

fn landing(query: &str) -> lambda_http::Request {
    let mut request = lambda_http::Request::new(lambda_http::Body::Empty);
    *request.uri_mut() = format!("https://tickets.example/fulfill?{query}").parse().unwrap();
    request
}

fn stamp(bed: &Bed, at: i64) -> String {
    ReturnStamp::new(bed.config.webhook_secrets()).issue(at)
}

#[tokio::test]
async fn sessions_without_our_mark_payment_mode_or_a_catalog_ticket_get_nothing() {
    let bed = Bed::new();
    let unmarked = |id: &str| {
        let mut s = paid(id);
        s.metadata.remove("tdf_shop");
        s
    };
    let mut other_shop = paid("cs_test_other");
    other_shop.metadata.insert("tdf_shop".into(), "Last Year's Party".into());
    let mut setup_mode = paid("cs_test_setup");
    setup_mode.payment_mode = false;
    setup_mode.payment_status = PaymentStatus::NoPaymentRequired;
    let mut no_ticket = paid("cs_test_noticket");
    no_ticket.metadata.insert("ticket".into(), "platinum".into());
    for session in [unmarked("cs_test_link"), other_shop, setup_mode, no_ticket] {
        let id = session.id.clone();
        bed.payments.put(session);
        assert_eq!(bed.fulfil(&id).await.unwrap(), Outcome::NotApplicable, "{id}");
        assert_eq!(answer(bed.fulfill.handle(completed(&id, false)).await), (200, "not_applicable".into()), "{id}");
    }
    assert!(bed.mailer.sent().is_empty(), "no votekey for any of them");
    assert!(bed.ledger.orders().is_empty(), "and no order recorded");
    bed.payments.put(paid("cs_test_ours"));
    assert_eq!(bed.fulfil("cs_test_ours").await.unwrap(), Outcome::Emailed, "ours still is");
}

#[tokio::test]
async fn a_webhook_the_secret_key_cannot_act_on_is_a_5xx() {
    let bed = Bed::new();
    let unknown = bed.fulfill.handle(completed("cs_test_nobody_knows", false)).await;
    assert_eq!(answer(unknown), (503, "temporary failure (webhook_mismatch); please retry\n".into()));
    let retrievals = bed.payments.retrievals();
    bed.payments.put(paid("cs_live_paid"));
    let live = bed.fulfill.handle(completed("cs_live_paid", true)).await;
    assert_eq!(live.status(), 503, "a live event for a test key");
    assert_eq!(bed.payments.retrievals(), retrievals, "refused before asking Stripe");
    assert!(bed.mailer.sent().is_empty() && bed.ledger.orders().is_empty());
}

#[tokio::test]
async fn the_landing_page_asks_stripe_only_with_a_fresh_stamp_or_a_known_order() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_back"));
    let not_found = answer(bed.fulfill.handle(landing("session_id=cs_test_back")).await);
    assert_eq!(not_found.0, 404, "no stamp: {}", not_found.1);
    let stale = format!("session_id=cs_test_back&stamp={}", stamp(&bed, T0 - STAMP_LIFETIME_SECONDS - 1));
    assert_eq!(bed.fulfill.handle(landing(&stale)).await.status(), 404);
    let forged = format!("session_id=cs_test_back&stamp={T0}.0123456789abcdef");
    assert_eq!(bed.fulfill.handle(landing(&forged)).await.status(), 404);
    let live = format!("session_id=cs_live_back&stamp={}", stamp(&bed, T0));
    assert_eq!(bed.fulfill.handle(landing(&live)).await.status(), 404, "a live id for a test key");
    assert_eq!(bed.payments.retrievals(), 0, "none of those asked Stripe");
    assert!(bed.ledger.orders().is_empty(), "nor wrote anything");

    let fresh = format!("session_id=cs_test_back&stamp={}", stamp(&bed, T0 - 600));
    assert_eq!(bed.fulfill.handle(landing(&fresh)).await.status(), 303, "emailed: on to the thank-you page");
    assert_eq!((bed.payments.retrievals(), bed.mailer.sent().len()), (1, 1));
    assert_eq!(bed.fulfill.handle(landing("session_id=cs_test_back")).await.status(), 303, "known: no stamp needed");
}

#[tokio::test]
async fn an_open_session_is_not_recorded_and_a_known_one_is_asked_about_again() {
    let bed = Bed::new();
    let open = SessionView { complete: false, ..session("cs_test_open", PaymentStatus::Unpaid) };
    bed.payments.put(open);
    let query = format!("session_id=cs_test_open&stamp={}", stamp(&bed, T0));
    assert_eq!(bed.fulfill.handle(landing(&query)).await.status(), 200, "still being paid");
    assert!(bed.ledger.orders().is_empty(), "an open session writes no order");
    // Completed with a delayed payment: the webhook records it; the page may then ask without a stamp.
    bed.payments.put(session("cs_test_open", PaymentStatus::Unpaid));
    assert_eq!(bed.fulfil("cs_test_open").await.unwrap(), Outcome::AwaitingPayment);
    assert_eq!(bed.status("cs_test_open"), Some(OrderStatus::Pending));
    bed.payments.put(paid("cs_test_open"));
    assert_eq!(bed.fulfill.handle(landing("session_id=cs_test_open")).await.status(), 303);
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test]
async fn an_order_the_ledger_holds_is_ours_even_without_the_mark() {
    // A delayed payment recorded before sessions carried the mark, settled after.
    let bed = Bed::new();
    let mut unmarked = session("cs_test_before", PaymentStatus::Unpaid);
    unmarked.metadata.remove("tdf_shop");
    bed.ledger.with_state(|s| s.record(&order_details(&unmarked), T0 - 3600));
    unmarked.payment_status = PaymentStatus::Paid;
    bed.payments.put(unmarked);
    assert_eq!(bed.fulfil("cs_test_before").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test]
async fn a_settled_session_that_is_not_complete_gets_nothing() {
    let bed = Bed::new();
    bed.payments.put(SessionView { complete: false, ..paid("cs_test_incomplete") });
    assert_eq!(bed.fulfil("cs_test_incomplete").await.unwrap(), Outcome::AwaitingPayment);
    assert!(bed.mailer.sent().is_empty());
}
