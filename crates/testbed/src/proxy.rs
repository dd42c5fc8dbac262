//! A counting reverse proxy for AWS calls: put it in front of moto and give its
//! URL to a process as `AWS_ENDPOINT_URL` (the AWS SDK then sends every call
//! there) to learn how many calls of each operation the process made, and to
//! make chosen operations fail.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use testbed::moto::Moto;
//! use testbed::proxy::CountingProxy;
//! let moto = Moto::start().await?;
//! let proxy = CountingProxy::start(moto.endpoint_url()).await?;
//! // ... run a function with AWS_ENDPOINT_URL = proxy.endpoint_url() ...
//! assert_eq!(proxy.count("AmazonSSM.GetParameter"), 1);
//! // The next two SES v2 SendEmail calls meet a throttling error.
//! proxy.fail_next("POST /v2/email/outbound-emails", 429, 2);
//! # Ok(()) }
//! ```
//!
//! Requests are forwarded unchanged (method, path and query, headers —
//! including `Host`, which SigV4 signs — and body) apart from hop-by-hop
//! headers; responses come back unchanged (status, headers, streamed body).
//!
//! An *operation* is the `X-Amz-Target` header when present (AWS JSON
//! protocols: `AmazonSSM.GetParameter`, `DynamoDB_20120810.PutItem`), else
//! `"{METHOD} {path}"` without the query (REST protocols, e.g.
//! `POST /v2/email/outbound-emails` for SES v2 `SendEmail`). Every request
//! counts, including ones answered with an injected fault, so SDK retries show
//! up in the counts.
//!
//! [`CountingProxy::serialise`] forwards chosen operations one at a time
//! (e.g. every `DynamoDB_20120810.` call): moto does not serialise concurrent
//! conditional writes to an item the way DynamoDB does, so without it a test
//! of concurrent writers (a ticket drop) can see lost updates that real
//! DynamoDB would never allow.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, Version, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::json;
use tokio::task::JoinHandle;

/// Largest request body forwarded (AWS API requests are small).
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// One injected answer.
#[derive(Clone, Debug)]
struct Fault {
    status: StatusCode,
    /// `Some` for AWS-style errors (`__type`, `x-amzn-ErrorType`).
    error_type: Option<String>,
    body: Vec<u8>,
    /// Forward the request first (it takes effect), then answer with this.
    after_forwarding: bool,
}

#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, usize>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Operations starting with one of these are forwarded one at a time.
    serialised: Vec<String>,
}

struct Inner {
    upstream: String,
    client: Client<HttpConnector, Body>,
    tally: Mutex<Tally>,
    /// Held from sending a serialised request upstream until its whole answer is read.
    turn: tokio::sync::Mutex<()>,
}

