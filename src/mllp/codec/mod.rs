//! [`MllpCodec`]: MLLP framing as a `tokio_util::codec` `Decoder` and `Encoder`.
//!
//! The decoder follows mini-redis's `Connection::parse_frame`: look for a *whole* frame in the
//! read buffer before handing anything out, and treat "not yet" as `Ok(None)`, never as an error.
//! On top of that it does three things a naive "search for FS CR" codec gets wrong:
//!
//! - **It never rescans.** It remembers how far it has already searched for FS, so a sender that
//!   trickles a 10 MB message one byte per packet costs O(n) in total, not O(n²).
//! - **It bounds memory.** Once the buffered payload passes `max_frame_bytes` it fails with
//!   [`CodecError::FrameTooLarge`] instead of waiting for an FS that may never come.
//! - **It is lenient where senders are sloppy, strict where data would be lost.** Bytes before
//!   a VT are skipped (and counted, so the operator can see them); a missing CR after FS is
//!   accepted; but a stream that ends inside a frame is an error, because that message was cut.
//!
//! # Layout
//! - `error`: [`CodecError`], what can go wrong framing or unframing.
//! - `decoder`: [`MllpCodec`] itself, its scan state and the `Decoder` impl.
//! - `encoder`: the `Encoder` impls that wrap a payload in a frame.

mod decoder;
mod encoder;
mod error;
#[cfg(test)]
mod tests;

pub use decoder::MllpCodec;
pub use error::CodecError;
