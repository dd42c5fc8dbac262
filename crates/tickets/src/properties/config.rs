//! The organizer's config blob: no JSON makes the loader panic, and no error
//! it reports (nor the `Debug` of what it loads) ever shows a secret. The
//! secrets carry [`MARKER`], written well or badly, while other keys are
//! dropped, retyped or filled with plausible or arbitrary values.

use super::{awkward_text, example_config, json_value, seeded};
use crate::config::Config;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// In every secret a test writes; never in an error.
const MARKER: &str = "SECRETMARKER";

/// Every top-level key the loader reads.
const KEYS: [&str; 47] = [
    "stripe_api_secret_key",
    "webhook_signing_secret",
    "webhook_tolerance_seconds",
    "success_url",
    "cancel_url",
    "thanks_url",
    "product_visitor_ticket",
    "product_bronze_ticket",
    "product_tshirt_s",
    "product_tshirt_m",
    "product_tshirt_l",
    "product_tshirt_xl",
    "visitor_ticket_name",
    "bronze_ticket_name",
    "shipping_rate",
    "shipping_countries",
    "locale",
    "payment_method_types",
    "email_from",
    "email_reply_to",
    "ses_configuration_set",
    "event_name",
    "wuhu_url",
    "wuhu_register_page",
    "email_subject",
    "email_intro",
    "email_subject_ja",
    "email_intro_ja",
    "email_subject_cancelled",
    "email_intro_cancelled",
    "email_subject_cancelled_ja",
    "email_intro_cancelled_ja",
    "votekey_prefix",
    "votekey_length",
    "votekey_source",
    "capacity",
    "tshirt_stock",
    "catalog",
    "hold_minutes",
    "sale_opens_at",
    "sale_closes_at",
    "site_origin",
    "refund_returns_capacity",
    "revoke_on_dispute",
    "thanks",
    "tickets",
    "",
];

/// The Stripe key as written well, badly, or in the wrong shape.
fn stripe_key() -> impl Strategy<Value = Value> {
    (prop::sample::select(&["sk_test_", "rk_live_", "pk_test_", "sk_", "", "SK_TEST_"][..]), awkward_text(6), 0..4u8)
        .prop_map(|(prefix, tail, shape)| {
            let key = format!("{prefix}{MARKER}{tail}");
            match shape {
                0 => json!(key),
                1 => json!([key]),
                2 => json!({ "key": key }),
                _ => json!(format!("{key}\n")),
            }
        })
}

/// The webhook secrets as written well, badly, or in the wrong shape.
fn webhook_secrets() -> impl Strategy<Value = Value> {
    let one = (prop::sample::select(&["whsec_", "wh_", "", "WHSEC_"][..]), awkward_text(6))
        .prop_map(|(prefix, tail)| json!(format!("{prefix}{MARKER}{tail}")))
        .boxed();
    let item = prop_oneof![3 => one.clone(), 1 => json_value("[A-Z]{1,4}")];
    prop_oneof![one, prop::collection::vec(item.clone(), 0..4).prop_map(Value::Array), item.prop_map(|i| json!([[i]]))]
}

/// A value the key's parser could nearly accept, to get past its first checks.
fn plausible(key: &str) -> BoxedStrategy<Value> {
    let text = |pattern: &'static str| pattern.prop_map(Value::String).boxed();
    match key {
        k if k.ends_with("_url") || k == "site_origin" => {
            text("(https?://)?([a-z]{1,8}\\.example|localhost|\\[::1\\])(:[0-9]{1,6})?(/[a-z{}_=?]{0,12})?/?")
        }
        "sale_opens_at" | "sale_closes_at" => timestamp().prop_map(Value::String).boxed(),
        k if k.starts_with("product_") => text("price_[A-Za-z0-9_]{0,12}"),
        "shipping_rate" | "rate" => text("shr_[A-Za-z0-9_]{0,12}"),
        "shipping_countries" | "countries" | "payment_method_types" => text("([A-Za-z_]{0,6},?){0,5}"),
        "capacity" | "tshirt_stock" => counts().boxed(),
        "catalog" => catalog().boxed(),
        "email_from" | "email_reply_to" => text("[A-Za-z ,\"東京]{0,12} ?<?[a-z.]{0,8}@?[a-z]{0,8}\\.?[a-z]{0,3}>?"),
        _ => prop_oneof![
            text("[a-z_ -]{0,12}"),
            (0u64..5000).prop_map(Value::from).boxed(),
            "[0-9 ]{1,22}".prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
        ]
        .boxed(),
    }
}

/// RFC 3339-like times, in and out of range.
fn timestamp() -> impl Strategy<Value = String> {
    "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,3})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
}

