//! Stripe webhook signatures: verified by the `fulfill` Lambda, produced by
//! tests and by the local Stripe stand-in, so both sides share one definition.
//!
//! Header format: `Stripe-Signature: t=<unix secs>,v1=<hex>[,v1=<hex>…]`.
//! The signed payload is `"{t}." + body`, HMAC-SHA256 keyed with the whole
//! `whsec_…` string (Stripe does not decode the part after the prefix).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;
type Signature = [u8; 32];

const SECRET_PREFIX: &str = "whsec_";

/// The endpoint signing secrets accepted right now: more than one while a
/// secret is being rolled, since Stripe then signs with every live secret.
/// The config reads them from a string or a list of strings.
#[derive(Clone)]
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

    #[expect(clippy::len_without_is_empty, reason = "never empty: `new` refuses an empty list")]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets([REDACTED; {}])", self.len())
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

/// Five minutes, as in Stripe's SDKs.
impl Default for Tolerance {
    fn default() -> Self {
        Self { seconds: 300 }
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
    v1_signatures: Vec<Signature>,
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
                "v1" => {
                    let mut signature = Signature::default();
                    hex::decode_to_slice(value, &mut signature).map_err(|_| MalformedHeader::SignatureNotHex)?;
                    v1_signatures.push(signature);
                }
                _ => {}
            }
        }
        let timestamp_text = timestamp_text.ok_or(MalformedHeader::NoTimestamp)?;
        // Digits only: `i64::from_str` would also take a sign, which Stripe never sends.
        if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MalformedHeader::TimestampNotANumber);
        }
        let timestamp = timestamp_text.parse::<i64>().map_err(|_| MalformedHeader::TimestampNotANumber)?;
        if v1_signatures.is_empty() {
            return Err(MalformedHeader::NoV1Signature);
        }
        Ok(Self { timestamp_text, timestamp, v1_signatures })
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
        let expected = signature(secret, header.timestamp_text, body);
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
    let signature = signature(secret, &timestamp.to_string(), body);
    format!("t={timestamp},v1={}", hex::encode(signature))
}

