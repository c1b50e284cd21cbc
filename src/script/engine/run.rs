//! Running a compiled script on one message: `msg` into the scope, evaluation on a script
//! thread under the run's budgets, and how the run ended ([`Ran`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rhai::{AST, Dynamic, Scope};

use super::run_state::{RunGuard, RunState, Stop};
use super::sandbox::ScriptEngine;
use crate::script::api;
use crate::script::error::{ScriptError, from_eval};
use crate::script::payload::Payload;
use crate::script::threads::run_on_script_thread;

/// How a run ended when it did not fail, with the messages it emitted.
pub(crate) enum Ran {
    /// The script finished; its value.
    Finished(Dynamic, Vec<Payload>),
    /// The script called `drop(reason)`.
    Dropped(String, Vec<Payload>),
}

impl ScriptEngine {
    /// Runs a compiled script on `msg` under this engine's limits and a fresh wall-clock
    /// budget, then hands the outcome and the final scope (`msg` first) to `finish`.
    ///
    /// Evaluation and `finish` run on a script thread: `finish` turns what the script left into
    /// plain data there, so that no deeply nested script value is cloned, compared or dropped
    /// on a thread with an ordinary stack.
    ///
    /// `msg` is made into the script value on the script thread (a JSON document becomes a
    /// map there). `control_id` tags the run's log lines; a transform may `emit` messages, a
    /// filter may not.
    pub(crate) fn run<T, F>(
        self: &Arc<Self>,
        name: &Arc<str>,
        ast: &Arc<AST>,
        msg: Payload,
        access: Access,
        control_id: String,
        finish: F,
    ) -> Result<T, ScriptError>
    where
        T: Send + 'static,
        F: FnOnce(Ran, Scope<'static>) -> Result<T, ScriptError> + Send + 'static,
    {
        let (this, script, ast) = (Arc::clone(self), Arc::clone(name), Arc::clone(ast));
        on_script_thread(name, move || {
            let msg = match msg {
                Payload::Hl7(buf) => Dynamic::from(buf),
                Payload::Json(value) => api::to_dynamic(&value),
            };
            let mut scope = Scope::new();
            let may_emit = match access {
                Access::ReadOnly => {
                    scope.push_constant_dynamic(api::MSG, msg);
                    false
                }
                Access::ReadWrite => {
                    scope.push_dynamic(api::MSG, msg);
                    true
                }
            };
            let state = this.run_state(&script, control_id, may_emit);
            let ran = this.eval(&script, &ast, &mut scope, state)?;
            finish(ran, scope)
        })
    }
    /// Evaluates `ast` with `scope` on the current thread, with the run's state installed.
    fn eval(
        &self,
        name: &str,
        ast: &AST,
        scope: &mut Scope,
        state: RunState,
    ) -> Result<Ran, ScriptError> {
        let guard = RunGuard::enter(state);
        // rhai returns errors rather than panicking, but a panic inside it must not take the
        // worker down with it: the engine and the AST are only read, so nothing is left broken.
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.engine.eval_ast_with_scope::<Dynamic>(scope, ast)
        }));
        let state = guard.finish();
        // The run's own state decides first: a script may catch the error raised for a limit
        // or a `drop` (errors from closures arrive wrapped in a catchable one), but it cannot
        // clear what the state recorded.
        match state.stop {
            Some(Stop::Time) => {
                return Err(ScriptError::Timeout {
                    file: name.to_string(),
                    limit: self.limits.timeout,
                });
            }
            Some(Stop::Operations) => {
                return Err(ScriptError::TooManyOperations {
                    file: name.to_string(),
                    limit: self.limits.max_operations,
                });
            }
            None => {}
        }
        if let Some(reason) = state.dropped {
            return Ok(Ran::Dropped(reason, state.emitted));
        }
        match result {
            Ok(Ok(value)) => Ok(Ran::Finished(value, state.emitted)),
            Ok(Err(err)) => Err(from_eval(name, *err, &self.limits)),
            Err(_) => Err(failure(name, PANIC_MESSAGE.to_string())),
        }
    }
}

/// [`run_on_script_thread`] for the engine's own calls: failures become a [`ScriptError`]
/// naming the script, and a panic (a bug in rhai or here) does not cross into the caller.
pub(super) fn on_script_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T, ScriptError> + Send + 'static,
) -> Result<T, ScriptError> {
    let caught = move || catch_unwind(AssertUnwindSafe(f));
    match run_on_script_thread(caught) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Err(failure(name, PANIC_MESSAGE.to_string())),
        Err(e) => Err(failure(
            name,
            format!("could not run the script on a script thread: {e}"),
        )),
    }
}

/// An error that is not about a place in the script.
fn failure(name: &str, message: String) -> ScriptError {
    ScriptError::Runtime {
        file: name.to_string(),
        line: 0,
        col: 0,
        message,
    }
}

/// Whether a script sees `msg` read-only (a filter) or may change it (a transform).
#[derive(Clone, Copy)]
pub(crate) enum Access {
    /// `msg` is a constant: methods that change it fail.
    ReadOnly,
    /// `msg` is a variable.
    ReadWrite,
}

/// The error text when rhai itself panicked.
pub(super) const PANIC_MESSAGE: &str =
    "the script engine failed unexpectedly (a bug in the engine, not necessarily the script)";
