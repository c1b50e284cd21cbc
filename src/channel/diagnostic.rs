//! [`Diagnostic`]: one problem in a channel file, where it is, and how to fix it; and
//! [`render`], the report `ihub validate` prints and startup logs.
//!
//! The report follows rustc and Vector: one `✓`/`~`/`✗` line per file, then each problem with
//! its `--> file:line:col`, the source line with a caret under the offending text, and a
//! `help:` when we can guess the fix. Errors and warnings are kept apart, and a summary line
//! counts both, so a reader sees at once whether anything would refuse to start.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The channel cannot run as written; it is not started.
    Error,
    /// The channel runs, but probably not as its author meant (messages never delivered, a
    /// setting that has no effect).
    Warning,
}

impl Severity {
    /// `error` or `warning`, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The source line a diagnostic points into, kept with it so the report can be printed
/// without reading the file again (it may have changed since).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snippet {
    /// The whole line, without its line ending.
    pub text: String,
    /// How many characters the caret covers, from [`Diagnostic::col`]; at least 1.
    pub len: usize,
}

/// One problem in one channel file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// The file, as it was named to the loader (so the report shows the path the user typed).
    pub file: PathBuf,
    /// The 1-based line; 0 when the problem concerns the file as a whole (it cannot be read,
    /// its name is not a valid channel id).
    pub line: usize,
    /// The 1-based column in characters; 0 together with `line`.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, naming the object in quotes (`destination "lab" …`).
    pub message: String,
    /// A likely fix (`did you mean …`), when there is one.
    pub help: Option<String>,
    /// The offending line, for the caret display; `None` when `line` is 0.
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    /// A problem with the file as a whole: no position, no snippet.
    pub fn file_level(file: &Path, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            severity,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    /// A problem at byte range `span` of `text`, the contents of `file`. A span past the end
    /// (TOML reports "unexpected end of input" there) points just after the last character.
    pub fn at(
        file: &Path,
        text: &str,
        span: Range<usize>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        let (line, col, snippet) = locate(text, span);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            severity,
            message: message.into(),
            help: None,
            snippet: Some(snippet),
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Line, column (both 1-based; the column in characters, as editors count) and the snippet
/// for a byte range. Offsets that fall inside a UTF-8 sequence are moved back to its start.
fn locate(text: &str, span: Range<usize>) -> (usize, usize, Snippet) {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_text = text[line_start..line_end].trim_end_matches('\r');
    let line = text[..line_start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    // The caret covers the span but stops at the end of the line: a multi-line value is
    // marked on its first line only.
    let mut end = span.end.clamp(start, line_start + line_text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let len = text[start..end].chars().count().max(1);
    let snippet = Snippet {
        text: line_text.to_owned(),
        len,
    };
    (line, col, snippet)
}

/// The report for `files` (every channel file that was checked, in the order to print) and
/// the `diagnostics` found in them: a `✓` (clean), `~` (warnings only) or `✗` (errors) line per
/// file with its problems below, then one summary line. Diagnostics about other paths (a
/// directory that cannot be read) are printed after the files, under their own path.
pub fn render(diagnostics: &[Diagnostic], files: &[PathBuf]) -> String {
    let mut out = String::new();
    let mut paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for d in diagnostics {
        if !paths.contains(&d.file.as_path()) {
            paths.push(&d.file);
        }
    }
    let mut ok = 0;
    for (index, path) in paths.iter().enumerate() {
        let mut mine: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.file == *path).collect();
        // File-level problems first, then in reading order; ties keep the order found.
        mine.sort_by_key(|d| (d.line, d.col));
        let mark = if mine.iter().any(|d| d.is_error()) {
            '✗'
        } else if mine.is_empty() {
            if index < files.len() {
                ok += 1;
            }
            '✓'
        } else {
            '~'
        };
        let _ = writeln!(out, "{mark} {}", path.display());
        for d in mine {
            render_one(&mut out, d);
        }
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let n = files.len();
    let _ = write!(out, "{n} channel {}: {ok} ok", plural(n, "file", "files"));
    if ok == n && errors + warnings == 0 {
        out.push_str(".\n");
    } else {
        let _ = writeln!(
            out,
            ", {} with {errors} {} and {warnings} {}.",
            n - ok,
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings"),
        );
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// One diagnostic, indented under its file line, rustc style:
///
/// ```text
///   error: unknown key `retry_count`, expected one of `attempts`, …
///     --> channels/lab.toml:21:11
///      |
///   21 | retry = { retry_count = 5 }
///      |           ^^^^^^^^^^^
///      = help: did you mean `attempts`?
/// ```
fn render_one(out: &mut String, d: &Diagnostic) {
    let _ = writeln!(out, "  {}: {}", d.severity.as_str(), d.message);
    let number = d.line.to_string();
    let gutter = " ".repeat(number.len());
    if d.line == 0 {
        let _ = writeln!(out, "  {gutter}--> {}", d.file.display());
    } else {
        let _ = writeln!(
            out,
            "  {gutter}--> {}:{}:{}",
            d.file.display(),
            d.line,
            d.col
        );
    }
    if let Some(snippet) = &d.snippet {
        // Pad the caret with the same whitespace characters as the source line, so a tab
        // before the offending text lines up the way the terminal shows it.
        let pad: String = snippet
            .text
            .chars()
            .take(d.col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "  {gutter} |");
        let _ = writeln!(out, "  {number} | {}", snippet.text);
        let _ = writeln!(out, "  {gutter} | {pad}{}", "^".repeat(snippet.len));
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  {gutter} = help: {help}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a = 1\n[source]\nlisten = \"x\"\r\nretry = { retry_count = 5 }\n";

    #[test]
    fn locates_line_column_and_caret() {
        let start = TEXT.find("retry_count").unwrap();
        let d = Diagnostic::at(
            Path::new("c.toml"),
            TEXT,
            start..start + 11,
            Severity::Error,
            "m",
        );
        assert_eq!((d.line, d.col), (4, 11));
        let snippet = d.snippet.unwrap();
        assert_eq!(snippet.text, "retry = { retry_count = 5 }");
        assert_eq!(snippet.len, 11);
    }

    #[test]
    fn strips_carriage_returns_and_clamps_to_the_line() {
        let start = TEXT.find("\"x\"").unwrap();
        let d = Diagnostic::at(
            Path::new("c.toml"),
            TEXT,
            start..TEXT.len(),
            Severity::Error,
            "m",
        );
        assert_eq!((d.line, d.col), (3, 10));
        let snippet = d.snippet.unwrap();
        assert_eq!(snippet.text, "listen = \"x\"");
        assert_eq!(snippet.len, 3);
    }

    #[test]
    fn end_of_input_points_after_the_last_character() {
        let text = "[source";
        let d = Diagnostic::at(Path::new("c.toml"), text, 7..7, Severity::Error, "m");
        assert_eq!((d.line, d.col), (1, 8));
        assert_eq!(d.snippet.unwrap().len, 1);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "description = \"Über\" x";
        let start = text.find('x').unwrap();
        let d = Diagnostic::at(
            Path::new("c.toml"),
            text,
            start..start + 1,
            Severity::Error,
            "m",
        );
        assert_eq!(d.col, 22);
        // An offset inside a multi-byte character does not panic.
        let inside = text.find('Ü').unwrap() + 1;
        let d = Diagnostic::at(
            Path::new("c.toml"),
            text,
            inside..inside,
            Severity::Error,
            "m",
        );
        assert_eq!(d.col, 16);
    }

    #[test]
    fn renders_marks_problems_and_summary() {
        let a = PathBuf::from("channels/a.toml");
        let b = PathBuf::from("channels/b.toml");
        let c = PathBuf::from("channels/c.toml");
        let start = TEXT.find("retry_count").unwrap();
        let diagnostics = vec![
            Diagnostic::at(&b, TEXT, start..start + 11, Severity::Error, "unknown key")
                .with_help("did you mean `attempts`?"),
            Diagnostic::file_level(&b, Severity::Error, "bad name"),
            Diagnostic::file_level(&c, Severity::Warning, "no destinations"),
        ];
        let report = render(&diagnostics, &[a, b, c]);
        assert_eq!(
            report,
            "✓ channels/a.toml\n\
             ✗ channels/b.toml\n\
             \x20 error: bad name\n\
             \x20  --> channels/b.toml\n\
             \x20 error: unknown key\n\
             \x20  --> channels/b.toml:4:11\n\
             \x20   |\n\
             \x20 4 | retry = { retry_count = 5 }\n\
             \x20   |           ^^^^^^^^^^^\n\
             \x20   = help: did you mean `attempts`?\n\
             ~ channels/c.toml\n\
             \x20 warning: no destinations\n\
             \x20  --> channels/c.toml\n\
             3 channel files: 1 ok, 2 with 2 errors and 1 warning.\n"
        );
    }

    #[test]
    fn clean_summary_is_short() {
        let report = render(&[], &[PathBuf::from("x.toml")]);
        assert_eq!(report, "✓ x.toml\n1 channel file: 1 ok.\n");
        assert_eq!(render(&[], &[]), "0 channel files: 0 ok.\n");
    }

    #[test]
    fn diagnostics_for_other_paths_are_shown_but_not_counted_as_files() {
        let d = Diagnostic::file_level(Path::new("nowhere"), Severity::Error, "cannot read");
        let report = render(&[d], &[]);
        assert!(report.starts_with("✗ nowhere\n  error: cannot read\n"));
        assert!(report.ends_with("0 channel files: 0 ok, 0 with 1 error and 0 warnings.\n"));
    }

    #[test]
    fn tabs_keep_the_caret_aligned() {
        let text = "\tlisten = 5";
        let d = Diagnostic::at(Path::new("c.toml"), text, 10..11, Severity::Error, "m");
        let mut out = String::new();
        render_one(&mut out, &d);
        assert!(
            out.contains("  1 | \tlisten = 5\n    | \t         ^\n"),
            "{out}"
        );
    }
}
