//! A Lambda Runtime API emulator (the documented `2018-06-01` API) plus a helper
//! to run a function binary against it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use testbed::runtime_api::{FunctionProcess, Invocation, RuntimeApi};
//! let api = RuntimeApi::start().await?;
//! let mut env = api.lambda_env("checkout");
//! env.push(("RUST_LOG".into(), "info".into()));
//! let function = FunctionProcess::spawn("target/debug/checkout", env)?;
//! match api.invoke(serde_json::json!({"hello": "world"})).await? {
//!     Invocation::Response(v) => println!("{v}"),
//!     Invocation::Error(e) => println!("function error {e}"),
//! }
//! println!("init took {:?}", api.first_next_at().unwrap() - function.spawned_at());
//! # Ok(()) }
//! ```
//!
//! Endpoints served (on `127.0.0.1:<random port>`):
//! - `GET  /2018-06-01/runtime/invocation/next` — long-polls for the next event
//! - `POST /2018-06-01/runtime/invocation/{id}/response`
//! - `POST /2018-06-01/runtime/invocation/{id}/error`
//! - `POST /2018-06-01/runtime/init/error`
//!
//! Invocations are serialised (one at a time) like a single Lambda execution
//! environment. To replace the function process on the same emulator (cold
//! starts in a loop), spawn the new one with [`RuntimeApi::spawn_function`] (or
//! call [`RuntimeApi::new_environment`] first), so a dead process's pending
//! long-poll cannot swallow the next event; a fresh `RuntimeApi` is cheap too.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

/// Directory for logs of processes the test bed starts (moto, functions):
/// `<cargo target dir>/testbed-logs`, created if needed. The target dir is
/// `$CARGO_TARGET_DIR`, else the ancestor of the current executable holding
/// `CACHEDIR.TAG`, else `<workspace>/target`.
pub fn logs_dir() -> io::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors().find(|a| a.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf)
        })
        .unwrap_or_else(|| crate::moto::workspace_root().join("target"));
    let dir = target.join("testbed-logs");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Settings of the emulated function.
