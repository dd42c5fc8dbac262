//! The sender address (`email_from`, `email_reply_to`): any text is either
//! refused or becomes a header that is 7-bit, one line, and reads back (as a
//! mail reader decodes it) as the name and address the organizer wrote.

use super::{awkward_text, seeded};
use crate::mail::Mailbox;
use base64::Engine as _;
use proptest::prelude::*;

/// The name and address a mail reader shows for a header value: a quoted
/// string unquoted, a phrase of RFC 2047 `B` words decoded, atoms as they
/// are. Written independently of the encoder.
fn read_back(header: &str) -> (Option<String>, String) {
    let Some((phrase, address)) = header.strip_suffix('>').and_then(|h| h.rsplit_once(" <")) else {
        return (None, header.to_owned());
    };
    let name = match phrase.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                name.push(if c == '\\' { chars.next().expect("an escaped character") } else { c });
            }
            name
        }
        None => decoded_words(phrase).unwrap_or_else(|| phrase.to_owned()),
    };
    (Some(name), address.to_owned())
}

/// The text of a phrase made only of `=?UTF-8?B?…?=` words, each at most 75
/// characters (RFC 2047) and holding whole characters.
fn decoded_words(phrase: &str) -> Option<String> {
    let mut bytes = Vec::new();
    for word in phrase.split(' ') {
        let payload = word.strip_prefix("=?UTF-8?B?")?.strip_suffix("?=")?;
        assert!(word.len() <= 75, "encoded-word longer than 75 characters: {word}");
        let chunk = base64::engine::general_purpose::STANDARD.decode(payload).ok()?;
        assert!(std::str::from_utf8(&chunk).is_ok(), "a character split between words: {word}");
        bytes.extend(chunk);
    }
    String::from_utf8(bytes).ok()
}

/// A display name: anything but control characters and a leading quote
/// (which the parser takes as the organizer's own quoting).
fn display_name() -> impl Strategy<Value = String> {
    awkward_text(40)
        .prop_map(|name| name.chars().filter(|c| !c.is_control()).collect::<String>())
        .prop_filter("not quoted", |name| !name.trim_start().starts_with('"'))
}

fn address() -> impl Strategy<Value = String> {
    "[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\\.[a-z0-9]{1,8})?@[a-z0-9]{1,10}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}"
}

/// What the header must carry, and that it can go in a header at all.
fn assert_sendable(mailbox: &Mailbox) -> Result<(), TestCaseError> {
    let header = mailbox.header();
    prop_assert!(header.is_ascii(), "{}", header);
    prop_assert!(!header.chars().any(|c| c.is_control()), "{:?}", header);
    let (name, address) = read_back(&header);
    prop_assert_eq!(name.as_deref(), mailbox.display_name(), "{}", header);
    prop_assert_eq!(address, mailbox.address());
    Ok(())
}

proptest! {
    #![proptest_config(seeded(3000))]

    #[test]
    fn any_text_is_refused_or_sendable(text in prop_oneof![
        awkward_text(60),
        (awkward_text(20), address()).prop_map(|(name, address)| format!("{name} <{address}>")),
        (awkward_text(10), awkward_text(10)).prop_map(|(local, domain)| format!("{local}@{domain}")),
    ]) {
        if let Ok(mailbox) = Mailbox::parse(&text) {
            assert_sendable(&mailbox)?;
            // What it sends parses back to the same mailbox.
            if mailbox.display_name().is_none_or(str::is_ascii) {
                prop_assert_eq!(Mailbox::parse(&mailbox.header()), Ok(mailbox));
            }
        }
    }

    #[test]
    fn any_display_name_with_a_good_address_is_sent_as_written(name in display_name(), address in address()) {
        let mailbox = Mailbox::parse(&format!("{name} <{address}>")).expect("a valid address");
        let expected = name.split_whitespace().collect::<Vec<_>>().join(" ");
        prop_assert_eq!(mailbox.display_name(), Some(expected.as_str()).filter(|n| !n.is_empty()));
        assert_sendable(&mailbox)?;
    }
}
