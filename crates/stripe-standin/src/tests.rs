//! The stand-in over HTTP, as a client (async-stripe, a browser) meets it.

use crate::store::lock;
use crate::{Buyer, FakeStripe, FakeStripeOptions, HostedCheckout, PayError, PaymentOutcome, now_unix};
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod catalog;
mod money;

const KEY: &str = "Bearer sk_test_standin";
const FORM: &str = "application/x-www-form-urlencoded";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let response = client.request(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let (parts, incoming) = response.into_parts();
    let body = axum::body::to_bytes(Body::new(incoming), usize::MAX).await.unwrap().to_vec();
    Answer { status: parts.status.as_u16(), headers: parts.headers, body }
}

/// An API call with a test-mode key; `idempotency_key` as the header.
async fn api(fake: &FakeStripe, method: &str, path: &str, form: &str, idempotency_key: Option<&str>) -> Answer {
    let mut headers = vec![("authorization", KEY), ("content-type", FORM)];
    headers.extend(idempotency_key.map(|key| ("idempotency-key", key)));
    send(&format!("{}{path}", fake.api_base()), method, &headers, form).await
}

/// A create form for one visitor ticket, with these extra parameters.
fn session_form(extra: &str) -> String {
    let base = "mode=payment&success_url=https%3A%2F%2Fshop.example%2Fok&cancel_url=https%3A%2F%2Fshop.example%2Fback\
                &line_items[0][price]=price_1TdfVisitorTicket&line_items[0][quantity]=1";
    if extra.is_empty() { base.to_owned() } else { format!("{base}&{extra}") }
}

