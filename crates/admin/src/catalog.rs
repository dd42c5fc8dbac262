//! `catalog sync`: the config's prices (with their products) and shipping
//! rates, read with the config's key, get twins under another key (live
//! mode), and the config is written again with the twins' ids.
//!
//! Twins are marked in their metadata with the source's id (`tdf_twin_of`
//! on prices and shipping rates, `tdf_twin_of_product` on products) and
//! found again by listing the target's active objects, so a second run
//! creates nothing. Everything is read and checked before anything is
//! created; a dry run (no `--apply`) only reads.
//!
//! The new config is the original text with each quoted source id replaced
//! by its twin's (ids are unique tokens), so key order, formatting and every
//! other value stay as the organizer wrote them; the result is checked by
//! parsing it back, and re-serialized only if that check fails.

use crate::cli::{CatalogCommand, Global};
use crate::configs::validate;
use crate::output::{print_json, table};
use crate::store::read_file;
use crate::stripe::{Fetched, Stripe};
use crate::{Failure, Result, failed};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use tickets::config::{Config, StripeSecretKey};

/// Metadata marking a price's or shipping rate's twin: the source's id.
pub const TWIN_OF: &str = "tdf_twin_of";
/// Metadata marking a product's twin: the source product's id.
pub const TWIN_OF_PRODUCT: &str = "tdf_twin_of_product";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Product,
    Price,
    ShippingRate,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Product => "product",
            Kind::Price => "price",
            Kind::ShippingRate => "shipping rate",
        }
    }
    fn path(self) -> &'static str {
        match self {
            Kind::Product => "/products",
            Kind::Price => "/prices",
            Kind::ShippingRate => "/shipping_rates",
        }
    }
    fn marker(self) -> &'static str {
        if self == Kind::Product { TWIN_OF_PRODUCT } else { TWIN_OF }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Found,
    Created,
    WouldCreate,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Found => "found",
            Action::Created => "created",
            Action::WouldCreate => "would create",
        }
    }
    fn json(self) -> &'static str {
        match self {
            Action::WouldCreate => "would_create",
            other => other.name(),
        }
    }
}

/// One object to twin.
struct Entry {
    kind: Kind,
    /// The config keys naming it (for a product: the keys naming its prices).
    keys: Vec<String>,
    /// The source object, as the config's key reads it (a price's product not expanded).
    source: Value,
    twin: Option<String>,
    action: Action,
}

impl Entry {
    fn source_id(&self) -> &str {
        self.source["id"].as_str().unwrap_or_default()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.keys.join(", "),
            self.kind.name().into(),
            self.source_id().into(),
            self.twin.clone().unwrap_or_else(|| "-".into()),
            self.action.name().into(),
        ]
    }
    fn json(&self) -> Value {
        json!({ "kind": self.kind.name().replace(' ', "_"), "keys": self.keys, "source": self.source_id(),
                "twin": self.twin, "action": self.action.json() })
    }
}

/// Progress lines on standard error when it is a terminal.
struct Progress(bool);

impl Progress {
    fn say(&self, line: impl AsRef<str>) {
        if self.0 {
            eprintln!("… {}", line.as_ref());
        }
    }
}

pub async fn run(global: &Global, command: CatalogCommand) -> Result<()> {
    let CatalogCommand::Sync { config, to_key_env, apply, out } = command;
    sync(global, &config, &to_key_env, apply, out.as_deref()).await
}

fn mode(key: &StripeSecretKey) -> &'static str {
    if key.is_test_mode() { "test" } else { "live" }
}

/// The key in `var`: a secret or restricted key, not the config's own.
fn target_key(var: &str, source: &StripeSecretKey) -> Result<StripeSecretKey> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
        Failure::Usage(format!(
            "the environment variable {var} is not set: put the target's secret key (sk_live_…) in it"
        ))
    })?;
    let key = StripeSecretKey::parse(value.trim()).map_err(|_| {
        Failure::Usage(format!("{var} does not hold a Stripe secret key (sk_…) or restricted key (rk_…)"))
    })?;
    if key.expose() == source.expose() {
        return Err(Failure::Usage(format!(
            "{var} holds the config's own stripe_api_secret_key: give the key of the mode or account to copy to"
        )));
    }
    Ok(key)
}

