//! How refunds and disputes change an order: pure rules over the order as
//! read and Stripe's own view of the charge or dispute (never the event's
//! copy). Each returns the whole next standing, or `None` when there is
//! nothing to change, which is what makes duplicates and late events inert.

use super::{DisputeState, NoticeState, OrderRecord, OrderStatus, Revocation, Standing};
use crate::inventory::Hold;
use crate::stripe::{ChargeView, DisputeOutcome, DisputeView};

/// One conditional rewrite of an order's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The order as read (`None`: not recorded yet).
    pub seen: Option<(OrderStatus, Standing)>,
    pub status: OrderStatus,
    pub standing: Standing,
    /// Places to give back in the same write: the order's hold, when the
    /// change ends the sale and `refund_returns_capacity` is set.
    pub give_back: Option<Hold>,
}

fn seen(record: Option<&OrderRecord>) -> (OrderStatus, Standing, bool) {
    match record {
        Some(r) => (r.status, r.standing.clone(), r.votekey.is_some()),
        None => (OrderStatus::Pending, Standing::default(), false),
    }
}

impl Change {
    fn from(record: Option<&OrderRecord>, status: OrderStatus, standing: Standing) -> Option<Change> {
        let seen = record.map(|r| (r.status, r.standing.clone()));
        let unchanged = seen.as_ref().is_some_and(|(s, st)| *s == status && *st == standing)
            || (seen.is_none() && status == OrderStatus::Pending && standing == Standing::default());
        (!unchanged).then_some(Change { seen, status, standing, give_back: None })
    }

    /// After Stripe's view of the order's charge: refunded in full → the
    /// order `refunded`, its key revoked, a cancellation email due if a
    /// votekey email went (or may have gone) out; partly → the amount only.
    pub fn after_charge(record: Option<&OrderRecord>, charge: &ChargeView) -> Option<Change> {
        let (status, mut standing, has_key) = seen(record);
        if status == OrderStatus::Refunded {
            return None;
        }
        if charge.amount_refunded > standing.refunded_amount.unwrap_or(0) {
            standing.refunded_amount = Some(charge.amount_refunded);
        }
        if !charge.fully_refunded() {
            return Change::from(record, status, standing);
        }
        if has_key {
            standing.revoked = Some(Revocation::Refund);
        }
        if matches!(status, OrderStatus::Emailed | OrderStatus::Claimed) {
            standing.cancellation = Some(NoticeState::Due);
        }
        Change::from(record, OrderStatus::Refunded, standing)
    }

    /// After Stripe's view of a dispute on the order's charge.
    pub fn after_dispute(
        record: Option<&OrderRecord>,
        dispute: &DisputeView,
        revoke_on_dispute: bool,
    ) -> Option<Change> {
        let (status, mut standing, has_key) = seen(record);
        match dispute.outcome {
            DisputeOutcome::Open => {
                standing.dispute = Some(dispute.id.clone());
                standing.dispute_status = Some(DisputeState::Open);
                if revoke_on_dispute && has_key && standing.revoked.is_none() {
                    standing.revoked = Some(Revocation::Dispute);
                }
            }
            DisputeOutcome::Lost => {
                standing.dispute = Some(dispute.id.clone());
                standing.dispute_status = Some(DisputeState::Lost);
                if has_key && standing.revoked != Some(Revocation::Refund) {
                    standing.revoked = Some(Revocation::DisputeLost);
                }
            }
            DisputeOutcome::Won => {
                if standing.dispute.as_deref() != Some(dispute.id.as_str()) {
                    return None;
                }
                standing.dispute = None;
                standing.dispute_status = None;
                if standing.revoked == Some(Revocation::Dispute) {
                    standing.revoked = None;
                }
            }
        }
        Change::from(record, status, standing)
    }

    /// Does this change end the sale (refunded, or a dispute lost), so the
    /// order's places go back on sale?
    pub fn ends_sale(&self) -> bool {
        let ended = |status: OrderStatus, standing: &Standing| {
            status == OrderStatus::Refunded || standing.dispute_status == Some(DisputeState::Lost)
        };
        let before = self.seen.as_ref().is_some_and(|(status, standing)| ended(*status, standing));
        !before && ended(self.status, &self.standing)
    }
}

#[cfg(test)]
mod tests;
