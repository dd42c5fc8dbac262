//! The Stripe edge: the [`Payments`] trait the handlers use, and its
//! implementation over async-stripe.

use crate::BoxFuture;
use crate::config::StripeSecretKey;
use crate::session::SessionRequest;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;
use stripe::{Client, ClientBuilder, StripeError};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAllowedPaymentMethodTypes, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionShippingAddressCollection, CreateCheckoutSessionShippingAddressCollectionAllowedCountries,
    CreateCheckoutSessionShippingOptions,
};
use stripe_shared::{CheckoutSessionLocale, CheckoutSessionMode};

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

/// What the handlers need from Stripe.
pub trait Payments: Send + Sync {
    fn create_checkout_session<'a>(
        &'a self,
        key: &'a StripeSecretKey,
        request: &'a SessionRequest,
    ) -> BoxFuture<'a, Result<CreatedSession, StripeFault>>;
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
            let session = create_params(request).send(&client).await?;
            let url = session
                .url
                .ok_or_else(|| StripeFault::Unexpected("the Checkout Session has no url".into()))?;
            Ok(CreatedSession { id: session.id.to_string(), url })
        })
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
        .metadata(request.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<std::collections::HashMap<_, _>>())
        // Config validation admits only Stripe's locales, so FromStr is exact here.
        .locale(CheckoutSessionLocale::from_str(&request.locale).unwrap_or(CheckoutSessionLocale::Auto));
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
        let types: Vec<_> = types
            .iter()
            .filter_map(|t| CreateCheckoutSessionAllowedPaymentMethodTypes::from_str(t).ok())
            .collect();
        params = params.allowed_payment_method_types(types);
    }
    params
}
