//! The organizer's configuration: one JSON blob (kept in SSM Parameter Store as
//! a SecureString, or in a local file), parsed once into a typed [`Config`].
//!
//! Two shapes are accepted and produce the same `Config`:
//! - the Tokyo Demo Fest blob, verbatim (`product_visitor_ticket`, `product_tshirt_m`, …);
//! - the general catalog form (`"catalog": {"tickets": [...]}`), documented in README.md.
//!
//! Values are read key by key from a JSON object (not through serde's derive)
//! so every error names its key and no error ever echoes a secret.

mod catalog;
mod source;
mod time;
mod validate;

pub use catalog::{Catalog, Choice, OptionGroup, Shipping, Ticket, TicketId};
pub use source::{ConfigCache, ConfigSource, ConfigUnavailable, FileSource, SourceError, SsmSource};
pub use time::{SaleClosed, SaleWindow, Timestamp};
pub use validate::{CountryCode, HttpsUrl, PriceId, ShippingRateId, StripeSecretKey};

use crate::mail::Mailbox;
use crate::votekey::VotekeyFormat;
use crate::webhook::{Tolerance, WebhookSecrets};
use serde_json::{Map, Value};
use std::fmt;

/// A problem with the organizer's config. Messages name the key and what is
/// expected; values of secret keys are never included.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config is not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    #[error("config must be a JSON object")]
    NotAnObject,
    #[error("config key `{0}` is missing")]
    Missing(String),
    #[error("config key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), problem: problem.into() }
    }
}

/// Everything the two functions need, validated.
#[derive(Clone)]
pub struct Config {
    stripe_secret_key: StripeSecretKey,
    webhook_secrets: WebhookSecrets,
    webhook_tolerance: Tolerance,
    catalog: Catalog,
    success_url: HttpsUrl,
    cancel_url: HttpsUrl,
    thanks_url: Option<HttpsUrl>,
    locale: String,
    payment_method_types: Option<Vec<String>>,
    email: EmailSettings,
    votekey_format: VotekeyFormat,
    hold_minutes: u32,
    site_origin: Option<String>,
    refund_returns_capacity: bool,
    revoke_on_dispute: bool,
    votekey_source: VotekeySource,
    shop_id: String,
    reconcile_days: u32,
}

/// Where votekeys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VotekeySource {
    /// Drawn at random in Wuhu's format (`votekey_prefix`, `votekey_length`).
    #[default]
    Generate,
    /// Imported from Wuhu (`tdf-admin votekeys import`) and handed out in order.
    Pool,
}

/// How the buyer's email is sent and worded.
#[derive(Clone, Debug, Default)]
pub struct EmailSettings {
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub configuration_set: Option<String>,
    pub event_name: Option<String>,
    pub wuhu_url: Option<HttpsUrl>,
    /// The Wuhu page with the registration form, when `wuhu_url` names no
    /// `page=` (the email's default is Wuhu's `Login`).
    pub wuhu_register_page: Option<String>,
    pub subject: Option<String>,
    pub intro: Option<String>,
    pub subject_ja: Option<String>,
    pub intro_ja: Option<String>,
    /// The same overrides for the email telling a buyer their ticket was
    /// cancelled (refunded).
    pub subject_cancelled: Option<String>,
    pub intro_cancelled: Option<String>,
    pub subject_cancelled_ja: Option<String>,
    pub intro_cancelled_ja: Option<String>,
}

/// The general `catalog`, or the TDF form's `product_*` keys (never both).
/// `window` is the global sale window, which tickets inherit.
fn catalog(keys: &Keys, window: SaleWindow) -> Result<Catalog, ConfigError> {
    if !keys.0.contains_key("catalog") {
        return Catalog::from_tdf(keys, window);
    }
    if keys.0.keys().any(|k| k.starts_with("product_")) {
        return Err(ConfigError::invalid("catalog", "use either `catalog` or the `product_*` keys, not both"));
    }
    // The TDF form's limits have a place in the catalog; say where rather than ignore them.
    if keys.get("capacity").is_some() {
        return Err(ConfigError::invalid("capacity", "with `catalog`, put `capacity` on each ticket instead"));
    }
    if keys.get("tshirt_stock").is_some() {
        return Err(ConfigError::invalid("tshirt_stock", "with `catalog`, put `stock` on each option choice instead"));
    }
    Catalog::from_general(keys.required("catalog")?, window)
}

