//! `orders reconcile`: the fulfill function's reconciliation, by hand, on
//! the target's orders, holds, votekey pool and mailer (SES, or the local
//! outbox), with the config's Stripe key (`STRIPE_API_BASE` honoured, as by
//! the functions).

use crate::cli::Global;
use crate::orders::Fixed;
use crate::output::{print_json, table};
use crate::store::Target;
use crate::{Failure, Result, failed};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tickets::config::ConfigCache;
use tickets::fulfill::{Fulfill, ReconcileReport};

pub async fn run(global: &Global, target: &Target, days: Option<u32>) -> Result<()> {
    let (text, config) = target.config(global).await?;
    let days = days.unwrap_or_else(|| config.reconcile_days());
    // Fulfill reads its config through a cache: this one holds the config given.
    let cache = ConfigCache::new(Box::new(Fixed(text)), Duration::from_secs(3600));
    let stripe = Arc::new(tickets::runtime::stripe_api());
    let fulfill = Fulfill::new(Arc::new(cache), stripe, target.ledger()?, target.mailer())
        .with_inventory(target.inventory()?)
        .with_votekey_pool(target.pool()?);
    let report =
        fulfill.reconcile(&config, days).await.map_err(|e| failed("listing Stripe's completed sessions", e))?;
    if global.json {
        print_json(&json!(report));
    } else {
        print!("{}", summary(&report));
    }
    match (report.failed, global.json) {
        (0, _) => Ok(()),
        (_, true) => Err(Failure::Failed(String::new())),
        (n, false) => Err(Failure::Failed(format!("{n} session{} failed: run it again", plural(n)))),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The counts as a table, then the sessions emailed and failed, by id.
fn summary(report: &ReconcileReport) -> String {
    let rows: Vec<Vec<String>> = [
        ("listed (completed)", report.listed),
        ("not this shop's", report.not_ours),
        ("awaiting payment", report.awaiting_payment),
        ("checked (paid)", report.checked),
        ("  already emailed", report.already_emailed),
        ("  fulfilled now", report.fulfilled_now),
        ("  being sent now", report.in_progress),
        ("  not sent", report.not_sent),
        ("  failed", report.failed),
    ]
    .into_iter()
    .map(|(what, n)| vec![what.to_owned(), n.to_string()])
    .collect();
    let days = format!("sessions, last {} day{}", report.days, plural(report.days as usize));
    let mut text = table(&[&days, "count"], &rows);
    for session in &report.fulfilled_sessions {
        text.push_str(&format!("emailed now: {session}\n"));
    }
    for failure in &report.failed_sessions {
        text.push_str(&format!("failed: {}: {}\n", failure.session_id, failure.error));
    }
    if report.fulfilled_now > 0 {
        text.push_str(&format!(
            "{} paid order{} had no email: check the webhook endpoint (Stripe Dashboard, Developers, Webhooks)\n",
            report.fulfilled_now,
            plural(report.fulfilled_now)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickets::fulfill::FailedSession;

    #[test]
    fn the_summary_counts_and_names_the_sessions() {
        let report = ReconcileReport {
            days: 7,
            listed: 4,
            not_ours: 1,
            checked: 3,
            already_emailed: 1,
            fulfilled_now: 1,
            failed: 1,
            fulfilled_sessions: vec!["cs_test_missed".into()],
            failed_sessions: vec![FailedSession { session_id: "cs_test_bad".into(), error: "Stripe: 502".into() }],
            ..ReconcileReport::default()
        };
        let text = summary(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "sessions, last 7 days  count");
        assert!(lines.contains(&"  fulfilled now        1"), "{text}");
        assert!(lines.contains(&"emailed now: cs_test_missed"), "{text}");
        assert!(lines.contains(&"failed: cs_test_bad: Stripe: 502"), "{text}");
        assert!(text.contains("1 paid order had no email"), "{text}");
        let quiet =
            ReconcileReport { days: 1, listed: 2, checked: 2, already_emailed: 2, ..ReconcileReport::default() };
        let quiet = summary(&quiet);
        assert!(quiet.starts_with("sessions, last 1 day  count"), "{quiet}");
        assert!(!quiet.contains("emailed now") && !quiet.contains("had no email"), "{quiet}");
    }
}
