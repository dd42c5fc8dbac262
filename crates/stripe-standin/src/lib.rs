//! A stand-in for Stripe: a fake Stripe API on loopback, serving objects built from Stripe's own
//! published fixtures (`fixtures/stripe/`), recording every request it gets,
//! and able to fail on demand. The same code is the local stand-in for
//! Stripe's hosted Checkout in the dev server.
//!
//! Implemented, behaving as Stripe does for a ticket shop's holds:
//! - `POST /v1/checkout/sessions`, with `expires_at` (30 minutes to 24 hours
//!   after creation, else a 400; default 24 hours) and `metadata[…]`;
//! - `GET /v1/checkout/sessions` (list: `created[gt|gte|lt|lte]`, `status`,
//!   `payment_intent`, `limit`, `starting_after`; newest first);
//! - `GET /v1/checkout/sessions/{id}` (with `expand[]=line_items`, `expand[]=payment_intent`);
//! - `POST /v1/checkout/sessions/{id}/expire` (only `open` sessions);
//! - `GET /v1/checkout/sessions/{id}/line_items`;
//! - `GET /v1/payment_intents/{id}`, `GET /v1/charges/{id}`,
//!   `GET /v1/refunds/{id}`, `GET /v1/disputes/{id}` (`expand[]` of their
//!   id fields: `latest_charge`, `payment_intent`, `charge`).
//! - products, prices and shipping rates (module `catalog`): `GET`, `POST`
//!   and list of `/v1/products`, `/v1/prices` (`expand[]=product`),
//!   `/v1/shipping_rates`, kept per mode: these routes take live-mode keys
//!   too (every other route only test-mode ones), and each key sees only its
//!   own mode's objects, as on Stripe. Checkout prices sessions from the
//!   test-mode ones; [`FakeStripe::put_price`] adds to them.
//!
//! Paying a session creates its PaymentIntent and Charge (a delayed payment:
//! the PaymentIntent waits for the buyer and the Charge comes when it
//! settles). [`FakeStripe::refund`], [`FakeStripe::dispute`] and
//! [`FakeStripe::close_dispute`] do what the Dashboard and card networks
//! do afterwards; [`FakeStripe::object_event`] builds the webhook events.
//!
//! POSTs honour `Idempotency-Key` (a repeat replays the first answer with
//! `Idempotent-Replayed: true`; the key on other parameters is a 400
//! `idempotency_error`). An open session past its `expires_at` is expired
//! the moment anything reads it, and cannot be paid. [`FakeStripe::rate_limit`]
//! answers requests beyond a per-second limit with Stripe's 429.
//!
//! With [`FakeStripe::serve_hosted`] it also serves the hosted Checkout page
//! (see [`HostedCheckout`]): line items, a shipping form when the session
//! collects an address, and a Pay button that does what [`FakeStripe::pay`]
//! does, delivers a signed `checkout.session.completed` webhook and
//! redirects to the session's `success_url`; and a "Let this session expire"
//! button that expires it, delivers `checkout.session.expired` and redirects
//! to its `cancel_url`, as when a buyer walks away.
//!
//! Modules: `fake` (the [`FakeStripe`] handle), `store` (the state its routes
//! share), `api` (the REST API), `listing` (the session list), `idempotency`
//! (`Idempotency-Key`), `expiry` (sessions expiring), `objects` (Stripe
//! objects from the fixtures), `payment` (a buyer paying), `charges` (the
//! PaymentIntents, charges, refunds and disputes behind payments), `prices`
//! (the catalog and amounts), `hosted` (the hosted Checkout page and webhook
//! delivery).

mod api;
mod catalog;
mod charges;
mod expiry;
mod fake;
mod hosted;
mod idempotency;
mod listing;
mod objects;
mod payment;
mod prices;
mod store;
#[cfg(test)]
mod tests;

pub use api::{Failure, RecordedRequest};
pub use catalog::Mode;
pub use charges::{DisputeError, RefundError};
pub use fake::{FakeStripe, FakeStripeOptions};
pub use hosted::{HostedCheckout, WebhookDelivery};
pub use objects::{API_VERSION, event_for};
pub use payment::{Address, Buyer, PayError, PaymentOutcome};
pub use prices::{FakePrice, example_prices, example_shipping_rates, format_amount};

use axum::Router;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `app` on `listener` in a background task, with TCP_NODELAY on
/// every connection: without it delayed ACK adds ~40 ms to keep-alive
/// requests and hides the real latency. Aborting the handle stops it.
pub fn serve(listener: TcpListener, app: Router) -> JoinHandle<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    })
}

/// Binds a free loopback port and [`serve`]s `app` there.
pub async fn serve_loopback(app: Router) -> std::io::Result<(std::net::SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve(listener, app)))
}

/// `prefix` + `len` random alphanumerics (ids need not be cryptographic here).
pub fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("OS random source");
    let body: String = bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{prefix}{body}")
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The first value of `name` among decoded query or form parameters.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The values of every parameter whose name starts with `prefix` (Stripe's
/// `list[0]`, `list[1]`, … arrays), in order.
fn params_with_prefix<'a>(params: &'a [(String, String)], prefix: &str) -> Vec<&'a str> {
    params.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.as_str()).collect()
}
