//! Unit tests of the writer and applier pair over the in-memory backend (no journal).

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::*;
use crate::store::kv::mem::MemKv;
use crate::store::model::{MessageMeta, MessageStatus, NewDelivery, NewMessage};
use crate::store::shared_writer::{Lane, SharedWriter};

fn msg(n: u32, destinations: &[&str]) -> NewMessage {
    NewMessage {
        channel: "ch".into(),
        peer: "peer".into(),
        received_at_ms: u64::from(n),
        raw: format!("raw {n}").into_bytes().into(),
        meta: MessageMeta::default(),
        status: MessageStatus::Queued,
        error: None,
        transformed: None,
        deliveries: destinations
            .iter()
            .map(|d| NewDelivery {
                destination: (*d).into(),
                payload: bytes::Bytes::from_static(b"p"),
            })
            .collect(),
    }
}

/// Queues `requests` *before* the writer starts, so they form one group deterministically.
fn run_group(
    kv: &Arc<MemKv>,
    requests: Vec<Request>,
) -> (
    mpsc::Sender<Request>,
    std::thread::JoinHandle<()>,
    Arc<AtomicU64>,
) {
    let (sender, receiver) = mpsc::channel();
    for request in requests {
        sender.send(request).unwrap();
    }
    let commits = Arc::new(AtomicU64::new(0));
    let counters = Counters {
        next_id: 1,
        next_seq: 1,
    };
    let writer = Writer::new(
        Arc::clone(kv) as Arc<dyn Kv>,
        receiver,
        counters,
        Arc::clone(&commits),
        None,
        Arc::default(),
    );
    (sender, std::thread::spawn(move || writer.run()), commits)
}

fn accept(
    n: u32,
    destinations: &[&str],
    durability: Durability,
) -> (Request, oneshot::Receiver<Result<MessageId, StoreError>>) {
    let (reply, answer) = oneshot::channel();
    let request = Request::Accept {
        msg: Box::new(msg(n, destinations)),
        durability,
        reply,
        wake: Vec::new(),
        in_flight: None,
        lane: None,
    };
    (request, answer)
}

#[test]
fn a_group_commits_once_and_a_bad_request_spoils_nothing() {
    let kv = Arc::new(MemKv::default());
    let (good1, answer1) = accept(1, &["a"], Durability::Sync);
    let (bad, bad_answer) = accept(2, &["a", "a"], Durability::Sync);
    let (good2, answer2) = accept(3, &["a"], Durability::Sync);
    let (sender, handle, commits) = run_group(&kv, vec![good1, bad, good2]);
    assert_eq!(answer1.blocking_recv().unwrap().unwrap(), 1);
    assert!(matches!(
        bad_answer.blocking_recv().unwrap(),
        Err(StoreError::Invalid(_))
    ));
    // The failed request took no id.
    assert_eq!(answer2.blocking_recv().unwrap().unwrap(), 2);
    assert_eq!(commits.load(Ordering::SeqCst), 1);
    assert_eq!(kv.durable_applies.load(Ordering::SeqCst), 1);
    drop(sender);
    handle.join().unwrap();
}

#[test]
fn a_failed_commit_fails_every_waiter_and_its_ids_are_not_reused() {
    let kv = Arc::new(MemKv::default());
    kv.fail_commits.store(true, Ordering::SeqCst);
    let (first, answer1) = accept(1, &[], Durability::Sync);
    let (second, answer2) = accept(2, &[], Durability::Sync);
    let (sender, handle, commits) = run_group(&kv, vec![first, second]);
    assert!(matches!(
        answer1.blocking_recv().unwrap(),
        Err(StoreError::Backend { .. })
    ));
    assert!(matches!(
        answer2.blocking_recv().unwrap(),
        Err(StoreError::Backend { .. })
    ));
    assert_eq!(commits.load(Ordering::SeqCst), 0);

    kv.fail_commits.store(false, Ordering::SeqCst);
    let (third, answer3) = accept(3, &[], Durability::Sync);
    sender.send(third).unwrap();
    assert_eq!(
        answer3.blocking_recv().unwrap().unwrap(),
        3,
        "ids 1 and 2 went to the failed commit"
    );
    drop(sender);
    handle.join().unwrap();
}

