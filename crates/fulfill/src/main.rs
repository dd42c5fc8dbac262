//! The `fulfill` Lambda: Stripe webhooks and the success-page return, each
//! paid Checkout Session answered with exactly one votekey email; and, on
//! EventBridge's schedule, the sweeper that releases expired holds.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let fulfill = Arc::new(tickets::runtime::fulfill_from_env().await?);
    tickets::runtime::run_fulfill(fulfill).await
}