async fn create(fake: &FakeStripe, extra: &str) -> Value {
    let answer = api(fake, "POST", "/v1/checkout/sessions", &session_form(extra), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn buyer() -> Buyer {
    Buyer { email: "buyer@example.com".into(), name: "Buyer".into(), shipping: None }
}

/// Moves a stored session's `expires_at` (the stand-in has no clock to turn).
fn set_expires_at(fake: &FakeStripe, id: &str, at: i64) {
    lock(&fake.store).sessions.get_mut(id).unwrap()["expires_at"] = json!(at);
}

#[tokio::test]
async fn expires_at_is_stored_and_checked_as_stripe_does() {
    let fake = FakeStripe::start().await.unwrap();
    let now = now_unix();
    let hold = now + 45 * 60;
    let session = create(&fake, &format!("expires_at={hold}&metadata[hold_id]=hold_123")).await;
    assert_eq!(session["expires_at"], hold);
    assert_eq!(session["metadata"], json!({"hold_id": "hold_123"}));
    assert!((now..=now + 5).contains(&session["created"].as_i64().unwrap()), "{}", session["created"]);
    assert_eq!(fake.session(session["id"].as_str().unwrap()).unwrap(), session);

    let default = create(&fake, "").await;
    assert_eq!(default["expires_at"].as_i64().unwrap() - default["created"].as_i64().unwrap(), 24 * 3600);
    let longest = create(&fake, &format!("expires_at={}", now_unix() + 24 * 3600)).await;
    assert_eq!(longest["status"], "open");

    for (at, message) in [
        ((now + 29 * 60).to_string(), "at least 30 minutes"),
        ((now + 24 * 3600 + 60).to_string(), "less than 24 hours"),
        ("soon".to_owned(), "Invalid integer: soon"),
    ] {
        let answer =
            api(&fake, "POST", "/v1/checkout/sessions", &session_form(&format!("expires_at={at}")), None).await;
        let error = &answer.json()["error"];
        assert_eq!(
            (answer.status, &error["type"], &error["param"]),
            (400, &json!("invalid_request_error"), &json!("expires_at"))
        );
        assert!(error["message"].as_str().unwrap().contains(message), "{error}");
    }
    assert_eq!(fake.sessions_created(), 3);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let fake = FakeStripe::start().await.unwrap();
    let form = session_form("metadata[hold_id]=hold_1");
    let first = api(&fake, "POST", "/v1/checkout/sessions", &form, Some("hold_1")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    let id = first.json()["id"].as_str().unwrap().to_owned();
    fake.pay(&id, &buyer(), PaymentOutcome::Paid).unwrap();

    let again = api(&fake, "POST", "/v1/checkout/sessions", &form, Some("hold_1")).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (200, Some("true")));
    assert_eq!(again.json(), first.json(), "the saved answer, as it was then");
    assert_eq!(fake.sessions_created(), 1);

    let other =
        api(&fake, "POST", "/v1/checkout/sessions", &session_form("metadata[hold_id]=hold_2"), Some("hold_1")).await;
    let error = &other.json()["error"];
    assert_eq!((other.status, &error["type"]), (400, &json!("idempotency_error")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("only be used with the same parameters"), "{error}");
    let elsewhere = api(&fake, "POST", &format!("/v1/checkout/sessions/{id}/expire"), "", Some("hold_1")).await;
    assert_eq!((elsewhere.status, &elsewhere.json()["error"]["type"]), (400, &json!("idempotency_error")));

    // A request refused before it ran saves nothing: its corrected retry runs.
    let bad = api(&fake, "POST", "/v1/checkout/sessions", "mode=payment", Some("hold_3")).await;
    assert_eq!(bad.status, 400);
    let fixed = api(&fake, "POST", "/v1/checkout/sessions", &form, Some("hold_3")).await;
    assert_eq!((fixed.status, fixed.header("idempotent-replayed")), (200, None));
    assert_ne!(fixed.json()["id"], json!(id));
    assert_eq!(fake.sessions_created(), 2);
    let keys: Vec<_> = fake.requests().iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(keys.len(), 6, "every request is recorded");
    assert_eq!(keys[1].as_deref(), Some("hold_1"));
}

/// Three sessions created a second apart, oldest first.
async fn three_sessions(fake: &FakeStripe) -> Vec<String> {
    let mut ids = Vec::new();
    for age in [30, 20, 10] {
        let id = create(fake, "").await["id"].as_str().unwrap().to_owned();
        lock(&fake.store).sessions.get_mut(&id).unwrap()["created"] = json!(now_unix() - age);
        ids.push(id);
    }
    ids
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// The sessions `s[i]` for each `i` in `order`.
fn these(s: &[String], order: &[usize]) -> Vec<String> {
    order.iter().map(|&i| s[i].clone()).collect()
}

#[tokio::test]
async fn list_pages_newest_first_and_filters() {
    let fake = FakeStripe::start().await.unwrap();
    let s = three_sessions(&fake).await;
    let list = |query: String| {
        let fake = &fake;
        async move { api(fake, "GET", &format!("/v1/checkout/sessions?{query}"), "", None).await }
    };
    let all = list(String::new()).await.json();
    assert_eq!(
        (&all["object"], &all["url"], &all["has_more"]),
        (&json!("list"), &json!("/v1/checkout/sessions"), &json!(false))
    );
    assert_eq!(ids(&all), these(&s, &[2, 1, 0]));
    assert_eq!(all["data"][0], fake.session(&s[2]).unwrap(), "the full session, as retrieve gives it");

    let first = list("limit=2".into()).await.json();
    assert_eq!((ids(&first), &first["has_more"]), (these(&s, &[2, 1]), &json!(true)));
    let next = list(format!("limit=2&starting_after={}", s[1])).await.json();
    assert_eq!((ids(&next), &next["has_more"]), (these(&s, &[0]), &json!(false)));

    let middle = fake.session(&s[1]).unwrap()["created"].as_i64().unwrap();
    assert_eq!(ids(&list(format!("created[gte]={middle}")).await.json()), these(&s, &[2, 1]));
    assert_eq!(ids(&list(format!("created[gt]={middle}")).await.json()), these(&s, &[2]));
    assert_eq!(ids(&list(format!("created[lte]={middle}")).await.json()), these(&s, &[1, 0]));
    let between = format!("created[lt]={middle}&created[gt]={}", middle - 15);
    assert_eq!(ids(&list(between).await.json()), these(&s, &[0]));

    fake.expire_now(&s[1]).unwrap();
    fake.pay(&s[0], &buyer(), PaymentOutcome::Paid).unwrap();
    for (status, expected) in [("open", 2), ("expired", 1), ("complete", 0)] {
        assert_eq!(ids(&list(format!("status={status}")).await.json()), these(&s, &[expected]), "{status}");
    }
    // The cursor stays valid when its session no longer matches the filter.
    let after = list(format!("status=open&starting_after={}", s[2])).await.json();
    assert_eq!((ids(&after).len(), &after["has_more"]), (0, &json!(false)));
}

#[tokio::test]
async fn a_backdated_session_lists_as_created_earlier() {
    let fake = FakeStripe::start().await.unwrap();
    let id = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    fake.pay(&id, &buyer(), PaymentOutcome::Paid).unwrap();
    let before = fake.session(&id).unwrap();
    let after = fake.backdate_session(&id, 600).unwrap();
    for key in ["created", "expires_at"] {
        assert_eq!(after[key].as_i64().unwrap(), before[key].as_i64().unwrap() - 600, "{key}");
    }
    assert_eq!(after["status"], "complete");
    let recent = format!("/v1/checkout/sessions?status=complete&created[gte]={}", now_unix() - 300);
    assert!(ids(&api(&fake, "GET", &recent, "", None).await.json()).is_empty());
    let older = format!("/v1/checkout/sessions?status=complete&created[lte]={}", now_unix() - 300);
    assert_eq!(ids(&api(&fake, "GET", &older, "", None).await.json()), vec![id]);
    assert!(fake.backdate_session("cs_test_nope", 60).is_none());
}

#[tokio::test]
async fn list_rejects_what_stripe_rejects() {
    let fake = FakeStripe::start().await.unwrap();
    let s = three_sessions(&fake).await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=paid", "status"),
        ("created[gte]=yesterday", "created[gte]"),
        ("starting_after=cs_test_nope", "starting_after"),
    ] {
        let answer = api(&fake, "GET", &format!("/v1/checkout/sessions?{query}"), "", None).await;
        assert_eq!((answer.status, &answer.json()["error"]["param"]), (400, &json!(param)), "{query}");
    }
    let hundred = api(&fake, "GET", "/v1/checkout/sessions?limit=100", "", None).await.json();
    assert_eq!(ids(&hundred).len(), s.len());
    let unauthorized = send(&format!("{}/v1/checkout/sessions", fake.api_base()), "GET", &[], "").await;
    assert_eq!(unauthorized.status, 401);
}

#[tokio::test]
async fn only_open_sessions_expire() {
    let fake = FakeStripe::start().await.unwrap();
    let open = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    let expire = |id: String| {
        let fake = &fake;
        async move { api(fake, "POST", &format!("/v1/checkout/sessions/{id}/expire"), "", None).await }
    };
    let expired = expire(open.clone()).await;
    assert_eq!(expired.status, 200);
    let session = expired.json();
    assert_eq!((&session["id"], &session["status"], &session["url"]), (&json!(open), &json!("expired"), &Value::Null));
    assert_eq!(fake.session(&open).unwrap(), session);

    let again = expire(open.clone()).await;
    let error = &again.json()["error"];
    assert_eq!((again.status, &error["type"]), (400, &json!("invalid_request_error")));
    assert!(error["message"].as_str().unwrap().contains("status of `expired`"), "{error}");
    assert_eq!(fake.pay(&open, &buyer(), PaymentOutcome::Paid), Err(PayError::Expired));

    let paid = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    fake.pay(&paid, &buyer(), PaymentOutcome::Paid).unwrap();
    let refused = expire(paid.clone()).await;
    assert_eq!(refused.status, 400);
    assert!(refused.json()["error"]["message"].as_str().unwrap().starts_with("Only Checkout Sessions with a status"));
    assert_eq!(fake.expire_now(&paid), None);

    let missing = expire("cs_test_nope".into()).await;
    assert_eq!((missing.status, &missing.json()["error"]["code"]), (404, &json!("resource_missing")));
}

#[tokio::test]
async fn overdue_sessions_read_as_expired() {
    let fake = FakeStripe::start().await.unwrap();
    let overdue = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    let open = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    set_expires_at(&fake, &overdue, now_unix() - 1);

    let read = api(&fake, "GET", &format!("/v1/checkout/sessions/{overdue}"), "", None).await.json();
    assert_eq!((&read["status"], &read["url"]), (&json!("expired"), &Value::Null));
    let listed = api(&fake, "GET", "/v1/checkout/sessions?status=expired", "", None).await.json();
    assert_eq!(ids(&listed), [overdue.as_str()]);
    assert_eq!(fake.pay(&overdue, &buyer(), PaymentOutcome::Paid), Err(PayError::Expired));
    assert_eq!(fake.expire_now(&overdue), None, "already expired");

    // Overdue but never read through the API: paying finds it expired all the same.
    set_expires_at(&fake, &open, now_unix());
    assert_eq!(fake.pay(&open, &buyer(), PaymentOutcome::Paid), Err(PayError::Expired));
    let fresh = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.expire_now(&fresh).unwrap()["status"], "expired");
}

#[tokio::test]
async fn rate_limit_answers_429_until_the_window_passes() {
    let options = FakeStripeOptions { rate_limit: Some(2), ..FakeStripeOptions::default() };
    let fake = FakeStripe::start_with(options).await.unwrap();
    let form = session_form("");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(api(&fake, "POST", "/v1/checkout/sessions", &form, None).await);
    }
    assert_eq!(statuses.iter().map(|a| a.status).collect::<Vec<_>>(), [200, 200, 429]);
    let limited = &statuses[2];
    let error = limited.json()["error"].clone();
    assert_eq!((&error["type"], &error["code"]), (&json!("invalid_request_error"), &json!("rate_limit")));
    assert!(error["message"].as_str().unwrap().starts_with("Request rate limit exceeded."), "{error}");
    assert_eq!(limited.header("stripe-should-retry"), Some("true"));
    assert_eq!((fake.requests().len(), fake.sessions_created()), (3, 2), "recorded, not created");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api(&fake, "POST", "/v1/checkout/sessions", &form, None).await.status, 200);
    fake.rate_limit(None);
    for _ in 0..3 {
        assert_eq!(api(&fake, "GET", "/v1/checkout/sessions", "", None).await.status, 200);
    }
    fake.rate_limit(Some(1));
    assert_eq!(api(&fake, "GET", "/v1/checkout/sessions", "", None).await.status, 200);
    assert_eq!(api(&fake, "GET", "/v1/checkout/sessions", "", None).await.status, 429);
}

