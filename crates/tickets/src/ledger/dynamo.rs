//! The ledger in DynamoDB (env `ORDERS_TABLE`): one table, partition key
//! `pk` — `session#<id>` for orders, `votekey#<key>` for the items that make
//! votekeys unique.

use super::{
    Change, ClaimOutcome, Ledger, LedgerFault, Notice, OrderDetails, OrderRecord, OrderStatus, VotekeyUse, claim_token,
    refusal,
};
use crate::BoxFuture;
use crate::inventory::Hold;
use crate::stripe::PostalAddress;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use std::collections::HashMap;

pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLedger {
        DynamoLedger { client, table: table.into() }
    }
}

pub(crate) type Item = HashMap<String, AttributeValue>;

fn order_key(session_id: &str) -> AttributeValue {
    AttributeValue::S(format!("session#{session_id}"))
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn fault<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    e: SdkError<E, R>,
) -> LedgerFault {
    LedgerFault(format!("{what}: {}", crate::aws::describe(&e)))
}

mod pool;
mod standing;

/// The answer to a conditional UpdateItem: `Ok(true)` applied, `Ok(false)`
/// its condition did not hold (nothing changed), else a fault.
pub(crate) fn applied<O, R: std::fmt::Debug>(
    what: &str,
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>>,
) -> Result<bool, LedgerFault> {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match result {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
            Ok(false)
        }
        Err(e) => Err(fault(what, e)),
    }
}

/// An UpdateExpression under construction: `SET a = :a, … REMOVE b, …`.
#[derive(Default)]
struct Assignments {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Assignments {
    fn set(&mut self, attribute: &str, value: AttributeValue) {
        self.names.insert(format!("#{attribute}"), attribute.to_owned());
        self.values.insert(format!(":{attribute}"), value);
        self.set.push(format!("#{attribute} = :{attribute}"));
    }
    fn set_if_absent(&mut self, attribute: &str, value: AttributeValue) {
        self.names.insert(format!("#{attribute}"), attribute.to_owned());
        self.values.insert(format!(":{attribute}"), value);
        self.set.push(format!("#{attribute} = if_not_exists(#{attribute}, :{attribute})"));
    }
    fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values.insert(placeholder.to_owned(), value);
    }
    fn name(&mut self, attribute: &str) {
        self.names.insert(format!("#{attribute}"), attribute.to_owned());
    }
    fn details(&mut self, d: &OrderDetails, now: i64) {
        self.set("session_id", s(&d.session_id));
        let optional = [
            ("email", &d.email),
            ("buyer_name", &d.name),
            ("ticket", &d.ticket),
            ("currency", &d.currency),
            ("shipping_name", &d.shipping_name),
            ("locale", &d.locale),
            ("hold_id", &d.hold_id),
            ("payment_intent", &d.payment_intent),
        ];
        for (attribute, value) in optional {
            if let Some(v) = value {
                self.set(attribute, s(v));
            }
        }
        if !d.options.is_empty() {
            self.set("options", AttributeValue::M(d.options.iter().map(|(k, v)| (k.clone(), s(v))).collect()));
        }
        if !d.items.is_empty() {
            self.set("items", AttributeValue::L(d.items.iter().map(s).collect()));
        }
        if let Some(total) = d.amount_total {
            self.set("amount_total", n(total));
        }
        if let Some(a) = &d.shipping_address {
            let parts = [
                ("line1", &a.line1),
                ("line2", &a.line2),
                ("city", &a.city),
                ("state", &a.state),
                ("postal_code", &a.postal_code),
                ("country", &a.country),
            ];
            let map = parts.into_iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), s(v)))).collect();
            self.set("shipping_address", AttributeValue::M(map));
        }
        self.set("updated_at", n(now));
        self.set_if_absent("created_at", n(now));
    }
    fn remove(&mut self, attribute: &str) {
        self.names.insert(format!("#{attribute}"), attribute.to_owned());
        self.remove.push(format!("#{attribute}"));
    }
    fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        expression
    }
}

