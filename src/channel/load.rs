//! Reading channel files: which files are channels, TOML into [`ChannelConfig`] with every
//! problem reported, and the checks that span several files (ports, ids, polled folders).
//!
//! serde stops at the first error it meets, but an analyst wants every mistake of every file
//! at once. So the document is first parsed into toml's spanned tree ([`DeTable`]), each
//! table is deserialized on its own, and when serde fails inside a table the offending entry
//! (found by the error's byte span) is taken out and the table is read again. Each round
//! reports one problem; the loop ends when the table reads cleanly or the problem cannot be
//! cut out (a missing key). All positions come from the tree, so every diagnostic has a
//! line, a column and a caret.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::config::{
    ChannelConfig, DestinationCommonConfig, DestinationConfig, DestinationKindConfig,
    DurabilityMode, FhirAuthConfig, FhirDestinationConfig, FileDestinationConfig, FileSourceConfig,
    HttpDestinationConfig, HttpSourceConfig, MllpDestinationConfig, MllpSourceConfig, SourceConfig,
    TOP_LEVEL_KEYS,
};
use super::diagnostic::{Diagnostic, Severity};
use super::spec::{ChannelId, ChannelSpec};
use super::suggest::did_you_mean;
use super::validate;
use super::validate_destination;

/// Channel files end in this; `<name>.test.toml` beside them are channel tests.
const CHANNEL_SUFFIX: &str = ".toml";
/// Channel test files (for `ihub test`), skipped when loading channels.
const TEST_SUFFIX: &str = ".test.toml";

/// The keys of a `[[destination]]` that every `type` has; the rest belong to the type.
/// A unit test checks this against [`DestinationCommonConfig`].
pub(crate) const DESTINATION_COMMON_KEYS: &[&str] =
    &["name", "retry", "ordered", "send_original", "transform"];

/// The channels directory could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the channels directory {}: {source}", dir.display())]
pub struct ChannelDirError {
    /// The directory as named.
    pub dir: PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

impl ChannelDirError {
    /// The same problem as a diagnostic on the directory, for the report.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::file_level(
            &self.dir,
            Severity::Error,
            format!("cannot read the channels directory: {}", self.source),
        )
    }
}

/// The channel files in `dir`: every `*.toml` except `*.test.toml`, sorted by name (which
/// is the channel id order). Subdirectories are not searched.
pub fn channel_files(dir: &Path) -> Result<Vec<PathBuf>, ChannelDirError> {
    let fail = |source| ChannelDirError {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(fail)?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fail)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(CHANNEL_SUFFIX) || name.ends_with(TEST_SUFFIX) {
            continue;
        }
        // A directory named `x.toml` is not a channel; following symlinks is intended.
        if entry.path().is_file() {
            files.push(dir.join(name));
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every channel in `dir` (see [`channel_files`]), sorted by id. Returns the channels
/// that have no errors, and every diagnostic (errors and warnings) of every file. This is
/// what startup and `ihub validate` run.
pub fn load_channels(dir: &Path) -> (Vec<ChannelSpec>, Vec<Diagnostic>) {
    match channel_files(dir) {
        Ok(files) => load_channel_files(&files),
        Err(error) => (Vec::new(), vec![error.to_diagnostic()]),
    }
}

/// Loads the given channel files as one set: each file is checked on its own, then across
/// the set (two channels on one port, one id twice, one folder polled twice). A channel
/// with any error, its own or shared, is left out of the result. Specs come sorted by id;
/// diagnostics in the order of `files`, each file's in reading order.
pub fn load_channel_files(files: &[PathBuf]) -> (Vec<ChannelSpec>, Vec<Diagnostic>) {
    let mut checked: Vec<Checked> = Vec::new();
    // The same file named twice (`channels/a.toml`, `./channels/a.toml`) is checked once,
    // rather than reported as two channels with one id.
    let mut seen: Vec<PathBuf> = Vec::new();
    for file in files {
        let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        checked.push(check_file(file));
    }
    cross_check(&mut checked);
    let mut specs = Vec::new();
    let mut diagnostics = Vec::new();
    for c in checked {
        let mut mine = c.diagnostics;
        mine.sort_by_key(|d| (d.line, d.col));
        if let Some(spec) = c.spec
            && !mine.iter().any(Diagnostic::is_error)
        {
            specs.push(spec);
        }
        diagnostics.extend(mine);
    }
    specs.sort_by(|a, b| a.id.cmp(&b.id));
    (specs, diagnostics)
}

/// Loads one channel file on its own (no cross-file checks; a reload checks those with
/// [`load_channels`]). `Err` holds every diagnostic when there is at least one error;
/// warnings of a good file are in [`ChannelSpec::warnings`].
pub fn load_channel_file(path: &Path) -> Result<ChannelSpec, Vec<Diagnostic>> {
    let checked = check_file(path);
    let mut diagnostics = checked.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.col));
    match checked.spec {
        Some(spec) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(spec),
        _ => Err(diagnostics),
    }
}

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

