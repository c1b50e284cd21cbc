//! The state of the run in progress on this thread (deadline, operation count, `drop`
//! reason, emitted messages), kept in a thread-local for rhai's context-free callbacks, and
//! the callbacks that read it: `on_progress`, `drop`, `emit`, log context.

use std::cell::RefCell;
use std::time::Instant;

use rhai::{Dynamic, EvalAltResult, Position};

use super::sandbox::ScriptEngine;
use crate::script::payload::Payload;

/// The clock is read every this many operations: often enough that one slice of operations is
/// far below any sensible budget, rarely enough that reading it costs nothing measurable.
const CLOCK_EVERY_OPS: u64 = 64;
/// At most this many messages one run may `emit`.
pub(crate) const MAX_EMITTED: usize = 10_000;

impl ScriptEngine {
    /// A fresh state for one run of `name` under this engine's budgets.
    pub(super) fn run_state(&self, name: &str, control_id: String, may_emit: bool) -> RunState {
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
}

/// The termination token `on_progress` raises when a budget is spent. Scripts cannot name or
/// create it; it only marks the error.
#[derive(Clone, Copy)]
pub(super) struct Stopped;

/// Which budget a run exhausted.
#[derive(Clone, Copy)]
pub(super) enum Stop {
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
pub(super) struct RunState {
    /// The script's name, for log lines.
    pub(super) script: String,
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
    pub(super) stop: Option<Stop>,
    /// The reason given to the first `drop` call.
    pub(super) dropped: Option<String>,
    /// MSH-10 of the message, for log lines.
    control_id: String,
    /// Whether `emit` is allowed (in a transform, not a filter).
    may_emit: bool,
    /// What `emit` produced so far.
    pub(super) emitted: Vec<Payload>,
}

thread_local! {
    /// The state of the run on this thread, if one is in progress.
    static RUN: RefCell<Option<RunState>> = const { RefCell::new(None) };
}

/// Runs `f` on the current run's state, if there is one (and it is not already borrowed, which
/// cannot happen as callbacks do not nest; not panicking is the point).
pub(super) fn with_run<R>(f: impl FnOnce(&mut RunState) -> R) -> Option<R> {
    RUN.with(|run| {
        let mut run = run.try_borrow_mut().ok()?;
        run.as_mut().map(f)
    })
}

/// The `on_progress` check, once per operation: true when the run must stop.
pub(super) fn on_progress() -> bool {
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

/// Installs a run's state for the current thread and restores the previous one when dropped,
/// also when the run unwinds.
pub(super) struct RunGuard {
    previous: Option<RunState>,
}

impl RunGuard {
    pub(super) fn enter(state: RunState) -> Self {
        let previous = RUN.with(|run| run.replace(Some(state)));
        RunGuard { previous }
    }

    /// Takes the run's final state (and restores the previous one).
    pub(super) fn finish(self) -> RunState {
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
