//! The durable store against real directories, on every backend in the build: redb always, and
//! sled too with `--features sled`. Each scenario is one `async fn` taking the backend; the
//! `backend_tests!` macro instantiates them as `store::redb::*` and `store::sled::*`.
//!
//! Also here: the kill -9 test (a child process, this very test binary, accepts from 8 tasks and
//! prints `ACK <id>` after each accept returns; the parent SIGKILLs it and checks every printed
//! id is on disk), and an ignored throughput measurement (`store::measure_accepts`).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ihub::store::*;

const CHANNEL: &str = "lab";

/// Milliseconds since the epoch.
fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A message with every field set; `n` makes the content unique. The raw bytes include a NUL,
/// 0xFF, quotes and backslashes, to prove bulk bytes are stored byte for byte.
fn message(channel: &str, n: u64, received_at_ms: u64, destinations: &[&str]) -> NewMessage {
    NewMessage {
        channel: channel.to_owned(),
        peer: format!("10.1.2.3:{}", 40_000 + n),
        received_at_ms,
        raw: format!("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20260101||ORU^R01|CTRL{n}|P|2.5\r\"\x00\u{ff}")
            .into_bytes()
            .into(),
        meta: MessageMeta {
            message_type: "ORU".into(),
            trigger: "R01".into(),
            control_id: format!("CTRL{n}"),
            patient_id: format!("MRN{n}"),
        },
        status: MessageStatus::Queued,
        error: None,
        transformed: Some(format!("transformed {n}").into_bytes()),
        deliveries: destinations
            .iter()
            .map(|d| NewDelivery {
                destination: (*d).to_owned(),
                payload: format!("{d} payload {n}").into_bytes().into(),
            })
            .collect(),
    }
}

fn attempt(ok: bool, error: Option<&str>) -> Attempt {
    Attempt {
        at_ms: now_ms(),
        ok,
        response: Some(b"MSH|^~\\&|ACK\rMSA|AA|1\r\x00".to_vec()),
        error: error.map(str::to_owned),
        duration_ms: 12,
    }
}

/// Opens the store. sled may release its file lock from its own threads a moment after the
/// last handle is dropped, so a reopen in the same process right after a drop may find the
/// lock still held: that one error is retried for up to 2 s; any other fails at once.
fn open(dir: &Path, backend: Backend) -> Store {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match Store::open(dir, backend) {
            Ok(store) => return store,
            Err(error)
                if format!("{error:?}").contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("cannot open the store: {error:?}"),
        }
    }
}

async fn round_trip(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let new = message(CHANNEL, 1, 1_000, &["archive", "ehr"]);
    let id = store.accept(new.clone(), Durability::Sync).await.unwrap();
    assert!(id >= 1);

    let stored = store.message(id).unwrap().expect("stored");
    assert_eq!(stored.id, id);
    assert_eq!(stored.channel, new.channel);
    assert_eq!(stored.peer, new.peer);
    assert_eq!(stored.received_at_ms, 1_000);
    assert!(stored.updated_at_ms >= now_ms() - 60_000);
    assert_eq!(stored.raw, new.raw);
    assert_eq!(stored.meta, new.meta);
    assert_eq!(stored.status, MessageStatus::Queued);
    assert_eq!(stored.error, None);
    assert_eq!(stored.transformed, new.transformed);
    assert_eq!(stored.destinations.len(), 2);
    for (stored, new) in stored.destinations.iter().zip(&new.deliveries) {
        assert_eq!(stored.destination, new.destination);
        assert_eq!(stored.payload, new.payload);
        assert_eq!(stored.status, DeliveryStatus::Queued);
        assert_eq!(stored.not_before_ms, Some(0));
        assert!(stored.attempts.is_empty());
    }

    // A message with no destinations keeps the pipeline's status and error.
    let mut failed = message(CHANNEL, 2, 2_000, &[]);
    failed.status = MessageStatus::Error;
    failed.error = Some("PID-3 missing".into());
    failed.transformed = None;
    let failed_id = store
        .accept(failed.clone(), Durability::Sync)
        .await
        .unwrap();
    assert!(failed_id > id, "ids increase");
    let stored = store.message(failed_id).unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Error);
    assert_eq!(stored.error.as_deref(), Some("PID-3 missing"));
    assert_eq!(stored.transformed, None);
    assert!(stored.destinations.is_empty());

    assert_eq!(store.message(failed_id + 100).unwrap(), None);

    // Two deliveries to one destination are refused, and the refusal does not disturb others.
    let bad = message(CHANNEL, 3, 3_000, &["ehr", "ehr"]);
    assert!(matches!(
        store.accept(bad, Durability::Sync).await,
        Err(StoreError::Invalid(_))
    ));
    let next = store
        .accept(message(CHANNEL, 4, 4_000, &[]), Durability::Sync)
        .await
        .unwrap();
    assert!(next > failed_id);
}

/// A payload that is the raw or the transformed message is kept once, in the journal record;
/// the database says where it comes from. Checked as accepted, as due, and after a reopen that
/// replays the journal.
async fn payloads_shared_with_raw_and_transformed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut new = message(CHANNEL, 1, 1_000, &["as_received", "as_transformed", "own"]);
    new.deliveries[0].payload = new.raw.clone();
    new.deliveries[1].payload = new.transformed.clone().unwrap().into();
    let expected: Vec<Vec<u8>> = new.deliveries.iter().map(|d| d.payload.to_vec()).collect();
    let check = |store: &Store, id| {
        let stored = store.message(id).unwrap().expect("stored");
        assert_eq!(stored.raw, new.raw);
        assert_eq!(stored.transformed, new.transformed);
        let payloads: Vec<_> = stored
            .destinations
            .iter()
            .map(|d| d.payload.clone())
            .collect();
        assert_eq!(payloads, expected);
        for (index, destination) in ["as_received", "as_transformed", "own"].iter().enumerate() {
            let ready = store
                .ready_deliveries(CHANNEL, destination, now_ms(), 64)
                .unwrap();
            assert_eq!(ready.len(), 1, "{destination}");
            assert_eq!(ready[0].payload, expected[index], "{destination}");
        }
    };
    let id = {
        let store = open(dir.path(), backend);
        let id = store
            .accept(new.clone(), Durability::Interval { max_delay_ms: 10 })
            .await
            .unwrap();
        check(&store, id);
        id
    };
    let store = open(dir.path(), backend);
    check(&store, id);
}

