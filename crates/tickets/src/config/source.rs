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

impl SourceError {
    pub fn new(reason: impl Into<String>) -> SourceError {
        SourceError(reason.into())
    }
}

/// Reads the raw config text.
pub trait ConfigSource: Send + Sync {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>>;
    /// For start-up logs: where the config comes from (never its content).
    fn describe(&self) -> String;
}

/// A shared source (a test keeps a handle to count its fetches).
impl<T: ConfigSource> ConfigSource for Arc<T> {
    fn fetch(&self) -> BoxFuture<'_, Result<String, SourceError>> {
        (**self).fetch()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
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
            let output =
                self.client.get_parameter().name(&self.name).with_decryption(true).send().await.map_err(|e| {
                    SourceError(format!("SSM GetParameter {}: {}", self.name, crate::aws::describe(&e)))
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
                crate::alert!(
                    crate::alert::Alert::ConfigUnavailable,
                    source = %self.source.describe(),
                    %reason,
                    "config unavailable"
                );
                Err(ConfigUnavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doubles::ScriptedSource;

    fn cache(answers: Vec<Result<String, String>>, ttl: Duration) -> (ConfigCache, Arc<ScriptedSource>) {
        let source = Arc::new(ScriptedSource::new(answers));
        (ConfigCache::new(Box::new(source.clone()), ttl), source)
    }

    fn good(locale: &str) -> Result<String, String> {
        let mut v: serde_json::Value = serde_json::from_str(include_str!("../../../../config.example.json")).unwrap();
        v["locale"] = locale.into();
        Ok(v.to_string())
    }

    #[tokio::test]
    async fn fetched_once_within_the_ttl() {
        let (cache, source) = cache(vec![good("ja")], Duration::from_secs(300));
        for _ in 0..50 {
            assert_eq!(cache.current().await.unwrap().locale(), "ja");
        }
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test]
    async fn refreshed_after_the_ttl() {
        let (cache, source) = cache(vec![good("ja"), good("en")], Duration::ZERO);
        assert_eq!(cache.current().await.unwrap().locale(), "ja");
        assert_eq!(cache.current().await.unwrap().locale(), "en");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn a_failed_or_invalid_refresh_keeps_the_last_good_config() {
        let (cache, source) =
            cache(vec![good("ja"), Err("SSM is down".into()), Ok("{}".into()), good("en")], Duration::ZERO);
        assert_eq!(cache.current().await.unwrap().locale(), "ja");
        assert_eq!(cache.current().await.unwrap().locale(), "ja", "fetch error: last good config");
        assert_eq!(cache.current().await.unwrap().locale(), "ja", "invalid blob: last good config");
        assert_eq!(cache.current().await.unwrap().locale(), "en");
        assert_eq!(source.fetches(), 4);
    }

    #[tokio::test]
    async fn never_loaded_is_unavailable_and_retried_on_each_request() {
        let (cache, source) = cache(
            vec![Err("no such parameter".into()), Err("no such parameter".into()), good("ja")],
            Duration::from_secs(300),
        );
        assert!(cache.current().await.is_err());
        assert!(cache.current().await.is_err());
        assert_eq!(cache.current().await.unwrap().locale(), "ja");
        assert_eq!(source.fetches(), 3);
    }
}
