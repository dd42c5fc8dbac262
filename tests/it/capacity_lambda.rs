//! Capacity and holds through the real binaries under the Lambda Runtime API
//! emulator: `checkout` (reserve before Stripe, 409 sold out, 403 outside the
//! sale window, release on Stripe's failure, 503 when Stripe stays busy,
//! `GET /availability`) and `fulfill` (the sale in the votekey claim,
//! `checkout.session.expired`, the sweeper on EventBridge's scheduled
//! event), against moto (behind a counting proxy) and the fake Stripe.
//!
//! Needs `cargo build --bins` first (scripts/test does it).

use crate::support::capacity::*;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use testbed::stripe::{Address, Buyer, Failure, PaymentOutcome};

const GET_PARAMETER: &str = "AmazonSSM.GetParameter";
const SITE_ORIGIN: &str = "https://tokyodemofest.example";

fn counter(held: i64, sold: i64) -> Counter {
    Counter { held, sold, taken: held + sold }
}

/// A buyer who pays on the fake's hosted page (with a shipping address: bronze ships a shirt).
fn buyer() -> Buyer {
    Buyer {
        email: unique_email("capacity-buyer"),
        name: "Hanako Yamada".into(),
        shipping: Some(Address {
            line1: "1-2-3 Jinnan".into(),
            line2: None,
            city: "Shibuya-ku".into(),
            state: Some("Tokyo".into()),
            postal_code: "150-0041".into(),
            country: "JP".into(),
        }),
    }
}

/// The `outcome` of fulfill's JSON answer to a webhook.
fn outcome(response: &Value) -> String {
    json_body(response)["outcome"].as_str().unwrap_or_else(|| panic!("no outcome: {response}")).to_owned()
}

/// Buys with one container; asserts a 303 and returns the session id.
async fn buy(container: &mut Container, form: &str) -> String {
    let (response, _) = container.invoke(checkout_event(form)).await;
    assert_eq!(status(&response), 303, "{form}: {response}\n{}", container.logs());
    redirect_session(&response)
}

