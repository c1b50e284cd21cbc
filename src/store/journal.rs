//! The accept journal: an append-only, checksummed log of accepted messages, and the durability
//! point of an accept.
//!
//! Why: a durable commit of the database costs far more CPU than the disk sync itself (redb
//! copies the leaf-to-root path of every table it touches), and the writer thread paid that for
//! every group of accepts. Now a group of accepts is one sequential `write` to this file (and,
//! for [`Durability::Sync`](super::Durability::Sync), one `fdatasync`), which is what the
//! acknowledgement waits for; the database gets the same changes as a cheap non-durable commit
//! and is made durable now and then by a *checkpoint* (a durable database commit, after which the
//! journal is emptied).
//!
//! At open, every record whose message id the database does not have yet (ids are handed out in
//! order and the next id is in every commit) is applied again, so nothing acknowledged is lost
//! whether the process or the machine died. A torn or corrupt tail (a crash mid-`write`) fails
//! its checksum; it was never acknowledged, and it is cut off.
//!
//! Record layout: `u32 body length ‖ u32 CRC-32 of the body ‖ body`, all big-endian; the body
//! is `u64 id ‖ u64 writer time ‖ u32 header length ‖ JSON header ‖ blobs`, each blob
//! `u32 length ‖ bytes`: the raw message, then the transformed one (if any), then each
//! destination payload that is not simply the raw or transformed bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::model::{MessageId, MessageMeta, MessageStatus, NewDelivery, NewMessage};
use super::record::{PayloadSource, payload_sources};

/// The journal file inside the store directory.
pub(crate) const FILE_NAME: &str = "ihub.journal";

/// Bytes before the body: length and checksum.
const FRAME_HEADER: usize = 8;

/// The JSON part of a record: everything but the bulk bytes.
#[derive(Serialize, Deserialize)]
struct Header {
    channel: String,
    peer: String,
    received_at_ms: u64,
    meta: MessageMeta,
    status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    transformed: bool,
    destinations: Vec<(String, PayloadSource)>,
}

/// One accept read back from the journal.
pub(crate) struct Entry {
    /// The id the writer gave it.
    pub(crate) id: MessageId,
    /// The writer's clock when it was accepted.
    pub(crate) now_ms: u64,
    /// The message as the pipeline handed it over.
    pub(crate) msg: NewMessage,
}

/// The open journal file. Owned by the writer thread.
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    /// Bytes of whole records in the file.
    len: u64,
    /// Whether something was appended since the last sync.
    unsynced: bool,
}

impl Journal {
    /// Opens (or creates) `dir/ihub.journal` and reads its records, cutting off a torn tail.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Vec<Entry>), StoreError> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io(&path, e))?;
        let (entries, good) = decode_all(&bytes);
        if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                cut_bytes = bytes.len() - good,
                "The store journal ended in a torn record (a crash mid-write); cut it off."
            );
            file.set_len(good as u64)
                .and_then(|()| file.sync_data())
                .map_err(|e| StoreError::io(&path, e))?;
        }
        let journal = Journal {
            file,
            path,
            len: good as u64,
            unsynced: false,
        };
        Ok((journal, entries))
    }

    /// Bytes of records in the journal (what a checkpoint would free).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether something was appended since the last sync.
    pub(crate) fn unsynced(&self) -> bool {
        self.unsynced
    }

    /// Appends whole records with one `write`. On failure the file is cut back to where it was,
    /// so a later append never follows a torn record.
    pub(crate) fn append(&mut self, records: &[u8]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match self.file.write_all(records) {
            Ok(()) => {
                self.len += records.len() as u64;
                self.unsynced = true;
                Ok(())
            }
            Err(error) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::error!(%cut, "Cannot cut the store journal back after a failed write.");
                }
                Err(StoreError::io(&self.path, error))
            }
        }
    }

    /// Makes every appended record durable (`fdatasync`).
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if !self.unsynced {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.unsynced = false;
        Ok(())
    }

    /// Empties the journal once the database holds everything in it durably. Not synced: if
    /// the emptying is lost in a crash, the old records are skipped at the next open (the
    /// database already has their ids).
    pub(crate) fn reset(&mut self) -> Result<(), StoreError> {
        self.file
            .set_len(0)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.len = 0;
        self.unsynced = false;
        Ok(())
    }
}

