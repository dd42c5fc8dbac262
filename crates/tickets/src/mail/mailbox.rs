//! A sender or reply-to address as the organizer writes it in the config
//! (`tickets@example.org`, `Name <tickets@example.org>`, `"Name, Inc." <…>`),
//! parsed once and written back as a header SES accepts: a display name with
//! RFC 5322 specials is quoted, a non-ASCII one is RFC 2047 encoded
//! (`=?UTF-8?B?…?=`). SES refuses a raw `東京デモフェスト <…>` or `A, B <…>`
//! on every send, so what cannot be made valid is refused at config load.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fmt;

/// An email address with an optional display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    display_name: Option<String>,
    address: String,
}

/// Why a configured address cannot be sent from. Messages are for the
/// organizer and complete the sentence "config key `email_from`: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("contains a line break or another control character")]
    ControlCharacter,
    #[error("\"{0}\" is not an email address")]
    NotAnAddress(String),
    #[error("\"{0}\": SES sends only from addresses whose part before @ is ASCII")]
    NonAsciiLocalPart(String),
    #[error("\"{0}\": write the domain in its ASCII (punycode, xn--…) form")]
    NonAsciiDomain(String),
}

/// RFC 5322 `atext`: what a display name may hold unquoted (besides spaces).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Longest UTF-8 run per encoded-word: 45 bytes are 60 base64 characters, so
/// a word (`=?UTF-8?B?` + 60 + `?=`) stays within RFC 2047's 75.
const ENCODED_WORD_BYTES: usize = 45;

impl Mailbox {
    pub fn parse(text: &str) -> Result<Mailbox, MailboxError> {
        let text = text.trim();
        if text.chars().any(char::is_control) {
            return Err(MailboxError::ControlCharacter);
        }
        let not_an_address = || MailboxError::NotAnAddress(text.to_owned());
        let (display_name, address) = match text.strip_suffix('>') {
            Some(rest) => {
                let (name, address) = rest.rsplit_once('<').ok_or_else(not_an_address)?;
                (parse_display_name(name.trim()), address.trim())
            }
            None => (None, text),
        };
        check_address(address).map_err(|problem| problem.unwrap_or_else(not_an_address))?;
        Ok(Mailbox { display_name, address: address.to_owned() })
    }

    /// `tickets@example.org`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The name as the organizer wrote it (unquoted, not encoded).
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// The mailbox as a header value: 7-bit ASCII, quoted or encoded as needed.
    pub fn header(&self) -> String {
        let Some(name) = &self.display_name else { return self.address.clone() };
        let phrase = if !name.is_ascii() {
            encoded_words(name)
        } else if name.split(' ').all(|atom| !atom.is_empty() && atom.chars().all(is_atext)) {
            name.clone()
        } else {
            quoted(name)
        };
        format!("{phrase} <{}>", self.address)
    }
}

/// The name as a person reads it: for logs and the local outbox.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.display_name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// The name before `<…>`: `None` when blank; a `"…"` written by the
/// organizer is unquoted, so it is not quoted twice.
fn parse_display_name(name: &str) -> Option<String> {
    let unquoted = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => unescape(inner),
        None => name.to_owned(),
    };
    // Runs of spaces are one space in a header anyway.
    let name = unquoted.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

/// `\x` is `x` inside a quoted string.
fn unescape(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    out
}

/// An RFC 5322 quoted string.
fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 2047 `B` encoded-words, split at character boundaries; a reader
/// joins adjacent words without the spaces between them.
fn encoded_words(name: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        if chunk.len() + c.len_utf8() > ENCODED_WORD_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w))).collect::<Vec<_>>().join(" ")
}

/// A plain `local@domain.tld` (no quoted local part, no IP literal).
/// `Err(None)`: not an address at all.
fn check_address(address: &str) -> Result<(), Option<MailboxError>> {
    let (local, domain) = address.rsplit_once('@').ok_or(None)?;
    if !local.is_ascii() {
        return Err(Some(MailboxError::NonAsciiLocalPart(address.to_owned())));
    }
    if !domain.is_ascii() {
        return Err(Some(MailboxError::NonAsciiDomain(address.to_owned())));
    }
    let local_ok = local.len() <= 64 && local.split('.').all(|part| !part.is_empty() && part.chars().all(is_atext));
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let domain_ok = domain.len() <= 253 && domain.contains('.') && domain.split('.').all(label_ok);
    if local_ok && domain_ok { Ok(()) } else { Err(None) }
}

#[cfg(test)]
mod tests;
