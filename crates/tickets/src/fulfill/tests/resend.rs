//! The organizer's resend against the in-memory doubles: the same email
//! with the same key, recorded; never for an order that was not emailed or
//! whose key is revoked.

use super::*;
use crate::fulfill::Resend;

fn order(bed: &Bed, id: &str) -> crate::ledger::OrderRecord {
    bed.ledger.orders().into_iter().find(|o| o.details.session_id == id).expect("the order")
}

#[tokio::test]
async fn a_resend_is_the_same_email_with_the_same_key_and_is_recorded() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_re1"));
    assert_eq!(bed.fulfil("cs_test_re1").await.unwrap(), Outcome::Emailed);
    let key = bed.votekey("cs_test_re1").unwrap();
    bed.at(T0 + 3600);

    let again = bed.fulfill.resend(&bed.config, "cs_test_re1", None).await.unwrap();
    let Resend::Sent { to, votekey, .. } = again else { panic!("sent: {again:?}") };
    assert_eq!((to.as_str(), votekey.as_str()), ("ada@example.com", key.as_str()));
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!((&sent[1].subject, &sent[1].text, &sent[1].html), (&sent[0].subject, &sent[0].text, &sent[0].html));
    assert_eq!(bed.payments.retrievals(), 1, "a resend is written from the ledger, not Stripe");

    let corrected = bed.fulfill.resend(&bed.config, "cs_test_re1", Some("ada@corrected.example")).await.unwrap();
    assert!(matches!(corrected, Resend::Sent { ref to, .. } if to == "ada@corrected.example"), "{corrected:?}");
    assert_eq!(bed.mailer.sent()[2].to, "ada@corrected.example");
    assert!(bed.mailer.sent()[2].text.contains(&key));
    let record = order(&bed, "cs_test_re1");
    assert_eq!(record.status, OrderStatus::Emailed);
    assert_eq!(record.votekey.as_deref(), Some(key.as_str()), "never a new key");
    assert_eq!(record.resent.count, Some(2));
    assert_eq!(record.resent.last_at, Some(T0 + 3600));
    assert_eq!(record.resent.last_to.as_deref(), Some("ada@corrected.example"));
}

#[tokio::test]
async fn nothing_is_resent_for_unknown_unsent_or_revoked_orders() {
    let bed = Bed::new();
    assert_eq!(bed.fulfill.resend(&bed.config, "cs_test_none", None).await.unwrap(), Resend::UnknownOrder);

    bed.payments.put(session("cs_test_re2", PaymentStatus::Unpaid));
    assert_eq!(bed.fulfil("cs_test_re2").await.unwrap(), Outcome::AwaitingPayment);
    let pending = bed.fulfill.resend(&bed.config, "cs_test_re2", None).await.unwrap();
    assert_eq!(pending, Resend::NotEmailed(OrderStatus::Pending));

    bed.payments.put(paid("cs_test_re3"));
    assert_eq!(bed.fulfil("cs_test_re3").await.unwrap(), Outcome::Emailed);
    bed.payments.put_charge(crate::stripe::ChargeView {
        id: "ch_re3".into(),
        payment_intent: Some("pi_for_cs_test_re3".into()),
        amount: 5000,
        amount_refunded: 5000,
    });
    assert_eq!(bed.fulfill.charge_changed(&bed.config, "ch_re3").await.unwrap(), Outcome::Refunded);
    let sent = bed.mailer.sent().len();
    assert_eq!(bed.fulfill.resend(&bed.config, "cs_test_re3", None).await.unwrap(), Resend::Revoked);
    assert_eq!(bed.mailer.sent().len(), sent, "a revoked key is never sent again");
}

#[tokio::test]
async fn a_failed_send_records_nothing() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_re4"));
    assert_eq!(bed.fulfil("cs_test_re4").await.unwrap(), Outcome::Emailed);
    bed.mailer.fail_next(MailFault::Unavailable("down".into()));
    assert!(matches!(bed.fulfill.resend(&bed.config, "cs_test_re4", None).await, Err(FulfillFault::Mail(_))));
    assert_eq!(order(&bed, "cs_test_re4").resent, Default::default());
}
