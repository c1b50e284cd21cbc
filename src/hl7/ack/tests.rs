//! Unit tests of acknowledgments: the fast path against the path-based builder, the header
//! and ERR contents, enhanced mode, and NAKs.

use super::by_path::build_ack_by_path;
use super::concatenated::concatenated_ack;
use super::{Ack, AckCode, ErrorCode, Severity, build_ack, build_ack_bytes, build_nak};
use crate::hl7::buf::MessageBuf;
use crate::hl7::message::Message;

const ORU: &[u8] = b"MSH|^~\\&|LAB|LABFAC|EHR|EHRFAC|20240101120000||ORU^R01^ORU_R01|CTRL42|P|2.5.1|||AL|NE\rPID|1||123\r";

fn ack_of(input: &[u8], ack: Ack) -> MessageBuf {
    build_ack(&Message::parse(input).unwrap(), &ack)
}

/// The ACK's bytes with MSH-7 and MSH-10 (time and a fresh control id) blanked.
fn comparable(ack: &MessageBuf) -> Vec<u8> {
    let mut ack = MessageBuf::parse(ack.as_bytes()).unwrap();
    ack.set_raw("MSH-7", "T").unwrap();
    ack.set_raw("MSH-10", "C").unwrap();
    ack.into_bytes()
}

#[test]
fn concatenated_ack_equals_the_path_built_one() {
    let inputs: [&[u8]; 5] = [
        ORU,
        b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.3\rPID|1\r",
        b"MSH|^~\\&|||||||ADT|X2|P\r",
        b"MSH#$%*!#A#B#C#D###ORM$O01#X3#P#2.5#######UNICODE UTF-8\r",
        b"MSH|^~\\&#|A^X&Y|B|||||ADT^A04|X5\r",
    ];
    for input in inputs {
        let original = Message::parse(input).unwrap();
        let ack = Ack::new(AckCode::AA);
        let fast = concatenated_ack(&original, &ack).expect("fast path");
        let slow = build_ack_by_path(&original, &ack);
        assert_eq!(
            String::from_utf8_lossy(&comparable(&fast)),
            String::from_utf8_lossy(&comparable(&slow)),
            "for {:?}",
            String::from_utf8_lossy(input)
        );
        let wire = MessageBuf::parse(&build_ack_bytes(&original, &ack)).expect("parses");
        assert_eq!(comparable(&wire), comparable(&slow));
    }
}

#[test]
fn ack_bytes_with_text_or_an_error_take_the_path_built_one() {
    let original = Message::parse(ORU).unwrap();
    let ack = Ack::new(AckCode::AE).with_error(
        ErrorCode::ApplicationInternalError,
        Severity::Error,
        "disk full",
    );
    let wire = MessageBuf::parse(&build_ack_bytes(&original, &ack)).unwrap();
    let m = wire.as_message();
    assert_eq!(m.get("MSA-1").unwrap().text(), "AE");
    assert_eq!(m.get("MSA-2").unwrap().text(), "CTRL42");
    assert_eq!(comparable(&wire), comparable(&build_ack(&original, &ack)));
}

#[test]
fn accept_swaps_parties_and_echoes_the_control_id() {
    let a = ack_of(ORU, Ack::new(AckCode::AA));
    let m = a.as_message();
    assert_eq!(
        (m.sending_application(), m.sending_facility()),
        ("EHR".into(), "EHRFAC".into())
    );
    assert_eq!(
        (m.receiving_application(), m.receiving_facility()),
        ("LAB".into(), "LABFAC".into())
    );
    assert_eq!(m.get("MSH-9").unwrap().text(), "ACK^R01^ACK");
    assert_eq!(m.version(), "2.5.1");
    assert_eq!(m.processing_id(), "P");
    assert_eq!(m.get("MSA-1").unwrap().text(), "AA");
    assert_eq!(m.get("MSA-2").unwrap().text(), "CTRL42");
    assert!(m.segment("ERR").is_none());
    assert!(m.control_id().len() <= 20);
    assert_ne!(m.control_id(), "CTRL42");
}

