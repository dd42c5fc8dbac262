//! Holds on the fulfil side: a paid session sells its hold (inside the
//! votekey claim), an expired or failed one gives it back, and the sweeper
//! gives back holds whose expiry passed without word from Stripe.

use super::Fulfill;
use super::machine::{FulfillFault, Outcome};
use crate::config::Config;
use crate::inventory::{HOLD_METADATA_KEY, Hold, HoldStatus, Inventory};
use crate::stripe::{SessionView, StripeFault};
use std::collections::BTreeMap;

/// Stripe expires a session at its `expires_at` and sends the event at once;
/// the sweeper leaves a hold alone until this much later.
pub const SWEEP_GRACE_SECONDS: i64 = 120;

/// Holds looked at per sweep (one Query page); the next run takes the rest.
const SWEEP_BATCH: usize = 100;

/// A hold's session is created right after the hold, within the Stripe
/// client's timeout and retries; the window the sweeper lists around it.
const SESSION_WINDOW: (i64, i64) = (60, 180);

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Open holds past their expiry.
    pub checked: usize,
    /// Given back: their session expired (or was never created).
    pub released: usize,
    /// Of those, sessions still open that the sweeper expired through Stripe's API.
    pub expired_now: usize,
    /// Paid sessions whose webhook had not arrived: fulfilled now.
    pub fulfilled: usize,
    /// Complete but awaiting a delayed payment: kept.
    pub kept: usize,
    /// Could not be settled this time (the next run tries again).
    pub failed: usize,
}

enum Swept {
    Released { expired_now: bool },
    Fulfilled,
    Kept,
}

impl Fulfill {
    fn inventory(&self) -> Option<&dyn Inventory> {
        self.inventory.as_deref()
    }

    /// The hold a session carries, as stored now.
    async fn session_hold(&self, session: &SessionView) -> Result<Option<Hold>, FulfillFault> {
        let Some(id) = session.metadata.get(HOLD_METADATA_KEY).filter(|id| Hold::is_hold_id(id)) else {
            return Ok(None);
        };
        let Some(inventory) = self.inventory() else {
            tracing::warn!(session = %session.id, hold = %id, "session has a hold but no inventory is wired in");
            return Ok(None);
        };
        Ok(inventory.hold(id).await?)
    }

    /// The hold a paid session sells in its votekey claim; `None` if it has
    /// none or it is sold already.
    pub(super) async fn hold_to_sell(&self, session: &SessionView) -> Result<Option<Hold>, FulfillFault> {
        let Some(hold) = self.session_hold(session).await? else { return Ok(None) };
        match hold.status {
            // Sold already, or its order was refunded meanwhile (the claim refuses that order).
            HoldStatus::Sold | HoldStatus::Returned => Ok(None),
            HoldStatus::Held => Ok(Some(hold)),
            HoldStatus::Released => {
                crate::alert!(
                    crate::alert::Alert::SoldAfterRelease,
                    session = %session.id,
                    hold = %hold.id,
                    "paid after its hold was given back: sold anyway, which may pass a capacity; check the counts"
                );
                Ok(Some(hold))
            }
        }
    }

    /// Gives back the hold of a session that can no longer be paid. `true`
    /// if it was held until now.
    pub(super) async fn release_session_hold(&self, session: &SessionView) -> Result<bool, FulfillFault> {
        let (Some(hold), Some(inventory)) = (self.session_hold(session).await?, self.inventory()) else {
            return Ok(false);
        };
        if hold.status != HoldStatus::Held {
            return Ok(false);
        }
        Ok(inventory.release(&hold, self.now()).await?)
    }

