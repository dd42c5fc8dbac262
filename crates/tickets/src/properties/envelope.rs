//! The webhook event envelope (`id`, `type`, `data.object`), parsed after the
//! signature in the fulfill handler: whatever a correctly signed body holds,
//! the handler answers without panicking, a body that is not a well-formed
//! event of a type it handles is a 400 before any Stripe call, and a type it
//! does not handle is acknowledged and ignored.

use super::{awkward_text, example_config, json_value, seeded};
use crate::config::ConfigCache;
use crate::doubles::{MemoryLedger, MemoryMailer, MemoryPayments, ScriptedSource};
use crate::fulfill::Fulfill;
use crate::webhook;
use lambda_http::{Body, Response};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_800_000_000;

/// The event types the handler acts on, with the object Stripe puts in
/// `data.object` for each and the prefixes of that object's id.
const HANDLED: [(&str, &str, &[&str]); 9] = [
    ("checkout.session.completed", "checkout.session", &["cs_"]),
    ("checkout.session.async_payment_succeeded", "checkout.session", &["cs_"]),
    ("checkout.session.async_payment_failed", "checkout.session", &["cs_"]),
    ("checkout.session.expired", "checkout.session", &["cs_"]),
    ("charge.refunded", "charge", &["ch_", "py_"]),
    ("refund.created", "refund", &["re_"]),
    ("refund.updated", "refund", &["re_"]),
    ("charge.dispute.created", "dispute", &["dp_", "du_"]),
    ("charge.dispute.closed", "dispute", &["dp_", "du_"]),
];

/// One fulfill container over empty doubles; the payments double tells
/// whether Stripe was asked about a session.
struct Bed {
    fulfill: Fulfill,
    payments: Arc<MemoryPayments>,
    secret: String,
    runtime: tokio::runtime::Runtime,
}

impl Bed {
    fn new() -> Bed {
        let config = example_config();
        let secret = config["webhook_signing_secret"].as_str().expect("one secret").to_owned();
        let cache = ConfigCache::new(Box::new(ScriptedSource::always(config.to_string())), Duration::from_secs(300));
        let payments = Arc::new(MemoryPayments::new());
        let fulfill = Fulfill::new(
            Arc::new(cache),
            payments.clone(),
            Arc::new(MemoryLedger::new()),
            Arc::new(MemoryMailer::new()),
        )
        .with_clock(Arc::new(|| NOW));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
        Bed { fulfill, payments, secret, runtime }
    }

    /// `body`, correctly signed, POSTed to the handler.
    fn deliver(&self, body: &[u8]) -> Response<Body> {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://tickets.example/fulfill")
            .header("content-type", "application/json")
            .header("stripe-signature", webhook::sign(body, &self.secret, NOW))
            .body(Body::Binary(body.to_vec()))
            .expect("a request");
        self.runtime.block_on(self.fulfill.handle(request))
    }
}

fn outcome(response: &Response<Body>) -> Option<String> {
    let body: Value = serde_json::from_slice(response.body().as_ref()).ok()?;
    body["outcome"].as_str().map(str::to_owned)
}

/// An id Stripe could have made: one of `prefixes` and letters or digits.
fn stripe_id(prefixes: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(prefixes), "[A-Za-z0-9]{1,40}").prop_map(|(p, rest)| format!("{p}{rest}"))
}

/// A well-formed event of a handled type about an object of the right kind.
fn handled_event() -> impl Strategy<Value = (usize, Value)> {
    (0..HANDLED.len()).prop_flat_map(|i| {
        let (kind, object, prefixes) = HANDLED[i];
        (stripe_id(&["evt_"]), stripe_id(prefixes), stripe_id(&["ch_", "py_"])).prop_map(move |(evt, id, charge)| {
            let event = json!({"id": evt, "object": "event", "type": kind,
                "data": {"object": {"id": id, "object": object, "charge": charge}}});
            (i, event)
        })
    })
}

/// JSON of any type but a string (and not null, which reads as "absent").
/// Upper-case keys: never one the envelope reads.
fn not_a_string() -> impl Strategy<Value = Value> {
    json_value("[A-Z]{1,6}").prop_filter("neither string nor null", |v| !v.is_string() && !v.is_null())
}