#[test]
fn interval_commits_are_synced_by_their_deadline_and_at_shutdown() {
    let kv = Arc::new(MemKv::default());
    let (request, answer) = accept(1, &[], Durability::Interval { max_delay_ms: 10 });
    let (sender, handle, _) = run_group(&kv, vec![request]);
    answer.blocking_recv().unwrap().unwrap();
    assert_eq!(
        kv.durable_applies.load(Ordering::SeqCst),
        0,
        "committed without a sync"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while kv.syncs.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        kv.syncs.load(Ordering::SeqCst),
        1,
        "synced after max_delay_ms"
    );

    let (request, answer) = accept(
        2,
        &[],
        Durability::Interval {
            max_delay_ms: 60_000,
        },
    );
    sender.send(request).unwrap();
    answer.blocking_recv().unwrap().unwrap();
    drop(sender);
    handle.join().unwrap();
    assert_eq!(kv.syncs.load(Ordering::SeqCst), 2, "synced at shutdown");
}

#[test]
fn flush_syncs_only_when_something_is_pending() {
    let kv = Arc::new(MemKv::default());
    let (reply, answer) = oneshot::channel();
    let (sender, handle, _) = run_group(&kv, vec![Request::Flush { reply }]);
    answer.blocking_recv().unwrap().unwrap();
    assert_eq!(kv.syncs.load(Ordering::SeqCst), 0);
    let (request, answer) = accept(
        1,
        &[],
        Durability::Interval {
            max_delay_ms: 60_000,
        },
    );
    sender.send(request).unwrap();
    answer.blocking_recv().unwrap().unwrap();
    let (reply, answer) = oneshot::channel();
    sender.send(Request::Flush { reply }).unwrap();
    answer.blocking_recv().unwrap().unwrap();
    assert_eq!(kv.syncs.load(Ordering::SeqCst), 1);
    drop(sender);
    handle.join().unwrap();
    assert_eq!(
        kv.syncs.load(Ordering::SeqCst),
        1,
        "nothing left to sync at shutdown"
    );
}

#[test]
fn a_woken_worker_finds_its_message_and_the_control_id_leaves_the_in_flight_set() {
    use crate::store::kv::Table;
    let kv = Arc::new(MemKv::default());
    let (sender, handle, _) = run_group(&kv, Vec::new());
    let wake = Arc::new(tokio::sync::Notify::new());
    let notified = {
        let wake = Arc::clone(&wake);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), wake.notified())
                    .await
                    .is_ok()
            })
        })
    };
    let set = Arc::new(crate::store::in_flight::InFlight::default());
    let (reply, answer) = oneshot::channel();
    sender
        .send(Request::Accept {
            msg: Box::new(msg(1, &["a"])),
            durability: Durability::Sync,
            reply,
            wake: vec![Arc::clone(&wake)],
            in_flight: set.enter("ch", "C1"),
            lane: None,
        })
        .unwrap();
    let id = answer.blocking_recv().unwrap().unwrap();
    assert!(
        notified.join().unwrap(),
        "the destination's worker was woken"
    );
    let snapshot = kv.snapshot().unwrap();
    assert!(
        snapshot
            .get(Table::Messages, &crate::store::keys::message(id))
            .unwrap()
            .is_some(),
        "the message is in the database when its worker wakes"
    );
    assert!(!set.contains("ch", "C1"), "released once applied");
    drop(sender);
    handle.join().unwrap();
}

/// A caller journals its own `interval` accepts only when nothing it sent earlier still waits
/// in the thread's channel; it is answered at once, and the thread, woken for the new
/// deadline, syncs the journal by it.
#[test]
fn a_group_journaled_by_its_caller_keeps_order_and_is_synced_by_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (sender, shared, handle) = journaling_writer(dir.path());
    let interval = Durability::Interval { max_delay_ms: 20 };

    // Something sent earlier is still waiting: the caller must not overtake it.
    shared.queue(1, None);
    let (request, _) = accept(1, &[], interval);
    assert!(
        shared.try_lead(vec![request], None).is_err(),
        "overtook the queue"
    );
    shared.numbered(1, &[]);

    let (first, mut first_answer) = accept(1, &[], interval);
    let (second, mut second_answer) = accept(2, &[], interval);
    // The thread holds the state while it starts (and its first look at the deadlines): a
    // caller finding it held leaves the accepts to it, which wakes nobody.
    wait_until_started_and_idle(&shared);
    let wake = lead(&shared, vec![first, second], None);
    assert!(wake, "a new deadline wakes the thread");
    assert_eq!(answered(&mut first_answer), 1);
    assert_eq!(answered(&mut second_answer), 2);
    sender.send(Request::Wake).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let unsynced = || {
        shared
            .lock()
            .journal
            .as_ref()
            .is_some_and(Journal::unsynced)
    };
    while unsynced() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!unsynced(), "the journal was not synced by its deadline");
    drop(sender);
    handle.join().unwrap();
}

