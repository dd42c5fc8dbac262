//! A send the provider refused outright frees its claim, so the next
//! delivery sends at once; after an ambiguous failure the lease must end.

use super::*;

/// A paid session whose first send fails with `fault`; the fault's status.
async fn first_send_fails(bed: &Bed, id: &str, fault: MailFault) -> u16 {
    bed.payments.put(paid(id));
    bed.mailer.fail_next(fault);
    bed.fulfil(id).await.unwrap_err().status().as_u16()
}

#[tokio::test]
async fn each_definite_refusal_frees_the_claim_and_the_next_delivery_sends_the_same_key() {
    let refusals = [
        MailFault::Rejected("Email address is not verified.".into()),
        MailFault::Rejected("Sending paused for this account.".into()),
        MailFault::Throttled("Maximum sending rate exceeded.".into()),
    ];
    for (i, fault) in refusals.into_iter().enumerate() {
        let bed = Bed::new();
        let id = format!("cs_test_refused{i}");
        assert_eq!(first_send_fails(&bed, &id, fault).await, 500);
        let key = bed.votekey(&id).expect("the claim reserved a key");
        assert_eq!(bed.ledger.calls(LedgerOp::ReleaseClaim), 1);
        // The very next delivery, in the same second: no 409, the same key, one email.
        assert_eq!(bed.fulfil(&id).await.unwrap(), Outcome::Emailed, "{id}");
        let sent = bed.mailer.sent();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].text.contains(&key), "{id}: the key of the first claim");
        assert_eq!(bed.fulfil(&id).await.unwrap(), Outcome::AlreadyEmailed);
    }
}

#[tokio::test]
async fn an_ambiguous_failure_keeps_the_claim_until_its_lease_ends() {
    let bed = Bed::new();
    assert_eq!(first_send_fails(&bed, "cs_test_timeout", MailFault::Unavailable("timed out".into())).await, 500);
    assert_eq!(bed.ledger.calls(LedgerOp::ReleaseClaim), 0, "it may have been sent");
    assert_eq!(bed.fulfil("cs_test_timeout").await.unwrap(), Outcome::InProgress);
    assert!(bed.mailer.sent().is_empty());
    bed.at(T0 + 11);
    assert_eq!(bed.fulfil("cs_test_timeout").await.unwrap(), Outcome::Emailed);
}

#[tokio::test]
async fn a_release_that_fails_leaves_the_lease_to_end_and_still_answers_5xx() {
    let bed = Bed::new();
    bed.ledger.fail(LedgerOp::ReleaseClaim, 1);
    assert_eq!(first_send_fails(&bed, "cs_test_stuck", MailFault::Rejected("not verified".into())).await, 500);
    assert_eq!(bed.fulfil("cs_test_stuck").await.unwrap(), Outcome::InProgress);
    bed.at(T0 + 11);
    assert_eq!(bed.fulfil("cs_test_stuck").await.unwrap(), Outcome::Emailed);
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test]
async fn only_the_claimant_can_release_its_claim() {
    let bed = Bed::new();
    let details = order_details(&paid("cs_test_mine"));
    let ClaimOutcome::Claimed { token, .. } =
        bed.ledger.claim(&details, Notice::Votekey, VotekeyUse::Reserve("MINEKEYS"), None, T0, 10).await.unwrap()
    else {
        panic!("claimed")
    };
    assert!(!bed.ledger.release_claim("cs_test_mine", "someone-else", T0).await.unwrap());
    assert!(!bed.ledger.release_claim("cs_test_nobody", &token, T0).await.unwrap());
    assert!(bed.ledger.release_claim("cs_test_mine", &token, T0).await.unwrap());
    assert!(!bed.ledger.release_claim("cs_test_mine", &token, T0).await.unwrap(), "once");
    let again = bed.ledger.claim(&details, Notice::Votekey, VotekeyUse::Keep("MINEKEYS"), None, T0, 10).await.unwrap();
    assert!(matches!(again, ClaimOutcome::Claimed { .. }), "claimable at once: {again:?}");
}

#[tokio::test]
async fn with_too_little_of_the_invocation_left_nothing_is_claimed() {
    let bed = Bed::new();
    bed.payments.put(paid("cs_test_late"));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let late = crate::deadline::scope(Some(deadline), bed.fulfil("cs_test_late")).await;
    assert_eq!(late.unwrap_err().outcome(), "out_of_time");
    assert_eq!(bed.ledger.calls(LedgerOp::Claim), 0, "no claim left to wait out");
    assert!(bed.mailer.sent().is_empty());
    let in_time = std::time::Instant::now() + Duration::from_secs(14);
    assert_eq!(crate::deadline::scope(Some(in_time), bed.fulfil("cs_test_late")).await.unwrap(), Outcome::Emailed);
}
