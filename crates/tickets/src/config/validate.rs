//! Small validated value types of the config.

use super::ConfigError;
use std::fmt;
use std::str::FromStr;

fn is_stripe_id_body(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Stripe Price ID (`price_…`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PriceId(String);

impl PriceId {
    pub fn parse(key: &str, s: &str) -> Result<PriceId, ConfigError> {
        match s.strip_prefix("price_") {
            Some(body) if is_stripe_id_body(body) => Ok(PriceId(s.to_owned())),
            _ => Err(ConfigError::invalid(key, format!("\"{s}\" is not a Stripe price ID (price_…)"))),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Stripe Shipping Rate ID (`shr_…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingRateId(String);

impl ShippingRateId {
    pub fn parse(key: &str, s: &str) -> Result<ShippingRateId, ConfigError> {
        match s.strip_prefix("shr_") {
            Some(body) if is_stripe_id_body(body) => Ok(ShippingRateId(s.to_owned())),
            _ => Err(ConfigError::invalid(key, format!("\"{s}\" is not a Stripe shipping rate ID (shr_…)"))),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Countries Stripe Checkout refuses in `shipping_address_collection.allowed_countries`.
const UNSUPPORTED_SHIPPING_COUNTRIES: &[&str] =
    &["AS", "CX", "CC", "CU", "HM", "IR", "KP", "MH", "FM", "NF", "MP", "PW", "SY", "UM", "VI"];

/// An ISO 3166-1 alpha-2 country Stripe Checkout can collect a shipping address for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(key: &str, s: &str) -> Result<CountryCode, ConfigError> {
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::invalid(key, format!("\"{s}\" is not a two-letter upper-case country code")));
        }
        if UNSUPPORTED_SHIPPING_COUNTRIES.contains(&s) {
            return Err(ConfigError::invalid(key, format!("Stripe Checkout cannot ship to \"{s}\"")));
        }
        // The generated API enum is Stripe's own list of allowed countries.
        use stripe_checkout::checkout_session::CreateCheckoutSessionShippingAddressCollectionAllowedCountries as Allowed;
        if matches!(Allowed::from_str(s), Ok(Allowed::Unknown(_))) {
            return Err(ConfigError::invalid(key, format!("\"{s}\" is not a country Stripe Checkout ships to")));
        }
        Ok(CountryCode(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_payment_method_type(s: &str) -> bool {
    use stripe_checkout::checkout_session::CreateCheckoutSessionAllowedPaymentMethodTypes as Types;
    !matches!(Types::from_str(s), Ok(Types::Unknown(_)))
}

/// An absolute `https://` URL (`http://` only for localhost, for local runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    pub fn parse(key: &str, s: &str) -> Result<HttpsUrl, ConfigError> {
        Self::parse_inner(key, s, false)
    }

    /// For links shown to people only (the Wuhu voting site usually runs on
    /// the party network over plain http).
    pub fn parse_link(key: &str, s: &str) -> Result<HttpsUrl, ConfigError> {
        Self::parse_inner(key, s, true)
    }

    fn parse_inner(key: &str, s: &str, allow_http: bool) -> Result<HttpsUrl, ConfigError> {
        let invalid = || ConfigError::invalid(key, format!("\"{s}\" is not an absolute https:// URL"));
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(invalid)?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.rsplit_once('@') {
            Some(_) => return Err(invalid()), // credentials in a URL are never wanted here
            None => authority,
        };
        let hostname = if host.starts_with('[') {
            host.split_once(']').map(|(h, _)| &h[1..]).ok_or_else(invalid)?
        } else {
            host.split(':').next().unwrap_or_default()
        };
        if hostname.is_empty() {
            return Err(invalid());
        }
        let local = matches!(hostname, "localhost" | "127.0.0.1" | "::1");
        match scheme {
            "https" => Ok(HttpsUrl(s.to_owned())),
            "http" if local || allow_http => Ok(HttpsUrl(s.to_owned())),
            "http" => Err(ConfigError::invalid(key, format!("\"{s}\" must use https:// (http:// only for localhost)"))),
            _ => Err(invalid()),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The organizer's ticket page origin, for CORS: `*`, or `scheme://host[:port]`
/// written the way a browser sends it in `Origin` (lower-case, no default port),
/// so a plain string comparison matches.
pub(crate) fn site_origin(key: &str, s: &str) -> Result<String, ConfigError> {
    if s == "*" {
        return Ok(s.to_owned());
    }
    let invalid = || {
        let problem = format!("\"{s}\" is not an origin: http(s)://host[:port] with no path, query or fragment, or *");
        ConfigError::invalid(key, problem)
    };
    let lower = s.strip_suffix('/').unwrap_or(s).to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://").ok_or_else(invalid)?;
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').ok_or_else(invalid)?,
        None => authority.find(':').map_or((authority, ""), |i| authority.split_at(i)),
    };
    let host_ok = if authority.starts_with('[') {
        host.contains(':') && host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(p) => p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0),
    };
    if !matches!(scheme, "http" | "https") || !host_ok || !port_ok {
        return Err(invalid());
    }
    // Browsers leave the scheme's default port out of `Origin`.
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    Ok(if port == default_port { lower[..lower.len() - port.len()].to_owned() } else { lower })
}

/// The Stripe secret (`sk_…`) or restricted (`rk_…`) API key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

impl StripeSecretKey {
    pub fn parse(s: &str) -> Result<StripeSecretKey, ConfigError> {
        const KEY: &str = "stripe_api_secret_key";
        let body = s.strip_prefix("sk_").or_else(|| s.strip_prefix("rk_"));
        match body {
            Some(body) if is_stripe_id_body(body) => Ok(StripeSecretKey(s.to_owned())),
            // Deliberately no value in the message: this is a secret.
            _ => Err(ConfigError::invalid(KEY, "must be a Stripe secret key (sk_…) or restricted key (rk_…)")),
        }
    }
    /// The key itself, for the Stripe client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Test mode keys (`sk_test_…`) never move real money.
    pub fn is_test_mode(&self) -> bool {
        self.0[3..].starts_with("test_")
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.is_test_mode() { "test" } else { "live" };
        write!(f, "StripeSecretKey({mode}, redacted)")
    }
}
