//! `tdf-admin`: the organizer's toolkit. Everything an organizer does around
//! a sale, against the orders table (`--table`), the SAM stack (`--stack`)
//! or the local server's data dir (`--local`): check, push and show the
//! config; copy the Stripe catalog to live mode; list, show, count, export,
//! resend and reconcile orders; export votekeys for Wuhu. Human tables by
//! default, `--json` for scripts.
//!
//! Exit codes: 0 done, 1 failed (a bad config, an AWS error, nothing to
//! resend …), 2 usage (clap's own errors, and a missing target or config).
//! Never part of a Lambda: the functions' binaries do not depend on it.

mod catalog;
mod cli;
mod configs;
mod orders;
mod output;
mod reconcile;
mod store;
mod stripe;
mod votekeys;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// Why a command did not succeed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The command line cannot work as given (exit 2).
    Usage(String),
    /// It was tried and failed (exit 1). An empty message: already reported.
    Failed(String),
}

pub type Result<T> = std::result::Result<T, Failure>;

/// A failure described by `what` and the error.
pub fn failed(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Failed(format!("{what}: {e}"))
}

fn main() -> ExitCode {
    // `tdf-admin votekeys export | head`: end quietly when the reader goes,
    // as Unix tools do, rather than panic in `println!`.
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tdf-admin: starting: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("tdf-admin: {message}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            if !message.is_empty() {
                eprintln!("tdf-admin: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    if let Some(conflict) = global.conflict() {
        return Err(Failure::Usage(conflict));
    }
    match cli.command {
        Command::Config(command) => configs::run(&global, command).await,
        Command::Catalog(command) => catalog::run(&global, command).await,
        Command::Orders(command) => orders::run(&global, command).await,
        Command::Votekeys(command) => votekeys::run(&global, command).await,
    }
}