impl Inner {
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The proxy; its server stops when this is dropped.
pub struct CountingProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for CountingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingProxy").field("addr", &self.addr).field("upstream", &self.inner.upstream).finish()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CountingProxy {
    /// Listen on `127.0.0.1:0` and forward to `upstream`, an `http://host:port`
    /// base URL such as [`Moto::endpoint_url`](crate::moto::Moto::endpoint_url).
    pub async fn start(upstream: String) -> io::Result<CountingProxy> {
        let upstream = upstream.trim_end_matches('/').to_owned();
        let parsed: Uri = upstream
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("upstream {upstream:?}: {e}")))?;
        if parsed.scheme_str() != Some("http") || parsed.authority().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("upstream {upstream:?} must be an http://host:port URL"),
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(connector);
        let inner = Arc::new(Inner {
            upstream,
            client,
            tally: Mutex::new(Tally::default()),
            turn: tokio::sync::Mutex::new(()),
        });

        let app = Router::new().fallback(forward).with_state(inner.clone());
        let (addr, server) = crate::serve_loopback(app).await?;
        Ok(CountingProxy { addr, inner, server })
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address (for [`http_request`](crate::moto::http_request)).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream base URL requests are forwarded to.
    pub fn upstream(&self) -> &str {
        &self.inner.upstream
    }

    /// How many requests for `operation` arrived since start / [`reset_counts`](Self::reset_counts).
    pub fn count(&self, operation: &str) -> usize {
        self.inner.tally().counts.get(operation).copied().unwrap_or(0)
    }

    /// All operations seen and their request counts.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.inner.tally().counts.clone()
    }

    /// Forget the counts (pending faults stay).
    pub fn reset_counts(&self) {
        self.inner.tally().counts.clear();
    }

    /// The next `times` requests for `operation` are answered with `status`
    /// and an AWS-style JSON error without being forwarded: `InternalFailure`
    /// for 5xx, `ThrottlingException` otherwise (the SDK retries both).
    /// Calls add up: faults queue in call order.
    pub fn fail_next(&self, operation: &str, status: u16, times: usize) {
        let error_type = if status >= 500 { "InternalFailure" } else { "ThrottlingException" };
        self.fail_next_with(operation, status, error_type, times);
    }

    /// Like [`fail_next`](Self::fail_next) with an explicit error code (the
    /// body's `__type` and the `x-amzn-ErrorType` header), e.g.
    /// `ParameterNotFound` or `MessageRejected`.
    pub fn fail_next_with(&self, operation: &str, status: u16, error_type: &str, times: usize) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({ "__type": error_type, "message": "injected" }).to_string().into_bytes();
        let fault = Fault { status, error_type: Some(error_type.to_owned()), body, after_forwarding: false };
        self.queue(operation, fault, times);
    }

    /// The next `times` requests for `operation` get this canned answer
    /// (`Content-Type: application/x-amz-json-1.1`) without being forwarded,
    /// e.g. a malformed success. Queued together with `fail_next` faults.
    pub fn respond_next(&self, operation: &str, status: u16, body: impl Into<Vec<u8>>, times: usize) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.queue(operation, Fault { status, error_type: None, body: body.into(), after_forwarding: false }, times);
    }

    /// The next `times` requests for `operation` are forwarded (so they take
    /// effect upstream) and then answered 500 `InternalFailure`, as when a
    /// write commits and its answer is lost; the SDK retries it.
    pub fn lose_answer_next(&self, operation: &str, times: usize) {
        let body = json!({ "__type": "InternalFailure", "message": "injected: answer lost" }).to_string().into_bytes();
        let fault = Fault {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: Some("InternalFailure".to_owned()),
            body,
            after_forwarding: true,
        };
        self.queue(operation, fault, times);
    }

    fn queue(&self, operation: &str, fault: Fault, times: usize) {
        self.inner.tally().faults.entry(operation.to_owned()).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// How many injected faults for `operation` have not been served yet.
    pub fn pending_faults(&self, operation: &str) -> usize {
        self.inner.tally().faults.get(operation).map_or(0, VecDeque::len)
    }

    /// Drop all faults not served yet.
    pub fn clear_faults(&self) {
        self.inner.tally().faults.clear();
    }

    /// From now on, requests whose operation starts with `prefix` (e.g.
    /// `DynamoDB_20120810.`) are forwarded one at a time: each holds one
    /// async lock, shared by all serialised prefixes, from sending the
    /// request upstream until the whole response body is read. Calls add up.
    ///
    /// Why: DynamoDB applies writes to an item one after another (a
    /// conditional write sees every earlier write's result); moto does not
    /// serialise concurrent requests that way, so concurrent conditional
    /// writes through it can lose updates. Serialising gives a ticket-drop
    /// test DynamoDB's per-item guarantee (more strictly: across items too).
    /// Injected faults are answered at once, without waiting their turn.
    pub fn serialise(&self, prefix: &str) {
        self.inner.tally().serialised.push(prefix.to_owned());
    }
}

