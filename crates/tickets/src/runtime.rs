//! Wiring from the environment, shared by the Lambda binaries: which config
//! source, which Stripe endpoint, the AWS SDK config.

use crate::checkout::Checkout;
use crate::config::{ConfigCache, FileSource, SsmSource};
use crate::fulfill::Fulfill;
use crate::inventory::DynamoInventory;
use crate::ledger::DynamoLedger;
use crate::mail::SesMailer;
use crate::stripe::{DEFAULT_API_BASE, StripeApi};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// A setting the function cannot start without.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("set CONFIG_PARAMETER (an SSM parameter name) or CONFIG_FILE (a JSON file)")]
    NoConfigSource,
    #[error("set ORDERS_TABLE (the DynamoDB orders table)")]
    NoOrdersTable,
    #[error("{name} must be {expected}")]
    BadSetting { name: &'static str, expected: &'static str },
}

/// How long a loaded config is used before it is read again.
pub const DEFAULT_CONFIG_TTL: Duration = Duration::from_secs(300);

/// Stripe calls must give up before the function's own timeout (10 s) so
/// the visitor gets a readable 502 rather than a gateway error.
pub const STRIPE_TIMEOUT: Duration = Duration::from_secs(8);

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The AWS SDK config: region, credentials and `AWS_ENDPOINT_URL` from the
/// environment, with timeouts short enough to answer within the function's.
pub async fn aws_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(6))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// `CONFIG_FILE` (local) or `CONFIG_PARAMETER` (SSM), cached for `CONFIG_TTL_SECONDS`.
pub fn config_cache(aws: Option<&aws_config::SdkConfig>) -> Result<ConfigCache, StartupError> {
    let ttl = match setting("CONFIG_TTL_SECONDS") {
        None => DEFAULT_CONFIG_TTL,
        Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| StartupError::BadSetting {
            name: "CONFIG_TTL_SECONDS",
            expected: "a whole number of seconds",
        })?),
    };
    if let Some(path) = setting("CONFIG_FILE") {
        return Ok(ConfigCache::new(Box::new(FileSource::new(path)), ttl));
    }
    match (setting("CONFIG_PARAMETER"), aws) {
        (Some(name), Some(aws)) => {
            Ok(ConfigCache::new(Box::new(SsmSource::new(aws_sdk_ssm::Client::new(aws), name)), ttl))
        }
        _ => Err(StartupError::NoConfigSource),
    }
}

/// Is the config in SSM (so the AWS SDK is needed to read it)?
pub fn config_in_ssm() -> bool {
    setting("CONFIG_FILE").is_none()
}

/// Stripe at `STRIPE_API_BASE` (default the real API).
pub fn stripe_api() -> StripeApi {
    StripeApi::new(setting("STRIPE_API_BASE").unwrap_or_else(|| DEFAULT_API_BASE.into()), STRIPE_TIMEOUT)
}

/// The checkout function as configured by the environment: holds in
/// DynamoDB when `ORDERS_TABLE` is set (needed only for tickets with a
/// capacity; without one, checkout never touches DynamoDB).
pub async fn checkout_from_env() -> Result<Checkout, StartupError> {
    let table = setting("ORDERS_TABLE");
    let aws = if config_in_ssm() || table.is_some() { Some(aws_config().await) } else { None };
    let config = config_cache(aws.as_ref())?;
    let checkout = Checkout::new(Arc::new(config), Arc::new(stripe_api()));
    Ok(match (table, &aws) {
        (Some(table), Some(aws)) => {
            checkout.with_inventory(Arc::new(DynamoInventory::new(aws_sdk_dynamodb::Client::new(aws), table)))
        }
        _ => checkout,
    })
}

/// The fulfill function as configured by the environment: the ledger in
/// DynamoDB (`ORDERS_TABLE`), mail through SES.
pub async fn fulfill_from_env() -> Result<Fulfill, StartupError> {
    let table = setting("ORDERS_TABLE").ok_or(StartupError::NoOrdersTable)?;
    let aws = aws_config().await;
    let config = config_cache(Some(&aws))?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let ledger = Arc::new(DynamoLedger::new(dynamodb.clone(), table.clone()));
    Ok(Fulfill::new(Arc::new(config), Arc::new(stripe_api()), ledger.clone(), Arc::new(SesMailer::new(&aws)))
        .with_inventory(Arc::new(DynamoInventory::new(dynamodb, table)))
        .with_votekey_pool(ledger))
}

/// Is this Lambda event EventBridge's scheduled tick (the sweeper's)?
pub fn is_scheduled_event(event: &serde_json::Value) -> bool {
    event.get("source").and_then(|v| v.as_str()) == Some("aws.events")
        && event.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event")
}

