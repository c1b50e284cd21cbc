//! One record of the accept journal: how an accepted message is written to it and read back.
//!
//! Record layout: `u32 body length ‖ u32 CRC-32 of the body ‖ body`, all big-endian; the body
//! is `u64 id ‖ u64 writer time ‖ u32 header length ‖ header ‖ blobs`, each blob
//! `u32 length ‖ bytes`: the raw message, then the transformed one (if any), then each
//! destination payload that is not simply the raw or transformed bytes.
//!
//! The header is binary, in [`record_codec`]'s encoding (its version byte, then the fields
//! of [`Header`] in order): every accept writes one on the acknowledgement's path, and as JSON
//! it cost about as much as the record's checksum. Records of earlier versions have a JSON
//! header, which starts with `{`; both are read.

use bytes::Bytes;
use serde::Deserialize;

use super::error::StoreError;
use super::model::{MessageId, MessageMeta, MessageStatus, NewDelivery, NewMessage};
use super::record::{PayloadSource, payload_sources};
use super::record_codec::{self, payload_code, payload_from_code, put_outcome, put_str, put_uint};

/// Bytes before the body: length and checksum.
const FRAME_HEADER: usize = 8;

/// The header of a record: everything but the bulk bytes, as read back. `Deserialize` reads
/// the JSON headers of earlier versions (which left out an absent error).
#[derive(Deserialize)]
struct Header {
    channel: String,
    peer: String,
    received_at_ms: u64,
    meta: MessageMeta,
    status: MessageStatus,
    #[serde(default)]
    error: Option<String>,
    transformed: bool,
    destinations: Vec<(String, PayloadSource)>,
}

/// One accept read back from the journal.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The id the writer gave it.
    pub(crate) id: MessageId,
    /// The writer's clock when it was accepted.
    pub(crate) now_ms: u64,
    /// The message as the pipeline handed it over.
    pub(crate) msg: NewMessage,
    /// Where each destination's payload comes from, as the record says.
    pub(crate) sources: Vec<PayloadSource>,
    /// Where the record starts in the bytes it was read from.
    pub(crate) at: u64,
    /// The record's length, frame included.
    pub(crate) len: u32,
}

/// Appends the record of accepting `msg` as `id` to `out`. Returns where each destination's
/// payload comes from, which the database needs once the bytes are only in the journal.
pub(crate) fn encode_accept(
    out: &mut Vec<u8>,
    id: MessageId,
    now_ms: u64,
    msg: &NewMessage,
) -> Result<Vec<PayloadSource>, StoreError> {
    let sources = payload_sources(msg);
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&now_ms.to_be_bytes());
    // The header goes straight into `out`, its length patched in after.
    let header_at = out.len();
    out.extend_from_slice(&[0; 4]);
    put_header(out, msg, &sources);
    let header_len = u32::try_from(out.len() - header_at - 4).map_err(|_| too_big())?;
    if let Some(slot) = out.get_mut(header_at..header_at + 4) {
        slot.copy_from_slice(&header_len.to_be_bytes());
    }
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
    Ok(sources)
}

/// Writes the binary [`Header`] of `msg`.
fn put_header(out: &mut Vec<u8>, msg: &NewMessage, sources: &[PayloadSource]) {
    out.push(record_codec::VERSION);
    put_str(out, &msg.channel);
    put_str(out, &msg.peer);
    put_uint(out, msg.received_at_ms);
    put_outcome(
        out,
        &msg.meta,
        msg.status,
        msg.error.as_deref(),
        msg.transformed.is_some(),
    );
    put_uint(out, msg.deliveries.len() as u64);
    for (delivery, source) in msg.deliveries.iter().zip(sources) {
        put_str(out, &delivery.destination);
        out.push(payload_code(*source));
    }
}

