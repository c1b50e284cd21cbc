//! Checking one channel file's text: the file context that collects diagnostics
//! ([`FileCx`]), the channel id from the file name, TOML syntax, then the tables and the
//! rules of `validate`.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::files::CHANNEL_SUFFIX;
use super::read_tables::read_config;
use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::spec::{ChannelId, ChannelSpec};
use crate::channel::validate;
use crate::channel::validate_destination;

/// One file after its own checks, with what the cross-file checks need.
pub(crate) struct Checked {
    /// The file as named.
    pub file: PathBuf,
    /// The channel id, when the file name is a valid one.
    pub id: Option<ChannelId>,
    /// The built channel, when the file itself had no error.
    pub spec: Option<ChannelSpec>,
    /// Everything found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the channel would start (`enabled`, default true).
    pub enabled: bool,
    /// The parsed listen address and where it is written.
    pub listen: Option<Site<SocketAddr>>,
    /// The polled folder of a file source and where it is written.
    pub polled: Option<Site<PathBuf>>,
}

/// A value and the place it was written, as a diagnostic without a message yet, so that a
/// later check can report on it with the snippet already cut.
#[derive(Debug, Clone)]
pub(crate) struct Site<T> {
    /// The value.
    pub value: T,
    /// Where it is written.
    pub at: Diagnostic,
}

/// Checks the contents `text` of channel file `path`: syntax, keys and types, then the
/// rules of [`validate`].
pub(crate) fn check_text(path: &Path, text: &str) -> Checked {
    // Windows editors may start the file with a byte-order mark; it is not TOML.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cx = FileCx::new(path, text);
    let id = channel_id(&mut cx);
    let parsed = DeTable::parse(text);
    let root = match parsed {
        Ok(root) => root,
        Err(error) => {
            // After a syntax error the rest of the file cannot be read reliably (an unclosed
            // string swallows the lines after it), so this file reports only that; the other
            // files are still checked.
            let span = error.span().unwrap_or(0..0);
            let message = format!("invalid TOML: {}", error.message().trim_end());
            let diagnostic = cx.at(span, Severity::Error, message);
            cx.push(diagnostic);
            return Checked {
                file: path.to_path_buf(),
                id,
                spec: None,
                diagnostics: cx.diagnostics,
                enabled: false,
                listen: None,
                polled: None,
            };
        }
    };
    let (config, seen) = read_config(&mut cx, root);
    let built = validate::build(&mut cx, id.clone(), config, seen);
    Checked {
        file: path.to_path_buf(),
        id,
        spec: built.spec,
        diagnostics: cx.diagnostics,
        enabled: built.enabled,
        listen: built.listen,
        polled: built.polled,
    }
}

/// The channel id from the file stem, or an error diagnostic.
fn channel_id(cx: &mut FileCx<'_>) -> Option<ChannelId> {
    let name = cx.file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.strip_suffix(CHANNEL_SUFFIX).unwrap_or(name);
    match ChannelId::new(stem) {
        Ok(id) => Some(id),
        Err(_) => {
            let slug = validate_destination::slug(stem);
            let mut d = Diagnostic::file_level(
                cx.file,
                Severity::Error,
                format!(
                    "channel id `{stem}` (the file name) may only contain a-z, 0-9, `_` and `-`"
                ),
            );
            if !slug.is_empty() {
                d = d.with_help(format!("rename the file to {slug}{CHANNEL_SUFFIX}"));
            }
            cx.push(d);
            None
        }
    }
}

/// What the reader saw besides the config, so validation can tell "absent" from "present
/// but unreadable" (and not report a missing `[source]` that is merely broken).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    /// A `source` key exists.
    pub source: bool,
    /// How many `[[destination]]` entries exist, readable or not.
    pub destinations: usize,
}

/// The file being checked: its name, its text, and the diagnostics found so far.
pub(crate) struct FileCx<'a> {
    /// The file as named.
    pub file: &'a Path,
    /// Its contents.
    pub text: &'a str,
    /// What was found.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> FileCx<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        FileCx {
            file,
            text,
            diagnostics: Vec::new(),
        }
    }

    /// A diagnostic at `span` of this file.
    pub(crate) fn at(
        &self,
        span: Range<usize>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::at(self.file, self.text, span, severity, message)
    }

    /// Records a diagnostic.
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Records an error at `span`.
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.at(span, Severity::Error, message);
        self.push(d);
    }

    /// Records an error at `span` with a hint.
    pub(crate) fn error_help(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = self.at(span, Severity::Error, message).with_help(help);
        self.push(d);
    }

    /// Records a warning at `span`.
    pub(crate) fn warning(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.at(span, Severity::Warning, message);
        self.push(d);
    }
}
