//! [`CodecError`]: the ways framing or unframing MLLP fails, shared by the decoder, the encoder
//! and the `Framed` I/O underneath them.

/// Everything that can go wrong while framing or unframing MLLP. A connection that returns one
/// of these should be closed: the byte stream can no longer be trusted to line up with frames.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The payload grew past the configured maximum before its FS arrived. The rest of the frame
    /// was not buffered.
    #[error("MLLP frame exceeds the maximum of {limit} bytes")]
    FrameTooLarge {
        /// The configured maximum payload size, in bytes.
        limit: usize,
    },
    /// The stream ended after a VT but before the FS that ends the frame: the message was cut.
    #[error("stream ended inside an MLLP frame ({bytes} payload bytes received, no end block)")]
    Truncated {
        /// How many payload bytes had arrived (after the VT).
        bytes: usize,
    },
    /// The payload to send contains FS; the receiver would end the frame there and treat the
    /// rest as garbage, so it is refused instead of silently corrupting the stream.
    #[error("payload contains the MLLP end block byte 0x1C at offset {offset}")]
    EndBlockInPayload {
        /// Byte offset of the first FS in the payload.
        offset: usize,
    },
    /// Reading or writing the socket failed. `tokio_util` needs this variant: `Framed` passes
    /// I/O errors through the codec's error type.
    #[error("MLLP I/O failed")]
    Io(#[from] std::io::Error),
}
