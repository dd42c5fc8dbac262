//! The order ledger: one record per Checkout Session, and the claim that
//! makes "exactly one email per notice" hold across duplicate, concurrent and
//! retried deliveries.
//!
//! # The claim/lease protocol
//!
//! A notice (the votekey email, or the payment-failed email) is sent only by
//! whoever holds its claim:
//!
//! 1. **Claim** — one conditional write that succeeds only if the order is
//!    new, `pending`, or holds an *expired* claim for the same notice. It
//!    sets the claimed status, a random token and `claim_expires_at` (now +
//!    the lease). For the votekey email the same atomic write reserves the
//!    key (`votekey#<key>` must not exist) or, on a takeover, keeps the key
//!    the order already holds.
//! 2. **Render** the email.
//! 3. **Check the lease** — the sender starts a send only while the most a
//!    send may take still fits before `claim_expires_at`.
//! 4. **Send**.
//! 5. **Record** — `complete` moves the order to the sent status, conditional
//!    on the token: a claimant whose lease ran out and was taken over learns
//!    so and changes nothing.
//!
//! Invariants:
//! - *At most one email per notice per session*: only a live claim's holder
//!   sends, never after its lease (step 3), and a sent status is final.
//!   (One window remains: the provider accepts the mail and the process dies
//!   before step 5; the next claimant then sends the same votekey again.)
//! - *A votekey is never given to two sessions*: it is reserved in the
//!   claim's own atomic write, and a takeover keeps the order's key.
//! - *A paid session is never left without a retry path*: a claim that is
//!   lost, refused or crashed answers non-2xx or expires, so Stripe's next
//!   delivery (or the buyer's return) claims it again.

pub(crate) mod dynamo;
#[cfg(any(test, feature = "doubles"))]
pub mod memory;

pub use dynamo::{DynamoLedger, order_from_item};

use crate::BoxFuture;
use crate::stripe::PostalAddress;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// Refunded in full: the votekey (if any) is revoked.
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Claimed => "claimed",
            OrderStatus::Emailed => "emailed",
            OrderStatus::FailureClaimed => "failure_claimed",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        [
            OrderStatus::Pending,
            OrderStatus::Claimed,
            OrderStatus::Emailed,
            OrderStatus::FailureClaimed,
            OrderStatus::Failed,
            OrderStatus::Refunded,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// Which email a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Votekey,
    PaymentFailed,
    /// "Your ticket is cancelled", after a full refund. Its claim lives in
    /// the order's `cancellation` field; the status stays `refunded`.
    Cancellation,
}

impl Notice {
    /// The status while claimed, and once sent (the cancellation's are
    /// `cancellation` states, the order staying `refunded`).
    pub fn statuses(self) -> (OrderStatus, OrderStatus) {
        match self {
            Notice::Votekey => (OrderStatus::Claimed, OrderStatus::Emailed),
            Notice::PaymentFailed => (OrderStatus::FailureClaimed, OrderStatus::Failed),
            Notice::Cancellation => (OrderStatus::Refunded, OrderStatus::Refunded),
        }
    }
}

/// Why a votekey no longer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// Refunded in full.
    Refund,
    /// A dispute is open and `revoke_on_dispute` is set (undone if won).
    Dispute,
    /// The dispute was lost.
    DisputeLost,
}

/// A dispute the order carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    Open,
    Lost,
}

/// The cancellation email's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    Due,
    Claimed,
    Sent,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<$t> {
                match s { $($s => Some(<$t>::$v),)+ _ => None }
            }
        }
    };
}
str_enum!(Revocation { Refund => "refund", Dispute => "dispute", DisputeLost => "dispute_lost" });
str_enum!(DisputeState { Open => "open", Lost => "lost" });
str_enum!(NoticeState { Due => "due", Claimed => "claimed", Sent => "sent" });

/// What an order is, from the retrieved session and the catalog. (Serialised
/// with the ledger's attribute names, for the local file ledger.)
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderDetails {
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, rename = "buyer_name", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Option field → chosen value, e.g. `tshirt` → `l`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// "description × quantity" per line item, for the organizer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<PostalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The hold the session was created with (capacity), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<String>,
    /// The session's PaymentIntent: refunds and disputes find the order by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
}

