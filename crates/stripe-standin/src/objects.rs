//! Stripe objects built from Stripe's published fixtures (`fixtures/stripe/`):
//! Checkout sessions, their line items, list pages and webhook events.

use crate::payment::Address;
use crate::prices::FakePrice;
use crate::store::Store;
use crate::{now_unix, param, params_with_prefix, random_id};
use serde_json::{Map, Value, json};

const SESSION_FIXTURE: &str = include_str!("../fixtures/stripe/checkout_session.json");
const ITEM_FIXTURE: &str = include_str!("../fixtures/stripe/item.json");
const EVENT_FIXTURE: &str = include_str!("../fixtures/stripe/event.json");

/// The API version async-stripe 1.0.0-rc.10 pins; events carry it.
pub const API_VERSION: &str = "2026-09-30.endive";

/// A webhook event of `event_type` whose `data.object` is `object`.
pub fn event_for(event_type: &str, object: Value) -> Value {
    let mut event: Value = serde_json::from_str(EVENT_FIXTURE).expect("event fixture is JSON");
    event["id"] = json!(random_id("evt_", 24));
    event["type"] = json!(event_type);
    event["created"] = json!(now_unix());
    event["api_version"] = json!(API_VERSION);
    event["pending_webhooks"] = json!(1);
    event["data"] = json!({ "object": object });
    event
}

/// A parameter Stripe would reject, as its 400 names it: (param, message).
pub(crate) type InvalidParam = (String, String);

fn missing(param: &str) -> InvalidParam {
    (param.to_owned(), format!("Missing required param: {param}."))
}

/// What a create-session form asks for, checked against the store's catalog.
struct SessionRequest<'a> {
    success_url: &'a str,
    cancel_url: Option<&'a str>,
    locale: Option<&'a str>,
    metadata: Map<String, Value>,
    cart: Cart,
    /// `shipping_address_collection[allowed_countries]`; empty: no address is collected.
    allowed_countries: Vec<&'a str>,
    /// The shipping rate's id and amount, if the session charges shipping.
    shipping: Option<(&'a str, i64)>,
    payment_method_types: Vec<&'a str>,
    /// When the session expires (unix seconds), checked against creation.
    expires_at: i64,
}

/// How soon and how late a session may expire after creation (Stripe: 30 minutes to 24 hours).
const EXPIRY_MIN_SECS: i64 = 30 * 60;
const EXPIRY_MAX_SECS: i64 = 24 * 3600;

/// The priced line items of a session.
struct Cart {
    items: Vec<Value>,
    subtotal: i64,
    currency: String,
}

/// Builds the session Stripe would create for this form and its line items,
/// or the first problem Stripe would report.
pub(crate) fn build_session(store: &Store, form: &[(String, String)]) -> Result<(Value, Vec<Value>), InvalidParam> {
    let now = now_unix();
    let request = parse_session_form(store, form, now)?;
    let mut session: Value = serde_json::from_str(SESSION_FIXTURE).expect("session fixture is JSON");
    let fields = session_fields(&store.hosted_base, &request, now);
    for (k, v) in fields.as_object().expect("object literal") {
        session[k] = v.clone();
    }
    Ok((session, request.cart.items))
}

/// Checks the form in the order Stripe reports problems.
fn parse_session_form<'a>(
    store: &Store,
    form: &'a [(String, String)],
    now: i64,
) -> Result<SessionRequest<'a>, InvalidParam> {
    let get = |k: &str| param(form, k);
    let mode = get("mode").ok_or_else(|| missing("mode"))?;
    if mode != "payment" {
        return Err(("mode".into(), format!("The fake Stripe supports only mode=payment, not {mode}.")));
    }
    let success_url = get("success_url").ok_or_else(|| missing("success_url"))?;
    let expires_at = parse_expires_at(get("expires_at"), now)?;
    let cart = price_line_items(store, form)?;
    let allowed_countries = parse_allowed_countries(form)?;
    let shipping = match get("shipping_options[0][shipping_rate]") {
        None => None,
        Some(rate) => Some((rate, shipping_rate_amount(store, rate)?)),
    };
    Ok(SessionRequest {
        success_url,
        cancel_url: get("cancel_url"),
        locale: get("locale"),
        metadata: parse_metadata(form),
        cart,
        allowed_countries,
        shipping,
        payment_method_types: params_with_prefix(form, "allowed_payment_method_types"),
        expires_at,
    })
}

/// `expires_at`: 30 minutes to 24 hours after `now` (creation), both ends
/// included; without it, 24 hours after creation, as on Stripe.
fn parse_expires_at(value: Option<&str>, now: i64) -> Result<i64, InvalidParam> {
    let Some(value) = value else { return Ok(now + EXPIRY_MAX_SECS) };
    let invalid = |message: &str| ("expires_at".to_owned(), message.to_owned());
    let at: i64 = value.parse().map_err(|_| invalid(&format!("Invalid integer: {value}")))?;
    if at - now < EXPIRY_MIN_SECS {
        return Err(invalid("The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."));
    }
    if at - now > EXPIRY_MAX_SECS {
        return Err(invalid("The `expires_at` timestamp must be less than 24 hours from Checkout Session creation."));
    }
    Ok(at)
}

