//! A tiny Lambda function for testing the Runtime API emulator: echoes its
//! payload with the invocation context. `{"fail": true}` makes the handler
//! return an error; `{"sleep_ms": N}` makes it sleep first.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    eprintln!("echo_lambda handling {}", ctx.request_id);
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("echo_lambda was asked to fail".into());
    }
    Ok(json!({
        "payload": payload,
        "request_id": ctx.request_id,
        "function_arn": ctx.invoked_function_arn,
        "deadline_ms": ctx.deadline,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