/// The hold id a session carries.
fn session_hold(shop: &Shop, session_id: &str) -> String {
    let session = shop.stripe.session(session_id).unwrap();
    session["metadata"]["hold_id"].as_str().unwrap_or_else(|| panic!("no hold_id: {session}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_buyers_for_five_places_and_availability_matches_the_ledger() {
    let shop = Shop::start_alone(config_with(json!({
        "capacity": {"visitor": 100, "bronze": 5},
        "tshirt_stock": {"s": 2, "m": 10, "l": 10, "xl": 10},
        "site_origin": SITE_ORIGIN,
    })))
    .await;
    // moto does not apply concurrent writes to one item one after another as DynamoDB does.
    shop.proxy.serialise("DynamoDB_20120810.");
    // Six want S (two shirts), six want M: five bronze places, whatever the order.
    let forms: Vec<String> =
        (0..12).map(|i| format!("type=bronze&tshirt={}", if i % 2 == 0 { "s" } else { "m" })).collect();
    let containers = shop.checkouts(4).await;
    let (mut containers, answers) = buy_concurrently(containers, &forms).await;

    let statuses: Vec<u16> = answers.iter().map(|a| status(&a.response)).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
    let sold = |size: &str| {
        answers.iter().filter(|a| status(&a.response) == 303 && forms[a.index].ends_with(&format!("={size}"))).count()
    };
    assert!(sold("s") <= 2, "S oversold: {}", sold("s"));
    assert_eq!(sold("s") + sold("m"), 5);
    for answer in answers.iter().filter(|a| status(&a.response) == 409) {
        let page = body(&answer.response);
        let size = forms[answer.index].rsplit('=').next().unwrap().to_uppercase();
        assert!(
            page.contains("Bronze ticket: sold out.") || page.contains(&format!("T-shirt size {size} is sold out.")),
            "{page}"
        );
    }
    assert_eq!(shop.stripe.sessions_created(), 5);
    assert_eq!(shop.create_requests(), 5, "Stripe is never asked for a refused buyer");

    // The ledger: five held bronze places, S within its stock.
    let counters = shop.counters().await;
    let get = |key: &str| counters.get(key).copied().unwrap_or_default();
    assert_eq!(get("ticket#bronze"), counter(5, 0));
    assert_eq!(get("stock#tshirt#s"), counter(sold("s") as i64, 0));
    assert_eq!(get("stock#tshirt#m"), counter(sold("m") as i64, 0));
    assert_eq!(get("ticket#visitor"), Counter::default(), "nobody asked for a visitor ticket");
    assert_eq!(shop.holds().await.len(), 5);

    // GET /availability says the same, with its cache and CORS headers.
    let (response, _) = containers[0].invoke(availability_event()).await;
    assert_eq!(status(&response), 200, "{response}");
    assert_eq!(header(&response, "cache-control"), Some("public, max-age=5"));
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE_ORIGIN));
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let now = json_body(&response);
    let four = ["capacity", "sold", "held", "available"];
    let bronze = &now["tickets"]["bronze"];
    assert_eq!(pick(bronze, &four), figures(5, get("ticket#bronze")), "{now}");
    assert_eq!(bronze["sold_out"], true, "{now}");
    for (size, stock) in [("s", 2), ("m", 10), ("l", 10), ("xl", 10)] {
        assert_eq!(bronze["options"]["tshirt"][size], figures(stock, get(&format!("stock#tshirt#{size}"))), "{now}");
    }
    let visitor = &now["tickets"]["visitor"];
    assert_eq!(pick(visitor, &four), figures(100, Counter::default()), "{now}");
    assert_eq!((&visitor["sold_out"], &visitor["sale"]), (&json!(false), &json!("open")), "{now}");
    assert_eq!(now["capacity_groups"], json!({}), "{now}");
    for container in &mut containers {
        container.assert_alive();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_gives_its_place_back_once_and_a_paid_one_keeps_it() {
    let shop = Shop::start(config_with(json!({
        "capacity": {"visitor": 3, "bronze": 3},
        "tshirt_stock": {"s": 3, "m": 3, "l": 3, "xl": 3},
    })))
    .await;
    let mut checkout = shop.checkout().await;
    let mut fulfill = shop.fulfill().await;

    // A visitor checks out and walks away: Stripe expires the session.
    let walked_away = buy(&mut checkout, "type=visitor").await;
    let hold = session_hold(&shop, &walked_away);
    assert_eq!(availability(&mut checkout).await["tickets"]["visitor"]["available"], 2);
    assert!(shop.stripe.expire_now(&walked_away).is_some());
    let expired = shop.stripe.event("checkout.session.expired", &walked_away).unwrap();
    let response = fulfill.invoke(webhook_event(&expired)).await.0;
    assert_eq!((status(&response), outcome(&response)), (200, "expired".to_owned()), "{response}\n{}", fulfill.logs());
    assert_eq!(shop.counter("ticket#visitor").await, counter(0, 0));
    let released = shop.hold(&hold).await;
    assert_eq!((released.status.as_str(), released.hold_state.as_deref()), ("released", None), "{released:?}");
    let now = availability(&mut checkout).await;
    assert_eq!(
        pick(&now["tickets"]["visitor"], &["held", "sold", "available"]),
        json!({"held": 0, "sold": 0, "available": 3})
    );

    // Stripe delivers the event again: 200, nothing given back twice.
    let again = fulfill.invoke(webhook_event(&expired)).await.0;
    assert_eq!((status(&again), outcome(&again)), (200, "expired".to_owned()), "{again}");
    assert_eq!(shop.counter("ticket#visitor").await, counter(0, 0), "not released twice");
    assert_eq!(availability(&mut checkout).await["tickets"]["visitor"]["available"], 3);

    // A bronze buyer pays: the place moves from held to sold with the votekey email.
    let paid = buy(&mut checkout, "type=bronze&tshirt=l").await;
    let paid_hold = session_hold(&shop, &paid);
    assert_eq!(shop.counter("ticket#bronze").await, counter(1, 0));
    let buyer = buyer();
    shop.stripe.pay(&paid, &buyer, PaymentOutcome::Paid).unwrap();
    let completed = shop.stripe.event("checkout.session.completed", &paid).unwrap();
    let response = fulfill.invoke(webhook_event(&completed)).await.0;
    assert_eq!((status(&response), outcome(&response)), (200, "emailed".to_owned()), "{response}\n{}", fulfill.logs());
    for key in ["ticket#bronze", "stock#tshirt#l"] {
        assert_eq!(shop.counter(key).await, counter(0, 1), "{key}");
    }
    assert_eq!(shop.hold(&paid_hold).await.status, "sold");
    // An expired event about the paid session (out of order, or forged by a
    // replay of another's body): Stripe says complete, nothing changes.
    let stray = shop.stripe.event("checkout.session.expired", &paid).unwrap();
    let response = fulfill.invoke(webhook_event(&stray)).await.0;
    assert_eq!((status(&response), outcome(&response)), (200, "not_applicable".to_owned()), "{response}");
    for key in ["ticket#bronze", "stock#tshirt#l"] {
        assert_eq!(shop.counter(key).await, counter(0, 1), "{key}");
    }
    assert_eq!(shop.hold(&paid_hold).await.status, "sold");
    let now = availability(&mut checkout).await;
    let bronze = &now["tickets"]["bronze"];
    assert_eq!(pick(bronze, &["held", "sold", "available"]), json!({"held": 0, "sold": 1, "available": 2}), "{now}");
    assert_eq!(bronze["options"]["tshirt"]["l"]["available"], 2, "{now}");
    let emails = shop.moto.sent_emails().await.unwrap();
    assert_eq!(emails.iter().filter(|m| m.recipients().any(|r| r == buyer.email)).count(), 1);
    checkout.assert_alive();
    fulfill.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_fault_gives_the_place_back_at_once() {
    let shop = Shop::start(config_with(json!({"capacity": {"visitor": 1}}))).await;
    let mut checkout = shop.checkout().await;
    shop.stripe.fail_next([Failure::Status(500)]);
    let (failed, _) = checkout.invoke(checkout_event("type=visitor")).await;
    assert_eq!(status(&failed), 502, "{failed}");
    assert!(body(&failed).contains("Nothing was charged"), "{failed}");
    assert_eq!(shop.counter("ticket#visitor").await, counter(0, 0));
    let holds = shop.holds().await;
    assert_eq!(holds.len(), 1);
    assert_eq!((holds[0].status.as_str(), holds[0].hold_state.as_deref()), ("released", None));
    // Reserve, then release: two transactions.
    assert_eq!(shop.proxy.count(TRANSACT_WRITE), 2, "{:?}", shop.proxy.counts());
    let now = availability(&mut checkout).await;
    assert_eq!(
        pick(&now["tickets"]["visitor"], &["held", "sold", "available"]),
        json!({"held": 0, "sold": 0, "available": 1})
    );
    // The single place is still there for the next buyer.
    buy(&mut checkout, "type=visitor").await;
    assert_eq!(shop.counter("ticket#visitor").await, counter(1, 0));
    let lines = json_lines(&checkout.logs());
    let outcomes: Vec<&Value> =
        lines.iter().filter(|l| field(l, "route") == "checkout").map(|l| field(l, "outcome")).collect();
    assert_eq!(outcomes, ["stripe_error", "redirect"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_rate_limiting_is_retried_then_a_busy_page_and_no_hold_is_kept() {
    const BUYERS: usize = 8;
    let shop = Shop::start_alone(config_with(json!({"capacity": {"visitor": 50}}))).await;
    shop.proxy.serialise("DynamoDB_20120810.");
    let mut containers = shop.checkouts(BUYERS).await;
    for container in &mut containers {
        availability(container).await; // warm: config loaded
    }
    shop.stripe.rate_limit(Some(1));
    let forms = vec!["type=visitor".to_owned(); BUYERS];
    let (containers, answers) = buy_concurrently(containers, &forms).await;
    shop.stripe.rate_limit(None);

    let redirects = answers.iter().filter(|a| status(&a.response) == 303).count();
    let busy: Vec<&Value> = answers.iter().filter(|a| status(&a.response) == 503).map(|a| &a.response).collect();
    assert_eq!(redirects + busy.len(), BUYERS, "only 303 or the busy page");
    // One request a second, 2.5 s of retries each: at most four sessions.
    assert!((1..=4).contains(&redirects), "{redirects} redirects");
    for page in &busy {
        let text = body(page);
        assert!(text.contains("Very busy right now") && text.contains("Nothing was charged"), "{text}");
        assert!(!text.contains("429") && !text.contains("rate_limit"), "no raw error: {text}");
    }
    assert_eq!(shop.stripe.sessions_created(), redirects);
    let attempts = shop.create_requests();
    assert!(attempts > BUYERS, "429s were retried: {attempts} requests");
    assert_eq!(shop.counter("ticket#visitor").await, counter(redirects as i64, 0));
    let holds = shop.holds().await;
    let count = |status: &str| holds.iter().filter(|h| h.status == status).count();
    assert_eq!((count("held"), count("released")), (redirects, busy.len()));
    for mut container in containers {
        container.assert_alive();
    }
    eprintln!(
        "rate limit 1/s: {BUYERS} buyers, {redirects} redirects, {} busy, {attempts} Stripe requests",
        busy.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_sale_opens_checkout_is_403_without_touching_stripe_or_the_table() {
    let shop = Shop::start(config_with(json!({
        "capacity": {"visitor": 5, "bronze": 5},
        "sale_opens_at": "2099-12-01T10:00:00+09:00",
    })))
    .await;
    let mut checkout = shop.checkout().await;
    for form in ["type=visitor", "type=bronze&tshirt=m"] {
        let (response, _) = checkout.invoke(checkout_event(form)).await;
        assert_eq!(status(&response), 403, "{response}");
        let page = body(&response);
        assert!(page.contains("Tickets go on sale at 2099-12-01 10:00 (UTC+09:00)."), "{page}");
    }
    assert!(shop.stripe.requests().is_empty());
    assert_eq!(shop.proxy.count(TRANSACT_WRITE), 0);
    assert_eq!(shop.proxy.counts(), BTreeMap::from([(GET_PARAMETER.to_owned(), 1)]), "no DynamoDB call at all");
    let now = availability(&mut checkout).await;
    for ticket in ["visitor", "bronze"] {
        assert_eq!(now["tickets"][ticket]["sale"], "not_yet_open", "{now}");
        assert_eq!(now["tickets"][ticket]["available"], 5, "{now}");
    }
    assert_eq!(now["tickets"]["visitor"]["opens_at"], 4_099_770_000_i64, "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_without_an_orders_table_is_503_and_the_log_says_so() {
    let shop = Shop::start(config_with(json!({"capacity": {"visitor": 5}}))).await;
    let mut checkout =
        Container::start("checkout", &shop.proxy, &shop.stripe, &[("CONFIG_PARAMETER", shop.parameter.as_str())]).await;
    let (response, _) = checkout.invoke(checkout_event("type=visitor")).await;
    assert_eq!(status(&response), 503, "{response}");
    assert!(body(&response).contains("not available right now"), "{response}");
    let (availability, _) = checkout.invoke(availability_event()).await;
    assert_eq!(status(&availability), 503, "{availability}");
    assert!(shop.stripe.requests().is_empty());
    assert_eq!(shop.proxy.count(TRANSACT_WRITE), 0);
    let logs = checkout.logs();
    let lines = json_lines(&logs);
    let request = lines.iter().find(|l| field(l, "route") == "checkout").expect("a request line");
    assert_eq!(request["level"], "ERROR", "{request}");
    assert_eq!(field(request, "outcome"), "no_orders_table");
    assert!(field(request, "error").as_str().is_some_and(|e| e.contains("ORDERS_TABLE")), "{request}");
    assert!(
        lines.iter().any(|l| field(l, "route") == "availability" && l.to_string().contains("ORDERS_TABLE")),
        "{logs}"
    );
    checkout.assert_alive();
}

/// Moves a hold's expiry into the past, as if its time had run out.
async fn expire_hold(shop: &Shop, hold_id: &str, expires_at: i64) {
    let request = json!({
        "TableName": shop.table,
        "Key": {"pk": {"S": format!("hold#{hold_id}")}},
        "UpdateExpression": "SET expires_at = :at",
        "ExpressionAttributeValues": {":at": {"N": expires_at.to_string()}},
    });
    shop.moto.aws_json("dynamodb", "DynamoDB_20120810.UpdateItem", &request).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_settles_holds_past_their_expiry_on_the_scheduled_event() {
    let shop = Shop::start(config_with(json!({
        "capacity": {"visitor": 5, "bronze": 5},
        "tshirt_stock": {"s": 5, "m": 5, "l": 5, "xl": 5},
    })))
    .await;
    let mut checkout = shop.checkout().await;
    let mut fulfill = shop.fulfill().await;
    let long_ago = unix_now() - 600;

    // A: a visitor's session still open past its hold (no webhook came): the sweeper expires it.
    let open = buy(&mut checkout, "type=visitor").await;
    let open_hold = session_hold(&shop, &open);
    expire_hold(&shop, &open_hold, long_ago).await;
    // B: a paid bronze session whose webhook never arrived: the sweeper fulfils it.
    let paid = buy(&mut checkout, "type=bronze&tshirt=s").await;
    let paid_hold = session_hold(&shop, &paid);
    let buyer = buyer();
    shop.stripe.pay(&paid, &buyer, PaymentOutcome::Paid).unwrap();
    expire_hold(&shop, &paid_hold, long_ago).await;
    // C: a hold no session carries (Stripe failed and the give-back failed too).
    let orphan = "hold_0123456789abcdef01234567";
    let put = json!({
        "TableName": shop.table,
        "Item": {
            "pk": {"S": format!("hold#{orphan}")}, "kind": {"S": "hold"},
            "status": {"S": "held"}, "hold_state": {"S": "held"},
            "counters": {"L": [{"S": "ticket#visitor"}]},
            "created_at": {"N": (long_ago - 2100).to_string()}, "expires_at": {"N": long_ago.to_string()},
        },
    });
    shop.moto.aws_json("dynamodb", "DynamoDB_20120810.PutItem", &put).await.unwrap();
    let add = json!({
        "TableName": shop.table,
        "Key": {"pk": {"S": "counter#ticket#visitor"}},
        "UpdateExpression": "ADD held :one, taken :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    });
    shop.moto.aws_json("dynamodb", "DynamoDB_20120810.UpdateItem", &add).await.unwrap();
    // D: a fresh hold, not expired: left alone.
    let fresh = buy(&mut checkout, "type=visitor").await;
    let fresh_hold = session_hold(&shop, &fresh);
    assert_eq!(shop.counter("ticket#visitor").await, counter(3, 0));
    assert_eq!(shop.counter("ticket#bronze").await, counter(1, 0));

    let (answer, _) = fulfill.invoke(event_json("sweep-scheduled.json")).await;
    assert_eq!(
        answer["sweep"],
        json!({"checked": 3, "released": 2, "expired_now": 1, "fulfilled": 1, "kept": 0, "failed": 0}),
        "{}",
        fulfill.logs()
    );
    assert_eq!(shop.stripe.session(&open).unwrap()["status"], "expired");
    assert_eq!(shop.stripe.session(&fresh).unwrap()["status"], "open");
    let status_of = |holds: &[HoldItem], id: &str| {
        let hold = holds.iter().find(|h| h.id == id).unwrap();
        (hold.status.clone(), hold.hold_state.clone())
    };
    let holds = shop.holds().await;
    assert_eq!(status_of(&holds, &open_hold), ("released".into(), None));
    assert_eq!(status_of(&holds, orphan), ("released".into(), None));
    assert_eq!(status_of(&holds, &paid_hold), ("sold".into(), None));
    assert_eq!(status_of(&holds, &fresh_hold), ("held".into(), Some("held".into())));
    assert_eq!(shop.counter("ticket#visitor").await, counter(1, 0));
    assert_eq!(shop.counter("ticket#bronze").await, counter(0, 1));
    assert_eq!(shop.counter("stock#tshirt#s").await, counter(0, 1));
    let emails = shop.moto.sent_emails().await.unwrap();
    assert_eq!(emails.iter().filter(|m| m.recipients().any(|r| r == buyer.email)).count(), 1, "B's votekey");
    let now = availability(&mut checkout).await;
    assert_eq!(now["tickets"]["visitor"]["available"], 4, "{now}");
    assert_eq!(now["tickets"]["bronze"]["available"], 4, "{now}");

    // The next tick finds nothing to do.
    let (answer, _) = fulfill.invoke(event_json("sweep-scheduled.json")).await;
    let nothing = json!({"checked": 0, "released": 0, "expired_now": 0, "fulfilled": 0, "kept": 0, "failed": 0});
    assert_eq!(answer["sweep"], nothing);
    let lines = json_lines(&fulfill.logs());
    let sweeps: Vec<&Value> = lines.iter().filter(|l| field(l, "route") == "sweep").collect();
    assert_eq!(sweeps.len(), 2, "one log line per sweep");
    assert_eq!(field(sweeps[0], "released"), 2);
    fulfill.assert_alive();
}
