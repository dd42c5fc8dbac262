//! moto (the AWS emulator) on loopback, for tests, the benchmark and the dev server.
//!
//! moto lives in a project-local virtualenv at `<workspace>/.venv`, created by
//! `scripts/test` with
//!
//! ```sh
//! scripts/setup   # pip install -r requirements-dev.txt into .venv
//! ```
//!
//! Set `MOTO_SERVER` to the path of another `moto_server` executable to override.
//!
//! [`Moto`] starts `moto_server -H 127.0.0.1 -p <free port>` and kills it (by
//! PID, kill + wait) on drop. Besides the environment for child processes
//! ([`Moto::aws_env`]) it offers a few raw-HTTP AWS calls so tests can create
//! resources and inspect state without depending on the AWS Rust SDK: moto
//! does not check signatures, it only needs an `Authorization` header whose
//! credential scope names the region and the service (that is how a single
//! moto server routes requests).
//!
//! # Sent mail
//!
//! moto keeps what SES (v1 and v2) sent in its model dump `GET /moto-api/data.json`
//! under `ses.Message` (simple content) and `ses.RawMessage` (raw MIME): SES v2
//! `SendEmail` "piggybacks" on the v1 backend. See [`SentEmail`] for what moto
//! keeps and what it drops.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";
/// moto's default account id (shows up in ARNs).
pub const ACCOUNT_ID: &str = "123456789012";

const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The `moto_server` executable: `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`.
pub fn moto_server_path() -> PathBuf {
    match std::env::var_os("MOTO_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join(".venv/bin/moto_server"),
    }
}

/// A running moto server on `127.0.0.1:<port>`; killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log_path: PathBuf,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("log_path", &self.log_path)
            .finish()
    }
}

/// One message SES accepted, as moto records it.
///
/// What moto does **not** keep (moto 5.x): for simple content it stores a single
/// `body`, the **HTML part if the message had one, otherwise the text part** — the
/// text alternative of a multipart message is lost. Reply-To, custom headers,
/// configuration set, tags, attachments and the display name split of the
/// addresses are not recorded either; `from` is the `FromEmailAddress` verbatim
/// (e.g. `Tickets <tickets@example.org>`). Region/account are not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    /// The SES message id returned to the sender.
    pub id: String,
    /// `FromEmailAddress` (v2) / `Source` (v1), verbatim.
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    /// For raw messages: the `Subject:` header (unfolded, not MIME-decoded).
    pub subject: String,
    /// What moto stored as the body (HTML if there was an HTML part, else text).
    /// Empty for raw messages.
    pub body: String,
    /// `Some(body)` when `body` does not look like HTML (no HTML part was sent).
    pub text: Option<String>,
    /// `Some(body)` when `body` looks like HTML (starts with `<` after trimming).
    pub html: Option<String>,
    /// The full MIME message for raw sends (`Content.Raw`), as given.
    pub raw: Option<String>,
}

impl SentEmail {
    /// All recipients: to, cc and bcc.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to.iter().chain(&self.cc).chain(&self.bcc).map(String::as_str)
    }
}

