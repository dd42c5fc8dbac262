//! The mail edge: the [`Mailer`] trait and its Amazon SES v2 implementation.

mod mailbox;
pub use mailbox::{Mailbox, MailboxError};

use crate::BoxFuture;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// One email to one buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub from: Mailbox,
    pub to: String,
    pub reply_to: Option<Mailbox>,
    pub configuration_set: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The mail could not be handed over; the caller answers 5xx and keeps its
/// claim, so Stripe's retry sends exactly once.
#[derive(Debug, thiserror::Error)]
pub enum MailFault {
    #[error("mail service throttled: {0}")]
    Throttled(String),
    #[error("mail rejected: {0}")]
    Rejected(String),
    #[error("mail service unavailable: {0}")]
    Unavailable(String),
}

pub trait Mailer: Send + Sync {
    /// Sends the email; returns the provider's message id.
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>>;
}

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client) -> SesMailer {
        SesMailer { client }
    }
}

fn utf8(text: &str) -> Option<Content> {
    Content::builder().data(text).charset("UTF-8").build().ok()
}

impl Mailer for SesMailer {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>> {
        Box::pin(async move {
            let message = Message::builder()
                .set_subject(utf8(&email.subject))
                .body(Body::builder().set_text(utf8(&email.text)).set_html(utf8(&email.html)).build())
                .build();
            let result = self
                .client
                .send_email()
                .from_email_address(email.from.header())
                .destination(Destination::builder().to_addresses(&email.to).build())
                .set_reply_to_addresses(email.reply_to.as_ref().map(|r| vec![r.header()]))
                .set_configuration_set_name(email.configuration_set.clone())
                .content(EmailContent::builder().simple(message).build())
                .send()
                .await;
            match result {
                Ok(output) => Ok(output.message_id.unwrap_or_default()),
                Err(e) => {
                    use aws_sdk_sesv2::operation::send_email::SendEmailError as E;
                    let fault = match e.as_service_error() {
                        Some(E::TooManyRequestsException(_) | E::LimitExceededException(_)) => MailFault::Throttled,
                        Some(
                            E::MessageRejected(_)
                            | E::MailFromDomainNotVerifiedException(_)
                            | E::AccountSuspendedException(_)
                            | E::SendingPausedException(_)
                            | E::BadRequestException(_)
                            | E::NotFoundException(_),
                        ) => MailFault::Rejected,
                        _ => MailFault::Unavailable,
                    };
                    Err(fault(crate::aws::describe(&e)))
                }
            }
        })
    }
}
