//! [`FileDestination`]: writes each message to its own file in a directory, named from a
//! template such as `{channel}_{date}_{message_id}.hl7`.
//!
//! A file appears whole or not at all: the bytes go to a hidden temporary file in the same
//! directory, are flushed to disk (`fdatasync`), and the temporary file is then renamed over
//! the final name, which POSIX makes atomic within one file system. The directory is synced
//! last so the rename itself survives a power cut. A program polling the directory therefore
//! never reads half a message, and a crash leaves at worst a `.ihub-*.tmp` file behind.
//!
//! Values come from the message (control id, type) and may hold anything a sender put there,
//! `../` included; they are reduced to a safe character set before they reach a file name, so
//! a file can only ever land directly inside the configured directory.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Outcome, background_io, error_chain};

/// The file name template used when a channel sets none: one file per stored message.
pub const DEFAULT_FILENAME: &str = "{message_id}.hl7";

/// Longest value (in bytes) substituted for one placeholder. File names are limited to 255
/// bytes on common file systems; a sender's 199-character control id must not make every
/// write fail with "file name too long".
const MAX_VALUE_BYTES: usize = 64;

/// Prefix of temporary files. The leading dot hides them from `ls` and from globs like
/// `*.hl7`, so a program polling the directory skips them.
const TEMP_PREFIX: &str = ".ihub-";

/// The placeholders a file name template may use.
const PLACEHOLDERS: &str = "{message_id}, {control_id}, {channel}, {message_type} (or {type}), \
     {trigger}, {received}, {date}";

/// Settings of a file destination, already validated by the channel loader.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// Where the files go; created (with its parents) when missing.
    pub directory: PathBuf,
    /// The file name template, e.g. [`DEFAULT_FILENAME`]. Placeholders: `{message_id}`,
    /// `{control_id}`, `{channel}`, `{message_type}` (or `{type}`), `{trigger}`,
    /// `{received}` (`YYYYMMDDHHMMSS`, UTC) and `{date}` (received, `YYYYMMDD`).
    pub filename: String,
}

/// Why a file destination cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileSetupError {
    /// No directory was given.
    #[error("the file destination needs a directory")]
    NoDirectory,
    /// The template has a placeholder we do not know.
    #[error(
        "unknown placeholder {{{name}}} in file name template \"{template}\"; expected one of {PLACEHOLDERS}"
    )]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// The whole template.
        template: String,
    },
    /// A `{` without its `}`, or a `}` without its `{`.
    #[error("unbalanced brace at byte {position} of file name template \"{template}\"")]
    UnbalancedBrace {
        /// Byte offset of the brace.
        position: usize,
        /// The whole template.
        template: String,
    },
    /// The template names a path, not a file: it must not leave the directory.
    #[error("file name template \"{template}\" must be a plain file name (no `/`, `\\` or NUL)")]
    NotAFileName {
        /// The whole template.
        template: String,
    },
}

/// The values a file name template can use, for one message.
#[derive(Debug, Clone, Copy)]
pub struct FileFields<'a> {
    /// The store's id of the message.
    pub message_id: u64,
    /// MSH-10.
    pub control_id: &'a str,
    /// The channel id.
    pub channel: &'a str,
    /// MSH-9.1.
    pub message_type: &'a str,
    /// MSH-9.2.
    pub trigger: &'a str,
    /// When the message was received, as an HL7 timestamp (`YYYYMMDDHHMMSS…`); `{date}` is its
    /// first eight digits.
    pub received: &'a str,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    MessageId,
    ControlId,
    Channel,
    Type,
    Trigger,
    Received,
    Date,
}

/// A directory and a parsed file name template.
#[derive(Debug, Clone)]
pub struct FileDestination {
    directory: PathBuf,
    template: Vec<Part>,
}

impl FileDestination {
    /// Checks the settings and parses the template; the directory is created on first write.
    pub fn new(settings: FileSettings) -> Result<FileDestination, FileSetupError> {
        if settings.directory.as_os_str().is_empty() {
            return Err(FileSetupError::NoDirectory);
        }
        Ok(FileDestination {
            directory: settings.directory,
            template: parse_template(&settings.filename)?,
        })
    }