/// The price and shipping rate ids the validated config uses, in catalog
/// order (tickets, their choices, then shipping rates), each once.
fn wanted(config: &Config) -> Vec<(Kind, String)> {
    let mut ids: Vec<(Kind, String)> = Vec::new();
    let mut add = |kind, id: &str| {
        if !ids.iter().any(|(_, known)| known == id) {
            ids.push((kind, id.to_owned()));
        }
    };
    let tickets = config.catalog().tickets();
    for ticket in tickets {
        add(Kind::Price, ticket.price().as_str());
        for choice in ticket.options().iter().flat_map(|g| g.choices()) {
            if let Some(price) = choice.price() {
                add(Kind::Price, price.as_str());
            }
        }
    }
    for shipping in tickets.iter().filter_map(|t| t.shipping()) {
        add(Kind::ShippingRate, shipping.rate().as_str());
    }
    ids
}

/// Every string value in the config, by the key that holds it
/// (`product_tshirt_m`, `catalog.tickets[1].options[0].choices[2].price`).
fn string_paths(value: &Value, path: &str, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::String(s) => out.entry(s.clone()).or_default().push(path.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_paths(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                string_paths(v, &key, out);
            }
        }
        _ => {}
    }
}

/// A problem that stops the sync, with the config keys it concerns.
struct Problem {
    keys: Vec<String>,
    problem: String,
}

fn stop(global: &Global, problems: &[Problem]) -> Failure {
    if global.json {
        let list: Vec<Value> = problems.iter().map(|p| json!({ "keys": p.keys, "problem": p.problem })).collect();
        print_json(&json!({ "ok": false, "problems": list }));
    } else {
        for p in problems {
            eprintln!("tdf-admin: {}: {}", p.keys.join(", "), p.problem);
        }
        eprintln!("tdf-admin: nothing was created");
    }
    Failure::Failed(String::new())
}

/// Why a source object cannot be copied as it is, if it cannot.
fn uncopyable(kind: Kind, object: &Value) -> Option<String> {
    match kind {
        Kind::Price if object["billing_scheme"].as_str().is_some_and(|s| s != "per_unit") => {
            Some("is a tiered price: copy it by hand".into())
        }
        Kind::Price if object["unit_amount"].is_null() && object["unit_amount_decimal"].is_null() => {
            Some("has no unit amount (a customer-chosen price): copy it by hand".into())
        }
        Kind::ShippingRate if object["type"].as_str().is_some_and(|t| t != "fixed_amount") => {
            Some("is not a fixed-amount shipping rate".into())
        }
        _ => None,
    }
}

/// Where a found twin differs from its source in what the buyer pays.
fn differences(kind: Kind, source: &Value, twin: &Value) -> Vec<String> {
    let fields: &[&str] = match kind {
        Kind::Price => &["unit_amount", "unit_amount_decimal", "currency", "type", "recurring"],
        Kind::ShippingRate => &["fixed_amount"],
        Kind::Product => &[],
    };
    fields
        .iter()
        .filter(|f| source[**f] != twin[**f])
        .map(|f| format!("{f} {} (source {})", twin[*f], source[*f]))
        .collect()
}

/// The target's active twins of `kind`, by source id (the newest of several).
async fn twins(target: &Stripe, kind: Kind, query: &[(&str, &str)]) -> Result<BTreeMap<String, Value>> {
    let mut query = query.to_vec();
    query.push(("active", "true"));
    let listed = target
        .list_all(kind.path(), &query)
        .await
        .map_err(|e| failed(&format!("listing {}s with the target key", kind.name()), e))?;
    let mut by_source = BTreeMap::new();
    for object in listed {
        if let Some(source) = object["metadata"][kind.marker()].as_str() {
            by_source.entry(source.to_owned()).or_insert(object);
        }
    }
    Ok(by_source)
}

