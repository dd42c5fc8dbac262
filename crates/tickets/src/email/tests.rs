use super::*;

const VOTEKEY: &str = "TDF-BCDFGHJK";
const RECIPIENT: &str = "Hanako Yamada";

fn tokyo_address() -> PostalAddress {
    PostalAddress {
        line1: Some("1-2-3 Jinnan".to_owned()),
        line2: Some("Demo Building 4F".to_owned()),
        city: Some("Shibuya-ku".to_owned()),
        state: Some("Tokyo".to_owned()),
        postal_code: Some("150-0041".to_owned()),
        country: Some("JP".to_owned()),
    }
}

fn votekey_email<'a>(
    language: EmailLanguage,
    options: &'a [(&'a str, &'a str)],
    shipping: Option<(&'a str, &'a PostalAddress)>,
) -> VotekeyEmail<'a> {
    VotekeyEmail {
        language,
        event_name: Some("Tokyo Demo Fest 2026"),
        buyer_name: Some("Hanako"),
        votekey: VOTEKEY,
        ticket_name: "Bronze ticket",
        options,
        shipping,
        wuhu_url: Some("https://party.example/wuhu/"),
        wuhu_register_page: None,
        subject_override: None,
        intro_override: None,
    }
}

fn payment_failed_email(language: EmailLanguage) -> PaymentFailedEmail<'static> {
    PaymentFailedEmail {
        language,
        event_name: Some("Tokyo Demo Fest 2026"),
        retry_url: "https://tokyodemofest.jp/tickets",
        subject_override: None,
        intro_override: None,
    }
}

fn cancellation_email(language: EmailLanguage) -> CancellationEmail<'static> {
    CancellationEmail {
        language,
        event_name: Some("Tokyo Demo Fest 2026"),
        buyer_name: Some("Hanako"),
        refunded: Some(Money { amount: 3000, currency: "jpy" }),
        ticket: Some("Bronze ticket"),
        votekey: Some(VOTEKEY),
        ticket_page_url: "https://tokyodemofest.jp/tickets",
        subject_override: None,
        intro_override: None,
    }
}

fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "expected {needle:?} in:\n{haystack}");
}

fn assert_lacks(haystack: &str, needle: &str) {
    assert!(!haystack.contains(needle), "did not expect {needle:?} in:\n{haystack}");
}

#[test]
fn locale_mapping() {
    let cases = [
        (Some("ja"), EmailLanguage::Japanese),
        (Some("ja-JP"), EmailLanguage::Japanese),
        (Some("ja_JP"), EmailLanguage::Japanese),
        (Some("JA"), EmailLanguage::Japanese),
        (Some("en"), EmailLanguage::English),
        (Some("en-GB"), EmailLanguage::English),
        (Some("auto"), EmailLanguage::English),
        (Some("jam"), EmailLanguage::English),
        (Some(""), EmailLanguage::English),
        (None, EmailLanguage::English),
    ];
    for (locale, expected) in cases {
        assert_eq!(EmailLanguage::from_stripe_locale(locale), expected, "{locale:?}");
    }
}

#[test]
fn votekey_email_has_everything_in_both_languages() {
    let address = tokyo_address();
    let options = [("T-shirt size", "L"), ("Dinner", "Vegetarian")];
    for language in [EmailLanguage::English, EmailLanguage::Japanese] {
        let email = render_votekey(&votekey_email(language, &options, Some((RECIPIENT, &address))));
        for body in [&email.text, &email.html] {
            for expected in [
                VOTEKEY,
                "Bronze ticket",
                "T-shirt size",
                "L",
                "Vegetarian",
                "Hanako Yamada",
                "1-2-3 Jinnan",
                "Demo Building 4F",
                "Shibuya-ku",
                "150-0041",
                "https://party.example/wuhu/",
                "Tokyo Demo Fest 2026",
            ] {
                assert_contains(body, expected);
            }
        }
        assert_contains(&email.subject, "Tokyo Demo Fest 2026");
    }
}

