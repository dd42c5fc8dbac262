//! The checkout handler end to end over real HTTP: config from SSM (moto),
//! sessions from the fake Stripe. Every events/checkout-*.json is replayed.

use crate::support::*;
use http::header;
use lambda_http::Body;
use std::sync::Arc;
use std::time::Duration;
use testbed::moto::Moto;
use testbed::stripe::{Failure, FakeStripe, RecordedRequest};
use tickets::checkout::Checkout;
use tickets::config::{ConfigCache, SsmSource};
use tickets::stripe::StripeApi;
use tickets::webhook::WebhookSecrets;

struct Bed {
    moto: Arc<Moto>,
    stripe: FakeStripe,
    parameter: String,
    checkout: Checkout,
}

impl Bed {
    async fn new(config: serde_json::Value) -> Bed {
        Bed::with_stripe_timeout(config, Duration::from_secs(5)).await
    }

    async fn with_stripe_timeout(config: serde_json::Value, timeout: Duration) -> Bed {
        let moto = moto().await;
        let stripe = FakeStripe::start().await.unwrap();
        let parameter = format!("/tdf-tickets/{}", unique_name("checkout"));
        moto.put_parameter(&parameter, &config.to_string()).await.unwrap();
        let ssm = aws_sdk_ssm::Client::new(&aws_config(&moto));
        let cache = ConfigCache::new(Box::new(SsmSource::new(ssm, parameter.clone())), Duration::from_secs(300));
        let checkout = Checkout::new(Arc::new(cache), Arc::new(StripeApi::new(stripe.api_base(), timeout)));
        Bed { moto, stripe, parameter, checkout }
    }

    fn creates(&self) -> Vec<RecordedRequest> {
        self.stripe.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/checkout/sessions").collect()
    }
}

