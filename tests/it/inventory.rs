//! The inventory's DynamoDB writes against moto: the conditions that keep a
//! counter within its limit, holds that move once, the sale inside the
//! votekey claim, the counters' batch read and the sparse `open-holds`
//! index the sweeper queries. (moto applies each request whole; the drop
//! test covers concurrency with the proxy serialising DynamoDB.)

use crate::support::*;
use tickets::inventory::{CounterKey, Counts, DynamoInventory, Hold, HoldStatus, Inventory, Limit, Reservation};
use tickets::ledger::{ClaimOutcome, DynamoLedger, Ledger, Notice, OrderDetails, VotekeyUse};

struct Table {
    /// Held for the test's length: the last holder of the shared moto stops it.
    _moto: std::sync::Arc<testbed::moto::Moto>,
    inventory: DynamoInventory,
    ledger: DynamoLedger,
}

async fn table() -> Table {
    let moto = moto().await;
    let name = unique_name("inventory");
    moto.create_orders_table(&name).await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&aws_config(&moto));
    Table {
        inventory: DynamoInventory::new(client.clone(), &name),
        ledger: DynamoLedger::new(client, &name),
        _moto: moto,
    }
}

fn limits() -> Vec<Limit> {
    vec![
        Limit { counter: CounterKey::group("hall"), capacity: 2 },
        Limit { counter: CounterKey::stock("tshirt", "m"), capacity: 1 },
    ]
}

impl Table {
    async fn counts(&self) -> Vec<Counts> {
        self.inventory.counts(&[CounterKey::group("hall"), CounterKey::stock("tshirt", "m")]).await.unwrap()
    }
}

#[tokio::test]
async fn reservations_stop_at_the_limit_and_a_refusal_takes_nothing() {
    let t = table().await;
    let first = Hold::new(&limits(), 1_000, 2_100).unwrap();
    assert_eq!(t.inventory.reserve(&first, &limits()).await.unwrap(), Reservation::Held);
    let second = Hold::new(&limits(), 1_010, 2_100).unwrap();
    let refused = t.inventory.reserve(&second, &limits()).await.unwrap();
    let shirt = Counts { held: 1, sold: 0, held_until: Some(3_100) };
    assert_eq!(refused, Reservation::SoldOut { counter: CounterKey::stock("tshirt", "m"), counts: shirt });
    assert_eq!(t.counts().await[0].held, 1, "the hall counter was not touched by the refused hold");
    assert_eq!(t.inventory.hold(&second.id).await.unwrap(), None, "the refused hold was not stored");
    assert_eq!(t.inventory.hold(&first.id).await.unwrap(), Some(first));
}

#[tokio::test]
async fn zero_capacity_refuses_even_a_counter_never_written() {
    let t = table().await;
    let none = [Limit { counter: CounterKey::group("closed"), capacity: 0 }];
    let refused = t.inventory.reserve(&Hold::new(&none, 1, 2_100).unwrap(), &none).await.unwrap();
    assert_eq!(refused, Reservation::SoldOut { counter: CounterKey::group("closed"), counts: Counts::default() });
}

#[tokio::test]
async fn a_release_gives_places_back_once() {
    let t = table().await;
    let hold = Hold::new(&limits(), 1_000, 2_100).unwrap();
    t.inventory.reserve(&hold, &limits()).await.unwrap();
    assert!(t.inventory.release(&hold, 1_500).await.unwrap());
    assert!(!t.inventory.release(&hold, 1_501).await.unwrap(), "a duplicate release changes nothing");
    assert_eq!(t.counts().await.iter().map(Counts::taken).collect::<Vec<_>>(), [0, 0]);
    assert_eq!(t.inventory.hold(&hold.id).await.unwrap().unwrap().status, HoldStatus::Released);
    // The place is free again.
    let again = Hold::new(&limits(), 1_600, 2_100).unwrap();
    assert_eq!(t.inventory.reserve(&again, &limits()).await.unwrap(), Reservation::Held);
}

fn details(session_id: &str, hold: &Hold) -> OrderDetails {
    OrderDetails {
        session_id: session_id.into(),
        email: Some("buyer@example.com".into()),
        hold_id: Some(hold.id.clone()),
        ..OrderDetails::default()
    }
}

#[tokio::test]
async fn the_sale_happens_in_the_votekey_claim_and_only_once() {
    let t = table().await;
    let hold = Hold::new(&limits(), 1_000, 2_100).unwrap();
    t.inventory.reserve(&hold, &limits()).await.unwrap();
    let order = details("cs_test_inventory_sale", &hold);
    let claim = t.ledger.claim(&order, Notice::Votekey, VotekeyUse::Reserve("BCDFGHJK"), Some(&hold), 1_100, 10);
    assert!(matches!(claim.await.unwrap(), ClaimOutcome::Claimed { .. }));
    let sold = t.counts().await;
    assert_eq!(sold.iter().map(|c| (c.held, c.sold)).collect::<Vec<_>>(), [(0, 1), (0, 1)]);
    assert_eq!(t.inventory.hold(&hold.id).await.unwrap().unwrap().status, HoldStatus::Sold);
    assert!(!t.inventory.release(&hold, 1_200).await.unwrap(), "a sold hold is never released");
    assert_eq!(t.ledger.get("cs_test_inventory_sale").await.unwrap().unwrap().details.hold_id, Some(hold.id.clone()));
    // A second claimant that read the hold as held before the sale: refused, nothing counted twice.
    let other = details("cs_test_inventory_other", &hold);
    let stale = t.ledger.claim(&other, Notice::Votekey, VotekeyUse::Reserve("LMNPQRST"), Some(&hold), 1_300, 10);
    assert_eq!(stale.await.unwrap(), ClaimOutcome::InProgress);
    assert_eq!(t.counts().await[0].sold, 1);
}

