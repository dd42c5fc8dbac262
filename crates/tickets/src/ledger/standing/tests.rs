//! Every refund and dispute transition, from every order state that matters.

use super::*;
use crate::ledger::OrderDetails;

fn order(status: OrderStatus, votekey: Option<&str>) -> OrderRecord {
    OrderRecord {
        details: OrderDetails { session_id: "cs_test_1".into(), ..OrderDetails::default() },
        status,
        votekey: votekey.map(str::to_owned),
        created_at: 1,
        claimed_at: None,
        claim_expires_at: None,
        emailed_at: None,
        message_id: None,
        standing: Standing::default(),
        cancellation_emailed_at: None,
        resent: Default::default(),
    }
}

fn charge(amount_refunded: i64) -> ChargeView {
    ChargeView { id: "ch_1".into(), payment_intent: Some("pi_1".into()), amount: 5000, amount_refunded }
}

fn dispute(outcome: DisputeOutcome) -> DisputeView {
    DisputeView { id: "dp_1".into(), charge: "ch_1".into(), payment_intent: Some("pi_1".into()), outcome }
}

/// Applies a change as the ledger would.
fn applied(mut record: OrderRecord, change: &Change) -> OrderRecord {
    record.status = change.status;
    record.standing = change.standing.clone();
    record
}

#[test]
fn a_full_refund_after_the_email_revokes_and_owes_one_cancellation_email() {
    let emailed = order(OrderStatus::Emailed, Some("BCDFGHJK"));
    let change = Change::after_charge(Some(&emailed), &charge(5000)).expect("a change");
    assert_eq!(change.status, OrderStatus::Refunded);
    assert_eq!(change.standing.revoked, Some(Revocation::Refund));
    assert_eq!(change.standing.cancellation, Some(NoticeState::Due));
    assert_eq!(change.standing.refunded_amount, Some(5000));
    assert!(change.ends_sale());
    assert_eq!(change.seen, Some((OrderStatus::Emailed, Standing::default())));
    // The same charge again: nothing.
    assert_eq!(Change::after_charge(Some(&applied(emailed, &change)), &charge(5000)), None);
}

#[test]
fn a_refund_before_the_email_ends_refunded_without_any_email() {
    for record in [None, Some(order(OrderStatus::Pending, None))] {
        let change = Change::after_charge(record.as_ref(), &charge(5000)).unwrap();
        assert_eq!(change.status, OrderStatus::Refunded);
        assert_eq!((change.standing.revoked, change.standing.cancellation), (None, None));
        assert!(change.ends_sale());
    }
}

#[test]
fn a_partial_refund_records_the_amount_and_revokes_nothing() {
    let emailed = order(OrderStatus::Emailed, Some("BCDFGHJK"));
    let change = Change::after_charge(Some(&emailed), &charge(800)).unwrap();
    assert_eq!(change.status, OrderStatus::Emailed);
    assert_eq!(change.standing, Standing { refunded_amount: Some(800), ..Standing::default() });
    assert!(!change.ends_sale());
    let after = applied(emailed, &change);
    assert_eq!(Change::after_charge(Some(&after), &charge(800)), None, "a duplicate");
    // The rest refunded later: now in full.
    let full = Change::after_charge(Some(&after), &charge(5000)).unwrap();
    assert_eq!((full.status, full.standing.refunded_amount), (OrderStatus::Refunded, Some(5000)));
}

#[test]
fn an_unrefunded_charge_changes_nothing() {
    assert_eq!(Change::after_charge(Some(&order(OrderStatus::Emailed, Some("K"))), &charge(0)), None);
    assert_eq!(Change::after_charge(None, &charge(0)), None);
}

#[test]
fn a_dispute_flags_and_revokes_only_when_configured() {
    let emailed = order(OrderStatus::Emailed, Some("BCDFGHJK"));
    let flagged = Change::after_dispute(Some(&emailed), &dispute(DisputeOutcome::Open), false).unwrap();
    assert_eq!(flagged.standing.dispute.as_deref(), Some("dp_1"));
    assert_eq!((flagged.standing.dispute_status, flagged.standing.revoked), (Some(DisputeState::Open), None));
    assert!(!flagged.ends_sale());
    let revoked = Change::after_dispute(Some(&emailed), &dispute(DisputeOutcome::Open), true).unwrap();
    assert_eq!(revoked.standing.revoked, Some(Revocation::Dispute));
    let after = applied(emailed, &revoked);
    assert_eq!(Change::after_dispute(Some(&after), &dispute(DisputeOutcome::Open), true), None, "a duplicate");
}

#[test]
fn a_won_dispute_clears_the_flag_and_undoes_its_revocation() {
    let emailed = order(OrderStatus::Emailed, Some("BCDFGHJK"));
    let open = applied(emailed, &Change::after_dispute(None, &dispute(DisputeOutcome::Open), true).unwrap());
    let mut open = open;
    open.standing.revoked = Some(Revocation::Dispute);
    let won = Change::after_dispute(Some(&open), &dispute(DisputeOutcome::Won), true).unwrap();
    assert_eq!(won.standing, Standing::default());
    // Won with no dispute on record (closed event first, created event late): nothing.
    assert_eq!(
        Change::after_dispute(Some(&order(OrderStatus::Emailed, Some("K"))), &dispute(DisputeOutcome::Won), true),
        None
    );
}

#[test]
fn a_lost_dispute_revokes_and_ends_the_sale_once() {
    let emailed = order(OrderStatus::Emailed, Some("BCDFGHJK"));
    let lost = Change::after_dispute(Some(&emailed), &dispute(DisputeOutcome::Lost), false).unwrap();
    assert_eq!(lost.standing.revoked, Some(Revocation::DisputeLost));
    assert_eq!(lost.standing.dispute_status, Some(DisputeState::Lost));
    assert_eq!(lost.status, OrderStatus::Emailed, "no cancellation email for a chargeback");
    assert!(lost.ends_sale());
    let after = applied(emailed, &lost);
    assert_eq!(Change::after_dispute(Some(&after), &dispute(DisputeOutcome::Lost), false), None);
    // A refund after a lost dispute does not end the sale a second time.
    let refunded = Change::after_charge(Some(&after), &charge(5000)).unwrap();
    assert!(!refunded.ends_sale());
}
