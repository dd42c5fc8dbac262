//! The order ledger: one record per Checkout Session, and the claim that
//! makes "exactly one votekey email" hold across duplicate, concurrent and
//! retried deliveries.
//!
//! A notice (the votekey email, or the payment-failed email) is sent only by
//! whoever holds its claim: a conditional write that succeeds for one caller.
//! A claim expires after a lease, so a crash between claim and send is
//! recovered by the next delivery; the sender checks the lease before sending.

mod dynamo;
mod file;

pub use dynamo::DynamoLedger;
pub use file::FileLedger;

use crate::BoxFuture;
use crate::stripe::PostalAddress;
use std::collections::BTreeMap;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Recorded; payment not settled yet (or settled and not yet claimed).
    Pending,
    /// Someone is sending the votekey email.
    Claimed,
    /// The votekey email went out.
    Emailed,
    /// Someone is sending the payment-failed email.
    FailureClaimed,
    /// The delayed payment failed and the buyer was told.
    Failed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Claimed => "claimed",
            OrderStatus::Emailed => "emailed",
            OrderStatus::FailureClaimed => "failure_claimed",
            OrderStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        [OrderStatus::Pending, OrderStatus::Claimed, OrderStatus::Emailed, OrderStatus::FailureClaimed, OrderStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// Which email a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Votekey,
    PaymentFailed,
}

impl Notice {
    /// The status while claimed, and once sent.
    pub fn statuses(self) -> (OrderStatus, OrderStatus) {
        match self {
            Notice::Votekey => (OrderStatus::Claimed, OrderStatus::Emailed),
            Notice::PaymentFailed => (OrderStatus::FailureClaimed, OrderStatus::Failed),
        }
    }
}

/// What an order is, from the retrieved session and the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderDetails {
    pub session_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub ticket: Option<String>,
    /// Option field → chosen value, e.g. `tshirt` → `l`.
    pub options: BTreeMap<String, String>,
    /// "description × quantity" per line item, for the organizer.
    pub items: Vec<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub shipping_name: Option<String>,
    pub shipping_address: Option<PostalAddress>,
    pub locale: Option<String>,
}

/// An order as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub details: OrderDetails,
    pub status: OrderStatus,
    pub votekey: Option<String>,
    pub created_at: i64,
    pub claimed_at: Option<i64>,
    pub claim_expires_at: Option<i64>,
    pub emailed_at: Option<i64>,
    pub message_id: Option<String>,
}

/// The result of trying to claim a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Ours to send, until `expires_at`; `token` proves it when completing.
    Claimed { token: String, expires_at: i64 },
    /// Sent already: nothing to do.
    AlreadySent,
    /// Someone else holds an unexpired claim.
    InProgress,
    /// Another order holds this votekey: draw another.
    VotekeyTaken,
    /// The order is in a state this notice cannot follow (e.g. paid after failed).
    NotApplicable(OrderStatus),
}

/// The votekey a votekey-email claim carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VotekeyUse<'a> {
    /// Not a votekey email.
    None,
    /// A freshly drawn key: reserve it (unique) with the claim.
    Reserve(&'a str),
    /// The key the order already holds from an earlier, expired claim.
    Keep(&'a str),
}

/// Why a claim was refused, from the order as it stood.
pub fn refusal(notice: Notice, status: OrderStatus, claim_expires_at: Option<i64>, now: i64) -> ClaimOutcome {
    let (claimed, done) = notice.statuses();
    if status == done {
        ClaimOutcome::AlreadySent
    } else if status == claimed && claim_expires_at.is_some_and(|t| t >= now) {
        ClaimOutcome::InProgress
    } else if status == OrderStatus::Pending || status == claimed {
        // Pending or an expired claim, yet the write lost: a racing claimant won.
        ClaimOutcome::InProgress
    } else {
        ClaimOutcome::NotApplicable(status)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("order ledger: {0}")]
pub struct LedgerFault(pub String);

/// The ledger's storage.
pub trait Ledger: Send + Sync {
    /// The order, read consistently.
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>>;

    /// Records (or refreshes) an order's details; a new order starts `pending`.
    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>>;

    /// Claims `notice` for this order, recording its details too. For the
    /// votekey email, `votekey` is reserved in the same atomic write (unique
    /// across orders) unless the order already holds it.
    fn claim<'a>(
        &'a self,
        details: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        now: i64,
        lease_seconds: i64,
    ) -> BoxFuture<'a, Result<ClaimOutcome, LedgerFault>>;

    /// Marks the claimed notice sent. `Ok(false)` if the claim was lost
    /// (expired and taken over) meanwhile.
    fn complete<'a>(
        &'a self,
        session_id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>>;

    /// Every order, newest first (the local dev server's ledger page).
    fn list(&self) -> BoxFuture<'_, Result<Vec<OrderRecord>, LedgerFault>>;
}
