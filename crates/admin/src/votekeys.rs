//! `votekeys export`: the keys Wuhu must know (emailed, unrevoked orders),
//! or those it must forget (`--revoked`).

use crate::Result;
use crate::cli::{Global, KeyFormat, VotekeysCommand};
use crate::output::print_json;
use crate::store::Target;
use serde_json::json;
use tickets::ledger::{OrderRecord, OrderStatus};

pub async fn run(global: &Global, command: VotekeysCommand) -> Result<()> {
    let VotekeysCommand::Export { format, revoked } = command;
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
