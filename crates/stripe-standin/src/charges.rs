//! The money behind a paid session, built from Stripe's fixtures
//! (`payment_intent.json`, `charge.json`, `refund.json`, `dispute.json`):
//! the PaymentIntent and Charge paying creates, and refunds and disputes
//! afterwards.
//!
//! A card payment creates a `succeeded` PaymentIntent and a `succeeded`
//! Charge at once. A delayed payment (konbini, the shop's delayed method)
//! is what Stripe makes of it: the PaymentIntent `requires_action` (the
//! konbini voucher) and no Charge exists until the buyer pays at the store;
//! settling it creates the Charge (`succeeded`), failing it sends the
//! PaymentIntent back to `requires_payment_method`.

use crate::payment::PayError;
use crate::store::Store;
use crate::{now_unix, random_id};
use serde_json::{Value, json};

const PAYMENT_INTENT_FIXTURE: &str = include_str!("../fixtures/stripe/payment_intent.json");
const CHARGE_FIXTURE: &str = include_str!("../fixtures/stripe/charge.json");
const REFUND_FIXTURE: &str = include_str!("../fixtures/stripe/refund.json");
const DISPUTE_FIXTURE: &str = include_str!("../fixtures/stripe/dispute.json");

/// How long a konbini voucher stays payable (Stripe's default: 3 days).
const KONBINI_DAYS: i64 = 3;
/// How long a merchant has to answer a dispute in the stand-in.
const DISPUTE_RESPONSE_DAYS: i64 = 7;

/// Why a refund was refused; the messages are Stripe's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefundError {
    /// No charge, PaymentIntent or session with this id.
    #[error("No such charge: '{0}'")]
    NoSuchCharge(String),
    /// The session or PaymentIntent has no successful charge (open, or a delayed payment not yet made).
    #[error("'{0}' has no successful charge to refund.")]
    NotPaid(String),
    #[error("Charge {0} has already been refunded.")]
    AlreadyRefunded(String),
    /// More than is left unrefunded on the charge.
    #[error("Refund amount ({requested}) is greater than unrefunded amount on charge ({remaining})")]
    AmountTooLarge { requested: i64, remaining: i64 },
    #[error("Invalid positive integer")]
    InvalidAmount,
    /// A disputed charge is refunded through the dispute, not by a refund.
    #[error("Charge {0} has been charged back; cannot issue a refund.")]
    Disputed(String),
}

/// Why a dispute could not be opened or closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DisputeError {
    #[error("No such charge: '{0}'")]
    NoSuchCharge(String),
    #[error("Charge {0} has not succeeded: there is nothing to dispute.")]
    NotPaid(String),
    /// A charge is disputed at most once.
    #[error("Charge {0} is already disputed.")]
    AlreadyDisputed(String),
    #[error("No such dispute: '{0}'")]
    NoSuchDispute(String),
    /// The dispute is already `won` or `lost`.
    #[error("Dispute {0} is already closed.")]
    AlreadyClosed(String),
}

/// A fixture object with `fields` written over it.
fn from_fixture(fixture: &str, fields: Value) -> Value {
    let mut object: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    for (k, v) in fields.as_object().expect("object literal") {
        object[k] = v.clone();
    }
    object
}

/// The delayed method a pending payment uses: the first of the session's
/// (or its PaymentIntent's) `payment_method_types` other than card.
fn delayed_method(object: &Value) -> String {
    let methods = object["payment_method_types"].as_array().cloned().unwrap_or_default();
    methods.iter().filter_map(Value::as_str).find(|m| *m != "card").unwrap_or("konbini").to_owned()
}

/// The PaymentIntent of a new payment: `succeeded`, or (delayed)
/// `requires_action` showing the konbini voucher.
fn new_payment_intent(amount: i64, currency: &str, methods: Value, delayed: Option<&str>, now: i64) -> Value {
    let id = random_id("pi_3", 24);
    let (status, next_action) = match delayed {
        None => ("succeeded", Value::Null),
        Some(method) => ("requires_action", voucher(method, now)),
    };
    from_fixture(
        PAYMENT_INTENT_FIXTURE,
        json!({
            "id": id,
            "client_secret": format!("{id}_secret_{}", random_id("", 25)),
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": if delayed.is_none() { amount } else { 0 },
            "currency": currency,
            "created": now,
            "canceled_at": null,
            "last_payment_error": null,
            "latest_charge": null,
            "next_action": next_action,
            "payment_method": random_id("pm_1", 24),
            "payment_method_types": methods,
            "payment_method_configuration_details": null,
            "processing": null,
            "shipping": null,
            "status": status,
            "transfer_data": null,
        }),
    )
}

