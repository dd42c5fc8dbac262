//! The sender's display name through SES (moto): a name the config accepts is
//! one SES accepts. SES refuses a raw non-ASCII or comma'd display name on
//! every send; the config writes it as an RFC 2047 encoded-word or a quoted
//! string, and the message's From reads back as the organizer wrote it.

use crate::support::*;
use base64::Engine as _;
use serde_json::json;
use testbed::moto::{Moto, SentEmail};
use tickets::config::Config;
use tickets::mail::{Mailer, OutgoingEmail, SesMailer};

/// A sender domain of this test's own, verified in the shared moto.
async fn verified_domain(moto: &Moto) -> String {
    let domain = format!("{}.example", unique_name("mail"));
    moto.verify_domain_identity(&domain).await.unwrap();
    domain
}

/// The config's `email_from` for `from`, sent to `to` through SES; moto's record of it.
async fn send_as_configured(moto: &Moto, from: &str, to: &str) -> SentEmail {
    let mut config = example_config();
    config["email_from"] = json!(from);
    let config = Config::from_json(&config.to_string()).expect("the config accepts the sender");
    let email = OutgoingEmail {
        from: config.email().from.clone().expect("email_from"),
        to: to.to_owned(),
        reply_to: None,
        configuration_set: None,
        subject: "Your votekey".to_owned(),
        text: "TDF-BCDFGHJK".to_owned(),
        html: "<p>TDF-BCDFGHJK</p>".to_owned(),
    };
    let mailer = SesMailer::new(&aws_config(moto));
    let message_id = mailer.send(&email).await.unwrap_or_else(|e| panic!("SES refused {from:?}: {e}"));
    let sent = moto.sent_emails().await.unwrap();
    sent.into_iter().find(|m| m.id == message_id).expect("moto recorded the message")
}

/// The display name of a From header, as a mail reader shows it: RFC 2047
/// `B` words decoded and joined, or a quoted string unquoted. Written here
/// independently of the crate's encoder.
fn display_name(from: &str) -> String {
    let phrase = from.rsplit_once(" <").map_or("", |(phrase, _)| phrase);
    if let Some(quoted) = phrase.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        return quoted.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    let mut bytes = Vec::new();
    for word in phrase.split(' ') {
        let payload = word.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect(word);
        bytes.extend(base64::engine::general_purpose::STANDARD.decode(payload).expect("base64"));
    }
    String::from_utf8(bytes).expect("UTF-8")
}

#[tokio::test]
async fn a_japanese_display_name_is_sent_as_an_encoded_word() {
    let moto = moto().await;
    let domain = verified_domain(&moto).await;
    let to = format!("buyer@{domain}");
    let sent = send_as_configured(&moto, &format!("東京デモフェスト <tickets@{domain}>"), &to).await;
    assert!(sent.from.is_ascii() && sent.from.starts_with("=?UTF-8?B?"), "{}", sent.from);
    assert!(sent.from.ends_with(&format!(" <tickets@{domain}>")), "{}", sent.from);
    assert_eq!(display_name(&sent.from), "東京デモフェスト");
    assert_eq!(sent.to, [to]);
}

#[tokio::test]
async fn a_display_name_with_a_comma_or_quotes_is_quoted() {
    let moto = moto().await;
    let domain = verified_domain(&moto).await;
    let name = r#"Tokyo Demo Fest, "TDF" office"#;
    let sent = send_as_configured(&moto, &format!("{name} <tickets@{domain}>"), &format!("b@{domain}")).await;
    assert_eq!(sent.from, format!(r#""Tokyo Demo Fest, \"TDF\" office" <tickets@{domain}>"#));
    assert_eq!(display_name(&sent.from), name);

    // What the config used to pass on verbatim: SES (and moto) refuse it.
    let ses = aws_sdk_sesv2::Client::new(&aws_config(&moto));
    let content = aws_sdk_sesv2::types::EmailContent::builder()
        .simple(
            aws_sdk_sesv2::types::Message::builder()
                .subject(aws_sdk_sesv2::types::Content::builder().data("x").build().unwrap())
                .body(aws_sdk_sesv2::types::Body::builder().build())
                .build(),
        )
        .build();
    let raw = ses
        .send_email()
        .from_email_address(format!("{name} <tickets@{domain}>"))
        .destination(aws_sdk_sesv2::types::Destination::builder().to_addresses(format!("b@{domain}")).build())
        .content(content)
        .send()
        .await;
    assert!(raw.is_err(), "an unquoted comma splits the sender in two");
}
