//! The file source: polls a directory for files matching a glob, takes every message out of each
//! (one message, a stream or a batch), and moves the file to `done/` when all of them were
//! accepted or to `error/` otherwise — only after every message is stored, so a crash in between
//! leaves the file where it was and it is read again (at-least-once).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::channel::runner::Pipeline;
use crate::hl7::parse_stream;

/// Where and how to poll.
#[derive(Debug, Clone)]
pub struct FileSourceSettings {
    /// The directory to watch.
    pub directory: PathBuf,
    /// File name pattern: `*` any run of characters, `?` one character.
    pub glob: String,
    /// How often to look.
    pub poll_interval: Duration,
    /// Where fully accepted files go.
    pub done_directory: PathBuf,
    /// Where files with a refused message go.
    pub error_directory: PathBuf,
}

/// Starts polling in a task until `stop` is cancelled.
pub fn start(
    settings: FileSourceSettings,
    pipeline: Arc<Pipeline>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = poll_once(&settings, &pipeline).await {
                tracing::warn!(channel = %pipeline.channel, directory = %settings.directory.display(), %error, "Cannot read the input directory.");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    })
}

/// Takes in every matching file present now, oldest name first.
pub async fn poll_once(
    settings: &FileSourceSettings,
    pipeline: &Arc<Pipeline>,
) -> std::io::Result<usize> {
    let mut names = Vec::new();
    let mut entries = tokio::fs::read_dir(&settings.directory).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().await?.is_file() && glob_matches(&settings.glob, &name) {
            names.push(name);
        }
    }
    names.sort();
    for name in &names {
        take_file(settings, pipeline, &settings.directory.join(name)).await?;
    }
    Ok(names.len())
}

async fn take_file(
    settings: &FileSourceSettings,
    pipeline: &Arc<Pipeline>,
    path: &Path,
) -> std::io::Result<()> {
    let bytes = tokio::fs::read(path).await?;
    let peer = format!(
        "file:{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut all_accepted = true;
    // A file that is not HL7 at all is stored whole, as one (unreadable) message.
    let messages: Vec<Bytes> = match parse_stream(&bytes) {
        Ok(messages) => messages.iter().map(|m| Bytes::from(m.to_bytes())).collect(),
        Err(_) => vec![Bytes::from(bytes)],
    };
    for message in messages {
        let disposition = pipeline.receive(message, &peer).await;
        if disposition.message_id.is_none() {
            // Not stored: leave the file in place, it will be read again.
            return Ok(());
        }
        all_accepted &= disposition.accepted();
    }
    let target = if all_accepted {
        &settings.done_directory
    } else {
        &settings.error_directory
    };
    tokio::fs::create_dir_all(target).await?;
    let name = path.file_name().map(PathBuf::from).unwrap_or_default();
    tokio::fs::rename(path, unique_target(target, &name)).await
}

/// `target/name`, or `target/name.N` when a file of that name was already moved there.
fn unique_target(target: &Path, name: &Path) -> PathBuf {
    let first = target.join(name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| target.join(format!("{}.{n}", name.display())))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Matches `*` (any run) and `?` (one character); everything else literally.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("*.hl7", "a.hl7"));
        assert!(glob_matches("*.hl7", ".hl7"));
        assert!(!glob_matches("*.hl7", "a.hl7.tmp"));
        assert!(glob_matches("lab_??.txt", "lab_01.txt"));
        assert!(!glob_matches("lab_??.txt", "lab_1.txt"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
    }
}
