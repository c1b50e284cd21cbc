//! Fuzzes `MllpCodec` the way `Framed` drives it: arbitrary bytes arriving in arbitrary chunk
//! sizes, `decode` until `None` after each chunk, then `decode_eof` at the end.
//!
//! Input layout: byte 0 picks the frame limit, byte 1 seeds the chunk sizes, the rest is the
//! stream. Besides "never panics", it checks what must hold for every input:
//! - no frame is longer than the limit or contains FS;
//! - up to the first error, chunking changes nothing: the same frames, the same first error,
//!   the same skipped-byte count as decoding the whole stream from one buffer.

#![no_main]

use bytes::BytesMut;
use ihub::mllp::{CodecError, END_BLOCK, MllpCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// What a decode run produced up to (and including) its first error.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    first_error: Option<&'static str>,
    skipped_at_end_or_error: u64,
}

fn kind(e: &CodecError) -> &'static str {
    match e {
        CodecError::FrameTooLarge { .. } => "too large",
        CodecError::Truncated { .. } => "truncated",
        CodecError::EndBlockInPayload { .. } => "fs in payload",
        CodecError::Io(_) => "io",
    }
}

/// Checks one decode result and records it; returns whether to call `decode` again.
fn record(
    out: &mut Outcome,
    codec: &MllpCodec,
    limit: usize,
    r: Result<Option<bytes::Bytes>, CodecError>,
) -> bool {
    match r {
        Ok(Some(frame)) => {
            assert!(
                frame.len() <= limit,
                "frame of {} bytes over limit {limit}",
                frame.len()
            );
            assert!(!frame.contains(&END_BLOCK), "frame contains FS");
            if out.first_error.is_none() {
                out.frames.push(frame.to_vec());
            }
            true
        }
        Ok(None) => false,
        Err(e) => {
            if out.first_error.is_none() {
                out.first_error = Some(kind(&e));
                out.skipped_at_end_or_error = codec.skipped_bytes();
            }
            // Keep going, like a caller that does not close the connection.
            true
        }
    }
}

/// Feeds `stream` in chunks whose sizes come from `next_size`, keeps decoding after errors
/// (to exercise resynchronisation), and records everything up to the first error.
fn run(stream: &[u8], limit: usize, mut next_size: impl FnMut() -> usize) -> Outcome {
    let mut codec = MllpCodec::with_max_frame_bytes(limit);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        frames: Vec::new(),
        first_error: None,
        skipped_at_end_or_error: 0,
    };
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_size().clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        buf.extend_from_slice(chunk);
        loop {
            let r = codec.decode(&mut buf);
            if !record(&mut out, &codec, limit, r) {
                break;
            }
        }
    }
    // decode_eof until it has nothing more; bounded in case of a bug that loops.
    for _ in 0..=stream.len() + 1 {
        let r = codec.decode_eof(&mut buf);
        let was_err = r.is_err();
        if !record(&mut out, &codec, limit, r) || was_err {
            break;
        }
    }
    assert!(codec.skipped_bytes() <= stream.len() as u64);
    if out.first_error.is_none() {
        out.skipped_at_end_or_error = codec.skipped_bytes();
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [limit_sel, seed, stream @ ..] = data else {
        return;
    };
    let limit = match limit_sel % 4 {
        0 => 0,
        1 => 8,
        2 => 300,
        _ => ihub::mllp::DEFAULT_MAX_FRAME_BYTES,
    };
    // Chunk sizes: xorshift from the seed, capped by a per-input maximum so that both
    // byte-at-a-time and large reads get explored.
    let max_chunk = [1usize, 2, 3, 7, 64, 4096][usize::from(seed >> 5) % 6];
    let mut state = u32::from(*seed) | 0x9e37_0000;
    let chunked = run(stream, limit, || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as usize % max_chunk) + 1
    });
    let whole = run(stream, limit, || usize::MAX);
    assert_eq!(chunked, whole, "chunking changed the result");
});
