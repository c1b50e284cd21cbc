//! `ihub` / `ihub run`: start the engine with the channels of a directory.
//!
//! Settings come from `ihub.toml` in the working directory when present; flags override it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use super::RunArgs;
use crate::engine::{Engine, EngineSettings, InvalidChannels, stop_signal};
use crate::store::Backend;

/// `ihub.toml`: engine settings. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    /// The channels directory (default `channels`).
    channels: Option<PathBuf>,
    /// The data directory for the store (default `data`).
    data: Option<PathBuf>,
    /// The HTTP API and `/metrics` address (default `127.0.0.1:8080`).
    api: Option<SocketAddr>,
    /// `redb` (default) or `sled` (needs the `sled` cargo feature).
    backend: Option<String>,
}

/// Runs the engine until SIGINT/SIGTERM.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args, Path::new("ihub.toml"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let engine = match Engine::start(settings).await {
            Ok(engine) => engine,
            Err(error) => {
                if let Some(invalid) = error.downcast_ref::<InvalidChannels>() {
                    eprint!("{}", invalid.report);
                    eprintln!("Nothing was started.");
                    return Ok(ExitCode::from(78));
                }
                return Err(error);
            }
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("Stopping: finishing messages in flight.");
            trigger.cancel();
        });
        engine.run(shutdown).await?;
        Ok(ExitCode::SUCCESS)
    });
    // Everything that matters is flushed by now; do not wait on idle pool threads.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

fn settings(args: &RunArgs, file: &Path) -> anyhow::Result<EngineSettings> {
    let from_file: FileSettings = match std::fs::read_to_string(file) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("{}", file.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => FileSettings::default(),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", file.display())),
    };
    let backend_name = args
        .backend
        .clone()
        .or(from_file.backend)
        .unwrap_or_else(|| "redb".into());
    let backend: Backend = backend_name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(EngineSettings {
        channels_dir: args
            .channels
            .clone()
            .or(from_file.channels)
            .unwrap_or_else(|| "channels".into()),
        data_dir: args
            .data
            .clone()
            .or(from_file.data)
            .unwrap_or_else(|| "data".into()),
        api: args
            .api
            .or(from_file.api)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        backend,
        reload_interval: Duration::from_millis(args.reload_ms.unwrap_or(1000)),
    })
}
