//! `GET /availability`: what is left, per ticket, capacity group and option
//! choice, as JSON a static ticket page can fetch (cached 5 s, CORS for
//! the organizer's `site_origin`).

use super::Checkout;
use crate::config::{Catalog, Config, SaleClosed, Ticket};
use crate::inventory::{CounterKey, Counts, Inventory};
use crate::ledger::LedgerFault;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

pub(super) fn is_availability(request: &Request) -> bool {
    request.uri().path().trim_end_matches('/').ends_with("/availability")
}

/// `capacity`, `sold`, `held`, `available` of one limit (all `null` when unlimited).
fn figures(capacity: Option<u32>, counts: Option<&Counts>) -> Value {
    match (capacity, counts) {
        (Some(capacity), Some(c)) => json!({
            "capacity": capacity, "sold": c.sold, "held": c.held, "available": c.available(capacity),
        }),
        _ => json!({ "capacity": null, "sold": null, "held": null, "available": null }),
    }
}

/// Every counter the catalog limits, in a fixed order.
fn counters(catalog: &Catalog) -> Vec<(CounterKey, u32)> {
    let mut all: Vec<(CounterKey, u32)> = Vec::new();
    for (name, capacity) in catalog.capacity_groups() {
        all.push((CounterKey::group(name), *capacity));
    }
    for ticket in catalog.tickets() {
        if let Some(capacity) = ticket.capacity() {
            all.push((CounterKey::ticket(ticket), capacity));
        }
        for group in ticket.options() {
            for choice in group.choices() {
                if let Some(stock) = choice.stock() {
                    all.push((CounterKey::stock(group.field(), choice.value()), stock));
                }
            }
        }
    }
    all.sort();
    all.dedup();
    all
}

struct Figures<'a> {
    counters: &'a [(CounterKey, u32)],
    counts: &'a [Counts],
}

impl Figures<'_> {
    fn of(&self, key: &CounterKey) -> Option<(u32, &Counts)> {
        let i = self.counters.iter().position(|(k, _)| k == key)?;
        Some((self.counters[i].1, &self.counts[i]))
    }

    fn json(&self, key: &CounterKey) -> Value {
        let found = self.of(key);
        figures(found.map(|(c, _)| c), found.map(|(_, counts)| counts))
    }

    /// What can still be bought of `ticket`: the least of its own capacity,
    /// its group's, and (for an option whose every choice has a stock) the
    /// choices' total. `None`: unlimited.
    fn ticket_available(&self, catalog: &Catalog, ticket: &Ticket) -> Option<u32> {
        let mut limits: Vec<u32> = Vec::new();
        let mut take = |key: CounterKey| self.of(&key).map(|(cap, c)| limits.push(c.available(cap)));
        take(CounterKey::ticket(ticket));
        if let Some(group) = ticket.capacity_group().filter(|g| catalog.group_capacity(g).is_some()) {
            take(CounterKey::group(group));
        }
        for group in ticket.options() {
            let stocked: Option<Vec<u32>> = group
                .choices()
                .iter()
                .map(|c| self.of(&CounterKey::stock(group.field(), c.value())).map(|(cap, n)| n.available(cap)))
                .collect();
            if let Some(each) = stocked {
                limits.push(each.iter().sum());
            }
        }
        limits.into_iter().min()
    }

    fn ticket_json(&self, config: &Config, ticket: &Ticket, now: i64) -> Value {
        let catalog = config.catalog();
        let mut value = self.json(&CounterKey::ticket(ticket));
        let available = self.ticket_available(catalog, ticket);
        let window = ticket.sale_window();
        let sale = match window.check(now) {
            Ok(()) => "open",
            Err(SaleClosed::NotYetOpen(_)) => "not_yet_open",
            Err(SaleClosed::Over(_)) => "closed",
        };
        value["name"] = json!(ticket.name());
        value["sold_out"] = json!(available == Some(0));
        value["sale"] = json!(sale);
        value["opens_at"] = json!(window.opens_at().map(|t| t.unix()));
        value["closes_at"] = json!(window.closes_at().map(|t| t.unix()));
        if let Some(group) = ticket.capacity_group() {
            value["capacity_group"] = json!(group);
        }
        let mut options = Map::new();
        for group in ticket.options() {
            let choices: Map<String, Value> = group
                .choices()
                .iter()
                .map(|c| (c.value().to_owned(), self.json(&CounterKey::stock(group.field(), c.value()))))
                .collect();
            options.insert(group.field().to_owned(), Value::Object(choices));
        }
        if !options.is_empty() {
            value["options"] = Value::Object(options);
        }
        value
    }
}

impl Checkout {
    pub(super) async fn availability(&self, request: &Request) -> Response<Body> {
        let answer = self.availability_json(request).await;
        let (status, body) = match answer {
            Ok(body) => (StatusCode::OK, body),
            Err((status, message)) => {
                tracing::info!(route = "availability", status = status.as_u16(), reason = message, "availability");
                (status, json!({ "error": message }))
            }
        };
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let cache = if status == StatusCode::OK { "public, max-age=5" } else { "no-store" };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        let origin = self.config.current().await.ok().and_then(|c| c.site_origin().map(str::to_owned));
        if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        response
    }

    async fn availability_json(&self, request: &Request) -> Result<Value, (StatusCode, &'static str)> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Err((StatusCode::METHOD_NOT_ALLOWED, "use GET"));
        }
        let unavailable = (StatusCode::SERVICE_UNAVAILABLE, "availability is not known right now; try again");
        let config = self.config.current().await.map_err(|_| unavailable)?;
        availability_report(&config, self.inventory.as_deref(), (self.clock)()).await.map_err(|e| {
            match &e {
                AvailabilityFault::Counters(_) => {
                    tracing::error!(route = "availability", error = %e, "reading the counters failed")
                }
                AvailabilityFault::NoInventory => {
                    tracing::error!(route = "availability", "capacity is configured but ORDERS_TABLE is not set")
                }
            }
            unavailable
        })
    }
}

/// Why the availability figures could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AvailabilityFault {
    #[error("the config limits tickets but no inventory (orders table) was given")]
    NoInventory,
    #[error("reading the counters: {0}")]
    Counters(#[from] LedgerFault),
}

/// The `GET /availability` JSON (without HTTP): per ticket, capacity group
/// and option choice, `capacity`/`sold`/`held`/`available` from the
/// inventory's counters, at `now`. The organizer's `tdf-admin orders stats`
/// shows these very figures.
pub async fn availability_report(
    config: &Config,
    inventory: Option<&dyn Inventory>,
    now: i64,
) -> Result<Value, AvailabilityFault> {
    let counters = counters(config.catalog());
    let counts = match (inventory, counters.is_empty()) {
        (_, true) => Vec::new(),
        (Some(inventory), false) => {
            let keys: Vec<CounterKey> = counters.iter().map(|(k, _)| k.clone()).collect();
            inventory.counts(&keys).await?
        }
        (None, false) => return Err(AvailabilityFault::NoInventory),
    };
    let figures = Figures { counters: &counters, counts: &counts };
    let tickets: Map<String, Value> =
        config.catalog().tickets().iter().map(|t| (t.id().to_string(), figures.ticket_json(config, t, now))).collect();
    let groups: Map<String, Value> = config
        .catalog()
        .capacity_groups()
        .iter()
        .map(|(name, _)| (name.clone(), figures.json(&CounterKey::group(name))))
        .collect();
    Ok(json!({ "tickets": tickets, "capacity_groups": groups, "generated_at": now }))
}
