//! The Stripe edge: the [`Payments`] trait the handlers use, and its
//! implementation over async-stripe.

use crate::BoxFuture;
use crate::config::StripeSecretKey;
use crate::session::SessionRequest;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;
use stripe::{Client, ClientBuilder, StripeError};
use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAllowedPaymentMethodTypes, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionShippingAddressCollection, CreateCheckoutSessionShippingAddressCollectionAllowedCountries,
    CreateCheckoutSessionShippingOptions, ExpireCheckoutSession, ListCheckoutSession, ListLineItemsCheckoutSession,
    RetrieveCheckoutSession,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_shared::{
    ApiErrorsCode, CheckoutSession, CheckoutSessionItem, CheckoutSessionLocale, CheckoutSessionMode,
    CheckoutSessionPaymentStatus, CheckoutSessionStatus,
};
use stripe_shared::{Charge, Dispute, DisputeStatus};
use stripe_types::{Expandable, RangeBoundsTs, RangeQueryTs};

/// A Checkout Session Stripe created: where to send the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSession {
    pub id: String,
    pub url: String,
}

/// Stripe could not do what was asked; the caller answers 502 so the
/// visitor (or Stripe, for webhooks) can try again.
#[derive(Debug, thiserror::Error)]
pub enum StripeFault {
    #[error("Stripe answered {status}: {message}")]
    Api { status: u16, message: String, request_log_url: Option<String> },
    #[error("Stripe did not answer in time")]
    Timeout,
    #[error("could not reach Stripe: {0}")]
    Transport(String),
    #[error("unexpected answer from Stripe: {0}")]
    Unexpected(String),
}

impl From<StripeError> for StripeFault {
    fn from(e: StripeError) -> StripeFault {
        match e {
            StripeError::Stripe(api, status) => StripeFault::Api {
                status,
                message: api.message.unwrap_or_else(|| "no message".into()),
                request_log_url: api.request_log_url,
            },
            StripeError::Timeout => StripeFault::Timeout,
            StripeError::ClientError(m) => StripeFault::Transport(m),
            StripeError::JSONDeserialize(m) | StripeError::ConfigError(m) => StripeFault::Unexpected(m),
        }
    }
}

impl StripeFault {
    /// Stripe's request log link (it carries the request id), for the logs.
    pub fn request_log_url(&self) -> Option<&str> {
        match self {
            StripeFault::Api { request_log_url, .. } => request_log_url.as_deref(),
            _ => None,
        }
    }
}

/// Whether a Checkout Session's money has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    NoPaymentRequired,
    /// Not yet (a delayed method such as konbini), or failed.
    Unpaid,
}

impl PaymentStatus {
    /// Fulfil now: Stripe's guide treats `no_payment_required` like `paid`.
    pub fn is_settled(self) -> bool {
        matches!(self, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired)
    }
}

/// One line of a session: what was bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLineItem {
    pub price: Option<String>,
    pub description: String,
    pub quantity: u64,
    pub amount_total: i64,
}

/// A postal address as Stripe collected it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PostalAddress {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A Checkout Session as retrieved from Stripe: the facts fulfilment trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub payment_status: PaymentStatus,
    /// `complete` once the buyer finished the hosted page.
    pub complete: bool,
    /// `expired`: it can never be paid.
    pub expired: bool,
    /// When Stripe created it (unix seconds).
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub locale: Option<String>,
    pub metadata: std::collections::BTreeMap<String, String>,
    pub line_items: Vec<SessionLineItem>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    /// `collected_information.shipping_details` (the current API shape).
    pub shipping: Option<(String, PostalAddress)>,
    /// The payment's PaymentIntent (`pi_…`), once there is one.
    pub payment_intent: Option<String>,
    /// Stripe shows the payment refunded in full already.
    pub fully_refunded: bool,
    /// `mode=payment` (not a subscription or setup session).
    pub payment_mode: bool,
    /// A live-mode session (`livemode`).
    pub livemode: bool,
}

/// A charge as retrieved from Stripe: what refunds and disputes are judged by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeView {
    pub id: String,
    pub payment_intent: Option<String>,
    pub amount: i64,
    pub amount_refunded: i64,
}

