//! The two emails a buyer can get, rendered to a subject, a plain-text body
//! and an HTML body. Pure: sending is someone else's job.
//!
//! Each email is first written as a small language-specific [`Document`]
//! (what to say), then rendered twice (how to show it), so escaping and
//! layout live in one place and the two bodies cannot drift apart.

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailLanguage {
    #[default]
    English,
    Japanese,
}

impl EmailLanguage {
    /// Stripe reports the Checkout page's locale (`ja`, `en`, `auto`, …);
    /// anything not Japanese gets English.
    pub fn from_stripe_locale(locale: Option<&str>) -> Self {
        let Some(locale) = locale else {
            return Self::English;
        };
        let primary = locale.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ja") {
            Self::Japanese
        } else {
            Self::English
        }
    }

    fn html_lang(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Japanese => "ja",
        }
    }
}

/// A postal address as Stripe Checkout collects it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
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
    pub shipping: Option<&'a ShippingAddress>,
    pub wuhu_url: Option<&'a str>,
    pub subject_override: Option<&'a str>,
    pub intro_override: Option<&'a str>,
}

/// Sent when a delayed payment method (e.g. konbini) finally fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentFailedEmail<'a> {
    pub language: EmailLanguage,
    pub event_name: Option<&'a str>,
    pub buyer_name: Option<&'a str>,
    /// The organizer's ticket page, where the buyer can try again.
    pub retry_url: &'a str,
    pub subject_override: Option<&'a str>,
    pub intro_override: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Always a single line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn render_votekey(email: &VotekeyEmail<'_>) -> RenderedEmail {
    let event = present(email.event_name);
    let buyer = present(email.buyer_name);
    let intro = present(email.intro_override);
    let language = email.language;

    let default_subject = match (language, event) {
        (EmailLanguage::English, Some(event)) => format!("Your votekey for {event}"),
        (EmailLanguage::English, None) => "Your votekey".to_owned(),
        (EmailLanguage::Japanese, Some(event)) => format!("【{event}】投票キーのお知らせ"),
        (EmailLanguage::Japanese, None) => "投票キーのお知らせ".to_owned(),
    };
    let subject = subject_line(email.subject_override, default_subject);

    let mut blocks = vec![greeting(language, buyer)];
    blocks.push(Block::text(intro.map_or_else(
        || match (language, event) {
            (EmailLanguage::English, Some(event)) => {
                format!("Thank you for buying a ticket for {event}!")
            }
            (EmailLanguage::English, None) => "Thank you for buying a ticket!".to_owned(),
            (EmailLanguage::Japanese, Some(event)) => {
                format!("この度は{event}のチケットをお買い上げいただき、誠にありがとうございます。")
            }
            (EmailLanguage::Japanese, None) => {
                "この度はチケットをお買い上げいただき、誠にありがとうございます。".to_owned()
            }
        },
        str::to_owned,
    )));

    blocks.push(Block::Votekey {
        label: match language {
            EmailLanguage::English => "Your votekey:",
            EmailLanguage::Japanese => "あなたの投票キー：",
        }
        .to_owned(),
        votekey: email.votekey.to_owned(),
    });

    let ticket_label = match language {
        EmailLanguage::English => "Ticket",
        EmailLanguage::Japanese => "チケット",
    };
    let mut details = vec![(ticket_label.to_owned(), email.ticket_name.to_owned())];
    details.extend(
        email
            .options
            .iter()
            .map(|(label, value)| ((*label).to_owned(), (*value).to_owned())),
    );
    blocks.push(Block::Details(details));

    if let Some(address) = email.shipping {
        blocks.push(Block::Section {
            heading: match language {
                EmailLanguage::English => "Shipping address",
                EmailLanguage::Japanese => "お届け先",
            }
            .to_owned(),
            lines: address_lines(language, address),
        });
    }

    if let Some(url) = present(email.wuhu_url) {
        blocks.push(Block::Paragraph(match language {
            EmailLanguage::English => vec![
                Inline::Text("Use this votekey to register at ".to_owned()),
                Inline::Url(url.to_owned()),
                Inline::Text(" to vote in the competitions.".to_owned()),
            ],
            EmailLanguage::Japanese => vec![
                Inline::Url(url.to_owned()),
                Inline::Text(
                    " でこの投票キーを使ってユーザー登録すると、コンポの投票に参加できます。"
                        .to_owned(),
                ),
            ],
        }));
    }

    blocks.push(Block::text(match (language, event) {
        (EmailLanguage::English, Some(event)) => format!("See you at {event}!\n{event}"),
        (EmailLanguage::English, None) => "See you at the party!".to_owned(),
        (EmailLanguage::Japanese, Some(event)) => {
            format!("会場でお会いできるのを楽しみにしております。\n{event} 運営")
        }
        (EmailLanguage::Japanese, None) => {
            "会場でお会いできるのを楽しみにしております。".to_owned()
        }
    }));

    Document {
        language,
        subject,
        blocks,
    }
    .render()
}

