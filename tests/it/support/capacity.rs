//! Shared set-up for the capacity tests (`capacity_lambda`, `drop`): one
//! orders table and one config in moto, one counting proxy and one fake
//! Stripe, and as many checkout and fulfill containers on them as a test
//! wants; API Gateway events for the form, `/availability` and webhooks; the
//! counters and holds read straight from moto.

use super::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testbed::moto::Moto;
use testbed::proxy::CountingProxy;
use testbed::stripe::FakeStripe;

pub const TRANSACT_WRITE: &str = "DynamoDB_20120810.TransactWriteItems";
pub const CREATE_SESSION: &str = "/v1/checkout/sessions";
/// Where the example config sends the votekey email from (moto must know the domain).
pub const SENDER_DOMAIN: &str = "tokyodemofest.example";

/// The example config with `extra` keys set (`capacity`, `tshirt_stock`, …).
pub fn config_with(extra: Value) -> Value {
    let mut config = example_config();
    for (key, value) in extra.as_object().expect("an object of config keys") {
        config[key] = value.clone();
    }
    config
}

/// One shop: table, config, proxy (what the functions' AWS calls go
/// through) and the fake Stripe. Containers are started on demand.
pub struct Shop {
    pub moto: Arc<Moto>,
    pub proxy: CountingProxy,
    pub stripe: FakeStripe,
    pub table: String,
    pub parameter: String,
    /// Held by a shop of [`Shop::start_alone`] for its whole life.
    _alone: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Shop {
    pub async fn start(config: Value) -> Shop {
        // Held across the start: the last holder of the shared moto stops it.
        Shop::start_on(moto().await, config, None).await
    }

    /// A shop for a test of many containers at once (a drop, concurrent
    /// fulfilments): such tests run one at a time, each on its own moto, so
    /// the rest of the suite (and each other) cannot slow moto down past the
    /// functions' AWS timeouts on a loaded 2-core machine.
    pub async fn start_alone(config: Value) -> Shop {
        static ALONE: std::sync::LazyLock<Arc<tokio::sync::Mutex<()>>> = std::sync::LazyLock::new(Default::default);
        let turn = ALONE.clone().lock_owned().await;
        let moto = Arc::new(Moto::start().await.expect("start moto (scripts/test installs it into .venv)"));
        Shop::start_on(moto, config, Some(turn)).await
    }

    async fn start_on(moto: Arc<Moto>, config: Value, alone: Option<tokio::sync::OwnedMutexGuard<()>>) -> Shop {
        moto.verify_domain_identity(SENDER_DOMAIN).await.unwrap();
        let table = unique_name("orders");
        moto.create_orders_table(&table).await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("capacity"));
        moto.put_parameter(&parameter, &config.to_string()).await.unwrap();
        let proxy = CountingProxy::start(moto.endpoint_url()).await.unwrap();
        let stripe = FakeStripe::start().await.unwrap();
        Shop { moto, proxy, stripe, table, parameter, _alone: alone }
    }

    /// A checkout container with `ORDERS_TABLE`, as deployed.
    pub async fn checkout(&self) -> Container {
        let settings = [("CONFIG_PARAMETER", self.parameter.as_str()), ("ORDERS_TABLE", self.table.as_str())];
        Container::start("checkout", &self.proxy, &self.stripe, &settings).await
    }

    /// `n` checkout containers (each handles one invocation at a time, as on Lambda).
    pub async fn checkouts(&self, n: usize) -> Vec<Container> {
        let mut containers = Vec::with_capacity(n);
        for _ in 0..n {
            containers.push(self.checkout().await);
        }
        containers
    }

    /// A fulfill container (`ORDERS_TABLE` is required there).
    pub async fn fulfill(&self) -> Container {
        let settings = [("CONFIG_PARAMETER", self.parameter.as_str()), ("ORDERS_TABLE", self.table.as_str())];
        Container::start("fulfill", &self.proxy, &self.stripe, &settings).await
    }

    /// Every counter item, by its key without the `counter#` prefix.
    pub async fn counters(&self) -> BTreeMap<String, Counter> {
        let items = self.moto.scan_table(&self.table).await.unwrap();
        items
            .iter()
            .filter_map(|item| {
                let key = item["pk"]["S"].as_str()?.strip_prefix("counter#")?;
                Some((key.to_owned(), Counter::from_item(item)))
            })
            .collect()
    }

    /// One counter (zero if it was never written).
    pub async fn counter(&self, key: &str) -> Counter {
        self.counters().await.remove(key).unwrap_or_default()
    }

    /// Every hold item.
    pub async fn holds(&self) -> Vec<HoldItem> {
        let items = self.moto.scan_table(&self.table).await.unwrap();
        items.iter().filter_map(HoldItem::from_item).collect()
    }

    /// The hold with this id.
    pub async fn hold(&self, id: &str) -> HoldItem {
        self.holds().await.into_iter().find(|h| h.id == id).unwrap_or_else(|| panic!("no hold {id}"))
    }

    /// Session creations the fake Stripe was asked for (429s and faults included).
    pub fn create_requests(&self) -> usize {
        self.stripe.requests().iter().filter(|r| r.method == "POST" && r.path == CREATE_SESSION).count()
    }
}

/// A counter item's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub held: i64,
    pub sold: i64,
    pub taken: i64,
}