pub(crate) fn text(item: &Item, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}
pub(crate) fn number(item: &Item, key: &str) -> Option<i64> {
    item.get(key).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

/// An order item of the table (`session#<id>`, as a Scan or GetItem returns
/// it) as an [`OrderRecord`]; `None` for any other item (votekeys, counters,
/// holds) or an order item missing its `session_id` or `status`.
pub fn order_from_item(item: &HashMap<String, AttributeValue>) -> Option<OrderRecord> {
    record_from_item(item)
}

fn record_from_item(item: &Item) -> Option<OrderRecord> {
    let address = item.get("shipping_address").and_then(|v| v.as_m().ok()).map(|m| {
        let part = |k: &str| text(m, k);
        PostalAddress {
            line1: part("line1"),
            line2: part("line2"),
            city: part("city"),
            state: part("state"),
            postal_code: part("postal_code"),
            country: part("country"),
        }
    });
    Some(OrderRecord {
        details: OrderDetails {
            session_id: text(item, "session_id")?,
            email: text(item, "email"),
            name: text(item, "buyer_name"),
            ticket: text(item, "ticket"),
            options: item
                .get("options")
                .and_then(|v| v.as_m().ok())
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect())
                .unwrap_or_default(),
            items: item
                .get("items")
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
                .unwrap_or_default(),
            amount_total: number(item, "amount_total"),
            currency: text(item, "currency"),
            shipping_name: text(item, "shipping_name"),
            shipping_address: address,
            locale: text(item, "locale"),
            hold_id: text(item, "hold_id"),
            payment_intent: text(item, "payment_intent"),
        },
        status: OrderStatus::parse(&text(item, "status")?)?,
        votekey: text(item, "votekey"),
        created_at: number(item, "created_at").unwrap_or_default(),
        claimed_at: number(item, "claimed_at"),
        claim_expires_at: number(item, "claim_expires_at"),
        emailed_at: number(item, "emailed_at"),
        message_id: text(item, "message_id"),
        standing: standing::from_item(item),
        cancellation_emailed_at: number(item, "cancellation_emailed_at"),
        resent: super::Resends {
            count: number(item, "resend_count"),
            last_at: number(item, "resent_at"),
            last_to: text(item, "resent_to"),
        },
    })
}

/// The claim's conditional update, built once for either way of sending it.
struct ClaimWrite {
    assignments: Assignments,
    condition: String,
}

fn claim_write(
    details: &OrderDetails,
    notice: Notice,
    votekey: VotekeyUse<'_>,
    token: &str,
    now: i64,
    expires_at: i64,
) -> ClaimWrite {
    let (claimed, _) = notice.statuses();
    let mut a = Assignments::default();
    a.details(details, now);
    a.set_if_absent("kind", s("order"));
    a.set("status", s(claimed.as_str()));
    a.set("claimed_at", n(now));
    a.set("claim_expires_at", n(expires_at));
    a.set("claim_token", s(token));
    a.value(":pending", s(OrderStatus::Pending.as_str()));
    a.value(":now", n(now));
    // New order, pending order, or an expired claim for this same notice.
    let mut condition =
        "(attribute_not_exists(pk) OR #status = :pending OR (#status = :status AND #claim_expires_at < :now))"
            .to_owned();
    match votekey {
        VotekeyUse::None => {}
        VotekeyUse::Reserve(key) => {
            a.set("votekey", s(key));
            condition.push_str(" AND attribute_not_exists(#votekey)");
        }
        VotekeyUse::Keep(key) => {
            a.set("votekey", s(key));
            condition.push_str(" AND #votekey = :votekey");
        }
    }
    a.name("claim_expires_at");
    ClaimWrite { assignments: a, condition }
}

