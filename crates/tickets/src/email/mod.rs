//! The emails a buyer can get, rendered to a subject, a plain-text body
//! and an HTML body. Pure: sending is someone else's job.
//!
//! Each email is first written as a small language-specific [`Document`]
//! (what to say), then rendered twice (how to show it), so escaping and
//! layout live in one place and the two bodies cannot drift apart. All the
//! words of a language live in its own file ([`en`], [`ja`]) behind the
//! [`Wording`] trait: adding a language is a file, a variant of
//! [`EmailLanguage`] and its entries in `ALL` and `wording`.

mod en;
mod ja;
#[cfg(test)]
mod tests;
mod wuhu;

pub use wuhu::{DEFAULT_REGISTER_PAGE as DEFAULT_WUHU_REGISTER_PAGE, register_url as wuhu_register_url};

use std::fmt::Write as _;

use crate::stripe::PostalAddress;
use crate::web::escape_html;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailLanguage {
    #[default]
    English,
    Japanese,
}

impl EmailLanguage {
    const ALL: [Self; 2] = [Self::English, Self::Japanese];

    /// Stripe reports the Checkout page's locale (`ja`, `en`, `auto`, …);
    /// a language we have no wording for gets English.
    pub fn from_stripe_locale(locale: Option<&str>) -> Self {
        let primary = locale.unwrap_or_default().trim().split(['-', '_']).next().unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|language| primary.eq_ignore_ascii_case(language.wording().language_tag()))
            .unwrap_or_default()
    }

    fn wording(self) -> &'static dyn Wording {
        match self {
            Self::English => &en::English,
            Self::Japanese => &ja::Japanese,
        }
    }
}

/// Everything one language's emails say. `event` and `buyer` are already
/// trimmed and `None` when blank.
trait Wording: Sync {
    /// BCP 47 primary subtag: the HTML `lang`, and how Stripe's locale starts.
    fn language_tag(&self) -> &'static str;
    /// Between a label and its value, e.g. "Ticket: Bronze ticket".
    fn label_separator(&self) -> &'static str;
    fn greeting(&self, buyer: Option<&str>) -> String;

    fn votekey_subject(&self, event: Option<&str>) -> String;
    fn votekey_intro(&self, event: Option<&str>) -> String;
    fn votekey_label(&self) -> &'static str;
    fn ticket_label(&self) -> &'static str;
    fn shipping_heading(&self) -> &'static str;
    /// Around the link to Wuhu's (the party voting system's) registration
    /// form with the votekey filled in.
    fn wuhu_sentence(&self) -> UrlSentence;
    fn votekey_closing(&self, event: Option<&str>) -> String;

    fn payment_failed_subject(&self, event: Option<&str>) -> String;
    fn payment_failed_intro(&self, event: Option<&str>) -> String;
    /// Around the ticket page's URL.
    fn retry_sentence(&self) -> UrlSentence;
    fn payment_failed_closing(&self, event: Option<&str>) -> String;

    fn cancellation_subject(&self, event: Option<&str>) -> String;
    fn cancellation_intro(&self, event: Option<&str>) -> String;
    /// Why the ticket is cancelled: the refund, with its amount
    /// (already formatted, e.g. "¥3,000") and the ticket when known.
    fn cancellation_reason(&self, refunded: Option<&str>, ticket: Option<&str>) -> String;
    /// That the (revoked) votekey no longer works.
    fn revoked_votekey(&self, votekey: &str) -> String;
    /// Where to turn if the cancellation is a mistake.
    fn cancellation_contact(&self) -> &'static str;
    fn cancellation_closing(&self, event: Option<&str>) -> String;

    /// The address in the order this language's readers expect; `None`
    /// lines are left out.
    fn address_lines(&self, address: &AddressFields<'_>) -> Vec<Option<String>>;
}

/// A sentence with a URL in it: the text on either side.
struct UrlSentence {
    before: &'static str,
    after: &'static str,
}

/// A shipping address with blank fields as `None` and the rest trimmed.
struct AddressFields<'a> {
    recipient: Option<&'a str>,
    line1: Option<&'a str>,
    line2: Option<&'a str>,
    city: Option<&'a str>,
    state: Option<&'a str>,
    postal_code: Option<&'a str>,
    country: Option<&'a str>,
}

