//! Products, prices and shipping rates over HTTP, per mode.

use super::*;
use crate::{FakePrice, Mode};

const LIVE: &str = "Bearer sk_live_standin";

fn reads_as<T: miniserde::Deserialize>(object: &Value) -> T {
    miniserde::json::from_str(&object.to_string()).unwrap_or_else(|_| panic!("async-stripe cannot read {object:#}"))
}

/// A request with `key` (`Bearer …`).
async fn call(fake: &FakeStripe, key: &str, method: &str, path: &str, form: &str) -> Answer {
    send(&format!("{}{path}", fake.api_base()), method, &[("authorization", key), ("content-type", FORM)], form).await
}

fn ok(answer: Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

#[tokio::test]
async fn the_example_catalog_is_there_in_test_mode_with_products() {
    let fake = FakeStripe::start().await.unwrap();
    let price = ok(call(&fake, KEY, "GET", "/v1/prices/price_1TdfBronzeTicket?expand[]=product", "").await);
    assert_eq!(
        (&price["unit_amount"], &price["currency"], &price["livemode"]),
        (&json!(10000), &json!("jpy"), &json!(false))
    );
    assert_eq!(
        (&price["type"], &price["recurring"], &price["object"]),
        (&json!("one_time"), &Value::Null, &json!("price"))
    );
    assert_eq!(price["product"]["name"], "Bronze ticket");
    let _: stripe_shared::Price = reads_as(&price);
    let product_id = price["product"]["id"].as_str().unwrap();
    let product = ok(call(&fake, KEY, "GET", &format!("/v1/products/{product_id}"), "").await);
    let _: stripe_shared::Product = reads_as(&product);
    let rate = ok(call(&fake, KEY, "GET", "/v1/shipping_rates/shr_1TdfTshirtShipping", "").await);
    assert_eq!(rate["fixed_amount"], json!({"amount": 1500, "currency": "jpy"}));
    let _: stripe_shared::ShippingRate = reads_as(&rate);

    // Live mode does not see them, and says where they are.
    let live = call(&fake, LIVE, "GET", "/v1/prices/price_1TdfBronzeTicket", "").await;
    assert_eq!(live.status, 404);
    let message = live.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("exists in test mode, but a live mode key"), "{message}");
    let none = call(&fake, LIVE, "GET", "/v1/prices?limit=100", "").await.json();
    assert_eq!(none["data"], json!([]));
    // Checkout still takes only test keys.
    let session = call(&fake, LIVE, "POST", "/v1/checkout/sessions", &session_form("")).await;
    assert_eq!(session.status, 401);
}

