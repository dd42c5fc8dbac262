//! The state the API routes, the hosted page and the [`FakeStripe`](crate::FakeStripe) handle share.

use crate::api::{Failure, RecordedRequest};
use crate::hosted::WebhookDelivery;
use crate::prices::FakePrice;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) sessions: BTreeMap<String, Value>,
    pub(crate) line_items: BTreeMap<String, Vec<Value>>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) failures: VecDeque<Failure>,
    pub(crate) prices: BTreeMap<String, FakePrice>,
    pub(crate) shipping_rates: BTreeMap<String, i64>,
    /// Accept prices it does not know (the local stand-in, for any organizer's catalog).
    pub(crate) lenient_prices: bool,
    pub(crate) hosted_base: String,
    /// Webhooks the hosted page delivered, oldest first.
    pub(crate) deliveries: Vec<WebhookDelivery>,
}

impl Store {
    /// The session and its line items, if the fake has it.
    pub(crate) fn session_with_items(&self, id: &str) -> Option<(Value, Vec<Value>)> {
        let session = self.sessions.get(id)?.clone();
        Some((session, self.line_items.get(id).cloned().unwrap_or_default()))
    }
}

/// Locks the store, carrying on past a panicked holder: one failed request
/// should not fail every later one.
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