/// Reads a header in either encoding; `None` if it is not whole.
fn read_header(bytes: &[u8]) -> Option<Header> {
    let Some((&record_codec::VERSION, binary)) = bytes.split_first() else {
        return serde_json::from_slice(bytes).ok();
    };
    let mut r = record_codec::Reader::new(binary);
    let channel = r.string()?;
    let peer = r.string()?;
    let received_at_ms = r.uint()?;
    let (meta, status, error, transformed) = r.outcome()?;
    let count = usize::try_from(r.uint()?).ok()?;
    // Each destination takes at least two bytes: a bad count cannot make a huge allocation.
    let mut destinations = Vec::with_capacity(count.min(r.remaining() / 2));
    for _ in 0..count {
        destinations.push((r.string()?, payload_from_code(r.byte()?)?));
    }
    (r.remaining() == 0).then_some(Header {
        channel,
        peer,
        received_at_ms,
        meta,
        status,
        error,
        transformed,
        destinations,
    })
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

/// Reads one whole record, which must fill `bytes` exactly; `None` if it is torn, fails its
/// checksum or does not end where `bytes` does.
pub(crate) fn decode_record(bytes: &[u8]) -> Option<Entry> {
    let (entry, end) = decode_one(bytes, 0)?;
    (end == bytes.len()).then_some(entry)
}

/// Reads records from the front of `bytes` until the first one that is torn or fails its
/// checksum. Returns them and the length of the good prefix.
pub(crate) fn decode_all(bytes: &[u8]) -> (Vec<Entry>, usize) {
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
    let header = read_header(body.blob()?)?;
    let raw = Bytes::copy_from_slice(body.blob()?);
    let transformed = if header.transformed {
        Some(body.blob()?.to_vec())
    } else {
        None
    };
    let mut deliveries = Vec::with_capacity(header.destinations.len());
    let sources = header.destinations.iter().map(|(_, s)| *s).collect();
    for (destination, source) in header.destinations {
        let payload = match source {
            PayloadSource::Own => Bytes::copy_from_slice(body.blob()?),
            // Shared, not copied.
            PayloadSource::Raw => raw.clone(),
            PayloadSource::Transformed => Bytes::from(transformed.clone()?),
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
    let end = body_start + len;
    let entry = Entry {
        id,
        now_ms,
        msg,
        sources,
        at: at as u64,
        len: u32::try_from(end - at).ok()?,
    };
    Some((entry, end))
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

/// CRC-32 (IEEE 802.3, the zlib one). `crc32fast` uses the CPU's carry-less multiply: the
/// table-driven loop this replaced took about a tenth of the engine's CPU under load.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

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
            raw: raw.clone().into(),
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
                    payload: raw.into(),
                },
                NewDelivery {
                    destination: "other".into(),
                    payload: other.into(),
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
        let second = &bytes[entries[1].at as usize..][..entries[1].len as usize];
        assert_eq!(decode_record(second).map(|e| e.id), Some(2));
        assert!(decode_record(&bytes).is_none(), "two records are not one");

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

    /// A record as versions before the binary header wrote it: the header as JSON.
    fn json_header_record(id: MessageId, now_ms: u64, msg: &NewMessage) -> Vec<u8> {
        let header = serde_json::json!({
            "channel": msg.channel,
            "peer": msg.peer,
            "received_at_ms": msg.received_at_ms,
            "meta": serde_json::to_value(&msg.meta).unwrap(),
            "status": serde_json::to_value(msg.status).unwrap(),
            "transformed": msg.transformed.is_some(),
            "destinations": [["same", "raw"], ["other", "own"]],
        });
        let header = serde_json::to_vec(&header).unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&now_ms.to_be_bytes());
        put_blob(&mut body, &header).unwrap();
        put_blob(&mut body, &msg.raw).unwrap();
        put_blob(&mut body, &msg.deliveries[1].payload).unwrap();
        let mut record = Vec::new();
        record.extend_from_slice(&(body.len() as u32).to_be_bytes());
        record.extend_from_slice(&crc32(&body).to_be_bytes());
        record.extend_from_slice(&body);
        record
    }

    #[test]
    fn records_with_the_json_header_of_earlier_versions_still_decode() {
        let old = json_header_record(5, 20, &msg(5, false));
        assert_eq!(old[28], b'{', "the old header is JSON");
        let entry = decode_record(&old).expect("the old record decodes");
        assert_eq!((entry.id, entry.now_ms), (5, 20));
        assert_eq!(entry.msg, msg(5, false));
        assert_eq!(entry.sources, vec![PayloadSource::Raw, PayloadSource::Own]);

        let mut new = Vec::new();
        encode_accept(&mut new, 6, 21, &msg(6, false)).unwrap();
        assert_eq!(new[28], record_codec::VERSION, "a new header is binary");
        assert!(
            new.len() < old.len(),
            "{} bytes against {}",
            new.len(),
            old.len()
        );
        // Both kinds in one segment, as after an upgrade with records not yet checkpointed.
        let mut both = old.clone();
        both.extend_from_slice(&new);
        let (entries, good) = decode_all(&both);
        assert_eq!((entries.len(), good), (2, both.len()));
        assert_eq!(entries[1].msg, msg(6, false));
    }

    #[test]
    fn a_binary_header_cut_short_or_with_trailing_bytes_is_not_read() {
        let mut header = Vec::new();
        let m = msg(7, true);
        put_header(&mut header, &m, &payload_sources(&m));
        let header_read = read_header(&header).expect("whole header");
        assert_eq!(header_read.destinations.len(), 2);
        let mut trailing = header.clone();
        trailing.push(0);
        assert!(read_header(&trailing).is_none());
        for cut in 1..header.len() {
            assert!(read_header(&header[..cut]).is_none(), "cut at {cut}");
        }
    }
}
