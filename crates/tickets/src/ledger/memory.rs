//! The ledger's claim rules over plain data: [`LedgerState`], the same
//! conditions as [`DynamoLedger`](super::DynamoLedger)'s conditional writes,
//! applied under a lock. [`MemoryLedger`] is the in-memory double the unit
//! tests use (with injectable faults); the local dev server's file ledger
//! persists the same state as JSON. Not compiled into the Lambdas (feature
//! `doubles`).

use super::{
    Change, ClaimOutcome, Ledger, LedgerFault, Notice, NoticeState, OrderDetails, OrderRecord, OrderStatus, Standing,
    VotekeyUse, claim_token,
};
use crate::BoxFuture;
use crate::inventory::memory::InventoryState;
use crate::inventory::{CounterKey, Counts, Hold, HoldStatus, Inventory, Limit, Reservation};
use crate::pool::{ImportReport, VotekeyPool};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Every order and votekey reservation, as a serialisable document
/// (`{"orders": {...}, "votekeys": {...}}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LedgerState {
    #[serde(default)]
    orders: BTreeMap<String, StoredOrder>,
    /// votekey → the session that holds it.
    #[serde(default)]
    votekeys: BTreeMap<String, String>,
    /// Capacity counters and holds.
    #[serde(default)]
    pub inventory: InventoryState,
    /// Imported votekeys in import order, and how many were handed out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pool: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pool_next: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredOrder {
    #[serde(flatten)]
    record: OrderRecord,
    updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_token: Option<String>,
}

impl StoredOrder {
    fn new(details: &OrderDetails, now: i64) -> StoredOrder {
        let record = OrderRecord {
            details: details.clone(),
            status: OrderStatus::Pending,
            votekey: None,
            created_at: now,
            claimed_at: None,
            claim_expires_at: None,
            emailed_at: None,
            message_id: None,
            standing: Standing::default(),
            cancellation_emailed_at: None,
            resent: Default::default(),
        };
        StoredOrder { record, updated_at: now, claim_token: None }
    }

    fn refresh(&mut self, details: &OrderDetails, now: i64) {
        self.record.details.refresh(details);
        self.updated_at = now;
    }
}

impl LedgerState {
    pub fn get(&self, session_id: &str) -> Option<OrderRecord> {
        self.orders.get(session_id).map(|o| o.record.clone())
    }

    /// Every order, newest first.
    pub fn orders(&self) -> Vec<OrderRecord> {
        let mut orders: Vec<OrderRecord> = self.orders.values().map(|o| o.record.clone()).collect();
        orders.sort_by(|a, b| {
            b.created_at.cmp(&a.created_at).then_with(|| a.details.session_id.cmp(&b.details.session_id))
        });
        orders
    }

    pub fn record(&mut self, details: &OrderDetails, now: i64) {
        self.orders
            .entry(details.session_id.clone())
            .and_modify(|o| o.refresh(details, now))
            .or_insert_with(|| StoredOrder::new(details, now));
    }

    pub fn claim(
        &mut self,
        details: &OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'_>,
        sale: Option<&Hold>,
        now: i64,
        lease_seconds: i64,
    ) -> Result<ClaimOutcome, LedgerFault> {
        if notice == Notice::Cancellation {
            return self.claim_cancellation(&details.session_id, now, lease_seconds);
        }
        let sale = sale.filter(|hold| hold.status != HoldStatus::Sold);
        let (claimed, _) = notice.statuses();
        if let Some(order) = self.orders.get(&details.session_id) {
            let record = &order.record;
            // DynamoLedger's condition: pending, or an expired claim for this
            // same notice; and the votekey as expected.
            let claimable = record.status == OrderStatus::Pending
                || (record.status == claimed && record.claim_expires_at.is_some_and(|t| t < now));
            let key_ok = match votekey {
                VotekeyUse::None => true,
                VotekeyUse::Reserve(_) => record.votekey.is_none(),
                VotekeyUse::Keep(key) => record.votekey.as_deref() == Some(key),
            };
            if !(claimable && key_ok) {
                return Ok(super::refusal(notice, record.status, record.claim_expires_at, now));
            }
        }
        if let VotekeyUse::Reserve(key) = votekey
            && self.votekeys.contains_key(key)
        {
            return Ok(ClaimOutcome::VotekeyTaken);
        }
        if sale.is_some_and(|hold| !self.inventory.can_sell(hold)) {
            // The hold moved since it was read: the next attempt reads it again.
            return Ok(ClaimOutcome::InProgress);
        }
        if let Some(hold) = sale {
            self.inventory.sell(hold);
        }
        let token = claim_token()?;
        let expires_at = now + lease_seconds;
        let order = self.orders.entry(details.session_id.clone()).or_insert_with(|| StoredOrder::new(details, now));
        order.refresh(details, now);
        order.record.status = claimed;
        order.record.claimed_at = Some(now);
        order.record.claim_expires_at = Some(expires_at);
        order.claim_token = Some(token.clone());
        match votekey {
            VotekeyUse::None => {}
            VotekeyUse::Keep(key) => order.record.votekey = Some(key.to_owned()),
            VotekeyUse::Reserve(key) => {
                order.record.votekey = Some(key.to_owned());
                self.votekeys.insert(key.to_owned(), details.session_id.clone());
            }
        }
        Ok(ClaimOutcome::Claimed { token, expires_at })
    }

