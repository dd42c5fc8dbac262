//! Reconciliation against the doubles: what a pass fulfils, counts and
//! leaves alone, and what it costs Stripe. Paused time: the pacing and the
//! rate-limit pause take none.

use super::*;

const DAY: i64 = 86_400;

/// A paid Bronze session created `age` seconds before T0.
fn paid_at(id: &str, age: i64) -> SessionView {
    SessionView { created: T0 - age, ..paid(id) }
}

async fn reconcile(bed: &Bed) -> ReconcileReport {
    bed.fulfill.reconcile(&bed.config, 7).await.expect("the listing works")
}

fn counts(r: &ReconcileReport) -> [usize; 6] {
    [r.checked, r.already_emailed, r.fulfilled_now, r.in_progress, r.not_sent, r.failed]
}

#[tokio::test(start_paused = true)]
async fn a_paid_session_without_its_webhook_is_emailed_once_and_a_second_pass_sends_nothing() {
    let bed = Bed::new();
    bed.payments.put(paid_at("cs_test_missed", 3600));
    let report = reconcile(&bed).await;
    assert_eq!((report.listed, counts(&report)), (1, [1, 0, 1, 0, 0, 0]), "{report:?}");
    assert_eq!(report.fulfilled_sessions, ["cs_test_missed"]);
    assert_eq!(bed.status("cs_test_missed"), Some(OrderStatus::Emailed));
    let sent = bed.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains(&bed.votekey("cs_test_missed").unwrap()));

    let again = reconcile(&bed).await;
    assert_eq!(counts(&again), [1, 1, 0, 0, 0, 0], "{again:?}");
    assert!(again.fulfilled_sessions.is_empty());
    assert_eq!(bed.mailer.sent().len(), 1, "nothing more is sent");
    assert_eq!(bed.payments.retrievals(), 1, "the second pass asks the ledger only");
}

