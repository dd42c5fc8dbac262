//! `orders list | show | stats | export | resend` (`reconcile` is in reconcile.rs).

use crate::cli::{Global, OrdersCommand};
use crate::output::{print_json, rfc3339, table};
use crate::store::Target;
use crate::{Failure, Result, failed};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tickets::config::{ConfigCache, VotekeySource};
use tickets::fulfill::{Fulfill, Resend};
use tickets::ledger::{OrderRecord, OrderStatus};
use tickets::stripe::StripeApi;

pub async fn run(global: &Global, command: OrdersCommand) -> Result<()> {
    let target = Target::resolve(global).await?;
    match command {
        OrdersCommand::List { status } => {
            let wanted = status.map(|s| s.order_status());
            let orders: Vec<OrderRecord> =
                target.orders().await?.into_iter().filter(|o| wanted.is_none_or(|s| o.status == s)).collect();
            list(global, &orders);
            Ok(())
        }
        OrdersCommand::Show { session_id } => show(global, &target, &session_id).await,
        OrdersCommand::Stats => stats(global, &target).await,
        OrdersCommand::Export { shipping, out } => export(&target, shipping, out.as_deref()).await,
        OrdersCommand::Resend { session_id, to } => resend(global, &target, &session_id, to.as_deref()).await,
        OrdersCommand::Reconcile { days } => crate::reconcile::run(global, &target, days).await,
    }
}

fn options(order: &OrderRecord) -> String {
    order.details.options.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

fn amount(order: &OrderRecord) -> String {
    match (order.details.amount_total, &order.details.currency) {
        (Some(n), Some(c)) => format!("{n} {}", c.to_uppercase()),
        (Some(n), None) => n.to_string(),
        _ => String::new(),
    }
}

/// What refunds and disputes did: `revoked (refund)`, `dispute open` …
fn standing(order: &OrderRecord) -> String {
    let s = &order.standing;
    let mut notes = Vec::new();
    if let Some(reason) = s.revoked {
        notes.push(format!("revoked ({})", reason.as_str()));
    }
    if let Some(state) = s.dispute_status {
        notes.push(format!("dispute {}", state.as_str()));
    }
    if let Some(amount) = s.refunded_amount.filter(|_| order.status != OrderStatus::Refunded) {
        notes.push(format!("refunded {amount}"));
    }
    notes.join(", ")
}

fn list(global: &Global, orders: &[OrderRecord]) {
    if global.json {
        print_json(&json!({ "orders": orders }));
        return;
    }
    let rows: Vec<Vec<String>> = orders
        .iter()
        .map(|o| {
            vec![
                o.details.session_id.clone(),
                o.status.as_str().to_owned(),
                rfc3339(o.created_at),
                o.details.email.clone().unwrap_or_default(),
                o.details.name.clone().unwrap_or_default(),
                o.details.ticket.clone().unwrap_or_default(),
                options(o),
                amount(o),
                o.votekey.clone().unwrap_or_default(),
                standing(o),
            ]
        })
        .collect();
    let header = ["session", "status", "created", "email", "name", "ticket", "options", "amount", "votekey", "notes"];
    print!("{}", table(&header, &rows));
    println!("{} order{}", orders.len(), if orders.len() == 1 { "" } else { "s" });
}

async fn show(global: &Global, target: &Target, session_id: &str) -> Result<()> {
    let order = target
        .ledger()?
        .get(session_id)
        .await
        .map_err(|e| failed("reading the order", e))?
        .ok_or_else(|| Failure::Failed(format!("no order {session_id}")))?;
    if global.json {
        print_json(&json!(order));
        return Ok(());
    }
    let Value::Object(fields) = json!(order) else { return Ok(()) };
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|(key, value)| {
            let text = match (key.ends_with("_at"), value) {
                (true, Value::Number(n)) => n.as_i64().map_or_else(|| n.to_string(), rfc3339),
                (_, Value::String(s)) => s.clone(),
                _ => value.to_string(),
            };
            vec![key.clone(), text]
        })
        .collect();
    print!("{}", table(&["field", "value"], &rows));
    Ok(())
}