/// The claim `token`'s, if the item as it was holds that token: an earlier
/// attempt of this very claim committed and its answer was lost (the SDK
/// retried it). Tokens are fresh per claim, so no other claimant matches.
pub(crate) fn own_claim(item: &Item, token: &str, expiry_if_unread: i64) -> Option<ClaimOutcome> {
    (text(item, "claim_token").as_deref() == Some(token)).then(|| ClaimOutcome::Claimed {
        token: token.to_owned(),
        expires_at: number(item, "claim_expires_at").unwrap_or(expiry_if_unread),
    })
}

impl DynamoLedger {
    /// Why the claim's condition failed, from the item as it was (unless it
    /// was our own claim after all: [`own_claim`]).
    fn refused(&self, notice: Notice, old: Option<&Item>, token: &str, now: i64) -> ClaimOutcome {
        if let Some(ours) = old.and_then(|item| own_claim(item, token, now)) {
            return ours;
        }
        match old {
            None => ClaimOutcome::InProgress,
            Some(item) => {
                let status = text(item, "status").and_then(|s| OrderStatus::parse(&s)).unwrap_or(OrderStatus::Pending);
                refusal(notice, status, number(item, "claim_expires_at"), now)
            }
        }
    }

    /// The claim as one conditional UpdateItem; `Some` outcome if refused.
    async fn claim_alone(
        &self,
        write: ClaimWrite,
        token: &str,
        details: &OrderDetails,
        notice: Notice,
        now: i64,
    ) -> Result<Option<ClaimOutcome>, LedgerFault> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        let ClaimWrite { assignments: a, condition } = write;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", order_key(&details.session_id))
            .update_expression(a.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(a.names))
            .set_expression_attribute_values(Some(a.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Some(self.refused(notice, c.item.as_ref(), token, now)))
                }
                Some(UpdateItemError::TransactionConflictException(_)) => Ok(Some(ClaimOutcome::InProgress)),
                _ => Err(fault("UpdateItem (claim)", e)),
            },
        }
    }

    /// The claim with the new votekey's reservation and the hold's sale, in
    /// one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn claim_in_transaction(
        &self,
        write: ClaimWrite,
        token: &str,
        details: &OrderDetails,
        reserve: Option<&str>,
        sale: Vec<TransactWriteItem>,
        notice: Notice,
        now: i64,
    ) -> Result<Option<ClaimOutcome>, LedgerFault> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let ClaimWrite { assignments: a, condition } = write;
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", order_key(&details.session_id))
            .update_expression(a.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(a.names))
            .set_expression_attribute_values(Some(a.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| LedgerFault(format!("building the claim: {e}")))?;
        let mut writes = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(key) = reserve {
            let reservation = Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("votekey#{key}")))
                .item("kind", s("votekey"))
                .item("session_id", s(&details.session_id))
                .item("created_at", n(now))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| LedgerFault(format!("building the reservation: {e}")))?;
            writes.push(TransactWriteItem::builder().put(reservation).build());
        }
        writes.extend(sale);
        let result = self
            .client
            .transact_write_items()
            // The claim's token: an SDK retry of a committed attempt is not applied twice.
            .client_request_token(token)
            .set_transact_items(Some(writes))
            .send()
            .await;
        let Err(e) = result else { return Ok(None) };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() else {
            return Err(fault("TransactWriteItems (claim)", e));
        };
        let reasons = c.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
            // A concurrent transaction on the same order: another claimant is at work.
            Ok(Some(ClaimOutcome::InProgress))
        } else if failed(0) {
            Ok(Some(self.refused(notice, reasons.first().and_then(|r| r.item.as_ref()), token, now)))
        } else if reserve.is_some() && failed(1) {
            Ok(Some(ClaimOutcome::VotekeyTaken))
        } else if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
            // The hold moved since it was read (sold or released by another
            // delivery): the next attempt reads it again.
            Ok(Some(ClaimOutcome::InProgress))
        } else {
            Err(LedgerFault(format!("TransactWriteItems (claim) cancelled: {reasons:?}")))
        }
    }
}

