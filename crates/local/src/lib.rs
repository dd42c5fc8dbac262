//! `tdf-local`: the whole purchase flow on one machine, with one command.
//!
//! One HTTP server on loopback serves the sample ticket page (`/`), the very
//! handlers the Lambdas run (`/checkout`, `/fulfill`, through
//! [`tickets::checkout::Checkout::handle`] and [`tickets::fulfill::Fulfill::handle`]),
//! a thank-you page, the outbox and the ledger. Stripe is either the
//! stand-in (`stripe-standin`, which also serves the hosted Checkout page and
//! delivers the signed webhook) or, with a real test key, Stripe itself.
//! The ledger is a [`FileLedger`] (orders, and the capacity counters and
//! holds), mail goes to an [`OutboxMailer`]: only what is wired in differs
//! from the Lambda path. `GET /availability` is the checkout handler's, as
//! on AWS, and a sweeper runs [`Fulfill::sweep`] and
//! [`Fulfill::reconcile_scheduled`] every minute as the scheduled event does there.

mod availability;
mod host_check;
mod pages;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use localstore::{FileLedger, OutboxMailer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use stripe_standin::{FakeStripe, FakeStripeOptions, HostedCheckout};
use tickets::checkout::Checkout;
use tickets::config::{Config, ConfigCache, ConfigSource, FileSource};
use tickets::doubles::ScriptedSource;
use tickets::fulfill::{Fulfill, SweepReport};
use tickets::inventory::Inventory;
use tickets::ledger::Ledger;
use tickets::stripe::{DEFAULT_API_BASE, StripeApi};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The shipped example config (the Tokyo Demo Fest catalog, local URLs).
pub const EXAMPLE_CONFIG: &str = include_str!("../../../config.example.json");

/// The example config's own address: its URLs point here.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// Where the stand-in's hosted Checkout page lives on the local server.
pub const HOSTED_ROUTE: &str = "/stripe/pay";

/// How often the sweeper gives back holds whose checkout expired unnoticed.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Which config to run with.
#[derive(Clone, Debug)]
pub enum ConfigChoice {
    /// `config.example.json`, built in (its `127.0.0.1:3000` URLs follow `--port`).
    Embedded,
    /// An organizer's config file (`CONFIG_FILE`), used as it is.
    File(PathBuf),
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub addr: SocketAddr,
    pub config: ConfigChoice,
    /// Ledger (`ledger.json`) and outbox (`outbox/`) live here.
    pub data_dir: PathBuf,
    /// `STRIPE_API_BASE`: use this Stripe (real, stripe-mock …) rather than the stand-in.
    pub stripe_api_base: Option<String>,
    /// Empty the ledger and the outbox first.
    pub reset: bool,
}

impl Options {
    /// The defaults: port 3000, the embedded config, `target/local/`, the stand-in.
    pub fn defaults() -> Options {
        Options {
            addr: DEFAULT_ADDR.parse().expect("valid default address"),
            config: ConfigChoice::Embedded,
            data_dir: default_data_dir(),
            stripe_api_base: None,
            reset: false,
        }
    }

    /// From the command line (`--port`, `--data-dir`, `--reset`) and the
    /// environment (`CONFIG_FILE`, `STRIPE_API_BASE`, `TDF_LOCAL_DIR`, `PORT`).
    pub fn from_env_and_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut options = Options::defaults();
        if let Some(path) = setting("CONFIG_FILE") {
            options.config = ConfigChoice::File(path.into());
        }
        options.stripe_api_base = setting("STRIPE_API_BASE");
        if let Some(dir) = setting("TDF_LOCAL_DIR") {
            options.data_dir = dir.into();
        }
        let mut port = setting("PORT");
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value =
                |name: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
            match flag.as_str() {
                "--port" | "-p" => port = Some(value("--port")?),
                "--data-dir" => options.data_dir = value("--data-dir")?.into(),
                "--config" => options.config = ConfigChoice::File(value("--config")?.into()),
                "--reset" => options.reset = true,
                "--help" | "-h" => return Err(usage()),
                other => return Err(format!("unknown argument {other}\n\n{}", usage())),
            }
        }
        if let Some(port) = port {
            let port: u16 = port.trim().parse().map_err(|_| format!("--port: {port:?} is not a port number"))?;
            options.addr = SocketAddr::from(([127, 0, 0, 1], port));
        }
        Ok(options)
    }
}

