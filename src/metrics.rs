//! Every metric the engine exports, by name, in one place (style.md rule 8).
//!
//! Names follow Prometheus conventions (`<area>_<what>_<unit>[_total]`); labels are bounded:
//! `channel`, `destination`, `source_type`, `stage`, `error_type`, `code`, never a patient
//! identifier, control id or URL. Call [`install`] once at startup; the returned handle renders
//! the text exposition format for `GET /metrics`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Messages received by a channel's source.
pub const RECEIVED: &str = "channel_received_messages_total";
/// Messages a channel's filter turned away (still stored and acknowledged).
pub const FILTERED: &str = "channel_filtered_messages_total";
/// Messages that went to ERROR, by stage (`receiving`, `processing`, `sending`) and error type.
pub const ERRORS: &str = "channel_errors_total";
/// Duplicate control ids detected within the channel's window.
pub const DUPLICATES: &str = "channel_duplicate_messages_total";
/// ACKs sent back to senders, by code (AA, AE, AR, CA, CE, CR).
pub const ACKS_SENT: &str = "mllp_acks_sent_total";
/// MLLP connections open now.
pub const CONNECTIONS_OPEN: &str = "mllp_connections_open";
/// MLLP connections closed because of a bad frame, a timeout or a TLS failure.
pub const CONNECTION_PROBLEMS: &str = "mllp_connection_problems_total";
/// Entries added to a destination queue.
pub const ENQUEUED: &str = "queue_enqueued_messages_total";
/// Entries that left a destination queue (sent or dead-lettered).
pub const DEQUEUED: &str = "queue_dequeued_messages_total";
/// Entries waiting in a destination queue.
pub const QUEUE_DEPTH: &str = "queue_depth_messages";
/// Age of the oldest entry in a destination queue.
pub const QUEUE_OLDEST_AGE: &str = "queue_oldest_message_age_seconds";
/// Messages a destination accepted.
pub const SENT: &str = "destination_sent_messages_total";
/// Delivery attempts that will be retried.
pub const RETRIES: &str = "destination_retries_total";
/// Messages a destination rejected or that ran out of attempts (dead letters).
pub const REJECTED: &str = "destination_rejected_messages_total";
/// Time from the start of a delivery attempt to its outcome.
pub const REQUEST_DURATION: &str = "destination_request_duration_seconds";
/// Bytes of the store's files, by `part` (`database`, `journal`): message bytes stay in the
/// journal until their messages are pruned.
pub const STORE_DISK: &str = "store_disk_bytes";
/// Journal segment files of the store.
pub const STORE_JOURNAL_SEGMENTS: &str = "store_journal_segments";
/// Database commits of the store: received messages over this is how many share a commit
/// (group commit at work).
pub const STORE_COMMITS: &str = "store_commits_total";
/// HTTP API requests, by method, matched route and status.
pub const API_REQUESTS: &str = "api_http_requests_total";

/// Sets the store's disk gauges (called when `/metrics` is scraped: a directory listing is
/// cheap next to a scrape, and the numbers are then never stale).
pub fn record_disk_usage(usage: &crate::store::DiskUsage) {
    metrics::gauge!(STORE_DISK, "part" => "database").set(usage.database_bytes as f64);
    metrics::gauge!(STORE_DISK, "part" => "journal").set(usage.journal_bytes as f64);
    metrics::gauge!(STORE_JOURNAL_SEGMENTS).set(usage.journal_segments as f64);
}

/// Sets the store's commit counter (read from the store when `/metrics` is scraped, like the
/// disk gauges: the applier thread stays free of metric calls).
pub fn record_commits(commits: u64) {
    metrics::counter!(STORE_COMMITS).absolute(commits);
}

/// Installs the Prometheus recorder and describes every metric. Call once per process; a second
/// call (tests starting several engines) returns `None` and metrics keep going to the first.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(REQUEST_DURATION.to_string()),
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0],
        )
        .ok()?
        .install_recorder()
        .ok()?;
    describe();
    Some(handle)
}

fn describe() {
    describe_counter!(
        RECEIVED,
        Unit::Count,
        "Messages received by a channel's source."
    );
    describe_counter!(
        FILTERED,
        Unit::Count,
        "Messages turned away by a channel's filter (stored and acknowledged)."
    );
    describe_counter!(
        ERRORS,
        Unit::Count,
        "Messages that went to ERROR, by stage and error type."
    );
    describe_counter!(
        DUPLICATES,
        Unit::Count,
        "Duplicate control ids seen within the channel's window."
    );
    describe_counter!(
        ACKS_SENT,
        Unit::Count,
        "Acknowledgments sent to senders, by code."
    );
    describe_gauge!(CONNECTIONS_OPEN, Unit::Count, "MLLP connections open now.");
    describe_counter!(
        CONNECTION_PROBLEMS,
        Unit::Count,
        "MLLP connections closed for a bad frame, a timeout or TLS."
    );
    describe_counter!(
        ENQUEUED,
        Unit::Count,
        "Entries added to a destination queue."
    );
    describe_counter!(
        DEQUEUED,
        Unit::Count,
        "Entries that left a destination queue."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        Unit::Count,
        "Entries waiting in a destination queue."
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest entry in a destination queue."
    );
    describe_counter!(SENT, Unit::Count, "Messages a destination accepted.");
    describe_gauge!(
        STORE_DISK,
        Unit::Bytes,
        "Bytes of the store's files, by part (database, journal)."
    );
    describe_gauge!(
        STORE_JOURNAL_SEGMENTS,
        Unit::Count,
        "Journal segment files of the store."
    );
    describe_counter!(
        STORE_COMMITS,
        Unit::Count,
        "Database commits of the store; messages per commit shows group commit at work."
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Delivery attempts that will be retried."
    );
    describe_counter!(
        REJECTED,
        Unit::Count,
        "Messages rejected by a destination or out of attempts."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Duration of delivery attempts."
    );
    describe_counter!(
        API_REQUESTS,
        Unit::Count,
        "HTTP API requests by method, route and status."
    );
}