async fn list_filters(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut ids = Vec::new();
    for n in 0..10u64 {
        let channel = if n % 2 == 0 { "even" } else { "odd" };
        let mut msg = message(channel, n, 1_000 + n, &[]);
        msg.status = if n < 6 {
            MessageStatus::Filtered
        } else {
            MessageStatus::Error
        };
        if n == 4 {
            msg.meta.message_type = "ADT".into();
        }
        ids.push(store.accept(msg, Durability::Sync).await.unwrap());
    }
    let list = |filter: MessageFilter| -> Vec<u64> {
        store
            .list(&filter)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    let channel = |c: &str| MessageFilter {
        channel: Some(c.into()),
        ..MessageFilter::default()
    };

    // Newest first, per channel and overall.
    assert_eq!(
        list(channel("even")),
        vec![ids[8], ids[6], ids[4], ids[2], ids[0]]
    );
    let all: Vec<u64> = ids.iter().rev().copied().collect();
    assert_eq!(list(MessageFilter::default()), all);
    // Status: through the status index (with a channel) and by scanning (without).
    assert_eq!(
        list(MessageFilter {
            status: Some(MessageStatus::Error),
            ..channel("even")
        }),
        vec![ids[8], ids[6]]
    );
    assert_eq!(
        list(MessageFilter {
            status: Some(MessageStatus::Error),
            ..MessageFilter::default()
        }),
        vec![ids[9], ids[8], ids[7], ids[6]]
    );
    // Type, control id, since, limit.
    assert_eq!(
        list(MessageFilter {
            message_type: Some("ADT".into()),
            ..channel("even")
        }),
        vec![ids[4]]
    );
    assert_eq!(
        list(MessageFilter {
            control_id: Some("CTRL5".into()),
            ..channel("odd")
        }),
        vec![ids[5]]
    );
    assert!(
        list(MessageFilter {
            control_id: Some("CTRL5".into()),
            ..channel("even")
        })
        .is_empty()
    );
    assert_eq!(
        list(MessageFilter {
            since_ms: Some(1_005),
            ..channel("odd")
        }),
        vec![ids[9], ids[7], ids[5]]
    );
    assert_eq!(
        list(MessageFilter {
            since_ms: Some(1_005),
            status: Some(MessageStatus::Filtered),
            ..channel("odd")
        }),
        vec![ids[5]]
    );
    assert_eq!(
        list(MessageFilter {
            limit: Some(2),
            ..MessageFilter::default()
        }),
        vec![ids[9], ids[8]]
    );
    assert!(list(channel("nobody")).is_empty());

    // Summaries carry the metadata, not the content.
    let summary = &store.list(&channel("odd")).unwrap()[0];
    assert_eq!(summary.meta.control_id, "CTRL9");
    assert_eq!(summary.status, MessageStatus::Error);
    assert_eq!(summary.received_at_ms, 1_009);
}

async fn counts(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let queued = store
        .accept(message(CHANNEL, 1, 1, &["a", "b"]), Durability::Sync)
        .await
        .unwrap();
    let mut filtered = message(CHANNEL, 2, 2, &[]);
    filtered.status = MessageStatus::Filtered;
    store.accept(filtered, Durability::Sync).await.unwrap();
    store
        .accept(message("other", 3, 3, &["a"]), Durability::Sync)
        .await
        .unwrap();
    let counts = store.channel_counts(CHANNEL).unwrap();
    assert_eq!((counts.queued, counts.filtered, counts.total()), (1, 1, 2));

    // One destination sent: still queued. Both: sent.
    store
        .record_attempt(CHANNEL, "a", queued, attempt(true, None), NextStep::Sent)
        .await
        .unwrap();
    assert_eq!(store.channel_counts(CHANNEL).unwrap().queued, 1);
    assert_eq!(store.queue_stats(CHANNEL, "a").unwrap().depth, 0);
    assert_eq!(store.queue_stats(CHANNEL, "b").unwrap().depth, 1);
    store
        .record_attempt(CHANNEL, "b", queued, attempt(true, None), NextStep::Sent)
        .await
        .unwrap();
    let counts = store.channel_counts(CHANNEL).unwrap();
    assert_eq!((counts.queued, counts.sent, counts.filtered), (0, 1, 1));
    assert_eq!(
        store.message(queued).unwrap().unwrap().status,
        MessageStatus::Sent
    );
    assert_eq!(store.channel_counts("other").unwrap().queued, 1);
    assert_eq!(
        store.channel_counts("nobody").unwrap(),
        ChannelCounts::default()
    );
}

/// A batch hands its messages over only when sent (or dropped), in the order staged: their
/// ids and queue places follow that order, and nothing is answered before.
async fn batches_hand_over_in_staging_order(backend: Backend) {
    use futures_util::FutureExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    for durability in [Durability::Interval { max_delay_ms: 20 }, Durability::Sync] {
        let first = store.channel_counts(CHANNEL).unwrap().total();
        let mut batch = store.batch();
        let mut accepting: Vec<Accepting> = (first..first + 3)
            .map(|n| {
                let msg = message(CHANNEL, n, 1_000 + n, &["a"]);
                batch.stage(msg, durability, Vec::new(), true)
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for pending in &mut accepting {
            assert!(
                pending.now_or_never().is_none(),
                "answered before the batch was sent ({durability:?})"
            );
        }
        drop(batch);
        let mut ids = Vec::new();
        for pending in accepting {
            ids.push(pending.await.unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] + 1 == w[1]), "{ids:?}");
        for (k, id) in ids.iter().enumerate() {
            let stored = store.message(*id).unwrap().expect("stored");
            assert_eq!(stored.meta.control_id, format!("CTRL{}", first + k as u64));
            let head = store.next_delivery(CHANNEL, "a").unwrap().unwrap();
            assert_eq!(head.message_id, *id, "queue order ({durability:?})");
            store
                .record_attempt(CHANNEL, "a", *id, attempt(true, None), NextStep::Sent)
                .await
                .unwrap();
        }
    }
}

async fn fifo_per_destination(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            store
                .accept(
                    message(CHANNEL, n, 1_000 + n, &["a", "b"]),
                    Durability::Sync,
                )
                .await
                .unwrap(),
        );
    }
    let stats = store.queue_stats(CHANNEL, "a").unwrap();
    assert_eq!(stats.depth, 5);
    assert!(stats.oldest_enqueued_ms.is_some());
    // Draining "a" does not move "b".
    for (n, id) in ids.iter().enumerate() {
        let head = store.next_delivery(CHANNEL, "a").unwrap().unwrap();
        assert_eq!(head.message_id, *id);
        assert_eq!(head.destination, "a");
        assert_eq!(head.payload, format!("a payload {n}").into_bytes());
        assert_eq!(head.control_id, format!("CTRL{n}"));
        assert_eq!(head.attempts, 0);
        store
            .record_attempt(CHANNEL, "a", *id, attempt(true, None), NextStep::Sent)
            .await
            .unwrap();
    }
    assert_eq!(store.next_delivery(CHANNEL, "a").unwrap(), None);
    assert_eq!(
        store.queue_stats(CHANNEL, "a").unwrap(),
        QueueStats {
            depth: 0,
            oldest_enqueued_ms: None
        }
    );
    assert_eq!(
        store
            .next_delivery(CHANNEL, "b")
            .unwrap()
            .unwrap()
            .message_id,
        ids[0]
    );
    let ready = store.ready_deliveries(CHANNEL, "b", now_ms(), 3).unwrap();
    assert_eq!(
        ready.iter().map(|d| d.message_id).collect::<Vec<_>>(),
        ids[..3].to_vec()
    );
    // A second report for a message no longer queued is refused.
    assert!(matches!(
        store
            .record_attempt(CHANNEL, "a", ids[0], attempt(true, None), NextStep::Sent)
            .await,
        Err(StoreError::NotQueued { .. })
    ));
    assert!(matches!(
        store
            .record_attempt(CHANNEL, "zz", ids[0], attempt(true, None), NextStep::Sent)
            .await,
        Err(StoreError::UnknownDestination { .. })
    ));
    assert!(matches!(
        store
            .record_attempt(CHANNEL, "a", 9_999, attempt(true, None), NextStep::Sent)
            .await,
        Err(StoreError::NotFound(9_999))
    ));
}

