//! The script side of a channel file: `[limits]`, `[filter]`, `[transform]` and each
//! destination's `transform`. Scripts are compiled here by the same engine, with the same
//! limits, lookup tables and import folder, as at run time, so whatever passes here also
//! compiles when the channel starts.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::config::{ChannelConfig, LIMIT_MAXIMA, TransformConfig};
use super::diagnostic::{Diagnostic, Severity};
use super::load::FileCx;
use super::spec::ChannelId;
use super::suggest::did_you_mean;
use super::validate::existing_file;
use crate::script::{
    Filter, LOOKUPS_DIR, SCRIPTS_DIR, ScriptEngine, ScriptEnv, ScriptError, ScriptLimits, Transform,
};

/// A checked `[transform]` or destination `transform`: the files it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CheckedTransform {
    /// The script, present and compiling.
    pub script: Option<PathBuf>,
    /// The mapping file, present.
    pub mapping: Option<PathBuf>,
}

/// The sandbox limits: the script engine's defaults, with what `[limits]` sets; values above
/// a key's maximum are errors.
pub(crate) fn limits(cx: &mut FileCx<'_>, config: &ChannelConfig) -> ScriptLimits {
    let raw = config.limits.clone().unwrap_or_default();
    let base = ScriptLimits::default();
    let fields = [
        &raw.max_operations,
        &raw.timeout_ms,
        &raw.max_string_bytes,
        &raw.max_array_len,
        &raw.max_map_len,
        &raw.max_call_depth,
    ];
    for (value, (key, max)) in fields.iter().zip(LIMIT_MAXIMA) {
        if let Some(v) = value
            && v.get_ref().get() > *max
        {
            cx.error_help(
                v.span(),
                format!("`{key}` is {}, more than the maximum {max}", v.get_ref()),
                "limits protect the engine from a runaway script; keep them near the defaults",
            );
        }
    }
    let get = |v: &Option<Spanned<std::num::NonZeroU64>>| v.as_ref().map(|n| n.get_ref().get());
    let size = |v: &Option<Spanned<std::num::NonZeroU64>>, default: usize| {
        get(v).map_or(default, to_usize)
    };
    ScriptLimits {
        max_operations: get(&raw.max_operations).unwrap_or(base.max_operations),
        timeout: get(&raw.timeout_ms).map_or(base.timeout, Duration::from_millis),
        max_string_bytes: size(&raw.max_string_bytes, base.max_string_bytes),
        max_array_len: size(&raw.max_array_len, base.max_array_len),
        max_map_len: size(&raw.max_map_len, base.max_map_len),
        max_call_depth: size(&raw.max_call_depth, base.max_call_depth),
    }
}

/// Sizes are read as `u64`; on a 32-bit target a larger value means "as much as possible".
pub(crate) fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The channel's script engine, when it has any script: built with its lookup tables (read
/// now; a malformed table is an error of this channel) and `scripts/lib/` for imports.
pub(crate) fn engine(
    cx: &mut FileCx<'_>,
    config: &ChannelConfig,
    id: Option<&ChannelId>,
    limits: &ScriptLimits,
) -> Option<Arc<ScriptEngine>> {
    let destination_scripts = config
        .destination
        .iter()
        .any(|d| d.get_ref().common.transform.is_some());
    if config.filter.is_none() && config.transform.is_none() && !destination_scripts {
        return None;
    }
    let channel = id.map_or("", ChannelId::as_str);
    let env = match ScriptEnv::load(channel, Path::new(SCRIPTS_DIR)) {
        Ok(env) => env,
        Err(error) => {
            cx.push(
                Diagnostic::file_level(cx.file, Severity::Error, format!("lookup table {error}"))
                    .with_help("each table is a CSV file whose first row is `code,value`"),
            );
            // Scripts are still checked, without tables.
            ScriptEnv {
                channel: channel.into(),
                scripts_dir: Some(PathBuf::from(SCRIPTS_DIR)),
                ..ScriptEnv::default()
            }
        }
    };
    Some(Arc::new(ScriptEngine::with_env(limits.clone(), env)))
}

