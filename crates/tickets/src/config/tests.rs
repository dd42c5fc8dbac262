use super::*;
use serde_json::json;

const SECRET_KEY: &str = "sk_test_51SecretValueThatMustNeverBeEchoed";

fn tdf() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../../config.example.json")).unwrap()
}

fn parse(v: &serde_json::Value) -> Result<Config, ConfigError> {
    Config::from_json(&v.to_string())
}

fn with(mut v: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    v[key] = value;
    v
}

fn without(mut v: serde_json::Value, key: &str) -> serde_json::Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

#[test]
fn tdf_blob_maps_to_visitor_and_bronze_with_shirts() {
    let config = parse(&tdf()).unwrap();
    let catalog = config.catalog();
    assert_eq!(catalog.default_ticket().id().as_str(), "visitor");
    let ids: Vec<_> = catalog.tickets().iter().map(|t| t.id().as_str()).collect();
    assert_eq!(ids, ["visitor", "bronze"]);
    let visitor = catalog.ticket("visitor").unwrap();
    assert_eq!(visitor.price().as_str(), "price_1TdfVisitorTicket");
    assert!(visitor.options().is_empty() && visitor.shipping().is_none());
    let bronze = catalog.ticket("Bronze").unwrap();
    assert_eq!(bronze.price().as_str(), "price_1TdfBronzeTicket");
    let shirt = &bronze.options()[0];
    assert_eq!(shirt.field(), "tshirt");
    let sizes: Vec<_> = shirt.choices().iter().map(|c| (c.value(), c.price().unwrap().as_str())).collect();
    assert_eq!(
        sizes,
        [
            ("s", "price_1TdfTshirtS"),
            ("m", "price_1TdfTshirtM"),
            ("l", "price_1TdfTshirtL"),
            ("xl", "price_1TdfTshirtXL")
        ]
    );
    let shipping = bronze.shipping().unwrap();
    assert_eq!(shipping.rate().as_str(), "shr_1TdfTshirtShipping");
    assert_eq!(shipping.countries()[0].as_str(), "JP");
    assert_eq!(config.locale(), "auto");
    assert_eq!(config.webhook_tolerance().as_secs(), 300);
    assert_eq!(config.webhook_secrets().len(), 1);
    assert_eq!(config.votekey_format().length(), 8);
}

#[test]
fn general_catalog_form() {
    let blob = json!({
        "stripe_api_secret_key": "rk_live_abc123",
        "webhook_signing_secret": ["whsec_old", "whsec_new"],
        "webhook_tolerance_seconds": 600,
        "success_url": "https://party.example/thanks?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://party.example/tickets",
        "locale": "ja",
        "payment_method_types": ["card", "konbini"],
        "votekey_prefix": "TDF-",
        "votekey_length": 10,
        "catalog": {
            "default_ticket": "visitor",
            "tickets": [
                {"id": "Supporter", "name": "Supporter", "price": "price_sup",
                 "options": [
                    {"field": "tshirt", "label": "T-shirt size", "choices": [
                        {"value": "M", "price": "price_m"}, {"value": "L", "label": "Large", "price": "price_l"}]},
                    {"field": "meal", "choices": [{"value": "vegan"}, {"value": "omni"}]}
                 ],
                 "shipping": {"rate": "shr_123", "countries": ["JP", "FI"]}},
                {"id": "visitor", "price": "price_vis"}
            ]
        }
    });
    let config = parse(&blob).unwrap();
    let catalog = config.catalog();
    assert_eq!(catalog.default_ticket().id().as_str(), "visitor");
    assert_eq!(catalog.default_ticket().name(), "visitor");
    let sup = catalog.ticket("supporter").unwrap();
    assert_eq!(sup.options().len(), 2);
    assert_eq!(sup.options()[0].choice("l").unwrap().label(), "Large");
    assert_eq!(sup.options()[1].choice("VEGAN").unwrap().price(), None);
    assert_eq!(sup.shipping().unwrap().countries().len(), 2);
    assert_eq!(config.webhook_secrets().len(), 2);
    assert_eq!(config.webhook_tolerance().as_secs(), 600);
    assert_eq!(config.locale(), "ja");
    assert_eq!(config.payment_method_types().unwrap(), ["card", "konbini"]);
    assert_eq!(config.votekey_format().prefix(), "TDF-");
    assert!(!config.stripe_secret_key().is_test_mode());
    // Without default_ticket, the first ticket is the default.
    let mut blob = blob;
    blob["catalog"].as_object_mut().unwrap().remove("default_ticket");
    assert_eq!(parse(&blob).unwrap().catalog().default_ticket().id().as_str(), "supporter");
}