    /// The directory files are written to.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The file name this message gets (inside [`FileDestination::directory`]).
    pub fn file_name(&self, fields: &FileFields<'_>) -> String {
        let mut name = String::new();
        for part in &self.template {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::MessageId => name.push_str(&fields.message_id.to_string()),
                Part::ControlId => name.push_str(&sanitize(fields.control_id)),
                Part::Channel => name.push_str(&sanitize(fields.channel)),
                Part::Type => name.push_str(&sanitize(fields.message_type)),
                Part::Trigger => name.push_str(&sanitize(fields.trigger)),
                Part::Received => name.push_str(&sanitize(timestamp_of(fields.received))),
                Part::Date => name.push_str(&date_of(fields.received)),
            }
        }
        name
    }

    /// Writes `payload` to its file, atomically. I/O errors are retried (a full disk may be
    /// cleaned up, a mount may come back); an existing file of the same name is replaced,
    /// which at-least-once delivery needs (a retry after a crash rewrites the same file).
    /// The delivered response is the path written, for the message's history.
    pub async fn send(&self, payload: &[u8], fields: &FileFields<'_>) -> Outcome {
        let name = self.file_name(fields);
        // Unreachable by construction (no separators in the template, sanitised values);
        // checked anyway because this is the one place a bug would write outside the folder.
        if !is_plain_file_name(&name) {
            return Outcome::reject(format!("the file name \"{name}\" is not a plain file name"));
        }
        let target = self.directory.join(&name);
        let directory = self.directory.clone();
        // The blocking file calls run off the reactor threads, at delivery's lower priority
        // (`background_io`). That needs owned data, hence the copy; messages are small next
        // to an fsync.
        let payload = payload.to_vec();
        let written = {
            let target = target.clone();
            background_io::run("ihub-file-io", move || {
                write_atomically(&directory, &target, &payload)
            })
            .await
        };
        match written {
            Ok(Ok(())) => Outcome::Delivered {
                response: Some(target.to_string_lossy().into_owned().into_bytes()),
            },
            Ok(Err(error)) => Outcome::retry(format!(
                "could not write {}: {}",
                target.display(),
                error_chain(&error)
            )),
            Err(error) => Outcome::retry(error),
        }
    }
}

/// Splits a template into literals and placeholders, refusing unknown placeholders, lone
/// braces, path separators and templates that would not give each message its own file.
fn parse_template(template: &str) -> Result<Vec<Part>, FileSetupError> {
    if template.is_empty() || template.contains(['/', '\\', '\0']) {
        return Err(FileSetupError::NotAFileName {
            template: template.to_owned(),
        });
    }
    let unbalanced = |position| FileSetupError::UnbalancedBrace {
        position,
        template: template.to_owned(),
    };
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let offset = template.len() - rest.len();
        let Some(open) = rest.find('{') else {
            if let Some(close) = rest.find('}') {
                return Err(unbalanced(offset + close));
            }
            parts.push(Part::Literal(rest.to_owned()));
            break;
        };
        if let Some(close) = rest[..open].find('}') {
            return Err(unbalanced(offset + close));
        }
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_owned()));
        }
        let after = &rest[open + 1..];
        let Some(close) = after
            .find(['}', '{'])
            .filter(|&i| after[i..].starts_with('}'))
        else {
            return Err(unbalanced(offset + open));
        };
        let name = &after[..close];
        parts.push(match name {
            "message_id" => Part::MessageId,
            "control_id" => Part::ControlId,
            "channel" => Part::Channel,
            "message_type" | "type" => Part::Type,
            "received" => Part::Received,
            "trigger" => Part::Trigger,
            "date" => Part::Date,
            _ => {
                return Err(FileSetupError::UnknownPlaceholder {
                    name: name.to_owned(),
                    template: template.to_owned(),
                });
            }
        });
        rest = &after[close + 1..];
    }
    // Without {message_id} or {control_id} each message replaces the last file (a "latest"
    // file); `ihub validate` warns about it, so it is allowed here.
    Ok(parts)
}

/// A value made safe for a file name: ASCII letters, digits, `-`, `_` and single dots are
/// kept, anything else (separators, spaces, control and non-ASCII characters) becomes `_`.
/// A dot may not start the value or follow another dot, so no value is or contains `..` and
/// none makes a hidden file. Empty becomes `_`; the length is capped at [`MAX_VALUE_BYTES`].
fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_BYTES));
    for c in value.chars().take(MAX_VALUE_BYTES) {
        let keep = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => true,
            '.' => !out.is_empty() && !out.ends_with('.'),
            _ => false,
        };
        out.push(if keep { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// `YYYYMMDD` from an HL7 timestamp, or `undated` when it does not start with eight digits.
fn date_of(received: &str) -> String {
    match received.get(..8) {
        Some(date) if date.bytes().all(|b| b.is_ascii_digit()) => date.to_owned(),
        _ => "undated".to_owned(),
    }
}

/// `YYYYMMDDHHMMSS` from an HL7 timestamp: the digits before its time zone.
fn timestamp_of(received: &str) -> &str {
    let end = received
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(received.len());
    &received[..end]
}

/// Exactly one ordinary path component: not empty, `.`, `..`, absolute, nor one of ours.
pub(super) fn is_plain_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(_)))
        && components.next().is_none()
        && !name.starts_with(TEMP_PREFIX)
}

