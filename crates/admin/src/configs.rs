//! `config check | push | show`: the functions' own validator, the SSM
//! parameter, and secrets that are never printed (only `sk_live_…wxyz`).

use crate::cli::{ConfigCommand, Global};
use crate::output::print_json;
use crate::store::{self, Target, aws_error, get_parameter, read_file};
use crate::{Failure, Result, failed};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use tickets::config::{Config, ConfigError};

/// Keys whose values are secrets: never printed, only redacted.
const SECRET_KEYS: &[&str] = &["stripe_api_secret_key", "webhook_signing_secret"];

pub async fn run(global: &Global, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Check { file } => check(global, &file),
        ConfigCommand::Push { file, parameter, kms_key_id } => {
            let name = parameter_name(global, parameter).await?;
            push(global, &file, &name, kms_key_id.as_deref()).await
        }
        ConfigCommand::Show { parameter } => {
            let name = parameter_name(global, parameter).await?;
            show(global, &name).await
        }
    }
}

/// `--parameter`, else `--config-parameter`, else the stack's.
async fn parameter_name(global: &Global, parameter: Option<String>) -> Result<String> {
    if let Some(name) = parameter.or_else(|| global.config_parameter.clone()) {
        return Ok(name);
    }
    if global.stack.is_some() {
        if let Some(name) = Target::resolve(global).await?.stack_parameter {
            return Ok(name);
        }
        return Err(Failure::Failed("the stack names no config parameter: give --parameter NAME".into()));
    }
    Err(Failure::Usage("which SSM parameter? --parameter NAME (or --config-parameter NAME, --stack NAME)".into()))
}

/// The problem of a config error, with its key (`None`: the whole blob).
fn problem(error: &ConfigError) -> (Option<String>, String) {
    match error {
        ConfigError::Missing(key) => (Some(key.clone()), "is missing".into()),
        ConfigError::Invalid { key, problem } => (Some(key.clone()), problem.clone()),
        other => (None, other.to_string()),
    }
}

/// Validates; on a problem prints it (with its key) and fails with exit 1.
pub(crate) fn validate(global: &Global, file: &Path, text: &str) -> Result<Config> {
    match Config::from_json(text) {
        Ok(config) => Ok(config),
        Err(error) => {
            let (key, message) = problem(&error);
            if global.json {
                print_json(&json!({ "file": file, "ok": false, "problems": [{ "key": key, "problem": message }] }));
            } else {
                println!("{}: {error}", file.display());
            }
            Err(Failure::Failed(String::new()))
        }
    }
}

fn mode(config: &Config) -> &'static str {
    if config.stripe_secret_key().is_test_mode() { "test" } else { "live" }
}

fn check(global: &Global, file: &Path) -> Result<()> {
    let text = read_file(file)?;
    let config = validate(global, file, &text)?;
    let tickets: Vec<&str> = config.catalog().tickets().iter().map(|t| t.id().as_str()).collect();
    if global.json {
        print_json(&json!({ "file": file, "ok": true, "problems": [], "mode": mode(&config), "tickets": tickets }));
    } else {
        println!("{}: ok ({} mode; tickets: {})", file.display(), mode(&config), tickets.join(", "));
    }
    Ok(())
}

async fn push(global: &Global, file: &Path, name: &str, kms_key_id: Option<&str>) -> Result<()> {
    let text = read_file(file)?;
    validate(global, file, &text)?;
    let new: Value = serde_json::from_str(&text).map_err(|e| failed("the config", e))?;
    let client = aws_sdk_ssm::Client::new(&store::aws().await);
    let current_text = get_parameter(&client, name).await?;
    // A stored value that is not JSON is replaced whole (shown as such).
    let current: Option<Value> = current_text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let note = match mode_conflict(&new, current.as_ref()) {
        ModeCheck::Refuse(reason) => return Err(Failure::Failed(format!("not pushed: {reason}"))),
        ModeCheck::Consistent => None,
        ModeCheck::CannotTell(note) => Some(note),
    };
    let changes = diff(current.as_ref(), &new);
    client
        .put_parameter()
        .name(name)
        .value(&text)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .set_key_id(kms_key_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| failed(&format!("writing SSM parameter {name}"), aws_error(&e)))?;
    if global.json {
        let changes: Vec<Value> = changes.iter().map(Change::json).collect();
        print_json(&json!({ "parameter": name, "created": current_text.is_none(), "changes": changes, "note": note }));
        return Ok(());
    }
    match (&current_text, changes.is_empty()) {
        (None, _) => println!("created {name} (SecureString):"),
        (Some(_), true) => println!("{name}: written, no key changed"),
        (Some(_), false) => println!("updated {name} (SecureString):"),
    }
    for change in &changes {
        println!("  {}", change.line());
    }
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    Ok(())
}

