//! Describing AWS SDK errors for logs without their payloads.
//!
//! `DisplayErrorContext` prints the SDK's debug form, which for an unparsable
//! response includes the raw body — for SSM that is the decrypted config.
//! This keeps to the error code and message, or the transport's reason.

// The SDK crates all re-export the same smithy types.
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use std::error::Error;

pub fn describe<E: ProvideErrorMetadata + Error + 'static, R: std::fmt::Debug>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::ServiceError(e) => {
            let e = e.err();
            format!("{}: {}", e.code().unwrap_or("unknown error"), e.message().unwrap_or("no message"))
        }
        // The response itself (possibly secret) is not described at all.
        SdkError::ResponseError(_) => "malformed response".into(),
        SdkError::TimeoutError(_) => "timed out".into(),
        other => {
            let mut text = other.to_string();
            let mut source = other.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
