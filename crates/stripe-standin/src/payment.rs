//! A buyer paying for a session, and a delayed payment settling: the session
//! changes Stripe makes (and the PaymentIntent and Charge, see `charges`),
//! shared by [`FakeStripe::pay`](crate::FakeStripe::pay) and the hosted page.

use crate::objects::{address_json, allowed_countries, collects_shipping};
use crate::store::Store;
use serde_json::{Value, json};

/// The buyer's side of a payment on the hosted page.
#[derive(Clone, Debug)]
pub struct Buyer {
    pub email: String,
    pub name: String,
    /// Required when the session collects a shipping address.
    pub shipping: Option<Address>,
}

#[derive(Clone, Debug, Default)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// How the payment on the hosted page turns out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// A card payment: paid at once.
    Paid,
    /// A delayed method (konbini, bank transfer): the session completes unpaid.
    Pending,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayError {
    #[error("no such checkout session")]
    NoSuchSession,
    #[error("this session is not open")]
    NotOpen,
    /// Expired (explicitly, or its `expires_at` has passed): Stripe refuses payment.
    #[error("this Checkout Session has expired")]
    Expired,
    #[error("this session collects a shipping address")]
    ShippingRequired,
    #[error("shipping to {0} is not allowed by this session")]
    CountryNotAllowed(String),
    #[error("this session is not awaiting a delayed payment")]
    NotPending,
}

/// The buyer pays: the session completes, `paid` or (delayed) `unpaid`.
/// An expired session (or one past its `expires_at`) cannot be paid.
pub(crate) fn pay_session(
    store: &mut Store,
    id: &str,
    buyer: &Buyer,
    outcome: PaymentOutcome,
) -> Result<Value, PayError> {
    store.expire_overdue();
    let session = store.sessions.get_mut(id).ok_or(PayError::NoSuchSession)?;
    if session["status"] == "expired" {
        return Err(PayError::Expired);
    }
    if session["status"] != "open" {
        return Err(PayError::NotOpen);
    }
    if collects_shipping(session) {
        let address = buyer.shipping.as_ref().ok_or(PayError::ShippingRequired)?;
        if !allowed_countries(session).contains(&address.country) {
            return Err(PayError::CountryNotAllowed(address.country.clone()));
        }
        session["collected_information"] = json!({
            "business_name": null,
            "individual_name": null,
            "shipping_details": {"name": buyer.name, "address": address_json(address)},
        });
    }
    session["customer_details"] = customer_details(buyer);
    session["status"] = json!("complete");
    session["payment_status"] = json!(match outcome {
        PaymentOutcome::Paid => "paid",
        PaymentOutcome::Pending => "unpaid",
    });
    let paid = session.clone();
    let payment_intent = store.record_payment(&paid, outcome == PaymentOutcome::Paid);
    let session = store.sessions.get_mut(id).ok_or(PayError::NoSuchSession)?;
    session["payment_intent"] = json!(payment_intent);
    Ok(session.clone())
}

/// The session's `customer_details`; of the billing address only the
/// country is filled in, taken from the shipping address.
fn customer_details(buyer: &Buyer) -> Value {
    let billing = buyer.shipping.clone().unwrap_or_default();
    json!({
        "address": {
            "city": null, "country": if billing.country.is_empty() { Value::Null } else { json!(billing.country) },
            "line1": null, "line2": null, "postal_code": null, "state": null
        },
        "email": buyer.email,
        "name": buyer.name,
        "phone": null,
        "tax_exempt": "none",
        "tax_ids": [],
        "business_name": null,
        "individual_name": null,
    })
}

/// A delayed payment settles (`succeeded`: the session is paid and its
/// Charge created) or fails (the session stays unpaid, its PaymentIntent
/// `requires_payment_method`). Either happens once.
pub(crate) fn settle_async_payment(store: &mut Store, id: &str, succeeded: bool) -> Result<Value, PayError> {
    let session = store.sessions.get(id).ok_or(PayError::NoSuchSession)?;
    if session["status"] != "complete" || session["payment_status"] != "unpaid" {
        return Err(PayError::NotPending);
    }
    let session = session.clone();
    store.settle_payment(&session, succeeded)?;
    let session = store.sessions.get_mut(id).ok_or(PayError::NoSuchSession)?;
    if succeeded {
        session["payment_status"] = json!("paid");
    }
    Ok(session.clone())
}