/// Reads and checks one file.
fn check_file(path: &Path) -> Checked {
    let empty = |diagnostic: Diagnostic| Checked {
        file: path.to_path_buf(),
        id: None,
        spec: None,
        diagnostics: vec![diagnostic],
        enabled: false,
        listen: None,
        polled: None,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(TEST_SUFFIX) {
        return empty(
            Diagnostic::file_level(
                path,
                Severity::Error,
                "this is a channel test file (for `ihub test`), not a channel",
            )
            .with_help(format!(
                "validate the channel it tests: {}",
                name.trim_end_matches(TEST_SUFFIX).to_owned() + CHANNEL_SUFFIX
            )),
        );
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => check_text(path, &text),
            Err(e) => empty(Diagnostic::file_level(
                path,
                Severity::Error,
                format!(
                    "not UTF-8 text (invalid byte at offset {}); TOML files must be UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            )),
        },
        Err(e) => empty(Diagnostic::file_level(
            path,
            Severity::Error,
            format!("cannot read the file: {e}"),
        )),
    }
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

/// Reads the top-level table key by key, so a problem in one table never hides another's.
fn read_config(cx: &mut FileCx<'_>, root: Spanned<DeTable<'_>>) -> (ChannelConfig, Seen) {
    let mut config = ChannelConfig::default();
    let mut seen = Seen::default();
    for (key, value) in root.into_inner() {
        let name: &str = key.get_ref();
        let at = |label: &str| Place {
            label: label.to_owned(),
            key: Some(name.to_owned()),
            extra: &[],
        };
        match name {
            "description" => config.description = read(cx, value, &at("`description`")),
            "enabled" => config.enabled = read(cx, value, &at("`enabled`")),
            "durability" => {
                config.durability = read::<Spanned<DurabilityMode>>(cx, value, &at("`durability`"))
            }
            "flush_interval_ms" => {
                config.flush_interval_ms = read(cx, value, &at("`flush_interval_ms`"))
            }
            "duplicates" => config.duplicates = read(cx, value, &at("[duplicates]")),
            "prune" => config.prune = read(cx, value, &at("[prune]")),
            "limits" => config.limits = read(cx, value, &at("[limits]")),
            "filter" => config.filter = read(cx, value, &at("[filter]")),
            "transform" => config.transform = read(cx, value, &at("[transform]")),
            "source" => {
                seen.source = true;
                config.source = read_source(cx, value);
            }
            "destination" => {
                let span = value.span();
                match value.into_inner() {
                    DeValue::Array(items) => {
                        seen.destinations = items.len();
                        for item in items.iter() {
                            if let Some(d) = read_destination(cx, item.clone()) {
                                config.destination.push(d);
                            }
                        }
                    }
                    _ => {
                        seen.destinations = 1;
                        cx.error_help(
                            span,
                            "`destination` must be a list of tables",
                            "write each destination under its own [[destination]] header \
                             (two pairs of brackets)",
                        );
                    }
                }
            }
            _ => {
                let mut d = cx.at(
                    key.span(),
                    Severity::Error,
                    format!("unknown key `{name}`, expected {}", one_of(TOP_LEVEL_KEYS)),
                );
                if let Some(hit) = did_you_mean(name, TOP_LEVEL_KEYS) {
                    d = d.with_help(format!("did you mean `{hit}`?"));
                }
                cx.push(d);
            }
        }
    }
    (config, seen)
}

/// `[source]`: its `type`, then the matching variant.
fn read_source(cx: &mut FileCx<'_>, value: Spanned<DeValue<'_>>) -> Option<Spanned<SourceConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(cx, value, "[source]", "source", SourceConfig::TYPES)?;
    let place = Place {
        label: "[source]".to_owned(),
        key: None,
        extra: &["type"],
    };
    let source = match tag.as_str() {
        "mllp" => read::<MllpSourceConfig>(cx, rest, &place).map(SourceConfig::Mllp),
        "http" => read::<HttpSourceConfig>(cx, rest, &place).map(SourceConfig::Http),
        "file" => read::<FileSourceConfig>(cx, rest, &place).map(SourceConfig::File),
        // `take_tag` only returns names from `TYPES`; a name added there and not here lands
        // as an internal error rather than a panic.
        other => {
            cx.error(
                span.clone(),
                format!("source type `{other}` is not implemented"),
            );
            None
        }
    }?;
    Some(Spanned::new(span, source))
}

/// One `[[destination]]`: `type`, the common keys, then the variant's keys.
fn read_destination(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<Spanned<DestinationConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(
        cx,
        value,
        "[[destination]]",
        "destination",
        DestinationKindConfig::TYPES,
    )?;
    // Split the table: the common keys go to one struct, the rest to the variant, each
    // still carrying the table's span so a missing key points at the header.
    let DeValue::Table(table) = rest.into_inner() else {
        return None;
    };
    let mut common = DeTable::new();
    let mut kind = DeTable::new();
    for (k, v) in table {
        if DESTINATION_COMMON_KEYS.contains(&k.get_ref().as_ref()) {
            common.insert(k, v);
        } else {
            kind.insert(k, v);
        }
    }
    let common_place = Place {
        label: "[[destination]]".to_owned(),
        key: None,
        extra: &[],
    };
    let common: Option<DestinationCommonConfig> = read(
        cx,
        Spanned::new(span.clone(), DeValue::Table(common)),
        &common_place,
    );
    let mut extra: Vec<&'static str> = DESTINATION_COMMON_KEYS.to_vec();
    extra.push("type");
    let kind_place = Place {
        label: "[[destination]]".to_owned(),
        key: None,
        extra: &extra,
    };
    let kind_value = Spanned::new(span.clone(), DeValue::Table(kind));
    let kind = match tag.as_str() {
        "mllp" => read::<MllpDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::Mllp),
        "http" => read::<HttpDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::Http),
        "file" => read::<FileDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::File),
        "fhir" => read_fhir_destination(cx, kind_value, &kind_place),
        other => {
            cx.error(
                span.clone(),
                format!("destination type `{other}` is not implemented"),
            );
            None
        }
    };
    Some(Spanned::new(
        span,
        DestinationConfig {
            common: common?,
            kind: kind?,
        },
    ))
}