/// How long a buyer's tickets are held while they pay: the Checkout Session's
/// `expires_at`, which Stripe wants 30 minutes to 24 hours ahead.
fn hold_minutes(keys: &Keys) -> Result<u32, ConfigError> {
    const KEY: &str = "hold_minutes";
    let problem = "must be a whole number from 31 to 1440: a Stripe Checkout Session expires \
                   at least 30 minutes and at most 24 hours after it is created";
    match keys.optional_u64(KEY) {
        Ok(None) => Ok(DEFAULT_HOLD_MINUTES),
        Ok(Some(n @ 31..=1440)) => Ok(n as u32),
        Ok(Some(_)) | Err(_) => Err(ConfigError::invalid(KEY, problem)),
    }
}

const DEFAULT_HOLD_MINUTES: u32 = 35;

const DEFAULT_SHOP_ID: &str = "tdf-tickets";

/// How many days back reconciliation looks. A session can only be completed
/// within 24 hours of its creation (Stripe expires it by then), so 1 covers
/// every session still payable; more reaches back over an outage of the
/// reconciler itself. At most 30: every scheduled run (5 minutes, inside the
/// fulfill function's 15 s) lists the whole window's completed sessions and
/// reads each one's order; a longer look back is a one-off by hand
/// (`tdf-admin orders reconcile --days N`).
fn reconcile_days(keys: &Keys) -> Result<u32, ConfigError> {
    const KEY: &str = "reconcile_days";
    match keys.optional_u64(KEY) {
        Ok(None) => Ok(DEFAULT_RECONCILE_DAYS),
        Ok(Some(n @ 1..=30)) => Ok(n as u32),
        Ok(Some(_)) | Err(_) => Err(ConfigError::invalid(KEY, "must be a whole number of days from 1 to 30")),
    }
}

const DEFAULT_RECONCILE_DAYS: u32 = 7;

fn webhook_tolerance(keys: &Keys) -> Result<Tolerance, ConfigError> {
    let Some(seconds) = keys.optional_u64("webhook_tolerance_seconds")? else {
        return Ok(Tolerance::default());
    };
    u32::try_from(seconds)
        .map_err(|_| "is far too large".to_owned())
        .and_then(|s| Tolerance::from_secs(s).map_err(|e| e.to_string()))
        .map_err(|problem| ConfigError::invalid("webhook_tolerance_seconds", problem))
}

fn locale(keys: &Keys) -> Result<String, ConfigError> {
    let locale = keys.optional_str("locale")?.unwrap_or("auto").to_owned();
    if !STRIPE_LOCALES.contains(&locale.as_str()) {
        let problem = format!("\"{locale}\" is not a Stripe Checkout locale (e.g. auto, en, ja)");
        return Err(ConfigError::invalid("locale", problem));
    }
    Ok(locale)
}

fn payment_method_types(keys: &Keys) -> Result<Option<Vec<String>>, ConfigError> {
    let types = keys.optional_string_list("payment_method_types")?;
    if let Some(types) = &types {
        if types.is_empty() {
            return Err(ConfigError::invalid("payment_method_types", "list at least one type, or leave the key out"));
        }
        if let Some(bad) = types.iter().find(|t| !validate::is_payment_method_type(t)) {
            let problem = format!("\"{bad}\" is not a Stripe payment method type");
            return Err(ConfigError::invalid("payment_method_types", problem));
        }
    }
    Ok(types)
}

fn votekey_format(keys: &Keys) -> Result<VotekeyFormat, ConfigError> {
    let prefix = keys.optional_str("votekey_prefix")?.unwrap_or("");
    let length = match keys.optional_u64("votekey_length")? {
        None => VotekeyFormat::DEFAULT_LENGTH,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    VotekeyFormat::new(prefix, length).map_err(|e| ConfigError::invalid("votekey_prefix/votekey_length", e.to_string()))
}

/// What marks this shop's Checkout Sessions (metadata `tdf_shop`): `shop_id`,
/// default `tdf-tickets`. Fulfil answers only sessions with this mark, so
/// Payment Links or another integration on the same Stripe account get no
/// votekeys; stacks sharing an account set their own. A fixed default, not
/// derived from `event_name`, so fixing a typo there mid-sale orphans nothing.
fn shop_id(keys: &Keys) -> Result<String, ConfigError> {
    const KEY: &str = "shop_id";
    let value = keys.optional_str(KEY)?.unwrap_or(DEFAULT_SHOP_ID).trim();
    if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            KEY,
            "must be 1 to 100 characters on one line (it marks the shop's sessions)",
        ));
    }
    Ok(value.to_owned())
}

