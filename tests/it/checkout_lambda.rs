//! The real `checkout` binary under the Lambda Runtime API emulator: config
//! from SSM (moto, behind a counting proxy), sessions from the fake Stripe,
//! every events/checkout-*.json delivered raw, as Lambda delivers it.
//!
//! Needs `cargo build --bins` first (scripts/test does it).

use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testbed::moto::Moto;
use testbed::proxy::CountingProxy;
use testbed::runtime_api::InvocationRecord;
use testbed::stripe::{Failure, FakeStripe};

const GET_PARAMETER: &str = "AmazonSSM.GetParameter";
const CREATE_SESSION: &str = "/v1/checkout/sessions";
const SECRET_KEY: &str = "sk_test_replace_with_your_test_key";
const WEBHOOK_SECRET: &str = "whsec_local_development_secret";

/// One checkout container: the binary, the emulator feeding it, and what it talks to.
struct Lambda {
    moto: Arc<Moto>,
    proxy: CountingProxy,
    stripe: FakeStripe,
    container: Container,
    parameter: String,
}

impl Lambda {
    /// Starts the binary with `CONFIG_PARAMETER` = `parameter` (which need not exist yet).
    async fn start(parameter: String) -> Lambda {
        let moto = moto().await;
        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        let stripe = FakeStripe::start().await.unwrap();
        let container = Container::start("checkout", &proxy, &stripe, &[("CONFIG_PARAMETER", &parameter)]).await;
        Lambda { moto, proxy, stripe, container, parameter }
    }

    /// With the example config already in SSM under a fresh name.
    async fn with_example_config() -> Lambda {
        let parameter = format!("/tdf-tickets/{}", unique_name("lambda"));
        // Held across the start: the last holder of the shared moto stops it.
        let moto = moto().await;
        moto.put_parameter(&parameter, &example_config().to_string()).await.unwrap();
        Lambda::start(parameter).await
    }

    /// Delivers `event` and returns the function's response (an API Gateway
    /// payload 2.0 response) with its timings. The function must not error.
    async fn invoke(&mut self, event: Value) -> (Value, InvocationRecord) {
        self.container.invoke(event).await
    }

    async fn invoke_status(&mut self, event: Value) -> u16 {
        status(&self.invoke(event).await.0)
    }

    fn creates(&self) -> usize {
        self.stripe.requests().iter().filter(|r| r.method == "POST" && r.path == CREATE_SESSION).count()
    }

    fn logs(&self) -> String {
        self.container.logs()
    }

    fn assert_alive(&mut self) {
        self.container.assert_alive();
    }
}

fn body(response: &Value) -> &str {
    response["body"].as_str().unwrap_or_default()
}

/// Every events/checkout-*.json with its expected status, sorted by name.
fn checkout_events() -> Vec<(String, Value, u16)> {
    let expected = event_json("expected-status.json");
    let names = event_names("checkout-");
    assert!(names.len() >= 8, "{names:?}");
    names
        .into_iter()
        .map(|name| {
            let status = expected[&name].as_u64().unwrap_or_else(|| panic!("{name} has no expected status"));
            let event = event_json(&name);
            (name, event, status as u16)
        })
        .collect()
}

/// The per-request log lines (`route = "checkout"`), in order.
fn request_lines(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| field(l, "route") == "checkout").collect()
}

