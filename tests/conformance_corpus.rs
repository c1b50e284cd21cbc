//! Conformance over an external corpus of real-world HL7 v2 files, named by `HL7_CORPUS_DIR`
//! (CI points it at a folder of ~600 files taken from other HL7 projects' test data). Without
//! the variable the tests print `skipped: HL7_CORPUS_DIR not set` and pass.
//!
//! Every message file under the folder (extension `.hl7`, `.txt`, `.er7`, `.dat` or none; not
//! under a `fragments` directory, which holds field values rather than messages) goes through
//! `parse_stream` inside `catch_unwind`:
//! - a panic is always a failure;
//! - a file under a directory named `invalid` may parse or fail with a `ParseError`, and so may
//!   the few files listed in [`REFUSED_ON_PURPOSE`] (mostly upstream test fragments that are not
//!   complete messages), provided the error is the one listed;
//! - any other file must give at least one message, and for each message every field of every
//!   segment must decode (down to subcomponents), and `to_bytes` must parse again with the same
//!   segment count and write back the same bytes.
//!
//! A second test checks values against what the corpus index and the upstream projects' own
//! tests say about the same files.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ihub::hl7::{Delimiters, Message, parse_batch, parse_stream, unescape};

const EXTENSIONS: &[&str] = &["hl7", "txt", "er7", "dat"];

/// Files outside `invalid/` that the parser refuses on purpose: (path in the corpus, words the
/// `ParseError` must contain, why). All but one are not complete HL7 messages: upstream unit
/// tests feed a stripped-down header to code that does not need a whole message (HAPI parses
/// them into a pre-typed `ORU_R01`; python-hl7 and Medplum test MLLP framing, charsets or
/// separators). MSH-9 (message type) is required in every HL7 v2 version, and `Message::parse`
/// insists on it. The last one is a whole message whose delimiters include a letter.
const REFUSED_ON_PURPOSE: &[(&str, &str, &str)] = &[
    (
        "hapi-hl7v2/inline/NewPipeParserTest__testAmpersandInObx5__L540.hl7",
        "MSH-9",
        "`MSH|^~\\&|` + one OBX: stripped down by the test, no MSH-9",
    ),
    (
        "hapi-hl7v2/inline/NewPipeParserTest__testEscape__L1069.hl7",
        "MSH-9",
        "`MSH|^~\\&` + one MSA: no MSH-9",
    ),
    (
        "hapi-hl7v2/inline/VariesTest__testObx5WithExpectedComponentUnpexpectedSubcomponentWithinPrimitive__L158.hl7",
        "MSH-9",
        "`MSH|^~\\&` + OBR + OBX: no MSH-9",
    ),
    (
        "hapi-hl7v2/inline/VariesTest__testVariesParseMethodClearsExistingExtraComponents__L341.hl7",
        "MSH-9",
        "`MSH|^~\\&` + OBR + OBX: no MSH-9",
    ),
    (
        "medplum/inline/hl7.test.ts__Minimal.hl7",
        "MSH-9",
        "`MSH|^~\\&` alone",
    ),
    (
        "python-hl7/valid/loose_crlf_single.hl7",
        "MSH-9",
        "an MLLP framing test payload: `MSH|^~\\&|foo` and the line `bar`",
    ),
    (
        "python-hl7/valid/loose_crlf_two_messages.hl7",
        "MSH-9",
        "an MLLP framing test payload: `MSH|^~\\&|1`, `OBX|1`, twice",
    ),
    (
        "python-hl7/valid/non_ascii_cp1252.hl7",
        "MSH-9",
        "a charset test: `MSH|^~\\&|GHH LAB|ELAB-3` (with a cp1252 dash), no MSH-9",
    ),
    (
        "python-hl7/valid/nonstandard_separators.hl7",
        "MSH-9",
        "a separator test: MSH with MSH-3 only, then a PID",
    ),
    (
        "hl7apy/valid/test_to_string__setUp_msh_custom__L49.hl7",
        "not a usable delimiter",
        "hl7apy's encoder test uses the letter `r` as repetition separator (`MSH!$r?@`); \
         `Delimiters` refuses alphanumeric delimiters on purpose",
    ),
];