/// Sent once a ticket is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VotekeyEmail<'a> {
    pub language: EmailLanguage,
    /// The organizer's name for the event, e.g. "Tokyo Demo Fest 2026".
    pub event_name: Option<&'a str>,
    pub buyer_name: Option<&'a str>,
    pub votekey: &'a str,
    /// e.g. "Bronze ticket".
    pub ticket_name: &'a str,
    /// Label and chosen value, e.g. ("T-shirt size", "L").
    pub options: &'a [(&'a str, &'a str)],
    /// Recipient name and address, as Stripe Checkout collected them.
    pub shipping: Option<(&'a str, &'a PostalAddress)>,
    /// The Wuhu party site; the email links to its registration form with
    /// the votekey filled in ([`wuhu_register_url`]).
    pub wuhu_url: Option<&'a str>,
    /// The Wuhu page with the registration form when `wuhu_url` names none;
    /// [`DEFAULT_WUHU_REGISTER_PAGE`] when `None` or blank.
    pub wuhu_register_page: Option<&'a str>,
    pub subject_override: Option<&'a str>,
    pub intro_override: Option<&'a str>,
}

/// Sent when a delayed payment method (e.g. konbini) finally fails.
/// It has no buyer name on purpose: anyone can start a checkout with any
/// address and "name", so the name typed on Stripe's page must not let a
/// stranger choose words our sender identity mails to that address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentFailedEmail<'a> {
    pub language: EmailLanguage,
    pub event_name: Option<&'a str>,
    /// The organizer's ticket page, where the buyer can try again.
    pub retry_url: &'a str,
    pub subject_override: Option<&'a str>,
    pub intro_override: Option<&'a str>,
}

/// Sent once when a ticket is cancelled because its payment was refunded in
/// full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancellationEmail<'a> {
    pub language: EmailLanguage,
    pub event_name: Option<&'a str>,
    pub buyer_name: Option<&'a str>,
    /// What was refunded; left out of the text when `None`.
    pub refunded: Option<Money<'a>>,
    /// What was cancelled, e.g. "Bronze ticket"; left out when `None`.
    pub ticket: Option<&'a str>,
    /// The revoked votekey, if one had been issued.
    pub votekey: Option<&'a str>,
    /// The organizer's ticket page, where the buyer can buy again.
    pub ticket_page_url: &'a str,
    pub subject_override: Option<&'a str>,
    pub intro_override: Option<&'a str>,
}

/// An amount as Stripe counts it: in the currency's smallest unit (cents,
/// but whole yen) with its ISO code, e.g. `(3000, "jpy")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money<'a> {
    pub amount: i64,
    pub currency: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Always a single line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn render_votekey(email: &VotekeyEmail<'_>) -> RenderedEmail {
    let wording = email.language.wording();
    let event = present(email.event_name);

    let details = std::iter::once((wording.ticket_label(), email.ticket_name))
        .chain(email.options.iter().copied())
        .map(|(label, value)| (label.to_owned(), value.to_owned()))
        .collect();
    let mut body = vec![
        Block::Votekey { label: wording.votekey_label().to_owned(), votekey: email.votekey.to_owned() },
        Block::Details(details),
    ];
    if let Some((recipient, address)) = email.shipping {
        body.push(Block::Section {
            heading: wording.shipping_heading().to_owned(),
            lines: address_lines(email.language, recipient, address),
        });
    }
    if let Some(url) = present(email.wuhu_url) {
        let page = present(email.wuhu_register_page).unwrap_or(DEFAULT_WUHU_REGISTER_PAGE);
        body.push(Block::with_url(wording.wuhu_sentence(), &wuhu_register_url(url, page, email.votekey)));
    }

    Letter {
        language: email.language,
        buyer_name: email.buyer_name,
        subject_override: email.subject_override,
        intro_override: email.intro_override,
        default_subject: wording.votekey_subject(event),
        default_intro: wording.votekey_intro(event),
        body,
        closing: wording.votekey_closing(event),
    }
    .render()
}

