//! The `checkout` Lambda: ticket form in, 303 to Stripe Checkout out.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let checkout = Arc::new(tickets::runtime::checkout_from_env().await?);
    tickets::runtime::run_checkout(checkout).await
}