impl ChargeView {
    /// Everything paid was given back (Stripe's `refunded`).
    pub fn fully_refunded(&self) -> bool {
        self.amount > 0 && self.amount_refunded >= self.amount
    }
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeOutcome {
    Open,
    Won,
    Lost,
}

/// A dispute as retrieved from Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeView {
    pub id: String,
    pub charge: String,
    pub payment_intent: Option<String>,
    pub outcome: DisputeOutcome,
}

/// What the handlers need from Stripe.
pub trait Payments: Send + Sync {
    fn create_checkout_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        request: &'a SessionRequest,
    ) -> BoxFuture<'a, Result<CreatedSession, StripeFault>>;

    /// The session with all its line items; `Ok(None)` if Stripe has no such session.
    fn retrieve_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>>;

    /// Every session created from `from` to `to` (unix seconds, inclusive),
    /// without line items.
    fn sessions_created_between<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>>;

    /// Every *completed* session created from `from` to `to` (unix seconds,
    /// inclusive), newest first, without line items: what reconciliation checks.
    fn completed_sessions_created_between<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>>;

    /// The charge; `Ok(None)` if Stripe has no such charge.
    fn retrieve_charge<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        charge_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeView>, StripeFault>>;

    /// The dispute; `Ok(None)` if Stripe has no such dispute.
    fn retrieve_dispute<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        dispute_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DisputeView>, StripeFault>>;

    /// The Checkout Session that made this PaymentIntent (without line items), if any did.
    fn session_for_payment_intent<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>>;

    /// Expires an open session. Stripe refuses one that is not open (an API
    /// error): the caller reads the session again to learn why.
    fn expire_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StripeFault>>;
}

/// Stripe's HTTP API through async-stripe.
pub struct StripeApi {
    api_base: String,
    timeout: Duration,
    /// Built once per secret key and reused (connection pool, TLS config);
    /// rebuilt only when a config refresh rotates the key.
    client: Mutex<Option<(StripeSecretKey, Client)>>,
}

/// Stripe's API; `STRIPE_API_BASE` points elsewhere (a fake, stripe-mock).
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

impl StripeApi {
    pub fn new(api_base: impl Into<String>, timeout: Duration) -> StripeApi {
        let mut api_base = api_base.into();
        // async-stripe joins paths onto the base, which must end with '/'.
        if !api_base.ends_with('/') {
            api_base.push('/');
        }
        StripeApi { api_base, timeout, client: Mutex::new(None) }
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    fn client(&self, key: &StripeSecretKey) -> Result<Client, StripeFault> {
        let mut cached = self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_key, client)) = cached.as_ref()
            && cached_key == key
        {
            return Ok(client.clone());
        }
        let client = ClientBuilder::new(key.expose())
            .url(self.api_base.clone())
            .timeout(self.timeout)
            .app_info("tdf-tickets", Some(env!("CARGO_PKG_VERSION").into()), None)
            .build()
            .map_err(|e| match e {
                // The builder's message could include the key: keep it out.
                StripeError::ConfigError(_) => StripeFault::Unexpected("invalid Stripe client settings".into()),
                other => other.into(),
            })?;
        *cached = Some((key.clone(), client.clone()));
        Ok(client)
    }
}

