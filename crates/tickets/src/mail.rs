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

/// The mail could not be handed over; the caller answers 5xx so Stripe
/// delivers again. After a refusal ([`MailFault::sent_nothing`]) the claim is
/// given up at once; otherwise it is kept until its lease ends, so an email
/// that did go out is never sent twice.
#[derive(Debug, thiserror::Error)]
pub enum MailFault {
    #[error("mail service throttled: {0}")]
    Throttled(String),
    #[error("mail rejected: {0}")]
    Rejected(String),
    #[error("mail service unavailable: {0}")]
    Unavailable(String),
}

impl MailFault {
    /// The provider refused the message outright, so nothing was sent (unlike
    /// a timeout or a lost connection, after which it may have been).
    pub fn sent_nothing(&self) -> bool {
        matches!(self, MailFault::Throttled(_) | MailFault::Rejected(_))
    }
}

pub trait Mailer: Send + Sync {
    /// Sends the email; returns the provider's message id.
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>>;
}

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

/// Sends after a throttling answer (SES sent nothing) are tried again this
/// often, and only while this little time has passed, so a send stays within
/// its budget (one more attempt takes at most the 3 s attempt timeout).
const THROTTLED_ATTEMPTS: u32 = 3;
const THROTTLED_RETRY_WINDOW: std::time::Duration = std::time::Duration::from_millis(1500);

impl SesMailer {
    /// Mail through SES with this client, built from `aws` without the SDK's
    /// automatic retries: an attempt that timed out may have been sent, and
    /// retrying it would mail the buyer twice. Only a throttled send, which
    /// SES refused outright, is tried again (here, with a short pause).
    pub fn new(aws: &aws_config::SdkConfig) -> SesMailer {
        let config =
            aws_sdk_sesv2::config::Builder::from(aws).retry_config(aws_config::retry::RetryConfig::disabled()).build();
        SesMailer { client: aws_sdk_sesv2::Client::from_conf(config) }
    }

    async fn send_once(&self, email: &OutgoingEmail) -> Result<String, MailFault> {
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
        result.map(|output| output.message_id.unwrap_or_default()).map_err(|e| send_fault(&e))
    }
}

/// What a failed `SendEmail` means for the claim: refused outright
/// (throttled, rejected) or unknown (timeout, lost connection, 5xx).
fn send_fault<R: std::fmt::Debug>(
    e: &aws_sdk_sesv2::error::SdkError<aws_sdk_sesv2::operation::send_email::SendEmailError, R>,
) -> MailFault {
    use aws_sdk_sesv2::error::ProvideErrorMetadata as _;
    use aws_sdk_sesv2::operation::send_email::SendEmailError as E;
    let fault = match e.as_service_error() {
        Some(E::TooManyRequestsException(_) | E::LimitExceededException(_)) => MailFault::Throttled,
        // The generic throttling codes are not modelled for SendEmail.
        Some(other) if matches!(other.code(), Some("ThrottlingException" | "Throttling")) => MailFault::Throttled,
        // Not allowed to send from this address (the template's SenderAddress condition).
        Some(other) if matches!(other.code(), Some("AccessDeniedException" | "AccessDenied")) => MailFault::Rejected,
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
    fault(crate::aws::describe(e))
}

fn utf8(text: &str) -> Option<Content> {
    Content::builder().data(text).charset("UTF-8").build().ok()
}

impl Mailer for SesMailer {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let sent = self.send_once(email).await;
                let pause = crate::inventory::jittered(std::time::Duration::from_millis(200), attempt);
                let in_window = started.elapsed() + pause < THROTTLED_RETRY_WINDOW;
                match sent {
                    Err(MailFault::Throttled(_)) if attempt < THROTTLED_ATTEMPTS && in_window => {
                        tokio::time::sleep(pause).await;
                    }
                    other => return other,
                }
            }
        })
    }
}