/// `[transform]` or a destination's `transform = { .. }`: at least one of `script` and
/// `mapping`; the script exists and compiles, the mapping exists. `at` is the table's span,
/// when it has one, for "neither key" errors.
pub(crate) fn transform(
    cx: &mut FileCx<'_>,
    config: &TransformConfig,
    at: Option<Range<usize>>,
    label: &str,
    engine: &Arc<ScriptEngine>,
) -> Option<CheckedTransform> {
    if config.script.is_none() && config.mapping.is_none() {
        // A misspelt key was reported and cut out already: that is the problem to fix.
        let reported = at.as_ref().is_some_and(|span| {
            let line = cx.at(span.clone(), Severity::Error, "").line;
            cx.diagnostics
                .iter()
                .any(|d| d.is_error() && d.line == line)
        });
        if reported {
            return None;
        }
        let message = format!("{label} needs `script`, `mapping`, or both");
        let help = "e.g. script = \"scripts/normalize.rhai\"";
        match at {
            Some(span) => cx.error_help(span, message, help),
            None => {
                cx.push(Diagnostic::file_level(cx.file, Severity::Error, message).with_help(help))
            }
        }
        return None;
    }
    let script_path = config.script.as_ref().map(|s| script(cx, s, engine));
    let mapping = config.mapping.as_ref().map(|m| {
        let path = existing_file(cx, m, "mapping")?;
        mapping_file(cx, m, &path, engine)?;
        Some(path)
    });
    // A key that was given but failed fails the whole transform.
    Some(CheckedTransform {
        script: script_path.map_or(Some(None), |p| p.map(Some))?,
        mapping: mapping.map_or(Some(None), |p| p.map(Some))?,
    })
}

/// Builds the mapping file at `path` (named by `key`) as the channel would at start, and
/// reports each of its problems (`file:line:col: …`) at the key. `None` if it has any.
fn mapping_file(
    cx: &mut FileCx<'_>,
    key: &Spanned<String>,
    path: &Path,
    engine: &Arc<ScriptEngine>,
) -> Option<()> {
    match super::stage::ChannelMapping::load(path, &engine.env().lookups) {
        Ok(_) => Some(()),
        Err(problems) => {
            for problem in problems.lines().filter(|l| !l.trim().is_empty()) {
                cx.error(key.span(), format!("mapping {problem}"));
            }
            None
        }
    }
}

/// Every `lookup("table", ..)` in script text with a literal table name: (line, column,
/// table), 1-based. Names computed at run time are checked when the script runs.
fn lookup_references(source: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(at) = rest.find("lookup(") {
            let before = rest[..at].chars().next_back();
            let after = rest[at + "lookup(".len()..].trim_start();
            let is_call = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if is_call
                && let Some(quoted) = after.strip_prefix('"')
                && let Some(end) = quoted.find('"')
            {
                let col = line[..offset + at].chars().count() + 1;
                found.push((i + 1, col, quoted[..end].to_string()));
            }
            offset += at + "lookup(".len();
            rest = &rest[at + "lookup(".len()..];
        }
    }
    found
}

/// The hint for an unknown table: a near name, or the tables there are.
fn unknown_table_help(engine: &ScriptEngine, table: &str, location: &str) -> String {
    let names = engine.env().lookups.names();
    let hint = match did_you_mean(table, &names) {
        Some(hit) => format!("did you mean `{hit}`?"),
        None if names.is_empty() => {
            format!("add {SCRIPTS_DIR}/{LOOKUPS_DIR}/{table}.csv with a `code,value` header")
        }
        None => format!("the tables are {}", names.join(", ")),
    };
    if location.is_empty() {
        hint
    } else {
        format!("{location} ({hint})")
    }
}