impl Payments for StripeApi {
    fn create_checkout_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        request: &'a SessionRequest,
    ) -> BoxFuture<'a, Result<CreatedSession, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            let params = create_params(request).customize();
            let params = match &request.idempotency_key {
                // The hold id: a retry after a lost answer gets the same session, not a second one.
                Some(key) => params.request_strategy(RequestStrategy::Idempotent(
                    IdempotencyKey::new(key).map_err(|e| StripeFault::Unexpected(e.to_string()))?,
                )),
                None => params,
            };
            let session = params.send(&client).await?;
            let url = session.url.ok_or_else(|| StripeFault::Unexpected("the Checkout Session has no url".into()))?;
            Ok(CreatedSession { id: session.id.to_string(), url })
        })
    }

    fn retrieve_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            let retrieved = RetrieveCheckoutSession::new(session_id)
                // The charge too: a payment refunded in full gets no votekey.
                .expand(vec!["line_items".to_owned(), "payment_intent.latest_charge".to_owned()])
                .customize()
                // Reads are safe to retry; Stripe's own advice for transient errors.
                .request_strategy(RequestStrategy::Retry(2))
                .send(&client)
                .await;
            let mut session = match retrieved {
                Ok(session) => session,
                Err(StripeError::Stripe(api, 404)) if api.code == Some(ApiErrorsCode::ResourceMissing) => {
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            };
            let mut items = session.line_items.take().map(|list| (list.data, list.has_more)).unwrap_or_default();
            // Expansion returns the first page only: fetch the rest.
            while items.1 {
                let Some(last) = items.0.last().map(|i| i.id.to_string()) else { break };
                let page = ListLineItemsCheckoutSession::new(session_id)
                    .limit(100)
                    .starting_after(last)
                    .customize()
                    .request_strategy(RequestStrategy::Retry(2))
                    .send(&client)
                    .await?;
                items.0.extend(page.data);
                items.1 = page.has_more;
            }
            Ok(Some(session_view(session, items.0)))
        })
    }

    fn sessions_created_between<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            list_sessions(&client, (from, to), None, RequestStrategy::Retry(2)).await
        })
    }

    fn completed_sessions_created_between<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        from: i64,
        to: i64,
    ) -> BoxFuture<'a, Result<Vec<SessionView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            // Pages of a long window in a row: a 429 (Stripe's rate limit) is
            // retried after 1 s, then 2 s, as Stripe advises, not at once.
            let strategy = RequestStrategy::ExponentialBackoff(3);
            list_sessions(&client, (from, to), Some(CheckoutSessionStatus::Complete), strategy).await
        })
    }

    fn retrieve_charge<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        charge_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChargeView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            let charge: Option<Charge> = get_object(&client, &format!("/charges/{charge_id}")).await?;
            Ok(charge.map(|c| ChargeView {
                id: c.id.to_string(),
                payment_intent: c.payment_intent.map(|p| p.id().to_string()),
                amount: c.amount,
                amount_refunded: c.amount_refunded,
            }))
        })
    }

    fn retrieve_dispute<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        dispute_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DisputeView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            let dispute: Option<Dispute> = get_object(&client, &format!("/disputes/{dispute_id}")).await?;
            Ok(dispute.map(|d| DisputeView {
                id: d.id.to_string(),
                charge: d.charge.id().to_string(),
                payment_intent: d.payment_intent.map(|p| p.id().to_string()),
                outcome: match d.status {
                    DisputeStatus::Won | DisputeStatus::WarningClosed | DisputeStatus::Prevented => DisputeOutcome::Won,
                    DisputeStatus::Lost => DisputeOutcome::Lost,
                    _ => DisputeOutcome::Open,
                },
            }))
        })
    }

    fn session_for_payment_intent<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        payment_intent: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionView>, StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            let page = ListCheckoutSession::new()
                .payment_intent(payment_intent)
                .limit(1)
                .customize()
                .request_strategy(RequestStrategy::Retry(2))
                .send(&client)
                .await?;
            Ok(page.data.into_iter().next().map(|s| session_view(s, Vec::new())))
        })
    }

    fn expire_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StripeFault>> {
        Box::pin(async move {
            let client = self.client(key)?;
            ExpireCheckoutSession::new(session_id).send(&client).await?;
            Ok(())
        })
    }
}

/// Every session created within `window` (unix seconds, inclusive), of
/// `status` if given, newest first (Stripe's order), 100 a page.
async fn list_sessions(
    client: &Client,
    (from, to): (i64, i64),
    status: Option<CheckoutSessionStatus>,
    strategy: RequestStrategy,
) -> Result<Vec<SessionView>, StripeFault> {
    let window = RangeQueryTs::Bounds(RangeBoundsTs { gte: Some(from), lte: Some(to), ..Default::default() });
    let mut sessions = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut list = ListCheckoutSession::new().created(window).limit(100);
        if let Some(status) = &status {
            list = list.status(status.clone());
        }
        if let Some(last) = &after {
            list = list.starting_after(last.clone());
        }
        let page = list.customize().request_strategy(strategy.clone()).send(client).await?;
        after = page.data.last().map(|s| s.id.to_string());
        sessions.extend(page.data.into_iter().map(|s| session_view(s, Vec::new())));
        if !page.has_more || after.is_none() {
            return Ok(sessions);
        }
    }
}

