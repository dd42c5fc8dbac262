//! Everything the emails say in Japanese.

use super::{AddressFields, UrlSentence, Wording, joined};

pub(super) struct Japanese;

impl Wording for Japanese {
    fn language_tag(&self) -> &'static str {
        "ja"
    }

    fn label_separator(&self) -> &'static str {
        "："
    }

    fn greeting(&self, buyer: Option<&str>) -> String {
        buyer.map_or_else(|| "お客様".to_owned(), |name| format!("{name} 様"))
    }

    fn votekey_subject(&self, event: Option<&str>) -> String {
        with_event_tag(event, "投票キーのお知らせ")
    }

    fn votekey_intro(&self, event: Option<&str>) -> String {
        let of_event = event_prefix(event);
        format!("この度は{of_event}チケットをお買い上げいただき、誠にありがとうございます。")
    }

    fn votekey_label(&self) -> &'static str {
        "あなたの投票キー："
    }

    fn ticket_label(&self) -> &'static str {
        "チケット"
    }

    fn shipping_heading(&self) -> &'static str {
        "お届け先"
    }

    fn wuhu_sentence(&self) -> UrlSentence {
        UrlSentence {
            before: "こちらから投票キーで Wuhu にユーザー登録してください：",
            after: "\n登録すると、コンポの投票に参加できます。",
        }
    }

    fn votekey_closing(&self, event: Option<&str>) -> String {
        let closing = "会場でお会いできるのを楽しみにしております。";
        event.map_or_else(|| closing.to_owned(), |event| format!("{closing}\n{event} 運営"))
    }

    fn payment_failed_subject(&self, event: Option<&str>) -> String {
        with_event_tag(event, "お支払いが完了しませんでした")
    }

    fn payment_failed_intro(&self, event: Option<&str>) -> String {
        let of_event = event_prefix(event);
        format!("{of_event}チケットのお支払いが完了しなかったため、チケットは発行されておりません。")
    }

    fn retry_sentence(&self) -> UrlSentence {
        UrlSentence {
            before: "引き続きご参加をご希望の場合は、こちらから改めてお申し込みください：", after: ""
        }
    }

    /// The same sign-off as the votekey email: the buyer may still come.
    fn payment_failed_closing(&self, event: Option<&str>) -> String {
        self.votekey_closing(event)
    }

    fn cancellation_subject(&self, event: Option<&str>) -> String {
        with_event_tag(event, "チケットのキャンセルのお知らせ")
    }

    fn cancellation_intro(&self, event: Option<&str>) -> String {
        let of_event = event_prefix(event);
        format!("ご購入いただいた{of_event}チケットについてお知らせいたします。")
    }

    fn cancellation_reason(&self, refunded: Option<&str>, ticket: Option<&str>) -> String {
        let payment = refunded.map_or_else(
            || "お支払いいただいた代金".to_owned(),
            |amount| format!("お支払いいただいた代金（{amount}）"),
        );
        let ticket = ticket.map_or_else(|| "チケット".to_owned(), |ticket| format!("チケット（{ticket}）"));
        format!("{payment}を返金いたしましたので、{ticket}はキャンセルとなりました。")
    }

    fn revoked_votekey(&self, votekey: &str) -> String {
        format!("投票キー {votekey} は無効となり、今後は投票にご利用いただけません。")
    }

    fn cancellation_contact(&self) -> &'static str {
        "お心当たりのない場合は、このメールにご返信いただくか、運営までお問い合わせください。"
    }

    fn cancellation_closing(&self, event: Option<&str>) -> String {
        let closing = "何卒ご了承くださいますようお願い申し上げます。";
        event.map_or_else(|| closing.to_owned(), |event| format!("{closing}\n{event} 運営"))
    }

    /// Japanese order: postal code first, then prefecture, city and street,
    /// and the recipient last.
    fn address_lines(&self, address: &AddressFields<'_>) -> Vec<Option<String>> {
        vec![
            address.postal_code.map(|code| format!("〒{code}")),
            joined(&[address.state, address.city]),
            address.line1.map(str::to_owned),
            address.line2.map(str::to_owned),
            address.country.map(str::to_owned),
            address.recipient.map(|name| format!("{name} 様")),
        ]
    }
}

/// Japanese subjects lead with the event in 【】 brackets.
fn with_event_tag(event: Option<&str>, subject: &str) -> String {
    event.map_or_else(|| subject.to_owned(), |event| format!("【{event}】{subject}"))
}

/// "{event}の" ("{event}'s"), or nothing without an event name.
fn event_prefix(event: Option<&str>) -> String {
    event.map(|event| format!("{event}の")).unwrap_or_default()
}
