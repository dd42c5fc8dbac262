//! The local server's own pages: the sample ticket page (with what is left,
//! from `GET /availability`), the thank-you page, the outbox and the ledger
//! (orders, holds and counters).

use crate::availability::{self, Availability};
use crate::{App, Shared, StripeBackend};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use stripe_standin::{example_prices, format_amount};
use tickets::config::Catalog;
use tickets::inventory::{CounterKey, HoldStatus};
use tickets::web::escape_html as esc;

fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

const STYLE: &str = r#"
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
 nav { background: #1d2330; color: #fff; padding: .6em 1em; display: flex; gap: 1.2em; align-items: baseline; flex-wrap: wrap; }
 nav a { color: #cfe0ff; text-decoration: none; } nav .brand { font-weight: 600; color: #fff; }
 nav .mode { margin-left: auto; font-size: .85em; color: #ffd479; }
 main { max-width: 72em; margin: 1.5em auto; padding: 0 1em; }
 .ticket { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1em 1.2em; margin: 1em 0; }
 .ticket h2 { margin: 0 0 .3em; } .price { color: #555; }
 label { display: inline-block; margin: .4em 1em .4em 0; }
 select, button { font-size: 1em; padding: .4em .6em; }
 button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: .55em 1.2em; cursor: pointer; }
 pre { background: #f0f0f0; padding: .8em; overflow-x: auto; white-space: pre-wrap; }
 table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9em; }
 th, td { border: 1px solid #ddd; padding: .4em .5em; text-align: left; vertical-align: top; }
 th { background: #f0f0f0; }
 td { overflow-wrap: break-word; } td.session { max-width: 12em; overflow-wrap: anywhere; } td.shipping { min-width: 12em; }
 td.status, td.votekey { white-space: nowrap; }
 .email { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1em; margin: 1em 0; }
 .email iframe { width: 100%; height: 28em; border: 1px solid #ddd; background: #fff; }
 .cols { display: flex; gap: 1em; flex-wrap: wrap; } .cols > div { flex: 1 1 24em; min-width: 0; }
 .status-emailed { color: #0a7a2f; font-weight: 600; } .muted { color: #666; font-size: .9em; }
 .availability { margin: .2em 0 .4em; font-weight: 600; color: #0a7a2f; }
 .availability.sold-out, .availability.closed { color: #b3261e; }
 button:disabled { background: #aaa; cursor: not-allowed; }
 .hold-held { color: #8a5a00; font-weight: 600; } .hold-sold { color: #0a7a2f; font-weight: 600; }
"#;

fn page(app: &App, title: &str, body: &str) -> String {
    let mode = match &app.info.stripe {
        StripeBackend::StandIn => "Stripe: local stand-in · no real payments".to_owned(),
        StripeBackend::Real(api) => format!("Stripe: test mode at {}", esc(api)),
    };
    let body = format!(
        "<nav><a class=\"brand\" href=\"/\">{event} · local</a><a href=\"/\">Tickets</a>\
         <a href=\"/outbox\">Outbox</a><a href=\"/ledger\">Ledger</a><span class=\"mode\">{mode}</span></nav>\
         <main>{body}</main>",
        event = esc(app.info.event_name.as_deref().unwrap_or("tdf-tickets")),
    );
    tickets::web::html_document(title, STYLE, &body)
}

/// A price's amount when the stand-in knows it (the example catalog's prices).
fn known_price(app: &App, price: &str) -> Option<String> {
    if app.info.stripe != StripeBackend::StandIn {
        return None;
    }
    example_prices().into_iter().find(|p| p.id == price).map(|p| format_amount(p.unit_amount, &p.currency))
}

/// The catalog as HTML forms POSTing to `action` (what an organizer copies);
/// with `availability`, what is left of each limited ticket and stocked choice.
pub(crate) fn ticket_forms(
    catalog: &Catalog,
    action: &str,
    price: impl Fn(&str) -> Option<String>,
    availability: Option<&Availability>,
) -> String {
    let mut out = String::new();
    for ticket in catalog.tickets() {
        let id = esc(ticket.id().as_str());
        let amount = price(ticket.price().as_str())
            .map(|a| format!(" <span class=\"price\">{}</span>", esc(&a)))
            .unwrap_or_default();
        let note = availability.and_then(|a| a.ticket_note(ticket));
        let _ = writeln!(out, "<form class=\"ticket\" id=\"buy-{id}\" method=\"post\" action=\"{}\">", esc(action));
        let _ = writeln!(out, "  <h2>{}{amount}</h2>", esc(ticket.name()));
        if let Some(note) = &note {
            let _ =
                writeln!(out, "  <p class=\"availability {}\" id=\"left-{id}\">{}</p>", note.state, esc(&note.text));
        }
        let _ = writeln!(out, "  <input type=\"hidden\" name=\"type\" value=\"{id}\">");
        for group in ticket.options() {
            let field = esc(group.field());
            let _ = writeln!(out, "  <label>{} <select name=\"{field}\" required>", esc(group.label()));
            let _ = writeln!(out, "    <option value=\"\">Choose…</option>");
            for choice in group.choices() {
                let mut extra =
                    choice.price().and_then(|p| price(p.as_str())).map(|a| format!(" (+{a})")).unwrap_or_default();
                let left = availability.and_then(|a| a.choice_left(ticket, group.field(), choice.value()));
                match left {
                    Some(0) => extra.push_str(" (sold out)"),
                    Some(n) => {
                        let _ = write!(extra, " ({n} left)");
                    }
                    None => {}
                }
                let _ = writeln!(
                    out,
                    "    <option value=\"{}\"{}>{}{}</option>",
                    esc(choice.value()),
                    if left == Some(0) { " disabled" } else { "" },
                    esc(choice.label()),
                    esc(&extra)
                );
            }
            let _ = writeln!(out, "  </select></label>");
        }
        if ticket.shipping().is_some() {
            let _ = writeln!(
                out,
                "  <p class=\"muted\">Shipped to you: the shipping address is asked for at checkout.</p>"
            );
        }
        let disabled = if note.is_some_and(|n| !n.on_sale) { " disabled" } else { "" };
        let _ = writeln!(out, "  <button type=\"submit\"{disabled}>Buy: {}</button>", esc(ticket.name()));
        let _ = writeln!(out, "</form>");
    }
    out
}

pub(crate) async fn tickets(State(app): Shared) -> Response {
    let config = match app.config.current().await {
        Ok(config) => config,
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                page(&app, "Config unavailable", &format!("<p>{}</p>", esc(&e.to_string()))),
            );
        }
    };
    let action = format!("{}checkout", app.info.url);
    // What is left and the sale windows, as GET /availability reports them.
    let (left, unknown) = match availability::fetch(&app.checkout).await {
        Ok(left) => (Some(left), String::new()),
        Err(e) => (
            None,
            format!(
                "<p class=\"muted\" id=\"availability-unknown\">What is left is not known right now: {}</p>",
                esc(&e)
            ),
        ),
    };
    let forms = ticket_forms(config.catalog(), &action, |p| known_price(&app, p), left.as_ref());
    let plain = ticket_forms(config.catalog(), &action, |_| None, None);
    let intro = match &app.info.stripe {
        StripeBackend::StandIn => {
            "Choose a ticket and pay on the local stand-in for Stripe Checkout: no real payment happens. \
             Your votekey email lands in the <a href=\"/outbox\">outbox</a>, the order in the <a href=\"/ledger\">ledger</a>."
        }
        StripeBackend::Real(_) => {
            "Choose a ticket: you pay on Stripe's real Checkout page in test mode (card 4242 4242 4242 4242). \
             Your votekey email lands in the <a href=\"/outbox\">outbox</a>, the order in the <a href=\"/ledger\">ledger</a>."
        }
    };
    let body = format!(
        "<h1>Tickets</h1><p>{intro}</p>{unknown}{forms}\
         <details><summary>The HTML of these forms, to copy into your own site</summary>\
         <p class=\"muted\">On your site, point <code>action</code> at your API's domain \
         (<code>https://tickets.example.org/checkout</code>). No JavaScript is needed.</p><pre id=\"form-html\">{}</pre></details>",
        esc(&plain)
    );
    html(StatusCode::OK, page(&app, "Tickets", &body))
}

pub(crate) async fn thanks(State(app): Shared) -> Response {
    let body = "<h1>Thank you!</h1><p id=\"thanks\">Your order is complete. Your ticket and votekey are on their way by email.</p>\
        <p class=\"muted\">Running locally: the email is in the <a href=\"/outbox\">outbox</a>, \
        the order in the <a href=\"/ledger\">ledger</a>.</p><p><a href=\"/\">Back to the tickets</a></p>";
    html(StatusCode::OK, page(&app, "Thank you", body))
}

fn when(unix_ms: i64) -> String {
    // UTC, without a date library: days since the epoch → civil date.
    let secs = unix_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem / 60 % 60, rem % 60)
}

pub(crate) async fn outbox(State(app): Shared) -> Response {
    let emails = match app.outbox.list().await {
        Ok(emails) => emails,
        Err(e) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page(&app, "Outbox", &format!("<p>{}</p>", esc(&e.to_string()))),
            );
        }
    };
    let mut body = format!(
        "<h1>Outbox</h1><p class=\"muted\">Emails the fulfill handler sent, newest first: {} in <code>{}</code>.</p>",
        emails.len(),
        esc(&crate::display_path(&app.info.outbox_dir))
    );
    if emails.is_empty() {
        body.push_str("<p id=\"outbox-empty\">No email yet: buy a ticket on the <a href=\"/\">ticket page</a>.</p>");
    }
    for email in emails.iter().rev() {
        let _ = write!(
            body,
            "<section class=\"email\" id=\"{id}\"><h2 class=\"subject\">{subject}</h2>\
             <p class=\"muted\">{when} · From {from} · To {to} · <code>{id}</code></p>\
             <div class=\"cols\"><div><h3>Text</h3><pre class=\"text\">{text}</pre></div>\
             <div><h3>HTML</h3><iframe sandbox title=\"HTML version\" src=\"/outbox/{id}/html\"></iframe></div></div></section>",
            id = esc(&email.id),
            subject = esc(&email.subject),
            when = when(email.sent_at_ms),
            from = esc(&email.from),
            to = esc(&email.to),
            text = esc(&email.text),
        );
    }
    html(StatusCode::OK, page(&app, "Outbox", &body))
}

pub(crate) async fn outbox_html(State(app): Shared, Path(id): Path<String>) -> Response {
    let emails = app.outbox.list().await.unwrap_or_default();
    match emails.into_iter().find(|e| e.id == id) {
        // Served sandboxed: the email's own HTML, as a mail client would show it.
        Some(email) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ],
            email.html,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such email\n").into_response(),
    }
}

/// `cs_test_a1b2c3…wxyz`: enough to tell sessions apart on the page.
fn short_id(id: &str) -> String {
    if id.len() <= 24 || !id.is_ascii() { id.to_owned() } else { format!("{}…{}", &id[..16], &id[id.len() - 6..]) }
}

pub(crate) async fn ledger(State(app): Shared) -> Response {
    let orders = match app.ledger.list().await {
        Ok(orders) => orders,
        Err(e) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page(&app, "Ledger", &format!("<p>{}</p>", esc(&e.to_string()))),
            );
        }
    };
    let mut body = format!(
        "<h1>Ledger</h1><p class=\"muted\">Orders, newest first: {} in <code>{}</code> (the same records DynamoDB holds on AWS).</p>",
        orders.len(),
        esc(&crate::display_path(&app.info.ledger_path))
    );
    if orders.is_empty() {
        body.push_str("<p id=\"ledger-empty\">No order yet.</p>");
    } else {
        body.push_str(
            "<table id=\"orders\"><tr><th>Created</th><th>Session</th><th>Status</th><th>Votekey</th><th>Buyer</th>\
             <th>Ticket</th><th>Items</th><th>Amount</th><th>Shipping</th><th>Emailed</th></tr>",
        );
        for order in &orders {
            let d = &order.details;
            let options: String = d.options.iter().map(|(k, v)| format!(", {}={}", esc(k), esc(v))).collect();
            let items: Vec<String> = d.items.iter().map(|i| esc(i)).collect();
            let amount = match (d.amount_total, &d.currency) {
                (Some(a), Some(c)) => format_amount(a, c),
                _ => String::new(),
            };
            let shipping = d
                .shipping_address
                .as_ref()
                .map(|a| {
                    let parts = [&a.line1, &a.line2, &a.city, &a.state, &a.postal_code, &a.country];
                    let lines: Vec<String> = parts.iter().filter_map(|p| p.as_deref()).map(esc).collect();
                    format!("{}<br>{}", esc(d.shipping_name.as_deref().unwrap_or("")), lines.join(", "))
                })
                .unwrap_or_default();
            let status = order.status.as_str();
            let _ = write!(
                body,
                "<tr class=\"order\" data-session=\"{session}\"><td>{created}</td><td class=\"session\"><code title=\"{session}\">{short}</code></td>\
                 <td class=\"status status-{status}\">{status}</td><td class=\"votekey\"><code>{votekey}</code></td>\
                 <td>{name}<br>{email}</td><td>{ticket}{options}</td><td>{items}</td><td>{amount}</td>\
                 <td class=\"shipping\">{shipping}</td><td>{emailed}</td></tr>",
                session = esc(&d.session_id),
                short = esc(&short_id(&d.session_id)),
                created = when(order.created_at * 1000),
                votekey = esc(order.votekey.as_deref().unwrap_or("")),
                name = esc(d.name.as_deref().unwrap_or("")),
                email = esc(d.email.as_deref().unwrap_or("")),
                ticket = esc(d.ticket.as_deref().unwrap_or("")),
                items = items.join("<br>"),
                amount = esc(&amount),
                emailed = order.emailed_at.map(|t| when(t * 1000)).unwrap_or_default(),
            );
        }
        body.push_str("</table>");
    }
    match app.ledger.inventory().await {
        Ok(inventory) => {
            let config = app.config.current().await.ok();
            body.push_str(&inventory_tables(&inventory, config.as_ref().map(|c| c.catalog()), now()));
        }
        Err(e) => {
            let _ = write!(body, "<h2>Holds</h2><p>{}</p>", esc(&e.to_string()));
        }
    }
    html(StatusCode::OK, page(&app, "Ledger", &body))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A counter's limit in the config as it is now (`None`: no longer limited).
fn capacity_of(catalog: &Catalog, key: &CounterKey) -> Option<u32> {
    let groups = catalog.capacity_groups().iter().map(|(name, n)| (CounterKey::group(name), Some(*n)));
    let tickets = catalog.tickets().iter().flat_map(|t| {
        let stocks = t
            .options()
            .iter()
            .flat_map(|g| g.choices().iter().map(move |c| (CounterKey::stock(g.field(), c.value()), c.stock())));
        std::iter::once((CounterKey::ticket(t), t.capacity())).chain(stocks)
    });
    groups.chain(tickets).find(|(k, _)| k == key).and_then(|(_, n)| n)
}

/// `in 34 min`, `2 min ago`.
fn relative(seconds: i64) -> String {
    let minutes = (seconds.abs() + 59) / 60;
    if seconds >= 0 { format!("in {minutes} min") } else { format!("{minutes} min ago") }
}

/// The capacity counters and the holds (checkouts that took a place).
fn inventory_tables(inventory: &localstore::InventorySnapshot, catalog: Option<&Catalog>, now: i64) -> String {
    let mut body = String::from(
        "<h2>Counters</h2><p class=\"muted\">Places taken per limit: held by open checkouts, sold to paid orders.</p>",
    );
    if inventory.counters.is_empty() {
        body.push_str("<p id=\"counters-empty\">No place taken yet.</p>");
    } else {
        body.push_str("<table id=\"counters\"><tr><th>Counter</th><th>Held</th><th>Sold</th><th>Capacity</th></tr>");
        for (key, counts) in &inventory.counters {
            let capacity = catalog.and_then(|c| capacity_of(c, key)).map_or_else(|| "–".to_owned(), |n| n.to_string());
            let _ = write!(
                body,
                "<tr class=\"counter\" data-counter=\"{key}\"><td><code>{key}</code></td><td class=\"held\">{}</td>\
                 <td class=\"sold\">{}</td><td class=\"capacity\">{capacity}</td></tr>",
                counts.held,
                counts.sold,
                key = esc(key.as_str()),
            );
        }
        body.push_str("</table>");
    }
    body.push_str(
        "<h2>Holds</h2><p class=\"muted\">One per checkout of a limited ticket, newest first: <code>held</code> until \
         paid (<code>sold</code>) or given back (<code>released</code>: the session expired, or the sweeper found it overdue).</p>",
    );
    let holds = inventory.holds_newest_first();
    if holds.is_empty() {
        body.push_str("<p id=\"holds-empty\">No hold yet.</p>");
        return body;
    }
    body.push_str(
        "<table id=\"holds\"><tr><th>Created</th><th>Hold</th><th>Status</th><th>Counters</th><th>Expires</th></tr>",
    );
    for hold in holds {
        let counters: Vec<String> = hold.counters.iter().map(|c| format!("<code>{}</code>", esc(c.as_str()))).collect();
        let expires = match hold.status {
            HoldStatus::Held => format!("{} ({})", when(hold.expires_at * 1000), relative(hold.expires_at - now)),
            _ => when(hold.expires_at * 1000),
        };
        let _ = write!(
            body,
            "<tr class=\"hold\" data-hold=\"{id}\"><td>{created}</td><td><code>{id}</code></td>\
             <td class=\"status hold-{status}\">{status}</td><td>{counters}</td><td>{expires}</td></tr>",
            id = esc(&hold.id),
            created = when(hold.created_at * 1000),
            status = hold.status.as_str(),
            counters = counters.join("<br>"),
        );
    }
    body.push_str("</table>");
    body
}
