//! `cargo run --release -p bench`: what Lambda users pay for, measured the way
//! Lambda runs us (issue 6).
//!
//! Each function — `checkout`, `fulfill`, and the `baseline` (a minimal
//! `lambda_runtime` function answering an empty 200, `src/bin/baseline.rs`) —
//! runs as a separate process under testbed's Lambda Runtime API emulator,
//! against moto (behind a counting proxy) and the fake Stripe, all on
//! loopback. `checkout+capacity` is the checkout binary again, with
//! `ORDERS_TABLE` and a config whose tickets have a (large) capacity: it holds
//! a place with one DynamoDB transaction before its Stripe call. Measured:
//!
//! - init: process spawn → first `GET /runtime/invocation/next`, and cold first
//!   response: spawn → first response posted (medians over `--cold` cold
//!   starts, a fresh emulator, proxy and process each; cold starts of the three
//!   functions are interleaved so machine load hits them alike);
//! - warm latency p50/p99 over `--warm` invocations on one container
//!   (event queued → response posted; checkout: visitor and bronze events
//!   alternating; fulfill: signed `checkout.session.completed` events, each for
//!   a new paid session), plus fulfill's verified duplicates (already emailed);
//! - peak RSS (`VmHWM`), AWS calls per operation (at the proxy) and Stripe
//!   calls (at the fake) per request and per container;
//! - the fakes' own round trips: timing proxies in front of moto and the fake
//!   Stripe measure, per invocation, how long the fakes took for the
//!   function's requests, so handler overhead is stated "above the fakes'
//!   round trips"; as a cross-check, the same Stripe requests are replayed and
//!   each AWS operation is timed from this process;
//! - stripped binary sizes; arm64 zip sizes if `target/lambda/*/bootstrap.zip`
//!   exist (built separately by `cargo lambda build --release --arm64
//!   --output-format zip`, never by this command).
//!
//! It builds nothing: build the functions first, separately from the bench so
//! Cargo's feature unification cannot change them:
//! `cargo build --release -p checkout -p fulfill && cargo build --release -p bench`.
//!
//! Output: a table on stdout, JSON in `target/bench/results.json`. Budgets
//! (issue 6) are printed PASS/FAIL; the exit status is non-zero only when a
//! figure exceeds its budget by more than 2× (an overshoot of the allowance:
//! for "≤ baseline + 15 ms" that is more than baseline + 30 ms), or when a
//! function answers wrongly. Timing alone never fails a run by a small margin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use testbed::moto::{Moto, REGION, workspace_root};
use testbed::proxy::CountingProxy;
use testbed::runtime_api::{FunctionProcess, Invocation, InvocationRecord, RuntimeApi, RuntimeApiConfig};
use testbed::stripe::{Address, Buyer, FakeStripe, PaymentOutcome, RecordedRequest};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;
type HttpClient = Client<HttpConnector, Body>;

const WEBHOOK_SECRET: &str = "whsec_local_development_secret";
const PARAMETER: &str = "/tdf-tickets/bench";
/// The same config with capacities (checkout+capacity's).
const PARAMETER_CAPACITY: &str = "/tdf-tickets/bench-capacity";
/// Every ticket's capacity and T-shirt size's stock there: never sold out in a run.
const CAPACITY: u32 = 1_000_000;
const TABLE: &str = "bench-orders";
const SENDER_DOMAIN: &str = "tokyodemofest.example";
const GET_PARAMETER: &str = "AmazonSSM.GetParameter";
const SEND_EMAIL: &str = "POST /v2/email/outbound-emails";
/// Samples per operation when timing the fakes directly...
const RT_SAMPLES: usize = 100;
/// ...after this many untimed ones (connections opened, caches warm).
const RT_WARMUP: usize = 5;
/// The keys of the bench's own proxy hops among the fakes' round trips.
const AWS_HOPS: &str = "hops: AWS call via counting + timing proxy";
const STRIPE_HOPS: &str = "hops: Stripe call via timing proxy";
/// The largest body the bench reads or forwards.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

// ---- settings --------------------------------------------------------------

struct Settings {
    cold: usize,
    warm: usize,
    warmup: usize,
    duplicates: usize,
    bin_dir: PathBuf,
    out: PathBuf,
}

const USAGE: &str = "usage: bench [--cold N (10)] [--warm N (500)] [--duplicates N (100)] [--quick] \
[--bin-dir DIR (this executable's dir)] [--out FILE (target/bench/results.json)]";