/// Appends the record of accepting `msg` as `id` to `out`.
pub(crate) fn encode_accept(
    out: &mut Vec<u8>,
    id: MessageId,
    now_ms: u64,
    msg: &NewMessage,
) -> Result<(), StoreError> {
    let sources = payload_sources(msg);
    let header = Header {
        channel: msg.channel.clone(),
        peer: msg.peer.clone(),
        received_at_ms: msg.received_at_ms,
        meta: msg.meta.clone(),
        status: msg.status,
        error: msg.error.clone(),
        transformed: msg.transformed.is_some(),
        destinations: msg
            .deliveries
            .iter()
            .zip(&sources)
            .map(|(d, s)| (d.destination.clone(), *s))
            .collect(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| StoreError::corrupt("journal record", e))?;
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&now_ms.to_be_bytes());
    put_blob(out, &json)?;
    put_blob(out, &msg.raw)?;
    if let Some(transformed) = &msg.transformed {
        put_blob(out, transformed)?;
    }
    for (delivery, source) in msg.deliveries.iter().zip(&sources) {
        if *source == PayloadSource::Own {
            put_blob(out, &delivery.payload)?;
        }
    }
    let body = start + FRAME_HEADER;
    let len = u32::try_from(out.len() - body).map_err(|_| too_big())?;
    let crc = crc32(out.get(body..).unwrap_or_default());
    if let Some(frame) = out.get_mut(start..body) {
        frame[..4].copy_from_slice(&len.to_be_bytes());
        frame[4..].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

fn too_big() -> StoreError {
    StoreError::Invalid("a message of 4 GiB or more cannot be stored".into())
}

fn put_blob(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads records from the front of `bytes` until the first one that is torn or fails its
/// checksum. Returns them and the length of the good prefix.
fn decode_all(bytes: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some((entry, next)) = decode_one(bytes, at) {
        entries.push(entry);
        at = next;
    }
    (entries, at)
}

fn decode_one(bytes: &[u8], at: usize) -> Option<(Entry, usize)> {
    let mut reader = Reader { bytes, at };
    let len = reader.u32()? as usize;
    let crc = reader.u32()?;
    let body_start = reader.at;
    let body = bytes.get(body_start..body_start.checked_add(len)?)?;
    if crc32(body) != crc {
        return None;
    }
    let mut body = Reader { bytes: body, at: 0 };
    let id = body.u64()?;
    let now_ms = body.u64()?;
    let header: Header = serde_json::from_slice(body.blob()?).ok()?;
    let raw = body.blob()?.to_vec();
    let transformed = if header.transformed {
        Some(body.blob()?.to_vec())
    } else {
        None
    };
    let mut deliveries = Vec::with_capacity(header.destinations.len());
    for (destination, source) in header.destinations {
        let payload = match source {
            PayloadSource::Own => body.blob()?.to_vec(),
            PayloadSource::Raw => raw.clone(),
            PayloadSource::Transformed => transformed.clone()?,
        };
        deliveries.push(NewDelivery {
            destination,
            payload,
        });
    }
    let msg = NewMessage {
        channel: header.channel,
        peer: header.peer,
        received_at_ms: header.received_at_ms,
        raw,
        meta: header.meta,
        status: header.status,
        error: header.error,
        transformed,
        deliveries,
    };
    Some((Entry { id, now_ms, msg }, body_start + len))
}

/// A cursor over big-endian numbers and length-prefixed blobs; `None` when the bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn blob(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// CRC-32 (IEEE 802.3, the zlib one), table-driven.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        let index = usize::from((crc as u8) ^ byte);
        crc = CRC_TABLE[index] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u8, transformed: bool) -> NewMessage {
        let raw = vec![b'r', n];
        let other = vec![b'o', n];
        NewMessage {
            channel: "ch".into(),
            peer: "peer".into(),
            received_at_ms: 7,
            raw: raw.clone(),
            meta: MessageMeta {
                control_id: format!("C{n}"),
                ..MessageMeta::default()
            },
            status: MessageStatus::Queued,
            error: None,
            transformed: transformed.then(|| vec![b't', n]),
            deliveries: vec![
                NewDelivery {
                    destination: "same".into(),
                    payload: raw,
                },
                NewDelivery {
                    destination: "other".into(),
                    payload: other,
                },
            ],
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let mut bytes = Vec::new();
        encode_accept(&mut bytes, 1, 10, &msg(1, false)).unwrap();
        encode_accept(&mut bytes, 2, 11, &msg(2, true)).unwrap();
        let whole = bytes.len();
        let (entries, good) = decode_all(&bytes);
        assert_eq!(good, whole);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].id, 2);
        assert_eq!(entries[1].now_ms, 11);
        assert_eq!(entries[0].msg, msg(1, false));
        assert_eq!(entries[1].msg, msg(2, true));

        encode_accept(&mut bytes, 3, 12, &msg(3, false)).unwrap();
        for cut in whole..bytes.len() {
            let (entries, good) = decode_all(&bytes[..cut]);
            assert_eq!((entries.len(), good), (2, whole), "cut at {cut}");
        }
        // A flipped bit in the last record's body fails its checksum.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(decode_all(&bytes).1, whole);
    }

    #[test]
    fn the_file_survives_reopen_and_reset_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, entries) = Journal::open(dir.path()).unwrap();
        assert!(entries.is_empty());
        let mut bytes = Vec::new();
        encode_accept(&mut bytes, 5, 1, &msg(5, false)).unwrap();
        journal.append(&bytes).unwrap();
        journal.sync().unwrap();
        // A torn half record after it, as a crash mid-write leaves.
        journal.append(&bytes[..bytes.len() / 2]).unwrap();
        drop(journal);
        let (mut journal, entries) = Journal::open(dir.path()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(journal.len(), bytes.len() as u64);
        journal.reset().unwrap();
        drop(journal);
        let (_, entries) = Journal::open(dir.path()).unwrap();
        assert!(entries.is_empty());
    }
}