pub fn usage() -> String {
    "usage: tdf-local [--port N] [--data-dir DIR] [--config FILE] [--reset]\n\
     \n\
     Serves the ticket page, /checkout, /fulfill, the outbox and the ledger on 127.0.0.1:3000.\n\
     Environment: CONFIG_FILE (a config with your own catalog or a real sk_test_ key),\n\
     STRIPE_API_BASE (use that Stripe endpoint), TDF_LOCAL_DIR (ledger and outbox), PORT, RUST_LOG."
        .to_owned()
}

/// `target/local/` of this workspace.
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("target").join("local")
}

/// Which Stripe the server talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripeBackend {
    /// The stand-in (`stripe-standin`), in this process, with the hosted page stand-in.
    StandIn,
    /// Stripe's API at this base URL.
    Real(String),
}

/// Is this the example config's placeholder key rather than a real one?
pub fn is_placeholder_key(key: &str) -> bool {
    key.contains("replace") || key.contains('…') || key.ends_with("_xxx")
}

/// What the server was started with, for its banner and the pages.
pub struct Running {
    pub url: String,
    pub stripe: StripeBackend,
    pub config_source: String,
    pub ledger_path: PathBuf,
    pub outbox_dir: PathBuf,
    pub event_name: Option<String>,
    /// Things in the config that will not work locally.
    pub warnings: Vec<String>,
}

