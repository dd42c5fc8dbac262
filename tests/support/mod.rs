//! Shared set-up for the integration tests: one moto per test binary, a fake
//! Stripe per test, configs put into SSM, and events from `events/`.
#![allow(dead_code)] // each test binary uses a different part

use aws_sdk_ssm::config::{Credentials, Region};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use testbed::moto::Moto;
use tokio::sync::Mutex;

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

/// A built binary of this workspace (`cargo build --bins` first; `scripts/test` does).
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
