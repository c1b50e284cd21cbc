//! The `msg` object: `get`, `set`, `remove`, the header properties, `to_string`.
//!
//! `msg` is an owned [`MessageBuf`], registered as the Rhai type `Message`. Methods receive it by
//! `&mut`, so reading and setting work on the value in the script's scope without copying it.

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration};

use super::segments::segment_index;
use crate::hl7::MessageBuf;

/// The name of the variable holding the message in every script.
pub(crate) const MSG: &str = "msg";

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Registers the script API on `engine`.
pub(super) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<MessageBuf>("Message");

    engine.register_fn("get", get);
    // `set` changes `msg`: registered as not pure, so calling it on the read-only `msg` of a
    // filter is an error instead of a silently discarded change.
    FuncRegistration::new("set")
        .with_purity(false)
        .register_into_engine(engine, set);
    FuncRegistration::new("remove")
        .with_purity(false)
        .register_into_engine(engine, remove);

    engine.register_get("type", |m: &mut MessageBuf| {
        m.as_message().message_type().into_owned()
    });
    engine.register_get("trigger", |m: &mut MessageBuf| {
        m.as_message().trigger_event().into_owned()
    });
    engine.register_get("control_id", |m: &mut MessageBuf| {
        m.as_message().control_id().into_owned()
    });
    engine.register_get("version", |m: &mut MessageBuf| {
        m.as_message().version().into_owned()
    });

    // `to_string` (and so `print(msg)` and `"" + msg`) is the whole message; `to_debug` (and so
    // `debug(msg)`) names it without its content.
    engine.register_fn("to_string", |m: &mut MessageBuf| m.to_string());
    engine.register_fn("to_debug", |m: &mut MessageBuf| summary(m));
}

/// `msg.get(path)`: the text at `path`, unescaped; empty past the end of the message.
fn get(msg: &mut MessageBuf, path: &str) -> RhaiResult<String> {
    match msg.get(path) {
        Ok(value) => Ok(value.text().into_owned()),
        Err(e) => Err(format!("msg.get: {e}").into()),
    }
}

/// `msg.set(path, value)`: sets the text at `path`, creating whatever is missing. Numbers and
/// booleans are written as text; `()` clears the value.
fn set(msg: &mut MessageBuf, path: &str, value: Dynamic) -> RhaiResult<()> {
    let text = if value.is_string()
        || value.is_char()
        || value.is_int()
        || value.is_float()
        || value.is_bool()
    {
        value.to_string()
    } else if value.is_unit() {
        String::new()
    } else {
        return Err(format!(
            "msg.set(\"{path}\", ...): the value is {}, but a field holds text, a number or a boolean",
            value.type_name()
        )
        .into());
    };
    msg.set(path, &text)
        .map_err(|e| format!("msg.set: {e}").into())
}

/// `msg.remove(path)`: a segment path (`"ZPI"`, `"OBX[2]"`) removes that segment; a field path
/// (`"PID-13"`, `"PID-5.3"`) clears that value. True when there was something to remove.
fn remove(msg: &mut MessageBuf, path: &str) -> RhaiResult<bool> {
    if !path.contains('-') {
        if path == "MSH" || path.starts_with("MSH[") {
            return Err("msg.remove: the MSH segment cannot be removed".into());
        }
        let index = segment_index(msg, path).map_err(|e| format!("msg.remove: {e}"))?;
        return Ok(index.is_some_and(|i| msg.remove_segment(i)));
    }
    let had = match msg.get(path) {
        Ok(value) => !value.raw().is_empty(),
        Err(e) => return Err(format!("msg.remove: {e}").into()),
    };
    if had {
        msg.set(path, "").map_err(|e| format!("msg.remove: {e}"))?;
    }
    Ok(had)
}

/// A one-line description of a message without patient data.
fn summary(m: &MessageBuf) -> String {
    let view = m.as_message();
    format!(
        "Message({}^{}, control id {:?}, {} segments)",
        view.message_type(),
        view.trigger_event(),
        view.control_id(),
        view.segment_count()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::script::{ScriptEngine, ScriptLimits, Transform};

    fn run(source: &str) -> MessageBuf {
        let engine = Arc::new(ScriptEngine::new(ScriptLimits::default()));
        let mut msg = MessageBuf::parse(
            b"MSH|^~\\&|REG|HOSP|LAB|HOSP|20240101||ADT^A01|C1|P|2.5.1\rPID|1||123||DOE^JANE||19580923|F",
        )
        .unwrap();
        Transform::from_source(&engine, "t.rhai", source)
            .unwrap()
            .apply(&mut msg)
            .unwrap();
        msg
    }

    #[test]
    fn debug_output_names_the_message_without_its_content() {
        let msg = run(r#"msg.set("ZZZ-1", msg.to_debug()); msg.set("ZZZ-2", type_of(msg));"#);
        assert_eq!(
            msg.get("ZZZ-1").unwrap().text(),
            r#"Message(ADT^A01, control id "C1", 2 segments)"#
        );
        assert_eq!(msg.get("ZZZ-2").unwrap().text(), "Message");
    }

    #[test]
    fn values_read_from_msg_work_with_maps_and_lists() {
        let msg = run(r#"let codes = #{ "F": "female", "M": "male" };
               let sex = msg.get("PID-8");
               if sex in codes { msg.set("ZSX-1", codes[sex]); }
               msg.set("ZSX-2", msg.trigger in ["A01", "A04"]);"#);
        assert_eq!(msg.get("ZSX-1").unwrap().text(), "female");
        assert_eq!(msg.get("ZSX-2").unwrap().text(), "true");
    }
}
