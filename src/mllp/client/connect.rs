//! [`MllpClient`] and opening it: TCP connect, the optional TLS handshake, and one bound on
//! both.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

use super::ClientError;
use super::tls_config::{TlsClientConfig, host_of, server_name};
use crate::mllp::codec::MllpCodec;

/// How long [`MllpClient::connect`] waits for TCP plus the TLS handshake. Without a bound, a
/// host that drops SYNs ties the caller up for the OS default (minutes), and a TLS handshake
/// against a silent peer never ends.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain or TLS stream behind one type, so `Framed` and `send` do not care which. The
/// dynamic dispatch costs nothing measurable next to a network round trip.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One MLLP connection that sends a message and waits for its ACK. Not shared between tasks:
/// MLLP allows one outstanding message per connection, so open one client per task.
pub struct MllpClient {
    pub(super) addr: String,
    pub(super) framed: Framed<Box<dyn Stream>, MllpCodec>,
    /// Set when a send failed in a way that may leave a reply in flight.
    pub(super) unusable: bool,
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
}
