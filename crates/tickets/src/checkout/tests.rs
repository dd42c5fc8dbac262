//! The checkout handler against the in-memory doubles: holds, sold out, the
//! sale window, Stripe faults and rate limits, languages, availability.

use super::*;
use crate::config::ConfigCache;
use crate::doubles::{LedgerOp, MemoryLedger, MemoryPayments, ScriptedSource};
use crate::inventory::{CounterKey, Counts};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};

const T0: i64 = 1_800_000_000;

struct Bed {
    checkout: Checkout,
    payments: Arc<MemoryPayments>,
    ledger: Arc<MemoryLedger>,
    clock: Arc<AtomicI64>,
}

fn tdf(extra: Value) -> String {
    let mut config: Value = serde_json::from_str(include_str!("../../../../config.example.json")).unwrap();
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config.to_string()
}

/// Two visitor tickets, two bronze, one M shirt.
fn limited() -> String {
    tdf(
        json!({"capacity": {"visitor": 2, "bronze": 2}, "tshirt_stock": {"m": 1}, "site_origin": "https://tdf.example"}),
    )
}

impl Bed {
    fn new(config: &str) -> Bed {
        let cache = ConfigCache::new(Box::new(ScriptedSource::always(config)), Duration::from_secs(300));
        let payments = Arc::new(MemoryPayments::new());
        let ledger = Arc::new(MemoryLedger::new());
        let clock = Arc::new(AtomicI64::new(T0));
        let now = clock.clone();
        let retry = RateLimitRetry { base: Duration::from_millis(1), budget: Duration::from_millis(50) };
        let checkout = Checkout::new(Arc::new(cache), payments.clone())
            .with_inventory(ledger.clone())
            .with_clock(Arc::new(move || now.load(Ordering::SeqCst)))
            .with_rate_limit_retry(retry);
        Bed { checkout, payments, ledger, clock }
    }

    async fn post(&self, form: &str) -> Response<Body> {
        self.post_with(form, &[]).await
    }

    async fn post_with(&self, form: &str, headers: &[(&str, &str)]) -> Response<Body> {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("https://tickets.example/checkout")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.checkout.handle(request.body(Body::Text(form.to_owned())).unwrap()).await
    }

    async fn availability(&self) -> (Response<Body>, Value) {
        let request = http::Request::builder().uri("https://tickets.example/availability").body(Body::Empty).unwrap();
        let response = self.checkout.handle(request).await;
        let json = serde_json::from_str(&text(&response)).unwrap();
        (response, json)
    }

    fn counts(&self, key: CounterKey) -> Counts {
        self.ledger.with_state(|s| s.inventory.counts(&[key]).remove(0))
    }
}