async fn retry_keeps_position(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            store
                .accept(message(CHANNEL, n, 1_000 + n, &["ehr"]), Durability::Sync)
                .await
                .unwrap(),
        );
    }
    let later = now_ms() + 60_000;
    store
        .record_attempt(
            CHANNEL,
            "ehr",
            ids[0],
            attempt(false, Some("AE: try later")),
            NextStep::RetryAt(later),
        )
        .await
        .unwrap();
    // Still the head, with its new time and attempt count: an ordered worker waits for it.
    let head = store.next_delivery(CHANNEL, "ehr").unwrap().unwrap();
    assert_eq!(head.message_id, ids[0]);
    assert_eq!(head.not_before_ms, later);
    assert_eq!(head.attempts, 1);
    // An unordered worker skips it.
    let ready = store
        .ready_deliveries(CHANNEL, "ehr", now_ms(), 10)
        .unwrap();
    assert_eq!(
        ready.iter().map(|d| d.message_id).collect::<Vec<_>>(),
        vec![ids[1], ids[2]]
    );
    assert_eq!(
        store
            .ready_deliveries(CHANNEL, "ehr", later, 10)
            .unwrap()
            .len(),
        3
    );

    let stored = store.message(ids[0]).unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Queued);
    let dest = &stored.destinations[0];
    assert_eq!(dest.status, DeliveryStatus::Queued);
    assert_eq!(dest.not_before_ms, Some(later));
    assert_eq!(dest.attempts.len(), 1);
    assert_eq!(dest.attempts[0].error.as_deref(), Some("AE: try later"));
    assert_eq!(
        dest.attempts[0].response.as_deref(),
        Some(&b"MSH|^~\\&|ACK\rMSA|AA|1\r\x00"[..])
    );
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 3);
}

async fn dead_letter_and_replay(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let first = store
        .accept(
            message(CHANNEL, 1, 1_000, &["ehr", "archive"]),
            Durability::Sync,
        )
        .await
        .unwrap();
    let second = store
        .accept(message(CHANNEL, 2, 2_000, &["ehr"]), Durability::Sync)
        .await
        .unwrap();
    for step in [NextStep::RetryAt(1), NextStep::DeadLetter] {
        store
            .record_attempt(
                CHANNEL,
                "ehr",
                first,
                attempt(false, Some("AR: unknown patient")),
                step,
            )
            .await
            .unwrap();
    }
    store
        .record_attempt(
            CHANNEL,
            "archive",
            first,
            attempt(true, None),
            NextStep::Sent,
        )
        .await
        .unwrap();
    let stored = store.message(first).unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Error);
    assert_eq!(
        stored.error.as_deref(),
        Some("destination ehr: AR: unknown patient")
    );
    assert_eq!(stored.destinations[0].status, DeliveryStatus::Error);
    assert_eq!(stored.destinations[0].attempts.len(), 2);
    assert_eq!(stored.destinations[0].not_before_ms, None);
    assert_eq!(stored.destinations[1].status, DeliveryStatus::Sent);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().error, 1);
    // The dead letter left the queue: the next message is the head now.
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .message_id,
        second
    );

    // Replay puts it at the tail, with a fresh attempt count and the history kept.
    store.replay(first, Some("ehr")).await.unwrap();
    let stored = store.message(first).unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Queued);
    assert_eq!(stored.error, None);
    assert_eq!(stored.destinations[0].status, DeliveryStatus::Queued);
    assert_eq!(stored.destinations[0].attempts.len(), 2);
    assert_eq!(
        stored.destinations[1].status,
        DeliveryStatus::Sent,
        "only ehr was replayed"
    );
    let queue: Vec<u64> = store
        .ready_deliveries(CHANNEL, "ehr", now_ms(), 10)
        .unwrap()
        .iter()
        .map(|d| d.message_id)
        .collect();
    assert_eq!(queue, vec![second, first]);
    assert_eq!(
        store
            .ready_deliveries(CHANNEL, "ehr", now_ms(), 10)
            .unwrap()[1]
            .attempts,
        0
    );
    let counts = store.channel_counts(CHANNEL).unwrap();
    assert_eq!((counts.error, counts.queued), (0, 2));

    // Replaying all destinations re-queues the sent one; the still-queued one keeps its place.
    store.replay(first, None).await.unwrap();
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 2);
    assert_eq!(store.queue_stats(CHANNEL, "archive").unwrap().depth, 1);

    assert!(matches!(
        store.replay(first, Some("nope")).await,
        Err(StoreError::UnknownDestination { .. })
    ));
    assert!(matches!(
        store.replay(999, None).await,
        Err(StoreError::NotFound(999))
    ));
    let mut filtered = message(CHANNEL, 3, 3_000, &[]);
    filtered.status = MessageStatus::Filtered;
    let filtered = store.accept(filtered, Durability::Sync).await.unwrap();
    assert!(matches!(
        store.replay(filtered, None).await,
        Err(StoreError::NothingToReplay(_))
    ));
}

async fn duplicates(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let old = store
        .accept(message(CHANNEL, 7, 10_000, &[]), Durability::Sync)
        .await
        .unwrap();
    let recent = store
        .accept(message(CHANNEL, 7, 50_000, &[]), Durability::Sync)
        .await
        .unwrap();
    assert_eq!(
        store.find_duplicate(CHANNEL, "CTRL7", 40_000).unwrap(),
        Some(recent)
    );
    assert_eq!(
        store.find_duplicate(CHANNEL, "CTRL7", 0).unwrap(),
        Some(recent)
    );
    assert_eq!(
        store.find_duplicate(CHANNEL, "CTRL7", 50_001).unwrap(),
        None
    );
    assert_eq!(store.find_duplicate(CHANNEL, "CTRL8", 0).unwrap(), None);
    assert_eq!(store.find_duplicate("other", "CTRL7", 0).unwrap(), None);
    assert_eq!(store.find_duplicate(CHANNEL, "", 0).unwrap(), None);
    assert!(old < recent);
}

