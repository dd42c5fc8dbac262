//! The raw API Gateway event, made safe for lambda_http before it becomes
//! an `http::Request`.
//!
//! lambda_http builds the request's URI from `rawPath`, `rawQueryString`,
//! the `Host` header (else `requestContext.domainName`), `X-Forwarded-Proto`
//! and the stage, and panics when `url::Url` or `http::Uri` refuses the
//! result (`expect("failed to build request")`; aws-lambda-rust-runtime
//! #461, #489) — a raw `"`, `<` or `>` in the query string, as curl and
//! browsers send them, is enough. A base64 body that does not decode panics
//! too. With `panic = "abort"` that is the container's end, so every one of
//! those inputs is made valid here first, and the handler answers instead.
//! Valid input is left as it is; what is rewritten keeps its meaning where
//! it has one (a percent-encoded `"` decodes to the same `"`).

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// A longer (encoded) path or query string is dropped: far beyond what API
/// Gateway forwards (10 KB of request line and headers), and well within
/// `http::Uri`'s 64 KiB.
const MAX_PATH_OR_QUERY: usize = 16 * 1024;

/// The longest DNS name, with room for a port.
const MAX_HOST: usize = 260;

/// Rewrites `event` (an API Gateway HTTP API payload 2.0) so that
/// lambda_http's conversion cannot panic on it. Anything that is not such
/// an event is left for deserialisation to refuse.
pub fn sanitise(event: &mut Value) {
    let Some(event) = event.as_object_mut() else { return };
    if let Some(Value::String(query)) = event.get_mut("rawQueryString") {
        *query = safe_query(query);
    }
    // lambda_http takes `path` as another name for `rawPath`.
    for key in ["rawPath", "path"] {
        if let Some(Value::String(path)) = event.get_mut(key) {
            *path = safe_path(path);
        }
    }
    if let Some(Value::Object(headers)) = event.get_mut("headers") {
        headers.retain(|name, value| is_safe_header(name, value));
    }
    if let Some(Value::Object(context)) = event.get_mut("requestContext") {
        sanitise_context(context);
    }
    sanitise_body(event);
}

/// The query string with every byte `http::Uri` refuses in a query
/// percent-encoded, and `#` (which would cut it short as a fragment).
/// Non-ASCII is encoded too, so the URI is plain ASCII.
fn safe_query(query: &str) -> String {
    let encoded = percent_encode(query, |b| matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E));
    if encoded.len() > MAX_PATH_OR_QUERY { String::new() } else { encoded }
}

/// The path starting with `/` (else `Url::parse` would read it as part of
/// the host), with every byte that `url::Url` or `http::Uri` would
/// percent-encode or refuse in a path encoded, and `?` and `#`, which would
/// start a query or fragment.
fn safe_path(path: &str) -> String {
    let encoded =
        percent_encode(path, |b| matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7A | 0x7C | 0x7E));
    if encoded.len() > MAX_PATH_OR_QUERY {
        "/".to_owned()
    } else if encoded.starts_with('/') {
        encoded
    } else {
        format!("/{encoded}")
    }
}

fn percent_encode(text: &str, keep: fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if keep(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A header deserialisation would accept (else the event is refused and
/// API Gateway answers a bare 500), and, for `Host` and
/// `X-Forwarded-Proto`, one that makes a valid URI.
fn is_safe_header(name: &str, value: &Value) -> bool {
    // API Gateway sends each header as one string (repeats comma-joined).
    let Some(value) = value.as_str() else { return false };
    if HeaderName::from_bytes(name.as_bytes()).is_err() || HeaderValue::from_str(value).is_err() {
        return false;
    }
    if name.eq_ignore_ascii_case("host") {
        return is_usable_host(value);
    }
    if name.eq_ignore_ascii_case("x-forwarded-proto") {
        return value.eq_ignore_ascii_case("https") || value.eq_ignore_ascii_case("http");
    }
    true
}

/// The domain name and stage, dropped when they would not make a valid URI
/// (lambda_http then uses a relative URI, or no stage prefix).
fn sanitise_context(context: &mut Map<String, Value>) {
    if context.get("domainName").and_then(Value::as_str).is_some_and(|host| !is_usable_host(host)) {
        context.remove("domainName");
    }
    if context.get("stage").and_then(Value::as_str).is_some_and(|stage| !is_stage_name(stage)) {
        context.remove("stage");
    }
}

/// Do `url::Url` and then `http::Uri` accept `https://{host}/…`, with the
/// host ending where lambda_http's path begins?
fn is_usable_host(host: &str) -> bool {
    host.len() <= MAX_HOST
        && !host.contains(['/', '\\', '?', '#', '@'])
        && url::Url::parse(&format!("https://{host}/")).is_ok_and(|url| url.as_str().parse::<http::Uri>().is_ok())
}

/// API Gateway's stage names: letters, digits, `-` and `_`, or `$default`.
fn is_stage_name(stage: &str) -> bool {
    stage == "$default"
        || (!stage.is_empty()
            && stage.len() <= 128
            && stage.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A body marked base64 that does not decode is dropped (the handlers
/// refuse an empty form or an unsigned event with a 4xx).
fn sanitise_body(event: &mut Map<String, Value>) {
    let marked_base64 = event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    let decodes = |body: &str| base64::engine::general_purpose::STANDARD.decode(body).is_ok();
    if marked_base64 && event.get("body").and_then(Value::as_str).is_some_and(|body| !decodes(body)) {
        event.insert("body".into(), Value::String(String::new()));
        event.insert("isBase64Encoded".into(), Value::Bool(false));
    }
}

#[cfg(test)]
mod tests;
