//! The `Stripe-Signature` header and its verifier: no header or body makes
//! it panic, it accepts what was signed with an accepted secret within the
//! tolerance, and nothing else: not a changed body, not another secret, not
//! a changed timestamp, not a delivery outside the tolerance.

use super::{awkward_text, seeded};
use crate::webhook::{SignatureError, Tolerance, WebhookSecrets, sign, verify};
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use sha2::Sha256;

/// A secret as the Dashboard shows it: `whsec_` and no whitespace.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/_-]{1,48}".prop_map(|rest| format!("whsec_{rest}"))
}

/// Two different secrets.
fn two_secrets() -> impl Strategy<Value = (String, String)> {
    (secret(), secret()).prop_filter("different secrets", |(a, b)| a != b)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..300)
}

/// Seconds since the epoch, from 1970 to past the year 33000.
fn timestamp() -> impl Strategy<Value = i64> {
    0..1_000_000_000_000i64
}

fn tolerance() -> impl Strategy<Value = Tolerance> {
    (1u32..=3600).prop_map(|s| Tolerance::from_secs(s).expect("non-zero"))
}

fn secrets(list: &[&str]) -> WebhookSecrets {
    WebhookSecrets::new(list.iter().map(|s| (*s).to_owned()).collect()).expect("well-formed secrets")
}

/// The header Stripe would send, computed as Stripe documents it (HMAC-SHA256
/// of `"{t}." + body`, keyed with the whole secret) without the crate's signer.
fn stripe_header(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Header-like text: `t=`/`v1=`/`v0=` items with digits, hex or junk.
fn header_like() -> impl Strategy<Value = String> {
    let key = prop::sample::select(&["t", "v1", "v0", " t", "v1 ", "T", ""][..]);
    let value = prop_oneof!["[0-9]{0,22}", "[0-9a-fA-F]{62,66}", "[+-][0-9]{1,12}", awkward_text(8)];
    let item = prop_oneof![(key, value).prop_map(|(k, v)| format!("{k}={v}")), awkward_text(6)];
    prop::collection::vec(item, 0..6).prop_map(|items| items.join(","))
}

/// Items a verifier must skip: other schemes and junk, never `t` or `v1`.
fn ignorable_item() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|hex| format!("v0={hex}")),
        ("[a-z][a-z0-9]{0,4}", "[a-z0-9]{0,10}")
            .prop_filter("not t or v1", |(k, _)| k != "t" && k != "v1")
            .prop_map(|(k, v)| format!("{k}={v}")),
        "[a-z ]{0,8}",
    ]
}

proptest! {
    #![proptest_config(seeded(3000))]

    #[test]
    fn arbitrary_headers_never_panic_and_never_pass(
        header in prop_oneof![header_like(), awkward_text(80)],
        body in prop::collection::vec(any::<u8>(), 0..64),
        (secret, now) in (secret(), any::<i64>()),
        tolerance in tolerance(),
    ) {
        // A forged v1 matches only by guessing 256 bits.
        prop_assert!(verify(Some(&header), &body, &secrets(&[&secret]), tolerance, now).is_err());
    }

    #[test]
    fn what_stripe_signs_within_the_tolerance_is_accepted(
        body in body(),
        (signing, other) in two_secrets(),
        signed_at in timestamp(),
        tolerance in tolerance(),
        skew_fraction in -1.0f64..=1.0,
        signing_first in any::<bool>(),
    ) {
        let skew = (skew_fraction * f64::from(tolerance.as_secs())).round() as i64;
        let accepted = if signing_first { [&signing, &other] } else { [&other, &signing] };
        let accepted = secrets(&[accepted[0], accepted[1]]);
        let header = stripe_header(&body, &signing, signed_at);
        prop_assert_eq!(&sign(&body, &signing, signed_at), &header, "the crate signs as Stripe does");
        prop_assert_eq!(verify(Some(&header), &body, &accepted, tolerance, signed_at + skew), Ok(()));
    }

    #[test]
    fn other_schemes_and_junk_around_the_signature_are_ignored(
        body in body(),
        secret in secret(),
        signed_at in timestamp(),
        before in prop::collection::vec(ignorable_item(), 0..3),
        after in prop::collection::vec(ignorable_item(), 0..3),
    ) {
        let signed = sign(&body, &secret, signed_at);
        let header = before.into_iter().chain([signed]).chain(after).collect::<Vec<_>>().join(",");
        prop_assert_eq!(verify(Some(&header), &body, &secrets(&[&secret]), Tolerance::default(), signed_at), Ok(()));
    }

    #[test]
    fn a_changed_body_is_refused(
        body in body(),
        secret in secret(),
        signed_at in timestamp(),
        (flip_at, flip_bits, appended) in (any::<prop::sample::Index>(), 1u8..=255, prop::collection::vec(any::<u8>(), 1..8)),
    ) {
        let header = sign(&body, &secret, signed_at);
        let accepted = secrets(&[&secret]);
        let mut flipped = body.clone();
        flipped[flip_at.index(body.len())] ^= flip_bits;
        let longer = [body.as_slice(), &appended].concat();
        let shorter = &body[..body.len() - 1];
        for changed in [flipped.as_slice(), &longer, shorter] {
            let verified = verify(Some(&header), changed, &accepted, Tolerance::default(), signed_at);
            let expected = if changed.is_empty() { SignatureError::EmptyBody } else { SignatureError::NoMatch };
            prop_assert_eq!(verified, Err(expected));
        }
    }

    #[test]
    fn another_secret_or_a_changed_timestamp_is_refused(
        body in body(),
        (signing, other) in two_secrets(),
        signed_at in timestamp(),
        shift in prop_oneof![-300i64..=-1, 1i64..=300],
    ) {
        let header = sign(&body, &signing, signed_at);
        let tolerance = Tolerance::default();
        let wrong_secret = verify(Some(&header), &body, &secrets(&[&other]), tolerance, signed_at);
        prop_assert_eq!(wrong_secret, Err(SignatureError::NoMatch));
        // The same signature under another `t` (a replay made to look fresh).
        let moved = header.replacen(&format!("t={signed_at},"), &format!("t={},", signed_at + shift), 1);
        let replayed = verify(Some(&moved), &body, &secrets(&[&signing]), tolerance, signed_at + shift);
        prop_assert_eq!(replayed, Err(SignatureError::NoMatch));
    }

    #[test]
    fn a_genuine_signature_outside_the_tolerance_is_refused(
        body in body(),
        secret in secret(),
        signed_at in timestamp(),
        tolerance in tolerance(),
        beyond in 1i64..1_000_000,
        late in any::<bool>(),
    ) {
        let header = sign(&body, &secret, signed_at);
        let limit = i64::from(tolerance.as_secs());
        let (now, expected) = if late {
            (signed_at + limit + beyond, SignatureError::TimestampTooOld)
        } else {
            (signed_at - limit - beyond, SignatureError::TimestampInFuture)
        };
        prop_assert_eq!(verify(Some(&header), &body, &secrets(&[&secret]), tolerance, now), Err(expected));
    }
}
