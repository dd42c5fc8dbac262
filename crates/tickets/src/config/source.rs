//! Where the config blob comes from, and the per-container cache that reads
//! it once and again only after its time-to-live.

use super::Config;
use crate::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(String);

/// Reads the raw config text.
pub trait ConfigSource: Send + Sync {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>>;
    /// For start-up logs: where the config comes from (never its content).
    fn describe(&self) -> String;
}

/// An SSM Parameter Store parameter, read with decryption (SecureString).
pub struct SsmSource {
    client: aws_sdk_ssm::Client,
    name: String,
}

impl SsmSource {
    pub fn new(client: aws_sdk_ssm::Client, name: impl Into<String>) -> SsmSource {
        SsmSource { client, name: name.into() }
    }
}

impl ConfigSource for SsmSource {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_parameter()
                .name(&self.name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    let e = aws_sdk_ssm::error::DisplayErrorContext(e);
                    SourceError(format!("SSM GetParameter {}: {e}", self.name))
                })?;
            output
                .parameter
                .and_then(|p| p.value)
                .ok_or_else(|| SourceError(format!("SSM parameter {} has no value", self.name)))
        })
    }
    fn describe(&self) -> String {
        format!("SSM parameter {}", self.name)
    }
}

/// A local JSON file (`CONFIG_FILE`), for development and tests.
pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource { path: path.into() }
    }
}

impl ConfigSource for FileSource {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        Box::pin(async move {
            tokio::fs::read_to_string(&self.path)
                .await
                .map_err(|e| SourceError(format!("reading {}: {e}", self.path.display())))
        })
    }
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// No valid config could be loaded yet; the caller answers 503.
#[derive(Debug, thiserror::Error)]
#[error("the ticket shop's configuration is unavailable")]
pub struct ConfigUnavailable;

struct Loaded {
    config: Arc<Config>,
    next_refresh: Instant,
}

/// The config as one container sees it: fetched on first use, kept for the
/// TTL, then fetched again. A failed refresh keeps the last good config (and
/// retries sooner) so an SSM hiccup or a typo in a new blob never takes the
/// shop down.
pub struct ConfigCache {
    source: Box<dyn ConfigSource>,
    ttl: Duration,
    loaded: Mutex<Option<Loaded>>,
}

/// After a failed refresh, how long to keep serving the old config before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

impl ConfigCache {
    pub fn new(source: Box<dyn ConfigSource>, ttl: Duration) -> ConfigCache {
        ConfigCache { source, ttl, loaded: Mutex::new(None) }
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The current config, refreshing it first when its TTL has passed.
    pub async fn current(&self) -> Result<Arc<Config>, ConfigUnavailable> {
        // One fetch at a time: concurrent requests wait for it rather than
        // stampeding SSM (matters in the local server; Lambda runs one at a time).
        let mut loaded = self.loaded.lock().await;
        let now = Instant::now();
        if let Some(l) = loaded.as_ref()
            && now < l.next_refresh
        {
            return Ok(l.config.clone());
        }
        let fetched = match self.source.fetch().await {
            Ok(text) => Config::from_json(&text).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match (fetched, loaded.as_mut()) {
            (Ok(config), _) => {
                let config = Arc::new(config);
                tracing::info!(source = %self.source.describe(), "config loaded");
                *loaded = Some(Loaded { config: config.clone(), next_refresh: now + self.ttl });
                Ok(config)
            }
            (Err(reason), Some(previous)) => {
                tracing::warn!(source = %self.source.describe(), %reason, "config refresh failed; keeping the last good config");
                previous.next_refresh = now + RETRY_AFTER_FAILURE.min(self.ttl);
                Ok(previous.config.clone())
            }
            (Err(reason), None) => {
                tracing::error!(source = %self.source.describe(), %reason, "config unavailable");
                Err(ConfigUnavailable)
            }
        }
    }
}
