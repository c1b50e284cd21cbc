//! Compiling a script or a filter expression on a script thread, with its imports, and
//! placing compile errors (including failed imports) at a line and column.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rhai::{AST, EvalAltResult, Scope};

use super::ScriptLimits;
use super::run::{PANIC_MESSAGE, on_script_thread};
use super::run_state::RunGuard;
use super::sandbox::ScriptEngine;
use crate::script::api;
use crate::script::error::{ScriptError, from_eval, from_parse};

/// Whether source text is a whole script or one expression.
#[derive(Clone, Copy)]
pub(crate) enum SourceKind {
    /// Statements, functions, loops: a transform.
    Script,
    /// A single expression, no statements: a filter.
    Expression,
}

impl ScriptEngine {
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
