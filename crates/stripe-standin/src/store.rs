//! The state the API routes, the hosted page and the [`FakeStripe`](crate::FakeStripe) handle share.

use crate::api::{Failure, RecordedRequest};
use crate::catalog::Catalog;
use crate::hosted::WebhookDelivery;
use crate::idempotency::Saved;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) sessions: BTreeMap<String, Value>,
    /// Session ids in the order they were created, oldest first (lists page newest first).
    pub(crate) creation_order: Vec<String>,
    pub(crate) line_items: BTreeMap<String, Vec<Value>>,
    /// What paying created, and what happened to the money since (see `charges`).
    pub(crate) payment_intents: BTreeMap<String, Value>,
    pub(crate) charges: BTreeMap<String, Value>,
    pub(crate) refunds: BTreeMap<String, Value>,
    pub(crate) disputes: BTreeMap<String, Value>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) failures: VecDeque<Failure>,
    /// Products, prices and shipping rates, both modes.
    pub(crate) catalog: Catalog,
    /// Accept prices it does not know (the local stand-in, for any organizer's catalog).
    pub(crate) lenient_prices: bool,
    pub(crate) hosted_base: String,
    /// Webhooks the hosted page delivered, oldest first.
    pub(crate) deliveries: Vec<WebhookDelivery>,
    /// The first successful answer to each `Idempotency-Key`.
    pub(crate) idempotent: HashMap<String, Saved>,
    /// API requests allowed per one-second window; `None`: no limit.
    pub(crate) rate_limit: Option<u32>,
    /// The current window's start and how many API requests arrived in it.
    pub(crate) rate_window: Option<(Instant, u32)>,
}

impl Store {
    /// The session and its line items, if the fake has it.
    pub(crate) fn session_with_items(&self, id: &str) -> Option<(Value, Vec<Value>)> {
        let session = self.sessions.get(id)?.clone();
        Some((session, self.line_items.get(id).cloned().unwrap_or_default()))
    }

    /// Keeps a newly created session and its line items.
    pub(crate) fn insert_session(&mut self, session: Value, items: Vec<Value>) {
        let id = session["id"].as_str().unwrap_or_default().to_owned();
        self.line_items.insert(id.clone(), items);
        self.sessions.insert(id.clone(), session);
        self.creation_order.push(id);
    }

    /// Counts an API request arriving at `now` against the rate limit: true
    /// when it is over the limit of the current one-second window (a window
    /// starts with the first request after the previous one ended).
    pub(crate) fn over_rate_limit(&mut self, now: Instant) -> bool {
        let Some(limit) = self.rate_limit else { return false };
        let (start, count) = self.rate_window.get_or_insert((now, 0));
        if now.saturating_duration_since(*start) >= Duration::from_secs(1) {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        *count > limit
    }
}

/// Locks the store, carrying on past a panicked holder: one failed request
/// should not fail every later one.
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_counts_per_one_second_window() {
        let mut store = Store { rate_limit: Some(2), ..Store::default() };
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!([store.over_rate_limit(t0), store.over_rate_limit(ms(10))], [false, false]);
        assert!(store.over_rate_limit(ms(900)), "the third request within the second is over");
        assert!(store.over_rate_limit(ms(999)));
        assert!(!store.over_rate_limit(ms(1000)), "a new window starts after one second");
        assert!(!store.over_rate_limit(ms(1500)));
        assert!(store.over_rate_limit(ms(1999)));
        store.rate_limit = None;
        assert!(!store.over_rate_limit(ms(2000)), "no limit, no refusal");
    }
}
