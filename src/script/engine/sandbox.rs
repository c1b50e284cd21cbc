//! Building the engine: [`ScriptLimits`], the rhai limits that bound every run, and the one
//! constructor that sets them, disables `eval`, routes output to `tracing` and picks the
//! module resolver.

use std::time::Duration;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine};

use super::run_state::{Stopped, on_progress, with_run};
use crate::script::api;
use crate::script::env::ScriptEnv;
use crate::script::modules::LibResolver;

/// At most this many variables may be alive at once in a script (rhai `set_max_variables`).
pub(crate) const MAX_VARIABLES: usize = 1024;
/// At most this many functions may be defined in one script (rhai `set_max_functions`).
const MAX_FUNCTIONS: usize = 256;
/// Nesting limits of expressions at top level and inside functions (rhai `set_max_expr_depths`).
/// The parser and evaluator recurse once per level, so these bound native stack use too; the
/// values are rhai's release defaults.
const MAX_EXPR_DEPTH: usize = 64;
const MAX_FUNCTION_EXPR_DEPTH: usize = 32;
/// At most this many modules may be imported by one run (rhai `set_max_modules`), counting
/// the imports of imported modules.
const MAX_MODULES: usize = 64;

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
/// thread (best: one from [`spawn_script_thread`](crate::script::spawn_script_thread)), never on a reactor thread.
pub struct ScriptEngine {
    pub(super) engine: Engine,
    pub(super) limits: ScriptLimits,
    pub(super) env: ScriptEnv,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
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
}