/// GETs one object by path; `Ok(None)` on Stripe's `resource_missing`. Reads
/// are safe to retry.
async fn get_object<T: miniserde::Deserialize>(client: &Client, path: &str) -> Result<Option<T>, StripeFault> {
    let request = RequestBuilder::new(StripeMethod::Get, path).customize::<T>();
    match request.request_strategy(RequestStrategy::Retry(2)).send(client).await {
        Ok(object) => Ok(Some(object)),
        Err(StripeError::Stripe(api, 404)) if api.code == Some(ApiErrorsCode::ResourceMissing) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Stripe's `refunded`, when the session's payment intent came with its charge.
fn refunded_in_full(session: &CheckoutSession) -> bool {
    let Some(Expandable::Object(intent)) = &session.payment_intent else { return false };
    let Some(Expandable::Object(charge)) = &intent.latest_charge else { return false };
    charge.refunded || (charge.amount > 0 && charge.amount_refunded >= charge.amount)
}

fn session_view(session: CheckoutSession, items: Vec<CheckoutSessionItem>) -> SessionView {
    let address = |a: stripe_shared::Address| PostalAddress {
        line1: a.line1,
        line2: a.line2,
        city: a.city,
        state: a.state,
        postal_code: a.postal_code,
        country: a.country,
    };
    let fully_refunded = refunded_in_full(&session);
    let payment_intent = session.payment_intent.as_ref().map(|p| p.id().to_string());
    let customer = session.customer_details;
    SessionView {
        payment_intent,
        fully_refunded,
        payment_mode: session.mode == CheckoutSessionMode::Payment,
        livemode: session.livemode,
        id: session.id.to_string(),
        payment_status: match session.payment_status {
            CheckoutSessionPaymentStatus::Paid => PaymentStatus::Paid,
            CheckoutSessionPaymentStatus::NoPaymentRequired => PaymentStatus::NoPaymentRequired,
            _ => PaymentStatus::Unpaid,
        },
        complete: session.status == Some(CheckoutSessionStatus::Complete),
        expired: session.status == Some(CheckoutSessionStatus::Expired),
        created: session.created,
        email: customer.as_ref().and_then(|c| c.email.clone()),
        name: customer.as_ref().and_then(|c| c.name.clone()),
        locale: session.locale.map(|l| l.as_str().to_owned()),
        metadata: session.metadata.unwrap_or_default().into_iter().collect(),
        line_items: items
            .into_iter()
            .map(|item| SessionLineItem {
                price: item.price.map(|p| p.id.to_string()),
                description: item.description.unwrap_or_default(),
                quantity: item.quantity.unwrap_or(1),
                amount_total: item.amount_total,
            })
            .collect(),
        amount_total: session.amount_total,
        currency: session.currency.map(|c| c.to_string()),
        shipping: session
            .collected_information
            .and_then(|info| info.shipping_details)
            .map(|details| (details.name, address(details.address))),
    }
}

fn create_params(request: &SessionRequest) -> CreateCheckoutSession {
    let line_items: Vec<_> = request
        .line_items
        .iter()
        .map(|price| {
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price = Some(price.as_str().to_owned());
            item.quantity = Some(1);
            item
        })
        .collect();
    let mut params = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(line_items)
        .success_url(&request.success_url)
        .cancel_url(&request.cancel_url)
        .metadata(
            request.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<std::collections::HashMap<_, _>>(),
        )
        // Config validation admits only Stripe's locales, so FromStr is exact here.
        .locale(CheckoutSessionLocale::from_str(&request.locale).unwrap_or(CheckoutSessionLocale::Auto));
    if let Some(expires_at) = request.expires_at {
        params = params.expires_at(expires_at);
    }
    if let Some(shipping) = &request.shipping {
        let mut option = CreateCheckoutSessionShippingOptions::new();
        option.shipping_rate = Some(shipping.rate.as_str().to_owned());
        let countries: Vec<_> = shipping
            .allowed_countries
            .iter()
            .filter_map(|c| CreateCheckoutSessionShippingAddressCollectionAllowedCountries::from_str(c.as_str()).ok())
            .collect();
        params = params
            .shipping_options(vec![option])
            .shipping_address_collection(CreateCheckoutSessionShippingAddressCollection::new(countries));
    }
    if let Some(types) = &request.payment_method_types {
        let types: Vec<_> =
            types.iter().filter_map(|t| CreateCheckoutSessionAllowedPaymentMethodTypes::from_str(t).ok()).collect();
        params = params.allowed_payment_method_types(types);
    }
    params
}
