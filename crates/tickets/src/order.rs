//! A visitor's ticket form, parsed: a [`TicketOrder`] exists only if it names
//! a ticket of the catalog and every choice that ticket needs.

use crate::config::{Catalog, Choice, OptionGroup, Ticket};

/// Why a ticket form cannot be ordered. The message tells the visitor what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrderError {
    #[error("the form could not be read: send it as application/x-www-form-urlencoded")]
    Unreadable,
    #[error("unknown ticket type \"{given}\"; choose one of: {known}")]
    UnknownTicket { given: String, known: String },
    #[error("choose a {label}: {choices}")]
    MissingChoice { label: String, choices: String },
    #[error("\"{given}\" is not a {label}; choose one of: {choices}")]
    InvalidChoice { given: String, label: String, choices: String },
}

/// A valid order: one ticket and one choice for each of its option groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketOrder<'c> {
    ticket: &'c Ticket,
    choices: Vec<(&'c OptionGroup, &'c Choice)>,
}

/// Values longer than this are not looked at (no ticket id or choice is this long).
const MAX_VALUE_LEN: usize = 100;

impl<'c> TicketOrder<'c> {
    /// Parses an `application/x-www-form-urlencoded` body against the catalog.
    /// Field values are matched case-insensitively; unknown fields are ignored.
    pub fn from_form(catalog: &'c Catalog, body: &[u8]) -> Result<TicketOrder<'c>, OrderError> {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| OrderError::Unreadable)?;
        // The first occurrence of a field wins, as with most form parsers.
        let field =
            |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());

        let ticket = match field("type") {
            None => catalog.default_ticket(),
            Some(given) => catalog.ticket(given).ok_or_else(|| OrderError::UnknownTicket {
                given: shorten(given),
                known: catalog.tickets().iter().map(|t| t.id().as_str()).collect::<Vec<_>>().join(", "),
            })?,
        };

        let choices = ticket
            .options()
            .iter()
            .map(|group| {
                let choices = || group.choices().iter().map(Choice::value).collect::<Vec<_>>().join(", ");
                let label = || group.label().to_owned();
                let given = field(group.field())
                    .ok_or_else(|| OrderError::MissingChoice { label: label(), choices: choices() })?;
                let choice = group.choice(given).ok_or_else(|| OrderError::InvalidChoice {
                    given: shorten(given),
                    label: label(),
                    choices: choices(),
                })?;
                Ok((group, choice))
            })
            .collect::<Result<Vec<_>, OrderError>>()?;

        Ok(TicketOrder { ticket, choices })
    }

    pub fn ticket(&self) -> &'c Ticket {
        self.ticket
    }

    /// The chosen options, in the catalog's order.
    pub fn choices(&self) -> &[(&'c OptionGroup, &'c Choice)] {
        &self.choices
    }
}

/// Echo at most a short prefix of what the visitor sent.
fn shorten(given: &str) -> String {
    if given.chars().count() <= MAX_VALUE_LEN / 4 {
        given.to_owned()
    } else {
        let mut s: String = given.chars().take(MAX_VALUE_LEN / 4).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn tdf() -> Config {
        Config::from_json(include_str!("../../../config.example.json")).expect("example config is valid")
    }

    #[test]
    fn empty_form_orders_the_default_ticket() {
        let config = tdf();
        let order = TicketOrder::from_form(config.catalog(), b"").unwrap();
        assert_eq!(order.ticket().id().as_str(), "visitor");
        assert!(order.choices().is_empty());
        let order = TicketOrder::from_form(config.catalog(), b"type=").unwrap();
        assert_eq!(order.ticket().id().as_str(), "visitor");
    }

    #[test]
    fn bronze_with_each_size_case_insensitively() {
        let config = tdf();
        for (form, size) in [("s", "s"), ("M", "m"), ("l", "l"), ("Xl", "xl")] {
            let body = format!("type=BRONZE&tshirt={form}&utm_source=x");
            let order = TicketOrder::from_form(config.catalog(), body.as_bytes()).unwrap();
            assert_eq!(order.ticket().id().as_str(), "bronze");
            assert_eq!(order.choices().len(), 1);
            assert_eq!(order.choices()[0].0.field(), "tshirt");
            assert_eq!(order.choices()[0].1.value(), size);
        }
    }

    #[test]
    fn bad_forms_say_what_to_fix() {
        let config = tdf();
        let err = |body: &str| TicketOrder::from_form(config.catalog(), body.as_bytes()).unwrap_err().to_string();
        assert_eq!(err("type=bronze"), "choose a T-shirt size: s, m, l, xl");
        assert_eq!(err("type=bronze&tshirt="), "choose a T-shirt size: s, m, l, xl");
        assert_eq!(err("type=bronze&tshirt=xxl"), "\"xxl\" is not a T-shirt size; choose one of: s, m, l, xl");
        assert_eq!(err("type=gold"), "unknown ticket type \"gold\"; choose one of: visitor, bronze");
        // Bytes that are not UTF-8 are decoded lossily and then simply do not match.
        assert!(matches!(
            TicketOrder::from_form(config.catalog(), &[0x74, 0x79, 0x70, 0x65, 0x3d, 0xff]),
            Err(OrderError::UnknownTicket { .. })
        ));
        assert!(matches!(
            TicketOrder::from_form(config.catalog(), b"type=bronze&tshirt=%FF"),
            Err(OrderError::InvalidChoice { .. })
        ));
    }

    #[test]
    fn long_values_are_not_echoed_whole() {
        let config = tdf();
        let body = format!("type={}", "x".repeat(500));
        let msg = TicketOrder::from_form(config.catalog(), body.as_bytes()).unwrap_err().to_string();
        assert!(msg.len() < 120, "{msg}");
    }
}
