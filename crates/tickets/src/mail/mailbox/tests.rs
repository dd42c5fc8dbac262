use super::*;

fn header(text: &str) -> String {
    Mailbox::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).header()
}

/// Decodes a run of `=?UTF-8?B?…?=` words the way a mail reader joins them.
fn decode_words(phrase: &str) -> String {
    let bytes: Vec<u8> = phrase
        .split(' ')
        .flat_map(|word| {
            let payload = word.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect(word);
            BASE64.decode(payload).expect("base64")
        })
        .collect();
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn plain_addresses_and_atom_names_are_sent_as_written() {
    assert_eq!(header("tickets@example.org"), "tickets@example.org");
    assert_eq!(header("  Tokyo Demo Fest <tickets@example.org> "), "Tokyo Demo Fest <tickets@example.org>");
    assert_eq!(header("<tickets@example.org>"), "tickets@example.org");
    assert_eq!(header("\"\" <tickets@example.org>"), "tickets@example.org");
    let mailbox = Mailbox::parse("TDF  2026<tickets@example.org>").unwrap();
    assert_eq!((mailbox.display_name(), mailbox.address()), (Some("TDF 2026"), "tickets@example.org"));
}

#[test]
fn names_with_specials_are_quoted_with_escapes() {
    assert_eq!(header("Tokyo, Demo Fest <t@example.org>"), "\"Tokyo, Demo Fest\" <t@example.org>");
    assert_eq!(header("Dr. Demo (TDF) <t@example.org>"), "\"Dr. Demo (TDF)\" <t@example.org>");
    assert_eq!(header(r#"Ann "Hacker" O'Neil <t@example.org>"#), r#""Ann \"Hacker\" O'Neil" <t@example.org>"#);
    assert_eq!(header(r"back\slash <t@example.org>"), r#""back\\slash" <t@example.org>"#);
}

#[test]
fn a_name_the_organizer_quoted_is_not_quoted_twice() {
    let mailbox = Mailbox::parse(r#""Tokyo, \"Demo\" Fest" <t@example.org>"#).unwrap();
    assert_eq!(mailbox.display_name(), Some(r#"Tokyo, "Demo" Fest"#));
    assert_eq!(mailbox.header(), r#""Tokyo, \"Demo\" Fest" <t@example.org>"#);
    assert_eq!(mailbox.to_string(), r#"Tokyo, "Demo" Fest <t@example.org>"#);
}

#[test]
fn non_ascii_names_are_rfc_2047_encoded_words() {
    // Known answers from Python's base64 module.
    assert_eq!(
        header("東京デモフェスト <tickets@example.org>"),
        "=?UTF-8?B?5p2x5Lqs44OH44Oi44OV44Kn44K544OI?= <tickets@example.org>"
    );
    assert_eq!(
        header("Tokyo Demo Fest 東京 <t@example.org>"),
        "=?UTF-8?B?VG9reW8gRGVtbyBGZXN0IOadseS6rA==?= <t@example.org>"
    );
    let mailbox = Mailbox::parse("東京デモフェスト <tickets@example.org>").unwrap();
    assert_eq!(mailbox.to_string(), "東京デモフェスト <tickets@example.org>", "Display is for people");
}

#[test]
fn long_names_split_into_words_of_at_most_75_characters_on_character_boundaries() {
    let name = "東京デモフェスト・チャリティー・デモパーティー実行委員会チケット窓口";
    let header = header(&format!("{name} <t@example.org>"));
    let (phrase, address) = header.rsplit_once(' ').unwrap();
    assert_eq!(address, "<t@example.org>");
    let words: Vec<&str> = phrase.split(' ').collect();
    assert!(words.len() > 1, "{header}");
    assert!(words.iter().all(|w| w.len() <= 75), "{header}");
    assert_eq!(decode_words(phrase), name);
    assert!(header.is_ascii());
}

#[test]
fn what_cannot_be_sent_from_is_refused_with_the_reason() {
    use MailboxError as E;
    let not_an_address = |s: &str| E::NotAnAddress(s.to_owned());
    #[rustfmt::skip]
    let cases = [
        ("nobody", not_an_address("nobody")),
        ("Tickets <>", not_an_address("Tickets <>")),
        ("Tickets <tickets>", not_an_address("Tickets <tickets>")),
        ("Tickets tickets@example.org", not_an_address("Tickets tickets@example.org")),
        ("tickets@localhost", not_an_address("tickets@localhost")),
        ("t@example..org", not_an_address("t@example..org")),
        ("t@-example.org", not_an_address("t@-example.org")),
        (".t@example.org", not_an_address(".t@example.org")),
        ("Tickets <t@example.org", not_an_address("Tickets <t@example.org")),
        ("Tickets <t@example.org>\r\nBcc: victim@example.com", E::ControlCharacter),
        ("Tick\nets <t@example.org>", E::ControlCharacter),
        ("t@例え.jp", E::NonAsciiDomain("t@例え.jp".to_owned())),
        ("チケット@example.org", E::NonAsciiLocalPart("チケット@example.org".to_owned())),
    ];
    for (text, expected) in cases {
        assert_eq!(Mailbox::parse(text), Err(expected), "{text:?}");
    }
}
