//! Hot reload: notice channel files (and their scripts) that were added, changed or removed,
//! and restart just those channels.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::{ChannelSlot, Engine};
use crate::channel;

/// A hash of the channel file's bytes and those of the files it depends on
/// ([`ChannelSpec::watched_files`](crate::channel::ChannelSpec::watched_files): scripts,
/// modules, lookup tables, mappings): an edit to any restarts the channel. (Contents, not
/// modification times, so a `touch` does nothing and an editor's save-in-place is still seen.)
pub(crate) fn fingerprint(file: &Path, dependencies: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    for dependency in dependencies {
        dependency.hash(&mut hasher);
        std::fs::read(dependency)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// One pass over the channels directory.
pub(crate) async fn reload(engine: &Engine) {
    let files = match channel::channel_files(&engine.settings.channels_dir) {
        Ok(files) => files,
        Err(error) => {
            tracing::warn!(%error, "Cannot read the channels directory; keeping the running channels.");
            return;
        }
    };
    let mut slots = engine.channels.lock().await;
    // Removed files: stop those channels. Their queues stay in the store.
    let present: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let removed: Vec<String> = slots
        .keys()
        .filter(|id| !present.contains(id))
        .cloned()
        .collect();
    for id in removed {
        if let Some(slot) = slots.remove(&id)
            && let Some(running) = slot.running
        {
            running.stop().await;
        }
        tracing::info!(channel = %id, "Channel file removed; channel stopped.");
    }
    for file in files {
        let id = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dependencies = slots
            .get(&id)
            .map(|s| s.spec.watched_files())
            .unwrap_or_default();
        let print = fingerprint(&file, &dependencies);
        if slots.get(&id).is_some_and(|s| s.fingerprint == print) {
            continue;
        }
        let spec = match channel::load_channel_file(&file) {
            Ok(spec) => spec,
            Err(diagnostics) => {
                let report = channel::render(&diagnostics, std::slice::from_ref(&file));
                tracing::error!(channel = %id, "The edited channel file is invalid; the running version is kept.\n{report}");
                // Remember this version so the same mistake is not reported every second.
                if let Some(slot) = slots.get_mut(&id) {
                    slot.fingerprint = print;
                }
                continue;
            }
        };
        let print = fingerprint(&file, &spec.watched_files());
        let old = slots.remove(&id);
        if let Some(running) = old.and_then(|s| s.running) {
            running.stop().await;
        }
        let running = if spec.enabled {
            match engine.start_channel(spec.clone()).await {
                Ok(running) => Some(running),
                Err(error) => {
                    tracing::error!(channel = %id, error = %format!("{error:#}"), "Cannot start the edited channel.");
                    None
                }
            }
        } else {
            None
        };
        tracing::info!(channel = %id, "Channel file changed; channel reloaded.");
        slots.insert(
            id,
            ChannelSlot {
                spec,
                running,
                fingerprint: print,
            },
        );
    }
}
