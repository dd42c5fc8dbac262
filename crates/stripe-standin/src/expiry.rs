//! Sessions expiring: explicitly (`POST /v1/checkout/sessions/{id}/expire`,
//! [`FakeStripe::expire_now`](crate::FakeStripe::expire_now), the hosted
//! page's expire button) or because their `expires_at` has passed.
//!
//! Stripe expires overdue sessions within minutes; the stand-in does it the
//! moment anything reads them: every API read, list and expire, every payment
//! and every hosted page first calls [`Store::expire_overdue`]. Such
//! time-based expiry delivers no webhook; the hosted page's button does.

use crate::now_unix;
use crate::store::Store;
use serde_json::{Value, json};

/// Why a session could not be expired.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExpireError {
    NoSuchSession,
    /// Only `open` sessions expire; this is the session's status.
    NotOpen(String),
}

impl ExpireError {
    /// Stripe's message for expiring a session that is not open.
    pub(crate) fn not_open_message(status: &str) -> String {
        format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. \
             This Checkout Session has a status of `{status}`."
        )
    }
}

/// What Stripe changes when a session expires: the status, and the page's
/// `url` is gone.
fn mark_expired(session: &mut Value) {
    session["status"] = json!("expired");
    session["url"] = Value::Null;
}

impl Store {
    /// Expires every open session whose `expires_at` has come (at or before
    /// now); returns them as they are now.
    pub(crate) fn expire_overdue(&mut self) -> Vec<Value> {
        let now = now_unix();
        let mut expired = Vec::new();
        for session in self.sessions.values_mut() {
            let overdue = session["expires_at"].as_i64().is_some_and(|at| at <= now);
            if session["status"] == "open" && overdue {
                mark_expired(session);
                expired.push(session.clone());
            }
        }
        expired
    }

    /// Expires an open session, as `POST /v1/checkout/sessions/{id}/expire`
    /// does; returns the expired session.
    pub(crate) fn expire_session(&mut self, id: &str) -> Result<Value, ExpireError> {
        self.expire_overdue();
        let session = self.sessions.get_mut(id).ok_or(ExpireError::NoSuchSession)?;
        if session["status"] != "open" {
            return Err(ExpireError::NotOpen(session["status"].as_str().unwrap_or_default().to_owned()));
        }
        mark_expired(session);
        Ok(session.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(sessions: &[(&str, &str, i64)]) -> Store {
        let mut store = Store::default();
        for (id, status, expires_at) in sessions {
            let session =
                json!({"id": id, "status": status, "expires_at": expires_at, "url": format!("https://x/{id}")});
            store.insert_session(session, Vec::new());
        }
        store
    }

    #[test]
    fn overdue_open_sessions_expire_when_read() {
        let now = now_unix();
        let mut store =
            store_with(&[("due", "open", now - 1), ("later", "open", now + 3600), ("paid", "complete", now - 1)]);
        let expired = store.expire_overdue();
        assert_eq!(expired.len(), 1);
        assert_eq!(
            (&expired[0]["id"], &expired[0]["status"], &expired[0]["url"]),
            (&json!("due"), &json!("expired"), &Value::Null)
        );
        assert_eq!(store.sessions["later"]["status"], "open");
        assert_eq!(store.sessions["paid"]["status"], "complete", "only open sessions expire");
        assert!(store.expire_overdue().is_empty(), "once");
    }

    #[test]
    fn only_open_sessions_can_be_expired() {
        let now = now_unix();
        let mut store = store_with(&[("open", "open", now + 3600), ("paid", "complete", now + 3600)]);
        let session = store.expire_session("open").unwrap();
        assert_eq!((&session["status"], &session["url"]), (&json!("expired"), &Value::Null));
        assert_eq!(store.sessions["open"], session);
        assert_eq!(store.expire_session("open"), Err(ExpireError::NotOpen("expired".into())));
        assert_eq!(store.expire_session("paid"), Err(ExpireError::NotOpen("complete".into())));
        assert_eq!(store.expire_session("nope"), Err(ExpireError::NoSuchSession));
    }
}