/// The `next_action` of a delayed payment waiting for the buyer.
fn voucher(method: &str, now: i64) -> Value {
    if method != "konbini" {
        return json!({"type": "display_bank_transfer_instructions"});
    }
    let store = json!({"confirmation_number": "12345678901", "payment_code": "123456"});
    json!({"type": "konbini_display_details", "konbini_display_details": {
        "expires_at": now + KONBINI_DAYS * 86400,
        "hosted_voucher_url": format!("https://payments.stripe.com/konbini/voucher/test_{}", random_id("", 24)),
        "stores": {"familymart": store, "lawson": store, "ministop": store, "seicomart": store},
    }})
}

/// A successful charge of the whole PaymentIntent, billed to the session's customer.
fn new_charge(payment_intent: &Value, customer: &Value, method: &str, now: i64) -> Value {
    let id = random_id("ch_3", 24);
    let amount = payment_intent["amount"].as_i64().unwrap_or_default();
    let mut charge = from_fixture(
        CHARGE_FIXTURE,
        json!({
            "id": id,
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": random_id("txn_3", 24),
            "billing_details": {
                "address": customer["address"].clone(),
                "email": customer["email"].clone(),
                "name": customer["name"].clone(),
                "phone": null,
                "tax_id": null,
            },
            "captured": true,
            "created": now,
            "currency": payment_intent["currency"].clone(),
            "description": null,
            "disputed": false,
            "outcome": {
                "advice_code": null, "network_advice_code": null, "network_decline_code": null,
                "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                "seller_message": "Payment complete.", "type": "authorized",
            },
            "paid": true,
            "payment_intent": payment_intent["id"].clone(),
            "payment_method": payment_intent["payment_method"].clone(),
            "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", random_id("", 40)),
            "refunded": false,
            "refunds": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/charges/{id}/refunds")},
            "shipping": null,
            "source": null,
            "status": "succeeded",
            "transfer_data": null,
        }),
    );
    if method == "card" {
        let card = &mut charge["payment_method_details"]["card"];
        card["amount_authorized"] = json!(amount);
        card["overcapture"]["maximum_amount_capturable"] = json!(amount);
    } else {
        let details = if method == "konbini" { json!({"store": {"chain": "lawson"}}) } else { json!({}) };
        charge["payment_method_details"] = json!({"type": method, method: details});
    }
    charge
}

/// Which kind of object an id names, by its prefix.
pub(crate) fn kind_of(id: &str) -> Option<&'static str> {
    [
        ("ch_", "charge"),
        ("pi_", "payment_intent"),
        ("re_", "refund"),
        ("dp_", "dispute"),
        ("cs_", "checkout.session"),
        ("prod_", "product"),
        ("price_", "price"),
        ("shr_", "shipping_rate"),
    ]
    .into_iter()
    .find(|(prefix, _)| id.starts_with(prefix))
    .map(|(_, kind)| kind)
}

impl Store {
    /// Any object the fake keeps, by id.
    pub(crate) fn object(&self, id: &str) -> Option<&Value> {
        match kind_of(id)? {
            "charge" => self.charges.get(id),
            "payment_intent" => self.payment_intents.get(id),
            "refund" => self.refunds.get(id),
            "dispute" => self.disputes.get(id),
            "product" | "price" | "shipping_rate" => self.catalog.get(id),
            _ => self.sessions.get(id),
        }
    }

    /// The session being paid gets its PaymentIntent (and, paid at once, its
    /// Charge); returns the PaymentIntent's id for the session's `payment_intent`.
    pub(crate) fn record_payment(&mut self, session: &Value, paid: bool) -> String {
        let now = now_unix();
        let amount = session["amount_total"].as_i64().unwrap_or_default();
        let currency = session["currency"].as_str().unwrap_or("jpy");
        let delayed = (!paid).then(|| delayed_method(session));
        let mut payment_intent =
            new_payment_intent(amount, currency, session["payment_method_types"].clone(), delayed.as_deref(), now);
        if paid {
            let charge = new_charge(&payment_intent, &session["customer_details"], "card", now);
            payment_intent["latest_charge"] = charge["id"].clone();
            self.insert_charge(charge);
        }
        let id = payment_intent["id"].as_str().unwrap_or_default().to_owned();
        self.payment_intents.insert(id.clone(), payment_intent);
        id
    }