/// Copies a store directory as a crash would leave it: whatever its files hold right now.
fn copy_store(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_store(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The control-id index of journaled messages waits for the next checkpoint; a durable commit
/// of delivery bookkeeping before it makes the messages themselves durable. A crash between
/// the two must not lose the index entries (replay at open puts them back).
async fn control_ids_survive_a_crash_between_checkpoints(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut ids = Vec::new();
    for n in 0..20 {
        let msg = message(CHANNEL, n, now_ms(), &["a"]);
        ids.push(store.accept(msg, Durability::Sync).await.unwrap());
    }
    store
        .record_attempt(CHANNEL, "a", ids[0], attempt(true, None), NextStep::Sent)
        .await
        .unwrap();
    // The attempt is durable within 200 ms; the checkpoint is due 2 s after the first accept.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let crashed = tempfile::tempdir().unwrap();
    copy_store(dir.path(), crashed.path());
    drop(store);

    let store = open(crashed.path(), backend);
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            store
                .find_duplicate(CHANNEL, &format!("CTRL{n}"), 0)
                .unwrap(),
            Some(*id),
            "control-id index entry of message {id}"
        );
    }
    let listed = store
        .list(&MessageFilter {
            channel: Some(CHANNEL.into()),
            control_id: Some("CTRL3".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[3]]
    );
}

/// A crash after several full journal segments (checkpoints come only every two seconds, so
/// none may cover them) replays whatever the last durable checkpoint does not cover: every
/// acknowledged message comes back whole.
async fn a_crash_after_full_segments_replays_them_all(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    // 2 MiB each: 70 of them fill two 64 MiB segments and start a third.
    let big = |n: u64| -> Vec<u8> {
        let mut raw =
            format!("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20260101||ORU^R01|CTRL{n}|P|2.5\r").into_bytes();
        raw.resize(2 << 20, b'A' + (n % 26) as u8);
        raw
    };
    let mut ids = Vec::new();
    for n in 0..70u64 {
        let mut msg = message(CHANNEL, n, now_ms(), &["a"]);
        msg.raw = big(n).into();
        msg.transformed = None;
        let interval = Durability::Interval { max_delay_ms: 50 };
        ids.push(store.accept(msg, interval).await.unwrap());
    }
    let segments = journal_segments(dir.path());
    assert!(segments.len() >= 3, "{segments:?}");
    // Let the applier finish, then copy the files as a crash would leave them (the page
    // cache survives a process crash).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let crashed = tempfile::tempdir().unwrap();
    copy_store(dir.path(), crashed.path());
    drop(store);

    let store = open(crashed.path(), backend);
    for (n, id) in ids.iter().enumerate() {
        let stored = store.message(*id).unwrap().expect("acknowledged and kept");
        assert!(stored.raw == big(n as u64), "message {id} came back whole");
    }
    assert_eq!(store.queue_stats(CHANNEL, "a").unwrap().depth, 70);
}

async fn prune(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let day = 86_400_000;
    let now = 100 * day;
    // Ten days of history, one message a day: sent, except day 1 (an error) and day 2 (queued).
    let mut ids = Vec::new();
    for n in 0..10u64 {
        let id = store
            .accept(
                message(CHANNEL, n, now - (10 - n) * day, &["ehr"]),
                Durability::Sync,
            )
            .await
            .unwrap();
        let step = match n {
            1 => Some(NextStep::DeadLetter),
            2 => None,
            _ => Some(NextStep::Sent),
        };
        if let Some(step) = step {
            store
                .record_attempt(
                    CHANNEL,
                    "ehr",
                    id,
                    attempt(step == NextStep::Sent, None),
                    step,
                )
                .await
                .unwrap();
        }
        ids.push(id);
    }
    let other = store
        .accept(message("other", 99, 0, &[]), Durability::Sync)
        .await
        .unwrap();
    let present = |store: &Store| -> Vec<u64> {
        ids.iter()
            .copied()
            .filter(|id| store.message(*id).unwrap().is_some())
            .collect()
    };

    // Nothing to do without limits.
    assert_eq!(
        store
            .prune(CHANNEL, &PrunePolicy::default(), now)
            .await
            .unwrap(),
        0
    );

    // Keep 5 days, errors 20 days: days 0, 3, 4 go (older than 5 days: n < 5); 1 is an error,
    // 2 is queued.
    let policy = PrunePolicy {
        max_age_ms: Some(5 * day + 1),
        max_messages: None,
        error_max_age_ms: Some(20 * day),
    };
    assert_eq!(store.prune(CHANNEL, &policy, now).await.unwrap(), 3);
    assert_eq!(
        present(&store),
        vec![ids[1], ids[2], ids[5], ids[6], ids[7], ids[8], ids[9]]
    );
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 7);
    assert!(
        store.message(other).unwrap().is_some(),
        "other channels are untouched"
    );
    assert_eq!(
        store
            .list(&MessageFilter {
                channel: Some(CHANNEL.into()),
                ..MessageFilter::default()
            })
            .unwrap()
            .len(),
        7
    );
    assert_eq!(store.find_duplicate(CHANNEL, "CTRL0", 0).unwrap(), None);

    // Keep 3 messages: the error is kept by its own age, the queued one is never pruned.
    let policy = PrunePolicy {
        max_age_ms: None,
        max_messages: Some(3),
        error_max_age_ms: Some(20 * day),
    };
    assert_eq!(store.prune(CHANNEL, &policy, now).await.unwrap(), 2);
    assert_eq!(
        present(&store),
        vec![ids[1], ids[2], ids[7], ids[8], ids[9]]
    );

    // Errors past their own age go too; the queued message still stays.
    let policy = PrunePolicy {
        max_age_ms: Some(day - 1),
        max_messages: None,
        error_max_age_ms: Some(day - 1),
    };
    assert_eq!(store.prune(CHANNEL, &policy, now).await.unwrap(), 4);
    assert_eq!(present(&store), vec![ids[2]]);
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .message_id,
        ids[2]
    );
    let counts = store.channel_counts(CHANNEL).unwrap();
    assert_eq!((counts.total(), counts.queued), (1, 1));

    // Ids are never reused after a prune.
    let next = store
        .accept(message(CHANNEL, 100, now, &[]), Durability::Sync)
        .await
        .unwrap();
    assert!(next > other);
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dir_size(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

async fn prune_reclaims_space(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    // 40 MiB of filtered messages, 200 KiB each.
    for n in 0..200 {
        let mut msg = message(CHANNEL, n, n, &[]);
        msg.status = MessageStatus::Filtered;
        msg.raw = vec![b'x'; 200 * 1024].into();
        store.accept(msg, Durability::Sync).await.unwrap();
    }
    let keep = store
        .accept(message(CHANNEL, 999, 999, &["ehr"]), Durability::Sync)
        .await
        .unwrap();
    let before = dir_size(dir.path());
    let policy = PrunePolicy {
        max_messages: Some(0),
        ..PrunePolicy::default()
    };
    // More than one chunk of 500 is not needed here; 200 deletions in one go.
    assert_eq!(store.prune(CHANNEL, &policy, 1_000).await.unwrap(), 200);
    let after = dir_size(dir.path());
    println!(
        "prune ({backend}): store files {} KiB before, {} KiB after",
        before / 1024,
        after / 1024
    );
    if backend == Backend::Redb {
        assert!(
            after < before / 2,
            "redb compacted: {before} -> {after} bytes"
        );
    }
    assert!(store.message(keep).unwrap().is_some());
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 1);
    drop(store);
    let store = open(dir.path(), backend);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 1);
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .message_id,
        keep
    );
}

async fn bad_requests_do_not_disturb_a_group(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut tasks = Vec::new();
    for n in 0..100u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let destinations: &[&str] = if n % 2 == 0 { &["a"] } else { &["a", "a"] };
            (
                n,
                store
                    .accept(message(CHANNEL, n, n, destinations), Durability::Sync)
                    .await,
            )
        }));
    }
    let mut good = 0;
    for task in tasks {
        match task.await.unwrap() {
            (n, Ok(id)) if n % 2 == 0 => {
                assert!(store.message(id).unwrap().is_some());
                good += 1;
            }
            (n, Err(StoreError::Invalid(_))) if n % 2 == 1 => {}
            (n, other) => panic!("message {n}: unexpected {other:?}"),
        }
    }
    assert_eq!(good, 50);
    assert_eq!(store.queue_stats(CHANNEL, "a").unwrap().depth, 50);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 50);
}

async fn reopen_keeps_everything(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (before, last_id) = {
        let store = open(dir.path(), backend);
        let a = store
            .accept(
                message(CHANNEL, 1, 1_000, &["ehr", "lab"]),
                Durability::Sync,
            )
            .await
            .unwrap();
        let b = store
            .accept(message(CHANNEL, 2, 2_000, &["ehr"]), Durability::Sync)
            .await
            .unwrap();
        store
            .record_attempt(
                CHANNEL,
                "ehr",
                a,
                attempt(false, Some("timeout")),
                NextStep::RetryAt(5),
            )
            .await
            .unwrap();
        store
            .record_attempt(CHANNEL, "lab", a, attempt(true, None), NextStep::Sent)
            .await
            .unwrap();
        // Bookkeeping and interval accepts are made durable by dropping the store.
        let c = store
            .accept(
                message(CHANNEL, 3, 3_000, &["ehr"]),
                Durability::Interval {
                    max_delay_ms: 60_000,
                },
            )
            .await
            .unwrap();
        let before: Vec<StoredMessage> = [a, b, c]
            .iter()
            .map(|id| store.message(*id).unwrap().unwrap())
            .collect();
        (before, c)
    };
    let store = open(dir.path(), backend);
    for message in &before {
        assert_eq!(store.message(message.id).unwrap().as_ref(), Some(message));
    }
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .message_id,
        before[0].id
    );
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .attempts,
        1
    );
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 3);
    assert_eq!(store.queue_stats(CHANNEL, "lab").unwrap().depth, 0);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().queued, 3);
    assert_eq!(
        store.find_duplicate(CHANNEL, "CTRL2", 0).unwrap(),
        Some(before[1].id)
    );
    let next = store
        .accept(message(CHANNEL, 4, 4_000, &["ehr"]), Durability::Sync)
        .await
        .unwrap();
    assert!(next > last_id, "the id counter survives a restart");
    // New entries go behind the old ones.
    let queue: Vec<u64> = store
        .ready_deliveries(CHANNEL, "ehr", u64::MAX, 10)
        .unwrap()
        .iter()
        .map(|d| d.message_id)
        .collect();
    assert_eq!(queue, vec![before[0].id, before[1].id, before[2].id, next]);
}