/// The operation a request calls (see the module docs).
pub fn operation_of(method: &str, path: &str, headers: &HeaderMap) -> String {
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) if !target.trim().is_empty() => target.trim().to_owned(),
        _ => format!("{method} {path}"),
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = json!({ "__type": error_type, "message": message }).to_string().into_bytes();
    canned(Fault { status, error_type: Some(error_type.to_owned()), body, after_forwarding: false })
}

fn canned(fault: Fault) -> Response {
    let request_id = crate::stripe::random_id("", 32).to_lowercase();
    let mut response = (fault.status, fault.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Some(v) = fault.error_type.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let operation = operation_of(parts.method.as_str(), parts.uri.path(), &parts.headers);
    let (fault, serialised) = {
        let mut tally = inner.tally();
        *tally.counts.entry(operation.clone()).or_default() += 1;
        let fault = tally.faults.get_mut(&operation).and_then(VecDeque::pop_front);
        if tally.faults.get(&operation).is_some_and(VecDeque::is_empty) {
            tally.faults.remove(&operation);
        }
        (fault, tally.serialised.iter().any(|prefix| operation.starts_with(prefix.as_str())))
    };
    if let Some(fault) = fault.as_ref().filter(|f| !f.after_forwarding) {
        // Drain the request body so the connection stays usable for keep-alive.
        let _ = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await;
        return canned(fault.clone());
    }
    let upstream_request = match upstream_request(&inner, parts, body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let _turn = if serialised { Some(inner.turn.lock().await) } else { None };
    if let Some(fault) = fault {
        let _lost = send_upstream(&inner, upstream_request, &operation, true).await;
        return canned(fault);
    }
    send_upstream(&inner, upstream_request, &operation, serialised).await
}

/// The request to send upstream: the body read in full, the target rewritten,
/// hop-by-hop headers dropped.
async fn upstream_request(
    inner: &Inner,
    mut parts: axum::http::request::Parts,
    body: Body,
) -> Result<axum::http::Request<Body>, Response> {
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|e| aws_error(StatusCode::BAD_REQUEST, "ProxyError", &format!("reading the request body: {e}")))?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = format!("{}{path_and_query}", inner.upstream)
        .parse()
        .map_err(|e| aws_error(StatusCode::BAD_REQUEST, "ProxyError", &format!("bad request target: {e}")))?;
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    // The body is buffered: its exact length replaces whatever framing came in.
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Ok(axum::http::Request::from_parts(parts, Body::from(body)))
}

/// Sends the request upstream; the answer streams back, or with
/// `read_whole` is read in full first (a serialised request's turn ends
/// only when its answer is complete).
async fn send_upstream(
    inner: &Inner,
    request: axum::http::Request<Body>,
    operation: &str,
    read_whole: bool,
) -> Response {
    let bad_gateway = |e: &dyn std::fmt::Display| {
        aws_error(StatusCode::BAD_GATEWAY, "ProxyError", &format!("forwarding {operation} to {}: {e}", inner.upstream))
    };
    let (mut parts, incoming) = match inner.client.request(request).await {
        Ok(response) => response.into_parts(),
        Err(e) => return bad_gateway(&e),
    };
    strip_hop_by_hop(&mut parts.headers);
    if !read_whole {
        return Response::from_parts(parts, Body::new(incoming));
    }
    match axum::body::to_bytes(Body::new(incoming), usize::MAX).await {
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(e) => bad_gateway(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moto::{Moto, http_request};
    use serde_json::Value;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ssm/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";

    async fn ssm(proxy: &CountingProxy, target: &str, body: Value) -> (u16, Value) {
        let headers = [
            ("Authorization", AUTH),
            ("X-Amz-Date", "20250101T000000Z"),
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ];
        let (status, body) =
            http_request(proxy.addr(), "POST", "/", &headers, body.to_string().as_bytes()).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwards_counts_and_injects_faults() {
        let moto = Moto::start().await.unwrap();
        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        assert!(proxy.endpoint_url().starts_with("http://127.0.0.1:"));
        assert_ne!(proxy.endpoint_url(), moto.endpoint_url());
        let name = "/testbed/proxy-test";

        let (status, _) = ssm(
            &proxy,
            "AmazonSSM.PutParameter",
            json!({"Name": name, "Value": "v1", "Type": "SecureString", "Overwrite": true}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, got) = ssm(&proxy, "AmazonSSM.GetParameter", json!({"Name": name, "WithDecryption": true})).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["Parameter"]["Value"], "v1");
        // moto's own errors come back unchanged.
        let (status, missing) =
            ssm(&proxy, "AmazonSSM.GetParameter", json!({"Name": "/testbed/nope", "WithDecryption": true})).await;
        assert_eq!(status, 400);
        assert_eq!(missing["__type"], "ParameterNotFound", "{missing}");

        // No X-Amz-Target: "{METHOD} {path}", without the query.
        let (status, data) = http_request(proxy.addr(), "GET", "/moto-api/data.json?pretty=1", &[], b"").await.unwrap();
        assert_eq!(status, 200);
        assert!(serde_json::from_slice::<Value>(&data).unwrap().is_object());

        assert_eq!(proxy.count("AmazonSSM.PutParameter"), 1);
        assert_eq!(proxy.count("AmazonSSM.GetParameter"), 2);
        assert_eq!(proxy.count("AmazonSSM.DeleteParameter"), 0);
        assert_eq!(
            proxy.counts(),
            BTreeMap::from([
                ("AmazonSSM.GetParameter".to_owned(), 2),
                ("AmazonSSM.PutParameter".to_owned(), 1),
                ("GET /moto-api/data.json".to_owned(), 1),
            ])
        );

        // Injected faults: answered by the proxy, never forwarded, counted.
        proxy.reset_counts();
        assert!(proxy.counts().is_empty());
        proxy.fail_next("AmazonSSM.PutParameter", 500, 1);
        proxy.fail_next("AmazonSSM.PutParameter", 429, 1);
        assert_eq!(proxy.pending_faults("AmazonSSM.PutParameter"), 2);
        let put_v2 = json!({"Name": name, "Value": "v2", "Type": "SecureString", "Overwrite": true});
        let (status, err) = ssm(&proxy, "AmazonSSM.PutParameter", put_v2.clone()).await;
        assert_eq!((status, err), (500, json!({"__type": "InternalFailure", "message": "injected"})));
        let (status, err) = ssm(&proxy, "AmazonSSM.PutParameter", put_v2.clone()).await;
        assert_eq!((status, err), (429, json!({"__type": "ThrottlingException", "message": "injected"})));
        assert_eq!(moto.get_parameter(name).await.unwrap().as_deref(), Some("v1"), "faults are not forwarded");
        // Other operations are unaffected, and the fault is used up.
        let (status, got) = ssm(&proxy, "AmazonSSM.GetParameter", json!({"Name": name, "WithDecryption": true})).await;
        assert_eq!((status, &got["Parameter"]["Value"]), (200, &json!("v1")));
        let (status, _) = ssm(&proxy, "AmazonSSM.PutParameter", put_v2).await;
        assert_eq!(status, 200);
        assert_eq!(moto.get_parameter(name).await.unwrap().as_deref(), Some("v2"));
        assert_eq!(proxy.count("AmazonSSM.PutParameter"), 3);
        assert_eq!(proxy.count("AmazonSSM.GetParameter"), 1);
        assert_eq!(proxy.pending_faults("AmazonSSM.PutParameter"), 0);

        // Canned answers.
        proxy.respond_next("AmazonSSM.GetParameter", 200, &b"{not json"[..], 1);
        let (status, body) =
            http_request(proxy.addr(), "POST", "/", &[("X-Amz-Target", "AmazonSSM.GetParameter")], b"{}")
                .await
                .unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{not json"[..]));

        // REST operations (no target) can fail too; clear_faults drops them.
        proxy.fail_next("POST /v2/email/outbound-emails", 400, 3);
        let (status, _) = http_request(proxy.addr(), "POST", "/v2/email/outbound-emails", &[], b"{}").await.unwrap();
        assert_eq!(status, 400);
        proxy.clear_faults();
        assert_eq!(proxy.pending_faults("POST /v2/email/outbound-emails"), 0);
        assert_eq!(proxy.count("POST /v2/email/outbound-emails"), 1);
    }

    /// An upstream that answers every request after `delay`, noting the
    /// most requests it ever had in hand at once.
    async fn slow_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
        let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = most.clone();
        let app = Router::new().fallback(move || {
            let (in_flight, most) = (in_flight.clone(), most.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                "{}"
            }
        });
        let (addr, _server) = crate::serve_loopback(app).await.unwrap();
        (format!("http://{addr}"), seen)
    }

    /// Two concurrent requests for `target` through the proxy: how long both took.
    async fn two_at_once(proxy: &CountingProxy, target: &str) -> Duration {
        let call = || async {
            let (status, _) =
                http_request(proxy.addr(), "POST", "/", &[("X-Amz-Target", target)], b"{}").await.unwrap();
            assert_eq!(status, 200);
        };
        let started = Instant::now();
        tokio::join!(call(), call());
        started.elapsed()
    }

    #[tokio::test]
    async fn serialised_operations_are_forwarded_one_at_a_time() {
        let delay = Duration::from_millis(200);
        let (upstream, most_at_once) = slow_upstream(delay).await;
        let proxy = CountingProxy::start(upstream).await.unwrap();

        let took = two_at_once(&proxy, "DynamoDB_20120810.UpdateItem").await;
        assert!(took < delay * 2, "not serialised: concurrent, took {took:?}");
        assert_eq!(most_at_once.swap(0, Ordering::SeqCst), 2);

        proxy.serialise("DynamoDB_20120810.");
        let took = two_at_once(&proxy, "DynamoDB_20120810.UpdateItem").await;
        assert!(took >= delay * 2, "serialised: one after the other, took {took:?}");
        assert_eq!(most_at_once.swap(0, Ordering::SeqCst), 1);

        // Other operations still go concurrently.
        let took = two_at_once(&proxy, "AmazonSSM.GetParameter").await;
        assert!(took < delay * 2, "other operations are not serialised, took {took:?}");
        assert_eq!(most_at_once.load(Ordering::SeqCst), 2);
        assert_eq!(proxy.count("DynamoDB_20120810.UpdateItem"), 4);
    }

    #[tokio::test]
    async fn a_lost_answer_is_forwarded_then_answered_500() {
        let (upstream, most_at_once) = slow_upstream(Duration::from_millis(1)).await;
        let proxy = CountingProxy::start(upstream).await.unwrap();
        proxy.lose_answer_next("DynamoDB_20120810.UpdateItem", 1);
        let target = [("X-Amz-Target", "DynamoDB_20120810.UpdateItem")];
        let (status, body) = http_request(proxy.addr(), "POST", "/", &target, b"{}").await.unwrap();
        assert_eq!(status, 500);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["__type"], "InternalFailure");
        assert_eq!(most_at_once.load(Ordering::SeqCst), 1, "it reached the upstream");
        let (status, _) = http_request(proxy.addr(), "POST", "/", &target, b"{}").await.unwrap();
        assert_eq!((status, proxy.pending_faults("DynamoDB_20120810.UpdateItem")), (200, 0), "once");
    }

    #[tokio::test]
    async fn unreachable_upstream_is_a_502() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let proxy = CountingProxy::start(format!("http://127.0.0.1:{port}/")).await.unwrap();
        let (status, body) = http_request(proxy.addr(), "GET", "/x", &[], b"").await.unwrap();
        assert_eq!(status, 502);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["__type"], "ProxyError");
        assert_eq!(proxy.count("GET /x"), 1);
        assert!(CountingProxy::start("not a url".into()).await.is_err());
    }
}