/// A writer over a journal in `dir` (and the in-memory database), running on its thread.
fn journaling_writer(
    dir: &std::path::Path,
) -> (
    mpsc::Sender<Request>,
    Arc<SharedWriter>,
    std::thread::JoinHandle<()>,
) {
    let kv = Arc::new(MemKv::default());
    let journal = journal::Journal::start(dir, 0).unwrap();
    let (sender, receiver) = mpsc::channel();
    let counters = Counters {
        next_id: 1,
        next_seq: 1,
    };
    let writer = Writer::new(
        kv as Arc<dyn Kv>,
        receiver,
        counters,
        Arc::default(),
        Some(journal),
        Arc::default(),
    )
    .with_journal_dir(dir.to_path_buf());
    let shared = writer.shared();
    (sender, shared, std::thread::spawn(move || writer.run()))
}

/// Returns once the writer thread has started its helpers and, with nothing to do, waits for
/// a request without holding the state.
fn wait_until_started_and_idle(shared: &SharedWriter) {
    let started = Instant::now();
    while shared.lock().applier_thread.is_none() {
        assert!(started.elapsed() < Duration::from_secs(5), "never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    // After starting, one look at the (absent) deadlines, then a wait for requests.
    std::thread::sleep(Duration::from_millis(50));
}

/// Journals `requests` on the caller's thread (or leaves them to the thread, if it holds the
/// state at that moment), trying again while they are refused; panics if that never stops.
/// Returns whether the thread must be woken for a new deadline.
fn lead(shared: &SharedWriter, mut requests: Vec<Request>, lane: Option<&Lane>) -> bool {
    let started = Instant::now();
    loop {
        match shared.try_lead(requests, lane) {
            Ok(wake) => return wake,
            Err(back) => requests = back,
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never journaled here"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The id an accept was answered with, waiting up to five seconds for it (an accept left for
/// the thread is answered on its thread).
fn answered(answer: &mut oneshot::Receiver<Result<MessageId, StoreError>>) -> MessageId {
    let started = Instant::now();
    loop {
        match answer.try_recv() {
            Ok(id) => return id.unwrap(),
            Err(oneshot::error::TryRecvError::Empty) => {
                assert!(started.elapsed() < Duration::from_secs(5), "never answered");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(closed) => panic!("not answered: {closed}"),
        }
    }
}

/// A caller that finds the writer's state held leaves its accepts to the holder instead of
/// sending them to the thread: they are journaled, in the order they were left, when the
/// holder lets go; until then their lane's next batch goes behind them, through the thread.
#[test]
fn accepts_left_while_the_state_is_held_are_journaled_by_its_holder_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (sender, shared, handle) = journaling_writer(dir.path());
    let interval = Durability::Interval { max_delay_ms: 20 };
    let (mine, other) = (Lane::default(), Lane::default());
    let (warm_up, mut warm_up_answer) = accept(1, &[], interval);
    lead(&shared, vec![warm_up], None);
    assert_eq!(answered(&mut warm_up_answer), 1);

    let held = shared.lock();
    let (first, mut first_answer) = accept(2, &[], interval);
    let (second, mut second_answer) = accept(3, &[], interval);
    assert!(
        shared
            .try_lead(vec![in_lane(first, &mine)], Some(&mine))
            .is_ok()
    );
    assert!(
        shared
            .try_lead(vec![in_lane(second, &other)], Some(&other))
            .is_ok()
    );
    assert!(
        first_answer.try_recv().is_err(),
        "journaled while the state was held"
    );
    let (behind, mut behind_answer) = accept(4, &[], interval);
    let behind = shared
        .try_lead(vec![in_lane(behind, &mine)], Some(&mine))
        .expect_err("overtook an accept left in its lane");
    drop(held);
    shared.take_over_left();
    assert_eq!(answered(&mut first_answer), 2);
    assert_eq!(answered(&mut second_answer), 3);

    // Left and numbered: the lane's next batch may be journaled by its caller again, and
    // the one refused above goes through the thread.
    sender.send(behind.into_iter().next().unwrap()).unwrap();
    assert_eq!(answered(&mut behind_answer), 4);
    let (last, mut last_answer) = accept(5, &[], interval);
    lead(&shared, vec![in_lane(last, &mine)], Some(&mine));
    assert_eq!(answered(&mut last_answer), 5);
    drop(sender);
    handle.join().unwrap();
}

fn in_lane(mut request: Request, lane: &Lane) -> Request {
    if let Request::Accept { lane: slot, .. } = &mut request {
        *slot = Some(lane.clone());
    }
    request
}

/// A caller in a lane waits only for what its own lane sent to the thread: another lane's
/// accept waiting in the channel does not send it there too (a caller without a lane waits
/// for everybody's), its own does until the thread has numbered it, and ids follow the order
/// in which each was journaled.
#[test]
fn a_lane_waits_only_for_its_own_accepts_in_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (sender, shared, handle) = journaling_writer(dir.path());
    let interval = Durability::Interval { max_delay_ms: 20 };
    let (mine, other) = (Lane::default(), Lane::default());

    // Counted as on its way to the thread, not sent yet: the thread cannot number it.
    shared.queue(1, Some(&mine));
    let (waiting, mut waiting_answer) = accept(1, &[], interval);

    let (first, mut first_answer) = accept(2, &[], interval);
    lead(&shared, vec![in_lane(first, &other)], Some(&other));
    assert_eq!(answered(&mut first_answer), 1);
    for lane in [Some(&mine), None] {
        // Never journaled here, however often it is tried.
        for _ in 0..3 {
            let (request, _) = accept(3, &[], interval);
            assert!(
                shared.try_lead(vec![request], lane).is_err(),
                "overtook an accept waiting in the channel ({})",
                if lane.is_some() {
                    "same lane"
                } else {
                    "no lane"
                }
            );
        }
    }

    sender.send(in_lane(waiting, &mine)).unwrap();
    let id = answered(&mut waiting_answer);
    assert_eq!(id, 2, "numbered after the other lane's accept");
    // Numbered: the lane may journal here again.
    let (last, mut last_answer) = accept(4, &[], interval);
    lead(&shared, vec![in_lane(last, &mine)], Some(&mine));
    assert_eq!(answered(&mut last_answer), 3);
    drop(sender);
    handle.join().unwrap();
}

/// Polls `done` for up to five seconds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(5), "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The journal's next segment is made ahead by the syncer once the current one is past a
/// mark (half a segment; nothing here), so a rotation need not create it and sync the
/// directory under the writer's lock; after a rotation (a flush closes a segment that holds
/// records) the next one is made ahead again.
#[test]
fn the_next_journal_segment_is_made_ahead_of_each_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (sender, shared, handle) = journaling_writer(dir.path());
    let numbers = || -> Vec<u64> {
        journal::segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    let interval = Durability::Interval { max_delay_ms: 20 };
    eventually("the thread started its syncer", || {
        shared.lock().syncer.is_some()
    });
    // Not before the mark: a store that rotates early makes none it will not use.
    for n in 1..=2 {
        let (request, mut answer) = accept(n, &[], interval);
        lead(&shared, vec![request], None);
        assert_eq!(answered(&mut answer), u64::from(n));
    }
    assert_eq!(numbers(), [1]);
    shared.lock().prepare_next_at = 0;
    let (request, _) = accept(3, &[], interval);
    lead(&shared, vec![request], None);
    eventually("segment 2 made ahead", || numbers() == [1, 2]);

    let (reply, flushed) = oneshot::channel();
    sender.send(Request::Flush { reply }).unwrap();
    flushed.blocking_recv().unwrap().unwrap();
    let position = || shared.lock().journal.as_ref().map(|j| j.position().segment);
    assert_eq!(position(), Some(2), "the flush moved to the next segment");
    let (request, _) = accept(4, &[], interval);
    lead(&shared, vec![request], None);
    eventually("segment 3 made ahead", || numbers() == [1, 2, 3]);
    drop(sender);
    handle.join().unwrap();
}
