//! What can be bought: tickets, their option groups (a T-shirt size …) and
//! whether they ship, how many can be sold and when.

mod limits;

use super::validate::{CountryCode, PriceId, ShippingRateId};
use super::{ConfigError, Keys, SaleWindow, count, string_list};
use serde_json::Value;
use std::fmt;

/// A ticket's form value (`visitor`, `bronze`): lower-case ASCII letters,
/// digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketId(String);

impl TicketId {
    fn parse(key: &str, s: &str) -> Result<TicketId, ConfigError> {
        slug(s).map(TicketId).ok_or_else(|| {
            ConfigError::invalid(key, format!("\"{s}\" must be a short name of letters, digits, - or _"))
        })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Form values are matched case-insensitively, so names are kept lower-case.
fn slug(s: &str) -> Option<String> {
    let ok = !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| s.to_ascii_lowercase())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    tickets: Vec<Ticket>,
    default_ticket: TicketId,
    capacity_groups: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    id: TicketId,
    name: String,
    price: PriceId,
    options: Vec<OptionGroup>,
    shipping: Option<Shipping>,
    capacity: Option<u32>,
    capacity_group: Option<String>,
    sale_window: SaleWindow,
}

/// A choice the buyer must make for a ticket, sent as a form field
/// (`tshirt=m`); a choice with a price adds a line item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionGroup {
    field: String,
    label: String,
    choices: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    value: String,
    label: String,
    price: Option<PriceId>,
    stock: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipping {
    rate: ShippingRateId,
    countries: Vec<CountryCode>,
}

impl Catalog {
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }
    pub fn default_ticket(&self) -> &Ticket {
        // Construction guarantees the default is one of the tickets.
        self.ticket(self.default_ticket.as_str()).unwrap_or(&self.tickets[0])
    }
    /// The ticket whose id matches `form_value`, case-insensitively.
    pub fn ticket(&self, form_value: &str) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id.0.eq_ignore_ascii_case(form_value))
    }
    /// The `catalog.capacity_groups`, sorted by name (the config's JSON
    /// object is read without its key order).
    pub fn capacity_groups(&self) -> &[(String, u32)] {
        &self.capacity_groups
    }
    /// How many tickets the group `name` (case-insensitive) may sell together.
    pub fn group_capacity(&self, name: &str) -> Option<u32> {
        self.capacity_groups.iter().find(|(g, _)| g.eq_ignore_ascii_case(name)).map(|&(_, n)| n)
    }
    /// Whether anything is limited: a ticket's capacity, a group or a
    /// choice's stock. Without limits nothing needs counting.
    pub fn has_limits(&self) -> bool {
        let stock = |t: &Ticket| t.options.iter().flat_map(|g| &g.choices).any(|c| c.stock.is_some());
        !self.capacity_groups.is_empty() || self.tickets.iter().any(|t| t.capacity.is_some() || stock(t))
    }

    /// The Tokyo Demo Fest blob: a visitor ticket and a bronze (supporter)
    /// ticket that comes with a shipped T-shirt in S, M, L or XL.
    pub(crate) fn from_tdf(keys: &Keys<'_>, window: SaleWindow) -> Result<Catalog, ConfigError> {
        let price = |key: &str| PriceId::parse(key, keys.required_str(key)?);
        let sizes = ["s", "m", "l", "xl"]
            .into_iter()
            .map(|size| {
                Ok(Choice {
                    value: size.to_owned(),
                    label: size.to_ascii_uppercase(),
                    price: Some(price(&format!("product_tshirt_{size}"))?),
                    stock: None,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let shipping = Shipping::parse(
            keys.required_str("shipping_rate")?,
            keys.get("shipping_countries"),
            "shipping_rate",
            "shipping_countries",
        )?;
        let mut tickets = vec![
            Ticket {
                id: TicketId("visitor".into()),
                name: keys.optional_str("visitor_ticket_name")?.unwrap_or("Visitor ticket").to_owned(),
                price: price("product_visitor_ticket")?,
                options: vec![],
                shipping: None,
                capacity: None,
                capacity_group: None,
                sale_window: window,
            },
            Ticket {
                id: TicketId("bronze".into()),
                name: keys.optional_str("bronze_ticket_name")?.unwrap_or("Bronze ticket").to_owned(),
                price: price("product_bronze_ticket")?,
                options: vec![OptionGroup { field: "tshirt".into(), label: "T-shirt size".into(), choices: sizes }],
                shipping: Some(shipping),
                capacity: None,
                capacity_group: None,
                sale_window: window,
            },
        ];
        limits::apply_tdf(keys, &mut tickets)?;
        Ok(Catalog { tickets, default_ticket: TicketId("visitor".into()), capacity_groups: vec![] })
    }

    /// The general form: `{"default_ticket": "…", "capacity_groups": {"hall":
    /// 200}, "tickets": [{"id", "name", "price", "capacity", "capacity_group",
    /// "sale_opens_at", "sale_closes_at", "options": [{"field", "label",
    /// "choices": [{"value", "label", "price", "stock"}]}], "shipping":
    /// {"rate", "countries"}}]}`.
    pub(crate) fn from_general(value: &Value, window: SaleWindow) -> Result<Catalog, ConfigError> {
        let Value::Object(map) = value else {
            return Err(ConfigError::invalid("catalog", "must be an object with a `tickets` list"));
        };
        let keys = Keys(map);
        let capacity_groups = limits::capacity_groups(keys.get("capacity_groups"))?;
        let mut tickets = tickets_from_general(&keys, window)?;
        limits::check_groups(&tickets, &capacity_groups)?;
        limits::share_stock(&mut tickets)?;
        let default_ticket = match keys.optional_str("default_ticket")? {
            None => tickets[0].id.clone(),
            Some(id) => {
                let id = TicketId::parse("catalog.default_ticket", id)?;
                if !tickets.iter().any(|t| t.id == id) {
                    return Err(ConfigError::invalid("catalog.default_ticket", format!("no ticket has id \"{id}\"")));
                }
                id
            }
        };
        Ok(Catalog { tickets, default_ticket, capacity_groups })
    }
}

/// `catalog.tickets`: at least one, ids unique.
fn tickets_from_general(keys: &Keys<'_>, window: SaleWindow) -> Result<Vec<Ticket>, ConfigError> {
    let Some(Value::Array(items)) = keys.get("tickets") else {
        return Err(ConfigError::invalid("catalog.tickets", "must be a list of tickets"));
    };
    if items.is_empty() {
        return Err(ConfigError::invalid("catalog.tickets", "list at least one ticket"));
    }
    let tickets = items
        .iter()
        .enumerate()
        .map(|(i, item)| Ticket::from_general(&format!("catalog.tickets[{i}]"), item, window))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, t) in tickets.iter().enumerate() {
        if tickets[..i].iter().any(|earlier| earlier.id == t.id) {
            return Err(ConfigError::invalid("catalog.tickets", format!("ticket id \"{}\" is used twice", t.id)));
        }
    }
    Ok(tickets)
}

impl Ticket {
    /// One entry of `catalog.tickets`; `window` is the global sale window,
    /// which the ticket's own `sale_opens_at` / `sale_closes_at` override.
    fn from_general(at: &str, value: &Value, window: SaleWindow) -> Result<Ticket, ConfigError> {
        let Value::Object(map) = value else {
            return Err(ConfigError::invalid(at, "must be an object"));
        };
        let keys = Keys(map);
        let key = |k: &str| format!("{at}.{k}");
        let required = |k: &str| keys.optional_str(k)?.ok_or_else(|| ConfigError::Missing(key(k)));
        let id = TicketId::parse(&key("id"), required("id")?)?;
        Ok(Ticket {
            name: keys.optional_str("name")?.map_or_else(|| id.0.clone(), str::to_owned),
            id,
            price: PriceId::parse(&key("price"), required("price")?)?,
            options: options_from_general(&keys, &key)?,
            shipping: shipping_from_general(&keys, &key)?,
            capacity: keys.get("capacity").map(|v| count(&key("capacity"), v)).transpose()?,
            capacity_group: limits::group_name(&key("capacity_group"), keys.get("capacity_group"))?,
            sale_window: SaleWindow::from_keys(&keys, key, window)?,
        })
    }

    pub fn id(&self) -> &TicketId {
        &self.id
    }
    /// What the buyer sees, e.g. "Bronze ticket".
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn price(&self) -> &PriceId {
        &self.price
    }
    pub fn options(&self) -> &[OptionGroup] {
        &self.options
    }
    pub fn shipping(&self) -> Option<&Shipping> {
        self.shipping.as_ref()
    }
    /// How many of this ticket may be sold (held or paid), if limited.
    pub fn capacity(&self) -> Option<u32> {
        self.capacity
    }
    /// The `catalog.capacity_groups` entry this ticket also counts against.
    pub fn capacity_group(&self) -> Option<&str> {
        self.capacity_group.as_deref()
    }
    /// When this ticket is on sale: its own bounds, else the global ones.
    pub fn sale_window(&self) -> SaleWindow {
        self.sale_window
    }
}

/// Names an option field cannot have, and why: the form's own fields, and the
/// keys checkout writes beside the options into the session's metadata, where
/// an option of the same name would overwrite them (or be overwritten).
const RESERVED_FIELDS: [(&str, &str); 5] = [
    ("type", "the ticket form's field for the ticket"),
    ("lang", "the ticket form's field for the page language"),
    (crate::session::TICKET_METADATA_KEY, "the session metadata key for the ticket"),
    (crate::inventory::HOLD_METADATA_KEY, "the session metadata key for the held place"),
    (crate::session::SHOP_METADATA_KEY, "the session metadata key marking the shop's own sessions"),
];

/// A ticket's `options`: fields unique and none of the [`RESERVED_FIELDS`].
fn options_from_general(keys: &Keys<'_>, key: &impl Fn(&str) -> String) -> Result<Vec<OptionGroup>, ConfigError> {
    let options = match keys.get("options") {
        None => vec![],
        Some(Value::Array(groups)) => groups
            .iter()
            .enumerate()
            .map(|(i, g)| OptionGroup::from_general(&key(&format!("options[{i}]")), g))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(ConfigError::invalid(key("options"), "must be a list")),
    };
    for (i, group) in options.iter().enumerate() {
        let field = &group.field;
        if let Some((_, used_for)) = RESERVED_FIELDS.iter().find(|(name, _)| name == field) {
            return Err(ConfigError::invalid(key("options"), format!("field \"{field}\" is reserved: {used_for}")));
        }
        if options[..i].iter().any(|g| &g.field == field) {
            return Err(ConfigError::invalid(key("options"), format!("field \"{field}\" is used twice")));
        }
    }
    Ok(options)
}

fn shipping_from_general(keys: &Keys<'_>, key: &impl Fn(&str) -> String) -> Result<Option<Shipping>, ConfigError> {
    match keys.get("shipping") {
        None => Ok(None),
        Some(Value::Object(s)) => {
            let s = Keys(s);
            let rate = s.optional_str("rate")?.ok_or_else(|| ConfigError::Missing(key("shipping.rate")))?;
            Ok(Some(Shipping::parse(rate, s.get("countries"), &key("shipping.rate"), &key("shipping.countries"))?))
        }
        Some(_) => Err(ConfigError::invalid(key("shipping"), "must be an object with `rate` and `countries`")),
    }
}

impl OptionGroup {
    fn from_general(at: &str, value: &Value) -> Result<OptionGroup, ConfigError> {
        let Value::Object(map) = value else {
            return Err(ConfigError::invalid(at, "must be an object"));
        };
        let keys = Keys(map);
        let key = |k: &str| format!("{at}.{k}");
        let field_raw = keys.optional_str("field")?.ok_or_else(|| ConfigError::Missing(key("field")))?;
        let field = slug(field_raw).ok_or_else(|| {
            ConfigError::invalid(key("field"), format!("\"{field_raw}\" must be letters, digits, - or _"))
        })?;
        let Some(Value::Array(items)) = keys.get("choices") else {
            return Err(ConfigError::invalid(key("choices"), "must be a list of choices"));
        };
        if items.is_empty() {
            return Err(ConfigError::invalid(key("choices"), "list at least one choice"));
        }
        let mut choices: Vec<Choice> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            choices.push(Choice::from_general(&key(&format!("choices[{i}]")), item, &choices)?);
        }
        Ok(OptionGroup {
            label: keys.optional_str("label")?.map_or_else(|| field.clone(), str::to_owned),
            field,
            choices,
        })
    }

    /// The form field name, e.g. `tshirt`.
    pub fn field(&self) -> &str {
        &self.field
    }
    /// What the buyer sees, e.g. "T-shirt size".
    pub fn label(&self) -> &str {
        &self.label
    }
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }
    /// The choice whose value matches `form_value`, case-insensitively.
    pub fn choice(&self, form_value: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.value.eq_ignore_ascii_case(form_value))
    }
}

