//! What a visitor reads when checkout does not redirect: every refusal in
//! English and Japanese.

use super::CheckoutError;
use crate::config::SaleClosed;
use crate::inventory::{CounterKey, Counts};
use crate::lang::Lang;
use crate::order::{OrderError, TicketOrder};

/// What is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Full {
    /// The ticket (its own capacity or its capacity group's), by name.
    Ticket(String),
    /// An option choice's stock: the option's label and the choice's.
    Choice { option: String, choice: String },
}

/// A sold-out answer: what is full, and whether places may come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldOut {
    pub full: Full,
    /// Places of the full counter in open checkouts.
    pub held: u32,
    /// When every open checkout will have been paid or given back.
    pub held_until: Option<i64>,
}

impl SoldOut {
    pub(super) fn new(order: &TicketOrder<'_>, counter: &CounterKey, counts: &Counts) -> SoldOut {
        let choice =
            order.choices().iter().find(|(group, choice)| *counter == CounterKey::stock(group.field(), choice.value()));
        let full = match choice {
            Some((group, choice)) => {
                Full::Choice { option: group.label().to_owned(), choice: choice.label().to_owned() }
            }
            None => Full::Ticket(order.ticket().name().to_owned()),
        };
        SoldOut { full, held: counts.held, held_until: counts.held_until.filter(|_| counts.held > 0) }
    }

    fn paragraphs(&self, lang: Lang, now: i64) -> Vec<String> {
        let first = match (&self.full, lang) {
            (Full::Ticket(name), Lang::En) => format!("{name}: sold out."),
            (Full::Ticket(name), Lang::Ja) => format!("{name}は売り切れです。"),
            (Full::Choice { option, choice }, Lang::En) => {
                format!("{option} {choice} is sold out. Please choose another {option}.")
            }
            (Full::Choice { option, choice }, Lang::Ja) => {
                format!("{option}「{choice}」は売り切れです。ほかの{option}をお選びください。")
            }
        };
        let second = match self.held_until {
            Some(until) if self.held > 0 => {
                // Stripe expires the session at the hold's end and tells us at once; a minute's margin.
                let minutes = ((until - now).max(0) + 59) / 60 + 1;
                let held = self.held;
                lang.pick(
                    format!(
                        "{held} of them are in open checkouts. Those not paid for come back on sale: \
                         try again in about {minutes} minutes."
                    ),
                    format!("{held} 枚が決済手続き中です。支払われなかった分は販売に戻ります。約 {minutes} 分後にもう一度お試しください。"),
                )
            }
            _ => lang.pick("All of them are sold.".to_owned(), "すべて販売済みです。".to_owned()),
        };
        vec![first, second]
    }
}

/// The page title and paragraphs for a refusal.
pub(super) fn explain(error: &CheckoutError, lang: Lang, now: i64) -> (String, Vec<String>) {
    use CheckoutError::*;
    let one = |en: &str, ja: &str| vec![lang.pick(en, ja).to_owned()];
    let (title_en, title_ja, paragraphs) = match error {
        SoldOut(sold_out) => ("Sold out", "売り切れ", sold_out.paragraphs(lang, now)),
        Closed(SaleClosed::NotYetOpen(at)) => (
            "Not on sale yet",
            "販売開始前です",
            vec![lang.pick(format!("Tickets go on sale at {at}."), format!("チケットの販売開始は {at} です。"))],
        ),
        Closed(SaleClosed::Over(at)) => (
            "Sale closed",
            "販売終了",
            vec![lang.pick(format!("Ticket sales closed at {at}."), format!("チケットの販売は {at} に終了しました。"))],
        ),
        Busy => (
            "Very busy right now",
            "ただいま混み合っています",
            one(
                "So many people are buying tickets right now that the payment service asked us to slow down. \
                 Nothing was charged and no ticket is held for you: please try again in a minute.",
                "ただいまアクセスが集中しているため、決済サービスに接続できませんでした。\
                 お支払いは発生しておらず、チケットも確保されていません。1 分ほどしてからもう一度お試しください。",
            ),
        ),
        BadForm(e) => ("Bad Request", "入力内容をご確認ください", vec![form_problem(e, lang)]),
        MethodNotAllowed => (
            "Method Not Allowed",
            "この方法では購入できません",
            one(
                "Tickets are bought with a POST of the ticket form.",
                "チケットはチケットフォームから購入してください。",
            ),
        ),
        UnsupportedMediaType => (
            "Unsupported Media Type",
            "送信形式が違います",
            one(
                "Send the form as application/x-www-form-urlencoded (the default for HTML forms).",
                "フォームは application/x-www-form-urlencoded（HTML フォームの既定）で送信してください。",
            ),
        ),
        TooLarge => {
            ("Payload Too Large", "フォームが大きすぎます", one("The form is too large.", "フォームが大きすぎます。"))
        }
        ConfigUnavailable(_) | NoInventory | Inventory(_) => (
            "Service Unavailable",
            "ただいまご利用いただけません",
            one(
                "The ticket shop is not available right now; please try again in a minute.",
                "チケット販売は現在ご利用いただけません。1 分ほどしてからもう一度お試しください。",
            ),
        ),
        Stripe(_) => (
            "Bad Gateway",
            "決済サービスに接続できません",
            one(
                "The payment service could not be reached; please try again. Nothing was charged.",
                "決済サービスに接続できませんでした。お支払いは発生していません。もう一度お試しください。",
            ),
        ),
    };
    (lang.pick(title_en, title_ja).to_owned(), paragraphs)
}

fn form_problem(error: &OrderError, lang: Lang) -> String {
    match (error, lang) {
        (_, Lang::En) => error.to_string(),
        (OrderError::Unreadable, Lang::Ja) => "フォームを読み取れませんでした。".to_owned(),
        (OrderError::UnknownTicket { given, known }, Lang::Ja) => {
            format!("「{given}」というチケットはありません。次から選んでください: {known}")
        }
        (OrderError::MissingChoice { label, choices }, Lang::Ja) => format!("{label}を選んでください: {choices}"),
        (OrderError::InvalidChoice { given, label, choices }, Lang::Ja) => {
            format!("「{given}」は{label}の選択肢にありません。次から選んでください: {choices}")
        }
    }
}