fn votekey_source(keys: &Keys) -> Result<VotekeySource, ConfigError> {
    match keys.optional_str("votekey_source")? {
        None | Some("generate") => Ok(VotekeySource::Generate),
        Some("pool") => Ok(VotekeySource::Pool),
        Some(other) => {
            Err(ConfigError::invalid("votekey_source", format!("\"{other}\" is neither \"generate\" nor \"pool\"")))
        }
    }
}

impl EmailSettings {
    fn from_keys(keys: &Keys) -> Result<EmailSettings, ConfigError> {
        let text = |key: &str| keys.optional_str(key).map(|v| v.map(str::to_owned));
        Ok(EmailSettings {
            from: keys.optional_email("email_from")?,
            reply_to: keys.optional_email("email_reply_to")?,
            configuration_set: text("ses_configuration_set")?,
            event_name: text("event_name")?,
            wuhu_url: keys.optional_str("wuhu_url")?.map(|s| HttpsUrl::parse_link("wuhu_url", s)).transpose()?,
            wuhu_register_page: text("wuhu_register_page")?,
            subject: text("email_subject")?,
            intro: text("email_intro")?,
            subject_ja: text("email_subject_ja")?,
            intro_ja: text("email_intro_ja")?,
            subject_cancelled: text("email_subject_cancelled")?,
            intro_cancelled: text("email_intro_cancelled")?,
            subject_cancelled_ja: text("email_subject_cancelled_ja")?,
            intro_cancelled_ja: text("email_intro_cancelled_ja")?,
        })
    }
}

impl fmt::Debug for Config {
    // Hand-written so a stray `{:?}` can never print the secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("stripe_secret_key", &self.stripe_secret_key)
            .field("webhook_secrets", &self.webhook_secrets)
            .field("catalog", &self.catalog)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("locale", &self.locale)
            .field("hold_minutes", &self.hold_minutes)
            .field("site_origin", &self.site_origin)
            .field("refund_returns_capacity", &self.refund_returns_capacity)
            .field("revoke_on_dispute", &self.revoke_on_dispute)
            .finish_non_exhaustive()
    }
}

/// Checkout locales Stripe accepts (`auto` lets Checkout follow the browser).
const STRIPE_LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu",
    "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv",
    "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

impl Config {
    /// Parses and validates the organizer's JSON blob.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax { line: e.line(), column: e.column() })?;
        let Value::Object(map) = value else {
            return Err(ConfigError::NotAnObject);
        };
        let keys = Keys(&map);
        let window = SaleWindow::from_keys(&keys, str::to_owned, SaleWindow::default())?;
        let catalog = catalog(&keys, window)?;
        Ok(Config {
            stripe_secret_key: StripeSecretKey::parse(keys.required_str("stripe_api_secret_key")?)?,
            webhook_secrets: webhook_secrets(keys.required("webhook_signing_secret")?)?,
            webhook_tolerance: webhook_tolerance(&keys)?,
            catalog,
            locale: locale(&keys)?,
            payment_method_types: payment_method_types(&keys)?,
            votekey_format: votekey_format(&keys)?,
            votekey_source: votekey_source(&keys)?,
            email: EmailSettings::from_keys(&keys)?,
            success_url: HttpsUrl::parse("success_url", keys.required_str("success_url")?)?,
            cancel_url: HttpsUrl::parse("cancel_url", keys.required_str("cancel_url")?)?,
            thanks_url: keys.optional_url("thanks_url")?,
            hold_minutes: hold_minutes(&keys)?,
            site_origin: keys
                .optional_str("site_origin")?
                .map(|s| validate::site_origin("site_origin", s))
                .transpose()?,
            refund_returns_capacity: keys.optional_bool("refund_returns_capacity")?.unwrap_or(true),
            revoke_on_dispute: keys.optional_bool("revoke_on_dispute")?.unwrap_or(false),
            shop_id: shop_id(&keys)?,
            reconcile_days: reconcile_days(&keys)?,
        })
    }

    pub fn stripe_secret_key(&self) -> &StripeSecretKey {
        &self.stripe_secret_key
    }
    pub fn webhook_secrets(&self) -> &WebhookSecrets {
        &self.webhook_secrets
    }
    pub fn webhook_tolerance(&self) -> Tolerance {
        self.webhook_tolerance
    }
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    pub fn success_url(&self) -> &HttpsUrl {
        &self.success_url
    }
    pub fn cancel_url(&self) -> &HttpsUrl {
        &self.cancel_url
    }
    /// Where the landing-page fulfillment sends the buyer; the ticket page
    /// (`cancel_url`) when the organizer set none.
    pub fn thanks_url(&self) -> &HttpsUrl {
        self.thanks_url.as_ref().unwrap_or(&self.cancel_url)
    }
    pub fn locale(&self) -> &str {
        &self.locale
    }
    pub fn payment_method_types(&self) -> Option<&[String]> {
        self.payment_method_types.as_deref()
    }
    /// The mark this shop's Checkout Sessions carry (metadata `tdf_shop`).
    pub fn shop_id(&self) -> &str {
        &self.shop_id
    }
    pub fn email(&self) -> &EmailSettings {
        &self.email
    }
    pub fn votekey_format(&self) -> &VotekeyFormat {
        &self.votekey_format
    }
    pub fn votekey_source(&self) -> VotekeySource {
        self.votekey_source
    }
    /// How long a started checkout holds its tickets (default 35).
    pub fn hold_minutes(&self) -> u32 {
        self.hold_minutes
    }
    /// The ticket page's origin for CORS (`https://party.example`), or `*`.
    pub fn site_origin(&self) -> Option<&str> {
        self.site_origin.as_deref()
    }
    /// Whether a full refund gives the ticket's place back to its capacity
    /// (default true).
    pub fn refund_returns_capacity(&self) -> bool {
        self.refund_returns_capacity
    }
    /// Whether a dispute revokes the votekey at once rather than when the
    /// dispute is lost (default false).
    pub fn revoke_on_dispute(&self) -> bool {
        self.revoke_on_dispute
    }
    /// How many days of completed sessions reconciliation checks (default 7).
    pub fn reconcile_days(&self) -> u32 {
        self.reconcile_days
    }
}

