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

/// The example blob with `catalog` in place of its `product_*` keys.
fn general(catalog: serde_json::Value) -> serde_json::Value {
    let base = without(without(tdf(), "product_visitor_ticket"), "product_bronze_ticket");
    let base = ["s", "m", "l", "xl"].iter().fold(base, |b, s| without(b, &format!("product_tshirt_{s}")));
    with(base, "catalog", catalog)
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
            "config key `catalog.tickets[0].options`: field \"type\" is reserved: the ticket form's field for the ticket",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1", "options": [
                {"field": "size", "choices": [{"value": "m"}]}, {"field": "Size", "choices": [{"value": "l"}]}]}]}),
            "config key `catalog.tickets[0].options`: field \"size\" is used twice",
        ),
        (
            json!({"tickets": [{"id": "a", "price": "price_1", "shipping": {"rate": "shr_1"}}]}),
            "config key `catalog.tickets[0].shipping.countries` is missing",
        ),
        (json!({"tickets": []}), "config key `catalog.tickets`: list at least one ticket"),
    ];
    for (catalog, expected) in cases {
        assert_eq!(parse(&general(catalog)).unwrap_err().to_string(), expected);
    }
}

/// An option field named like a key checkout writes into the session's
/// metadata would overwrite it (a `ticket` option replaced the ticket).
#[test]
fn option_fields_cannot_take_the_forms_or_the_metadatas_own_names() {
    let option = |field: &str| json!({"field": field, "choices": [{"value": "m"}]});
    for field in ["type", "lang", "ticket", "Ticket", "hold_id", "tdf_shop"] {
        let catalog = json!({"tickets": [
            {"id": "a", "price": "price_1"},
            {"id": "b", "price": "price_2", "options": [option("size"), option(field)]},
        ]});
        let error = parse(&general(catalog)).unwrap_err().to_string();
        let reserved =
            format!("config key `catalog.tickets[1].options`: field \"{}\" is reserved: ", field.to_lowercase());
        assert!(error.starts_with(&reserved), "{field}: {error}");
    }
    // Names that merely resemble them are options like any other.
    let catalog = json!({"tickets": [{"id": "a", "price": "price_1", "options": [option("tickets"), option("hold")]}]});
    let config = parse(&general(catalog)).expect("ordinary option names");
    let fields: Vec<&str> = config.catalog().tickets()[0].options().iter().map(|g| g.field()).collect();
    assert_eq!(fields, ["tickets", "hold"]);
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
    let from = config.email().from.as_ref().expect("email_from");
    assert_eq!(from.header(), "Tokyo Demo Fest <tickets@tokyodemofest.example>");
    assert_eq!(config.email().reply_to.as_ref().map(|r| r.header()).as_deref(), Some("orga@party.example"));
    assert_eq!(config.email().subject.as_deref(), Some("Your key"));
    assert_eq!(config.thanks_url().as_str(), "http://127.0.0.1:3000/thanks");
    assert_eq!(parse(&without(tdf(), "thanks_url")).unwrap().thanks_url().as_str(), "http://127.0.0.1:3000/");
    let err = parse(&with(tdf(), "email_from", json!("nobody"))).unwrap_err().to_string();
    assert_eq!(err, "config key `email_from`: \"nobody\" is not an email address");
}

