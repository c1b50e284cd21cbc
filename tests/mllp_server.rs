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