/// An object kind other than `object`: another of Stripe's, or any text.
fn other_kind(object: &'static str) -> impl Strategy<Value = String> {
    const STRIPE_KINDS: [&str; 6] =
        ["checkout.session", "charge", "refund", "dispute", "payment_intent", "Checkout.Session"];
    prop_oneof![prop::sample::select(&STRIPE_KINDS[..]).prop_map(str::to_owned), awkward_text(20)]
        .prop_filter("another kind", move |kind| kind != object)
}

/// An id that breaks Stripe's shape: another prefix, a character that is not
/// a letter, digit or `_`, or far too long.
fn malformed_id(prefixes: &'static [&'static str]) -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(prefixes);
    let foreign = awkward_text(6)
        .prop_filter("a foreign character", |odd| odd.chars().any(|c| !c.is_ascii_alphanumeric() && c != '_'));
    prop_oneof![
        "[a-z]{2}_[A-Za-z0-9]{1,20}"
            .prop_filter("another prefix", move |id| !prefixes.iter().any(|p| id.starts_with(p))),
        (prefix.clone(), "[A-Za-z0-9]{0,10}", foreign).prop_map(|(p, a, odd)| format!("{p}{a}{odd}")),
        (prefix, "[A-Za-z0-9]{260,300}").prop_map(|(p, rest)| format!("{p}{rest}")),
    ]
}

/// A handled event with one thing wrong in its envelope.
fn malformed_event() -> impl Strategy<Value = Value> {
    handled_event().prop_flat_map(|(i, event)| {
        let (_, object, prefixes) = HANDLED[i];
        let defects = (0..7usize, not_a_string(), other_kind(object), malformed_id(prefixes), 0..3usize);
        (Just(event), defects).prop_map(move |(mut event, (defect, odd, kind, id, field))| {
            let target = &mut event["data"]["object"];
            match defect {
                0 => event["id"] = odd,
                1 => event["type"] = odd,
                2 => event["data"] = odd,
                3 => *target = odd,
                4 => target[["id", "object", "charge"][field]] = odd,
                // A refund's own id is not read (its charge is): break its kind instead.
                5 if object != "refund" => target["id"] = json!(id),
                _ => target["object"] = json!(kind),
            }
            event
        })
    })
}

proptest! {
    #![proptest_config(seeded(2000))]

    #[test]
    fn signed_bytes_that_are_not_an_event_are_a_400(body in prop::collection::vec(any::<u8>(), 1..300)) {
        let bed = Bed::new();
        prop_assert_eq!(bed.deliver(&body).status(), 400);
    }

    #[test]
    fn signed_json_that_is_not_an_event_is_a_400(value in json_value("[a-z]{3,8}")) {
        // Keys of three letters or more: never the envelope's `id`.
        let bed = Bed::new();
        prop_assert_eq!(bed.deliver(value.to_string().as_bytes()).status(), 400);
        prop_assert_eq!(bed.payments.retrievals(), 0);
    }

    #[test]
    fn a_malformed_envelope_of_a_handled_type_is_a_400_before_stripe_is_asked(event in malformed_event()) {
        let bed = Bed::new();
        let response = bed.deliver(event.to_string().as_bytes());
        prop_assert_eq!(response.status(), 400, "{}", event);
        prop_assert_eq!(bed.payments.retrievals(), 0);
    }

    #[test]
    fn unhandled_event_types_are_acknowledged_and_ignored(
        kind in "[a-z_.]{1,40}".prop_filter("not handled", |k| !HANDLED.iter().any(|(h, _, _)| h == k)),
        (id, object) in (prop::option::of(awkward_text(20)), prop::option::of(awkward_text(20))),
        extra in json_value("[a-z]{3,8}"),
    ) {
        let bed = Bed::new();
        let event = json!({"id": "evt_1", "type": kind, "extra": extra, "data": {"object": {"id": id, "object": object}}});
        let response = bed.deliver(event.to_string().as_bytes());
        prop_assert_eq!(response.status(), 200);
        let outcome = outcome(&response);
        prop_assert_eq!(outcome.as_deref(), Some("ignored"));
        prop_assert_eq!(bed.payments.retrievals(), 0);
    }

    #[test]
    fn a_well_formed_event_of_a_handled_type_is_not_refused_as_malformed((_, event) in handled_event()) {
        let bed = Bed::new();
        let response = bed.deliver(event.to_string().as_bytes());
        prop_assert_ne!(response.status(), 400, "{}", event);
    }
}
