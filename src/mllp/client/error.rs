//! [`ClientError`]: what can go wrong connecting to an MLLP listener, setting up TLS, or
//! exchanging a message.

use std::path::PathBuf;
use std::time::Duration;

use crate::mllp::codec::CodecError;

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