#[test]
fn error_acks_carry_an_err_segment() {
    let a = ack_of(
        ORU,
        Ack::new(AckCode::AE).with_text("PID-3 missing").with_error(
            ErrorCode::RequiredFieldMissing,
            Severity::Error,
            "PID-3 is required",
        ),
    );
    let m = a.as_message();
    assert_eq!(m.get("MSA-3").unwrap().text(), "PID-3 missing");
    assert_eq!(
        m.get("ERR-3").unwrap().text(),
        "101^Required field missing^HL70357"
    );
    assert_eq!(m.get("ERR-4").unwrap().text(), "E");
    assert_eq!(m.get("ERR-7").unwrap().text(), "PID-3 is required");
    let a = ack_of(ORU, Ack::new(AckCode::AR).with_text("bad^thing"));
    assert_eq!(a.get("ERR-3.1").unwrap().text(), "207");
    assert_eq!(a.get("ERR-7").unwrap().text(), "bad^thing");
}

#[test]
fn older_versions_use_err_1() {
    let a = ack_of(
        b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.3\r",
        Ack::new(AckCode::AE),
    );
    assert_eq!(a.get("MSH-9").unwrap().text(), "ACK^A01");
    assert_eq!(
        a.get("ERR-1.4").unwrap().text(),
        "207&Application internal error&HL70357"
    );
}

#[test]
fn the_ack_uses_the_senders_delimiters() {
    let a = ack_of(
        b"MSH!@#$%!A!B!C!D!1!!ADT@A01!9!P!2.5\r",
        Ack::new(AckCode::AA),
    );
    assert!(a.as_bytes().starts_with(b"MSH!@#$%!C!D!A!B!"), "{a}");
    assert_eq!(a.get("MSA-2").unwrap().text(), "9");
}

#[test]
fn enhanced_mode_honours_msh15() {
    let m = Message::parse(ORU).unwrap();
    assert!(Ack::new(AckCode::CA).wanted(&m));
    let never = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||NE|NE\r").unwrap();
    assert!(!Ack::new(AckCode::CA).wanted(&never));
    assert!(
        Ack::new(AckCode::AA).wanted(&never),
        "original mode always answers"
    );
    let errors = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||ER\r").unwrap();
    assert!(!Ack::new(AckCode::CA).wanted(&errors));
    assert!(Ack::new(AckCode::CE).wanted(&errors));
    let success = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5|||SU\r").unwrap();
    assert!(Ack::new(AckCode::CA).wanted(&success));
    assert!(!Ack::new(AckCode::CR).wanted(&success));
}

#[test]
fn unreadable_input_gets_a_nak() {
    let raw = b"MSH|^~\\&|LAB|LF|EHR|EF|20240101||";
    let error = Message::parse(raw).unwrap_err();
    let nak = build_nak(raw, &error);
    let m = nak.as_message();
    assert_eq!(m.get("MSA-1").unwrap().text(), "AE");
    assert_eq!(m.sending_application(), "EHR");
    assert_eq!(m.receiving_application(), "LAB");
    assert!(m.get("MSA-3").unwrap().text().contains("MSH-9"));
    assert_eq!(m.get("ERR-3.1").unwrap().text(), "102");
    let garbage = b"hello there";
    let nak = build_nak(garbage, &Message::parse(garbage).unwrap_err());
    assert_eq!(nak.get("MSA-1").unwrap().text(), "AR");
    assert_eq!(nak.get("ERR-3.1").unwrap().text(), "207");
    assert!(
        Message::parse(nak.as_bytes()).is_ok(),
        "the NAK itself is a valid message"
    );
}

#[test]
fn codes_parse_from_text() {
    assert_eq!("ce".parse::<AckCode>(), Ok(AckCode::CE));
    assert!("XX".parse::<AckCode>().is_err());
}