async fn interval_durability(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let interval = Durability::Interval { max_delay_ms: 20 };
    let id = store
        .accept(message(CHANNEL, 1, 1, &["ehr"]), interval)
        .await
        .unwrap();
    // Visible at once.
    assert!(store.message(id).unwrap().is_some());
    assert_eq!(
        store
            .next_delivery(CHANNEL, "ehr")
            .unwrap()
            .unwrap()
            .message_id,
        id
    );
    // Let the writer's deadline pass (it syncs by itself), then flush explicitly too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.flush().await.unwrap();
    store.flush().await.unwrap();
    drop(store);
    let store = open(dir.path(), backend);
    assert!(store.message(id).unwrap().is_some());
}

/// Accepts are answered from the journal and reach the database a moment later on another
/// thread; the API must still show every acknowledged message at once. Their bytes stay in the
/// journal: a flush starts a new segment, and the old one stays while messages refer to it.
async fn acknowledged_is_visible_at_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..50u64 {
                let number = task * 1_000 + n;
                let id = store
                    .accept(
                        message(CHANNEL, number, number, &["ehr"]),
                        Durability::Interval { max_delay_ms: 50 },
                    )
                    .await
                    .unwrap();
                let stored = store.message(id).unwrap();
                assert!(
                    stored.is_some(),
                    "message {id} is visible once acknowledged"
                );
                assert!(
                    !store.in_flight(CHANNEL, "no such control id"),
                    "an unknown control id is never in flight"
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 400);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 400);
    store.flush().await.unwrap();
    let segments = journal_segments(dir.path());
    assert_eq!(
        segments.len(),
        2,
        "the segment of the 400 queued messages and the new one: {segments:?}"
    );
    drop(store);
    let store = open(dir.path(), backend);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 400);
    let head = store.next_delivery(CHANNEL, "ehr").unwrap().unwrap();
    let first = store.message(head.message_id).unwrap().unwrap();
    assert_eq!(head.payload, first.destinations[0].payload);
}

/// A sender that submits a `sync` and an `interval` accept without waiting in between gets
/// them numbered, and queued, in the order it sent them: whatever path each durability takes
/// through the store (a design that journaled `interval` accepts on the caller's thread had
/// to guard this explicitly; see docs/performance.md).
async fn sync_and_interval_keep_each_senders_order(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let interval = Durability::Interval { max_delay_ms: 50 };
    let mut tasks = Vec::new();
    for task in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for n in 0..40u64 {
                let number = task * 1_000 + n * 2;
                let (first_durability, second_durability) = if n % 2 == 0 {
                    (Durability::Sync, interval)
                } else {
                    (interval, Durability::Sync)
                };
                let first =
                    store.submit(message(CHANNEL, number, number, &["ehr"]), first_durability);
                let second = store.submit(
                    message(CHANNEL, number + 1, number + 1, &["ehr"]),
                    second_durability,
                );
                let (first, second) = (first.await.unwrap(), second.await.unwrap());
                assert!(
                    last < first && first < second,
                    "submitted in the order {last}, {first}, {second}"
                );
                last = second;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 320);
    drop(store);
    let store = open(dir.path(), backend);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 320);
}

/// Names of the journal segments in `dir`.
fn journal_segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("journal-"))
        .collect();
    names.sort();
    names
}

/// A store written by an earlier build (schema 1: message bytes inside redb, see
/// `tests/fixtures/store-v1/README.md`) opens with this one: every message reads back whole,
/// new messages keep their bytes in the journal beside the old ones, and pruning the old ones
/// works. Only for redb: the fixture is a redb file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_1_store_opens_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/ihub.redb");
    std::fs::copy(&fixture, dir.path().join("ihub.redb")).unwrap();
    let store = open(dir.path(), Backend::Redb);
    let old = store
        .list(&MessageFilter {
            channel: Some("fx".into()),
            ..MessageFilter::default()
        })
        .unwrap();
    let mut controls: Vec<String> = old.iter().map(|m| m.meta.control_id.clone()).collect();
    controls.sort();
    assert_eq!(controls, ["UPG0", "UPG1", "UPG2", "UPG3"]);
    for summary in &old {
        let stored = store.message(summary.id).unwrap().unwrap();
        let text = String::from_utf8(stored.raw.clone()).unwrap();
        let n = &summary.meta.control_id[3..];
        assert!(text.starts_with("MSH|^~\\&|UPGRADE|TESTLAB|"), "{text:?}");
        assert!(text.contains(&format!("PID|1||MRN-FX{n}||")), "{text:?}");
        assert_eq!(stored.destinations[0].destination, "archive");
        assert_eq!(stored.destinations[0].payload, stored.raw);
    }
    // A new message goes to the journal; both kinds read back after a reopen.
    let new = store
        .accept(message("fx", 7, now_ms(), &[]), Durability::Sync)
        .await
        .unwrap();
    assert!(old.iter().all(|m| m.id < new));
    drop(store);
    let store = open(dir.path(), Backend::Redb);
    assert_eq!(
        store.message(new).unwrap().unwrap().raw,
        message("fx", 7, 0, &[]).raw
    );
    for summary in &old {
        store.replay(summary.id, None).await.ok();
    }
    let head = store.next_delivery("fx", "archive").unwrap().unwrap();
    assert_eq!(
        head.payload,
        store.message(head.message_id).unwrap().unwrap().raw
    );
    // Old messages are pruned like new ones once nothing is queued.
    for summary in &old {
        while let Some(delivery) = store.next_delivery("fx", "archive").unwrap() {
            store
                .record_attempt(
                    "fx",
                    "archive",
                    delivery.message_id,
                    attempt(true, None),
                    NextStep::Sent,
                )
                .await
                .unwrap();
        }
        assert!(store.message(summary.id).unwrap().is_some());
    }
    let policy = PrunePolicy {
        max_messages: Some(1),
        ..PrunePolicy::default()
    };
    assert_eq!(store.prune("fx", &policy, now_ms()).await.unwrap(), 4);
    assert!(store.message(new).unwrap().is_some());
}

