//! Test bed shared by the integration tests, the benchmark and the local dev
//! server: moto (AWS) on loopback, a fake Stripe built from Stripe's published
//! fixtures, and a Lambda Runtime API emulator.

pub mod moto;
pub mod proxy;
pub mod runtime_api;
pub mod stripe;
