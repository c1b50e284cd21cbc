//! Destinations against real receivers on 127.0.0.1:0: an MLLP receiver (plain and TLS) whose
//! answer depends on the message's control id, an axum HTTP server with one route per status,
//! and file writes into temp directories.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use ihub::destination::{
    DeliveryInput, Destination, FileDestination, FileSettings, HttpDestination, HttpSettings,
    MllpDestination, MllpSettings, Outcome,
};
use ihub::mllp::{MllpCodec, TlsClientConfig};
use rustls::crypto::aws_lc_rs::default_provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

// ---------------------------------------------------------------------------------------------
// MLLP

/// An ORU^R01 with the given MSH-10.
fn message(control_id: &str) -> String {
    format!(
        "MSH|^~\\&|IHUB|HOSP|LAB|LAB|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r\
         PID|1||123^^^HOSP^MR||DOE^JANE\r\
         OBX|1|NM|GLU^Glucose||95|mg/dL|70-99|N|||F\r"
    )
}

/// MSH-10 by plain splitting (deliberately not with our HL7 parser).
fn control_id_of(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    let msh = text.split('\r').next().unwrap_or_default();
    msh.split('|').nth(9).unwrap_or_default().to_owned()
}

fn ack(code: &str, msa2: &str, text: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|LAB|LAB|IHUB|HOSP|20260101120001||ACK^R01^ACK|ACK-{msa2}|P|2.5.1\r\
         MSA|{code}|{msa2}|{text}\r"
    )
    .into_bytes()
}

/// What the test receiver does with a message, chosen by its control id's prefix:
/// `AA-…`, `CA-…`, `AE-…`, `AR-…` answer that code; `WRONG-…` answers AA for another control
/// id; `SILENT-…` never answers; `JUNK-…` answers a frame that is not HL7; `BYE-…` answers AA
/// and then closes the connection.
enum Reply {
    Frame(Vec<u8>),
    FrameThenClose(Vec<u8>),
    Nothing,
}

fn reply_for(frame: &[u8]) -> Reply {
    let id = control_id_of(frame);
    let prefix = id.split('-').next().unwrap_or_default();
    match prefix {
        "AA" | "CA" | "AE" | "AR" => Reply::Frame(ack(prefix, &id, "as asked")),
        "WRONG" => Reply::Frame(ack("AA", "SOMETHING-ELSE", "")),
        "SILENT" => Reply::Nothing,
        "JUNK" => Reply::Frame(b"this is not HL7".to_vec()),
        "BYE" => Reply::FrameThenClose(ack("AA", &id, "")),
        _ => Reply::Frame(ack("AR", &id, "unknown test prefix")),
    }
}

/// A running test receiver.
struct Receiver {
    addr: String,
    /// TCP connections accepted so far.
    connections: Arc<AtomicUsize>,
    /// Frames received so far, over all connections.
    frames: Arc<AtomicUsize>,
}

/// Serves one connection with [`reply_for`].
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S, frames: Arc<AtomicUsize>) {
    let mut framed = Framed::new(stream, MllpCodec::new());
    while let Some(Ok(frame)) = framed.next().await {
        frames.fetch_add(1, Ordering::SeqCst);
        match reply_for(&frame) {
            Reply::Frame(reply) => {
                if framed.send(&reply[..]).await.is_err() {
                    return;
                }
            }
            Reply::FrameThenClose(reply) => {
                let _ = framed.send(&reply[..]).await;
                return;
            }
            Reply::Nothing => {}
        }
    }
}

/// Starts a receiver on `listener` (plain, or TLS with `acceptor`).
fn start_receiver(listener: TcpListener, acceptor: Option<TlsAcceptor>) -> Receiver {
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let frames = Arc::new(AtomicUsize::new(0));
    let (counter, frame_counter) = (connections.clone(), frames.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let frames = frame_counter.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve(tls, frames).await;
                        }
                    }
                    None => serve(tcp, frames).await,
                }
            });
        }
    });
    Receiver {
        addr,
        connections,
        frames,
    }
}

