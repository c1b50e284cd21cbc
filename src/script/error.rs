//! [`ScriptError`]: what can go wrong compiling or running a script, in words an analyst can act
//! on. rhai's own error types stop here (style rule 7): they are converted once, in this file.

use std::path::PathBuf;
use std::time::Duration;

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

use super::engine::{MAX_VARIABLES, ScriptLimits};

/// The name used in errors for a filter, which has no file of its own.
pub const FILTER_NAME: &str = "filter expression";

/// A script that did not compile, did not finish, or finished with an unusable result.
///
/// Every variant names the script (its file path, or [`FILTER_NAME`]); compile and runtime
/// errors carry the 1-based line and column where rhai stopped (0 when rhai gave none).
/// Messages come from the script's own text and rhai's description of the problem, never from
/// the message being processed, except for what a script itself passes to `throw`.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The script file could not be read.
    #[error("cannot read script {}: {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The script is not valid Rhai, or uses something the sandbox does not offer.
    #[error("{}", located(file, *line, *col, message))]
    Compile {
        /// The script file, or [`FILTER_NAME`].
        file: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        col: usize,
        /// A plain sentence saying what is wrong.
        message: String,
    },
    /// The script stopped with an error while it ran.
    #[error("{}", located(file, *line, *col, message))]
    Runtime {
        /// The script file, or [`FILTER_NAME`].
        file: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        col: usize,
        /// A plain sentence saying what went wrong.
        message: String,
    },
    /// The script ran longer than its wall-clock budget and was stopped.
    #[error("{file}: the script ran longer than its time limit of {limit:?} and was stopped")]
    Timeout {
        /// The script file, or [`FILTER_NAME`].
        file: String,
        /// The budget it exceeded ([`ScriptLimits::timeout`](super::ScriptLimits::timeout)).
        limit: Duration,
    },
    /// The script ran more operations than allowed (usually an endless loop) and was stopped.
    #[error(
        "{file}: the script ran more than {limit} operations (an endless loop?) and was stopped"
    )]
    TooManyOperations {
        /// The script file, or [`FILTER_NAME`].
        file: String,
        /// The limit it exceeded (`ScriptLimits::max_operations`).
        limit: u64,
    },
    /// A lookup table (`scripts/lookups/*.csv`) is malformed.
    #[error("{}:{line}: {message}", file.display())]
    Lookup {
        /// The CSV file.
        file: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A filter expression returned something other than `true` or `false`.
    #[error("{file}: the expression returned {found}, not true or false")]
    NotBool {
        /// The script file, or [`FILTER_NAME`].
        file: String,
        /// The Rhai type name of what it returned (the value itself may be patient data).
        found: String,
    },
}

/// `file:line:col: message`, leaving out what is unknown.
fn located(file: &str, line: usize, col: usize, message: &str) -> String {
    match (line, col) {
        (0, _) => format!("{file}: {message}"),
        (l, 0) => format!("{file}:{l}: {message}"),
        (l, c) => format!("{file}:{l}:{c}: {message}"),
    }
}