#[tokio::test]
async fn created_objects_live_in_the_keys_mode_and_list_newest_first() {
    let fake = FakeStripe::start().await.unwrap();
    let product = ok(call(
        &fake,
        LIVE,
        "POST",
        "/v1/products",
        "name=Bronze+ticket&description=Supporter&metadata[tdf_twin_of_product]=prod_1&metadata[empty]=",
    )
    .await);
    assert_eq!((&product["livemode"], &product["metadata"]), (&json!(true), &json!({"tdf_twin_of_product": "prod_1"})));
    let id = product["id"].as_str().unwrap();
    assert!(id.starts_with("prod_"));
    let form = format!(
        "product={id}&currency=JPY&unit_amount=10000&tax_behavior=inclusive&nickname=Bronze&metadata[tdf_twin_of]=price_1"
    );
    let price = ok(call(&fake, LIVE, "POST", "/v1/prices", &form).await);
    assert_eq!(
        (&price["currency"], &price["unit_amount_decimal"], &price["tax_behavior"], &price["type"]),
        (&json!("jpy"), &json!("10000"), &json!("inclusive"), &json!("one_time"))
    );
    let _: stripe_shared::Price = reads_as(&price);
    let second = ok(call(&fake, LIVE, "POST", "/v1/prices", &format!("product={id}&currency=jpy&unit_amount=1")).await);
    let rate = ok(call(
        &fake,
        LIVE,
        "POST",
        "/v1/shipping_rates",
        "display_name=Post&type=fixed_amount&fixed_amount[amount]=1500&fixed_amount[currency]=jpy\
         &delivery_estimate[minimum][unit]=business_day&delivery_estimate[minimum][value]=3&metadata[tdf_twin_of]=shr_1",
    )
    .await);
    assert_eq!(rate["delivery_estimate"], json!({"minimum": {"unit": "business_day", "value": 3}}));
    let _: stripe_shared::ShippingRate = reads_as(&rate);

    let listed = ok(call(&fake, LIVE, "GET", &format!("/v1/prices?product={id}&limit=1"), "").await);
    assert_eq!((&listed["data"][0]["id"], &listed["has_more"]), (&second["id"], &json!(true)));
    let next = format!("/v1/prices?product={id}&limit=1&starting_after={}", second["id"].as_str().unwrap());
    assert_eq!(ok(call(&fake, LIVE, "GET", &next, "").await)["data"][0]["id"], price["id"]);
    assert_eq!(ok(call(&fake, LIVE, "GET", "/v1/shipping_rates?active=true", "").await)["data"][0], rate);
    assert_eq!(fake.catalog_objects(Mode::Live, "product"), vec![product.clone()]);
    // Test mode sees none of them.
    let test_products = ok(call(&fake, KEY, "GET", "/v1/products?limit=100", "").await);
    assert!(test_products["data"].as_array().unwrap().iter().all(|p| p["livemode"] == false && p["id"] != json!(id)));
    assert_eq!(call(&fake, KEY, "GET", &format!("/v1/products/{id}"), "").await.status, 404);
    let cross = call(&fake, KEY, "POST", "/v1/prices", &format!("product={id}&currency=jpy&unit_amount=5")).await;
    assert_eq!((cross.status, &cross.json()["error"]["param"]), (400, &json!("product")));

    // Stripe's refusals.
    for (path, form, param) in [
        ("/v1/products", "description=x", "name"),
        ("/v1/prices", &format!("product={id}&unit_amount=1") as &str, "currency"),
        ("/v1/prices", &format!("product={id}&currency=jpy"), "unit_amount"),
        ("/v1/prices", &format!("product={id}&currency=jpy&unit_amount=1&tax_behavior=x"), "tax_behavior"),
        ("/v1/shipping_rates", "display_name=P&fixed_amount[currency]=jpy", "fixed_amount[amount]"),
    ] {
        let refused = call(&fake, LIVE, "POST", path, form).await;
        assert_eq!((refused.status, &refused.json()["error"]["param"]), (400, &json!(param)), "{path} {form}");
    }
    assert_eq!(call(&fake, "Bearer pk_live_x", "GET", "/v1/products", "").await.status, 401);
}

#[tokio::test]
async fn checkout_prices_come_from_the_catalog() {
    let fake = FakeStripe::start().await.unwrap();
    fake.put_price(Mode::Test, &FakePrice::new("price_1Sticker", "Sticker", 300, "jpy"));
    fake.put_price(Mode::Live, &FakePrice::new("price_1LiveOnly", "Live", 300, "jpy"));
    let form = "mode=payment&success_url=https%3A%2F%2Fshop.example%2Fok&line_items[0][price]=price_1Sticker\
                &line_items[0][quantity]=2&shipping_options[0][shipping_rate]=shr_1TdfTshirtShipping";
    let session = ok(api(&fake, "POST", "/v1/checkout/sessions", form, None).await);
    assert_eq!(session["amount_total"], 600 + 1500);
    let id = session["id"].as_str().unwrap();
    assert_eq!(fake.line_items(id)[0]["description"], "Sticker");
    let live = form.replace("price_1Sticker", "price_1LiveOnly");
    assert_eq!(
        api(&fake, "POST", "/v1/checkout/sessions", &live, None).await.status,
        400,
        "a live price is not test mode's"
    );
    fake.update_catalog_object("shr_1TdfTshirtShipping", |r| r["fixed_amount"]["amount"] = json!(800)).unwrap();
    assert_eq!(ok(api(&fake, "POST", "/v1/checkout/sessions", form, None).await)["amount_total"], 600 + 800);
}