fn signature(secret: &str, timestamp_text: &str, body: &[u8]) -> Signature {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
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
    const STRIPE_TEST_SIGNATURE: &str = "66d86a97ac5620300b0335877ac036f6d74f84ea2e1df371bd45689d0090f9b7";

    const SECRET: &str = "whsec_current";
    const OTHER_SECRET: &str = "whsec_other";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const NOW: i64 = 1_700_000_000;

    type Verified = Result<(), SignatureError>;

    fn secrets(list: &[&str]) -> WebhookSecrets {
        WebhookSecrets::new(list.iter().map(|s| (*s).to_owned()).collect()).expect("test secrets are well-formed")
    }

    /// Verifies with the default tolerance at `NOW`.
    fn verify_now(header: Option<&str>, body: &[u8], accepted: &[&str]) -> Verified {
        verify(header, body, &secrets(accepted), Tolerance::default(), NOW)
    }

    /// The hex of the `v1` that `sign` puts in its header.
    fn v1_of(secret: &str, timestamp: i64) -> String {
        let header = sign(BODY, secret, timestamp);
        header.split_once(",v1=").expect("sign writes one v1").1.to_owned()
    }

    #[test]
    fn known_answer_matches_stripe_sdk_fixture() {
        let fixture_header = format!("t={STRIPE_TEST_TIMESTAMP},v1={STRIPE_TEST_SIGNATURE}");
        let payload = STRIPE_TEST_PAYLOAD.as_bytes();
        assert_eq!(sign(payload, STRIPE_TEST_SECRET, STRIPE_TEST_TIMESTAMP), fixture_header);
        let secrets = secrets(&[STRIPE_TEST_SECRET]);
        let verified =
            verify(Some(&fixture_header), payload, &secrets, Tolerance::default(), STRIPE_TEST_TIMESTAMP + 10);
        assert_eq!(verified, Ok(()));
    }

    /// Headers checked against `BODY`, `SECRET` and `NOW`.
    #[test]
    fn verify_header_table() {
        let good_v1 = v1_of(SECRET, NOW);
        let other_v1 = v1_of(OTHER_SECRET, NOW);
        let limit = i64::from(Tolerance::default().as_secs());
        use MalformedHeader as M;
        use SignatureError as E;
        #[rustfmt::skip]
        let cases: [(&str, String, Verified); 24] = [
            ("valid", sign(BODY, SECRET, NOW), Ok(())),
            ("spaces after commas, a v0 alongside", format!("t={NOW}, v0={other_v1}, v1={good_v1}"), Ok(())),
            ("uppercase hex is the same signature", format!("t={NOW},v1={}", good_v1.to_uppercase()), Ok(())),
            ("first of two v1 matches", format!("t={NOW},v1={good_v1},v1={other_v1}"), Ok(())),
            ("second of two v1 matches", format!("t={NOW},v1={other_v1},v1={good_v1}"), Ok(())),
            ("v0 only", format!("t={NOW},v0={good_v1}"), Err(M::NoV1Signature.into())),
            ("wrong secret", sign(BODY, OTHER_SECRET, NOW), Err(E::NoMatch)),
            ("timestamp changed after signing", format!("t={},v1={good_v1}", NOW + 1), Err(E::NoMatch)),
            ("exactly at the tolerance is accepted", sign(BODY, SECRET, NOW - limit), Ok(())),
            ("ahead by exactly the tolerance is accepted", sign(BODY, SECRET, NOW + limit), Ok(())),
            ("stale", sign(BODY, SECRET, NOW - limit - 1), Err(E::TimestampTooOld)),
            ("future", sign(BODY, SECRET, NOW + limit + 1), Err(E::TimestampInFuture)),
            ("stale and unsigned reports the signature", sign(BODY, OTHER_SECRET, NOW - limit - 1), Err(E::NoMatch)),
            ("empty header", String::new(), Err(M::NoTimestamp.into())),
            ("no t", format!("v1={good_v1}"), Err(M::NoTimestamp.into())),
            ("not key=value at all", "garbage".to_owned(), Err(M::NoTimestamp.into())),
            ("two t", format!("t={NOW},t={NOW},v1={good_v1}"), Err(M::DuplicateTimestamp.into())),
            ("non-numeric t", format!("t=yesterday,v1={good_v1}"), Err(M::TimestampNotANumber.into())),
            ("signed t", format!("t=+{NOW},v1={good_v1}"), Err(M::TimestampNotANumber.into())),
            ("empty t", format!("t=,v1={good_v1}"), Err(M::TimestampNotANumber.into())),
            ("t overflowing i64", format!("t=99999999999999999999,v1={good_v1}"), Err(M::TimestampNotANumber.into())),
            ("bad hex", format!("t={NOW},v1={}", "zz".repeat(32)), Err(M::SignatureNotHex.into())),
            ("truncated hex", format!("t={NOW},v1={}", &good_v1[..63]), Err(M::SignatureNotHex.into())),
            ("non-ASCII hex does not panic", format!("t={NOW},v1={}é", &good_v1[..62]), Err(M::SignatureNotHex.into())),
        ];
        for (name, header, expected) in cases {
            assert_eq!(verify_now(Some(&header), BODY, &[SECRET]), expected, "case: {name}");
        }
    }

    /// Cases where the body or the accepted secrets differ from the header table's.
    #[test]
    fn verify_body_and_secrets_table() {
        let signed = sign(BODY, SECRET, NOW);
        // One v1 per secret, as Stripe sends while a secret is rolled.
        let rolling = format!("t={NOW},v1={},v1={}", v1_of(SECRET, NOW), v1_of(OTHER_SECRET, NOW));
        let tampered: &[u8] = br#"{"id":"evt_1","type":"checkout.session.expired"}"#;
        let empty_body_header = sign(b"", SECRET, NOW);
        /// `(name, header, body, accepted secrets, expected)`
        type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], &'a [&'a str], Verified);
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            ("rotated secrets: second secret matches", Some(&signed), BODY, &[OTHER_SECRET, SECRET], Ok(())),
            ("tampered body", Some(&signed), tampered, &[SECRET], Err(SignatureError::NoMatch)),
            ("missing header", None, BODY, &[SECRET], Err(SignatureError::MissingHeader)),
            ("empty body", Some(&empty_body_header), b"", &[SECRET], Err(SignatureError::EmptyBody)),
            ("one v1 per secret, first secret alone", Some(&rolling), BODY, &[SECRET], Ok(())),
            ("one v1 per secret, second secret alone", Some(&rolling), BODY, &[OTHER_SECRET], Ok(())),
            ("one v1 per secret, neither", Some(&rolling), BODY, &["whsec_neither"], Err(SignatureError::NoMatch)),
        ];
        for (name, header, body, accepted, expected) in cases {
            assert_eq!(verify_now(header, body, accepted), expected, "case: {name}");
        }
    }

    #[test]
    fn extreme_clock_values_do_not_panic() {
        let header = sign(BODY, SECRET, 0);
        let secrets = secrets(&[SECRET]);
        for (now, expected) in
            [(i64::MAX, SignatureError::TimestampTooOld), (i64::MIN, SignatureError::TimestampInFuture)]
        {
            assert_eq!(verify(Some(&header), BODY, &secrets, Tolerance::default(), now), Err(expected), "now {now}");
        }
    }

    #[test]
    fn tolerance_rejects_zero_defaults_to_five_minutes_and_is_applied() {
        assert_eq!(Tolerance::from_secs(0), Err(ToleranceError::Zero));
        assert_eq!(Tolerance::default().as_secs(), 300);
        let ten_seconds = Tolerance::from_secs(10).expect("non-zero");
        assert_eq!(ten_seconds.as_secs(), 10);
        let secrets = secrets(&[SECRET]);
        let header = sign(BODY, SECRET, NOW - 11);
        assert_eq!(verify(Some(&header), BODY, &secrets, ten_seconds, NOW), Err(SignatureError::TimestampTooOld));
        assert_eq!(verify(Some(&header), BODY, &secrets, ten_seconds, NOW - 1), Ok(()));
    }

    #[test]
    fn secrets_validation() {
        use WebhookSecretsError as E;
        let cases: [(&[&str], Result<usize, WebhookSecretsError>); 6] = [
            (&["whsec_a"], Ok(1)),
            (&["whsec_a", "whsec_b"], Ok(2)),
            (&[], Err(E::Empty)),
            (&["whsec_a", "sk_live_oops"], Err(E::MissingPrefix { position: 2 })),
            (&["whsec_"], Err(E::NothingAfterPrefix { position: 1 })),
            (&["whsec_abc\n"], Err(E::ContainsWhitespace { position: 1 })),
        ];
        for (input, expected) in cases {
            let owned = input.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(WebhookSecrets::new(owned).map(|s| s.len()), expected, "input {input:?}");
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
}