/// `line_items[i][price]` and `[quantity]`, priced from the store's catalog.
fn price_line_items(store: &Store, form: &[(String, String)]) -> Result<Cart, InvalidParam> {
    let mut cart = Cart { items: Vec::new(), subtotal: 0, currency: String::new() };
    for i in 0.. {
        let Some(price_id) = param(form, &format!("line_items[{i}][price]")) else { break };
        let quantity_param = format!("line_items[{i}][quantity]");
        let quantity: i64 = param(form, &quantity_param)
            .ok_or_else(|| missing(&quantity_param))?
            .parse()
            .map_err(|_| (quantity_param.clone(), "Invalid integer.".into()))?;
        let price = match store.catalog.checkout_price(price_id) {
            Some(p) => p,
            None if store.lenient_prices && price_id.starts_with("price_") => {
                FakePrice::new(price_id, price_id, 1000, "jpy")
            }
            None => {
                return Err((format!("line_items[{i}][price]"), format!("No such price: '{price_id}'")));
            }
        };
        if !cart.currency.is_empty() && cart.currency != price.currency {
            return Err((format!("line_items[{i}][price]"), "All prices must be in the same currency.".into()));
        }
        cart.currency = price.currency.clone();
        cart.subtotal += price.unit_amount * quantity;
        cart.items.push(line_item(&price, quantity));
    }
    if cart.items.is_empty() {
        return Err(missing("line_items"));
    }
    Ok(cart)
}

/// `metadata[key]` parameters as the session's `metadata` object.
pub(crate) fn parse_metadata(form: &[(String, String)]) -> Map<String, Value> {
    form.iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), json!(v)))
        })
        .collect()
}

/// The countries a shipping address may be in: two-letter upper-case codes.
fn parse_allowed_countries(form: &[(String, String)]) -> Result<Vec<&str>, InvalidParam> {
    let countries = params_with_prefix(form, "shipping_address_collection[allowed_countries]");
    if let Some(bad) = countries.iter().find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(("shipping_address_collection[allowed_countries]".into(), format!("Invalid country: {bad}")));
    }
    Ok(countries)
}

/// The amount of a known shipping rate; lenient stores charge 500 for unknown ones.
fn shipping_rate_amount(store: &Store, rate: &str) -> Result<i64, InvalidParam> {
    let amount = store.catalog.shipping_amount(rate).or(store.lenient_prices.then_some(500));
    amount.ok_or_else(|| ("shipping_options[0][shipping_rate]".to_owned(), format!("No such shipping rate: '{rate}'")))
}

/// The fields of a new open session that override the fixture's.
fn session_fields(hosted_base: &str, request: &SessionRequest, now: i64) -> Value {
    let id = random_id("cs_test_a1", 56);
    let cart = &request.cart;
    let shipping_amount = request.shipping.map_or(0, |(_, amount)| amount);
    json!({
        "id": id,
        "url": format!("{hosted_base}/{id}"),
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "locale": request.locale,
        "metadata": request.metadata,
        "created": now,
        "expires_at": request.expires_at,
        "currency": cart.currency,
        "amount_subtotal": cart.subtotal,
        "amount_total": cart.subtotal + shipping_amount,
        "customer_details": null,
        "customer_email": null,
        "collected_information": null,
        "payment_intent": null,
        "after_expiration": null,
        "currency_conversion": null,
        "discounts": [],
        "payment_method_types":
            if request.payment_method_types.is_empty() { vec!["card"] } else { request.payment_method_types.clone() },
        "shipping_address_collection": if request.allowed_countries.is_empty() {
            Value::Null
        } else {
            json!({"allowed_countries": request.allowed_countries})
        },
        "shipping_options": match request.shipping {
            None => json!([]),
            Some((rate, amount)) => json!([{"shipping_amount": amount, "shipping_rate": rate}]),
        },
        "shipping_cost": match request.shipping {
            None => Value::Null,
            Some((rate, amount)) => json!({"amount_subtotal": amount, "amount_tax": 0, "amount_total": amount, "shipping_rate": rate}),
        },
        "total_details": {"amount_discount": 0, "amount_shipping": shipping_amount, "amount_tax": 0},
    })
}

fn line_item(price: &FakePrice, quantity: i64) -> Value {
    let mut item: Value = serde_json::from_str(ITEM_FIXTURE).expect("item fixture is JSON");
    let amount = price.unit_amount * quantity;
    item["id"] = json!(random_id("li_", 24));
    item["description"] = json!(price.name);
    item["quantity"] = json!(quantity);
    item["currency"] = json!(price.currency);
    item["amount_subtotal"] = json!(amount);
    item["amount_total"] = json!(amount);
    item["adjustable_quantity"] = Value::Null;
    let p = &mut item["price"];
    p["id"] = json!(price.id);
    p["nickname"] = json!(price.name);
    p["currency"] = json!(price.currency);
    p["unit_amount"] = json!(price.unit_amount);
    p["unit_amount_decimal"] = json!(price.unit_amount.to_string());
    p["type"] = json!("one_time");
    p["recurring"] = Value::Null;
    p["transform_quantity"] = Value::Null;
    p["custom_unit_amount"] = Value::Null;
    item
}

pub(crate) fn address_json(a: &Address) -> Value {
    json!({
        "city": a.city, "country": a.country, "line1": a.line1, "line2": a.line2,
        "postal_code": a.postal_code, "state": a.state,
    })
}

/// A list object as Stripe pages it (`limit`, `starting_after`).
pub(crate) fn list_page(items: &[Value], query: &[(String, String)], url: &str) -> Value {
    let limit = param(query, "limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let start = param(query, "starting_after")
        .and_then(|after| items.iter().position(|i| i["id"] == after).map(|p| p + 1))
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    json!({"object": "list", "data": page, "has_more": start + limit < items.len(), "url": url})
}

/// Whether the session collects a shipping address.
pub(crate) fn collects_shipping(session: &Value) -> bool {
    session["shipping_address_collection"].is_object()
}

/// The countries the session ships to; empty when it collects no address.
pub(crate) fn allowed_countries(session: &Value) -> Vec<String> {
    session["shipping_address_collection"]["allowed_countries"]
        .as_array()
        .map(|list| list.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
