//! [`MllpClient`]: one outbound MLLP connection, over TCP or TLS, that sends a frame and waits
//! for the reply frame (the ACK).
//!
//! MLLP is strictly request/response on a connection: the receiver answers each message before
//! the sender may send the next (HL7 v2.5.1 Appendix C, "original acknowledgment"). So the client
//! has no pipelining and no request ids; `send` writes one frame and reads exactly one back. The
//! one thing that can break that lockstep is a timeout: an ACK that arrives late would be read as
//! the answer to the *next* message. After any failure the client therefore refuses further sends
//! ([`ClientError::Unusable`]) and the caller reconnects.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rustls::RootCertStore;
use rustls::crypto::aws_lc_rs::default_provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

use super::codec::{CodecError, MllpCodec};

/// How long [`MllpClient::connect`] waits for TCP plus the TLS handshake. Without a bound, a
/// host that drops SYNs ties the caller up for the OS default (minutes), and a TLS handshake
/// against a silent peer never ends.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything that can go wrong connecting to an MLLP listener or exchanging a message with it.
/// Each variant names the address (or file) so a log line is enough to find the culprit.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP connect (or name resolution) failed.
    #[error("could not connect to {addr}")]
    Connect {
        /// The `HOST:PORT` we tried.
        addr: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// TCP connect plus TLS handshake did not finish in time.
    #[error("connecting to {addr} timed out after {} s", .timeout.as_secs_f64())]
    ConnectTimeout {
        /// The `HOST:PORT` we tried.
        addr: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The TLS handshake failed: untrusted certificate, wrong name, or a peer that does not
    /// speak TLS.
    #[error("TLS handshake with {addr} failed")]
    Tls {
        /// The `HOST:PORT` we tried.
        addr: String,
        /// rustls' reason, wrapped in an I/O error by tokio-rustls.
        source: std::io::Error,
    },
    /// The host part of the address cannot be checked against a certificate.
    #[error("\"{name}\" is not a valid TLS server name (expected a DNS name or an IP address)")]
    InvalidServerName {
        /// The offending host name.
        name: String,
    },
    /// The CA file could not be read or is not valid PEM.
    #[error("could not read CA certificates from {}", .path.display())]
    CaPem {
        /// The PEM file.
        path: PathBuf,
        /// What was wrong with it.
        source: rustls_pki_types::pem::Error,
    },
    /// The CA file holds no `CERTIFICATE` block, so nothing would be trusted.
    #[error("no CERTIFICATE found in {}", .path.display())]
    NoCaCertificates {
        /// The PEM file.
        path: PathBuf,
    },
    /// A certificate in the CA file parsed as PEM but rustls refused it as a trust anchor.
    #[error("a CA certificate in {} was rejected", .path.display())]
    BadCaCertificate {
        /// The PEM file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// A client certificate or its key (for mutual TLS) could not be read.
    #[error("client certificate {}: {reason}", .path.display())]
    ClientCertificate {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration (no usable protocol version for the provider, or a key
    /// that does not match its certificate).
    #[error("could not build the TLS client configuration")]
    TlsConfig {
        /// rustls' reason.
        source: rustls::Error,
    },
    /// No reply frame arrived within the timeout.
    #[error("no ACK from {addr} within {} s", .timeout.as_secs_f64())]
    Timeout {
        /// The peer.
        addr: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The peer closed the connection instead of answering.
    #[error("{addr} closed the connection before sending an ACK")]
    Closed {
        /// The peer.
        addr: String,
    },
    /// Writing the frame failed (or the payload could not be framed).
    #[error("sending to {addr} failed")]
    Write {
        /// The peer.
        addr: String,
        /// The framing or I/O error.
        source: CodecError,
    },
    /// Reading the reply frame failed: I/O error, oversize or truncated frame.
    #[error("reading the ACK from {addr} failed")]
    Read {
        /// The peer.
        addr: String,
        /// The framing or I/O error.
        source: CodecError,
    },
    /// An earlier send on this connection failed, so a late reply may still be in flight and
    /// would be mistaken for the next ACK.
    #[error("the connection to {addr} is unusable after an earlier failure; reconnect")]
    Unusable {
        /// The peer.
        addr: String,
    },
}

/// Reads every `CERTIFICATE` block of a PEM file into a root store: the CAs a TLS server
/// certificate must chain to. Private keys and other blocks in the file are ignored.
pub fn load_ca_pem(path: impl AsRef<Path>) -> Result<RootCertStore, ClientError> {
    let path = path.as_ref();
    let pem_error = |source| ClientError::CaPem {
        path: path.to_path_buf(),
        source,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(pem_error)? {
        let cert = cert.map_err(pem_error)?;
        // `add` (not `add_parsable_certificates`) so that a bad certificate is an error that
        // names the file, not a silently smaller trust store.
        roots
            .add(cert)
            .map_err(|source| ClientError::BadCaCertificate {
                path: path.to_path_buf(),
                source,
            })?;
    }
    if roots.is_empty() {
        return Err(ClientError::NoCaCertificates {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// TLS settings for [`MllpClient::connect`]: which CAs to trust and, optionally, which name to
/// expect in the server certificate (by default the host part of the address).
#[derive(Debug, Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl TlsClientConfig {
    /// Trusts the CAs in a PEM file (see [`load_ca_pem`]); no client certificate.
    pub fn from_ca_pem(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self::from_roots(load_ca_pem(path)?)
    }

    /// Trusts the given roots; no client certificate.
    pub fn from_roots(roots: RootCertStore) -> Result<Self, ClientError> {
        // The provider is named explicitly instead of relying on a process-wide default: a
        // library must not depend on (or race with) whoever calls `install_default` first.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|source| ClientError::TlsConfig { source })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Trusts the CAs in `ca` and presents the certificate chain in `cert` with the private key
    /// in `key`, for servers that require client certificates (mutual TLS).
    pub fn mutual(
        ca: impl AsRef<Path>,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, ClientError> {
        let roots = load_ca_pem(ca)?;
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ClientError::ClientCertificate {
                path: cert.to_path_buf(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(ClientError::ClientCertificate {
                path: cert.to_path_buf(),
                reason: "no CERTIFICATE found".into(),
            });
        }
        let key_der = rustls_pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| {
            ClientError::ClientCertificate {
                path: key.to_path_buf(),
                reason: format!("no usable private key ({e})"),
            }
        })?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|source| ClientError::TlsConfig { source })?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)
            .map_err(|source| ClientError::TlsConfig { source })?;
        Ok(Self {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Expects `name` in the server certificate instead of the host we connect to; for
    /// connecting by IP address to a server whose certificate only has its DNS name.
    pub fn with_server_name(mut self, name: &str) -> Result<Self, ClientError> {
        self.server_name = Some(server_name(name)?);
        Ok(self)
    }
}

/// Parses a DNS name or IP address (brackets around IPv6 allowed) into a rustls server name.
fn server_name(name: &str) -> Result<ServerName<'static>, ClientError> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|_| ClientError::InvalidServerName {
        name: name.to_owned(),
    })
}

/// The host part of `HOST:PORT` or `[IPv6]:PORT`; the whole string if there is no port.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

/// A plain or TLS stream behind one type, so `Framed` and `send` do not care which. The
/// dynamic dispatch costs nothing measurable next to a network round trip.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One MLLP connection that sends a message and waits for its ACK. Not shared between tasks:
/// MLLP allows one outstanding message per connection, so open one client per task.
pub struct MllpClient {
    addr: String,
    framed: Framed<Box<dyn Stream>, MllpCodec>,
    /// Set when a send failed in a way that may leave a reply in flight.
    unusable: bool,
}

impl fmt::Debug for MllpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MllpClient")
            .field("addr", &self.addr)
            .field("unusable", &self.unusable)
            .finish_non_exhaustive()
    }
}

impl MllpClient {
    /// Connects to `addr` (`HOST:PORT`), with TLS if `tls` is given, waiting at most
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    pub async fn connect(addr: &str, tls: Option<TlsClientConfig>) -> Result<Self, ClientError> {
        Self::connect_timeout(addr, tls, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// Like [`connect`](Self::connect), with a bound on TCP connect plus TLS handshake.
    pub async fn connect_timeout(
        addr: &str,
        tls: Option<TlsClientConfig>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        tokio::time::timeout(timeout, Self::connect_inner(addr, tls))
            .await
            .map_err(|_| ClientError::ConnectTimeout {
                addr: addr.to_owned(),
                timeout,
            })?
    }

    async fn connect_inner(addr: &str, tls: Option<TlsClientConfig>) -> Result<Self, ClientError> {
        // Check the server name before touching the network, so a typo fails fast.
        let tls = match tls {
            Some(tls) => {
                let name = match tls.server_name {
                    Some(name) => name,
                    None => server_name(host_of(addr))?,
                };
                Some((TlsConnector::from(tls.config), name))
            }
            None => None,
        };
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        // MLLP is small request/response frames: Nagle's algorithm would hold back a short
        // write until the previous one is ACKed at TCP level, adding up to ~40 ms per message
        // with delayed ACKs. Failing to set it only costs latency, so it is not an error.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match tls {
            Some((connector, name)) => Box::new(connector.connect(name, tcp).await.map_err(
                |source| ClientError::Tls {
                    addr: addr.to_owned(),
                    source,
                },
            )?),
            None => Box::new(tcp),
        };
        Ok(Self {
            addr: addr.to_owned(),
            framed: Framed::new(stream, MllpCodec::new()),
            unusable: false,
        })
    }

    /// The address this client connected to, for messages and logs.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `payload` as one frame and returns the payload of the reply frame. `timeout`
    /// covers both the write (a peer that stops reading blocks it) and the wait for the reply.
    pub async fn send(&mut self, payload: &[u8], timeout: Duration) -> Result<Bytes, ClientError> {
        if self.unusable {
            return Err(ClientError::Unusable {
                addr: self.addr.clone(),
            });
        }
        let Self { addr, framed, .. } = self;
        let exchange = async {
            // `send` is feed + flush: the frame is on the wire when it returns.
            framed
                .send(payload)
                .await
                .map_err(|source| ClientError::Write {
                    addr: addr.clone(),
                    source,
                })?;
            match framed.next().await {
                Some(Ok(reply)) => Ok(reply),
                // TLS reports a peer that closed without close_notify as UnexpectedEof; to the
                // user that is the same as a plain close.
                Some(Err(CodecError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Err(ClientError::Closed { addr: addr.clone() })
                }
                Some(Err(source)) => Err(ClientError::Read {
                    addr: addr.clone(),
                    source,
                }),
                None => Err(ClientError::Closed { addr: addr.clone() }),
            }
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                addr: self.addr.clone(),
                timeout,
            }),
        };
        // Only a payload the codec refused leaves the stream untouched (nothing was written);
        // every other failure may leave a reply in flight or half a frame on the wire.
        self.unusable = !matches!(
            result,
            Ok(_)
                | Err(ClientError::Write {
                    source: CodecError::EndBlockInPayload { .. },
                    ..
                })
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mllp::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};
    use rustls_pki_types::PrivateKeyDer;
    use std::io::Write as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    // A throwaway CA and a server certificate for `localhost` and 127.0.0.1 it signed (ECDSA
    // P-256, valid 2000–2100), made with openssl for these tests only. Nothing trusts this CA
    // outside them; the key is here so the tests need no generator crate and no network.
    const TEST_CA_PEM: &str = include_str!("../../tests/fixtures/tls/ca.crt");

    const TEST_SERVER_CERT_PEM: &str = include_str!("../../tests/fixtures/tls/server.crt");

    const TEST_SERVER_KEY_PEM: &str = include_str!("../../tests/fixtures/tls/server.key");

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
            let certs =
                vec![CertificateDer::from_pem_slice(TEST_SERVER_CERT_PEM.as_bytes()).unwrap()];
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
}
