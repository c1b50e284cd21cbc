//! `ihub schema`: prints the JSON Schema of channel files, for editors. Save it and point Taplo /
//! Even Better TOML at it (see channels/README.md, "Editor support").

use std::process::ExitCode;

/// Runs `ihub schema`: the schema, pretty-printed, on stdout.
pub fn run() -> anyhow::Result<ExitCode> {
    let schema = crate::channel::channel_schema();
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
