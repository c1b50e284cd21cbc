//! Property tests over whole messages: random structure, random delimiters, random text.
//!
//! A model message (segments → fields → repetitions → components → subcomponents of arbitrary
//! text, delimiters and line breaks included) is built with [`MessageBuf::set`], serialized,
//! parsed back, and every value is read again by path. This checks the builder's escaping, the
//! parser's splitting and the serializer's byte-exactness together.

use proptest::prelude::*;

use super::{Delimiters, Message, MessageBuf, parse_stream};

type Field = Vec<Vec<Vec<String>>>;

#[derive(Debug, Clone)]
struct Model {
    delimiters: Delimiters,
    segments: Vec<(String, Vec<Field>)>,
}

fn delimiters() -> impl Strategy<Value = Delimiters> {
    let pool = b"|^~\\&#!@$%*+=:;?/".to_vec();
    (
        proptest::sample::subsequence(pool, 6).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(|(c, truncation)| Delimiters {
            field: c[0],
            component: c[1],
            repetition: c[2],
            escape: Some(c[3]),
            subcomponent: Some(c[4]),
            truncation: truncation.then_some(c[5]),
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9 .,-]{0,8}",
        1 => "[|^~\\\\&#!@$%*\r\n]{1,4}",
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    proptest::collection::vec(
        proptest::collection::vec(proptest::collection::vec(text(), 1..3), 1..4),
        1..3,
    )
}

fn model() -> impl Strategy<Value = Model> {
    let name = "[A-Z][A-Z][A-Z0-9]".prop_filter("not a header", |n| {
        !matches!(n.as_str(), "MSH" | "FHS" | "BHS" | "BTS" | "FTS")
    });
    let segment = (name, proptest::collection::vec(field(), 1..5));
    (delimiters(), proptest::collection::vec(segment, 0..5)).prop_map(|(delimiters, segments)| {
        Model {
            delimiters,
            segments,
        }
    })
}

/// Builds the model with the builder; returns the message and every (path, expected text).
fn build(model: &Model) -> (MessageBuf, Vec<(String, String)>) {
    let mut buf = MessageBuf::new(model.delimiters);
    buf.set("MSH-9.1", "ZZZ").unwrap();
    buf.set("MSH-9.2", "Z01").unwrap();
    buf.set("MSH-10", "1").unwrap();
    let mut expected = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    for (name, fields) in &model.segments {
        let occurrence = seen.entry(name).and_modify(|n| *n += 1).or_insert(1);
        for (f, field) in fields.iter().enumerate() {
            for (r, rep) in field.iter().enumerate() {
                for (c, comp) in rep.iter().enumerate() {
                    for (s, sub) in comp.iter().enumerate() {
                        let path = format!(
                            "{name}[{occurrence}]-{}[{}].{}.{}",
                            f + 1,
                            r + 1,
                            c + 1,
                            s + 1
                        );
                        buf.set(&path, sub).unwrap();
                        expected.push((path, sub.clone()));
                    }
                }
            }
        }
    }
    (buf, expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_serialize_gives_back_every_value(model in model()) {
        let (buf, expected) = build(&model);
        let bytes = buf.as_bytes().to_vec();
        let parsed = Message::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.delimiters(), &model.delimiters);
        prop_assert_eq!(parsed.segment_count(), model.segments.len() + 1);
        for (path, value) in &expected {
            prop_assert_eq!(parsed.get(path).unwrap().text(), value.as_str(), "at {}", path);
        }
        prop_assert_eq!(parsed.to_bytes(), bytes.clone());
        let as_stream = parse_stream(&bytes).unwrap();
        prop_assert_eq!(as_stream.len(), 1);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200), d in delimiters()) {
        let mut input = MessageBuf::new(d).into_bytes();
        input.pop();
        input.extend_from_slice(&tail);
        if let Ok(m) = Message::parse(&input) {
            for seg in m.segments() {
                for f in seg.fields() {
                    let _ = f.text();
                    for r in f.repetitions() {
                        for c in r.components() {
                            for s in c.subcomponents() {
                                let _ = s.text();
                            }
                        }
                    }
                }
            }
            let bytes = m.to_bytes();
            prop_assert!(Message::parse(&bytes).is_ok());
        }
        let _ = parse_stream(&tail);
    }
}
