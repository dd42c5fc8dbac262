//! The money behind paid sessions over HTTP and through [`FakeStripe`]:
//! PaymentIntents, charges, refunds and disputes.

use super::*;
use crate::{DisputeError, RefundError};

/// Reads `object` as async-stripe's client does (miniserde), or says why not.
fn reads_as<T: miniserde::Deserialize>(object: &Value) -> T {
    miniserde::json::from_str(&object.to_string()).unwrap_or_else(|_| panic!("async-stripe cannot read {object:#}"))
}

async fn get(fake: &FakeStripe, path: &str) -> Answer {
    api(fake, "GET", path, "", None).await
}

/// A paid session (one visitor ticket, ¥3,000) and its id.
async fn paid_session(fake: &FakeStripe) -> (String, Value) {
    let id = create(fake, "").await["id"].as_str().unwrap().to_owned();
    let session = fake.pay(&id, &buyer(), PaymentOutcome::Paid).unwrap();
    (id, session)
}

fn str_of<'a>(object: &'a Value, field: &str) -> &'a str {
    object[field].as_str().unwrap_or_else(|| panic!("no {field} in {object:#}"))
}

#[tokio::test]
async fn paying_creates_the_payment_intent_and_its_charge() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, session) = paid_session(&fake).await;
    let pi = str_of(&session, "payment_intent");
    assert!(pi.starts_with("pi_"), "{pi}");
    assert_eq!(fake.session(&id).unwrap()["payment_intent"], pi);

    let intent = get(&fake, &format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(intent.status, 200, "{}", intent.text());
    let intent = intent.json();
    assert_eq!(
        (&intent["object"], &intent["status"], &intent["amount"], &intent["amount_received"], &intent["currency"]),
        (&json!("payment_intent"), &json!("succeeded"), &json!(3000), &json!(3000), &json!("jpy"))
    );
    assert_eq!((&intent["last_payment_error"], &intent["next_action"]), (&Value::Null, &Value::Null));
    let ch = str_of(&intent, "latest_charge");
    assert_eq!(fake.charge_for_session(&id).as_deref(), Some(ch));

    let charge = get(&fake, &format!("/v1/charges/{ch}")).await.json();
    assert_eq!(
        [
            &charge["object"],
            &charge["amount"],
            &charge["amount_captured"],
            &charge["amount_refunded"],
            &charge["refunded"],
            &charge["paid"],
            &charge["captured"],
            &charge["disputed"],
            &charge["payment_intent"],
            &charge["currency"],
            &charge["status"],
        ],
        [
            &json!("charge"),
            &json!(3000),
            &json!(3000),
            &json!(0),
            &json!(false),
            &json!(true),
            &json!(true),
            &json!(false),
            &json!(pi),
            &json!("jpy"),
            &json!("succeeded"),
        ]
    );
    assert_eq!(charge["billing_details"]["email"], "buyer@example.com");
    assert_eq!((&charge["source"], &charge["payment_method_details"]["type"]), (&Value::Null, &json!("card")));

    let expanded = get(&fake, &format!("/v1/payment_intents/{pi}?expand[]=latest_charge")).await.json();
    assert_eq!(expanded["latest_charge"], charge);
    let with_intent = get(&fake, &format!("/v1/checkout/sessions/{id}?expand[]=payment_intent")).await.json();
    assert_eq!(with_intent["payment_intent"], intent);

    // A dotted path expands each step: the session's PaymentIntent, then its charge (as the shop asks).
    let nested = format!("/v1/checkout/sessions/{id}?expand[]=line_items&expand[]=payment_intent.latest_charge");
    let nested = get(&fake, &nested).await.json();
    let mut intent_with_charge = intent.clone();
    intent_with_charge["latest_charge"] = charge.clone();
    assert_eq!(nested["payment_intent"], intent_with_charge);
    assert_eq!(nested["line_items"]["object"], "list");
    // A path through something that is not an id, or unknown fields, leave the object as it is.
    let odd = format!("/v1/checkout/sessions/{id}?expand[]=customer_details.email&expand[]=nope.latest_charge");
    assert_eq!(get(&fake, &odd).await.json(), fake.session(&id).unwrap());

    let _: stripe_shared::PaymentIntent = reads_as(&intent);
    let _: stripe_shared::Charge = reads_as(&charge);
    let _: stripe_shared::CheckoutSession = reads_as(&with_intent);
    let _: stripe_shared::CheckoutSession = reads_as(&nested);
    assert_eq!(fake.charge_for_session("cs_test_nope"), None);
    let open = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    assert_eq!((fake.charge_for_session(&open), &fake.session(&open).unwrap()["payment_intent"]), (None, &Value::Null));
}

