//! `tdf-admin catalog sync` end to end: the built binary against the Stripe
//! stand-in, whose test mode holds the example catalog (config.example.json's
//! prices and shipping rate) and whose live mode starts empty. The config's
//! key is a test-mode key; the target's, in an environment variable, a
//! live-mode one, which no output may ever show.

use crate::support::{binary, root};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use testbed::stripe::{FakePrice, FakeStripe, Mode};

const SOURCE_KEY: &str = "sk_test_51SOURCEsecretkey0000AAAA";
const TARGET_KEY: &str = "sk_live_FAKE_TARGETsecret_ZZZZ";
const VAR: &str = "TDF_LIVE_STRIPE_KEY";

/// config.example.json as written, with the source key.
fn example_text() -> String {
    let text = std::fs::read_to_string(root().join("config.example.json")).unwrap();
    text.replace("sk_test_replace_with_your_test_key", SOURCE_KEY)
}

/// Runs `tdf-admin args` against the stand-in, the target key in `VAR`
/// (`key`: another value, `None`: unset). Off the runtime's threads, so
/// the stand-in keeps answering.
async fn admin_with(fake: &FakeStripe, args: &[&str], key: Option<&str>) -> Output {
    let mut command = Command::new(binary("tdf-admin"));
    command.args(args).env("STRIPE_API_BASE", fake.api_base()).env_remove(VAR);
    if let Some(key) = key {
        command.env(VAR, key);
    }
    let output = tokio::task::spawn_blocking(move || command.output().expect("run tdf-admin")).await.unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!printed.contains("TARGETsecret"), "the target key was printed: {printed}");
    // The config's key is in a config written to standard output, nowhere else.
    assert!(!String::from_utf8_lossy(&output.stderr).contains("SOURCEsecret"), "the config's key was printed");
    output
}

async fn admin(fake: &FakeStripe, args: &[&str]) -> Output {
    admin_with(fake, args, Some(TARGET_KEY)).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "stdout: {}\nstderr: {}", stdout(output), stderr(output));
    stdout(output)
}

