//! [`MllpClient`]: one outbound MLLP connection, over TCP or TLS, that sends a frame and waits
//! for the reply frame (the ACK).
//!
//! MLLP is strictly request/response on a connection: the receiver answers each message before
//! the sender may send the next (HL7 v2.5.1 Appendix C, "original acknowledgment"). So the client
//! has no pipelining and no request ids; `send` writes one frame and reads exactly one back. The
//! one thing that can break that lockstep is a timeout: an ACK that arrives late would be read as
//! the answer to the *next* message. After any failure the client therefore refuses further sends
//! ([`ClientError::Unusable`]) and the caller reconnects.
//!
//! # Layout
//! - `error`: [`ClientError`], every failure naming the address or file at fault.
//! - `tls_config`: [`TlsClientConfig`] and [`load_ca_pem`]: trusted CAs, client certificates,
//!   the server name to expect.
//! - `connect`: [`MllpClient`] and opening it (TCP, optional TLS, connect timeout).
//! - `send`: [`MllpClient::send`], one frame out and its reply back, in lockstep.

mod connect;
mod error;
mod send;
#[cfg(test)]
mod tests;
mod tls_config;

pub use connect::{DEFAULT_CONNECT_TIMEOUT, MllpClient};
pub use error::ClientError;
pub use tls_config::{TlsClientConfig, load_ca_pem};
