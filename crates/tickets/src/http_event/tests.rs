//! The sanitiser against lambda_http's own conversion (`LambdaRequest` →
//! `http::Request`, as its `Adapter` does), panics caught: every byte in
//! every field that goes into the URI, hand-picked nasty values, and a
//! seeded mix of them.

use super::*;
use lambda_http::request::LambdaRequest;
use std::panic::{AssertUnwindSafe, catch_unwind};

const LANDING: &str = include_str!("../../../../events/fulfill-landing.json");
const SESSION_ID: &str = "cs_test_a1TdfEventsFixtureBronzePaid0000000000000000000000000000";

fn landing() -> Value {
    serde_json::from_str(LANDING).unwrap()
}

/// lambda_http's conversion of `event`, or the panic's message.
fn convert(event: &Value) -> Result<lambda_http::Request, String> {
    let request: LambdaRequest = serde_json::from_value(event.clone()).map_err(|e| format!("not an event: {e}"))?;
    catch_unwind(AssertUnwindSafe(|| lambda_http::Request::from(request))).map_err(|panic| {
        let message = panic.downcast_ref::<String>().cloned();
        message.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
    })
}

fn sanitised(mut event: Value) -> Value {
    sanitise(&mut event);
    event
}

/// Where a value can go in the event, each a field lambda_http reads for the URI.
#[derive(Debug, Clone, Copy)]
enum Field {
    Query,
    Path,
    Host,
    DomainName,
    ForwardedProto,
    Stage,
}

const FIELDS: [Field; 6] =
    [Field::Query, Field::Path, Field::Host, Field::DomainName, Field::ForwardedProto, Field::Stage];

/// The landing event with `value` in `field`. The host fields are tried
/// without the other host, so that each one is the host lambda_http uses.
fn with(field: Field, value: &str) -> Value {
    let mut event = landing();
    let value = Value::String(value.to_owned());
    match field {
        Field::Query => event["rawQueryString"] = value,
        Field::Path => event["rawPath"] = value,
        Field::Host => event["headers"]["host"] = value,
        Field::DomainName => {
            event["headers"].as_object_mut().unwrap().remove("host");
            event["requestContext"]["domainName"] = value;
        }
        Field::ForwardedProto => event["headers"]["x-forwarded-proto"] = value,
        Field::Stage => event["requestContext"]["stage"] = value,
    }
    event
}

fn assert_converts(field: Field, value: &str) {
    if let Err(panic) = convert(&sanitised(with(field, value))) {
        panic!("{field:?} = {value:?}: {panic}");
    }
}

#[test]
fn without_it_a_quote_in_the_query_panics_the_conversion() {
    let raw = with(Field::Query, "session_id=\"<>");
    let panic = convert(&raw).expect_err("lambda_http panics on a raw quote");
    assert!(panic.contains("failed to build request"), "{panic}");
    assert!(convert(&sanitised(raw)).is_ok());
}

#[test]
fn every_byte_in_every_uri_field_converts() {
    let mut converted = 0;
    for field in FIELDS {
        for code in 0u32..=0xFF {
            let c = char::from_u32(code).unwrap();
            for value in [format!("{c}"), format!("a{c}b"), format!("/{c}{c}"), format!("x={c}&y={c}z")] {
                assert_converts(field, &value);
                converted += 1;
            }
        }
    }
    assert_eq!(converted, FIELDS.len() * 256 * 4);
}

#[test]
fn hand_picked_nasty_values_convert() {
    let long = |s: &str| s.repeat(70_000 / s.len());
    let values = [
        String::new(),
        "1.2.3.999".into(),
        "999999999999".into(),
        "0x1.0xZZ".into(),
        "a:99999".into(),
        "a:b".into(),
        "[::1".into(),
        "[::1]:443".into(),
        "[zz]".into(),
        "xn--".into(),
        "xn--a.example".into(),
        "a\"b{c}".into(),
        "東京.example".into(),
        "a..b".into(),
        ":1".into(),
        "@:x".into(),
        "//x/../..".into(),
        "?#".into(),
        "1http".into(),
        "\u{0}".into(),
        "\u{feff}".into(),
        "\u{10ffff}".into(),
        long("a"),
        long("\""),
        long("a."),
        long("東"),
    ];
    for field in FIELDS {
        for value in &values {
            assert_converts(field, value);
        }
    }
}

/// A small seeded generator (xorshift): failures reproduce, no new dependency.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn seeded_mixes_of_uri_characters_convert() {
    const PIECES: &[&str] = &[
        "a", "Z", "0", "9", ".", "-", "_", ":", "/", "\\", "?", "#", "@", "[", "]", "%", "%2", "%zz", "\"", "<", ">",
        " ", "\t", "\n", "{", "}", "|", "^", "`", "&", "=", "+", "'", "~", "\u{7f}", "é", "東", "xn--", "0x",
        "$default",
    ];
    let mut random = Seeded(0x7d_f71c_4e75);
    for case in 0..4000 {
        let field = FIELDS[case % FIELDS.len()];
        let len = random.next() % 12;
        let value: String = (0..len).map(|_| PIECES[(random.next() % PIECES.len() as u64) as usize]).collect();
        assert_converts(field, &value);
    }
}

