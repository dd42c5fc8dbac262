//! What the buyer sees on returning from Stripe (the landing page).

use super::Outcome;
use crate::config::Config;
use crate::web;
use http::StatusCode;
use lambda_http::{Body, Response};

/// The landing page for a fulfilment's outcome: a paid order goes on to the
/// organizer's thank-you page; anything else is explained here.
pub(super) fn landing(config: &Config, outcome: Outcome) -> Option<Response<Body>> {
    let (status, title, message) = match outcome {
        Outcome::Emailed | Outcome::AlreadyEmailed | Outcome::InProgress => {
            return web::see_other(config.thanks_url().as_str());
        }
        Outcome::AwaitingPayment => (
            StatusCode::OK,
            "Thank you!",
            "Your payment is still being processed. As soon as it completes we will email you your ticket and votekey.",
        ),
        Outcome::PaymentFailed => (
            StatusCode::OK,
            "Payment not completed",
            "Your payment did not go through, so no ticket was issued. You can try again from the ticket page.",
        ),
        Outcome::UnknownSession => (
            StatusCode::NOT_FOUND,
            "Order not found",
            "We could not find this order. If you paid, your ticket email is on its way; \
             otherwise please start again from the ticket page.",
        ),
        _ => (
            StatusCode::OK,
            "Thank you",
            "This order has no ticket to send. If you think this is wrong, please contact the organizers.",
        ),
    };
    Some(web::html_response(status, web::message_page(title, message, Some(config.cancel_url().as_str()))))
}
