//! Refunds and disputes in DynamoDB: the standing's attributes, its
//! conditional rewrite (with the places given back in the same
//! transaction), the `payment-intents` index, and the cancellation email's
//! claim on the `cancellation` attribute.

use super::{Assignments, DynamoLedger, Item, applied, fault, n, number, order_key, s, text};
use crate::ledger::{
    Change, ClaimOutcome, DisputeState, LedgerFault, NoticeState, OrderDetails, OrderStatus, Revocation, Standing,
    claim_token,
};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

/// The sparse index from a PaymentIntent to its order.
pub const PAYMENT_INTENTS_INDEX: &str = "payment-intents";

pub(super) fn from_item(item: &Item) -> Standing {
    Standing {
        refunded_amount: number(item, "refunded_amount"),
        revoked: text(item, "revoked_reason").and_then(|r| Revocation::parse(&r)),
        dispute: text(item, "dispute"),
        dispute_status: text(item, "dispute_status").and_then(|d| DisputeState::parse(&d)),
        cancellation: text(item, "cancellation").and_then(|c| NoticeState::parse(&c)),
    }
}

/// The standing's attributes as strings (numbers for the amount), by name.
fn attributes(standing: &Standing) -> [(&'static str, Option<aws_sdk_dynamodb::types::AttributeValue>); 6] {
    [
        ("refunded_amount", standing.refunded_amount.map(n)),
        // Wuhu's word for a key that no longer counts; the reason beside it.
        ("votekey_state", standing.revoked.map(|_| s("revoked"))),
        ("revoked_reason", standing.revoked.map(|r| s(r.as_str()))),
        ("dispute", standing.dispute.as_deref().map(s)),
        ("dispute_status", standing.dispute_status.map(|d| s(d.as_str()))),
        ("cancellation", standing.cancellation.map(|c| s(c.as_str()))),
    ]
}

/// The update: details, the next status and standing; conditional on the
/// order being as seen, attribute by attribute.
fn standing_write(details: &OrderDetails, change: &Change, now: i64) -> (Assignments, String) {
    let mut a = Assignments::default();
    a.details(details, now);
    a.set_if_absent("kind", s("order"));
    a.set("status", s(change.status.as_str()));
    for (attribute, value) in attributes(&change.standing) {
        match value {
            Some(v) => a.set(attribute, v),
            None => a.remove(attribute),
        }
    }
    let Some((status, standing)) = &change.seen else {
        return (a, "attribute_not_exists(pk)".to_owned());
    };
    a.value(":seen_status", s(status.as_str()));
    let mut condition = vec!["#status = :seen_status".to_owned()];
    for (attribute, value) in attributes(standing) {
        a.name(attribute);
        match value {
            Some(v) => {
                a.value(&format!(":seen_{attribute}"), v);
                condition.push(format!("#{attribute} = :seen_{attribute}"));
            }
            None => condition.push(format!("attribute_not_exists(#{attribute})")),
        }
    }
    (a, condition.join(" AND "))
}

impl DynamoLedger {
    pub(super) async fn write_standing(
        &self,
        details: &OrderDetails,
        change: &Change,
        now: i64,
    ) -> Result<bool, LedgerFault> {
        let (a, condition) = standing_write(details, change, now);
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", order_key(&details.session_id))
            .update_expression(a.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(a.names))
            .set_expression_attribute_values(Some(a.values))
            .build()
            .map_err(|e| LedgerFault(format!("building the standing update: {e}")))?;
        let mut writes = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(hold) = &change.give_back {
            writes.extend(crate::inventory::give_back_writes(&self.table, hold, now)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(writes)).send().await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                // The order or the hold moved since it was read: the caller reads again.
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons()
                        .iter()
                        .any(|r| matches!(r.code(), Some("ConditionalCheckFailed") | Some("TransactionConflict"))) =>
                {
                    Ok(false)
                }
                _ => Err(fault("TransactWriteItems (standing)", e)),
            },
        }
    }

    pub(super) async fn session_by_payment_intent(&self, payment_intent: &str) -> Result<Option<String>, LedgerFault> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PAYMENT_INTENTS_INDEX)
            .key_condition_expression("#pi = :pi")
            .expression_attribute_names("#pi", "payment_intent")
            .expression_attribute_values(":pi", s(payment_intent))
            .limit(1)
            .send()
            .await
            .map_err(|e| fault("Query (payment intents)", e))?;
        Ok(output.items().iter().find_map(|item| text(item, "pk")?.strip_prefix("session#").map(str::to_owned)))
    }

    pub(super) async fn claim_cancellation(
        &self,
        session_id: &str,
        now: i64,
        lease_seconds: i64,
    ) -> Result<ClaimOutcome, LedgerFault> {
        let token = claim_token()?;
        let expires_at = now + lease_seconds;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", order_key(session_id))
            .update_expression("SET #c = :claimed, claim_token = :token, #exp = :exp")
            .condition_expression("#status = :refunded AND (#c = :due OR (#c = :claimed AND #exp < :now))")
            .expression_attribute_names("#c", "cancellation")
            .expression_attribute_names("#exp", "claim_expires_at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s(NoticeState::Claimed.as_str()))
            .expression_attribute_values(":due", s(NoticeState::Due.as_str()))
            .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
            .expression_attribute_values(":token", s(&token))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(e) = result else { return Ok(ClaimOutcome::Claimed { token, expires_at }) };
        let Some(UpdateItemError::ConditionalCheckFailedException(c)) = e.as_service_error() else {
            return Err(fault("UpdateItem (cancellation claim)", e));
        };
        let Some(item) = c.item.as_ref() else { return Ok(ClaimOutcome::NotApplicable(OrderStatus::Pending)) };
        if let Some(ours) = super::own_claim(item, &token, expires_at) {
            return Ok(ours);
        }
        let status = text(item, "status").and_then(|s| OrderStatus::parse(&s)).unwrap_or(OrderStatus::Pending);
        Ok(match from_item(item).cancellation {
            Some(NoticeState::Sent) => ClaimOutcome::AlreadySent,
            Some(NoticeState::Claimed) => ClaimOutcome::InProgress,
            _ => ClaimOutcome::NotApplicable(status),
        })
    }

    pub(super) async fn complete_cancellation(
        &self,
        session_id: &str,
        token: &str,
        message_id: &str,
        now: i64,
    ) -> Result<bool, LedgerFault> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", order_key(session_id))
            .update_expression(
                "SET #c = :sent, cancellation_emailed_at = :now, cancellation_message_id = :mid REMOVE claim_token",
            )
            .condition_expression("#c = :claimed AND claim_token = :token")
            .expression_attribute_names("#c", "cancellation")
            .expression_attribute_values(":sent", s(NoticeState::Sent.as_str()))
            .expression_attribute_values(":claimed", s(NoticeState::Claimed.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":mid", s(message_id))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        applied("UpdateItem (cancellation complete)", result)
    }
}
