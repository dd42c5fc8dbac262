//! Core of tdf-tickets: everything the `checkout` and `fulfill` Lambdas do,
//! with AWS and Stripe I/O behind small traits so the same handlers run on
//! Lambda, in the local dev server and in tests.
//!
//! Pure parts: [`config`] (the organizer's blob → typed config), [`order`]
//! (form → [`order::TicketOrder`]), [`session`] (order → Checkout Session
//! parameters), [`webhook`] (signatures), [`votekey`], [`email`].
//! Edges: [`stripe::Payments`], [`ledger::Ledger`], [`mail::Mailer`],
//! [`config::ConfigSource`]; in-memory doubles of each in `doubles`
//! (feature `doubles`, for tests and the local tools).

pub mod alert;
pub mod aws;
pub mod checkout;
pub mod config;
pub mod deadline;
#[cfg(any(test, feature = "doubles"))]
pub mod doubles;
pub mod email;
pub mod fulfill;
pub mod http_event;
pub mod inventory;
pub mod lang;
pub mod ledger;
pub mod mail;
pub mod order;
pub mod pool;
#[cfg(test)]
mod properties;
pub mod return_stamp;
pub mod runtime;
pub mod session;
pub mod stripe;
pub mod votekey;
pub mod web;
pub mod webhook;

/// The boxed future the edge traits return, so they stay object-safe
/// (`Arc<dyn Payments>`) and `main` decides what is wired in.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Seconds since the Unix epoch; injectable so tests can move time.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    std::sync::Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    })
}
