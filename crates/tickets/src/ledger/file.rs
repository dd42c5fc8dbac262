//! The ledger in one local JSON file, for the local dev server: the same
//! claim semantics as [`DynamoLedger`](super::DynamoLedger) (conditional
//! claims with a lease, unique votekeys reserved with the claim), made atomic
//! by a mutex held across read → check → write. One process at a time: two
//! servers sharing the file would not see each other's claims.
//!
//! The file (`{"orders": {...}, "votekeys": {...}}`) is read before and
//! written after every change (write to a temporary file, then rename), so it
//! can be inspected, or deleted to start afresh, while the server runs.

use super::{ClaimOutcome, Ledger, LedgerFault, Notice, OrderDetails, OrderRecord, OrderStatus, VotekeyUse, refusal};
use crate::BoxFuture;
use crate::stripe::PostalAddress;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

pub struct FileLedger {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Default, Serialize, Deserialize)]
struct Document {
    #[serde(default)]
    orders: BTreeMap<String, StoredOrder>,
    /// votekey → the session that holds it.
    #[serde(default)]
    votekeys: BTreeMap<String, String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredOrder {
    session_id: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    votekey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    items: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shipping_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shipping_address: Option<PostalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    created_at: i64,
    updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emailed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
}

impl StoredOrder {
    fn new(details: &OrderDetails, now: i64) -> StoredOrder {
        let mut order = StoredOrder {
            session_id: details.session_id.clone(),
            status: OrderStatus::Pending.as_str().to_owned(),
            votekey: None,
            email: None,
            buyer_name: None,
            ticket: None,
            options: BTreeMap::new(),
            items: Vec::new(),
            amount_total: None,
            currency: None,
            shipping_name: None,
            shipping_address: None,
            locale: None,
            created_at: now,
            updated_at: now,
            claimed_at: None,
            claim_expires_at: None,
            claim_token: None,
            emailed_at: None,
            message_id: None,
        };
        order.apply(details, now);
        order
    }

    /// Like DynamoLedger's `SET`: given details overwrite, absent ones are kept.
    fn apply(&mut self, d: &OrderDetails, now: i64) {
        let set = |slot: &mut Option<String>, value: &Option<String>| {
            if let Some(v) = value {
                *slot = Some(v.clone());
            }
        };
        set(&mut self.email, &d.email);
        set(&mut self.buyer_name, &d.name);
        set(&mut self.ticket, &d.ticket);
        set(&mut self.currency, &d.currency);
        set(&mut self.shipping_name, &d.shipping_name);
        set(&mut self.locale, &d.locale);
        if !d.options.is_empty() {
            self.options = d.options.clone();
        }
        if !d.items.is_empty() {
            self.items = d.items.clone();
        }
        if d.amount_total.is_some() {
            self.amount_total = d.amount_total;
        }
        if let Some(a) = &d.shipping_address {
            self.shipping_address = Some(a.clone());
        }
        self.updated_at = now;
    }

    fn status(&self) -> OrderStatus {
        OrderStatus::parse(&self.status).unwrap_or(OrderStatus::Pending)
    }

