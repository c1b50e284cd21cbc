//! The running engine: every enabled channel of the channels directory, the store, the HTTP API
//! and `/metrics`, hot reload, and a graceful stop.
//!
//! Startup refuses to run with an invalid channel file (the same diagnostics as
//! `ihub validate`). Afterwards, the channels directory is looked at every second: a channel
//! file added, changed (or whose script changed) or removed takes effect by stopping and starting
//! that one channel; its queued messages stay in the store and its workers pick them up again.
//! An edit that does not validate is logged and the running version is kept.
//!
//! SIGINT or SIGTERM: sources stop accepting, messages in flight are finished (stored and
//! answered), delivery attempts in flight are recorded, the store is flushed, and `run` returns.

pub mod channels;
pub mod delivery;
mod reload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::channel::{self, ChannelSpec};
use crate::store::{Backend, Store};
use channels::RunningChannel;

/// What `ihub run` needs to know.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The channels directory.
    pub channels_dir: PathBuf,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// The HTTP API (and `/metrics`) address.
    pub api: SocketAddr,
    /// The store backend.
    pub backend: Backend,
    /// How often the channels directory is checked for changes.
    pub reload_interval: Duration,
}

/// A channel as the engine knows it: running, or stopped (through the API).
pub struct ChannelSlot {
    /// The spec it was (or would be) started from.
    pub spec: ChannelSpec,
    /// The running channel; `None` while stopped.
    pub running: Option<RunningChannel>,
    /// Fingerprint of the channel file and its script, to notice edits.
    pub(crate) fingerprint: u64,
}

/// State shared by the engine loop and the API.
pub struct Engine {
    /// The store every channel writes to.
    pub store: Store,
    /// The channels by id.
    pub channels: Mutex<BTreeMap<String, ChannelSlot>>,
    /// Renders `/metrics`; `None` when another engine in this process installed the recorder.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    settings: EngineSettings,
    api_addr: std::sync::OnceLock<SocketAddr>,
}

/// Why the engine did not start: bad channel files get their own exit code (78, EX_CONFIG).
#[derive(Debug, thiserror::Error)]
#[error("{report}")]
pub struct InvalidChannels {
    /// The rendered diagnostics.
    pub report: String,
}

impl Engine {
    /// Opens the store and starts every enabled channel. Fails on any invalid channel file.
    pub async fn start(settings: EngineSettings) -> anyhow::Result<Arc<Engine>> {
        let metrics = crate::metrics::install();
        let (specs, diagnostics) = channel::load_channels(&settings.channels_dir);
        if diagnostics.iter().any(|d| d.is_error()) {
            let files: Vec<PathBuf> =
                channel::channel_files(&settings.channels_dir).unwrap_or_default();
            return Err(InvalidChannels {
                report: channel::render(&diagnostics, &files),
            }
            .into());
        }
        for warning in &diagnostics {
            tracing::warn!(file = %warning.file.display(), line = warning.line, "{}", warning.message);
        }
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
        let store = Store::open(&settings.data_dir, settings.backend)
            .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?;
        let engine = Arc::new(Engine {
            store,
            channels: Mutex::new(BTreeMap::new()),
            metrics,
            settings,
            api_addr: std::sync::OnceLock::new(),
        });
        let mut slots = engine.channels.lock().await;
        for spec in specs {
            let fingerprint = reload::fingerprint(&spec.file, &spec.watched_files());
            let id = spec.id.to_string();
            let running = if spec.enabled {
                Some(engine.start_channel(spec.clone()).await?)
            } else {
                None
            };
            slots.insert(
                id,
                ChannelSlot {
                    spec,
                    running,
                    fingerprint,
                },
            );
        }
        drop(slots);
        Ok(engine)
    }

    async fn start_channel(&self, spec: ChannelSpec) -> anyhow::Result<RunningChannel> {
        let id = spec.id.to_string();
        let source = spec.source.type_name();
        let running = channels::start(spec, &self.store)
            .await
            .with_context(|| format!("channel \"{id}\""))?;
        match running.bound {
            Some(addr) => tracing::info!(channel = %id, source, listen = %addr, "Channel started."),
            None => tracing::info!(channel = %id, source, "Channel started."),
        }
        Ok(running)
    }

