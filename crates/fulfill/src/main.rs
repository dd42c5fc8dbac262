//! The `fulfill` Lambda: Stripe webhooks and the success-page return, each
//! paid Checkout Session answered with exactly one votekey email.

use lambda_http::{Error, Request, service_fn};
use std::convert::Infallible;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let fulfill = Arc::new(tickets::runtime::fulfill_from_env().await?);
    lambda_http::run(service_fn(move |request: Request| {
        let fulfill = fulfill.clone();
        async move { Ok::<_, Infallible>(fulfill.handle(request).await) }
    }))
    .await
}