#[test]
fn errors_name_the_key() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (without(tdf(), "product_tshirt_m"), "config key `product_tshirt_m` is missing"),
        (
            with(tdf(), "product_tshirt_m", json!("prod_123")),
            "config key `product_tshirt_m`: \"prod_123\" is not a Stripe price ID (price_…)",
        ),
        (
            with(tdf(), "shipping_rate", json!("rate_1")),
            "config key `shipping_rate`: \"rate_1\" is not a Stripe shipping rate ID (shr_…)",
        ),
        (
            with(tdf(), "shipping_countries", json!("JP,jp")),
            "config key `shipping_countries`: \"jp\" is not a two-letter upper-case country code",
        ),
        (
            with(tdf(), "shipping_countries", json!("JP,KP")),
            "config key `shipping_countries`: Stripe Checkout cannot ship to \"KP\"",
        ),
        (
            with(tdf(), "shipping_countries", json!("JP,QQ")),
            "config key `shipping_countries`: \"QQ\" is not a country Stripe Checkout ships to",
        ),
        (with(tdf(), "shipping_countries", json!("")), "config key `shipping_countries` is missing"),
        (
            with(tdf(), "success_url", json!("http://party.example/ok")),
            "config key `success_url`: \"http://party.example/ok\" must use https:// (http:// only for localhost)",
        ),
        (
            with(tdf(), "cancel_url", json!("/tickets")),
            "config key `cancel_url`: \"/tickets\" is not an absolute https:// URL",
        ),
        (
            with(tdf(), "webhook_signing_secret", json!(42)),
            "config key `webhook_signing_secret`: must be a string or a list of strings",
        ),
        (
            with(tdf(), "webhook_tolerance_seconds", json!(0)),
            "config key `webhook_tolerance_seconds`: webhook timestamp tolerance must be at least one second",
        ),
        (
            with(tdf(), "locale", json!("xx")),
            "config key `locale`: \"xx\" is not a Stripe Checkout locale (e.g. auto, en, ja)",
        ),
        (
            with(tdf(), "payment_method_types", json!(["card", "cheque"])),
            "config key `payment_method_types`: \"cheque\" is not a Stripe payment method type",
        ),
        (
            with(tdf(), "catalog", json!({"tickets": []})),
            "config key `catalog`: use either `catalog` or the `product_*` keys, not both",
        ),
        (json!([]), "config must be a JSON object"),
    ];
    for (blob, expected) in cases {
        assert_eq!(parse(&blob).unwrap_err().to_string(), expected);
    }
    assert_eq!(Config::from_json("{\n  \"a\": ").unwrap_err(), ConfigError::Syntax { line: 2, column: 7 });
}

