//! Refunds and disputes through the fulfilment routine, against the
//! in-memory doubles: revocation, places given back, the one cancellation
//! email, duplicates and out-of-order deliveries.

use super::*;
use crate::ledger::{DisputeState, NoticeState, Revocation};
use crate::stripe::{ChargeView, DisputeOutcome, DisputeView};

const AMOUNT: i64 = 5000;

fn charge(id: &str, session: &str, amount_refunded: i64) -> ChargeView {
    ChargeView { id: id.into(), payment_intent: Some(format!("pi_for_{session}")), amount: AMOUNT, amount_refunded }
}

fn dispute(session: &str, outcome: DisputeOutcome) -> DisputeView {
    DisputeView { id: "dp_1".into(), charge: "ch_1".into(), payment_intent: Some(format!("pi_for_{session}")), outcome }
}

impl Bed {
    async fn refund(&self, id: &str, session: &str, amount_refunded: i64) -> Result<Outcome, FulfillFault> {
        self.payments.put_charge(charge(id, session, amount_refunded));
        self.fulfill.charge_changed(&self.config, id).await
    }

    fn order(&self, id: &str) -> crate::ledger::OrderRecord {
        self.ledger.orders().into_iter().find(|o| o.details.session_id == id).expect("the order")
    }
}

/// A fulfilled bronze order with a sold hold.
async fn fulfilled(id: &str) -> (Bed, Hold) {
    let (bed, hold) = bed_with_hold(paid(id));
    assert_eq!(bed.fulfil(id).await.unwrap(), Outcome::Emailed);
    (bed, hold)
}

#[tokio::test]
async fn a_full_refund_revokes_returns_the_place_and_sends_one_cancellation_email() {
    let (bed, hold) = fulfilled("cs_test_r1").await;
    assert_eq!(bed.refund("ch_1", "cs_test_r1", AMOUNT).await.unwrap(), Outcome::Refunded);
    let order = bed.order("cs_test_r1");
    assert_eq!(order.status, OrderStatus::Refunded);
    assert_eq!(order.standing.revoked, Some(Revocation::Refund));
    assert_eq!(order.standing.cancellation, Some(NoticeState::Sent));
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Returned, (0, 0)));
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 2, "the votekey email, then the cancellation");
    assert!(sent[1].text.contains(order.votekey.as_deref().unwrap()), "names the revoked key: {}", sent[1].text);
    // The same event again, and a late `completed`: nothing more.
    assert_eq!(bed.refund("ch_1", "cs_test_r1", AMOUNT).await.unwrap(), Outcome::Unchanged);
    assert_eq!(bed.fulfil("cs_test_r1").await.unwrap(), Outcome::Refunded);
    assert_eq!((bed.mailer.sent().len(), shirts(&bed)), (2, (0, 0)));
}

#[tokio::test]
async fn without_refund_returns_capacity_the_place_stays_sold() {
    let bed = Bed::with_config(&with_keys(&[("refund_returns_capacity", "false")]));
    let inventory: Arc<dyn Inventory> = bed.ledger.clone();
    let bed = bed.map(|f| f.with_inventory(inventory));
    let limits = [Limit { counter: CounterKey::stock("tshirt", "l"), capacity: 5 }];
    let hold = Hold::new(&limits, T0 - 60, 35 * 60).unwrap();
    bed.ledger.with_state(|s| s.inventory.reserve(&hold, &limits)).unwrap();
    let mut session = paid("cs_test_r2");
    session.metadata.insert(HOLD_METADATA_KEY.into(), hold.id.clone());
    bed.payments.put(session);
    bed.fulfil("cs_test_r2").await.unwrap();
    assert_eq!(bed.refund("ch_2", "cs_test_r2", AMOUNT).await.unwrap(), Outcome::Refunded);
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Sold, (0, 1)));
}

#[tokio::test]
async fn a_refund_before_completion_means_no_votekey_email_ever() {
    let (bed, hold) = bed_with_hold(paid("cs_test_r3"));
    // The refund's event comes first: the ledger knows nothing, Stripe maps the payment.
    assert_eq!(bed.refund("ch_3", "cs_test_r3", AMOUNT).await.unwrap(), Outcome::Refunded);
    assert_eq!(bed.fulfil("cs_test_r3").await.unwrap(), Outcome::Refunded);
    let order = bed.order("cs_test_r3");
    assert_eq!((order.status, order.votekey.as_deref()), (OrderStatus::Refunded, None));
    assert_eq!(order.standing.cancellation, None, "no ticket went out, so no cancellation either");
    assert!(bed.mailer.sent().is_empty());
    assert_eq!((hold_status(&bed, &hold), shirts(&bed)), (HoldStatus::Released, (0, 0)));
}

#[tokio::test]
async fn a_session_stripe_shows_refunded_gets_no_votekey() {
    let (bed, hold) = bed_with_hold(SessionView { fully_refunded: true, ..paid("cs_test_r4") });
    assert_eq!(bed.fulfil("cs_test_r4").await.unwrap(), Outcome::Refunded);
    assert!(bed.mailer.sent().is_empty());
    assert_eq!(bed.order("cs_test_r4").status, OrderStatus::Refunded);
    assert_eq!(hold_status(&bed, &hold), HoldStatus::Released);
}