    /// The cancellation email's claim: on the `cancellation` field, while
    /// due or claimed with an expired lease; the order stays `refunded`.
    fn claim_cancellation(
        &mut self,
        session_id: &str,
        now: i64,
        lease_seconds: i64,
    ) -> Result<ClaimOutcome, LedgerFault> {
        let Some(order) = self.orders.get_mut(session_id) else {
            return Ok(ClaimOutcome::NotApplicable(OrderStatus::Pending));
        };
        let record = &mut order.record;
        let live = record.claim_expires_at.is_some_and(|t| t >= now);
        match (record.status, record.standing.cancellation) {
            (OrderStatus::Refunded, Some(NoticeState::Due)) => {}
            (OrderStatus::Refunded, Some(NoticeState::Claimed)) if !live => {}
            (_, Some(NoticeState::Sent)) => return Ok(ClaimOutcome::AlreadySent),
            (_, Some(NoticeState::Claimed)) => return Ok(ClaimOutcome::InProgress),
            (status, _) => return Ok(ClaimOutcome::NotApplicable(status)),
        }
        let token = claim_token()?;
        let expires_at = now + lease_seconds;
        record.standing.cancellation = Some(NoticeState::Claimed);
        record.claim_expires_at = Some(expires_at);
        order.claim_token = Some(token.clone());
        Ok(ClaimOutcome::Claimed { token, expires_at })
    }

    /// DynamoLedger's `release_claim`: the lease ends now, if the claim is `token`'s.
    pub fn release_claim(&mut self, session_id: &str, token: &str, now: i64) -> bool {
        let Some(order) = self.orders.get_mut(session_id).filter(|o| o.claim_token.as_deref() == Some(token)) else {
            return false;
        };
        order.record.claim_expires_at = Some(now - 1);
        order.claim_token = None;
        true
    }

    /// DynamoLedger's `update_standing`: only while the order is as seen.
    pub fn update_standing(&mut self, details: &OrderDetails, change: &Change, now: i64) -> bool {
        let current = self.orders.get(&details.session_id).map(|o| (o.record.status, o.record.standing.clone()));
        if current != change.seen {
            return false;
        }
        if let Some(hold) = &change.give_back
            && !self.inventory.can_give_back(hold)
        {
            return false;
        }
        if let Some(hold) = &change.give_back {
            self.inventory.give_back(hold);
        }
        let order = self.orders.entry(details.session_id.clone()).or_insert_with(|| StoredOrder::new(details, now));
        order.refresh(details, now);
        order.record.status = change.status;
        order.record.standing = change.standing.clone();
        true
    }

    /// The pool's rules (see [`crate::pool`]): the next key, once.
    pub fn draw_from_pool(&mut self) -> Option<String> {
        let key = self.pool.get(self.pool_next).cloned()?;
        self.pool_next += 1;
        Some(key)
    }

    pub fn import_to_pool(&mut self, keys: &[String]) -> ImportReport {
        let mut report = ImportReport::default();
        for key in keys {
            if self.pool.contains(key) || self.votekeys.contains_key(key) {
                report.skipped += 1;
            } else {
                self.pool.push(key.clone());
                report.added += 1;
            }
        }
        report.remaining = self.pool_remaining();
        report
    }

    pub fn pool_remaining(&self) -> u64 {
        self.pool.len().saturating_sub(self.pool_next) as u64
    }

    pub fn find_by_payment_intent(&self, payment_intent: &str) -> Option<String> {
        self.orders
            .values()
            .find(|o| o.record.details.payment_intent.as_deref() == Some(payment_intent))
            .map(|o| o.record.details.session_id.clone())
    }