/// The keys of a `type = "fhir"` destination; `auth` is a table selected by its own `type`,
/// so it is taken out and read like `[source]`, keeping the positions inside it.
fn read_fhir_destination(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
    place: &Place<'_>,
) -> Option<DestinationKindConfig> {
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        return None;
    };
    let auth = table.remove("auth");
    let mut extra = place.extra.to_vec();
    extra.push("auth");
    let place = Place {
        label: place.label.clone(),
        key: None,
        extra: &extra,
    };
    let fhir: Option<FhirDestinationConfig> =
        read(cx, Spanned::new(span, DeValue::Table(table)), &place);
    let auth = match auth {
        Some(auth) => Some(read_fhir_auth(cx, auth)?),
        None => None,
    };
    let mut fhir = fhir?;
    fhir.auth = auth;
    Some(DestinationKindConfig::Fhir(fhir))
}

/// `auth = { type = .., .. }` of a FHIR destination.
fn read_fhir_auth(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<Spanned<FhirAuthConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(cx, value, "`auth`", "auth", FhirAuthConfig::TYPES)?;
    let place = Place {
        label: "`auth`".to_owned(),
        key: None,
        extra: &["type"],
    };
    let auth = match tag.as_str() {
        "smart" => read(cx, rest, &place).map(FhirAuthConfig::Smart),
        "bearer" => read(cx, rest, &place).map(FhirAuthConfig::Bearer),
        "basic" => read(cx, rest, &place).map(FhirAuthConfig::Basic),
        other => {
            cx.error(
                span.clone(),
                format!("auth type `{other}` is not implemented"),
            );
            None
        }
    };
    Some(Spanned::new(span, auth?))
}

/// Takes `type` out of a tagged table and checks it against `types`. Returns the type and
/// the rest of the table (with the table's span).
fn take_tag<'i>(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'i>>,
    label: &str,
    what: &str,
    types: &[&str],
) -> Option<(String, Spanned<DeValue<'i>>)> {
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        cx.error(span, format!("{label} must be a table"));
        return None;
    };
    let Some(tag) = table.remove("type") else {
        cx.error_help(
            span,
            format!("missing required key `type` in {label}"),
            format!("add `type = ` one of {}", list(types)),
        );
        return None;
    };
    let Some(name) = tag.get_ref().as_str() else {
        cx.error(
            tag.span(),
            format!(
                "invalid value for `type`: expected a string, found {}",
                tag.get_ref().type_str()
            ),
        );
        return None;
    };
    if !types.contains(&name) {
        let mut d = cx.at(
            tag.span(),
            Severity::Error,
            format!("unknown {what} type `{name}`, expected {}", one_of(types)),
        );
        if let Some(hit) = did_you_mean(name, types) {
            d = d.with_help(format!("did you mean `{hit}`?"));
        }
        cx.push(d);
        return None;
    }
    Some((name.to_owned(), Spanned::new(span, DeValue::Table(table))))
}

/// Where a value being read sits, for messages that serde's errors cannot word themselves.
struct Place<'e> {
    /// How to name the value as a whole: `[source]`, `` `durability` ``.
    label: String,
    /// The key the value is stored under, when it is a plain value (not a table).
    key: Option<String>,
    /// Keys that are valid in this table besides the struct's own (the common keys of a
    /// destination, read separately), offered in "expected one of" and `did you mean`.
    extra: &'e [&'e str],
}

/// The most rounds spent cutting problems out of one table: each round removes one entry,
/// so this only guards against a loop that would not shrink.
const MAX_ROUNDS: usize = 256;