    fn record(&self) -> OrderRecord {
        OrderRecord {
            details: OrderDetails {
                session_id: self.session_id.clone(),
                email: self.email.clone(),
                name: self.buyer_name.clone(),
                ticket: self.ticket.clone(),
                options: self.options.clone(),
                items: self.items.clone(),
                amount_total: self.amount_total,
                currency: self.currency.clone(),
                shipping_name: self.shipping_name.clone(),
                shipping_address: self.shipping_address.clone(),
                locale: self.locale.clone(),
            },
            status: self.status(),
            votekey: self.votekey.clone(),
            created_at: self.created_at,
            claimed_at: self.claimed_at,
            claim_expires_at: self.claim_expires_at,
            emailed_at: self.emailed_at,
            message_id: self.message_id.clone(),
        }
    }
}

fn claim_token() -> Result<String, LedgerFault> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| LedgerFault(format!("random token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl FileLedger {
    /// The ledger kept in `path` (created, with its folder, on the first write).
    pub fn new(path: impl Into<PathBuf>) -> FileLedger {
        FileLedger { path: path.into(), lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn load(&self) -> Result<Document, LedgerFault> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Document::default()),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| LedgerFault(format!("{} is not a ledger file: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
            Err(e) => Err(LedgerFault(format!("reading {}: {e}", self.path.display()))),
        }
    }

    async fn save(&self, document: &Document) -> Result<(), LedgerFault> {
        let io = |e: std::io::Error| LedgerFault(format!("writing {}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let mut text = serde_json::to_string_pretty(document).map_err(|e| LedgerFault(e.to_string()))?;
        text.push('\n');
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        tokio::fs::write(&temporary, text).await.map_err(io)?;
        tokio::fs::rename(&temporary, &self.path).await.map_err(io)
    }
}

impl Ledger for FileLedger {
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            Ok(self.load().await?.orders.get(session_id).map(StoredOrder::record))
        })
    }

    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let mut document = self.load().await?;
            match document.orders.get_mut(&details.session_id) {
                Some(order) => order.apply(details, now),
                None => {
                    document.orders.insert(details.session_id.clone(), StoredOrder::new(details, now));
                }
            }
            self.save(&document).await
        })
    }

    fn claim<'a>(
        &'a self,
        details: &'a OrderDetails,
        notice: Notice,
        votekey: VotekeyUse<'a>,
        now: i64,
        lease_seconds: i64,
    ) -> BoxFuture<'a, Result<ClaimOutcome, LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let mut document = self.load().await?;
            let (claimed, _) = notice.statuses();
            let existing = document.orders.get(&details.session_id);

            // The order's condition, as DynamoLedger's: new, pending, or an
            // expired claim for this same notice; and the votekey as expected.
            let order_ok = existing.is_none_or(|o| {
                let status = o.status();
                let claimable = status == OrderStatus::Pending
                    || (status == claimed && o.claim_expires_at.is_some_and(|t| t < now));
                let key_ok = match votekey {
                    VotekeyUse::None => true,
                    VotekeyUse::Reserve(_) => o.votekey.is_none(),
                    VotekeyUse::Keep(key) => o.votekey.as_deref() == Some(key),
                };
                claimable && key_ok
            });
            if !order_ok {
                return Ok(match existing {
                    // Keep(key) on an order without it: DynamoLedger's condition fails the same way.
                    Some(o) => refusal(notice, o.status(), o.claim_expires_at, now),
                    None => ClaimOutcome::InProgress,
                });
            }
            if let VotekeyUse::Reserve(key) = votekey
                && document.votekeys.contains_key(key)
            {
                return Ok(ClaimOutcome::VotekeyTaken);
            }

            let token = claim_token()?;
            let expires_at = now + lease_seconds;
            let order = document
                .orders
                .entry(details.session_id.clone())
                .or_insert_with(|| StoredOrder::new(details, now));
            order.apply(details, now);
            order.status = claimed.as_str().to_owned();
            order.claimed_at = Some(now);
            order.claim_expires_at = Some(expires_at);
            order.claim_token = Some(token.clone());
            match votekey {
                VotekeyUse::None => {}
                VotekeyUse::Keep(key) => order.votekey = Some(key.to_owned()),
                VotekeyUse::Reserve(key) => {
                    order.votekey = Some(key.to_owned());
                    document.votekeys.insert(key.to_owned(), details.session_id.clone());
                }
            }
            self.save(&document).await?;
            Ok(ClaimOutcome::Claimed { token, expires_at })
        })
    }

    fn complete<'a>(
        &'a self,
        session_id: &'a str,
        notice: Notice,
        token: &'a str,
        message_id: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let mut document = self.load().await?;
            let (claimed, done) = notice.statuses();
            let Some(order) = document.orders.get_mut(session_id) else { return Ok(false) };
            if order.status() != claimed || order.claim_token.as_deref() != Some(token) {
                return Ok(false);
            }
            order.status = done.as_str().to_owned();
            order.emailed_at = Some(now);
            order.message_id = Some(message_id.to_owned());
            order.claim_token = None;
            self.save(&document).await?;
            Ok(true)
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<OrderRecord>, LedgerFault>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let mut orders: Vec<OrderRecord> = self.load().await?.orders.values().map(StoredOrder::record).collect();
            orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.details.session_id.cmp(&b.details.session_id)));
            Ok(orders)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn details(id: &str) -> OrderDetails {
        OrderDetails {
            session_id: id.into(),
            email: Some("buyer@example.com".into()),
            ticket: Some("bronze".into()),
            options: [("tshirt".to_owned(), "l".to_owned())].into(),
            shipping_name: Some("Ada".into()),
            shipping_address: Some(PostalAddress { line1: Some("1-2-3 Shibuya".into()), country: Some("JP".into()), ..Default::default() }),
            ..OrderDetails::default()
        }
    }

    /// A scratch folder removed when dropped (tickets has no tempfile dev-dependency).
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ledger() -> (Scratch, FileLedger) {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("tdf-file-ledger-{name}"));
        let ledger = FileLedger::new(dir.join("state").join("ledger.json"));
        (Scratch(dir), ledger)
    }

    #[tokio::test]
    async fn claim_complete_and_duplicates() {
        let (_dir, ledger) = ledger();
        let d = details("cs_test_1");
        assert_eq!(ledger.get("cs_test_1").await.unwrap(), None);
        ledger.record(&d, 100).await.unwrap();
        assert_eq!(ledger.get("cs_test_1").await.unwrap().unwrap().status, OrderStatus::Pending);

        let ClaimOutcome::Claimed { token, expires_at } =
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("BCDFGHJK"), 100, 10).await.unwrap()
        else {
            panic!("first claim wins")
        };
        assert_eq!(expires_at, 110);
        // A concurrent delivery finds the live claim.
        assert_eq!(
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("LMNPQRST"), 105, 10).await.unwrap(),
            ClaimOutcome::InProgress
        );
        assert!(!ledger.complete("cs_test_1", Notice::Votekey, "wrong", "m", 106).await.unwrap());
        assert!(ledger.complete("cs_test_1", Notice::Votekey, &token, "msg-1", 106).await.unwrap());
        let record = ledger.get("cs_test_1").await.unwrap().unwrap();
        assert_eq!(record.status, OrderStatus::Emailed);
        assert_eq!(record.votekey.as_deref(), Some("BCDFGHJK"));
        assert_eq!(record.message_id.as_deref(), Some("msg-1"));
        assert_eq!(record.emailed_at, Some(106));
        assert_eq!(record.details.shipping_address, d.shipping_address);
        assert_eq!(record.details.options["tshirt"], "l");
        assert_eq!(
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Keep("BCDFGHJK"), 200, 10).await.unwrap(),
            ClaimOutcome::AlreadySent
        );
        // Survives a restart: a new ledger on the same file.
        let again = FileLedger::new(ledger.path());
        assert_eq!(again.list().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn expired_claims_are_taken_over_with_the_same_key() {
        let (_dir, ledger) = ledger();
        let d = details("cs_test_2");
        let ClaimOutcome::Claimed { token: first, .. } =
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("BBBBBBBB"), 100, 10).await.unwrap()
        else {
            panic!()
        };
        // Expired: a fresh key is refused (the order holds one), the kept key wins.
        assert_eq!(
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("CCCCCCCC"), 111, 10).await.unwrap(),
            ClaimOutcome::InProgress
        );
        let ClaimOutcome::Claimed { token: second, .. } =
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Keep("BBBBBBBB"), 111, 10).await.unwrap()
        else {
            panic!("takeover")
        };
        assert!(!ledger.complete("cs_test_2", Notice::Votekey, &first, "late", 112).await.unwrap());
        assert!(ledger.complete("cs_test_2", Notice::Votekey, &second, "m", 112).await.unwrap());
    }

    #[tokio::test]
    async fn votekeys_are_unique_across_orders() {
        let (_dir, ledger) = ledger();
        let claimed = ledger.claim(&details("cs_test_a"), Notice::Votekey, VotekeyUse::Reserve("DDDDDDDD"), 1, 10).await.unwrap();
        assert!(matches!(claimed, ClaimOutcome::Claimed { .. }));
        assert_eq!(
            ledger.claim(&details("cs_test_b"), Notice::Votekey, VotekeyUse::Reserve("DDDDDDDD"), 1, 10).await.unwrap(),
            ClaimOutcome::VotekeyTaken
        );
        // The losing order was not written.
        assert_eq!(ledger.get("cs_test_b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn failure_notices_and_states_they_cannot_follow() {
        let (_dir, ledger) = ledger();
        let d = details("cs_test_f");
        ledger.record(&d, 1).await.unwrap();
        let ClaimOutcome::Claimed { token, .. } =
            ledger.claim(&d, Notice::PaymentFailed, VotekeyUse::None, 2, 10).await.unwrap()
        else {
            panic!()
        };
        assert!(ledger.complete("cs_test_f", Notice::PaymentFailed, &token, "m", 3).await.unwrap());
        assert_eq!(
            ledger.claim(&d, Notice::Votekey, VotekeyUse::Reserve("FFFFFFFF"), 4, 10).await.unwrap(),
            ClaimOutcome::NotApplicable(OrderStatus::Failed)
        );
        assert_eq!(
            ledger.claim(&d, Notice::PaymentFailed, VotekeyUse::None, 4, 10).await.unwrap(),
            ClaimOutcome::AlreadySent
        );
    }

    #[tokio::test]
    async fn concurrent_claims_have_one_winner() {
        let (_dir, ledger) = ledger();
        let ledger = Arc::new(ledger);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let key = format!("KEY{i}XXXX");
                    ledger.claim(&details("cs_test_race"), Notice::Votekey, VotekeyUse::Reserve(&key), 50, 10).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if matches!(task.await.unwrap(), ClaimOutcome::Claimed { .. }) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }
}
