//! What the buyer sees on returning from Stripe (the landing page), in
//! English or Japanese.

use super::Outcome;
use crate::config::Config;
use crate::lang::Lang;
use crate::web;
use http::StatusCode;
use lambda_http::{Body, Response};

/// The landing page for a fulfilment's outcome: a paid order goes on to the
/// organizer's thank-you page; anything else is explained here.
pub(super) fn landing(config: &Config, outcome: Outcome, lang: Lang) -> Option<Response<Body>> {
    let (status, (title, message)) = match outcome {
        Outcome::Emailed | Outcome::AlreadyEmailed | Outcome::InProgress => {
            return web::see_other(config.thanks_url().as_str());
        }
        Outcome::AwaitingPayment => (
            StatusCode::OK,
            lang.pick(
                ("Thank you!", "Your payment is still being processed. As soon as it completes we will email you your ticket and votekey."),
                ("ありがとうございます", "お支払いの処理中です。完了しだい、チケットと投票キー（votekey）をメールでお送りします。"),
            ),
        ),
        Outcome::PaymentFailed => (
            StatusCode::OK,
            lang.pick(
                ("Payment not completed", "Your payment did not go through, so no ticket was issued. You can try again from the ticket page."),
                ("お支払いが完了しませんでした", "お支払いが完了しなかったため、チケットは発行されていません。チケットのページからもう一度お試しください。"),
            ),
        ),
        Outcome::Expired => (
            StatusCode::OK,
            lang.pick(
                ("Checkout expired", "This checkout expired before it was paid, so nothing was charged and the ticket held for you went back on sale. You can start again from the ticket page."),
                ("購入手続きの期限切れ", "お支払い前に購入手続きの期限が切れました。料金は発生しておらず、確保していたチケットは販売に戻りました。チケットのページから最初からお試しください。"),
            ),
        ),
        Outcome::Refunded => (
            StatusCode::OK,
            lang.pick(
                ("Order refunded", "This order was refunded, so its ticket is cancelled and its votekey no longer works. If you think this is wrong, please contact the organizers."),
                ("返金済みのご注文", "このご注文は返金済みのため、チケットはキャンセルされ、投票キー（votekey）も無効になりました。お心当たりがない場合は主催者にお問い合わせください。"),
            ),
        ),
        Outcome::UnknownSession => (
            StatusCode::NOT_FOUND,
            lang.pick(
                ("Order not found", "We could not find this order. If you paid, your ticket email is on its way; otherwise please start again from the ticket page."),
                ("注文が見つかりません", "この注文は見つかりませんでした。お支払い済みの場合はチケットのメールをお送りします。そうでない場合はチケットのページから最初からお試しください。"),
            ),
        ),
        _ => (
            StatusCode::OK,
            lang.pick(
                ("Thank you", "This order has no ticket to send. If you think this is wrong, please contact the organizers."),
                ("ありがとうございます", "この注文にはお送りするチケットがありません。お心当たりがない場合は主催者にお問い合わせください。"),
            ),
        ),
    };
    let page = web::MessagePage { lang, title, paragraphs: &[message], back_link: Some(config.cancel_url().as_str()) };
    Some(web::html_response(status, page.render()))
}
