//! The Stripe Checkout Session an order asks for, as plain data. Building it
//! is pure; sending it is the [`crate::stripe`] edge's job.

use crate::config::{Config, CountryCode, PriceId, ShippingRateId};
use crate::order::TicketOrder;
use std::collections::BTreeMap;

/// Parameters of `POST /v1/checkout/sessions` (mode `payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// Each price once: the ticket, then each chosen option that has a price.
    pub line_items: Vec<PriceId>,
    pub success_url: String,
    pub cancel_url: String,
    pub shipping: Option<ShippingRequest>,
    /// `ticket` and each option's field (`tshirt`), so the webhook and the
    /// Dashboard know what was bought without parsing line items.
    pub metadata: BTreeMap<String, String>,
    pub locale: String,
    /// Sent as `allowed_payment_method_types` (the API version async-stripe
    /// pins has no `payment_method_types` parameter). `None`: the Dashboard decides.
    pub payment_method_types: Option<Vec<String>>,
    /// When the session (and the hold behind it) expires, if it holds a place.
    pub expires_at: Option<i64>,
    /// Stripe's `Idempotency-Key`: the hold id, so a retried create cannot
    /// make a second session for one hold.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRequest {
    pub rate: ShippingRateId,
    pub allowed_countries: Vec<CountryCode>,
}

/// Metadata key holding the ticket id.
pub const TICKET_METADATA_KEY: &str = "ticket";
/// Metadata key marking the sessions this shop made ([`Config::shop_id`]).
pub const SHOP_METADATA_KEY: &str = "tdf_shop";

impl SessionRequest {
    pub fn for_order(config: &Config, order: &TicketOrder<'_>) -> SessionRequest {
        let ticket = order.ticket();
        let mut line_items = vec![ticket.price().clone()];
        line_items.extend(order.choices().iter().filter_map(|(_, choice)| choice.price().cloned()));

        let mut metadata = BTreeMap::new();
        metadata.insert(TICKET_METADATA_KEY.to_owned(), ticket.id().as_str().to_owned());
        metadata.insert(SHOP_METADATA_KEY.to_owned(), config.shop_id().to_owned());
        for (group, choice) in order.choices() {
            metadata.insert(group.field().to_owned(), choice.value().to_owned());
        }

        SessionRequest {
            line_items,
            success_url: config.success_url().as_str().to_owned(),
            cancel_url: config.cancel_url().as_str().to_owned(),
            shipping: ticket
                .shipping()
                .map(|s| ShippingRequest { rate: s.rate().clone(), allowed_countries: s.countries().to_vec() }),
            metadata,
            locale: config.locale().to_owned(),
            payment_method_types: config.payment_method_types().map(<[String]>::to_vec),
            expires_at: None,
            idempotency_key: None,
        }
    }

    /// Adds the return stamp to the success URL (see [`crate::return_stamp`]).
    pub fn returning_with(mut self, stamp: &str) -> SessionRequest {
        self.success_url = crate::return_stamp::stamped_url(&self.success_url, stamp);
        self
    }

    /// Ties the session to `hold`: it expires with the hold, carries its id
    /// in metadata, and is created at most once for it.
    pub fn holding(mut self, hold: &crate::inventory::Hold) -> SessionRequest {
        self.expires_at = Some(hold.expires_at);
        self.metadata.insert(crate::inventory::HOLD_METADATA_KEY.to_owned(), hold.id.clone());
        self.idempotency_key = Some(hold.id.clone());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_json(include_str!("../../../config.example.json")).unwrap()
    }

    #[test]
    fn visitor_is_one_line_item_without_shipping() {
        let config = config();
        let order = TicketOrder::from_form(config.catalog(), b"type=visitor").unwrap();
        let req = SessionRequest::for_order(&config, &order);
        assert_eq!(req.line_items.iter().map(PriceId::as_str).collect::<Vec<_>>(), ["price_1TdfVisitorTicket"]);
        assert_eq!(req.shipping, None);
        let metadata: Vec<(&str, &str)> = req.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(metadata, [("tdf_shop", "tdf-tickets"), ("ticket", "visitor")], "the shop's mark and the ticket");
        assert_eq!(req.success_url, "http://127.0.0.1:3000/fulfill?session_id={CHECKOUT_SESSION_ID}");
        assert_eq!(req.cancel_url, "http://127.0.0.1:3000/");
        assert_eq!(req.locale, "auto");
        assert_eq!(req.payment_method_types, None);
    }

    #[test]
    fn bronze_adds_the_shirt_and_shipping() {
        let config = config();
        let order = TicketOrder::from_form(config.catalog(), b"type=bronze&tshirt=XL").unwrap();
        let req = SessionRequest::for_order(&config, &order);
        assert_eq!(
            req.line_items.iter().map(PriceId::as_str).collect::<Vec<_>>(),
            ["price_1TdfBronzeTicket", "price_1TdfTshirtXL"]
        );
        let shipping = req.shipping.expect("bronze ships");
        assert_eq!(shipping.rate.as_str(), "shr_1TdfTshirtShipping");
        assert_eq!(shipping.allowed_countries.first().map(CountryCode::as_str), Some("JP"));
        assert_eq!(shipping.allowed_countries.len(), 15);
        assert_eq!(req.metadata.get("tshirt").map(String::as_str), Some("xl"));
        assert_eq!(req.metadata.get("ticket").map(String::as_str), Some("bronze"));
    }
}
