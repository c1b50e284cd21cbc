//! MLLP over real sockets on 127.0.0.1:0: the codec against a byte-level peer, and the `ihub send`
//! binary against a tiny echo-ACK server built on the same codec.

use std::process::{Command, Output};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ihub::mllp::{CodecError, MllpCodec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

const TWO_MESSAGES: &str = "MSH|^~\\&|SEND|HOSP|RECV|HOSP|20260101120000||ADT^A01^ADT_A01|MSG00001|P|2.5\r\
EVN|A01|20260101120000\r\
PID|1||123^^^HOSP^MR||DOE^JANE\r\
MSH|^~\\&|SEND|HOSP|RECV|HOSP|20260101120100||ADT^A08^ADT_A01|MSG00002|P|2.5\r\
EVN|A08|20260101120100\r\
PID|1||456^^^HOSP^MR||ROE^RICHARD\r";

/// MSH-10 by plain splitting (deliberately not using our HL7 parser): the first segment, the
/// tenth `|`-separated item (MSH-1 is the separator itself, so item 9 is MSH-10).
fn control_id(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    let msh = text.split(['\r', '\n']).next().unwrap_or_default();
    msh.split('|').nth(9).unwrap_or_default().to_owned()
}

/// An MLLP server on 127.0.0.1:0 that answers every message with an ACK carrying `code` and the
/// message's MSH-10. Returns the `HOST:PORT` to connect to.
async fn ack_server(code: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = Framed::new(tcp, MllpCodec::new());
                while let Some(Ok(frame)) = framed.next().await {
                    let ack = format!(
                        "MSH|^~\\&|R|R|S|S|20260101000000||ACK^A01^ACK|1|P|2.5\rMSA|{code}|{}\r",
                        control_id(&frame)
                    );
                    if framed.send(ack.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Runs the `ihub` binary off the async threads, so the server keeps answering meanwhile.
async fn ihub(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ihub"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn hl7_file(contents: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".hl7").tempfile().unwrap();
    std::fs::write(file.path(), contents).unwrap();
    file
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn send_prints_one_ack_line_per_message() {
    let addr = ack_server("AA").await;
    let file = hl7_file(TWO_MESSAGES);
    let path = file.path().display().to_string();
    let out = ihub(vec!["send".into(), addr, path]).await;
    assert_eq!(
        text(&out.stdout),
        "AA MSG00001\nAA MSG00002\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test]
async fn send_accepts_lf_line_ends_in_files() {
    // Files edited on Unix often end segments with LF; they go out with CR.
    let addr = ack_server("AA").await;
    let file = hl7_file(&TWO_MESSAGES.replace('\r', "\n"));
    let path = file.path().display().to_string();
    let out = ihub(vec!["send".into(), addr, path]).await;
    assert_eq!(
        text(&out.stdout),
        "AA MSG00001\nAA MSG00002\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success());
}

#[tokio::test]
async fn send_exits_1_and_says_why_when_not_accepted() {
    let addr = ack_server("AE").await;
    let file = hl7_file(TWO_MESSAGES);
    let path = file.path().display().to_string();
    let out = ihub(vec!["send".into(), addr.clone(), path]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "AE MSG00001\nAE MSG00002\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("(MSH-10 MSG00001) was not accepted: AE"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("2 of 2 messages were not accepted by {addr}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn send_count_generates_load() {
    let addr = ack_server("AA").await;
    let file = hl7_file(TWO_MESSAGES);
    let path = file.path().display().to_string();
    let args = ["send", &addr, &path, "--count", "50", "--connections", "2"];
    let out = ihub(args.iter().map(|s| s.to_string()).collect()).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("sent 50 messages over 2 connections"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 errors"), "{stdout}");
    assert!(
        stdout.contains("p50 ") && stdout.contains("p99 "),
        "{stdout}"
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test]
async fn send_count_counts_rejections_as_errors() {
    let addr = ack_server("AR").await;
    let file = hl7_file(TWO_MESSAGES);
    let path = file.path().display().to_string();
    let args = ["send", &addr, &path, "--count", "6", "--connections", "3"];
    let out = ihub(args.iter().map(|s| s.to_string()).collect()).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("sent 6 messages over 3 connections"),
        "{stdout}"
    );
    assert!(stdout.contains(" 6 errors"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ACK AR for MSH-10 MSG0000"));
}

#[tokio::test]
async fn send_errors_name_the_address_and_the_file() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    };
    let file = hl7_file(TWO_MESSAGES);
    let path = file.path().display().to_string();
    let out = ihub(vec!["send".into(), addr.clone(), path]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("could not connect to {addr}")));

    let out = ihub(vec!["send".into(), addr, "/nonexistent/in.hl7".into()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("could not read /nonexistent/in.hl7"));
}

/// A server that hands every decoded frame (or error) to the test, with the given limit.
async fn recording_server(
    max: usize,
) -> (String, mpsc::UnboundedReceiver<Result<Vec<u8>, CodecError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(tcp, MllpCodec::with_max_frame_bytes(max));
        while let Some(item) = framed.next().await {
            let failed = item.is_err();
            let _ = tx.send(item.map(|b| b.to_vec()));
            if failed {
                // Like the real listener: a bad frame closes that one connection.
                return;
            }
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn frame_split_across_reads_on_a_socket() {
    let (addr, mut frames) = recording_server(1024).await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    // Noise, then a frame cut inside the payload and again between FS and CR, then a second
    // frame in the same write as the tail of the first.
    let parts: [&[u8]; 3] = [
        b"\r\n\x0bMSH|^~\\&|A|B",
        b"|C\rPID|1\r\x1c",
        b"\r\x0bMSH|two\r\x1c\r",
    ];
    for part in parts {
        tcp.write_all(part).await.unwrap();
        tcp.flush().await.unwrap();
        // Give the server time to read each part on its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = frames.recv().await.unwrap().unwrap();
    assert_eq!(first, b"MSH|^~\\&|A|B|C\rPID|1\r");
    let second = frames.recv().await.unwrap().unwrap();
    assert_eq!(second, b"MSH|two\r");
    drop(tcp);
    assert!(
        frames.recv().await.is_none(),
        "clean close after whole frames"
    );
}

#[tokio::test]
async fn oversize_frame_on_a_socket_is_refused_and_closed() {
    let (addr, mut frames) = recording_server(1024).await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    // 64 KiB of payload and no end block: the server must give up at about 1 KiB, not wait.
    let mut frame = vec![0x0b];
    frame.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let _ = tcp.write_all(&frame).await; // may fail once the server has closed
    match tokio::time::timeout(Duration::from_secs(5), frames.recv()).await {
        Ok(Some(Err(CodecError::FrameTooLarge { limit: 1024 }))) => {}
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    // The server dropped the connection: we see EOF or a reset, not a hang.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[tokio::test]
async fn truncated_frame_on_a_socket_is_reported() {
    let (addr, mut frames) = recording_server(1024).await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"\x0bMSH|whole\r\x1c\r\x0bMSH|cut")
        .await
        .unwrap();
    tcp.shutdown().await.unwrap();
    assert_eq!(frames.recv().await.unwrap().unwrap(), b"MSH|whole\r");
    match frames.recv().await {
        Some(Err(CodecError::Truncated { bytes: 7 })) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
}