    /// `checkout.session.expired`: give the hold back, on Stripe's word
    /// rather than the event's.
    pub(super) async fn expire(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillFault> {
        let Some(session) = self.payments.retrieve_session(config.stripe_secret_key(), session_id).await? else {
            return Ok(Outcome::UnknownSession);
        };
        if !session.expired {
            return Ok(Outcome::NotApplicable);
        }
        let released = self.release_session_hold(&session).await?;
        tracing::info!(session = session_id, released, "checkout session expired");
        Ok(Outcome::Expired)
    }

    /// The sweeper: settles holds past their expiry that no webhook settled.
    pub async fn sweep(&self) -> Result<SweepReport, FulfillFault> {
        let mut report = SweepReport::default();
        let Some(inventory) = self.inventory() else { return Ok(report) };
        let config = self.config.current().await?;
        let holds = inventory.expired_holds(self.now() - SWEEP_GRACE_SECONDS, SWEEP_BATCH).await?;
        report.checked = holds.len();
        for batch in batches(holds) {
            self.sweep_batch(&config, inventory, &batch, &mut report).await?;
        }
        Ok(report)
    }

    /// One listing of Stripe's sessions covers a batch of holds made close together.
    async fn sweep_batch(
        &self,
        config: &Config,
        inventory: &dyn Inventory,
        holds: &[Hold],
        report: &mut SweepReport,
    ) -> Result<(), FulfillFault> {
        let (Some(first), Some(last)) = (holds.first(), holds.last()) else { return Ok(()) };
        let key = config.stripe_secret_key();
        let (from, to) = (first.created_at - SESSION_WINDOW.0, last.created_at + SESSION_WINDOW.1);
        let listed = self.payments.sessions_created_between(key, from, to).await?;
        let by_hold: BTreeMap<&str, &SessionView> =
            listed.iter().filter_map(|s| Some((s.metadata.get(HOLD_METADATA_KEY)?.as_str(), s))).collect();
        for hold in holds {
            match self.sweep_hold(config, inventory, hold, by_hold.get(hold.id.as_str()).copied()).await {
                Ok(Swept::Released { expired_now }) => {
                    report.released += 1;
                    report.expired_now += usize::from(expired_now);
                }
                Ok(Swept::Fulfilled) => report.fulfilled += 1,
                Ok(Swept::Kept) => report.kept += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(hold = %hold.id, error = %e, "sweeping a hold failed; the next run retries");
                }
            }
        }
        Ok(())
    }

    async fn sweep_hold(
        &self,
        config: &Config,
        inventory: &dyn Inventory,
        hold: &Hold,
        listed: Option<&SessionView>,
    ) -> Result<Swept, FulfillFault> {
        let key = config.stripe_secret_key();
        let Some(listed) = listed else {
            // No session carries this hold: Stripe never created one, so nobody can pay for it.
            inventory.release(hold, self.now()).await?;
            return Ok(Swept::Released { expired_now: false });
        };
        let mut expired_now = false;
        let session = if listed.complete || listed.expired {
            listed.clone()
        } else {
            // Open past its expiry: expire it so it can no longer be paid, then believe Stripe.
            match self.payments.expire_session(key, &listed.id).await {
                Ok(()) => expired_now = true,
                Err(StripeFault::Api { status: 400, .. }) => {} // completed or expired meanwhile
                Err(e) => return Err(e.into()),
            }
            self.payments.retrieve_session(key, &listed.id).await?.unwrap_or_else(|| listed.clone())
        };
        if session.expired {
            inventory.release(hold, self.now()).await?;
            Ok(Swept::Released { expired_now })
        } else if session.complete && session.payment_status.is_settled() {
            self.fulfill(config, &session.id).await?;
            Ok(Swept::Fulfilled)
        } else {
            // Complete, awaiting a delayed payment: its webhook decides, not the clock.
            inventory.park(hold).await?;
            Ok(Swept::Kept)
        }
    }
}

/// Holds sorted by creation, cut where two are more than ten minutes apart,
/// so no listing spans the quiet hours between two bursts of sales.
fn batches(mut holds: Vec<Hold>) -> Vec<Vec<Hold>> {
    holds.sort_by_key(|h| h.created_at);
    let mut batches: Vec<Vec<Hold>> = Vec::new();
    for hold in holds {
        match batches.last_mut() {
            Some(batch) if batch.last().is_some_and(|l| hold.created_at - l.created_at <= 600) => batch.push(hold),
            _ => batches.push(vec![hold]),
        }
    }
    batches
}
