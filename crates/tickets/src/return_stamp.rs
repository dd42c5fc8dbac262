//! The return stamp: checkout adds `stamp=<unix>.<mac>` to the success URL it
//! gives Stripe, so the buyer comes back to `GET /fulfill` with it. The
//! landing page asks Stripe about a session the ledger has never seen only
//! when the stamp is genuine and younger than a Checkout Session can live:
//! a flood of made-up (or old) session ids costs one DynamoDB read each and
//! never a Stripe call. Session ids are Stripe's and opaque, so the stamp
//! vouches for the time of the checkout, not for the id.
//!
//! The MAC is HMAC-SHA256 under the webhook signing secret, with a label of
//! its own so it can never pass for a webhook signature; while secrets are
//! rolled, any configured secret verifies.

use crate::webhook::WebhookSecrets;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The success URL's query parameter.
pub const STAMP_PARAM: &str = "stamp";

/// A Checkout Session lives at most 24 hours; the buyer may return a little later.
pub const STAMP_LIFETIME_SECONDS: i64 = 25 * 3600;

/// Hex digits of the MAC kept in the URL (64 bits).
const MAC_DIGITS: usize = 16;

/// Issues and checks return stamps under the shop's webhook secrets.
pub struct ReturnStamp<'a> {
    secrets: &'a WebhookSecrets,
}

impl<'a> ReturnStamp<'a> {
    pub fn new(secrets: &'a WebhookSecrets) -> ReturnStamp<'a> {
        ReturnStamp { secrets }
    }

    /// The stamp for a checkout at `now`, under the first (newest) secret.
    pub fn issue(&self, now: i64) -> String {
        let secret = self.secrets.iter().next().unwrap_or_default();
        format!("{now}.{}", mac(secret, now))
    }

    /// Was `stamp` issued by us, at most [`STAMP_LIFETIME_SECONDS`] before `now`?
    pub fn is_fresh(&self, stamp: &str, now: i64) -> bool {
        let Some((issued, tag)) = stamp.split_once('.') else { return false };
        let Ok(issued) = issued.parse::<i64>() else { return false };
        let age = now.saturating_sub(issued);
        // A few minutes of clock skew between containers is not an attack.
        if !(-300..=STAMP_LIFETIME_SECONDS).contains(&age) || tag.len() != MAC_DIGITS {
            return false;
        }
        self.secrets.iter().any(|secret| bool::from(mac(secret, issued).as_bytes().ct_eq(tag.as_bytes())))
    }
}

fn mac(secret: &str, issued: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"tdf-tickets return stamp\0");
    mac.update(issued.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..MAC_DIGITS / 2])
}

/// `url` with `stamp=…` added to its query (before any fragment).
pub fn stamped_url(url: &str, stamp: &str) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let joiner = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{joiner}{STAMP_PARAM}={stamp}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn secrets(list: &[&str]) -> WebhookSecrets {
        WebhookSecrets::new(list.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn a_stamp_is_fresh_for_a_checkout_session_lifetime_and_no_longer() {
        let secrets = secrets(&["whsec_one"]);
        let stamps = ReturnStamp::new(&secrets);
        let stamp = stamps.issue(NOW);
        assert!(stamps.is_fresh(&stamp, NOW));
        assert!(stamps.is_fresh(&stamp, NOW + STAMP_LIFETIME_SECONDS));
        assert!(!stamps.is_fresh(&stamp, NOW + STAMP_LIFETIME_SECONDS + 1));
        assert!(!stamps.is_fresh(&stamp, NOW - 3600), "not from the future");
    }

    #[test]
    fn forged_or_altered_stamps_are_refused() {
        let secrets = secrets(&["whsec_one"]);
        let stamps = ReturnStamp::new(&secrets);
        let stamp = stamps.issue(NOW);
        let (_, tag) = stamp.split_once('.').unwrap();
        assert!(!stamps.is_fresh(&format!("{}.{tag}", NOW + 60), NOW + 60), "a moved time");
        let other = secrets_of_other();
        assert!(!ReturnStamp::new(&other).is_fresh(&stamp, NOW), "another shop's secret");
        for junk in ["", ".", "x.y", &format!("{NOW}."), &format!("{NOW}.{}", "0".repeat(16)), "99999999999999999999.a"]
        {
            assert!(!stamps.is_fresh(junk, NOW), "{junk:?}");
        }
    }

    fn secrets_of_other() -> WebhookSecrets {
        secrets(&["whsec_two"])
    }

    #[test]
    fn while_secrets_roll_a_stamp_under_either_verifies() {
        let old = secrets(&["whsec_old"]);
        let stamp = ReturnStamp::new(&old).issue(NOW);
        let rolling = secrets(&["whsec_new", "whsec_old"]);
        assert!(ReturnStamp::new(&rolling).is_fresh(&stamp, NOW + 10));
    }

    #[test]
    fn the_stamp_joins_the_query_before_a_fragment() {
        let url = "https://t.example/fulfill?session_id={CHECKOUT_SESSION_ID}";
        assert_eq!(stamped_url(url, "1.ab"), format!("{url}&stamp=1.ab"));
        assert_eq!(stamped_url("https://t.example/done#top", "1.ab"), "https://t.example/done?stamp=1.ab#top");
    }
}
