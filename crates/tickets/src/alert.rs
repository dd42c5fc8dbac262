//! The log lines an organizer must act on. Each is an ERROR line with the
//! field `alert = "<name>"`; on Lambda (JSON log format) that is
//! `$.fields.alert`, and `template.yaml` turns each name into a CloudWatch
//! metric and an alarm (≥ 1 in 5 minutes) mailed to `AlertEmail`.
//!
//! Log one with [`alert!`](crate::alert!): `alert!(Alert::PaidWithoutEmail, session = id, "…")`.

/// Something only the organizer can fix; the name is the metric's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// SES sent the votekey email but the ledger did not record it.
    EmailUnrecorded,
    /// A paid session has no email address to send the votekey to.
    PaidWithoutEmail,
    /// A payment arrived after its hold was given back: sold anyway.
    SoldAfterRelease,
    /// A buyer opened a dispute (chargeback).
    DisputeOpened,
    /// The votekey pool is empty: import more keys from Wuhu.
    VotekeyPoolEmpty,
    /// A signed webhook names a session Stripe does not know, or of the
    /// other mode: the secret key and the webhook secret do not match.
    WebhookMismatch,
    /// SES refused to send (identity not verified, sending paused, …).
    MailRefused,
    /// The config cannot be loaded (SSM, KMS, or an invalid blob).
    ConfigUnavailable,
    /// Reconciliation emailed paid sessions whose webhook never came.
    WebhookMissed,
    /// A scheduled run (sweep, reconcile) failed.
    ScheduledRunFailed,
}

impl Alert {
    pub const ALL: [Alert; 10] = [
        Alert::EmailUnrecorded,
        Alert::PaidWithoutEmail,
        Alert::SoldAfterRelease,
        Alert::DisputeOpened,
        Alert::VotekeyPoolEmpty,
        Alert::WebhookMismatch,
        Alert::MailRefused,
        Alert::ConfigUnavailable,
        Alert::WebhookMissed,
        Alert::ScheduledRunFailed,
    ];

    /// The log field's value and the CloudWatch metric's name.
    pub const fn name(self) -> &'static str {
        match self {
            Alert::EmailUnrecorded => "email_unrecorded",
            Alert::PaidWithoutEmail => "paid_without_email",
            Alert::SoldAfterRelease => "sold_after_release",
            Alert::DisputeOpened => "dispute_opened",
            Alert::VotekeyPoolEmpty => "votekey_pool_empty",
            Alert::WebhookMismatch => "webhook_mismatch",
            Alert::MailRefused => "mail_refused",
            Alert::ConfigUnavailable => "config_unavailable",
            Alert::WebhookMissed => "webhook_missed",
            Alert::ScheduledRunFailed => "scheduled_run_failed",
        }
    }
}

/// `tracing::error!` with the alert's name in the `alert` field.
#[macro_export]
macro_rules! alert {
    ($alert:expr, $($rest:tt)+) => {
        ::tracing::error!(alert = $crate::alert::Alert::name($alert), $($rest)+)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_metric_names() {
        let mut names: Vec<&str> = Alert::ALL.iter().map(|a| a.name()).collect();
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')), "{names:?}");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Alert::ALL.len());
    }
}
