//! What is left, for the ticket page: the checkout handler's own
//! `GET /availability` answer, asked in-process, so the page and a static
//! site fetching the JSON read the very same figures.

use serde_json::Value;
use tickets::checkout::Checkout;
use tickets::config::Ticket;

/// The `GET /availability` JSON.
pub(crate) struct Availability(Value);

/// Asks the checkout handler, as a browser would.
pub(crate) async fn fetch(checkout: &Checkout) -> Result<Availability, String> {
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri("/availability")
        .body(lambda_http::Body::Empty)
        .map_err(|e| e.to_string())?;
    let response = checkout.handle(request).await;
    let status = response.status();
    let json: Value = serde_json::from_slice(response.body().as_ref()).map_err(|e| e.to_string())?;
    if status != http::StatusCode::OK {
        let message = json["error"].as_str().unwrap_or("no answer");
        return Err(format!("{message} ({status})"));
    }
    Ok(Availability(json))
}

/// One line about a ticket ("12 left · 3 in open checkouts", "Sold out",
/// "Sale opens …"); `None` for an unlimited ticket on sale.
pub(crate) struct TicketNote {
    pub text: String,
    /// `left`, `sold-out` or `closed` (a CSS class).
    pub state: &'static str,
    /// Whether the page offers the Buy button.
    pub on_sale: bool,
}

fn count(value: &Value) -> Option<u64> {
    value.as_u64()
}

impl Availability {
    fn ticket_json(&self, ticket: &Ticket) -> &Value {
        &self.0["tickets"][ticket.id().as_str()]
    }

    /// The ticket's capacity group's figures, when it has a limited one.
    fn group_json(&self, ticket: &Value) -> Option<&Value> {
        let name = ticket["capacity_group"].as_str()?;
        let groups = self.0["capacity_groups"].as_object()?;
        groups.iter().find(|(g, _)| g.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    pub fn ticket_note(&self, ticket: &Ticket) -> Option<TicketNote> {
        let json = self.ticket_json(ticket);
        match json["sale"].as_str() {
            Some("not_yet_open") => {
                let opens = ticket.sale_window().opens_at().map(|t| format!(" {t}")).unwrap_or_default();
                return Some(TicketNote { text: format!("Sale opens{opens}"), state: "closed", on_sale: false });
            }
            Some("closed") => {
                let closed = ticket.sale_window().closes_at().map(|t| format!(" on {t}")).unwrap_or_default();
                return Some(TicketNote { text: format!("Sale closed{closed}"), state: "closed", on_sale: false });
            }
            _ => {}
        }
        // The ticket's own figures and its group's: what the handler reports.
        let limited: Vec<&Value> =
            [Some(json), self.group_json(json)].into_iter().flatten().filter(|f| !f["capacity"].is_null()).collect();
        // The limit that binds (the fewer left; the ticket's own on a tie), and
        // its places in open checkouts: they may yet come back.
        let binding = limited.iter().min_by_key(|f| count(&f["available"]).unwrap_or(u64::MAX));
        let left = binding.and_then(|f| count(&f["available"]));
        let held = binding.and_then(|f| count(&f["held"])).unwrap_or(0);
        let sold_out = json["sold_out"].as_bool().unwrap_or(false);
        let mut parts = Vec::new();
        if sold_out {
            parts.push("Sold out".to_owned());
        } else if let Some(left) = left {
            parts.push(format!("{left} left"));
        }
        if held > 0 {
            parts.push(format!("{held} in open checkouts"));
        }
        if parts.is_empty() {
            return None;
        }
        let state = if sold_out { "sold-out" } else { "left" };
        Some(TicketNote { text: parts.join(" · "), state, on_sale: !sold_out })
    }

    /// A stocked choice: `Some(0)` sold out, `Some(n)` left; `None` unlimited.
    pub fn choice_left(&self, ticket: &Ticket, field: &str, value: &str) -> Option<u64> {
        count(&self.ticket_json(ticket)["options"][field][value]["available"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use tickets::config::{Config, ConfigCache};
    use tickets::doubles::{MemoryLedger, MemoryPayments, ScriptedSource};
    use tickets::inventory::{Hold, Inventory, Limit};

    const CONFIG: &str = r#"{
      "stripe_api_secret_key": "sk_test_replace_me", "webhook_signing_secret": "whsec_x",
      "success_url": "http://127.0.0.1:3000/fulfill?session_id={CHECKOUT_SESSION_ID}",
      "cancel_url": "http://127.0.0.1:3000/", "thanks_url": "http://127.0.0.1:3000/thanks",
      "email_from": "Party <tickets@party.example>",
      "catalog": {
        "capacity_groups": {"hall": 2},
        "tickets": [
          {"id": "visitor", "name": "Visitor", "price": "price_v", "capacity": 5, "capacity_group": "hall"},
          {"id": "crew", "name": "Crew <b>", "price": "price_c"},
          {"id": "late", "name": "Late", "price": "price_l", "sale_closes_at": "2020-01-01T00:00:00Z"}
        ]
      }
    }"#;

    /// The checkout handler's availability, with `held` places held in the hall.
    async fn availability(held: usize) -> (Config, Availability) {
        let config = Config::from_json(CONFIG).unwrap();
        let cache = Arc::new(ConfigCache::new(Box::new(ScriptedSource::always(CONFIG)), Duration::from_secs(60)));
        let inventory = Arc::new(MemoryLedger::new());
        let limits = [Limit { counter: tickets::inventory::CounterKey::group("hall"), capacity: 2 }];
        for _ in 0..held {
            inventory.reserve(&Hold::new(&limits, 1, 3600).unwrap(), &limits).await.unwrap();
        }
        let checkout = Checkout::new(cache, Arc::new(MemoryPayments::new())).with_inventory(inventory);
        (config, fetch(&checkout).await.unwrap())
    }

    fn note(config: &Config, availability: &Availability, id: &str) -> Option<(String, &'static str, bool)> {
        let ticket = config.catalog().tickets().iter().find(|t| t.id().as_str() == id).unwrap();
        availability.ticket_note(ticket).map(|n| (n.text, n.state, n.on_sale))
    }

    #[tokio::test]
    async fn the_tighter_of_a_ticket_and_its_group_and_the_group_s_open_checkouts() {
        let (config, left) = availability(1).await;
        assert_eq!(note(&config, &left, "visitor"), Some(("1 left · 1 in open checkouts".into(), "left", true)));
        assert_eq!(note(&config, &left, "crew"), None, "unlimited: nothing to say");
        assert_eq!(
            note(&config, &left, "late"),
            Some(("Sale closed on 2020-01-01 00:00 (UTC)".into(), "closed", false))
        );
        let (config, left) = availability(2).await;
        assert_eq!(note(&config, &left, "visitor"), Some(("Sold out · 2 in open checkouts".into(), "sold-out", false)));
        let forms = crate::pages::ticket_forms(config.catalog(), "/checkout", |_| None, Some(&left));
        assert!(forms.contains("<h2>Crew &lt;b&gt;</h2>"), "{forms}");
        assert!(
            forms.contains("<p class=\"availability sold-out\" id=\"left-visitor\">Sold out · 2 in open checkouts</p>")
        );
    }
}