fn form_request(body: &str, accept: &str) -> lambda_http::Request {
    http::Request::builder()
        .method("POST")
        .uri("https://tickets.example.org/checkout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, accept)
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

fn text(body: &Body) -> String {
    String::from_utf8_lossy(body.as_ref()).into_owned()
}

#[tokio::test]
async fn every_checkout_event_gets_its_expected_status() {
    let bed = Bed::new(example_config()).await;
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(event_json("expected-status.json")).unwrap();
    let names = event_names("checkout-");
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let status =
            expected.get(&name).and_then(|s| s.as_u64()).unwrap_or_else(|| panic!("{name} has no expected status"));
        let before = bed.creates().len();
        let response = bed.checkout.handle(event(&name)).await;
        assert_eq!(response.status().as_u16() as u64, status, "{name}: {}", text(response.body()));
        let creates = bed.creates();
        if status == 303 {
            assert_eq!(creates.len(), before + 1, "{name}: one Stripe call");
            let location = response.headers()[header::LOCATION].to_str().unwrap();
            assert!(location.starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{location}");
            let session_id = location.rsplit('/').next().unwrap();
            assert_eq!(bed.stripe.session(session_id).unwrap()["url"], location);
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        } else {
            assert_eq!(creates.len(), before, "{name}: a bad request must not reach Stripe");
            assert!(!text(response.body()).trim().is_empty(), "{name}: errors say why");
        }
    }
}

/// The form with the success URL's return stamp checked (genuine, issued
/// just now, under the example config's webhook secret) and taken off.
fn unstamped(form: Vec<(String, String)>) -> Vec<(String, String)> {
    use tickets::return_stamp::ReturnStamp;
    let secrets = WebhookSecrets::new(vec![LOCAL_WEBHOOK_SECRET.into()]).unwrap();
    form.into_iter()
        .map(|(key, value)| {
            if key != "success_url" {
                return (key, value);
            }
            let (url, stamp) = value.split_once("&stamp=").unwrap_or_else(|| panic!("no stamp: {value}"));
            assert!(ReturnStamp::new(&secrets).is_fresh(stamp, unix_now()), "{stamp}");
            (key, url.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn visitor_session_has_exactly_these_parameters() {
    let bed = Bed::new(example_config()).await;
    let response = bed.checkout.handle(event("checkout-visitor.json")).await;
    assert_eq!(response.status(), 303);
    let creates = bed.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].bearer.as_deref(), Some("sk_test_replace_with_your_test_key"));
    assert_eq!(
        unstamped(sorted_form(&creates[0])),
        pairs(&[
            ("mode", "payment"),
            ("line_items[0][price]", "price_1TdfVisitorTicket"),
            ("line_items[0][quantity]", "1"),
            ("success_url", "http://127.0.0.1:3000/fulfill?session_id={CHECKOUT_SESSION_ID}"),
            ("cancel_url", "http://127.0.0.1:3000/"),
            ("metadata[ticket]", "visitor"),
            ("metadata[tdf_shop]", "tdf-tickets"),
            ("locale", "auto"),
        ])
    );
}

#[tokio::test]
async fn bronze_sessions_ship_the_chosen_shirt() {
    let mut config = example_config();
    config["shipping_countries"] = "JP,US,FI".into();
    let bed = Bed::new(config).await;
    for (form_size, size, price) in [
        ("s", "s", "price_1TdfTshirtS"),
        ("M", "m", "price_1TdfTshirtM"),
        ("l", "l", "price_1TdfTshirtL"),
        ("XL", "xl", "price_1TdfTshirtXL"),
    ] {
        bed.stripe.clear_requests();
        let response =
            bed.checkout.handle(form_request(&format!("type=Bronze&tshirt={form_size}&newsletter=yes"), "*/*")).await;
        assert_eq!(response.status(), 303, "{}", text(response.body()));
        let creates = bed.creates();
        assert_eq!(creates.len(), 1);
        assert_eq!(
            unstamped(sorted_form(&creates[0])),
            pairs(&[
                ("mode", "payment"),
                ("line_items[0][price]", "price_1TdfBronzeTicket"),
                ("line_items[0][quantity]", "1"),
                ("line_items[1][price]", price),
                ("line_items[1][quantity]", "1"),
                ("success_url", "http://127.0.0.1:3000/fulfill?session_id={CHECKOUT_SESSION_ID}"),
                ("cancel_url", "http://127.0.0.1:3000/"),
                ("metadata[ticket]", "bronze"),
                ("metadata[tshirt]", size),
                ("metadata[tdf_shop]", "tdf-tickets"),
                ("locale", "auto"),
                ("shipping_options[0][shipping_rate]", "shr_1TdfTshirtShipping"),
                ("shipping_address_collection[allowed_countries][0]", "JP"),
                ("shipping_address_collection[allowed_countries][1]", "US"),
                ("shipping_address_collection[allowed_countries][2]", "FI"),
            ]),
            "size {form_size}"
        );
    }
}

#[tokio::test]
async fn configured_locale_and_payment_methods_are_sent() {
    let mut config = example_config();
    config["locale"] = "ja".into();
    config["payment_method_types"] = serde_json::json!(["card", "konbini"]);
    let bed = Bed::new(config).await;
    assert_eq!(bed.checkout.handle(form_request("type=visitor", "*/*")).await.status(), 303);
    let create = &bed.creates()[0];
    assert_eq!(create.param("locale"), Some("ja"));
    assert_eq!(create.param("allowed_payment_method_types[0]"), Some("card"));
    assert_eq!(create.param("allowed_payment_method_types[1]"), Some("konbini"));
}

#[tokio::test]
async fn bad_forms_get_a_clear_400_and_never_reach_stripe() {
    let bed = Bed::new(example_config()).await;
    let cases = [
        ("type=bronze", "choose a T-shirt size: s, m, l, xl"),
        ("type=bronze&tshirt=xxl", "\"xxl\" is not a T-shirt size; choose one of: s, m, l, xl"),
        ("type=gold", "unknown ticket type \"gold\"; choose one of: visitor, bronze"),
        ("type=bronze&tshirt=%FF", "is not a T-shirt size"),
    ];
    for (form, message) in cases {
        let plain = bed.checkout.handle(form_request(form, "*/*")).await;
        assert_eq!(plain.status(), 400, "{form}");
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert!(text(plain.body()).contains(message), "{form}: {}", text(plain.body()));
        let html = bed.checkout.handle(form_request(form, "text/html,*/*;q=0.8")).await;
        assert_eq!(html.status(), 400);
        assert_eq!(html.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let page = text(html.body());
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(page.contains("href=\"http://127.0.0.1:3000/\""), "links back to the ticket page: {page}");
    }
    assert!(bed.creates().is_empty(), "no Stripe call for a bad form");
    assert!(bed.stripe.requests().is_empty());
}

#[tokio::test]
async fn wrong_method_media_type_and_size_are_refused() {
    let bed = Bed::new(example_config()).await;
    let get = bed.checkout.handle(event("checkout-get.json")).await;
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()[header::ALLOW], "POST");
    let json = bed.checkout.handle(event("checkout-json-body.json")).await;
    assert_eq!(json.status(), 415);
    let big = format!("type=visitor&x={}", "a".repeat(8 * 1024));
    assert_eq!(bed.checkout.handle(form_request(&big, "*/*")).await.status(), 413);
    let just_fits = format!("type=visitor&x={}", "a".repeat(8 * 1024 - 15));
    assert_eq!(just_fits.len(), 8 * 1024);
    assert_eq!(bed.checkout.handle(form_request(&just_fits, "*/*")).await.status(), 303);
    assert_eq!(bed.creates().len(), 1);
}

#[tokio::test]
async fn stripe_faults_give_502_and_the_next_try_works() {
    let bed = Bed::with_stripe_timeout(example_config(), Duration::from_millis(300)).await;
    bed.stripe.fail_next([Failure::Status(500)]);
    let failed = bed.checkout.handle(form_request("type=visitor", "text/html")).await;
    assert_eq!(failed.status(), 502);
    let page = text(failed.body());
    assert!(
        page.contains("The payment service could not be reached; please try again. Nothing was charged."),
        "{page}"
    );
    assert!(!page.contains("Injected fault"), "Stripe's own message is logged, not shown");

    bed.stripe.fail_next([Failure::Delay(Duration::from_secs(2))]);
    let slow = bed.checkout.handle(form_request("type=visitor", "*/*")).await;
    assert_eq!(slow.status(), 502, "a Stripe timeout is a 502 too");

    let ok = bed.checkout.handle(form_request("type=visitor", "*/*")).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(bed.creates().len(), 3);
}

#[tokio::test]
async fn stripe_rejecting_the_request_is_a_502_not_a_crash() {
    let mut config = example_config();
    config["product_visitor_ticket"] = "price_ThatStripeDoesNotKnow".into();
    let bed = Bed::new(config).await;
    let response = bed.checkout.handle(form_request("type=visitor", "*/*")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(bed.creates().len(), 1);
}

#[tokio::test]
async fn no_config_is_a_503_until_one_is_put() {
    let moto = moto().await;
    let stripe = FakeStripe::start().await.unwrap();
    let parameter = format!("/tdf-tickets/{}", unique_name("missing"));
    let ssm = aws_sdk_ssm::Client::new(&aws_config(&moto));
    let cache = ConfigCache::new(Box::new(SsmSource::new(ssm, parameter.clone())), Duration::from_secs(300));
    let checkout = Checkout::new(Arc::new(cache), Arc::new(StripeApi::new(stripe.api_base(), Duration::from_secs(5))));

    let response = checkout.handle(form_request("type=visitor", "text/html")).await;
    assert_eq!(response.status(), 503);
    assert!(text(response.body()).contains("not available right now"));

    // An invalid blob is no better than none...
    let mut broken = example_config();
    broken["product_tshirt_m"] = "nope".into();
    moto.put_parameter(&parameter, &broken.to_string()).await.unwrap();
    assert_eq!(checkout.handle(form_request("type=visitor", "*/*")).await.status(), 503);
    assert!(stripe.requests().is_empty());

    // ...and a valid one is picked up by the very next request.
    moto.put_parameter(&parameter, &example_config().to_string()).await.unwrap();
    assert_eq!(checkout.handle(form_request("type=visitor", "*/*")).await.status(), 303);
}

#[tokio::test]
async fn a_broken_refresh_keeps_the_last_good_config() {
    let bed = Bed::new(example_config()).await;
    assert_eq!(bed.checkout.handle(form_request("type=visitor", "*/*")).await.status(), 303);
    // Rotating in a broken blob does not matter within the TTL, nor after it
    // (covered in config::source's unit tests); the shop keeps selling.
    let mut broken = example_config();
    broken["stripe_api_secret_key"] = "oops".into();
    bed.moto.put_parameter(&bed.parameter, &broken.to_string()).await.unwrap();
    assert_eq!(bed.checkout.handle(form_request("type=visitor", "*/*")).await.status(), 303);
}
