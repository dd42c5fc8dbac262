//! Refunds and disputes: Stripe's own view of the charge or dispute (never
//! the event's copy) changes the order's standing through one conditional
//! ledger write (rules in [`crate::ledger::Change`]), giving the places back
//! when the sale ends, and a full refund after the votekey email owes the
//! buyer one cancellation email, sent through the same claim path as the others.

use super::Fulfill;
use super::machine::{FulfillFault, Letter, Outcome, order_details};
use crate::config::Config;
use crate::inventory::{Hold, HoldStatus};
use crate::ledger::{Change, DisputeState, LedgerFault, NoticeState, OrderDetails, OrderRecord, OrderStatus};
use crate::stripe::{ChargeView, DisputeOutcome, SessionView};

/// How often a change is tried again when the order moved between read and write.
const ATTEMPTS: usize = 4;

impl Fulfill {
    /// `charge.refunded` (and `refund.created` / `refund.updated`, through
    /// the refund's charge): a full refund revokes, a partial one is recorded.
    pub(super) async fn charge_changed(&self, config: &Config, charge_id: &str) -> Result<Outcome, FulfillFault> {
        let Some(charge) = self.payments.retrieve_charge(config.stripe_secret_key(), charge_id).await? else {
            tracing::info!(charge = charge_id, "Stripe has no such charge: ignored");
            return Ok(Outcome::NotOurs);
        };
        let Some(session_id) = self.order_session(config, charge.payment_intent.as_deref()).await? else {
            tracing::info!(charge = charge_id, "a charge that no Checkout Session of ours made: ignored");
            return Ok(Outcome::NotOurs);
        };
        let change = self.apply(config, &session_id, |order| Change::after_charge(order, &charge)).await?;
        let outcome = match &change {
            Some(c) if c.status == OrderStatus::Refunded => Outcome::Refunded,
            Some(_) => Outcome::PartialRefund,
            None => Outcome::Unchanged,
        };
        tracing::info!(session = %session_id, charge = charge_id, refunded = charge.amount_refunded, of = charge.amount, outcome = outcome.as_str(), "refund");
        self.cancellation_if_due(config, &session_id, outcome).await
    }

    /// `charge.dispute.created` / `charge.dispute.closed`.
    pub(super) async fn dispute_changed(&self, config: &Config, dispute_id: &str) -> Result<Outcome, FulfillFault> {
        let key = config.stripe_secret_key();
        let Some(dispute) = self.payments.retrieve_dispute(key, dispute_id).await? else {
            tracing::info!(dispute = dispute_id, "Stripe has no such dispute: ignored");
            return Ok(Outcome::NotOurs);
        };
        let Some(session_id) = self.order_session(config, dispute.payment_intent.as_deref()).await? else {
            tracing::info!(dispute = dispute_id, "a dispute on a payment no Checkout Session of ours made: ignored");
            return Ok(Outcome::NotOurs);
        };
        let revoke = config.revoke_on_dispute();
        let change = self.apply(config, &session_id, |order| Change::after_dispute(order, &dispute, revoke)).await?;
        let Some(change) = change else { return Ok(Outcome::Unchanged) };
        let outcome = match (dispute.outcome, change.standing.dispute_status) {
            (DisputeOutcome::Open, _) => Outcome::Disputed,
            (DisputeOutcome::Lost, Some(DisputeState::Lost)) => Outcome::DisputeLost,
            _ => Outcome::DisputeWon,
        };
        if outcome == Outcome::Disputed {
            // The organizer must act: answer with evidence, and decide about the votekey.
            crate::alert!(
                crate::alert::Alert::DisputeOpened,
                session = %session_id,
                dispute = dispute_id,
                revoked = change.standing.revoked.is_some(),
                "a buyer disputed a ticket payment: respond in the Stripe Dashboard; the votekey is revoked only if the dispute is lost (or with revoke_on_dispute)"
            );
        } else {
            tracing::info!(session = %session_id, dispute = dispute_id, outcome = outcome.as_str(), "dispute closed");
        }
        Ok(outcome)
    }