    /// A delayed payment is made (`succeeded`: the Charge is created) or
    /// fails (the PaymentIntent `requires_payment_method` again). Only a
    /// PaymentIntent waiting for the buyer settles.
    pub(crate) fn settle_payment(&mut self, session: &Value, succeeded: bool) -> Result<(), PayError> {
        let id = session["payment_intent"].as_str().unwrap_or_default();
        let payment_intent = self.payment_intents.get(id).ok_or(PayError::NotPending)?;
        if payment_intent["status"] != "requires_action" {
            return Err(PayError::NotPending);
        }
        let mut payment_intent = payment_intent.clone();
        let method = delayed_method(&payment_intent);
        payment_intent["next_action"] = Value::Null;
        if succeeded {
            let charge = new_charge(&payment_intent, &session["customer_details"], &method, now_unix());
            payment_intent["status"] = json!("succeeded");
            payment_intent["amount_received"] = payment_intent["amount"].clone();
            payment_intent["latest_charge"] = charge["id"].clone();
            self.insert_charge(charge);
        } else {
            payment_intent["status"] = json!("requires_payment_method");
            payment_intent["payment_method"] = Value::Null;
            payment_intent["last_payment_error"] = json!({
                "type": "invalid_request_error",
                "code": "payment_intent_payment_attempt_expired",
                "message": format!("The {method} payment expired before the customer paid."),
            });
        }
        self.payment_intents.insert(id.to_owned(), payment_intent);
        Ok(())
    }

    fn insert_charge(&mut self, charge: Value) {
        let id = charge["id"].as_str().unwrap_or_default().to_owned();
        self.charges.insert(id, charge);
    }

    /// A paid charge in `currency` that no session of ours made (a payment
    /// taken elsewhere on the same Stripe account), with its PaymentIntent.
    pub(crate) fn charge_without_session(&mut self, amount: i64, currency: &str) -> String {
        let now = now_unix();
        let mut payment_intent = new_payment_intent(amount, currency, json!(["card"]), None, now);
        let customer = json!({"address": null, "email": null, "name": null});
        let charge = new_charge(&payment_intent, &customer, "card", now);
        let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
        payment_intent["latest_charge"] = json!(charge_id);
        self.insert_charge(charge);
        self.payment_intents.insert(payment_intent["id"].as_str().unwrap_or_default().to_owned(), payment_intent);
        charge_id
    }

    /// The successful charge of a charge, PaymentIntent or session id;
    /// `None` when it has none (yet).
    pub(crate) fn charge_of(&self, id: &str) -> Option<String> {
        let payment_intent = match kind_of(id)? {
            "charge" => return self.charges.contains_key(id).then(|| id.to_owned()),
            "payment_intent" => self.payment_intents.get(id)?,
            "checkout.session" => self.payment_intents.get(self.sessions.get(id)?["payment_intent"].as_str()?)?,
            _ => return None,
        };
        let charge = payment_intent["latest_charge"].as_str()?;
        (self.charges.get(charge)?["status"] == "succeeded").then(|| charge.to_owned())
    }

