//! The real `fulfill` binary under the Lambda Runtime API emulator: config
//! from SSM, the ledger in DynamoDB and mail through SES (moto, behind a
//! counting proxy given as `AWS_ENDPOINT_URL`), sessions from the fake Stripe
//! (`STRIPE_API_BASE`), events from events/fulfill-*.json re-signed for now.
//!
//! Needs `cargo build --bins` first (scripts/test does it); `TDF_BIN_DIR=target/release`
//! runs the release build.

use crate::support::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use testbed::moto::{Moto, SentEmail};
use testbed::proxy::CountingProxy;
use testbed::stripe::{Address, Buyer, FakeStripe, PaymentOutcome};
use tickets::checkout::Checkout;
use tickets::config::{ConfigCache, SsmSource};
use tickets::stripe::StripeApi;

const GET_PARAMETER: &str = "AmazonSSM.GetParameter";
const SEND_EMAIL: &str = "POST /v2/email/outbound-emails";
const SECRET_KEY: &str = "sk_test_replace_with_your_test_key";
const THANKS_URL: &str = "http://127.0.0.1:3000/thanks";
const ADDRESS_LINE: &str = "1-2-3 Jinnan";

/// One fulfill container: the binary, the emulator feeding it, and what it talks to.
struct Lambda {
    moto: Arc<Moto>,
    proxy: CountingProxy,
    stripe: FakeStripe,
    checkout: Checkout,
    container: Container,
    table: String,
}

impl Lambda {
    async fn start() -> Lambda {
        let moto = moto().await;
        moto.verify_domain_identity("tokyodemofest.example").await.unwrap();
        let table = unique_name("orders");
        moto.create_orders_table(&table).await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("fulfill-lambda"));
        moto.put_parameter(&parameter, &example_config().to_string()).await.unwrap();

        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        let stripe = FakeStripe::start().await.unwrap();
        // The test's own checkout (straight to moto, so the proxy counts only the function's calls).
        let ssm = aws_sdk_ssm::Client::new(&aws_config(&moto));
        let checkout = Checkout::new(
            Arc::new(ConfigCache::new(Box::new(SsmSource::new(ssm, parameter.clone())), Duration::from_secs(300))),
            Arc::new(StripeApi::new(stripe.api_base(), Duration::from_secs(5))),
        );
        let settings = [("CONFIG_PARAMETER", parameter.as_str()), ("ORDERS_TABLE", table.as_str())];
        let container = Container::start("fulfill", &proxy, &stripe, &settings).await;
        Lambda { moto, proxy, stripe, checkout, container, table }
    }

    /// A paid (or pending) bronze session with a buyer of its own.
    async fn bronze(&self, outcome: PaymentOutcome) -> (String, Buyer) {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://tickets.example.org/checkout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(lambda_http::Body::Text("type=bronze&tshirt=l".into()))
            .unwrap();
        let response = self.checkout.handle(request).await;
        assert_eq!(response.status(), 303);
        let id = response.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let buyer = Buyer {
            email: unique_email("lambda-buyer"),
            name: "Hanako Yamada".into(),
            shipping: Some(Address {
                line1: ADDRESS_LINE.into(),
                line2: Some("Demo Building 4F".into()),
                city: "Shibuya-ku".into(),
                state: Some("Tokyo".into()),
                postal_code: "150-0041".into(),
                country: "JP".into(),
            }),
        };
        self.stripe.pay(&id, &buyer, outcome).unwrap();
        (id, buyer)
    }

    /// Delivers `event` and returns the function's API Gateway response. The function must not error.
    async fn invoke(&mut self, event: Value) -> Value {
        self.container.invoke(event).await.0
    }

    async fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        self.moto.sent_emails().await.unwrap().into_iter().filter(|m| m.recipients().any(|r| r == address)).collect()
    }

    fn stripe_reads(&self) -> usize {
        self.stripe.requests().iter().filter(|r| r.method == "GET").count()
    }

    fn logs(&self) -> String {
        self.container.logs()
    }

    fn assert_alive(&mut self) {
        self.container.assert_alive();
    }
}

/// events/<name> about `session_id`, re-signed now with the local secret unless `resign` is false.
fn fulfill_event(name: &str, session_id: Option<&str>, resign: bool) -> Value {
    let mut event = event_json(name);
    if let Some(id) = session_id {
        event = retarget_event(&event, id);
    }
    if resign {
        event = resign_event(&event, LOCAL_WEBHOOK_SECRET, unix_now());
    }
    event
}

fn outcome(response: &Value) -> String {
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| panic!("not a JSON body: {response}"));
    body["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {response}")).to_owned()
}

