//! The MLLP listener over real sockets: ordering, bad frames, slow senders, connection limits,
//! TLS and mutual TLS. Each failure mode must close only the connection at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ihub::mllp::server::{ListenerSettings, serve};
use ihub::mllp::{FrameHandler, MllpClient, TlsClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Answers each frame with `ACK:<frame>` and counts connection problems.
#[derive(Default)]
struct Echo {
    problems: AtomicUsize,
    open: AtomicUsize,
}

impl FrameHandler for Echo {
    type Connection = ();
    async fn handle(&self, frame: Bytes, _peer: SocketAddr) -> Option<Bytes> {
        let mut reply = b"ACK:".to_vec();
        reply.extend_from_slice(&frame);
        Some(Bytes::from(reply))
    }
    fn connection_problem(&self, _peer: SocketAddr, _reason: &str) {
        self.problems.fetch_add(1, Ordering::SeqCst);
    }
    fn connection_changed(&self, _peer: SocketAddr, open: bool) {
        if open {
            self.open.fetch_add(1, Ordering::SeqCst);
        } else {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn settings() -> ListenerSettings {
    ListenerSettings {
        tls: None,
        max_connections: 8,
        max_message_bytes: 1024,
        idle_timeout: Duration::from_secs(30),
        read_timeout: Duration::from_millis(300),
    }
}

async fn start(
    settings: ListenerSettings,
) -> (
    SocketAddr,
    Arc<Echo>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(Echo::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, settings, handler.clone(), shutdown.clone()));
    (addr, handler, shutdown, task)
}

/// Reads until `n` reply frames arrived, or the peer closed.
async fn read_frames(stream: &mut TcpStream, n: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while buf.iter().filter(|&&b| b == 0x1c).count() < n {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    String::from_utf8_lossy(&buf)
        .split('\u{1c}')
        .filter_map(|f| {
            f.trim_start_matches('\r')
                .strip_prefix('\u{b}')
                .map(str::to_string)
        })
        .collect()
}

async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn pipelined_frames_are_answered_in_order_despite_junk() {
    let (addr, _h, shutdown, task) = start(settings()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"junk\x0bone\x1c\r\x0btwo\x1c\r\r\n\x0bthree\x1c\r")
        .await
        .unwrap();
    assert_eq!(
        read_frames(&mut s, 3).await,
        ["ACK:one", "ACK:two", "ACK:three"]
    );
    shutdown.cancel();
    drop(s);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_oversize_frame_closes_only_its_connection() {
    let (addr, handler, _shutdown, _task) = start(settings()).await;
    let mut good = TcpStream::connect(addr).await.unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    let mut big = vec![0x0b];
    big.extend(std::iter::repeat_n(b'x', 4096));
    bad.write_all(&big).await.unwrap();
    assert!(
        closed_by_peer(&mut bad).await,
        "oversize sender disconnected"
    );
    good.write_all(b"\x0bstill here\x1c\r").await.unwrap();
    assert_eq!(read_frames(&mut good, 1).await, ["ACK:still here"]);
    assert_eq!(handler.problems.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn frames_read_together_with_an_oversize_one_are_answered_before_the_close() {
    let (addr, handler, _shutdown, _task) = start(settings()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut bytes = b"\x0bone\x1c\r\x0btwo\x1c\r\x0b".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 4096));
    s.write_all(&bytes).await.unwrap();
    assert_eq!(read_frames(&mut s, 2).await, ["ACK:one", "ACK:two"]);
    assert!(closed_by_peer(&mut s).await, "oversize sender disconnected");
    assert_eq!(handler.problems.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_slow_sender_is_cut_off_without_delaying_others() {
    let (addr, handler, _shutdown, _task) = start(settings()).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"\x0bMSH|never finished").await.unwrap();
    let mut fast = TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    fast.write_all(b"\x0bquick\x1c\r").await.unwrap();
    assert_eq!(read_frames(&mut fast, 1).await, ["ACK:quick"]);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "the slow sender delayed another connection"
    );
    assert!(
        closed_by_peer(&mut slow).await,
        "the read timeout closed the slow sender"
    );
    assert!(handler.problems.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let (addr, _h, _shutdown, _task) = start(ListenerSettings {
        idle_timeout: Duration::from_millis(200),
        ..settings()
    })
    .await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_peer(&mut idle).await);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_their_turn() {
    let (addr, handler, _shutdown, _task) = start(ListenerSettings {
        max_connections: 1,
        ..settings()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"\x0bA\x1c\r").await.unwrap();
    assert_eq!(read_frames(&mut first, 1).await, ["ACK:A"]);
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"\x0bB\x1c\r").await.unwrap();
    let mut chunk = [0u8; 16];
    let early = tokio::time::timeout(Duration::from_millis(150), second.read(&mut chunk)).await;
    assert!(
        early.is_err(),
        "the second connection was served while the first held the only slot"
    );
    assert_eq!(handler.open.load(Ordering::SeqCst), 1);
    drop(first);
    assert_eq!(read_frames(&mut second, 1).await, ["ACK:B"]);
}

/// Makes development certificates with the project's own script, or says why it can't.
fn dev_certs() -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("make-dev-certs.sh");
    std::fs::copy("certs/make-dev-certs.sh", &script).unwrap();
    match std::process::Command::new("bash").arg(&script).output() {
        Ok(out) if out.status.success() => {
            let path = dir.path().to_path_buf();
            Some((dir, path))
        }
        Ok(out) => {
            println!(
                "skipped: certs/make-dev-certs.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            println!("skipped: cannot run bash for certs/make-dev-certs.sh: {e}");
            None
        }
    }
}

fn tls_settings(certs: &Path, mutual: bool) -> ListenerSettings {
    let client_ca = mutual.then(|| certs.join("ca.crt"));
    let tls = ihub::mllp::tls::server_config(
        &certs.join("server.crt"),
        &certs.join("server.key"),
        client_ca.as_deref(),
    )
    .unwrap();
    ListenerSettings {
        tls: Some(tls),
        ..settings()
    }
}

#[tokio::test]
async fn tls_round_trip() {
    let Some((_dir, certs)) = dev_certs() else {
        return;
    };
    let (addr, _h, _shutdown, _task) = start(tls_settings(&certs, false)).await;
    let tls = TlsClientConfig::from_ca_pem(certs.join("ca.crt")).unwrap();
    let mut client = MllpClient::connect(&addr.to_string(), Some(tls))
        .await
        .unwrap();
    let reply = client
        .send(b"over tls", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(&reply[..], b"ACK:over tls");
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate() {
    let Some((_dir, certs)) = dev_certs() else {
        return;
    };
    let (addr, handler, _shutdown, _task) = start(tls_settings(&certs, true)).await;
    let with_cert = TlsClientConfig::mutual(
        certs.join("ca.crt"),
        certs.join("client.crt"),
        certs.join("client.key"),
    )
    .unwrap();
    let mut client = MllpClient::connect(&addr.to_string(), Some(with_cert))
        .await
        .unwrap();
    assert_eq!(
        &client.send(b"mtls", Duration::from_secs(5)).await.unwrap()[..],
        b"ACK:mtls"
    );

    // Without a certificate the server ends the handshake; with TLS 1.3 the client may only
    // learn it on its first read, so either step may fail, but no reply may come back.
    let without = TlsClientConfig::from_ca_pem(certs.join("ca.crt")).unwrap();
    let refused = match MllpClient::connect(&addr.to_string(), Some(without)).await {
        Err(_) => true,
        Ok(mut c) => c.send(b"no cert", Duration::from_secs(5)).await.is_err(),
    };
    assert!(refused, "a client without a certificate was served");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(handler.problems.load(Ordering::SeqCst) >= 1);
}

/// Replies `ACK:<frame>` after a delay that shrinks frame by frame (frame `i` of the run waits
/// `(20 - i) × 10 ms`), so later replies are ready first; counts frames submitted.
#[derive(Default)]
struct SlowerFirst {
    submitted: AtomicUsize,
}

impl FrameHandler for SlowerFirst {
    type Connection = ();
    async fn handle(&self, frame: Bytes, peer: SocketAddr) -> Option<Bytes> {
        self.submit(frame, peer).await.await
    }
    async fn submit(&self, frame: Bytes, _peer: SocketAddr) -> ihub::mllp::server::PendingReply {
        let i = self.submitted.fetch_add(1, Ordering::SeqCst) as u64;
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20u64.saturating_sub(i) * 10)).await;
            let mut reply = b"ACK:".to_vec();
            reply.extend_from_slice(&frame);
            Some(Bytes::from(reply))
        })
    }
}

#[tokio::test]
async fn pipelined_replies_overlap_and_go_back_in_frame_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(SlowerFirst::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, settings(), handler, shutdown.clone()));
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut frames = Vec::new();
    for i in 0..20 {
        frames.extend_from_slice(format!("\x0bf{i}\x1c\r").as_bytes());
    }
    let started = std::time::Instant::now();
    s.write_all(&frames).await.unwrap();
    let expected: Vec<String> = (0..20).map(|i| format!("ACK:f{i}")).collect();
    assert_eq!(read_frames(&mut s, 20).await, expected);
    // One after another the waits add up to 2.1 s; overlapped, the first one's 200 ms.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the replies were waited for one at a time: {:?}",
        started.elapsed()
    );
    shutdown.cancel();
    drop(s);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

/// A channel pipeline over a real store (durability `sync`), with one destination queue and
/// no delivery worker, behind the MLLP source: what a pipelining sender talks to in the engine.
async fn pipeline_source(
    dir: &Path,
    durability: ihub::store::Durability,
) -> (
    SocketAddr,
    Arc<ihub::channel::runner::Pipeline>,
    CancellationToken,
) {
    use ihub::channel::runner::{Pipeline, Route};
    use ihub::channel::{AckMode, DuplicateAction};
    let store = ihub::store::Store::open(dir, ihub::store::Backend::Redb).unwrap();
    let pipeline = Arc::new(Pipeline {
        channel: "pipe".into(),
        store,
        filter: None,
        transform: None,
        routes: vec![Route {
            name: "archive".into(),
            send_original: false,
            transform: None,
            wake: Arc::new(tokio::sync::Notify::new()),
        }],
        durability,
        ack_mode: AckMode::Original,
        duplicate_window: Some(Duration::from_secs(3600)),
        duplicate_action: DuplicateAction::Ack,
        meters: Default::default(),
    });
    let stop = CancellationToken::new();
    let (addr, _task) = ihub::source::mllp::start(
        "127.0.0.1:0".parse().unwrap(),
        ListenerSettings {
            max_message_bytes: 1 << 20,
            ..settings()
        },
        pipeline.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    (addr, pipeline, stop)
}

fn hl7(control_id: &str) -> String {
    format!(
        "MSH|^~\\&|LAB|LF|EHR|EF|20240101120000||ORU^R01|{control_id}|P|2.5.1\rPID|1||42^^^H^MR\rOBX|1|NM|GLU||5.4\r"
    )
}

fn msa(ack: &str) -> (String, String) {
    let m = ihub::hl7::Message::parse(ack.as_bytes()).unwrap();
    (
        m.get("MSA-1").unwrap().text().into_owned(),
        m.get("MSA-2").unwrap().text().into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_sender_gets_acks_and_queue_places_in_frame_order() {
    pipelined_acks_and_queue_places(ihub::store::Durability::Sync).await;
}

/// The same with `interval`, where the frames of one read are journaled together on the
/// connection's own thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_sender_gets_acks_and_queue_places_in_frame_order_with_interval() {
    pipelined_acks_and_queue_places(ihub::store::Durability::Interval { max_delay_ms: 20 }).await;
}

async fn pipelined_acks_and_queue_places(durability: ihub::store::Durability) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, pipeline, stop) = pipeline_source(dir.path(), durability).await;
    // 200 frames written at once: frame 100 is unreadable (a NAK), frame 151 repeats frame
    // 150's control id (a duplicate of a message that may still be on its way to the store).
    let ids: Vec<String> = (0..200)
        .map(|i| match i {
            151 => "C150".to_string(),
            _ => format!("C{i}"),
        })
        .collect();
    let mut frames = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let body = if i == 100 {
            "not an HL7 message".to_string()
        } else {
            hl7(id)
        };
        frames.extend_from_slice(format!("\x0b{body}\x1c\r").as_bytes());
    }
    let commits_before = pipeline.store.commit_count();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&frames).await.unwrap();
    let acks = read_frames(&mut s, 200).await;
    assert_eq!(acks.len(), 200, "every frame is answered");
    for (i, (ack, id)) in acks.iter().zip(&ids).enumerate() {
        let (code, control_id) = msa(ack);
        if i == 100 {
            assert!(code == "AR" || code == "AE", "frame 100 gets a NAK: {ack}");
        } else {
            assert_eq!(
                (code.as_str(), control_id.as_str()),
                ("AA", id.as_str()),
                "ACK {i}"
            );
        }
    }
    // Every message is stored, in frame order (ids follow arrival).
    let store = &pipeline.store;
    let stored: Vec<Vec<u8>> = (1..=200)
        .map(|id| store.message(id).unwrap().expect("stored").raw)
        .collect();
    for (i, raw) in stored.iter().enumerate() {
        let expected = if i == 100 {
            "not an HL7 message".to_string()
        } else {
            hl7(&ids[i])
        };
        assert_eq!(String::from_utf8_lossy(raw), expected, "message {}", i + 1);
    }
    let duplicate = store.message(152).unwrap().unwrap();
    assert!(
        duplicate
            .error
            .as_deref()
            .unwrap_or("")
            .contains("duplicate"),
        "the repeated control id is a duplicate: {:?}",
        duplicate.error
    );
    // The queue holds the 198 others (not the NAK'd one, not the duplicate), FIFO.
    let queued: Vec<String> = store
        .ready_deliveries("pipe", "archive", u64::MAX, 1000)
        .unwrap()
        .into_iter()
        .map(|d| d.control_id)
        .collect();
    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 100 && *i != 151)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(queued, expected);
    // Waiting one frame at a time would take one commit per message.
    let commits = store.commit_count() - commits_before;
    assert!(commits < 150, "frames shared commits: {commits} for 200");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_store_refuses_is_answered_ae_and_the_next_one_aa() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, pipeline, stop) = pipeline_source(dir.path(), ihub::store::Durability::Sync).await;
    // A control id longer than the store's keys allow: parsed fine, refused by the store.
    let long_id = "X".repeat(70_000);
    let mut frames = Vec::new();
    for id in [long_id.as_str(), "NEXT1"] {
        frames.extend_from_slice(format!("\x0b{}\x1c\r", hl7(id)).as_bytes());
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&frames).await.unwrap();
    let acks = read_frames(&mut s, 2).await;
    assert_eq!(acks.len(), 2, "both frames are answered");
    let (code, control_id) = msa(&acks[0]);
    assert_eq!(
        code, "AE",
        "the refused message gets a NAK: {:.200}",
        acks[0]
    );
    assert_eq!(control_id, long_id, "the NAK names the refused message");
    let nak = ihub::hl7::Message::parse(acks[0].as_bytes()).unwrap();
    assert!(
        nak.get("ERR-8")
            .map(|v| v.text().contains("send it again"))
            .unwrap_or(false),
        "the NAK says why: {:.300}",
        acks[0]
    );
    assert_eq!(msa(&acks[1]), ("AA".into(), "NEXT1".into()));
    let next = pipeline
        .store
        .message(1)
        .unwrap()
        .expect("the next one is stored");
    assert_eq!(String::from_utf8_lossy(&next.raw), hl7("NEXT1"));
    stop.cancel();
}