/// A channel that keeps everything must not keep the journal segments it shares with a
/// channel that prunes: once a closed segment is mostly pruned, a checkpoint moves the rest of
/// its messages into the database and the segment goes.
async fn mostly_pruned_segments_are_emptied(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let mut kept = Vec::new();
    for n in 0..16u64 {
        let (channel, status) = if n % 8 == 3 {
            ("keepall", MessageStatus::Queued)
        } else {
            (CHANNEL, MessageStatus::Filtered)
        };
        let mut msg = message(channel, n, n, &[]);
        msg.status = status;
        let id = store.accept(msg, Durability::Sync).await.unwrap();
        if channel == "keepall" {
            kept.push((id, n));
        }
    }
    store.flush().await.unwrap();
    let first = journal_segments(dir.path());
    assert_eq!(first.len(), 2, "{first:?}");
    let usage = store.disk_usage().unwrap();
    assert_eq!(usage.journal_segments, 2);
    let raw_bytes: usize = (0..16).map(|n| message(CHANNEL, n, n, &[]).raw.len()).sum();
    assert!(usage.journal_bytes > raw_bytes as u64, "{usage:?}");
    assert!(usage.database_bytes > 0, "{usage:?}");
    let policy = PrunePolicy {
        max_messages: Some(0),
        ..PrunePolicy::default()
    };
    assert_eq!(store.prune(CHANNEL, &policy, 1_000).await.unwrap(), 14);
    // The prune's checkpoint moved the two survivors; the next one deletes the segment.
    store.flush().await.unwrap();
    let after = journal_segments(dir.path());
    assert!(!after.contains(&first[0]), "{first:?} -> {after:?}");
    for (id, n) in &kept {
        let stored = store.message(*id).unwrap().unwrap();
        assert_eq!(stored.raw, message("keepall", *n, 0, &[]).raw);
        assert_eq!(
            stored.transformed,
            message("keepall", *n, 0, &[]).transformed
        );
    }
    drop(store);
    let store = open(dir.path(), backend);
    assert_eq!(store.channel_counts("keepall").unwrap().total(), 2);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 0);
    let (id, n) = kept[1];
    assert_eq!(
        store.message(id).unwrap().unwrap().raw,
        message("keepall", n, 0, &[]).raw
    );
}

/// Message bytes live in the journal until their messages are pruned: a segment goes once
/// nothing refers to it, and a message kept longer than the rest of its segment (an error
/// here) has its bytes moved into the database so it does not keep the segment.
async fn journal_segments_live_as_long_as_their_messages(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let day = 86_400_000;
    let now = 100 * day;
    let mut ids = Vec::new();
    for n in 0..6 {
        let mut msg = message(CHANNEL, n, now - 10 * day + n, &["ehr", "lab"]);
        msg.transformed = Some(format!("TRANSFORMED {n}").into_bytes());
        msg.deliveries[1].payload = format!("OWN PAYLOAD {n}").into_bytes().into();
        ids.push(store.accept(msg, Durability::Sync).await.unwrap());
    }
    store.flush().await.unwrap();
    let old_segments = journal_segments(dir.path());
    assert_eq!(old_segments.len(), 2, "{old_segments:?}");
    // All delivered but one, which is dead-lettered to the lab.
    for (n, id) in ids.iter().enumerate() {
        for destination in ["ehr", "lab"] {
            let dead = n == 2 && destination == "lab";
            let next = if dead {
                NextStep::DeadLetter
            } else {
                NextStep::Sent
            };
            store
                .record_attempt(CHANNEL, destination, *id, attempt(!dead, None), next)
                .await
                .unwrap();
        }
    }
    let policy = PrunePolicy {
        max_age_ms: Some(day),
        max_messages: None,
        error_max_age_ms: Some(30 * day),
    };
    assert_eq!(store.prune(CHANNEL, &policy, now).await.unwrap(), 5);
    let segments = journal_segments(dir.path());
    assert!(
        !segments.contains(&old_segments[0]),
        "the segment of the pruned messages is gone: {segments:?}"
    );
    let kept = store.message(ids[2]).unwrap().unwrap();
    let expected = message(CHANNEL, 2, 0, &["ehr"]);
    assert_eq!(kept.raw, expected.raw);
    assert_eq!(kept.transformed.as_deref(), Some(&b"TRANSFORMED 2"[..]));
    assert_eq!(kept.destinations[1].payload, b"OWN PAYLOAD 2");
    assert_eq!(kept.destinations[0].payload, b"ehr payload 2");
    assert_eq!(kept.status, MessageStatus::Error);
    // And after a reopen; replaying the lab delivery reads the moved payload.
    drop(store);
    let store = open(dir.path(), backend);
    assert_eq!(store.channel_counts(CHANNEL).unwrap().total(), 1);
    assert_eq!(store.message(ids[2]).unwrap().unwrap(), kept);
    store.replay(ids[2], Some("lab")).await.unwrap();
    let again = store.next_delivery(CHANNEL, "lab").unwrap().unwrap();
    assert_eq!(again.payload, b"OWN PAYLOAD 2");
}

async fn group_commit(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    let before = store.commit_count();
    let mut tasks = Vec::new();
    for n in 0..200u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .accept(message(CHANNEL, n, n, &["ehr"]), Durability::Sync)
                .await
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().unwrap());
    }
    let commits = store.commit_count() - before;
    println!("group commit ({backend}): 200 concurrent accepts in {commits} commits");
    assert_eq!(ids.len(), 200, "every accept got its own id");
    assert!(commits < 100, "200 accepts took {commits} commits");
    assert_eq!(store.queue_stats(CHANNEL, "ehr").unwrap().depth, 200);
    // The queue is in id order: ids are handed out in commit order, and so are queue places.
    let queue: Vec<u64> = store
        .ready_deliveries(CHANNEL, "ehr", u64::MAX, 500)
        .unwrap()
        .iter()
        .map(|d| d.message_id)
        .collect();
    let mut sorted = queue.clone();
    sorted.sort_unstable();
    assert_eq!(queue, sorted);
}

/// The env var that turns `crash_child` on and names its store directory.
const CRASH_DIR_ENV: &str = "IHUB_STORE_CRASH_DIR";
/// The env var that names the child's backend.
const CRASH_BACKEND_ENV: &str = "IHUB_STORE_CRASH_BACKEND";

fn crash_message(task: u64, n: u64) -> NewMessage {
    let mut msg = message(CHANNEL, task * 1_000_000 + n, now_ms(), &["ehr"]);
    msg.raw = format!("MSH|^~\\&|CRASH|T{task}|||||ORU^R01|T{task}N{n}|P|2.5\r")
        .into_bytes()
        .into();
    msg
}