/// The corpus folder, or `None` after printing why the test is skipped.
fn corpus_dir() -> Option<PathBuf> {
    match std::env::var_os("HL7_CORPUS_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            println!("skipped: HL7_CORPUS_DIR not set");
            None
        }
    }
}

/// Every message file under `dir`, sorted, as (path relative to the corpus, absolute path).
fn message_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "fragments") {
                    pending.push(path);
                }
                continue;
            }
            let wanted = match path.extension() {
                None => true,
                Some(ext) => EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)),
            };
            if wanted {
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                found.push((relative, path));
            }
        }
    }
    found.sort();
    found
}

/// Whether the file sits under a directory named `invalid` (inside the corpus).
fn is_invalid(relative: &str) -> bool {
    relative
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| dir == "invalid")
}

/// What a file may do instead of parsing.
#[derive(Clone, Copy)]
enum Allowed {
    /// It must parse.
    Nothing,
    /// It may fail with any `ParseError` (under `invalid/`).
    AnyError,
    /// It may fail with a `ParseError` that contains these words (see [`REFUSED_ON_PURPOSE`]).
    ErrorWith(&'static str),
}

enum Outcome {
    /// Parsed into this many messages, every check passed.
    Parsed(usize),
    /// A file under `invalid/` that the parser refused, with its error.
    CleanError(String),
    /// A file of [`REFUSED_ON_PURPOSE`] that the parser refused as expected, with its error.
    Refused(String),
}

/// Parses one file and runs the per-message checks; `Err` is a failure.
fn check_file(bytes: &[u8], allowed: Allowed) -> Result<Outcome, String> {
    let messages = match (parse_stream(bytes), allowed) {
        (Ok(messages), _) => messages,
        (Err(e), Allowed::AnyError) => return Ok(Outcome::CleanError(e.to_string())),
        (Err(e), Allowed::ErrorWith(words)) if e.to_string().contains(words) => {
            return Ok(Outcome::Refused(e.to_string()));
        }
        (Err(e), _) => return Err(format!("parse error: {e}")),
    };
    if messages.is_empty() {
        return Err("parsed to no message".into());
    }
    for (i, message) in messages.iter().enumerate() {
        check_message(message).map_err(|e| format!("message {}: {e}", i + 1))?;
    }
    Ok(Outcome::Parsed(messages.len()))
}

fn check_message(message: &Message<'_>) -> Result<(), String> {
    for segment in message.segments() {
        for field in segment.fields() {
            let _ = field.text();
            for repetition in field.repetitions() {
                for component in repetition.components() {
                    let _ = component.text();
                    for subcomponent in component.subcomponents() {
                        let _ = subcomponent.text();
                    }
                }
            }
        }
    }
    let written = message.to_bytes();
    let again = Message::parse(&written).map_err(|e| format!("to_bytes does not parse: {e}"))?;
    if again.segment_count() != message.segment_count() {
        return Err(format!(
            "{} segments, but {} after to_bytes and parse",
            message.segment_count(),
            again.segment_count()
        ));
    }
    if again.to_bytes() != written {
        return Err("to_bytes of the re-parsed message differs from the first to_bytes".into());
    }
    Ok(())
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[test]
fn every_corpus_file_parses_or_fails_cleanly() {
    let Some(root) = corpus_dir() else {
        return;
    };
    let files = message_files(&root);
    assert!(
        !files.is_empty(),
        "HL7_CORPUS_DIR={} holds no message files",
        root.display()
    );
    let (mut parsed, mut messages) = (0, 0);
    let mut clean_errors = Vec::new();
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    for (relative, path) in &files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                failures.push((relative, format!("cannot read: {e}")));
                continue;
            }
        };
        let listed = REFUSED_ON_PURPOSE
            .iter()
            .find(|(file, _, _)| file == relative);
        let allowed = match listed {
            _ if is_invalid(relative) => Allowed::AnyError,
            Some(&(_, words, _)) => Allowed::ErrorWith(words),
            None => Allowed::Nothing,
        };
        match catch_unwind(AssertUnwindSafe(|| check_file(&bytes, allowed))) {
            Ok(Ok(Outcome::Parsed(n))) => {
                parsed += 1;
                messages += n;
            }
            Ok(Ok(Outcome::CleanError(e))) => clean_errors.push((relative, e)),
            Ok(Ok(Outcome::Refused(e))) => refused.push((relative, e)),
            Ok(Err(e)) => failures.push((relative, e)),
            Err(payload) => failures.push((relative, format!("panic: {}", panic_text(&*payload)))),
        }
    }
    println!(
        "corpus: {} files, {parsed} parsed, {} clean errors (invalid), {} failures",
        files.len(),
        clean_errors.len(),
        failures.len()
    );
    println!(
        "  {messages} messages in the parsed files; {} listed files refused on purpose",
        refused.len()
    );
    for (file, error) in &clean_errors {
        println!("  refused (invalid): {file}: {error}");
    }
    for (file, error) in &refused {
        let why = REFUSED_ON_PURPOSE
            .iter()
            .find(|(listed, _, _)| listed == file)
            .map_or("", |(_, _, why)| why);
        println!("  refused on purpose ({why}): {file}: {error}");
    }
    for (file, error) in &failures {
        println!("  FAILED: {file}: {error}");
    }
    assert!(
        failures.is_empty(),
        "{} corpus files failed",
        failures.len()
    );
}