fn assert_no_secrets(what: &str, text: &str) {
    assert!(!text.contains(SECRET_KEY), "{what} contains the Stripe secret key:\n{text}");
    assert!(!text.contains(WEBHOOK_SECRET), "{what} contains the webhook secret:\n{text}");
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checkout_event_through_the_real_binary() {
    const ROUNDS: usize = 3;
    let mut lambda = Lambda::with_example_config().await;
    let events = checkout_events();
    let mut expected_statuses = Vec::new();
    let mut records = Vec::new();
    for round in 0..ROUNDS {
        for (name, event, expected) in &events {
            let before = lambda.creates();
            let (response, record) = lambda.invoke(event.clone()).await;
            let got = status(&response);
            assert_eq!(got, *expected, "round {round}, {name}: {response}");
            assert_no_secrets(name, &response.to_string());
            if got == 303 {
                assert_eq!(lambda.creates(), before + 1, "{name}: one Stripe call per redirect");
                let location =
                    header(&response, "location").unwrap_or_else(|| panic!("{name}: no Location: {response}"));
                assert!(location.starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{name}: {location}");
                let session_id = location.rsplit('/').next().unwrap();
                let session =
                    lambda.stripe.session(session_id).unwrap_or_else(|| panic!("{name}: no session {session_id}"));
                assert_eq!(session["url"], location, "{name}");
                assert_eq!(header(&response, "cache-control"), Some("no-store"), "{name}: {response}");
            } else {
                assert_eq!(lambda.creates(), before, "{name}: a refused request must not reach Stripe");
                assert!(!body(&response).trim().is_empty(), "{name}: errors say why: {response}");
            }
            expected_statuses.push(got);
            records.push(record);
        }
        lambda.assert_alive();
    }
    let invocations = events.len() * ROUNDS;
    let redirects = events.iter().filter(|(_, _, s)| *s == 303).count() * ROUNDS;
    assert!(redirects > 0);

    // One SSM read for the container's whole life, and no other AWS call.
    assert_eq!(lambda.proxy.counts(), BTreeMap::from([(GET_PARAMETER.to_owned(), 1)]));
    // Stripe saw exactly the redirects' session creations, nothing else.
    let requests = lambda.stripe.requests();
    assert_eq!(requests.len(), redirects, "{requests:#?}");
    assert_eq!(lambda.creates(), redirects);
    assert!(requests.iter().all(|r| r.bearer.as_deref() == Some(SECRET_KEY)));

    // Logs: JSON lines, one request line per invocation, in order, no secrets.
    let logs = lambda.logs();
    assert_no_secrets("the function's logs", &logs);
    let lines = json_lines(&logs);
    let requests = request_lines(&lines);
    assert_eq!(requests.len(), invocations, "one request line per invocation:\n{logs}");
    for ((line, status), record) in requests.iter().zip(&expected_statuses).zip(&records) {
        assert_eq!(field(line, "status"), &json!(status), "{line}");
        assert!(field(line, "outcome").is_string(), "{line}");
        assert!(field(line, "latency_ms").as_f64().is_some_and(|ms| ms >= 0.0), "latency: {line}");
        assert_eq!(line["span"]["requestId"], record.request_id, "logged in the invocation's span: {line}");
    }
    assert_eq!(lines.iter().filter(|l| field(l, "message") == "config loaded").count(), 1, "{logs}");

    let first_next = lambda.container.api.first_next_at().unwrap();
    let warm: Vec<f64> = records[1..].iter().map(|r| ms(r.latency())).collect();
    eprintln!(
        "checkout binary: init {} ms; first invocation {} ms (SSM + Stripe); warm {} invocations max {} ms, mean {:.2} ms",
        ms(first_next - lambda.container.function.spawned_at()),
        ms(records[0].latency()),
        warm.len(),
        warm.iter().cloned().fold(0.0, f64::max),
        warm.iter().sum::<f64>() / warm.len() as f64,
    );
    lambda.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_config_answers_503_until_the_parameter_exists() {
    let parameter = format!("/tdf-tickets/{}", unique_name("lambda-missing"));
    let mut lambda = Lambda::start(parameter).await;
    let visitor = event_json("checkout-visitor.json");
    for attempt in 1..=3 {
        let (response, _) = lambda.invoke(visitor.clone()).await;
        assert_eq!(status(&response), 503, "attempt {attempt}: {response}");
        assert!(body(&response).contains("not available right now"), "{response}");
        lambda.assert_alive();
        // Nothing was cached: every request asks SSM again.
        assert_eq!(lambda.proxy.count(GET_PARAMETER), attempt);
    }
    assert!(lambda.stripe.requests().is_empty());

    lambda.moto.put_parameter(&lambda.parameter, &example_config().to_string()).await.unwrap();
    let (response, _) = lambda.invoke(visitor.clone()).await;
    assert_eq!(status(&response), 303, "the next request picks the config up: {response}");
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 4);
    // ...and from then on it is cached.
    assert_eq!(lambda.invoke_status(visitor).await, 303);
    assert_eq!(lambda.proxy.counts(), BTreeMap::from([(GET_PARAMETER.to_owned(), 4)]));
    assert_eq!(lambda.creates(), 2);

    let logs = lambda.logs();
    assert_no_secrets("the function's logs", &logs);
    let lines = json_lines(&logs);
    let outcomes: Vec<&Value> = request_lines(&lines).iter().map(|l| field(l, "outcome")).collect();
    assert_eq!(outcomes, ["config_unavailable", "config_unavailable", "config_unavailable", "redirect", "redirect"]);
    lambda.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_fault_is_a_502_and_the_next_request_works() {
    let mut lambda = Lambda::with_example_config().await;
    let visitor = event_json("checkout-visitor.json");
    lambda.stripe.fail_next([Failure::Status(500)]);
    let (failed, _) = lambda.invoke(visitor.clone()).await;
    assert_eq!(status(&failed), 502, "{failed}");
    assert!(body(&failed).contains("The payment service could not be reached"), "{failed}");
    assert!(!body(&failed).contains("Injected fault"), "Stripe's message is logged, not shown: {failed}");
    assert_eq!(lambda.creates(), 1, "no retry of a failed session creation");
    lambda.assert_alive();

    let (ok, _) = lambda.invoke(visitor).await;
    assert_eq!(status(&ok), 303, "{ok}");
    assert_eq!(lambda.creates(), 2);
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 1);

    let logs = lambda.logs();
    assert_no_secrets("the function's logs", &logs);
    let lines = json_lines(&logs);
    let requests = request_lines(&lines);
    assert_eq!(requests.len(), 2, "{logs}");
    assert_eq!(requests[0]["level"], "ERROR", "{}", requests[0]);
    assert_eq!(field(requests[0], "outcome"), "stripe_error");
    assert_eq!(field(requests[0], "status"), 502);
    assert!(field(requests[0], "error").as_str().is_some_and(|e| e.contains("500")), "{}", requests[0]);
    assert_eq!(field(requests[1], "outcome"), "redirect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_faults_are_retried_by_the_sdk_or_answered_503() {
    let mut lambda = Lambda::with_example_config().await;
    let visitor = event_json("checkout-visitor.json");

    // One transient SSM failure on the first load: the SDK retries it.
    lambda.proxy.fail_next(GET_PARAMETER, 500, 1);
    let started = Instant::now();
    assert_eq!(lambda.invoke_status(visitor.clone()).await, 303, "{}", lambda.logs());
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 2, "one failed attempt, one retry");
    assert_eq!(lambda.proxy.pending_faults(GET_PARAMETER), 0);
    eprintln!("SSM 500 then retry: {} ms", ms(started.elapsed()));

    // SSM throttling past the SDK's attempts on a fresh container: 503, not a crash.
    let mut fresh = Lambda::start(lambda.parameter.clone()).await;
    fresh.proxy.fail_next(GET_PARAMETER, 400, 10);
    assert_eq!(fresh.invoke_status(visitor.clone()).await, 503, "{}", fresh.logs());
    let attempts = fresh.proxy.count(GET_PARAMETER);
    assert!(attempts >= 2, "throttling is retried ({attempts} attempts)");
    assert_eq!(fresh.proxy.pending_faults(GET_PARAMETER), 10 - attempts);
    fresh.assert_alive();
    fresh.proxy.clear_faults();
    assert_eq!(fresh.invoke_status(visitor).await, 303, "{}", fresh.logs());
    assert_eq!(fresh.proxy.count(GET_PARAMETER), attempts + 1);
    assert_no_secrets("the function's logs", &fresh.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_ssm_answer_does_not_leak_the_config_into_logs() {
    let mut lambda = Lambda::with_example_config().await;
    let visitor = event_json("checkout-visitor.json");
    let malformed = json!({"Parameter": {
        "Name": lambda.parameter, "Type": "SecureString", "Value": example_config().to_string(), "Version": "one",
    }});
    lambda.proxy.respond_next(GET_PARAMETER, 200, malformed.to_string(), 1);
    assert_eq!(lambda.invoke_status(visitor.clone()).await, 503, "{}", lambda.logs());
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 1);
    assert_no_secrets("the function's logs", &lambda.logs());
    assert_eq!(lambda.invoke_status(visitor).await, 303);
}

/// `event` with this raw query string, as curl or a browser sends it unencoded.
fn with_raw_query(mut event: Value, query: &str) -> Value {
    event["rawQueryString"] = query.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_quote_or_angle_bracket_in_the_query_is_answered_and_the_container_lives() {
    let mut lambda = Lambda::with_example_config().await;
    let visitor = event_json("checkout-visitor.json");
    let mut availability = event_json("checkout-get.json");
    availability["rawPath"] = "/availability".into();
    availability["routeKey"] = "GET /availability".into();

    // lambda_http's own conversion panicked on these (and panic = "abort" ended the container).
    let (checkout, _) = lambda.invoke(with_raw_query(visitor.clone(), "x=\"<>")).await;
    assert_eq!(status(&checkout), 303, "the unknown parameter is ignored: {checkout}");
    lambda.assert_alive();
    let (available, _) = lambda.invoke(with_raw_query(availability, "\"<>")).await;
    assert_eq!(status(&available), 200, "{available}");
    let report: Value = serde_json::from_str(body(&available)).unwrap();
    assert!(report.is_object(), "{available}");
    lambda.assert_alive();

    // The same container answers the next request.
    let (next, _) = lambda.invoke(visitor).await;
    assert_eq!(status(&next), 303, "{next}");
    for response in [&checkout, &available, &next] {
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"), "{response}");
    }
    assert_eq!(lambda.creates(), 2);
    lambda.assert_alive();
}