#[tokio::test]
async fn a_partial_refund_is_recorded_and_revokes_nothing() {
    let (bed, hold) = fulfilled("cs_test_r5").await;
    assert_eq!(bed.refund("ch_5", "cs_test_r5", 800).await.unwrap(), Outcome::PartialRefund);
    let order = bed.order("cs_test_r5");
    assert_eq!(
        (order.status, order.standing.refunded_amount, order.standing.revoked),
        (OrderStatus::Emailed, Some(800), None)
    );
    assert_eq!((hold_status(&bed, &hold), bed.mailer.sent().len()), (HoldStatus::Sold, 1));
}

#[tokio::test]
async fn a_charge_of_no_session_of_ours_is_acknowledged_and_nothing_else() {
    let bed = Bed::new();
    bed.payments.put_charge(ChargeView {
        id: "ch_x".into(),
        payment_intent: Some("pi_x".into()),
        amount: 1,
        amount_refunded: 1,
    });
    assert_eq!(bed.fulfill.charge_changed(&bed.config, "ch_x").await.unwrap(), Outcome::NotOurs);
    assert_eq!(bed.fulfill.charge_changed(&bed.config, "ch_unknown").await.unwrap(), Outcome::NotOurs);
    assert!(bed.ledger.orders().is_empty());
}

#[tokio::test]
async fn a_failed_cancellation_email_is_sent_by_the_next_delivery_once() {
    let (bed, _) = fulfilled("cs_test_r6").await;
    bed.mailer.fail_next(crate::mail::MailFault::Rejected("paused".into()));
    assert!(bed.refund("ch_6", "cs_test_r6", AMOUNT).await.is_err(), "5xx: Stripe delivers again");
    assert_eq!(bed.order("cs_test_r6").status, OrderStatus::Refunded, "the refund itself is recorded");
    // Refused outright, so the claim was given up: the next delivery sends at once.
    assert_eq!(bed.refund("ch_6", "cs_test_r6", AMOUNT).await.unwrap(), Outcome::Unchanged);
    assert_eq!(bed.order("cs_test_r6").standing.cancellation, Some(NoticeState::Sent));
    assert_eq!(bed.mailer.sent().len(), 2);
}

#[tokio::test]
async fn disputes_flag_then_revoke_when_lost_or_clear_when_won() {
    let (bed, hold) = fulfilled("cs_test_d1").await;
    bed.payments.put_dispute(dispute("cs_test_d1", DisputeOutcome::Open));
    assert_eq!(bed.fulfill.dispute_changed(&bed.config, "dp_1").await.unwrap(), Outcome::Disputed);
    let order = bed.order("cs_test_d1");
    assert_eq!((order.standing.dispute_status, order.standing.revoked), (Some(DisputeState::Open), None));
    assert_eq!(bed.fulfill.dispute_changed(&bed.config, "dp_1").await.unwrap(), Outcome::Unchanged);
    bed.payments.put_dispute(dispute("cs_test_d1", DisputeOutcome::Lost));
    assert_eq!(bed.fulfill.dispute_changed(&bed.config, "dp_1").await.unwrap(), Outcome::DisputeLost);
    let order = bed.order("cs_test_d1");
    assert_eq!(order.standing.revoked, Some(Revocation::DisputeLost));
    assert_eq!(
        (hold_status(&bed, &hold), bed.mailer.sent().len()),
        (HoldStatus::Returned, 1),
        "no email for a chargeback"
    );
}

#[tokio::test]
async fn revoke_on_dispute_revokes_at_once_and_a_win_restores_the_key() {
    let bed = Bed::with_config(&with_keys(&[("revoke_on_dispute", "true")]));
    bed.payments.put(paid("cs_test_d2"));
    bed.fulfil("cs_test_d2").await.unwrap();
    bed.payments.put_dispute(dispute("cs_test_d2", DisputeOutcome::Open));
    bed.fulfill.dispute_changed(&bed.config, "dp_1").await.unwrap();
    assert_eq!(bed.order("cs_test_d2").standing.revoked, Some(Revocation::Dispute));
    bed.payments.put_dispute(dispute("cs_test_d2", DisputeOutcome::Won));
    assert_eq!(bed.fulfill.dispute_changed(&bed.config, "dp_1").await.unwrap(), Outcome::DisputeWon);
    let order = bed.order("cs_test_d2");
    assert_eq!((order.standing.revoked, order.standing.dispute), (None, None));
    assert_eq!(order.status, OrderStatus::Emailed);
}

#[tokio::test]
async fn the_landing_page_of_a_refunded_order_says_so_in_the_buyers_language() {
    let (bed, _) = fulfilled("cs_test_r7").await;
    bed.refund("ch_7", "cs_test_r7", AMOUNT).await.unwrap();
    for (accept, expected) in [("en", "Order refunded"), ("ja", "返金済みのご注文")] {
        let request = ::http::Request::builder()
            .uri("https://tickets.example/fulfill?session_id=cs_test_r7")
            .header("accept-language", accept)
            .body(lambda_http::Body::Empty)
            .unwrap();
        let response = bed.fulfill.handle(request).await;
        assert_eq!(response.status(), 200);
        let lambda_http::Body::Text(page) = response.body() else { panic!("a page") };
        assert!(page.contains(expected), "{page}");
    }
    assert_eq!(bed.mailer.sent().len(), 2, "the landing page sends nothing");
}
