//! Products, prices and shipping rates, built from Stripe's fixtures
//! (`product.json`, `price.json`, `shipping_rate.json`), kept per mode as
//! Stripe keeps them: a test-mode key (`sk_test_…`, `rk_test_…`) sees only
//! test-mode objects (`livemode: false`), a live-mode key only live ones.
//!
//! Checkout prices its line items and shipping from the test-mode objects
//! (the shop's sessions are test mode only here); the catalog starts with
//! [`FakeStripeOptions`](crate::FakeStripeOptions)'s prices, each with a
//! product named as the price, and grows by the API's `POST`s and
//! [`FakeStripe::put_price`](crate::FakeStripe::put_price).

mod routes;

use crate::objects::{InvalidParam, parse_metadata};
use crate::prices::FakePrice;
use crate::{now_unix, param, random_id};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub(crate) use routes::add_routes;

const PRODUCT_FIXTURE: &str = include_str!("../fixtures/stripe/product.json");
const PRICE_FIXTURE: &str = include_str!("../fixtures/stripe/price.json");
const SHIPPING_RATE_FIXTURE: &str = include_str!("../fixtures/stripe/shipping_rate.json");

/// Test or live mode: which objects a key sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    /// The mode of a secret or restricted key; `None` for anything else.
    pub fn of_key(key: &str) -> Option<Mode> {
        let body = key.strip_prefix("sk_").or_else(|| key.strip_prefix("rk_"))?;
        if body.starts_with("test_") {
            Some(Mode::Test)
        } else if body.starts_with("live_") {
            Some(Mode::Live)
        } else {
            None
        }
    }

    pub fn livemode(self) -> bool {
        self == Mode::Live
    }

    /// `test` or `live`, as Stripe's messages say it.
    pub fn name(self) -> &'static str {
        if self.livemode() { "live" } else { "test" }
    }

    fn of_object(object: &Value) -> Mode {
        if object["livemode"] == true { Mode::Live } else { Mode::Test }
    }
}

/// A kind of catalog object: its API path, its `object` and how Stripe names it.
#[derive(Debug)]
pub(crate) struct Kind {
    /// `products`: `/v1/products`.
    pub(crate) path: &'static str,
    pub(crate) object: &'static str,
    /// In "No such price: '…'".
    pub(crate) label: &'static str,
    /// The `param` of Stripe's 404.
    pub(crate) param: &'static str,
}

pub(crate) const PRODUCTS: Kind = Kind { path: "products", object: "product", label: "product", param: "id" };
pub(crate) const PRICES: Kind = Kind { path: "prices", object: "price", label: "price", param: "price" };
pub(crate) const SHIPPING_RATES: Kind =
    Kind { path: "shipping_rates", object: "shipping_rate", label: "shipping rate", param: "shipping_rate" };

/// Why a catalog object could not be found under a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    NoSuch,
    /// It exists, in the other mode (Stripe says so in its 404).
    InMode(Mode),
}

/// Every product, price and shipping rate, both modes.
#[derive(Default)]
pub(crate) struct Catalog {
    objects: BTreeMap<String, Value>,
    /// Ids in creation order, oldest first (lists page newest first).
    order: Vec<String>,
}

fn from_fixture(fixture: &str, fields: Value) -> Value {
    let mut object: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    for (k, v) in fields.as_object().expect("object literal") {
        object[k] = v.clone();
    }
    object
}

fn missing(param: &str) -> InvalidParam {
    (param.to_owned(), format!("Missing required param: {param}."))
}

fn invalid(param: &str, message: impl Into<String>) -> InvalidParam {
    (param.to_owned(), message.into())
}

/// `true`/`false`, as Stripe's form booleans.
fn boolean(form: &[(String, String)], name: &str) -> Result<Option<bool>, InvalidParam> {
    match param(form, name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(invalid(name, format!("Invalid boolean: {other}"))),
    }
}

fn integer(form: &[(String, String)], name: &str) -> Result<Option<i64>, InvalidParam> {
    param(form, name).map(|v| v.parse::<i64>().map_err(|_| invalid(name, format!("Invalid integer: {v}")))).transpose()
}

