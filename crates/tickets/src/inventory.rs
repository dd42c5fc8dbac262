//! Capacity and holds: never sell more tickets (or T-shirts of a size) than
//! the organizer has.
//!
//! # Counters and holds
//!
//! Everything an order counts against is a *counter*: its ticket
//! (`ticket#visitor`), the ticket's capacity group (`group#hall`) and each
//! chosen option with a stock (`stock#tshirt#m`). A counter keeps `held`
//! (in open checkouts), `sold` and `taken` = held + sold; the limit itself
//! stays in the config, so an organizer can raise it between two requests.
//!
//! 1. **Reserve** (checkout, before Stripe): one atomic write adds 1 to
//!    `held` and `taken` of every counter, each conditional on
//!    `taken ≤ limit − 1`, and creates the *hold* (`hold#<id>`: its counters,
//!    `expires_at`, status `held`). Any full counter refuses the whole write.
//! 2. The Checkout Session is created with the hold's id in its metadata and
//!    `expires_at` = the hold's.
//! 3. **Sell** (fulfil, in the same atomic write that claims the votekey
//!    email): the hold `held → sold`, every counter `held − 1, sold + 1`.
//! 4. **Release** (Stripe failed, the session expired, the delayed payment
//!    failed, or the sweeper found it past `expires_at`): the hold
//!    `held → released`, every counter `held − 1, taken − 1`.
//!
//! Invariants:
//! - *Never more taken than the limit*: only step 1 raises `taken`, and only
//!   under its condition. (One exception, logged: a session paid after its
//!   hold was released is still honoured, `released → sold`.)
//! - *Every hold changes the counters at most once per transition*: sell and
//!   release are conditional on the hold's status, in the same atomic write
//!   as the counters, so duplicate or out-of-order events change nothing.
//! - *A hold whose session can still be paid is never released*: releases
//!   follow Stripe's word (the session failed to be created, or is expired).

mod dynamo;
#[cfg(any(test, feature = "doubles"))]
pub mod memory;

pub use dynamo::{DynamoInventory, OPEN_HOLDS_INDEX};
pub(crate) use dynamo::{give_back_writes, jittered, sale_writes};

use crate::BoxFuture;
use crate::config::{Catalog, Ticket};
use crate::ledger::LedgerFault;
use crate::order::TicketOrder;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an order counts against: `ticket#<id>`, `group#<name>` or
/// `stock#<field>#<value>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CounterKey(String);

impl CounterKey {
    pub fn ticket(ticket: &Ticket) -> CounterKey {
        CounterKey(format!("ticket#{}", ticket.id()))
    }
    pub fn group(name: &str) -> CounterKey {
        CounterKey(format!("group#{name}"))
    }
    /// Stock is a pile per option field and value, shared by every ticket
    /// that offers the choice (the config checks they agree on its size).
    pub fn stock(field: &str, value: &str) -> CounterKey {
        CounterKey(format!("stock#{field}#{value}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub(crate) fn from_stored(s: String) -> CounterKey {
        CounterKey(s)
    }
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One counter an order takes a place from, and its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub counter: CounterKey,
    pub capacity: u32,
}

/// Every limited counter `order` counts against: its ticket's capacity, its
/// capacity group, the stock of each chosen option. Empty: nothing to hold.
pub fn limits(catalog: &Catalog, order: &TicketOrder<'_>) -> Vec<Limit> {
    let ticket = order.ticket();
    let mut limits = Vec::new();
    if let Some(capacity) = ticket.capacity() {
        limits.push(Limit { counter: CounterKey::ticket(ticket), capacity });
    }
    if let Some(group) = ticket.capacity_group()
        && let Some(capacity) = catalog.group_capacity(group)
    {
        limits.push(Limit { counter: CounterKey::group(group), capacity });
    }
    for (group, choice) in order.choices() {
        if let Some(capacity) = choice.stock() {
            limits.push(Limit { counter: CounterKey::stock(group.field(), choice.value()), capacity });
        }
    }
    limits
}

/// Where a hold stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Held,
    Sold,
    Released,
    /// Sold, then refunded (or its dispute lost): its places went back on sale.
    Returned,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Sold => "sold",
            HoldStatus::Released => "released",
            HoldStatus::Returned => "returned",
        }
    }
    pub fn parse(s: &str) -> Option<HoldStatus> {
        [HoldStatus::Held, HoldStatus::Sold, HoldStatus::Released, HoldStatus::Returned]
            .into_iter()
            .find(|h| h.as_str() == s)
    }
}

