//! `GET /v1/checkout/sessions`: sessions newest first, filtered by
//! `created` (`created=`, `created[gt]`, `[gte]`, `[lt]`, `[lte]`),
//! `status` and `payment_intent` (the session a PaymentIntent paid), paged by `limit` (1 to 100, default 10) and `starting_after`.

use crate::objects::InvalidParam;
use crate::param;
use crate::store::Store;
use serde_json::{Value, json};

/// The list's `url`.
pub(crate) const LIST_URL: &str = "/v1/checkout/sessions";

const STATUSES: [&str; 3] = ["open", "complete", "expired"];

/// A test of a session's `created` against a bound: `created[gte]`'s is `created >= bound`.
type CreatedTest = fn(i64, i64) -> bool;

/// What a list request asks for.
struct ListQuery<'a> {
    /// Bounds on `created`: each holds for a session when `test(created, bound)`.
    created: Vec<(CreatedTest, i64)>,
    status: Option<&'a str>,
    payment_intent: Option<&'a str>,
    limit: usize,
    starting_after: Option<&'a str>,
}

impl ListQuery<'_> {
    fn matches(&self, session: &Value) -> bool {
        let created = session["created"].as_i64().unwrap_or_default();
        self.created.iter().all(|(test, bound)| test(created, *bound))
            && self.status.is_none_or(|status| session["status"] == status)
            && self.payment_intent.is_none_or(|pi| session["payment_intent"] == pi)
    }
}

fn integer(name: &str, value: &str) -> Result<i64, InvalidParam> {
    value.parse().map_err(|_| (name.to_owned(), format!("Invalid integer: {value}")))
}

/// Checks the query as Stripe would.
fn parse(query: &[(String, String)]) -> Result<ListQuery<'_>, InvalidParam> {
    let bounds: [(&str, CreatedTest); 5] = [
        ("created", |c, b| c == b),
        ("created[gt]", |c, b| c > b),
        ("created[gte]", |c, b| c >= b),
        ("created[lt]", |c, b| c < b),
        ("created[lte]", |c, b| c <= b),
    ];
    let mut created = Vec::new();
    for (name, test) in bounds {
        if let Some(value) = param(query, name) {
            created.push((test, integer(name, value)?));
        }
    }
    let status = param(query, "status");
    if let Some(bad) = status.filter(|s| !STATUSES.contains(s)) {
        return Err((
            "status".into(),
            format!("Invalid status: must be one of open, complete, or expired (not {bad})."),
        ));
    }
    let limit = param(query, "limit").map_or(Ok(10), |value| integer("limit", value))?;
    if limit < 1 {
        return Err(("limit".into(), "This value must be greater than or equal to 1.".into()));
    }
    if limit > 100 {
        return Err(("limit".into(), "This value must be less than or equal to 100.".into()));
    }
    if param(query, "ending_before").is_some() {
        return Err(("ending_before".into(), "The Stripe stand-in pages forward only (starting_after).".into()));
    }
    Ok(ListQuery {
        created,
        status,
        payment_intent: param(query, "payment_intent"),
        limit: limit as usize,
        starting_after: param(query, "starting_after"),
    })
}

/// Every session, newest first: by `created`, and the later created first within a second.
fn newest_first(store: &Store) -> Vec<&Value> {
    let mut sessions: Vec<&Value> = store.creation_order.iter().rev().filter_map(|id| store.sessions.get(id)).collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s["created"].as_i64().unwrap_or_default()));
    sessions
}

/// The list object for `query`; each session as the retrieve endpoint gives
/// it (without line items). `starting_after` is a position in the whole
/// newest-first order, so it still works when that session no longer
/// matches the filter (a sweeper listing `status=open` and expiring as it goes).
pub(crate) fn list_sessions(store: &Store, query: &[(String, String)]) -> Result<Value, InvalidParam> {
    let query = parse(query)?;
    let sessions = newest_first(store);
    let start = match query.starting_after {
        None => 0,
        Some(after) => {
            let position = sessions.iter().position(|s| s["id"] == after);
            position.ok_or_else(|| ("starting_after".to_owned(), format!("No such checkout.session: '{after}'")))? + 1
        }
    };
    let mut page: Vec<Value> =
        sessions[start..].iter().filter(|s| query.matches(s)).take(query.limit + 1).map(|s| (*s).clone()).collect();
    let has_more = page.len() > query.limit;
    page.truncate(query.limit);
    Ok(json!({"object": "list", "data": page, "has_more": has_more, "url": LIST_URL}))
}
