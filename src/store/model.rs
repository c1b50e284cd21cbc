//! The store's public data model: what the engine hands in ([`NewMessage`]), what delivery
//! workers take out ([`Delivery`]) and report back ([`Attempt`], [`NextStep`]), and what the API
//! reads ([`StoredMessage`], [`MessageSummary`], [`ChannelCounts`], [`QueueStats`]).
//!
//! These types carry no storage-crate type, so a PostgreSQL backend can return them unchanged.

use bytes::Bytes;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A message's id: assigned by the store at accept, unique, and strictly increasing in accept
/// order (the counter is persisted, so ids are never reused after a restart or a prune). It is
/// what logs, the API and receivers use to name a message without its content.
pub type MessageId = u64;

/// Where a message is in its life. A message's status is derived from its destinations once it
/// has any: `Error` if one is dead-lettered, `Sent` when all are sent, `Queued` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Stored, not yet through the pipeline.
    Received,
    /// The channel's filter turned it away; it was acknowledged and is kept for the record.
    Filtered,
    /// At least one destination still has to deliver it.
    Queued,
    /// Every destination accepted it.
    Sent,
    /// It could not be parsed or transformed, or a destination gave up on it (dead letter).
    Error,
}

impl MessageStatus {
    /// Every status, in the order counts are reported.
    pub const ALL: [MessageStatus; 5] = [
        MessageStatus::Received,
        MessageStatus::Filtered,
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Error,
    ];