#[derive(Debug, Clone)]
pub struct RuntimeApiConfig {
    /// Used in the invoked-function ARN header (default `function`).
    pub function_name: String,
    /// Function timeout: `Lambda-Runtime-Deadline-Ms` is the time the event is
    /// handed to the function plus this, and `invoke` gives up after it (default 10 s).
    pub timeout: Duration,
    /// How long `invoke` waits for the function to fetch the event with
    /// `GET …/next` (covers the init phase of a cold start; default 10 s).
    pub pickup_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` in [`RuntimeApi::lambda_env`] (default 128).
    pub memory_mb: u32,
}

impl Default for RuntimeApiConfig {
    fn default() -> Self {
        Self {
            function_name: "function".into(),
            timeout: Duration::from_secs(10),
            pickup_timeout: Duration::from_secs(10),
            memory_mb: 128,
        }
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Body of `POST …/{id}/response` (JSON; a non-JSON body becomes a `Value::String`).
    Response(Value),
    /// Body of `POST …/{id}/error`, e.g. `{"errorType": "...", "errorMessage": "..."}`.
    Error(Value),
}

impl Invocation {
    pub fn is_error(&self) -> bool {
        matches!(self, Invocation::Error(_))
    }
    /// The response payload, or `None` for an error.
    pub fn response(self) -> Option<Value> {
        match self {
            Invocation::Response(v) => Some(v),
            Invocation::Error(_) => None,
        }
    }
    /// The error payload, or `None` for a response.
    pub fn error(self) -> Option<Value> {
        match self {
            Invocation::Error(v) => Some(v),
            Invocation::Response(_) => None,
        }
    }
}

/// A completed invocation with its timings.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    pub request_id: String,
    pub outcome: Invocation,
    /// When the event was queued (after any earlier invocation finished).
    pub invoked_at: Instant,
    /// When the function's `GET …/next` received it.
    pub delivered_at: Instant,
    /// When the function posted its response/error.
    pub completed_at: Instant,
}

impl InvocationRecord {
    /// Queue → response: what a caller of the Lambda observes (minus the network).
    pub fn latency(&self) -> Duration {
        self.completed_at - self.invoked_at
    }
    /// Delivery → response: the handler's own duration.
    pub fn handler_duration(&self) -> Duration {
        self.completed_at - self.delivered_at
    }
}

/// Why `invoke` got no response or error from the function.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// The function did not fetch the event (`GET …/next`) within `pickup_timeout`.
    NotPickedUp { request_id: String, waited: Duration },
    /// Fetched but neither response nor error within `timeout`.
    Timeout { request_id: String, after: Duration },
    /// The function reported an init error (`POST /runtime/init/error`).
    InitError(Value),
    /// The emulator is shutting down.
    Shutdown,
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::NotPickedUp { request_id, waited } => write!(
                f,
                "invocation {request_id}: the function did not call GET /runtime/invocation/next within {waited:?}"
            ),
            InvokeError::Timeout { request_id, after } => {
                write!(f, "invocation {request_id}: no response or error within {after:?}")
            }
            InvokeError::InitError(v) => write!(f, "function init error: {v}"),
            InvokeError::Shutdown => write!(f, "runtime API emulator shut down"),
        }
    }
}

impl std::error::Error for InvokeError {}

struct Queued {
    request_id: String,
    body: Bytes,
}

struct Pending {
    delivered: Option<oneshot::Sender<Instant>>,
    done: Option<oneshot::Sender<(Invocation, Instant)>>,
}

struct Shared {
    config: RuntimeApiConfig,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    /// Bumped by `new_environment`: `/next` polls from older generations hand
    /// events back instead of taking them.
    generation: AtomicU64,
    closed: AtomicBool,
    pending: Mutex<HashMap<String, Pending>>,
    first_next: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<Value>>,
    next_calls: AtomicU64,
}

/// The Runtime API emulator; the server stops when this is dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    invoke_lock: tokio::sync::Mutex<()>,
    history: Mutex<Vec<InvocationRecord>>,
    started_at: Instant,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi").field("addr", &self.addr).field("config", &self.shared.config).finish()
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

fn new_request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let salt = ((std::process::id() as u64) << 32) ^ nanos;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (salt >> 16) as u32,
        (nanos >> 8) as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        (nanos ^ n.rotate_left(29)) & 0xffff_ffff_ffff
    )
}

fn trace_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let n = REQUEST_COUNTER.load(Ordering::Relaxed);
    format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        now.as_secs(),
        now.as_nanos() ^ ((n as u128) << 64),
        now.subsec_nanos() as u64 ^ n
    )
}

impl RuntimeApi {
    /// Start with [`RuntimeApiConfig::default`].
    pub async fn start() -> io::Result<RuntimeApi> {
        Self::start_with(RuntimeApiConfig::default()).await
    }

    /// Start on `127.0.0.1:0` with the given settings.
    pub async fn start_with(config: RuntimeApiConfig) -> io::Result<RuntimeApi> {
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            pending: Mutex::new(HashMap::new()),
            first_next: watch::Sender::new(None),
            init_error: watch::Sender::new(None),
            next_calls: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
            .with_state(shared.clone());
        let (addr, server) = crate::serve_loopback(app).await?;
        Ok(RuntimeApi {
            addr,
            shared,
            invoke_lock: tokio::sync::Mutex::new(()),
            history: Mutex::new(Vec::new()),
            started_at: Instant::now(),
            server,
        })
    }

    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn config(&self) -> &RuntimeApiConfig {
        &self.shared.config
    }

    /// When the emulator started.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// When the function first called `GET …/next` (its init phase ended).
    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next.borrow()
    }

    /// Wait until the function first calls `GET …/next` (or `timeout` passes).
    pub async fn wait_first_next(&self, timeout: Duration) -> Option<Instant> {
        let mut rx = self.shared.first_next.subscribe();
        let r = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        match r {
            Ok(Ok(v)) => *v,
            _ => None,
        }
    }

    /// How many times `GET …/next` has been called.
    pub fn next_calls(&self) -> u64 {
        self.shared.next_calls.load(Ordering::Relaxed)
    }

    /// What the function posted to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<Value> {
        self.shared.init_error.borrow().clone()
    }

    /// All completed invocations, in order.
    pub fn history(&self) -> Vec<InvocationRecord> {
        self.history.lock().unwrap().clone()
    }

    /// Start a new execution environment: `GET …/next` polls still pending from
    /// earlier processes (e.g. one just killed, whose connection the server has
    /// not noticed closing yet) no longer receive events. Call it before
    /// spawning a replacement process on the same emulator;
    /// [`spawn_function`](Self::spawn_function) does.
    pub fn new_environment(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// [`new_environment`](Self::new_environment), then spawn `binary` with
    /// [`lambda_env`](Self::lambda_env) (named after `config().function_name`)
    /// plus `env`.
    pub fn spawn_function<I, K, V>(&self, binary: impl AsRef<Path>, env: I) -> io::Result<FunctionProcess>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.new_environment();
        let mut all = self.lambda_env(&self.shared.config.function_name);
        all.extend(env.into_iter().map(|(k, v)| (k.into(), v.into())));
        FunctionProcess::spawn(binary, all)
    }

    /// Environment `lambda_runtime` (1.5) needs to start, pointing at this emulator.
    /// The child gets no `AWS_LAMBDA_LOG_FORMAT`/`AWS_LAMBDA_LOG_LEVEL` (text logs,
    /// level from `RUST_LOG`); add them to the caller's env if wanted.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        let memory = self.shared.config.memory_mb.to_string();
        let group = format!("/aws/lambda/{function_name}");
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address().as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.as_str()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", group.as_str()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2025/01/01/[$LATEST]00000000000000000000000000000000"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Send `event` to the function and wait for its response or error.
    pub async fn invoke(&self, event: Value) -> Result<Invocation, InvokeError> {
        self.invoke_detailed(event).await.map(|r| r.outcome)
    }

    /// Like [`invoke`](Self::invoke), with request id and timings.
    pub async fn invoke_detailed(&self, event: Value) -> Result<InvocationRecord, InvokeError> {
        let body = Bytes::from(serde_json::to_vec(&event).expect("a Value always serialises"));
        self.invoke_raw(body).await
    }

    /// Send a raw payload (need not be JSON) to the function.
    pub async fn invoke_raw(&self, body: Bytes) -> Result<InvocationRecord, InvokeError> {
        let _serial = self.invoke_lock.lock().await;
        if let Some(e) = self.init_error() {
            return Err(InvokeError::InitError(e));
        }
        let request_id = new_request_id();
        let (delivered_tx, delivered_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap()
            .insert(request_id.clone(), Pending { delivered: Some(delivered_tx), done: Some(done_tx) });
        // Removes the entry however this function exits (stale events are skipped by /next).
        let _cleanup = RemovePending { shared: &self.shared, id: request_id.clone() };
        let invoked_at = Instant::now();
        self.shared.queue.lock().unwrap().push_back(Queued { request_id: request_id.clone(), body });
        self.shared.queued.notify_one();
        let cfg = &self.shared.config;
        let mut init_err = self.shared.init_error.subscribe();
        let delivered_at = tokio::select! {
            r = tokio::time::timeout(cfg.pickup_timeout, delivered_rx) => match r {
                Ok(Ok(at)) => at,
                Ok(Err(_)) => return Err(InvokeError::Shutdown),
                Err(_) => return Err(InvokeError::NotPickedUp { request_id, waited: cfg.pickup_timeout }),
            },
            Ok(v) = init_err.wait_for(Option::is_some) => {
                return Err(InvokeError::InitError(v.clone().unwrap_or(Value::Null)));
            }
        };
        let deadline = tokio::time::Instant::from_std(delivered_at + cfg.timeout);
        let (outcome, completed_at) = tokio::select! {
            r = tokio::time::timeout_at(deadline, done_rx) => match r {
                Ok(Ok(done)) => done,
                Ok(Err(_)) => return Err(InvokeError::Shutdown),
                Err(_) => return Err(InvokeError::Timeout { request_id, after: cfg.timeout }),
            },
            Ok(v) = init_err.wait_for(Option::is_some) => {
                return Err(InvokeError::InitError(v.clone().unwrap_or(Value::Null)));
            }
        };
        let record =
            InvocationRecord { request_id: request_id.clone(), outcome, invoked_at, delivered_at, completed_at };
        self.history.lock().unwrap().push(record.clone());
        Ok(record)
    }
}

struct RemovePending<'a> {
    shared: &'a Shared,
    id: String,
}

impl Drop for RemovePending<'_> {
    fn drop(&mut self) {
        self.shared.pending.lock().unwrap().remove(&self.id);
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Long-polls still waiting in connection tasks answer 410 and end.
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.queued.notify_waiters();
        self.server.abort();
    }
}

fn epoch_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let called_at = Instant::now();
    shared.next_calls.fetch_add(1, Ordering::Relaxed);
    shared.first_next.send_if_modified(|v| {
        if v.is_none() {
            *v = Some(called_at);
            true
        } else {
            false
        }
    });
    let generation = shared.generation.load(Ordering::SeqCst);
    loop {
        let notified = shared.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.closed.load(Ordering::SeqCst) {
            return (StatusCode::GONE, "runtime API emulator shut down").into_response();
        }
        let popped = shared.queue.lock().unwrap().pop_front();
        let Some(queued) = popped else {
            notified.await;
            continue;
        };
        if shared.generation.load(Ordering::SeqCst) != generation {
            // A poll from a replaced (most likely killed) process: hand the event
            // back to the current one.
            shared.queue.lock().unwrap().push_front(queued);
            shared.queued.notify_one();
            return (StatusCode::GONE, "stale execution environment").into_response();
        }
        let now = Instant::now();
        let live = {
            let mut pending = shared.pending.lock().unwrap();
            match pending.get_mut(&queued.request_id).and_then(|p| p.delivered.take()) {
                Some(tx) => tx.send(now).is_ok(),
                None => false,
            }
        };
        if !live {
            continue; // the invoker gave up on this one already
        }
        let deadline = epoch_ms(SystemTime::now() + shared.config.timeout);
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            crate::moto::REGION,
            crate::moto::ACCOUNT_ID,
            shared.config.function_name
        );
        let mut headers = HeaderMap::new();
        let mut put = |k: &'static str, v: String| {
            headers.insert(k, HeaderValue::from_str(&v).expect("header value"));
        };
        put("content-type", "application/json".into());
        put("lambda-runtime-aws-request-id", queued.request_id);
        put("lambda-runtime-deadline-ms", deadline.to_string());
        put("lambda-runtime-invoked-function-arn", arn);
        put("lambda-runtime-trace-id", trace_id());
        return (StatusCode::OK, headers, queued.body).into_response();
    }
}

fn payload(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn complete(shared: &Shared, id: &str, outcome: Invocation) -> Response {
    let now = Instant::now();
    let tx = shared.pending.lock().unwrap().get_mut(id).and_then(|p| p.done.take());
    match tx {
        Some(tx) => {
            let _ = tx.send((outcome, now));
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "errorType": "InvalidRequestID",
                "errorMessage": format!("unknown or already completed request id {id}"),
            })),
        )
            .into_response(),
    }
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    complete(&shared, &id, Invocation::Response(payload(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    complete(&shared, &id, Invocation::Error(payload(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.init_error.send_replace(Some(payload(&body)));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

// ---- function process ------------------------------------------------------

static LOG_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Environment variables passed through from the test process to functions;
/// everything else is cleared (no real AWS credentials/profiles can leak in).
pub const PASS_THROUGH_ENV: &[&str] = &["PATH", "RUST_BACKTRACE", "RUST_LOG", "LLVM_PROFILE_FILE"];

/// A function binary running as a child process; killed (and reaped) on drop.
pub struct FunctionProcess {
    child: Child,
    log_path: PathBuf,
    spawned_at: Instant,
}

impl std::fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionProcess").field("pid", &self.child.id()).field("log_path", &self.log_path).finish()
    }
}

impl FunctionProcess {
    /// Spawn `binary` with a cleared environment plus [`PASS_THROUGH_ENV`] and
    /// `env` (e.g. [`RuntimeApi::lambda_env`] + `Moto::aws_env` + config);
    /// stdout and stderr both go to a fresh file under [`logs_dir`].
    pub fn spawn<I, K, V>(binary: impl AsRef<Path>, env: I) -> io::Result<FunctionProcess>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let binary = binary.as_ref();
        let stem = binary.file_name().and_then(OsStr::to_str).unwrap_or("function");
        let n = LOG_COUNTER.fetch_add(1, Ordering::Relaxed);
        let log_path = logs_dir()?.join(format!("{stem}-{}-{n}.log", std::process::id()));
        Self::spawn_logging_to(binary, env, log_path)
    }

    /// Like [`spawn`](Self::spawn) with an explicit log file (truncated).
    pub fn spawn_logging_to<I, K, V>(binary: impl AsRef<Path>, env: I, log_path: PathBuf) -> io::Result<FunctionProcess>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let binary = binary.as_ref();
        let log = File::create(&log_path)?;
        let mut cmd = Command::new(binary);
        cmd.env_clear();
        for k in PASS_THROUGH_ENV {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        cmd.envs(env).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let spawned_at = Instant::now();
        let child =
            cmd.spawn().map_err(|e| io::Error::new(e.kind(), format!("cannot spawn {}: {e}", binary.display())))?;
        Ok(FunctionProcess { child, log_path, spawned_at })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// When `spawn` started the process (for cold-start measurements with
    /// [`RuntimeApi::first_next_at`]).
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// The file holding the process's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the process has logged so far (lossy UTF-8).
    pub fn logs(&self) -> io::Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.log_path)?).into_owned())
    }

    /// Peak resident set size (`VmHWM` of `/proc/<pid>/status`) in KiB; `None`
    /// once the process has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmHWM:")
    }

    /// Current resident set size (`VmRSS`) in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmRSS:")
    }

    fn proc_status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    /// `Some(status)` if the process has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Kill (SIGKILL) and reap the process.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_none() {
            let _ = self.child.kill();
        }
        self.child.wait().map(|_| ())
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `target/<profile>/examples/echo_lambda`, built by `cargo test -p testbed`.
    fn echo_lambda() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        exe.ancestors().map(|a| a.join("examples/echo_lambda")).find(|p| p.is_file()).unwrap_or_else(|| {
            panic!("examples/echo_lambda not found above {}; run `cargo test -p testbed`", exe.display())
        })
    }

    async fn start_echo(config: RuntimeApiConfig) -> (RuntimeApi, FunctionProcess) {
        let api = RuntimeApi::start_with(config).await.unwrap();
        let mut env = api.lambda_env("echo");
        env.push(("ECHO_SECRET".into(), "hunter2".into()));
        let function = FunctionProcess::spawn(echo_lambda(), env).unwrap();
        (api, function)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn echoes_through_a_real_lambda_runtime() {
        let (api, mut function) = start_echo(RuntimeApiConfig::default()).await;
        assert!(api.address().starts_with("127.0.0.1:"));

        let first = api.invoke_detailed(json!({"n": 1, "msg": "hello"})).await.unwrap();
        let second = api.invoke_detailed(json!({"n": 2})).await.unwrap();
        let first_next = api.first_next_at().expect("first GET /next recorded");
        assert!(first_next >= function.spawned_at() && first_next <= first.delivered_at);

        let echoed = first.outcome.clone().response().unwrap();
        assert_eq!(echoed["payload"], json!({"n": 1, "msg": "hello"}));
        assert_eq!(echoed["request_id"], first.request_id);
        assert_eq!(echoed["function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:function");
        assert!(echoed["deadline_ms"].as_u64().unwrap() > epoch_ms(SystemTime::now()) as u64);
        assert_eq!(
            second.outcome,
            Invocation::Response(json!({
                "payload": {"n": 2},
                "request_id": second.request_id,
                "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:function",
                "deadline_ms": second.outcome.clone().response().unwrap()["deadline_ms"],
            }))
        );
        assert_ne!(first.request_id, second.request_id);
        assert!(first.latency() >= first.handler_duration());

        // The handler returning Err becomes Invocation::Error.
        let failed = api.invoke(json!({"fail": true})).await.unwrap();
        let Invocation::Error(err) = failed else { panic!("expected an error, got {failed:?}") };
        assert!(err["errorMessage"].as_str().unwrap().contains("asked to fail"), "{err}");

        // Still serving afterwards.
        assert_eq!(api.invoke(json!(3)).await.unwrap().response().unwrap()["payload"], json!(3));
        assert_eq!(api.history().len(), 4);
        assert!(api.next_calls() >= 4);

        assert!(function.peak_rss_kib().unwrap() > 0);
        let pid = function.pid();
        assert!(function.try_wait().unwrap().is_none());
        drop(function);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_invokes_are_serialised_and_logs_are_captured() {
        let (api, function) = start_echo(RuntimeApiConfig::default()).await;
        let (a, b, c) = tokio::join!(
            api.invoke_detailed(json!({"sleep_ms": 100})),
            api.invoke_detailed(json!({"sleep_ms": 100})),
            api.invoke_detailed(json!("x")),
        );
        let mut recs = [a.unwrap(), b.unwrap(), c.unwrap()];
        recs.sort_by_key(|r| r.delivered_at);
        for w in recs.windows(2) {
            assert!(w[1].delivered_at >= w[0].completed_at, "overlapping invocations");
        }
        let logs = function.logs().unwrap();
        assert!(logs.contains("echo_lambda handling"), "log was: {logs}");
        assert!(!logs.contains("hunter2"), "secret leaked into logs");
        assert!(function.log_path().starts_with(logs_dir().unwrap()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timeouts_and_restarts() {
        let config = RuntimeApiConfig {
            timeout: Duration::from_millis(1000),
            pickup_timeout: Duration::from_millis(500),
            ..Default::default()
        };
        // No function at all: the event is never fetched.
        let api = RuntimeApi::start_with(config.clone()).await.unwrap();
        assert!(matches!(api.invoke(json!(1)).await, Err(InvokeError::NotPickedUp { .. })));
        assert_eq!(api.first_next_at(), None);

        // A function that sleeps past the deadline.
        let mut env = api.lambda_env("echo");
        env.push(("RUST_LOG".into(), "off".into()));
        let mut function = FunctionProcess::spawn(echo_lambda(), env).unwrap();
        assert!(api.wait_first_next(Duration::from_secs(10)).await.is_some());
        let r = api.invoke(json!({"sleep_ms": 2000})).await;
        assert!(matches!(r, Err(InvokeError::Timeout { .. })), "{r:?}");

        // Its late response is rejected; it goes back to long-polling /next. Kill
        // it there and start a new process on the same emulator: the dead
        // process's long-poll must not swallow the next event.
        let waited = Instant::now();
        while api.next_calls() < 2 && waited.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(api.next_calls(), 2, "the function should be polling /next again");
        assert!(function.try_wait().unwrap().is_none());
        function.kill().unwrap();
        let _function = api.spawn_function(echo_lambda(), [("RUST_LOG", "info")]).unwrap();
        let mut ok = None;
        for _ in 0..20 {
            match api.invoke(json!("after restart")).await {
                Ok(v) => {
                    ok = Some(v);
                    break;
                }
                Err(InvokeError::NotPickedUp { .. }) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok.unwrap().response().unwrap()["payload"], "after restart");
    }

    #[tokio::test]
    async fn init_error_fails_invocations() {
        let api = RuntimeApi::start().await.unwrap();
        let addr: SocketAddr = api.address().parse().unwrap();
        let body = br#"{"errorType":"Config","errorMessage":"missing parameter"}"#;
        let (status, _) =
            crate::moto::http_request(addr, "POST", "/2018-06-01/runtime/init/error", &[], body).await.unwrap();
        assert_eq!(status, 202);
        assert_eq!(api.init_error().unwrap()["errorType"], "Config");
        assert!(matches!(api.invoke(json!({})).await, Err(InvokeError::InitError(_))));
        // Unknown request ids are rejected.
        let (status, _) =
            crate::moto::http_request(addr, "POST", "/2018-06-01/runtime/invocation/nope/response", &[], b"{}")
                .await
                .unwrap();
        assert_eq!(status, 400);
    }
}
