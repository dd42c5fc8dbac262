//! The emails: every value they interpolate (from the buyer, Stripe or the
//! organizer) reaches the HTML part escaped, and the subject stays one line
//! whatever the values hold. Each value carries a numbered tag `<xN>` amid
//! awkward text: the template has no tag of its own starting `<x`, so a raw
//! `<x` in the HTML is an unescaped value.

use super::{awkward_text, seeded};
use crate::email::{
    CancellationEmail, EmailLanguage, Money, PaymentFailedEmail, RenderedEmail, VotekeyEmail, render_cancellation,
    render_payment_failed, render_votekey,
};
use crate::stripe::PostalAddress;
use proptest::prelude::*;

/// Sixteen values, value `n` holding `M{n}<x{n}>` between awkward text.
fn values() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec((awkward_text(8), awkward_text(8)), 16)
        .prop_map(|pairs| pairs.into_iter().enumerate().map(|(n, (a, b))| format!("{a}M{n}<x{n}>{b}")).collect())
}

fn language() -> impl Strategy<Value = EmailLanguage> {
    prop_oneof![Just(EmailLanguage::English), Just(EmailLanguage::Japanese)]
}

/// No raw tag from a value; these values shown, escaped in HTML and as
/// typed in the text; the subject one line.
fn assert_safe(email: &RenderedEmail, values: &[String], shown: &[usize]) -> Result<(), TestCaseError> {
    prop_assert!(!email.html.to_lowercase().contains("<x"), "unescaped value in: {}", email.html);
    for &n in shown {
        prop_assert!(email.html.contains(&format!("M{n}&lt;x{n}&gt;")), "value {n} not shown: {}", email.html);
        prop_assert!(email.text.contains(&format!("M{n}<x{n}>")), "value {n} not in the text: {}", email.text);
    }
    let subject = &email.subject;
    prop_assert!(!subject.is_empty() && subject.trim() == subject, "{:?}", subject);
    let breaks_a_line = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    prop_assert!(!subject.chars().any(breaks_a_line), "{:?} from {:?}", subject, values);
    Ok(())
}

proptest! {
    #![proptest_config(seeded(2000))]

    #[test]
    fn the_votekey_email_escapes_every_value(
        v in values(),
        language in language(),
        overrides in any::<(bool, bool)>(),
    ) {
        let address = PostalAddress {
            line1: Some(v[7].clone()),
            line2: Some(v[8].clone()),
            city: Some(v[9].clone()),
            state: Some(v[10].clone()),
            postal_code: Some(v[11].clone()),
            country: Some(v[12].clone()),
        };
        let options = [(v[4].as_str(), v[5].as_str())];
        let email = render_votekey(&VotekeyEmail {
            language,
            event_name: Some(&v[0]),
            buyer_name: Some(&v[1]),
            votekey: &v[2],
            ticket_name: &v[3],
            options: &options,
            shipping: Some((&v[6], &address)),
            wuhu_url: Some(&v[13]),
            wuhu_register_page: Some(&v[14]),
            subject_override: overrides.0.then_some(v[15].as_str()),
            intro_override: overrides.1.then_some(v[0].as_str()),
        });
        assert_safe(&email, &v, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])?;
    }

    #[test]
    fn the_payment_failed_email_escapes_every_value(
        v in values(),
        language in language(),
        overrides in any::<(bool, bool)>(),
    ) {
        let email = render_payment_failed(&PaymentFailedEmail {
            language,
            event_name: Some(&v[0]),
            retry_url: &v[1],
            subject_override: overrides.0.then_some(v[2].as_str()),
            intro_override: overrides.1.then_some(v[3].as_str()),
        });
        let shown: &[usize] = if overrides.1 { &[1, 3] } else { &[1] };
        assert_safe(&email, &v, shown)?;
    }

    #[test]
    fn the_cancellation_email_escapes_every_value(
        v in values(),
        language in language(),
        amount in any::<i64>(),
        overrides in any::<(bool, bool)>(),
    ) {
        let email = render_cancellation(&CancellationEmail {
            language,
            event_name: Some(&v[0]),
            buyer_name: Some(&v[1]),
            refunded: Some(Money { amount, currency: &v[2] }),
            ticket: Some(&v[3]),
            votekey: Some(&v[4]),
            ticket_page_url: &v[5],
            subject_override: overrides.0.then_some(v[6].as_str()),
            intro_override: overrides.1.then_some(v[7].as_str()),
        });
        assert_safe(&email, &v, &[1, 3, 4, 5])?;
    }
}
