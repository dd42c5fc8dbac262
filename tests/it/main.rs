//! The workspace's integration tests, as one test binary (one link of the
//! AWS SDK, async-stripe and fantoccini), a module per area:
//!
//! - `checkout`, `fulfill`: the handlers end to end over real HTTP, against
//!   moto (SSM, DynamoDB, SES) and the Stripe stand-in;
//! - `checkout_lambda`, `fulfill_lambda`: the real binaries under the Lambda
//!   Runtime API emulator (`cargo build --bins` first; `scripts/test` does it);
//! - `capacity_lambda`, `drop`: capacity and holds through the real binaries
//!   (several checkout containers at once for the ticket drop);
//! - `refunds`, `refunds_lambda`: refunds and disputes over HTTP against
//!   moto and the Stripe stand-in, then through the real binaries;
//! - `admin`: the `tdf-admin` binary against moto, a stand-in
//!   DescribeStacks and a local data dir; issue 12's acceptance after the
//!   real `fulfill` binary;
//! - `pool`: the votekey pool under concurrent fulfilments (keys imported
//!   with `tdf-admin votekeys import`);
//! - `mail`: the sender's display name through SES (moto);
//! - `reconcile`: paid sessions whose webhook never came, emailed by
//!   `tdf-admin orders reconcile` and by the fulfill binary's scheduled tick;
//! - `local_flow`, `browser`: the local dev server over HTTP and in headless Chromium;
//! - `template`: the SAM template.
//!
//! `support` holds the shared set-up (one moto for the whole binary).

mod admin;
mod browser;
mod capacity_lambda;
mod catalog;
mod checkout;
mod checkout_lambda;
mod drop;
mod fulfill;
mod fulfill_lambda;
mod inventory;
mod local_flow;
mod mail;
mod pool;
mod reconcile;
mod refunds;
mod refunds_lambda;
mod support;
mod template;