pub fn render_payment_failed(email: &PaymentFailedEmail<'_>) -> RenderedEmail {
    let wording = email.language.wording();
    let event = present(email.event_name);
    Letter {
        language: email.language,
        buyer_name: None,
        subject_override: email.subject_override,
        intro_override: email.intro_override,
        default_subject: wording.payment_failed_subject(event),
        default_intro: wording.payment_failed_intro(event),
        body: vec![Block::with_url(wording.retry_sentence(), email.retry_url)],
        closing: wording.payment_failed_closing(event),
    }
    .render()
}

pub fn render_cancellation(email: &CancellationEmail<'_>) -> RenderedEmail {
    let wording = email.language.wording();
    let event = present(email.event_name);
    let refunded = email.refunded.and_then(format_money);
    let mut body = vec![Block::text(wording.cancellation_reason(refunded.as_deref(), present(email.ticket)))];
    if let Some(votekey) = present(email.votekey) {
        body.push(Block::text(wording.revoked_votekey(votekey)));
    }
    body.push(Block::text(wording.cancellation_contact().to_owned()));
    body.push(Block::with_url(wording.retry_sentence(), email.ticket_page_url));
    Letter {
        language: email.language,
        buyer_name: email.buyer_name,
        subject_override: email.subject_override,
        intro_override: email.intro_override,
        default_subject: wording.cancellation_subject(event),
        default_intro: wording.cancellation_intro(event),
        body,
        closing: wording.cancellation_closing(event),
    }
    .render()
}

/// The shape every email shares: greeting, intro, the email's own blocks,
/// closing. The organizer's overrides win over the language's defaults.
struct Letter<'a> {
    language: EmailLanguage,
    buyer_name: Option<&'a str>,
    subject_override: Option<&'a str>,
    intro_override: Option<&'a str>,
    default_subject: String,
    default_intro: String,
    body: Vec<Block>,
    closing: String,
}

impl Letter<'_> {
    fn render(self) -> RenderedEmail {
        let greeting = self.language.wording().greeting(present(self.buyer_name));
        let intro = present(self.intro_override).map_or(self.default_intro, str::to_owned);
        let mut blocks = vec![Block::text(greeting), Block::text(intro)];
        blocks.extend(self.body);
        blocks.push(Block::text(self.closing));
        Document { language: self.language, subject: subject_line(self.subject_override, self.default_subject), blocks }
            .render()
    }
}

/// `None` for absent, empty or whitespace-only values, so a blank config
/// field falls back to the default text instead of rendering a hole.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The override if it has any content left once made single-line, else the
/// default. Everything goes through [`single_line`]: the event name, too,
/// comes from config and a newline in a header would inject more headers.
fn subject_line(subject_override: Option<&str>, default: String) -> String {
    subject_override.map(single_line).filter(|s| !s.is_empty()).unwrap_or_else(|| single_line(&default))
}