pub fn render_payment_failed(email: &PaymentFailedEmail<'_>) -> RenderedEmail {
    let event = present(email.event_name);
    let buyer = present(email.buyer_name);
    let intro = present(email.intro_override);
    let language = email.language;

    let default_subject = match (language, event) {
        (EmailLanguage::English, Some(event)) => {
            format!("Your payment for {event} did not go through")
        }
        (EmailLanguage::English, None) => "Your ticket payment did not go through".to_owned(),
        (EmailLanguage::Japanese, Some(event)) => {
            format!("【{event}】お支払いが完了しませんでした")
        }
        (EmailLanguage::Japanese, None) => "お支払いが完了しませんでした".to_owned(),
    };
    let subject = subject_line(email.subject_override, default_subject);

    let mut blocks = vec![greeting(language, buyer)];
    blocks.push(Block::text(intro.map_or_else(
        || match (language, event) {
            (EmailLanguage::English, Some(event)) => format!(
                "Unfortunately the payment for your {event} ticket could not be completed, \
                 so no ticket has been issued."
            ),
            (EmailLanguage::English, None) => {
                "Unfortunately the payment for your ticket could not be completed, \
                 so no ticket has been issued."
                    .to_owned()
            }
            (EmailLanguage::Japanese, Some(event)) => format!(
                "{event}のチケットのお支払いが完了しなかったため、チケットは発行されておりません。"
            ),
            (EmailLanguage::Japanese, None) => {
                "チケットのお支払いが完了しなかったため、チケットは発行されておりません。"
                    .to_owned()
            }
        },
        str::to_owned,
    )));

    blocks.push(Block::Paragraph(match language {
        EmailLanguage::English => vec![
            Inline::Text(
                "If you would still like to come, you can buy a ticket again at ".to_owned(),
            ),
            Inline::Url(email.retry_url.to_owned()),
            Inline::Text(".".to_owned()),
        ],
        EmailLanguage::Japanese => vec![
            Inline::Text(
                "引き続きご参加をご希望の場合は、こちらから改めてお申し込みください：".to_owned(),
            ),
            Inline::Url(email.retry_url.to_owned()),
        ],
    }));

    blocks.push(Block::text(match (language, event) {
        (EmailLanguage::English, Some(event)) => format!("We hope to see you there.\n{event}"),
        (EmailLanguage::English, None) => "We hope to see you there.".to_owned(),
        (EmailLanguage::Japanese, Some(event)) => {
            format!("会場でお会いできるのを楽しみにしております。\n{event} 運営")
        }
        (EmailLanguage::Japanese, None) => {
            "会場でお会いできるのを楽しみにしております。".to_owned()
        }
    }));

    Document {
        language,
        subject,
        blocks,
    }
    .render()
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
    subject_override
        .map(single_line)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| single_line(&default))
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