    /// Starts a stopped channel (API `POST /api/channels/{id}/start`). False if unknown.
    pub async fn start_by_id(&self, id: &str) -> anyhow::Result<bool> {
        let mut slots = self.channels.lock().await;
        let Some(slot) = slots.get_mut(id) else {
            return Ok(false);
        };
        if slot.running.is_none() {
            slot.running = Some(self.start_channel(slot.spec.clone()).await?);
        }
        Ok(true)
    }

    /// Stops a channel until it is started again or its file changes. False if unknown.
    pub async fn stop_by_id(&self, id: &str) -> bool {
        let mut slots = self.channels.lock().await;
        let Some(slot) = slots.get_mut(id) else {
            return false;
        };
        if let Some(running) = slot.running.take() {
            running.stop().await;
            tracing::info!(channel = %id, "Channel stopped.");
        }
        true
    }

    /// The address each running channel's source is bound to (tests use port 0).
    pub async fn bound_addresses(&self) -> BTreeMap<String, SocketAddr> {
        let slots = self.channels.lock().await;
        slots
            .iter()
            .filter_map(|(id, slot)| Some((id.clone(), slot.running.as_ref()?.bound?)))
            .collect()
    }

    /// Serves the API and watches the channels directory until `shutdown` is cancelled, then
    /// stops every channel and flushes the store.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.settings.api)
            .await
            .with_context(|| format!("cannot serve the API on {}", self.settings.api))?;
        let api_addr = listener.local_addr()?;
        let _ = self.api_addr.set(api_addr);
        let app = crate::api::router(self.clone());
        let api_stop = shutdown.clone();
        let api = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { api_stop.cancelled().await });
            if let Err(error) = served.await {
                tracing::error!(%error, "The API server stopped.");
            }
        });
        let pruner = tokio::spawn(prune_loop(self.clone(), shutdown.clone()));
        let count = self
            .channels
            .lock()
            .await
            .values()
            .filter(|s| s.running.is_some())
            .count();
        tracing::info!(channels = count, api = %format!("http://{api_addr}"), "Integration Hub is READY.");
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.settings.reload_interval) => reload::reload(&self).await,
            }
        }
        let mut slots = self.channels.lock().await;
        let stopping: Vec<_> = slots
            .values_mut()
            .filter_map(|s| s.running.take())
            .collect();
        drop(slots);
        futures_util::future::join_all(stopping.into_iter().map(RunningChannel::stop)).await;
        self.store
            .flush()
            .await
            .context("flushing the store at shutdown")?;
        let _ = tokio::time::timeout(Duration::from_secs(2), api).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), pruner).await;
        tracing::info!("Integration Hub stopped.");
        Ok(())
    }

    /// The address the API is served on, once [`Engine::run`] has bound it.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr.get().copied()
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }
}

/// How often old messages are pruned (and once, a minute after start).
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Applies every channel's `[prune]` settings now and then. Pruning works in small chunks in
/// the store, so it does not hold up incoming messages.
async fn prune_loop(engine: Arc<Engine>, shutdown: CancellationToken) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = PRUNE_INTERVAL;
        let policies: Vec<(String, crate::store::PrunePolicy)> = {
            let slots = engine.channels.lock().await;
            slots
                .iter()
                .map(|(id, slot)| {
                    let prune = &slot.spec.prune;
                    let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
                    (
                        id.clone(),
                        crate::store::PrunePolicy {
                            max_age_ms: ms(prune.keep_for),
                            max_messages: prune.keep_messages,
                            error_max_age_ms: ms(prune.keep_errors_for),
                        },
                    )
                })
                .collect()
        };
        for (id, policy) in policies {
            match engine
                .store
                .prune(&id, &policy, crate::channel::runner::now_ms())
                .await
            {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(channel = %id, pruned, "Pruned old messages."),
                Err(error) => tracing::warn!(channel = %id, %error, "Pruning failed."),
            }
        }
    }
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
