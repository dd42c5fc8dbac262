//! The fulfilment state machine: given what the ledger holds and what Stripe
//! says about a session, what to do — answer, record and wait, or send a
//! notice through the one claim → render → check lease → send → record path.

use super::Fulfill;
use super::render::{self, outgoing};
use crate::config::{Config, ConfigUnavailable, VotekeySource};
use crate::inventory::{HOLD_METADATA_KEY, Hold};
use crate::ledger::{ClaimOutcome, LedgerFault, Notice, OrderDetails, OrderRecord, OrderStatus, VotekeyUse};
use crate::mail::MailFault;
use crate::session::{SHOP_METADATA_KEY, TICKET_METADATA_KEY};
use crate::stripe::{SessionView, StripeFault};
use http::StatusCode;
use std::time::Duration;

/// How a fulfilment ended (each is one log line's `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// We sent the votekey email just now.
    Emailed,
    /// The ledger already shows it sent.
    AlreadyEmailed,
    /// Another delivery holds the claim right now.
    InProgress,
    /// Not paid yet (a delayed method): recorded, waiting.
    AwaitingPayment,
    /// The delayed payment failed (the buyer was emailed about it).
    PaymentFailed,
    /// We told the buyer that the delayed payment failed.
    FailureEmailed,
    /// The failure email was sent already.
    FailureAlreadyEmailed,
    /// Nothing to do for this session (e.g. a failure event for a paid order).
    NotApplicable,
    /// Paid, but Stripe has no email address for the buyer: logged for the organizer.
    NoEmailAddress,
    /// Stripe has no such session.
    UnknownSession,
    /// The session expired unpaid; its hold (if any) was given back.
    Expired,
    /// Refunded in full: the votekey revoked (no votekey email is ever sent now).
    Refunded,
    /// Partly refunded: the amount recorded, nothing revoked.
    PartialRefund,
    /// A dispute was opened (flagged; revoked only with `revoke_on_dispute`).
    Disputed,
    /// A dispute was won: the flag cleared.
    DisputeWon,
    /// A dispute was lost: the votekey revoked.
    DisputeLost,
    /// We told the buyer the ticket is cancelled.
    CancellationEmailed,
    /// The cancellation email was sent already.
    CancellationAlreadyEmailed,
    /// Nothing changed (a duplicate, or nothing new at Stripe).
    Unchanged,
    /// A payment not made through one of our Checkout Sessions.
    NotOurs,
    /// An event type we do not handle.
    #[default]
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Emailed => "emailed",
            Outcome::AlreadyEmailed => "already_emailed",
            Outcome::InProgress => "in_progress",
            Outcome::AwaitingPayment => "awaiting_payment",
            Outcome::PaymentFailed => "payment_failed",
            Outcome::FailureEmailed => "failure_emailed",
            Outcome::FailureAlreadyEmailed => "failure_already_emailed",
            Outcome::NotApplicable => "not_applicable",
            Outcome::NoEmailAddress => "no_email_address",
            Outcome::UnknownSession => "unknown_session",
            Outcome::Expired => "expired",
            Outcome::Refunded => "refunded",
            Outcome::PartialRefund => "partial_refund",
            Outcome::Disputed => "disputed",
            Outcome::DisputeWon => "dispute_won",
            Outcome::DisputeLost => "dispute_lost",
            Outcome::CancellationEmailed => "cancellation_emailed",
            Outcome::CancellationAlreadyEmailed => "cancellation_already_emailed",
            Outcome::Unchanged => "unchanged",
            Outcome::NotOurs => "not_ours",
            Outcome::Ignored => "ignored",
        }
    }

    /// The outcomes of a notice: sent just now, and found sent already.
    fn of_notice(notice: Notice) -> (Outcome, Outcome) {
        match notice {
            Notice::Votekey => (Outcome::Emailed, Outcome::AlreadyEmailed),
            Notice::PaymentFailed => (Outcome::FailureEmailed, Outcome::FailureAlreadyEmailed),
            Notice::Cancellation => (Outcome::CancellationEmailed, Outcome::CancellationAlreadyEmailed),
        }
    }
}