/// A webhook endpoint that keeps each delivery's `Stripe-Signature` and body.
async fn webhook_endpoint() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/fulfill",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| async move {
            let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
            kept.lock().unwrap().push((signature.to_owned(), body.to_vec()));
            "ok"
        }),
    );
    let (addr, _server) = crate::serve_loopback(app).await.unwrap();
    (format!("http://{addr}/fulfill"), received)
}

#[tokio::test]
async fn hosted_expire_button_delivers_the_expired_event() {
    let (webhook_url, received) = webhook_endpoint().await;
    let secret = "whsec_standin";
    let hosted = HostedCheckout { route: "/pay".into(), webhook_url: Some(webhook_url), webhook_secret: secret.into() };
    let fake = FakeStripe::start_hosted(FakeStripeOptions::default(), hosted).await.unwrap();
    let session = create(&fake, "metadata[hold_id]=hold_9").await;
    let url = session["url"].as_str().unwrap().to_owned();

    let page = send(&url, "GET", &[], "").await.text();
    assert!(page.contains("id=\"pay-form\"") && page.contains("name=\"action\" value=\"expire\""), "{page}");
    assert!(page.contains("Let this session expire"));

    let answer = send(&url, "POST", &[("content-type", FORM)], "action=expire").await;
    assert_eq!((answer.status, answer.header("location")), (303, Some("https://shop.example/back")));
    let id = session["id"].as_str().unwrap();
    assert_eq!(fake.session(id).unwrap()["status"], "expired");

    let deliveries = fake.webhook_deliveries();
    assert_eq!(
        (deliveries.len(), deliveries[0].event_type.as_str(), deliveries[0].status),
        (1, "checkout.session.expired", Some(200))
    );
    let (signature, body) = received.lock().unwrap()[0].clone();
    let secrets = tickets::webhook::WebhookSecrets::new(vec![secret.into()]).unwrap();
    let tolerance = tickets::webhook::Tolerance::from_secs(300).unwrap();
    tickets::webhook::verify(Some(&signature), &body, &secrets, tolerance, now_unix()).expect("signed");
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "checkout.session.expired");
    let object = &event["data"]["object"];
    assert_eq!(
        (&object["id"], &object["status"], &object["metadata"]["hold_id"]),
        (&json!(id), &json!("expired"), &json!("hold_9"))
    );

    // Expired: the page says so, and neither paying nor expiring again works.
    let page = send(&url, "GET", &[], "").await.text();
    assert!(page.contains("id=\"expired\"") && !page.contains("id=\"pay-form\""), "{page}");
    let pay = "email=buyer%40example.com&name=Buyer";
    assert_eq!(send(&url, "POST", &[("content-type", FORM)], pay).await.status, 400);
    assert_eq!(send(&url, "POST", &[("content-type", FORM)], "action=expire").await.status, 400);
    assert_eq!(fake.webhook_deliveries().len(), 1);
}
