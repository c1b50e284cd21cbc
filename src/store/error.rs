//! [`StoreError`]: everything the store can fail with.
//!
//! Errors from the storage crates (redb, sled) and from the file system are converted here and
//! carried as boxed sources, so no storage-crate type appears in the store's public API: a
//! PostgreSQL backend can produce the same variants. The error is `Clone` because one group
//! commit can fail for many waiters at once, and each of them gets the same error.

use std::path::PathBuf;
use std::sync::Arc;

use super::model::MessageId;

/// A boxed, shareable error source (a storage crate's error, an I/O error, a JSON error).
pub type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in the store. Callers decide from the variant: the engine answers an HL7
/// `AE`/`AR` (or HTTP 5xx) on [`StoreError::Backend`] and [`StoreError::Io`] because the message
/// is then *not* known to be durable; the API maps [`StoreError::NotFound`] to 404.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store directory or database could not be opened (missing permissions, locked by
    /// another process, a corrupt file that repair could not fix).
    #[error("cannot open the store in {}", path.display())]
    Open {
        /// The store directory.
        path: PathBuf,
        /// Why, from the backend or the file system.
        #[source]
        source: Source,
    },
    /// The storage backend failed on a read or a commit. After a failed commit nothing of that
    /// batch is stored, and every request in it gets this error.
    #[error("storage backend failed to {op}")]
    Backend {
        /// What the store was doing, e.g. "commit a write batch".
        op: &'static str,
        /// The backend's own error.
        #[source]
        source: Source,
    },
    /// A file-system call failed (the explicit fdatasync of the sled backend, creating the
    /// directory).
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Source,
    },
    /// A stored record could not be decoded: the file was changed by something else, or was
    /// written by an incompatible version. The record is named, never its content (PHI).
    #[error("stored record {what} is corrupt: {reason}")]
    Corrupt {
        /// Which record, e.g. "message 42" or "queue entry".
        what: String,
        /// What does not decode.
        reason: String,
    },
    /// The store was written by a newer (or unknown) schema version; opening it could corrupt it.
    #[error(
        "store schema version {found} is not supported (this build reads versions up to {expected})"
    )]
    Schema {
        /// The version recorded in the store.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// No message with this id (never stored, or pruned).
    #[error("message {0} not found")]
    NotFound(MessageId),
    /// The message has no destination of that name.
    #[error("message {id} has no destination {destination:?}")]
    UnknownDestination {
        /// The message.
        id: MessageId,
        /// The destination name asked for.
        destination: String,
    },
    /// An attempt was recorded for a message that is not (or no longer) queued for that
    /// destination; for example a second worker finished it already.
    #[error("message {id} is not queued for destination {destination:?}")]
    NotQueued {
        /// The message.
        id: MessageId,
        /// The destination.
        destination: String,
    },
    /// A replay was asked for a message that has no destinations (filtered, or stored with a
    /// parse error): there is nothing to re-queue; the pipeline must run again instead.
    #[error("message {0} has no destinations to replay")]
    NothingToReplay(MessageId),
    /// The request itself is invalid (a name longer than 65,535 bytes, two deliveries to the
    /// same destination).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// No parked conflict with this id.
    #[error("conflict {0} not found")]
    ConflictNotFound(u64),
    /// The conflict was resolved already; a second resolution would overwrite the first choice.
    #[error("conflict {0} is already resolved")]
    ConflictResolved(u64),
    /// The writer thread has stopped (the store is shutting down, or it hit a fatal error).
    #[error("the store's writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// Wraps a backend error with what the store was doing.
    pub(crate) fn backend(
        op: &'static str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            op,
            source: Arc::new(error),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source: Arc::new(error),
        }
    }

    /// A record that does not decode.
    pub(crate) fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