#[tokio::test(start_paused = true)]
async fn an_emailed_order_is_counted_and_costs_no_stripe_retrieval() {
    let bed = Bed::new();
    bed.payments.put(paid_at("cs_test_webhooked", 3600));
    assert_eq!(bed.fulfil("cs_test_webhooked").await.unwrap(), Outcome::Emailed);
    let report = reconcile(&bed).await;
    assert_eq!(counts(&report), [1, 1, 0, 0, 0, 0], "{report:?}");
    assert_eq!((bed.payments.listings(), bed.payments.retrievals()), (1, 1), "one listing, no retrieval");
    assert_eq!(bed.mailer.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn unpaid_open_expired_and_older_sessions_are_left_alone() {
    let bed = Bed::new();
    bed.payments.put(SessionView { created: T0 - 3600, ..session("cs_test_konbini", PaymentStatus::Unpaid) });
    let open = SessionView { complete: false, ..session("cs_test_open", PaymentStatus::Unpaid) };
    bed.payments.put(SessionView { created: T0 - 3600, ..open });
    let expired = SessionView { complete: false, expired: true, ..session("cs_test_expired", PaymentStatus::Unpaid) };
    bed.payments.put(SessionView { created: T0 - 3600, ..expired });
    bed.payments.put(paid_at("cs_test_last_week", 8 * DAY));
    let report = reconcile(&bed).await;
    assert_eq!((report.listed, report.awaiting_payment), (1, 1), "only the completed konbini one: {report:?}");
    assert_eq!(counts(&report), [0; 6]);
    assert_eq!((bed.payments.retrievals(), bed.mailer.sent().len()), (0, 0));
    assert_eq!(bed.ledger.orders().len(), 0);

    // A longer look back reaches last week's.
    let report = bed.fulfill.reconcile(&bed.config, 9).await.unwrap();
    assert_eq!((report.listed, report.fulfilled_sessions.clone()), (2, vec!["cs_test_last_week".to_owned()]));
}

#[tokio::test(start_paused = true)]
async fn sessions_not_of_this_shop_are_counted_and_never_retrieved() {
    let bed = Bed::new();
    let marked = |id: &str, key: &str, value: &str| {
        let mut session = paid_at(id, 3600);
        session.metadata.insert(key.into(), value.into());
        session
    };
    bed.payments.put(marked("cs_test_other_shop", "tdf_shop", "Another Party"));
    bed.payments.put(marked("cs_test_unknown_ticket", "ticket", "platinum"));
    bed.payments.put(SessionView { payment_mode: false, ..paid_at("cs_test_setup", 3600) });
    let mut link = paid_at("cs_test_payment_link", 3600);
    link.metadata.clear();
    bed.payments.put(link);
    let report = reconcile(&bed).await;
    assert_eq!((report.listed, report.not_ours), (4, 4), "{report:?}");
    assert_eq!(counts(&report), [0; 6]);
    assert_eq!((bed.payments.retrievals(), bed.mailer.sent().len()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn one_failing_session_does_not_stop_the_others_and_the_next_pass_retries_it() {
    let bed = Bed::new();
    for (id, age) in [("cs_test_a", 300), ("cs_test_b", 200), ("cs_test_c", 100)] {
        bed.payments.put(paid_at(id, age));
    }
    // Newest first: c's send is the one that fails (ambiguously: its claim keeps its lease).
    bed.mailer.fail_next(MailFault::Unavailable("connection reset".into()));
    let report = reconcile(&bed).await;
    assert_eq!(counts(&report), [3, 0, 2, 0, 0, 1], "{report:?}");
    assert_eq!(report.fulfilled_sessions, ["cs_test_b", "cs_test_a"]);
    let failed = &report.failed_sessions[0];
    assert_eq!(failed.session_id, "cs_test_c");
    assert!(failed.error.contains("connection reset"), "{}", failed.error);

    // While c's claim lasts, a pass sees it in progress; after it, c is sent.
    let report = reconcile(&bed).await;
    assert_eq!(counts(&report), [3, 2, 0, 1, 0, 0], "{report:?}");
    bed.at(T0 + 60);
    let report = reconcile(&bed).await;
    assert_eq!(counts(&report), [3, 2, 1, 0, 0, 0], "{report:?}");
    assert_eq!(report.fulfilled_sessions, ["cs_test_c"]);
    assert_eq!(bed.mailer.sent().len(), 3, "one email per order");
    for id in ["cs_test_a", "cs_test_b", "cs_test_c"] {
        assert_eq!(bed.status(id), Some(OrderStatus::Emailed), "{id}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_listing_fails_the_pass() {
    let bed = Bed::new();
    bed.payments.put(paid_at("cs_test_missed", 3600));
    bed.payments.fail_next(StripeFault::Timeout);
    let fault = bed.fulfill.reconcile(&bed.config, 7).await.unwrap_err();
    assert!(matches!(fault, FulfillFault::Stripe(StripeFault::Timeout)), "{fault:?}");
    assert_eq!(bed.mailer.sent().len(), 0);
}

fn rate_limited() -> StripeFault {
    StripeFault::Api { status: 429, message: "Too many requests".into(), request_log_url: None }
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_session_is_waited_out_once() {
    let bed = Bed::new();
    bed.payments.put(paid_at("cs_test_once", 3600));
    bed.payments.put(paid_at("cs_test_twice", 7200));
    bed.payments.fail_retrieval("cs_test_once", rate_limited());
    bed.payments.fail_retrieval("cs_test_twice", rate_limited());
    bed.payments.fail_retrieval("cs_test_twice", rate_limited());
    let started = tokio::time::Instant::now();
    let report = reconcile(&bed).await;
    assert_eq!(counts(&report), [2, 0, 1, 0, 0, 1], "{report:?}");
    assert_eq!(report.fulfilled_sessions, ["cs_test_once"]);
    assert_eq!(report.failed_sessions[0].session_id, "cs_test_twice");
    assert_eq!(bed.payments.retrievals(), 4);
    assert!(started.elapsed() >= Duration::from_secs(4), "paused twice: {:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn the_scheduled_pass_leaves_fresh_sessions_to_their_webhook_and_looks_back_reconcile_days() {
    let bed = Bed::with_config(&with_keys(&[("reconcile_days", "2")]));
    bed.payments.put(paid_at("cs_test_fresh", RECONCILE_SETTLE_SECONDS - 1));
    bed.payments.put(paid_at("cs_test_settled", RECONCILE_SETTLE_SECONDS + 1));
    bed.payments.put(paid_at("cs_test_three_days", 3 * DAY));
    let report = bed.fulfill.reconcile_scheduled().await.unwrap();
    assert_eq!((report.days, report.listed, report.too_recent), (2, 2, 1), "{report:?}");
    assert_eq!(report.fulfilled_sessions, ["cs_test_settled"]);
    assert_eq!(bed.status("cs_test_fresh"), None);
}

#[tokio::test(start_paused = true)]
async fn the_scheduled_pass_stops_when_too_little_of_the_invocation_is_left() {
    let bed = Bed::new();
    bed.payments.put(paid_at("cs_test_missed", 3000));
    bed.payments.put(paid_at("cs_test_webhooked", 1000));
    assert_eq!(bed.fulfil("cs_test_webhooked").await.unwrap(), Outcome::Emailed);
    let within = |seconds: u64| Some(std::time::Instant::now() + Duration::from_secs(seconds));

    // Time to check (the newest is answered by the ledger), not to send:
    // the one to send is left for a later run, not counted failed.
    let report = crate::deadline::scope(within(5), bed.fulfill.reconcile_scheduled()).await.unwrap();
    assert_eq!((counts(&report), report.unchecked), ([1, 1, 0, 0, 0, 0], 1), "{report:?}");
    assert_eq!(bed.ledger.calls(LedgerOp::Claim), 1, "only the webhook's claim");
    // No time even to check.
    let report = crate::deadline::scope(within(1), bed.fulfill.reconcile_scheduled()).await.unwrap();
    assert_eq!((report.checked, report.unchecked), (0, 2), "{report:?}");
    // Time enough.
    let report = crate::deadline::scope(within(20), bed.fulfill.reconcile_scheduled()).await.unwrap();
    assert_eq!((report.fulfilled_sessions.clone(), report.unchecked), (vec!["cs_test_missed".to_owned()], 0));
    assert_eq!(bed.mailer.sent().len(), 2);
}