#[test]
fn valid_queries_and_paths_are_left_as_they_are() {
    let event = sanitised(landing());
    assert_eq!(event, landing());
    let request = convert(&event).unwrap();
    assert_eq!(crate::web::query_param(&request, "session_id").as_deref(), Some(SESSION_ID));
    let query = "a=b%20c+d&e=%E6%9D%B1&f=/?x=1;y=[2]~!$'()*,:@";
    assert_eq!(sanitised(with(Field::Query, query))["rawQueryString"], query);
    let path = "/stage/fulfill/a%2Fb;c=d@e!$&'()*+,~";
    assert_eq!(sanitised(with(Field::Path, path))["rawPath"], path);
}

#[test]
fn refused_query_bytes_are_percent_encoded_and_mean_the_same() {
    let event = sanitised(with(Field::Query, &format!("session_id={SESSION_ID}&x=\"<>#東 `")));
    assert_eq!(event["rawQueryString"], format!("session_id={SESSION_ID}&x=%22%3C%3E%23%E6%9D%B1%20`"));
    let request = convert(&event).unwrap();
    assert_eq!(crate::web::query_param(&request, "session_id").as_deref(), Some(SESSION_ID));
    assert_eq!(crate::web::query_param(&request, "x").as_deref(), Some("\"<>#東 `"));
}

#[test]
fn a_path_gets_its_slash_and_loses_nothing() {
    assert_eq!(sanitised(with(Field::Path, ":99999/availability"))["rawPath"], "/:99999/availability");
    let request = convert(&sanitised(with(Field::Path, "/a b/\"x\"?/availability"))).unwrap();
    assert_eq!(request.uri().path(), "/a%20b/%22x%22%3F/availability");
    assert_eq!(request.uri().query(), Some(format!("session_id={SESSION_ID}").as_str()));
}

#[test]
fn unusable_hosts_and_schemes_are_dropped_and_good_ones_kept() {
    let event = sanitised(with(Field::Host, "1.2.3.999"));
    assert!(event["headers"].get("host").is_none(), "{event}");
    let request = convert(&event).unwrap();
    assert_eq!(request.uri().host(), Some("tickets.example.org"), "the domain name instead");
    let event = sanitised(with(Field::DomainName, "a\"b"));
    assert!(event["requestContext"].get("domainName").is_none(), "{event}");
    assert_eq!(convert(&event).unwrap().uri().host(), None, "a relative URI");
    // Url would accept these, reading a path or user out of them.
    for host in ["evil.example/admin", "user@evil.example", "evil.example?", "evil.example\\x"] {
        assert!(sanitised(with(Field::Host, host))["headers"].get("host").is_none(), "{host}");
    }
    for host in ["tickets.example.org", "127.0.0.1:3000", "[::1]:443", "abc123.execute-api.eu-west-1.amazonaws.com"] {
        assert_eq!(sanitised(with(Field::Host, host))["headers"]["host"], host);
    }
    let event = sanitised(with(Field::ForwardedProto, "a b"));
    assert!(event["headers"].get("x-forwarded-proto").is_none(), "{event}");
    assert_eq!(sanitised(with(Field::ForwardedProto, "http"))["headers"]["x-forwarded-proto"], "http");
}

#[test]
fn headers_deserialisation_would_refuse_are_dropped() {
    let mut event = landing();
    event["headers"]["bad name"] = "x".into();
    event["headers"]["x-control"] = "a\u{1}b".into();
    event["headers"]["x-number"] = 7.into();
    assert!(convert(&event).unwrap_err().starts_with("not an event"));
    let event = sanitised(event);
    for dropped in ["bad name", "x-control", "x-number"] {
        assert!(event["headers"].get(dropped).is_none(), "{dropped}: {event}");
    }
    let request = convert(&event).unwrap();
    assert_eq!(request.headers()["user-agent"], "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
}

#[test]
fn a_body_that_is_not_base64_is_dropped() {
    let mut event = landing();
    event["body"] = "not base64!".into();
    event["isBase64Encoded"] = true.into();
    let panic = convert(&event).expect_err("lambda_http panics on bad base64");
    assert!(panic.contains("base64"), "{panic}");
    let request = convert(&sanitised(event)).unwrap();
    assert!(request.body().is_empty());
    let mut event = landing();
    event["body"] = "aGk=".into();
    event["isBase64Encoded"] = true.into();
    assert_eq!(convert(&sanitised(event)).unwrap().body().as_ref(), b"hi");
}

#[test]
fn what_is_not_an_http_event_is_left_alone() {
    for mut event in [serde_json::json!({"source": "aws.events"}), serde_json::json!([1, 2]), Value::Null] {
        let before = event.clone();
        sanitise(&mut event);
        assert_eq!(event, before);
    }
}