async fn show(global: &Global, name: &str) -> Result<()> {
    let client = aws_sdk_ssm::Client::new(&store::aws().await);
    let text =
        get_parameter(&client, name).await?.ok_or_else(|| Failure::Failed(format!("no SSM parameter {name}")))?;
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) else {
        return Err(Failure::Failed(format!("{name} does not hold a JSON object (not shown: it may hold secrets)")));
    };
    let redacted: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), shown(k, v))).collect();
    let validity = Config::from_json(&text).err().map(|e| e.to_string());
    if global.json {
        print_json(&json!({ "parameter": name, "config": redacted, "valid": validity.is_none(), "problem": validity }));
    } else {
        println!("{}", serde_json::to_string_pretty(&Value::Object(redacted)).unwrap_or_default());
        if let Some(problem) = validity {
            eprintln!("warning: the stored config does not pass the check: {problem}");
        }
    }
    Ok(())
}

/// A secret as safe to print: its kind prefix and last four characters
/// (`sk_live_…wxyz`, as Stripe's Dashboard shows keys), or `<redacted>`
/// when too short to show any of it safely.
pub fn redact(secret: &str) -> String {
    const PREFIXES: &[&str] = &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "sk_", "rk_"];
    let prefix = PREFIXES.iter().find(|p| secret.starts_with(**p));
    match prefix {
        Some(prefix) if secret.len() >= prefix.len() + 12 && secret.is_ascii() => {
            format!("{prefix}…{}", &secret[secret.len() - 4..])
        }
        _ => "<redacted>".into(),
    }
}

/// A config value as printed: secrets redacted (lists of them too).
fn shown(key: &str, value: &Value) -> Value {
    if !SECRET_KEYS.contains(&key) {
        return value.clone();
    }
    match value {
        Value::String(s) => Value::String(redact(s)),
        Value::Array(items) => Value::Array(
            items.iter().map(|v| Value::String(v.as_str().map_or_else(|| "<redacted>".into(), redact))).collect(),
        ),
        _ => Value::String("<redacted>".into()),
    }
}

/// One key's change between the stored config and the pushed one.
#[derive(Debug, PartialEq)]
pub struct Change {
    key: String,
    old: Option<Value>,
    new: Option<Value>,
}

impl Change {
    fn kind(&self) -> &'static str {
        match (&self.old, &self.new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }
    fn json(&self) -> Value {
        json!({ "key": self.key, "change": self.kind(), "old": self.old, "new": self.new })
    }
    fn line(&self) -> String {
        let brief = |v: &Value| {
            let text = v.to_string();
            if text.chars().count() > 70 { format!("{}…", text.chars().take(69).collect::<String>()) } else { text }
        };
        match (&self.old, &self.new) {
            (None, Some(new)) => format!("+ {} = {}", self.key, brief(new)),
            (Some(_), None) => format!("- {}", self.key),
            (Some(old), Some(new)) => format!("~ {}: {} → {}", self.key, brief(old), brief(new)),
            (None, None) => String::new(),
        }
    }
}

/// What changed, key by key (sorted), with secret values redacted. A
/// secret changed to another with the same redaction still shows.
pub fn diff(current: Option<&Value>, new: &Value) -> Vec<Change> {
    let empty = Map::new();
    let old = current.and_then(Value::as_object).unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Change { key: k.clone(), old: old.get(k).map(|v| shown(k, v)), new: new.get(k).map(|v| shown(k, v)) })
        .collect()
}

/// Whether a config's secret key and its price ids belong to the same
/// Stripe mode, as far as can be told.
#[derive(Debug, PartialEq, Eq)]
pub enum ModeCheck {
    /// A key of one mode with ids known to be the other mode's.
    Refuse(String),
    /// The ids were checked against a stored config of the other mode.
    Consistent,
    /// Nothing to check against.
    CannotTell(&'static str),
}

/// The rule: a Stripe id (price, shipping rate) lives in one mode only, and
/// its name does not say which. What can be told: the stored config pairs
/// ids with a key of known mode (`sk_test_`/`rk_test_` or live). A pushed
/// config whose key is of the *other* mode but which reuses any of those
/// ids is refused (a live key with test prices, or the reverse). Same mode
/// or no stored config: nothing is known about the ids.
pub fn mode_conflict(new: &Value, current: Option<&Value>) -> ModeCheck {
    const NOTE: &str = "price ids do not tell test mode from live; they were not checked against the key's mode \
                        (only a stored config of the other mode can tell)";
    let new_mode = key_mode(new);
    let Some((current, current_mode)) = current.and_then(|c| key_mode(c).map(|m| (c, m))) else {
        return ModeCheck::CannotTell(NOTE);
    };
    let Some(new_mode) = new_mode.filter(|m| *m != current_mode) else { return ModeCheck::CannotTell(NOTE) };
    let shared: Vec<String> = stripe_ids(new).intersection(&stripe_ids(current)).cloned().collect();
    if shared.is_empty() {
        return ModeCheck::Consistent;
    }
    ModeCheck::Refuse(format!(
        "the secret key is {new_mode} mode but {} {} the stored config's, used with its {current_mode} mode key \
         (a Stripe id lives in one mode only): use the {new_mode} mode ids",
        shared.join(", "),
        if shared.len() == 1 { "is" } else { "are" },
    ))
}

/// "test" or "live", from the config's secret key.
fn key_mode(config: &Value) -> Option<&'static str> {
    let key = config.get("stripe_api_secret_key")?.as_str()?;
    let body = key.strip_prefix("sk_").or_else(|| key.strip_prefix("rk_"))?;
    Some(if body.starts_with("test_") { "test" } else { "live" })
}

