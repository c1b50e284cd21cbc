//! Fuzzes the HL7 v2 parser on arbitrary bytes, as they would arrive in an MLLP frame or a file:
//! it must never panic, every view of a parsed message must be readable, and serialising a
//! parsed message must give bytes that parse again into as many segments.

#![no_main]

use ihub::hl7::{Message, parse_stream};
use libfuzzer_sys::fuzz_target;

/// Reads every level of every segment, so lazy decoding (escapes, charsets) runs on all of it.
fn walk(msg: &Message<'_>) {
    for seg in msg.segments() {
        let _ = seg.name();
        for field in seg.fields() {
            let _ = field.text();
            for rep in field.repetitions() {
                for comp in rep.components() {
                    let _ = comp.text();
                    for sub in comp.subcomponents() {
                        let _ = sub.text();
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(messages) = parse_stream(data) {
        for msg in &messages {
            walk(msg);
        }
    }
    if let Ok(msg) = Message::parse(data) {
        walk(&msg);
        for path in [
            "PID-3[2].4.2",
            "OBX[2]-5",
            "MSH-10",
            "MSH-1",
            "MSH-2",
            "MSA-1",
        ] {
            if let Ok(value) = msg.get(path) {
                let _ = value.text();
            }
        }
        let bytes = msg.to_bytes();
        match Message::parse(&bytes) {
            Ok(again) => assert_eq!(
                again.segment_count(),
                msg.segment_count(),
                "re-parsing to_bytes() changed the segment count"
            ),
            Err(e) => panic!("to_bytes() of a parsed message does not parse: {e}"),
        }
    }
});
