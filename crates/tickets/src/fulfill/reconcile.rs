//! Reconciliation: Stripe's completed Checkout Sessions checked against the
//! ledger, so a paid order gets its email even when its webhook is lost
//! (Stripe's fulfilment guide: "make sure fulfillment happens even if the
//! webhook is missed"). Every paid session of ours goes through the one
//! fulfilment routine, [`Fulfill::fulfill`]: an order emailed already is
//! answered by the ledger without a Stripe call, and the claim makes a race
//! with a late webhook send one email, not two.
//!
//! It runs on the sweeper's schedule ([`Fulfill::reconcile_scheduled`]) and
//! by hand (`tdf-admin orders reconcile`, [`Fulfill::reconcile`]).

use super::Fulfill;
use super::machine::{FulfillFault, Outcome, is_ours, redact_emails};
use crate::config::Config;
use crate::stripe::{SessionView, StripeFault};
use std::time::Duration;

/// The schedule leaves sessions created this recently to their webhook.
/// Stripe lists no completion time, only `created`; most buyers pay within
/// a few minutes of it and their webhook arrives seconds later, so checking
/// those would only race the webhook (harmless, the claim decides, but a
/// Stripe read each at the busiest moment of a drop). A missed one is
/// caught on the first run after this delay.
pub const RECONCILE_SETTLE_SECONDS: i64 = 300;

/// A session is started only with this much of the invocation left (see
/// [`crate::deadline`]; none by hand): a ledger read and a Stripe read take
/// far less. The send checks for its own, longer, budget, and a session
/// refused for lack of time ends the pass.
const SESSION_TIME: Duration = Duration::from_secs(3);

/// A pause after each session that needed Stripe, so the pass takes at most
/// a few requests a second of the account's rate limit (100/s live, 25/s
/// test), which it shares with the buyers' checkouts. Sessions answered by
/// the ledger alone (the usual case) are not paced.
const STRIPE_PACE: Duration = Duration::from_millis(200);

/// Stripe still answered 429 after its client's own retries: wait this
/// long, then try that session once more.
const RATE_LIMITED_PAUSE: Duration = Duration::from_secs(2);

/// What one reconciliation pass did. `checked` = `already_emailed` +
/// `fulfilled_now` + `in_progress` + `not_sent` + `failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    /// How many days back the pass looked.
    pub days: u32,
    /// Completed sessions Stripe listed in that window.
    pub listed: usize,
    /// Not this shop's ticket sessions (another integration, a Payment Link): left alone.
    pub not_ours: usize,
    /// Ours, complete but not paid yet (a delayed method): their payment's
    /// webhook settles them, or a later pass once Stripe shows them paid.
    pub awaiting_payment: usize,
    /// Ours and paid, created within [`RECONCILE_SETTLE_SECONDS`]: left to their webhook (scheduled runs only).
    pub too_recent: usize,
    /// Ours and paid: run through the fulfilment routine.
    pub checked: usize,
    /// The ledger shows the votekey email sent.
    pub already_emailed: usize,
    /// Emailed by this pass: no webhook or landing page had done it.
    pub fulfilled_now: usize,
    /// Another delivery (a webhook arriving now) holds the claim and is sending.
    pub in_progress: usize,
    /// Settled by the routine without an email: refunded before fulfilment,
    /// no email address (alerted), an order state that takes no votekey.
    pub not_sent: usize,
    /// The routine failed for the session (Stripe, DynamoDB, SES): the next pass tries again.
    pub failed: usize,
    /// Not checked: the invocation's time ran out (scheduled runs only).
    pub unchecked: usize,
    /// The sessions emailed by this pass.
    pub fulfilled_sessions: Vec<String>,
    /// The sessions that failed, and why.
    pub failed_sessions: Vec<FailedSession>,
}

/// A session the routine failed for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedSession {
    pub session_id: String,
    /// The fault, email addresses redacted.
    pub error: String,
}

/// How far one pass goes.
struct Pass {
    days: u32,
    /// Sessions created less than this long ago are left to their webhook.
    settle_seconds: i64,
}

/// What a listed session needs.
enum Triage {
    NotOurs,
    AwaitingPayment,
    TooRecent,
    Due,
}

fn triage(config: &Config, session: &SessionView, created_by: i64) -> Triage {
    // Checked on the listing: a session not ours never gets an order, so
    // the routine would ask Stripe about it again on every run.
    if !is_ours(config, session) {
        Triage::NotOurs
    } else if !(session.complete && session.payment_status.is_settled()) {
        Triage::AwaitingPayment
    } else if session.created > created_by {
        Triage::TooRecent
    } else {
        Triage::Due
    }
}