/// A dependency failed: the answer is 5xx so Stripe (or the buyer) tries
/// again, and nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum FulfillFault {
    #[error("the ticket shop is not available right now; please try again in a minute")]
    ConfigUnavailable(#[from] ConfigUnavailable),
    #[error("the ticket shop is not configured to send email (email_from)")]
    NoSender,
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeFault),
    #[error("{0}")]
    Ledger(#[from] LedgerFault),
    #[error("{0}")]
    Mail(#[from] MailFault),
    #[error("the claim's lease ran out before sending")]
    LeaseTooShort,
    #[error("too little of the invocation is left to send and record an email")]
    OutOfTime,
    #[error("could not draw a votekey: {0}")]
    Votekey(String),
    #[error("the votekey pool is empty: import more keys from Wuhu with `tdf-admin votekeys import`")]
    PoolEmpty,
    /// A signed webhook about a session the secret key cannot see: the
    /// webhook secret and the secret key are of different accounts or modes.
    #[error("{0}")]
    Mismatch(String),
}

impl FulfillFault {
    pub fn status(&self) -> StatusCode {
        use FulfillFault::*;
        match self {
            ConfigUnavailable(_) | NoSender | LeaseTooShort | OutOfTime | PoolEmpty | Mismatch(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Stripe(_) => StatusCode::BAD_GATEWAY,
            Ledger(_) | Mail(_) | Votekey(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn outcome(&self) -> &'static str {
        use FulfillFault::*;
        match self {
            ConfigUnavailable(_) => "config_unavailable",
            NoSender => "no_sender",
            Stripe(_) => "stripe_error",
            Ledger(_) => "ledger_error",
            Mail(_) => "mail_error",
            LeaseTooShort => "lease_too_short",
            OutOfTime => "out_of_time",
            Votekey(_) => "votekey_error",
            PoolEmpty => "votekey_pool_empty",
            Mismatch(_) => "webhook_mismatch",
        }
    }
}

/// What to do about a notice once Stripe's view of the session is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NextAction {
    /// Nothing to write: answer with this outcome.
    Answer(Outcome),
    /// Record the order's details, then answer with this outcome.
    Record(Outcome),
    /// Claim the notice and send it to this address.
    Send { to: String },
}

/// The answer the ledger alone gives, before Stripe is asked: a notice that
/// went out needs no Stripe call.
pub(super) fn answer_from_ledger(notice: Notice, existing: Option<&OrderRecord>) -> Option<Outcome> {
    let (_, sent) = notice.statuses();
    let (_, already) = Outcome::of_notice(notice);
    match existing.map(|o| o.status) {
        Some(status) if status == sent => Some(already),
        // Refunded: no votekey (or failure) email is sent any more.
        Some(OrderStatus::Refunded) => Some(Outcome::Refunded),
        _ => None,
    }
}

/// What to do about `notice` for this session, given the ledger's record.
pub(super) fn next_action(notice: Notice, existing: Option<&OrderRecord>, session: &SessionView) -> NextAction {
    let settled = session.payment_status.is_settled();
    match notice {
        Notice::Votekey if !settled && session.expired => NextAction::Answer(Outcome::Expired),
        Notice::Votekey if !settled => {
            let failed =
                existing.is_some_and(|o| matches!(o.status, OrderStatus::Failed | OrderStatus::FailureClaimed));
            if failed {
                NextAction::Answer(Outcome::PaymentFailed)
            } else if session.complete {
                NextAction::Record(Outcome::AwaitingPayment)
            } else {
                // Still open on Stripe's page: nothing to record yet (ids are free to make).
                NextAction::Answer(Outcome::AwaitingPayment)
            }
        }
        Notice::PaymentFailed if settled => NextAction::Answer(Outcome::NotApplicable),
        // Sent only after a refund, from the ledger's record (see refunds.rs).
        Notice::Cancellation => NextAction::Answer(Outcome::NotApplicable),
        // Paid but not `complete` cannot happen in payment mode; never send on it.
        Notice::Votekey if !session.complete => NextAction::Answer(Outcome::AwaitingPayment),
        Notice::Votekey | Notice::PaymentFailed => match &session.email {
            Some(to) => NextAction::Send { to: to.clone() },
            None => NextAction::Record(Outcome::NoEmailAddress),
        },
    }
}

/// What is being sent, and from what it is written.
#[derive(Clone, Copy)]
pub(super) enum Letter<'a> {
    Votekey(&'a SessionView),
    PaymentFailed(&'a SessionView),
    /// From the refunded order as the ledger holds it.
    Cancellation(&'a OrderRecord),
}

impl Letter<'_> {
    fn notice(self) -> Notice {
        match self {
            Letter::Votekey(_) => Notice::Votekey,
            Letter::PaymentFailed(_) => Notice::PaymentFailed,
            Letter::Cancellation(_) => Notice::Cancellation,
        }
    }
}

/// Time one attempt at a ledger write may take (the AWS SDK's attempt timeout).
const RECORD_TIME: Duration = Duration::from_secs(3);

/// When Stripe may be asked about a session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    Always,
    /// Only if the ledger has a record of it.
    IfKnown,
}

/// A claim won: ours to send until `expires_at`.
struct Claim {
    token: String,
    expires_at: i64,
    votekey: Option<String>,
}

impl Fulfill {
    /// The fulfilment routine (Stripe's "fulfill_checkout"): idempotent, race-safe.
    pub async fn fulfill(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillFault> {
        self.settle(config, session_id, Notice::Votekey, Asking::Always).await
    }

    /// The buyer's return from Stripe: as [`Self::fulfill`], but Stripe is
    /// asked about a session the ledger has never seen only with a fresh
    /// return stamp (see [`crate::return_stamp`]), and never about a session
    /// of the other mode than the secret key's.
    pub async fn fulfill_on_return(
        &self,
        config: &Config,
        session_id: &str,
        stamp: Option<&str>,
    ) -> Result<Outcome, FulfillFault> {
        if session_id.starts_with("cs_live_") == config.stripe_secret_key().is_test_mode() {
            return Ok(Outcome::UnknownSession);
        }
        let stamps = crate::return_stamp::ReturnStamp::new(config.webhook_secrets());
        let asking = match stamp {
            Some(stamp) if stamps.is_fresh(stamp, self.now()) => Asking::Always,
            _ => Asking::IfKnown,
        };
        self.settle(config, session_id, Notice::Votekey, asking).await
    }

    /// `checkout.session.async_payment_failed`: tell the buyer once.
    pub(super) async fn notify_failure(&self, config: &Config, session_id: &str) -> Result<Outcome, FulfillFault> {
        self.settle(config, session_id, Notice::PaymentFailed, Asking::Always).await
    }

    async fn settle(
        &self,
        config: &Config,
        session_id: &str,
        notice: Notice,
        asking: Asking,
    ) -> Result<Outcome, FulfillFault> {
        let existing = self.ledger.get(session_id).await?;
        if let Some(outcome) = answer_from_ledger(notice, existing.as_ref()) {
            return Ok(outcome);
        }
        if existing.is_none() && asking == Asking::IfKnown {
            return Ok(Outcome::UnknownSession);
        }
        let Some(session) = self.payments.retrieve_session(config.stripe_secret_key(), session_id).await? else {
            return Ok(Outcome::UnknownSession);
        };
        // An order the ledger holds was ours when recorded (e.g. a delayed
        // payment started before the mark existed); else the mark decides.
        if existing.is_none() && !is_ours(config, &session) {
            tracing::info!(session = session_id, "not a ticket session of this shop: ignored");
            return Ok(Outcome::NotApplicable);
        }
        let details = order_details(&session);
        if notice == Notice::Votekey && session.fully_refunded {
            // Refunded before the votekey went out: it never goes out.
            return self.refunded_before_fulfilment(config, existing.as_ref(), &session).await;
        }
        if notice == Notice::PaymentFailed && !session.payment_status.is_settled() {
            // The delayed payment failed: its place goes back on sale.
            self.release_session_hold(&session).await?;
        }
        match next_action(notice, existing.as_ref(), &session) {
            NextAction::Answer(outcome) => Ok(outcome),
            NextAction::Record(outcome) => {
                self.ledger.record(&details, self.now()).await?;
                if outcome == Outcome::NoEmailAddress && notice == Notice::Votekey {
                    crate::alert!(
                        crate::alert::Alert::PaidWithoutEmail,
                        session = session_id,
                        "paid session without an email address: fulfil it by hand"
                    );
                }
                Ok(outcome)
            }
            NextAction::Send { to } => {
                let kept = existing.and_then(|o| o.votekey);
                let letter = match notice {
                    Notice::PaymentFailed => Letter::PaymentFailed(&session),
                    _ => Letter::Votekey(&session),
                };
                self.deliver(config, letter, &details, to, kept).await
            }
        }
    }

    /// The one path every notice takes: claim → render → check lease → send → record.
    pub(super) async fn deliver(
        &self,
        config: &Config,
        letter: Letter<'_>,
        details: &OrderDetails,
        to: String,
        kept_votekey: Option<String>,
    ) -> Result<Outcome, FulfillFault> {
        let from = config.email().from.clone().ok_or(FulfillFault::NoSender)?;
        // Claim only with time to send and record before the invocation ends;
        // else Stripe's next delivery (or the next visit) does it.
        if !crate::deadline::allows(self.timing.send_budget + RECORD_TIME) {
            return Err(FulfillFault::OutOfTime);
        }
        let notice = letter.notice();
        let sale = match letter {
            Letter::Votekey(session) => self.hold_to_sell(session).await?,
            Letter::PaymentFailed(_) | Letter::Cancellation(_) => None,
        };
        let claim = match self.claim(config, notice, details, kept_votekey, sale.as_ref()).await? {
            Ok(claim) => claim,
            Err(outcome) => return Ok(outcome),
        };
        let rendered = match (letter, &claim.votekey) {
            (Letter::Votekey(_), Some(votekey)) => render::votekey_email(config, details, votekey),
            (Letter::Cancellation(order), _) => {
                render::cancellation_email(config, details, order.votekey.as_deref(), order.standing.refunded_amount)
            }
            (Letter::PaymentFailed(session) | Letter::Votekey(session), _) => {
                render::payment_failed_email(config, session)
            }
        };
        let email = outgoing(config, from, to, rendered);
        self.check_lease(claim.expires_at)?;
        let message_id = match self.mailer.send(&email).await {
            Ok(message_id) => message_id,
            Err(fault) => return Err(self.refused(&details.session_id, &claim.token, fault).await),
        };
        self.record_sent(&details.session_id, notice, &claim.token, &message_id).await;
        Ok(Outcome::of_notice(notice).0)
    }

    /// Claims `notice`; `Err(outcome)` when someone else has it or had it.
    /// A votekey claim carries the order's kept key, or a fresh draw that is
    /// drawn again if another order holds it.
    async fn claim(
        &self,
        config: &Config,
        notice: Notice,
        details: &OrderDetails,
        kept_votekey: Option<String>,
        sale: Option<&Hold>,
    ) -> Result<Result<Claim, Outcome>, FulfillFault> {
        // 21^8 keys make a collision rare; a few draws make it vanishing.
        const DRAWS: usize = 5;
        let lease = self.timing.lease.as_secs() as i64;
        for _ in 0..DRAWS {
            let votekey = match (notice, &kept_votekey) {
                (Notice::PaymentFailed | Notice::Cancellation, _) => None,
                (Notice::Votekey, Some(kept)) => Some(kept.clone()),
                (Notice::Votekey, None) => Some(self.fresh_votekey(config).await?),
            };
            let votekey_use = match (&votekey, &kept_votekey) {
                (None, _) => VotekeyUse::None,
                (Some(key), Some(_)) => VotekeyUse::Keep(key),
                (Some(key), None) => VotekeyUse::Reserve(key),
            };
            let (_, already) = Outcome::of_notice(notice);
            return Ok(match self.ledger.claim(details, notice, votekey_use, sale, self.now(), lease).await? {
                ClaimOutcome::Claimed { token, expires_at } => Ok(Claim { token, expires_at, votekey }),
                ClaimOutcome::VotekeyTaken => continue,
                ClaimOutcome::AlreadySent => Err(already),
                ClaimOutcome::InProgress => Err(Outcome::InProgress),
                ClaimOutcome::NotApplicable(status) => {
                    let session = details.session_id.as_str();
                    tracing::warn!(session, status = status.as_str(), "notice not applicable in this order state");
                    Err(Outcome::NotApplicable)
                }
            });
        }
        Err(FulfillFault::Votekey("every key drawn was taken".into()))
    }

    /// A key never given before: drawn at random, or the pool's next.
    async fn fresh_votekey(&self, config: &Config) -> Result<String, FulfillFault> {
        match config.votekey_source() {
            VotekeySource::Generate => (self.draw_votekey)(config.votekey_format()).map_err(FulfillFault::Votekey),
            VotekeySource::Pool => {
                let pool = self.pool.as_deref().ok_or(FulfillFault::PoolEmpty)?;
                let key = pool.draw().await?;
                if key.is_none() {
                    crate::alert!(crate::alert::Alert::VotekeyPoolEmpty, "{}", FulfillFault::PoolEmpty);
                }
                key.ok_or(FulfillFault::PoolEmpty)
            }
        }
    }

    /// Marks a notice sent. The email is out whatever happens here, so a
    /// failure must not become a 5xx (Stripe's retry would send it again):
    /// retry a few times, then log loudly for the organizer and carry on.
    async fn record_sent(&self, session_id: &str, notice: Notice, token: &str, message_id: &str) {
        const ATTEMPTS: u64 = 4;
        for attempt in 1..=ATTEMPTS {
            // The last attempt is the one that may be cut short by the invocation's end.
            let last = attempt == ATTEMPTS || !crate::deadline::allows(RECORD_TIME * 2);
            // Cut off at the deadline rather than killed: the alert below still gets logged.
            let completed = self.ledger.complete(session_id, notice, token, message_id, self.now());
            let completed = crate::deadline::bounded(completed)
                .await
                .unwrap_or_else(|| Err(LedgerFault("recording ran into the invocation's deadline".into())));
            match completed {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        session = session_id,
                        "claim expired while sending; the ledger shows another claimant"
                    );
                    return;
                }
                Err(e) if !last => {
                    tracing::warn!(session = session_id, attempt, error = %e, "recording a sent email failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => crate::alert!(
                    crate::alert::Alert::EmailUnrecorded,
                    session = session_id,
                    message_id,
                    error = %e,
                    "email sent but not recorded in the ledger: mark the order emailed by hand"
                ),
            }
        }
    }

    /// A send that failed: if the provider refused it outright, nothing went
    /// out, so the claim is given up and the next delivery sends at once; after
    /// an ambiguous failure (timeout, lost connection) the lease must run out.
    async fn refused(&self, session_id: &str, token: &str, fault: MailFault) -> FulfillFault {
        if let MailFault::Rejected(reason) = &fault {
            let reason = redact_emails(reason);
            crate::alert!(
                crate::alert::Alert::MailRefused,
                session = session_id,
                %reason,
                "SES refused the email: check the sender identity and the account's sending status (or, if the reason says so, the buyer's address)"
            );
        }
        if fault.sent_nothing() {
            match self.ledger.release_claim(session_id, token, self.now()).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(session = session_id, error = %e, "giving up the claim failed; it ends with its lease")
                }
            }
        }
        fault.into()
    }

    /// Refuses to start a send that could outlive the claim's lease.
    fn check_lease(&self, expires_at: i64) -> Result<(), FulfillFault> {
        if self.now() + self.timing.send_budget.as_secs() as i64 > expires_at {
            return Err(FulfillFault::LeaseTooShort);
        }
        Ok(())
    }
}

/// Is this a ticket session this shop made? Our mark (another integration,
/// a Payment Link or last year's stack on the same account has none, or
/// another), `mode=payment`, and a ticket of the catalog.
pub(super) fn is_ours(config: &Config, session: &SessionView) -> bool {
    let marked = session.metadata.get(SHOP_METADATA_KEY).is_some_and(|shop| shop == config.shop_id());
    let ticket = session.metadata.get(TICKET_METADATA_KEY);
    let known = ticket.is_some_and(|id| config.catalog().tickets().iter().any(|t| t.id().as_str() == id));
    marked && session.payment_mode && known
}

/// What the ledger keeps of a session.
pub fn order_details(session: &SessionView) -> OrderDetails {
    let mut options = session.metadata.clone();
    let ticket = options.remove(TICKET_METADATA_KEY);
    options.remove(SHOP_METADATA_KEY);
    let hold_id = options.remove(HOLD_METADATA_KEY);
    OrderDetails {
        session_id: session.id.clone(),
        email: session.email.clone(),
        name: session.name.clone(),
        ticket,
        options,
        items: session.line_items.iter().map(|i| format!("{} × {}", i.description, i.quantity)).collect(),
        amount_total: session.amount_total,
        currency: session.currency.clone(),
        shipping_name: session.shipping.as_ref().map(|(name, _)| name.clone()),
        shipping_address: session.shipping.as_ref().map(|(_, a)| a.clone()),
        locale: session.locale.clone(),
        hold_id,
        payment_intent: session.payment_intent.clone(),
    }
}

/// Email addresses never reach the logs (provider errors sometimes quote them).
pub fn redact_emails(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"' || c == '\'' || c == ',')
        .map(|word| {
            let trimmed = word.trim_end_matches(|c: char| c.is_whitespace() || "<>\"',".contains(c));
            if trimmed.contains('@') { format!("<redacted>{}", &word[trimmed.len()..]) } else { word.to_owned() }
        })
        .collect()
}