    pub fn complete(&mut self, session_id: &str, notice: Notice, token: &str, message_id: &str, now: i64) -> bool {
        if notice == Notice::Cancellation {
            return self.complete_cancellation(session_id, token, now);
        }
        let (claimed, done) = notice.statuses();
        let Some(order) = self.orders.get_mut(session_id) else { return false };
        if order.record.status != claimed || order.claim_token.as_deref() != Some(token) {
            return false;
        }
        order.record.status = done;
        order.record.emailed_at = Some(now);
        order.record.message_id = Some(message_id.to_owned());
        order.claim_token = None;
        true
    }
}

impl LedgerState {
    /// The votekey email sent again: see [`Ledger::record_resend`].
    pub fn record_resend(&mut self, session_id: &str, votekey: &str, to: &str, now: i64) -> bool {
        let Some(order) = self.orders.get_mut(session_id) else { return false };
        let record = &mut order.record;
        if record.status != OrderStatus::Emailed || record.votekey.as_deref() != Some(votekey) {
            return false;
        }
        record.resent.count = Some(record.resent.count.unwrap_or(0) + 1);
        record.resent.last_at = Some(now);
        record.resent.last_to = Some(to.to_owned());
        true
    }

    fn complete_cancellation(&mut self, session_id: &str, token: &str, now: i64) -> bool {
        let Some(order) = self.orders.get_mut(session_id) else { return false };
        if order.record.standing.cancellation != Some(NoticeState::Claimed)
            || order.claim_token.as_deref() != Some(token)
        {
            return false;
        }
        order.record.standing.cancellation = Some(NoticeState::Sent);
        order.record.cancellation_emailed_at = Some(now);
        order.claim_token = None;
        true
    }
}

/// A ledger operation, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOp {
    Get,
    Record,
    Claim,
    Complete,
    Reserve,
    Release,
    InventoryRead,
    UpdateStanding,
    RecordResend,
    ReleaseClaim,
}

/// The in-memory ledger double: [`LedgerState`] behind a mutex, with
/// scripted faults and a count of calls per operation.
#[derive(Default)]
pub struct MemoryLedger {
    state: Mutex<LedgerState>,
    faults: Mutex<Vec<LedgerOp>>,
    lost_answers: Mutex<Vec<LedgerOp>>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl MemoryLedger {
    pub fn new() -> MemoryLedger {
        MemoryLedger::default()
    }

    /// The next `times` calls of `op` fail with a [`LedgerFault`].
    pub fn fail(&self, op: LedgerOp, times: usize) {
        lock(&self.faults).extend(std::iter::repeat_n(op, times));
    }

    /// The next `times` calls of `op` take effect, then fail with a
    /// [`LedgerFault`]: a write that committed but whose answer was lost.
    pub fn lose_answer(&self, op: LedgerOp, times: usize) {
        lock(&self.lost_answers).extend(std::iter::repeat_n(op, times));
    }

    /// A fault if `op`'s answer is to be lost (call after applying it).
    fn answer(&self, op: LedgerOp) -> Result<(), LedgerFault> {
        let mut lost = lock(&self.lost_answers);
        match lost.iter().position(|f| *f == op) {
            Some(i) => {
                lost.remove(i);
                Err(LedgerFault(format!("{} applied, its answer lost", op_name(op))))
            }
            None => Ok(()),
        }
    }

    /// How many times `op` was called (faulted calls included).
    pub fn calls(&self, op: LedgerOp) -> usize {
        lock(&self.calls).get(op_name(op)).copied().unwrap_or(0)
    }

    /// Every order, newest first.
    pub fn orders(&self) -> Vec<OrderRecord> {
        lock(&self.state).orders()
    }

    /// The state itself, outside the trait (no faults, not counted): a test
    /// acting as another process in the middle of a call.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut LedgerState) -> R) -> R {
        f(&mut lock(&self.state))
    }

    fn enter(&self, op: LedgerOp) -> Result<MutexGuard<'_, LedgerState>, LedgerFault> {
        *lock(&self.calls).entry(op_name(op)).or_default() += 1;
        let mut faults = lock(&self.faults);
        if let Some(i) = faults.iter().position(|f| *f == op) {
            faults.remove(i);
            return Err(LedgerFault(format!("injected {} fault", op_name(op))));
        }
        Ok(lock(&self.state))
    }
}

fn op_name(op: LedgerOp) -> &'static str {
    match op {
        LedgerOp::Get => "get",
        LedgerOp::Record => "record",
        LedgerOp::Claim => "claim",
        LedgerOp::Complete => "complete",
        LedgerOp::Reserve => "reserve",
        LedgerOp::Release => "release",
        LedgerOp::InventoryRead => "inventory_read",
        LedgerOp::UpdateStanding => "update_standing",
        LedgerOp::RecordResend => "record_resend",
        LedgerOp::ReleaseClaim => "release_claim",
    }
}

