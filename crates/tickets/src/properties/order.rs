//! The ticket form (`type=…&tshirt=…`): any body is either an order of a
//! catalog ticket with a valid choice for each of its options, or a 400 that
//! echoes only a short piece of the input.

use super::{awkward_text, example_config, seeded};
use crate::checkout::CheckoutError;
use crate::config::{Catalog, Config};
use crate::order::{OrderError, TicketOrder};
use proptest::prelude::*;
use serde_json::json;
use std::sync::LazyLock;

/// Tickets without options, with one and with two option groups.
static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    let mut blob = example_config();
    let keys = blob.as_object_mut().expect("object");
    keys.retain(|key, _| !key.starts_with("product_") && !key.starts_with("shipping_"));
    let shirt =
        json!({"field": "tshirt", "choices": [{"value": "s"}, {"value": "m"}, {"value": "l"}, {"value": "XL"}]});
    let meal = json!({"field": "meal", "choices": [{"value": "vegan"}, {"value": "omnivore"}]});
    keys.insert(
        "catalog".into(),
        json!({"tickets": [
            {"id": "visitor", "price": "price_1"},
            {"id": "bronze", "price": "price_2", "options": [shirt]},
            {"id": "supporter", "price": "price_3", "options": [meal, shirt]},
        ]}),
    );
    Config::from_json(&blob.to_string()).expect("the test catalog is valid")
});

/// Words the catalog knows, in any letter case, sometimes padded.
fn catalog_word() -> impl Strategy<Value = String> {
    const WORDS: [&str; 11] = ["visitor", "bronze", "supporter", "s", "m", "l", "xl", "vegan", "omnivore", "gold", ""];
    (prop::sample::select(&WORDS[..]), any::<u32>(), prop::sample::select(&["", " ", "\t", "\u{3000}"][..])).prop_map(
        |(word, case_bits, pad)| {
            let cased: String = word
                .chars()
                .enumerate()
                .map(|(i, c)| if case_bits >> (i % 32) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            format!("{pad}{cased}{pad}")
        },
    )
}

/// Form fields: the catalog's own and others, with known or awkward values.
fn form_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(&["type", "tshirt", "meal", "lang", "utm_source"][..]).prop_map(str::to_owned),
        1 => awkward_text(6),
    ];
    let value = prop_oneof![4 => catalog_word(), 2 => awkward_text(30), 1 => "[a-z]{90,300}"];
    prop::collection::vec((name, value), 0..8)
}

/// A ticket id and its `(field, value)` choices, or the kind of refusal.
type Expected<'c> = Result<(&'c str, Vec<(String, String)>), &'static str>;

/// What the form should order, worked out from the decoded fields: the first
/// non-blank value of a field counts, matched case-insensitively.
fn expected<'c>(catalog: &'c Catalog, fields: &[(String, String)]) -> Expected<'c> {
    let first = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let ticket = match first("type") {
        None => catalog.default_ticket(),
        Some(given) => {
            catalog.tickets().iter().find(|t| t.id().as_str().eq_ignore_ascii_case(given)).ok_or("UnknownTicket")?
        }
    };
    let mut choices = Vec::new();
    for group in ticket.options() {
        let given = first(group.field()).ok_or("MissingChoice")?;
        let choice = group.choices().iter().find(|c| c.value().eq_ignore_ascii_case(given)).ok_or("InvalidChoice")?;
        choices.push((group.field().to_owned(), choice.value().to_owned()));
    }
    Ok((ticket.id().as_str(), choices))
}

fn error_kind(error: &OrderError) -> &'static str {
    match error {
        OrderError::Unreadable => "Unreadable",
        OrderError::UnknownTicket { .. } => "UnknownTicket",
        OrderError::MissingChoice { .. } => "MissingChoice",
        OrderError::InvalidChoice { .. } => "InvalidChoice",
    }
}

/// A refusal is the visitor's to fix (4xx), and short whatever they sent.
fn assert_refusal(error: OrderError) -> Result<(), TestCaseError> {
    let message = error.to_string();
    prop_assert!(message.len() <= 300, "echoes too much: {}", message);
    prop_assert!(CheckoutError::from(error).status().is_client_error());
    Ok(())
}

proptest! {
    #![proptest_config(seeded(3000))]

    #[test]
    fn any_bytes_order_a_catalog_ticket_with_valid_choices_or_are_a_400(
        body in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        let catalog = CONFIG.catalog();
        match TicketOrder::from_form(catalog, &body) {
            Ok(order) => {
                let ticket = order.ticket();
                prop_assert!(catalog.tickets().iter().any(|t| t == ticket));
                prop_assert_eq!(order.choices().len(), ticket.options().len());
                for ((group, choice), offered) in order.choices().iter().zip(ticket.options()) {
                    prop_assert_eq!(*group, offered);
                    prop_assert!(offered.choices().contains(choice));
                }
            }
            Err(error) => assert_refusal(error)?,
        }
    }

    #[test]
    fn a_form_orders_exactly_what_its_first_non_blank_fields_name(fields in form_fields()) {
        let catalog = CONFIG.catalog();
        let body = serde_urlencoded::to_string(&fields).expect("pairs of strings encode");
        let parsed = TicketOrder::from_form(catalog, body.as_bytes());
        match (expected(catalog, &fields), parsed) {
            (Ok((ticket, choices)), Ok(order)) => {
                prop_assert_eq!(order.ticket().id().as_str(), ticket);
                let got: Vec<(String, String)> =
                    order.choices().iter().map(|(g, c)| (g.field().to_owned(), c.value().to_owned())).collect();
                prop_assert_eq!(got, choices);
            }
            (Err(kind), Err(error)) => {
                prop_assert_eq!(kind, error_kind(&error));
                assert_refusal(error)?;
            }
            (expected, parsed) => prop_assert!(false, "{body}: expected {expected:?}, parsed {parsed:?}"),
        }
    }
}
