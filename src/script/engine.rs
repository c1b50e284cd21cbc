//! [`ScriptEngine`]: the one place a `rhai::Engine` is built, and the only code that runs one.
//!
//! rhai places no limit on operations, sizes or imports by default, and its default module
//! resolver reads files, so an engine built anywhere else would be an open door. Here every
//! limit is set, `eval` is disabled, imports resolve only `scripts/lib/` (and nothing at all
//! without a [`ScriptEnv`]), `sleep` is replaced, output goes to `tracing`, and each run gets its
//! own wall-clock deadline.
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

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{AST, Dynamic, Engine, EvalAltResult, Position, Scope};

use super::api;
use super::env::ScriptEnv;
use super::error::{ScriptError, from_eval, from_parse};
use super::modules::LibResolver;
use super::payload::Payload;
use super::threads::run_on_script_thread;

/// At most this many variables may be alive at once in a script (rhai `set_max_variables`).
pub(crate) const MAX_VARIABLES: usize = 1024;
/// At most this many functions may be defined in one script (rhai `set_max_functions`).
const MAX_FUNCTIONS: usize = 256;
/// Nesting limits of expressions at top level and inside functions (rhai `set_max_expr_depths`).
/// The parser and evaluator recurse once per level, so these bound native stack use too; the
/// values are rhai's release defaults.
const MAX_EXPR_DEPTH: usize = 64;
const MAX_FUNCTION_EXPR_DEPTH: usize = 32;
/// The clock is read every this many operations: often enough that one slice of operations is
/// far below any sensible budget, rarely enough that reading it costs nothing measurable.
const CLOCK_EVERY_OPS: u64 = 64;
/// At most this many modules may be imported by one run (rhai `set_max_modules`), counting
/// the imports of imported modules.
const MAX_MODULES: usize = 64;
/// At most this many messages one run may `emit`.
pub(crate) const MAX_EMITTED: usize = 10_000;

/// The sandbox limits of every script run by one [`ScriptEngine`].
///
/// The operation and time budgets bound CPU; only the size limits bound memory. A value of 0 is
/// raised to 1, because rhai reads 0 as "no limit" and a sandbox always has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Operations one run may execute (rhai counts roughly one per expression or statement).
    /// Default 1,000,000: a typical transform uses a few thousand.
    pub max_operations: u64,
    /// Wall-clock budget of one run. Default 1 s.
    pub timeout: Duration,
    /// Longest string a script may build, in bytes. Default 1 MiB.
    pub max_string_bytes: usize,
    /// Most elements in one array, counting nested arrays' elements too. Default 100,000.
    pub max_array_len: usize,
    /// Most entries in one object map, counting nested maps' entries too. Default 100,000.
    pub max_map_len: usize,
    /// Deepest nesting of script function calls (recursion). Default 64.
    pub max_call_depth: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 1_000_000,
            timeout: Duration::from_secs(1),
            max_string_bytes: 1024 * 1024,
            max_array_len: 100_000,
            max_map_len: 100_000,
            max_call_depth: 64,
        }
    }
}

/// The hardened Rhai engine that compiles and runs every filter and transform.
///
/// Build one per process (or per set of limits) and share it through `Arc`: it is `Send + Sync`
/// and holds no per-run state. A run blocks its caller until the script ends, which may take
/// the whole time budget, so callers run scripts on `tokio::task::spawn_blocking` or a dedicated
/// thread (best: one from [`spawn_script_thread`](super::spawn_script_thread)), never on a reactor thread.
pub struct ScriptEngine {
    engine: Engine,
    limits: ScriptLimits,
    env: ScriptEnv,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// How a run ended when it did not fail, with the messages it emitted.
pub(crate) enum Ran {
    /// The script finished; its value.
    Finished(Dynamic, Vec<Payload>),
    /// The script called `drop(reason)`.
    Dropped(String, Vec<Payload>),
}

/// Whether source text is a whole script or one expression.
#[derive(Clone, Copy)]
pub(crate) enum SourceKind {
    /// Statements, functions, loops: a transform.
    Script,
    /// A single expression, no statements: a filter.
    Expression,
}

impl ScriptEngine {
    /// Builds the sandboxed engine with `limits` and the API scripts see (`msg`, `drop`; see
    /// `scripts/README.md`), without a channel: no lookup tables, no imports.
    pub fn new(limits: ScriptLimits) -> Self {
        Self::with_env(limits, ScriptEnv::default())
    }

