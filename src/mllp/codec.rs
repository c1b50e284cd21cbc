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

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{CARRIAGE_RETURN, DEFAULT_MAX_FRAME_BYTES, END_BLOCK, START_BLOCK};

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
    fn searched_bytes(&self) -> u64 {
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

impl Encoder<&[u8]> for MllpCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        // An FS inside the payload would end the frame early at the receiver; refuse it here,
        // where the caller can still tell which message was at fault.
        if let Some(offset) = memchr::memchr(END_BLOCK, payload) {
            return Err(CodecError::EndBlockInPayload { offset });
        }
        // One reservation, three copies: the frame goes out in a single write.
        dst.reserve(payload.len() + 3);
        dst.put_u8(START_BLOCK);
        dst.extend_from_slice(payload);
        dst.put_u8(END_BLOCK);
        dst.put_u8(CARRIAGE_RETURN);
        Ok(())
    }
}

impl Encoder<Bytes> for MllpCodec {
    type Error = CodecError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&payload[..], dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `<VT>payload<FS><CR>`, built by hand so the tests do not depend on the encoder.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![START_BLOCK];
        out.extend_from_slice(payload);
        out.extend_from_slice(&[END_BLOCK, CARRIAGE_RETURN]);
        out
    }

    /// Decodes everything currently in `buf`.
    fn drain(codec: &mut MllpCodec, buf: &mut BytesMut) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(buf).unwrap() {
            out.push(frame);
        }
        out
    }

    /// Feeds `input` in chunks of `sizes` (cycled; 0 is treated as 1), then ends the stream.
    fn feed_chunks(codec: &mut MllpCodec, input: &[u8], sizes: &[usize]) -> Vec<Bytes> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            buf.extend_from_slice(chunk);
            out.extend(drain(codec, &mut buf));
            rest = tail;
            i += 1;
        }
        while let Some(frame) = codec.decode_eof(&mut buf).unwrap() {
            out.push(frame);
        }
        out
    }

    #[test]
    fn decodes_one_frame_and_strips_framing() {
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&frame(b"MSH|^~\\&|A\rPID|1\r")[..]);
        let got = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&got[..], b"MSH|^~\\&|A\rPID|1\r");
        assert!(buf.is_empty(), "FS and CR are consumed");
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert_eq!(codec.skipped_bytes(), 0);
    }

    #[test]
    fn incomplete_frame_is_not_an_error() {
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&b"\x0bMSH|partial"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        // The payload stays buffered (only the VT was consumed) until the FS arrives.
        assert_eq!(&buf[..], b"MSH|partial");
        buf.extend_from_slice(b"|rest\x1c\r");
        assert_eq!(
            &codec.decode(&mut buf).unwrap().unwrap()[..],
            b"MSH|partial|rest"
        );
    }

    #[test]
    fn frame_split_across_reads() {
        let mut codec = MllpCodec::new();
        let whole = frame(b"MSH|one\rEVN|A01\r");
        for cut in 0..=whole.len() {
            let mut codec2 = MllpCodec::new();
            let mut buf = BytesMut::from(&whole[..cut]);
            let mut got = drain(&mut codec2, &mut buf);
            buf.extend_from_slice(&whole[cut..]);
            got.extend(drain(&mut codec2, &mut buf));
            assert_eq!(
                got,
                vec![Bytes::from_static(b"MSH|one\rEVN|A01\r")],
                "cut at {cut}"
            );
        }
        // And the same through the chunk helper with a cut inside FS CR.
        let got = feed_chunks(&mut codec, &whole, &[whole.len() - 1, 1]);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut codec = MllpCodec::new();
        let mut input = frame(b"one");
        input.extend(frame(b"two"));
        input.extend(frame(b""));
        input.extend(frame(b"four"));
        let mut buf = BytesMut::from(&input[..]);
        let got = drain(&mut codec, &mut buf);
        assert_eq!(got, vec!["one", "two", "", "four"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn byte_at_a_time() {
        let mut codec = MllpCodec::new();
        let mut input = frame(b"MSH|^~\\&|SLOW\r");
        input.extend(frame(b"MSH|^~\\&|SLOWER\r"));
        let got = feed_chunks(&mut codec, &input, &[1]);
        assert_eq!(got, vec!["MSH|^~\\&|SLOW\r", "MSH|^~\\&|SLOWER\r"]);
        assert_eq!(codec.skipped_bytes(), 0);
    }

    #[test]
    fn trickled_input_is_searched_once() {
        // 100 kB one byte at a time: with rescanning this would search ~5 GB.
        let payload = vec![b'x'; 100_000];
        let input = frame(&payload);
        let mut codec = MllpCodec::new();
        let got = feed_chunks(&mut codec, &input, &[1]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), payload.len());
        assert!(
            codec.searched_bytes() <= input.len() as u64,
            "searched {} bytes for {} input bytes",
            codec.searched_bytes(),
            input.len()
        );
    }

    #[test]
    fn bytes_before_a_frame_are_skipped_and_counted() {
        let mut codec = MllpCodec::new();
        let mut input = b"\r\nnoise".to_vec();
        input.extend(frame(b"one"));
        input.extend_from_slice(b"xy");
        input.extend(frame(b"two"));
        let mut buf = BytesMut::from(&input[..]);
        assert_eq!(drain(&mut codec, &mut buf), vec!["one", "two"]);
        assert_eq!(codec.skipped_bytes(), 7 + 2);
        // Cumulative, and noise alone (no VT at all) is dropped, not buffered.
        buf.extend_from_slice(b"garbage");
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
        assert_eq!(codec.skipped_bytes(), 9 + 7);
        assert_eq!(
            codec.decode_eof(&mut buf).unwrap(),
            None,
            "noise at EOF is fine"
        );
    }

    #[test]
    fn oversize_frame_fails_before_its_end_arrives() {
        let mut codec = MllpCodec::with_max_frame_bytes(10);
        assert_eq!(codec.max_frame_bytes(), 10);
        let mut buf = BytesMut::from(&b"\x0b0123456789"[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            None,
            "exactly the limit is fine"
        );
        buf.extend_from_slice(b"A");
        match codec.decode(&mut buf) {
            Err(CodecError::FrameTooLarge { limit: 10 }) => {}
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        assert!(buf.is_empty(), "the oversize payload is dropped, not kept");
    }

    #[test]
    fn payload_at_the_limit_is_delivered_and_one_over_is_not() {
        let mut codec = MllpCodec::with_max_frame_bytes(3);
        let mut buf = BytesMut::from(&frame(b"abc")[..]);
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"abc");
        // A complete frame that is over the limit is refused too (FS already in the buffer).
        let mut buf = BytesMut::from(&frame(b"abcd")[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLarge { limit: 3 })
        ));
    }

    #[test]
    fn decoder_resynchronises_after_an_error() {
        let mut codec = MllpCodec::with_max_frame_bytes(4);
        let mut buf = BytesMut::from(&b"\x0btoo long"[..]);
        assert!(codec.decode(&mut buf).is_err());
        // The tail of the refused frame is noise now; the next VT starts a fresh frame.
        buf.extend_from_slice(b" tail\x1c\r");
        buf.extend(frame(b"ok"));
        assert_eq!(drain(&mut codec, &mut buf), vec!["ok"]);
    }

    #[test]
    fn missing_final_cr_at_eof_is_tolerated() {
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&b"\x0bMSH|no cr\x1c"[..]);
        assert_eq!(
            &codec.decode_eof(&mut buf).unwrap().unwrap()[..],
            b"MSH|no cr"
        );
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        assert_eq!(codec.skipped_bytes(), 0);
    }

    #[test]
    fn frame_ended_by_fs_is_delivered_without_waiting_for_cr() {
        // A sender that omits CR and waits for its ACK must not hang.
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&b"\x0bone\x1c"[..]);
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"one");
        // Its CR arriving late is part of the frame, not noise.
        buf.extend_from_slice(b"\r");
        buf.extend(frame(b"two"));
        assert_eq!(drain(&mut codec, &mut buf), vec!["two"]);
        assert_eq!(codec.skipped_bytes(), 0);
    }

    #[test]
    fn fs_followed_by_another_byte_is_lenient() {
        let mut codec = MllpCodec::new();
        // FS then straight into the next VT: both frames, nothing counted as skipped.
        let mut buf = BytesMut::from(&b"\x0bone\x1c\x0btwo\x1c\r"[..]);
        assert_eq!(drain(&mut codec, &mut buf), vec!["one", "two"]);
        assert_eq!(codec.skipped_bytes(), 0);
        // FS then LF: the frame is delivered; the LF is ordinary inter-frame noise.
        let mut buf = BytesMut::from(&b"\x0bthree\x1c\n\x0bfour\x1c\r"[..]);
        assert_eq!(drain(&mut codec, &mut buf), vec!["three", "four"]);
        assert_eq!(codec.skipped_bytes(), 1);
    }

    #[test]
    fn unterminated_frame_at_eof_is_truncated() {
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&b"junk\x0bMSH|cut"[..]);
        match codec.decode_eof(&mut buf) {
            Err(CodecError::Truncated { bytes: 7 }) => {}
            other => panic!("expected Truncated, got {other:?}"),
        }
        // Just a VT is a truncated (empty) frame too.
        let mut buf = BytesMut::from(&b"\x0b"[..]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(CodecError::Truncated { bytes: 0 })
        ));
        assert_eq!(
            codec.decode_eof(&mut buf).unwrap(),
            None,
            "reset after the error"
        );
    }

    #[test]
    fn cr_inside_payload_is_data() {
        // HL7 ends segments with CR, so CR alone never ends a frame.
        let mut codec = MllpCodec::new();
        let mut buf = BytesMut::from(&b"\x0bA\r\rB\r\x1c\r"[..]);
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"A\r\rB\r");
    }

    #[test]
    fn encoder_wraps_payload() {
        let mut codec = MllpCodec::new();
        let mut dst = BytesMut::new();
        codec.encode(&b"MSH|x\r"[..], &mut dst).unwrap();
        codec.encode(Bytes::from_static(b""), &mut dst).unwrap();
        assert_eq!(&dst[..], b"\x0bMSH|x\r\x1c\r\x0b\x1c\r");
        // Round trip through the decoder.
        assert_eq!(drain(&mut codec, &mut dst), vec!["MSH|x\r", ""]);
    }

    #[test]
    fn encoder_refuses_fs_in_payload() {
        let mut codec = MllpCodec::new();
        let mut dst = BytesMut::new();
        assert!(matches!(
            codec.encode(&b"ab\x1ccd"[..], &mut dst),
            Err(CodecError::EndBlockInPayload { offset: 2 })
        ));
        assert!(dst.is_empty(), "nothing half-written");
    }

    #[test]
    fn error_messages_name_the_numbers() {
        let e = CodecError::FrameTooLarge { limit: 42 };
        assert_eq!(e.to_string(), "MLLP frame exceeds the maximum of 42 bytes");
        let e = CodecError::Truncated { bytes: 7 };
        assert!(e.to_string().contains("7 payload bytes"));
    }

    /// Payload bytes: anything but VT and FS, which HL7 text never contains.
    fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("no framing bytes", |b| *b != START_BLOCK && *b != END_BLOCK),
            0..200,
        )
    }

    proptest! {
        /// Any sequence of frames, with noise between them, split at arbitrary points, decodes
        /// to the same payloads, and the noise is counted exactly.
        #[test]
        fn arbitrary_splits_give_the_same_frames(
            frames in proptest::collection::vec(
                (payload_strategy(), proptest::collection::vec(
                    any::<u8>().prop_filter("noise has no VT", |b| *b != START_BLOCK), 0..5)),
                0..12),
            sizes in proptest::collection::vec(1usize..64, 1..16),
        ) {
            let mut input = Vec::new();
            let mut noise_len = 0u64;
            for (payload, noise) in &frames {
                input.extend_from_slice(noise);
                noise_len += noise.len() as u64;
                input.extend(frame(payload));
            }
            let mut codec = MllpCodec::new();
            let got = feed_chunks(&mut codec, &input, &sizes);
            let want: Vec<Bytes> =
                frames.iter().map(|(p, _)| Bytes::copy_from_slice(p)).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(codec.skipped_bytes(), noise_len);
            prop_assert!(codec.searched_bytes() <= input.len() as u64);
        }

        /// Arbitrary bytes in arbitrary chunks never panic, and what comes out never contains
        /// a framing byte.
        #[test]
        fn arbitrary_input_never_panics(
            input in proptest::collection::vec(any::<u8>(), 0..400),
            sizes in proptest::collection::vec(1usize..32, 1..8),
            limit in 0usize..64,
        ) {
            let mut codec = MllpCodec::with_max_frame_bytes(limit);
            let mut buf = BytesMut::new();
            for chunk in input.chunks(sizes[0]) {
                buf.extend_from_slice(chunk);
                while let Ok(Some(frame)) = codec.decode(&mut buf) {
                    prop_assert!(frame.len() <= limit);
                    prop_assert!(!frame.contains(&END_BLOCK));
                }
            }
            while let Ok(Some(_)) = codec.decode_eof(&mut buf) {}
        }
    }
}