/// Temp file, data sync, rename, directory sync. See the module docs for why each step.
fn write_atomically(directory: &Path, target: &Path, payload: &[u8]) -> io::Result<()> {
    ensure_directory(directory)?;
    write_and_rename(directory, target, payload)?;
    sync_directory(directory)
}

/// Creates the directory when it is missing, and makes its own entry durable.
pub(super) fn ensure_directory(directory: &Path) -> io::Result<()> {
    if !directory.is_dir() {
        fs::create_dir_all(directory)?;
        // The new directory's own entry must reach the disk too, or the first file could
        // vanish with it after a crash.
        if let Some(parent) = directory.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            sync_directory(parent)?;
        }
    }
    Ok(())
}

/// Temp file, data sync, rename: `target` then names the whole payload, but the rename is
/// durable only after the directory is synced.
pub(super) fn write_and_rename(directory: &Path, target: &Path, payload: &[u8]) -> io::Result<()> {
    let temp = write_temp(directory, payload)?;
    // The data must be on disk before the rename makes the name point at it; otherwise a
    // crash could leave the final name on an empty or partial file.
    let renamed = temp.sync().and_then(|()| temp.rename(target));
    if renamed.is_err() {
        temp.discard();
    }
    renamed
}

/// A temporary file in the destination directory, written but not yet synced or renamed.
pub(super) struct TempFile {
    path: PathBuf,
    file: fs::File,
}

impl TempFile {
    /// Makes its data durable (`fdatasync`).
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Gives it its final name.
    pub(super) fn rename(&self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)
    }

    /// Removes it after a failure. Best effort: a temp file we cannot remove is harmless
    /// (hidden, never renamed).
    pub(super) fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Creates a hidden temporary file in `directory` holding `payload`.
pub(super) fn write_temp(directory: &Path, payload: &[u8]) -> io::Result<TempFile> {
    // pid + counter: unique among every writer of this process and of other processes, so
    // `create_new` only fails on a real problem.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = directory.join(format!(
        "{TEMP_PREFIX}{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let temp = TempFile { path, file };
    if let Err(error) = (&temp.file).write_all(payload) {
        temp.discard();
        return Err(error);
    }
    Ok(temp)
}