/// A text parameter; an empty value unsets it (`null`).
fn text(form: &[(String, String)], name: &str) -> Value {
    match param(form, name) {
        None | Some("") => Value::Null,
        Some(v) => json!(v),
    }
}

/// `metadata[…]`, within Stripe's limits (50 keys, keys up to 40 characters,
/// values up to 500); empty values are left out.
fn metadata(form: &[(String, String)]) -> Result<Map<String, Value>, InvalidParam> {
    let mut metadata = parse_metadata(form);
    metadata.retain(|_, v| v.as_str().is_some_and(|s| !s.is_empty()));
    if metadata.len() > 50 {
        return Err(invalid("metadata", "You can specify up to 50 keys."));
    }
    for (key, value) in &metadata {
        if key.chars().count() > 40 {
            return Err(invalid(&format!("metadata[{key}]"), "Keys must be at most 40 characters."));
        }
        if value.as_str().is_some_and(|v| v.chars().count() > 500) {
            return Err(invalid(&format!("metadata[{key}]"), "Values must be at most 500 characters."));
        }
    }
    Ok(metadata)
}

fn currency(form: &[(String, String)], name: &str) -> Result<String, InvalidParam> {
    let value = param(form, name).ok_or_else(|| missing(name))?;
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid(name, format!("Invalid currency: {value}")));
    }
    Ok(value.to_ascii_lowercase())
}

fn tax_behavior(form: &[(String, String)]) -> Result<&str, InvalidParam> {
    match param(form, "tax_behavior") {
        None => Ok("unspecified"),
        Some(b @ ("inclusive" | "exclusive" | "unspecified")) => Ok(b),
        Some(other) => Err(invalid(
            "tax_behavior",
            format!("Invalid tax_behavior: must be one of inclusive, exclusive, or unspecified (not {other})."),
        )),
    }
}

/// Stripe's `price_1…` and `shr_1…` ids have 24 characters after the prefix.
fn new_id(kind: &Kind) -> String {
    match kind.object {
        "product" => random_id("prod_", 14),
        "price" => random_id("price_1", 23),
        _ => random_id("shr_1", 23),
    }
}

impl Catalog {
    pub(crate) fn get(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.objects.get_mut(id)
    }

    /// The object `id` of `kind` as a key of `mode` sees it.
    pub(crate) fn find(&self, kind: &Kind, id: &str, mode: Mode) -> Result<&Value, Missing> {
        let object = self.objects.get(id).filter(|o| o["object"] == kind.object).ok_or(Missing::NoSuch)?;
        let object_mode = Mode::of_object(object);
        if object_mode == mode { Ok(object) } else { Err(Missing::InMode(object_mode)) }
    }

    fn insert(&mut self, object: Value) -> Value {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        if self.objects.insert(id.clone(), object.clone()).is_none() {
            self.order.push(id);
        }
        object
    }