/// Deserializes `value` into `T`, reporting every problem serde finds. Entries that serde
/// rejects (unknown keys, wrong types, values out of range) are reported and removed, and
/// the value is read again, so the next problem is found too.
///
/// Returns what could be read, without the removed entries, so that the later checks still
/// run on the rest (a bad `ack` does not hide a bad `listen`); the file has an error by then,
/// so no channel is built from it. `None` when a required key is missing.
fn read<T: DeserializeOwned>(
    cx: &mut FileCx<'_>,
    mut value: Spanned<DeValue<'_>>,
    place: &Place<'_>,
) -> Option<T> {
    let root_span = value.span();
    // Keys already removed, with the span of their table, and the keys they probably meant:
    // a later "missing field" for either is the same problem again and is not repeated
    // (`endpont` is reported once, not also as a missing `endpoint`).
    let mut removed: Vec<(Range<usize>, String)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => return Some(t),
            Err(error) => error,
        };
        let span = error.span().unwrap_or_else(|| root_span.clone());
        let problem = Problem::parse(error.message());
        let by_key = matches!(problem, Problem::UnknownField { .. });
        if let Problem::MissingField { name } = &problem {
            if removed.iter().any(|(s, k)| *s == span && k == name) {
                return None;
            }
            let within = path_to(&value, &span)
                .filter(|p| !p.is_empty())
                .map_or_else(|| place.label.clone(), |p| format!("`{}`", p.join(".")));
            let d = cx.at(
                span,
                Severity::Error,
                format!("missing required key `{name}` in {within}"),
            );
            cx.push(d);
            return None;
        }
        let found = if span == root_span {
            None
        } else {
            cut(&mut value, &span, by_key)
        };
        let key = found
            .as_ref()
            .map(|f| f.key.clone())
            .or_else(|| place.key.clone());
        let at_root = found.as_ref().is_none_or(|f| f.parent == root_span);
        let extra = if at_root { place.extra } else { &[] };
        let d = problem.diagnostic(cx, span, key.as_deref(), extra);
        let meant = d.help.as_deref().and_then(suggested_key).map(str::to_owned);
        cx.push(d);
        match found {
            Some(f) => {
                if let Some(meant) = meant {
                    removed.push((f.parent.clone(), meant));
                }
                removed.push((f.parent, f.key));
            }
            None => return None,
        }
    }
    None
}

/// The key in a `` did you mean `key`? `` hint.
fn suggested_key(help: &str) -> Option<&str> {
    help.strip_prefix("did you mean `")?.strip_suffix("`?")
}

/// An entry taken out of a table.
struct Cut {
    /// Its key.
    key: String,
    /// The span of the table it was in.
    parent: Range<usize>,
}

/// Finds, at any depth, the table entry whose key (`by_key`) or value has exactly `span`,
/// and removes it.
fn cut(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>, by_key: bool) -> Option<Cut> {
    let parent = value.span();
    match value.get_mut() {
        DeValue::Table(table) => {
            let hit = table
                .iter()
                .find(|(k, v)| {
                    if by_key {
                        k.span() == *span
                    } else {
                        v.span() == *span
                    }
                })
                .map(|(k, _)| k.get_ref().to_string());
            if let Some(key) = hit {
                table.remove(key.as_str());
                return Some(Cut { key, parent });
            }
            table
                .iter_mut()
                .filter(|(_, v)| contains(&v.span(), span))
                .find_map(|(_, v)| cut(v, span, by_key))
        }
        DeValue::Array(items) => items
            .iter_mut()
            .filter(|v| contains(&v.span(), span))
            .find_map(|v| cut(v, span, by_key)),
        _ => None,
    }
}

