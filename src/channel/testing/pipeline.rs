//! A channel's [`Pipeline`] for a test: the real filter and transform, compiled from the
//! channel's spec the way the engine compiles them, over a store in a temporary folder, with
//! no source and no delivery workers, so nothing listens and no destination is contacted.
//!
//! The scripts are compiled by the engine's own [`compile_scripts`]; the engine builds its
//! pipeline inside `engine::channels::start`, together with the workers and the source, so this
//! module assembles the [`Pipeline`] from its public fields. Keep it in step with `start`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Notify;

use crate::channel::runner::{Pipeline, Route};
use crate::channel::{AckMode, ChannelSpec, SourceSpec};
use crate::engine::channels::{ChannelScripts, compile_scripts};
use crate::store::{self, Backend, Store};

/// The channel's compiled scripts (filter, channel and destination transforms, lookups and
/// imports), built once per test file by the engine's own [`compile_scripts`] and shared by
/// its cases.
pub struct Scripts(ChannelScripts);

impl Scripts {
    /// Compiles the channel's scripts exactly as the engine does when it starts the channel.
    pub fn compile(spec: &ChannelSpec) -> anyhow::Result<Scripts> {
        compile_scripts(spec).map(Scripts)
    }
}

/// The pipeline of `spec` over `store`: its filter, transform, destinations (as queues
/// only), ACK mode and duplicate settings.
pub fn pipeline(spec: &ChannelSpec, scripts: &Scripts, store: &Store) -> Arc<Pipeline> {
    let routes = spec
        .destinations
        .iter()
        .enumerate()
        .map(|(index, destination)| Route {
            name: destination.name.clone(),
            send_original: destination.send_original,
            transform: scripts.0.destinations.get(index).cloned().flatten(),
            wake: Arc::new(Notify::new()),
        })
        .collect();
    Arc::new(Pipeline {
        channel: spec.id.to_string(),
        store: store.clone(),
        filter: scripts.0.filter.clone(),
        transform: scripts.0.transform.clone(),
        routes,
        // Written but not synced: a test store is thrown away, and syncing would only slow
        // the run. What is read back is the same either way.
        durability: store::Durability::Interval {
            max_delay_ms: Duration::from_secs(60).as_millis() as u64,
        },
        ack_mode: match &spec.source {
            SourceSpec::Mllp(mllp) => mllp.ack,
            _ => AckMode::Original,
        },
        duplicate_window: spec.duplicates.window,
        duplicate_action: spec.duplicates.action,
        meters: Default::default(),
    })
}

/// A folder under the system's temporary directory, removed (with everything in it) when
/// dropped.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a new, empty, uniquely named folder.
    pub fn new() -> std::io::Result<ScratchDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "ihub-test-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path)?;
        Ok(ScratchDir { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh store in a new subfolder, so each case starts empty (no duplicates from the
    /// case before).
    pub fn store(&self, name: &str) -> anyhow::Result<Store> {
        let dir = self.path.join(name);
        Store::open(&dir, Backend::Redb)
            .with_context(|| format!("cannot open a test store in {}", dir.display()))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
