//! What scripts may call. `scripts/README.md` is the analysts' reference for everything
//! registered here, with a runnable example per function (a test runs them all).
//!
//! # Adding a function
//! [`register`] is the one registration point: add one `engine.register_fn("name", f);` line
//! to it (or to the submodule whose topic it is). A function that needs per-channel state
//! (tables, mappings) takes it from [`ScriptEnv`], captured when the engine is built: add a
//! field to `ScriptEnv`, fill it in `ScriptEnv::load`, and capture an `Arc` of it in the
//! closure, as `lookup` does with the lookup tables.

mod flow;
mod json;
mod lookup;
mod mapping;
mod message;
mod segments;

use rhai::Engine;

use super::env::ScriptEnv;

pub(crate) use json::{from_dynamic, to_dynamic};
pub(crate) use mapping::{map_payload, maps_hl7};
pub(crate) use message::MSG;

/// Registers the whole script API on `engine`, for the channel described by `env`.
pub(crate) fn register(engine: &mut Engine, env: &ScriptEnv) {
    message::register(engine);
    segments::register(engine);
    json::register(engine);
    flow::register(engine, env);
    lookup::register(engine, env);
    mapping::register(engine, env);
}