/// Runs the checkout function: each API Gateway request, from its raw
/// event (see [`answer_http`]), to the handler.
pub async fn run_checkout(checkout: Arc<Checkout>) -> Result<(), lambda_http::Error> {
    use lambda_http::{Adapter, LambdaEvent, Request, service_fn};
    let http = Adapter::from(service_fn(move |request: Request| {
        let checkout = checkout.clone();
        async move { Ok::<_, Infallible>(checkout.handle(request).await) }
    }));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let mut http = http.clone();
        async move { answer_http(&mut http, event).await }
    }))
    .await
}

/// Runs the fulfill function: API Gateway's requests go to the HTTP handler
/// (see [`answer_http`]), the schedule's ticks to the sweeper. One function,
/// so one build and one config cache serve both.
pub async fn run_fulfill(fulfill: Arc<Fulfill>) -> Result<(), lambda_http::Error> {
    use lambda_http::{Adapter, LambdaEvent, Request, service_fn};
    let handler = fulfill.clone();
    let http = Adapter::from(service_fn(move |request: Request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler.handle(request).await) }
    }));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (fulfill, mut http) = (fulfill.clone(), http.clone());
        async move {
            if is_scheduled_event(&event.payload) {
                return scheduled(&fulfill, &event.context).await;
            }
            answer_http(&mut http, event).await
        }
    }))
    .await
}

/// One API Gateway request through lambda_http's own adapter (as
/// `lambda_http::run` does), from the raw event: sanitised first, because
/// lambda_http's conversion panics on some URIs (see [`crate::http_event`]).
async fn answer_http<S>(
    http: &mut S,
    event: lambda_http::LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_http::Error>
where
    S: lambda_http::Service<lambda_http::LambdaEvent<lambda_http::request::LambdaRequest>, Error = Infallible>,
    S::Response: serde::Serialize,
{
    let lambda_http::LambdaEvent { mut payload, context } = event;
    crate::http_event::sanitise(&mut payload);
    let request = serde_json::from_value(payload)?;
    let response = http.call(lambda_http::LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

/// The schedule's tick, within the invocation's deadline: the sweep, then
/// reconciliation (each runs even if the other failed). Either failing is
/// the invocation's error (so it shows in the function's error metric) and
/// the next tick tries again.
async fn scheduled(fulfill: &Fulfill, context: &lambda_http::Context) -> Result<serde_json::Value, lambda_http::Error> {
    let work = async {
        let swept = sweep(fulfill).await;
        let reconciled = reconcile(fulfill).await;
        Ok(serde_json::json!({ "sweep": swept?, "reconcile": reconciled? }))
    };
    crate::deadline::scope(crate::deadline::from_epoch_millis(context.deadline), work).await
}

/// One reconciliation pass, logged as one line of counts.
async fn reconcile(fulfill: &Fulfill) -> Result<serde_json::Value, lambda_http::Error> {
    match fulfill.reconcile_scheduled().await {
        Ok(report) => {
            tracing::info!(
                route = "reconcile",
                days = report.days,
                listed = report.listed,
                not_ours = report.not_ours,
                awaiting_payment = report.awaiting_payment,
                too_recent = report.too_recent,
                checked = report.checked,
                already_emailed = report.already_emailed,
                fulfilled_now = report.fulfilled_now,
                in_progress = report.in_progress,
                not_sent = report.not_sent,
                failed = report.failed,
                unchecked = report.unchecked,
                "reconcile"
            );
            Ok(serde_json::to_value(report)?)
        }
        Err(e) => {
            crate::alert!(crate::alert::Alert::ScheduledRunFailed, route = "reconcile", error = %crate::fulfill::redact_emails(&e.to_string()), "reconciliation failed");
            Err(e.into())
        }
    }
}

/// One sweep, logged.
async fn sweep(fulfill: &Fulfill) -> Result<serde_json::Value, lambda_http::Error> {
    match fulfill.sweep().await {
        Ok(report) => {
            tracing::info!(
                route = "sweep",
                checked = report.checked,
                released = report.released,
                expired_now = report.expired_now,
                fulfilled = report.fulfilled,
                kept = report.kept,
                failed = report.failed,
                "sweep"
            );
            Ok(serde_json::to_value(report)?)
        }
        Err(e) => {
            crate::alert!(crate::alert::Alert::ScheduledRunFailed, route = "sweep", error = %crate::fulfill::redact_emails(&e.to_string()), "sweep failed");
            Err(e.into())
        }
    }
}