/// Reads a corpus file for a value check, or says why the check is skipped.
fn corpus_file(root: &Path, relative: &str) -> Option<Vec<u8>> {
    match std::fs::read(root.join(relative)) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            println!("skipped check: {relative}: {e}");
            None
        }
    }
}

/// The first message of a corpus file, for the value checks.
fn first_message<'a>(relative: &str, bytes: &'a [u8]) -> Message<'a> {
    let mut messages =
        parse_stream(bytes).unwrap_or_else(|e| panic!("{relative} does not parse: {e}"));
    assert!(!messages.is_empty(), "{relative}: no message");
    messages.swap_remove(0)
}

/// The text at `path` in the first message of a corpus file.
fn text_at(message: &Message<'_>, path: &str) -> String {
    message
        .get(path)
        .unwrap_or_else(|e| panic!("bad path {path}: {e}"))
        .text()
        .into_owned()
}

/// The input as `to_bytes` writes it: blank lines dropped, every segment ended by `\r`.
fn with_cr_terminators(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for line in bytes
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|line| !line.is_empty())
    {
        out.extend_from_slice(line);
        out.push(b'\r');
    }
    out
}

#[test]
fn corpus_values_match_upstream_expectations() {
    let Some(root) = corpus_dir() else {
        return;
    };
    let mut checked = 0;

    // INDEX.tsv counts the MSH segments of each file (column `messages`): a stream holds one
    // message per MSH, so every file that parses must give exactly that many.
    if let Some(index) = corpus_file(&root, "INDEX.tsv") {
        let index = String::from_utf8_lossy(&index).into_owned();
        let mut lines = index.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(file_col), Some(count_col)) = (column("file"), column("messages")) else {
            panic!("INDEX.tsv has no `file` and `messages` columns");
        };
        let mut compared = 0;
        for row in lines {
            let cols: Vec<&str> = row.split('\t').collect();
            let (Some(file), Some(count)) = (cols.get(file_col), cols.get(count_col)) else {
                continue;
            };
            let Ok(expected) = count.parse::<usize>() else {
                continue;
            };
            let Ok(bytes) = std::fs::read(root.join(file)) else {
                continue;
            };
            if let Ok(messages) = parse_stream(&bytes) {
                assert_eq!(messages.len(), expected, "{file}: messages (INDEX.tsv)");
                compared += 1;
            }
        }
        assert!(compared > 0, "INDEX.tsv: no file compared");
        println!("INDEX.tsv: message counts agree for {compared} files");
        checked += 1;
    }

    // Medplum's hl7.test.ts asserts these segment counts.
    for (file, segments) in [
        ("medplum/inline/hl7.test.ts__ADT.hl7", 4),
        ("medplum/inline/hl7.test.ts__QBP_Q11.hl7", 3),
        ("medplum/inline/hl7.test.ts__OUL_R22.hl7", 19),
        ("medplum/inline/hl7.test.ts__Sub-field_values.hl7", 23),
    ] {
        if let Some(bytes) = corpus_file(&root, file) {
            assert_eq!(
                first_message(file, &bytes).segment_count(),
                segments,
                "{file}"
            );
            checked += 1;
        }
    }

    // Medplum QBP_Q11: UTF-8 declared in MSH-18, `®` in MSH-3.
    let file = "medplum/inline/hl7.test.ts__QBP_Q11.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(m.charset(), ihub::hl7::Charset::Utf8, "{file}");
        assert_eq!(text_at(&m, "MSH-3"), "cobas\u{ae} pro", "{file}");
        checked += 1;
    }

    // Medplum OUL_R22: OBR-2 is the HL7 null `""`; U+00B7 (middle dot) in OBX-3 and OBX-5.
    let file = "medplum/inline/hl7.test.ts__OUL_R22.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert!(m.get("OBR-2").is_ok_and(|v| v.is_null()), "{file}: OBR-2");
        assert!(
            text_at(&m, "OBX[3]-3.5").contains('\u{b7}'),
            "{file}: OBX-3"
        );
        assert_eq!(
            text_at(&m, "OBX[7]-5"),
            "0.300\u{b7}-\u{b7}350",
            "{file}: OBX-5"
        );
        checked += 1;
    }

    // Medplum: `toString()` must give the input back (trailing `|` kept; field separator `_`).
    for file in [
        "medplum/inline/hl7.test.ts__ACK.hl7",
        "medplum/inline/hl7.test.ts__Non-standard_encoding.hl7",
    ] {
        if let Some(bytes) = corpus_file(&root, file) {
            let m = first_message(file, &bytes);
            assert_eq!(m.to_bytes(), with_cr_terminators(&bytes), "{file}");
            assert_eq!(text_at(&m, "MSA-3"), "Everything was okay dokay!", "{file}");
            checked += 1;
        }
    }
    let file = "medplum/inline/hl7.test.ts__Non-standard_encoding.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        assert_eq!(
            first_message(file, &bytes).delimiters().field,
            b'_',
            "{file}"
        );
    }

    // hl7apy: the v2.7 truncation character in MSH-2 `^~\&#`.
    let file = "hl7apy/valid/test_parser__setUp_rsp_k21_27__L54.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(m.delimiters().truncation, Some(b'#'), "{file}");
        assert_eq!(text_at(&m, "MSH-2"), "^~\\&#", "{file}");
        assert_eq!(text_at(&m, "MSH-9.3"), "RSP_K21", "{file}");
        checked += 1;
    }

    // hl7apy: `\H\` and `\N\` (highlighting) are formatting for the renderer, kept as written.
    let file = "hl7apy/valid/test_to_string__setUp_msh_highlighted__L50.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(
            text_at(&m, "MSH-8"),
            "\\H\\HIGHLIGHTED\\N\\TEXT\\H\\IMPORTANT\\N\\",
            "{file}"
        );
        checked += 1;
    }

    // Efferent: MSH-2 `^~&` has no escape character, and `&` stays the subcomponent separator.
    let file =
        "efferent-hl7-dotnetcore/inline/Program.cs__GenerateAckNoEscapeDelimiterTest__L928.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(m.delimiters().escape, None, "{file}");
        assert_eq!(m.delimiters().subcomponent, Some(b'&'), "{file}");
        assert_eq!(text_at(&m, "MSH-2"), "^~&", "{file}");
        checked += 1;
    }

    // Efferent: an unterminated escape (`BSV 4\5 re.`) must not choke the parser: it stays text.
    let file = "efferent-hl7-dotnetcore/inline/Program.cs__SkipInvalidEscapeSequenceTest__L483.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(text_at(&m, "ZZ1-9"), "BSV 4\\5 re.", "{file}");
        checked += 1;
    }

    // Efferent: `\E\T\E\`. Efferent decodes it twice (to `&`); HL7 escapes are decoded once,
    // so `\E\` gives the escape character as data and the text is `\T\`.
    let file = "efferent-hl7-dotnetcore/inline/Program.cs__DoubleEncoding__L947.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        assert_eq!(
            text_at(&m, "MSA-3"),
            "Double encoded value: \\T\\",
            "{file}"
        );
        checked += 1;
    }

    // Efferent: a segment that is only its name.
    let file = "efferent-hl7-dotnetcore/inline/Program.cs__MessageWithSegmentNameOnly__L352.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        let m = first_message(file, &bytes);
        let pid = m.segment_at(1).expect("three segments");
        assert_eq!((pid.name(), pid.field_count()), ("PID", 0), "{file}");
        assert_eq!(m.segment_count(), 3, "{file}");
        checked += 1;
    }

    // HAPI testUnescape: MSH-3 `\F\` is the field separator.
    let file = "hapi-hl7v2/inline/NewPipeParserTest__testUnescape__L1076.hl7";
    if let Some(bytes) = corpus_file(&root, file) {
        assert_eq!(
            text_at(&first_message(file, &bytes), "MSH-3"),
            "|",
            "{file}"
        );
        checked += 1;
    }

    // HAPI: field separator `^`, MSH-2 `~|\&` (component `~`, repetition `|`).
    for (file, message_type) in [
        ("hapi-hl7v2/files/segmentfinder_a24.hl7", ("ADT", "A24")),
        (
            "hapi-hl7v2/inline/NewPipeParserTest__testNonPipeDelimitor__L1184.hl7",
            ("ORU", "R01"),
        ),
    ] {
        if let Some(bytes) = corpus_file(&root, file) {
            let m = first_message(file, &bytes);
            let d = m.delimiters();
            assert_eq!(
                (d.field, d.component, d.repetition),
                (b'^', b'~', b'|'),
                "{file}"
            );
            assert_eq!(
                (m.message_type().as_ref(), m.trigger_event().as_ref()),
                message_type,
                "{file}"
            );
            checked += 1;
        }
    }

    // HAPI: the escaped and unescaped forms of an 85 KB uuencoded payload. `\X0D\\X0A\` is CR LF;
    // the unescaped file keeps LF line ends.
    if let (Some(escaped), Some(plain)) = (
        corpus_file(&root, "hapi-hl7v2/fragments/uuencoded_escaped.txt"),
        corpus_file(&root, "hapi-hl7v2/fragments/uuencoded.txt"),
    ) {
        let decoded = unescape(&escaped, &Delimiters::default());
        let decoded = String::from_utf8_lossy(&decoded).replace("\r\n", "\n");
        assert!(
            decoded.as_bytes() == plain.as_slice(),
            "hapi-hl7v2/fragments: unescaping uuencoded_escaped.txt does not give uuencoded.txt"
        );
        checked += 1;
    }

    // python-hl7: batch and file envelopes in every legal combination are written back as read.
    let suffix = |n: usize| if n == 0 { String::new() } else { n.to_string() };
    let envelopes = (0..=4)
        .map(|n| format!("python-hl7/valid/sample_batch{}.hl7", suffix(n)))
        .chain((0..=6).map(|n| format!("python-hl7/valid/sample_file{}.hl7", suffix(n))));
    for file in envelopes {
        if let Some(bytes) = corpus_file(&root, &file) {
            let batch =
                parse_batch(&bytes).unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
            assert_eq!(batch.to_bytes(), with_cr_terminators(&bytes), "{file}");
            checked += 1;
        }
    }

    println!("corpus values: {checked} checks passed");
}