/// `metadata[…]` of the source, plus the twin marker.
fn metadata_form(form: &mut Vec<(String, String)>, source: &Value, marker: &str) {
    if let Some(metadata) = source["metadata"].as_object() {
        for (k, v) in metadata.iter().filter(|(k, _)| *k != TWIN_OF && *k != TWIN_OF_PRODUCT) {
            if let Some(v) = v.as_str() {
                form.push((format!("metadata[{k}]"), v.to_owned()));
            }
        }
    }
    form.push((format!("metadata[{marker}]"), source["id"].as_str().unwrap_or_default().to_owned()));
}

/// Text fields set on the source, as form fields of the same name.
fn text_fields(form: &mut Vec<(String, String)>, source: &Value, fields: &[&str]) {
    for field in fields {
        match &source[*field] {
            Value::String(s) if !s.is_empty() => form.push(((*field).into(), s.clone())),
            Value::Bool(b) => form.push(((*field).into(), b.to_string())),
            Value::Number(n) => form.push(((*field).into(), n.to_string())),
            _ => {}
        }
    }
}

/// What creates the twin of `source` (for a price, under `product`).
fn create_form(kind: Kind, source: &Value, product: Option<&str>) -> Vec<(String, String)> {
    let mut form = Vec::new();
    match kind {
        Kind::Product => {
            text_fields(&mut form, source, &["name", "description", "statement_descriptor", "unit_label", "url"]);
            text_fields(&mut form, source, &["shippable"]);
            if let Some(code) = source["tax_code"].as_str().or(source["tax_code"]["id"].as_str()) {
                form.push(("tax_code".into(), code.into()));
            }
            for (i, image) in source["images"].as_array().into_iter().flatten().filter_map(Value::as_str).enumerate() {
                form.push((format!("images[{i}]"), image.into()));
            }
        }
        Kind::Price => {
            form.push(("product".into(), product.unwrap_or_default().into()));
            let amount = if source["unit_amount"].is_null() { "unit_amount_decimal" } else { "unit_amount" };
            text_fields(&mut form, source, &["currency", amount, "nickname", "tax_behavior"]);
            if let Some(recurring) = source["recurring"].as_object() {
                for field in ["interval", "interval_count"] {
                    if let Some(v) = recurring.get(field).filter(|v| !v.is_null()) {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        form.push((format!("recurring[{field}]"), v));
                    }
                }
            }
        }
        Kind::ShippingRate => {
            text_fields(&mut form, source, &["display_name", "type", "tax_behavior"]);
            form.push(("fixed_amount[amount]".into(), source["fixed_amount"]["amount"].to_string()));
            let currency = source["fixed_amount"]["currency"].as_str().unwrap_or_default();
            form.push(("fixed_amount[currency]".into(), currency.into()));
            if let Some(code) = source["tax_code"].as_str().or(source["tax_code"]["id"].as_str()) {
                form.push(("tax_code".into(), code.into()));
            }
            for end in ["minimum", "maximum"] {
                let bound = &source["delivery_estimate"][end];
                if let (Some(unit), Some(value)) = (bound["unit"].as_str(), bound["value"].as_i64()) {
                    form.push((format!("delivery_estimate[{end}][unit]"), unit.into()));
                    form.push((format!("delivery_estimate[{end}][value]"), value.to_string()));
                }
            }
        }
    }
    metadata_form(&mut form, source, kind.marker());
    form
}

/// `text` with every quoted source id replaced by its twin's; falls back to
/// re-serializing the parsed config when the text replacement would not
/// give exactly the config with the ids replaced (`false`: formatting lost).
fn rewrite(text: &str, value: &Value, twins: &BTreeMap<String, String>) -> (String, bool) {
    fn replaced(value: &Value, twins: &BTreeMap<String, String>) -> Value {
        match value {
            Value::String(s) => Value::String(twins.get(s).cloned().unwrap_or_else(|| s.clone())),
            Value::Array(items) => Value::Array(items.iter().map(|v| replaced(v, twins)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), replaced(v, twins))).collect::<Map<_, _>>())
            }
            other => other.clone(),
        }
    }
    let mut new = text.to_owned();
    for (source, twin) in twins {
        new = new.replace(&format!("\"{source}\""), &format!("\"{twin}\""));
    }
    let expected = replaced(value, twins);
    if serde_json::from_str::<Value>(&new).ok().as_ref() == Some(&expected) {
        return (new, true);
    }
    (serde_json::to_string_pretty(&expected).unwrap_or_default() + "\n", false)
}