impl Fulfill {
    /// By hand: every paid session of ours completed in the last `days`
    /// days, however recent.
    pub async fn reconcile(&self, config: &Config, days: u32) -> Result<ReconcileReport, FulfillFault> {
        self.reconcile_pass(config, Pass { days, settle_seconds: 0 }).await
    }

    /// On the schedule: the config's `reconcile_days`, leaving the newest
    /// sessions to their webhooks.
    pub async fn reconcile_scheduled(&self) -> Result<ReconcileReport, FulfillFault> {
        let config = self.config.current().await?;
        let pass = Pass { days: config.reconcile_days(), settle_seconds: RECONCILE_SETTLE_SECONDS };
        self.reconcile_pass(&config, pass).await
    }

    /// Fails only if Stripe's listing does; a session that fails is counted,
    /// logged and left for the next pass.
    async fn reconcile_pass(&self, config: &Config, pass: Pass) -> Result<ReconcileReport, FulfillFault> {
        let now = self.now();
        let from = now - i64::from(pass.days) * 86_400;
        let listed = self.payments.completed_sessions_created_between(config.stripe_secret_key(), from, now).await?;
        let mut report = ReconcileReport { days: pass.days, listed: listed.len(), ..ReconcileReport::default() };
        let mut due = Vec::new();
        for session in &listed {
            match triage(config, session, now - pass.settle_seconds) {
                Triage::NotOurs => report.not_ours += 1,
                Triage::AwaitingPayment => report.awaiting_payment += 1,
                Triage::TooRecent => report.too_recent += 1,
                Triage::Due => due.push(session.id.as_str()),
            }
        }
        // Newest first, as Stripe lists them: when time runs out, what is
        // left is older, and was checked by earlier runs when it was new.
        for (done, session_id) in due.iter().enumerate() {
            let result = if crate::deadline::allows(SESSION_TIME) {
                self.reconcile_session(config, session_id).await
            } else {
                Err(FulfillFault::OutOfTime)
            };
            if let Err(FulfillFault::OutOfTime) = result {
                report.unchecked = due.len() - done;
                crate::alert!(
                    crate::alert::Alert::ScheduledRunFailed,
                    route = "reconcile",
                    unchecked = report.unchecked,
                    "reconciliation ran out of time: run `tdf-admin orders reconcile`, or lower reconcile_days"
                );
                break;
            }
            report.count(session_id, result);
        }
        if report.fulfilled_now > 0 {
            crate::alert!(
                crate::alert::Alert::WebhookMissed,
                fulfilled_now = report.fulfilled_now,
                sessions = %report.fulfilled_sessions.join(","),
                "reconciliation emailed paid orders no webhook had fulfilled: check the webhook endpoint in Stripe's Dashboard"
            );
        }
        Ok(report)
    }

    /// One session through the routine, paced; a rate limit that outlasted
    /// the Stripe client's retries is waited out once, time permitting.
    async fn reconcile_session(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillFault> {
        let mut result = self.fulfill(config, session_id).await;
        let rate_limited = matches!(&result, Err(FulfillFault::Stripe(StripeFault::Api { status: 429, .. })));
        if rate_limited && crate::deadline::allows(RATE_LIMITED_PAUSE + SESSION_TIME) {
            tokio::time::sleep(RATE_LIMITED_PAUSE).await;
            result = self.fulfill(config, session_id).await;
        }
        if !matches!(result, Ok(Outcome::AlreadyEmailed)) {
            tokio::time::sleep(STRIPE_PACE).await;
        }
        result
    }
}

impl ReconcileReport {
    fn count(&mut self, session_id: &str, result: Result<Outcome, FulfillFault>) {
        self.checked += 1;
        match result {
            Ok(Outcome::AlreadyEmailed) => self.already_emailed += 1,
            Ok(Outcome::InProgress) => self.in_progress += 1,
            Ok(Outcome::Emailed) => {
                tracing::info!(session = session_id, outcome = "emailed", "reconciled");
                self.fulfilled_now += 1;
                self.fulfilled_sessions.push(session_id.to_owned());
            }
            Ok(outcome) => {
                tracing::info!(session = session_id, outcome = outcome.as_str(), "reconciled");
                self.not_sent += 1;
            }
            Err(fault) => {
                let error = redact_emails(&fault.to_string());
                tracing::warn!(session = session_id, outcome = fault.outcome(), %error, "reconciling a session failed; the next pass retries");
                self.failed += 1;
                self.failed_sessions.push(FailedSession { session_id: session_id.to_owned(), error });
            }
        }
    }
}
