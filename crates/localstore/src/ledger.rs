//! The ledger in one local JSON file: the very claim rules of the in-memory
//! ledger ([`LedgerState`]), made atomic by a mutex held across read → change
//! → write. One process at a time: two servers sharing the file would not
//! see each other's claims.
//!
//! The file (`{"orders": {...}, "votekeys": {...}, "inventory": {"counters":
//! {...}, "holds": {...}}}`) is read before and written after every change,
//! so it can be inspected, or deleted to start afresh (orders and holds
//! alike), while the server runs.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tickets::BoxFuture;
use tickets::doubles::LedgerState;
use tickets::inventory::{CounterKey, Counts, Hold, Inventory, Limit, Reservation};
use tickets::ledger::{Change, ClaimOutcome, Ledger, LedgerFault, Notice, OrderDetails, OrderRecord, VotekeyUse};
use tickets::pool::{ImportReport, VotekeyPool};
use tokio::sync::Mutex;

pub struct FileLedger {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileLedger {
    /// The ledger kept in `path` (created, with its folder, on the first write).
    pub fn new(path: impl Into<PathBuf>) -> FileLedger {
        FileLedger { path: path.into(), lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every order, newest first (the local ledger page and tools).
    pub async fn list(&self) -> Result<Vec<OrderRecord>, LedgerFault> {
        let _guard = self.lock.lock().await;
        Ok(self.load().await?.orders())
    }

    /// Every counter and hold as the file holds them now (the local ledger page).
    pub async fn inventory(&self) -> Result<InventorySnapshot, LedgerFault> {
        let state = self.read(|state| serde_json::to_value(&state.inventory)).await?;
        state.and_then(serde_json::from_value).map_err(|e| LedgerFault(format!("reading the inventory: {e}")))
    }

    async fn load(&self) -> Result<LedgerState, LedgerFault> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(LedgerState::default()),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| LedgerFault(format!("{} is not a ledger file: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerState::default()),
            Err(e) => Err(LedgerFault(format!("reading {}: {e}", self.path.display()))),
        }
    }

    async fn save(&self, state: &LedgerState) -> Result<(), LedgerFault> {
        let mut text = serde_json::to_string_pretty(state).map_err(|e| LedgerFault(e.to_string()))?;
        text.push('\n');
        crate::write_whole(&self.path, text.as_bytes())
            .await
            .map_err(|e| LedgerFault(format!("writing {}: {e}", self.path.display())))
    }

    /// Reads the file's state under the lock.
    async fn read<R>(&self, read: impl FnOnce(&LedgerState) -> R) -> Result<R, LedgerFault> {
        let _guard = self.lock.lock().await;
        Ok(read(&self.load().await?))
    }

    /// Applies `change` to the file's state under the lock, writing it back.
    async fn change<R>(&self, change: impl FnOnce(&mut LedgerState) -> R) -> Result<R, LedgerFault> {
        let _guard = self.lock.lock().await;
        let mut state = self.load().await?;
        let result = change(&mut state);
        self.save(&state).await?;
        Ok(result)
    }
}

/// The inventory part of the file: counters (`ticket#visitor`, `group#hall`,
/// `stock#tshirt#m`) and holds by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InventorySnapshot {
    #[serde(default)]
    pub counters: BTreeMap<CounterKey, Counts>,
    #[serde(default)]
    pub holds: BTreeMap<String, Hold>,
}

impl InventorySnapshot {
    /// The holds, newest first.
    pub fn holds_newest_first(&self) -> Vec<&Hold> {
        let mut holds: Vec<&Hold> = self.holds.values().collect();
        holds.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        holds
    }
}

impl Ledger for FileLedger {
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            Ok(self.load().await?.get(session_id))
        })
    }

    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>> {
        Box::pin(self.change(move |state| state.record(details, now)))
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
        Box::pin(
            async move { self.change(|state| state.claim(details, notice, votekey, sale, now, lease_seconds)).await? },
        )
    }

    fn complete<'a>(
        &'a self,
        session_id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(move |state| state.complete(session_id, notice, token, message_id, now)))
    }

    fn release_claim<'a>(
        &'a self,
        session_id: &'a str,
        token: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(move |state| state.release_claim(session_id, token, now)))
    }

    fn update_standing<'a>(
        &'a self,
        details: &'a OrderDetails,
        change: &'a Change,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(move |state| state.update_standing(details, change, now)))
    }

    fn find_by_payment_intent<'a>(
        &'a self,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(self.read(move |state| state.find_by_payment_intent(payment_intent)))
    }

    fn record_resend<'a>(
        &'a self,
        session_id: &'a str,
        votekey: &'a str,
        to: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(move |state| state.record_resend(session_id, votekey, to, now)))
    }
}

/// The same pool rules as the in-memory ledger, persisted with the orders.
impl VotekeyPool for FileLedger {
    fn draw<'a>(&'a self) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(self.change(|state| state.draw_from_pool()))
    }

    fn import<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<ImportReport, LedgerFault>> {
        Box::pin(self.change(move |state| state.import_to_pool(keys)))
    }

    fn remaining<'a>(&'a self) -> BoxFuture<'a, Result<u64, LedgerFault>> {
        Box::pin(self.read(|state| state.pool_remaining()))
    }
}

