//! The organizer's resend (`tdf-admin orders resend`): the votekey email of
//! an order that was emailed, sent again with the order's own key (never a
//! new one), to the buyer or a corrected address, and recorded on the order.
//!
//! Everything the email says comes from the ledger's record, which holds the
//! retrieved session's details (buyer, ticket and options, locale, shipping):
//! no Stripe call, so it works on the local server's data offline too.

use super::Fulfill;
use super::machine::FulfillFault;
use super::render::{self, outgoing};
use crate::config::Config;
use crate::ledger::OrderStatus;

/// What a resend did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    /// Sent to `to` with the order's `votekey`, and recorded on the order.
    Sent { to: String, votekey: String, message_id: String },
    /// Sent, but the order changed meanwhile (refunded, say) and the resend
    /// is not recorded on it.
    SentNotRecorded { to: String, votekey: String, message_id: String },
    /// No such order in the ledger.
    UnknownOrder,
    /// The votekey email never went out (pending, failed, refunded before
    /// it …): there is nothing to resend; the webhook or a retry sends it.
    NotEmailed(OrderStatus),
    /// The order's votekey is revoked (refund or dispute): not sent again.
    Revoked,
    /// Neither `--to` nor an email address on the order.
    NoAddress,
}

impl Fulfill {
    /// Sends the votekey email of `session_id` again, as recorded, to `to`
    /// or the order's address, with the order's key; records the resend.
    pub async fn resend(&self, config: &Config, session_id: &str, to: Option<&str>) -> Result<Resend, FulfillFault> {
        let from = config.email().from.clone().ok_or(FulfillFault::NoSender)?;
        let Some(order) = self.ledger.get(session_id).await? else { return Ok(Resend::UnknownOrder) };
        if order.standing.revoked.is_some() {
            return Ok(Resend::Revoked);
        }
        let (OrderStatus::Emailed, Some(votekey)) = (order.status, order.votekey.clone()) else {
            return Ok(Resend::NotEmailed(order.status));
        };
        let Some(to) = to.map(str::to_owned).or_else(|| order.details.email.clone()) else {
            return Ok(Resend::NoAddress);
        };
        let rendered = render::votekey_email(config, &order.details, &votekey);
        let message_id = self.mailer.send(&outgoing(config, from, to.clone(), rendered)).await?;
        let recorded = self.ledger.record_resend(session_id, &votekey, &to, self.now()).await?;
        tracing::info!(session = session_id, recorded, "votekey email resent");
        Ok(if recorded {
            Resend::Sent { to, votekey, message_id }
        } else {
            Resend::SentNotRecorded { to, votekey, message_id }
        })
    }
}