#[tokio::test]
async fn the_hosted_pay_button_creates_them_too() {
    let hosted = HostedCheckout { route: "/pay".into(), webhook_url: None, webhook_secret: "whsec_standin".into() };
    let fake = FakeStripe::start_hosted(FakeStripeOptions::default(), hosted).await.unwrap();
    let session = create(&fake, "").await;
    let url = session["url"].as_str().unwrap();
    let paid = send(url, "POST", &[("content-type", FORM)], "email=buyer%40example.com&name=Buyer").await;
    assert_eq!(paid.status, 303, "{}", paid.text());
    let id = str_of(&session, "id");
    let pi = fake.session(id).unwrap()["payment_intent"].as_str().unwrap().to_owned();
    let ch = fake.charge_for_session(id).unwrap();
    assert_eq!(fake.object(&pi).unwrap()["latest_charge"], ch);
    assert_eq!(fake.object(&ch).unwrap()["payment_intent"], pi);
}

#[tokio::test]
async fn sessions_list_by_payment_intent() {
    let fake = FakeStripe::start().await.unwrap();
    let (first, _) = paid_session(&fake).await;
    let (second, paid) = paid_session(&fake).await;
    create(&fake, "").await;
    let pi = str_of(&paid, "payment_intent");
    let list = get(&fake, &format!("/v1/checkout/sessions?payment_intent={pi}")).await.json();
    assert_eq!((ids(&list), &list["has_more"]), (vec![second.clone()], &json!(false)));
    assert_eq!(list["data"][0], fake.session(&second).unwrap());
    let other = fake.session(&first).unwrap()["payment_intent"].as_str().unwrap().to_owned();
    let both = format!("/v1/checkout/sessions?payment_intent={other}&status=complete");
    assert_eq!(ids(&get(&fake, &both).await.json()), [first]);

    let elsewhere = fake.charge_without_session(5000);
    let pi = fake.object(&elsewhere).unwrap()["payment_intent"].as_str().unwrap().to_owned();
    let none = get(&fake, &format!("/v1/checkout/sessions?payment_intent={pi}")).await.json();
    assert_eq!((ids(&none).len(), &none["has_more"]), (0, &json!(false)));
    let unknown = get(&fake, "/v1/checkout/sessions?payment_intent=pi_nope").await;
    assert_eq!((unknown.status, ids(&unknown.json()).len()), (200, 0));
}

#[tokio::test]
async fn a_full_refund_refunds_the_charge() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, session) = paid_session(&fake).await;
    let ch = fake.charge_for_session(&id).unwrap();
    let refund = fake.refund(&id, None).unwrap();
    let re = str_of(&refund, "id");
    assert!(re.starts_with("re_"), "{re}");
    assert_eq!(
        (&refund["object"], &refund["amount"], &refund["charge"], &refund["payment_intent"], &refund["status"]),
        (&json!("refund"), &json!(3000), &json!(ch), &session["payment_intent"], &json!("succeeded"))
    );
    assert_eq!(get(&fake, &format!("/v1/refunds/{re}")).await.json(), refund);

    let charge = get(&fake, &format!("/v1/charges/{ch}")).await.json();
    assert_eq!((&charge["amount_refunded"], &charge["refunded"]), (&json!(3000), &json!(true)));
    assert_eq!(charge["refunds"]["data"], json!([refund]));
    assert_eq!(fake.refund(&ch, None), Err(RefundError::AlreadyRefunded(ch.clone())));
    assert_eq!(fake.refund(&ch, Some(1)), Err(RefundError::AlreadyRefunded(ch.clone())));
    let _: stripe_shared::Refund = reads_as(&refund);
    let _: stripe_shared::Charge = reads_as(&charge);
}