async fn stats(global: &Global, target: &Target) -> Result<()> {
    let orders = target.orders().await?;
    let mut by_status: BTreeMap<&str, usize> = [
        OrderStatus::Pending,
        OrderStatus::Claimed,
        OrderStatus::Emailed,
        OrderStatus::FailureClaimed,
        OrderStatus::Failed,
        OrderStatus::Refunded,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for order in &orders {
        *by_status.entry(order.status.as_str()).or_default() += 1;
    }
    let disputed = orders.iter().filter(|o| o.standing.dispute.is_some()).count();
    let revoked = orders.iter().filter(|o| o.standing.revoked.is_some()).count();
    let partly_refunded =
        orders.iter().filter(|o| o.status != OrderStatus::Refunded && o.standing.refunded_amount.is_some()).count();
    // The sale's figures need the config (what is limited, and by how much).
    let config = match (&global.config_file, &global.config_parameter, &target.stack_parameter) {
        (None, None, None) => None,
        _ => Some(target.config(global).await?.1),
    };
    let availability = match &config {
        None => None,
        Some(config) => {
            let inventory = target.inventory()?;
            let now = tickets::system_clock()();
            let report = tickets::checkout::availability_report(config, Some(inventory.as_ref()), now)
                .await
                .map_err(|e| failed("availability", e))?;
            Some(report)
        }
    };
    let pool = PoolStats {
        remaining: target.pool()?.remaining().await.map_err(|e| failed("reading the votekey pool", e))?,
        source: config.as_ref().map(|c| c.votekey_source()),
    };
    if global.json {
        print_json(&json!({
            "orders": { "total": orders.len(), "by_status": by_status, "disputed": disputed,
                        "revoked": revoked, "partly_refunded": partly_refunded },
            "availability": availability,
            "votekey_pool": {
                "remaining": pool.remaining,
                "source": pool.source.map(|s| match s { VotekeySource::Generate => "generate", VotekeySource::Pool => "pool" }),
                "empty": pool.empty(),
            },
        }));
        return Ok(());
    }
    if pool.empty() {
        println!("{}\n", pool.line());
    }
    let mut rows: Vec<Vec<String>> = by_status.iter().map(|(s, n)| vec![(*s).to_owned(), n.to_string()]).collect();
    rows.push(vec!["total".into(), orders.len().to_string()]);
    rows.push(vec!["disputed".into(), disputed.to_string()]);
    rows.push(vec!["revoked votekeys".into(), revoked.to_string()]);
    rows.push(vec!["partly refunded".into(), partly_refunded.to_string()]);
    print!("{}", table(&["orders", "count"], &rows));
    match availability {
        Some(report) => print!("\n{}", availability_table(&report)),
        None => println!("\n(sold / held / available need the config: --config-file FILE or --config-parameter NAME)"),
    }
    println!("\n{}", pool.line());
    Ok(())
}

/// The votekey pool's size, and whether the config draws from it (when the
/// config was given).
struct PoolStats {
    remaining: u64,
    source: Option<VotekeySource>,
}

impl PoolStats {
    /// Fulfilment draws from the pool and nothing is left: every paid order
    /// is answered 503 until keys are imported.
    fn empty(&self) -> bool {
        self.source == Some(VotekeySource::Pool) && self.remaining == 0
    }

    fn line(&self) -> String {
        let keys = format!("{} key{}", self.remaining, if self.remaining == 1 { "" } else { "s" });
        match self.source {
            _ if self.empty() => "VOTEKEY POOL EMPTY: paid orders get no votekey email (fulfill answers 503 and \
                                  Stripe retries) until keys are imported with `tdf-admin votekeys import FILE`"
                .to_owned(),
            Some(VotekeySource::Pool) => format!("votekey pool: {keys} left (votekey_source is pool)"),
            Some(VotekeySource::Generate) => {
                format!("votekey pool: {keys} (unused: votekey_source is generate)")
            }
            None => format!("votekey pool: {keys}"),
        }
    }
}

/// The availability report as a table: one row per ticket, capacity group
/// and option choice; `-` for unlimited.
fn availability_table(report: &Value) -> String {
    let figure = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).map_or("-".to_owned(), |n| n.to_string());
    let row = |what: String, v: &Value, sale: &str| {
        vec![what, figure(v, "capacity"), figure(v, "sold"), figure(v, "held"), figure(v, "available"), sale.to_owned()]
    };
    let mut rows = Vec::new();
    let empty = serde_json::Map::new();
    for (id, ticket) in report["tickets"].as_object().unwrap_or(&empty) {
        let sale = ticket["sale"].as_str().unwrap_or_default();
        let sold_out = if ticket["sold_out"] == json!(true) { ", sold out" } else { "" };
        let mut r = row(format!("ticket {id}"), ticket, &format!("{sale}{sold_out}"));
        // A ticket's `available` is the least of its own, its group's and its choices'.
        r[4] = ticket.get("available").and_then(Value::as_u64).map_or("-".into(), |n| n.to_string());
        rows.push(r);
        for (field, choices) in ticket.get("options").and_then(Value::as_object).unwrap_or(&empty) {
            for (value, figures) in choices.as_object().unwrap_or(&empty) {
                if figures["capacity"].is_number() {
                    rows.push(row(format!("  {field}={value}"), figures, ""));
                }
            }
        }
    }
    for (name, group) in report["capacity_groups"].as_object().unwrap_or(&empty) {
        rows.push(row(format!("group {name}"), group, ""));
    }
    table(&["on sale", "capacity", "sold", "held", "available", "sale"], &rows)
}