fn webhook_secrets(value: &Value) -> Result<WebhookSecrets, ConfigError> {
    const KEY: &str = "webhook_signing_secret";
    let list: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| ConfigError::invalid(KEY, "must be a string or a list of strings"))?,
        _ => return Err(ConfigError::invalid(KEY, "must be a string or a list of strings")),
    };
    WebhookSecrets::new(list).map_err(|e| ConfigError::invalid(KEY, e.to_string()))
}

/// Typed access to the keys of the config object.
pub(crate) struct Keys<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> Keys<'a> {
    /// A key that is absent, `null` or `""` counts as not given.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        match self.0.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }
    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Missing(key.to_owned()))
    }
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, ConfigError> {
        self.optional_str(key)?.ok_or_else(|| ConfigError::Missing(key.to_owned()))
    }
    pub(crate) fn optional_str(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(_) => Err(ConfigError::invalid(key, "must be a string")),
        }
    }
    pub(crate) fn optional_u64(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_u64().map(Some).ok_or_else(|| ConfigError::invalid(key, "must be a whole number"))
            }
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| ConfigError::invalid(key, "must be a whole number"))
            }
            Some(_) => Err(ConfigError::invalid(key, "must be a whole number")),
        }
    }
    /// `true`/`false`, as JSON booleans or as those words in a string.
    pub(crate) fn optional_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ConfigError::invalid(key, "must be true or false")),
        }
    }
    /// A list given as a JSON array of strings or as one comma-separated string.
    pub(crate) fn optional_string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        string_list(key, self.get(key))
    }
    pub(crate) fn optional_url(&self, key: &str) -> Result<Option<HttpsUrl>, ConfigError> {
        self.optional_str(key)?.map(|s| HttpsUrl::parse(key, s)).transpose()
    }
    /// `addr@example.org` or `Name <addr@example.org>`, in a form SES takes.
    fn optional_email(&self, key: &str) -> Result<Option<Mailbox>, ConfigError> {
        let Some(address) = self.optional_str(key)? else { return Ok(None) };
        Mailbox::parse(address).map(Some).map_err(|e| ConfigError::invalid(key, e.to_string()))
    }
}

/// A number of tickets or items in stock: a whole number (or a string of
/// digits) up to a million, which is more than any party sells.
pub(crate) fn count(key: &str, value: &Value) -> Result<u32, ConfigError> {
    let n = match value {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n <= MAX_COUNT => Ok(n),
        _ => Err(ConfigError::invalid(key, format!("must be a whole number from 0 to {MAX_COUNT}"))),
    }
}

const MAX_COUNT: u32 = 1_000_000;

pub(crate) fn string_list(key: &str, value: Option<&Value>) -> Result<Option<Vec<String>>, ConfigError> {
    let items: Vec<String> = match value {
        None => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(|s| s.trim().to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(|| ConfigError::invalid(key, "must be a list of strings"))?,
        Some(_) => return Err(ConfigError::invalid(key, "must be a list of strings or a comma-separated string")),
    };
    Ok(Some(items.into_iter().filter(|s| !s.is_empty()).collect()))
}

#[cfg(test)]
mod tests;