/// A poisoned lock only means a test panicked elsewhere; the data is still whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ledger for MemoryLedger {
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Get)?.get(session_id)) })
    }

    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>> {
        Box::pin(async move {
            self.enter(LedgerOp::Record)?.record(details, now);
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        details: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        sale: Option<&'a Hold>,
        now: i64,
        lease_seconds: i64,
    ) -> BoxFuture<'a, Result<ClaimOutcome, LedgerFault>> {
        Box::pin(async move { self.enter(LedgerOp::Claim)?.claim(details, notice, votekey, sale, now, lease_seconds) })
    }

    fn complete<'a>(
        &'a self,
        session_id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(
            async move { Ok(self.enter(LedgerOp::Complete)?.complete(session_id, notice, token, message_id, now)) },
        )
    }

    fn update_standing<'a>(
        &'a self,
        details: &'a OrderDetails,
        change: &'a Change,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::UpdateStanding)?.update_standing(details, change, now)) })
    }

    fn release_claim<'a>(
        &'a self,
        session_id: &'a str,
        token: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::ReleaseClaim)?.release_claim(session_id, token, now)) })
    }

    fn record_resend<'a>(
        &'a self,
        session_id: &'a str,
        votekey: &'a str,
        to: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::RecordResend)?.record_resend(session_id, votekey, to, now)) })
    }

    fn find_by_payment_intent<'a>(
        &'a self,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Get)?.find_by_payment_intent(payment_intent)) })
    }
}

impl VotekeyPool for MemoryLedger {
    fn draw<'a>(&'a self) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Claim)?.draw_from_pool()) })
    }

    fn import<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<ImportReport, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Record)?.import_to_pool(keys)) })
    }

    fn remaining<'a>(&'a self) -> BoxFuture<'a, Result<u64, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Get)?.pool_remaining()) })
    }
}