#[test]
fn general_catalog_errors_name_the_path() {
    let base = without(without(tdf(), "product_visitor_ticket"), "product_bronze_ticket");
    let base = ["s", "m", "l", "xl"].iter().fold(base, |b, s| without(b, &format!("product_tshirt_{s}")));
    let cases = vec![
        (json!({"tickets": [{"id": "a"}]}), "config key `catalog.tickets[0].price` is missing"),
        (
            json!({"tickets": [{"id": "a b", "price": "price_1"}]}),
            "config key `catalog.tickets[0].id`: \"a b\" must be a short name of letters, digits, - or _",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1"}, {"id": "A", "price": "price_2"}]}),
            "config key `catalog.tickets`: ticket id \"a\" is used twice",
        ),
        (
            json!({"default_ticket": "b", "tickets": [{"id": "a", "price": "price_1"}]}),
            "config key `catalog.default_ticket`: no ticket has id \"b\"",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1", "options": [{"field": "size", "choices": [{"value": "m", "price": "p"}]}]}]}),
            "config key `catalog.tickets[0].options[0].choices[0].price`: \"p\" is not a Stripe price ID (price_…)",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1", "options": [{"field": "type", "choices": [{"value": "m"}]}]}]}),
            "config key `catalog.tickets[0].options`: field \"type\" is reserved or used twice",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1", "shipping": {"rate": "shr_1"}}]}),
            "config key `catalog.tickets[0].shipping.countries` is missing",
        ),
        (json!({"tickets": []}), "config key `catalog.tickets`: list at least one ticket"),
    ];
    for (catalog, expected) in cases {
        assert_eq!(parse(&with(base.clone(), "catalog", catalog)).unwrap_err().to_string(), expected);
    }
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let bad_keys =
        [json!("pk_test_PublishableNotSecret"), json!(SECRET_KEY.replace("sk_", "xk_")), json!("sk_test_with space")];
    for bad in bad_keys {
        let err = parse(&with(tdf(), "stripe_api_secret_key", bad.clone())).unwrap_err().to_string();
        assert_eq!(
            err,
            "config key `stripe_api_secret_key`: must be a Stripe secret key (sk_…) or restricted key (rk_…)"
        );
        assert!(!err.contains(bad.as_str().unwrap()));
    }
    let err = parse(&with(tdf(), "webhook_signing_secret", json!("not_a_whsec_TopSecret"))).unwrap_err().to_string();
    assert!(err.starts_with("config key `webhook_signing_secret`"), "{err}");
    assert!(!err.contains("TopSecret"), "{err}");
    let config = parse(&with(tdf(), "stripe_api_secret_key", json!(SECRET_KEY))).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("SecretValue"), "{debug}");
    assert!(!debug.contains("whsec_local_development_secret"), "{debug}");
}

#[test]
fn urls_allow_http_only_for_localhost() {
    for ok in [
        "https://a.example/x?y={CHECKOUT_SESSION_ID}",
        "http://localhost:3000/",
        "http://127.0.0.1/x",
        "http://[::1]:8080/",
    ] {
        assert!(HttpsUrl::parse("k", ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://a.example/",
        "ftp://a.example/",
        "https://",
        "https:///x",
        "https://user:pw@a.example/",
        "https://a .example/",
        "a.example",
    ] {
        assert!(HttpsUrl::parse("k", bad).is_err(), "{bad}");
    }
    assert!(HttpsUrl::parse_link("wuhu_url", "http://wuhu.party.lan/").is_ok());
}

#[test]
fn optional_additions_are_read() {
    let blob = with(with(tdf(), "email_reply_to", json!("orga@party.example")), "email_subject", json!("Your key"));
    let config = parse(&blob).unwrap();
    assert_eq!(config.email().from.as_deref(), Some("Tokyo Demo Fest <tickets@tokyodemofest.example>"));
    assert_eq!(config.email().reply_to.as_deref(), Some("orga@party.example"));
    assert_eq!(config.email().subject.as_deref(), Some("Your key"));
    assert_eq!(config.thanks_url().as_str(), "http://127.0.0.1:3000/thanks");
    assert_eq!(parse(&without(tdf(), "thanks_url")).unwrap().thanks_url().as_str(), "http://127.0.0.1:3000/");
    let err = parse(&with(tdf(), "email_from", json!("nobody"))).unwrap_err().to_string();
    assert_eq!(err, "config key `email_from`: \"nobody\" is not an email address");
}