/// The keys leading from `value` to the table or value with exactly `span`.
fn path_to(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<Vec<String>> {
    if value.span() == *span {
        return Some(Vec::new());
    }
    match value.get_ref() {
        DeValue::Table(table) => table.iter().find_map(|(k, v)| {
            if !contains(&v.span(), span) {
                return None;
            }
            let mut path = path_to(v, span)?;
            path.insert(0, k.get_ref().to_string());
            Some(path)
        }),
        DeValue::Array(items) => items.iter().find_map(|v| {
            if contains(&v.span(), span) {
                path_to(v, span)
            } else {
                None
            }
        }),
        _ => None,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// A serde error message taken apart. serde words these the same way since 1.0
/// (`serde::de::Error::unknown_field` and friends); a unit test pins the forms, and any
/// other message is passed through as [`Problem::Other`].
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    UnknownField { name: String, expected: Vec<String> },
    UnknownVariant { name: String, expected: Vec<String> },
    MissingField { name: String },
    Invalid { found: String, expected: String },
    Other(String),
}

impl Problem {
    fn parse(message: &str) -> Problem {
        let words = backticked(message);
        if message.starts_with("unknown field `") && !words.is_empty() {
            return Problem::UnknownField {
                name: words[0].clone(),
                expected: words[1..].to_vec(),
            };
        }
        if message.starts_with("unknown variant `") && !words.is_empty() {
            return Problem::UnknownVariant {
                name: words[0].clone(),
                expected: words[1..].to_vec(),
            };
        }
        if message.starts_with("missing field `") && !words.is_empty() {
            return Problem::MissingField {
                name: words[0].clone(),
            };
        }
        let invalid = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "));
        if let Some((found, expected)) = invalid.and_then(|rest| rest.rsplit_once(", expected ")) {
            return Problem::Invalid {
                found: plain_found(found),
                expected: plain_expected(expected),
            };
        }
        Problem::Other(message.trim_end().to_owned())
    }

    /// The diagnostic for this problem at `span`; `key` is the key the offending value is
    /// stored under, `extra` more keys valid where an unknown key was found.
    fn diagnostic(
        &self,
        cx: &FileCx<'_>,
        span: Range<usize>,
        key: Option<&str>,
        extra: &[&str],
    ) -> Diagnostic {
        match self {
            Problem::UnknownField { name, expected } => {
                let mut candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
                for e in extra {
                    if !candidates.contains(e) {
                        candidates.push(e);
                    }
                }
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!("unknown key `{name}`, expected {}", one_of(&candidates)),
                );
                match did_you_mean(name, &candidates) {
                    Some(hit) => d.with_help(format!("did you mean `{hit}`?")),
                    None => d,
                }
            }
            Problem::UnknownVariant { name, expected } => {
                let candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
                let of = key.map(|k| format!(" for `{k}`")).unwrap_or_default();
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!(
                        "unknown value `{name}`{of}, expected {}",
                        one_of(&candidates)
                    ),
                );
                match did_you_mean(name, &candidates) {
                    Some(hit) => d.with_help(format!("did you mean `{hit}`?")),
                    None => d,
                }
            }
            Problem::MissingField { name } => cx.at(
                span,
                Severity::Error,
                format!("missing required key `{name}`"),
            ),
            Problem::Invalid { found, expected } => {
                let of = key.map(|k| format!(" for `{k}`")).unwrap_or_default();
                let d = cx.at(
                    span,
                    Severity::Error,
                    format!("invalid value{of}: expected {expected}, found {found}"),
                );
                if expected == "a string" && !found.starts_with("a ") {
                    d.with_help("strings are written in quotes: \"…\"")
                } else {
                    d
                }
            }
            Problem::Other(message) => cx.at(span, Severity::Error, message.clone()),
        }
    }
}

/// The `` `quoted` `` words of a message, in order.
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// serde's description of what it found, in TOML words.
fn plain_found(found: &str) -> String {
    let words = backticked(found);
    if let Some(rest) = found.strip_prefix("string ") {
        return format!("the string {rest}");
    }
    match (found.split(' ').next(), words.first()) {
        (Some("integer" | "floating" | "boolean"), Some(value)) => value.clone(),
        _ => match found {
            "map" => "a table".to_owned(),
            "sequence" => "an array".to_owned(),
            other => other.to_owned(),
        },
    }
}

/// serde's description of what it expected, in TOML words.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "u128" => "a whole number of at least 0".into(),
        "a nonzero u32" | "a nonzero u64" | "a nonzero usize" => {
            "a whole number of at least 1".into()
        }
        "a map" => "a table".into(),
        "a sequence" => "an array".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other if other.starts_with("a string") => "a string".into(),
        other => other.to_owned(),
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names {
        [] => "no keys here".to_owned(),
        [one] => format!("`{one}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        many => format!("one of {}", list(many)),
    }
}

/// `` `a`, `b`, `c` ``.
fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The checks across files: one id twice (possible when several folders are validated),
/// two enabled channels listening on the same port, one folder polled by two channels.
fn cross_check(checked: &mut [Checked]) {
    let name_of = |c: &Checked| match &c.id {
        Some(id) => format!("channel \"{id}\""),
        None => c.file.display().to_string(),
    };
    let mut extra: Vec<(usize, Diagnostic)> = Vec::new();

    let mut by_id: BTreeMap<&ChannelId, Vec<usize>> = BTreeMap::new();
    for (i, c) in checked.iter().enumerate() {
        if let Some(id) = &c.id {
            by_id.entry(id).or_default().push(i);
        }
    }
    for (id, owners) in by_id.iter().filter(|(_, o)| o.len() > 1) {
        for &i in owners {
            let others: Vec<String> = owners
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| checked[j].file.display().to_string())
                .collect();
            let d = Diagnostic::file_level(
                &checked[i].file,
                Severity::Error,
                format!("channel id `{id}` is also used by {}", others.join(", ")),
            )
            .with_help("a channel id is its file name; rename one of the files");
            extra.push((i, d));
        }
    }

    for i in 0..checked.len() {
        let Some(mine) = checked[i].listen.as_ref().filter(|_| checked[i].enabled) else {
            continue;
        };
        if mine.value.port() == 0 {
            continue;
        }
        let others: Vec<String> = (0..checked.len())
            .filter(|&j| j != i && checked[j].enabled)
            .filter(|&j| {
                checked[j]
                    .listen
                    .as_ref()
                    .is_some_and(|o| same_port(mine.value, o.value))
            })
            .map(|j| name_of(&checked[j]))
            .collect();
        if !others.is_empty() {
            let mut d = mine.at.clone();
            d.message = format!(
                "listen address {} is also used by {}",
                mine.value,
                others.join(", ")
            );
            d.help = Some("each channel needs its own port".to_owned());
            extra.push((i, d));
        }
    }

    for i in 0..checked.len() {
        let Some(mine) = checked[i].polled.as_ref().filter(|_| checked[i].enabled) else {
            continue;
        };
        let others: Vec<String> = (0..checked.len())
            .filter(|&j| j != i && checked[j].enabled)
            .filter(|&j| {
                checked[j]
                    .polled
                    .as_ref()
                    .is_some_and(|o| same_dir(&mine.value, &o.value))
            })
            .map(|j| name_of(&checked[j]))
            .collect();
        if !others.is_empty() {
            let mut d = mine.at.clone();
            d.message = format!(
                "directory {} is also polled by {}",
                mine.value.display(),
                others.join(", ")
            );
            d.help = Some("two channels polling one folder would take each other's files".into());
            extra.push((i, d));
        }
    }

    for (i, d) in extra {
        checked[i].diagnostics.push(d);
    }
}

