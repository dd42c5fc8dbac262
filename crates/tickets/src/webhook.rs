//! Stripe webhook signatures: verified by the `fulfill` Lambda, produced by
//! tests and by the local Stripe stand-in, so both sides share one definition.
//!
//! Header format: `Stripe-Signature: t=<unix secs>,v1=<hex>[,v1=<hex>…]`.
//! The signed payload is `"{t}." + body`, HMAC-SHA256 keyed with the whole
//! `whsec_…` string (Stripe does not decode the part after the prefix).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

const SECRET_PREFIX: &str = "whsec_";
const SIGNATURE_LEN: usize = 32;

/// The endpoint signing secrets accepted right now: more than one while a
/// secret is being rolled, since Stripe then signs with every live secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecrets(Vec<String>);

/// Why a configured signing secret was refused. Never carries the secret
/// itself, as these errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretsError {
    #[error("no webhook signing secret configured")]
    Empty,
    /// `position` counts from 1, as a human reading the config would.
    #[error("webhook signing secret #{position} does not start with \"whsec_\"")]
    MissingPrefix { position: usize },
    #[error("webhook signing secret #{position} has nothing after \"whsec_\"")]
    NothingAfterPrefix { position: usize },
    /// Usually a stray newline or space from copy-pasting into the config.
    #[error("webhook signing secret #{position} contains whitespace or control characters")]
    ContainsWhitespace { position: usize },
}

impl WebhookSecrets {
    pub fn new(secrets: Vec<String>) -> Result<Self, WebhookSecretsError> {
        if secrets.is_empty() {
            return Err(WebhookSecretsError::Empty);
        }
        for (index, secret) in secrets.iter().enumerate() {
            let position = index + 1;
            let Some(rest) = secret.strip_prefix(SECRET_PREFIX) else {
                return Err(WebhookSecretsError::MissingPrefix { position });
            };
            if rest.is_empty() {
                return Err(WebhookSecretsError::NothingAfterPrefix { position });
            }
            if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(WebhookSecretsError::ContainsWhitespace { position });
            }
        }
        Ok(Self(secrets))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: kept for clippy's `len_without_is_empty` and for callers
    /// that expect the pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for WebhookSecrets {
    type Error = WebhookSecretsError;

    fn try_from(secrets: Vec<String>) -> Result<Self, Self::Error> {
        Self::new(secrets)
    }
}

impl TryFrom<String> for WebhookSecrets {
    type Error = WebhookSecretsError;

    fn try_from(secret: String) -> Result<Self, Self::Error> {
        Self::new(vec![secret])
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets([REDACTED; {}])", self.0.len())
    }
}

/// Accepts `"whsec_…"` or `["whsec_a", "whsec_b"]`, so a single-secret config
/// needs no brackets and rotation needs no schema change.
impl<'de> serde::Deserialize<'de> for WebhookSecrets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretsVisitor)
    }
}

struct SecretsVisitor;

impl<'de> Visitor<'de> for SecretsVisitor {
    type Value = WebhookSecrets;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a \"whsec_…\" string or an array of them")
    }

    fn visit_str<E: de::Error>(self, secret: &str) -> Result<Self::Value, E> {
        WebhookSecrets::new(vec![secret.to_owned()]).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut secrets = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8));
        while let Some(secret) = seq.next_element::<String>()? {
            secrets.push(secret);
        }
        WebhookSecrets::new(secrets).map_err(de::Error::custom)
    }
}

/// How far a signature's timestamp may be from our clock, either way.
/// Zero is refused: it would reject nearly every genuine delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToleranceError {
    #[error("webhook timestamp tolerance must be at least one second")]
    Zero,
}

impl Tolerance {
    /// Stripe's SDKs use five minutes too.
    pub const DEFAULT_SECONDS: u32 = 300;

    pub fn from_secs(seconds: u32) -> Result<Self, ToleranceError> {
        if seconds == 0 {
            return Err(ToleranceError::Zero);
        }
        Ok(Self { seconds })
    }

    pub fn as_secs(self) -> u32 {
        self.seconds
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            seconds: Self::DEFAULT_SECONDS,
        }
    }
}