    /// Refunds `amount` (all that is left when `None`) of the charge of a
    /// charge, PaymentIntent or session id: creates a `succeeded` Refund and
    /// updates the charge (`refunded` once nothing is left).
    pub(crate) fn refund(&mut self, id: &str, amount: Option<i64>) -> Result<Value, RefundError> {
        if self.object(id).is_none() || matches!(kind_of(id), Some("refund" | "dispute")) {
            return Err(RefundError::NoSuchCharge(id.to_owned()));
        }
        let charge_id = self.charge_of(id).ok_or_else(|| RefundError::NotPaid(id.to_owned()))?;
        let charge = self.charges.get_mut(&charge_id).expect("charge_of finds kept charges");
        if charge["disputed"] == true {
            return Err(RefundError::Disputed(charge_id));
        }
        let captured = charge["amount_captured"].as_i64().unwrap_or_default();
        let remaining = captured - charge["amount_refunded"].as_i64().unwrap_or_default();
        if remaining <= 0 {
            return Err(RefundError::AlreadyRefunded(charge_id));
        }
        let amount = amount.unwrap_or(remaining);
        if amount <= 0 {
            return Err(RefundError::InvalidAmount);
        }
        if amount > remaining {
            return Err(RefundError::AmountTooLarge { requested: amount, remaining });
        }
        let card = charge["payment_method_details"]["type"] == "card";
        let refund = from_fixture(
            REFUND_FIXTURE,
            json!({
                "id": random_id("re_3", 24),
                "amount": amount,
                "balance_transaction": random_id("txn_3", 24),
                "charge": charge_id,
                "created": now_unix(),
                "currency": charge["currency"].clone(),
                "destination_details": if card {
                    json!({"type": "card", "card": {"reference": null, "reference_status": "pending", "reference_type": null, "type": "refund"}})
                } else {
                    Value::Null
                },
                "payment_intent": charge["payment_intent"].clone(),
                "status": "succeeded",
            }),
        );
        charge["amount_refunded"] = json!(captured - remaining + amount);
        charge["refunded"] = json!(amount == remaining);
        let refunds = &mut charge["refunds"];
        if let Some(data) = refunds["data"].as_array_mut() {
            data.insert(0, refund.clone());
        }
        self.refunds.insert(refund["id"].as_str().unwrap_or_default().to_owned(), refund.clone());
        Ok(refund)
    }

    /// The cardholder disputes a successful charge: a `needs_response`
    /// dispute for the charge's amount; the charge is `disputed`.
    pub(crate) fn dispute(&mut self, charge_id: &str, reason: &str) -> Result<Value, DisputeError> {
        let charge = self.charges.get_mut(charge_id).ok_or_else(|| DisputeError::NoSuchCharge(charge_id.into()))?;
        if charge["status"] != "succeeded" {
            return Err(DisputeError::NotPaid(charge_id.into()));
        }
        if charge["disputed"] == true {
            return Err(DisputeError::AlreadyDisputed(charge_id.into()));
        }
        let now = now_unix();
        let mut dispute = from_fixture(
            DISPUTE_FIXTURE,
            json!({
                "id": random_id("dp_1", 24),
                "amount": charge["amount"].clone(),
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"].clone(),
                "enhanced_eligibility_types": [],
                "is_charge_refundable": false,
                "payment_intent": charge["payment_intent"].clone(),
                "reason": reason,
                "status": "needs_response",
            }),
        );
        dispute["evidence_details"]["due_by"] = json!(now + DISPUTE_RESPONSE_DAYS * 86400);
        let card = &mut dispute["payment_method_details"]["card"];
        card["case_type"] = json!("chargeback");
        card["network_reason_code"] = if reason == "fraudulent" { json!("10.4") } else { Value::Null };
        charge["disputed"] = json!(true);
        self.disputes.insert(dispute["id"].as_str().unwrap_or_default().to_owned(), dispute.clone());
        Ok(dispute)
    }

    /// The card network decides an open dispute: `won` or `lost`.
    pub(crate) fn close_dispute(&mut self, dispute_id: &str, won: bool) -> Result<Value, DisputeError> {
        let dispute =
            self.disputes.get_mut(dispute_id).ok_or_else(|| DisputeError::NoSuchDispute(dispute_id.into()))?;
        if dispute["status"] == "won" || dispute["status"] == "lost" {
            return Err(DisputeError::AlreadyClosed(dispute_id.into()));
        }
        dispute["status"] = json!(if won { "won" } else { "lost" });
        Ok(dispute.clone())
    }
}

/// The kind of object an event of `event_type` carries as `data.object`.
pub(crate) fn event_object_kind(event_type: &str) -> Option<&'static str> {
    let kinds = [
        ("checkout.session.", "checkout.session"),
        ("charge.dispute.", "dispute"),
        ("charge.refund.", "refund"),
        ("charge.", "charge"),
        ("payment_intent.", "payment_intent"),
        ("refund.", "refund"),
    ];
    kinds.into_iter().find(|(prefix, _)| event_type.starts_with(prefix)).map(|(_, kind)| kind)
}
