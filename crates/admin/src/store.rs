//! Where the orders and the config are: the target (`--table`, `--stack`,
//! `--local`) and the config source (`--config-parameter`, `--config-file`,
//! the stack's parameter), and the ledger, inventory, votekey pool and
//! mailer behind them.

use crate::cli::Global;
use crate::{Failure, Result, failed};
use aws_sdk_dynamodb::types::AttributeValue;
use localstore::{FileLedger, OutboxMailer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tickets::config::Config;
use tickets::inventory::{DynamoInventory, Inventory};
use tickets::ledger::{DynamoLedger, Ledger, OrderRecord, order_from_item};
use tickets::mail::{Mailer, SesMailer};
use tickets::pool::VotekeyPool;

/// The stack output naming the orders table (template.yaml).
pub const TABLE_OUTPUT: &str = "OrdersTableName";
/// The stack output naming the config parameter (template.yaml).
pub const CONFIG_OUTPUT: &str = "ConfigParameter";
/// The stack parameter naming it, for stacks deployed before that output.
pub const CONFIG_STACK_PARAMETER: &str = "ConfigParameterName";

/// The AWS SDK config from the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL`).
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Where the orders are.
pub enum Store {
    Dynamo { aws: Box<aws_config::SdkConfig>, table: String },
    Local { dir: PathBuf },
}

/// The resolved target: the orders, and the config parameter the stack names.
pub struct Target {
    pub store: Store,
    pub stack_parameter: Option<String>,
}

impl Target {
    pub async fn resolve(global: &Global) -> Result<Target> {
        if let Some(table) = &global.table {
            return Ok(Target {
                store: Store::Dynamo { aws: Box::new(aws().await), table: table.clone() },
                stack_parameter: None,
            });
        }
        if let Some(dir) = &global.local {
            return Ok(Target { store: Store::Local { dir: dir.clone() }, stack_parameter: None });
        }
        if let Some(stack) = &global.stack {
            let aws = aws().await;
            let outputs = stack_outputs(&aws, stack).await?;
            let table = outputs.table.ok_or_else(|| {
                Failure::Failed(format!("stack {stack} has no {TABLE_OUTPUT} output: deploy the current template"))
            })?;
            return Ok(Target {
                store: Store::Dynamo { aws: Box::new(aws), table },
                stack_parameter: outputs.config_parameter,
            });
        }
        Err(Failure::Usage("say where the orders are: --table NAME, --stack NAME or --local DIR".into()))
    }

    /// Every order, newest first.
    pub async fn orders(&self) -> Result<Vec<OrderRecord>> {
        let mut orders = match &self.store {
            Store::Dynamo { aws, table } => scan_orders(&aws_sdk_dynamodb::Client::new(aws), table).await?,
            Store::Local { dir } => local_ledger(dir)?.list().await.map_err(|e| failed("reading the ledger", e))?,
        };
        orders.sort_by(|a, b| {
            b.created_at.cmp(&a.created_at).then_with(|| a.details.session_id.cmp(&b.details.session_id))
        });
        Ok(orders)
    }

    pub fn ledger(&self) -> Result<Arc<dyn Ledger>> {
        Ok(match &self.store {
            Store::Dynamo { aws, table } => {
                Arc::new(DynamoLedger::new(aws_sdk_dynamodb::Client::new(aws), table.clone()))
            }
            Store::Local { dir } => Arc::new(local_ledger(dir)?),
        })
    }

    pub fn inventory(&self) -> Result<Arc<dyn Inventory>> {
        Ok(match &self.store {
            Store::Dynamo { aws, table } => {
                Arc::new(DynamoInventory::new(aws_sdk_dynamodb::Client::new(aws), table.clone()))
            }
            Store::Local { dir } => Arc::new(local_ledger(dir)?),
        })
    }

    /// The votekey pool: in the orders table, or in the local ledger file.
    pub fn pool(&self) -> Result<Arc<dyn VotekeyPool>> {
        Ok(match &self.store {
            Store::Dynamo { aws, table } => {
                Arc::new(DynamoLedger::new(aws_sdk_dynamodb::Client::new(aws), table.clone()))
            }
            Store::Local { dir } => Arc::new(local_ledger(dir)?),
        })
    }

    /// SES for AWS targets, the local outbox folder for `--local`.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        match &self.store {
            Store::Dynamo { aws, .. } => Arc::new(SesMailer::new(aws)),
            Store::Local { dir } => Arc::new(OutboxMailer::new(dir.join("outbox"))),
        }
    }

    /// The config's text and the config, from `--config-file`,
    /// `--config-parameter` or the stack's parameter.
    pub async fn config(&self, global: &Global) -> Result<(String, Config)> {
        let text = match (&global.config_file, &global.config_parameter, &self.stack_parameter) {
            (Some(file), _, _) => read_file(file)?,
            (None, Some(name), _) | (None, None, Some(name)) => {
                let aws = match &self.store {
                    Store::Dynamo { aws, .. } => (**aws).clone(),
                    Store::Local { .. } => aws().await,
                };
                get_parameter(&aws_sdk_ssm::Client::new(&aws), name)
                    .await?
                    .ok_or_else(|| Failure::Failed(format!("SSM parameter {name} does not exist")))?
            }
            (None, None, None) => {
                return Err(Failure::Usage(
                    "this command needs the config: --config-file FILE or --config-parameter NAME".into(),
                ));
            }
        };
        let config = Config::from_json(&text).map_err(|e| failed("the config", e))?;
        Ok((text, config))
    }
}

