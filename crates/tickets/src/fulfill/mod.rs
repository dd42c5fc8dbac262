//! The `fulfill` handler: Stripe's webhook (POST) and the buyer's return to
//! the success page (GET `?session_id=cs_…`) both lead to one fulfilment
//! routine that is safe to run many times, even concurrently.
//!
//! Split by concern: [`http`](self) routing, status mapping and response
//! bodies (`http.rs`); the state machine, what to do with a session given the
//! ledger's record and Stripe's view, and the one claim → render → check
//! lease → send → record path every notice takes (`machine.rs`); what each
//! email says (`render.rs`); and the pages a buyer sees (`pages.rs`). The
//! claim/lease protocol itself is described in [`crate::ledger`].

mod holds;
mod http;
mod machine;
mod pages;
mod reconcile;
mod refunds;
mod render;
mod resend;
#[cfg(test)]
mod tests;

pub use holds::{SWEEP_GRACE_SECONDS, SweepReport};
pub use http::FulfillError;
pub use machine::{FulfillFault, Outcome, order_details, redact_emails};
pub use reconcile::{FailedSession, RECONCILE_SETTLE_SECONDS, ReconcileReport};
pub use resend::Resend;

use crate::config::ConfigCache;
use crate::inventory::Inventory;
use crate::ledger::Ledger;
use crate::mail::Mailer;
use crate::pool::VotekeyPool;
use crate::stripe::Payments;
use std::sync::Arc;
use std::time::Duration;

pub use crate::{Clock, system_clock};

/// How long a claim lasts, and the most a send may take. The sender refuses
/// to start a send unless `send_budget` still fits in its lease, so an
/// expired claim can never be sent on: the lease may be shorter than the
/// function timeout and a crashed claim is retried soon.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTiming {
    pub lease: Duration,
    pub send_budget: Duration,
}

impl Default for ClaimTiming {
    fn default() -> Self {
        // The SES client's operation timeout is 6 s (runtime::aws_config); the function's is 15 s.
        ClaimTiming { lease: Duration::from_secs(10), send_budget: Duration::from_secs(6) }
    }
}

/// Draws a fresh votekey (the config's format); injectable so tests can
/// force collisions.
pub type VotekeyDraw = Arc<dyn Fn(&crate::votekey::VotekeyFormat) -> Result<String, String> + Send + Sync>;

fn random_votekeys() -> VotekeyDraw {
    Arc::new(|format| format.generate().map(|k| k.into_string()).map_err(|e| e.to_string()))
}

/// The fulfill function's state, built once per container.
pub struct Fulfill {
    config: Arc<ConfigCache>,
    payments: Arc<dyn Payments>,
    ledger: Arc<dyn Ledger>,
    mailer: Arc<dyn Mailer>,
    inventory: Option<Arc<dyn Inventory>>,
    pool: Option<Arc<dyn VotekeyPool>>,
    clock: Clock,
    timing: ClaimTiming,
    draw_votekey: VotekeyDraw,
}

impl Fulfill {
    pub fn new(
        config: Arc<ConfigCache>,
        payments: Arc<dyn Payments>,
        ledger: Arc<dyn Ledger>,
        mailer: Arc<dyn Mailer>,
    ) -> Fulfill {
        Fulfill {
            config,
            payments,
            ledger,
            mailer,
            inventory: None,
            pool: None,
            clock: system_clock(),
            timing: ClaimTiming::default(),
            draw_votekey: random_votekeys(),
        }
    }

    /// Where holds live (capacity): paid sessions sell theirs, expired and
    /// failed ones give theirs back, and the sweeper runs.
    pub fn with_inventory(mut self, inventory: Arc<dyn Inventory>) -> Fulfill {
        self.inventory = Some(inventory);
        self
    }

    /// Where imported votekeys wait (config `"votekey_source": "pool"`).
    pub fn with_votekey_pool(mut self, pool: Arc<dyn VotekeyPool>) -> Fulfill {
        self.pool = Some(pool);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Fulfill {
        self.clock = clock;
        self
    }

    pub fn with_timing(mut self, timing: ClaimTiming) -> Fulfill {
        self.timing = timing;
        self
    }

    pub fn with_votekey_draw(mut self, draw: VotekeyDraw) -> Fulfill {
        self.draw_votekey = draw;
        self
    }

    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }
}