/// SIGKILL a store under load; every message acknowledged (printed after `accept` returned)
/// must be there after reopening, with its content. Half the child's tasks accept with `sync`,
/// half with `interval` in batches: a process crash loses neither (only a power cut may lose
/// the last `interval` milliseconds).
fn kill_9_loses_nothing_acknowledged(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::crash_child",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_ENV, dir.path())
        .env(CRASH_BACKEND_ENV, backend.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Vec<(u64, u64, u64)> = Vec::new();
    let started = Instant::now();
    let parse = |line: &str| -> Option<(u64, u64, u64)> {
        let mut words = line.strip_prefix("ACK ")?.split(' ');
        Some((
            words.next()?.parse().ok()?,
            words.next()?.parse().ok()?,
            words.next()?.parse().ok()?,
        ))
    };
    for line in lines.by_ref() {
        if let Some(ack) = parse(&line.unwrap()) {
            acked.push(ack);
        }
        if acked.len() >= 1_500 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "child too slow"
        );
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let at_kill = acked.len();
    // Lines already in the pipe were printed after their accept returned: they count too.
    for line in lines {
        if let Some(ack) = parse(&line.unwrap()) {
            acked.push(ack);
        }
    }
    assert!(
        at_kill >= 1_500,
        "the child acknowledged only {at_kill} messages"
    );

    let reopened = Instant::now();
    let store = open(dir.path(), backend);
    let reopen_ms = reopened.elapsed().as_millis();
    for (id, task, n) in &acked {
        let stored = store
            .message(*id)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged message {id} lost"));
        let expected = crash_message(*task, *n);
        assert_eq!(stored.raw, expected.raw, "message {id}");
        assert_eq!(
            stored.destinations[0].payload,
            expected.deliveries[0].payload
        );
        // Duplicate detection after a crash: the control-id index holds every acknowledged
        // message too, not only the messages table.
        assert_eq!(
            store
                .find_duplicate(CHANNEL, &expected.meta.control_id, 0)
                .unwrap(),
            Some(*id),
            "control-id index entry of message {id}"
        );
    }
    // Each task's messages got ids in the order it handed them over, batches included.
    for task in 0..8 {
        let mut ids: Vec<(u64, u64)> = acked
            .iter()
            .filter(|(_, t, _)| *t == task)
            .map(|(id, _, n)| (*n, *id))
            .collect();
        ids.sort_unstable();
        assert!(
            ids.windows(2).all(|w| w[0].1 < w[1].1),
            "task {task}: ids out of order: {ids:?}"
        );
    }
    let stored = store.channel_counts(CHANNEL).unwrap().total();
    println!(
        "kill -9 ({backend}): {} acknowledged ({at_kill} when killed), {stored} stored, all acknowledged present; reopen took {reopen_ms} ms",
        acked.len()
    );
    assert!(stored >= acked.len() as u64);
    // The store still works after recovery.
    let ids: HashSet<u64> = acked.iter().map(|(id, _, _)| *id).collect();
    let max = ids.iter().max().copied().unwrap_or(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let next = rt
        .block_on(store.accept(crash_message(99, 0), Durability::Sync))
        .unwrap();
    assert!(next > max);
}

/// The child half of the kill -9 test: does nothing unless `IHUB_STORE_CRASH_DIR` is set.
#[test]
#[ignore = "run by the kill -9 test as a child process"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let backend: Backend = std::env::var(CRASH_BACKEND_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = open(Path::new(&dir), backend);
        let mut tasks = Vec::new();
        for task in 0..8u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Bounded, in case the parent dies without killing us.
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut n = 0;
                while Instant::now() < deadline {
                    if task < 4 {
                        let id = store
                            .accept(crash_message(task, n), Durability::Sync)
                            .await
                            .unwrap();
                        // println! takes the stdout lock: one whole line per ACK.
                        println!("ACK {id} {task} {n}");
                        n += 1;
                        continue;
                    }
                    // The other half as a pipelining connection does it: `interval` accepts
                    // staged in batches of one to four, mostly journaled on this very thread.
                    // A process crash must lose none of them either (they reached the file).
                    // Two of these tasks keep a lane of their own and send their next batch
                    // before the last one is answered, as an MLLP connection does.
                    if task >= 6 {
                        let lane = Lane::default();
                        let mut answering: Vec<(u64, Accepting)> = Vec::new();
                        while Instant::now() < deadline {
                            let mut batch = store.batch_in(&lane);
                            let next: Vec<_> = (n..n + 1 + n % 4)
                                .map(|m| {
                                    let interval = Durability::Interval { max_delay_ms: 50 };
                                    let msg = crash_message(task, m);
                                    (m, batch.stage(msg, interval, Vec::new(), true))
                                })
                                .collect();
                            n += next.len() as u64;
                            batch.send();
                            for (m, accepted) in std::mem::replace(&mut answering, next) {
                                let id = accepted.await.unwrap();
                                println!("ACK {id} {task} {m}");
                            }
                        }
                        return;
                    }
                    let mut batch = store.batch();
                    let accepting: Vec<_> = (n..n + 1 + n % 4)
                        .map(|m| {
                            let interval = Durability::Interval { max_delay_ms: 50 };
                            (
                                m,
                                batch.stage(crash_message(task, m), interval, Vec::new(), true),
                            )
                        })
                        .collect();
                    batch.send();
                    for (m, accepted) in accepting {
                        let id = accepted.await.unwrap();
                        println!("ACK {id} {task} {m}");
                        n = m + 1;
                    }
                }
            }));
        }
        // Checkpoints (and new journal segments) while the load runs, so the kill can fall
        // between a checkpoint and the next.
        let flusher = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                flusher.flush().await.unwrap();
            }
        });
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// fdatasyncs per second of a 2 KiB append, measured beside the store so both see the same
/// disk: the ceiling for one writer that syncs every message.
fn fdatasyncs_per_second(dir: &Path, seconds: u64) -> f64 {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fdatasync-probe"))
        .unwrap();
    let start = Instant::now();
    let mut syncs = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        file.write_all(&[b'x'; 2048]).unwrap();
        file.sync_data().unwrap();
        syncs += 1;
    }
    syncs as f64 / start.elapsed().as_secs_f64()
}

/// Accepts per second with 1, 4 and 16 concurrent writers on each backend (2 KiB raw, one
/// 2 KiB payload, `Durability::Sync`), commits per second, and the disk's fdatasyncs per second
/// after each row (this disk's sync time varies a lot with other load). Run:
/// `cargo test --release --features sled --test tests store::measure_accepts -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it by hand"]
fn measure_accepts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let probe = tempfile::tempdir().unwrap();
    println!(
        "disk: {:.0} fdatasyncs/s (2 KiB appends)",
        fdatasyncs_per_second(probe.path(), 2)
    );
    for &backend in Backend::all() {
        for writers in [1u64, 4, 16] {
            let dir = tempfile::tempdir().unwrap();
            let store = open(dir.path(), backend);
            let seconds = 3;
            let (accepted, commits, elapsed) = rt.block_on(async {
                let start = Instant::now();
                let end = start + Duration::from_secs(seconds);
                let commits_before = store.commit_count();
                let mut tasks = Vec::new();
                for task in 0..writers {
                    let store = store.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut n = 0u64;
                        while Instant::now() < end {
                            let mut msg = message(CHANNEL, task * 1_000_000 + n, n, &["ehr"]);
                            let mut raw = msg.raw.to_vec();
                            raw.resize(2048, b'x');
                            msg.raw = raw.into();
                            let mut payload = msg.deliveries[0].payload.to_vec();
                            payload.resize(2048, b'y');
                            msg.deliveries[0].payload = payload.into();
                            store.accept(msg, Durability::Sync).await.unwrap();
                            n += 1;
                        }
                        n
                    }));
                }
                let mut accepted = 0;
                for task in tasks {
                    accepted += task.await.unwrap();
                }
                (
                    accepted,
                    store.commit_count() - commits_before,
                    start.elapsed(),
                )
            });
            let secs = elapsed.as_secs_f64();
            let disk = fdatasyncs_per_second(probe.path(), 1);
            println!(
                "{backend:>4} writers={writers:>2}: {:>7.0} accepts/s, {:>5.0} commits/s, {:>5.1} accepts/commit (disk right after: {disk:.0} fdatasyncs/s)",
                accepted as f64 / secs,
                commits as f64 / secs,
                accepted as f64 / commits.max(1) as f64
            );
        }
    }
    println!(
        "disk: {:.0} fdatasyncs/s (2 KiB appends)",
        fdatasyncs_per_second(probe.path(), 2)
    );
}