/// Name → count objects, with numbers that are too big, negative or fractional.
fn counts() -> impl Strategy<Value = Value> {
    let count = prop_oneof![
        (0u64..2_000_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9 -]{0,8}".prop_map(Value::String),
    ];
    prop::collection::btree_map("[a-zA-Z ]{0,6}", count, 0..5).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// The general catalog, each part plausible or arbitrary.
fn catalog() -> impl Strategy<Value = Value> {
    let choice = object_of(&["value", "label", "price", "stock"], |key| match key {
        "value" => prop_oneof![Just(json!("m")), "[A-Za-z0-9_ -]{0,8}".prop_map(Value::String)].boxed(),
        "price" => plausible("product_x"),
        _ => plausible(key),
    });
    let group = (object_of(&["field", "label"], plausible), prop::collection::vec(choice, 0..4)).prop_map(
        |(mut group, choices)| {
            group["choices"] = Value::Array(choices);
            group
        },
    );
    let ticket = (
        object_of(
            &["id", "name", "price", "capacity", "capacity_group", "sale_opens_at", "shipping"],
            |key| match key {
                "price" => plausible("product_x"),
                "shipping" => object_of(&["rate", "countries"], plausible).boxed(),
                _ => plausible(key),
            },
        ),
        prop::collection::vec(group, 0..3),
    )
        .prop_map(|(mut ticket, options)| {
            ticket["options"] = Value::Array(options);
            ticket
        });
    (prop::collection::vec(ticket, 0..4), plausible("default_ticket"), counts()).prop_map(
        |(tickets, default, groups)| json!({"tickets": tickets, "default_ticket": default, "capacity_groups": groups}),
    )
}

/// An object with some of `keys`, each plausible (by `value`) or arbitrary.
fn object_of(keys: &'static [&'static str], value: fn(&str) -> BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let entry = prop::sample::select(keys).prop_flat_map(move |key| {
        let arbitrary = json_value("[a-z_]{1,6}");
        (Just(key.to_owned()), prop_oneof![4 => value(key), 1 => arbitrary])
    });
    prop::collection::vec(entry, 0..keys.len() + 1)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
        .boxed()
}

/// What a change does to one key.
#[derive(Debug, Clone)]
enum Change {
    Drop,
    Set(Value),
}

fn change(key: &'static str) -> impl Strategy<Value = (String, Change)> {
    let arbitrary = json_value("[a-z_]{1,8}");
    let change = prop_oneof![1 => Just(Change::Drop), 2 => plausible(key).prop_map(Change::Set), 2 => arbitrary.prop_map(Change::Set)];
    (Just(key.to_owned()), change)
}

fn changes() -> impl Strategy<Value = Vec<(String, Change)>> {
    prop::collection::vec(prop::sample::select(&KEYS[2..]).prop_flat_map(change), 0..6)
}

/// Parses `blob`; an error or the loaded config's `Debug` must not show a secret.
fn assert_no_secret_shown(blob: &Value) -> Result<(), TestCaseError> {
    match Config::from_json(&blob.to_string()) {
        Ok(config) => {
            let debug = format!("{config:?}");
            prop_assert!(!debug.contains(MARKER), "a secret in: {}", debug);
        }
        Err(error) => {
            let (shown, debug) = (error.to_string(), format!("{error:?}"));
            prop_assert!(shown.starts_with("config "), "{}", shown);
            prop_assert!(!shown.contains(MARKER) && !debug.contains(MARKER), "a secret in: {}", shown);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(seeded(2000))]

    #[test]
    fn any_json_loads_or_is_refused_without_panicking(value in json_value(prop::sample::select(&KEYS[..]).prop_map(str::to_owned))) {
        let text = value.to_string();
        if let Err(error) = Config::from_json(&text) {
            prop_assert!(error.to_string().starts_with("config "));
        }
    }

    #[test]
    fn any_text_loads_or_is_refused_without_panicking(text in awkward_text(60)) {
        let _ = Config::from_json(&text);
    }

    #[test]
    fn the_example_changed_anyhow_never_shows_a_secret_in_an_error(
        stripe in stripe_key(),
        webhook in webhook_secrets(),
        changes in changes(),
    ) {
        let mut blob = example_config();
        let keys: &mut Map<String, Value> = blob.as_object_mut().expect("object");
        keys.insert("stripe_api_secret_key".into(), stripe);
        keys.insert("webhook_signing_secret".into(), webhook);
        for (key, change) in changes {
            match change {
                Change::Drop => keys.remove(&key),
                Change::Set(value) => keys.insert(key, value),
            };
        }
        assert_no_secret_shown(&blob)?;
    }

}

proptest! {
    // Whole configs written from scratch are slow to draw: fewer of them.
    #![proptest_config(seeded(800))]

    #[test]
    fn every_key_written_anyhow_never_shows_a_secret_in_an_error(
        stripe in stripe_key(),
        webhook in webhook_secrets(),
        others in prop::collection::vec(prop::sample::select(&KEYS[2..]).prop_flat_map(change), 0..24),
    ) {
        let mut keys = Map::new();
        keys.insert("stripe_api_secret_key".into(), stripe);
        keys.insert("webhook_signing_secret".into(), webhook);
        for (key, change) in others {
            if let Change::Set(value) = change {
                keys.insert(key, value);
            }
        }
        assert_no_secret_shown(&Value::Object(keys))?;
    }
}