    /// The lowercase name used in the API, the CLI and channel files.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Filtered => "filtered",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Error => "error",
        }
    }

    /// One byte for index keys. Fixed forever: it is on disk.
    pub(crate) fn code(self) -> u8 {
        match self {
            MessageStatus::Received => 1,
            MessageStatus::Filtered => 2,
            MessageStatus::Queued => 3,
            MessageStatus::Sent => 4,
            MessageStatus::Error => 5,
        }
    }

    /// The status of a [`MessageStatus::code`].
    pub(crate) fn from_code(code: u8) -> Option<MessageStatus> {
        Some(match code {
            1 => MessageStatus::Received,
            2 => MessageStatus::Filtered,
            3 => MessageStatus::Queued,
            4 => MessageStatus::Sent,
            5 => MessageStatus::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of `received|filtered|queued|sent|error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message status {0:?} (expected received, filtered, queued, sent or error)")]
pub struct UnknownStatus(pub String);

impl FromStr for MessageStatus {
    type Err = UnknownStatus;

    /// Parses the lowercase name (case-insensitive), as in `?status=error`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Where one destination is with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// In the destination's queue (possibly waiting for a retry time).
    Queued,
    /// The destination accepted it.
    Sent,
    /// The destination gave up on it (dead letter); a replay queues it again.
    Error,
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Error => "error",
        })
    }
}

/// What the engine read from the message header, kept for listing and searching without
/// re-parsing. Empty strings where the message had no such field (or did not parse).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// MSH-9.1, e.g. `ADT`.
    pub message_type: String,
    /// MSH-9.2, e.g. `A01`.
    pub trigger: String,
    /// MSH-10, the sender's message control id (used for duplicate detection).
    pub control_id: String,
    /// PID-3.1, the first patient identifier.
    pub patient_id: String,
}

/// One destination's copy of a message at accept time: what that destination will send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The destination's name in the channel.
    pub destination: String,
    /// The bytes to send (the transformed message, or the original for `send_original`).
    /// Shared bytes, so a payload that is the received message itself is not a copy of it.
    pub payload: Bytes,
}

/// A message as the pipeline hands it to the store: everything known at accept time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The channel id.
    pub channel: String,
    /// Who sent it (`ip:port`, a file name, an HTTP client address).
    pub peer: String,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// The bytes exactly as received (for audit and replay): the receiver's frame itself,
    /// shared rather than copied.
    pub raw: Bytes,
    /// Header fields for listing and search.
    pub meta: MessageMeta,
    /// The pipeline's verdict. When `deliveries` is not empty the stored status is `Queued`
    /// whatever is given here, because the queue entries are what the status describes.
    pub status: MessageStatus,
    /// Why the pipeline failed, for `Error`.
    pub error: Option<String>,
    /// The transformer's output, when there is a transformer.
    pub transformed: Option<Vec<u8>>,
    /// One queue entry per destination, each at the tail of that destination's queue.
    pub deliveries: Vec<NewDelivery>,
}

/// How durable an accept must be before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// On disk (fsync) before `accept` returns. Concurrent accepts share one sync (group commit).
    #[default]
    Sync,
    /// Written to the store's journal (it reached the OS, so a process crash loses nothing)
    /// and visible at once; synced to disk within `max_delay_ms`. A power cut or OS crash can
    /// lose the messages of that window even though they were acknowledged.
    Interval {
        /// The longest time an acknowledged message may stay not durable.
        max_delay_ms: u64,
    },
}

/// Which embedded database holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// redb: ACID, fsync on every durable commit, checksummed commit slots. The default.
    #[default]
    Redb,
    /// sled 0.34, made durable by `flush()` plus an explicit fdatasync of its files.
    #[cfg(feature = "sled")]
    Sled,
}

impl Backend {
    /// Every backend compiled into this build (redb first).
    pub fn all() -> &'static [Backend] {
        &[
            Backend::Redb,
            #[cfg(feature = "sled")]
            Backend::Sled,
        ]
    }

    /// The name used in settings: `redb` or `sled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Redb => "redb",
            #[cfg(feature = "sled")]
            Backend::Sled => "sled",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that is unknown, or not compiled in (`sled` without the `sled` feature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown store backend {0:?} (this build has: {list})", list = backend_list())]
pub struct UnknownBackend(pub String);

fn backend_list() -> String {
    Backend::all()
        .iter()
        .map(|backend| backend.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Backend {
    type Err = UnknownBackend;

    /// Parses `redb` or `sled` (the latter only in builds with the `sled` feature).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::all()
            .iter()
            .copied()
            .find(|backend| backend.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownBackend(s.to_owned()))
    }
}

/// The head of a destination's queue (or one ready entry), as a delivery worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message.
    pub message_id: MessageId,
    /// The destination it is queued for.
    pub destination: String,
    /// The bytes to send.
    pub payload: Vec<u8>,
    /// Attempts made since it was (re-)queued: the worker's input to backoff and dead-lettering.
    pub attempts: u32,
    /// Not to be sent before this time (ms since the epoch); 0 for a fresh entry.
    pub not_before_ms: u64,
    /// MSH-10, carried so a worker can log and match ACKs without reading the payload.
    pub control_id: String,
    /// MSH-9.1 and MSH-9.2, for file name templates, carried so a worker need not read the
    /// message's record once per delivery.
    pub message_type: String,
    /// See `message_type`.
    pub trigger: String,
    /// When the message was received (ms since the epoch), for file name templates.
    pub received_at_ms: u64,
}

/// One delivery attempt, as the worker saw it. Kept with the message forever (until pruned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When the attempt started (ms since the epoch).
    pub at_ms: u64,
    /// Whether the destination accepted the message.
    pub ok: bool,
    /// The destination's reply (an ACK, an HTTP body), when there was one.
    pub response: Option<Vec<u8>>,
    /// Why it failed: a timeout, a refused connection, `AE` with its text.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
}

/// What a worker decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: remove it from the queue and mark the destination sent.
    Sent,
    /// Try again, not before this time (ms since the epoch). The entry keeps its place, so an
    /// ordered destination does not send later messages first.
    RetryAt(u64),
    /// Give up: remove it from the queue and mark the destination `error`. A replay re-queues it.
    DeadLetter,
}

/// One destination of a stored message: status, what it sends, and every attempt so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    /// The destination's name.
    pub destination: String,
    /// Where it is.
    pub status: DeliveryStatus,
    /// The bytes it sends.
    pub payload: Vec<u8>,
    /// Every attempt, oldest first, across replays.
    pub attempts: Vec<Attempt>,
    /// When queued: not to be sent before this time.
    pub not_before_ms: Option<u64>,
}

/// Everything stored about one message: each stage's content, status and attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id.
    pub id: MessageId,
    /// The channel id.
    pub channel: String,
    /// Who sent it.
    pub peer: String,
    /// When it arrived (ms since the epoch).
    pub received_at_ms: u64,
    /// When its status last changed (ms since the epoch).
    pub updated_at_ms: u64,
    /// The bytes as received.
    pub raw: Vec<u8>,
    /// Header fields.
    pub meta: MessageMeta,
    /// The overall status.
    pub status: MessageStatus,
    /// The pipeline's error, or the last dead-lettering destination's error.
    pub error: Option<String>,
    /// The transformer's output.
    pub transformed: Option<Vec<u8>>,
    /// Per-destination state, in the channel's destination order.
    pub destinations: Vec<StoredDelivery>,
}

/// One row of a message list: enough to show and filter, without the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// The message id.
    pub id: MessageId,
    /// The channel id.
    pub channel: String,
    /// Who sent it.
    pub peer: String,
    /// When it arrived (ms since the epoch).
    pub received_at_ms: u64,
    /// Header fields.
    pub meta: MessageMeta,
    /// The overall status.
    pub status: MessageStatus,
    /// The error text, if any.
    pub error: Option<String>,
}

/// Which messages [`crate::store::Store::list`] returns. Every field narrows the result; the
/// default lists the newest 100 messages of every channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this status.
    pub status: Option<MessageStatus>,
    /// Only this MSH-9.1.
    pub message_type: Option<String>,
    /// Only this MSH-10.
    pub control_id: Option<String>,
    /// Only messages received at or after this time (ms since the epoch).
    pub since_ms: Option<u64>,
    /// At most this many rows (default [`MessageFilter::DEFAULT_LIMIT`], capped at
    /// [`MessageFilter::MAX_LIMIT`]).
    pub limit: Option<usize>,
}