fn text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(t) => t.clone(),
        Body::Empty => String::new(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn visitor() -> CounterKey {
    CounterKey::from_stored("ticket#visitor".into())
}

#[tokio::test]
async fn without_limits_checkout_makes_no_inventory_call() {
    let bed = Bed::new(&tdf(json!({})));
    let response = bed.post("type=visitor").await;
    assert_eq!(response.status(), 303);
    assert_eq!(bed.ledger.calls(LedgerOp::Reserve), 0);
    let created = bed.payments.created();
    assert_eq!((created[0].expires_at, created[0].idempotency_key.as_deref()), (None, None));
    assert!(!created[0].metadata.contains_key("hold_id"));
}

#[tokio::test]
async fn tickets_are_held_until_capacity_then_sold_out_with_a_hint() {
    let bed = Bed::new(&limited());
    for _ in 0..2 {
        assert_eq!(bed.post("type=visitor").await.status(), 303);
    }
    let refused = bed.post("type=visitor").await;
    assert_eq!(refused.status(), 409);
    let page = text(&refused);
    assert!(page.contains("Visitor ticket: sold out."), "{page}");
    assert!(page.contains("2 of them are in open checkouts"), "{page}");
    assert!(page.contains("about 36 minutes"), "35-minute holds, a minute's margin: {page}");
    assert_eq!(bed.payments.created().len(), 2, "no Stripe call for the refused buyer");
    assert_eq!(bed.counts(visitor()), Counts { held: 2, sold: 0, held_until: Some(T0 + 35 * 60) });
    // Each session carries its hold: expiry, metadata and idempotency key agree.
    let created = bed.payments.created();
    let hold_id = created[0].metadata["hold_id"].clone();
    assert_eq!(created[0].idempotency_key.as_deref(), Some(hold_id.as_str()));
    assert_eq!(created[0].expires_at, Some(T0 + 35 * 60));
    assert_eq!(bed.ledger.with_state(|s| s.inventory.hold(&hold_id)).unwrap().expires_at, T0 + 35 * 60);
}

#[tokio::test]
async fn a_sold_out_size_names_the_size_and_other_sizes_still_sell() {
    let bed = Bed::new(&limited());
    assert_eq!(bed.post("type=bronze&tshirt=m").await.status(), 303);
    let refused = bed.post("type=bronze&tshirt=m").await;
    assert_eq!(refused.status(), 409);
    assert!(text(&refused).contains("T-shirt size M is sold out"), "{}", text(&refused));
    assert_eq!(bed.post("type=bronze&tshirt=l").await.status(), 303);
    // The refused bronze took nothing from the bronze count.
    assert_eq!(bed.counts(CounterKey::from_stored("ticket#bronze".into())).held, 2);
}

#[tokio::test]
async fn zero_capacity_is_sold_out_and_gone() {
    let bed = Bed::new(&tdf(json!({"capacity": {"visitor": 0}})));
    let refused = bed.post("type=visitor").await;
    assert_eq!(refused.status(), 409);
    assert!(text(&refused).contains("All of them are sold."));
    assert!(bed.payments.created().is_empty());
}

#[tokio::test]
async fn a_stripe_failure_gives_the_hold_back_at_once() {
    let bed = Bed::new(&limited());
    bed.payments.fail_next(StripeFault::Timeout);
    assert_eq!(bed.post("type=visitor").await.status(), 502);
    assert_eq!(bed.counts(visitor()).taken(), 0);
    assert_eq!(bed.ledger.calls(LedgerOp::Release), 1);
}

#[tokio::test]
async fn a_reservation_whose_answer_was_lost_is_given_back_and_answered_503() {
    let bed = Bed::new(&limited());
    bed.ledger.lose_answer(LedgerOp::Reserve, 1);
    assert_eq!(bed.post("type=visitor").await.status(), 503);
    assert!(bed.payments.created().is_empty(), "no session without a known hold");
    assert_eq!(bed.counts(visitor()).taken(), 0, "the committed hold went back at once");
    // A reservation that failed before committing leaves nothing to give back.
    bed.ledger.fail(LedgerOp::Reserve, 1);
    assert_eq!(bed.post("type=visitor").await.status(), 503);
    assert_eq!(bed.ledger.calls(LedgerOp::Release), 2);
    assert_eq!(bed.counts(visitor()).taken(), 0);
    assert_eq!(bed.post("type=visitor").await.status(), 303, "and the next buyer gets the place");
}

#[tokio::test]
async fn a_slow_stripe_is_cut_off_at_the_invocations_deadline_with_our_page() {
    let bed = Bed::new(&limited());
    bed.payments.delay_creates(Duration::from_secs(30));
    let deadline = std::time::Instant::now() + Duration::from_millis(200);
    let started = std::time::Instant::now();
    let response = crate::deadline::scope(Some(deadline), bed.post("type=visitor")).await;
    assert!(started.elapsed() < Duration::from_secs(2), "answered by the deadline: {:?}", started.elapsed());
    assert_eq!(response.status(), 502, "{}", text(&response));
    assert_eq!(bed.counts(visitor()).taken(), 0, "the hold went back");
}

#[tokio::test]
async fn rate_limit_retries_stop_before_the_deadline() {
    let bed = Bed::new(&limited());
    let bed = Bed {
        checkout: bed
            .checkout
            .with_rate_limit_retry(RateLimitRetry { base: Duration::from_millis(20), budget: Duration::from_secs(60) }),
        ..bed
    };
    for _ in 0..1000 {
        bed.payments.fail_next(StripeFault::Api {
            status: 429,
            message: "Too many requests".into(),
            request_log_url: None,
        });
    }
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_millis(1600);
    let busy = crate::deadline::scope(Some(deadline), bed.post("type=visitor")).await;
    assert_eq!(busy.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(1600), "within the deadline: {:?}", started.elapsed());
}

#[tokio::test]
async fn stripe_rate_limits_are_retried_then_answered_busy() {
    let bed = Bed::new(&limited());
    let limited = || StripeFault::Api { status: 429, message: "Too many requests".into(), request_log_url: None };
    bed.payments.fail_next(limited());
    bed.payments.fail_next(limited());
    assert_eq!(bed.post("type=visitor").await.status(), 303, "two 429s, then a session");
    assert_eq!(bed.payments.created().len(), 1);
    for _ in 0..1000 {
        bed.payments.fail_next(limited());
    }
    let busy = bed.post_with("type=visitor&lang=ja", &[]).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "30");
    assert!(text(&busy).contains("ただいま混み合っています"), "{}", text(&busy));
    assert_eq!(bed.counts(visitor()).held, 1, "the busy buyer's hold went back");
}

