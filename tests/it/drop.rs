//! The ticket drop: 300 buyers within seconds of the sale opening, sent to
//! several checkout containers at once (the real binary under the Runtime
//! API emulator, one invocation at a time each, as on Lambda), holds in
//! moto, sessions on the fake Stripe. Exactly as many redirects as there are
//! places, a sold-out page for everyone else, Stripe asked once per redirect
//! and never for a refusal, no counter ever past its limit, and
//! `/availability` telling the same story as the table.
//!
//! moto does not serialise concurrent writes to an item the way DynamoDB
//! does, so the proxy forwards DynamoDB calls one at a time
//! ([`testbed::proxy::CountingProxy::serialise`]); the conditions themselves
//! are moto's to check.

use crate::support::capacity::*;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BUYERS: usize = 300;
const VISITOR_BUYERS: usize = 100;
/// Checkout containers, i.e. concurrent invocations.
const CONTAINERS: usize = 6;
const SIZES: [&str; 4] = ["s", "m", "l", "xl"];
const GET_PARAMETER: &str = "AmazonSSM.GetParameter";

/// What a drop's config limits.
#[derive(Clone, Copy, Debug)]
struct Limits {
    visitor: u32,
    bronze: u32,
    /// Per size, in [`SIZES`] order.
    stock: [u32; 4],
}

impl Limits {
    fn config(&self) -> Value {
        let stock: serde_json::Map<String, Value> =
            SIZES.iter().zip(self.stock).map(|(size, n)| (size.to_string(), json!(n))).collect();
        config_with(json!({
            "capacity": {"visitor": self.visitor, "bronze": self.bronze},
            "tshirt_stock": stock,
            "site_origin": "https://tokyodemofest.example",
        }))
    }

