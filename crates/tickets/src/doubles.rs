//! In-memory doubles for every edge trait — [`Payments`], [`Ledger`](crate::ledger::Ledger),
//! [`Mailer`], [`ConfigSource`] — so the handlers' logic is tested in
//! milliseconds without a server, and the local tools can run without AWS.
//! Each can be scripted to fail and counts its calls. Not compiled into the
//! Lambdas (feature `doubles`).

use crate::BoxFuture;
use crate::config::{ConfigSource, SourceError, StripeSecretKey};
use crate::mail::{MailFault, Mailer, OutgoingEmail};
use crate::session::SessionRequest;
use crate::stripe::{ChargeView, CreatedSession, DisputeView, Payments, SessionView, StripeFault};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ledger::memory::lock;
pub use crate::ledger::memory::{LedgerOp, LedgerState, MemoryLedger};

/// Stripe as a map of sessions. Created sessions are recorded (not stored:
/// a test decides what the buyer did by [`MemoryPayments::put`]).
#[derive(Default)]
pub struct MemoryPayments {
    sessions: Mutex<BTreeMap<String, SessionView>>,
    faults: Mutex<VecDeque<StripeFault>>,
    retrieval_faults: Mutex<BTreeMap<String, VecDeque<StripeFault>>>,
    created: Mutex<Vec<SessionRequest>>,
    retrievals: AtomicUsize,
    expirations: Mutex<Vec<String>>,
    listings: AtomicUsize,
    charges: Mutex<BTreeMap<String, ChargeView>>,
    disputes: Mutex<BTreeMap<String, DisputeView>>,
    /// How long each session creation takes.
    create_delay: Mutex<std::time::Duration>,
}

impl MemoryPayments {
    pub fn new() -> MemoryPayments {
        MemoryPayments::default()
    }

    /// Stripe now shows this session.
    pub fn put(&self, session: SessionView) {
        lock(&self.sessions).insert(session.id.clone(), session);
    }

    /// Every session creation from now on takes `delay` (a slow Stripe).
    pub fn delay_creates(&self, delay: std::time::Duration) {
        *lock(&self.create_delay) = delay;
    }

    /// The next call (create or retrieve) fails with `fault`.
    pub fn fail_next(&self, fault: StripeFault) {
        lock(&self.faults).push_back(fault);
    }

    /// The next retrieval of this one session fails with `fault` (calls
    /// about other sessions, and listings, go through).
    pub fn fail_retrieval(&self, session_id: &str, fault: StripeFault) {
        lock(&self.retrieval_faults).entry(session_id.to_owned()).or_default().push_back(fault);
    }

    pub fn retrievals(&self) -> usize {
        self.retrievals.load(Ordering::SeqCst)
    }

    /// Every session creation asked for, in order.
    pub fn created(&self) -> Vec<SessionRequest> {
        lock(&self.created).clone()
    }

    /// Stripe now shows this charge.
    pub fn put_charge(&self, charge: ChargeView) {
        lock(&self.charges).insert(charge.id.clone(), charge);
    }

    /// Stripe now shows this dispute.
    pub fn put_dispute(&self, dispute: DisputeView) {
        lock(&self.disputes).insert(dispute.id.clone(), dispute);
    }

    /// How many times sessions were listed.
    pub fn listings(&self) -> usize {
        self.listings.load(Ordering::SeqCst)
    }

    /// Every session expired through the API, in order.
    pub fn expirations(&self) -> Vec<String> {
        lock(&self.expirations).clone()
    }

    fn fault(&self) -> Result<(), StripeFault> {
        lock(&self.faults).pop_front().map_or(Ok(()), Err)
    }
}

