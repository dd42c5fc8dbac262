//! The `checkout` Lambda: ticket form in, 303 to Stripe Checkout out.

use lambda_http::{Error, Request, service_fn};
use std::convert::Infallible;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let checkout = Arc::new(tickets::runtime::checkout_from_env().await?);
    lambda_http::run(service_fn(move |request: Request| {
        let checkout = checkout.clone();
        async move { Ok::<_, Infallible>(checkout.handle(request).await) }
    }))
    .await
}
