//! The votekey pool in the orders table: `pool#meta` (`size`, `next`,
//! `reserved`), `pool#<n>` (the n-th imported key) and `poolkey#<key>`
//! (marks a key as imported). See [`crate::pool`].

use super::{DynamoLedger, Item, fault, n, number, s, text};
use crate::BoxFuture;
use crate::ledger::LedgerFault;
use crate::pool::{ImportReport, VotekeyPool};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, WriteRequest};
use std::collections::HashMap;

const META: &str = "pool#meta";

fn key(pk: String) -> HashMap<String, AttributeValue> {
    [("pk".to_owned(), s(pk))].into()
}

impl DynamoLedger {
    async fn meta(&self) -> Result<Option<Item>, LedgerFault> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(META.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fault("GetItem (pool)", e))?;
        Ok(output.item)
    }

    /// Advances `next` by one while it is below `size`: the number drawn.
    async fn take_number(&self) -> Result<Option<i64>, LedgerFault> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(META.into())))
            .update_expression("SET #next = if_not_exists(#next, :zero) + :one")
            .condition_expression("attribute_exists(#size) AND (attribute_not_exists(#next) OR #next < #size)")
            .expression_attribute_names("#next", "next")
            .expression_attribute_names("#size", "size")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.attributes.as_ref().and_then(|a| number(a, "next")).map(|next| next - 1)),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(None)
            }
            Err(e) => Err(fault("UpdateItem (pool draw)", e)),
        }
    }

    async fn pool_draw(&self) -> Result<Option<String>, LedgerFault> {
        let Some(number) = self.take_number().await? else { return Ok(None) };
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("pool#{number}"))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fault("GetItem (pool key)", e))?;
        let votekey = output.item.as_ref().and_then(|item| text(item, "votekey"));
        votekey.map(Some).ok_or_else(|| LedgerFault(format!("the pool has no key number {number}")))
    }

    /// Which of `keys` exist as items `<prefix><key>`.
    async fn existing(&self, prefix: &str, keys: &[String]) -> Result<Vec<String>, LedgerFault> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let wanted = chunk.iter().map(|k| key(format!("{prefix}{k}"))).collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(wanted))
                .consistent_read(true)
                .build()
                .map_err(|e| LedgerFault(format!("building the pool check: {e}")))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| fault("BatchGetItem (pool)", e))?;
            if output.unprocessed_keys().is_some_and(|u| !u.is_empty()) {
                return Err(LedgerFault("BatchGetItem (pool): keys left unprocessed; import again".into()));
            }
            let items = output.responses().and_then(|r| r.get(&self.table)).into_iter().flatten();
            found.extend(items.filter_map(|item| text(item, "pk")?.strip_prefix(prefix).map(str::to_owned)));
        }
        Ok(found)
    }

    async fn write_all(&self, items: Vec<Item>) -> Result<(), LedgerFault> {
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(item.clone())).build();
                    put.map(|p| WriteRequest::builder().put_request(p).build())
                })
                .collect::<Result<_, _>>()
                .map_err(|e| LedgerFault(format!("building the pool's items: {e}")))?;
            for _ in 0..5 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| fault("BatchWriteItem (pool)", e))?;
                requests = output.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
            }
            if !requests.is_empty() {
                return Err(LedgerFault("BatchWriteItem (pool): items left unprocessed; import again".into()));
            }
        }
        Ok(())
    }

    /// Reserves numbers for `count` keys, writes them, then publishes the new size.
    async fn pool_import(&self, keys: &[String]) -> Result<ImportReport, LedgerFault> {
        let given = self.existing("votekey#", keys).await?;
        let pooled = self.existing("poolkey#", keys).await?;
        let new: Vec<&String> = keys.iter().filter(|k| !given.contains(k) && !pooled.contains(k)).collect();
        let mut report = ImportReport { added: new.len(), skipped: keys.len() - new.len(), remaining: 0 };
        if !new.is_empty() {
            let output = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(META.into())))
                .update_expression("ADD #reserved :count")
                .expression_attribute_names("#reserved", "reserved")
                .expression_attribute_values(":count", n(new.len() as i64))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await
                .map_err(|e| fault("UpdateItem (pool reserve)", e))?;
            let end = output.attributes.as_ref().and_then(|a| number(a, "reserved")).unwrap_or(new.len() as i64);
            let first = end - new.len() as i64;
            let mut items: Vec<Item> = Vec::new();
            for (i, k) in new.iter().enumerate() {
                items.push(
                    [("pk".to_owned(), s(format!("pool#{}", first + i as i64))), ("votekey".to_owned(), s(*k))].into(),
                );
                items.push([("pk".to_owned(), s(format!("poolkey#{k}")))].into());
            }
            self.write_all(items).await?;
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(META.into())))
                .update_expression("SET #size = :end")
                .condition_expression("attribute_not_exists(#size) OR #size < :end")
                .expression_attribute_names("#size", "size")
                .expression_attribute_values(":end", n(end))
                .send()
                .await
                .map_err(|e| fault("UpdateItem (pool size)", e))?;
        }
        report.remaining = self.pool_left().await?;
        Ok(report)
    }

    async fn pool_left(&self) -> Result<u64, LedgerFault> {
        let meta = self.meta().await?;
        let get = |k: &str| meta.as_ref().and_then(|m| number(m, k)).unwrap_or(0);
        Ok(u64::try_from(get("size") - get("next")).unwrap_or(0))
    }
}

impl VotekeyPool for DynamoLedger {
    fn draw<'a>(&'a self) -> BoxFuture<'a, Result<Option<String>, LedgerFault>> {
        Box::pin(self.pool_draw())
    }

    fn import<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<ImportReport, LedgerFault>> {
        Box::pin(self.pool_import(keys))
    }

    fn remaining<'a>(&'a self) -> BoxFuture<'a, Result<u64, LedgerFault>> {
        Box::pin(self.pool_left())
    }
}