impl Moto {
    /// Start moto on a free loopback port and wait (up to 20 s) until it answers.
    pub async fn start() -> io::Result<Moto> {
        let exe = moto_server_path();
        if !exe.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("moto not installed: run scripts/test (creates .venv) — no executable at {}", exe.display()),
            ));
        }
        let logs = crate::runtime_api::logs_dir()?;
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let log_path = logs.join(format!("moto-{port}.log"));
            let log = File::create(&log_path)?;
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .env("PYTHONUNBUFFERED", "1")
                .spawn()
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "moto not installed: run scripts/test (creates .venv) — cannot run {}: {e}",
                            exe.display()
                        ),
                    )
                })?;
            let mut moto = Moto { child, port, log_path };
            match moto.wait_ready(START_TIMEOUT).await {
                Ok(()) => return Ok(moto),
                // Exited early: most likely lost the race for the port; try another.
                Err(e) if moto.child.try_wait().ok().flatten().is_some() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("moto did not start")))
    }

    async fn wait_ready(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "moto_server exited during start-up ({status}); see {}",
                    self.log_path.display()
                )));
            }
            if let Ok((200, _)) = self.request("GET", "/moto-api/", &[], b"").await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "moto did not answer on 127.0.0.1:{} within {timeout:?}; see {}",
                        self.port,
                        self.log_path.display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// PID of the `moto_server` process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// moto's stdout/stderr (request log) go here.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Environment for child processes whose AWS SDK clients must talk to this moto.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint_url().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Forget all state (`POST /moto-api/reset`).
    pub async fn reset(&self) -> io::Result<()> {
        let (status, body) = self.request("POST", "/moto-api/reset", &[], b"").await?;
        check_status("reset", status, &body)?;
        Ok(())
    }

    /// moto's model dump, `GET /moto-api/data.json`.
    ///
    /// moto serialises every backend for this; while a DynamoDB transaction of
    /// a concurrent test is in flight that can fail with a 500 ("keys must be
    /// str … not DynamoType"), so a 500 is retried a few times.
    pub async fn data_json(&self) -> io::Result<Value> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, body) = self.request("GET", "/moto-api/data.json", &[], b"").await?;
            if status == 500 && attempt < 10 {
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                continue;
            }
            check_status("data.json", status, &body)?;
            return serde_json::from_slice(&body).map_err(io::Error::other);
        }
    }

    /// Everything SES (v1 or v2) accepted since start/reset: simple messages
    /// first, then raw ones, each in send order.
    pub async fn sent_emails(&self) -> io::Result<Vec<SentEmail>> {
        Ok(parse_sent_emails(&self.data_json().await?))
    }

    // ---- raw AWS calls -------------------------------------------------

    /// An AWS JSON-protocol call (`X-Amz-Target`), e.g.
    /// `aws_json("ssm", "AmazonSSM.GetParameter", &json!({...}))`.
    /// DynamoDB targets use `application/x-amz-json-1.0`, others 1.1.
    /// Non-2xx answers become errors carrying moto's `__type` and message.
    pub async fn aws_json(&self, service: &str, target: &str, body: &Value) -> io::Result<Value> {
        let content_type =
            if target.starts_with("DynamoDB") { "application/x-amz-json-1.0" } else { "application/x-amz-json-1.1" };
        let auth = authorization(service);
        let headers = [
            ("Authorization", auth.as_str()),
            ("X-Amz-Date", "20250101T000000Z"),
            ("X-Amz-Target", target),
            ("Content-Type", content_type),
        ];
        let payload = serde_json::to_vec(body).map_err(io::Error::other)?;
        let (status, resp) = self.request("POST", "/", &headers, &payload).await?;
        check_status(target, status, &resp)?;
        if resp.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&resp).map_err(io::Error::other)
    }

    /// An AWS query-protocol call (form-encoded `Action=...`), returning the XML body.
    pub async fn aws_query(&self, service: &str, params: &[(&str, &str)]) -> io::Result<String> {
        let auth = authorization(service);
        let headers = [
            ("Authorization", auth.as_str()),
            ("X-Amz-Date", "20250101T000000Z"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ];
        let payload = serde_urlencoded::to_string(params).map_err(io::Error::other)?;
        let (status, resp) = self.request("POST", "/", &headers, payload.as_bytes()).await?;
        let action = params.iter().find(|(k, _)| *k == "Action").map_or("query", |(_, v)| v);
        check_status(action, status, &resp)?;
        Ok(String::from_utf8_lossy(&resp).into_owned())
    }

    /// SSM `PutParameter`: a `SecureString` (moto's default KMS key), overwriting.
    pub async fn put_parameter(&self, name: &str, value: &str) -> io::Result<()> {
        self.aws_json(
            "ssm",
            "AmazonSSM.PutParameter",
            &json!({ "Name": name, "Value": value, "Type": "SecureString", "Overwrite": true }),
        )
        .await?;
        Ok(())
    }

    /// SSM `GetParameter` with decryption; `None` if the parameter does not exist.
    pub async fn get_parameter(&self, name: &str) -> io::Result<Option<String>> {
        match self.aws_json("ssm", "AmazonSSM.GetParameter", &json!({ "Name": name, "WithDecryption": true })).await {
            Ok(v) => Ok(v["Parameter"]["Value"].as_str().map(str::to_owned)),
            Err(e) if e.to_string().contains("ParameterNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DynamoDB `CreateTable` (on-demand billing).
    /// `attribute_definitions`: `(name, "S" | "N" | "B")`;
    /// `key_schema`: `(name, "HASH" | "RANGE")`.
    /// E.g. `create_table("orders", &[("pk", "S")], &[("pk", "HASH")])`.
    pub async fn create_table(
        &self,
        table: &str,
        attribute_definitions: &[(&str, &str)],
        key_schema: &[(&str, &str)],
    ) -> io::Result<()> {
        let defs: Vec<Value> =
            attribute_definitions.iter().map(|(n, t)| json!({ "AttributeName": n, "AttributeType": t })).collect();
        let keys: Vec<Value> = key_schema.iter().map(|(n, k)| json!({ "AttributeName": n, "KeyType": k })).collect();
        self.aws_json(
            "dynamodb",
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": table,
                "AttributeDefinitions": defs,
                "KeySchema": keys,
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .await?;
        Ok(())
    }

    /// The orders table as `template.yaml` declares it: partition key `pk`,
    /// the sparse `open-holds` index (`hold_state`, `expires_at`) the
    /// sweeper queries, and `payment-intents` (`payment_intent`) that maps a
    /// refund or dispute back to its order.
    pub async fn create_orders_table(&self, table: &str) -> io::Result<()> {
        self.aws_json(
            "dynamodb",
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": table,
                "AttributeDefinitions": [
                    { "AttributeName": "pk", "AttributeType": "S" },
                    { "AttributeName": "hold_state", "AttributeType": "S" },
                    { "AttributeName": "expires_at", "AttributeType": "N" },
                    { "AttributeName": "payment_intent", "AttributeType": "S" },
                ],
                "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
                "GlobalSecondaryIndexes": [{
                    "IndexName": "open-holds",
                    "KeySchema": [
                        { "AttributeName": "hold_state", "KeyType": "HASH" },
                        { "AttributeName": "expires_at", "KeyType": "RANGE" },
                    ],
                    "Projection": { "ProjectionType": "ALL" },
                }, {
                    "IndexName": "payment-intents",
                    "KeySchema": [{ "AttributeName": "payment_intent", "KeyType": "HASH" }],
                    "Projection": { "ProjectionType": "KEYS_ONLY" },
                }],
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .await?;
        Ok(())
    }

    /// DynamoDB `Scan` of a whole table (follows pagination); items in
    /// DynamoDB JSON (`{"pk": {"S": "..."}}`).
    pub async fn scan_table(&self, table: &str) -> io::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut req = json!({ "TableName": table });
            if let Some(k) = start.take() {
                req["ExclusiveStartKey"] = k;
            }
            let mut resp = self.aws_json("dynamodb", "DynamoDB_20120810.Scan", &req).await?;
            if let Some(Value::Array(page)) = resp.get_mut("Items").map(Value::take) {
                items.extend(page);
            }
            match resp.get_mut("LastEvaluatedKey").map(Value::take) {
                Some(k) if !k.is_null() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// SES v1 `VerifyEmailIdentity`. moto refuses to send (v1 and v2) from an
    /// unverified address ("Email address not verified"); a v1 verification is
    /// immediate and also counts for SES v2 `SendEmail` (shared backend).
    pub async fn verify_email_identity(&self, address: &str) -> io::Result<()> {
        self.aws_query(
            "ses",
            &[("Action", "VerifyEmailIdentity"), ("Version", "2010-12-01"), ("EmailAddress", address)],
        )
        .await?;
        Ok(())
    }

    /// SES v1 `VerifyDomainIdentity`: any address at `domain` may then send.
    pub async fn verify_domain_identity(&self, domain: &str) -> io::Result<()> {
        self.aws_query("ses", &[("Action", "VerifyDomainIdentity"), ("Version", "2010-12-01"), ("Domain", domain)])
            .await?;
        Ok(())
    }

    /// Deletes a verified identity (domain or address): SES then refuses to
    /// send from it, as when an identity loses its verification.
    pub async fn delete_identity(&self, identity: &str) -> io::Result<()> {
        self.aws_query("ses", &[("Action", "DeleteIdentity"), ("Version", "2010-12-01"), ("Identity", identity)])
            .await?;
        Ok(())
    }

    /// One HTTP/1.1 request to moto; returns status and body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, Vec<u8>)> {
        http_request(SocketAddr::from(([127, 0, 0, 1], self.port)), method, path, headers, body).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000"
    )
}

fn check_status(what: &str, status: u16, body: &[u8]) -> io::Result<()> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(io::Error::other(format!("moto {what}: HTTP {status}: {}", String::from_utf8_lossy(body))))
    }
}

fn free_port() -> io::Result<u16> {
    Ok(StdTcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn looks_like_html(body: &str) -> bool {
    body.trim_start().starts_with('<')
}

/// Parse the `ses` section of moto's `data.json` into [`SentEmail`]s.
pub fn parse_sent_emails(data: &Value) -> Vec<SentEmail> {
    let ses = &data["ses"];
    let mut out = Vec::new();
    for m in ses["Message"].as_array().into_iter().flatten() {
        let body = m["body"].as_str().unwrap_or_default().to_owned();
        let d = &m["destinations"];
        let (text, html) = if looks_like_html(&body) { (None, Some(body.clone())) } else { (Some(body.clone()), None) };
        out.push(SentEmail {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            from: m["source"].as_str().unwrap_or_default().to_owned(),
            to: strings(&d["ToAddresses"]),
            cc: strings(&d["CcAddresses"]),
            bcc: strings(&d["BccAddresses"]),
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            body,
            text,
            html,
            raw: None,
        });
    }
    for m in ses["RawMessage"].as_array().into_iter().flatten() {
        let raw = m["raw_data"].as_str().unwrap_or_default().to_owned();
        let from = m["source"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| raw_header(&raw, "From"))
            .unwrap_or_default();
        out.push(SentEmail {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            from,
            to: strings(&m["destinations"]),
            cc: Vec::new(),
            bcc: Vec::new(),
            subject: raw_header(&raw, "Subject").unwrap_or_default(),
            body: String::new(),
            text: None,
            html: None,
            raw: Some(raw),
        });
    }
    out
}

/// First header `name` of a MIME message (unfolded, not decoded).
fn raw_header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let head = head.split("\n\n").next().unwrap_or(head);
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

/// One HTTP/1.1 request on a fresh connection (none is kept for reuse, so
/// nothing outlives the caller's runtime); returns status and body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(u16, Vec<u8>)> {
    let mut request = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request =
        request.body(Body::from(body.to_vec())).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
    let response = client.request(request).await.map_err(io::Error::other)?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await.map_err(io::Error::other)?;
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_header_unfolds() {
        let raw = "From: a@x\r\nSubject: Hello\r\n  world\r\nTo: b@y\r\n\r\nSubject: body";
        assert_eq!(raw_header(raw, "subject").as_deref(), Some("Hello world"));
        assert_eq!(raw_header(raw, "To").as_deref(), Some("b@y"));
    }

    fn pid_alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moto_round_trip() {
        let moto = Moto::start().await.expect("start moto");
        let pid = moto.pid();
        assert!(pid_alive(pid));
        assert!(moto.endpoint_url().starts_with("http://127.0.0.1:"));
        let env = moto.aws_env();
        assert!(env.contains(&("AWS_ENDPOINT_URL".into(), moto.endpoint_url())));
        assert!(env.contains(&("AWS_REGION".into(), "us-east-1".into())));

        // SSM SecureString, overwrite, read back decrypted.
        moto.put_parameter("/tdf/test/secret", "s3cr3t").await.unwrap();
        moto.put_parameter("/tdf/test/secret", "s3cr3t-2").await.unwrap();
        assert_eq!(moto.get_parameter("/tdf/test/secret").await.unwrap().as_deref(), Some("s3cr3t-2"));
        assert_eq!(moto.get_parameter("/tdf/test/missing").await.unwrap(), None);

        // DynamoDB table.
        moto.create_table("orders", &[("pk", "S")], &[("pk", "HASH")]).await.unwrap();
        let desc = moto
            .aws_json("dynamodb", "DynamoDB_20120810.DescribeTable", &json!({"TableName": "orders"}))
            .await
            .unwrap();
        assert_eq!(desc["Table"]["KeySchema"][0]["AttributeName"], "pk");
        moto.aws_json(
            "dynamodb",
            "DynamoDB_20120810.PutItem",
            &json!({"TableName": "orders", "Item": {"pk": {"S": "order#1"}}}),
        )
        .await
        .unwrap();
        let items = moto.scan_table("orders").await.unwrap();
        assert_eq!(items, vec![json!({"pk": {"S": "order#1"}})]);
        let dup = moto.create_table("orders", &[("pk", "S")], &[("pk", "HASH")]).await;
        assert!(dup.unwrap_err().to_string().contains("ResourceInUseException"));

        // SES: sending from an unverified identity fails; after verifying, v2 SendEmail
        // shows up in data.json.
        let send = |from: &str| {
            json!({
                "FromEmailAddress": from,
                "Destination": {"ToAddresses": ["buyer@example.com"], "BccAddresses": ["audit@example.com"]},
                "Content": {"Simple": {
                    "Subject": {"Data": "Your tickets"},
                    "Body": {"Text": {"Data": "plain votekey ABC"}, "Html": {"Data": "<p>votekey ABC</p>"}}
                }}
            })
        };
        let m = &moto;
        let v2 = |body: Value| async move {
            let auth = authorization("ses");
            let payload = serde_json::to_vec(&body).unwrap();
            m.request(
                "POST",
                "/v2/email/outbound-emails",
                &[("Authorization", &auth), ("Content-Type", "application/json")],
                &payload,
            )
            .await
            .unwrap()
        };
        let (status, _) = v2(send("tickets@example.com")).await;
        assert_eq!(status, 400, "moto should refuse unverified senders");
        moto.verify_email_identity("tickets@example.com").await.unwrap();
        let (status, body) = v2(send("tickets@example.com")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let message_id = serde_json::from_slice::<Value>(&body).unwrap()["MessageId"].as_str().unwrap().to_owned();
        // Domain identity with a display name; text-only body.
        moto.verify_domain_identity("example.org").await.unwrap();
        let mut text_only = send("Tickets <tickets@example.org>");
        text_only["Content"]["Simple"]["Body"] = json!({"Text": {"Data": "only text"}});
        let (status, body) = v2(text_only).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

        let sent = moto.sent_emails().await.unwrap();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0].id, message_id);
        assert_eq!(sent[0].from, "tickets@example.com");
        assert_eq!(sent[0].to, vec!["buyer@example.com"]);
        assert_eq!(sent[0].bcc, vec!["audit@example.com"]);
        assert_eq!(sent[0].subject, "Your tickets");
        assert_eq!(sent[0].html.as_deref(), Some("<p>votekey ABC</p>"));
        assert_eq!(sent[0].text, None, "moto drops the text part when there is HTML");
        assert_eq!(sent[1].from, "Tickets <tickets@example.org>");
        assert_eq!(sent[1].text.as_deref(), Some("only text"));
        assert_eq!(sent[1].html, None);

        // Reset forgets everything.
        moto.reset().await.unwrap();
        assert!(moto.sent_emails().await.unwrap().is_empty());
        assert_eq!(moto.get_parameter("/tdf/test/secret").await.unwrap(), None);
        assert!(moto.scan_table("orders").await.is_err());

        // Drop kills and reaps the process.
        drop(moto);
        assert!(!pid_alive(pid), "moto_server (pid {pid}) still alive after drop");
    }
}
