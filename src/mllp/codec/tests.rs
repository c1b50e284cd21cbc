//! Unit tests of [`MllpCodec`](super::MllpCodec): framing edge cases, size limits, resync after
//! errors, and property tests over arbitrary splits and arbitrary bytes.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::{CodecError, MllpCodec};
use crate::mllp::{CARRIAGE_RETURN, END_BLOCK, START_BLOCK};

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
