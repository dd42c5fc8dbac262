//! The votekey pool: keys generated in Wuhu and imported by the organizer
//! (`tdf-admin votekeys import`), handed out one per order when the config
//! says `"votekey_source": "pool"`.
//!
//! Keys are numbered in import order (`pool#<n>`); a counter (`pool#meta`:
//! `size`, `next`) is advanced by one conditional write per draw, so two
//! fulfilments never draw the same number, and the drawn key is still
//! reserved as unique (`votekey#<key>`) in the claim's own write. A draw
//! whose claim then loses (a concurrent delivery of the same session) leaves
//! its key unused: the pool never gives a key twice, at the price of
//! occasionally skipping one.

use crate::BoxFuture;
use crate::ledger::LedgerFault;
use serde::Serialize;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// New keys added to the pool.
    pub added: usize,
    /// Already in the pool, or already given to an order.
    pub skipped: usize,
    /// Keys left to hand out after the import.
    pub remaining: u64,
}

/// Why a line of an import file is not a votekey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct KeyError {
    pub line: usize,
    pub problem: &'static str,
}

/// The keys of a Wuhu export (one per line; blank lines and surrounding
/// spaces ignored), each checked: 1–64 printable ASCII characters.
pub fn parse_keys(text: &str) -> Result<Vec<String>, KeyError> {
    let mut keys = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let key = raw.trim().trim_start_matches('\u{feff}');
        if key.is_empty() {
            continue;
        }
        let problem = if key.len() > 64 {
            Some("longer than 64 characters")
        } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
            Some("not a votekey: only letters, digits and punctuation, no spaces")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(KeyError { line: i + 1, problem });
        }
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_owned());
        }
    }
    Ok(keys)
}

/// Where imported votekeys wait for their orders.
pub trait VotekeyPool: Send + Sync {
    /// The next key, never handed out before; `None` when the pool is empty.
    fn draw<'a>(&'a self) -> BoxFuture<'a, Result<Option<String>, LedgerFault>>;

    /// Adds the keys not yet in the pool nor given to an order.
    fn import<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<ImportReport, LedgerFault>>;

    /// How many keys are left to hand out.
    fn remaining<'a>(&'a self) -> BoxFuture<'a, Result<u64, LedgerFault>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wuhu_exports_are_read_one_key_per_line() {
        let keys = parse_keys("\u{feff}ABCDEFGH\r\n\n  IJKLMNOP  \nABCDEFGH\n").unwrap();
        assert_eq!(keys, ["ABCDEFGH", "IJKLMNOP"]);
        assert_eq!(
            parse_keys("OK\nNOT A KEY\n"),
            Err(KeyError { line: 2, problem: "not a votekey: only letters, digits and punctuation, no spaces" })
        );
        assert_eq!(parse_keys(&"X".repeat(65)).unwrap_err().line, 1);
        assert!(parse_keys("").unwrap().is_empty());
    }
}