fn greeting(language: EmailLanguage, buyer: Option<&str>) -> Block {
    Block::text(match (language, buyer) {
        (EmailLanguage::English, Some(name)) => format!("Hi {name},"),
        (EmailLanguage::English, None) => "Hi,".to_owned(),
        (EmailLanguage::Japanese, Some(name)) => format!("{name} 様"),
        (EmailLanguage::Japanese, None) => "お客様".to_owned(),
    })
}

/// Address lines in the order each language's readers expect: Western
/// street-first, Japanese postal-code-first with the recipient last.
fn address_lines(language: EmailLanguage, address: &ShippingAddress) -> Vec<String> {
    let field = |value: &Option<String>| present(value.as_deref()).map(str::to_owned);
    let name = present(Some(&address.name)).map(str::to_owned);
    let lines = match language {
        EmailLanguage::English => {
            let locality = [&address.city, &address.state, &address.postal_code]
                .into_iter()
                .filter_map(field)
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                name,
                field(&address.line1),
                field(&address.line2),
                Some(locality).filter(|l| !l.is_empty()),
                field(&address.country),
            ]
        }
        EmailLanguage::Japanese => {
            let region = [&address.state, &address.city]
                .into_iter()
                .filter_map(field)
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                field(&address.postal_code).map(|code| format!("〒{code}")),
                Some(region).filter(|r| !r.is_empty()),
                field(&address.line1),
                field(&address.line2),
                field(&address.country),
                name.map(|name| format!("{name} 様")),
            ]
        }
    };
    lines.into_iter().flatten().collect()
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

impl Block {
    fn text(text: String) -> Self {
        Self::Paragraph(vec![Inline::Text(text)])
    }
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
const HTML_CARD_STYLE: &str =
    "max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;";
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
        RenderedEmail {
            text: self.render_text(),
            html: self.render_html(),
            subject: self.subject,
        }
    }

    fn render_text(&self) -> String {
        let separator = match self.language {
            EmailLanguage::English => ": ",
            EmailLanguage::Japanese => "：",
        };
        let rendered: Vec<String> = self
            .blocks
            .iter()
            .map(|block| match block {
                Block::Paragraph(inlines) => inlines
                    .iter()
                    .map(|inline| match inline {
                        Inline::Text(text) | Inline::Url(text) => text.as_str(),
                    })
                    .collect(),
                Block::Votekey { label, votekey } => format!("{label}\n\n    {votekey}"),
                Block::Details(rows) => rows
                    .iter()
                    .map(|(label, value)| format!("{label}{separator}{value}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Block::Section { heading, lines } => {
                    let mut section = format!("{heading}{separator}");
                    for line in lines {
                        section.push_str("\n  ");
                        section.push_str(line);
                    }
                    section
                }
            })
            .collect();
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
            lang = self.language.html_lang(),
            title = escape_html(&self.subject),
        );
        for block in &self.blocks {
            match block {
                Block::Paragraph(inlines) => {
                    let content: String = inlines
                        .iter()
                        .map(|inline| match inline {
                            Inline::Text(text) => text_to_html(text),
                            Inline::Url(url) => link_or_text(url),
                        })
                        .collect();
                    let _ = writeln!(html, "<p style=\"{HTML_PARAGRAPH_STYLE}\">{content}</p>");
                }
                Block::Votekey { label, votekey } => {
                    let _ = writeln!(
                        html,
                        "<p style=\"{HTML_PARAGRAPH_STYLE}\">{}</p>\n\
                         <p style=\"{HTML_VOTEKEY_STYLE}\">{}</p>",
                        escape_html(label),
                        escape_html(votekey),
                    );
                }
                Block::Details(rows) => {
                    let _ = writeln!(html, "<table style=\"{HTML_TABLE_STYLE}\">");
                    for (label, value) in rows {
                        let _ = writeln!(
                            html,
                            "<tr><td style=\"{HTML_LABEL_STYLE}\">{}</td>\
                             <td style=\"{HTML_VALUE_STYLE}\">{}</td></tr>",
                            escape_html(label),
                            escape_html(value),
                        );
                    }
                    html.push_str("</table>\n");
                }
                Block::Section { heading, lines } => {
                    let lines: Vec<String> = lines.iter().map(|line| escape_html(line)).collect();
                    let _ = writeln!(
                        html,
                        "<h2 style=\"{HTML_HEADING_STYLE}\">{}</h2>\n\
                         <p style=\"{HTML_PARAGRAPH_STYLE}\">{}</p>",
                        escape_html(heading),
                        lines.join("<br>\n"),
                    );
                }
            }
        }
        html.push_str("</div>\n</body>\n</html>\n");
        html
    }
}