#[tokio::test]
async fn a_late_payment_after_release_is_sold_and_counted() {
    let t = table().await;
    let hold = Hold::new(&limits(), 1_000, 2_100).unwrap();
    t.inventory.reserve(&hold, &limits()).await.unwrap();
    t.inventory.release(&hold, 1_500).await.unwrap();
    let released = t.inventory.hold(&hold.id).await.unwrap().unwrap();
    let order = details("cs_test_inventory_late", &hold);
    let claim = t.ledger.claim(&order, Notice::Votekey, VotekeyUse::Reserve("VWXYZBCD"), Some(&released), 1_600, 10);
    assert!(matches!(claim.await.unwrap(), ClaimOutcome::Claimed { .. }));
    assert_eq!(
        t.counts().await.iter().map(|c| (c.held, c.sold, c.taken())).collect::<Vec<_>>(),
        [(0, 1, 1), (0, 1, 1)]
    );
}

#[tokio::test]
async fn the_open_holds_index_lists_only_held_holds_past_expiry() {
    let t = table().await;
    let wide = [Limit { counter: CounterKey::group("hall"), capacity: 10 }];
    let early = Hold::new(&wide, 1_000, 2_100).unwrap();
    let later = Hold::new(&wide, 2_000, 2_100).unwrap();
    let released = Hold::new(&wide, 500, 2_100).unwrap();
    for hold in [&early, &later, &released] {
        t.inventory.reserve(hold, &wide).await.unwrap();
    }
    t.inventory.release(&released, 900).await.unwrap();
    let due = t.inventory.expired_holds(3_500, 100).await.unwrap();
    assert_eq!(due, std::slice::from_ref(&early), "only the early hold is past expiry and still held");
    let all = t.inventory.expired_holds(10_000, 100).await.unwrap();
    assert_eq!(all.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), [early.id.as_str(), later.id.as_str()]);
}

#[tokio::test]
async fn counts_read_many_counters_at_once_with_zero_for_unknown_ones() {
    let t = table().await;
    let hold = Hold::new(&limits(), 1_000, 2_100).unwrap();
    t.inventory.reserve(&hold, &limits()).await.unwrap();
    let mut keys: Vec<CounterKey> = (0..120).map(|i| CounterKey::group(&format!("g{i}"))).collect();
    keys.push(CounterKey::group("hall"));
    keys.push(CounterKey::group("hall"));
    let counts = t.inventory.counts(&keys).await.unwrap();
    assert_eq!(counts.len(), 122);
    assert!(counts[..120].iter().all(|c| *c == Counts::default()));
    assert_eq!((counts[120].held, counts[121].held), (1, 1));
}

/// A `TransactionCanceledException` whose reasons say a concurrent
/// transaction won (first item conflicted), as DynamoDB answers at a drop.
fn conflict(items: usize) -> String {
    let mut reasons =
        vec![serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})];
    reasons.extend((1..items).map(|_| serde_json::json!({"Code": "None"})));
    serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
        "CancellationReasons": reasons,
    })
    .to_string()
}

#[tokio::test]
async fn conflicting_reservations_are_retried_then_reported_as_contended() {
    const TRANSACT: &str = "DynamoDB_20120810.TransactWriteItems";
    let moto = moto().await;
    let name = unique_name("contended");
    moto.create_orders_table(&name).await.unwrap();
    let proxy = testbed::proxy::CountingProxy::start(moto.endpoint_url()).await.unwrap();
    let aws = aws_config(&moto).to_builder().endpoint_url(proxy.endpoint_url()).build();
    let inventory = DynamoInventory::new(aws_sdk_dynamodb::Client::new(&aws), &name);
    proxy.respond_next(TRANSACT, 400, conflict(3), 3);
    let hold = Hold::new(&limits(), 1_000, 2_100).unwrap();
    assert_eq!(inventory.reserve(&hold, &limits()).await.unwrap(), Reservation::Held, "won on the fourth try");
    assert_eq!(proxy.count(TRANSACT), 4);
    // A conflict that outlasts the budget takes nothing and says so.
    proxy.respond_next(TRANSACT, 400, conflict(3), 10_000);
    let crowded = Hold::new(&limits(), 1_010, 2_100).unwrap();
    assert_eq!(inventory.reserve(&crowded, &limits()).await.unwrap(), Reservation::Contended);
    proxy.clear_faults();
    let counts = inventory.counts(&[CounterKey::group("hall")]).await.unwrap();
    assert_eq!(counts[0].held, 1, "only the first hold took a place");
}
