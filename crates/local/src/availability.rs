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
        let left = limited.iter().filter_map(|f| count(&f["available"])).min();
        // In open checkouts: of the ticket itself, else of its group.
        let held = limited.first().and_then(|f| count(&f["held"])).unwrap_or(0);
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