impl OrderDetails {
    /// Refreshes the details as the ledger's `SET` does: given values
    /// overwrite, absent ones keep what was recorded.
    pub fn refresh(&mut self, newer: &OrderDetails) {
        fn keep<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        keep(&mut self.email, &newer.email);
        keep(&mut self.name, &newer.name);
        keep(&mut self.ticket, &newer.ticket);
        keep(&mut self.amount_total, &newer.amount_total);
        keep(&mut self.currency, &newer.currency);
        keep(&mut self.shipping_name, &newer.shipping_name);
        keep(&mut self.shipping_address, &newer.shipping_address);
        keep(&mut self.locale, &newer.locale);
        keep(&mut self.hold_id, &newer.hold_id);
        keep(&mut self.payment_intent, &newer.payment_intent);
        if !newer.options.is_empty() {
            self.options.clone_from(&newer.options);
        }
        if !newer.items.is_empty() {
            self.items.clone_from(&newer.items);
        }
    }
}

/// An order as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    #[serde(flatten)]
    pub details: OrderDetails,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votekey: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emailed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// What refunds and disputes did to it.
    #[serde(flatten)]
    pub standing: Standing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_emailed_at: Option<i64>,
    /// The votekey email sent again by the organizer (`tdf-admin orders
    /// resend`): how often, the last time and to whom.
    #[serde(flatten)]
    pub resent: Resends,
}

/// The organizer's resends of an order's votekey email (same key, never a new one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resends {
    #[serde(default, rename = "resend_count", skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, rename = "resent_at", skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
    #[serde(default, rename = "resent_to", skip_serializing_if = "Option::is_none")]
    pub last_to: Option<String>,
}

/// The part of an order refunds and disputes change. The ledger replaces it
/// only while it is as read, so a duplicate or late event changes nothing twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// Set only when refunds changed the status (to `refunded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    #[serde(default, rename = "revoked_reason", skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_status: Option<DisputeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<NoticeState>,
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

/// A random token identifying one claim.
fn claim_token() -> Result<String, LedgerFault> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| LedgerFault(format!("random token: {e}")))?;
    Ok(hex::encode(bytes))
}

mod standing;
pub use standing::Change;

/// The ledger's storage.
pub trait Ledger: Send + Sync {
    /// The order, read consistently.
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>>;

    /// Records (or refreshes) an order's details; a new order starts `pending`.
    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>>;

    /// Claims `notice` for this order, recording its details too. For the
    /// votekey email, `votekey` is reserved in the same atomic write (unique
    /// across orders) unless the order already holds it, and `sale`'s hold
    /// (as read; unless sold already) becomes sold in it too.
    #[allow(clippy::too_many_arguments)]
    fn claim<'a>(
        &'a self,
        details: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        sale: Option<&'a crate::inventory::Hold>,
        now: i64,
        lease_seconds: i64,
    ) -> BoxFuture<'a, Result<ClaimOutcome, LedgerFault>>;

    /// Applies `change` (a refund's or dispute's) if the order is still as
    /// `change.seen` (`None`: not recorded yet; it is created from
    /// `details`), giving `change.give_back`'s places back in the same atomic
    /// write. `Ok(false)`: the order changed meanwhile; read it again.
    fn update_standing<'a>(
        &'a self,
        details: &'a OrderDetails,
        change: &'a Change,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>>;

    /// The session whose order recorded this PaymentIntent.
    fn find_by_payment_intent<'a>(
        &'a self,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LedgerFault>>;

    /// Records that the votekey email of an `emailed` order was sent again
    /// (to `to`, with the order's own key `votekey`): the count, time and
    /// address of the last resend. `Ok(false)`: the order is not (or no
    /// longer) emailed with that key, and nothing was written. Ledgers used
    /// only by the Lambdas' tests may leave it out.
    fn record_resend<'a>(
        &'a self,
        session_id: &'a str,
        votekey: &'a str,
        to: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        let _ = (session_id, votekey, to, now);
        Box::pin(async { Err(LedgerFault("this ledger does not record resends".into())) })
    }

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

    /// Gives up a claim whose send was refused outright (nothing went out):
    /// its lease ends now, so the next delivery claims and sends at once.
    /// The order keeps its votekey and sale. `Ok(false)`: the claim is not
    /// (or no longer) ours, and nothing was written.
    fn release_claim<'a>(
        &'a self,
        session_id: &'a str,
        token: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>>;
}
