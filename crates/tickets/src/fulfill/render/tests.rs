use super::*;
use serde_json::{Value, json};

fn config_with(overrides: Value) -> Config {
    let mut blob: Value = serde_json::from_str(include_str!("../../../../../config.example.json")).unwrap();
    for (key, value) in overrides.as_object().unwrap() {
        blob[key] = value.clone();
    }
    Config::from_json(&blob.to_string()).unwrap()
}

fn order(locale: &str) -> OrderDetails {
    OrderDetails {
        session_id: "cs_test_refunded".into(),
        email: Some("hanako@example.com".into()),
        name: Some("Hanako".into()),
        ticket: Some("bronze".into()),
        items: vec!["Bronze ticket × 1".into(), "T-shirt M × 1".into()],
        amount_total: Some(4500),
        currency: Some("jpy".into()),
        locale: Some(locale.into()),
        ..OrderDetails::default()
    }
}

#[test]
fn cancellation_email_from_the_order_speaks_its_language() {
    let config = config_with(json!({}));
    let english = cancellation_email(&config, &order("en"), Some("TDF-BCDFGHJK"), Some(4500));
    assert_eq!(english.subject, "Your Tokyo Demo Fest ticket was cancelled");
    assert!(english.text.starts_with("Hi Hanako,\n\n"), "{}", english.text);
    for expected in [
        "Your payment of ¥4,500 was refunded, so your ticket (Bronze ticket) is cancelled.",
        "Your votekey TDF-BCDFGHJK no longer works for voting.",
        "http://127.0.0.1:3000/",
    ] {
        assert!(english.text.contains(expected), "{expected:?} in {}", english.text);
    }

    let japanese = cancellation_email(&config, &order("ja-JP"), None, Some(4500));
    assert_eq!(japanese.subject, "【Tokyo Demo Fest】チケットのキャンセルのお知らせ");
    assert!(
        japanese.text.contains("お支払いいただいた代金（¥4,500）を返金いたしましたので、チケット（Bronze ticket）")
    );
    assert!(!japanese.text.contains("投票キー"), "{}", japanese.text);
    assert!(japanese.html.contains("<html lang=\"ja\">"));
}

#[test]
fn cancellation_email_falls_back_to_the_total_and_the_items() {
    let config = config_with(json!({}));
    let details = OrderDetails { ticket: None, ..order("en") };
    let email = cancellation_email(&config, &details, None, None);
    assert!(
        email.text.contains(
            "Your payment of ¥4,500 was refunded, so your ticket (Bronze ticket × 1, T-shirt M × 1) is cancelled."
        ),
        "{}",
        email.text
    );

    // An id the catalog no longer knows is shown as recorded; no currency, no amount.
    let details = OrderDetails { ticket: Some("gold".into()), currency: None, ..order("en") };
    let email = cancellation_email(&config, &details, None, Some(4500));
    assert!(email.text.contains("Your payment was refunded, so your ticket (gold) is cancelled."), "{}", email.text);
}

#[test]
fn cancellation_email_overrides_come_from_config_per_language() {
    let config = config_with(json!({
        "email_subject_cancelled": "About your TDF ticket",
        "email_intro_cancelled": "<b>Sorry</b> about this.",
        "email_subject_cancelled_ja": "チケットについて",
        "email_intro_cancelled_ja": "ご連絡いたします。",
        "email_subject": "Not this one",
    }));
    let english = cancellation_email(&config, &order("en"), Some("TDF-BCDFGHJK"), None);
    assert_eq!(english.subject, "About your TDF ticket");
    assert!(english.text.contains("Hi Hanako,\n\n<b>Sorry</b> about this.\n\n"), "{}", english.text);
    assert!(english.html.contains("&lt;b&gt;Sorry&lt;/b&gt; about this."), "{}", english.html);
    assert!(english.text.contains("TDF-BCDFGHJK"));

    let japanese = cancellation_email(&config, &order("ja"), Some("TDF-BCDFGHJK"), None);
    assert_eq!(japanese.subject, "チケットについて");
    assert!(japanese.text.contains("Hanako 様\n\nご連絡いたします。\n\n"), "{}", japanese.text);

    // The votekey email's overrides are not the cancellation email's.
    let plain = config_with(json!({"email_subject": "Your key", "email_intro": "Welcome!"}));
    let email = cancellation_email(&plain, &order("en"), None, None);
    assert_eq!(email.subject, "Your Tokyo Demo Fest ticket was cancelled");
    assert!(!email.text.contains("Welcome!"), "{}", email.text);
}

#[test]
fn votekey_email_links_to_wuhus_registration_with_the_key() {
    let details = order("en");
    let config = config_with(json!({"wuhu_url": "http://wuhu.party.lan/"}));
    let email = votekey_email(&config, &details, "TDF-BCDFGHJK");
    assert!(
        email.text.contains(
            "Register at Wuhu with your votekey: http://wuhu.party.lan/index.php?page=Login&votekey=TDF-BCDFGHJK"
        ),
        "{}",
        email.text
    );

    let config = config_with(json!({"wuhu_url": "http://wuhu.party.lan/", "wuhu_register_page": "Register"}));
    let email = votekey_email(&config, &OrderDetails { locale: Some("ja".into()), ..details.clone() }, "TDF-BCDFGHJK");
    assert!(
        email.text.contains("http://wuhu.party.lan/index.php?page=Register&votekey=TDF-BCDFGHJK"),
        "{}",
        email.text
    );
    assert!(email.html.contains("href=\"http://wuhu.party.lan/index.php?page=Register&amp;votekey=TDF-BCDFGHJK\""));

    let config = config_with(json!({"wuhu_url": null, "wuhu_register_page": "Register"}));
    let email = votekey_email(&config, &details, "TDF-BCDFGHJK");
    assert!(!email.text.contains("Wuhu"), "{}", email.text);
}
