//! `ihub conflicts list|show|resolve`: sync conflicts parked for a person, through a running
//! engine's API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Subcommand};
use serde_json::{Value, json};

/// `ihub conflicts …`: parked sync conflicts of a running engine.
#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// List the open conflicts (with --all, the resolved ones too), oldest first.
    List {
        /// Resolved conflicts too.
        #[arg(long)]
        all: bool,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
    /// Show one conflict: base, both versions, the fields, the resolution.
    Show {
        /// The conflict id.
        id: u64,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
    /// Resolve a conflict: keep one side, or a version of your own from a JSON file.
    #[command(group(ArgGroup::new("choice").required(true).args(["choose", "value_file"])))]
    Resolve {
        /// The conflict id.
        id: u64,
        /// Keep the local or the remote version.
        #[arg(long, value_parser = ["local", "remote"])]
        choose: Option<String>,
        /// Keep the JSON value in this file.
        #[arg(long)]
        value_file: Option<PathBuf>,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
}

/// Runs one `ihub conflicts` subcommand against the API at `--api`.
pub fn run(command: ConflictsCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let (api, request) = match &command {
            ConflictsCommand::List { all, api } => {
                let status = if *all { "all" } else { "open" };
                (
                    api,
                    client.get(format!("http://{api}/api/conflicts?status={status}")),
                )
            }
            ConflictsCommand::Show { id, api } => {
                (api, client.get(format!("http://{api}/api/conflicts/{id}")))
            }
            ConflictsCommand::Resolve {
                id,
                choose,
                value_file,
                api,
            } => {
                let body = match (choose, value_file) {
                    (Some(side), _) => json!({ "choose": side }),
                    (None, Some(path)) => {
                        let text = std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {}", path.display()))?;
                        let value: Value = serde_json::from_str(&text)
                            .with_context(|| format!("{} is not JSON", path.display()))?;
                        json!({ "value": value })
                    }
                    (None, None) => bail!("give --choose local|remote or --value-file FILE"),
                };
                (
                    api,
                    client
                        .post(format!("http://{api}/api/conflicts/{id}/resolve"))
                        .json(&body),
                )
            }
        };
        let body = super::api_call::send(api, request).await?;
        if let ConflictsCommand::List { .. } = command {
            for c in body.as_array().map(Vec::as_slice).unwrap_or_default() {
                let fields: Vec<&str> = c["fields"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "{:>6}  {:<8}  {:<16}  {:<20}  {}",
                    c["id"],
                    c["status"].as_str().unwrap_or(""),
                    c["entity"].as_str().unwrap_or(""),
                    c["record_key"].as_str().unwrap_or(""),
                    fields.join(",")
                );
            }
        } else {
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        Ok(ExitCode::SUCCESS)
    })
}
