//! [`ScriptEngine`]: the one place a `rhai::Engine` is built, and the only code that runs one.
//!
//! rhai places no limit on operations, sizes or imports by default, and its default module
//! resolver reads files, so an engine built anywhere else would be an open door. Here every
//! limit is set, `eval` is disabled, imports resolve only `scripts/lib/` (and nothing at all
//! without a [`ScriptEnv`](crate::script::ScriptEnv)), `sleep` is replaced, output goes to
//! `tracing`, and each run gets its own wall-clock deadline.
//!
//! # The per-run deadline
//! rhai calls `on_progress` once per operation with no context but the operation count. The
//! callback is built once, with the engine, so it cannot capture a deadline: a deadline captured
//! at build time would time out every run after the first second of the engine's life. Instead
//! each run puts a `RunState` (deadline, operation count, script name, `drop` reason) in a
//! thread-local just before evaluating and takes it out afterwards; evaluation is synchronous on
//! that thread, so the callback always sees the state of the run it belongs to.
//!
//! # The stack
//! rhai recurses on the native stack for nested script values and calls, deeper than the 2 MiB
//! of an ordinary thread allows (see [`SCRIPT_THREAD_STACK_BYTES`](super::SCRIPT_THREAD_STACK_BYTES)); a stack overflow aborts the
//! whole process. So compiling and evaluating happen only on script threads with a large stack:
//! the caller's, if it was started with [`spawn_script_thread`](super::spawn_script_thread), or one started for the call.
//!
//! # Layout
//! - `sandbox`: [`ScriptLimits`] and the one constructor of [`ScriptEngine`].
//! - `compile`: compiling on a script thread; where compile and import errors are.
//! - `run`: one run of a compiled script on a message, and how it ended.
//! - `run_state`: the per-run state in a thread-local and the callbacks that use it.

mod compile;
mod run;
mod run_state;
mod sandbox;
#[cfg(test)]
mod tests;

pub(crate) use compile::SourceKind;
pub(crate) use run::{Access, Ran};
pub(crate) use run_state::{record_emit, request_drop, run_context};
pub(crate) use sandbox::MAX_VARIABLES;
pub use sandbox::{ScriptEngine, ScriptLimits};