fn settings() -> Result<Settings> {
    let exe_dir = std::env::current_exe()?.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut s = Settings {
        cold: 10,
        warm: 500,
        warmup: 20,
        duplicates: 100,
        bin_dir: std::env::var_os("BENCH_BIN_DIR").map(PathBuf::from).unwrap_or(exe_dir),
        out: target_dir().join("bench").join("results.json"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--cold" => s.cold = value("--cold")?.parse()?,
            "--warm" => s.warm = value("--warm")?.parse()?,
            "--duplicates" => s.duplicates = value("--duplicates")?.parse()?,
            "--bin-dir" => s.bin_dir = value("--bin-dir")?.into(),
            "--out" => s.out = value("--out")?.into(),
            "--quick" => {
                s.cold = 3;
                s.warm = 50;
                s.warmup = 5;
                s.duplicates = 20;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    if s.cold == 0 || s.warm == 0 {
        return Err("--cold and --warm must be at least 1".into());
    }
    Ok(s)
}

/// `$CARGO_TARGET_DIR`, else the workspace's `target`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Fails early, with how to build them, when a function's binary is missing.
fn check_binaries(settings: &Settings) -> Result<()> {
    for kind in KINDS {
        let path = settings.bin_dir.join(kind.binary());
        if !path.is_file() {
            return Err(format!(
                "{} is not built. Build first (the functions separately from the bench, so feature \
                 unification cannot change them):\n  cargo build --release -p checkout -p fulfill \
                 && cargo build --release -p bench",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

// ---- statistics ------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

fn summary(values: &[f64]) -> Value {
    json!({
        "n": values.len(),
        "p50": median(values),
        "p99": percentile(values, 99.0),
        "min": values.iter().copied().fold(f64::INFINITY, f64::min),
        "max": values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "mean": values.iter().sum::<f64>() / values.len().max(1) as f64,
    })
}

/// The largest value, 0 for none.
fn max_of<T: Ord + Copy + Default>(values: &[T]) -> T {
    values.iter().copied().max().unwrap_or_default()
}

// ---- the functions ---------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Baseline,
    Checkout,
    /// The checkout binary with `ORDERS_TABLE` and a config whose tickets have
    /// a capacity: one DynamoDB transaction (the hold) before Stripe.
    CheckoutHeld,
    Fulfill,
}

/// The binaries, and the main table's columns.
const KINDS: [Kind; 3] = [Kind::Baseline, Kind::Checkout, Kind::Fulfill];
/// Everything measured, in the order measured.
const MEASURED: [Kind; 4] = [Kind::Baseline, Kind::Checkout, Kind::CheckoutHeld, Kind::Fulfill];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CheckoutHeld => "checkout+capacity",
            other => other.binary(),
        }
    }
    fn binary(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::Checkout | Kind::CheckoutHeld => "checkout",
            Kind::Fulfill => "fulfill",
        }
    }
    /// Writes to the orders table, so moto is reset before and during its warm run.
    fn writes_dynamodb(self) -> bool {
        matches!(self, Kind::CheckoutHeld | Kind::Fulfill)
    }
    /// The statuses a correct answer may have. fulfill answers 409 when it finds
    /// its own claim still held: moto occasionally stalls past the SDK's 3 s
    /// attempt timeout, the SDK retries, and the retry meets the first attempt's
    /// claim. Such answers are counted in the outcomes.
    fn expected_status(self) -> &'static [u64] {
        match self {
            Kind::Checkout | Kind::CheckoutHeld => &[303],
            Kind::Baseline => &[200],
            Kind::Fulfill => &[200, 409],
        }
    }
}

/// Everything the functions talk to, shared by all containers.
struct Bed {
    moto: Moto,
    stripe: FakeStripe,
    /// In front of moto (each container's counting proxy forwards here) and of the fake Stripe.
    aws_timing: TimingProxy,
    stripe_timing: TimingProxy,
    client: HttpClient,
    bin_dir: PathBuf,
    visitor: Value,
    bronze: Value,
    fulfill_template: Value,
    /// The Checkout Session forms the checkout binary sent (visitor, bronze),
    /// replayed to make sessions for fulfill.
    forms: Vec<(String, Vec<(String, String)>)>,
    sessions_made: usize,
    /// The SSM parameters: config.example.json, and the same with capacities.
    parameters: Parameters,
}

/// (name, value) of each SSM parameter the functions read.
type Parameters = [(&'static str, String); 2];

/// One execution environment: emulator, proxy (its counts are this container's) and process.
struct Container {
    api: RuntimeApi,
    proxy: CountingProxy,
    function: FunctionProcess,
}

impl Container {
    async fn start(bed: &Bed, kind: Kind) -> Result<Container> {
        let proxy = CountingProxy::start(bed.aws_timing.url()).await?;
        let function_name = kind.name().replace('+', "-");
        let api = RuntimeApi::start_with(RuntimeApiConfig { function_name, ..Default::default() }).await?;
        let parameter = if kind == Kind::CheckoutHeld { PARAMETER_CAPACITY } else { PARAMETER };
        let mut env = vec![
            ("CONFIG_PARAMETER".to_owned(), parameter.to_owned()),
            ("STRIPE_API_BASE".into(), bed.stripe_timing.url()),
            ("AWS_ENDPOINT_URL".into(), proxy.endpoint_url()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            // As deployed (template.yaml): JSON logs at info.
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        if kind.writes_dynamodb() {
            env.push(("ORDERS_TABLE".into(), TABLE.into()));
        }
        let function = api.spawn_function(bed.bin_dir.join(kind.binary()), env)?;
        Ok(Container { api, proxy, function })
    }

    /// Delivers `event`; the function must answer (not error) with `status`.
    async fn invoke(&mut self, event: Value, status: &[u64]) -> Result<(Value, InvocationRecord)> {
        let record = match self.api.invoke_detailed(event).await {
            Ok(r) => r,
            Err(e) => return Err(format!("{e}; exited: {:?}; {}", self.function.try_wait(), self.log_tail()).into()),
        };
        let response = match &record.outcome {
            Invocation::Response(v) => v.clone(),
            Invocation::Error(e) => return Err(format!("function error {e}; {}", self.log_tail()).into()),
        };
        if !response["statusCode"].as_u64().is_some_and(|s| status.contains(&s)) {
            return Err(format!("expected status {status:?}, got {response}; {}", self.log_tail()).into());
        }
        Ok((response, record))
    }

    fn log_tail(&self) -> String {
        let logs = self.function.logs().unwrap_or_default();
        let start = logs.len().saturating_sub(2000);
        let start = (start..logs.len()).find(|&i| logs.is_char_boundary(i)).unwrap_or(logs.len());
        format!("log {} ends:\n{}", self.function.log_path().display(), &logs[start..])
    }

    /// Kill the process and delete its log (kept when something went wrong).
    fn finish(mut self) {
        let _ = self.function.kill();
        let _ = std::fs::remove_file(self.function.log_path());
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A Stripe event body as API Gateway delivers it to fulfill, signed now.
fn signed_event(template: &Value, body: &str) -> Value {
    let mut event = template.clone();
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    let headers = &mut event["headers"];
    headers["content-length"] = body.len().to_string().into();
    headers["stripe-signature"] = tickets::webhook::sign(body.as_bytes(), WEBHOOK_SECRET, unix_now()).into();
    event
}

impl Bed {
    /// moto (set up) and the fake Stripe, each behind a timing proxy, and the events to send.
    async fn start(settings: &Settings) -> Result<Bed> {
        let root = workspace_root();
        let moto = Moto::start().await?;
        let config = std::fs::read_to_string(root.join("config.example.json"))?;
        let parameters = [(PARAMETER_CAPACITY, capacity_config(&config)?), (PARAMETER, config)];
        set_up_moto(&moto, &parameters).await?;
        let stripe = FakeStripe::start().await?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
        let aws_timing = TimingProxy::start(moto.endpoint_url(), client.clone()).await?;
        let stripe_timing = TimingProxy::start(stripe.api_base(), client.clone()).await?;
        Ok(Bed {
            moto,
            stripe,
            aws_timing,
            stripe_timing,
            client,
            bin_dir: settings.bin_dir.clone(),
            visitor: read_json(&root.join("events/checkout-visitor.json"))?,
            bronze: read_json(&root.join("events/checkout-bronze-l.json"))?,
            fulfill_template: read_json(&root.join("events/fulfill-completed.json"))?,
            forms: Vec::new(),
            sessions_made: 0,
            parameters,
        })
    }

    /// The event for invocation `i` of `kind`; for fulfill, a new paid session's
    /// completion (made before the clock starts) and its body for re-delivery.
    async fn event(&mut self, kind: Kind, i: usize) -> Result<(Value, Option<String>)> {
        Ok(match kind {
            Kind::Baseline => (self.visitor.clone(), None),
            Kind::Checkout | Kind::CheckoutHeld if i.is_multiple_of(2) => (self.visitor.clone(), None),
            Kind::Checkout | Kind::CheckoutHeld => (self.bronze.clone(), None),
            Kind::Fulfill => {
                let id = self.paid_session(i).await?;
                let body = self.stripe.event("checkout.session.completed", &id).ok_or("no event")?.to_string();
                (signed_event(&self.fulfill_template, &body), Some(body))
            }
        })
    }

    /// A new Checkout Session (the checkout binary's own form, replayed), paid.
    async fn paid_session(&mut self, i: usize) -> Result<String> {
        if self.forms.is_empty() {
            return Err("no checkout session form recorded yet (checkout must run first)".into());
        }
        let (bearer, form) = self.forms[i % self.forms.len()].clone();
        let body = serde_urlencoded::to_string(&form)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/v1/checkout/sessions", self.stripe.api_base()))
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))?;
        let (status, body, _) = send(&self.client, request).await?;
        if status != 200 {
            return Err(format!("fake Stripe refused a session: {}", String::from_utf8_lossy(&body)).into());
        }
        let session: Value = serde_json::from_slice(&body)?;
        let id = session["id"].as_str().ok_or("session without id")?.to_owned();
        self.sessions_made += 1;
        let buyer = Buyer {
            email: format!("bench-{}-{}@buyers.example.com", std::process::id(), self.sessions_made),
            name: "Hanako Yamada".into(),
            shipping: Some(Address {
                line1: "1-2-3 Jinnan".into(),
                line2: None,
                city: "Shibuya-ku".into(),
                state: Some("Tokyo".into()),
                postal_code: "150-0041".into(),
                country: "JP".into(),
            }),
        };
        self.stripe.pay(&id, &buyer, PaymentOutcome::Paid).map_err(|e| format!("pay {id}: {e}"))?;
        Ok(id)
    }

    /// Remember the session forms checkout sent (one per distinct ticket).
    fn record_forms(&mut self) {
        for r in self.stripe.requests() {
            if r.method != "POST" || r.path != "/v1/checkout/sessions" {
                continue;
            }
            let price = r.param("line_items[0][price]").map(str::to_owned);
            let known = self
                .forms
                .iter()
                .any(|(_, f)| f.iter().find(|(k, _)| k == "line_items[0][price]").map(|(_, v)| v.clone()) == price);
            if !known && let Some(bearer) = r.bearer.clone() {
                self.forms.push((bearer, r.form.clone()));
            }
        }
    }
}

/// `config` (the TDF form) with a large capacity on every ticket and stock
/// on every T-shirt size, so that a run never sells out.
fn capacity_config(config: &str) -> Result<String> {
    let mut config: Value = serde_json::from_str(config)?;
    config["capacity"] = json!({"visitor": CAPACITY, "bronze": CAPACITY});
    config["tshirt_stock"] = json!({"s": CAPACITY, "m": CAPACITY, "l": CAPACITY, "xl": CAPACITY});
    Ok(serde_json::to_string_pretty(&config)?)
}

/// The configs in SSM, the sender's domain verified, the orders table.
async fn set_up_moto(moto: &Moto, parameters: &Parameters) -> Result<()> {
    for (name, value) in parameters {
        moto.put_parameter(name, value).await?;
    }
    moto.verify_domain_identity(SENDER_DOMAIN).await?;
    moto.create_orders_table(TABLE).await?;
    Ok(())
}

/// moto's `TransactWriteItems` deep-copies the tables it writes to first, so it slows down
/// as the ledger grows: start fulfill's warm run and the direct timings from
/// an empty moto.
async fn reset_moto(bed: &Bed) -> Result<()> {
    bed.moto.reset().await?;
    set_up_moto(&bed.moto, &bed.parameters).await
}

/// The warm runs that write to DynamoDB reset moto (outside the measurement) this often.
const MOTO_RESET_EVERY: usize = 100;

async fn send(client: &HttpClient, request: Request<Body>) -> Result<(u16, Vec<u8>, Duration)> {
    let started = Instant::now();
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(Body::new(response.into_body()), BODY_LIMIT).await?;
    Ok((status, body.to_vec(), started.elapsed()))
}

// ---- a timing proxy in front of each fake ---------------------------------------

/// Forwards everything to `upstream` and logs, per request, the operation and
/// how long the upstream took (request sent → whole response body received).
/// Put in front of moto (behind the counting proxy) and of the fake Stripe,
/// it tells how much of each invocation the fakes themselves spent.
struct TimingProxy {
    addr: std::net::SocketAddr,
    inner: std::sync::Arc<TimingInner>,
    server: tokio::task::JoinHandle<()>,
}

struct TimingInner {
    upstream: String,
    client: HttpClient,
    log: std::sync::Mutex<Vec<(String, f64)>>,
}

impl Drop for TimingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TimingProxy {
    async fn start(upstream: String, client: HttpClient) -> Result<TimingProxy> {
        let inner = std::sync::Arc::new(TimingInner { upstream, client, log: Default::default() });
        let app = axum::Router::new().fallback(timed_forward).with_state(inner.clone());
        let (addr, server) = testbed::serve_loopback(app).await?;
        Ok(TimingProxy { addr, inner, server })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests logged since the last drain: (operation, upstream ms).
    fn drain(&self) -> Vec<(String, f64)> {
        std::mem::take(&mut *self.inner.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// `X-Amz-Target`, else [`method_and_path`].
fn operation_name(method: &str, path: &str, headers: &axum::http::HeaderMap) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.trim().to_owned();
    }
    method_and_path(method, path)
}

/// "METHOD /path" with Checkout Session ids as `{id}`, so that calls count by kind, not by session.
fn method_and_path(method: &str, path: &str) -> String {
    let path: Vec<&str> = path.split('/').map(|seg| if seg.starts_with("cs_") { "{id}" } else { seg }).collect();
    format!("{method} {}", path.join("/"))
}

async fn timed_forward(
    axum::extract::State(inner): axum::extract::State<std::sync::Arc<TimingInner>>,
    request: Request<Body>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bad_gateway = |e: String| (axum::http::StatusCode::BAD_GATEWAY, e).into_response();
    let (mut parts, body) = request.into_parts();
    let operation = operation_name(parts.method.as_str(), parts.uri.path(), &parts.headers);
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = match format!("{}{path_and_query}", inner.upstream).parse() {
        Ok(uri) => uri,
        Err(e) => return bad_gateway(format!("{e}")),
    };
    parts.version = axum::http::Version::HTTP_11;
    reframe(&mut parts.headers, body.len());
    let started = Instant::now();
    let answer = match inner.client.request(Request::from_parts(parts, Body::from(body))).await {
        Ok(r) => r,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let (mut parts, incoming) = answer.into_parts();
    let bytes = match axum::body::to_bytes(Body::new(incoming), BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let took = ms(started.elapsed());
    inner.log.lock().unwrap_or_else(|p| p.into_inner()).push((operation, took));
    reframe(&mut parts.headers, bytes.len());
    axum::response::Response::from_parts(parts, Body::from(bytes))
}

/// The proxy forwards whole bodies, so the other side's framing headers no longer apply.
fn reframe(headers: &mut axum::http::HeaderMap, content_length: usize) {
    for h in ["connection", "keep-alive", "transfer-encoding"] {
        headers.remove(h);
    }
    headers.insert("content-length", content_length.into());
}

// ---- measurements ----------------------------------------------------------

#[derive(Default)]
struct Cold {
    init_ms: Vec<f64>,
    first_response_ms: Vec<f64>,
    peak_rss_kib: Vec<u64>,
    ssm_reads: Vec<usize>,
    stripe_calls: Vec<usize>,
    /// Time moto and the fake Stripe spent on the first request...
    fakes_ms: Vec<f64>,
    /// ...of which on AWS calls other than SSM (fulfill's DynamoDB and SES).
    other_aws_ms: Vec<f64>,
}

#[derive(Default)]
struct Warm {
    latency_ms: Vec<f64>,
    /// Per invocation: time spent in the fakes (upstream of the timing proxies)...
    fakes_ms: Vec<f64>,
    /// ...and the rest: latency − fakes.
    overhead_ms: Vec<f64>,
    peak_rss_kib: u64,
    /// GetParameter calls over the container's whole life (cold first request included).
    ssm_reads: usize,
    invocations: usize,
    /// Per operation, over the measured invocations.
    aws_calls: BTreeMap<String, usize>,
    stripe_calls: BTreeMap<String, usize>,
    outcomes: BTreeMap<String, usize>,
    /// Some of the Stripe requests made, replayed to time the fake.
    stripe_requests: Vec<RecordedRequest>,
}

impl Warm {
    fn per_request(&self, calls: &BTreeMap<String, usize>) -> f64 {
        calls.values().sum::<usize>() as f64 / self.invocations.max(1) as f64
    }

    fn aws_calls_per_request(&self) -> f64 {
        self.per_request(&self.aws_calls)
    }

    fn stripe_calls_per_request(&self) -> f64 {
        self.per_request(&self.stripe_calls)
    }

    /// One measured invocation: its latency, the fakes' share of it, its Stripe calls and its outcome.
    async fn measure(&mut self, bed: &Bed, container: &mut Container, kind: Kind, event: Value) -> Result<()> {
        drain_fakes(bed, &mut BTreeMap::new());
        let (response, record) = container.invoke(event, kind.expected_status()).await?;
        let fakes = drain_fakes(bed, &mut self.stripe_calls);
        let latency = ms(record.latency());
        self.latency_ms.push(latency);
        self.fakes_ms.push(fakes);
        self.overhead_ms.push(latency - fakes);
        *self.outcomes.entry(outcome_of(&response)).or_default() += 1;
        Ok(())
    }
}

/// "GET /v1/checkout/sessions/{id}" for a recorded Stripe request.
fn stripe_operation(r: &RecordedRequest) -> String {
    method_and_path(&r.method, &r.path)
}

fn outcome_of(response: &Value) -> String {
    let body = response["body"].as_str().unwrap_or_default();
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b["outcome"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("status {}", response["statusCode"]))
}

/// Time the fakes spent on the requests logged since the last drain; Stripe
/// calls by operation are added to `stripe_calls`.
fn drain_fakes(bed: &Bed, stripe_calls: &mut BTreeMap<String, usize>) -> f64 {
    let (ssm_stripe, other) = drain_fakes_split(bed, stripe_calls);
    ssm_stripe + other
}

/// Like [`drain_fakes`], split: (SSM + Stripe, every other AWS call).
fn drain_fakes_split(bed: &Bed, stripe_calls: &mut BTreeMap<String, usize>) -> (f64, f64) {
    let aws = bed.aws_timing.drain();
    let ssm: f64 = aws.iter().filter(|(op, _)| op == GET_PARAMETER).map(|(_, t)| t).sum();
    let other: f64 = aws.iter().filter(|(op, _)| op != GET_PARAMETER).map(|(_, t)| t).sum();
    let stripe = bed.stripe_timing.drain();
    for (op, _) in &stripe {
        *stripe_calls.entry(op.clone()).or_default() += 1;
    }
    // + 0.0: an empty f64 sum is -0.0.
    (ssm + stripe.iter().map(|(_, t)| t).sum::<f64>() + 0.0, other + 0.0)
}

/// Cold starts of every function, `settings.cold` rounds after an unmeasured one.
async fn measure_cold_starts(bed: &mut Bed, settings: &Settings) -> Result<BTreeMap<&'static str, Cold>> {
    let mut colds: BTreeMap<&str, Cold> = MEASURED.iter().map(|k| (k.name(), Cold::default())).collect();
    unmeasured_round(bed).await?;
    // Rounds interleave the functions so that machine load hits them alike.
    for round in 0..settings.cold {
        for kind in MEASURED {
            cold_start(bed, kind, round, colds.get_mut(kind.name()).unwrap()).await?;
        }
        eprint!("\rbench: cold start round {}/{}", round + 1, settings.cold);
    }
    eprintln!();
    Ok(colds)
}

/// Round 0 warms the page cache (and records checkout's session forms for
/// fulfill); it is not measured.
async fn unmeasured_round(bed: &mut Bed) -> Result<()> {
    let mut checkout = Container::start(bed, Kind::Checkout).await?;
    checkout.invoke(bed.visitor.clone(), &[303]).await?;
    checkout.invoke(bed.bronze.clone(), &[303]).await?;
    checkout.finish();
    bed.record_forms();
    let mut scratch = Cold::default();
    for kind in [Kind::Baseline, Kind::Fulfill] {
        cold_start(bed, kind, 0, &mut scratch).await?;
    }
    Ok(())
}

async fn cold_start(bed: &mut Bed, kind: Kind, round: usize, cold: &mut Cold) -> Result<()> {
    let (event, _) = bed.event(kind, round).await?;
    drain_fakes(bed, &mut BTreeMap::new());
    let mut container = Container::start(bed, kind).await?;
    let (_, record) = container.invoke(event, kind.expected_status()).await?;
    let spawned = container.function.spawned_at();
    let first_next = container.api.first_next_at().ok_or("no GET /next recorded")?;
    let mut stripe_calls = BTreeMap::new();
    let (ssm_stripe, other) = drain_fakes_split(bed, &mut stripe_calls);
    cold.fakes_ms.push(ssm_stripe + other);
    cold.other_aws_ms.push(other);
    cold.init_ms.push(ms(first_next - spawned));
    cold.first_response_ms.push(ms(record.completed_at - spawned));
    cold.peak_rss_kib.push(container.function.peak_rss_kib().unwrap_or(0));
    cold.ssm_reads.push(container.proxy.count(GET_PARAMETER));
    cold.stripe_calls.push(stripe_calls.values().sum());
    container.finish();
    Ok(())
}

/// One warm container per function, by name, and fulfill's verified duplicates.
async fn measure_warm_runs(bed: &mut Bed, settings: &Settings) -> Result<(BTreeMap<&'static str, Warm>, Option<Warm>)> {
    let mut warms = BTreeMap::new();
    let mut duplicates = None;
    for kind in MEASURED {
        eprintln!("bench: {} warm invocations of {}", settings.warm, kind.name());
        if kind.writes_dynamodb() {
            reset_moto(bed).await?;
        }
        let (warm, dup) = warm_run(bed, kind, settings).await?;
        if kind == Kind::Fulfill {
            duplicates = dup;
        }
        warms.insert(kind.name(), warm);
    }
    Ok((warms, duplicates))
}

/// One container's life: cold first request and warm-up (unmeasured), the
/// measured warm invocations and, for fulfill, the duplicates.
async fn warm_run(bed: &mut Bed, kind: Kind, settings: &Settings) -> Result<(Warm, Option<Warm>)> {
    let mut container = Container::start(bed, kind).await?;
    for i in 0..=settings.warmup {
        let (event, _) = bed.event(kind, i).await?;
        container.invoke(event, kind.expected_status()).await?;
    }
    let ssm_before = container.proxy.count(GET_PARAMETER);
    container.proxy.reset_counts();
    let (mut warm, bodies) = measure_warm(bed, &mut container, kind, settings.warm).await?;
    let mut duplicates = None;
    if kind == Kind::Fulfill && settings.duplicates > 0 {
        duplicates = Some(measure_duplicates(bed, &mut container, &bodies, settings.duplicates).await?);
    }
    // The container's figures, for the warm run and its duplicates alike.
    let ssm = |calls: &BTreeMap<String, usize>| calls.get(GET_PARAMETER).copied().unwrap_or(0);
    warm.ssm_reads = ssm_before + ssm(&warm.aws_calls) + duplicates.as_ref().map_or(0, |d| ssm(&d.aws_calls));
    warm.peak_rss_kib = container.function.peak_rss_kib().unwrap_or(0);
    if let Some(d) = duplicates.as_mut() {
        d.peak_rss_kib = warm.peak_rss_kib;
        d.ssm_reads = warm.ssm_reads;
    }
    container.finish();
    Ok((warm, duplicates))
}

/// `invocations` measured warm invocations, and the bodies of fulfill's events
/// since moto's last reset (to deliver again as duplicates).
async fn measure_warm(
    bed: &mut Bed,
    container: &mut Container,
    kind: Kind,
    invocations: usize,
) -> Result<(Warm, Vec<String>)> {
    let mut warm = Warm::default();
    let mut bodies = Vec::new();
    for i in 0..invocations {
        if kind.writes_dynamodb() && i > 0 && i % MOTO_RESET_EVERY == 0 {
            // Keep moto's tables small (see reset_moto); duplicates come from the last batch.
            reset_moto(bed).await?;
            bodies.clear();
        }
        // Session creation for fulfill happens here, outside the measurement.
        let (event, body) = bed.event(kind, i).await?;
        bed.stripe.clear_requests();
        warm.measure(bed, container, kind, event).await?;
        if warm.stripe_requests.len() < RT_SAMPLES {
            warm.stripe_requests.extend(bed.stripe.requests());
        }
        bodies.extend(body);
    }
    warm.invocations = invocations;
    warm.aws_calls = container.proxy.counts();
    Ok((warm, bodies))
}

/// fulfill: the same (already emailed) events again, freshly signed, as Stripe retries them.
async fn measure_duplicates(bed: &Bed, container: &mut Container, bodies: &[String], count: usize) -> Result<Warm> {
    container.proxy.reset_counts();
    let mut duplicates = Warm::default();
    for body in bodies.iter().cycle().take(count) {
        let event = signed_event(&bed.fulfill_template, body);
        duplicates.measure(bed, container, Kind::Fulfill, event).await?;
    }
    duplicates.invocations = count;
    duplicates.aws_calls = container.proxy.counts();
    Ok(duplicates)
}

// ---- the fakes' own round trips --------------------------------------------

/// The AWS operations timed directly, in this order (the later DynamoDB ones
/// find the items `PutItem` wrote).
const TIMED_OPERATIONS: [&str; 6] = [
    GET_PARAMETER,
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.GetItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.TransactWriteItems",
    SEND_EMAIL,
];

fn aws_auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000"
    )
}

/// One AWS request to `proxy` for `operation`, the `i`-th of its kind.
fn aws_request(proxy: &CountingProxy, operation: &str, i: usize) -> Result<Request<Body>> {
    let uri = format!("{}/", proxy.endpoint_url());
    let base = || Request::builder().method(Method::POST).header("x-amz-date", "20250101T000000Z");
    let json_target = |service: &str, content_type: &str, body: Value| {
        base()
            .uri(&uri)
            .header("authorization", aws_auth(service))
            .header("x-amz-target", operation)
            .header("content-type", content_type)
            .body(Body::from(body.to_string()))
    };
    let dynamo = |body: Value| json_target("dynamodb", "application/x-amz-json-1.0", body);
    let key = |s: String| json!({"pk": {"S": s}});
    let pid = std::process::id();
    Ok(match operation {
        GET_PARAMETER => {
            json_target("ssm", "application/x-amz-json-1.1", json!({"Name": PARAMETER, "WithDecryption": true}))?
        }
        "DynamoDB_20120810.GetItem" => dynamo(
            json!({"TableName": TABLE, "Key": key(format!("bench-rt#{pid}#{}", i % 10)), "ConsistentRead": true}),
        )?,
        "DynamoDB_20120810.PutItem" => dynamo(json!({
            "TableName": TABLE,
            "Item": {"pk": {"S": format!("bench-rt#{pid}#{i}")}, "status": {"S": "pending"}},
        }))?,
        "DynamoDB_20120810.UpdateItem" => dynamo(json!({
            "TableName": TABLE,
            "Key": key(format!("bench-rt#{pid}#{}", i % 10)),
            "UpdateExpression": "SET #s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "emailed"}},
        }))?,
        "DynamoDB_20120810.TransactWriteItems" => dynamo(json!({"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": format!("bench-rt-tx#{pid}#{i}")}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": format!("votekey#BENCH{pid}X{i}")}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]}))?,
        SEND_EMAIL => base()
            .uri(format!("{}/v2/email/outbound-emails", proxy.endpoint_url()))
            .header("authorization", aws_auth("ses"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({
                    "FromEmailAddress": "Tokyo Demo Fest <tickets@tokyodemofest.example>",
                    "Destination": {"ToAddresses": [format!("bench-rt-{pid}@buyers.example.com")]},
                    "Content": {"Simple": {
                        "Subject": {"Data": "Your ticket"},
                        "Body": {"Text": {"Data": "votekey BCDFGHJK"}, "Html": {"Data": "<p>votekey BCDFGHJK</p>"}}
                    }}
                })
                .to_string(),
            ))?,
        other => return Err(format!("no stand-in request for {other}").into()),
    })
}

/// The operation whose timing stands in for `operation` (itself when timed directly).
fn stand_in(operation: &str) -> &str {
    match operation {
        op if TIMED_OPERATIONS.contains(&op) => op,
        op if op.starts_with("DynamoDB_") && (op.contains("Get") || op.contains("Query")) => {
            "DynamoDB_20120810.GetItem"
        }
        op if op.starts_with("DynamoDB_") => "DynamoDB_20120810.PutItem",
        op if op.starts_with("AmazonSSM.") => GET_PARAMETER,
        _ => SEND_EMAIL,
    }
}

/// The fakes' own round trips (see [`fake_round_trips`]), from an empty moto
/// (see reset_moto), with the Stripe requests the warm runs recorded.
async fn time_fakes(bed: &Bed, warms: &BTreeMap<&str, Warm>) -> Result<BTreeMap<String, Value>> {
    let stripe_samples: Vec<RecordedRequest> = warms.values().flat_map(|w| w.stripe_requests.clone()).collect();
    eprintln!("bench: timing the fakes' own round trips");
    reset_moto(bed).await?;
    fake_round_trips(bed, &stripe_samples).await
}

/// Summaries (ms) of each AWS operation's round trip through a counting proxy
/// to moto, and of each recorded Stripe request kind replayed against the
/// fake, from this process over keep-alive connections, as the functions make
/// them; and of the hops the bench's own proxies add.
async fn fake_round_trips(bed: &Bed, stripe_samples: &[RecordedRequest]) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    let aws_hops = time_aws_operations(bed, &mut out).await?;
    let stripe_hops = time_stripe_requests(bed, stripe_samples, &mut out).await?;
    out.insert(AWS_HOPS.into(), summary(&aws_hops));
    out.insert(STRIPE_HOPS.into(), summary(&stripe_hops));
    Ok(out)
}

/// Each of [`TIMED_OPERATIONS`], into `out` by operation; returns the proxy hops' times.
async fn time_aws_operations(bed: &Bed, out: &mut BTreeMap<String, Value>) -> Result<Vec<f64>> {
    // The functions' path: counting proxy -> timing proxy -> moto.
    let proxy = CountingProxy::start(bed.aws_timing.url()).await?;
    let mut hops = Vec::new();
    for op in TIMED_OPERATIONS {
        let success = |status: u16| (200..300).contains(&status);
        let request = |i| aws_request(&proxy, op, i);
        let (times, op_hops) = time_requests(&bed.client, &bed.aws_timing, op, success, request).await?;
        out.insert(op.to_owned(), summary(&times));
        hops.extend(op_hops);
    }
    Ok(hops)
}

/// What the functions sent to Stripe, replayed by kind, into `out` as "stripe {kind}";
/// returns the proxy hop's times.
async fn time_stripe_requests(
    bed: &Bed,
    samples: &[RecordedRequest],
    out: &mut BTreeMap<String, Value>,
) -> Result<Vec<f64>> {
    let mut by_kind: BTreeMap<String, Vec<&RecordedRequest>> = BTreeMap::new();
    for r in samples {
        by_kind.entry(stripe_operation(r)).or_default().push(r);
    }
    let base = bed.stripe_timing.url();
    let mut hops = Vec::new();
    for (op, requests) in by_kind {
        let request = |i: usize| replay_request(&base, requests[i % requests.len()]);
        let (times, op_hops) = time_requests(&bed.client, &bed.stripe_timing, &op, |s| s == 200, request).await?;
        out.insert(format!("stripe {op}"), summary(&times));
        hops.extend(op_hops);
    }
    Ok(hops)
}

/// Sends `request(i)` for `RT_WARMUP + RT_SAMPLES` values of `i` through
/// `timing`; for the last `RT_SAMPLES`: (the upstream's times, the rest of
/// each round trip).
async fn time_requests(
    client: &HttpClient,
    timing: &TimingProxy,
    operation: &str,
    success: impl Fn(u16) -> bool,
    request: impl Fn(usize) -> Result<Request<Body>>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut upstream_ms, mut hops_ms) = (Vec::new(), Vec::new());
    for i in 0..RT_WARMUP + RT_SAMPLES {
        let request = request(i)?;
        timing.drain();
        let (status, body, took) = send(client, request).await?;
        if !success(status) {
            return Err(format!("{operation}: HTTP {status}: {}", String::from_utf8_lossy(&body)).into());
        }
        let upstream: f64 = timing.drain().iter().map(|(_, t)| t).sum();
        if i >= RT_WARMUP {
            upstream_ms.push(upstream);
            hops_ms.push(ms(took) - upstream);
        }
    }
    Ok((upstream_ms, hops_ms))
}

/// A recorded Stripe request, sent again to `base`.
fn replay_request(base: &str, r: &RecordedRequest) -> Result<Request<Body>> {
    let mut uri = format!("{base}{}", r.path);
    if !r.query.is_empty() {
        uri.push('?');
        uri.push_str(&serde_urlencoded::to_string(&r.query)?);
    }
    let mut builder = Request::builder().method(r.method.as_str()).uri(uri);
    if let Some(bearer) = &r.bearer {
        builder = builder.header("authorization", format!("Bearer {bearer}"));
    }
    let body = if r.form.is_empty() {
        Body::empty()
    } else {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
        Body::from(serde_urlencoded::to_string(&r.form)?)
    };
    Ok(builder.body(body)?)
}

/// The p50 of a round trip by its key, 0 when not timed.
fn round_trip_p50(round_trips: &BTreeMap<String, Value>, key: &str) -> f64 {
    round_trips.get(key).and_then(|s| s["p50"].as_f64()).unwrap_or(0.0)
}

/// Σ calls per request × the fake's p50 round trip for that call.
fn fakes_per_request(warm: &Warm, round_trips: &BTreeMap<String, Value>) -> f64 {
    let n = warm.invocations.max(1) as f64;
    let p50 = |key: &str| round_trip_p50(round_trips, key);
    let aws: f64 = warm.aws_calls.iter().map(|(op, c)| *c as f64 / n * p50(stand_in(op))).sum();
    let stripe: f64 = warm.stripe_calls.iter().map(|(op, c)| *c as f64 / n * p50(&format!("stripe {op}"))).sum();
    aws + stripe
}

// ---- machine and artifacts ---------------------------------------------------

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let model = s.lines().find(|l| l.starts_with("model name"))?;
            model.split(':').nth(1).map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "kernel": read_trimmed("/proc/sys/kernel/osrelease"),
        "arch": std::env::consts::ARCH,
        "loadavg_at_start": read_trimmed("/proc/loadavg"),
    })
}

/// A small text file such as `/proc/loadavg`, trimmed; empty when unreadable.
fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn print_machine(machine: &Value, took: Duration) {
    let text = |key: &str| machine[key].as_str().unwrap_or("").to_owned();
    println!(
        "\nMachine: {} x {}, Linux {} ({}); load average at start {}, at end {}. Took {:.0} s.",
        machine["nproc"],
        text("cpu"),
        text("kernel"),
        text("arch"),
        text("loadavg_at_start"),
        text("loadavg_at_end"),
        took.as_secs_f64()
    );
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

// ---- budgets -----------------------------------------------------------------

struct Budget {
    what: String,
    /// The figure compared with the allowance (an overhead for "baseline + X" budgets).
    value: f64,
    allowance: f64,
    unit: &'static str,
    /// The figure must equal the allowance (a call count), not just stay under it.
    exact: bool,
    detail: String,
}

impl Budget {
    /// "`what` <= baseline + `allowance` ms", for a figure whose baseline's is `base`.
    fn over_baseline(what: &str, value: f64, base: f64, allowance: f64) -> Budget {
        Budget {
            what: format!("{what} <= baseline + {allowance} ms"),
            value: value - base,
            allowance,
            unit: "ms",
            exact: false,
            detail: format!("{value:.2} ms vs baseline {base:.2} ms"),
        }
    }
    fn pass(&self) -> bool {
        if self.exact { (self.value - self.allowance).abs() < 1e-9 } else { self.value <= self.allowance }
    }
    /// Exceeded by more than 2× (or, for an exact count, less than half of
    /// it): the only thing that fails the run.
    fn hard_fail(&self) -> bool {
        self.value > 2.0 * self.allowance || (self.exact && self.value < self.allowance / 2.0)
    }
    fn verdict(&self) -> &'static str {
        if self.pass() {
            "PASS"
        } else if self.hard_fail() {
            "FAIL (>2x)"
        } else {
            "FAIL"
        }
    }
    fn to_json(&self) -> Value {
        json!({
            "budget": self.what, "value": self.value, "allowance": self.allowance, "unit": self.unit,
            "exact": self.exact, "pass": self.pass(), "exceeded_more_than_2x": self.hard_fail(),
            "detail": self.detail,
        })
    }
}

fn budget_text(budgets: &[Budget]) -> String {
    let mut text = String::new();
    for b in budgets {
        text.push_str(&format!(
            "{:<11} {:<52} {:>8.2} {} (allowance {}; {})\n",
            b.verdict(),
            b.what,
            b.value,
            b.unit,
            b.allowance,
            b.detail
        ));
    }
    text
}

/// Success unless a budget is exceeded by more than 2x (see the module docs).
fn exit_code(budgets: &[Budget]) -> ExitCode {
    let hard: Vec<&Budget> = budgets.iter().filter(|b| b.hard_fail()).collect();
    if hard.is_empty() {
        return ExitCode::SUCCESS;
    }
    for b in hard {
        eprintln!(
            "bench: budget exceeded by more than 2x: {} ({:.2} {} against {})",
            b.what, b.value, b.unit, b.allowance
        );
    }
    ExitCode::from(1)
}

// ---- the table -----------------------------------------------------------------

fn fmt_ms(v: f64) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.2} ms") }
}

fn fmt_mb(bytes: f64) -> String {
    format!("{:.2} MB", bytes / 1e6)
}

fn fmt_count(v: f64) -> String {
    format!("{v:.2}")
}

fn ratio(v: f64, base: f64) -> String {
    if base > 0.0 && v.is_finite() { format!("{:.1}x", v / base) } else { "-".into() }
}

/// One figure of the tables, for every function (in [`MEASURED`] order).
struct Row {
    label: &'static str,
    values: [f64; 4],
    fmt: fn(f64) -> String,
    /// Whether checkout's and fulfill's values are also shown as multiples of the baseline's.
    ratio: bool,
}

impl Row {
    /// A figure shown with its ratios to the baseline.
    fn compared(label: &'static str, fmt: fn(f64) -> String, value: impl Fn(Kind) -> f64) -> Row {
        Row { label, values: MEASURED.map(value), fmt, ratio: true }
    }

    fn value(&self, k: Kind) -> f64 {
        self.values[MEASURED.iter().position(|&m| m == k).unwrap_or_default()]
    }

    /// A figure shown alone.
    fn plain(label: &'static str, fmt: fn(f64) -> String, value: impl Fn(Kind) -> f64) -> Row {
        Row { ratio: false, ..Row::compared(label, fmt, value) }
    }
}

fn table_line(table: &mut String, cells: [&str; 6]) {
    table.push_str(&format!(
        "| {:<38} | {:>10} | {:>10} | {:>7} | {:>10} | {:>7} |\n",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
    ));
}

/// The rows for checkout and checkout+capacity, and the difference.
fn capacity_table(rows: &[Row]) -> String {
    let line = |table: &mut String, cells: [&str; 4]| {
        let [label, plain, held, difference] = cells;
        table.push_str(&format!("| {label:<38} | {plain:>10} | {held:>17} | {difference:>10} |\n"));
    };
    let mut table = String::new();
    line(&mut table, ["figure", "checkout", "checkout+capacity", "difference"]);
    table.push_str(&format!("|{:-<40}|{:->12}|{:->19}|{:->12}|\n", "", "", "", ""));
    for row in rows {
        let (plain, held) = (row.value(Kind::Checkout), row.value(Kind::CheckoutHeld));
        let difference = held - plain;
        let sign = if difference >= 0.0 { "+" } else { "" };
        let difference = format!("{sign}{}", (row.fmt)(difference));
        line(&mut table, [row.label, &(row.fmt)(plain), &(row.fmt)(held), &difference]);
    }
    table
}

// ---- the report ----------------------------------------------------------------

/// All that was measured, with the settings it was measured with: the table,
/// budgets, notes and JSON are made from it.
struct Findings<'a> {
    settings: &'a Settings,
    colds: BTreeMap<&'static str, Cold>,
    warms: BTreeMap<&'static str, Warm>,
    /// fulfill's verified duplicates (none with `--duplicates 0`).
    duplicates: Option<Warm>,
    /// See [`fake_round_trips`].
    round_trips: BTreeMap<String, Value>,
    /// Where `cargo lambda build` leaves the arm64 zips.
    lambda_dir: PathBuf,
}

/// The figures evaluated: the table (as text, and by label for the JSON) and the budgets.
struct Report {
    table: String,
    /// checkout without and with capacity, side by side.
    capacity_table: String,
    table_values: serde_json::Map<String, Value>,
    budgets: Vec<Budget>,
    budget_text: String,
}

impl Findings<'_> {
    fn cold(&self, k: Kind) -> &Cold {
        &self.colds[k.name()]
    }

    fn warm(&self, k: Kind) -> &Warm {
        &self.warms[k.name()]
    }

    fn binary_bytes(&self, k: Kind) -> f64 {
        file_size(&self.settings.bin_dir.join(k.binary())).unwrap_or(0) as f64
    }

    fn zip_path(&self, k: Kind) -> PathBuf {
        self.lambda_dir.join(k.binary()).join("bootstrap.zip")
    }

    fn zip_bytes(&self, k: Kind) -> Option<u64> {
        file_size(&self.zip_path(k))
    }

    /// The largest VmHWM of all the function's containers.
    fn peak_rss_bytes(&self, k: Kind) -> f64 {
        (max_of(&self.cold(k).peak_rss_kib).max(self.warm(k).peak_rss_kib) * 1024) as f64
    }

    /// The most GetParameter calls one of the function's containers made.
    fn max_ssm_reads(&self, k: Kind) -> f64 {
        max_of(&self.cold(k).ssm_reads).max(self.warm(k).ssm_reads) as f64
    }

    /// Per cold start: first response less the fakes' time.
    fn cold_above_fakes(&self, k: Kind) -> Vec<f64> {
        let c = self.cold(k);
        c.first_response_ms.iter().zip(&c.fakes_ms).map(|(r, f)| r - f).collect()
    }

    /// What the bench's own proxies add per request: AWS calls go through the
    /// counting and the timing proxy, Stripe calls through the timing proxy.
    fn proxy_hops(&self, w: &Warm) -> f64 {
        w.aws_calls_per_request() * round_trip_p50(&self.round_trips, AWS_HOPS)
            + w.stripe_calls_per_request() * round_trip_p50(&self.round_trips, STRIPE_HOPS)
    }

    fn report(&self) -> Report {
        let rows = self.rows();
        let (table, table_values) = self.table(&rows);
        let capacity_table = capacity_table(&rows);
        let budgets = self.budgets();
        let budget_text = budget_text(&budgets);
        Report { table, capacity_table, table_values, budgets, budget_text }
    }

    fn rows(&self) -> Vec<Row> {
        let timed_directly = |k| {
            if k == Kind::Baseline { 0.0 } else { fakes_per_request(self.warm(k), &self.round_trips) }
        };
        vec![
            Row::compared("init (spawn -> first GET next) p50", fmt_ms, |k| median(&self.cold(k).init_ms)),
            Row::compared("cold first response p50", fmt_ms, |k| median(&self.cold(k).first_response_ms)),
            Row::compared("cold first response above fakes p50", fmt_ms, |k| median(&self.cold_above_fakes(k))),
            Row::compared("warm latency p50", fmt_ms, |k| median(&self.warm(k).latency_ms)),
            Row::compared("warm latency p99", fmt_ms, |k| percentile(&self.warm(k).latency_ms, 99.0)),
            Row::plain("time in the fakes per request p50", fmt_ms, |k| median(&self.warm(k).fakes_ms)),
            Row::plain("  (fakes timed directly, sum of p50s)", fmt_ms, timed_directly),
            Row::compared("warm p50 above the fakes' round trips", fmt_ms, |k| median(&self.warm(k).overhead_ms)),
            Row::compared("warm p99 above the fakes' round trips", fmt_ms, |k| {
                percentile(&self.warm(k).overhead_ms, 99.0)
            }),
            Row::compared("peak RSS (VmHWM, max)", fmt_mb, |k| self.peak_rss_bytes(k)),
            Row::compared("stripped binary", fmt_mb, |k| self.binary_bytes(k)),
            Row::plain("SSM reads per container (max)", fmt_count, |k| self.max_ssm_reads(k)),
            Row::plain("Stripe calls per request (warm)", fmt_count, |k| self.warm(k).stripe_calls_per_request()),
            Row::plain("AWS calls per request (warm)", fmt_count, |k| self.warm(k).aws_calls_per_request()),
        ]
    }

    fn table(&self, rows: &[Row]) -> (String, serde_json::Map<String, Value>) {
        let mut table = String::new();
        table_line(&mut table, ["figure", "baseline", "checkout", "x base", "fulfill", "x base"]);
        table.push_str(&format!("|{:-<40}|{:->12}|{:->12}|{:->9}|{:->12}|{:->9}|\n", "", "", "", "", "", ""));
        let mut values = serde_json::Map::new();
        for row in rows {
            let [b, c, f] = KINDS.map(|k| row.value(k));
            let r = |v: f64| if row.ratio { ratio(v, b) } else { String::new() };
            table_line(&mut table, [row.label, &(row.fmt)(b), &(row.fmt)(c), &r(c), &(row.fmt)(f), &r(f)]);
            let by_kind: serde_json::Map<String, Value> =
                MEASURED.map(|k| (k.name().into(), row.value(k).into())).into_iter().collect();
            values.insert(row.label.into(), by_kind.into());
        }
        if let Some(d) = &self.duplicates {
            self.duplicate_lines(&mut table, d);
        }
        self.zip_line(&mut table);
        (table, values)
    }

    fn duplicate_lines(&self, table: &mut String, d: &Warm) {
        let base = self.warm(Kind::Baseline);
        let (p50, p99, over) = (median(&d.latency_ms), percentile(&d.latency_ms, 99.0), median(&d.overhead_ms));
        let lines = [
            ("duplicate (already emailed) p50", fmt_ms(p50), ratio(p50, median(&base.latency_ms))),
            ("duplicate p99", fmt_ms(p99), ratio(p99, percentile(&base.latency_ms, 99.0))),
            ("duplicate: time in the fakes p50", fmt_ms(median(&d.fakes_ms)), String::new()),
            ("duplicate: p50 above the fakes", fmt_ms(over), ratio(over, median(&base.overhead_ms))),
            ("duplicate: Stripe calls per request", fmt_count(d.stripe_calls_per_request()), String::new()),
            ("duplicate: AWS calls per request", fmt_count(d.aws_calls_per_request()), String::new()),
        ];
        for (label, value, ratio) in lines {
            table_line(table, [label, "", "", "", &value, &ratio]);
        }
    }

    /// Only when some zip was built (see the notes).
    fn zip_line(&self, table: &mut String) {
        let zips = KINDS.map(|k| self.zip_bytes(k));
        if zips.iter().any(Option::is_some) {
            let [b, c, f] = zips.map(|z| z.map_or("-".into(), |v| fmt_mb(v as f64)));
            table_line(table, ["arm64 zip (cargo lambda, see note)", &b, &c, "", &f, ""]);
        }
    }

    fn budgets(&self) -> Vec<Budget> {
        let mut budgets = self.cold_budgets();
        budgets.extend(self.warm_budgets());
        budgets.extend(self.container_budgets());
        budgets.extend(self.stripe_budgets());
        budgets.extend(self.aws_budgets());
        budgets.extend(self.size_budgets());
        budgets
    }

    /// Init and first response against the baseline's.
    fn cold_budgets(&self) -> Vec<Budget> {
        let base = self.cold(Kind::Baseline);
        let (base_init, base_first) = (median(&base.init_ms), median(&base.first_response_ms));
        let mut budgets = Vec::new();
        for k in [Kind::Checkout, Kind::Fulfill] {
            let init = median(&self.cold(k).init_ms);
            let what = format!("{} init", k.name());
            budgets.push(Budget::over_baseline(&what, init, base_init, 15.0));
            let first = median(&self.cold(k).first_response_ms);
            if k == Kind::Checkout {
                let what = format!("{} cold first response", k.name());
                budgets.push(Budget::over_baseline(&what, first, base_first, 40.0));
            } else {
                budgets.push(self.fulfill_first_response_budget(first, base_first));
            }
        }
        budgets
    }

    /// The budget counts one SSM read and one Stripe call; fulfill's first
    /// request also waits for moto's DynamoDB and SES (moto's
    /// TransactWriteItems deep-copies the table): the same budget without that time.
    fn fulfill_first_response_budget(&self, first: f64, base_first: f64) -> Budget {
        let cold = self.cold(Kind::Fulfill);
        let adjusted: Vec<f64> = cold.first_response_ms.iter().zip(&cold.other_aws_ms).map(|(r, o)| r - o).collect();
        let adjusted = median(&adjusted);
        let what = "fulfill cold first response - DynamoDB/SES time";
        Budget {
            detail: format!(
                "{adjusted:.2} ms vs baseline {base_first:.2} ms; as measured {first:.2} ms, of which moto's \
                 DynamoDB + SES p50 {:.2} ms",
                median(&cold.other_aws_ms)
            ),
            ..Budget::over_baseline(what, adjusted, base_first, 40.0)
        }
    }

    /// Warm latency above the fakes' round trips.
    fn warm_budgets(&self) -> Vec<Budget> {
        let base_p50 = median(&self.warm(Kind::Baseline).latency_ms);
        let mut budgets = Vec::new();
        for (k, allowance) in [(Kind::Checkout, 2.0), (Kind::CheckoutHeld, 3.0), (Kind::Fulfill, 5.0)] {
            let warm = self.warm(k);
            budgets.push(Budget {
                what: format!("{} warm p50 <= fakes' round trips + {allowance} ms", k.name()),
                value: median(&warm.overhead_ms),
                allowance,
                unit: "ms",
                exact: false,
                detail: format!(
                    "p50 of latency - fakes per invocation; latency p50 {:.2} ms, fakes p50 {:.2} ms, \
                     baseline p50 {base_p50:.2} ms; the bench's proxy hops add ~{:.2} ms of it",
                    median(&warm.latency_ms),
                    median(&warm.fakes_ms),
                    self.proxy_hops(warm)
                ),
            });
        }
        budgets
    }

    /// Peak RSS and SSM reads, per container.
    fn container_budgets(&self) -> Vec<Budget> {
        let s = self.settings;
        let mut budgets = Vec::new();
        for k in [Kind::Checkout, Kind::CheckoutHeld, Kind::Fulfill] {
            budgets.push(Budget {
                what: format!("{} peak RSS <= 30 MB", k.name()),
                value: self.peak_rss_bytes(k) / 1e6,
                allowance: 30.0,
                unit: "MB",
                exact: false,
                detail: format!("VmHWM max over {} cold + 1 warm container", s.cold),
            });
            let duplicates = self.duplicates.as_ref().filter(|_| k == Kind::Fulfill).map_or(0, |d| d.invocations);
            budgets.push(Budget {
                what: format!("{} SSM reads per container <= 1", k.name()),
                value: self.max_ssm_reads(k),
                allowance: 1.0,
                unit: "reads",
                exact: false,
                detail: format!(
                    "cold containers {:?}, warm container {} over {} invocations",
                    self.cold(k).ssm_reads,
                    self.warm(k).ssm_reads,
                    s.warm + s.warmup + 1 + duplicates
                ),
            });
        }
        budgets
    }

    /// Stripe calls per request, cold or warm, and per verified duplicate.
    fn stripe_budgets(&self) -> Vec<Budget> {
        let per_request = [
            (Kind::Checkout, "checkout Stripe calls per request <= 1"),
            (Kind::CheckoutHeld, "checkout+capacity Stripe calls per request <= 1"),
            (Kind::Fulfill, "fulfill Stripe retrieves per new session <= 1"),
        ];
        let mut budgets: Vec<Budget> = per_request
            .into_iter()
            .map(|(k, what)| Budget {
                what: what.into(),
                value: self.warm(k).stripe_calls_per_request().max(max_of(&self.cold(k).stripe_calls) as f64),
                allowance: 1.0,
                unit: "calls",
                exact: false,
                detail: format!("{:?} over {} warm requests", self.warm(k).stripe_calls, self.settings.warm),
            })
            .collect();
        if let Some(d) = &self.duplicates {
            budgets.push(Budget {
                what: "fulfill Stripe calls per verified duplicate = 0".into(),
                value: d.stripe_calls_per_request(),
                allowance: 0.0,
                unit: "calls",
                exact: false,
                detail: format!("{} duplicates, outcomes {:?}", d.invocations, d.outcomes),
            });
        }
        budgets
    }

    /// DynamoDB per checkout: none without capacity, the hold's one
    /// transaction with it (warm; SSM reads are counted per container).
    fn aws_budgets(&self) -> Vec<Budget> {
        let per_request = [
            (Kind::Checkout, "checkout (no capacity) AWS calls per request = 0", 0.0),
            (Kind::CheckoutHeld, "checkout+capacity AWS calls per request = 1 (TransactWriteItems)", 1.0),
        ];
        per_request
            .into_iter()
            .map(|(k, what, allowance)| Budget {
                what: what.into(),
                value: self.warm(k).aws_calls_per_request(),
                allowance,
                unit: "calls",
                exact: true,
                detail: format!("{:?} over {} warm requests", self.warm(k).aws_calls, self.settings.warm),
            })
            .collect()
    }

    /// The stripped binaries and, when built, the arm64 zips.
    fn size_budgets(&self) -> Vec<Budget> {
        let mut budgets = Vec::new();
        for k in [Kind::Checkout, Kind::Fulfill] {
            let size = self.binary_bytes(k);
            budgets.push(Budget {
                what: format!("{} stripped binary <= 12 MB", k.name()),
                value: size / 1e6,
                allowance: 12.0,
                unit: "MB",
                exact: false,
                detail: format!("{size} bytes"),
            });
            if let Some(zip) = self.zip_bytes(k) {
                budgets.push(Budget {
                    what: format!("{} arm64 zip <= 5 MB", k.name()),
                    value: zip as f64 / 1e6,
                    allowance: 5.0,
                    unit: "MB",
                    exact: false,
                    detail: format!("{}", self.zip_path(k).display()),
                });
            }
        }
        budgets
    }

    /// The table, the budgets, the fakes' round trips and the calls the functions made.
    fn print(&self, report: &Report) {
        println!();
        println!("{}", report.table);
        println!("checkout with capacity (a hold in DynamoDB before Stripe):\n{}", report.capacity_table);
        println!("Budgets (issue 6):\n{}", report.budget_text);
        println!("The fakes' own round trips (per call):\n{}", self.round_trip_text());
        for k in [Kind::Checkout, Kind::CheckoutHeld, Kind::Fulfill] {
            let w = self.warm(k);
            println!(
                "{} warm calls: AWS {:?}; Stripe {:?}; outcomes {:?}",
                k.name(),
                w.aws_calls,
                w.stripe_calls,
                w.outcomes
            );
        }
        if let Some(d) = &self.duplicates {
            println!(
                "fulfill duplicates: AWS {:?}; Stripe {:?}; outcomes {:?}",
                d.aws_calls, d.stripe_calls, d.outcomes
            );
        }
    }

    fn round_trip_text(&self) -> String {
        let mut text = String::new();
        for (op, s) in &self.round_trips {
            let (p50, p99) = (s["p50"].as_f64().unwrap_or(f64::NAN), s["p99"].as_f64().unwrap_or(f64::NAN));
            text.push_str(&format!("  {op:<48} p50 {p50:>6.2} ms  p99 {p99:>6.2} ms\n"));
        }
        text
    }

    /// How the figures were taken, printed under them.
    fn notes(&self) -> String {
        let s = self.settings;
        let mut notes = String::new();
        notes.push_str(&format!(
            "Latencies: event queued at the emulator -> response posted. Medians of {} cold starts (fresh emulator, \
             proxy and process each, interleaved); warm: {} invocations after {} unmeasured.\n",
            s.cold, s.warm, s.warmup
        ));
        notes.push_str(
            "Time in the fakes: per invocation, what moto and the fake Stripe took for the function's own requests, \
             measured by timing proxies in front of them (request sent -> whole answer back); \"above the fakes\" is \
             latency minus that, per invocation (so it includes the runtime API round trip, the counting proxy hop \
             and the timing proxy hops). \"Timed directly\": the same Stripe requests replayed and each AWS operation \
             (a stand-in request) timed from this process; sum of calls x p50.\n",
        );
        notes.push_str(&format!(
            "checkout+capacity: the checkout binary with ORDERS_TABLE and {PARAMETER_CAPACITY} (the same config with \
             capacity {CAPACITY} on each ticket and T-shirt size), same events: a hold (one TransactWriteItems) \
             before the Stripe call.\n"
        ));
        notes.push_str(&format!(
            "moto is reset (outside the measurement) before the warm runs of checkout+capacity and fulfill and every \
             {MOTO_RESET_EVERY} of their invocations: its TransactWriteItems deep-copies the table, so it slows as \
             the table grows.\n"
        ));
        notes.push_str(&format!(
            "Zip sizes come from a separate command, `cargo lambda build --release --arm64 --output-format zip` \
             (read from {} if present); this run builds nothing.\n",
            self.lambda_dir.display()
        ));
        notes.push_str(
            "Exit status: non-zero only when a figure exceeds its budget by more than 2x (for \"baseline + X\" \
             budgets: the overhead over the baseline is more than 2X) or a function answers wrongly.\n",
        );
        notes
    }

    fn results_json(&self, report: &Report, machine: Value) -> Value {
        let s = self.settings;
        let functions: serde_json::Map<String, Value> =
            MEASURED.iter().map(|&k| (k.name().to_owned(), self.function_json(k))).collect();
        json!({
            "generated_unix": unix_now(),
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "settings": {"cold": s.cold, "warm": s.warm, "warmup": s.warmup, "duplicates": s.duplicates},
            "machine": machine,
            "functions": functions,
            "fulfill_duplicates": self.duplicates.as_ref().map(|d| self.warm_json(d)),
            "fake_round_trips_ms": self.round_trips,
            "table": report.table_values,
            "budgets": report.budgets.iter().map(Budget::to_json).collect::<Vec<_>>(),
            "table_text": report.table,
            "capacity_table_text": report.capacity_table,
            "budgets_text": report.budget_text,
        })
    }

    fn function_json(&self, k: Kind) -> Value {
        let c = self.cold(k);
        json!({
            "binary": self.settings.bin_dir.join(k.binary()),
            "binary_bytes": self.binary_bytes(k),
            "arm64_zip_bytes": self.zip_bytes(k),
            "init_ms": summary(&c.init_ms),
            "cold_first_response_ms": summary(&c.first_response_ms),
            "cold_peak_rss_kib": c.peak_rss_kib,
            "cold_ssm_reads": c.ssm_reads,
            "cold_stripe_calls": c.stripe_calls,
            "cold_fakes_ms": summary(&c.fakes_ms),
            "warm": self.warm_json(self.warm(k)),
        })
    }

    fn warm_json(&self, w: &Warm) -> Value {
        json!({
            "latency_ms": summary(&w.latency_ms),
            "fakes_ms": summary(&w.fakes_ms),
            "above_fakes_ms": summary(&w.overhead_ms),
            "invocations": w.invocations,
            "peak_rss_kib": w.peak_rss_kib,
            "ssm_reads_container": w.ssm_reads,
            "aws_calls": w.aws_calls,
            "stripe_calls": w.stripe_calls,
            "outcomes": w.outcomes,
            "fakes_timed_directly_ms": fakes_per_request(w, &self.round_trips),
        })
    }
}

fn write_results(path: &Path, results: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(results)? + "\n")?;
    Ok(())
}

// ---- main ----------------------------------------------------------------------

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<ExitCode> {
    let settings = settings()?;
    check_binaries(&settings)?;
    let mut machine = machine();
    eprintln!(
        "bench: {} cold starts and {} warm invocations per function (binaries in {})",
        settings.cold,
        settings.warm,
        settings.bin_dir.display()
    );
    let started = Instant::now();
    let mut bed = Bed::start(&settings).await?;
    let colds = measure_cold_starts(&mut bed, &settings).await?;
    let (warms, duplicates) = measure_warm_runs(&mut bed, &settings).await?;
    let round_trips = time_fakes(&bed, &warms).await?;
    let lambda_dir = target_dir().join("lambda");
    let findings = Findings { settings: &settings, colds, warms, duplicates, round_trips, lambda_dir };

    let report = findings.report();
    findings.print(&report);
    machine["loadavg_at_end"] = read_trimmed("/proc/loadavg").into();
    print_machine(&machine, started.elapsed());
    println!("\n{}", findings.notes());
    write_results(&settings.out, &findings.results_json(&report, machine))?;
    println!("JSON: {}", settings.out.display());
    Ok(exit_code(&report.budgets))
}
