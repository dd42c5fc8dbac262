//! The inventory in the orders table (`ORDERS_TABLE`): counter items
//! `counter#<key>` and hold items `hold#<id>`. Open holds also carry
//! `hold_state = "held"`, the partition key of the sparse `open-holds`
//! index the sweeper queries; selling or releasing removes it.

use super::{CounterKey, Counts, Hold, HoldStatus, Inventory, Limit, Reservation};
use crate::BoxFuture;
use crate::ledger::LedgerFault;
use crate::ledger::dynamo::{Item, applied, fault, n, number, s, text};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use std::time::Duration;

/// The sparse index of holds still held, by `expires_at`.
pub const OPEN_HOLDS_INDEX: &str = "open-holds";

pub struct DynamoInventory {
    client: Client,
    table: String,
}

fn counter_key(counter: &CounterKey) -> AttributeValue {
    s(format!("counter#{counter}"))
}
fn hold_key(hold_id: &str) -> AttributeValue {
    s(format!("hold#{hold_id}"))
}

fn build<T, E: std::fmt::Display>(what: &str, built: Result<T, E>) -> Result<T, LedgerFault> {
    built.map_err(|e| LedgerFault(format!("building {what}: {e}")))
}

/// `held` and `taken` + 1, unless `taken` would pass the limit. (DynamoDB
/// conditions cannot add, so the limit arrives as `room` = limit − 1; a
/// negative room refuses even a counter that does not exist yet.)
fn take_place(table: &str, limit: &Limit, expires_at: i64) -> Result<TransactWriteItem, LedgerFault> {
    let room = i64::from(limit.capacity) - 1;
    let update = Update::builder()
        .table_name(table)
        .key("pk", counter_key(&limit.counter))
        .update_expression("SET #kind = :kind, #held_until = :until ADD #held :one, #taken :one")
        .condition_expression("(attribute_not_exists(#taken) AND :room >= :zero) OR #taken <= :room")
        .expression_attribute_names("#kind", "kind")
        .expression_attribute_names("#held_until", "held_until")
        .expression_attribute_names("#held", "held")
        .expression_attribute_names("#taken", "taken")
        .expression_attribute_values(":kind", s("counter"))
        .expression_attribute_values(":until", n(expires_at))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":room", n(room))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build();
    Ok(TransactWriteItem::builder().update(build("a counter update", update)?).build())
}

fn put_hold(table: &str, hold: &Hold) -> Result<TransactWriteItem, LedgerFault> {
    let put = Put::builder()
        .table_name(table)
        .item("pk", hold_key(&hold.id))
        .item("kind", s("hold"))
        .item("status", s(HoldStatus::Held.as_str()))
        .item("hold_state", s(HoldStatus::Held.as_str()))
        .item("counters", AttributeValue::L(hold.counters.iter().map(|c| s(c.as_str())).collect()))
        .item("created_at", n(hold.created_at))
        .item("expires_at", n(hold.expires_at))
        .condition_expression("attribute_not_exists(pk)")
        .build();
    Ok(TransactWriteItem::builder().put(build("the hold", put)?).build())
}

/// The hold `from → to`, conditional on `from`.
fn move_hold(
    table: &str,
    hold_id: &str,
    from: HoldStatus,
    to: HoldStatus,
    now: i64,
) -> Result<TransactWriteItem, LedgerFault> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", hold_key(hold_id))
        // Attribute names throughout: DynamoDB reserves hundreds of words.
        .update_expression("SET #status = :to, #changed_at = :now REMOVE #hold_state")
        .expression_attribute_names("#changed_at", "changed_at")
        .expression_attribute_names("#hold_state", "hold_state")
        .condition_expression("#status = :from")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":to", s(to.as_str()))
        .expression_attribute_values(":from", s(from.as_str()))
        .expression_attribute_values(":now", n(now))
        .build();
    Ok(TransactWriteItem::builder().update(build("the hold's move", update)?).build())
}

/// Adds the deltas to a counter (no condition: the hold's move guards it).
fn adjust(table: &str, counter: &CounterKey, deltas: &[(&str, i64)]) -> Result<TransactWriteItem, LedgerFault> {
    let adds: Vec<String> = deltas.iter().map(|(attr, _)| format!("#{attr} :{attr}")).collect();
    let mut update = Update::builder()
        .table_name(table)
        .key("pk", counter_key(counter))
        .update_expression(format!("ADD {}", adds.join(", ")));
    for (attr, delta) in deltas {
        update = update
            .expression_attribute_names(format!("#{attr}"), *attr)
            .expression_attribute_values(format!(":{attr}"), n(*delta));
    }
    Ok(TransactWriteItem::builder().update(build("a counter adjustment", update.build())?).build())
}