/// fsyncs a directory so the entries created or renamed in it are durable. Some file systems
/// cannot sync a directory and say EINVAL; there is nothing more to do on those.
pub(super) fn sync_directory(directory: &Path) -> io::Result<()> {
    match fs::File::open(directory)?.sync_all() {
        Err(error) if error.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

/// Milliseconds since the Unix epoch as an HL7 UTC timestamp, `YYYYMMDDHHMMSS+0000`: the
/// `received` value [`FileFields`] expects.
pub fn format_received(received_ms: u64) -> String {
    crate::hl7::format_utc(received_ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(control_id: &'a str) -> FileFields<'a> {
        FileFields {
            message_id: 42,
            control_id,
            channel: "lab_results",
            message_type: "ORU",
            trigger: "R01",
            received: "20260314092653+0000",
        }
    }

    fn dest(template: &str) -> FileDestination {
        FileDestination::new(FileSettings {
            directory: "out".into(),
            filename: template.into(),
        })
        .unwrap()
    }

    fn setup_error(template: &str) -> FileSetupError {
        FileDestination::new(FileSettings {
            directory: "out".into(),
            filename: template.into(),
        })
        .unwrap_err()
    }

    #[test]
    fn renders_every_placeholder() {
        let d = dest("{channel}_{type}^{trigger}_{date}_{message_id}_{control_id}.hl7");
        assert_eq!(
            d.file_name(&fields("MSG-0001")),
            "lab_results_ORU^R01_20260314_42_MSG-0001.hl7"
        );
        assert_eq!(dest(DEFAULT_FILENAME).file_name(&fields("x")), "42.hl7");
        assert_eq!(dest("{message_id}").file_name(&fields("x")), "42");
        // The names channels/README.md documents and `ihub validate` checks.
        assert_eq!(
            dest("{message_type}_{trigger}-{received}-{message_id}.hl7").file_name(&fields("x")),
            "ORU_R01-20260314092653-42.hl7"
        );
    }

    #[test]
    fn values_cannot_escape_the_directory() {
        let d = dest("{control_id}.hl7");
        for (control_id, expected) in [
            ("../../etc/passwd", "_._.__etc_passwd.hl7"),
            ("..", "_..hl7"),
            ("a/b\\c", "a_b_c.hl7"),
            ("", "_.hl7"),
            (".hidden", "_hidden.hl7"),
            ("1.2...3", "1.2._.3.hl7"),
            ("Müller X\0", "M_ller_X_.hl7"),
        ] {
            let name = d.file_name(&fields(control_id));
            assert_eq!(name, expected, "{control_id:?}");
            assert!(is_plain_file_name(&name), "{name}");
        }
        let long = "9".repeat(500);
        assert_eq!(d.file_name(&fields(&long)).len(), MAX_VALUE_BYTES + 4);
    }

    #[test]
    fn sanitized_values_never_hold_dot_dot() {
        for value in ["..", "...", "a..", "./.", ". .", "/..", "x/../y"] {
            let clean = sanitize(value);
            assert!(!clean.contains(".."), "{value:?} -> {clean:?}");
            assert!(!clean.contains('/'), "{value:?} -> {clean:?}");
            assert!(!clean.starts_with('.'), "{value:?} -> {clean:?}");
        }
    }

    #[test]
    fn every_placeholder_the_validator_accepts_renders() {
        // `ihub validate` and startup must agree, or a channel that validates fails to start.
        for name in crate::channel::config::FILENAME_PLACEHOLDERS {
            let template = format!("{{{name}}}-{{message_id}}.hl7");
            let built = FileDestination::new(FileSettings {
                directory: "out".into(),
                filename: template.clone(),
            });
            assert!(built.is_ok(), "{template}: {:?}", built.err());
        }
    }

    #[test]
    fn bad_templates_are_refused_with_a_clear_error() {
        assert_eq!(
            setup_error("{message_id}_{patient}.hl7").to_string(),
            "unknown placeholder {patient} in file name template \"{message_id}_{patient}.hl7\"; \
             expected one of {message_id}, {control_id}, {channel}, {message_type} (or {type}), \
             {trigger}, {received}, {date}"
        );
        assert_eq!(
            setup_error("{message_id.hl7"),
            FileSetupError::UnbalancedBrace {
                position: 0,
                template: "{message_id.hl7".into()
            }
        );
        assert!(matches!(
            setup_error("{message_id}}.hl7"),
            FileSetupError::UnbalancedBrace { position: 12, .. }
        ));
        assert!(matches!(
            setup_error("a}{message_id}"),
            FileSetupError::UnbalancedBrace { position: 1, .. }
        ));
        assert!(matches!(
            setup_error("{mes{sage_id}"),
            FileSetupError::UnbalancedBrace { position: 0, .. }
        ));
        assert!(matches!(
            setup_error("{}{message_id}"),
            FileSetupError::UnknownPlaceholder { .. }
        ));
        for path in ["../{message_id}", "sub/{message_id}", "a\\{message_id}", ""] {
            assert!(
                matches!(setup_error(path), FileSetupError::NotAFileName { .. }),
                "{path}"
            );
        }
        // A "latest" file, replaced by every message: `ihub validate` warns, startup allows.
        let latest = FileDestination::new(FileSettings {
            directory: PathBuf::from("out"),
            filename: "{channel}-latest.hl7".into(),
        });
        assert_eq!(
            latest.unwrap().file_name(&fields("X")),
            "lab_results-latest.hl7"
        );
        let no_dir = FileDestination::new(FileSettings {
            directory: PathBuf::new(),
            filename: DEFAULT_FILENAME.into(),
        });
        assert_eq!(no_dir.unwrap_err(), FileSetupError::NoDirectory);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(date_of("20260314092653+0000"), "20260314");
        assert_eq!(date_of("2026"), "undated");
        assert_eq!(date_of("2026-03-14"), "undated");
        assert_eq!(date_of("2026031é"), "undated");
        assert_eq!(format_received(0), "19700101000000+0000");
        assert_eq!(format_received(951_782_400_999), "20000229000000+0000");
        assert_eq!(format_received(1_767_225_599_000), "20251231235959+0000");
    }

    #[test]
    fn plain_file_names() {
        assert!(is_plain_file_name("42.hl7"));
        for bad in ["", ".", "..", "/x", "a/b", ".ihub-1-2.tmp"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