fn assert_nothing_secret(what: &str, text: &str, buyer: &Buyer) {
    assert!(!text.contains(SECRET_KEY), "{what} contains the Stripe secret key:\n{text}");
    assert!(!text.contains(LOCAL_WEBHOOK_SECRET), "{what} contains the webhook secret:\n{text}");
    assert!(!text.contains(&buyer.email), "{what} contains the buyer's email address:\n{text}");
    assert!(!text.contains(ADDRESS_LINE), "{what} contains the buyer's postal address:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_session_through_the_real_binary_gets_one_email() {
    let mut lambda = Lambda::start().await;
    let (id, buyer) = lambda.bronze(PaymentOutcome::Paid).await;
    let completed = fulfill_event("fulfill-completed.json", Some(&id), true);

    let first = lambda.invoke(completed.clone()).await;
    assert_eq!(status(&first), 200, "{first}\n{}", lambda.logs());
    assert_eq!(outcome(&first), "emailed");
    let emails = lambda.emails_to(&buyer.email).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(emails[0].html.as_deref().unwrap().contains("Bronze ticket"));
    let items = lambda.moto.scan_table(&lambda.table).await.unwrap();
    let order = items.iter().find(|i| i["pk"]["S"] == format!("session#{id}")).expect("the order");
    assert_eq!(order["status"]["S"], "emailed", "{order}");
    let votekey = order["votekey"]["S"].as_str().unwrap();
    assert!(emails[0].html.as_deref().unwrap().contains(votekey));

    // The same event again: 200, no email, no Stripe call.
    let reads = lambda.stripe_reads();
    let again = lambda.invoke(completed).await;
    assert_eq!(status(&again), 200, "{again}");
    assert_eq!(outcome(&again), "already_emailed");
    assert_eq!(lambda.stripe_reads(), reads, "the ledger answers a redelivery");
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);

    // A bad signature: 400, nothing else.
    let bad = lambda.invoke(fulfill_event("fulfill-bad-signature.json", Some(&id), false)).await;
    assert_eq!(status(&bad), 400, "{bad}");
    assert!(bad["body"].as_str().unwrap().contains("no signature matches"), "{bad}");
    assert_eq!(lambda.stripe_reads(), reads);

    // The buyer's browser returns: 303 to the thank-you page, nothing sent.
    let landing = lambda.invoke(fulfill_event("fulfill-landing.json", Some(&id), false)).await;
    assert_eq!(status(&landing), 303, "{landing}");
    assert_eq!(header(&landing, "location"), Some(THANKS_URL), "{landing}");
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);
    lambda.assert_alive();

    // AWS: one SSM read for the container, one SendEmail in all.
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 1, "{:?}", lambda.proxy.counts());
    assert_eq!(lambda.proxy.count(SEND_EMAIL), 1, "{:?}", lambda.proxy.counts());
    assert!(lambda.stripe.requests().iter().all(|r| r.bearer.as_deref() == Some(SECRET_KEY)));

    // Logs: JSON lines, one request line per invocation, nothing secret or personal.
    let logs = lambda.logs();
    assert_nothing_secret("the function's logs", &logs, &buyer);
    for response in [&first, &again, &bad, &landing] {
        assert_nothing_secret("a response", &response.to_string(), &buyer);
    }
    let lines = json_lines(&logs);
    let requests: Vec<&Value> = lines.iter().filter(|l| field(l, "route") == "fulfill").collect();
    let seen: Vec<(u64, &str)> = requests
        .iter()
        .map(|l| (field(l, "status").as_u64().unwrap(), field(l, "outcome").as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [(200, "emailed"), (200, "already_emailed"), (400, "bad_signature"), (303, "already_emailed")],
        "{logs}"
    );
    assert!(requests.iter().take(2).all(|l| field(l, "session") == id.as_str()), "{logs}");
    lambda.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_payment_through_the_real_binary() {
    let mut lambda = Lambda::start().await;
    let (id, buyer) = lambda.bronze(PaymentOutcome::Pending).await;
    let completed = lambda.invoke(fulfill_event("fulfill-completed.json", Some(&id), true)).await;
    assert_eq!(status(&completed), 200, "{completed}");
    assert_eq!(outcome(&completed), "awaiting_payment");
    assert!(lambda.emails_to(&buyer.email).await.is_empty());
    let unpaid_landing = lambda.invoke(fulfill_event("fulfill-landing.json", Some(&id), false)).await;
    assert_eq!(status(&unpaid_landing), 200, "{unpaid_landing}");
    assert!(lambda.emails_to(&buyer.email).await.is_empty());

    lambda.stripe.settle_async_payment(&id, true).unwrap();
    for expected in ["emailed", "already_emailed"] {
        let settled = lambda.invoke(fulfill_event("fulfill-async-succeeded.json", Some(&id), true)).await;
        assert_eq!(status(&settled), 200, "{settled}");
        assert_eq!(outcome(&settled), expected);
    }
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);

    let ignored = lambda.invoke(fulfill_event("fulfill-ignored.json", None, true)).await;
    assert_eq!((status(&ignored), outcome(&ignored)), (200, "ignored".to_owned()));
    assert_eq!(lambda.proxy.count(GET_PARAMETER), 1);
    assert_nothing_secret("the function's logs", &lambda.logs(), &buyer);
    lambda.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_quote_or_angle_bracket_in_the_query_is_answered_and_the_container_lives() {
    let mut lambda = Lambda::start().await;
    let landing = |query: &str| {
        let mut event = event_json("fulfill-landing.json");
        event["rawQueryString"] = query.into();
        event
    };
    // lambda_http's own conversion panicked on this (and panic = "abort" ended the container).
    let refused = lambda.invoke(landing("session_id=\"<>")).await;
    assert_eq!(status(&refused), 400, "{refused}");
    assert!(refused["body"].as_str().unwrap().contains("session_id"), "{refused}");
    lambda.assert_alive();

    // The same container answers the next request, and a stray `"<>` changes nothing else.
    let (id, buyer) = lambda.bronze(PaymentOutcome::Paid).await;
    let thanks = lambda.invoke(landing(&format!("session_id={id}&utm=\"<>"))).await;
    assert_eq!(status(&thanks), 303, "{thanks}\n{}", lambda.logs());
    assert_eq!(header(&thanks, "location"), Some(THANKS_URL), "{thanks}");
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);
    for response in [&refused, &thanks] {
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"), "{response}");
    }
    lambda.assert_alive();
}
