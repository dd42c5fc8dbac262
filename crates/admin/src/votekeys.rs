//! `votekeys export`: the keys Wuhu must know (emailed, unrevoked orders),
//! or those it must forget (`--revoked`). `votekeys import`: keys generated
//! in Wuhu into the pool that `fulfill` draws from (`"votekey_source": "pool"`).

use crate::cli::{Global, KeyFormat, VotekeysCommand};
use crate::output::print_json;
use crate::store::{Target, read_file};
use crate::{Failure, Result, failed};
use serde_json::json;
use std::path::Path;
use tickets::ledger::{OrderRecord, OrderStatus};
use tickets::pool::parse_keys;

pub async fn run(global: &Global, command: VotekeysCommand) -> Result<()> {
    match command {
        VotekeysCommand::Export { format, revoked } => export(global, format, revoked).await,
        VotekeysCommand::Import { file } => import(global, &file).await,
    }
}

async fn export(global: &Global, format: KeyFormat, revoked: bool) -> Result<()> {
    let target = Target::resolve(global).await?;
    let mut orders = target.orders().await?;
    orders.reverse(); // oldest first
    let keys = keys(&orders, revoked);
    if global.json || format == KeyFormat::Json {
        print_json(&json!({ "votekeys": keys }));
    } else {
        for key in &keys {
            println!("{key}");
        }
    }
    Ok(())
}

/// Every line is checked before anything is written: a file with a bad
/// line imports nothing.
async fn import(global: &Global, file: &Path) -> Result<()> {
    let target = Target::resolve(global).await?;
    let text = read_file(file)?;
    let keys = parse_keys(&text).map_err(|e| Failure::Failed(format!("{}: {e}; nothing imported", file.display())))?;
    let report = target.pool()?.import(&keys).await.map_err(|e| failed("importing into the votekey pool", e))?;
    if global.json {
        print_json(&json!({
            "file": file.display().to_string(),
            "keys": keys.len(),
            "added": report.added,
            "skipped": report.skipped,
            "remaining": report.remaining,
        }));
    } else {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        println!("{}: {} key{}", file.display(), keys.len(), plural(keys.len()));
        println!("{:<10} {}", "added", report.added);
        println!("{:<10} {} (already in the pool or given to an order)", "skipped", report.skipped);
        println!("{:<10} {} (keys left in the pool)", "remaining", report.remaining);
    }
    Ok(())
}

/// The keys of paid, emailed orders whose key stands — or, `revoked`, only
/// the revoked keys (refunded, or a dispute lost or revoked at once).
pub fn keys(orders: &[OrderRecord], revoked: bool) -> Vec<String> {
    orders
        .iter()
        .filter(|o| {
            if revoked {
                o.standing.revoked.is_some()
            } else {
                o.status == OrderStatus::Emailed && o.standing.revoked.is_none()
            }
        })
        .filter_map(|o| o.votekey.clone())
        .collect()
}