#[tokio::test]
async fn partial_refunds_add_up() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, session) = paid_session(&fake).await;
    let ch = fake.charge_for_session(&id).unwrap();
    assert_eq!(fake.refund(&ch, Some(0)), Err(RefundError::InvalidAmount));
    assert_eq!(fake.refund(&ch, Some(3001)), Err(RefundError::AmountTooLarge { requested: 3001, remaining: 3000 }));

    let first = fake.refund(&ch, Some(1000)).unwrap();
    assert_eq!((&first["amount"], &first["charge"]), (&json!(1000), &json!(ch)));
    let charge = fake.object(&ch).unwrap();
    assert_eq!((&charge["amount_refunded"], &charge["refunded"]), (&json!(1000), &json!(false)));
    assert_eq!(fake.refund(&ch, Some(2001)), Err(RefundError::AmountTooLarge { requested: 2001, remaining: 2000 }));

    let pi = str_of(&session, "payment_intent");
    let rest = fake.refund(pi, None).unwrap();
    assert_eq!(rest["amount"], 2000, "the rest, through the PaymentIntent");
    let charge = get(&fake, &format!("/v1/charges/{ch}")).await.json();
    assert_eq!((&charge["amount_refunded"], &charge["refunded"]), (&json!(3000), &json!(true)));
    assert_eq!(charge["refunds"]["data"], json!([rest, first]), "newest first");
}

#[tokio::test]
async fn refunds_need_a_successful_charge() {
    let fake = FakeStripe::start().await.unwrap();
    let open = create(&fake, "").await["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.refund(&open, None), Err(RefundError::NotPaid(open.clone())));
    for unknown in ["ch_nope", "cs_test_nope", "pi_nope", "nothing"] {
        assert_eq!(fake.refund(unknown, None), Err(RefundError::NoSuchCharge(unknown.into())));
    }
    let elsewhere = fake.charge_without_session(5000);
    let charge = fake.object(&elsewhere).unwrap();
    assert_eq!(
        (&charge["amount"], &charge["currency"], &charge["status"]),
        (&json!(5000), &json!("jpy"), &json!("succeeded"))
    );
    let intent = fake.object(str_of(&charge, "payment_intent")).unwrap();
    assert_eq!((&intent["latest_charge"], &intent["status"]), (&json!(elsewhere), &json!("succeeded")));
    assert_eq!(fake.refund(&elsewhere, Some(500)).unwrap()["amount"], 500);
    let refund = fake.refund(&elsewhere, None).unwrap();
    assert_eq!(
        fake.refund(str_of(&refund, "id"), None),
        Err(RefundError::NoSuchCharge(refund["id"].as_str().unwrap().into()))
    );
}

#[tokio::test]
async fn disputes_open_and_close() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, session) = paid_session(&fake).await;
    let ch = fake.charge_for_session(&id).unwrap();
    let dispute = fake.dispute(&ch, "fraudulent");
    let dp = str_of(&dispute, "id");
    assert!(dp.starts_with("dp_"), "{dp}");
    assert_eq!(
        (&dispute["object"], &dispute["status"], &dispute["charge"], &dispute["payment_intent"]),
        (&json!("dispute"), &json!("needs_response"), &json!(ch), &session["payment_intent"])
    );
    assert_eq!(
        (&dispute["amount"], &dispute["currency"], &dispute["reason"]),
        (&json!(3000), &json!("jpy"), &json!("fraudulent"))
    );
    assert_eq!(get(&fake, &format!("/v1/disputes/{dp}")).await.json(), dispute);
    let charge = get(&fake, &format!("/v1/charges/{ch}")).await.json();
    assert_eq!(charge["disputed"], true);
    assert_eq!(fake.refund(&ch, None), Err(RefundError::Disputed(ch.clone())));
    assert_eq!(lock(&fake.store).dispute(&ch, "duplicate"), Err(DisputeError::AlreadyDisputed(ch.clone())));
    let _: stripe_shared::Dispute = reads_as(&dispute);

    let won = fake.close_dispute(dp, true);
    assert_eq!((&won["id"], &won["status"]), (&json!(dp), &json!("won")));
    assert_eq!(get(&fake, &format!("/v1/disputes/{dp}")).await.json()["status"], "won");
    assert_eq!(lock(&fake.store).close_dispute(dp, false), Err(DisputeError::AlreadyClosed(dp.into())));

    let (other, _) = paid_session(&fake).await;
    let lost = fake.dispute(&fake.charge_for_session(&other).unwrap(), "product_not_received");
    let lost = fake.close_dispute(str_of(&lost, "id"), false);
    assert_eq!(lost["status"], "lost");
    let _: stripe_shared::Dispute = reads_as(&lost);
    let mut store = lock(&fake.store);
    assert_eq!(store.dispute("ch_nope", "fraudulent"), Err(DisputeError::NoSuchCharge("ch_nope".into())));
    assert_eq!(store.close_dispute("dp_nope", true), Err(DisputeError::NoSuchDispute("dp_nope".into())));
}