async fn sync(global: &Global, file: &Path, var: &str, apply: bool, out: Option<&Path>) -> Result<()> {
    let text = read_file(file)?;
    let config = validate(global, file, &text)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| failed("the config", e))?;
    let source_key = config.stripe_secret_key();
    let target_key = target_key(var, source_key)?;
    let (source_mode, target_mode) = (mode(source_key), mode(&target_key));
    let progress = Progress(std::io::stderr().is_terminal());
    if target_mode == "test" && !global.json {
        eprintln!("note: the key in {var} is a test-mode key: the twins will be test-mode objects");
    }
    let source = Stripe::new(source_key).map_err(|e| failed("the config's key", e))?;
    let target = Stripe::new(&target_key).map_err(|e| failed(&format!("the key in {var}"), e))?;
    let mut paths = BTreeMap::new();
    string_paths(&value, "", &mut paths);
    let keys_of = |id: &str| paths.get(id).cloned().unwrap_or_default();

    // 1. The sources, with the config's key: all of them, or nothing happens.
    let mut sources: Vec<(Kind, Value)> = Vec::new();
    let mut products: Vec<Value> = Vec::new();
    let mut problems = Vec::new();
    for (kind, id) in wanted(&config) {
        progress.say(format!("reading {} {id} ({source_mode} mode)", kind.name()));
        let query: &[(&str, &str)] = if kind == Kind::Price { &[("expand[]", "product")] } else { &[] };
        let fetched = source
            .get(&format!("{}/{id}", kind.path()), query)
            .await
            .map_err(|e| failed("reading the catalog with the config's key", e))?;
        let mut object = match fetched {
            Fetched::Found(object) => object,
            Fetched::Missing(message) => {
                let problem = format!("no {} {id} under the config's key ({source_mode} mode): {message}", kind.name());
                problems.push(Problem { keys: keys_of(&id), problem });
                continue;
            }
        };
        if let Some(why) = uncopyable(kind, &object) {
            problems.push(Problem { keys: keys_of(&id), problem: format!("{} {id} {why}", kind.name()) });
            continue;
        }
        if kind == Kind::Price {
            let product = object["product"].take();
            let product_id = product["id"].as_str().unwrap_or_default().to_owned();
            object["product"] = json!(product_id);
            if !products.iter().any(|p| p["id"] == product_id) {
                products.push(product);
            }
        }
        sources.push((kind, object));
    }
    if !problems.is_empty() {
        return Err(stop(global, &problems));
    }

    // 2. The twins already there, with the target key; each checked against its source.
    progress.say(format!("looking for twins with the key in {var} ({target_mode} mode)"));
    let product_twins = twins(&target, Kind::Product, &[]).await?;
    let mut entries: Vec<Entry> = Vec::new();
    for product in &products {
        let id = product["id"].as_str().unwrap_or_default();
        let mut keys: Vec<String> = Vec::new();
        for (_, price) in sources.iter().filter(|(_, s)| s["product"] == id) {
            keys.extend(keys_of(price["id"].as_str().unwrap_or_default()));
        }
        let twin = product_twins.get(id).and_then(|t| t["id"].as_str()).map(str::to_owned);
        let action = if twin.is_some() { Action::Found } else { Action::WouldCreate };
        entries.push(Entry { kind: Kind::Product, keys, source: product.clone(), twin, action });
    }
    let mut price_twins: BTreeMap<String, Value> = BTreeMap::new();
    for twin in entries.iter().filter_map(|e| e.twin.as_deref()) {
        price_twins.extend(twins(&target, Kind::Price, &[("product", twin)]).await?);
    }
    let rate_twins = if sources.iter().any(|(k, _)| *k == Kind::ShippingRate) {
        twins(&target, Kind::ShippingRate, &[]).await?
    } else {
        BTreeMap::new()
    };
    for (kind, object) in &sources {
        let id = object["id"].as_str().unwrap_or_default();
        let found = if *kind == Kind::Price { price_twins.get(id) } else { rate_twins.get(id) };
        if let Some(twin) = found {
            let differs = differences(*kind, object, twin);
            if !differs.is_empty() {
                let twin_id = twin["id"].as_str().unwrap_or_default();
                let problem = format!(
                    "the twin {twin_id} of {} {id} differs: {}; archive the twin and run again",
                    kind.name(),
                    differs.join(", ")
                );
                problems.push(Problem { keys: keys_of(id), problem });
            }
        }
        let twin = found.and_then(|t| t["id"].as_str()).map(str::to_owned);
        let action = if twin.is_some() { Action::Found } else { Action::WouldCreate };
        entries.push(Entry { kind: *kind, keys: keys_of(id), source: object.clone(), twin, action });
    }
    if !problems.is_empty() {
        return Err(stop(global, &problems));
    }

    // 3. Create what is missing: products first, then their prices, then shipping rates.
    if apply {
        let mut product_twin_ids: BTreeMap<String, String> = BTreeMap::new();
        for entry in &mut entries {
            if let Some(twin) = entry.twin.as_ref() {
                if entry.kind == Kind::Product {
                    product_twin_ids.insert(entry.source_id().to_owned(), twin.clone());
                }
                continue;
            }
            let (kind, id) = (entry.kind, entry.source_id().to_owned());
            let product = entry.source["product"].as_str().and_then(|p| product_twin_ids.get(p)).cloned();
            progress.say(format!("creating the twin of {} {id}", kind.name()));
            let form = create_form(kind, &entry.source, product.as_deref());
            let created = target
                .post(kind.path(), &form)
                .await
                .map_err(|e| failed(&format!("creating the twin of {} {id} with the key in {var}", kind.name()), e))?;
            let twin = created["id"].as_str().unwrap_or_default().to_owned();
            if kind == Kind::Product {
                product_twin_ids.insert(id, twin.clone());
            }
            entry.twin = Some(twin);
            entry.action = Action::Created;
        }
    }

    // 4. Report, and the config with the twins' ids.
    let count = |action| entries.iter().filter(|e| e.action == action).count();
    let (found, created, would_create) = (count(Action::Found), count(Action::Created), count(Action::WouldCreate));
    let note = format!(
        "the written config still has the config's {source_mode}-mode stripe_api_secret_key and its \
         webhook_signing_secret: put the {target_mode}-mode secret key and the signing secret of the {target_mode}-mode \
         webhook in before `tdf-admin config push`"
    );
    let written = if apply {
        let ids: BTreeMap<String, String> = entries
            .iter()
            .filter(|e| e.kind != Kind::Product)
            .filter_map(|e| Some((e.source_id().to_owned(), e.twin.clone()?)))
            .collect();
        let (new_text, kept) = rewrite(&text, &value, &ids);
        if !kept {
            eprintln!("note: the ids could not be replaced in the text as written; the config was re-serialized");
        }
        Some(new_text)
    } else {
        None
    };
    let rows: Vec<Vec<String>> = entries.iter().map(Entry::row).collect();
    let summary = table(&["config keys", "kind", "source", "twin", "action"], &rows);
    if global.json {
        let config = match (&written, out) {
            (Some(text), None) => serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        if let (Some(text), Some(out)) = (&written, out) {
            std::fs::write(out, text).map_err(|e| failed(&format!("writing {}", out.display()), e))?;
        }
        let entries: Vec<Value> = entries.iter().map(Entry::json).collect();
        print_json(&json!({
            "ok": true, "apply": apply, "source_mode": source_mode, "target_mode": target_mode,
            "entries": entries, "found": found, "created": created, "would_create": would_create,
            "out": out, "config": config, "note": written.as_ref().map(|_| note.clone()),
        }));
        return Ok(());
    }
    let Some(new_text) = written else {
        print!("{summary}");
        println!(
            "dry run: {would_create} to create, {found} found; nothing created, no config written \
             (run again with --apply)"
        );
        return Ok(());
    };
    let totals = format!("{created} created, {found} found");
    match out {
        Some(out) => {
            std::fs::write(out, &new_text).map_err(|e| failed(&format!("writing {}", out.display()), e))?;
            print!("{summary}");
            println!("{totals}; the config with the twins' ids is in {}", out.display());
        }
        None => {
            eprint!("{summary}");
            eprintln!("{totals}");
            print!("{new_text}");
        }
    }
    eprintln!("note: {note}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_replaced_in_the_text_as_written() {
        let text =
            "{\n  \"b\": \"price_1A\",   \"a\": [\"shr_1S\", \"price_1AB\"],\n  \"note\": \"price_1A is ours\"\n}\n";
        let value: Value = serde_json::from_str(text).unwrap();
        let twins: BTreeMap<String, String> =
            [("price_1A".into(), "price_1Live".into()), ("shr_1S".into(), "shr_1Live".into())].into();
        let (new, kept) = rewrite(text, &value, &twins);
        assert!(kept);
        assert_eq!(
            new,
            "{\n  \"b\": \"price_1Live\",   \"a\": [\"shr_1Live\", \"price_1AB\"],\n  \"note\": \"price_1A is ours\"\n}\n"
        );
        // An id written with an escape cannot be found in the text: re-serialized, still right.
        let escaped = "{\"b\": \"price\\u005f1A\"}";
        let (new, kept) = rewrite(escaped, &serde_json::from_str(escaped).unwrap(), &twins);
        assert!(!kept);
        assert_eq!(serde_json::from_str::<Value>(&new).unwrap(), json!({ "b": "price_1Live" }));
    }

    #[test]
    fn strings_are_found_by_the_key_that_holds_them() {
        let config = json!({ "shipping_rate": "shr_1S", "catalog": { "tickets": [{ "price": "price_1A" },
                             { "options": [{ "choices": [{ "price": "price_1A" }] }] }] } });
        let mut paths = BTreeMap::new();
        string_paths(&config, "", &mut paths);
        assert_eq!(paths["shr_1S"], ["shipping_rate"]);
        assert_eq!(paths["price_1A"], ["catalog.tickets[0].price", "catalog.tickets[1].options[0].choices[0].price"]);
    }

    #[test]
    fn twins_copy_what_the_buyer_sees_and_carry_the_marker() {
        let price = json!({ "id": "price_1A", "currency": "jpy", "unit_amount": 2500, "nickname": null,
                            "tax_behavior": "inclusive", "recurring": null, "metadata": { "size": "m", "tdf_twin_of": "x" } });
        let form = create_form(Kind::Price, &price, Some("prod_Live"));
        let expected: Vec<(String, String)> = [
            ("product", "prod_Live"),
            ("currency", "jpy"),
            ("unit_amount", "2500"),
            ("tax_behavior", "inclusive"),
            ("metadata[size]", "m"),
            ("metadata[tdf_twin_of]", "price_1A"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        assert_eq!(form, expected);
        let rate = json!({ "id": "shr_1S", "display_name": "Post", "type": "fixed_amount", "tax_behavior": "unspecified",
                           "fixed_amount": { "amount": 1500, "currency": "jpy" }, "tax_code": null,
                           "delivery_estimate": { "minimum": { "unit": "day", "value": 2 }, "maximum": null }, "metadata": {} });
        let form = create_form(Kind::ShippingRate, &rate, None);
        assert!(form.contains(&("delivery_estimate[minimum][value]".into(), "2".into())), "{form:?}");
        assert!(form.contains(&("metadata[tdf_twin_of]".into(), "shr_1S".into())));
        assert!(!form.iter().any(|(k, _)| k.starts_with("delivery_estimate[maximum]")));
        let differs = differences(Kind::Price, &price, &json!({ "unit_amount": 2000, "currency": "jpy" }));
        assert!(differs[0].starts_with("unit_amount 2000 (source 2500)"), "{differs:?}");
    }
}