    /// Fulfilment found the payment refunded in full before any votekey
    /// email: the order ends `refunded` and no email goes out.
    pub(super) async fn refunded_before_fulfilment(
        &self,
        config: &Config,
        existing: Option<&OrderRecord>,
        session: &SessionView,
    ) -> Result<Outcome, FulfillFault> {
        if existing.is_some_and(|o| o.status == OrderStatus::Refunded) {
            return Ok(Outcome::Refunded);
        }
        let amount = session.amount_total.unwrap_or(1).max(1);
        let charge = ChargeView { id: String::new(), payment_intent: None, amount, amount_refunded: amount };
        self.ledger.record(&order_details(session), self.now()).await?;
        self.apply(config, &session.id, |order| Change::after_charge(order, &charge)).await?;
        tracing::info!(session = %session.id, "paid session already refunded in full: no new votekey email");
        // A votekey email claimed just before may have gone out: then the cancellation is owed now.
        self.cancellation_if_due(config, &session.id, Outcome::Refunded).await
    }

    /// The session behind a PaymentIntent: the ledger's index first, else
    /// Stripe (the refund may come before the order was recorded).
    async fn order_session(
        &self,
        config: &Config,
        payment_intent: Option<&str>,
    ) -> Result<Option<String>, FulfillFault> {
        let Some(payment_intent) = payment_intent else { return Ok(None) };
        if let Some(session_id) = self.ledger.find_by_payment_intent(payment_intent).await? {
            return Ok(Some(session_id));
        }
        let session = self.payments.session_for_payment_intent(config.stripe_secret_key(), payment_intent).await?;
        Ok(session.filter(|s| super::machine::is_ours(config, s)).map(|s| s.id))
    }

    /// Reads the order, asks `rule` for the change and writes it while the
    /// order is as read; again if it moved. `None`: nothing to change.
    async fn apply(
        &self,
        config: &Config,
        session_id: &str,
        rule: impl Fn(Option<&OrderRecord>) -> Option<Change>,
    ) -> Result<Option<Change>, FulfillFault> {
        let details = self.details(config, session_id).await?;
        for _ in 0..ATTEMPTS {
            let existing = self.ledger.get(session_id).await?;
            let Some(mut change) = rule(existing.as_ref()) else { return Ok(None) };
            if change.ends_sale() && config.refund_returns_capacity() {
                change.give_back = self.hold_to_give_back(&details).await?;
            }
            if self.ledger.update_standing(&details, &change, self.now()).await? {
                return Ok(Some(change));
            }
        }
        Err(LedgerFault("the order kept changing while a refund or dispute was recorded".into()).into())
    }

    /// What the ledger knows of the order, else what Stripe's session says.
    async fn details(&self, config: &Config, session_id: &str) -> Result<OrderDetails, FulfillFault> {
        if let Some(order) = self.ledger.get(session_id).await? {
            return Ok(order.details);
        }
        let session = self.payments.retrieve_session(config.stripe_secret_key(), session_id).await?;
        Ok(session
            .as_ref()
            .map(order_details)
            .unwrap_or_else(|| OrderDetails { session_id: session_id.to_owned(), ..OrderDetails::default() }))
    }

    /// The order's hold while it still has places to give (held or sold).
    async fn hold_to_give_back(&self, details: &OrderDetails) -> Result<Option<Hold>, FulfillFault> {
        let (Some(id), Some(inventory)) = (details.hold_id.as_deref(), self.inventory.as_deref()) else {
            return Ok(None);
        };
        let hold = inventory.hold(id).await?;
        Ok(hold.filter(|h| matches!(h.status, HoldStatus::Held | HoldStatus::Sold)))
    }

    /// Sends the cancellation email if the order owes one (also when an
    /// earlier delivery recorded the refund and failed to send).
    async fn cancellation_if_due(
        &self,
        config: &Config,
        session_id: &str,
        outcome: Outcome,
    ) -> Result<Outcome, FulfillFault> {
        let Some(order) = self.ledger.get(session_id).await? else { return Ok(outcome) };
        let due = matches!(order.standing.cancellation, Some(NoticeState::Due | NoticeState::Claimed));
        let Some(to) = order.details.email.clone().filter(|_| due) else { return Ok(outcome) };
        let sent = self.deliver(config, Letter::Cancellation(&order), &order.details, to, None).await?;
        Ok(if sent == Outcome::InProgress { sent } else { outcome })
    }
}
