//! Shared set-up for the integration tests: one moto per test binary, a fake
//! Stripe per test, configs put into SSM, and events from `events/`.

use aws_sdk_ssm::config::{Credentials, Region};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use testbed::moto::Moto;
use tokio::sync::Mutex;

pub mod capacity;

/// moto takes a second or two to start: tests share one while any of them
/// holds it; the last one to finish stops it (by PID, in `Moto`'s Drop).
pub async fn moto() -> Arc<Moto> {
    static SHARED: Mutex<Weak<Moto>> = Mutex::const_new(Weak::new());
    let mut shared = SHARED.lock().await;
    if let Some(moto) = shared.upgrade() {
        return moto;
    }
    let moto = Arc::new(Moto::start().await.expect("start moto (scripts/test installs it into .venv)"));
    *shared = Arc::downgrade(&moto);
    moto
}

/// An AWS SDK config for clients talking to `moto`.
pub fn aws_config(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(testbed::moto::REGION))
        .endpoint_url(moto.endpoint_url())
        .credentials_provider(aws_sdk_ssm::config::SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .build()
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The shipped example config (the TDF catalog), as JSON to modify.
pub fn example_config() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("config.example.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A fresh SSM parameter name, so tests sharing moto never see each other's config.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", testbed::stripe::random_id("", 10).to_lowercase())
}