/// The CSV's writer: `out` or standard output, UTF-8 with a byte order mark
/// (Excel then reads Japanese names correctly), RFC 4180 quoting.
fn csv_writer(out: Option<&Path>) -> Result<csv::Writer<Box<dyn Write>>> {
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| failed(&format!("creating {}", path.display()), e))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    sink.write_all("\u{feff}".as_bytes()).map_err(|e| failed("writing the CSV", e))?;
    Ok(csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(sink))
}

/// The all-orders CSV's header.
pub const ORDER_COLUMNS: &[&str] = &[
    "session_id",
    "status",
    "email",
    "name",
    "ticket",
    "options",
    "amount",
    "currency",
    "votekey",
    "votekey_state",
    "created_at",
    "emailed_at",
    "refunded_amount",
    "dispute_status",
];

fn order_row(o: &OrderRecord) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let time = |t: Option<i64>| t.map(rfc3339).unwrap_or_default();
    let votekey_state = match (&o.votekey, o.standing.revoked) {
        (None, _) => String::new(),
        (Some(_), Some(reason)) => format!("revoked ({})", reason.as_str()),
        (Some(_), None) => "valid".into(),
    };
    vec![
        o.details.session_id.clone(),
        o.status.as_str().into(),
        opt(&o.details.email),
        opt(&o.details.name),
        opt(&o.details.ticket),
        options(o),
        o.details.amount_total.map(|n| n.to_string()).unwrap_or_default(),
        opt(&o.details.currency),
        opt(&o.votekey),
        votekey_state,
        rfc3339(o.created_at),
        time(o.emailed_at),
        o.standing.refunded_amount.map(|n| n.to_string()).unwrap_or_default(),
        o.standing.dispute_status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
    ]
}

/// Is this order a parcel to send: paid and emailed, with an address, not
/// refunded and its votekey not revoked (a lost dispute)?
pub fn ships(o: &OrderRecord) -> bool {
    o.status == OrderStatus::Emailed && o.details.shipping_address.is_some() && o.standing.revoked.is_none()
}