impl Inventory for MemoryLedger {
    fn reserve<'a>(&'a self, hold: &'a Hold, limits: &'a [Limit]) -> BoxFuture<'a, Result<Reservation, LedgerFault>> {
        Box::pin(async move {
            let reservation = self.enter(LedgerOp::Reserve)?.inventory.reserve(hold, limits)?;
            self.answer(LedgerOp::Reserve)?;
            Ok(reservation)
        })
    }

    fn release<'a>(&'a self, hold: &'a Hold, _now: i64) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Release)?.inventory.release(&hold.id)) })
    }

    fn hold<'a>(&'a self, hold_id: &'a str) -> BoxFuture<'a, Result<Option<Hold>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::InventoryRead)?.inventory.hold(hold_id)) })
    }

    fn counts<'a>(&'a self, counters: &'a [CounterKey]) -> BoxFuture<'a, Result<Vec<Counts>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::InventoryRead)?.inventory.counts(counters)) })
    }

    fn expired_holds<'a>(&'a self, now: i64, max: usize) -> BoxFuture<'a, Result<Vec<Hold>, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::InventoryRead)?.inventory.expired_holds(now, max)) })
    }

    fn park<'a>(&'a self, hold: &'a Hold) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move { Ok(self.enter(LedgerOp::Release)?.inventory.park(&hold.id)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::PostalAddress;

    fn details(id: &str) -> OrderDetails {
        OrderDetails {
            session_id: id.into(),
            email: Some("buyer@example.com".into()),
            ticket: Some("bronze".into()),
            options: [("tshirt".to_owned(), "l".to_owned())].into(),
            shipping_name: Some("Ada".into()),
            shipping_address: Some(PostalAddress {
                line1: Some("1-2-3 Shibuya".into()),
                country: Some("JP".into()),
                ..Default::default()
            }),
            ..OrderDetails::default()
        }
    }

    fn claimed(outcome: ClaimOutcome) -> String {
        match outcome {
            ClaimOutcome::Claimed { token, .. } => token,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn claim_complete_and_duplicates() {
        let mut ledger = LedgerState::default();
        let d = details("cs_test_1");
        assert_eq!(ledger.get("cs_test_1"), None);
        ledger.record(&d, 100);
        assert_eq!(ledger.get("cs_test_1").unwrap().status, OrderStatus::Pending);
        let first = ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("BCDFGHJK"), None, 100, 10).unwrap();
        assert!(matches!(first, ClaimOutcome::Claimed { expires_at: 110, .. }));
        let token = claimed(first);
        // A concurrent delivery finds the live claim.
        let second = ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("LMNPQRST"), None, 105, 10).unwrap();
        assert_eq!(second, ClaimOutcome::InProgress);
        assert!(!ledger.complete("cs_test_1", Notice::Votekey, "wrong", "m", 106));
        assert!(ledger.complete("cs_test_1", Notice::Votekey, &token, "msg-1", 106));
        let record = ledger.get("cs_test_1").unwrap();
        assert_eq!(record.status, OrderStatus::Emailed);
        assert_eq!(record.votekey.as_deref(), Some("BCDFGHJK"));
        assert_eq!((record.message_id.as_deref(), record.emailed_at), (Some("msg-1"), Some(106)));
        assert_eq!(record.details.shipping_address, d.shipping_address);
        let again = ledger.claim(&d, Notice::Votekey, VotekeyUse::Keep("BCDFGHJK"), None, 200, 10).unwrap();
        assert_eq!(again, ClaimOutcome::AlreadySent);
    }

    #[test]
    fn expired_claims_are_taken_over_with_the_same_key() {
        let mut ledger = LedgerState::default();
        let d = details("cs_test_2");
        let first = claimed(ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("BBBBBBBB"), None, 100, 10).unwrap());
        // Expired: a fresh key is refused (the order holds one), the kept key wins.
        let fresh = ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("CCCCCCCC"), None, 111, 10).unwrap();
        assert_eq!(fresh, ClaimOutcome::InProgress);
        let second = claimed(ledger.claim(&d, Notice::Votekey, VotekeyUse::Keep("BBBBBBBB"), None, 111, 10).unwrap());
        assert!(!ledger.complete("cs_test_2", Notice::Votekey, &first, "late", 112));
        assert!(ledger.complete("cs_test_2", Notice::Votekey, &second, "m", 112));
    }

    #[test]
    fn votekeys_are_unique_across_orders() {
        let mut ledger = LedgerState::default();
        claimed(
            ledger.claim(&details("cs_test_a"), Notice::Votekey, VotekeyUse::Reserve("DDDDDDDD"), None, 1, 10).unwrap(),
        );
        let other = ledger.claim(&details("cs_test_b"), Notice::Votekey, VotekeyUse::Reserve("DDDDDDDD"), None, 1, 10);
        assert_eq!(other.unwrap(), ClaimOutcome::VotekeyTaken);
        // The losing order was not written.
        assert_eq!(ledger.get("cs_test_b"), None);
    }

    #[test]
    fn failure_notices_and_states_they_cannot_follow() {
        let mut ledger = LedgerState::default();
        let d = details("cs_test_f");
        ledger.record(&d, 1);
        let token = claimed(ledger.claim(&d, Notice::PaymentFailed, VotekeyUse::None, None, 2, 10).unwrap());
        assert!(ledger.complete("cs_test_f", Notice::PaymentFailed, &token, "m", 3));
        let paid_after = ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("FFFFFFFF"), None, 4, 10).unwrap();
        assert_eq!(paid_after, ClaimOutcome::NotApplicable(OrderStatus::Failed));
        let again = ledger.claim(&d, Notice::PaymentFailed, VotekeyUse::None, None, 4, 10).unwrap();
        assert_eq!(again, ClaimOutcome::AlreadySent);
    }

    #[test]
    fn the_state_round_trips_through_json_with_the_ledger_attribute_names() {
        let mut ledger = LedgerState::default();
        let d = details("cs_test_json");
        let token = claimed(ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("GGGGGGGG"), None, 5, 10).unwrap());
        let json = serde_json::to_value(&ledger).unwrap();
        let order = &json["orders"]["cs_test_json"];
        assert_eq!(order["status"], "claimed");
        assert_eq!(order["shipping_address"]["line1"], "1-2-3 Shibuya");
        assert_eq!(json["votekeys"]["GGGGGGGG"], "cs_test_json");
        let mut back: LedgerState = serde_json::from_value(json).unwrap();
        assert_eq!(back.get("cs_test_json"), ledger.get("cs_test_json"));
        assert!(back.complete("cs_test_json", Notice::Votekey, &token, "m", 6), "the claim token survives");
    }

    #[tokio::test]
    async fn injected_faults_fail_only_the_named_operation_and_are_counted() {
        let ledger = MemoryLedger::new();
        ledger.fail(LedgerOp::Complete, 1);
        assert!(ledger.get("cs_test_x").await.unwrap().is_none());
        assert!(ledger.complete("cs_test_x", Notice::Votekey, "t", "m", 1).await.is_err());
        assert!(!ledger.complete("cs_test_x", Notice::Votekey, "t", "m", 1).await.unwrap());
        assert_eq!((ledger.calls(LedgerOp::Get), ledger.calls(LedgerOp::Complete)), (1, 2));
    }
}