/// Escapes text for use in HTML content and in double- or single-quoted attributes.
pub fn escape_html(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Escaped text with its line breaks kept visible.
fn text_to_html(text: &str) -> String {
    text.lines()
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>\n")
}

/// Only http(s) URLs become links: anything else (`javascript:`, `data:`)
/// could run or spoof something when clicked, so it is shown as plain text.
fn link_or_text(url: &str) -> String {
    let url = url.trim();
    let has_scheme = |scheme: &str| {
        url.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    };
    let is_web_url = has_scheme("https://") || has_scheme("http://");
    let has_odd_characters = url.chars().any(|c| c.is_whitespace() || c.is_control());
    let shown = escape_html(url);
    if is_web_url && !has_odd_characters {
        format!("<a href=\"{shown}\" style=\"{HTML_LINK_STYLE}\">{shown}</a>")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOTEKEY: &str = "TDF-BCDFGHJK";

    fn tokyo_address() -> ShippingAddress {
        ShippingAddress {
            name: "Hanako Yamada".to_owned(),
            line1: Some("1-2-3 Jinnan".to_owned()),
            line2: Some("Demo Building 4F".to_owned()),
            city: Some("Shibuya-ku".to_owned()),
            state: Some("Tokyo".to_owned()),
            postal_code: Some("150-0041".to_owned()),
            country: Some("JP".to_owned()),
        }
    }

    fn votekey_email<'a>(
        language: EmailLanguage,
        options: &'a [(&'a str, &'a str)],
        shipping: Option<&'a ShippingAddress>,
    ) -> VotekeyEmail<'a> {
        VotekeyEmail {
            language,
            event_name: Some("Tokyo Demo Fest 2026"),
            buyer_name: Some("Hanako"),
            votekey: VOTEKEY,
            ticket_name: "Bronze ticket",
            options,
            shipping,
            wuhu_url: Some("https://party.example/wuhu/"),
            subject_override: None,
            intro_override: None,
        }
    }

    fn payment_failed_email(language: EmailLanguage) -> PaymentFailedEmail<'static> {
        PaymentFailedEmail {
            language,
            event_name: Some("Tokyo Demo Fest 2026"),
            buyer_name: Some("Hanako"),
            retry_url: "https://tokyodemofest.jp/tickets",
            subject_override: None,
            intro_override: None,
        }
    }

    fn assert_contains(haystack: &str, needle: &str) {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }

    fn assert_lacks(haystack: &str, needle: &str) {
        assert!(
            !haystack.contains(needle),
            "did not expect {needle:?} in:\n{haystack}"
        );
    }

    #[test]
    fn locale_mapping() {
        let cases = [
            (Some("ja"), EmailLanguage::Japanese),
            (Some("ja-JP"), EmailLanguage::Japanese),
            (Some("ja_JP"), EmailLanguage::Japanese),
            (Some("JA"), EmailLanguage::Japanese),
            (Some("en"), EmailLanguage::English),
            (Some("en-GB"), EmailLanguage::English),
            (Some("auto"), EmailLanguage::English),
            (Some("jam"), EmailLanguage::English),
            (Some(""), EmailLanguage::English),
            (None, EmailLanguage::English),
        ];
        for (locale, expected) in cases {
            assert_eq!(
                EmailLanguage::from_stripe_locale(locale),
                expected,
                "{locale:?}"
            );
        }
    }

    #[test]
    fn votekey_email_has_everything_in_both_languages() {
        let address = tokyo_address();
        let options = [("T-shirt size", "L"), ("Dinner", "Vegetarian")];
        for language in [EmailLanguage::English, EmailLanguage::Japanese] {
            let email = render_votekey(&votekey_email(language, &options, Some(&address)));
            for body in [&email.text, &email.html] {
                for expected in [
                    VOTEKEY,
                    "Bronze ticket",
                    "T-shirt size",
                    "L",
                    "Vegetarian",
                    "Hanako Yamada",
                    "1-2-3 Jinnan",
                    "Demo Building 4F",
                    "Shibuya-ku",
                    "150-0041",
                    "https://party.example/wuhu/",
                    "Tokyo Demo Fest 2026",
                ] {
                    assert_contains(body, expected);
                }
            }
            assert_contains(&email.subject, "Tokyo Demo Fest 2026");
        }
    }

    #[test]
    fn votekey_email_speaks_the_buyers_language() {
        let address = tokyo_address();
        let english = render_votekey(&votekey_email(EmailLanguage::English, &[], Some(&address)));
        let japanese = render_votekey(&votekey_email(EmailLanguage::Japanese, &[], Some(&address)));

        assert_eq!(english.subject, "Your votekey for Tokyo Demo Fest 2026");
        for expected in ["Hi Hanako,", "Ticket: Bronze ticket", "Shipping address"] {
            assert_contains(&english.text, expected);
        }
        assert_contains(&english.html, "<html lang=\"en\">");

        assert_eq!(
            japanese.subject,
            "【Tokyo Demo Fest 2026】投票キーのお知らせ"
        );
        for expected in [
            "Hanako 様",
            "チケット：Bronze ticket",
            "お届け先",
            "〒150-0041",
        ] {
            assert_contains(&japanese.text, expected);
        }
        assert_contains(&japanese.html, "<html lang=\"ja\">");
        for english_word in ["Ticket", "Hi ", "votekey", "Shipping"] {
            assert_lacks(&japanese.text, english_word);
        }
    }

    #[test]
    fn html_is_a_utf8_document_with_a_prominent_monospace_votekey() {
        let email = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
        assert!(email.html.starts_with("<!DOCTYPE html>"), "{}", email.html);
        assert_contains(&email.html, "<meta charset=\"utf-8\">");
        assert!(email.html.trim_end().ends_with("</html>"), "{}", email.html);
        let votekey_line = email
            .html
            .lines()
            .find(|line| line.contains(VOTEKEY))
            .unwrap_or_default();
        assert_contains(votekey_line, "monospace");
        assert_contains(votekey_line, "font-size:32px");
    }

    #[test]
    fn html_escapes_every_interpolated_value() {
        let evil = "<script>alert(1)</script>";
        let address = ShippingAddress {
            name: evil.to_owned(),
            line1: Some(evil.to_owned()),
            ..ShippingAddress::default()
        };
        let options = [(evil, evil)];
        let email = render_votekey(&VotekeyEmail {
            event_name: Some(evil),
            buyer_name: Some(evil),
            ticket_name: evil,
            votekey: evil,
            intro_override: Some(evil),
            ..votekey_email(EmailLanguage::English, &options, Some(&address))
        });
        assert_lacks(&email.html, "<script");
        assert_contains(&email.html, "&lt;script&gt;alert(1)&lt;/script&gt;");
        // The plain-text body is not HTML, so it shows the name as typed.
        assert_contains(&email.text, evil);

        let failed = render_payment_failed(&PaymentFailedEmail {
            buyer_name: Some(evil),
            event_name: Some(evil),
            ..payment_failed_email(EmailLanguage::Japanese)
        });
        assert_lacks(&failed.html, "<script");
        assert_contains(&failed.html, "&lt;script&gt;");
    }

    #[test]
    fn escape_html_handles_all_special_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("東京 plain"), "東京 plain");
    }

    #[test]
    fn no_shipping_block_without_shipping() {
        let english = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
        let japanese = render_votekey(&votekey_email(EmailLanguage::Japanese, &[], None));
        for body in [&english.text, &english.html] {
            assert_lacks(body, "Shipping address");
        }
        for body in [&japanese.text, &japanese.html] {
            assert_lacks(body, "お届け先");
        }
        assert_lacks(&english.html, "<h2");
    }

    #[test]
    fn wuhu_link_only_when_set() {
        let with = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
        assert_contains(
            &with.text,
            "Use this votekey to register at https://party.example/wuhu/",
        );
        assert_contains(&with.html, "<a href=\"https://party.example/wuhu/\"");

        let without = render_votekey(&VotekeyEmail {
            wuhu_url: None,
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        assert_lacks(&without.text, "register at");
        assert_lacks(&without.html, "register at");
        assert_lacks(&without.html, "<a ");

        let blank = render_votekey(&VotekeyEmail {
            wuhu_url: Some("  "),
            ..votekey_email(EmailLanguage::Japanese, &[], None)
        });
        assert_lacks(&blank.html, "<a ");
        assert_lacks(&blank.text, "ユーザー登録");
    }

    #[test]
    fn only_http_urls_become_links() {
        let cases = [
            ("https://example.com/?a=1&b=2", true),
            ("HTTP://example.com", true),
            ("javascript:alert(1)", false),
            ("JaVaScRiPt:alert(1)", false),
            ("data:text/html,<b>x</b>", false),
            ("https://example.com/\" onclick=\"x", false),
            ("//example.com", false),
            ("", false),
        ];
        for (url, is_link) in cases {
            let rendered = link_or_text(url);
            assert_eq!(rendered.contains("<a "), is_link, "{url:?}: {rendered}");
            assert_lacks(&rendered, "\" onclick");
        }
        assert_eq!(
            link_or_text("https://example.com/?a=1&b=2"),
            format!(
                "<a href=\"https://example.com/?a=1&amp;b=2\" style=\"{HTML_LINK_STYLE}\">\
                 https://example.com/?a=1&amp;b=2</a>"
            )
        );
    }

    #[test]
    fn javascript_urls_are_never_links() {
        let email = render_votekey(&VotekeyEmail {
            wuhu_url: Some("javascript:alert(document.cookie)"),
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        assert_lacks(&email.html, "href");
        assert_contains(&email.html, "javascript:alert(document.cookie)");

        let failed = render_payment_failed(&PaymentFailedEmail {
            retry_url: "javascript:alert(1)",
            ..payment_failed_email(EmailLanguage::English)
        });
        assert_lacks(&failed.html, "href");
    }

    #[test]
    fn subject_override_is_used_and_kept_on_one_line() {
        let email = render_votekey(&VotekeyEmail {
            subject_override: Some("Your key\r\nBcc: victim@example.com\n"),
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        assert_eq!(email.subject, "Your key Bcc: victim@example.com");

        let failed = render_payment_failed(&PaymentFailedEmail {
            subject_override: Some("Payment\rproblem"),
            ..payment_failed_email(EmailLanguage::Japanese)
        });
        assert_eq!(failed.subject, "Payment problem");
    }

    #[test]
    fn blank_subject_override_falls_back_to_the_default() {
        let email = render_votekey(&VotekeyEmail {
            subject_override: Some("\r\n "),
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        assert_eq!(email.subject, "Your votekey for Tokyo Demo Fest 2026");
    }

    #[test]
    fn event_name_cannot_break_the_subject_line() {
        for language in [EmailLanguage::English, EmailLanguage::Japanese] {
            let email = render_votekey(&VotekeyEmail {
                event_name: Some("TDF\r\nBcc: victim@example.com"),
                ..votekey_email(language, &[], None)
            });
            assert_lacks(&email.subject, "\r");
            assert_lacks(&email.subject, "\n");
            assert_contains(&email.subject, "TDF Bcc: victim@example.com");
        }
    }

    #[test]
    fn subject_without_event_name_is_generic() {
        let english = render_votekey(&VotekeyEmail {
            event_name: None,
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        let japanese = render_payment_failed(&PaymentFailedEmail {
            event_name: Some(" "),
            ..payment_failed_email(EmailLanguage::Japanese)
        });
        assert_eq!(english.subject, "Your votekey");
        assert_eq!(japanese.subject, "お支払いが完了しませんでした");
    }

    #[test]
    fn intro_override_replaces_the_default_intro() {
        let default = render_votekey(&votekey_email(EmailLanguage::English, &[], None));
        assert_contains(&default.text, "Thank you for buying a ticket");

        let email = render_votekey(&VotekeyEmail {
            intro_override: Some("Thanks for supporting the party!\nDoors open at 10:00."),
            ..votekey_email(EmailLanguage::English, &[], None)
        });
        assert_contains(
            &email.text,
            "Thanks for supporting the party!\nDoors open at 10:00.",
        );
        assert_contains(
            &email.html,
            "Thanks for supporting the party!<br>\nDoors open at 10:00.",
        );
        assert_lacks(&email.text, "Thank you for buying a ticket");

        let failed = render_payment_failed(&PaymentFailedEmail {
            intro_override: Some("カスタム文面です。"),
            ..payment_failed_email(EmailLanguage::Japanese)
        });
        assert_contains(&failed.text, "カスタム文面です。");
        assert_lacks(&failed.text, "チケットは発行されておりません");
    }

    #[test]
    fn greeting_uses_the_name_when_known() {
        let cases = [
            (EmailLanguage::English, Some("Hanako"), "Hi Hanako,"),
            (EmailLanguage::English, None, "Hi,"),
            (EmailLanguage::Japanese, Some("山田 花子"), "山田 花子 様"),
            (EmailLanguage::Japanese, None, "お客様"),
        ];
        for (language, buyer_name, expected) in cases {
            let email = render_votekey(&VotekeyEmail {
                buyer_name,
                ..votekey_email(language, &[], None)
            });
            assert!(email.text.starts_with(expected), "{}", email.text);
        }
    }

    #[test]
    fn payment_failed_email_links_to_the_ticket_page() {
        for language in [EmailLanguage::English, EmailLanguage::Japanese] {
            let email = render_payment_failed(&payment_failed_email(language));
            assert_contains(&email.subject, "Tokyo Demo Fest 2026");
            assert_contains(&email.text, "https://tokyodemofest.jp/tickets");
            assert_contains(&email.html, "<a href=\"https://tokyodemofest.jp/tickets\"");
            assert_contains(&email.html, "<meta charset=\"utf-8\">");
        }
        let japanese = render_payment_failed(&payment_failed_email(EmailLanguage::Japanese));
        assert_eq!(
            japanese.subject,
            "【Tokyo Demo Fest 2026】お支払いが完了しませんでした"
        );
        assert_contains(&japanese.text, "Hanako 様");
    }

    #[test]
    fn address_lines_follow_each_languages_order() {
        let address = tokyo_address();
        assert_eq!(
            address_lines(EmailLanguage::English, &address),
            [
                "Hanako Yamada",
                "1-2-3 Jinnan",
                "Demo Building 4F",
                "Shibuya-ku Tokyo 150-0041",
                "JP"
            ]
        );
        assert_eq!(
            address_lines(EmailLanguage::Japanese, &address),
            [
                "〒150-0041",
                "Tokyo Shibuya-ku",
                "1-2-3 Jinnan",
                "Demo Building 4F",
                "JP",
                "Hanako Yamada 様"
            ]
        );
        let sparse = ShippingAddress {
            name: "Only Name".to_owned(),
            line2: Some("  ".to_owned()),
            ..ShippingAddress::default()
        };
        assert_eq!(
            address_lines(EmailLanguage::English, &sparse),
            ["Only Name"]
        );
    }
}