async fn receiver() -> Receiver {
    start_receiver(TcpListener::bind("127.0.0.1:0").await.unwrap(), None)
}

fn mllp_settings(endpoint: &str) -> MllpSettings {
    MllpSettings {
        endpoint: endpoint.to_owned(),
        tls: None,
        ack_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        reject_on_ar: true,
    }
}

async fn send(dest: &mut MllpDestination, control_id: &str) -> Outcome {
    dest.send(message(control_id).as_bytes(), control_id).await
}

fn retry_error(outcome: Outcome) -> String {
    match outcome {
        Outcome::Retry { error, after } => {
            assert_eq!(after, None, "{error}");
            error
        }
        other => panic!("expected Retry, got {other:?}"),
    }
}

#[tokio::test]
async fn mllp_ack_codes_become_outcomes_on_one_connection() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(mllp_settings(&rx.addr)).unwrap();

    assert_eq!(
        send(&mut dest, "AA-1").await,
        Outcome::Delivered {
            response: Some(ack("AA", "AA-1", "as asked"))
        }
    );
    assert!(matches!(
        send(&mut dest, "CA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(
        retry_error(send(&mut dest, "AE-3").await),
        "receiver answered AE: as asked"
    );
    assert_eq!(
        send(&mut dest, "AR-4").await,
        Outcome::Reject {
            error: "receiver answered AR: as asked".into()
        }
    );
    assert!(matches!(
        send(&mut dest, "AA-5").await,
        Outcome::Delivered { .. }
    ));
    // AE and AR are answers on a healthy connection: nothing was reopened.
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
    assert!(dest.is_connected());

    let mut lenient = MllpDestination::new(MllpSettings {
        reject_on_ar: false,
        ..mllp_settings(&rx.addr)
    })
    .unwrap();
    assert_eq!(
        retry_error(send(&mut lenient, "AR-6").await),
        "receiver answered AR: as asked"
    );
}

#[tokio::test]
async fn mllp_wrong_msa2_retries_and_reconnects() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(mllp_settings(&rx.addr)).unwrap();
    let error = retry_error(send(&mut dest, "WRONG-1").await);
    assert!(
        error.contains("\"SOMETHING-ELSE\", not \"WRONG-1\""),
        "{error}"
    );
    assert!(!dest.is_connected(), "an out-of-step stream is dropped");
    assert!(matches!(
        send(&mut dest, "AA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn mllp_no_reply_times_out_once_and_reconnects() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(MllpSettings {
        ack_timeout: Duration::from_millis(200),
        ..mllp_settings(&rx.addr)
    })
    .unwrap();
    let error = retry_error(send(&mut dest, "SILENT-1").await);
    assert_eq!(error, format!("no ACK from {} within 0.2 s", rx.addr));
    // Sent once: a silent receiver is not sent the message again at once.
    assert_eq!(rx.frames.load(Ordering::SeqCst), 1);
    assert!(!dest.is_connected());
    assert!(matches!(
        send(&mut dest, "AA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn mllp_unparseable_reply_retries_on_the_same_connection() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(mllp_settings(&rx.addr)).unwrap();
    let error = retry_error(send(&mut dest, "JUNK-1").await);
    assert!(
        error.starts_with("the reply is not an HL7 message"),
        "{error}"
    );
    assert!(matches!(
        send(&mut dest, "AA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn mllp_reconnects_after_the_receiver_drops_the_connection() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(mllp_settings(&rx.addr)).unwrap();
    assert!(matches!(
        send(&mut dest, "BYE-1").await,
        Outcome::Delivered { .. }
    ));
    // Let the close reach us, as it would while a connection sits idle between messages.
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The kept connection is dead; the message goes out on a fresh one in the same call.
    assert!(matches!(
        send(&mut dest, "AA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 2);
    assert_eq!(
        rx.frames.load(Ordering::SeqCst),
        2,
        "BYE-1 and AA-2, once each"
    );
    assert!(matches!(
        send(&mut dest, "AA-3").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn mllp_receiver_down_then_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut dest = MllpDestination::new(mllp_settings(&addr.to_string())).unwrap();
    let error = retry_error(send(&mut dest, "AA-1").await);
    assert!(
        error.starts_with(&format!("could not connect to {addr}: ")),
        "{error}"
    );
    // Same port, now listening: the next attempt connects by itself.
    let rx = start_receiver(TcpListener::bind(addr).await.unwrap(), None);
    assert!(matches!(
        send(&mut dest, "AA-2").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn mllp_payload_with_fs_is_rejected_without_touching_the_connection() {
    let rx = receiver().await;
    let mut dest = MllpDestination::new(mllp_settings(&rx.addr)).unwrap();
    assert!(matches!(
        send(&mut dest, "AA-1").await,
        Outcome::Delivered { .. }
    ));
    let mut bad = message("AA-2").into_bytes();
    bad.extend_from_slice(b"NTE|1||\x1c\r");
    let outcome = dest.send(&bad, "AA-2").await;
    assert!(
        matches!(&outcome, Outcome::Reject { error } if error.contains("0x1C")),
        "{outcome:?}"
    );
    assert!(matches!(
        send(&mut dest, "AA-3").await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
}

// A throwaway CA and a server certificate for `localhost` and 127.0.0.1 it signed (ECDSA P-256,
// valid 2000–2100), the same test-only material as the MLLP client's unit tests. Nothing trusts
// this CA outside the tests; the key is here so they need no certificate generator.
const TEST_CA_PEM: &str = include_str!("fixtures/tls/ca.crt");

const TEST_SERVER_CERT_PEM: &str = include_str!("fixtures/tls/server.crt");

const TEST_SERVER_KEY_PEM: &str = include_str!("fixtures/tls/server.key");

fn pem_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file
}

fn tls_acceptor() -> TlsAcceptor {
    let certs = vec![CertificateDer::from_pem_slice(TEST_SERVER_CERT_PEM.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(TEST_SERVER_KEY_PEM.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn mllp_over_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rx = start_receiver(listener, Some(tls_acceptor()));
    let ca = pem_file(TEST_CA_PEM);
    let tls = TlsClientConfig::from_ca_pem(ca.path()).unwrap();
    let mut dest = Destination::Mllp(
        MllpDestination::new(MllpSettings {
            tls: Some(tls),
            ..mllp_settings(&rx.addr)
        })
        .unwrap(),
    );
    for control_id in ["AA-1", "AA-2"] {
        let payload = message(control_id);
        let outcome = dest.send(&delivery(payload.as_bytes(), control_id)).await;
        assert_eq!(
            outcome,
            Outcome::Delivered {
                response: Some(ack("AA", control_id, "as asked"))
            }
        );
    }
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);

    // Trusting the wrong certificate (the leaf is not a CA): the handshake fails, retry.
    let not_the_ca = pem_file(TEST_SERVER_CERT_PEM);
    let mut untrusting = MllpDestination::new(MllpSettings {
        tls: Some(TlsClientConfig::from_ca_pem(not_the_ca.path()).unwrap()),
        ..mllp_settings(&rx.addr)
    })
    .unwrap();
    let error = retry_error(send(&mut untrusting, "AA-3").await);
    assert!(
        error.starts_with(&format!("TLS handshake with {} failed: ", rx.addr)),
        "{error}"
    );
}

fn delivery<'a>(payload: &'a [u8], control_id: &'a str) -> DeliveryInput<'a> {
    DeliveryInput {
        payload,
        message_id: 7,
        control_id,
        channel: "lab_results",
        message_type: "ORU",
        trigger: "R01",
        // 2026-03-14 09:26:53 UTC
        received_ms: 1_773_480_413_000,
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// An HTTP server with one route per behaviour. `/echo` answers 200 with what it received, so
/// tests can check the request the destination built.
async fn http_server() -> String {
    async fn echo(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        format!(
            "content-type={} x-tag={} auth={} body={}",
            get("content-type"),
            get("x-tag"),
            get("authorization"),
            String::from_utf8_lossy(&body)
        )
    }
    async fn busy() -> impl IntoResponse {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "7")],
            "maintenance",
        )
    }
    async fn limited() -> impl IntoResponse {
        (StatusCode::TOO_MANY_REQUESTS, "slow down")
    }
    async fn limited_until() -> impl IntoResponse {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "Thu, 01 Jan 2099 00:00:00 GMT")],
        )
    }
    async fn bad() -> impl IntoResponse {
        // resourceType first, as FHIR servers write it; the diagnostics run past 512 bytes.
        let outcome = format!(
            r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"invalid","diagnostics":"Patient.birthDate is not a date {}"}}]}}"#,
            "x".repeat(1000)
        );
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/fhir+json")],
            outcome,
        )
    }
    async fn slow() -> impl IntoResponse {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    }
    async fn moved() -> impl IntoResponse {
        (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/echo")])
    }
    let app = Router::new()
        .route("/echo", post(echo).put(echo))
        .route("/busy", post(busy))
        .route("/limited", post(limited))
        .route("/limited-until", post(limited_until))
        .route("/bad", post(bad))
        .route("/slow", post(slow))
        .route("/moved", post(moved));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn http(url: String) -> HttpDestination {
    HttpDestination::new(HttpSettings {
        url,
        method: "POST".into(),
        headers: vec![
            ("X-Tag".into(), "lab".into()),
            ("Authorization".into(), "Bearer t0ken".into()),
        ],
        timeout: Duration::from_millis(500),
        content_type: "application/hl7-v2".into(),
    })
    .unwrap()
}

#[tokio::test]
async fn http_2xx_is_delivered_with_the_body() {
    let base = http_server().await;
    let outcome = http(format!("{base}/echo")).send(b"MSH|x").await;
    let Outcome::Delivered {
        response: Some(body),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "content-type=application/hl7-v2 x-tag=lab auth=Bearer t0ken body=MSH|x"
    );
    let put = HttpDestination::new(HttpSettings {
        method: "PUT".into(),
        headers: Vec::new(),
        ..http_settings(format!("{base}/echo"))
    })
    .unwrap();
    assert!(matches!(
        put.send(b"{}").await,
        Outcome::Delivered { response: Some(_) }
    ));
}

fn http_settings(url: String) -> HttpSettings {
    HttpSettings {
        url,
        method: "POST".into(),
        headers: Vec::new(),
        timeout: Duration::from_millis(500),
        content_type: "application/json".into(),
    }
}

#[tokio::test]
async fn http_retryable_statuses_and_retry_after() {
    let base = http_server().await;
    assert_eq!(
        http(format!("{base}/busy")).send(b"x").await,
        Outcome::Retry {
            error: "HTTP 503 Service Unavailable: maintenance".into(),
            after: Some(Duration::from_secs(7)),
        }
    );
    assert_eq!(
        http(format!("{base}/limited")).send(b"x").await,
        Outcome::Retry {
            error: "HTTP 429 Too Many Requests: slow down".into(),
            after: None,
        }
    );
    let outcome = http(format!("{base}/limited-until")).send(b"x").await;
    let Outcome::Retry {
        after: Some(after), ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    // An HTTP-date is turned into the time left until then: decades, from any test run.
    assert!(
        after > Duration::from_secs(60 * 60 * 24 * 365 * 50),
        "{after:?}"
    );
}

#[tokio::test]
async fn http_400_is_rejected_with_the_start_of_the_body() {
    let base = http_server().await;
    let outcome = http(format!("{base}/bad")).send(b"x").await;
    let Outcome::Reject { error } = outcome else {
        panic!("{outcome:?}");
    };
    let prefix = "HTTP 400 Bad Request: {";
    assert!(error.starts_with(prefix), "{error}");
    assert!(
        error.contains("\"resourceType\":\"OperationOutcome\""),
        "{error}"
    );
    assert!(error.contains("Patient.birthDate is not a date"), "{error}");
    assert_eq!(
        error.len(),
        prefix.len() - 1 + 512,
        "the body is cut at 512 bytes"
    );

    let outcome = http(format!("{base}/nowhere")).send(b"x").await;
    assert_eq!(
        outcome,
        Outcome::Reject {
            error: "HTTP 404 Not Found".into()
        }
    );
    let outcome = http(format!("{base}/moved")).send(b"x").await;
    assert!(
        matches!(&outcome, Outcome::Reject { error } if error.starts_with("HTTP 301 Moved Permanently (redirects are not followed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn http_timeout_and_refused_connection_retry() {
    let base = http_server().await;
    let started = Instant::now();
    let error = retry_error(http(format!("{base}/slow")).send(b"x").await);
    let elapsed = started.elapsed();
    assert!(error.starts_with("no response within 0.5 s"), "{error}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(!error.contains("127.0.0.1"), "no URL in errors: {error}");

    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let error = retry_error(http(format!("http://{closed}/echo")).send(b"x").await);
    assert!(error.starts_with("could not connect: "), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Files

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_destination(dir: &Path, template: &str) -> Destination {
    Destination::File(
        FileDestination::new(FileSettings {
            directory: dir.to_path_buf(),
            filename: template.into(),
        })
        .unwrap(),
    )
}

#[tokio::test]
async fn file_is_written_under_its_rendered_name() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing, with a missing parent: both are created.
    let dir = tmp.path().join("out").join("lab_results");
    let mut dest = file_destination(
        &dir,
        "{channel}_{type}_{trigger}_{date}_{message_id}_{control_id}.hl7",
    );
    let payload = message("MSG-0001");
    let outcome = dest.send(&delivery(payload.as_bytes(), "MSG-0001")).await;
    let expected = dir.join("lab_results_ORU_R01_20260314_7_MSG-0001.hl7");
    assert_eq!(
        outcome,
        Outcome::Delivered {
            response: Some(expected.to_string_lossy().into_owned().into_bytes())
        }
    );
    assert_eq!(std::fs::read(&expected).unwrap(), payload.as_bytes());
    assert_eq!(
        entries(&dir),
        ["lab_results_ORU_R01_20260314_7_MSG-0001.hl7"],
        "no temp file is left behind"
    );

    // At-least-once: the same message again replaces the file.
    let again = message("MSG-0001").replace("95", "96");
    let outcome = dest.send(&delivery(again.as_bytes(), "MSG-0001")).await;
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert_eq!(std::fs::read(&expected).unwrap(), again.as_bytes());
    assert_eq!(entries(&dir).len(), 1);
}

#[tokio::test]
async fn file_names_from_hostile_control_ids_stay_inside_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inbox");
    let mut dest = file_destination(&dir, "{control_id}.hl7");
    for control_id in [
        "../../escaped",
        "../escaped",
        "..",
        "/etc/escaped",
        "a\\..\\b",
    ] {
        let outcome = dest.send(&delivery(b"MSH|x", control_id)).await;
        assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    }
    assert_eq!(
        entries(tmp.path()),
        ["inbox"],
        "nothing outside the directory"
    );
    assert_eq!(
        entries(&dir),
        [
            "_..hl7",
            "_._.__escaped.hl7",
            "_._escaped.hl7",
            "_etc_escaped.hl7",
            "a_.__b.hl7"
        ]
    );
}

#[tokio::test]
async fn file_write_errors_are_retried() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: every write fails, as on a bad mount.
    let not_a_dir = tmp.path().join("blocked");
    std::fs::write(&not_a_dir, b"").unwrap();
    let mut dest = file_destination(&not_a_dir, "{message_id}.hl7");
    let error = retry_error(dest.send(&delivery(b"MSH|x", "C1")).await);
    assert!(error.starts_with("could not write "), "{error}");
    assert_eq!(entries(tmp.path()), ["blocked"]);
}