#[test]
fn votekey_email_speaks_the_buyers_language() {
    let address = tokyo_address();
    let english = render_votekey(&votekey_email(EmailLanguage::English, &[], Some((RECIPIENT, &address))));
    let japanese = render_votekey(&votekey_email(EmailLanguage::Japanese, &[], Some((RECIPIENT, &address))));

    assert_eq!(english.subject, "Your votekey for Tokyo Demo Fest 2026");
    for expected in ["Hi Hanako,", "Ticket: Bronze ticket", "Shipping address"] {
        assert_contains(&english.text, expected);
    }
    assert_contains(&english.html, "<html lang=\"en\">");

    assert_eq!(japanese.subject, "【Tokyo Demo Fest 2026】投票キーのお知らせ");
    for expected in ["Hanako 様", "チケット：Bronze ticket", "お届け先", "〒150-0041"] {
        assert_contains(&japanese.text, expected);
    }
    assert_contains(&japanese.html, "<html lang=\"ja\">");
    // The Wuhu link's query is Wuhu's, not prose.
    let prose = japanese.text.replace(WUHU_LINK, "");
    for english_word in ["Ticket", "Hi ", "votekey", "Shipping"] {
        assert_lacks(&prose, english_word);
    }
}

#[test]
fn html_is_a_utf8_document_with_a_prominent_monospace_votekey() {
    let email = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
    assert!(email.html.starts_with("<!DOCTYPE html>"), "{}", email.html);
    assert_contains(&email.html, "<meta charset=\"utf-8\">");
    assert!(email.html.trim_end().ends_with("</html>"), "{}", email.html);
    let votekey_line = email.html.lines().find(|line| line.contains(VOTEKEY)).unwrap_or_default();
    assert_contains(votekey_line, "monospace");
    assert_contains(votekey_line, "font-size:32px");
}

