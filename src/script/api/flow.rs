//! What a script does besides changing `msg`: `drop(reason)`, `emit(message)`, `log_info` and
//! `log_warn`; and `sleep`, refused.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult};

use super::json::from_dynamic;
use crate::hl7::MessageBuf;
use crate::script::engine::{record_emit, request_drop, run_context};
use crate::script::env::ScriptEnv;
use crate::script::payload::Payload;

/// The reason recorded when a script calls `drop()` without one.
const DEFAULT_DROP_REASON: &str = "dropped by the transform script";

/// The error for `sleep`.
const NO_SLEEP: &str = "`sleep` is not available in scripts: a script must not wait";

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn register(engine: &mut Engine, env: &ScriptEnv) {
    engine.register_fn("drop", |reason: &str| -> RhaiResult<()> {
        Err(request_drop(reason))
    });
    engine.register_fn("drop", || -> RhaiResult<()> {
        Err(request_drop(DEFAULT_DROP_REASON))
    });

    engine.register_fn("emit", |message: Dynamic| -> RhaiResult<()> {
        let payload = if let Some(buf) = message.read_lock::<MessageBuf>() {
            Payload::Hl7(buf.clone())
        } else if message.is_map() || message.is_array() {
            Payload::Json(from_dynamic(&message).map_err(|e| format!("emit: {e}"))?)
        } else {
            return Err(format!(
                "emit: the value is {}, but emit takes a message (hl7::message, msg) or a map",
                message.type_name()
            )
            .into());
        };
        record_emit(payload).map_err(Into::into)
    });

    let channel = Arc::clone(&env.channel);
    engine.register_fn("log_info", move |text: &str| {
        let (script, control_id) = run_context();
        tracing::info!(target: "ihub::script", channel = %channel, control_id = %control_id, script = %script, "{text}");
    });
    let channel = Arc::clone(&env.channel);
    engine.register_fn("log_warn", move |text: &str| {
        let (script, control_id) = run_context();
        tracing::warn!(target: "ihub::script", channel = %channel, control_id = %control_id, script = %script, "{text}");
    });

    // The standard package's `sleep` blocks the thread in one operation, where neither the
    // operation limit nor the clock check can stop it. Functions registered on the engine take
    // precedence over packages, including calls through `Fn("sleep")`.
    engine.register_fn("sleep", |_: rhai::INT| -> RhaiResult<()> {
        Err(NO_SLEEP.into())
    });
    engine.register_fn("sleep", |_: rhai::FLOAT| -> RhaiResult<()> {
        Err(NO_SLEEP.into())
    });
}
