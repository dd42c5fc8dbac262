//! The prices the fake knows, and amounts as Checkout shows them.

/// A price the fake knows: its amount in the currency's smallest unit.
#[derive(Clone, Debug)]
pub struct FakePrice {
    pub id: String,
    pub name: String,
    pub unit_amount: i64,
    pub currency: String,
}

impl FakePrice {
    pub fn new(id: &str, name: &str, unit_amount: i64, currency: &str) -> FakePrice {
        FakePrice { id: id.into(), name: name.into(), unit_amount, currency: currency.into() }
    }
}

/// The prices and shipping rate of `config.example.json` (the TDF catalog), in yen.
pub fn example_prices() -> Vec<FakePrice> {
    vec![
        FakePrice::new("price_1TdfVisitorTicket", "Visitor ticket", 3000, "jpy"),
        FakePrice::new("price_1TdfBronzeTicket", "Bronze ticket", 10000, "jpy"),
        FakePrice::new("price_1TdfTshirtS", "T-shirt (S)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtM", "T-shirt (M)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtL", "T-shirt (L)", 2500, "jpy"),
        FakePrice::new("price_1TdfTshirtXL", "T-shirt (XL)", 2500, "jpy"),
    ]
}

/// Shipping rates the fake knows: id → amount (same currency as the items).
pub fn example_shipping_rates() -> Vec<(String, i64)> {
    vec![("shr_1TdfTshirtShipping".into(), 1500)]
}

/// Currencies Stripe counts in whole units.
const ZERO_DECIMAL: &[&str] =
    &["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// `¥14,000`, `$12.50`, `12.50 SEK`.
pub fn format_amount(amount: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let zero_decimal = ZERO_DECIMAL.contains(&currency.as_str());
    let (whole, cents) =
        if zero_decimal { (amount.abs(), None) } else { (amount.abs() / 100, Some(amount.abs() % 100)) };
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(c) = cents {
        grouped.push_str(&format!(".{c:02}"));
    }
    let sign = if amount < 0 { "-" } else { "" };
    match currency.as_str() {
        "jpy" => format!("{sign}¥{grouped}"),
        "usd" => format!("{sign}${grouped}"),
        "eur" => format!("{sign}€{grouped}"),
        "gbp" => format!("{sign}£{grouped}"),
        other => format!("{sign}{grouped} {}", other.to_ascii_uppercase()),
    }
}
