//! Segments and whole messages: `msg.segments("OBX")`, `msg.add_segment(..)`,
//! `msg.insert_segment_after(..)`, and the `hl7::` functions that build a message.
//!
//! `msg.segments(name)` returns `Segment` values: each knows its `path` (`"OBX[2]"`), `name` and
//! `index` (1-based among segments of that name), and reads its own fields with
//! `seg.get("5.1")`. A `Segment` is a copy taken when `segments` was called: changes go through
//! `msg`, with the segment's path (`msg.set(seg.path + "-5", ..)`, `msg.remove(seg.path)`).

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Module};

use crate::hl7::{Delimiters, MessageBuf};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The HL7 version `hl7::message` writes into MSH-12.
const NEW_MESSAGE_VERSION: &str = "2.5.1";

/// One segment as a script sees it while iterating.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// `OBX[2]`: the path of the segment in the message, for `msg.set(seg.path + "-5", ..)`.
    path: String,
    /// `OBX`.
    name: String,
    /// 1-based among the segments with this name.
    index: i64,
    /// A message holding only this segment (after an MSH, which every message needs), read
    /// with the usual paths.
    alone: MessageBuf,
    /// The segment as written.
    text: String,
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Segment>("Segment");
    engine.register_get("path", |s: &mut Segment| s.path.clone());
    engine.register_get("name", |s: &mut Segment| s.name.clone());
    engine.register_get("index", |s: &mut Segment| s.index);
    engine.register_fn("get", |s: &mut Segment, rel: &str| segment_get(s, rel));
    engine.register_fn("get", |s: &mut Segment, field: rhai::INT| {
        segment_get(s, &field.to_string())
    });
    engine.register_fn("to_string", |s: &mut Segment| s.text.clone());
    engine.register_fn("to_debug", |s: &mut Segment| format!("Segment({})", s.path));

    engine.register_fn("segments", segments);
    FuncRegistration::new("add_segment")
        .with_purity(false)
        .register_into_engine(
            engine,
            |msg: &mut MessageBuf, text: &str| -> RhaiResult<()> {
                msg.push_segment(text)
                    .map_err(|e| format!("msg.add_segment: {e}").into())
            },
        );
    FuncRegistration::new("insert_segment_after")
        .with_purity(false)
        .register_into_engine(
            engine,
            |msg: &mut MessageBuf, after: &str, text: &str| -> RhaiResult<()> {
                let at = segment_index(msg, after)
                    .map_err(|e| format!("msg.insert_segment_after: {e}"))?
                    .ok_or_else(|| {
                        format!("msg.insert_segment_after: the message has no segment {after}")
                    })?;
                msg.insert_segment(at + 1, text)
                    .map_err(|e| format!("msg.insert_segment_after: {e}").into())
            },
        );

    let mut hl7 = Module::new();
    // `new` is a reserved word in Rhai, so the constructor is `hl7::message`.
    hl7.set_native_fn("message", new_message);
    hl7.set_native_fn("parse", |text: &str| -> RhaiResult<MessageBuf> {
        MessageBuf::parse(text.as_bytes()).map_err(|e| format!("hl7::parse: {e}").into())
    });
    engine.register_static_module("hl7", hl7.into());
}

/// `msg.segments(name)`: every segment called `name`, in order.
fn segments(msg: &mut MessageBuf, name: &str) -> RhaiResult<Array> {
    check_name(name).map_err(|e| format!("msg.segments: {e}"))?;
    let view = msg.as_message();
    let delimiters = *view.delimiters();
    let mut out = Array::new();
    for (i, seg) in view.segments_named(name).enumerate() {
        let text = String::from_utf8_lossy(seg.raw()).into_owned();
        let alone = if name == "MSH" {
            MessageBuf::parse(seg.raw()).map_err(|e| format!("msg.segments: {e}"))?
        } else {
            let mut alone = MessageBuf::new(delimiters);
            alone
                .push_segment(&text)
                .map_err(|e| format!("msg.segments: {e}"))?;
            alone
        };
        out.push(Dynamic::from(Segment {
            path: format!("{name}[{}]", i + 1),
            name: name.to_string(),
            index: i as i64 + 1,
            alone,
            text,
        }));
    }
    Ok(out)
}

/// `seg.get("5.1")`: a value of the segment, by the part of a path after `SEG-`.
fn segment_get(seg: &mut Segment, rel: &str) -> RhaiResult<String> {
    let path = format!("{}-{rel}", seg.name);
    seg.alone
        .get(&path)
        .map(|v| v.text().into_owned())
        .map_err(|e| format!("seg.get: {e}").into())
}

/// A segment name: three upper-case letters or digits.
fn check_name(name: &str) -> Result<(), String> {
    if name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a segment name (three upper-case letters or digits, such as OBX)"
        ))
    }
}

/// The 0-based position in the message of the segment a segment path (`PID`, `OBX[2]`) names;
/// `None` when there is no such segment.
pub(crate) fn segment_index(msg: &MessageBuf, path: &str) -> Result<Option<usize>, String> {
    let (name, occurrence) = match path.split_once('[') {
        None => (path, 1),
        Some((name, rest)) => {
            let n = rest
                .strip_suffix(']')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("`{path}` is not a segment path (such as `OBX` or `OBX[2]`)")
                })?;
            (name, n)
        }
    };
    check_name(name)?;
    let view = msg.as_message();
    let sep = view.delimiters().field;
    Ok(view
        .segments()
        .enumerate()
        .filter(|(_, seg)| {
            seg.raw().starts_with(name.as_bytes())
                && (seg.raw().len() == 3 || seg.raw().get(3) == Some(&sep))
        })
        .nth(occurrence - 1)
        .map(|(i, _)| i))
}

/// `hl7::message("ADT^A08")`: a new message with MSH filled in: `^~\&` delimiters, MSH-7 now (UTC, `+0000`),
/// MSH-9 as given, MSH-10 a new random control id, MSH-11 `P`, MSH-12 `2.5.1`.
fn new_message(kind: &str) -> RhaiResult<MessageBuf> {
    new_message_buf(Some(kind)).map_err(|e| format!("hl7::message: {e}").into())
}

/// The message `hl7::message(kind)` builds, for Rust callers (a mapping that pushes a JSON
/// record into HL7 starts from it); `None` leaves MSH-9 empty.
pub(crate) fn new_message_buf(kind: Option<&str>) -> Result<MessageBuf, String> {
    let parts: Vec<&str> = kind.map_or_else(Vec::new, |k| k.split('^').collect());
    if let Some(kind) = kind
        && (kind.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()))
    {
        return Err(format!(
            "`{kind}` is not a message type such as \"ADT^A08\" or \"ORU^R01^ORU_R01\""
        ));
    }
    let mut msg = MessageBuf::new(Delimiters::default());
    let fail = |e: crate::hl7::PathError| e.to_string();
    let stamp = crate::hl7::now_timestamp();
    msg.set("MSH-7", &stamp).map_err(fail)?;
    for (i, part) in parts.iter().enumerate() {
        msg.set(&format!("MSH-9.{}", i + 1), part).map_err(fail)?;
    }
    // HL7 v2.5 allows 20 characters in MSH-10.
    let id: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(20)
        .collect();
    msg.set("MSH-10", &id).map_err(fail)?;
    msg.set("MSH-11", "P").map_err(fail)?;
    msg.set("MSH-12", NEW_MESSAGE_VERSION).map_err(fail)?;
    Ok(msg)
}
