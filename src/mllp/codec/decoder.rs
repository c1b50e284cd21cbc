//! [`MllpCodec`]'s state and its `Decoder` impl: finds whole frames in the read buffer without
//! rescanning, within the size limit, skipping noise between frames.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::CodecError;
use crate::mllp::{CARRIAGE_RETURN, DEFAULT_MAX_FRAME_BYTES, END_BLOCK, START_BLOCK};

/// MLLP framing for `tokio_util::codec::Framed`: decodes `<VT>payload<FS><CR>` into the payload
/// ([`Bytes`], framing removed) and encodes a payload into a frame.
///
/// One codec serves one connection: it holds the scan position of the frame being received.
#[derive(Debug, Clone)]
pub struct MllpCodec {
    /// Largest payload (framing bytes excluded) the decoder will buffer.
    max_frame_bytes: usize,
    /// True once the VT of the current frame has been consumed: the buffer then starts with
    /// payload bytes. False while looking for the next VT.
    in_frame: bool,
    /// How many payload bytes (from the start of the buffer) are known to hold no FS. The next
    /// search starts here, which is what makes trickled input linear.
    scanned: usize,
    /// True right after a frame ended by an FS that was the last byte in the buffer: if the
    /// next byte is the CR that belongs to that FS, it is swallowed without being counted.
    pending_cr: bool,
    /// Bytes seen outside any frame since the codec was created.
    skipped: u64,
    /// Test-only instrumentation: total bytes `memchr` looked at, to prove no rescans.
    #[cfg(test)]
    searched: u64,
}

impl Default for MllpCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl MllpCodec {
    /// A codec with the default maximum frame size, [`DEFAULT_MAX_FRAME_BYTES`] (16 MiB).
    pub fn new() -> Self {
        Self::with_max_frame_bytes(DEFAULT_MAX_FRAME_BYTES)
    }

    /// A codec that refuses payloads larger than `max_frame_bytes` (framing bytes excluded),
    /// so one connection can never make the decoder buffer more than about that much.
    pub fn with_max_frame_bytes(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes,
            in_frame: false,
            scanned: 0,
            pending_cr: false,
            skipped: 0,
            #[cfg(test)]
            searched: 0,
        }
    }

    /// The configured maximum payload size, so callers can report it.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Bytes received outside any frame (before a VT) since this codec was created. Nonzero
    /// means the peer sends noise or a broken framing; worth a warning, not a disconnect.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Forgets the frame in progress after an error, so that a caller who keeps decoding
    /// (instead of closing the connection) resynchronises at the next VT rather than
    /// reading half a frame as a whole one.
    fn reset(&mut self, buf: &mut BytesMut) {
        buf.clear();
        self.in_frame = false;
        self.scanned = 0;
        self.pending_cr = false;
    }

    /// Test-only: how many bytes have been searched in total.
    #[cfg(test)]
    pub(super) fn searched_bytes(&self) -> u64 {
        self.searched
    }
}

impl Decoder for MllpCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        // The previous frame ended with an FS that was the last byte we had. Its CR (if the
        // sender sends one) arrives now; eat it silently so it is not counted as garbage.
        if self.pending_cr && !buf.is_empty() {
            self.pending_cr = false;
            if buf[0] == CARRIAGE_RETURN {
                buf.advance(1);
            }
        }

        if !self.in_frame {
            // Between frames: everything up to the next VT is noise (keep-alive newlines, a
            // sender that forgot the VT, leftovers of a frame we gave up on). Skip it, but
            // count it so the operator can see it.
            let found = memchr::memchr(START_BLOCK, buf);
            #[cfg(test)]
            {
                self.searched += found.map_or(buf.len(), |i| i + 1) as u64;
            }
            match found {
                Some(start) => {
                    self.skipped += start as u64;
                    // Drop the noise and the VT itself: from now on the buffer starts with
                    // payload, so a frame is a plain `split_to` with no copying.
                    buf.advance(start + 1);
                    self.in_frame = true;
                    self.scanned = 0;
                }
                None => {
                    // No frame starts in what we have. Nothing here is worth keeping, and
                    // clearing it keeps a noisy peer from growing the buffer.
                    self.skipped += buf.len() as u64;
                    buf.clear();
                    return Ok(None);
                }
            }
        }

        // Inside a frame: search for FS only in bytes not searched before. (`scanned` never
        // exceeds `buf.len()`: the buffer only grows while we are in a frame.)
        let unsearched = buf.get(self.scanned..).unwrap_or_default();
        let found = memchr::memchr(END_BLOCK, unsearched);
        #[cfg(test)]
        {
            self.searched += found.map_or(unsearched.len(), |i| i + 1) as u64;
        }
        match found {
            Some(offset) => {
                let end = self.scanned + offset;
                if end > self.max_frame_bytes {
                    // The whole frame is here, but it is still over the limit: refuse it the
                    // same way as one that is still arriving, so the limit means one thing.
                    self.reset(buf);
                    return Err(CodecError::FrameTooLarge {
                        limit: self.max_frame_bytes,
                    });
                }
                let payload = buf.split_to(end).freeze();
                buf.advance(1); // the FS
                // Strictly, FS must be followed by CR. If the CR is here, consume it. If the
                // buffer ends at the FS, deliver anyway and remember to eat a CR that may follow:
                // waiting for it would deadlock a sender that omits it and waits for its ACK.
                // If another byte follows (often the next VT), leave it: it belongs to whatever
                // comes next, and nothing of this frame is lost.
                match buf.first() {
                    Some(&CARRIAGE_RETURN) => buf.advance(1),
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
                self.in_frame = false;
                self.scanned = 0;
                Ok(Some(payload))
            }
            None => {
                self.scanned = buf.len();
                if buf.len() > self.max_frame_bytes {
                    // Fail now rather than when (if ever) the FS arrives: this is what bounds
                    // the memory one connection can take. The read that crossed the limit is
                    // at most one buffer's worth over it.
                    self.reset(buf);
                    return Err(CodecError::FrameTooLarge {
                        limit: self.max_frame_bytes,
                    });
                }
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        // A complete frame (with or without its final CR) is delivered as usual; trailing noise
        // outside a frame is skipped by `decode` and is not an error.
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if self.in_frame {
            // VT seen, FS never came: the peer closed mid-message. Report how much arrived so
            // the log says "cut after 4096 bytes", not just "bad frame".
            let bytes = buf.len();
            self.reset(buf);
            return Err(CodecError::Truncated { bytes });
        }
        Ok(None)
    }
}