/// Instantiates every scenario for one backend, as `store::<backend>::<scenario>`.
/// Parks two conflicts, resolves one each way, checks the open list, a second resolve, an
/// unknown id, and that everything survives a reopen; `settle` parks what `resolve` cannot choose.
async fn conflicts_park_resolve_reopen(backend: Backend) {
    use ihub::mapping::Direction;
    use ihub::mapping::conflict::{RecordRef, Settled, Strategy, settle};
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), backend);
    assert!(store.conflicts(false).unwrap().is_empty());
    let first = store
        .park_conflict(NewConflict {
            entity: "patient".into(),
            record_key: "MRN1".into(),
            base: Some(json!({"name": "Ann"})),
            local: json!({"name": "Anne"}),
            remote: json!({"name": "Anna"}),
            fields: vec!["name".into()],
        })
        .await
        .unwrap();
    let base = json!({"name": {"family": "Roe"}, "phone": "1"});
    let local = json!({"name": {"family": "Doe"}, "phone": "1"});
    let remote = json!({"name": {"family": "Poe"}, "phone": "1"});
    let settled = settle(
        &store,
        RecordRef {
            entity: "patient",
            key: "MRN2",
        },
        Some(&base),
        &local,
        &remote,
        Strategy::Merge {
            on_conflict: ihub::mapping::conflict::OnConflict::Manual,
        },
        Direction::Pull,
    )
    .await
    .unwrap();
    let Settled::Parked(second) = settled else {
        panic!("expected a parked conflict, got {settled:?}")
    };
    assert!(second > first);
    // A change on one side only settles without parking anything.
    let one_sided = json!({"name": {"family": "Roe"}, "phone": "2"});
    let settled = settle(
        &store,
        RecordRef {
            entity: "patient",
            key: "MRN3",
        },
        Some(&base),
        &base,
        &one_sided,
        Strategy::Merge {
            on_conflict: ihub::mapping::conflict::OnConflict::Manual,
        },
        Direction::Pull,
    )
    .await
    .unwrap();
    assert_eq!(settled, Settled::Resolved(one_sided));

    let open_list = store.conflicts(true).unwrap();
    assert_eq!(
        open_list.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first, second]
    );
    let parked = store.conflict(second).unwrap().unwrap();
    assert_eq!(parked.record_key, "MRN2");
    assert_eq!(parked.fields, vec!["name.family".to_string()]);
    assert_eq!(parked.local, local);
    assert_eq!(parked.base, Some(base.clone()));
    assert!(parked.parked_at_ms > 0 && parked.is_open());

    let resolved = store
        .resolve_conflict(first, ConflictChoice::Remote)
        .await
        .unwrap();
    let resolution = resolved.resolution.clone().unwrap();
    assert_eq!(
        (resolution.chosen.as_str(), &resolution.value),
        ("remote", &json!({"name": "Anna"}))
    );
    assert!(resolution.resolved_at_ms >= resolved.parked_at_ms);
    let again = store
        .resolve_conflict(first, ConflictChoice::Local)
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::ConflictResolved(id) if id == first));
    assert!(
        again.to_string().contains(&format!("conflict {first}")),
        "{again}"
    );
    assert!(matches!(
        store.resolve_conflict(999, ConflictChoice::Local).await,
        Err(StoreError::ConflictNotFound(999))
    ));
    assert_eq!(store.conflicts(true).unwrap().len(), 1);
    let mine = json!({"name": {"family": "Doe-Poe"}, "phone": "1"});
    store
        .resolve_conflict(second, ConflictChoice::Value(mine.clone()))
        .await
        .unwrap();
    assert!(store.conflicts(true).unwrap().is_empty());
    drop(store);

    let store = open(dir.path(), backend);
    let all = store.conflicts(false).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].resolution.as_ref().unwrap().value, mine);
    assert_eq!(all[0].resolution, Some(resolution));
    assert!(store.conflicts(true).unwrap().is_empty());
    // Ids keep growing after a reopen.
    let third = store
        .park_conflict(NewConflict {
            entity: "patient".into(),
            record_key: "MRN4".into(),
            base: None,
            local: json!(1),
            remote: json!(2),
            fields: vec![],
        })
        .await
        .unwrap();
    assert_eq!(third, second + 1);
}

/// A delivery batch holds its messages in memory: large ones (documents of several MB) must not
/// make a batch of 64 take hundreds of MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_due_deliveries_stops_at_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Backend::Redb);
    let big = 5 * 1024 * 1024;
    for n in 1..=3 {
        let mut new = message(CHANNEL, n, 1_000, &["archive"]);
        new.deliveries[0].payload = vec![b'x'; big].into();
        store.accept(new, Durability::Sync).await.unwrap();
    }
    let ready = store
        .ready_deliveries(CHANNEL, "archive", now_ms(), 64)
        .unwrap();
    assert_eq!(
        ready.len(),
        2,
        "two 5 MB payloads pass the 8 MB budget, so the third waits for the next batch"
    );
    assert!(ready.iter().all(|d| d.payload.len() == big));
}

/// A delivery worker names files from the message's type, trigger and received time: the due
/// delivery carries them (read with the body), and they belong to the message it carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_deliveries_carry_the_header_fields_file_names_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Backend::Redb);
    for n in 1..=3 {
        let mut new = message(CHANNEL, n, 1_000 + n, &["archive"]);
        new.meta.message_type = format!("T{n}");
        new.meta.trigger = format!("E{n}");
        store.accept(new, Durability::Sync).await.unwrap();
    }
    let ready = store
        .ready_deliveries(CHANNEL, "archive", now_ms(), 64)
        .unwrap();
    let seen: Vec<_> = ready
        .iter()
        .map(|d| {
            (
                d.control_id.as_str(),
                d.message_type.as_str(),
                d.trigger.as_str(),
                d.received_at_ms,
                String::from_utf8_lossy(&d.payload).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("CTRL1", "T1", "E1", 1_001, "archive payload 1".to_owned()),
            ("CTRL2", "T2", "E2", 1_002, "archive payload 2".to_owned()),
            ("CTRL3", "T3", "E3", 1_003, "archive payload 3".to_owned()),
        ]
    );
}

macro_rules! backend_tests {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn round_trip() {
                super::round_trip($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn payloads_shared_with_raw_and_transformed() {
                super::payloads_shared_with_raw_and_transformed($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_filters() {
                super::list_filters($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn counts() {
                super::counts($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn batches_hand_over_in_staging_order() {
                super::batches_hand_over_in_staging_order($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fifo_per_destination() {
                super::fifo_per_destination($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retry_keeps_position() {
                super::retry_keeps_position($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dead_letter_and_replay() {
                super::dead_letter_and_replay($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn duplicates() {
                super::duplicates($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn prune() {
                super::prune($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopen_keeps_everything() {
                super::reopen_keeps_everything($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn interval_durability() {
                super::interval_durability($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn journal_segments_live_as_long_as_their_messages() {
                super::journal_segments_live_as_long_as_their_messages($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mostly_pruned_segments_are_emptied() {
                super::mostly_pruned_segments_are_emptied($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn acknowledged_is_visible_at_once() {
                super::acknowledged_is_visible_at_once($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sync_and_interval_keep_each_senders_order() {
                super::sync_and_interval_keep_each_senders_order($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn group_commit() {
                super::group_commit($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn prune_reclaims_space() {
                super::prune_reclaims_space($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn bad_requests_do_not_disturb_a_group() {
                super::bad_requests_do_not_disturb_a_group($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn conflicts_park_resolve_reopen() {
                super::conflicts_park_resolve_reopen($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_crash_after_full_segments_replays_them_all() {
                super::a_crash_after_full_segments_replays_them_all($backend).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn control_ids_survive_a_crash_between_checkpoints() {
                super::control_ids_survive_a_crash_between_checkpoints($backend).await;
            }
            #[test]
            fn kill_9_loses_nothing_acknowledged() {
                super::kill_9_loses_nothing_acknowledged($backend);
            }
        }
    };
}

backend_tests!(redb, Backend::Redb);
#[cfg(feature = "sled")]
backend_tests!(sled, Backend::Sled);