#[test]
fn html_escapes_every_interpolated_value() {
    let evil = "<script>alert(1)</script>";
    let address = PostalAddress { line1: Some(evil.to_owned()), ..PostalAddress::default() };
    let options = [(evil, evil)];
    let email = render_votekey(&VotekeyEmail {
        event_name: Some(evil),
        buyer_name: Some(evil),
        ticket_name: evil,
        votekey: evil,
        intro_override: Some(evil),
        ..votekey_email(EmailLanguage::English, &options, Some((evil, &address)))
    });
    assert_lacks(&email.html, "<script");
    assert_contains(&email.html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    // The plain-text body is not HTML, so it shows the name as typed.
    assert_contains(&email.text, evil);

    let failed = render_payment_failed(&PaymentFailedEmail {
        event_name: Some(evil),
        ..payment_failed_email(EmailLanguage::Japanese)
    });
    assert_lacks(&failed.html, "<script");
    assert_contains(&failed.html, "&lt;script&gt;");
}

#[test]
fn no_shipping_block_without_shipping() {
    let english = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
    let japanese = render_votekey(&votekey_email(EmailLanguage::Japanese, &[], None));
    for body in [&english.text, &english.html] {
        assert_lacks(body, "Shipping address");
    }
    for body in [&japanese.text, &japanese.html] {
        assert_lacks(body, "お届け先");
    }
    assert_lacks(&english.html, "<h2");
}

/// What [`votekey_email`]'s Wuhu site and key make.
const WUHU_LINK: &str = "https://party.example/wuhu/index.php?page=Login&votekey=TDF-BCDFGHJK";

#[test]
fn wuhu_link_only_when_set() {
    let with = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
    assert_contains(&with.text, &format!("Register at Wuhu with your votekey: {WUHU_LINK}\n"));
    assert_contains(&with.text, "Once registered, you can vote in the competitions.");
    assert_contains(&with.html, "<a href=\"https://party.example/wuhu/index.php?page=Login&amp;votekey=TDF-BCDFGHJK\"");

    let japanese = render_votekey(&votekey_email(EmailLanguage::Japanese, &[], None));
    assert_contains(&japanese.text, &format!("こちらから投票キーで Wuhu にユーザー登録してください：{WUHU_LINK}\n"));
    assert_contains(&japanese.text, "登録すると、コンポの投票に参加できます。");
    assert_contains(&japanese.html, "page=Login&amp;votekey=TDF-BCDFGHJK\"");

    let without = render_votekey(&VotekeyEmail { wuhu_url: None, ..votekey_email(EmailLanguage::English, &[], None) });
    assert_lacks(&without.text, "Register at");
    assert_lacks(&without.html, "Register at");
    assert_lacks(&without.html, "<a ");

    let blank =
        render_votekey(&VotekeyEmail { wuhu_url: Some("  "), ..votekey_email(EmailLanguage::Japanese, &[], None) });
    assert_lacks(&blank.html, "<a ");
    assert_lacks(&blank.text, "ユーザー登録");
}

#[test]
fn wuhu_link_sits_after_the_shipping_address_in_both_bodies() {
    let address = tokyo_address();
    for (language, closing) in [(EmailLanguage::English, "See you at"), (EmailLanguage::Japanese, "会場でお会い")]
    {
        let email = render_votekey(&votekey_email(language, &[], Some((RECIPIENT, &address))));
        for body in [&email.text, &email.html] {
            let shipping = body.find("150-0041").unwrap();
            let link = body.find("votekey=TDF-BCDFGHJK").unwrap();
            let closing = body.find(closing).unwrap();
            assert!(shipping < link && link < closing, "{body}");
        }
    }
}

#[test]
fn wuhu_link_uses_the_organizers_register_page_and_escapes_the_key() {
    let email = render_votekey(&VotekeyEmail {
        votekey: "AB&C<D>\"E F",
        wuhu_url: Some("http://wuhu.party.lan/"),
        wuhu_register_page: Some("Register"),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    let link = "http://wuhu.party.lan/index.php?page=Register&votekey=AB%26C%3CD%3E%22E%20F";
    assert_contains(&email.text, link);
    let href = "http://wuhu.party.lan/index.php?page=Register&amp;votekey=AB%26C%3CD%3E%22E%20F";
    assert_contains(&email.html, &format!("<a href=\"{href}\" style=\"{HTML_LINK_STYLE}\">{href}</a>"));

    // A `page=` in `wuhu_url` wins over `wuhu_register_page`.
    let email = render_votekey(&VotekeyEmail {
        wuhu_url: Some("http://wuhu/index.php?page=Signup"),
        wuhu_register_page: Some("Register"),
        ..votekey_email(EmailLanguage::Japanese, &[], None)
    });
    assert_contains(&email.text, "http://wuhu/index.php?page=Signup&votekey=TDF-BCDFGHJK");
    assert_lacks(&email.text, "Register");

    // A blank page is the default one.
    let email = render_votekey(&VotekeyEmail {
        wuhu_register_page: Some(" "),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    assert_contains(&email.text, WUHU_LINK);
}

#[test]
fn wuhu_register_url_for_every_shape_of_wuhu_url() {
    let cases = [
        // The site root, with or without its slash.
        ("http://wuhu.party.lan/", "http://wuhu.party.lan/index.php?page=Login&votekey=BCDF"),
        ("http://wuhu.party.lan", "http://wuhu.party.lan/index.php?page=Login&votekey=BCDF"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080/index.php?page=Login&votekey=BCDF"),
        // A directory, with or without its slash.
        ("https://party.example/wuhu/", "https://party.example/wuhu/index.php?page=Login&votekey=BCDF"),
        ("https://party.example/wuhu", "https://party.example/wuhu/index.php?page=Login&votekey=BCDF"),
        // The script itself.
        ("http://wuhu/index.php", "http://wuhu/index.php?page=Login&votekey=BCDF"),
        ("http://wuhu/party/INDEX.PHP", "http://wuhu/party/INDEX.PHP?page=Login&votekey=BCDF"),
        // A page already named: only the key is added.
        ("http://wuhu/index.php?page=Register", "http://wuhu/index.php?page=Register&votekey=BCDF"),
        ("http://wuhu/?page=Register", "http://wuhu/?page=Register&votekey=BCDF"),
        ("http://wuhu/index.php?lang=ja&page=Register&", "http://wuhu/index.php?lang=ja&page=Register&votekey=BCDF"),
        // A query without a page keeps its parameters and gets the page.
        ("http://wuhu/index.php?lang=ja", "http://wuhu/index.php?lang=ja&page=Login&votekey=BCDF"),
        ("http://wuhu/?lang=ja", "http://wuhu/index.php?lang=ja&page=Login&votekey=BCDF"),
        ("http://wuhu/?", "http://wuhu/index.php?page=Login&votekey=BCDF"),
        ("http://wuhu/index.php?page=", "http://wuhu/index.php?page=&page=Login&votekey=BCDF"),
        ("http://wuhu/index.php?pages=2", "http://wuhu/index.php?pages=2&page=Login&votekey=BCDF"),
        // A fragment stays last.
        ("http://wuhu/#register", "http://wuhu/index.php?page=Login&votekey=BCDF#register"),
        ("http://wuhu/index.php?page=Login#form", "http://wuhu/index.php?page=Login&votekey=BCDF#form"),
        ("http://wuhu#", "http://wuhu/index.php?page=Login&votekey=BCDF#"),
    ];
    for (wuhu_url, expected) in cases {
        assert_eq!(wuhu_register_url(wuhu_url, "Login", "BCDF"), expected, "{wuhu_url}");
    }
}

#[test]
fn wuhu_register_url_encodes_the_key_and_the_page() {
    assert_eq!(
        wuhu_register_url("http://wuhu/", "Login", "TDF-abc_1.2~"),
        "http://wuhu/index.php?page=Login&votekey=TDF-abc_1.2~",
        "unreserved characters stay as they are"
    );
    assert_eq!(
        wuhu_register_url("http://wuhu/", "Login", "a&b=c#d?e+f%g/h i"),
        "http://wuhu/index.php?page=Login&votekey=a%26b%3Dc%23d%3Fe%2Bf%25g%2Fh%20i"
    );
    assert_eq!(
        wuhu_register_url("http://wuhu/", "Login", "キー"),
        "http://wuhu/index.php?page=Login&votekey=%E3%82%AD%E3%83%BC"
    );
    assert_eq!(
        wuhu_register_url("http://wuhu/", "Sign up&x", "K"),
        "http://wuhu/index.php?page=Sign%20up%26x&votekey=K"
    );
    assert_eq!(wuhu_register_url("http://wuhu/", "  ", "K"), "http://wuhu/index.php?page=Login&votekey=K");
}

#[test]
fn only_http_urls_become_links() {
    let cases = [
        ("https://example.com/?a=1&b=2", true),
        ("HTTP://example.com", true),
        ("javascript:alert(1)", false),
        ("JaVaScRiPt:alert(1)", false),
        ("data:text/html,<b>x</b>", false),
        ("https://example.com/\" onclick=\"x", false),
        ("//example.com", false),
        ("", false),
    ];
    for (url, is_link) in cases {
        let rendered = link_or_text(url);
        assert_eq!(rendered.contains("<a "), is_link, "{url:?}: {rendered}");
        assert_lacks(&rendered, "\" onclick");
    }
    assert_eq!(
        link_or_text("https://example.com/?a=1&b=2"),
        format!(
            "<a href=\"https://example.com/?a=1&amp;b=2\" style=\"{HTML_LINK_STYLE}\">\
             https://example.com/?a=1&amp;b=2</a>"
        )
    );
}

#[test]
fn javascript_urls_are_never_links() {
    let email = render_votekey(&VotekeyEmail {
        wuhu_url: Some("javascript:alert(document.cookie)"),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    assert_lacks(&email.html, "href");
    assert_contains(&email.html, "javascript:alert(document.cookie)");

    let failed = render_payment_failed(&PaymentFailedEmail {
        retry_url: "javascript:alert(1)",
        ..payment_failed_email(EmailLanguage::English)
    });
    assert_lacks(&failed.html, "href");
}

#[test]
fn subject_override_is_used_and_kept_on_one_line() {
    let email = render_votekey(&VotekeyEmail {
        subject_override: Some("Your key\r\nBcc: victim@example.com\n"),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    assert_eq!(email.subject, "Your key Bcc: victim@example.com");

    let failed = render_payment_failed(&PaymentFailedEmail {
        subject_override: Some("Payment\rproblem"),
        ..payment_failed_email(EmailLanguage::Japanese)
    });
    assert_eq!(failed.subject, "Payment problem");
}

#[test]
fn blank_subject_override_falls_back_to_the_default() {
    let email = render_votekey(&VotekeyEmail {
        subject_override: Some("\r\n "),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    assert_eq!(email.subject, "Your votekey for Tokyo Demo Fest 2026");
}

#[test]
fn event_name_cannot_break_the_subject_line() {
    for language in [EmailLanguage::English, EmailLanguage::Japanese] {
        let email = render_votekey(&VotekeyEmail {
            event_name: Some("TDF\r\nBcc: victim@example.com"),
            ..votekey_email(language, &[], None)
        });
        assert_lacks(&email.subject, "\r");
        assert_lacks(&email.subject, "\n");
        assert_contains(&email.subject, "TDF Bcc: victim@example.com");
    }
}

#[test]
fn subject_without_event_name_is_generic() {
    let english =
        render_votekey(&VotekeyEmail { event_name: None, ..votekey_email(EmailLanguage::English, &[], None) });
    let japanese = render_payment_failed(&PaymentFailedEmail {
        event_name: Some(" "),
        ..payment_failed_email(EmailLanguage::Japanese)
    });
    assert_eq!(english.subject, "Your votekey");
    assert_eq!(japanese.subject, "お支払いが完了しませんでした");
}

#[test]
fn intro_override_replaces_the_default_intro() {
    let default = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
    assert_contains(&default.text, "Thank you for buying a ticket");

    let email = render_votekey(&VotekeyEmail {
        intro_override: Some("Thanks for supporting the party!\nDoors open at 10:00."),
        ..votekey_email(EmailLanguage::English, &[], None)
    });
    assert_contains(&email.text, "Thanks for supporting the party!\nDoors open at 10:00.");
    assert_contains(&email.html, "Thanks for supporting the party!<br>\nDoors open at 10:00.");
    assert_lacks(&email.text, "Thank you for buying a ticket");

    let failed = render_payment_failed(&PaymentFailedEmail {
        intro_override: Some("カスタム文面です。"),
        ..payment_failed_email(EmailLanguage::Japanese)
    });
    assert_contains(&failed.text, "カスタム文面です。");
    assert_lacks(&failed.text, "チケットは発行されておりません");
}

#[test]
fn japanese_texts_without_an_event_name_read_naturally() {
    let votekey =
        render_votekey(&VotekeyEmail { event_name: None, ..votekey_email(EmailLanguage::Japanese, &[], None) });
    assert_contains(&votekey.text, "\n\nこの度はチケットをお買い上げいただき、");
    assert!(votekey.text.ends_with("\n\n会場でお会いできるのを楽しみにしております。\n"), "{}", votekey.text);

    let failed = render_payment_failed(&PaymentFailedEmail {
        event_name: None,
        ..payment_failed_email(EmailLanguage::Japanese)
    });
    assert_contains(&failed.text, "\n\nチケットのお支払いが完了しなかったため、");
}

#[test]
fn greeting_uses_the_name_when_known() {
    let cases = [
        (EmailLanguage::English, Some("Hanako"), "Hi Hanako,"),
        (EmailLanguage::English, None, "Hi,"),
        (EmailLanguage::Japanese, Some("山田 花子"), "山田 花子 様"),
        (EmailLanguage::Japanese, None, "お客様"),
    ];
    for (language, buyer_name, expected) in cases {
        let email = render_votekey(&VotekeyEmail { buyer_name, ..votekey_email(language, &[], None) });
        assert!(email.text.starts_with(expected), "{}", email.text);
    }
}

#[test]
fn payment_failed_email_links_to_the_ticket_page() {
    for language in [EmailLanguage::English, EmailLanguage::Japanese] {
        let email = render_payment_failed(&payment_failed_email(language));
        assert_contains(&email.subject, "Tokyo Demo Fest 2026");
        assert_contains(&email.text, "https://tokyodemofest.jp/tickets");
        assert_contains(&email.html, "<a href=\"https://tokyodemofest.jp/tickets\"");
        assert_contains(&email.html, "<meta charset=\"utf-8\">");
    }
    let japanese = render_payment_failed(&payment_failed_email(EmailLanguage::Japanese));
    assert_eq!(japanese.subject, "【Tokyo Demo Fest 2026】お支払いが完了しませんでした");
}

#[test]
fn payment_failed_email_greets_without_a_name() {
    for (language, greeting) in [(EmailLanguage::English, "Hi,\n"), (EmailLanguage::Japanese, "お客様\n")] {
        let email = render_payment_failed(&payment_failed_email(language));
        assert!(email.text.starts_with(greeting), "{}", email.text);
        assert_contains(&email.html, &format!(">{}</p>", greeting.trim_end()));
    }
}

#[test]
fn address_lines_follow_each_languages_order() {
    let address = tokyo_address();
    assert_eq!(
        address_lines(EmailLanguage::English, RECIPIENT, &address),
        ["Hanako Yamada", "1-2-3 Jinnan", "Demo Building 4F", "Shibuya-ku Tokyo 150-0041", "JP"]
    );
    assert_eq!(
        address_lines(EmailLanguage::Japanese, RECIPIENT, &address),
        ["〒150-0041", "Tokyo Shibuya-ku", "1-2-3 Jinnan", "Demo Building 4F", "JP", "Hanako Yamada 様"]
    );
    let sparse = PostalAddress { line2: Some("  ".to_owned()), ..PostalAddress::default() };
    assert_eq!(address_lines(EmailLanguage::English, "Only Name", &sparse), ["Only Name"]);
}

#[test]
fn cancellation_email_says_everything_in_both_languages() {
    let english = render_cancellation(&cancellation_email(EmailLanguage::English));
    assert_eq!(english.subject, "Your Tokyo Demo Fest 2026 ticket was cancelled");
    for expected in [
        "Hi Hanako,",
        "We are writing about your ticket for Tokyo Demo Fest 2026.",
        "Your payment of ¥3,000 was refunded, so your ticket (Bronze ticket) is cancelled.",
        "Your votekey TDF-BCDFGHJK no longer works for voting.",
        "If you think this is a mistake, please reply to this email or contact the organizers.",
        "you can buy a ticket again at https://tokyodemofest.jp/tickets.",
    ] {
        assert_contains(&english.text, expected);
    }
    assert_contains(&english.html, "<html lang=\"en\">");

    let japanese = render_cancellation(&cancellation_email(EmailLanguage::Japanese));
    assert_eq!(japanese.subject, "【Tokyo Demo Fest 2026】チケットのキャンセルのお知らせ");
    for expected in [
        "Hanako 様",
        "ご購入いただいたTokyo Demo Fest 2026のチケットについてお知らせいたします。",
        "お支払いいただいた代金（¥3,000）を返金いたしましたので、チケット（Bronze ticket）はキャンセルとなりました。",
        "投票キー TDF-BCDFGHJK は無効となり、",
        "このメールにご返信いただくか、運営までお問い合わせください。",
        "改めてお申し込みください：https://tokyodemofest.jp/tickets",
        "Tokyo Demo Fest 2026 運営",
    ] {
        assert_contains(&japanese.text, expected);
    }
    assert_contains(&japanese.html, "<html lang=\"ja\">");
    for english_word in ["Hi ", "votekey", "refund", "Ticket"] {
        assert_lacks(&japanese.text, english_word);
    }

    for email in [&english, &japanese] {
        assert!(email.html.starts_with("<!DOCTYPE html>"), "{}", email.html);
        assert_contains(&email.html, "<meta charset=\"utf-8\">");
        assert_contains(&email.html, "¥3,000");
        assert_contains(&email.html, VOTEKEY);
        assert_contains(&email.html, "<a href=\"https://tokyodemofest.jp/tickets\"");
    }
}

#[test]
fn cancellation_email_names_the_votekey_only_when_one_was_issued() {
    for votekey in [None, Some(""), Some("  ")] {
        let english = render_cancellation(&CancellationEmail { votekey, ..cancellation_email(EmailLanguage::English) });
        let japanese =
            render_cancellation(&CancellationEmail { votekey, ..cancellation_email(EmailLanguage::Japanese) });
        for body in [&english.text, &english.html] {
            assert_lacks(body, "votekey");
        }
        for body in [&japanese.text, &japanese.html] {
            assert_lacks(body, "投票キー");
        }
        assert_contains(&english.text, "is cancelled.");
    }
}

#[test]
fn cancellation_email_without_amount_ticket_or_event_reads_naturally() {
    let bare = |language| CancellationEmail {
        event_name: None,
        buyer_name: None,
        refunded: None,
        ticket: None,
        ..cancellation_email(language)
    };
    let english = render_cancellation(&bare(EmailLanguage::English));
    assert_eq!(english.subject, "Your ticket was cancelled");
    assert!(english.text.starts_with("Hi,\n\nWe are writing about your ticket.\n\n"), "{}", english.text);
    assert_contains(&english.text, "\n\nYour payment was refunded, so your ticket is cancelled.\n\n");
    assert!(english.text.ends_with("\n\nThank you for your understanding.\n"), "{}", english.text);

    let japanese = render_cancellation(&bare(EmailLanguage::Japanese));
    assert_eq!(japanese.subject, "チケットのキャンセルのお知らせ");
    assert!(japanese.text.starts_with("お客様\n\nご購入いただいたチケットについて"), "{}", japanese.text);
    assert_contains(
        &japanese.text,
        "\n\nお支払いいただいた代金を返金いたしましたので、チケットはキャンセルとなりました。\n\n",
    );
    assert!(japanese.text.ends_with("\n\n何卒ご了承くださいますようお願い申し上げます。\n"), "{}", japanese.text);

    // A currency-less amount cannot be shown, so it is left out.
    let no_currency = render_cancellation(&CancellationEmail {
        refunded: Some(Money { amount: 3000, currency: " " }),
        ..cancellation_email(EmailLanguage::English)
    });
    assert_contains(&no_currency.text, "Your payment was refunded, so your ticket (Bronze ticket) is cancelled.");
}

#[test]
fn cancellation_email_escapes_every_interpolated_value() {
    let name = "<b>Ada</b>";
    let evil = "<script>alert(1)</script>";
    for language in [EmailLanguage::English, EmailLanguage::Japanese] {
        let email = render_cancellation(&CancellationEmail {
            buyer_name: Some(name),
            event_name: Some(evil),
            ticket: Some(evil),
            votekey: Some(evil),
            refunded: Some(Money { amount: 1250, currency: evil }),
            intro_override: Some(evil),
            ..cancellation_email(language)
        });
        assert_lacks(&email.html, "<b>");
        assert_contains(&email.html, "&lt;b&gt;Ada&lt;/b&gt;");
        assert_lacks(&email.html, "<script");
        assert_lacks(&email.html, "<SCRIPT");
        assert_contains(&email.html, "&lt;script&gt;alert(1)&lt;/script&gt;");
        // The plain-text body is not HTML, so it shows the name as typed.
        assert_contains(&email.text, name);
    }
}

#[test]
fn cancellation_email_subject_stays_on_one_line() {
    for language in [EmailLanguage::English, EmailLanguage::Japanese] {
        let email = render_cancellation(&CancellationEmail {
            event_name: Some("TDF\r\nBcc: victim@example.com"),
            ..cancellation_email(language)
        });
        assert_lacks(&email.subject, "\r");
        assert_lacks(&email.subject, "\n");
        assert_contains(&email.subject, "TDF Bcc: victim@example.com");
    }
    let overridden = render_cancellation(&CancellationEmail {
        subject_override: Some("Cancelled\r\nBcc: victim@example.com\n"),
        ..cancellation_email(EmailLanguage::Japanese)
    });
    assert_eq!(overridden.subject, "Cancelled Bcc: victim@example.com");
}

#[test]
fn cancellation_email_overrides_replace_subject_and_intro_only() {
    let email = render_cancellation(&CancellationEmail {
        subject_override: Some("About your ticket"),
        intro_override: Some("The party is postponed.\nSorry!"),
        ..cancellation_email(EmailLanguage::English)
    });
    assert_eq!(email.subject, "About your ticket");
    assert_contains(&email.text, "Hi Hanako,\n\nThe party is postponed.\nSorry!\n\nYour payment of ¥3,000");
    assert_contains(&email.html, "The party is postponed.<br>\nSorry!");
    assert_lacks(&email.text, "We are writing about");
    // The facts are not part of the intro, so they survive an override.
    assert_contains(&email.text, VOTEKEY);

    let blank = render_cancellation(&CancellationEmail {
        subject_override: Some(" \n"),
        intro_override: Some("  "),
        ..cancellation_email(EmailLanguage::Japanese)
    });
    assert_eq!(blank.subject, "【Tokyo Demo Fest 2026】チケットのキャンセルのお知らせ");
    assert_contains(&blank.text, "チケットについてお知らせいたします。");
}

#[test]
fn cancellation_email_never_links_a_javascript_url() {
    let email = render_cancellation(&CancellationEmail {
        ticket_page_url: "javascript:alert(1)",
        ..cancellation_email(EmailLanguage::English)
    });
    assert_lacks(&email.html, "href");
}

#[test]
fn email_amounts_are_formatted_in_the_currencys_units() {
    let cases = [
        (3000, "jpy", "¥3,000"),
        (3000, "JPY", "¥3,000"),
        (1_234_567, "jpy", "¥1,234,567"),
        (0, "jpy", "¥0"),
        (1250, "usd", "$12.50"),
        (5, "usd", "$0.05"),
        (10_000_000, "eur", "€100,000.00"),
        (999, "gbp", "£9.99"),
        (1250, "sek", "12.50 SEK"),
        (5124, "kwd", "5.124 KWD"),
        (50000, "krw", "50,000 KRW"),
        (-1250, "usd", "-$12.50"),
    ];
    for (amount, currency, expected) in cases {
        assert_eq!(format_money(Money { amount, currency }).as_deref(), Some(expected), "{amount} {currency}");
    }
    assert_eq!(format_money(Money { amount: 3000, currency: "" }), None);
}