#[tokio::test]
async fn outside_the_sale_window_is_403_without_stripe_or_a_hold() {
    let bed = Bed::new(&tdf(json!({
        "capacity": {"visitor": 5},
        "sale_opens_at": "2027-01-20T10:00:00+09:00",
        "sale_closes_at": "2027-02-01T00:00:00Z",
    })));
    let early = bed.post("type=visitor").await;
    assert_eq!(early.status(), 403);
    assert!(text(&early).contains("Tickets go on sale at 2027-01-20 10:00 (UTC+09:00)."), "{}", text(&early));
    bed.clock.store(T0 + 30 * 86_400, Ordering::SeqCst);
    let late = bed.post_with("type=visitor", &[("accept-language", "ja,en;q=0.5")]).await;
    assert_eq!(late.status(), 403);
    assert!(text(&late).contains("チケットの販売は 2027-02-01 00:00 (UTC) に終了しました。"), "{}", text(&late));
    assert!(bed.payments.created().is_empty());
    assert_eq!(bed.ledger.calls(LedgerOp::Reserve), 0);
}

#[tokio::test]
async fn capacity_without_an_orders_table_is_503() {
    let config = limited();
    let cache = ConfigCache::new(Box::new(ScriptedSource::always(config)), Duration::from_secs(300));
    let payments = Arc::new(MemoryPayments::new());
    let checkout = Checkout::new(Arc::new(cache), payments.clone());
    let request = http::Request::builder()
        .method("POST")
        .uri("/checkout")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text("type=visitor".into()))
        .unwrap();
    assert_eq!(checkout.handle(request).await.status(), 503);
    assert!(payments.created().is_empty());
}

#[tokio::test]
async fn pages_follow_the_form_then_the_browser_then_the_config() {
    let bed = Bed::new(&tdf(json!({"capacity": {"visitor": 0}, "locale": "ja"})));
    let by_config = text(&bed.post("type=visitor").await);
    assert!(by_config.contains("<html lang=\"ja\">") && by_config.contains("売り切れ"), "{by_config}");
    let by_browser = text(&bed.post_with("type=visitor", &[("accept-language", "en-GB")]).await);
    assert!(by_browser.contains("sold out"), "{by_browser}");
    let by_form = text(&bed.post_with("type=visitor&lang=en", &[("accept-language", "ja")]).await);
    assert!(by_form.contains("<html lang=\"en\">"), "{by_form}");
    let bad = text(&bed.post_with("type=gold", &[("accept-language", "ja")]).await);
    assert!(bad.contains("「gold」というチケットはありません"), "{bad}");
}

#[tokio::test]
async fn availability_reports_every_limit_with_cache_and_cors_headers() {
    let bed = Bed::new(&limited());
    bed.post("type=bronze&tshirt=m").await;
    let (response, json) = bed.availability().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "public, max-age=5");
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://tdf.example");
    let bronze = &json["tickets"]["bronze"];
    assert_eq!(
        (bronze["capacity"].as_u64(), bronze["held"].as_u64(), bronze["available"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(bronze["options"]["tshirt"]["m"], json!({"capacity": 1, "sold": 0, "held": 1, "available": 0}));
    assert_eq!(bronze["options"]["tshirt"]["l"]["capacity"], Value::Null, "unlimited sizes");
    assert_eq!(json["tickets"]["visitor"]["available"], 2);
    assert_eq!(json["tickets"]["visitor"]["sold_out"], false);
    assert_eq!(json["tickets"]["visitor"]["sale"], "open");
}

#[tokio::test]
async fn availability_sums_fully_stocked_options_into_the_ticket() {
    let bed = Bed::new(&tdf(json!({"tshirt_stock": {"s": 0, "m": 1, "l": 0, "xl": 0}})));
    bed.post("type=bronze&tshirt=m").await;
    let (_, json) = bed.availability().await;
    assert_eq!(json["tickets"]["bronze"]["sold_out"], true, "every size is gone: {json}");
    assert_eq!(json["tickets"]["visitor"]["available"], Value::Null);
}

#[tokio::test]
async fn availability_only_answers_get_and_checkout_still_refuses_get() {
    let bed = Bed::new(&limited());
    let post = http::Request::builder().method("POST").uri("/availability").body(Body::Empty).unwrap();
    assert_eq!(bed.checkout.handle(post).await.status(), 405);
    let get = http::Request::builder().uri("/checkout").body(Body::Empty).unwrap();
    assert_eq!(bed.checkout.handle(get).await.status(), 405);
}

#[tokio::test]
async fn every_answer_says_nosniff_whatever_its_status() {
    let bed = Bed::new(&limited());
    let (available, _) = bed.availability().await;
    let redirect = bed.post("type=visitor").await;
    let refused = bed.post("type=no-such-ticket").await;
    bed.payments.fail_next(StripeFault::Timeout);
    let fault = bed.post("type=visitor").await;
    let get = http::Request::builder().uri("https://tickets.example/checkout").body(Body::Empty).unwrap();
    let wrong_method = bed.checkout.handle(get).await;
    for (response, status) in [(available, 200), (redirect, 303), (refused, 400), (wrong_method, 405), (fault, 502)] {
        assert_eq!(response.status(), status, "{}", text(&response));
        assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{status}");
    }
}