impl Choice {
    /// One of an option group's `choices`; its value must differ from the `earlier` ones.
    fn from_general(at: &str, item: &Value, earlier: &[Choice]) -> Result<Choice, ConfigError> {
        let Value::Object(map) = item else {
            return Err(ConfigError::invalid(at, "must be an object with `value`"));
        };
        let c = Keys(map);
        let raw = c.optional_str("value")?.ok_or_else(|| ConfigError::Missing(format!("{at}.value")))?;
        let value = slug(raw).ok_or_else(|| {
            ConfigError::invalid(format!("{at}.value"), format!("\"{raw}\" must be letters, digits, - or _"))
        })?;
        if earlier.iter().any(|e| e.value == value) {
            return Err(ConfigError::invalid(at, format!("choice \"{value}\" is listed twice")));
        }
        Ok(Choice {
            price: c.optional_str("price")?.map(|p| PriceId::parse(&format!("{at}.price"), p)).transpose()?,
            label: c.optional_str("label")?.map_or_else(|| raw.to_owned(), str::to_owned),
            stock: c.get("stock").map(|v| count(&format!("{at}.stock"), v)).transpose()?,
            value,
        })
    }

    /// The form value, e.g. `m`.
    pub fn value(&self) -> &str {
        &self.value
    }
    /// What the buyer sees, e.g. "M".
    pub fn label(&self) -> &str {
        &self.label
    }
    pub fn price(&self) -> Option<&PriceId> {
        self.price.as_ref()
    }
    /// How many can be sold, if limited. The stock is one pile per option
    /// field and value, shared by every ticket that offers the choice.
    pub fn stock(&self) -> Option<u32> {
        self.stock
    }
}

impl Shipping {
    fn parse(
        rate: &str,
        countries: Option<&Value>,
        rate_key: &str,
        countries_key: &str,
    ) -> Result<Shipping, ConfigError> {
        let rate = ShippingRateId::parse(rate_key, rate)?;
        let listed =
            string_list(countries_key, countries)?.ok_or_else(|| ConfigError::Missing(countries_key.to_owned()))?;
        if listed.is_empty() {
            return Err(ConfigError::invalid(countries_key, "list at least one country"));
        }
        let mut countries: Vec<CountryCode> = Vec::with_capacity(listed.len());
        for code in &listed {
            let code = CountryCode::parse(countries_key, code)?;
            if !countries.contains(&code) {
                countries.push(code);
            }
        }
        Ok(Shipping { rate, countries })
    }

    pub fn rate(&self) -> &ShippingRateId {
        &self.rate
    }
    pub fn countries(&self) -> &[CountryCode] {
        &self.countries
    }
}