/// Places held for one checkout, until its Checkout Session is paid or expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub counters: Vec<CounterKey>,
    pub status: HoldStatus,
    pub created_at: i64,
    pub expires_at: i64,
    /// Held but awaiting a delayed payment: the sweeper leaves it alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
}

/// Metadata key carrying the hold id on the Checkout Session.
pub const HOLD_METADATA_KEY: &str = "hold_id";

impl Hold {
    /// A new hold on `limits`' counters with a random id, expiring
    /// `hold_seconds` from `now`.
    pub fn new(limits: &[Limit], now: i64, hold_seconds: i64) -> Result<Hold, LedgerFault> {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).map_err(|e| LedgerFault(format!("random hold id: {e}")))?;
        Ok(Hold {
            id: format!("hold_{}", hex::encode(bytes)),
            counters: limits.iter().map(|l| l.counter.clone()).collect(),
            status: HoldStatus::Held,
            created_at: now,
            expires_at: now + hold_seconds,
            parked: false,
        })
    }

    /// Is `id` shaped like a hold id (it arrives in session metadata)?
    pub fn is_hold_id(id: &str) -> bool {
        id.strip_prefix("hold_").is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

/// A counter's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub held: u32,
    pub sold: u32,
    /// When the newest hold on this counter expires: by then every open
    /// checkout has been paid or given back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<i64>,
}

impl Counts {
    pub fn taken(&self) -> u32 {
        self.held + self.sold
    }
    pub fn available(&self, capacity: u32) -> u32 {
        capacity.saturating_sub(self.taken())
    }
}

/// The answer to a reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Every counter had room; the hold is stored.
    Held,
    /// `counter` is full (its state as the refused write saw it).
    SoldOut { counter: CounterKey, counts: Counts },
    /// So many buyers wrote the same counters at once that the write kept
    /// losing within its time budget: nothing was taken; try again shortly.
    Contended,
}

/// The inventory's storage. The sale itself happens inside the votekey claim
/// ([`crate::ledger::Ledger::claim`]), so a paid order's place and its email
/// are settled in one atomic write.
pub trait Inventory: Send + Sync {
    /// Takes a place on every counter of `limits` and stores `hold`, atomically.
    fn reserve<'a>(&'a self, hold: &'a Hold, limits: &'a [Limit]) -> BoxFuture<'a, Result<Reservation, LedgerFault>>;

    /// Gives a held hold's places back. `Ok(false)`: it was not held (sold,
    /// released already, or unknown) and nothing changed.
    fn release<'a>(&'a self, hold: &'a Hold, now: i64) -> BoxFuture<'a, Result<bool, LedgerFault>>;

    /// The hold, read consistently.
    fn hold<'a>(&'a self, hold_id: &'a str) -> BoxFuture<'a, Result<Option<Hold>, LedgerFault>>;

    /// Each counter's state, in the order asked (zero for a counter never used).
    fn counts<'a>(&'a self, counters: &'a [CounterKey]) -> BoxFuture<'a, Result<Vec<Counts>, LedgerFault>>;

    /// Up to `max` holds still `held` whose `expires_at` is before `now`,
    /// oldest first; parked holds are not among them.
    fn expired_holds<'a>(&'a self, now: i64, max: usize) -> BoxFuture<'a, Result<Vec<Hold>, LedgerFault>>;

    /// Takes a held hold out of the sweeper's sight: its session is complete
    /// and awaits a delayed payment (konbini can take days), whose webhook
    /// sells or releases it. `Ok(false)`: it was not held.
    fn park<'a>(&'a self, hold: &'a Hold) -> BoxFuture<'a, Result<bool, LedgerFault>>;
}

#[cfg(test)]
mod tests;