/// Replaces CR, LF and every other control or line-separator character with a
/// space, then collapses runs of whitespace.
fn single_line(value: &str) -> String {
    value
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn address_lines(language: EmailLanguage, recipient: &str, address: &PostalAddress) -> Vec<String> {
    let fields = AddressFields {
        recipient: present(Some(recipient)),
        line1: present(address.line1.as_deref()),
        line2: present(address.line2.as_deref()),
        city: present(address.city.as_deref()),
        state: present(address.state.as_deref()),
        postal_code: present(address.postal_code.as_deref()),
        country: present(address.country.as_deref()),
    };
    language.wording().address_lines(&fields).into_iter().flatten().collect()
}

/// Currencies Stripe counts in whole units, and in thousandths.
const ZERO_DECIMAL_CURRENCIES: &[&str] =
    &["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];
const THREE_DECIMAL_CURRENCIES: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// `¥3,000`, `$12.50`, `€9.00`, `12.50 SEK`; `None` without a currency code.
/// One style for every language: these symbols read the same in both.
fn format_money(money: Money<'_>) -> Option<String> {
    let currency = present(Some(money.currency))?.to_ascii_lowercase();
    let decimals = if ZERO_DECIMAL_CURRENCIES.contains(&currency.as_str()) {
        0
    } else if THREE_DECIMAL_CURRENCIES.contains(&currency.as_str()) {
        3
    } else {
        2
    };
    let magnitude = money.amount.unsigned_abs();
    let scale = 10u64.pow(decimals);
    let digits = (magnitude / scale).to_string();
    let mut number = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            number.push(',');
        }
        number.push(digit);
    }
    if decimals > 0 {
        let _ = write!(number, ".{:0width$}", magnitude % scale, width = decimals as usize);
    }
    let sign = if money.amount < 0 { "-" } else { "" };
    Some(match currency.as_str() {
        "jpy" => format!("{sign}¥{number}"),
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        other => format!("{sign}{number} {}", other.to_ascii_uppercase()),
    })
}

/// The fields that are there, space-separated; `None` if none is.
fn joined(fields: &[Option<&str>]) -> Option<String> {
    let words: Vec<&str> = fields.iter().flatten().copied().collect();
    Some(words.join(" ")).filter(|line| !line.is_empty())
}

/// What an email says, independent of how it is shown.
struct Document {
    language: EmailLanguage,
    subject: String,
    blocks: Vec<Block>,
}

enum Block {
    /// May contain newlines: kept in text, `<br>` in HTML.
    Paragraph(Vec<Inline>),
    Votekey {
        label: String,
        votekey: String,
    },
    /// Label/value rows: the ticket and its options.
    Details(Vec<(String, String)>),
    Section {
        heading: String,
        lines: Vec<String>,
    },
}

enum Inline {
    Text(String),
    /// Shown as a link in HTML only if it is http(s).
    Url(String),
}

const HTML_BODY_STYLE: &str = "margin:0;padding:24px;background:#f4f4f5;color:#18181b;\
    font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,\
    'Hiragino Sans','Hiragino Kaku Gothic ProN',Meiryo,sans-serif;\
    font-size:16px;line-height:1.6;";
const HTML_CARD_STYLE: &str = "max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;";
const HTML_PARAGRAPH_STYLE: &str = "margin:0 0 16px;";
const HTML_VOTEKEY_STYLE: &str = "margin:0 0 24px;padding:16px;background:#f4f4f5;\
    border-radius:6px;text-align:center;font-family:ui-monospace,Menlo,Consolas,monospace;\
    font-size:32px;font-weight:bold;letter-spacing:4px;";
const HTML_TABLE_STYLE: &str = "margin:0 0 16px;border-collapse:collapse;";
const HTML_LABEL_STYLE: &str = "padding:4px 16px 4px 0;color:#52525b;vertical-align:top;";
const HTML_VALUE_STYLE: &str = "padding:4px 0;vertical-align:top;";
const HTML_HEADING_STYLE: &str = "margin:0 0 8px;font-size:16px;";
const HTML_LINK_STYLE: &str = "color:#2563eb;";

impl Document {
    fn render(self) -> RenderedEmail {
        RenderedEmail { text: self.render_text(), html: self.render_html(), subject: self.subject }
    }

    fn render_text(&self) -> String {
        let separator = self.language.wording().label_separator();
        let rendered: Vec<String> = self.blocks.iter().map(|block| block.to_text(separator)).collect();
        let mut text = rendered.join("\n\n");
        text.push('\n');
        text
    }

    fn render_html(&self) -> String {
        let mut html = String::new();
        // `write!` into a String cannot fail; the results are ignored for that reason.
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n</head>\n<body style=\"{HTML_BODY_STYLE}\">\n\
             <div style=\"{HTML_CARD_STYLE}\">\n",
            lang = self.language.wording().language_tag(),
            title = escape_html(&self.subject),
        );
        for block in &self.blocks {
            block.write_html(&mut html);
        }
        html.push_str("</div>\n</body>\n</html>\n");
        html
    }
}