/// A request as API Gateway would deliver it, from `events/<name>`.
pub fn event(name: &str) -> lambda_http::Request {
    let text = std::fs::read_to_string(root().join("events").join(name)).unwrap();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The JSON of `events/<name>`.
pub fn event_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One function container under the Lambda Runtime API emulator: the
/// binary's process and the emulator feeding it, with AWS behind a counting
/// proxy (moto behind that) and Stripe at the stand-in.
pub struct Container {
    pub api: testbed::runtime_api::RuntimeApi,
    pub function: testbed::runtime_api::FunctionProcess,
}

impl Container {
    /// Starts `target/<profile>/<name>` with the AWS and logging settings
    /// of a deployed function, plus `settings` (CONFIG_PARAMETER …).
    pub async fn start(
        name: &str,
        proxy: &testbed::proxy::CountingProxy,
        stripe: &testbed::stripe::FakeStripe,
        settings: &[(&str, &str)],
    ) -> Container {
        // The template's function timeouts: the deadline the functions budget from.
        let timeout = std::time::Duration::from_secs(if name == "fulfill" { 15 } else { 10 });
        let config = testbed::runtime_api::RuntimeApiConfig { timeout, ..Default::default() };
        let api = testbed::runtime_api::RuntimeApi::start_with(config).await.unwrap();
        let mut env = api.lambda_env(name);
        let (stripe_api, aws_endpoint) = (stripe.api_base(), proxy.endpoint_url());
        let deployed = [
            ("STRIPE_API_BASE", stripe_api.as_str()),
            ("AWS_ENDPOINT_URL", aws_endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", testbed::moto::REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            // The deployed level; a developer's RUST_LOG must not change what is asserted.
            ("RUST_LOG", "info"),
        ];
        env.extend(deployed.iter().chain(settings).map(|(k, v)| (k.to_string(), v.to_string())));
        let function = api.spawn_function(binary(name), env).unwrap();
        Container { api, function }
    }

    /// Delivers `event` and returns the function's response (an API Gateway
    /// payload 2.0 response) with its timings. The function must not error.
    pub async fn invoke(&mut self, event: Value) -> (Value, testbed::runtime_api::InvocationRecord) {
        let record = match self.api.invoke_detailed(event).await {
            Ok(record) => record,
            Err(e) => panic!("{e}; exited: {:?}; logs:\n{}", self.function.try_wait(), self.logs()),
        };
        match record.outcome.clone().response() {
            Some(response) => (response, record),
            None => panic!("function error {:?}; logs:\n{}", record.outcome, self.logs()),
        }
    }

    pub fn logs(&self) -> String {
        self.function.logs().unwrap()
    }

    pub fn assert_alive(&mut self) {
        assert!(self.function.try_wait().unwrap().is_none(), "the function exited; logs:\n{}", self.logs());
    }
}

/// A built binary of this workspace (`checkout`, `fulfill`, `tdf-admin`):
/// `cargo build --workspace --bins` first (`scripts/test` does).
/// `TDF_BIN_DIR` points at another profile's output, e.g. `target/release`.
pub fn binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("TDF_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        // target/<profile>/deps/<test binary> → target/<profile>
        None => std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf(),
    };
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --bins` (scripts/test does)", path.display());
    path
}

/// Form parameters of a request the fake Stripe received, sorted, for exact comparison.
/// The query the buyer's browser comes back with from Stripe's page: the
/// session's own success URL as Stripe fills it in (with checkout's return stamp).
pub fn return_query(stripe: &testbed::stripe::FakeStripe, id: &str) -> String {
    let session = stripe.session(id).unwrap_or_else(|| panic!("no session {id}"));
    let url = session["success_url"].as_str().unwrap().replace("{CHECKOUT_SESSION_ID}", id);
    let (_, query) = url.split_once('?').unwrap_or_else(|| panic!("no query in {url}"));
    assert!(query.contains("stamp="), "checkout stamps the success URL: {url}");
    query.to_owned()
}

pub fn sorted_form(request: &testbed::stripe::RecordedRequest) -> Vec<(String, String)> {
    let mut form = request.form.clone();
    form.sort();
    form
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

// ---- fulfill: events/fulfill-*.json and webhook signing --------------------

/// The local test webhook signing secret (config.example.json's
/// `webhook_signing_secret`; `scripts/sign-event` signs with it too).
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_local_development_secret";

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A fresh buyer address, so tests sharing moto's sent mail never see each other's.
pub fn unique_email(prefix: &str) -> String {
    format!("{}@buyers.example.com", unique_name(prefix))
}

/// Every `events/<prefix>*.json`, sorted by name.
pub fn event_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Every `events/fulfill-*.json`, sorted by name.
pub fn fulfill_event_names() -> Vec<String> {
    event_names("fulfill-")
}

/// The raw (base64-decoded when `isBase64Encoded`) body of an API Gateway event.
pub fn event_body_bytes(event: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    let body = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(body).expect("base64 body")
    } else {
        body.as_bytes().to_vec()
    }
}

/// The Checkout Session an API Gateway event from events/fulfill-*.json is
/// about: `data.object.id` of its Stripe event, or its `?session_id=`.
pub fn event_session_id(event: &serde_json::Value) -> Option<String> {
    let body = event_body_bytes(event);
    if let Ok(stripe_event) = serde_json::from_slice::<serde_json::Value>(&body) {
        let object = &stripe_event["data"]["object"];
        if object["object"] == "checkout.session" {
            return object["id"].as_str().map(str::to_owned);
        }
        return None;
    }
    let query = event["rawQueryString"].as_str().unwrap_or_default();
    // Session ids are plain ASCII: no percent-decoding needed.
    query.split('&').find_map(|pair| pair.strip_prefix("session_id=")).map(str::to_owned)
}

/// `event` about `session_id` instead of the session it names (in the body,
/// `rawQueryString` and `queryStringParameters`), its `Content-Length` fixed.
pub fn retarget_event(event: &serde_json::Value, session_id: &str) -> serde_json::Value {
    use base64::Engine as _;
    let mut event = event.clone();
    let Some(old) = event_session_id(&event) else { return event };
    let body = String::from_utf8(event_body_bytes(&event)).expect("UTF-8 body").replace(&old, session_id);
    if event["body"].is_string() {
        event["body"] = if event["isBase64Encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD.encode(&body).into()
        } else {
            body.clone().into()
        };
        if event["headers"]["content-length"].is_string() {
            event["headers"]["content-length"] = body.len().to_string().into();
        }
    }
    if let Some(query) = event["rawQueryString"].as_str() {
        event["rawQueryString"] = query.replace(&old, session_id).into();
    }
    if let Some(params) = event["queryStringParameters"].as_object_mut() {
        for value in params.values_mut() {
            if value == old.as_str() {
                *value = session_id.into();
            }
        }
    }
    event
}

/// `event` with its `stripe-signature` header replaced by one made with
/// `secret` at `timestamp` over its (decoded) body, as `scripts/sign-event` does.
pub fn resign_event(event: &serde_json::Value, secret: &str, timestamp: i64) -> serde_json::Value {
    let mut event = event.clone();
    let signature = tickets::webhook::sign(&event_body_bytes(&event), secret, timestamp);
    let headers = event["headers"].as_object_mut().expect("event headers");
    headers.retain(|name, _| !name.eq_ignore_ascii_case("stripe-signature"));
    headers.insert("stripe-signature".into(), signature.into());
    event
}

/// The request `lambda_http` makes of an API Gateway event (a JSON value).
pub fn request_from_event(event: &serde_json::Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("not an API Gateway event: {e}"))
}

// ---- Lambda responses and JSON logs of the binaries under the emulator -------

/// The `statusCode` of an API Gateway response payload.
pub fn status(response: &serde_json::Value) -> u16 {
    response["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode in {response}")) as u16
}

/// A response header, by case-insensitive name.
pub fn header<'a>(response: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    response["headers"].as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
}

/// The process's log: every non-empty line must be a JSON object.
pub fn json_lines(logs: &str) -> Vec<serde_json::Value> {
    logs.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!("not a JSON log line: {l}\nlogs:\n{logs}"),
        })
        .collect()
}

/// An event field of a JSON log line (tracing-subscriber nests them under `fields`).
pub fn field<'a>(line: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    match &line["fields"][name] {
        serde_json::Value::Null => &line[name],
        v => v,
    }
}