/// `[filter] accept`: not empty, and an expression the script engine compiles.
pub(crate) fn filter(
    cx: &mut FileCx<'_>,
    accept: &Spanned<String>,
    engine: &Arc<ScriptEngine>,
) -> Option<String> {
    let text = accept.get_ref();
    if text.trim().is_empty() {
        cx.error_help(
            accept.span(),
            "`accept` is empty",
            "remove [filter] to accept every message",
        );
        return None;
    }
    match Filter::compile(engine, text) {
        Ok(_) => {
            let mut ok = true;
            for (line, col, table) in lookup_references(text) {
                if engine.env().lookups.table(&table).is_none() {
                    ok = false;
                    let span = inner_span(cx.text, accept.span(), text, line, col)
                        .unwrap_or_else(|| accept.span());
                    let d = cx.at(
                        span,
                        Severity::Error,
                        format!("the filter looks up the table `{table}`, which is not in {SCRIPTS_DIR}/{LOOKUPS_DIR}/"),
                    );
                    cx.push(d.with_help(unknown_table_help(engine, &table, "")));
                }
            }
            ok.then(|| text.clone())
        }
        Err(ScriptError::Compile {
            line, col, message, ..
        }) => {
            let span = inner_span(cx.text, accept.span(), text, line, col)
                .unwrap_or_else(|| accept.span());
            cx.error(span, format!("invalid filter expression: {message}"));
            None
        }
        Err(other) => {
            cx.error(accept.span(), format!("invalid filter expression: {other}"));
            None
        }
    }
}

/// The byte range in the channel file of script position `line`:`col` (1-based; 0 when
/// unknown) inside the TOML string value at `value_span`, whose decoded text is `decoded`.
/// `None` when the string uses escapes, so that decoded and written offsets differ, or the
/// position is unknown.
fn inner_span(
    text: &str,
    value_span: Range<usize>,
    decoded: &str,
    line: usize,
    col: usize,
) -> Option<Range<usize>> {
    if line == 0 {
        return None;
    }
    let raw = text.get(value_span.clone())?;
    let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        3
    } else {
        1
    };
    let mut start = value_span.start + quote;
    let mut inner = raw.get(quote..raw.len().checked_sub(quote)?)?;
    // A newline right after opening triple quotes is not part of the value.
    if quote == 3 {
        for newline in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(newline) {
                inner = rest;
                start += newline.len();
                break;
            }
        }
    }
    if inner != decoded {
        return None;
    }
    let line_start: usize = decoded
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = decoded.get(line_start..)?;
    let offset = rest
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    let at = start + line_start + offset;
    Some(at..at + 1)
}

/// `[transform] script`: the file exists and the script engine compiles it.
fn script(
    cx: &mut FileCx<'_>,
    script: &Spanned<String>,
    engine: &Arc<ScriptEngine>,
) -> Option<PathBuf> {
    let path = existing_file(cx, script, "script")?;
    match Transform::from_file(engine, &path) {
        Ok(_) => {
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            let mut ok = true;
            for (line, col, table) in lookup_references(&source) {
                if engine.env().lookups.table(&table).is_none() {
                    ok = false;
                    let text = source.lines().nth(line - 1).unwrap_or("").trim();
                    let shown = path.display();
                    let d = cx.at(
                        script.span(),
                        Severity::Error,
                        format!("script {shown} looks up the table `{table}`, which is not in {SCRIPTS_DIR}/{LOOKUPS_DIR}/"),
                    );
                    cx.push(d.with_help(unknown_table_help(
                        engine,
                        &table,
                        &format!("at {shown}:{line}:{col}: {text}"),
                    )));
                }
            }
            ok.then_some(path)
        }
        Err(ScriptError::Compile {
            file,
            line,
            col,
            message,
        }) => {
            let d = cx.at(
                script.span(),
                Severity::Error,
                format!("script {} does not compile: {message}", path.display()),
            );
            // The line of the script itself, so the fix is visible without opening it.
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            let help = match (line, source.lines().nth(line.saturating_sub(1))) {
                (0, _) | (_, None) => format!("in {file}"),
                (_, Some(text)) => format!("at {file}:{line}:{col}: {}", text.trim()),
            };
            cx.push(d.with_help(help));
            None
        }
        Err(other) => {
            cx.error(script.span(), other.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lookup_tables_are_found_with_positions() {
        let source = "let a = lookup(\"gender\", x);\n  let b = lookup( \"race\", y, \"display\") ?? \"\";\nmy_lookup(\"no\"); lookup(name, 1);";
        assert_eq!(
            lookup_references(source),
            vec![(1, 9, "gender".to_string()), (2, 11, "race".to_string())]
        );
    }
}