fn number(item: &Value, name: &str) -> Option<i64> {
    item[name]["N"].as_str().map(|n| n.parse().unwrap_or_else(|_| panic!("{name} is not a number: {item}")))
}

impl Counter {
    pub fn from_item(item: &Value) -> Counter {
        let n = |name| number(item, name).unwrap_or(0);
        Counter { held: n("held"), sold: n("sold"), taken: n("taken") }
    }
}

/// A hold item as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldItem {
    pub id: String,
    pub status: String,
    /// `Some("held")` exactly while it is in the `open-holds` index.
    pub hold_state: Option<String>,
    pub counters: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl HoldItem {
    fn from_item(item: &Value) -> Option<HoldItem> {
        let id = item["pk"]["S"].as_str()?.strip_prefix("hold#")?.to_owned();
        let counters = item["counters"]["L"].as_array()?;
        Some(HoldItem {
            id,
            status: item["status"]["S"].as_str()?.to_owned(),
            hold_state: item["hold_state"]["S"].as_str().map(str::to_owned),
            counters: counters.iter().filter_map(|c| c["S"].as_str().map(str::to_owned)).collect(),
            created_at: number(item, "created_at")?,
            expires_at: number(item, "expires_at")?,
        })
    }
}

// ---- many buyers at once -------------------------------------------------------------

/// One buyer's answer.
pub struct Bought {
    /// The buyer's place in the queue.
    pub index: usize,
    pub response: Value,
    pub latency: Duration,
}

/// Every form posted to `/checkout` by its own buyer, the buyers taking
/// turns from one queue, as many at a time as there are containers (each
/// handles one invocation at a time, as on Lambda). Answers in queue order.
pub async fn buy_concurrently(containers: Vec<Container>, forms: &[String]) -> (Vec<Container>, Vec<Bought>) {
    let queue: Arc<Mutex<VecDeque<(usize, String)>>> =
        Arc::new(Mutex::new(forms.iter().cloned().enumerate().collect()));
    let mut tasks = tokio::task::JoinSet::new();
    for mut container in containers {
        let queue = queue.clone();
        tasks.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let Some((index, form)) = queue.lock().unwrap().pop_front() else { break };
                let (response, record) = container.invoke(checkout_event(&form)).await;
                answers.push(Bought { index, response, latency: record.latency() });
            }
            (container, answers)
        });
    }
    let (mut containers, mut answers) = (Vec::new(), Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (container, mine) = done.unwrap();
        containers.push(container);
        answers.extend(mine);
    }
    answers.sort_by_key(|a| a.index);
    assert_eq!(answers.len(), forms.len());
    (containers, answers)
}

// ---- events ------------------------------------------------------------------------

/// `POST /checkout` with this form, shaped like events/checkout-*.json, with
/// its own request id.
pub fn checkout_event(form: &str) -> Value {
    use base64::Engine as _;
    let mut event = event_json("checkout-bronze-l.json");
    event["body"] = base64::engine::general_purpose::STANDARD.encode(form).into();
    event["isBase64Encoded"] = true.into();
    event["headers"]["content-length"] = form.len().to_string().into();
    event["requestContext"]["requestId"] = testbed::stripe::random_id("", 16).into();
    event
}

/// `GET /availability`, as a ticket page's script sends it.
pub fn availability_event() -> Value {
    let mut event = event_json("checkout-get.json");
    event["routeKey"] = "GET /availability".into();
    event["rawPath"] = "/availability".into();
    event["requestContext"]["routeKey"] = "GET /availability".into();
    event["requestContext"]["http"]["path"] = "/availability".into();
    event["headers"]["accept"] = "application/json".into();
    event["headers"]["origin"] = "https://tokyodemofest.example".into();
    event
}

/// A Stripe webhook (`POST /fulfill`) carrying `stripe_event`, signed now with the local secret.
pub fn webhook_event(stripe_event: &Value) -> Value {
    let mut event = event_json("fulfill-completed.json");
    let body = stripe_event.to_string();
    event["headers"]["content-length"] = body.len().to_string().into();
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    resign_event(&event, LOCAL_WEBHOOK_SECRET, unix_now())
}

/// The session id a 303 redirects to.
pub fn redirect_session(response: &Value) -> String {
    let location = header(response, "location").unwrap_or_else(|| panic!("no Location: {response}"));
    location.rsplit('/').next().unwrap().to_owned()
}

pub fn body(response: &Value) -> &str {
    response["body"].as_str().unwrap_or_default()
}

/// The JSON body of a response (availability, webhook answers).
pub fn json_body(response: &Value) -> Value {
    serde_json::from_str(body(response)).unwrap_or_else(|_| panic!("not a JSON body: {response}"))
}

/// `GET /availability` through a checkout container: status 200, its JSON.
pub async fn availability(container: &mut Container) -> Value {
    let (response, _) = container.invoke(availability_event()).await;
    assert_eq!(status(&response), 200, "{response}\n{}", container.logs());
    json_body(&response)
}

/// The four figures of one limit in `/availability`.
pub fn figures(capacity: i64, counter: Counter) -> Value {
    json!({
        "capacity": capacity,
        "sold": counter.sold,
        "held": counter.held,
        "available": capacity - counter.taken,
    })
}

/// `value` with only `keys` (to compare part of an availability entry).
pub fn pick(value: &Value, keys: &[&str]) -> Value {
    Value::Object(keys.iter().map(|k| (k.to_string(), value[*k].clone())).collect())
}
