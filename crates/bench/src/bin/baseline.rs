//! The benchmark's baseline: a minimal `lambda_runtime` function that answers
//! every event with an empty `200` API Gateway response. No handler can be
//! faster or smaller than this floor; the benchmark prints every figure of
//! `checkout` and `fulfill` next to this one's.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({"statusCode": 200}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