#[tokio::test]
async fn unknown_ids_are_404_resource_missing() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, session) = paid_session(&fake).await;
    let pi = str_of(&session, "payment_intent");
    let refund = fake.refund(&id, Some(1)).unwrap();
    for (path, object, param, unknown, known) in [
        ("charges", "charge", "id", "ch_nope", fake.charge_for_session(&id).unwrap()),
        ("payment_intents", "payment_intent", "intent", "pi_nope", pi.to_owned()),
        ("refunds", "refund", "refund", "re_nope", str_of(&refund, "id").to_owned()),
        ("disputes", "dispute", "dispute", "dp_nope", String::new()),
    ] {
        // An id of another kind is no such object either.
        for missing in [unknown, id.as_str()] {
            let answer = get(&fake, &format!("/v1/{path}/{missing}")).await;
            let error = &answer.json()["error"];
            assert_eq!(
                (answer.status, &error["type"], &error["code"], &error["param"]),
                (404, &json!("invalid_request_error"), &json!("resource_missing"), &json!(param)),
                "{path}/{missing}"
            );
            assert_eq!(error["message"], format!("No such {object}: '{missing}'"));
        }
        if !known.is_empty() {
            assert_eq!(get(&fake, &format!("/v1/{path}/{known}")).await.status, 200, "{path}/{known}");
            let unauthorized = send(&format!("{}/v1/{path}/{known}", fake.api_base()), "GET", &[], "").await;
            assert_eq!(unauthorized.status, 401);
        }
    }
}