fn posts(fake: &FakeStripe) -> usize {
    fake.requests().iter().filter(|r| r.method == "POST").count()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The live twin (by `tdf_twin_of`) of each source id.
fn live_twins(fake: &FakeStripe, object: &str, marker: &str) -> Vec<(String, Value)> {
    fake.catalog_objects(Mode::Live, object)
        .into_iter()
        .map(|o| (o["metadata"][marker].as_str().unwrap_or_default().to_owned(), o))
        .collect()
}

const SOURCE_PRICES: [&str; 6] = [
    "price_1TdfVisitorTicket",
    "price_1TdfBronzeTicket",
    "price_1TdfTshirtS",
    "price_1TdfTshirtM",
    "price_1TdfTshirtL",
    "price_1TdfTshirtXL",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_apply_and_again_create_the_live_twins_once() {
    let fake = FakeStripe::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, out) = (dir.path().join("config.json"), dir.path().join("live.json"));
    std::fs::write(&config, example_text()).unwrap();
    let sync = ["catalog", "sync", "--config", path(&config), "--to-key-env", VAR, "--out", path(&out)];

    // Dry run: reads only, lists what it would create, writes nothing.
    let dry = ok(&admin(&fake, &sync).await);
    assert_eq!(posts(&fake), 0, "a dry run posts nothing");
    assert_eq!(dry.matches("would create").count(), 13, "6 products, 6 prices, 1 shipping rate: {dry}");
    assert!(dry.contains("product_tshirt_m") && dry.contains("shr_1TdfTshirtShipping"), "{dry}");
    assert!(dry.contains("dry run: 13 to create, 0 found"), "{dry}");
    assert!(!out.exists());
    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.path == "/v1/prices/price_1TdfTshirtM" && r.bearer.as_deref() == Some(SOURCE_KEY))
    );
    assert!(requests.iter().any(|r| r.path == "/v1/products" && r.bearer.as_deref() == Some(TARGET_KEY)));
    let as_json: Value = serde_json::from_str(&ok(&admin(&fake, &[&sync[..], &["--json"]].concat()).await)).unwrap();
    assert_eq!(
        (&as_json["would_create"], &as_json["apply"], &as_json["config"]),
        (&json!(13), &json!(false), &Value::Null)
    );
    assert_eq!(as_json["entries"][0]["keys"], json!(["product_visitor_ticket"]));
    assert_eq!(posts(&fake), 0);

    // Apply: the twins in live mode, marked, same amounts; the config with their ids.
    let applied = admin(&fake, &[&sync[..], &["--apply"]].concat()).await;
    let printed = ok(&applied);
    assert!(printed.contains("13 created, 0 found"), "{printed}");
    assert!(stderr(&applied).contains("put the live-mode secret key"), "{}", stderr(&applied));
    assert_eq!(posts(&fake), 13);
    let prices = live_twins(&fake, "price", "tdf_twin_of");
    let products = live_twins(&fake, "product", "tdf_twin_of_product");
    let rates = live_twins(&fake, "shipping_rate", "tdf_twin_of");
    assert_eq!((prices.len(), products.len(), rates.len()), (6, 6, 1));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let source: Value = serde_json::from_str(&example_text()).unwrap();
    for (key, value) in source.as_object().unwrap() {
        let Some(id) = value.as_str().filter(|v| SOURCE_PRICES.contains(v)) else { continue };
        let source_price = fake.object(id).unwrap();
        let (_, twin) = prices.iter().find(|(of, _)| of == id).unwrap_or_else(|| panic!("no twin of {id}"));
        assert_eq!(written[key], twin["id"], "{key}");
        assert_ne!(twin["id"], json!(id));
        assert_eq!(twin["livemode"], true);
        for field in ["unit_amount", "currency", "type", "tax_behavior"] {
            assert_eq!(twin[field], source_price[field], "{key}: {field}");
        }
        let source_product = fake.object(source_price["product"].as_str().unwrap()).unwrap();
        let twin_product = fake.object(twin["product"].as_str().unwrap()).unwrap();
        assert_eq!(
            (&twin_product["name"], &twin_product["livemode"], &twin_product["metadata"]["tdf_twin_of_product"]),
            (&source_product["name"], &json!(true), &source_product["id"])
        );
    }
    let (of, rate) = &rates[0];
    assert_eq!(of, "shr_1TdfTshirtShipping");
    assert_eq!(
        (&written["shipping_rate"], &rate["fixed_amount"]),
        (&rate["id"], &json!({"amount": 1500, "currency": "jpy"}))
    );
    // Only the ids changed: every other line as the organizer wrote it.
    let text = std::fs::read_to_string(&out).unwrap();
    let original = example_text();
    assert_eq!(text.lines().count(), original.lines().count());
    for (new, old) in text.lines().zip(original.lines()) {
        if !old.contains("\"price_") && !old.contains("\"shr_") {
            assert_eq!(new, old);
        }
    }
    assert_eq!(written["stripe_api_secret_key"], SOURCE_KEY, "the key is left for the organizer to replace");
    assert!(ok(&admin(&fake, &["config", "check", path(&out)]).await).contains(": ok"));

    // Again: everything found, nothing posted, the same config.
    fake.clear_requests();
    let again = ok(&admin(&fake, &[&sync[..], &["--apply"]].concat()).await);
    assert_eq!(posts(&fake), 0, "{again}");
    assert!(again.contains("0 created, 13 found"), "{again}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    let dry_again = ok(&admin(&fake, &sync).await);
    assert!(dry_again.contains("dry run: 0 to create, 13 found"), "{dry_again}");

    // An archived twin is not reused: a new one is made, and the config follows.
    let old_twin = written["product_tshirt_xl"].as_str().unwrap().to_owned();
    fake.update_catalog_object(&old_twin, |p| p["active"] = json!(false)).unwrap();
    fake.clear_requests();
    ok(&admin(&fake, &[&sync[..], &["--apply"]].concat()).await);
    assert_eq!(posts(&fake), 1, "only the price: its product twin is still there");
    let rewritten: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_ne!(rewritten["product_tshirt_xl"], json!(old_twin));
    assert_eq!(rewritten["product_tshirt_l"], written["product_tshirt_l"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_form_is_synced_and_written_to_standard_output() {
    let fake = FakeStripe::start().await.unwrap();
    let mut config: Value = serde_json::from_str(&example_text()).unwrap();
    let map = config.as_object_mut().unwrap();
    map.retain(|k, _| !k.starts_with("product_") && k != "shipping_rate" && k != "shipping_countries");
    map.insert(
        "catalog".into(),
        json!({ "tickets": [
            { "id": "visitor", "name": "Visitor", "price": "price_1TdfVisitorTicket" },
            { "id": "bronze", "name": "Bronze", "price": "price_1TdfBronzeTicket",
              "options": [{ "field": "tshirt", "choices": [
                  { "value": "s", "price": "price_1TdfTshirtS" }, { "value": "m", "price": "price_1TdfTshirtS" } ] }],
              "shipping": { "rate": "shr_1TdfTshirtShipping", "countries": ["JP"] } },
        ] }),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.json");
    std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let output = admin(&fake, &["catalog", "sync", "--config", path(&file), "--to-key-env", VAR, "--apply"]).await;
    let written: Value = serde_json::from_str(&ok(&output)).expect("the config alone on standard output");
    assert!(
        stderr(&output).contains("7 created"),
        "3 products, 3 prices (one shared by two choices), a shipping rate: {}",
        stderr(&output)
    );
    let prices = live_twins(&fake, "price", "tdf_twin_of");
    let twin_of = |id: &str| prices.iter().find(|(of, _)| of == id).map(|(_, t)| t["id"].clone()).unwrap();
    let bronze = &written["catalog"]["tickets"][1];
    assert_eq!(bronze["price"], twin_of("price_1TdfBronzeTicket"));
    assert_eq!(bronze["options"][0]["choices"][0]["price"], twin_of("price_1TdfTshirtS"));
    assert_eq!(bronze["options"][0]["choices"][1]["price"], twin_of("price_1TdfTshirtS"));
    assert_eq!(bronze["shipping"]["rate"], live_twins(&fake, "shipping_rate", "tdf_twin_of")[0].1["id"]);
    assert!(stderr(&output).contains("catalog.tickets[1].options[0].choices[0].price"), "{}", stderr(&output));

    // --json: the report, with the config in it.
    let report: Value = serde_json::from_str(&ok(&admin(
        &fake,
        &["catalog", "sync", "--config", path(&file), "--to-key-env", VAR, "--apply", "--json"],
    )
    .await))
    .unwrap();
    assert_eq!((&report["created"], &report["found"], &report["target_mode"]), (&json!(0), &json!(7), &json!("live")));
    assert_eq!(report["config"], written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_missing_under_the_configs_key_stops_everything_naming_the_key() {
    let fake = FakeStripe::start().await.unwrap();
    fake.put_price(Mode::Live, &FakePrice::new("price_1OnlyLive", "Live", 100, "jpy"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let text = example_text()
        .replace("price_1TdfTshirtXL", "price_1NoSuchPrice")
        .replace("price_1TdfVisitorTicket", "price_1OnlyLive");
    std::fs::write(&file, text).unwrap();
    let output = admin(&fake, &["catalog", "sync", "--config", path(&file), "--to-key-env", VAR, "--apply"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let printed = stderr(&output);
    assert!(printed.contains("product_tshirt_xl: no price price_1NoSuchPrice under the config's key"), "{printed}");
    assert!(
        printed.contains("product_visitor_ticket: no price price_1OnlyLive") && printed.contains("live mode"),
        "{printed}"
    );
    assert_eq!(posts(&fake), 0);
    let as_json = admin(&fake, &["catalog", "sync", "--config", path(&file), "--to-key-env", VAR, "--json"]).await;
    assert_eq!(as_json.status.code(), Some(1));
    let problems: Value = serde_json::from_slice(&as_json.stdout).unwrap();
    assert_eq!(problems["problems"][1]["keys"], json!(["product_tshirt_xl"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_key_must_be_given_and_differ() {
    let fake = FakeStripe::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(&file, example_text()).unwrap();
    let args = ["catalog", "sync", "--config", path(&file), "--to-key-env", VAR];
    for (key, says) in [
        (None, "is not set"),
        (Some(SOURCE_KEY), "the config's own"),
        (Some("pk_live_FAKE_TARGETsecret_ZZZZ"), "does not hold a Stripe secret key"),
    ] {
        let output = admin_with(&fake, &args, key).await;
        assert_eq!(output.status.code(), Some(2), "{key:?}");
        assert!(stderr(&output).contains(says), "{key:?}: {}", stderr(&output));
    }
    assert!(fake.requests().is_empty());
    // Another test-mode key (a second account): allowed, with a note.
    let other = admin_with(&fake, &args, Some("sk_test_51OTHERaccountkey0000BBBB")).await;
    assert!(stderr(&other).contains("test-mode key"), "{}", stderr(&other));
    assert_eq!(other.status.code(), Some(0));
}
