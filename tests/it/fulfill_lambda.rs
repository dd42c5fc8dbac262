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
        Lambda::start_with(example_config(), "tokyodemofest.example").await
    }

    /// With this config, sending from `sender_domain` (verified in moto).
    async fn start_with(config: Value, sender_domain: &str) -> Lambda {
        let moto = moto().await;
        moto.verify_domain_identity(sender_domain).await.unwrap();
        let table = unique_name("orders");
        moto.create_orders_table(&table).await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("fulfill-lambda"));
        moto.put_parameter(&parameter, &config.to_string()).await.unwrap();

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

/// The sender's identity loses its verification: SES refuses, the delivery is
/// a 5xx and the claim is given up; once the identity is back, the very next
/// delivery sends, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sender_then_restored_sends_on_the_very_next_delivery() {
    // A domain of its own: the shared moto's other tests keep theirs.
    let domain = format!("{}.example", unique_name("refused"));
    let mut config = example_config();
    config["email_from"] = format!("Tokyo Demo Fest <tickets@{domain}>").into();
    let mut lambda = Lambda::start_with(config, &domain).await;
    let (id, buyer) = lambda.bronze(PaymentOutcome::Paid).await;
    let completed = fulfill_event("fulfill-completed.json", Some(&id), true);

    lambda.moto.delete_identity(&domain).await.unwrap();
    let refused = lambda.invoke(completed.clone()).await;
    assert_eq!(status(&refused), 500, "{refused}\n{}", lambda.logs());
    assert!(lambda.emails_to(&buyer.email).await.is_empty());
    let alerts: Vec<Value> =
        json_lines(&lambda.logs()).into_iter().filter(|l| field(l, "alert") == "mail_refused").collect();
    assert_eq!(alerts.len(), 1, "one mail_refused alert: {}", lambda.logs());
    assert_eq!(alerts[0]["level"], "ERROR");

    lambda.moto.verify_domain_identity(&domain).await.unwrap();
    let sent = lambda.invoke(completed.clone()).await;
    assert_eq!((status(&sent), outcome(&sent)), (200, "emailed".to_owned()), "{sent}");
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);
    let again = lambda.invoke(completed).await;
    assert_eq!((status(&again), outcome(&again)), (200, "already_emailed".to_owned()));
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1, "exactly one email");
    assert_nothing_secret("the function's logs", &lambda.logs(), &buyer);
    lambda.assert_alive();
}

/// A signed event for a session the secret key cannot see (the webhook
/// secret and the key of different accounts or modes) is a 5xx with an alert;
/// a paid session without this shop's mark (a Payment Link, another
/// integration) is acknowledged and gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sessions_are_5xx_and_sessions_not_ours_are_not_applicable() {
    let mut lambda = Lambda::start().await;
    let unknown = lambda.invoke(fulfill_event("fulfill-completed.json", Some("cs_test_NotKnownToStripe"), true)).await;
    assert_eq!(status(&unknown), 503, "{unknown}");
    let alerts: Vec<Value> =
        json_lines(&lambda.logs()).into_iter().filter(|l| field(l, "alert") == "webhook_mismatch").collect();
    assert_eq!(alerts.len(), 1, "{}", lambda.logs());

    // Another integration's paid session on the same account: no shop mark.
    use tickets::stripe::Payments as _;
    let payments = StripeApi::new(lambda.stripe.api_base(), Duration::from_secs(5));
    let config = tickets::config::Config::from_json(&example_config().to_string()).unwrap();
    let order = tickets::order::TicketOrder::from_form(config.catalog(), b"type=visitor").unwrap();
    let mut request = tickets::session::SessionRequest::for_order(&config, &order);
    request.metadata.remove("tdf_shop");
    let created = payments.create_checkout_session(config.stripe_secret_key(), &request).await.unwrap();
    let buyer = Buyer { email: unique_email("not-ours"), name: "Someone Else".into(), shipping: None };
    lambda.stripe.pay(&created.id, &buyer, PaymentOutcome::Paid).unwrap();
    let response = lambda.invoke(fulfill_event("fulfill-completed.json", Some(&created.id), true)).await;
    assert_eq!((status(&response), outcome(&response)), (200, "not_applicable".to_owned()), "{response}");
    assert!(lambda.emails_to(&buyer.email).await.is_empty(), "no votekey for it");
    let items = lambda.moto.scan_table(&lambda.table).await.unwrap();
    assert!(!items.iter().any(|i| i["pk"]["S"] == format!("session#{}", created.id)), "and no order");
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
    let query = return_query(&lambda.stripe, &id);
    let thanks = lambda.invoke(landing(&format!("{query}&utm=\"<>"))).await;
    assert_eq!(status(&thanks), 303, "{thanks}\n{}", lambda.logs());
    assert_eq!(header(&thanks, "location"), Some(THANKS_URL), "{thanks}");
    assert_eq!(lambda.emails_to(&buyer.email).await.len(), 1);
    for response in [&refused, &thanks] {
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"), "{response}");
    }
    lambda.assert_alive();
}