impl Payments for MemoryPayments {
    fn create_checkout_session<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        request: &'a SessionRequest,
    ) -> BoxFuture<'a, Result<CreatedSession, StripeFault>> {
        Box::pin(async move {
            let delay = *lock(&self.create_delay);
            tokio::time::sleep(delay).await;
            self.fault()?;
            let mut created = lock(&self.created);
            // Stripe's idempotency: the same key gives the same session.
            let earlier = request
                .idempotency_key
                .as_ref()
                .and_then(|key| created.iter().position(|r| r.idempotency_key.as_ref() == Some(key)).map(|i| i + 1));
            let number = earlier.unwrap_or_else(|| {
                created.push(request.clone());
                created.len()
            });
            let id = format!("cs_test_memory{number}");
            Ok(CreatedSession { url: format!("https://checkout.stripe.test/c/pay/{id}"), id })
        })
    }

    fn retrieve_session<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>> {
        Box::pin(async move {
            self.retrievals.fetch_add(1, Ordering::SeqCst);
            self.fault()?;
            if let Some(fault) = lock(&self.retrieval_faults).get_mut(session_id).and_then(VecDeque::pop_front) {
                return Err(fault);
            }
            Ok(lock(&self.sessions).get(session_id).cloned())
        })
    }

    fn sessions_created_between<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>> {
        Box::pin(async move {
            self.listings.fetch_add(1, Ordering::SeqCst);
            self.fault()?;
            let sessions = lock(&self.sessions);
            Ok(sessions.values().filter(|s| (from..=to).contains(&s.created)).cloned().collect())
        })
    }

    fn completed_sessions_created_between<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>> {
        Box::pin(async move {
            self.listings.fetch_add(1, Ordering::SeqCst);
            self.fault()?;
            let sessions = lock(&self.sessions);
            let mut completed: Vec<SessionView> =
                sessions.values().filter(|s| s.complete && (from..=to).contains(&s.created)).cloned().collect();
            // Stripe's order: newest first.
            completed.sort_by_key(|s| std::cmp::Reverse(s.created));
            Ok(completed)
        })
    }

    fn retrieve_charge<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        charge_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeView>, StripeFault>> {
        Box::pin(async move {
            self.fault()?;
            Ok(lock(&self.charges).get(charge_id).cloned())
        })
    }

    fn retrieve_dispute<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        dispute_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DisputeView>, StripeFault>> {
        Box::pin(async move {
            self.fault()?;
            Ok(lock(&self.disputes).get(dispute_id).cloned())
        })
    }

    fn session_for_payment_intent<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>> {
        Box::pin(async move {
            self.fault()?;
            let sessions = lock(&self.sessions);
            Ok(sessions.values().find(|s| s.payment_intent.as_deref() == Some(payment_intent)).cloned())
        })
    }

    fn expire_session<'a>(
        &'a self,
        _key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StripeFault>> {
        Box::pin(async move {
            self.fault()?;
            let mut sessions = lock(&self.sessions);
            let open = sessions.get_mut(session_id).filter(|s| !s.complete && !s.expired);
            let Some(session) = open else {
                let message = "Only Checkout Sessions with a status of `open` can be expired.".to_owned();
                return Err(StripeFault::Api { status: 400, message, request_log_url: None });
            };
            session.expired = true;
            lock(&self.expirations).push(session_id.to_owned());
            Ok(())
        })
    }
}

type SendHook = Box<dyn Fn(&OutgoingEmail) + Send + Sync>;

/// A mailer that keeps what it sends; faults and a hook that runs during
/// each send (a test moves its clock there to expire a lease mid-send).
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    faults: Mutex<VecDeque<MailFault>>,
    during_send: Mutex<Option<SendHook>>,
}

impl MemoryMailer {
    pub fn new() -> MemoryMailer {
        MemoryMailer::default()
    }

    pub fn sent(&self) -> Vec<OutgoingEmail> {
        lock(&self.sent).clone()
    }

    /// The next send fails with `fault` (and sends nothing).
    pub fn fail_next(&self, fault: MailFault) {
        lock(&self.faults).push_back(fault);
    }

    /// Runs `hook` inside every later send, before it succeeds or fails.
    pub fn during_send(&self, hook: impl Fn(&OutgoingEmail) + Send + Sync + 'static) {
        *lock(&self.during_send) = Some(Box::new(hook));
    }
}

impl Mailer for MemoryMailer {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>> {
        Box::pin(async move {
            if let Some(hook) = lock(&self.during_send).as_ref() {
                hook(email);
            }
            if let Some(fault) = lock(&self.faults).pop_front() {
                return Err(fault);
            }
            let mut sent = lock(&self.sent);
            sent.push(email.clone());
            Ok(format!("memory-{}", sent.len()))
        })
    }
}

/// Config text from a script: each fetch takes the next answer, the last
/// one repeats. Counts fetches.
pub struct ScriptedSource {
    answers: Mutex<Vec<Result<String, String>>>,
    fetches: AtomicUsize,
}

impl ScriptedSource {
    /// `answers` must not be empty.
    pub fn new(answers: Vec<Result<String, String>>) -> ScriptedSource {
        assert!(!answers.is_empty(), "a scripted config source needs an answer");
        ScriptedSource { answers: Mutex::new(answers), fetches: AtomicUsize::new(0) }
    }

    /// Always this config text.
    pub fn always(text: impl Into<String>) -> ScriptedSource {
        ScriptedSource::new(vec![Ok(text.into())])
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl ConfigSource for ScriptedSource {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mut answers = lock(&self.answers);
        let answer = if answers.len() > 1 { answers.remove(0) } else { answers[0].clone() };
        Box::pin(async move { answer.map_err(SourceError::new) })
    }

    fn describe(&self) -> String {
        "config text held in memory".into()
    }
}
