//! Everything the emails say in English.

use super::{AddressFields, UrlSentence, Wording, joined};

pub(super) struct English;

impl Wording for English {
    fn language_tag(&self) -> &'static str {
        "en"
    }

    fn label_separator(&self) -> &'static str {
        ": "
    }

    fn greeting(&self, buyer: Option<&str>) -> String {
        buyer.map_or_else(|| "Hi,".to_owned(), |name| format!("Hi {name},"))
    }

    fn votekey_subject(&self, event: Option<&str>) -> String {
        event.map_or_else(|| "Your votekey".to_owned(), |event| format!("Your votekey for {event}"))
    }

    fn votekey_intro(&self, event: Option<&str>) -> String {
        event.map_or_else(
            || "Thank you for buying a ticket!".to_owned(),
            |event| format!("Thank you for buying a ticket for {event}!"),
        )
    }

    fn votekey_label(&self) -> &'static str {
        "Your votekey:"
    }

    fn ticket_label(&self) -> &'static str {
        "Ticket"
    }

    fn shipping_heading(&self) -> &'static str {
        "Shipping address"
    }

    fn wuhu_sentence(&self) -> UrlSentence {
        UrlSentence {
            before: "Register at Wuhu with your votekey: ",
            after: "\nOnce registered, you can vote in the competitions.",
        }
    }

    fn votekey_closing(&self, event: Option<&str>) -> String {
        event.map_or_else(|| "See you at the party!".to_owned(), |event| format!("See you at {event}!\n{event}"))
    }

    fn payment_failed_subject(&self, event: Option<&str>) -> String {
        event.map_or_else(
            || "Your ticket payment did not go through".to_owned(),
            |event| format!("Your payment for {event} did not go through"),
        )
    }

    fn payment_failed_intro(&self, event: Option<&str>) -> String {
        let ticket = event.map_or_else(|| "your ticket".to_owned(), |event| format!("your {event} ticket"));
        format!("Unfortunately the payment for {ticket} could not be completed, so no ticket has been issued.")
    }

    fn retry_sentence(&self) -> UrlSentence {
        UrlSentence { before: "If you would still like to come, you can buy a ticket again at ", after: "." }
    }

    fn payment_failed_closing(&self, event: Option<&str>) -> String {
        let closing = "We hope to see you there.";
        event.map_or_else(|| closing.to_owned(), |event| format!("{closing}\n{event}"))
    }

    fn cancellation_subject(&self, event: Option<&str>) -> String {
        event.map_or_else(
            || "Your ticket was cancelled".to_owned(),
            |event| format!("Your {event} ticket was cancelled"),
        )
    }

    fn cancellation_intro(&self, event: Option<&str>) -> String {
        event.map_or_else(
            || "We are writing about your ticket.".to_owned(),
            |event| format!("We are writing about your ticket for {event}."),
        )
    }

    fn cancellation_reason(&self, refunded: Option<&str>, ticket: Option<&str>) -> String {
        let payment = refunded.map_or_else(|| "Your payment".to_owned(), |amount| format!("Your payment of {amount}"));
        let ticket = ticket.map_or_else(|| "your ticket".to_owned(), |ticket| format!("your ticket ({ticket})"));
        format!("{payment} was refunded, so {ticket} is cancelled.")
    }

    fn revoked_votekey(&self, votekey: &str) -> String {
        format!("Your votekey {votekey} no longer works for voting.")
    }

    fn cancellation_contact(&self) -> &'static str {
        "If you think this is a mistake, please reply to this email or contact the organizers."
    }

    fn cancellation_closing(&self, event: Option<&str>) -> String {
        let closing = "Thank you for your understanding.";
        event.map_or_else(|| closing.to_owned(), |event| format!("{closing}\n{event}"))
    }

    /// Western order: recipient, street, locality, country.
    fn address_lines(&self, address: &AddressFields<'_>) -> Vec<Option<String>> {
        vec![
            address.recipient.map(str::to_owned),
            address.line1.map(str::to_owned),
            address.line2.map(str::to_owned),
            joined(&[address.city, address.state, address.postal_code]),
            address.country.map(str::to_owned),
        ]
    }
}
