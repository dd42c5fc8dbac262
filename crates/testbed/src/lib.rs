//! Test bed shared by the integration tests and the benchmark: moto (AWS)
//! on loopback, a counting, fault-injecting (and optionally serialising) AWS
//! proxy, a Lambda Runtime API emulator, and (re-exported) the Stripe stand-in.

pub mod moto;
pub mod proxy;
pub mod runtime_api;

pub use stripe_standin as stripe;
pub use stripe_standin::{serve, serve_loopback};
