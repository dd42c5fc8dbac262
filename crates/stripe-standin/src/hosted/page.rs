//! The HTML of the hosted Checkout page.

use super::{EXPIRE_ACTION, PayForm, success_url};
use crate::objects::allowed_countries;
use crate::prices::format_amount;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn esc(s: &str) -> String {
    tickets::web::escape_html(s)
}

pub(super) fn html_response(status: StatusCode, page: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page)
        .into_response()
}

pub(super) fn not_found_page(id: &str) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        page_shell(
            "Checkout session not found",
            &format!(
                "<main class=\"card\"><h1>Checkout session not found</h1><p>There is no session <code>{}</code>. \
                 The local stand-in keeps sessions in memory, so a restart forgets them: start again from the ticket page.</p></main>",
                esc(id)
            ),
        ),
    )
}

/// After paying, when the session has nowhere to redirect to.
pub(super) fn paid_page() -> String {
    page_shell("Paid", "<main class=\"card\"><h1>Paid</h1><p>The session has no success_url to return to.</p></main>")
}

fn page_shell(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
 body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f9fc; color: #30313d; }}
 .banner {{ background: #fff4ce; border-bottom: 1px solid #e8d48a; padding: .7em 1em; text-align: center; font-size: .95em; }}
 .layout {{ display: flex; flex-wrap: wrap; gap: 2em; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
 .summary {{ flex: 1 1 20em; }} .pay {{ flex: 1 1 22em; }}
 .card {{ background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 1.5em; max-width: 40em; margin: 2em auto; }}
 .pay .card, .summary .card {{ margin: 0; }}
 .total {{ font-size: 2em; font-weight: 600; margin: .2em 0 .8em; }}
 table {{ width: 100%; border-collapse: collapse; }} td {{ padding: .45em 0; border-bottom: 1px solid #eee; }} td.amount {{ text-align: right; }}
 label {{ display: block; font-size: .85em; margin: .8em 0 .25em; color: #6a7383; }}
 input, select {{ width: 100%; box-sizing: border-box; padding: .6em; border: 1px solid #d5dbe1; border-radius: 6px; font-size: 1em; }}
 .row {{ display: flex; gap: .8em; }} .row > div {{ flex: 1; }}
 button {{ width: 100%; margin-top: 1.4em; padding: .8em; font-size: 1.05em; font-weight: 600; color: #fff; background: #635bff; border: 0; border-radius: 6px; cursor: pointer; }}
 button.secondary {{ margin-top: .8em; font-size: .9em; font-weight: 400; color: #635bff; background: #fff; border: 1px solid #d5dbe1; }}
 .error {{ background: #fdecea; color: #8a1c1c; border-radius: 6px; padding: .6em .8em; margin-bottom: 1em; }}
 .muted {{ color: #6a7383; font-size: .85em; }} code {{ font-size: .85em; }}
 h2 {{ font-size: 1.05em; margin: 1.4em 0 .2em; }}
</style></head><body>
<div class="banner" id="stand-in-notice"><strong>Local stand-in for Stripe Checkout.</strong> No real payment happens here: nothing is charged and no card is needed.</div>
{body}
</body></html>
"#,
        title = esc(title),
    )
}

/// The session's page: what is bought and the payment form, re-filled with
/// `form` and showing `error` when a payment was refused.
pub(super) fn checkout_page(session: &Value, items: &[Value], form: &PayForm, error: Option<&str>) -> String {
    if session["status"] == "complete" {
        return already_paid_page(session);
    }
    if session["status"] == "expired" {
        return expired_page(session);
    }
    let id = session["id"].as_str().unwrap_or_default();
    let currency = session["currency"].as_str().unwrap_or("jpy");
    let total = session["amount_total"].as_i64().unwrap_or_default();
    let body = format!(
        r#"<div class="layout">
<section class="summary"><div class="card">
{back}<div class="muted">Pay (test mode)</div>
<div class="total" id="total">{total}</div>
<table id="line-items">{rows}</table>
<p class="muted">Session <code>{id}</code></p>
</div></section>
<section class="pay"><div class="card">
<form method="post" id="pay-form">
{error}
<h2>Contact information</h2>
{email}
{name}
{shipping}
<h2>Payment</h2>
<p class="muted">Test mode: no card details are asked for. Pressing Pay marks the session paid, sends the
<code>checkout.session.completed</code> webhook and returns you to the shop, as Stripe would.</p>
<button type="submit" id="pay">Pay {total}</button>
</form>
<form method="post" id="expire-form">
<input type="hidden" name="action" value="{expire_action}">
<button type="submit" id="expire" class="secondary">Let this session expire (sends <code>checkout.session.expired</code>,
as Stripe does when the buyer walks away)</button>
</form>
</div></section>
</div>"#,
        back = back_link(session),
        total = esc(&format_amount(total, currency)),
        rows = summary_rows(session, items, currency),
        id = esc(id),
        error = error.map(|e| format!("<div class=\"error\" id=\"pay-error\">{}</div>", esc(e))).unwrap_or_default(),
        email = input_field("email", "Email", &form.email, "email", true, "email"),
        name = input_field("name", "Full name", &form.name, "text", true, "name"),
        shipping = shipping_fields(session, form),
        expire_action = EXPIRE_ACTION,
    );
    page_shell("Pay (local Stripe Checkout stand-in)", &body)
}

fn already_paid_page(session: &Value) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    page_shell(
        "Already paid",
        &format!(
            "<main class=\"card\"><h1>This order is already paid</h1><p>Session <code>{}</code> was paid.</p>\
             <p><a href=\"{}\">Continue to the order page</a></p></main>",
            esc(id),
            esc(&success_url(session))
        ),
    )
}

/// An expired session: Stripe's page says it is no longer available.
pub(super) fn expired_page(session: &Value) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    page_shell(
        "Session expired",
        &format!(
            "<main class=\"card\" id=\"expired\">{}<h1>This checkout session has expired</h1>\
             <p>Session <code>{}</code> expired: it can no longer be paid. Start again from the ticket page.</p></main>",
            back_link(session),
            esc(id)
        ),
    )
}

/// A link back to the session's `cancel_url`, if it is a web address.
fn back_link(session: &Value) -> String {
    session["cancel_url"]
        .as_str()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .map(|u| format!("<p class=\"muted\"><a href=\"{}\">← Back to the ticket page</a></p>", esc(u)))
        .unwrap_or_default()
}

/// The order summary's rows: line items, shipping when charged, total due.
fn summary_rows(session: &Value, items: &[Value], currency: &str) -> String {
    let mut rows = String::new();
    for item in items {
        let description = item["description"].as_str().unwrap_or("Item");
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        let amount = item["amount_total"].as_i64().unwrap_or_default();
        let quantity = if quantity == 1 { String::new() } else { format!(" × {quantity}") };
        rows.push_str(&format!(
            "<tr class=\"line-item\"><td>{}{quantity}</td><td class=\"amount\">{}</td></tr>",
            esc(description),
            esc(&format_amount(amount, currency))
        ));
    }
    let shipping_amount = session["total_details"]["amount_shipping"].as_i64().unwrap_or_default();
    if !session["shipping_options"].as_array().is_none_or(|o| o.is_empty()) {
        rows.push_str(&format!(
            "<tr><td>Shipping</td><td class=\"amount\">{}</td></tr>",
            esc(&format_amount(shipping_amount, currency))
        ));
    }
    let total = session["amount_total"].as_i64().unwrap_or_default();
    rows.push_str(&format!(
        "<tr><td><strong>Total due</strong></td><td class=\"amount\"><strong>{}</strong></td></tr>",
        esc(&format_amount(total, currency))
    ));
    rows
}

/// A labelled `<input>`; `autocomplete` lets browsers fill it in.
fn input_field(name: &str, label: &str, value: &str, kind: &str, required: bool, autocomplete: &str) -> String {
    format!(
        "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\" value=\"{}\" autocomplete=\"{autocomplete}\"{}>",
        esc(value),
        if required { " required" } else { "" }
    )
}

/// The shipping address fields, when the session collects an address.
fn shipping_fields(session: &Value, form: &PayForm) -> String {
    let countries = allowed_countries(session);
    if countries.is_empty() {
        return String::new();
    }
    let options: String = countries
        .iter()
        .map(|c| {
            let selected = if *c == form.country { " selected" } else { "" };
            format!("<option value=\"{c}\"{selected}>{c}</option>", c = esc(c))
        })
        .collect();
    format!(
        "<h2>Shipping address</h2>{}{}<div class=\"row\"><div>{}</div><div>{}</div></div>\
         <div class=\"row\"><div>{}</div><div><label for=\"country\">Country</label><select id=\"country\" name=\"country\">{options}</select></div></div>",
        input_field("line1", "Address line 1", &form.line1, "text", true, "address-line1"),
        input_field("line2", "Address line 2 (optional)", &form.line2, "text", false, "address-line2"),
        input_field("city", "City", &form.city, "text", true, "address-level2"),
        input_field("state", "State / prefecture (optional)", &form.state, "text", false, "address-level1"),
        input_field("postal_code", "Postal code", &form.postal_code, "text", true, "postal-code"),
    )
}