/// The same hold rules as the in-memory ledger, persisted with the orders.
impl Inventory for FileLedger {
    fn reserve<'a>(&'a self, hold: &'a Hold, limits: &'a [Limit]) -> BoxFuture<'a, Result<Reservation, LedgerFault>> {
        Box::pin(async move { self.change(|state| state.inventory.reserve(hold, limits)).await? })
    }

    fn release<'a>(&'a self, hold: &'a Hold, _now: i64) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(|state| state.inventory.release(&hold.id)))
    }

    fn hold<'a>(&'a self, hold_id: &'a str) -> BoxFuture<'a, Result<Option<Hold>, LedgerFault>> {
        Box::pin(self.read(move |state| state.inventory.hold(hold_id)))
    }

    fn counts<'a>(&'a self, counters: &'a [CounterKey]) -> BoxFuture<'a, Result<Vec<Counts>, LedgerFault>> {
        Box::pin(self.read(move |state| state.inventory.counts(counters)))
    }

    fn expired_holds<'a>(&'a self, now: i64, max: usize) -> BoxFuture<'a, Result<Vec<Hold>, LedgerFault>> {
        Box::pin(self.read(move |state| state.inventory.expired_holds(now, max)))
    }

    fn park<'a>(&'a self, hold: &'a Hold) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.change(|state| state.inventory.park(&hold.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tickets::inventory::HoldStatus;

    fn details(id: &str) -> OrderDetails {
        OrderDetails { session_id: id.into(), email: Some("buyer@example.com".into()), ..OrderDetails::default() }
    }

    #[tokio::test]
    async fn claims_persist_in_the_file_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::new(dir.path().join("state").join("ledger.json"));
        assert_eq!(ledger.get("cs_test_1").await.unwrap(), None);
        let order = details("cs_test_1");
        let claimed =
            ledger.claim(&order, Notice::Votekey, VotekeyUse::Reserve("BCDFGHJK"), None, 1, 10).await.unwrap();
        let ClaimOutcome::Claimed { token, .. } = claimed else { panic!("first claim wins") };
        assert!(ledger.complete("cs_test_1", Notice::Votekey, &token, "msg-1", 2).await.unwrap());
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        assert!(text.contains("\"emailed\"") && text.contains("BCDFGHJK"), "{text}");
        // A new ledger on the same file: a restarted server.
        let again = FileLedger::new(ledger.path());
        let orders = again.list().await.unwrap();
        assert_eq!((orders.len(), orders[0].votekey.as_deref()), (1, Some("BCDFGHJK")));
        let repeat = again.claim(&order, Notice::Votekey, VotekeyUse::Keep("BCDFGHJK"), None, 3, 10).await.unwrap();
        assert_eq!(repeat, ClaimOutcome::AlreadySent);
    }

    #[tokio::test]
    async fn holds_follow_the_in_memory_rules_and_persist_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::new(dir.path().join("ledger.json"));
        assert_eq!(ledger.inventory().await.unwrap(), InventorySnapshot::default(), "no file yet");
        let counter = CounterKey::stock("tshirt", "m");
        let limits = [Limit { counter: counter.clone(), capacity: 1 }];
        let first = Hold::new(&limits, 100, 1860).unwrap();
        assert_eq!(ledger.reserve(&first, &limits).await.unwrap(), Reservation::Held);
        let second = Hold::new(&limits, 101, 1860).unwrap();
        assert!(matches!(ledger.reserve(&second, &limits).await.unwrap(), Reservation::SoldOut { .. }));
        assert_eq!(ledger.expired_holds(1961, 10).await.unwrap(), vec![first.clone()]);

        // A restarted server sees the hold, and gives it back once.
        let again = FileLedger::new(ledger.path());
        let snapshot = again.inventory().await.unwrap();
        assert_eq!(snapshot.holds_newest_first(), vec![&first]);
        assert_eq!((snapshot.counters[&counter].held, snapshot.counters[&counter].sold), (1, 0));
        assert!(again.release(&first, 200).await.unwrap());
        assert!(!again.release(&first, 201).await.unwrap(), "released once");
        assert_eq!(again.hold(&first.id).await.unwrap().unwrap().status, HoldStatus::Released);
        assert_eq!(again.counts(std::slice::from_ref(&counter)).await.unwrap()[0].taken(), 0);
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.contains("\"inventory\"") && text.contains("\"released\""), "{text}");
        assert_eq!(again.reserve(&second, &limits).await.unwrap(), Reservation::Held, "the place is free again");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_ledger_is_a_fault_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        std::fs::write(&path, "not json").unwrap();
        let fault = FileLedger::new(&path).list().await.unwrap_err();
        assert!(fault.to_string().contains("is not a ledger file"), "{fault}");
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(FileLedger::new(dir.path().join("ledger.json")));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let key = format!("KEY{i}XXXX");
                    let order = details("cs_test_race");
                    ledger.claim(&order, Notice::Votekey, VotekeyUse::Reserve(&key), None, 50, 10).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(matches!(task.await.unwrap(), ClaimOutcome::Claimed { .. }));
        }
        assert_eq!(winners, 1);
    }
}
