//! Stripe for `catalog sync`: plain GETs, lists and form POSTs through
//! async-stripe's client (its TLS, headers and errors), the objects read as
//! JSON. `STRIPE_API_BASE` points it elsewhere (the stand-in, stripe-mock),
//! as it does the functions. The key is never in a message.

use serde_json::Value;
use std::time::Duration;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_shared::ApiErrorsCode;
use tickets::config::StripeSecretKey;

const DEFAULT_API_BASE: &str = "https://api.stripe.com/";
const TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts of one request on a network error, a 429 or a 5xx.
const ATTEMPTS: u32 = 3;

/// One Stripe account in one mode, as one key reaches it.
pub struct Stripe {
    client: Client,
}

/// A GET of one object: found, or Stripe's `resource_missing` with its message.
pub enum Fetched {
    Found(Value),
    Missing(String),
}

/// What went wrong talking to Stripe, as a message (never the key).
fn describe(error: &StripeError) -> String {
    match error {
        StripeError::Stripe(api, status) => {
            let message = api.message.as_deref().unwrap_or("no message");
            match &api.param {
                Some(param) => format!("Stripe answered {status}: {message} (param {param})"),
                None => format!("Stripe answered {status}: {message}"),
            }
        }
        StripeError::ConfigError(_) => "invalid Stripe client settings".into(),
        other => other.to_string(),
    }
}

fn retryable(error: &StripeError) -> bool {
    match error {
        StripeError::Stripe(_, status) => *status == 429 || *status >= 500,
        StripeError::ClientError(_) | StripeError::Timeout => true,
        _ => false,
    }
}

/// A fresh idempotency key: a create retried after a lost answer is made once.
fn idempotency_key() -> IdempotencyKey {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("OS random source");
    IdempotencyKey::new(format!("tdf-admin-{}", hex(&bytes))).expect("a short key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Stripe {
    /// A client for `key`, at `STRIPE_API_BASE` or Stripe's API.
    pub fn new(key: &StripeSecretKey) -> Result<Stripe, String> {
        let mut base =
            std::env::var("STRIPE_API_BASE").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| DEFAULT_API_BASE.into());
        if !base.ends_with('/') {
            base.push('/');
        }
        let client = ClientBuilder::new(key.expose())
            .url(base)
            .timeout(TIMEOUT)
            .app_info("tdf-admin", Some(env!("CARGO_PKG_VERSION").into()), None)
            .build()
            .map_err(|e| describe(&e))?;
        Ok(Stripe { client })
    }

    async fn send(
        &self,
        method: StripeMethod,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(String, String)]>,
    ) -> Result<Value, StripeError> {
        // One key for every attempt of a POST: Stripe answers a repeat with the first answer.
        let strategy = match form {
            Some(_) => RequestStrategy::Idempotent(idempotency_key()),
            None => RequestStrategy::Once,
        };
        let mut attempt = 0;
        loop {
            let mut request = RequestBuilder::new(method, path);
            if !query.is_empty() {
                request.query = Some(serde_urlencoded::to_string(query).unwrap_or_default());
            }
            if let Some(form) = form {
                request.body = Some(serde_urlencoded::to_string(form).unwrap_or_default());
            }
            let sent = request
                .customize::<miniserde::json::Value>()
                .request_strategy(strategy.clone())
                .send(&self.client)
                .await;
            match sent {
                Ok(value) => {
                    let text = miniserde::json::to_string(&value);
                    return serde_json::from_str(&text).map_err(|e| StripeError::JSONDeserialize(e.to_string()));
                }
                Err(e) if retryable(&e) && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `GET {path}`: the object, or Stripe's message when there is none.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Fetched, String> {
        match self.send(StripeMethod::Get, path, query, None).await {
            Ok(object) => Ok(Fetched::Found(object)),
            Err(StripeError::Stripe(api, 404)) if api.code == Some(ApiErrorsCode::ResourceMissing) => {
                Ok(Fetched::Missing(api.message.unwrap_or_default()))
            }
            Err(e) => Err(describe(&e)),
        }
    }

    /// Every object of a list (`GET {path}`), 100 a page.
    pub async fn list_all(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<Value>, String> {
        let mut objects = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut params: Vec<(&str, &str)> = query.to_vec();
            params.push(("limit", "100"));
            if let Some(last) = &after {
                params.push(("starting_after", last));
            }
            let page = self.send(StripeMethod::Get, path, &params, None).await.map_err(|e| describe(&e))?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data.last().and_then(|o| o["id"].as_str()).map(str::to_owned);
            objects.extend(data);
            if page["has_more"] != true || after.is_none() {
                return Ok(objects);
            }
        }
    }

    /// `POST {path}` with a form: the created object.
    pub async fn post(&self, path: &str, form: &[(String, String)]) -> Result<Value, String> {
        self.send(StripeMethod::Post, path, &[], Some(form)).await.map_err(|e| describe(&e))
    }
}