/// Every price (`price_…`) and shipping rate (`shr_…`) id anywhere in the config.
fn stripe_ids(value: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.starts_with("price_") || s.starts_with("shr_") => {
                ids.insert(s.clone());
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: &str, price: &str) -> Value {
        json!({ "stripe_api_secret_key": key, "catalog": { "tickets": [{ "id": "v", "price": price }] },
                "shipping_rate": "shr_1Ship" })
    }

    #[test]
    fn secrets_show_their_kind_and_last_four_only() {
        assert_eq!(redact("sk_live_FAKE_not_a_key_1234"), "sk_live_…1234");
        assert_eq!(redact("rk_test_51ABCdefGHIjklMNOpqrwxyz"), "rk_test_…wxyz");
        assert_eq!(redact("whsec_0123456789abcdefXYZW"), "whsec_…XYZW");
        assert_eq!(redact("sk_test_short"), "<redacted>");
        assert_eq!(redact("hunter2hunter2hunter2"), "<redacted>");
        let list = shown("webhook_signing_secret", &json!(["whsec_0123456789abcdefXYZW", 3]));
        assert_eq!(list, json!(["whsec_…XYZW", "<redacted>"]));
        assert_eq!(shown("event_name", &json!("TDF")), json!("TDF"));
    }

    #[test]
    fn the_diff_names_keys_and_never_a_secret() {
        let old =
            json!({ "stripe_api_secret_key": "sk_test_0123456789abcdefAAAA", "event_name": "TDF", "locale": "ja" });
        let new = json!({ "stripe_api_secret_key": "sk_live_FAKE_0123456789_BBBB", "event_name": "TDF 2027",
                          "wuhu_url": "http://wuhu.lan/" });
        let lines: Vec<String> = diff(Some(&old), &new).iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                "~ event_name: \"TDF\" → \"TDF 2027\"",
                "- locale",
                "~ stripe_api_secret_key: \"sk_test_…AAAA\" → \"sk_live_…BBBB\"",
                "+ wuhu_url = \"http://wuhu.lan/\"",
            ]
        );
        assert!(!format!("{:?}", diff(Some(&old), &new)).contains("0123456789"));
        assert!(diff(Some(&new), &new).is_empty());
        assert_eq!(diff(None, &new).len(), 3);
    }

    #[test]
    fn a_key_of_one_mode_with_the_other_modes_ids_is_refused() {
        let test = config("sk_test_0123456789abcdef", "price_1Visitor");
        let live_same_ids = config("sk_live_FAKE_0123456789", "price_1Visitor");
        let ModeCheck::Refuse(reason) = mode_conflict(&live_same_ids, Some(&test)) else { panic!() };
        assert!(reason.contains("live mode") && reason.contains("price_1Visitor, shr_1Ship"), "{reason}");
        assert!(!reason.contains("0123456789"), "never the key: {reason}");
        // The reverse: test key, live ids.
        assert!(matches!(mode_conflict(&test, Some(&live_same_ids)), ModeCheck::Refuse(_)));
        // Live key with other ids (the live twins): fine.
        let mut live = config("rk_live_FAKE_0123456789", "price_1VisitorLive");
        live["shipping_rate"] = json!("shr_1ShipLive");
        assert_eq!(mode_conflict(&live, Some(&test)), ModeCheck::Consistent);
        // Nothing to tell by: no stored config, or one of the same mode.
        assert!(matches!(mode_conflict(&live, None), ModeCheck::CannotTell(_)));
        assert!(matches!(mode_conflict(&test, Some(&test)), ModeCheck::CannotTell(_)));
    }
}
