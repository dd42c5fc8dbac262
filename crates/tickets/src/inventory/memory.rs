//! The inventory's rules over plain data: [`InventoryState`], the same
//! conditions as [`DynamoInventory`](super::DynamoInventory)'s atomic writes.
//! It lives inside the ledger's state (the sale happens in the votekey
//! claim), so the in-memory and file ledgers implement [`Inventory`](super::Inventory).

use super::{CounterKey, Counts, Hold, HoldStatus, Limit, Reservation};
use crate::ledger::LedgerFault;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every counter and hold (`{"counters": {...}, "holds": {...}}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InventoryState {
    #[serde(default)]
    counters: BTreeMap<CounterKey, Counts>,
    #[serde(default)]
    holds: BTreeMap<String, Hold>,
}

impl InventoryState {
    /// All or nothing: every counter must have room, and the hold be new.
    pub fn reserve(&mut self, hold: &Hold, limits: &[Limit]) -> Result<Reservation, LedgerFault> {
        for limit in limits {
            let counts = self.counters.get(&limit.counter).cloned().unwrap_or_default();
            if counts.taken() >= limit.capacity {
                return Ok(Reservation::SoldOut { counter: limit.counter.clone(), counts });
            }
        }
        if self.holds.contains_key(&hold.id) {
            return Err(LedgerFault(format!("hold {} exists already", hold.id)));
        }
        for limit in limits {
            let counts = self.counters.entry(limit.counter.clone()).or_default();
            counts.held += 1;
            counts.held_until = Some(hold.expires_at);
        }
        self.holds.insert(hold.id.clone(), hold.clone());
        Ok(Reservation::Held)
    }

    pub fn release(&mut self, hold_id: &str) -> bool {
        let Some(hold) = self.holds.get_mut(hold_id).filter(|h| h.status == HoldStatus::Held) else {
            return false;
        };
        hold.status = HoldStatus::Released;
        for counter in &hold.counters {
            let counts = self.counters.entry(counter.clone()).or_default();
            counts.held = counts.held.saturating_sub(1);
        }
        true
    }

    /// Is the hold still as `seen` says (DynamoDB's condition on the sale)?
    pub(crate) fn can_sell(&self, seen: &Hold) -> bool {
        self.holds
            .get(&seen.id)
            .is_some_and(|h| h.status == seen.status && matches!(h.status, HoldStatus::Held | HoldStatus::Released))
    }

    /// `held → sold` (held − 1, sold + 1) or, for a late payment,
    /// `released → sold` (sold + 1). Call only after [`Self::can_sell`].
    pub(crate) fn sell(&mut self, seen: &Hold) {
        let Some(hold) = self.holds.get_mut(&seen.id) else { return };
        let was_held = hold.status == HoldStatus::Held;
        hold.status = HoldStatus::Sold;
        for counter in &hold.counters {
            let counts = self.counters.entry(counter.clone()).or_default();
            if was_held {
                counts.held = counts.held.saturating_sub(1);
            }
            counts.sold += 1;
        }
    }

    /// Is the hold still as `seen`, and held or sold (places to give back)?
    pub(crate) fn can_give_back(&self, seen: &Hold) -> bool {
        self.holds
            .get(&seen.id)
            .is_some_and(|h| h.status == seen.status && matches!(h.status, HoldStatus::Held | HoldStatus::Sold))
    }

    /// A refunded (or lost) order's places back on sale: held → released,
    /// sold → returned. Call only after [`Self::can_give_back`].
    pub(crate) fn give_back(&mut self, seen: &Hold) {
        let Some(hold) = self.holds.get_mut(&seen.id) else { return };
        let was_sold = hold.status == HoldStatus::Sold;
        hold.status = if was_sold { HoldStatus::Returned } else { HoldStatus::Released };
        for counter in &hold.counters {
            let counts = self.counters.entry(counter.clone()).or_default();
            if was_sold {
                counts.sold = counts.sold.saturating_sub(1);
            } else {
                counts.held = counts.held.saturating_sub(1);
            }
        }
    }

    pub fn hold(&self, hold_id: &str) -> Option<Hold> {
        self.holds.get(hold_id).cloned()
    }

    pub fn counts(&self, counters: &[CounterKey]) -> Vec<Counts> {
        counters.iter().map(|c| self.counters.get(c).cloned().unwrap_or_default()).collect()
    }

    pub fn park(&mut self, hold_id: &str) -> bool {
        let Some(hold) = self.holds.get_mut(hold_id).filter(|h| h.status == HoldStatus::Held) else {
            return false;
        };
        hold.parked = true;
        true
    }

    pub fn expired_holds(&self, now: i64, max: usize) -> Vec<Hold> {
        let mut expired: Vec<Hold> = self
            .holds
            .values()
            .filter(|h| h.status == HoldStatus::Held && !h.parked && h.expires_at < now)
            .cloned()
            .collect();
        expired.sort_by_key(|h| h.expires_at);
        expired.truncate(max);
        expired
    }
}