fn local_ledger(dir: &Path) -> Result<FileLedger> {
    if !dir.is_dir() {
        return Err(Failure::Failed(format!("{} is not a directory (the local server's data dir)", dir.display())));
    }
    Ok(FileLedger::new(dir.join("ledger.json")))
}

pub fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| failed(&format!("reading {}", path.display()), e))
}

/// Every order item of the table (`session#…`), through a paginated Scan.
async fn scan_orders(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<OrderRecord>> {
    let pages = client
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :order)")
        .expression_attribute_values(":order", AttributeValue::S("session#".into()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| failed(&format!("scanning {table}"), aws_error(&e)))?;
    Ok(pages.iter().filter_map(order_from_item).collect())
}

/// The parameter's decrypted value; `None` when it does not exist.
pub async fn get_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>> {
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;
    match client.get_parameter().name(name).with_decryption(true).send().await {
        Ok(output) => Ok(output.parameter.and_then(|p| p.value)),
        Err(e) if matches!(e.as_service_error(), Some(GetParameterError::ParameterNotFound(_))) => Ok(None),
        Err(e) => Err(failed(&format!("reading SSM parameter {name}"), aws_error(&e))),
    }
}

/// The stack outputs tdf-admin reads.
struct StackOutputs {
    table: Option<String>,
    config_parameter: Option<String>,
}

async fn stack_outputs(aws: &aws_config::SdkConfig, stack: &str) -> Result<StackOutputs> {
    let client = aws_sdk_cloudformation::Client::new(aws);
    let output = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| failed(&format!("describing stack {stack}"), aws_error(&e)))?;
    let Some(found) = output.stacks.unwrap_or_default().into_iter().next() else {
        return Err(Failure::Failed(format!("no stack {stack}")));
    };
    let output_value = |key: &str| {
        found.outputs().iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value()).map(str::to_owned)
    };
    let parameter_value = |key: &str| {
        found
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
            .map(str::to_owned)
    };
    Ok(StackOutputs {
        table: output_value(TABLE_OUTPUT),
        config_parameter: output_value(CONFIG_OUTPUT).or_else(|| parameter_value(CONFIG_STACK_PARAMETER)),
    })
}

/// An AWS SDK error as its code and message (never a response body): the
/// functions' own description.
pub use tickets::aws::describe as aws_error;
