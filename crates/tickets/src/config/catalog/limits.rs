//! How many can be sold: a ticket's capacity, a capacity group shared by
//! tickets, and the stock of an option choice (a T-shirt size).

use super::{Ticket, slug};
use crate::config::{ConfigError, Keys, count};
use serde_json::Value;

/// The TDF form's `"capacity": {"visitor": 150}` and `"tshirt_stock": {"m": 20}`.
pub(super) fn apply_tdf(keys: &Keys<'_>, tickets: &mut [Ticket]) -> Result<(), ConfigError> {
    for (name, n) in counts_by_name(keys, "capacity", r#"{"visitor": 150, "bronze": 50}"#)? {
        let ids = tickets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ");
        let Some(ticket) = tickets.iter_mut().find(|t| t.id.as_str().eq_ignore_ascii_case(name.trim())) else {
            return Err(ConfigError::invalid(format!("capacity.{name}"), format!("is not a ticket ({ids})")));
        };
        ticket.capacity = n;
    }
    let Some(shirts) = tickets.iter_mut().flat_map(|t| &mut t.options).find(|g| g.field == "tshirt") else {
        return Ok(());
    };
    for (name, n) in counts_by_name(keys, "tshirt_stock", r#"{"s": 10, "m": 20}"#)? {
        let sizes = shirts.choices.iter().map(|c| c.value.as_str()).collect::<Vec<_>>().join(", ");
        let Some(choice) = shirts.choices.iter_mut().find(|c| c.value.eq_ignore_ascii_case(name.trim())) else {
            return Err(ConfigError::invalid(
                format!("tshirt_stock.{name}"),
                format!("is not a T-shirt size ({sizes})"),
            ));
        };
        choice.stock = n;
    }
    Ok(())
}

/// A TDF-form object of name → count; names compare case-insensitively.
fn counts_by_name(keys: &Keys<'_>, key: &str, example: &str) -> Result<Vec<(String, Option<u32>)>, ConfigError> {
    let map = match keys.get(key) {
        None => return Ok(vec![]),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ConfigError::invalid(key, format!("must be an object, e.g. {example}"))),
    };
    let mut counts: Vec<(String, Option<u32>)> = Vec::with_capacity(map.len());
    for name in map.keys() {
        let at = format!("{key}.{name}");
        if counts.iter().any(|(earlier, _)| earlier.trim().eq_ignore_ascii_case(name.trim())) {
            return Err(ConfigError::invalid(at, "is listed twice"));
        }
        let n = Keys(map).get(name).map(|v| count(&at, v)).transpose()?;
        counts.push((name.clone(), n));
    }
    Ok(counts)
}

/// `catalog.capacity_groups`: group name → how many tickets its members may
/// sell together.
pub(super) fn capacity_groups(value: Option<&Value>) -> Result<Vec<(String, u32)>, ConfigError> {
    const KEY: &str = "catalog.capacity_groups";
    let map = match value {
        None => return Ok(vec![]),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ConfigError::invalid(KEY, r#"must be an object, e.g. {"hall": 200}"#)),
    };
    let mut groups: Vec<(String, u32)> = Vec::with_capacity(map.len());
    for (raw, n) in map {
        let at = format!("{KEY}.{raw}");
        let Some(name) = slug(raw.trim()) else {
            return Err(ConfigError::invalid(at, "a group name must be letters, digits, - or _"));
        };
        if groups.iter().any(|(earlier, _)| *earlier == name) {
            return Err(ConfigError::invalid(at, "is listed twice"));
        }
        groups.push((name, count(&at, n)?));
    }
    Ok(groups)
}

/// A ticket's `capacity_group`, checked against the declared groups later.
pub(super) fn group_name(key: &str, value: Option<&Value>) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => slug(s.trim())
            .map(Some)
            .ok_or_else(|| ConfigError::invalid(key, format!("\"{s}\" must be letters, digits, - or _"))),
        Some(_) => Err(ConfigError::invalid(key, "must be the name of a group in `catalog.capacity_groups`")),
    }
}

pub(super) fn check_groups(tickets: &[Ticket], groups: &[(String, u32)]) -> Result<(), ConfigError> {
    for (i, ticket) in tickets.iter().enumerate() {
        if let Some(name) = &ticket.capacity_group
            && !groups.iter().any(|(g, _)| g == name)
        {
            let problem = format!("no group \"{name}\" in `catalog.capacity_groups`");
            return Err(ConfigError::invalid(format!("catalog.tickets[{i}].capacity_group"), problem));
        }
    }
    Ok(())
}

/// A stock is one physical pile per option field and value (`tshirt` = `m`),
/// whichever ticket it comes with: tickets that state it must agree, and
/// those that leave it out share it too.
pub(super) fn share_stock(tickets: &mut [Ticket]) -> Result<(), ConfigError> {
    // (field, value, stock, where it was first given)
    let mut piles: Vec<(&str, &str, u32, String)> = vec![];
    for (ti, ticket) in tickets.iter().enumerate() {
        for (gi, group) in ticket.options.iter().enumerate() {
            for (ci, choice) in group.choices.iter().enumerate() {
                let Some(stock) = choice.stock else { continue };
                let at = format!("catalog.tickets[{ti}].options[{gi}].choices[{ci}].stock");
                match piles.iter().find(|p| p.0 == group.field && p.1 == choice.value) {
                    None => piles.push((&group.field, &choice.value, stock, at)),
                    Some((field, value, first, first_at)) if *first != stock => {
                        let problem =
                            format!("{field} = {value} is one pile: give the same stock as `{first_at}` ({first})");
                        return Err(ConfigError::invalid(at, problem));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let piles: Vec<(String, String, u32)> =
        piles.into_iter().map(|(f, v, n, _)| (f.to_owned(), v.to_owned(), n)).collect();
    for group in tickets.iter_mut().flat_map(|t| &mut t.options) {
        for choice in &mut group.choices {
            let pile = piles.iter().find(|(f, v, _)| *f == group.field && *v == choice.value);
            choice.stock = choice.stock.or(pile.map(|p| p.2));
        }
    }
    Ok(())
}