/// A running local server. Dropping it stops it (and its sweeper).
pub struct Server {
    pub info: Arc<Running>,
    app: Arc<App>,
    fake: Option<FakeStripe>,
    task: Option<JoinHandle<()>>,
    sweeper: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sweeper.abort();
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for StartError {}

pub(crate) struct App {
    pub info: Arc<Running>,
    pub config: Arc<ConfigCache>,
    pub checkout: Checkout,
    pub fulfill: Fulfill,
    pub ledger: Arc<FileLedger>,
    pub outbox: Arc<OutboxMailer>,
}

/// The config as loaded at start-up, and the cache the handlers read.
struct LoadedConfig {
    config: Config,
    cache: Arc<ConfigCache>,
    described: String,
}

/// The config: the embedded example follows the actual address (`base`).
async fn load_config(choice: &ConfigChoice, base: &str) -> Result<LoadedConfig, StartError> {
    let (source, described): (Box<dyn ConfigSource>, String) = match choice {
        ConfigChoice::Embedded => {
            let text = EXAMPLE_CONFIG.replace("http://127.0.0.1:3000", base);
            (Box::new(ScriptedSource::always(text)), "built-in config.example.json".to_owned())
        }
        ConfigChoice::File(path) => {
            let source = FileSource::new(path.clone());
            let described = source.describe();
            (Box::new(source), described)
        }
    };
    let text = source.fetch().await.map_err(|e| StartError(format!("config: {e}")))?;
    let config = Config::from_json(&text).map_err(|e| StartError(format!("config ({described}): {e}")))?;
    if !config.stripe_secret_key().is_test_mode() {
        return Err(StartError("tdf-local takes only test-mode Stripe keys (sk_test_… or rk_test_…)".into()));
    }
    let cache = Arc::new(ConfigCache::new(source, Duration::from_secs(5)));
    Ok(LoadedConfig { config, cache, described })
}

/// The stand-in while the key is the example's placeholder, else Stripe.
fn choose_stripe(api_base: Option<&str>, config: &Config) -> StripeBackend {
    match api_base {
        Some(api) => StripeBackend::Real(api.to_owned()),
        None if is_placeholder_key(config.stripe_secret_key().expose()) => StripeBackend::StandIn,
        None => StripeBackend::Real(DEFAULT_API_BASE.into()),
    }
}

/// The local stores under `data_dir`, emptied first with `reset`.
async fn open_stores(data_dir: &Path, reset: bool) -> Result<(Arc<FileLedger>, Arc<OutboxMailer>), StartError> {
    let ledger_path = data_dir.join("ledger.json");
    let outbox_dir = data_dir.join("outbox");
    if reset {
        let _ = tokio::fs::remove_file(&ledger_path).await;
        let _ = tokio::fs::remove_dir_all(&outbox_dir).await;
    }
    tokio::fs::create_dir_all(&outbox_dir)
        .await
        .map_err(|e| StartError(format!("cannot create {}: {e}", outbox_dir.display())))?;
    let ledger = Arc::new(FileLedger::new(&ledger_path));
    ledger.list().await.map_err(|e| StartError(format!("{e} (delete it or start with --reset)")))?;
    Ok((ledger, Arc::new(OutboxMailer::new(&outbox_dir))))
}

/// Config URLs that will not lead back to this server.
fn url_warnings(config: &Config, base: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let fulfill_url = format!("{base}/fulfill?session_id={{CHECKOUT_SESSION_ID}}");
    if config.success_url().as_str() != fulfill_url {
        warnings.push(format!(
            "success_url is {}: the buyer's return is fulfilled here only with {fulfill_url}",
            config.success_url()
        ));
    }
    if !config.thanks_url().as_str().starts_with(base) {
        warnings.push(format!("thanks_url is {}: {base}/thanks is this server's thank-you page", config.thanks_url()));
    }
    warnings
}

/// Serves `router`, behind the stand-in's own routes when it plays Stripe;
/// all of them only to loopback names (see [`host_check`]).
fn serve(
    listener: TcpListener,
    router: Router,
    stripe: &StripeBackend,
    config: &Config,
    base: &str,
) -> Result<(Option<FakeStripe>, Option<JoinHandle<()>>), StartError> {
    let guarded = |app: Router| app.layer(axum::middleware::from_fn(host_check::only_loopback_hosts));
    if let StripeBackend::Real(_) = stripe {
        return Ok((None, Some(stripe_standin::serve(listener, guarded(router)))));
    }
    let options = FakeStripeOptions {
        hosted_base: Some(format!("{base}{HOSTED_ROUTE}")),
        lenient_prices: true,
        ..FakeStripeOptions::default()
    };
    let hosted = HostedCheckout {
        route: HOSTED_ROUTE.into(),
        webhook_url: Some(format!("{base}/fulfill")),
        webhook_secret: config.webhook_secrets().iter().next().unwrap_or_default().to_owned(),
    };
    let fake = FakeStripe::serve_hosted(listener, options, hosted, |stand_in| guarded(stand_in.merge(router)))
        .map_err(|e| StartError(e.to_string()))?;
    Ok((Some(fake), None))
}

impl Server {
    /// Binds, then config → Stripe → stores → wiring, and starts serving.
    pub async fn start(options: Options) -> Result<Server, StartError> {
        let listener = TcpListener::bind(options.addr).await.map_err(|e| {
            StartError(format!(
                "cannot listen on {}: {e} (is tdf-local already running? choose another port with --port)",
                options.addr
            ))
        })?;
        let addr = listener.local_addr().map_err(|e| StartError(e.to_string()))?;
        let base = format!("http://{addr}");
        let LoadedConfig { config, cache, described } = load_config(&options.config, &base).await?;
        let stripe = choose_stripe(options.stripe_api_base.as_deref(), &config);
        let (ledger, outbox) = open_stores(&options.data_dir, options.reset).await?;

        // The very handlers the Lambdas run, with the local edges wired in.
        let api_base = match &stripe {
            StripeBackend::StandIn => base.clone(),
            StripeBackend::Real(api) => api.clone(),
        };
        let payments = Arc::new(StripeApi::new(api_base, tickets::runtime::STRIPE_TIMEOUT));
        // The file ledger keeps the holds too, as the orders table does on AWS.
        let inventory = ledger.clone() as Arc<dyn Inventory>;
        let checkout = Checkout::new(cache.clone(), payments.clone()).with_inventory(inventory.clone());
        let fulfill = Fulfill::new(cache.clone(), payments, ledger.clone() as Arc<dyn Ledger>, outbox.clone())
            .with_inventory(inventory)
            .with_votekey_pool(ledger.clone());
        let info = Arc::new(Running {
            url: format!("{base}/"),
            stripe: stripe.clone(),
            config_source: described,
            ledger_path: ledger.path().to_path_buf(),
            outbox_dir: outbox.dir().to_path_buf(),
            event_name: config.email().event_name.clone(),
            warnings: url_warnings(&config, &base),
        });
        let app = Arc::new(App { info: info.clone(), config: cache, checkout, fulfill, ledger, outbox });
        let (fake, task) = serve(listener, router(app.clone()), &stripe, &config, &base)?;
        let sweeper = tokio::spawn(sweep_every(app.clone(), SWEEP_EVERY));
        Ok(Server { info, app, fake, task, sweeper })
    }

    pub fn url(&self) -> &str {
        &self.info.url
    }

    pub fn ledger(&self) -> &FileLedger {
        &self.app.ledger
    }

    pub fn outbox(&self) -> &OutboxMailer {
        &self.app.outbox
    }

