//! The local dev server's stores, behind the same traits as the Lambdas'
//! DynamoDB ledger and SES mailer: [`FileLedger`] (the order ledger in one
//! JSON file) and [`OutboxMailer`] (each email a JSON file in a folder).
//! Dev code: the Lambda binaries never depend on this crate.

mod ledger;
mod outbox;

pub use ledger::{FileLedger, InventorySnapshot};
pub use outbox::{OutboxMailer, StoredEmail};

use std::path::Path;

/// Writes `bytes` to `path` whole: a temporary file beside it, then a
/// rename, so a reader never sees half a file.
async fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}