    /// Every counter and its limit.
    fn counters(&self) -> Vec<(String, u32)> {
        let mut counters = vec![("ticket#visitor".to_owned(), self.visitor), ("ticket#bronze".to_owned(), self.bronze)];
        counters.extend(SIZES.iter().zip(self.stock).map(|(size, n)| (format!("stock#tshirt#{size}"), n)));
        counters
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    Visitor,
    /// A bronze ticket with a T-shirt of `SIZES[i]`.
    Bronze(usize),
}

impl Want {
    fn form(self) -> String {
        match self {
            Want::Visitor => "type=visitor".into(),
            Want::Bronze(size) => format!("type=bronze&tshirt={}", SIZES[size]),
        }
    }
    fn counters(self) -> Vec<String> {
        match self {
            Want::Visitor => vec!["ticket#visitor".into()],
            Want::Bronze(size) => vec!["ticket#bronze".into(), format!("stock#tshirt#{}", SIZES[size])],
        }
    }
}

/// xorshift64: a fixed seed gives the same buyers and the same arrival order every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `VISITOR_BUYERS` visitors and bronze buyers of random sizes, in a random order.
fn buyers(seed: u64) -> Vec<Want> {
    let mut rng = Rng(seed);
    let mut buyers: Vec<Want> = (0..BUYERS)
        .map(|i| if i < VISITOR_BUYERS { Want::Visitor } else { Want::Bronze(rng.below(SIZES.len())) })
        .collect();
    for i in (1..buyers.len()).rev() {
        buyers.swap(i, rng.below(i + 1));
    }
    buyers
}

/// How many of each want get a place, whatever the arrival order: every
/// visitor up to the capacity; bronze buyers up to the bronze capacity or,
/// when the shirts run out first, every size up to its stock. (A bronze
/// buyer is refused only when the ticket or their size is full, so if
/// fewer than the capacity are sold, every size sold all it could.)
struct Expected {
    visitors: usize,
    bronze: usize,
    /// Per size, when the sizes (not the bronze capacity) bind: exact.
    per_size: Option<[usize; 4]>,
}

fn expected(limits: &Limits, buyers: &[Want]) -> Expected {
    let count = |want: Want| buyers.iter().filter(|w| **w == want).count();
    let per_size: [usize; 4] = std::array::from_fn(|i| count(Want::Bronze(i)).min(limits.stock[i] as usize));
    let shirts: usize = per_size.iter().sum();
    let bronze = shirts.min(limits.bronze as usize);
    Expected {
        visitors: count(Want::Visitor).min(limits.visitor as usize),
        bronze,
        per_size: (shirts < limits.bronze as usize).then_some(per_size),
    }
}

/// One buyer's answer.
struct Answer {
    want: Want,
    response: Value,
    latency: Duration,
}

/// Reads the counters straight from moto (not through the serialising
/// proxy) every few milliseconds during the drop: the highest `taken` and
/// `held + sold` each ever showed.
fn watch_counters(
    shop: &Shop,
    limits: &Limits,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, BTreeMap<String, i64>)> {
    let moto = shop.moto.clone();
    let table = shop.table.clone();
    let keys: Vec<Value> =
        limits.counters().iter().map(|(k, _)| json!({"pk": {"S": format!("counter#{k}")}})).collect();
    tokio::spawn(async move {
        let mut highest: BTreeMap<String, i64> = BTreeMap::new();
        let mut samples = 0;
        while !stop.load(Ordering::SeqCst) {
            let request = json!({"RequestItems": {&table: {"Keys": keys, "ConsistentRead": true}}});
            let answer = moto.aws_json("dynamodb", "DynamoDB_20120810.BatchGetItem", &request).await.unwrap();
            for item in answer["Responses"][&table].as_array().into_iter().flatten() {
                let key = item["pk"]["S"].as_str().unwrap().trim_start_matches("counter#").to_owned();
                let counter = Counter::from_item(item);
                let top = highest.entry(key).or_default();
                *top = (*top).max(counter.taken).max(counter.held + counter.sold);
            }
            samples += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (samples, highest)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs a drop of `buyers(seed)` against `limits` and checks everything.
async fn ticket_drop(name: &str, limits: Limits, seed: u64) {
    let buyers = buyers(seed);
    let expected = expected(&limits, &buyers);
    // The mix exhausts every limit whatever the order: more of every kind than there are places.
    assert!(VISITOR_BUYERS > limits.visitor as usize);
    for (i, stock) in limits.stock.iter().enumerate() {
        assert!(buyers.iter().filter(|w| **w == Want::Bronze(i)).count() > *stock as usize, "size {}", SIZES[i]);
    }
    let places = expected.visitors + expected.bronze;

    let shop = Shop::start_alone(limits.config()).await;
    shop.proxy.serialise("DynamoDB_20120810.");
    let mut containers = shop.checkouts(CONTAINERS).await;
    // Before the drop: everything available (this also warms each container up).
    for container in &mut containers {
        let before = availability(container).await;
        assert_eq!(before["tickets"]["visitor"]["available"], limits.visitor, "{before}");
        assert_eq!(before["tickets"]["bronze"]["sold_out"], false, "{before}");
    }
    shop.proxy.reset_counts();

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_counters(&shop, &limits, stop.clone());
    let forms: Vec<String> = buyers.iter().map(|w| w.form()).collect();
    let started = Instant::now();
    let (mut containers, bought) = buy_concurrently(containers, &forms).await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (samples, highest) = watcher.await.unwrap();
    let answers: Vec<Answer> = bought
        .into_iter()
        .map(|b| Answer { want: buyers[b.index], response: b.response, latency: b.latency })
        .collect();

    // Exactly the places as redirects, a sold-out page for everyone else.
    let redirects: Vec<&Answer> = answers.iter().filter(|a| status(&a.response) == 303).collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| status(&a.response) == 409).collect();
    let others: Vec<&Value> =
        answers.iter().filter(|a| ![303, 409].contains(&status(&a.response))).map(|a| &a.response).collect();
    assert!(others.is_empty(), "{name}: only 303 and 409: {others:#?}");
    assert_eq!(redirects.len(), places, "{name}");
    assert_eq!(refused.len(), BUYERS - places, "{name}");
    let sold = |f: &dyn Fn(Want) -> bool| redirects.iter().filter(|a| f(a.want)).count();
    assert_eq!(sold(&|w| w == Want::Visitor), expected.visitors, "{name}: visitors");
    assert_eq!(sold(&|w| w != Want::Visitor), expected.bronze, "{name}: bronze");
    let per_size: [usize; 4] = std::array::from_fn(|i| sold(&|w| w == Want::Bronze(i)));
    for (i, n) in per_size.iter().enumerate() {
        assert!(*n <= limits.stock[i] as usize, "{name}: size {} oversold: {n}", SIZES[i]);
    }
    if let Some(exact) = expected.per_size {
        assert_eq!(per_size, exact, "{name}: every size sells its stock");
    }
    for answer in &refused {
        let page = body(&answer.response);
        assert!(page.to_lowercase().contains("sold out"), "{name}: {page}");
        let ticket_full = match answer.want {
            Want::Visitor => "Visitor ticket: sold out.".to_owned(),
            Want::Bronze(_) => "Bronze ticket: sold out.".to_owned(),
        };
        let size_full = match answer.want {
            Want::Visitor => None,
            Want::Bronze(i) => Some(format!("T-shirt size {} is sold out.", SIZES[i].to_uppercase())),
        };
        let says = |text: &Option<String>| text.as_ref().is_some_and(|t| page.contains(t.as_str()));
        if expected.per_size.is_some() {
            // The sizes bind: a bronze buyer is told their size is gone, never the ticket.
            assert!(says(&size_full) || answer.want == Want::Visitor && page.contains(&ticket_full), "{name}: {page}");
        } else {
            assert!(page.contains(&ticket_full) || says(&size_full), "{name}: {page}");
        }
        assert_eq!(header(&answer.response, "cache-control"), Some("no-store"), "{name}: {}", answer.response);
    }

    // Stripe: one session per redirect, none for a refusal.
    assert_eq!(shop.stripe.sessions_created(), places, "{name}");
    assert_eq!(shop.create_requests(), places, "{name}: Stripe called exactly once per redirect");
    let mut sessions = BTreeSet::new();
    let mut session_holds = BTreeMap::new();
    for answer in &redirects {
        let id = redirect_session(&answer.response);
        let session = shop.stripe.session(&id).unwrap_or_else(|| panic!("{name}: no session {id}"));
        assert_eq!(session["status"], "open", "{name}: {session}");
        let hold = session["metadata"]["hold_id"].as_str().unwrap_or_else(|| panic!("no hold_id: {session}"));
        session_holds.insert(hold.to_owned(), answer.want);
        assert!(sessions.insert(id), "{name}: one session per buyer");
    }

    // The table: one hold per redirect, on the buyer's counters; counters
    // equal to what was sold, never past their limits.
    let holds = shop.holds().await;
    assert_eq!(holds.len(), places, "{name}: a refused reservation stores no hold");
    for hold in &holds {
        let want = session_holds.get(&hold.id).unwrap_or_else(|| panic!("{name}: hold {} has no session", hold.id));
        assert_eq!(hold.counters, want.counters(), "{name}");
        assert_eq!((hold.status.as_str(), hold.hold_state.as_deref()), ("held", Some("held")), "{name}");
    }
    let counters = shop.counters().await;
    let held = |key: &str| redirects.iter().filter(|a| a.want.counters().iter().any(|c| c == key)).count() as i64;
    for (key, limit) in limits.counters() {
        let counter = counters.get(&key).copied().unwrap_or_default();
        let n = held(&key);
        assert_eq!(counter, Counter { held: n, sold: 0, taken: n }, "{name}: {key}");
        assert!(counter.taken <= i64::from(limit), "{name}: {key} past its limit: {counter:?}");
        let top = highest.get(&key).copied().unwrap_or(0);
        assert!(top <= i64::from(limit), "{name}: {key} showed {top} during the drop (limit {limit})");
    }

    // DynamoDB: one reservation per buyer (serialised, so never a conflict to
    // retry); no other write. Under load the SDK may retry an attempt that
    // timed out waiting its turn (the transaction's token makes that harmless).
    let writes = shop.proxy.count(TRANSACT_WRITE);
    assert!((BUYERS..=BUYERS + BUYERS / 20).contains(&writes), "{name}: {:?}", shop.proxy.counts());
    assert_eq!(shop.proxy.count(GET_PARAMETER), 0, "{name}: the config is cached");

    // `/availability` from one of the containers tells the same story.
    let now = availability(&mut containers[0]).await;
    let visitor = &now["tickets"]["visitor"];
    let bronze = &now["tickets"]["bronze"];
    let counter = |key: &str| counters.get(key).copied().unwrap_or_default();
    let four = ["capacity", "sold", "held", "available"];
    assert_eq!(pick(visitor, &four), figures(limits.visitor.into(), counter("ticket#visitor")), "{now}");
    assert_eq!(pick(bronze, &four), figures(limits.bronze.into(), counter("ticket#bronze")), "{now}");
    for (i, size) in SIZES.iter().enumerate() {
        let key = format!("stock#tshirt#{size}");
        assert_eq!(bronze["options"]["tshirt"][size], figures(limits.stock[i].into(), counter(&key)), "{now}");
    }
    assert_eq!((&visitor["sold_out"], &visitor["sale"]), (&json!(true), &json!("open")), "{now}");
    assert_eq!((&bronze["sold_out"], &bronze["sale"]), (&json!(true), &json!("open")), "{now}");
    for container in &mut containers {
        container.assert_alive();
    }

    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    eprintln!(
        "{name}: {BUYERS} buyers on {CONTAINERS} containers in {:.2} s ({:.0}/s): {} redirects, {} sold out; \
         latency p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; counters sampled {samples} times",
        elapsed.as_secs_f64(),
        BUYERS as f64 / elapsed.as_secs_f64(),
        redirects.len(),
        refused.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 1.0),
    );
}

/// Visitors 30, bronze 20, ten shirts of each size: the tickets' capacities
/// run out (a size may too, if its buyers come early).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drop_where_the_ticket_capacities_run_out() {
    let limits = Limits { visitor: 30, bronze: 20, stock: [10, 10, 10, 10] };
    let expected = expected(&limits, &buyers(0x7d_f2026));
    assert_eq!((expected.visitors, expected.bronze, expected.per_size), (30, 20, None));
    ticket_drop("capacities", limits, 0x7d_f2026).await;
}

/// Visitors 30, bronze 30, five shirts of each size: every size runs out
/// before the bronze capacity (20 bronze tickets sold, 5 of each size).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drop_where_the_tshirt_sizes_run_out() {
    let limits = Limits { visitor: 30, bronze: 30, stock: [5, 5, 5, 5] };
    let expected = expected(&limits, &buyers(0x5_12e5)).per_size;
    assert_eq!(expected, Some([5, 5, 5, 5]));
    ticket_drop("sizes", limits, 0x5_12e5).await;
}