    /// Builds the engine of one channel: [`ScriptEngine::new`] plus the channel's lookup
    /// tables, imports from its `scripts/lib/`, and its name on log lines.
    pub fn with_env(limits: ScriptLimits, env: ScriptEnv) -> Self {
        let limits = ScriptLimits {
            max_operations: limits.max_operations.max(1),
            max_string_bytes: limits.max_string_bytes.max(1),
            max_array_len: limits.max_array_len.max(1),
            max_map_len: limits.max_map_len.max(1),
            max_call_depth: limits.max_call_depth.max(1),
            timeout: limits.timeout,
        };
        // `Engine::new` brings the standard packages (strings, arrays, maps, math, time) and a
        // file module resolver and stdout printing, both replaced below.
        let mut engine = Engine::new();
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_depth)
            .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FUNCTION_EXPR_DEPTH)
            .set_max_string_size(limits.max_string_bytes)
            .set_max_array_size(limits.max_array_len)
            .set_max_map_size(limits.max_map_len)
            .set_max_variables(MAX_VARIABLES)
            .set_max_functions(MAX_FUNCTIONS)
            // `eval` would compile text at run time, outside the checks done at load time.
            .disable_symbol("eval")
            // Every variable must be declared; `msg` is declared by the host.
            .set_strict_variables(true)
            // `let msg = ...` would hide the message from the rest of the script.
            .set_allow_shadowing(false)
            .on_print(|text| {
                with_run(|state| {
                    tracing::debug!(target: "ihub::script", script = %state.script, "{text}");
                });
            })
            .on_debug(|text, _source, pos| {
                with_run(|state| {
                    tracing::debug!(
                        target: "ihub::script",
                        script = %state.script,
                        line = pos.line().unwrap_or(0),
                        "{text}"
                    );
                });
            })
            .on_progress(|_| on_progress().then(|| Dynamic::from(Stopped)));
        match &env.scripts_dir {
            // Imports read `scripts/lib/` and nothing else.
            Some(dir) => {
                engine
                    .set_max_modules(MAX_MODULES)
                    .set_module_resolver(LibResolver::new(dir.clone()));
            }
            // No modules at all: the resolver finds nothing and no import is allowed.
            None => {
                engine
                    .set_max_modules(0)
                    .set_module_resolver(DummyModuleResolver::new());
            }
        }
        api::register(&mut engine, &env);
        ScriptEngine {
            engine,
            limits,
            env,
        }
    }

    /// The channel context this engine was built with.
    pub fn env(&self) -> &ScriptEnv {
        &self.env
    }

    /// The limits this engine enforces (after raising zeros to 1).
    pub fn limits(&self) -> &ScriptLimits {
        &self.limits
    }

    /// Compiles `source`, named `name` in errors and logs. `msg` is the one variable a script
    /// may use without declaring it. The parser and optimizer recurse too, so this also runs on
    /// a script thread.
    pub(crate) fn compile(
        self: &Arc<Self>,
        name: &str,
        source: &str,
        kind: SourceKind,
    ) -> Result<AST, ScriptError> {
        let this = Arc::clone(self);
        let (name, source) = (name.to_string(), source.to_string());
        on_script_thread(&name.clone(), move || {
            // With strict variables the compiler must know the host's variables. A placeholder
            // value is enough, and it must not be a constant, or the optimizer would inline it.
            let mut scope = Scope::new();
            scope.push(api::MSG, ());
            // A script's imports are compiled and initialised now, into the AST, so each
            // module runs once (under the same budgets as a run) rather than on every message.
            let guard = RunGuard::enter(this.run_state(&name, String::new(), false));
            let compiled = catch_unwind(AssertUnwindSafe(|| match kind {
                SourceKind::Script => this
                    .engine
                    .compile_into_self_contained(&scope, &source)
                    .map_err(|e| Compiled::Eval(*e)),
                SourceKind::Expression => this
                    .engine
                    .compile_expression_with_scope(&scope, &source)
                    .map_err(Compiled::Parse),
            }));
            let state = guard.finish();
            if state.stop.is_some() {
                return Err(ScriptError::Compile {
                    file: name,
                    line: 0,
                    col: 0,
                    message: "an imported module ran past the script limits while it was loaded"
                        .to_string(),
                });
            }
            let mut ast = match compiled {
                Ok(Ok(ast)) => ast,
                Ok(Err(Compiled::Parse(err))) => return Err(from_parse(&name, err)),
                Ok(Err(Compiled::Eval(EvalAltResult::ErrorParsing(kind, pos)))) => {
                    return Err(from_parse(&name, rhai::ParseError(Box::new(kind), pos)));
                }
                Ok(Err(Compiled::Eval(err))) => {
                    return Err(import_error(&name, &source, err, &this.limits));
                }
                Err(_) => {
                    return Err(ScriptError::Compile {
                        file: name,
                        line: 0,
                        col: 0,
                        message: PANIC_MESSAGE.to_string(),
                    });
                }
            };
            ast.set_source(name);
            Ok(ast)
        })
    }

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

    /// A fresh state for one run of `name` under this engine's budgets.
    fn run_state(&self, name: &str, control_id: String, may_emit: bool) -> RunState {
        RunState {
            script: name.to_string(),
            // A budget too large to add to the clock means no deadline.
            deadline: Instant::now().checked_add(self.limits.timeout),
            max_operations: self.limits.max_operations,
            operations: 0,
            stop: None,
            dropped: None,
            control_id,
            may_emit,
            emitted: Vec::new(),
        }
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

/// [`run_on_script_thread`](super::run_on_script_thread) for the engine's own calls: failures become a [`ScriptError`]
/// naming the script, and a panic (a bug in rhai or here) does not cross into the caller.
fn on_script_thread<T: Send + 'static>(
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
const PANIC_MESSAGE: &str =
    "the script engine failed unexpectedly (a bug in the engine, not necessarily the script)";

/// The termination token `on_progress` raises when a budget is spent. Scripts cannot name or
/// create it; it only marks the error.
#[derive(Clone, Copy)]
struct Stopped;

/// Which budget a run exhausted.
#[derive(Clone, Copy)]
enum Stop {
    /// The wall-clock budget.
    Time,
    /// The operation budget.
    Operations,
}

/// The token returned (inside `ErrorTerminated`) by `drop(reason)`; the reason itself is kept in
/// the [`RunState`], where a script cannot catch and discard it.
#[derive(Clone, Copy)]
struct Dropped;

/// What one run carries alongside rhai's own state.
struct RunState {
    /// The script's name, for log lines.
    script: String,
    /// When the run's time is up; `None` for a budget beyond the clock's range.
    deadline: Option<Instant>,
    /// The operation budget, counted here as well as by rhai: rhai runs closures passed to
    /// `map`, `filter` and the like with a copy of its counter, so a script that catches the
    /// error from inside a closure starts the next one under budget again. This count covers
    /// every operation of the run.
    max_operations: u64,
    /// Operations so far.
    operations: u64,
    /// Set once a budget is spent; from then on every operation is refused.
    stop: Option<Stop>,
    /// The reason given to the first `drop` call.
    dropped: Option<String>,
    /// MSH-10 of the message, for log lines.
    control_id: String,
    /// Whether `emit` is allowed (in a transform, not a filter).
    may_emit: bool,
    /// What `emit` produced so far.
    emitted: Vec<Payload>,
}

thread_local! {
    /// The state of the run on this thread, if one is in progress.
    static RUN: RefCell<Option<RunState>> = const { RefCell::new(None) };
}

/// Runs `f` on the current run's state, if there is one (and it is not already borrowed, which
/// cannot happen as callbacks do not nest; not panicking is the point).
fn with_run<R>(f: impl FnOnce(&mut RunState) -> R) -> Option<R> {
    RUN.with(|run| {
        let mut run = run.try_borrow_mut().ok()?;
        run.as_mut().map(f)
    })
}

/// The `on_progress` check, once per operation: true when the run must stop.
fn on_progress() -> bool {
    with_run(|state| {
        if state.stop.is_some() {
            // Sticky: once a budget is spent every operation fails, so a script that catches
            // the error gets no further than the next operation outside its `try`.
            return true;
        }
        state.operations += 1;
        if state.operations > state.max_operations {
            state.stop = Some(Stop::Operations);
        } else if state.operations % CLOCK_EVERY_OPS == 0
            && let Some(deadline) = state.deadline
            && Instant::now() >= deadline
        {
            state.stop = Some(Stop::Time);
        }
        state.stop.is_some()
    })
    .unwrap_or(false)
}

/// Records a `drop(reason)` for the current run and returns the error that stops it.
pub(crate) fn request_drop(reason: &str) -> Box<EvalAltResult> {
    with_run(|state| {
        if state.dropped.is_none() {
            state.dropped = Some(reason.to_string());
        }
    });
    Box::new(EvalAltResult::ErrorTerminated(
        Dynamic::from(Dropped),
        Position::NONE,
    ))
}

/// Records a message given to `emit` for the current run.
pub(crate) fn record_emit(payload: Payload) -> Result<(), String> {
    with_run(|state| {
        if !state.may_emit {
            return Err("emit is not available here: only a transform may emit messages".into());
        }
        if state.emitted.len() >= MAX_EMITTED {
            return Err(format!(
                "emit: one run may emit at most {MAX_EMITTED} messages"
            ));
        }
        state.emitted.push(payload);
        Ok(())
    })
    .unwrap_or_else(|| Err("emit is not available here".into()))
}

/// The current run's script name and control id, for log lines.
pub(crate) fn run_context() -> (String, String) {
    with_run(|state| (state.script.clone(), state.control_id.clone())).unwrap_or_default()
}

/// What compiling a script or an expression failed with.
enum Compiled {
    /// A syntax error in the text itself.
    Parse(rhai::ParseError),
    /// An import that could not be resolved or initialised.
    Eval(EvalAltResult),
}

/// An error from resolving a script's imports, located at its `import` line when rhai gave no
/// position (it resolves imports after parsing, without one).
fn import_error(
    name: &str,
    source: &str,
    err: EvalAltResult,
    limits: &ScriptLimits,
) -> ScriptError {
    let error = from_eval(name, err, limits);
    match error {
        ScriptError::Runtime {
            file,
            line: 0,
            col: 0,
            message,
        } if file == name => {
            // The `import` of the path the message names, or else the first `import`.
            let imports: Vec<(usize, usize, &str)> = source
                .lines()
                .enumerate()
                .filter_map(|(i, text)| {
                    let at = text.find("import")?;
                    Some((i + 1, at + 1, text[at..].split('"').nth(1)?))
                })
                .collect();
            let (line, col) = imports
                .iter()
                .find(|(_, _, path)| message.contains(path))
                .or(imports.first())
                .map_or((0, 0), |(line, col, _)| (*line, *col));
            ScriptError::Compile {
                file,
                line,
                col,
                message,
            }
        }
        ScriptError::Runtime {
            file,
            line,
            col,
            message,
        } => ScriptError::Compile {
            file,
            line,
            col,
            message,
        },
        other => other,
    }
}

/// Installs a run's state for the current thread and restores the previous one when dropped,
/// also when the run unwinds.
struct RunGuard {
    previous: Option<RunState>,
}

impl RunGuard {
    fn enter(state: RunState) -> Self {
        let previous = RUN.with(|run| run.replace(Some(state)));
        RunGuard { previous }
    }

    /// Takes the run's final state (and restores the previous one).
    fn finish(self) -> RunState {
        let state = RUN.with(|run| run.borrow_mut().take());
        drop(self);
        state.unwrap_or(RunState {
            script: String::new(),
            deadline: None,
            max_operations: 0,
            operations: 0,
            stop: None,
            dropped: None,
            control_id: String::new(),
            may_emit: false,
            emitted: Vec::new(),
        })
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        RUN.with(|run| {
            if let Ok(mut run) = run.try_borrow_mut() {
                *run = previous;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::hl7::MessageBuf;
    use crate::script::threads::{ON_SCRIPT_THREAD, spawn_script_thread};
    use crate::script::{Filter, Transform, TransformOutcome};

    fn msg() -> MessageBuf {
        MessageBuf::parse(b"MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101||ADT^A01|C1|P|2.5\rPID|1||123")
            .unwrap()
    }

    fn run(limits: ScriptLimits, source: &str) -> Result<TransformOutcome, ScriptError> {
        let engine = Arc::new(ScriptEngine::new(limits));
        Transform::from_source(&engine, "t.rhai", source)?.apply(&mut msg())
    }

    /// The message of a runtime error, or a panic saying what came instead.
    fn runtime_message(result: Result<TransformOutcome, ScriptError>) -> (usize, usize, String) {
        match result {
            Err(ScriptError::Runtime {
                file,
                line,
                col,
                message,
            }) => {
                assert_eq!(file, "t.rhai");
                (line, col, message)
            }
            other => panic!("expected a runtime error, got {other:?}"),
        }
    }

    fn unlimited_ops(timeout: Duration) -> ScriptLimits {
        ScriptLimits {
            max_operations: u64::MAX,
            timeout,
            ..ScriptLimits::default()
        }
    }

    #[test]
    fn an_endless_loop_is_stopped_by_the_operation_limit() {
        match run(ScriptLimits::default(), "loop {}") {
            Err(ScriptError::TooManyOperations { file, limit }) => {
                assert_eq!(file, "t.rhai");
                assert_eq!(limit, 1_000_000);
            }
            other => panic!("expected TooManyOperations, got {other:?}"),
        }
    }

    #[test]
    fn a_loop_under_the_operation_limit_is_stopped_by_the_clock() {
        let budget = Duration::from_millis(200);
        let started = Instant::now();
        let result = run(unlimited_ops(budget), "let i = 0; loop { i += 1; }");
        let took = started.elapsed();
        match result {
            Err(ScriptError::Timeout { file, limit }) => {
                assert_eq!(file, "t.rhai");
                assert_eq!(limit, budget);
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert!(took >= budget, "stopped early, after {took:?}");
        assert!(took < budget * 2, "stopped late, after {took:?}");
    }

    #[test]
    fn the_deadline_belongs_to_the_run_not_to_the_engine() {
        let engine = Arc::new(ScriptEngine::new(unlimited_ops(Duration::from_millis(100))));
        let quick =
            Transform::from_source(&engine, "quick.rhai", r#"msg.set("MSH-4", "X");"#).unwrap();
        let endless = Transform::from_source(&engine, "endless.rhai", "loop {}").unwrap();
        // Older than its budget: a deadline taken at build time would fail this run.
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(quick.apply(&mut msg()).unwrap(), TransformOutcome::Continue);
        assert!(matches!(
            endless.apply(&mut msg()),
            Err(ScriptError::Timeout { .. })
        ));
        // A timed-out run leaves nothing behind for the next one, on this thread or another.
        assert_eq!(quick.apply(&mut msg()).unwrap(), TransformOutcome::Continue);
        spawn_script_thread("t", move || {
            assert!(matches!(
                endless.apply(&mut msg()),
                Err(ScriptError::Timeout { .. })
            ));
            quick.apply(&mut msg()).unwrap()
        })
        .unwrap()
        .join()
        .map(|outcome| assert_eq!(outcome, TransformOutcome::Continue))
        .unwrap();
    }

    #[test]
    fn a_script_cannot_catch_its_timeout() {
        // Errors from inside a closure arrive wrapped in a catchable error.
        let source = "loop { try { [1].map(|x| { loop {} }) } catch {} }";
        assert!(matches!(
            run(unlimited_ops(Duration::from_millis(100)), source),
            Err(ScriptError::Timeout { .. })
        ));
        let r = run(ScriptLimits::default(), source);
        assert!(
            matches!(r, Err(ScriptError::TooManyOperations { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn sleep_is_refused_not_waited_for() {
        let started = Instant::now();
        for source in [
            "sleep(5);",
            "sleep(5.0);",
            r#"Fn("sleep").call(5);"#,
            r#"call(Fn("sleep"), 5);"#,
        ] {
            let (line, _, message) = runtime_message(run(ScriptLimits::default(), source));
            assert_eq!(line, 1, "{source}");
            assert!(
                message.contains("`sleep` is not available"),
                "{source}: {message}"
            );
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn deep_recursion_is_stopped() {
        let (line, col, message) = runtime_message(run(
            ScriptLimits::default(),
            "fn down(n) {\n  down(n + 1)\n}\ndown(0);",
        ));
        assert!(
            message.contains("nested deeper than the limit of 64"),
            "{message}"
        );
        // rhai reports a stack overflow at the outermost call.
        assert_eq!((line, col), (4, 1), "{message}");
    }

    #[test]
    fn recursion_up_to_the_limit_fits_on_the_stack() {
        // 45 KB per level in a debug build: more than an ordinary 2 MiB thread holds.
        let engine = Arc::new(ScriptEngine::new(ScriptLimits::default()));
        let source = r#"fn depth(n) { if n == 0 { 0 } else { 1 + depth(n - 1) } } msg.set("PID-9", depth(62));"#;
        let mut m = msg();
        Transform::from_source(&engine, "t.rhai", source)
            .unwrap()
            .apply(&mut m)
            .unwrap();
        assert_eq!(m.get("PID-9").unwrap().text(), "62");
    }

    #[test]
    fn deeply_nested_values_do_not_overflow_the_stack() {
        // Comparing and printing 1,500 nested maps takes more than 8 MiB of stack in a debug
        // build; on the 2 MiB of this test thread it would abort the whole process.
        let source = "let a = 1; for i in 0..1500 { a = #{ x: take(a) }; }
                      let b = [1]; for i in 0..1500 { b = [take(b)]; }
                      let same = a == a && b == b;
                      let text = a.to_string() + b.to_string();
                      msg.set(\"PID-9\", same);";
        let engine = Arc::new(ScriptEngine::new(unlimited_ops(Duration::from_secs(60))));
        let mut m = msg();
        let outcome = Transform::from_source(&engine, "t.rhai", source)
            .unwrap()
            .apply(&mut m)
            .unwrap();
        assert_eq!(outcome, TransformOutcome::Continue);
        assert_eq!(m.get("PID-9").unwrap().text(), "true");
    }

    #[test]
    fn string_doubling_is_stopped() {
        let (_, _, message) = runtime_message(run(
            ScriptLimits::default(),
            r#"let s = "x"; loop { s += s; }"#,
        ));
        assert_eq!(message, "a string grew past the limit of 1048576 bytes");
    }

    #[test]
    fn array_and_map_growth_is_stopped() {
        // `m = m + one` copies the map on every turn; on a loaded machine a debug build needs
        // more than the default second for that, and the clock is not what is tested here.
        let small = ScriptLimits {
            max_array_len: 1000,
            max_map_len: 1000,
            timeout: Duration::from_secs(20),
            ..ScriptLimits::default()
        };
        let (_, _, message) =
            runtime_message(run(small.clone(), "let a = []; loop { a.push(1); }"));
        assert_eq!(message, "an array grew past the limit of 1000 elements");
        for growth in ["m += one;", "m.mixin(one);", "m = m + one;"] {
            let source = format!(
                "let m = #{{}}; let i = 0; loop {{ let one = #{{}}; one[`k${{i}}`] = i; {growth} i += 1; }}"
            );
            let (_, _, message) = runtime_message(run(small.clone(), &source));
            assert_eq!(
                message, "an object map grew past the limit of 1000 entries",
                "{growth}"
            );
        }
        // rhai 1.27 checks only the value in `m[key] = value`, not the entries of `m`: such
        // growth is bounded by the operation and time budgets alone.
        let r = run(
            ScriptLimits {
                max_operations: 100_000,
                ..small
            },
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        );
        assert!(
            matches!(r, Err(ScriptError::TooManyOperations { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn imports_are_refused_without_a_scripts_folder() {
        match run(
            ScriptLimits::default(),
            "let x = 1;\nimport \"/etc/passwd\" as secrets;",
        ) {
            Err(ScriptError::Compile { line, message, .. }) => {
                assert_eq!(line, 2);
                assert_eq!(message, "scripts cannot import modules");
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn eval_is_refused_when_compiling() {
        match run(ScriptLimits::default(), "let x = 1;\nlet y = eval(\"x\");") {
            Err(ScriptError::Compile {
                line, col, message, ..
            }) => {
                assert_eq!((line, col), (2, 9));
                assert!(message.contains("eval"), "{message}");
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn deep_expression_nesting_is_a_compile_error() {
        let source = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        match run(ScriptLimits::default(), &source) {
            Err(ScriptError::Compile { message, .. }) => {
                assert!(message.contains("nested too deeply"), "{message}");
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn zero_limits_are_raised_to_one() {
        let engine = ScriptEngine::new(ScriptLimits {
            max_operations: 0,
            max_string_bytes: 0,
            max_array_len: 0,
            max_map_len: 0,
            max_call_depth: 0,
            timeout: Duration::from_secs(1),
        });
        let limits = engine.limits();
        assert_eq!(
            [
                limits.max_operations as usize,
                limits.max_string_bytes,
                limits.max_array_len,
                limits.max_map_len,
                limits.max_call_depth
            ],
            [1; 5]
        );
        let engine = Arc::new(engine);
        let t = Transform::from_source(&engine, "t.rhai", "loop {}").unwrap();
        assert!(matches!(
            t.apply(&mut msg()),
            Err(ScriptError::TooManyOperations { limit: 1, .. })
        ));
    }

    #[test]
    fn print_and_debug_do_not_reach_stdout_or_fail() {
        let source = r#"print(msg); debug(msg); print("done"); debug(msg.to_debug());"#;
        assert_eq!(
            run(ScriptLimits::default(), source).unwrap(),
            TransformOutcome::Continue
        );
    }

    #[test]
    fn each_thread_gets_one_companion_script_thread() {
        let caller = std::thread::current().id();
        let (first, marked) =
            run_on_script_thread(|| (std::thread::current().id(), ON_SCRIPT_THREAD.get())).unwrap();
        let second = run_on_script_thread(|| std::thread::current().id()).unwrap();
        assert!(marked);
        assert_ne!(first, caller);
        assert_eq!(first, second);
        // On a script thread, calls run in place.
        let in_place = spawn_script_thread("t", || {
            let me = std::thread::current().id();
            run_on_script_thread(move || std::thread::current().id() == me).unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
        assert!(in_place);
    }

    #[test]
    fn a_panic_on_the_script_thread_reaches_the_caller_and_spares_the_companion() {
        let caught = std::panic::catch_unwind(|| run_on_script_thread(|| panic!("on purpose")));
        assert!(caught.is_err());
        assert_eq!(run_on_script_thread(|| 7).unwrap(), 7);
    }

    #[test]
    fn engine_and_scripts_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<ScriptEngine>();
        shared::<Arc<ScriptEngine>>();
        shared::<Filter>();
        shared::<Transform>();
    }
}