/// Why a webhook was refused. Display is a one-line reason fit for the body of
/// the HTTP 400 response Stripe shows in its dashboard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    #[error("empty request body")]
    EmptyBody,
    #[error("malformed Stripe-Signature header: {0}")]
    MalformedHeader(#[from] MalformedHeader),
    #[error("no signature matches")]
    NoMatch,
    #[error("timestamp outside the tolerance zone: signed too long ago")]
    TimestampTooOld,
    #[error("timestamp outside the tolerance zone: signed in the future")]
    TimestampInFuture,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedHeader {
    #[error("no timestamp")]
    NoTimestamp,
    #[error("more than one timestamp")]
    DuplicateTimestamp,
    #[error("timestamp is not a number of seconds")]
    TimestampNotANumber,
    #[error("no v1 signature")]
    NoV1Signature,
    #[error("a v1 signature is not 64 hex digits")]
    SignatureNotHex,
}

/// A header that parsed: the timestamp as sent (it is signed as text) and
/// every v1 signature, decoded.
struct SignatureHeader<'h> {
    timestamp_text: &'h str,
    timestamp: i64,
    v1_signatures: Vec<[u8; SIGNATURE_LEN]>,
}

impl<'h> SignatureHeader<'h> {
    fn parse(header: &'h str) -> Result<Self, MalformedHeader> {
        let mut timestamp_text = None;
        let mut v1_signatures = Vec::new();
        for item in header.split(',') {
            // Other schemes (v0, future ones) and junk without `=` are ignored,
            // as Stripe's own libraries do.
            let Some((key, value)) = item.trim().split_once('=') else {
                continue;
            };
            match key {
                "t" if timestamp_text.is_some() => return Err(MalformedHeader::DuplicateTimestamp),
                "t" => timestamp_text = Some(value),
                "v1" => v1_signatures
                    .push(decode_signature_hex(value).ok_or(MalformedHeader::SignatureNotHex)?),
                _ => {}
            }
        }
        let timestamp_text = timestamp_text.ok_or(MalformedHeader::NoTimestamp)?;
        // Digits only: `i64::from_str` would also take a sign, which Stripe never sends.
        if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MalformedHeader::TimestampNotANumber);
        }
        let timestamp = timestamp_text
            .parse::<i64>()
            .map_err(|_| MalformedHeader::TimestampNotANumber)?;
        if v1_signatures.is_empty() {
            return Err(MalformedHeader::NoV1Signature);
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            v1_signatures,
        })
    }
}

/// Checks a webhook delivery the way Stripe's SDKs do: signature first, then
/// the timestamp, so a tolerance error is only ever reported for a genuine
/// (but replayed or clock-skewed) delivery.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &WebhookSecrets,
    tolerance: Tolerance,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    if body.is_empty() {
        return Err(SignatureError::EmptyBody);
    }
    let header = SignatureHeader::parse(header)?;

    // Every pair is compared, without short-circuiting, so timing reveals
    // nothing about which signature or secret came close.
    let mut any_match = Choice::from(0);
    for secret in secrets.iter() {
        let expected = signature_bytes(secret, header.timestamp_text, body);
        for candidate in &header.v1_signatures {
            any_match |= expected.ct_eq(candidate);
        }
    }
    if !bool::from(any_match) {
        return Err(SignatureError::NoMatch);
    }

    let age = now_unix.saturating_sub(header.timestamp);
    let tolerance = i64::from(tolerance.as_secs());
    if age > tolerance {
        return Err(SignatureError::TimestampTooOld);
    }
    if age < -tolerance {
        return Err(SignatureError::TimestampInFuture);
    }
    Ok(())
}

/// A complete `Stripe-Signature` header value for `body`, as Stripe would send it.
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let signature = signature_bytes(secret, &timestamp.to_string(), body);
    format!("t={timestamp},v1={}", encode_hex(&signature))
}

/// Like [`sign`], with one `v1` per secret, as Stripe sends during a secret roll.
pub fn sign_with_all(body: &[u8], secrets: &WebhookSecrets, timestamp: i64) -> String {
    let timestamp_text = timestamp.to_string();
    let mut header = format!("t={timestamp_text}");
    for secret in secrets.iter() {
        header.push_str(",v1=");
        header.push_str(&encode_hex(&signature_bytes(secret, &timestamp_text, body)));
    }
    header
}