/// The writes that sell `hold` as it was seen (held or released), for the
/// votekey claim's transaction. Empty if it is sold already.
pub(crate) fn sale_writes(table: &str, hold: &Hold, now: i64) -> Result<Vec<TransactWriteItem>, LedgerFault> {
    let deltas: &[(&str, i64)] = match hold.status {
        HoldStatus::Sold | HoldStatus::Returned => return Ok(Vec::new()),
        HoldStatus::Held => &[("held", -1), ("sold", 1)],
        // Paid after its hold was given back: honour it (the money is taken).
        HoldStatus::Released => &[("sold", 1), ("taken", 1)],
    };
    let mut writes = vec![move_hold(table, &hold.id, hold.status, HoldStatus::Sold, now)?];
    for counter in &hold.counters {
        writes.push(adjust(table, counter, deltas)?);
    }
    Ok(writes)
}

/// The writes that put a refunded order's places back on sale, for the
/// order's standing update: held → released, sold → returned. Empty if the
/// hold has no places to give.
pub(crate) fn give_back_writes(table: &str, hold: &Hold, now: i64) -> Result<Vec<TransactWriteItem>, LedgerFault> {
    let (to, deltas): (HoldStatus, &[(&str, i64)]) = match hold.status {
        HoldStatus::Held => (HoldStatus::Released, &[("held", -1), ("taken", -1)]),
        HoldStatus::Sold => (HoldStatus::Returned, &[("sold", -1), ("taken", -1)]),
        HoldStatus::Released | HoldStatus::Returned => return Ok(Vec::new()),
    };
    let mut writes = vec![move_hold(table, &hold.id, hold.status, to, now)?];
    for counter in &hold.counters {
        writes.push(adjust(table, counter, deltas)?);
    }
    Ok(writes)
}

fn counts_from_item(item: Option<&Item>) -> Counts {
    let Some(item) = item else { return Counts::default() };
    let count = |k: &str| number(item, k).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Counts { held: count("held"), sold: count("sold"), held_until: number(item, "held_until") }
}

fn hold_from_item(item: &Item) -> Option<Hold> {
    let counters = item.get("counters").and_then(|v| v.as_l().ok())?;
    Some(Hold {
        id: text(item, "pk")?.strip_prefix("hold#")?.to_owned(),
        counters: counters.iter().filter_map(|c| c.as_s().ok()).map(|c| CounterKey::from_stored(c.clone())).collect(),
        status: HoldStatus::parse(&text(item, "status")?)?,
        created_at: number(item, "created_at")?,
        expires_at: number(item, "expires_at")?,
        // Held yet out of the open-holds index: parked.
        parked: text(item, "status").as_deref() == Some("held") && !item.contains_key("hold_state"),
    })
}

/// How many times a release is tried when it meets a concurrent write.
const CONFLICT_ATTEMPTS: u32 = 6;

/// How long a reservation keeps trying while concurrent ones on the same
/// counters win: at a drop every buyer writes the ticket's counter. Within
/// the checkout function's 10 s, with Stripe's call still to come.
const CONTENDED_BUDGET: Duration = Duration::from_millis(2500);

impl DynamoInventory {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoInventory {
        DynamoInventory { client, table: table.into() }
    }

    /// Sends a transaction; `Ok(None)` if it committed, else the reasons it was cancelled.
    /// `token` is DynamoDB's idempotency token: the SDK's retry of an attempt
    /// that timed out after committing succeeds without applying it twice.
    async fn transact(
        &self,
        what: &str,
        token: &str,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, LedgerFault> {
        let result = self
            .client
            .transact_write_items()
            .client_request_token(token)
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    Ok(Some(c.cancellation_reasons().to_vec()))
                }
                _ => Err(fault(what, e)),
            },
        }
    }

    async fn try_reserve(&self, hold: &Hold, limits: &[Limit]) -> Result<Attempt, LedgerFault> {
        let mut writes = Vec::with_capacity(limits.len() + 1);
        for limit in limits {
            writes.push(take_place(&self.table, limit, hold.expires_at)?);
        }
        writes.push(put_hold(&self.table, hold)?);
        let Some(reasons) = self.transact("TransactWriteItems (reserve)", &hold.id, writes).await? else {
            return Ok(Attempt::Done(Reservation::Held));
        };
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            return Ok(Attempt::Conflict);
        }
        let only_the_hold = reasons
            .iter()
            .enumerate()
            .all(|(i, r)| (r.code() == Some("ConditionalCheckFailed")) == (i == limits.len()));
        if only_the_hold && self.hold(&hold.id).await?.is_some() {
            // Hold ids are random: this is our own earlier attempt, committed
            // before its answer was lost (where the token is not honoured).
            return Ok(Attempt::Done(Reservation::Held));
        }
        let full = reasons.iter().take(limits.len()).position(|r| r.code() == Some("ConditionalCheckFailed"));
        match full {
            Some(i) => Ok(Attempt::Done(Reservation::SoldOut {
                counter: limits[i].counter.clone(),
                counts: counts_from_item(reasons[i].item.as_ref()),
            })),
            None => Err(LedgerFault(format!("TransactWriteItems (reserve) cancelled: {reasons:?}"))),
        }
    }
}

enum Attempt {
    Done(Reservation),
    Conflict,
}

/// A pause of up to `base · 2^attempt`, drawn at random ("full jitter").
pub(crate) fn jittered(base: Duration, attempt: u32) -> Duration {
    let mut byte = [0u8; 2];
    let _ = getrandom::fill(&mut byte);
    let ceiling = base.saturating_mul(1 << attempt.min(10));
    ceiling.mul_f64(f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX))
}