impl Ledger for DynamoLedger {
    fn get<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<OrderRecord>, LedgerFault>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", order_key(session_id))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| fault("GetItem", e))?;
            Ok(output.item.as_ref().and_then(record_from_item))
        })
    }

    fn record<'a>(&'a self, details: &'a OrderDetails, now: i64) -> BoxFuture<'a, Result<(), LedgerFault>> {
        Box::pin(async move {
            let mut a = Assignments::default();
            a.details(details, now);
            a.set_if_absent("status", s(OrderStatus::Pending.as_str()));
            a.set_if_absent("kind", s("order"));
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", order_key(&details.session_id))
                .update_expression(a.expression())
                .set_expression_attribute_names(Some(a.names))
                .set_expression_attribute_values(Some(a.values))
                .send()
                .await
                .map_err(|e| fault("UpdateItem (record)", e))?;
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
        Box::pin(async move {
            if notice == Notice::Cancellation {
                return self.claim_cancellation(&details.session_id, now, lease_seconds).await;
            }
            let token = claim_token()?;
            let expires_at = now + lease_seconds;
            let write = claim_write(details, notice, votekey, &token, now, expires_at);
            let sale = match sale {
                Some(hold) => crate::inventory::sale_writes(&self.table, hold, now)?,
                None => Vec::new(),
            };
            let reserve = match votekey {
                VotekeyUse::Reserve(key) => Some(key),
                VotekeyUse::None | VotekeyUse::Keep(_) => None,
            };
            let refused = if reserve.is_none() && sale.is_empty() {
                // Nothing else to write: one conditional update suffices.
                self.claim_alone(write, &token, details, notice, now).await?
            } else {
                // A new votekey and/or a sale: atomically with the claim.
                self.claim_in_transaction(write, &token, details, reserve, sale, notice, now).await?
            };
            Ok(refused.unwrap_or(ClaimOutcome::Claimed { token, expires_at }))
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
            if notice == Notice::Cancellation {
                return self.complete_cancellation(session_id, token, message_id, now).await;
            }
            let (claimed, done) = notice.statuses();
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", order_key(session_id))
                .update_expression("SET #status = :done, emailed_at = :now, message_id = :mid REMOVE claim_token")
                .condition_expression("#status = :claimed AND claim_token = :token")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":done", s(done.as_str()))
                .expression_attribute_values(":claimed", s(claimed.as_str()))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":mid", s(message_id))
                .expression_attribute_values(":token", s(token))
                .send()
                .await;
            applied("UpdateItem (complete)", result)
        })
    }

    fn update_standing<'a>(
        &'a self,
        details: &'a OrderDetails,
        change: &'a Change,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(self.write_standing(details, change, now))
    }

    fn release_claim<'a>(
        &'a self,
        session_id: &'a str,
        token: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            // The claim conditions take a claim whose lease has run out (`< now`).
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", order_key(session_id))
                .update_expression("SET claim_expires_at = :ended REMOVE claim_token")
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":ended", n(now - 1))
                .expression_attribute_values(":token", s(token))
                .send()
                .await;
            applied("UpdateItem (release claim)", result)
        })
    }

    fn record_resend<'a>(
        &'a self,
        session_id: &'a str,
        votekey: &'a str,
        to: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<bool, LedgerFault>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", order_key(session_id))
                .update_expression(
                    "SET resend_count = if_not_exists(resend_count, :zero) + :one, resent_at = :now, resent_to = :to",
                )
                .condition_expression("#status = :emailed AND votekey = :votekey")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":emailed", s(OrderStatus::Emailed.as_str()))
                .expression_attribute_values(":votekey", s(votekey))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":to", s(to))
                .send()
                .await;
            applied("UpdateItem (resend)", result)
        })
    }

    fn find_by_payment_intent<'a>(
        &'a self,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(self.session_by_payment_intent(payment_intent))
    }
}
