//! `ihub messages list|show|replay`: the message API of a running engine, from the shell.

use std::process::ExitCode;

use anyhow::Context as _;

use super::MessagesCommand;

/// Runs one `ihub messages` subcommand against the API at `--api`.
pub fn run(command: MessagesCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let (api, request) = match &command {
            MessagesCommand::List {
                api,
                channel,
                status,
                control_id,
                limit,
            } => {
                let mut url =
                    reqwest::Url::parse(&format!("http://{api}/api/channels/{channel}/messages"))
                        .context("--api")?;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(status) = status {
                        query.append_pair("status", status);
                    }
                    if let Some(control_id) = control_id {
                        query.append_pair("control_id", control_id);
                    }
                    query.append_pair("limit", &limit.to_string());
                }
                (api, client.get(url))
            }
            MessagesCommand::Show { api, id } => {
                (api, client.get(format!("http://{api}/api/messages/{id}")))
            }
            MessagesCommand::Replay {
                api,
                id,
                destination,
            } => {
                let mut url = format!("http://{api}/api/messages/{id}/replay");
                if let Some(d) = destination {
                    url.push_str(&format!("?destination={d}"));
                }
                (api, client.post(url))
            }
        };
        let body = super::api_call::send(api, request).await?;
        if let MessagesCommand::List { .. } = command {
            for m in body.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!(
                    "{:>8}  {:<8}  {:<3}^{:<4}  {:<20}  {}",
                    m["id"],
                    m["status"].as_str().unwrap_or(""),
                    m["type"].as_str().unwrap_or(""),
                    m["trigger"].as_str().unwrap_or(""),
                    m["control_id"].as_str().unwrap_or(""),
                    m["error"].as_str().unwrap_or("")
                );
            }
        } else {
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        Ok(ExitCode::SUCCESS)
    })
}