    /// The objects of `kind` in `mode` that pass `keep`, newest first.
    pub(crate) fn list(&self, kind: &Kind, mode: Mode, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.objects.get(id))
            .filter(|o| o["object"] == kind.object && Mode::of_object(o) == mode && keep(o))
            .cloned()
            .collect()
    }

    /// What Checkout charges for a test-mode price: its amount, currency
    /// and its product's name.
    pub(crate) fn checkout_price(&self, id: &str) -> Option<FakePrice> {
        let price = self.find(&PRICES, id, Mode::Test).ok()?;
        let product = price["product"].as_str().and_then(|p| self.objects.get(p));
        let name = product.and_then(|p| p["name"].as_str()).or(price["nickname"].as_str()).unwrap_or(id);
        Some(FakePrice::new(id, name, price["unit_amount"].as_i64()?, price["currency"].as_str()?))
    }

    /// A test-mode shipping rate's amount.
    pub(crate) fn shipping_amount(&self, id: &str) -> Option<i64> {
        self.find(&SHIPPING_RATES, id, Mode::Test).ok()?["fixed_amount"]["amount"].as_i64()
    }

    /// The currency of the oldest test-mode price, if any.
    pub(crate) fn first_currency(&self) -> Option<String> {
        let prices = self.list(&PRICES, Mode::Test, |_| true);
        prices.last().and_then(|p| p["currency"].as_str()).map(str::to_owned)
    }

    /// A price `price.id` (replacing one of that id) with a new product named
    /// `price.name`, in `mode`. Returns the price.
    pub(crate) fn put_price(&mut self, mode: Mode, price: &FakePrice) -> Value {
        let now = now_unix();
        let product = self.insert(new_product(mode, &new_id(&PRODUCTS), json!(price.name), now));
        self.insert(from_fixture(
            PRICE_FIXTURE,
            json!({
                "id": price.id, "livemode": mode.livemode(), "created": now, "product": product["id"],
                "currency": price.currency, "unit_amount": price.unit_amount,
                "unit_amount_decimal": price.unit_amount.to_string(), "type": "one_time", "recurring": null,
                "custom_unit_amount": null, "transform_quantity": null, "nickname": null,
            }),
        ))
    }

    /// A fixed-amount shipping rate `id` (replacing one of that id) in `mode`.
    pub(crate) fn put_shipping_rate(
        &mut self,
        mode: Mode,
        id: &str,
        display_name: &str,
        amount: i64,
        currency: &str,
    ) -> Value {
        self.insert(from_fixture(
            SHIPPING_RATE_FIXTURE,
            json!({
                "id": id, "livemode": mode.livemode(), "created": now_unix(), "display_name": display_name,
                "fixed_amount": {"amount": amount, "currency": currency}, "delivery_estimate": null,
            }),
        ))
    }

    /// `POST /v1/products`: `name` (required), `id`, `active`, `description`,
    /// `metadata[…]`, `images[]`, `shippable`, `statement_descriptor`,
    /// `tax_code`, `unit_label`, `url`.
    pub(crate) fn create_product(&mut self, mode: Mode, form: &[(String, String)]) -> Result<Value, InvalidParam> {
        let name = param(form, "name").filter(|n| !n.is_empty()).ok_or_else(|| missing("name"))?;
        let id = match param(form, "id") {
            None => new_id(&PRODUCTS),
            Some(id) if self.objects.contains_key(id) => {
                return Err(invalid("id", format!("Product already exists with id {id}")));
            }
            Some(id) => id.to_owned(),
        };
        let mut product = new_product(mode, &id, json!(name), now_unix());
        product["active"] = json!(boolean(form, "active")?.unwrap_or(true));
        product["metadata"] = Value::Object(metadata(form)?);
        product["images"] = json!(crate::params_with_prefix(form, "images["));
        product["shippable"] = json!(boolean(form, "shippable")?);
        for field in ["description", "statement_descriptor", "tax_code", "unit_label", "url"] {
            product[field] = text(form, field);
        }
        Ok(self.insert(product))
    }

    /// `POST /v1/prices`: `currency` and `product` (of the same mode)
    /// required, `unit_amount` or `unit_amount_decimal`, `nickname`,
    /// `tax_behavior`, `active`, `lookup_key`, `metadata[…]`,
    /// `recurring[interval]` and `[interval_count]` (absent: one-time).
    pub(crate) fn create_price(&mut self, mode: Mode, form: &[(String, String)]) -> Result<Value, InvalidParam> {
        let currency = currency(form, "currency")?;
        let product = param(form, "product").ok_or_else(|| missing("product"))?;
        if self.find(&PRODUCTS, product, mode).is_err() {
            return Err(invalid("product", format!("No such product: '{product}'")));
        }
        let unit_amount = match (integer(form, "unit_amount")?, param(form, "unit_amount_decimal")) {
            (Some(amount), _) => amount,
            (None, Some(decimal)) => decimal
                .parse::<i64>()
                .map_err(|_| invalid("unit_amount_decimal", "The fake Stripe takes whole unit amounts only."))?,
            (None, None) => return Err(missing("unit_amount")),
        };
        if unit_amount < 0 {
            return Err(invalid("unit_amount", "This value must be greater than or equal to 0."));
        }
        let recurring = match param(form, "recurring[interval]") {
            None => Value::Null,
            Some(interval @ ("day" | "week" | "month" | "year")) => json!({
                "interval": interval,
                "interval_count": integer(form, "recurring[interval_count]")?.unwrap_or(1),
                "meter": null, "trial_period_days": null, "usage_type": "licensed",
            }),
            Some(other) => return Err(invalid("recurring[interval]", format!("Invalid interval: {other}"))),
        };
        let lookup_key = text(form, "lookup_key");
        if lookup_key.is_string() && !self.list(&PRICES, mode, |p| p["lookup_key"] == lookup_key).is_empty() {
            return Err(invalid("lookup_key", "A price with this lookup_key already exists."));
        }
        let price = from_fixture(
            PRICE_FIXTURE,
            json!({
                "id": new_id(&PRICES), "livemode": mode.livemode(), "created": now_unix(), "product": product,
                "currency": currency, "unit_amount": unit_amount, "unit_amount_decimal": unit_amount.to_string(),
                "type": if recurring.is_null() { "one_time" } else { "recurring" }, "recurring": recurring,
                "active": boolean(form, "active")?.unwrap_or(true), "nickname": text(form, "nickname"),
                "tax_behavior": tax_behavior(form)?, "lookup_key": lookup_key,
                "metadata": metadata(form)?, "custom_unit_amount": null, "transform_quantity": null,
            }),
        );
        Ok(self.insert(price))
    }

    /// `POST /v1/shipping_rates`: `display_name`, `type=fixed_amount`,
    /// `fixed_amount[amount]` and `[currency]` required; `delivery_estimate`
    /// (`[minimum]`/`[maximum]` `[unit]` and `[value]`), `tax_behavior`,
    /// `tax_code`, `metadata[…]`.
    pub(crate) fn create_shipping_rate(
        &mut self,
        mode: Mode,
        form: &[(String, String)],
    ) -> Result<Value, InvalidParam> {
        let display_name = param(form, "display_name").ok_or_else(|| missing("display_name"))?;
        if let Some(kind) = param(form, "type").filter(|t| *t != "fixed_amount") {
            return Err(invalid("type", format!("Invalid type: must be fixed_amount (not {kind}).")));
        }
        let amount = integer(form, "fixed_amount[amount]")?.ok_or_else(|| missing("fixed_amount[amount]"))?;
        let currency = currency(form, "fixed_amount[currency]")?;
        let mut estimate = Map::new();
        for end in ["minimum", "maximum"] {
            let unit = param(form, &format!("delivery_estimate[{end}][unit]"));
            let value = integer(form, &format!("delivery_estimate[{end}][value]"))?;
            match (unit, value) {
                (None, None) => {}
                (Some(unit @ ("hour" | "day" | "business_day" | "week" | "month")), Some(value)) if value > 0 => {
                    estimate.insert(end.into(), json!({"unit": unit, "value": value}));
                }
                _ => return Err(invalid(&format!("delivery_estimate[{end}]"), "Invalid delivery estimate.")),
            }
        }
        let rate = from_fixture(
            SHIPPING_RATE_FIXTURE,
            json!({
                "id": new_id(&SHIPPING_RATES), "livemode": mode.livemode(), "created": now_unix(),
                "display_name": display_name, "type": "fixed_amount",
                "fixed_amount": {"amount": amount, "currency": currency},
                "delivery_estimate": if estimate.is_empty() { Value::Null } else { Value::Object(estimate) },
                "active": boolean(form, "active")?.unwrap_or(true), "tax_behavior": tax_behavior(form)?,
                "tax_code": text(form, "tax_code"), "metadata": metadata(form)?,
            }),
        );
        Ok(self.insert(rate))
    }
}

fn new_product(mode: Mode, id: &str, name: Value, now: i64) -> Value {
    from_fixture(
        PRODUCT_FIXTURE,
        json!({
            "id": id, "livemode": mode.livemode(), "created": now, "updated": now, "name": name,
            "description": null, "default_price": null, "package_dimensions": null, "type": "service",
        }),
    )
}