/// Line and column of a rhai position, 0 for unknown.
fn line_col(pos: Position) -> (usize, usize) {
    (pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

/// Converts a rhai compile error.
pub(crate) fn from_parse(file: &str, err: ParseError) -> ScriptError {
    let ParseError(kind, pos) = err;
    let (line, col) = line_col(pos);
    ScriptError::Compile {
        file: file.to_string(),
        line,
        col,
        message: parse_message(&kind),
    }
}

/// A plain sentence for the compile errors analysts meet most; rhai's wording for the rest.
fn parse_message(kind: &ParseErrorType) -> String {
    match kind {
        ParseErrorType::VariableUndefined(name) => {
            format!(
                "the variable `{name}` is not defined; declare it with `let {name} = ...;` first"
            )
        }
        ParseErrorType::Reserved(word) => format!(
            "`{word}` is not available in scripts (the sandbox disables it, or Rhai reserves the word)"
        ),
        ParseErrorType::ExprTooDeep => {
            "the expression is nested too deeply for the sandbox; split it into smaller steps"
                .to_string()
        }
        ParseErrorType::ModuleUndefined(name) => {
            format!(
                "the module `{name}` is not defined; import it first: `import \"lib/{name}\" as {name};`"
            )
        }
        other => lower_first(&other.to_string()),
    }
}

/// Converts a rhai runtime error that was not a timeout or a `drop` (the engine checks those
/// first, from the run's own state).
pub(crate) fn from_eval(file: &str, err: EvalAltResult, limits: &ScriptLimits) -> ScriptError {
    // Errors raised inside a script function or closure arrive wrapped, once per call level.
    // The innermost error says what happened and where; the functions say how it got there.
    // An error inside an imported module (while it loads, or in one of its functions) is
    // located in the module's file: the innermost source named is the file reported.
    let mut err = err;
    let mut outer_pos = Position::NONE;
    let mut functions = Vec::new();
    let mut file = file.to_string();
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, pos) => {
                if !pos.is_none() && outer_pos.is_none() {
                    outer_pos = pos;
                }
                if !source.is_empty() && source != file {
                    file = source;
                    outer_pos = Position::NONE;
                }
                functions.push(name);
                err = *inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                if outer_pos.is_none() {
                    outer_pos = pos;
                }
                // The module resolver names the module by its file.
                if module.ends_with(".rhai") {
                    file = module;
                    outer_pos = Position::NONE;
                }
                err = *inner;
            }
            other => {
                err = other;
                break;
            }
        }
    }
    if let EvalAltResult::ErrorParsing(kind, pos) = err {
        return from_parse(&file, ParseError(Box::new(kind), pos));
    }
    if let EvalAltResult::ErrorTooManyOperations(_) = err {
        return ScriptError::TooManyOperations {
            file,
            limit: limits.max_operations,
        };
    }
    let pos = match err.position() {
        p if p.is_none() => outer_pos,
        p => p,
    };
    let (line, col) = line_col(pos);
    let mut message = eval_message(err, limits);
    // Innermost call first: "in function `b`, called from function `a`".
    for (i, name) in functions.iter().rev().enumerate() {
        let what = if name.starts_with("anon$") {
            "a closure".to_string()
        } else {
            format!("function `{name}`")
        };
        message.push_str(if i == 0 { " (in " } else { ", called from " });
        message.push_str(&what);
    }
    if !functions.is_empty() {
        message.push(')');
    }
    ScriptError::Runtime {
        file,
        line,
        col,
        message,
    }
}

/// A plain sentence for one (unwrapped) rhai runtime error.
fn eval_message(mut err: EvalAltResult, limits: &ScriptLimits) -> String {
    match &err {
        EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "function calls are nested deeper than the limit of {} (endless recursion?)",
            limits.max_call_depth
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Length of string") => {
            format!(
                "a string grew past the limit of {} bytes",
                limits.max_string_bytes
            )
        }
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Size of array") => format!(
            "an array grew past the limit of {} elements",
            limits.max_array_len
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) if what.starts_with("Size of object map") => {
            format!(
                "an object map grew past the limit of {} entries",
                limits.max_map_len
            )
        }
        EvalAltResult::ErrorTooManyVariables(_) => format!(
            "the script declares more than {} variables at once",
            MAX_VARIABLES
        ),
        EvalAltResult::ErrorTooManyModules(_) | EvalAltResult::ErrorModuleNotFound(..) => {
            "scripts cannot import modules".to_string()
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("there is no function `{signature}` (check its name and argument types)")
        }
        EvalAltResult::ErrorVariableNotFound(name, _) if name == "msg" => {
            "functions do not see `msg`: call the function as a method, `msg.my_function()`, and use `this` inside it".to_string()
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => format!(
            "the variable `{name}` is not defined (functions see only their parameters and `this`)"
        ),
        EvalAltResult::ErrorVariableExists(name, _) => format!(
            "`let {name}` would hide the existing variable `{name}`; choose another name"
        ),
        EvalAltResult::ErrorNonPureMethodCallOnConstant(name, _) => format!(
            "`{name}` would change a value that cannot be changed here (a filter cannot change `msg`)"
        ),
        _ => {
            // rhai's own wording, without the "(line l, position c)" it appends: the position
            // is reported separately.
            let _ = err.take_position();
            lower_first(&err.to_string())
        }
    }
}

/// rhai's messages start with a capital; after `file:line:col: ` ours do not.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "the script is not valid Rhai".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_leave_out_what_is_unknown() {
        assert_eq!(located("a.rhai", 3, 7, "bad"), "a.rhai:3:7: bad");
        assert_eq!(located("a.rhai", 3, 0, "bad"), "a.rhai:3: bad");
        assert_eq!(located("a.rhai", 0, 7, "bad"), "a.rhai: bad");
    }
}
