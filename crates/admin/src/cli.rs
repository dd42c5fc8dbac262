//! The command line (clap derive): `tdf-admin [TARGET] [CONFIG] [--json] <GROUP> <COMMAND>`.
//! Target and config options are global, so they may come before or after
//! the command. Groups: `config`, `catalog`, `orders`, `votekeys`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tickets::ledger::OrderStatus;

#[derive(Debug, Parser)]
#[command(
    name = "tdf-admin",
    version,
    about = "The organizer's toolkit for tdf-tickets: config, catalog, orders, votekeys.",
    long_about = "The organizer's toolkit for tdf-tickets: check, push and show the config; copy the Stripe \
                  catalog to live mode; list, count, export, resend and reconcile orders; export the votekeys \
                  for Wuhu, import Wuhu's keys into the pool.\n\n\
                  Where the orders are: --table NAME (the DynamoDB orders table; region and credentials from \
                  the standard AWS environment, AWS_ENDPOINT_URL honoured), --stack NAME (the SAM stack: its \
                  outputs name the table and the config parameter), or --local DIR (the local server's data \
                  dir, as `cargo run -p local` keeps it). The config, where a command needs it: \
                  --config-parameter NAME (SSM) or --config-file FILE (with --stack, the stack's parameter).\n\n\
                  Exit codes: 0 done, 1 failed, 2 usage.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The DynamoDB orders table (AWS region and credentials from the environment)
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// The SAM stack: reads the orders table and the config parameter from its outputs
    #[arg(long, global = true, value_name = "NAME")]
    pub stack: Option<String>,
    /// The local server's data dir (ledger.json, outbox/)
    #[arg(long, global = true, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// The config's SSM parameter (SecureString), for commands that need the config
    #[arg(long, global = true, value_name = "NAME")]
    pub config_parameter: Option<String>,
    /// A config JSON file, for commands that need the config
    #[arg(long, global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Print JSON (for scripts) instead of tables
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// Options that exclude each other. (clap does not check conflicts
    /// between global options given at different levels, so this does.)
    pub fn conflict(&self) -> Option<String> {
        let targets: Vec<&str> =
            [("--table", self.table.is_some()), ("--stack", self.stack.is_some()), ("--local", self.local.is_some())]
                .into_iter()
                .filter_map(|(name, given)| given.then_some(name))
                .collect();
        if targets.len() > 1 {
            return Some(format!("{} cannot be used together: give one target", targets.join(" and ")));
        }
        if self.config_parameter.is_some() && self.config_file.is_some() {
            return Some("--config-parameter and --config-file cannot be used together".into());
        }
        None
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check, push and show the functions' config
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Copy the config's Stripe products, prices and shipping rates to another key's account or mode
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// List, show, count, export, resend and reconcile orders
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Export the votekeys for Wuhu; import Wuhu's keys into the pool
    #[command(subcommand)]
    Votekeys(VotekeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file with the functions' own validator; exit 1 naming the key on a problem
    ///
    /// Prints the problem with its key, never a secret's value. The validator stops at the first
    /// problem: fix it and check again.
    Check {
        /// The config JSON file
        file: PathBuf,
    },
    /// Validate a config file and write it to SSM as a SecureString (overwriting)
    ///
    /// Prints what changed by key, secrets redacted. Refuses a secret key of one mode (test or live)
    /// with price or shipping-rate ids that the stored config used with a key of the other mode:
    /// a Stripe id lives in one mode only.
    Push {
        /// The config JSON file
        file: PathBuf,
        /// The SSM parameter (default: --config-parameter, or the stack's)
        #[arg(long, value_name = "NAME")]
        parameter: Option<String>,
        /// The KMS key to encrypt with (default: the account's aws/ssm key)
        #[arg(long, value_name = "ID")]
        kms_key_id: Option<String>,
    },
    /// Print the stored config, secrets redacted
    Show {
        /// The SSM parameter (default: --config-parameter, or the stack's)
        #[arg(long, value_name = "NAME")]
        parameter: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Create live-mode twins of the config's prices (with their products) and shipping rates, and
    /// write the config with the twins' ids
    ///
    /// Reads every price (tickets, option choices, the TDF form's product_* keys) and shipping rate
    /// the config names, with the config's own stripe_api_secret_key; finds or creates its twin with
    /// the key in the environment variable VAR (normally a live-mode key): same name, description,
    /// amount, currency, tax behaviour and metadata, marked in metadata with tdf_twin_of (prices,
    /// shipping rates) and tdf_twin_of_product (products) = the source's id, which is how a later
    /// run finds them again: running it twice creates nothing new. Archived twins are not reused.
    ///
    /// A dry run unless --apply: reads only, and lists what would be created. With --apply, writes
    /// the config (the same text, only the ids replaced) to --out or standard output (the summary
    /// then goes to standard error). The written config keeps the source's secret key and webhook
    /// secret: put the target's in before `config push`. The key in VAR is never printed; it must
    /// differ from the config's (any two keys: test to live is the usual, test to another test
    /// account works too). STRIPE_API_BASE points at another Stripe API (a stand-in).
    Sync {
        /// The config JSON file (validated as `config check` does)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The environment variable holding the target's secret key (sk_live_…, rk_live_…)
        #[arg(long, value_name = "VAR")]
        to_key_env: String,
        /// Create the missing twins and write the config (default: a dry run)
        #[arg(long)]
        apply: bool,
        /// Write the new config here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List the orders, newest first
    List {
        /// Only orders in this status
        #[arg(long, value_enum, value_name = "STATUS")]
        status: Option<Status>,
    },
    /// Show one order, every recorded field
    Show {
        /// The Checkout Session id (cs_…)
        session_id: String,
    },
    /// Orders by status, refunded and disputed; sold / held / available per ticket, capacity group
    /// and option (the figures of GET /availability; needs the config)
    Stats,
    /// Export the orders as CSV (UTF-8 with a byte order mark, RFC 4180 quoting)
    ///
    /// The byte order mark makes Excel read the file as UTF-8, so Japanese names and addresses
    /// survive; other spreadsheets and scripts read it as plain UTF-8. Columns: session_id, status,
    /// email, name, ticket, options, amount (in the currency's smallest unit), currency, votekey,
    /// votekey_state, created_at, emailed_at (RFC 3339, UTC), refunded_amount, dispute_status.
    Export {
        /// The shipping list instead: one row per order to ship (paid, emailed, not refunded or
        /// revoked, with an address): name, address, postal code, country and the chosen options
        /// (the T-shirt size), nothing else; a count per size at the end
        #[arg(long)]
        shipping: bool,
        /// Write the CSV here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Send an order's votekey email again: the same email with the same key, recorded on the order
    ///
    /// Needs the config (the sender and the wording). AWS targets send through SES; --local writes
    /// into the local outbox.
    Resend {
        /// The Checkout Session id (cs_…)
        session_id: String,
        /// Send to this address instead of the order's (a corrected address)
        #[arg(long, value_name = "ADDRESS")]
        to: Option<String>,
    },
    /// Email every paid order whose webhook never came: Stripe's completed sessions checked against
    /// the orders
    ///
    /// Lists the shop's Checkout Sessions completed in the last --days days (default: the config's
    /// reconcile_days, 7) and runs each paid one through the functions' own fulfilment, which emails
    /// the ones the orders do not show emailed and leaves the rest alone: running it again sends
    /// nothing. The fulfill function does the same every 5 minutes; run this by hand after the
    /// webhook endpoint was down or misconfigured (wrong URL, disabled, a secret of the other mode),
    /// or before closing the sale. Prints the counts: checked, already emailed, fulfilled now,
    /// failed (exit 1 if any failed: run it again). Needs the config; AWS targets send through SES,
    /// --local writes into the local outbox. STRIPE_API_BASE points at another Stripe API (the
    /// local server's stand-in).
    Reconcile {
        /// How many days back to look (1 to 365)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=365))]
        days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VotekeysCommand {
    /// Print the votekeys of emailed, unrevoked orders (or only the revoked ones)
    ///
    /// `wuhu`: one key per line, the file Wuhu's admin page imports in merge mode
    /// (www_admin/votekeys.php). `json`: {"votekeys": [...]}.
    Export {
        /// Output format
        #[arg(long, value_enum, default_value_t = KeyFormat::Wuhu)]
        format: KeyFormat,
        /// Only the revoked keys (refunds, lost disputes), to delete them in Wuhu
        #[arg(long)]
        revoked: bool,
    },
    /// Import keys generated in Wuhu into the votekey pool (config `"votekey_source": "pool"`)
    ///
    /// One key per line, e.g. Wuhu's generated keys taken from its database
    /// (`SELECT votekey FROM votekeys`); blank lines and surrounding spaces are
    /// ignored. Every line is checked before anything is written; exit 1 naming the first bad
    /// line. Keys already in the pool or already given to an order are skipped, so importing the
    /// same file again adds nothing. Prints how many were added and skipped, and how many keys
    /// are left to hand out.
    Import {
        /// The key file (one key per line)
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    Wuhu,
    Json,
}

/// An order status, as the ledger writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Claimed,
    Emailed,
    FailureClaimed,
    Failed,
    Refunded,
}

impl Status {
    pub fn order_status(self) -> OrderStatus {
        match self {
            Status::Pending => OrderStatus::Pending,
            Status::Claimed => OrderStatus::Claimed,
            Status::Emailed => OrderStatus::Emailed,
            Status::FailureClaimed => OrderStatus::FailureClaimed,
            Status::Failed => OrderStatus::Failed,
            Status::Refunded => OrderStatus::Refunded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_options_may_follow_the_command_and_exclude_each_other() {
        let cli = Cli::try_parse_from(["tdf-admin", "votekeys", "export", "--table", "T", "--format", "json"]).unwrap();
        assert_eq!(cli.global.table.as_deref(), Some("T"));
        let both = Cli::try_parse_from(["tdf-admin", "--table", "T", "orders", "list", "--local", "dir"]).unwrap();
        assert_eq!(both.global.conflict().unwrap(), "--table and --local cannot be used together: give one target");
        assert_eq!(cli.global.conflict(), None);
        let status = Cli::try_parse_from(["tdf-admin", "orders", "list", "--status", "failure_claimed"]).unwrap();
        let Command::Orders(OrdersCommand::List { status: Some(s) }) = status.command else { panic!() };
        assert_eq!(s.order_status(), OrderStatus::FailureClaimed);
    }

    #[test]
    fn reconcile_takes_1_to_365_days() {
        let days = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["tdf-admin", "orders", "reconcile"], args].concat())?;
            let Command::Orders(OrdersCommand::Reconcile { days }) = cli.command else { panic!() };
            Ok::<_, clap::Error>(days)
        };
        assert_eq!(days(&[]).unwrap(), None);
        assert_eq!(days(&["--days", "30"]).unwrap(), Some(30));
        assert_eq!(days(&["--days", "365"]).unwrap(), Some(365));
        for bad in ["0", "366", "-1", "week"] {
            assert!(days(&["--days", bad]).is_err(), "{bad}");
        }
    }
}
