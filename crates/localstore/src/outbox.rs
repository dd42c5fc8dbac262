//! A [`Mailer`] that delivers into a local folder instead of SES: the local
//! dev server's outbox. Each email is one JSON file (`<n>-<id>.json`: from,
//! to, subject, text and HTML), written whole (temporary file, then rename)
//! so a reader never sees half an email.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tickets::BoxFuture;
use tickets::mail::{MailFault, Mailer, OutgoingEmail};

/// One email as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEmail {
    /// The message id the mailer returned (recorded in the ledger).
    pub id: String,
    /// Unix milliseconds when it was "sent".
    pub sent_at_ms: i64,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_set: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// Delivers into `dir` (created on the first email).
    pub fn new(dir: impl Into<PathBuf>) -> OutboxMailer {
        OutboxMailer { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every email in the outbox, oldest first.
    pub async fn list(&self) -> std::io::Result<Vec<StoredEmail>> {
        list(&self.dir).await
    }
}

/// Every email in the outbox folder `dir`, oldest first (none if it does not exist).
pub async fn list(dir: &Path) -> std::io::Result<Vec<StoredEmail>> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut emails = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = tokio::fs::read(&path).await?;
        match serde_json::from_slice::<StoredEmail>(&bytes) {
            Ok(email) => emails.push(email),
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "not an outbox email; skipped"),
        }
    }
    emails.sort_by(|a, b| a.sent_at_ms.cmp(&b.sent_at_ms).then_with(|| a.id.cmp(&b.id)));
    Ok(emails)
}

fn random_hex(bytes: usize) -> Result<String, MailFault> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| MailFault::Unavailable(format!("random id: {e}")))?;
    Ok(hex::encode(buffer))
}

impl Mailer for OutboxMailer {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, MailFault>> {
        Box::pin(async move {
            let sent_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            let id = format!("outbox-{}", random_hex(8)?);
            let stored = StoredEmail {
                id: id.clone(),
                sent_at_ms,
                from: email.from.to_string(),
                to: email.to.clone(),
                reply_to: email.reply_to.as_ref().map(ToString::to_string),
                configuration_set: email.configuration_set.clone(),
                subject: email.subject.clone(),
                text: email.text.clone(),
                html: email.html.clone(),
            };
            let io = |e: std::io::Error| MailFault::Unavailable(format!("outbox {}: {e}", self.dir.display()));
            let json = serde_json::to_vec_pretty(&stored).map_err(|e| MailFault::Unavailable(e.to_string()))?;
            let name = format!("{sent_at_ms}-{id}.json");
            crate::write_whole(&self.dir.join(&name), &json).await.map_err(io)?;
            tracing::info!(outbox = %self.dir.display(), file = %name, "email written to the local outbox");
            Ok(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickets::mail::Mailbox;

    #[tokio::test]
    async fn emails_land_in_the_folder_and_list_back() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxMailer::new(dir.path().join("outbox"));
        assert!(outbox.list().await.unwrap().is_empty());
        let email = OutgoingEmail {
            from: Mailbox::parse("Tickets <t@example.org>").unwrap(),
            to: "buyer@example.com".into(),
            reply_to: None,
            configuration_set: None,
            subject: "Your votekey".into(),
            text: "BCDFGHJK".into(),
            html: "<p>BCDFGHJK</p>".into(),
        };
        let first = outbox.send(&email).await.unwrap();
        let second = outbox.send(&email).await.unwrap();
        assert_ne!(first, second);
        let listed = outbox.list().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|e| e.id == first));
        assert_eq!(listed[0].html, "<p>BCDFGHJK</p>");
    }
}