/// Whether two listeners would fight over a port: same port, and the same IP or either one
/// on all interfaces (`0.0.0.0` and `[::]` also take every specific address; on Linux `[::]`
/// covers IPv4 too).
fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Whether two paths name the same folder, comparing components (`in/lab`, `./in/lab/`).
pub(crate) fn same_dir(a: &Path, b: &Path) -> bool {
    let norm = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::spec::SourceSpec;

    fn check(text: &str) -> Checked {
        check_text(Path::new("t/chan.toml"), text)
    }

    /// The diagnostics as `line:col: message [help]`, without the warning for a channel with
    /// no destination (most snippets here have none, on purpose).
    fn messages(c: &Checked) -> Vec<String> {
        let mut ds: Vec<Diagnostic> = c
            .diagnostics
            .iter()
            .filter(|d| !d.message.starts_with("no [[destination]]"))
            .cloned()
            .collect();
        ds.sort_by_key(|d| (d.line, d.col));
        ds.iter()
            .map(|d| {
                format!(
                    "{}:{}: {}{}",
                    d.line,
                    d.col,
                    d.message,
                    d.help
                        .as_ref()
                        .map(|h| format!(" [{h}]"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    const MINIMAL: &str = "[source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2575\"\n\
                           [[destination]]\nname = \"a\"\ntype = \"file\"\ndirectory = \"out/a\"\n";

    #[test]
    fn minimal_channel_builds_with_defaults() {
        let c = check(MINIMAL);
        assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
        let spec = c.spec.unwrap();
        assert_eq!(spec.id.as_str(), "chan");
        assert!(spec.enabled);
        let SourceSpec::Mllp(mllp) = &spec.source else {
            panic!("not mllp")
        };
        assert_eq!(mllp.listen, "127.0.0.1:2575".parse().unwrap());
        assert_eq!(mllp.max_connections, 64);
        assert_eq!(spec.destinations[0].retry.attempts, 5);
    }

    #[test]
    fn serde_messages_are_taken_apart() {
        assert_eq!(
            Problem::parse("unknown field `retry_count`, expected one of `attempts`, `b`"),
            Problem::UnknownField {
                name: "retry_count".into(),
                expected: vec!["attempts".into(), "b".into()]
            }
        );
        assert_eq!(
            Problem::parse("unknown field `x`, there are no fields"),
            Problem::UnknownField {
                name: "x".into(),
                expected: vec![]
            }
        );
        assert_eq!(
            Problem::parse("unknown variant `orig`, expected `original` or `enhanced`"),
            Problem::UnknownVariant {
                name: "orig".into(),
                expected: vec!["original".into(), "enhanced".into()]
            }
        );
        assert_eq!(
            Problem::parse("missing field `listen`"),
            Problem::MissingField {
                name: "listen".into()
            }
        );
        assert_eq!(
            Problem::parse("invalid type: string \"5\", expected u32"),
            Problem::Invalid {
                found: "the string \"5\"".into(),
                expected: "a whole number of at least 0".into()
            }
        );
        assert_eq!(
            Problem::parse("invalid value: integer `0`, expected a nonzero u64"),
            Problem::Invalid {
                found: "0".into(),
                expected: "a whole number of at least 1".into()
            }
        );
        assert_eq!(
            Problem::parse("something else\n"),
            Problem::Other("something else".into())
        );
    }

    #[test]
    fn serde_still_words_errors_the_way_we_parse() {
        // Pins serde's and toml's wording: if an upgrade changes it, this fails first.
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: std::num::NonZeroU64,
            b: Option<crate::channel::spec::AckMode>,
        }
        let e = toml::from_str::<S>("a = 1\nc = 2").unwrap_err();
        assert_eq!(e.message(), "unknown field `c`, expected `a` or `b`");
        let e = toml::from_str::<S>("b = \"x\"\na = 1").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown variant `x`, expected `original` or `enhanced`"
        );
        let e = toml::from_str::<S>("a = 0").unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value: integer `0`, expected a nonzero u64"
        );
        let e = toml::from_str::<S>("").unwrap_err();
        assert_eq!(e.message(), "missing field `a`");
    }

    #[test]
    fn every_problem_in_a_table_is_reported_and_positions_are_exact() {
        let text = "[source]\ntype = \"mllp\"\nlisten = 2575\nack = \"orignal\"\n\
                    max_conections = 3\nidle_timeout_secs = 0\n";
        let c = check(text);
        assert_eq!(
            messages(&c),
            vec![
                "3:10: invalid value for `listen`: expected a string, found 2575 \
                 [strings are written in quotes: \"…\"]",
                "4:7: unknown value `orignal` for `ack`, expected `original` or `enhanced` \
                 [did you mean `original`?]",
                "5:1: unknown key `max_conections`, expected one of `listen`, `ack`, `tls`, \
                 `max_connections`, `max_message_bytes`, `idle_timeout_secs`, \
                 `read_timeout_secs`, `type` [did you mean `max_connections`?]",
                "6:21: invalid value for `idle_timeout_secs`: expected a whole number of at \
                 least 1, found 0",
            ]
        );
        assert!(c.spec.is_none());
    }

    #[test]
    fn a_misspelt_required_key_is_reported_once() {
        let c = check("[source]\ntype = \"mllp\"\nlistne = \"127.0.0.1:1\"\n");
        assert_eq!(
            messages(&c),
            vec![
                "3:1: unknown key `listne`, expected one of `listen`, `ack`, `tls`, \
                 `max_connections`, `max_message_bytes`, `idle_timeout_secs`, \
                 `read_timeout_secs`, `type` [did you mean `listen`?]"
            ]
        );
    }

    #[test]
    fn later_checks_still_run_on_a_table_with_a_bad_key() {
        let c = check("[source]\ntype = \"mllp\"\nlisten = \"1.2.3.4:70000\"\nack = 5\n");
        let m = messages(&c);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("invalid listen address"), "{m:?}");
        assert!(c.spec.is_none());
    }

    #[test]
    fn a_removed_required_key_is_not_reported_missing_again() {
        let c = check("[source]\ntype = \"http\"\nlisten = 5\n");
        assert_eq!(messages(&c).len(), 1, "{:?}", messages(&c));
    }

    #[test]
    fn missing_keys_name_their_table() {
        let c =
            check("[source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:1\"\ntls = { cert = \"x\" }\n");
        assert_eq!(
            messages(&c),
            vec!["4:7: missing required key `key` in `tls`"]
        );
        let c = check("[source]\ntype = \"mllp\"\n");
        assert_eq!(
            messages(&c),
            vec!["1:1: missing required key `listen` in [source]"]
        );
    }

    #[test]
    fn tags_are_checked_with_hints() {
        let c = check("[source]\ntype = \"mlp\"\nlisten = \"x\"\n");
        assert_eq!(
            messages(&c),
            vec![
                "2:8: unknown source type `mlp`, expected one of `mllp`, `http`, `file` \
                 [did you mean `mllp`?]"
            ]
        );
        let c = check("[source]\nlisten = \"x\"\n");
        assert_eq!(
            messages(&c),
            vec![
                "1:1: missing required key `type` in [source] \
                 [add `type = ` one of `mllp`, `http`, `file`]"
            ]
        );
        let c = check("source = 5\n");
        assert_eq!(messages(&c), vec!["1:10: [source] must be a table"]);
    }

    #[test]
    fn destination_keys_are_split_between_common_and_kind() {
        let text = "[source]\ntype = \"file\"\ndirectory = \"in\"\n\
                    [[destination]]\nname = \"a\"\ntype = \"mllp\"\nendpoint = \"h:1\"\n\
                    ordered = false\nsend_orignal = true\nretry = { attempts = 2 }\n";
        let c = check(text);
        let m = messages(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("9:1: unknown key `send_orignal`, expected one of `endpoint`"),
            "{m:?}"
        );
        assert!(m[0].ends_with("[did you mean `send_original`?]"), "{m:?}");
    }

    #[test]
    fn common_keys_match_the_struct() {
        // serde lists a struct's fields in its unknown-field error: that list is the truth.
        let e = toml::from_str::<DestinationCommonConfig>("zzz = 1").unwrap_err();
        let Problem::UnknownField { expected, .. } = Problem::parse(e.message()) else {
            panic!("{}", e.message())
        };
        assert_eq!(expected, DESTINATION_COMMON_KEYS);
    }

    #[test]
    fn every_type_name_is_dispatched() {
        for ty in SourceConfig::TYPES {
            let c = check(&format!("[source]\ntype = \"{ty}\"\n"));
            assert!(
                messages(&c)
                    .iter()
                    .all(|m| !m.contains("not implemented") && !m.contains("unknown source type")),
                "{ty}: {:?}",
                messages(&c)
            );
        }
        for ty in DestinationKindConfig::TYPES {
            let c = check(&format!("[[destination]]\nname = \"a\"\ntype = \"{ty}\"\n"));
            assert!(
                messages(&c)
                    .iter()
                    .all(|m| !m.contains("not implemented")
                        && !m.contains("unknown destination type")),
                "{ty}: {:?}",
                messages(&c)
            );
        }
    }

    #[test]
    fn top_level_keys_are_all_read() {
        // Every documented top-level key is accepted (no "unknown key" for any of them).
        let text = "description = \"d\"\nenabled = true\ndurability = \"interval\"\n\
                    flush_interval_ms = 20\n[duplicates]\nwindow_secs = 5\n[prune]\n\
                    keep_days = 1\n[limits]\nmax_operations = 10\n[filter]\naccept = 'true'\n\
                    [transform]\nscript = \"scripts/stamp_facility.rhai\"\n"
            .to_owned()
            + MINIMAL;
        let c = check(&text);
        assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
        let names: Vec<&str> = TOP_LEVEL_KEYS.to_vec();
        for key in ["description", "source", "destination", "limits"] {
            assert!(names.contains(&key));
        }
    }

    #[test]
    fn unknown_top_level_keys_get_hints() {
        let c = check(&format!("destinaton = 1\n{MINIMAL}"));
        assert_eq!(
            messages(&c),
            vec![format!(
                "1:1: unknown key `destinaton`, expected {} [did you mean `destination`?]",
                one_of(TOP_LEVEL_KEYS)
            )]
        );
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let c = check(&format!("\u{feff}{MINIMAL}"));
        assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
        assert!(c.spec.is_some());
    }

    #[test]
    fn syntax_errors_are_reported_with_position() {
        let c = check("[source\ntype = \"mllp\"\n");
        assert_eq!(
            messages(&c),
            vec!["1:8: invalid TOML: unclosed table, expected `]`"]
        );
        assert!(c.spec.is_none());
    }

    #[test]
    fn destination_as_a_single_table_is_explained() {
        let c =
            check("[source]\ntype = \"file\"\ndirectory = \"in\"\n[destination]\nname = \"a\"\n");
        let m = messages(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("`destination` must be a list of tables"),
            "{m:?}"
        );
    }

    #[test]
    fn listeners_conflict_on_same_port_or_wildcard() {
        let a: SocketAddr = "127.0.0.1:2575".parse().unwrap();
        let b: SocketAddr = "0.0.0.0:2575".parse().unwrap();
        let c: SocketAddr = "127.0.0.2:2575".parse().unwrap();
        let d: SocketAddr = "127.0.0.1:2576".parse().unwrap();
        assert!(same_port(a, a));
        assert!(same_port(a, b));
        assert!(same_port(b, c));
        assert!(!same_port(a, c));
        assert!(!same_port(a, d));
        assert!(same_dir(Path::new("in/lab"), Path::new("./in/lab/")));
        assert!(!same_dir(Path::new("in/lab"), Path::new("in/lab2")));
    }

    #[test]
    fn cross_checks_report_on_both_files() {
        let mut checked = vec![
            check_text(Path::new("a/x.toml"), MINIMAL),
            check_text(Path::new("b/x.toml"), MINIMAL),
        ];
        cross_check(&mut checked);
        for c in &checked {
            let m = messages(c);
            assert_eq!(m.len(), 2, "{m:?}");
            assert!(
                m[0].starts_with("0:0: channel id `x` is also used by"),
                "{m:?}"
            );
            assert!(
                m[1].starts_with(
                    "3:10: listen address 127.0.0.1:2575 is also used by channel \"x\""
                ),
                "{m:?}"
            );
        }
    }

    #[test]
    fn disabled_channels_and_port_zero_do_not_conflict() {
        let disabled = format!("enabled = false\n{MINIMAL}");
        let mut checked = vec![
            check_text(Path::new("a.toml"), MINIMAL),
            check_text(Path::new("b.toml"), &disabled),
        ];
        cross_check(&mut checked);
        assert!(checked.iter().all(|c| c.diagnostics.is_empty()));
        let zero = MINIMAL.replace("2575", "0");
        let mut checked = vec![
            check_text(Path::new("a.toml"), &zero),
            check_text(Path::new("b.toml"), &zero),
        ];
        cross_check(&mut checked);
        assert!(checked.iter().all(|c| c.diagnostics.is_empty()));
    }

    #[test]
    fn bad_file_names_are_reported() {
        let c = check_text(Path::new("t/Lab Results.toml"), MINIMAL);
        assert_eq!(
            messages(&c),
            vec![
                "0:0: channel id `Lab Results` (the file name) may only contain a-z, 0-9, \
                 `_` and `-` [rename the file to lab_results.toml]"
            ]
        );
        assert!(c.spec.is_none());
    }
}
