//! Several queued messages to one file destination in one step: each file is still written to
//! a temporary file, synced and renamed, but the files are synced together (on a few threads,
//! so the disk can serve their syncs with shared flushes) and the directory once for all.
//!
//! Why: one file per message costs two disk syncs (the file, then the directory), and the
//! directory sync plus one store round trip per message held a file destination to under a
//! thousand messages a second while intake ran at twenty thousand (docs/performance.md,
//! "Batched file delivery"). Each file keeps every guarantee of a single write: it appears
//! whole or not at all, and is durable before it counts as sent.

use std::io;
use std::path::{Path, PathBuf};

use super::file::{
    FileDestination, FileFields, TempFile, ensure_directory, is_plain_file_name, sync_directory,
    write_temp,
};
use super::{Outcome, background_io, error_chain};

impl FileDestination {
    /// Writes `items` in order and returns one outcome per item attempted. The batch stops at
    /// the first item that is not delivered, so a receiver never sees a file whose
    /// predecessor in the queue is missing; the items after it are not attempted and stay
    /// queued. If the final directory sync fails, every file of the batch is retried.
    pub async fn send_batch(&self, items: &[(&[u8], FileFields<'_>)]) -> Vec<Outcome> {
        let mut files = Vec::with_capacity(items.len());
        let mut refused = None;
        for (payload, fields) in items {
            let name = self.file_name(fields);
            // As in `send`: unreachable by construction, checked because it guards the folder.
            if !is_plain_file_name(&name) {
                refused = Some(Outcome::reject(format!(
                    "the file name \"{name}\" is not a plain file name"
                )));
                break;
            }
            files.push((self.directory().join(&name), payload.to_vec()));
        }
        let written = files.len();
        let directory = self.directory().to_path_buf();
        // Off the reactor threads, at delivery's lower priority (`background_io`).
        let mut outcomes =
            match background_io::run("ihub-file-io", move || write_batch(&directory, &files)).await
            {
                Ok(outcomes) => outcomes,
                Err(error) => vec![Outcome::retry(error)],
            };
        // The refused item follows the files before it only if all of them were delivered.
        if let Some(refused) = refused
            && outcomes.len() == written
            && outcomes.iter().all(Outcome::is_delivered)
        {
            outcomes.push(refused);
        }
        outcomes
    }
}

/// The blocking part of [`FileDestination::send_batch`]: every temporary file written, all
/// of them synced at once, renamed in order until one fails, then one directory sync for all
/// that were renamed.
fn write_batch(directory: &Path, files: &[(PathBuf, Vec<u8>)]) -> Vec<Outcome> {
    if let Err(error) = ensure_directory(directory) {
        return vec![Outcome::retry(format!(
            "could not create {}: {}",
            directory.display(),
            error_chain(&error)
        ))];
    }
    let cannot_write = |target: &Path, error: io::Error| {
        Outcome::retry(format!(
            "could not write {}: {}",
            target.display(),
            error_chain(&error)
        ))
    };
    let mut temps = Vec::with_capacity(files.len());
    let mut failed = None;
    for (target, payload) in files {
        match write_temp(directory, payload) {
            Ok(temp) => temps.push(temp),
            Err(error) => {
                failed = Some(cannot_write(target, error));
                break;
            }
        }
    }
    let synced = sync_all(&temps);
    let mut outcomes = Vec::with_capacity(temps.len());
    let mut temps = temps.into_iter();
    for ((target, _), (temp, sync)) in files.iter().zip(temps.by_ref().zip(synced)) {
        // The data is durable before the name points at it (see file.rs).
        match sync.and_then(|()| temp.rename(target)) {
            Ok(()) => outcomes.push(Outcome::Delivered {
                response: Some(target.to_string_lossy().into_owned().into_bytes()),
            }),
            Err(error) => {
                temp.discard();
                // An earlier file's failure stops the batch before a later one's.
                failed = Some(cannot_write(target, error));
                break;
            }
        }
    }
    temps.for_each(TempFile::discard);
    if !outcomes.is_empty()
        && let Err(error) = sync_directory(directory)
    {
        let reason = format!(
            "could not sync the directory {}: {}",
            directory.display(),
            error_chain(&error)
        );
        return outcomes
            .iter()
            .map(|_| Outcome::retry(reason.clone()))
            .collect();
    }
    outcomes.extend(failed);
    outcomes
}

/// Most threads syncing one batch's files at a time.
const SYNC_THREADS: usize = 8;

/// `fdatasync`s the files on several threads at once, because the disk serves syncs that
/// arrive together with one cache flush where one after another each waits for its own.
/// One result per file, in order.
fn sync_all(temps: &[TempFile]) -> Vec<io::Result<()>> {
    let threads = temps.len().min(SYNC_THREADS);
    if threads <= 1 {
        return temps.iter().map(TempFile::sync).collect();
    }
    let mut results: Vec<Option<io::Result<()>>> = temps.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let sync_share = move |first: usize| {
            temps
                .iter()
                .enumerate()
                .skip(first)
                .step_by(threads)
                .map(|(index, temp)| (index, temp.sync()))
                .collect::<Vec<_>>()
        };
        let mut spawned = Vec::with_capacity(threads);
        for first in 0..threads {
            match std::thread::Builder::new()
                .name("ihub-file-sync".into())
                .spawn_scoped(scope, move || sync_share(first))
            {
                Ok(handle) => spawned.push(handle),
                // No thread to be had: this share is synced here instead.
                Err(_) => {
                    for (index, result) in sync_share(first) {
                        results[index] = Some(result);
                    }
                }
            }
        }
        for handle in spawned {
            if let Ok(done) = handle.join() {
                for (index, result) in done {
                    results[index] = Some(result);
                }
            }
        }
    });
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(io::Error::other("a file sync thread failed"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::file::FileSettings;

    fn fields(message_id: u64) -> FileFields<'static> {
        FileFields {
            message_id,
            control_id: "CTRL",
            channel: "lab",
            message_type: "ORU",
            trigger: "R01",
            received: "20261204120000",
        }
    }

    fn destination(directory: &Path) -> FileDestination {
        FileDestination::new(FileSettings {
            directory: directory.to_path_buf(),
            filename: "{message_id}.hl7".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_batch_writes_every_file_whole_and_reports_each() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let dest = destination(&out);
        let payloads: Vec<Vec<u8>> = (0..5).map(|i| format!("MSH|{i}").into_bytes()).collect();
        let items: Vec<(&[u8], FileFields<'_>)> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_slice(), fields(i as u64 + 1)))
            .collect();
        let outcomes = dest.send_batch(&items).await;
        assert_eq!(outcomes.len(), 5);
        for (i, outcome) in outcomes.iter().enumerate() {
            let path = out.join(format!("{}.hl7", i + 1));
            let Outcome::Delivered { response } = outcome else {
                panic!("item {i}: {outcome:?}");
            };
            assert_eq!(response.as_deref(), Some(path.to_string_lossy().as_bytes()));
            assert_eq!(std::fs::read(&path).unwrap(), payloads[i]);
        }
        let leftovers = std::fs::read_dir(&out).unwrap().count();
        assert_eq!(leftovers, 5, "temporary files were left behind");
    }

    #[tokio::test]
    async fn a_batch_stops_at_the_first_file_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("2.hl7")).unwrap();
        std::fs::write(out.join("2.hl7").join("keep"), b"x").unwrap();
        let dest = destination(&out);
        let payload = b"MSH|x".as_slice();
        let items: Vec<(&[u8], FileFields<'_>)> = (1..=3).map(|i| (payload, fields(i))).collect();
        let outcomes = dest.send_batch(&items).await;
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(outcomes[0].is_delivered());
        assert!(
            matches!(&outcomes[1], Outcome::Retry { error, .. } if error.contains("2.hl7")),
            "{:?}",
            outcomes[1]
        );
        assert!(out.join("1.hl7").is_file());
        assert!(
            !out.join("3.hl7").exists(),
            "the batch went on past a failure"
        );
    }
}