impl Inventory for DynamoInventory {
    fn reserve<'a>(&'a self, hold: &'a Hold, limits: &'a [Limit]) -> BoxFuture<'a, Result<Reservation, LedgerFault>> {
        Box::pin(async move {
            // At a drop many buyers write the same counters at once; DynamoDB
            // cancels overlapping transactions (TransactionConflict). Try
            // again after a random pause, growing to at most 0.4 s.
            let started = std::time::Instant::now();
            for attempt in 0.. {
                if let Attempt::Done(reservation) = self.try_reserve(hold, limits).await? {
                    return Ok(reservation);
                }
                let pause = jittered(Duration::from_millis(20), attempt.min(4));
                if started.elapsed() + pause > CONTENDED_BUDGET {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            Ok(Reservation::Contended)
        })
    }

    fn release<'a>(&'a self, hold: &'a Hold, now: i64) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let mut writes = vec![move_hold(&self.table, &hold.id, HoldStatus::Held, HoldStatus::Released, now)?];
            for counter in &hold.counters {
                writes.push(adjust(&self.table, counter, &[("held", -1), ("taken", -1)])?);
            }
            for attempt in 0..CONFLICT_ATTEMPTS {
                let token = format!("release_{}", &hold.id[hold.id.len().saturating_sub(24)..]);
                let Some(reasons) = self.transact("TransactWriteItems (release)", &token, writes.clone()).await? else {
                    return Ok(true);
                };
                if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                    return Ok(false);
                }
                tokio::time::sleep(jittered(Duration::from_millis(20), attempt)).await;
            }
            Err(LedgerFault("the release kept meeting concurrent writes".into()))
        })
    }

    fn hold<'a>(&'a self, hold_id: &'a str) -> BoxFuture<'a, Result<Option<Hold>, LedgerFault>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", hold_key(hold_id))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| fault("GetItem (hold)", e))?;
            Ok(output.item.as_ref().and_then(hold_from_item))
        })
    }

    fn counts<'a>(&'a self, counters: &'a [CounterKey]) -> BoxFuture<'a, Result<Vec<Counts>, LedgerFault>> {
        Box::pin(async move { self.batch_counts(counters).await })
    }

    fn expired_holds<'a>(&'a self, now: i64, max: usize) -> BoxFuture<'a, Result<Vec<Hold>, LedgerFault>> {
        Box::pin(async move {
            let mut holds = Vec::new();
            let mut start: Option<Item> = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(OPEN_HOLDS_INDEX)
                    .key_condition_expression("#hold_state = :held AND #expires_at < :now")
                    .expression_attribute_names("#hold_state", "hold_state")
                    .expression_attribute_names("#expires_at", "expires_at")
                    .expression_attribute_values(":held", s(HoldStatus::Held.as_str()))
                    .expression_attribute_values(":now", n(now))
                    .limit(i32::try_from((max - holds.len()).max(1)).unwrap_or(100))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| fault("Query (open holds)", e))?;
                // The index is eventually consistent: a hold sold a moment ago may
                // still show; its release is conditional and changes nothing then.
                holds.extend(output.items().iter().filter_map(hold_from_item).filter(|h| h.status == HoldStatus::Held));
                start = output.last_evaluated_key().cloned();
                if start.is_none() || holds.len() >= max {
                    return Ok(holds);
                }
            }
        })
    }

    fn park<'a>(&'a self, hold: &'a Hold) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", hold_key(&hold.id))
                .update_expression("REMOVE #hold_state")
                .condition_expression("#status = :held")
                .expression_attribute_names("#hold_state", "hold_state")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":held", s(HoldStatus::Held.as_str()))
                .send()
                .await;
            applied("UpdateItem (park)", result)
        })
    }
}

impl DynamoInventory {
    /// BatchGetItem of the counters (≤ 100 per call), unprocessed keys retried.
    async fn batch_counts(&self, counters: &[CounterKey]) -> Result<Vec<Counts>, LedgerFault> {
        let mut found: std::collections::HashMap<String, Counts> = std::collections::HashMap::new();
        let mut unique: Vec<&CounterKey> = counters.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(100) {
            let keys = chunk.iter().map(|c| [("pk".to_owned(), counter_key(c))].into()).collect();
            let mut request = Some(build(
                "the counters' read",
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build(),
            )?);
            for attempt in 0..CONFLICT_ATTEMPTS {
                let Some(keys) = request.take() else { break };
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| fault("BatchGetItem (counters)", e))?;
                for item in output.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    if let Some(key) = text(item, "pk").and_then(|pk| pk.strip_prefix("counter#").map(str::to_owned)) {
                        found.insert(key, counts_from_item(Some(item)));
                    }
                }
                request = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    tokio::time::sleep(jittered(Duration::from_millis(20), attempt)).await;
                }
            }
            if request.is_some() {
                return Err(LedgerFault("BatchGetItem (counters): keys left unprocessed".into()));
            }
        }
        Ok(counters.iter().map(|c| found.get(c.as_str()).cloned().unwrap_or_default()).collect())
    }
}