impl Block {
    fn text(text: String) -> Self {
        Self::Paragraph(vec![Inline::Text(text)])
    }

    fn with_url(sentence: UrlSentence, url: &str) -> Self {
        Self::Paragraph(vec![
            Inline::Text(sentence.before.to_owned()),
            Inline::Url(url.to_owned()),
            Inline::Text(sentence.after.to_owned()),
        ])
    }

    fn to_text(&self, separator: &str) -> String {
        match self {
            Self::Paragraph(inlines) => inlines.iter().map(Inline::as_str).collect(),
            Self::Votekey { label, votekey } => format!("{label}\n\n    {votekey}"),
            Self::Details(rows) => {
                rows.iter().map(|(label, value)| format!("{label}{separator}{value}")).collect::<Vec<_>>().join("\n")
            }
            Self::Section { heading, lines } => {
                let mut section = format!("{heading}{separator}");
                for line in lines {
                    section.push_str("\n  ");
                    section.push_str(line);
                }
                section
            }
        }
    }

    fn write_html(&self, html: &mut String) {
        // `write!` into a String cannot fail; the results are ignored for that reason.
        match self {
            Self::Paragraph(inlines) => {
                let content: String = inlines.iter().map(Inline::to_html).collect();
                let _ = writeln!(html, "<p style=\"{HTML_PARAGRAPH_STYLE}\">{content}</p>");
            }
            Self::Votekey { label, votekey } => {
                let _ = writeln!(
                    html,
                    "<p style=\"{HTML_PARAGRAPH_STYLE}\">{}</p>\n<p style=\"{HTML_VOTEKEY_STYLE}\">{}</p>",
                    escape_html(label),
                    escape_html(votekey),
                );
            }
            Self::Details(rows) => {
                let _ = writeln!(html, "<table style=\"{HTML_TABLE_STYLE}\">");
                for (label, value) in rows {
                    let _ = writeln!(
                        html,
                        "<tr><td style=\"{HTML_LABEL_STYLE}\">{}</td><td style=\"{HTML_VALUE_STYLE}\">{}</td></tr>",
                        escape_html(label),
                        escape_html(value),
                    );
                }
                html.push_str("</table>\n");
            }
            Self::Section { heading, lines } => {
                let lines: Vec<String> = lines.iter().map(|line| escape_html(line)).collect();
                let _ = writeln!(
                    html,
                    "<h2 style=\"{HTML_HEADING_STYLE}\">{}</h2>\n<p style=\"{HTML_PARAGRAPH_STYLE}\">{}</p>",
                    escape_html(heading),
                    lines.join("<br>\n"),
                );
            }
        }
    }
}

impl Inline {
    fn as_str(&self) -> &str {
        match self {
            Self::Text(text) | Self::Url(text) => text,
        }
    }

    fn to_html(&self) -> String {
        match self {
            Self::Text(text) => text_to_html(text),
            Self::Url(url) => link_or_text(url),
        }
    }
}

/// Escaped text with its line breaks kept visible.
fn text_to_html(text: &str) -> String {
    text.lines().map(escape_html).collect::<Vec<_>>().join("<br>\n")
}

/// Only http(s) URLs become links: anything else (`javascript:`, `data:`)
/// could run or spoof something when clicked, so it is shown as plain text.
fn link_or_text(url: &str) -> String {
    let url = url.trim();
    let has_scheme = |scheme: &str| url.get(..scheme.len()).is_some_and(|start| start.eq_ignore_ascii_case(scheme));
    let is_web_url = has_scheme("https://") || has_scheme("http://");
    let has_odd_characters = url.chars().any(|c| c.is_whitespace() || c.is_control());
    let shown = escape_html(url);
    if is_web_url && !has_odd_characters {
        format!("<a href=\"{shown}\" style=\"{HTML_LINK_STYLE}\">{shown}</a>")
    } else {
        shown
    }
}
