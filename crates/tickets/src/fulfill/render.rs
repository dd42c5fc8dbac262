//! What each notice's email says, from the config, the session and the
//! order: the email documents of [`crate::email`], filled in.

use crate::config::Config;
use crate::email::{self, CancellationEmail, EmailLanguage, Money, PaymentFailedEmail, RenderedEmail, VotekeyEmail};
use crate::ledger::OrderDetails;
use crate::mail::{Mailbox, OutgoingEmail};
use crate::stripe::SessionView;

/// The votekey email, from the order as recorded (the retrieved session's
/// details), so a resend from the ledger says exactly what the first did.
pub(super) fn votekey_email(config: &Config, details: &OrderDetails, votekey: &str) -> RenderedEmail {
    let settings = config.email();
    let language = EmailLanguage::from_stripe_locale(details.locale.as_deref());
    let ticket = details.ticket.as_deref().and_then(|id| config.catalog().ticket(id));
    let ticket_name =
        ticket.map_or_else(|| details.ticket.clone().unwrap_or_else(|| "Ticket".into()), |t| t.name().to_owned());
    // Show each chosen option with the catalog's labels ("T-shirt size: L").
    let labelled: Vec<(String, String)> = details
        .options
        .iter()
        .map(|(field, value)| {
            let group = ticket.and_then(|t| t.options().iter().find(|g| g.field() == field));
            let label = group.map_or(field.as_str(), |g| g.label()).to_owned();
            let choice = group.and_then(|g| g.choice(value)).map_or(value.as_str(), |c| c.label()).to_owned();
            (label, choice)
        })
        .collect();
    let options: Vec<(&str, &str)> = labelled.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
    let (subject, intro) = match language {
        EmailLanguage::Japanese => (settings.subject_ja.as_deref(), settings.intro_ja.as_deref()),
        EmailLanguage::English => (settings.subject.as_deref(), settings.intro.as_deref()),
    };
    email::render_votekey(&VotekeyEmail {
        language,
        event_name: settings.event_name.as_deref(),
        buyer_name: details.name.as_deref(),
        votekey,
        ticket_name: &ticket_name,
        options: &options,
        shipping: details
            .shipping_address
            .as_ref()
            .map(|address| (details.shipping_name.as_deref().unwrap_or(""), address)),
        wuhu_url: settings.wuhu_url.as_ref().map(|u| u.as_str()),
        wuhu_register_page: settings.wuhu_register_page.as_deref(),
        subject_override: subject,
        intro_override: intro,
    })
}

pub(super) fn payment_failed_email(config: &Config, session: &SessionView) -> RenderedEmail {
    email::render_payment_failed(&PaymentFailedEmail {
        language: EmailLanguage::from_stripe_locale(session.locale.as_deref()),
        event_name: config.email().event_name.as_deref(),
        retry_url: config.cancel_url().as_str(),
        subject_override: None,
        intro_override: None,
    })
}

/// Sent once when a ticket is cancelled because its payment was refunded in
/// full. `refunded_amount` is in the order's currency's smallest unit; the
/// order's total stands in when it is `None`. `votekey` is the revoked key,
/// if one was issued. The language is the one the buyer paid in.
pub(super) fn cancellation_email(
    config: &Config,
    details: &OrderDetails,
    votekey: Option<&str>,
    refunded_amount: Option<i64>,
) -> RenderedEmail {
    let settings = config.email();
    let language = EmailLanguage::from_stripe_locale(details.locale.as_deref());
    // The catalog's name for the ticket; the line items if no ticket is recorded.
    let ticket = match details.ticket.as_deref() {
        Some(id) => Some(config.catalog().ticket(id).map_or(id, |t| t.name()).to_owned()),
        None => Some(details.items.join(", ")).filter(|items| !items.is_empty()),
    };
    let refunded = refunded_amount
        .or(details.amount_total)
        .zip(details.currency.as_deref())
        .map(|(amount, currency)| Money { amount, currency });
    let (subject, intro) = match language {
        EmailLanguage::Japanese => (settings.subject_cancelled_ja.as_deref(), settings.intro_cancelled_ja.as_deref()),
        EmailLanguage::English => (settings.subject_cancelled.as_deref(), settings.intro_cancelled.as_deref()),
    };
    email::render_cancellation(&CancellationEmail {
        language,
        event_name: settings.event_name.as_deref(),
        buyer_name: details.name.as_deref(),
        refunded,
        ticket: ticket.as_deref(),
        votekey,
        ticket_page_url: config.cancel_url().as_str(),
        subject_override: subject,
        intro_override: intro,
    })
}

pub(super) fn outgoing(config: &Config, from: Mailbox, to: String, rendered: RenderedEmail) -> OutgoingEmail {
    OutgoingEmail {
        from,
        to,
        reply_to: config.email().reply_to.clone(),
        configuration_set: config.email().configuration_set.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    }
}

#[cfg(test)]
mod tests;