impl MessageFilter {
    /// Rows returned when `limit` is not set.
    pub const DEFAULT_LIMIT: usize = 100;
    /// The most rows one call returns, so one request cannot make the store copy everything.
    pub const MAX_LIMIT: usize = 10_000;

    /// The effective row limit.
    pub fn effective_limit(&self) -> usize {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .min(Self::MAX_LIMIT)
    }
}

/// What a delivery worker may send now (see `Store::due_deliveries_now`).
#[derive(Debug, Default)]
pub struct DueDeliveries {
    /// Due entries, in queue order.
    pub ready: Vec<Delivery>,
    /// For an ordered queue whose next entry waits for a retry time: that time (ms since the
    /// epoch), so the worker sleeps until then.
    pub blocked_until_ms: Option<u64>,
}

/// A destination queue's depth and age, for `/metrics` and the channel list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Entries waiting (including those waiting for a retry time).
    pub depth: u64,
    /// When the oldest waiting entry was queued (ms since the epoch); `None` when empty.
    pub oldest_enqueued_ms: Option<u64>,
}

/// The store's files on disk, for `/metrics`: message bytes live in the journal segments until
/// their messages are pruned, so disk space is watched there as much as in the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes of the database file(s).
    pub database_bytes: u64,
    /// Bytes of the journal segments.
    pub journal_bytes: u64,
    /// Journal segment files.
    pub journal_segments: u64,
}

/// How many of a channel's stored messages are in each status. Pruned messages no longer
/// count; lifetime totals belong to the metrics counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// Stored, not yet through the pipeline.
    pub received: u64,
    /// Filtered out.
    pub filtered: u64,
    /// Waiting for at least one destination.
    pub queued: u64,
    /// Delivered everywhere.
    pub sent: u64,
    /// Failed (pipeline error or dead letter).
    pub error: u64,
}

impl ChannelCounts {
    /// All stored messages of the channel.
    pub fn total(&self) -> u64 {
        self.received + self.filtered + self.queued + self.sent + self.error
    }

    /// The count for one status.
    pub fn get(&self, status: MessageStatus) -> u64 {
        match status {
            MessageStatus::Received => self.received,
            MessageStatus::Filtered => self.filtered,
            MessageStatus::Queued => self.queued,
            MessageStatus::Sent => self.sent,
            MessageStatus::Error => self.error,
        }
    }

    pub(crate) fn set(&mut self, status: MessageStatus, value: u64) {
        match status {
            MessageStatus::Received => self.received = value,
            MessageStatus::Filtered => self.filtered = value,
            MessageStatus::Queued => self.queued = value,
            MessageStatus::Sent => self.sent = value,
            MessageStatus::Error => self.error = value,
        }
    }
}

/// How much history a channel keeps. A message is pruned when it is older than `max_age_ms`
/// **or** beyond the newest `max_messages` of its channel, except:
/// - a message still queued (or not yet processed) is never pruned;
/// - when `error_max_age_ms` is set, messages in `Error` are pruned only by that age (never by
///   count), so failures stay around for analysis longer than the traffic around them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunePolicy {
    /// Keep messages younger than this (e.g. 7 days = 604,800,000 ms). `None`: no age limit.
    pub max_age_ms: Option<u64>,
    /// Keep at most this many messages per channel. `None`: no count limit.
    pub max_messages: Option<u64>,
    /// Keep errors this long, whatever the other limits say. `None`: errors follow the others.
    pub error_max_age_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_match_serde() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!("ERROR".parse::<MessageStatus>(), Ok(MessageStatus::Error));
        assert!("done".parse::<MessageStatus>().is_err());
    }

    #[test]
    fn status_codes_are_distinct() {
        let mut codes: Vec<u8> = MessageStatus::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MessageStatus::ALL.len());
    }

    #[test]
    fn backend_parses_its_names() {
        assert_eq!("redb".parse::<Backend>(), Ok(Backend::Redb));
        assert!("rocksdb".parse::<Backend>().is_err());
        #[cfg(feature = "sled")]
        assert_eq!("sled".parse::<Backend>(), Ok(Backend::Sled));
        #[cfg(not(feature = "sled"))]
        assert!("sled".parse::<Backend>().is_err());
    }

    #[test]
    fn filter_limit_defaults_and_caps() {
        let mut filter = MessageFilter::default();
        assert_eq!(filter.effective_limit(), 100);
        filter.limit = Some(5);
        assert_eq!(filter.effective_limit(), 5);
        filter.limit = Some(usize::MAX);
        assert_eq!(filter.effective_limit(), MessageFilter::MAX_LIMIT);
    }

    #[test]
    fn counts_total_and_get() {
        let mut counts = ChannelCounts::default();
        counts.set(MessageStatus::Queued, 3);
        counts.set(MessageStatus::Error, 2);
        assert_eq!(counts.total(), 5);
        assert_eq!(counts.get(MessageStatus::Queued), 3);
        assert_eq!(counts.get(MessageStatus::Sent), 0);
    }
}
