//! Unit tests of [`MllpClient`](super::MllpClient) against a local ACK server, over TCP and
//! TLS: replies, certificate and name errors, timeouts, closes, truncated and refused frames.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::crypto::aws_lc_rs::default_provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use super::connect::Stream;
use super::tls_config::{host_of, server_name};
use super::{ClientError, MllpClient, TlsClientConfig, load_ca_pem};
use crate::mllp::codec::{CodecError, MllpCodec};
use crate::mllp::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};

// A throwaway CA and a server certificate for `localhost` and 127.0.0.1 it signed (ECDSA
// P-256, valid 2000–2100), made with openssl for these tests only. Nothing trusts this CA
// outside them; the key is here so the tests need no generator crate and no network.
const TEST_CA_PEM: &str = include_str!("../../../tests/fixtures/tls/ca.crt");

const TEST_SERVER_CERT_PEM: &str = include_str!("../../../tests/fixtures/tls/server.crt");

const TEST_SERVER_KEY_PEM: &str = include_str!("../../../tests/fixtures/tls/server.key");

fn pem_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file
}

/// A server on 127.0.0.1:0 that answers every frame with `ACK:` + the payload, over `Framed`
/// so the test exercises the codec on both sides. With `tls`, it terminates TLS first.
async fn ack_server(tls: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let acceptor = tls.then(|| {
        let certs = vec![CertificateDer::from_pem_slice(TEST_SERVER_CERT_PEM.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(TEST_SERVER_KEY_PEM.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let stream: Box<dyn Stream> = match acceptor {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(s) => Box::new(s),
                        Err(_) => return,
                    },
                    None => Box::new(tcp),
                };
                let mut framed = Framed::new(stream, MllpCodec::new());
                while let Some(Ok(frame)) = framed.next().await {
                    let mut reply = b"ACK:".to_vec();
                    reply.extend_from_slice(&frame);
                    if framed.send(&reply[..]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn sends_and_receives_over_tcp() {
    let addr = ack_server(false).await;
    let mut client = MllpClient::connect(&addr, None).await.unwrap();
    assert_eq!(client.addr(), addr);
    for i in 0..3 {
        let msg = format!("MSH|{i}\r");
        let reply = client
            .send(msg.as_bytes(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reply, format!("ACK:MSH|{i}\r").as_bytes());
    }
}

#[tokio::test]
async fn sends_and_receives_over_tls() {
    let addr = ack_server(true).await;
    let ca = pem_file(TEST_CA_PEM);
    // By IP (the certificate has IP:127.0.0.1) and by name (DNS:localhost).
    let tls = TlsClientConfig::from_ca_pem(ca.path()).unwrap();
    let mut client = MllpClient::connect(&addr, Some(tls.clone())).await.unwrap();
    let reply = client
        .send(b"MSH|tls\r", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(&reply[..], b"ACK:MSH|tls\r");
    let port = addr.rsplit_once(':').unwrap().1;
    let by_name = format!("localhost:{port}");
    let tls = tls.with_server_name("localhost").unwrap();
    let mut client = MllpClient::connect(&by_name, Some(tls)).await.unwrap();
    assert!(client.send(b"x", Duration::from_secs(5)).await.is_ok());
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let addr = ack_server(true).await;
    // Trust only the server's own leaf: it is not a CA, so the chain does not verify.
    let not_the_ca = pem_file(TEST_SERVER_CERT_PEM);
    let tls = TlsClientConfig::from_ca_pem(not_the_ca.path()).unwrap();
    let err = MllpClient::connect(&addr, Some(tls)).await.unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("TLS handshake with {addr} failed"));
}

#[tokio::test]
async fn wrong_server_name_is_a_tls_error() {
    let addr = ack_server(true).await;
    let ca = pem_file(TEST_CA_PEM);
    let tls = TlsClientConfig::from_ca_pem(ca.path())
        .unwrap()
        .with_server_name("lab.example.org")
        .unwrap();
    let err = MllpClient::connect(&addr, Some(tls)).await.unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
}

#[test]
fn ca_pem_errors_name_the_file() {
    let missing = Path::new("/nonexistent/ca.pem");
    let err = load_ca_pem(missing).unwrap_err();
    assert!(matches!(err, ClientError::CaPem { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "could not read CA certificates from /nonexistent/ca.pem"
    );

    let key_only = pem_file(TEST_SERVER_KEY_PEM);
    let err = load_ca_pem(key_only.path()).unwrap_err();
    assert!(
        matches!(err, ClientError::NoCaCertificates { .. }),
        "{err:?}"
    );

    let bad_base64 = pem_file("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert!(load_ca_pem(bad_base64.path()).is_err());

    let ok = pem_file(&format!("{TEST_CA_PEM}{TEST_SERVER_KEY_PEM}"));
    assert_eq!(load_ca_pem(ok.path()).unwrap().len(), 1, "keys are ignored");
}

#[test]
fn host_and_server_name_parsing() {
    assert_eq!(host_of("lab.example.org:2575"), "lab.example.org");
    assert_eq!(host_of("[::1]:2575"), "::1");
    assert_eq!(host_of("localhost"), "localhost");
    assert!(server_name("127.0.0.1").is_ok());
    assert!(server_name("[::1]").is_ok());
    assert!(server_name("bad name!").is_err());
}

#[tokio::test]
async fn connect_refused_names_the_address() {
    // Bind then drop to get a port that is (almost certainly) closed.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    };
    let err = MllpClient::connect(&addr, None).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("could not connect to {addr}"));
}

#[tokio::test]
async fn timeout_then_the_connection_is_unusable() {
    // A server that reads but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut sink = [0u8; 1024];
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    let mut client = MllpClient::connect(&addr, None).await.unwrap();
    let err = client
        .send(b"MSH|1\r", Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("no ACK from {addr} within 0.1 s"));
    let err = client
        .send(b"MSH|2\r", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unusable { .. }), "{err:?}");
}

#[tokio::test]
async fn peer_closing_before_ack_is_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let _ = tcp.read(&mut buf).await;
        // Drop: closes without a reply.
    });
    let mut client = MllpClient::connect(&addr, None).await.unwrap();
    let err = client
        .send(b"MSH|1\r", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed { .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_reply_is_a_read_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(&[START_BLOCK, b'M', b'S', b'A']).await;
    });
    let mut client = MllpClient::connect(&addr, None).await.unwrap();
    let err = client
        .send(b"MSH|1\r", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Read {
                source: CodecError::Truncated { bytes: 3 },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn payload_with_fs_is_refused_and_the_connection_stays_usable() {
    let addr = ack_server(false).await;
    let mut client = MllpClient::connect(&addr, None).await.unwrap();
    let err = client
        .send(&[b'a', END_BLOCK, CARRIAGE_RETURN], Duration::from_secs(5))
        .await;
    assert!(matches!(err, Err(ClientError::Write { .. })), "{err:?}");
    let reply = client.send(b"ok", Duration::from_secs(5)).await.unwrap();
    assert_eq!(&reply[..], b"ACK:ok");
}