    /// One sweep now, as the background sweeper runs every [`SWEEP_EVERY`].
    pub async fn sweep(&self) -> Result<SweepReport, tickets::fulfill::FulfillFault> {
        self.app.fulfill.sweep().await
    }

    /// Webhooks the stand-in delivered (none with real Stripe).
    pub fn webhook_deliveries(&self) -> Vec<stripe_standin::WebhookDelivery> {
        self.fake.as_ref().map(FakeStripe::webhook_deliveries).unwrap_or_default()
    }

    /// What to print at start-up: the URL, the backends, the outbox.
    pub fn banner(&self) -> String {
        let info = &self.info;
        let host = info.url.trim_start_matches("http://").trim_end_matches('/');
        let stripe = match &info.stripe {
            StripeBackend::StandIn => format!(
                "local stand-in (no real payments; hosted page at {}{HOSTED_ROUTE}/…, signed webhooks to /fulfill)",
                info.url.trim_end_matches('/')
            ),
            StripeBackend::Real(api) => format!(
                "Stripe test mode at {api}\n               webhooks: stripe listen --forward-to {host}/fulfill\n               \
                 (put the whsec_… it prints into the config's webhook_signing_secret)"
            ),
        };
        format!(
            "tdf-local: {event} tickets, running locally\n\n  \
             open         {url}\n  \
             config       {config}\n  \
             stripe       {stripe}\n  \
             ledger       file {ledger}   (page: {url}ledger)\n  \
             mail         outbox folder {outbox}   (page: {url}outbox)\n\
             {warnings}\n\
             Ctrl-C stops it.",
            event = info.event_name.as_deref().unwrap_or("ticket shop"),
            url = info.url,
            config = info.config_source,
            ledger = display_path(&info.ledger_path),
            outbox = display_path(&info.outbox_dir),
            warnings = info.warnings.iter().map(|w| format!("  warning      {w}\n")).collect::<String>(),
        )
    }
}

/// The sweeper: [`Fulfill::sweep`] at start and then every `period`, logged
/// when it found something. Runs until the server's drop aborts it.
async fn sweep_every(app: Arc<App>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        match app.fulfill.sweep().await {
            Ok(report) if report != SweepReport::default() => tracing::info!(
                checked = report.checked,
                released = report.released,
                expired_now = report.expired_now,
                fulfilled = report.fulfilled,
                kept = report.kept,
                failed = report.failed,
                "sweeper: settled expired holds"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeper: sweep failed; trying again in a minute"),
        }
        // Then reconciliation, as on the Lambda's tick (it logs what it emailed).
        if let Err(e) = app.fulfill.reconcile_scheduled().await {
            tracing::warn!(error = %e, "sweeper: reconciliation failed; trying again in a minute");
        }
    }
}

/// A path relative to the current folder when it is below it.
fn display_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let normal: PathBuf = absolute.components().fold(PathBuf::new(), |mut p, c| {
        match c {
            std::path::Component::ParentDir => {
                p.pop();
            }
            std::path::Component::CurDir => {}
            other => p.push(other),
        }
        p
    });
    match std::env::current_dir().ok().and_then(|cwd| normal.strip_prefix(cwd).ok().map(Path::to_path_buf)) {
        Some(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => normal.display().to_string(),
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::tickets))
        .route("/checkout", any(checkout))
        .route("/availability", any(checkout))
        .route("/fulfill", any(fulfill))
        .route("/thanks", get(pages::thanks))
        .route("/outbox", get(pages::outbox))
        .route("/outbox/{id}/html", get(pages::outbox_html))
        .route("/ledger", get(pages::ledger))
        .with_state(app)
}

type Shared = State<Arc<App>>;

async fn checkout(State(app): Shared, request: Request) -> Response {
    match to_lambda(request).await {
        Ok(request) => from_lambda(app.checkout.handle(request).await),
        Err(response) => response,
    }
}

async fn fulfill(State(app): Shared, request: Request) -> Response {
    match to_lambda(request).await {
        Ok(request) => from_lambda(app.fulfill.handle(request).await),
        Err(response) => response,
    }
}

/// An axum request as the Lambda handlers take it (`lambda_http::Request`).
/// The handlers enforce their own size limits; 1 MiB caps what is buffered.
async fn to_lambda(request: Request) -> Result<lambda_http::Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|_| (http::StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response())?;
    let body = if bytes.is_empty() { lambda_http::Body::Empty } else { lambda_http::Body::Binary(bytes.to_vec()) };
    Ok(http::Request::from_parts(parts, body))
}

fn from_lambda(response: http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = body.as_ref().to_vec();
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
