//! MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over TCP.
//!
//! A frame is `<VT> payload <FS><CR>`: one start byte, the message bytes, then two end bytes
//! (HL7 v2.5.1 Appendix C; the same in every later version). Nothing in the frame says how long
//! the payload is, so a receiver must scan for the end block, and must cap how much it is willing
//! to buffer while it scans. HL7 text never contains VT or FS, which is what makes this framing
//! unambiguous.
//!
//! This module knows bytes, frames and sockets, and nothing about channels or HL7 content:
//! - [`codec`]: [`MllpCodec`], a `tokio_util::codec` `Decoder`/`Encoder` with a maximum frame
//!   size, tolerant of what real senders do (garbage between frames, a missing final CR).
//! - [`client`]: [`MllpClient`], one connection (TCP or TLS) that sends a frame and waits for
//!   the reply frame with a timeout. `ihub send` is built on it.
//! - [`server`]: [`server::serve`], a bounded listener that hands each frame to a
//!   [`FrameHandler`] and writes back its reply; [`tls`] builds its rustls configuration.
//!
//! ```
//! use bytes::BytesMut;
//! use ihub::mllp::MllpCodec;
//! use tokio_util::codec::Decoder;
//!
//! let mut codec = MllpCodec::new();
//! let mut buf = BytesMut::from(&b"\x0bMSH|^~\\&|A\r\x1c\r"[..]);
//! let frame = codec.decode(&mut buf).unwrap().unwrap();
//! assert_eq!(&frame[..], b"MSH|^~\\&|A\r");
//! ```

pub mod client;
pub mod codec;
pub mod server;
pub mod tls;

pub use client::{ClientError, MllpClient, TlsClientConfig, load_ca_pem};
pub use codec::{CodecError, MllpCodec};
pub use server::{FrameHandler, ListenerSettings};

/// VT, the byte that opens a frame. Bytes before it belong to no frame and are skipped.
pub const START_BLOCK: u8 = 0x0B;

/// FS, the byte that ends a frame's payload. It is followed by [`CARRIAGE_RETURN`].
pub const END_BLOCK: u8 = 0x1C;

/// CR after [`END_BLOCK`]; the same byte HL7 uses to end segments, which is why the end of a
/// frame is found by FS and not by CR.
pub const CARRIAGE_RETURN: u8 = 0x0D;

/// Default cap on one frame's payload: 16 MiB. Large enough for HL7 with embedded base64 PDFs
/// (MDM, ORU with ED fields), small enough that one bad sender cannot exhaust memory.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