/// SES refuses a raw non-ASCII or comma'd display name on every send: the
/// config encodes what it can and refuses the rest, naming the key.
#[test]
fn sender_display_names_are_made_sendable_or_refused() {
    let config = parse(&with(tdf(), "email_from", json!("東京デモフェスト <tickets@example.org>"))).unwrap();
    let from = config.email().from.as_ref().expect("email_from");
    assert_eq!(from.display_name(), Some("東京デモフェスト"));
    assert!(from.header().starts_with("=?UTF-8?B?") && from.header().is_ascii(), "{}", from.header());
    let config = parse(&with(tdf(), "email_reply_to", json!("Orga, TDF <orga@example.org>"))).unwrap();
    let reply_to = config.email().reply_to.as_ref().expect("email_reply_to");
    assert_eq!(reply_to.header(), "\"Orga, TDF\" <orga@example.org>");

    let refused = [
        ("email_from", "Tickets <tickets@example.org>\r\nBcc: x@example.com", "contains a line break"),
        ("email_from", "Tickets <>", "is not an email address"),
        ("email_reply_to", "orga@例え.jp", "punycode"),
    ];
    for (key, value, problem) in refused {
        let err = parse(&with(tdf(), key, json!(value))).unwrap_err().to_string();
        assert!(err.starts_with(&format!("config key `{key}`: ")) && err.contains(problem), "{err}");
    }
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

#[test]
fn without_the_new_keys_nothing_is_limited() {
    let shirts = json!({"field": "tshirt", "choices": [{"value": "m", "price": "price_m"}]});
    let catalog = json!({"tickets": [{"id": "a", "price": "price_a", "options": [shirts]}]});
    for blob in [tdf(), general(catalog)] {
        let config = parse(&blob).unwrap();
        assert!(!config.catalog().has_limits());
        assert!(config.catalog().capacity_groups().is_empty());
        assert_eq!(config.hold_minutes(), 35);
        assert_eq!(config.site_origin(), None);
        for ticket in config.catalog().tickets() {
            assert_eq!((ticket.capacity(), ticket.capacity_group()), (None, None));
            assert_eq!(ticket.sale_window(), SaleWindow::default());
            assert!(ticket.options().iter().flat_map(|g| g.choices()).all(|c| c.stock().is_none()));
        }
        // Keys given as null or "" count as left out.
        let mut blanked = blob.clone();
        for key in ["capacity", "tshirt_stock", "hold_minutes", "sale_opens_at", "sale_closes_at", "site_origin"] {
            blanked = with(blanked, key, if key.starts_with('s') { json!("") } else { json!(null) });
        }
        let blanked = parse(&blanked).unwrap();
        assert_eq!(blanked.catalog(), config.catalog());
        assert_eq!(format!("{blanked:?}"), format!("{config:?}"));
    }
}

#[test]
fn tdf_form_limits_and_sale_window() {
    let blob = [
        ("capacity", json!({"visitor": 150, "Bronze": "50"})),
        ("tshirt_stock", json!({"S": 10, "m": 0})),
        ("hold_minutes", json!(60)),
        ("sale_opens_at", json!("2026-12-01T10:00:00+09:00")),
        ("sale_closes_at", json!("2027-02-20T00:00:00.5Z")),
        ("site_origin", json!("https://TokyoDemoFest.jp/")),
    ]
    .into_iter()
    .fold(tdf(), |b, (k, v)| with(b, k, v));
    let config = parse(&blob).unwrap();
    let catalog = config.catalog();
    assert!(catalog.has_limits());
    assert_eq!(catalog.ticket("visitor").unwrap().capacity(), Some(150));
    let bronze = catalog.ticket("bronze").unwrap();
    assert_eq!(bronze.capacity(), Some(50));
    let stock: Vec<_> = bronze.options()[0].choices().iter().map(|c| (c.value(), c.stock())).collect();
    assert_eq!(stock, [("s", Some(10)), ("m", Some(0)), ("l", None), ("xl", None)]);
    assert_eq!(config.hold_minutes(), 60);
    assert_eq!(config.site_origin(), Some("https://tokyodemofest.jp"));
    for ticket in catalog.tickets() {
        let window = ticket.sale_window();
        assert_eq!(window.opens_at(), Some(at("2026-12-01T10:00:00+09:00")));
        assert_eq!(window.closes_at().unwrap().unix(), at("2027-02-20T00:00:00Z").unix());
        assert_eq!(
            window.check(at("2026-12-01T00:59:59Z").unix()),
            Err(SaleClosed::NotYetOpen(at("2026-12-01T10:00:00+09:00")))
        );
        assert_eq!(window.check(at("2026-12-01T01:00:00Z").unix()), Ok(()));
    }
    // Only capacity alone also counts as a limit.
    assert!(parse(&with(tdf(), "capacity", json!({"visitor": 0}))).unwrap().catalog().has_limits());
}

#[test]
fn general_form_limits_and_sale_window() {
    let shirts = |stock_m: serde_json::Value| {
        let choices = json!([{"value": "m", "stock": stock_m}, {"value": "L", "stock": "5"}, {"value": "xl"}]);
        json!({"field": "tshirt", "choices": choices})
    };
    let catalog = json!({
        "capacity_groups": {"hall": 200, "Balcony": "40"},
        "tickets": [
            {"id": "early", "price": "price_e", "capacity": 50, "capacity_group": "Hall",
             "sale_closes_at": "2026-12-15T00:00:00+09:00", "options": [shirts(json!(10))]},
            {"id": "regular", "price": "price_r", "capacity_group": "hall",
             "sale_opens_at": "2026-12-15T00:00:00+09:00",
             "options": [shirts(json!(null))]},
            {"id": "late", "price": "price_l", "capacity": "0"}
        ]
    });
    let blob =
        with(with(general(catalog), "sale_opens_at", json!("2026-12-01T10:00:00+09:00")), "hold_minutes", json!("31"));
    let blob = with(with(blob, "sale_closes_at", json!("2027-02-20T18:00:00+09:00")), "site_origin", json!("*"));
    let config = parse(&blob).unwrap();
    let catalog = config.catalog();
    assert!(catalog.has_limits());
    assert_eq!(catalog.capacity_groups(), [("balcony".to_owned(), 40), ("hall".to_owned(), 200)]);
    assert_eq!((catalog.group_capacity("HALL"), catalog.group_capacity("gallery")), (Some(200), None));
    let [early, regular, late] = catalog.tickets() else { panic!("three tickets") };
    assert_eq!((early.capacity(), early.capacity_group()), (Some(50), Some("hall")));
    assert_eq!((regular.capacity(), regular.capacity_group()), (None, Some("hall")));
    assert_eq!((late.capacity(), late.capacity_group()), (Some(0), None));
    // One pile per field and value: `regular` left the M stock out and shares early's.
    for ticket in [early, regular] {
        let stock: Vec<_> = ticket.options()[0].choices().iter().map(Choice::stock).collect();
        assert_eq!(stock, [Some(10), Some(5), None]);
    }
    let window = |t: &Ticket| (t.sale_window().opens_at(), t.sale_window().closes_at());
    let (opens, closes) = (at("2026-12-01T10:00:00+09:00"), at("2027-02-20T18:00:00+09:00"));
    let switch = at("2026-12-15T00:00:00+09:00");
    assert_eq!(window(early), (Some(opens), Some(switch)));
    assert_eq!(window(regular), (Some(switch), Some(closes)));
    assert_eq!(window(late), (Some(opens), Some(closes)));
    assert_eq!(early.sale_window().check(switch.unix()), Err(SaleClosed::Over(switch)));
    assert_eq!(regular.sale_window().check(switch.unix()), Ok(()));
    assert_eq!((config.hold_minutes(), config.site_origin()), (31, Some("*")));
}

#[test]
fn limit_errors_name_the_key() {
    let whole = "must be a whole number from 0 to 1000000";
    let hold = "config key `hold_minutes`: must be a whole number from 31 to 1440: a Stripe Checkout Session expires \
                at least 30 minutes and at most 24 hours after it is created";
    let rfc = "must be an RFC 3339 timestamp with an offset, e.g. \"2026-12-01T10:00:00+09:00\"";
    let cases: Vec<(serde_json::Value, String)> = vec![
        (with(tdf(), "capacity", json!({"visitor": -1})), format!("config key `capacity.visitor`: {whole}")),
        (with(tdf(), "capacity", json!({"bronze": 2.5})), format!("config key `capacity.bronze`: {whole}")),
        (with(tdf(), "capacity", json!({"visitor": 1_000_001})), format!("config key `capacity.visitor`: {whole}")),
        (
            with(tdf(), "capacity", json!({"gold": 5})),
            "config key `capacity.gold`: is not a ticket (visitor, bronze)".into(),
        ),
        (
            with(tdf(), "capacity", json!({"Visitor": 1, "visitor": 2})),
            "config key `capacity.visitor`: is listed twice".into(),
        ),
        (
            with(tdf(), "capacity", json!(150)),
            r#"config key `capacity`: must be an object, e.g. {"visitor": 150, "bronze": 50}"#.into(),
        ),
        (
            with(tdf(), "tshirt_stock", json!({"xxl": 3})),
            "config key `tshirt_stock.xxl`: is not a T-shirt size (s, m, l, xl)".into(),
        ),
        (with(tdf(), "tshirt_stock", json!({"m": "ten"})), format!("config key `tshirt_stock.m`: {whole}")),
        (with(tdf(), "hold_minutes", json!(30)), hold.into()),
        (with(tdf(), "hold_minutes", json!(1441)), hold.into()),
        (with(tdf(), "hold_minutes", json!("soon")), hold.into()),
        (with(tdf(), "sale_opens_at", json!("2026-12-01 10:00")), format!("config key `sale_opens_at`: {rfc}")),
        (with(tdf(), "sale_closes_at", json!(1_796_086_800)), format!("config key `sale_closes_at`: {rfc}")),
        (
            with(
                with(tdf(), "sale_opens_at", json!("2026-12-01T10:00:00+09:00")),
                "sale_closes_at",
                json!("2026-12-01T01:00:00Z"),
            ),
            "config key `sale_closes_at`: must be after the sale opens (2026-12-01 10:00 (UTC+09:00))".into(),
        ),
        (
            with(tdf(), "site_origin", json!("https://tokyodemofest.jp/tickets")),
            "config key `site_origin`: \"https://tokyodemofest.jp/tickets\" is not an origin: \
             http(s)://host[:port] with no path, query or fragment, or *"
                .into(),
        ),
        (
            with(general(json!({"tickets": [{"id": "a", "price": "price_a"}]})), "capacity", json!({"a": 1})),
            "config key `capacity`: with `catalog`, put `capacity` on each ticket instead".into(),
        ),
        (
            with(general(json!({"tickets": [{"id": "a", "price": "price_a"}]})), "tshirt_stock", json!({"m": 1})),
            "config key `tshirt_stock`: with `catalog`, put `stock` on each option choice instead".into(),
        ),
    ];
    for (blob, expected) in cases {
        assert_eq!(parse(&blob).unwrap_err().to_string(), expected);
    }
}

#[test]
fn general_limit_errors_name_the_path() {
    let ticket = |extra: serde_json::Value| {
        let mut t = json!({"id": "a", "price": "price_a"});
        t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        t
    };
    // Tickets `a` and `b`, each with a T-shirt size M of the given stock.
    let options = |stock: serde_json::Value| json!([{"field": "tshirt", "choices": [{"value": "m", "stock": stock}]}]);
    let shirt = |stock: serde_json::Value| ticket(json!({"options": options(stock)}));
    let shirt_b = |stock: serde_json::Value| json!({"id": "b", "price": "price_b", "options": options(stock)});
    let whole = "must be a whole number from 0 to 1000000";
    let cases = vec![
        (json!({"tickets": [ticket(json!({"capacity": -5}))]}), format!("`catalog.tickets[0].capacity`: {whole}")),
        (json!({"tickets": [ticket(json!({"capacity": "many"}))]}), format!("`catalog.tickets[0].capacity`: {whole}")),
        (
            json!({"tickets": [ticket(json!({"capacity_group": "hall"}))]}),
            "`catalog.tickets[0].capacity_group`: no group \"hall\" in `catalog.capacity_groups`".into(),
        ),
        (
            json!({"capacity_groups": {"hall": 10}, "tickets": [ticket(json!({"capacity_group": "gallery"}))]}),
            "`catalog.tickets[0].capacity_group`: no group \"gallery\" in `catalog.capacity_groups`".into(),
        ),
        (
            json!({"capacity_groups": {"big hall": 10}, "tickets": [ticket(json!({}))]}),
            "`catalog.capacity_groups.big hall`: a group name must be letters, digits, - or _".into(),
        ),
        (
            json!({"capacity_groups": {"hall": 0.5}, "tickets": [ticket(json!({}))]}),
            format!("`catalog.capacity_groups.hall`: {whole}"),
        ),
        (
            json!({"capacity_groups": [200], "tickets": [ticket(json!({}))]}),
            r#"`catalog.capacity_groups`: must be an object, e.g. {"hall": 200}"#.into(),
        ),
        (json!({"tickets": [shirt(json!(-1))]}), format!("`catalog.tickets[0].options[0].choices[0].stock`: {whole}")),
        (
            json!({"tickets": [shirt(json!(10)), shirt_b(json!(12))]}),
            "`catalog.tickets[1].options[0].choices[0].stock`: tshirt = m is one pile: give the same stock as \
             `catalog.tickets[0].options[0].choices[0].stock` (10)"
                .into(),
        ),
        (
            json!({"tickets": [ticket(json!({"sale_opens_at": "2026-02-30T00:00:00Z"}))]}),
            "`catalog.tickets[0].sale_opens_at`: must be an RFC 3339 timestamp with an offset, \
             e.g. \"2026-12-01T10:00:00+09:00\""
                .into(),
        ),
        (
            json!({"tickets": [ticket(
                json!({"sale_opens_at": "2026-12-01T10:00:00Z", "sale_closes_at": "2026-12-01T10:00:00Z"})
            )]}),
            "`catalog.tickets[0].sale_closes_at`: must be after the sale opens (2026-12-01 10:00 (UTC))".into(),
        ),
    ];
    for (catalog, expected) in cases {
        assert_eq!(parse(&general(catalog)).unwrap_err().to_string(), format!("config key {expected}"));
    }
    // A ticket's own bound must fit the global one it keeps.
    let late_open = general(json!({"tickets": [ticket(json!({"sale_opens_at": "2027-03-01T00:00:00+09:00"}))]}));
    let err = parse(&with(late_open, "sale_closes_at", json!("2027-02-20T18:00:00+09:00"))).unwrap_err().to_string();
    assert_eq!(
        err,
        "config key `catalog.tickets[0].sale_opens_at`: must be before the sale closes (2027-02-20 18:00 (UTC+09:00))"
    );
    // Equal stock in two tickets is one pile, stated twice: fine.
    let twice = json!({"tickets": [shirt(json!(10)), shirt_b(json!("10"))]});
    assert!(parse(&general(twice)).is_ok());
}

#[test]
fn site_origins() {
    for (given, kept) in [
        ("*", "*"),
        ("https://tokyodemofest.jp", "https://tokyodemofest.jp"),
        ("https://TokyoDemoFest.JP/", "https://tokyodemofest.jp"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://party.example:443", "https://party.example"),
        ("https://party.example:8443", "https://party.example:8443"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ] {
        assert_eq!(validate::site_origin("site_origin", given).as_deref(), Ok(kept), "{given}");
    }
    for bad in [
        "tokyodemofest.jp",
        "ftp://party.example",
        "https://",
        "https://party.example//",
        "https://party.example/tickets",
        "https://party.example?x=1",
        "https://party.example#top",
        "https://user@party.example",
        "https://party.example:0",
        "https://party.example:99999",
        "https://party.example:",
        "https://party .example",
        "**",
    ] {
        assert!(validate::site_origin("site_origin", bad).is_err(), "{bad}");
    }
}

#[test]
fn refund_and_dispute_switches_default_to_returning_places_and_waiting() {
    let minimal = general(json!({"tickets": [{"id": "a", "price": "price_1"}]}));
    for blob in [tdf(), minimal] {
        let config = parse(&blob).unwrap();
        assert!(config.refund_returns_capacity());
        assert!(!config.revoke_on_dispute());
        // `null` and `""` count as not given, as for every key.
        let config =
            parse(&with(with(blob.clone(), "refund_returns_capacity", json!(null)), "revoke_on_dispute", json!(" ")))
                .unwrap();
        assert!(config.refund_returns_capacity());
        assert!(!config.revoke_on_dispute());
    }
}

#[test]
fn refund_and_dispute_switches_take_booleans_and_their_words() {
    let minimal = general(json!({"tickets": [{"id": "a", "price": "price_1"}]}));
    for blob in [tdf(), minimal] {
        for (given, expected) in
            [(json!(true), true), (json!(false), false), (json!("true"), true), (json!(" False "), false)]
        {
            let both = with(with(blob.clone(), "refund_returns_capacity", given.clone()), "revoke_on_dispute", given);
            let config = parse(&both).unwrap();
            assert_eq!(config.refund_returns_capacity(), expected);
            assert_eq!(config.revoke_on_dispute(), expected);
        }
    }
}

#[test]
fn refund_and_dispute_switches_name_the_key_when_wrong() {
    for key in ["refund_returns_capacity", "revoke_on_dispute"] {
        for bad in [json!("yes"), json!(1), json!(0), json!([true]), json!({"on": true})] {
            let err = parse(&with(tdf(), key, bad.clone())).unwrap_err().to_string();
            assert_eq!(err, format!("config key `{key}`: must be true or false"), "{bad}");
        }
    }
}

#[test]
fn cancellation_email_overrides_are_read() {
    let blob = [
        ("email_subject_cancelled", "Ticket cancelled"),
        ("email_intro_cancelled", "Sorry to see you go."),
        ("email_subject_cancelled_ja", "キャンセルのお知らせ"),
        ("email_intro_cancelled_ja", "ご連絡です。"),
    ]
    .into_iter()
    .fold(tdf(), |blob, (key, value)| with(blob, key, json!(value)));
    let email = parse(&blob).unwrap().email().clone();
    assert_eq!(email.subject_cancelled.as_deref(), Some("Ticket cancelled"));
    assert_eq!(email.intro_cancelled.as_deref(), Some("Sorry to see you go."));
    assert_eq!(email.subject_cancelled_ja.as_deref(), Some("キャンセルのお知らせ"));
    assert_eq!(email.intro_cancelled_ja.as_deref(), Some("ご連絡です。"));
    assert_eq!(email.subject, None);

    let unset = parse(&tdf()).unwrap().email().clone();
    assert_eq!(unset.subject_cancelled, None);
    assert_eq!(unset.intro_cancelled_ja, None);
    let err = parse(&with(tdf(), "email_intro_cancelled_ja", json!(1))).unwrap_err().to_string();
    assert_eq!(err, "config key `email_intro_cancelled_ja`: must be a string");
}

#[test]
fn votekey_source_is_generate_or_pool() {
    use crate::config::VotekeySource;
    assert_eq!(parse(&tdf()).unwrap().votekey_source(), VotekeySource::Generate);
    assert_eq!(parse(&with(tdf(), "votekey_source", json!("pool"))).unwrap().votekey_source(), VotekeySource::Pool);
    let bad = parse(&with(tdf(), "votekey_source", json!("wuhu"))).unwrap_err();
    assert!(bad.to_string().contains("votekey_source"), "{bad}");
}

#[test]
fn wuhu_register_page_is_optional_text() {
    assert_eq!(parse(&tdf()).unwrap().email().wuhu_register_page, None);
    let config = parse(&with(tdf(), "wuhu_register_page", json!(" Register "))).unwrap();
    assert_eq!(config.email().wuhu_register_page.as_deref(), Some("Register"));
    let bad = parse(&with(tdf(), "wuhu_register_page", json!(1))).unwrap_err();
    assert!(bad.to_string().contains("wuhu_register_page"), "{bad}");
}

#[test]
fn reconcile_days_default_to_a_week_and_take_1_to_30() {
    assert_eq!(parse(&tdf()).unwrap().reconcile_days(), 7);
    for (given, days) in [(json!(1), 1), (json!(30), 30), (json!("14"), 14), (json!(null), 7)] {
        assert_eq!(parse(&with(tdf(), "reconcile_days", given.clone())).unwrap().reconcile_days(), days, "{given}");
    }
    for bad in [json!(0), json!(31), json!(-1), json!(2.5), json!("a week"), json!(true)] {
        let err = parse(&with(tdf(), "reconcile_days", bad.clone())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config key `reconcile_days`: must be a whole number of days from 1 to 30",
            "{bad}"
        );
    }
}