#[tokio::test]
async fn a_delayed_payment_is_charged_when_it_settles() {
    let fake = FakeStripe::start().await.unwrap();
    let konbini = "allowed_payment_method_types[0]=card&allowed_payment_method_types[1]=konbini";
    let id = create(&fake, konbini).await["id"].as_str().unwrap().to_owned();
    let session = fake.pay(&id, &buyer(), PaymentOutcome::Pending).unwrap();
    let pi = str_of(&session, "payment_intent").to_owned();
    let waiting = get(&fake, &format!("/v1/payment_intents/{pi}")).await.json();
    assert_eq!(
        (&waiting["status"], &waiting["latest_charge"], &waiting["amount_received"]),
        (&json!("requires_action"), &Value::Null, &json!(0))
    );
    assert_eq!(waiting["next_action"]["type"], "konbini_display_details");
    let _: stripe_shared::PaymentIntent = reads_as(&waiting);
    assert_eq!(fake.charge_for_session(&id), None);
    assert_eq!(fake.refund(&id, None), Err(RefundError::NotPaid(id.clone())));

    let settled = fake.settle_async_payment(&id, true).unwrap();
    assert_eq!((&settled["payment_status"], &settled["payment_intent"]), (&json!("paid"), &json!(pi)));
    let intent = fake.object(&pi).unwrap();
    assert_eq!(
        (&intent["status"], &intent["amount_received"], &intent["next_action"]),
        (&json!("succeeded"), &json!(3000), &Value::Null)
    );
    let ch = fake.charge_for_session(&id).unwrap();
    assert_eq!(intent["latest_charge"], ch);
    let charge = fake.object(&ch).unwrap();
    assert_eq!(
        (&charge["status"], &charge["paid"], &charge["payment_method_details"]["type"]),
        (&json!("succeeded"), &json!(true), &json!("konbini"))
    );
    let _: stripe_shared::Charge = reads_as(&charge);
    assert_eq!(fake.settle_async_payment(&id, true), Err(PayError::NotPending));

    let unpaid = create(&fake, konbini).await["id"].as_str().unwrap().to_owned();
    let pi =
        fake.pay(&unpaid, &buyer(), PaymentOutcome::Pending).unwrap()["payment_intent"].as_str().unwrap().to_owned();
    let failed = fake.settle_async_payment(&unpaid, false).unwrap();
    assert_eq!((&failed["status"], &failed["payment_status"]), (&json!("complete"), &json!("unpaid")));
    let intent = fake.object(&pi).unwrap();
    assert_eq!((&intent["status"], &intent["latest_charge"]), (&json!("requires_payment_method"), &Value::Null));
    let _: stripe_shared::PaymentIntent = reads_as(&intent);
    assert_eq!(fake.charge_for_session(&unpaid), None);
    assert_eq!(fake.settle_async_payment(&unpaid, true), Err(PayError::NotPending), "a failed payment stays failed");
}

#[tokio::test]
async fn events_carry_the_object_as_it_is_now() {
    let fake = FakeStripe::start().await.unwrap();
    let (id, _) = paid_session(&fake).await;
    let ch = fake.charge_for_session(&id).unwrap();
    let refund = fake.refund(&ch, Some(1000)).unwrap();
    let re = str_of(&refund, "id");

    let refunded = fake.object_event("charge.refunded", &ch).unwrap();
    assert_eq!((&refunded["type"], &refunded["object"]), (&json!("charge.refunded"), &json!("event")));
    assert!(str_of(&refunded, "id").starts_with("evt_"));
    assert_eq!(refunded["data"]["object"], fake.object(&ch).unwrap());
    assert_eq!(refunded["data"]["object"]["amount_refunded"], 1000);
    for event_type in ["refund.created", "refund.updated", "charge.refund.updated"] {
        assert_eq!(fake.object_event(event_type, re).unwrap()["data"]["object"], refund, "{event_type}");
    }

    let dispute = fake.dispute(&ch, "fraudulent");
    let dp = str_of(&dispute, "id");
    assert_eq!(fake.object_event("charge.dispute.created", dp).unwrap()["data"]["object"], dispute);
    let closed = fake.close_dispute(dp, false);
    let event = fake.object_event("charge.dispute.closed", dp).unwrap();
    assert_eq!((&event["type"], &event["data"]["object"]), (&json!("charge.dispute.closed"), &closed));
    let pi = fake.session(&id).unwrap()["payment_intent"].as_str().unwrap().to_owned();
    assert_eq!(fake.object_event("payment_intent.succeeded", &pi).unwrap()["data"]["object"]["id"], pi);
    assert_eq!(fake.object_event("checkout.session.completed", &id).unwrap()["data"]["object"]["id"], id);

    assert_eq!(fake.object_event("charge.refunded", dp), None, "a dispute is not what charge.refunded carries");
    assert_eq!(fake.object_event("charge.dispute.created", &ch), None);
    assert_eq!(fake.object_event("refund.created", &ch), None);
    assert_eq!(fake.object_event("charge.refunded", "ch_nope"), None);
    assert_eq!(fake.object_event("invoice.paid", &ch), None);
}
