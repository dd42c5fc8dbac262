//! The hold rules over plain data (the same as DynamoDB's conditions).

use super::memory::InventoryState;
use super::*;
use crate::config::Config;

fn limit(key: &str, capacity: u32) -> Limit {
    Limit { counter: CounterKey(key.into()), capacity }
}

fn hold(limits: &[Limit], now: i64) -> Hold {
    Hold::new(limits, now, 35 * 60).unwrap()
}

#[test]
fn reservations_stop_at_the_smallest_limit_and_take_nothing_when_refused() {
    let mut state = InventoryState::default();
    let limits = [limit("ticket#bronze", 5), limit("stock#tshirt#m", 1)];
    assert_eq!(state.reserve(&hold(&limits, 100), &limits).unwrap(), Reservation::Held);
    let refused = state.reserve(&hold(&limits, 200), &limits).unwrap();
    let shirt = Counts { held: 1, sold: 0, held_until: Some(100 + 35 * 60) };
    assert_eq!(refused, Reservation::SoldOut { counter: CounterKey("stock#tshirt#m".into()), counts: shirt });
    assert_eq!(state.counts(&[CounterKey("ticket#bronze".into())])[0].held, 1, "all or nothing");
}

#[test]
fn release_and_sale_change_the_counters_once() {
    let mut state = InventoryState::default();
    let limits = [limit("ticket#visitor", 2)];
    let (a, b) = (hold(&limits, 1), hold(&limits, 2));
    state.reserve(&a, &limits).unwrap();
    state.reserve(&b, &limits).unwrap();
    assert!(state.release(&a.id));
    assert!(!state.release(&a.id), "a second release changes nothing");
    assert!(state.can_sell(&b));
    state.sell(&b);
    assert!(!state.can_sell(&state.hold(&b.id).unwrap()), "sold is final");
    assert!(!state.release(&b.id), "a sold hold is never released");
    let counts = &state.counts(&[CounterKey("ticket#visitor".into())])[0];
    assert_eq!((counts.held, counts.sold), (0, 1));
}

#[test]
fn a_late_payment_after_release_still_sells() {
    let mut state = InventoryState::default();
    let limits = [limit("ticket#visitor", 1)];
    let h = hold(&limits, 1);
    state.reserve(&h, &limits).unwrap();
    state.release(&h.id);
    let seen = state.hold(&h.id).unwrap();
    assert!(state.can_sell(&seen));
    state.sell(&seen);
    let counts = &state.counts(&[CounterKey("ticket#visitor".into())])[0];
    assert_eq!((counts.held, counts.sold), (0, 1));
    // A stale view (still "held") is refused: the hold moved.
    assert!(!state.can_sell(&h));
}

#[test]
fn expired_holds_are_listed_oldest_first_and_only_while_held() {
    let mut state = InventoryState::default();
    let limits = [limit("ticket#visitor", 10)];
    let (old, new) = (hold(&limits, 10), hold(&limits, 5));
    state.reserve(&old, &limits).unwrap();
    state.reserve(&new, &limits).unwrap();
    let expired = state.expired_holds(10 + 35 * 60 + 1, 10);
    assert_eq!(expired.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), [new.id.as_str(), old.id.as_str()]);
    state.release(&new.id);
    assert_eq!(state.expired_holds(i64::MAX, 10).len(), 1);
    assert!(state.expired_holds(5 + 35 * 60, 10).is_empty(), "not before expiry");
}

#[test]
fn an_order_counts_against_its_ticket_group_and_stocked_choices() {
    let config = Config::from_json(
        &serde_json::json!({
            "stripe_api_secret_key": "sk_test_x", "webhook_signing_secret": "whsec_x",
            "success_url": "https://t.example/ok", "cancel_url": "https://t.example/",
            "catalog": {
                "capacity_groups": {"hall": 200},
                "tickets": [
                    {"id": "visitor", "price": "price_v", "capacity": 150, "capacity_group": "hall"},
                    {"id": "supporter", "price": "price_s", "capacity_group": "hall", "options": [
                        {"field": "tshirt", "choices": [{"value": "m", "stock": 10}, {"value": "l"}]}
                    ]}
                ]
            }
        })
        .to_string(),
    )
    .unwrap();
    let keys = |form: &str| {
        let order = crate::order::TicketOrder::from_form(config.catalog(), form.as_bytes()).unwrap();
        limits(config.catalog(), &order).into_iter().map(|l| (l.counter.0, l.capacity)).collect::<Vec<_>>()
    };
    assert_eq!(keys("type=visitor"), [("ticket#visitor".to_owned(), 150), ("group#hall".to_owned(), 200)]);
    assert_eq!(keys("type=supporter&tshirt=m"), [("group#hall".to_owned(), 200), ("stock#tshirt#m".to_owned(), 10)]);
    assert_eq!(keys("type=supporter&tshirt=l"), [("group#hall".to_owned(), 200)]);
}

#[test]
fn hold_ids_are_random_and_recognisable() {
    let (a, b) = (hold(&[], 0), hold(&[], 0));
    assert_ne!(a.id, b.id);
    assert!(Hold::is_hold_id(&a.id));
    assert!(!Hold::is_hold_id("hold_x") && !Hold::is_hold_id("cs_test_1"));
}