fn signature_bytes(secret: &str, timestamp_text: &str, body: &[u8]) -> [u8; SIGNATURE_LEN] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

fn decode_signature_hex(hex: &str) -> Option<[u8; SIGNATURE_LEN]> {
    let digits = hex.as_bytes();
    if digits.len() != SIGNATURE_LEN * 2 {
        return None;
    }
    let mut bytes = [0u8; SIGNATURE_LEN];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(bytes)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Stripe's SDK test fixture (stripe-node, stripe-python).
    const STRIPE_TEST_SECRET: &str = "whsec_test_secret";
    const STRIPE_TEST_PAYLOAD: &str = r#"{"id": "evt_test_webhook","object": "event"}"#;
    const STRIPE_TEST_TIMESTAMP: i64 = 1_492_774_577;
    // Computed independently with Python's hmac module:
    // hmac.new(b'whsec_test_secret', b'1492774577.' + payload, hashlib.sha256).hexdigest()
    const STRIPE_TEST_SIGNATURE: &str =
        "66d86a97ac5620300b0335877ac036f6d74f84ea2e1df371bd45689d0090f9b7";

    const SECRET: &str = "whsec_current";
    const OTHER_SECRET: &str = "whsec_other";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const NOW: i64 = 1_700_000_000;

    fn secrets(list: &[&str]) -> WebhookSecrets {
        WebhookSecrets::new(list.iter().map(|s| (*s).to_owned()).collect())
            .expect("test secrets are well-formed")
    }

    fn v1_of(body: &[u8], secret: &str, timestamp: i64) -> String {
        encode_hex(&signature_bytes(secret, &timestamp.to_string(), body))
    }

    #[test]
    fn known_answer_matches_stripe_sdk_fixture() {
        let header = sign(
            STRIPE_TEST_PAYLOAD.as_bytes(),
            STRIPE_TEST_SECRET,
            STRIPE_TEST_TIMESTAMP,
        );
        assert_eq!(
            header,
            format!("t={STRIPE_TEST_TIMESTAMP},v1={STRIPE_TEST_SIGNATURE}")
        );

        let fixture_header = format!("t={STRIPE_TEST_TIMESTAMP},v1={STRIPE_TEST_SIGNATURE}");
        assert_eq!(
            verify(
                Some(&fixture_header),
                STRIPE_TEST_PAYLOAD.as_bytes(),
                &secrets(&[STRIPE_TEST_SECRET]),
                Tolerance::default(),
                STRIPE_TEST_TIMESTAMP + 10,
            ),
            Ok(())
        );
    }

    #[test]
    fn verify_table() {
        let good_v1 = v1_of(BODY, SECRET, NOW);
        let wrong_v1 = v1_of(BODY, OTHER_SECRET, NOW);
        let tolerance = Tolerance::default();
        let limit = i64::from(tolerance.as_secs());

        struct Case {
            name: &'static str,
            header: Option<String>,
            body: &'static [u8],
            secrets: &'static [&'static str],
            now: i64,
            expected: Result<(), SignatureError>,
        }
        use MalformedHeader as M;
        use SignatureError as E;
        let cases = [
            Case {
                name: "valid",
                header: Some(sign(BODY, SECRET, NOW)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "valid with spaces after commas and a v0 alongside",
                header: Some(format!("t={NOW}, v0={wrong_v1}, v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "uppercase hex is still the same signature",
                header: Some(format!("t={NOW},v1={}", good_v1.to_uppercase())),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "second of two v1 matches",
                header: Some(format!("t={NOW},v1={wrong_v1},v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "rotated secrets: second secret matches",
                header: Some(sign(BODY, SECRET, NOW)),
                body: BODY,
                secrets: &[OTHER_SECRET, SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "v0 only",
                header: Some(format!("t={NOW},v0={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::NoV1Signature)),
            },
            Case {
                name: "tampered body",
                header: Some(sign(BODY, SECRET, NOW)),
                body: br#"{"id":"evt_1","type":"checkout.session.expired"}"#,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::NoMatch),
            },
            Case {
                name: "wrong secret",
                header: Some(sign(BODY, OTHER_SECRET, NOW)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::NoMatch),
            },
            Case {
                name: "timestamp changed after signing",
                header: Some(format!("t={},v1={good_v1}", NOW + 1)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::NoMatch),
            },
            Case {
                name: "exactly at the tolerance is accepted",
                header: Some(sign(BODY, SECRET, NOW - limit)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Ok(()),
            },
            Case {
                name: "stale",
                header: Some(sign(BODY, SECRET, NOW - limit - 1)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::TimestampTooOld),
            },
            Case {
                name: "future",
                header: Some(sign(BODY, SECRET, NOW + limit + 1)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::TimestampInFuture),
            },
            Case {
                name: "stale and unsigned reports the signature, not the time",
                header: Some(sign(BODY, OTHER_SECRET, NOW - limit - 1)),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::NoMatch),
            },
            Case {
                name: "missing header",
                header: None,
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MissingHeader),
            },
            Case {
                name: "empty body",
                header: Some(sign(b"", SECRET, NOW)),
                body: b"",
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::EmptyBody),
            },
            Case {
                name: "empty header",
                header: Some(String::new()),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::NoTimestamp)),
            },
            Case {
                name: "no t",
                header: Some(format!("v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::NoTimestamp)),
            },
            Case {
                name: "two t",
                header: Some(format!("t={NOW},t={NOW},v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::DuplicateTimestamp)),
            },
            Case {
                name: "non-numeric t",
                header: Some(format!("t=yesterday,v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::TimestampNotANumber)),
            },
            Case {
                name: "signed t",
                header: Some(format!("t=+{NOW},v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::TimestampNotANumber)),
            },
            Case {
                name: "empty t",
                header: Some(format!("t=,v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::TimestampNotANumber)),
            },
            Case {
                name: "t overflowing i64",
                header: Some(format!("t=99999999999999999999,v1={good_v1}")),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::TimestampNotANumber)),
            },
            Case {
                name: "bad hex",
                header: Some(format!("t={NOW},v1={}", "zz".repeat(32))),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::SignatureNotHex)),
            },
            Case {
                name: "truncated hex",
                header: Some(format!("t={NOW},v1={}", &good_v1[..63])),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::SignatureNotHex)),
            },
            Case {
                name: "non-ASCII in hex does not panic",
                header: Some(format!("t={NOW},v1={}é", &good_v1[..62])),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::SignatureNotHex)),
            },
            Case {
                name: "not key=value at all",
                header: Some("garbage".to_owned()),
                body: BODY,
                secrets: &[SECRET],
                now: NOW,
                expected: Err(E::MalformedHeader(M::NoTimestamp)),
            },
        ];

        for case in cases {
            let actual = verify(
                case.header.as_deref(),
                case.body,
                &secrets(case.secrets),
                tolerance,
                case.now,
            );
            assert_eq!(actual, case.expected, "case: {}", case.name);
        }
    }

    #[test]
    fn extreme_clock_values_do_not_panic() {
        let secrets = secrets(&[SECRET]);
        let header = sign(BODY, SECRET, 0);
        assert_eq!(
            verify(
                Some(&header),
                BODY,
                &secrets,
                Tolerance::default(),
                i64::MAX
            ),
            Err(SignatureError::TimestampTooOld)
        );
        assert_eq!(
            verify(
                Some(&header),
                BODY,
                &secrets,
                Tolerance::default(),
                i64::MIN
            ),
            Err(SignatureError::TimestampInFuture)
        );
    }

    #[test]
    fn sign_with_all_is_accepted_by_each_secret_alone() {
        let both = secrets(&[SECRET, OTHER_SECRET]);
        let header = sign_with_all(BODY, &both, NOW);
        assert_eq!(header.matches(",v1=").count(), 2);
        for single in [SECRET, OTHER_SECRET] {
            assert_eq!(
                verify(
                    Some(&header),
                    BODY,
                    &secrets(&[single]),
                    Tolerance::default(),
                    NOW
                ),
                Ok(()),
                "secret {single}"
            );
        }
        assert_eq!(
            verify(
                Some(&header),
                BODY,
                &secrets(&["whsec_neither"]),
                Tolerance::default(),
                NOW
            ),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn tolerance_rejects_zero_and_defaults_to_five_minutes() {
        assert_eq!(Tolerance::from_secs(0), Err(ToleranceError::Zero));
        assert_eq!(Tolerance::from_secs(1).map(Tolerance::as_secs), Ok(1));
        assert_eq!(Tolerance::default().as_secs(), 300);
    }

    #[test]
    fn custom_tolerance_is_applied() {
        let tolerance = Tolerance::from_secs(10).expect("non-zero");
        let secrets = secrets(&[SECRET]);
        let header = sign(BODY, SECRET, NOW - 11);
        assert_eq!(
            verify(Some(&header), BODY, &secrets, tolerance, NOW),
            Err(SignatureError::TimestampTooOld)
        );
        assert_eq!(
            verify(Some(&header), BODY, &secrets, tolerance, NOW - 1),
            Ok(())
        );
    }

    #[test]
    fn secrets_validation() {
        let cases: [(&[&str], Result<usize, WebhookSecretsError>); 6] = [
            (&["whsec_a"], Ok(1)),
            (&["whsec_a", "whsec_b"], Ok(2)),
            (&[], Err(WebhookSecretsError::Empty)),
            (
                &["whsec_a", "sk_live_oops"],
                Err(WebhookSecretsError::MissingPrefix { position: 2 }),
            ),
            (
                &["whsec_"],
                Err(WebhookSecretsError::NothingAfterPrefix { position: 1 }),
            ),
            (
                &["whsec_abc\n"],
                Err(WebhookSecretsError::ContainsWhitespace { position: 1 }),
            ),
        ];
        for (input, expected) in cases {
            let owned = input.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(
                WebhookSecrets::new(owned).map(|s| s.len()),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn secret_errors_never_echo_the_secret() {
        let secret = "sk_live_do_not_print_me";
        let error = WebhookSecrets::new(vec![secret.to_owned()]).expect_err("wrong prefix");
        assert!(!error.to_string().contains(secret));
        assert!(!format!("{error:?}").contains(secret));
    }

    #[test]
    fn debug_redacts_secrets() {
        let secrets = secrets(&["whsec_very_secret_one", "whsec_very_secret_two"]);
        let debug = format!("{secrets:?}");
        assert!(!debug.contains("very_secret"), "{debug}");
        assert!(!debug.contains("whsec_"), "{debug}");
        assert!(debug.contains('2'), "shows how many: {debug}");
    }

    #[test]
    fn deserializes_one_string_or_an_array() {
        let one: WebhookSecrets = serde_json::from_str(r#""whsec_one""#).expect("a single string");
        assert_eq!(one.iter().collect::<Vec<_>>(), ["whsec_one"]);

        let two: WebhookSecrets =
            serde_json::from_str(r#"["whsec_a", "whsec_b"]"#).expect("an array");
        assert_eq!(two.iter().collect::<Vec<_>>(), ["whsec_a", "whsec_b"]);

        #[derive(serde::Deserialize)]
        struct Config {
            webhook_signing_secret: WebhookSecrets,
        }
        let config: Config =
            serde_json::from_str(r#"{"webhook_signing_secret": ["whsec_x"]}"#).expect("config");
        assert_eq!(config.webhook_signing_secret.len(), 1);
    }

    #[test]
    fn deserialize_rejects_bad_secrets_without_echoing_them() {
        for json in [
            r#""sk_live_leaked""#,
            r#"["whsec_ok", "sk_live_leaked"]"#,
            r#"[]"#,
            r#"42"#,
            r#"{"secret": "whsec_x"}"#,
        ] {
            let error = serde_json::from_str::<WebhookSecrets>(json)
                .expect_err(json)
                .to_string();
            assert!(!error.contains("sk_live_leaked"), "{json}: {error}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; SIGNATURE_LEN] = std::array::from_fn(|i| (i * 37 % 256) as u8);
        assert_eq!(decode_signature_hex(&encode_hex(&bytes)), Some(bytes));
    }
}
