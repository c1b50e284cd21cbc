//! Message bodies that stay in the journal: where one is ([`BodyRef`]), reading it back, and
//! making the segments that hold them durable.
//!
//! Why: every accepted message is written to the journal anyway, raw bytes, transformed bytes
//! and payloads included. Copying those bytes into the database as well cost about half the
//! engine's CPU under load (redb copies every page it inserts into, and its file grew to three
//! times the messages' size), so the database keeps only where the journal record is, and a
//! journal segment lives until no stored message refers to it (`applier.rs` deletes it then;
//! `ops.rs` counts the references per segment and moves the bodies of messages kept long into
//! the database when the rest of their segment is pruned).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::journal::segment_path;
use super::journal_record::{Entry, decode_record};
use super::model::MessageId;

/// Where a message's journal record is: its segment and the record's byte range in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BodyRef {
    /// The segment number (`journal-<n>.log`).
    #[serde(rename = "s")]
    pub(crate) segment: u64,
    /// The byte offset of the record (its length prefix) in the segment.
    #[serde(rename = "o")]
    pub(crate) offset: u64,
    /// The record's length, frame included.
    #[serde(rename = "l")]
    pub(crate) len: u32,
}

/// A position in the journal: everything before it is in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct JournalPos {
    /// The segment number.
    pub(crate) segment: u64,
    /// Bytes of that segment.
    pub(crate) offset: u64,
}

impl JournalPos {
    /// The stored form: segment and offset, big-endian.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = self.segment.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.offset.to_be_bytes());
        bytes
    }

    /// Reads the stored form; `None` when it is not 16 bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Option<JournalPos> {
        let segment = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let offset = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        (bytes.len() == 16).then_some(JournalPos { segment, offset })
    }
}

/// Reads the journal record of message `id` at `at` in the store directory `dir`, checking its
/// checksum and that it is the record of `id`.
pub(crate) fn read(dir: &Path, id: MessageId, at: &BodyRef) -> Result<Entry, StoreError> {
    SegmentReader::new(dir).read(id, at)
}

/// Reads several records, keeping the last segment open: a delivery batch's bodies are mostly
/// in one segment, and opening it once per message cost an `openat` and a `close` each.
pub(crate) struct SegmentReader<'a> {
    dir: &'a Path,
    open: Option<(u64, File)>,
}

impl<'a> SegmentReader<'a> {
    /// A reader of the segments in the store directory `dir`; nothing is opened yet.
    pub(crate) fn new(dir: &'a Path) -> Self {
        SegmentReader { dir, open: None }
    }

    /// The journal record of message `id` at `at`, checked like [`read`].
    pub(crate) fn read(&mut self, id: MessageId, at: &BodyRef) -> Result<Entry, StoreError> {
        let path = segment_path(self.dir, at.segment);
        let what = || format!("journal record of message {id}");
        let file = match &mut self.open {
            Some((segment, file)) if *segment == at.segment => file,
            open => {
                let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
                &mut open.insert((at.segment, file)).1
            }
        };
        let mut bytes = vec![0; at.len as usize];
        file.read_exact_at(&mut bytes, at.offset)
            .map_err(|e| StoreError::corrupt(what(), format!("{}: {e}", path.display())))?;
        let entry = decode_record(&bytes).ok_or_else(|| {
            StoreError::corrupt(
                what(),
                format!(
                    "{} at byte {}: torn or failed its checksum",
                    path.display(),
                    at.offset
                ),
            )
        })?;
        if entry.id != id {
            return Err(StoreError::corrupt(
                what(),
                format!(
                    "{} at byte {} holds message {}",
                    path.display(),
                    at.offset,
                    entry.id
                ),
            ));
        }
        Ok(entry)
    }
}

/// Makes segments durable (`fdatasync`), before a durable database commit that refers to
/// records in them: the database must never durably point at bytes a crash could still take.
pub(crate) fn sync_segments(
    dir: &Path,
    segments: impl IntoIterator<Item = u64>,
) -> Result<(), StoreError> {
    for segment in segments {
        let path = segment_path(dir, segment);
        match File::open(&path).and_then(|f| f.sync_data()) {
            Ok(()) => {}
            // Deleted since: nothing refers to it any more, so nothing needs it durable.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal_record::encode_accept;
    use crate::store::model::{MessageMeta, MessageStatus, NewMessage};

    fn message() -> NewMessage {
        NewMessage {
            channel: "ch".into(),
            peer: "peer".into(),
            received_at_ms: 7,
            raw: bytes::Bytes::from_static(b"MSH|^~\\&|A|B\r"),
            meta: MessageMeta::default(),
            status: MessageStatus::Filtered,
            error: None,
            transformed: None,
            deliveries: Vec::new(),
        }
    }

    #[test]
    fn a_record_reads_back_and_damage_is_named_with_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"earlier records".to_vec();
        let offset = bytes.len() as u64;
        encode_accept(&mut bytes, 42, 1, &message()).unwrap();
        let len = u32::try_from(bytes.len() as u64 - offset).unwrap();
        let path = segment_path(dir.path(), 3);
        std::fs::write(&path, &bytes).unwrap();
        let at = BodyRef {
            segment: 3,
            offset,
            len,
        };
        assert_eq!(read(dir.path(), 42, &at).unwrap().msg, message());

        // Another message's reference to the same record is refused.
        let wrong = read(dir.path(), 43, &at).unwrap_err().to_string();
        assert!(wrong.contains("holds message 42"), "{wrong}");

        // A flipped bit fails the checksum; the error names the file and the offset.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let damaged = read(dir.path(), 42, &at).unwrap_err().to_string();
        assert!(damaged.contains("journal-0000000003.log"), "{damaged}");
        assert!(damaged.contains(&format!("at byte {offset}")), "{damaged}");

        // A record cut short, and a missing segment, are errors too, not panics.
        std::fs::write(&path, &bytes[..last]).unwrap();
        assert!(read(dir.path(), 42, &at).is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(read(dir.path(), 42, &at).is_err());
        // Syncing a segment that is gone is not an error: nothing refers to it.
        sync_segments(dir.path(), [3]).unwrap();
    }

    #[test]
    fn positions_round_trip_and_order_by_segment_first() {
        let a = JournalPos {
            segment: 2,
            offset: 900,
        };
        let b = JournalPos {
            segment: 3,
            offset: 0,
        };
        assert!(a < b);
        assert_eq!(JournalPos::decode(&a.encode()), Some(a));
        assert_eq!(JournalPos::decode(&[0; 15]), None);
        assert_eq!(JournalPos::decode(&[0; 17]), None);
    }
}