async fn export(target: &Target, shipping: bool, out: Option<&Path>) -> Result<()> {
    let mut orders = target.orders().await?;
    orders.reverse(); // oldest first: the order they were bought in
    let io = |e: csv::Error| failed("writing the CSV", e);
    if !shipping {
        let mut writer = csv_writer(out)?;
        writer.write_record(ORDER_COLUMNS).map_err(io)?;
        for order in &orders {
            writer.write_record(order_row(order)).map_err(io)?;
        }
        writer.flush().map_err(|e| failed("writing the CSV", e))?;
        if let Some(path) = out {
            println!(
                "{} order{} written to {}",
                orders.len(),
                if orders.len() == 1 { "" } else { "s" },
                path.display()
            );
        }
        return Ok(());
    }
    let parcels: Vec<&OrderRecord> = orders.iter().filter(|o| ships(o)).collect();
    // One column per option field any parcel has (the T-shirt `tshirt`).
    let fields: Vec<String> = {
        let mut all: Vec<String> = parcels.iter().flat_map(|o| o.details.options.keys().cloned()).collect();
        all.sort();
        all.dedup();
        all
    };
    let mut writer = csv_writer(out)?;
    let mut header: Vec<String> =
        ["name", "line1", "line2", "city", "state", "postal_code", "country"].map(String::from).to_vec();
    header.extend(fields.iter().cloned());
    writer.write_record(&header).map_err(io)?;
    let mut sizes: BTreeMap<(String, String), usize> = BTreeMap::new();
    for order in &parcels {
        let d = &order.details;
        let Some(a) = &d.shipping_address else { continue };
        let part = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut row = vec![part(&d.shipping_name.clone().or_else(|| d.name.clone())), part(&a.line1), part(&a.line2)];
        row.extend([part(&a.city), part(&a.state), part(&a.postal_code), part(&a.country)]);
        for field in &fields {
            let value = d.options.get(field).cloned().unwrap_or_default();
            *sizes.entry((field.clone(), value.clone())).or_default() += 1;
            row.push(value);
        }
        writer.write_record(&row).map_err(io)?;
    }
    writer.flush().map_err(|e| failed("writing the CSV", e))?;
    // The count per size, after the list: on stdout when the CSV went to a
    // file, else on stderr so the CSV stays clean.
    let mut summary = format!("{} parcel{}", parcels.len(), if parcels.len() == 1 { "" } else { "s" });
    for ((field, value), n) in &sizes {
        summary.push_str(&format!("\n{field} {}: {n}", if value.is_empty() { "(none)" } else { value }));
    }
    match out {
        Some(path) => println!("{summary}\nwritten to {}", path.display()),
        None => eprintln!("{summary}"),
    }
    Ok(())
}

async fn resend(global: &Global, target: &Target, session_id: &str, to: Option<&str>) -> Result<()> {
    let (text, config) = target.config(global).await?;
    // The resend needs neither Stripe nor the config cache; Fulfill is built
    // with both, so they are given but never called.
    let cache = ConfigCache::new(Box::new(Fixed(text)), Duration::from_secs(3600));
    let payments = Arc::new(StripeApi::new(tickets::stripe::DEFAULT_API_BASE, Duration::from_secs(10)));
    let fulfill = Fulfill::new(Arc::new(cache), payments, target.ledger()?, target.mailer());
    let outcome = fulfill.resend(&config, session_id, to).await.map_err(|e| failed("sending", e))?;
    let (sent, message) = match &outcome {
        Resend::Sent { to, votekey, .. } => (true, format!("sent the votekey email ({votekey}) again to {to}")),
        Resend::SentNotRecorded { to, votekey, .. } => (
            true,
            format!(
                "sent the votekey email ({votekey}) again to {to}, but the order changed meanwhile and the resend is not recorded"
            ),
        ),
        Resend::UnknownOrder => (false, format!("no order {session_id}")),
        Resend::NotEmailed(status) => (
            false,
            format!(
                "order {session_id} is {}: its votekey email never went out, so there is nothing to resend",
                status.as_str()
            ),
        ),
        Resend::Revoked => {
            (false, format!("order {session_id}'s votekey is revoked (refund or dispute): not sent again"))
        }
        Resend::NoAddress => (false, format!("order {session_id} has no email address: give --to ADDRESS")),
    };
    if global.json {
        let (to, votekey, message_id) = match &outcome {
            Resend::Sent { to, votekey, message_id } | Resend::SentNotRecorded { to, votekey, message_id } => {
                (Some(to), Some(votekey), Some(message_id))
            }
            _ => (None, None, None),
        };
        print_json(&json!({ "session_id": session_id, "sent": sent, "to": to, "votekey": votekey,
                            "message_id": message_id, "recorded": matches!(outcome, Resend::Sent { .. }),
                            "message": message }));
    } else if sent {
        println!("{message}");
    }
    match (sent, global.json) {
        (true, _) => Ok(()),
        (false, true) => Err(Failure::Failed(String::new())),
        (false, false) => Err(Failure::Failed(message)),
    }
}

/// The config text already read, as a config source.
pub(crate) struct Fixed(pub(crate) String);

impl tickets::config::ConfigSource for Fixed {
    fn fetch(&self) -> tickets::BoxFuture<'_, std::result::Result<String, tickets::config::SourceError>> {
        let text = self.0.clone();
        Box::pin(async move { Ok(text) })
    }
    fn describe(&self) -> String {
        "the config given to tdf-admin".into()
    }
}
