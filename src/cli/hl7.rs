//! `ihub hl7 get|json|ack|split`: offline tools over HL7 files for analysts and scripts.
//!
//! Output meant for a terminal ends segments with `\n` so it reads well; piped or redirected
//! output ends them with `\r`, so it is exact HL7 that other tools (and `ihub` itself) accept.

use std::borrow::Cow;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::Hl7Command;
use crate::hl7::{self, Ack, AckCode, ErrorCode, Message, Path, Severity};

/// Runs one `ihub hl7` subcommand.
pub fn run(cmd: Hl7Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Hl7Command::Get { file, paths } => get(&file, &paths),
        Hl7Command::Json { file } => json(&file),
        Hl7Command::Ack {
            file,
            code,
            text,
            error_code,
        } => ack(&file, &code, text, error_code),
        Hl7Command::Split { file, out } => split(&file, out.as_deref()),
    }
}

/// Reads FILE, or standard input for `-`.
pub(crate) fn read_input(file: &FsPath) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        return Ok(bytes);
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Parses every message of a file, naming the file in the error.
fn messages<'a>(file: &FsPath, bytes: &'a [u8]) -> anyhow::Result<Vec<Message<'a>>> {
    hl7::parse_stream(bytes).map_err(|e| {
        let (line, column) = line_and_column(bytes, e.offset);
        anyhow::anyhow!("{}:{line}:{column}: {e}", display_name(file))
    })
}

/// The 1-based line and column of a byte offset, counting `\r`, `\n` and `\r\n` as line ends
/// (HL7 files use all three), so an editor can jump to the spot.
fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let mut line = 1;
    let mut line_start = 0;
    for (i, &b) in before.iter().enumerate() {
        let ends_line = b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n'));
        if ends_line {
            line += 1;
            line_start = i + 1;
        }
    }
    (line, offset - line_start + 1)
}

fn display_name(file: &FsPath) -> Cow<'_, str> {
    if file.as_os_str() == "-" {
        Cow::Borrowed("<stdin>")
    } else {
        file.to_string_lossy()
    }
}

fn get(file: &FsPath, paths: &[String]) -> anyhow::Result<ExitCode> {
    let mut parsed = Vec::with_capacity(paths.len());
    for path in paths {
        match Path::parse(path) {
            Ok(p) => parsed.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    for_each_message(file, |message| {
        for path in &parsed {
            out.write_all(message.get_path(path).text().as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How much of a file `for_each_message` reads at a time.
const CHUNK_BYTES: u64 = 4 << 20;

/// Calls `each` for every message of FILE, reading it in chunks that end where a message starts,
/// so a file of any size is read with one small reused buffer and no per-message allocation
/// beyond the parse. (Batch envelopes are checked within a chunk only: a BHS/BTS mismatch that
/// spans chunks is not reported here, though `split` and `json`, which read whole files, do.)
fn for_each_message(
    file: &FsPath,
    mut each: impl FnMut(&Message<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut reader: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
        )
    };
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK_BYTES as usize);
    let mut consumed = 0usize;
    loop {
        let read = reader
            .by_ref()
            .take(CHUNK_BYTES)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read {}", display_name(file)))?;
        let eof = (read as u64) < CHUNK_BYTES;
        let cut = if eof {
            buf.len()
        } else {
            match last_message_start(&buf) {
                Some(cut) => cut,
                None => continue, // one message larger than the buffer: read more of it
            }
        };
        if cut > 0 || consumed == 0 {
            let messages = hl7::parse_stream(&buf[..cut])
                .map_err(|e| locate_error(file, &buf, consumed, e))?;
            for message in &messages {
                each(message)?;
            }
        }
        if eof {
            return Ok(());
        }
        buf.drain(..cut);
        consumed += cut;
    }
}

/// The offset of the last line that starts a message, if it is not the first line.
fn last_message_start(buf: &[u8]) -> Option<usize> {
    // Look in a growing window at the end: a whole-buffer reverse search for a line-end style
    // the file does not use would scan every byte of every chunk.
    let mut window = 64 * 1024;
    loop {
        let from = buf.len().saturating_sub(window);
        let tail = &buf[from..];
        let cr = memchr::memmem::rfind(tail, b"\rMSH");
        let lf = memchr::memmem::rfind(tail, b"\nMSH");
        if let Some(i) = cr.max(lf) {
            return Some(from + i + 1);
        }
        if from == 0 {
            return None;
        }
        window *= 4;
    }
}

/// Turns a parse error in a chunk into `FILE:LINE:COL: …`, reading the file again up to the
/// error to count lines (only on this error path, so the happy path never counts).
fn locate_error(
    file: &FsPath,
    chunk: &[u8],
    consumed: usize,
    error: hl7::ParseError,
) -> anyhow::Error {
    let offset = consumed + error.offset;
    let prefix = if consumed == 0 {
        Some(chunk.to_vec())
    } else if file.as_os_str() != "-" {
        std::fs::read(file).ok()
    } else {
        None
    };
    match prefix {
        Some(bytes) => {
            let (line, column) = line_and_column(&bytes, offset);
            let error = hl7::ParseError { offset, ..error };
            anyhow::anyhow!("{}:{line}:{column}: {error}", display_name(file))
        }
        None => anyhow::anyhow!(
            "{}: {} (byte {offset} of the input)",
            display_name(file),
            error.message
        ),
    }
}

fn json(file: &FsPath) -> anyhow::Result<ExitCode> {
    let bytes = read_input(file)?;
    let messages = messages(file, &bytes)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if messages.len() > 1 {
        out.write_all(b"[\n")?;
    }
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        write_message_json(&mut out, &hl7::to_json(message))?;
    }
    out.write_all(if messages.len() > 1 { b"\n]\n" } else { b"\n" })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Pretty JSON with one segment per line: readable, and still valid JSON for scripts.
fn write_message_json(out: &mut impl Write, message: &serde_json::Value) -> anyhow::Result<()> {
    out.write_all(b"{\n")?;
    if let Some(object) = message.as_object() {
        for (key, value) in object.iter().filter(|(k, _)| *k != "segments") {
            writeln!(
                out,
                "  {}: {},",
                serde_json::to_string(key)?,
                serde_json::to_string(value)?
            )?;
        }
    }
    out.write_all(b"  \"segments\": [\n")?;
    let segments = message["segments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, segment) in segments.iter().enumerate() {
        let comma = if i + 1 < segments.len() { "," } else { "" };
        let name = serde_json::to_string(&segment["name"])?;
        let fields = serde_json::to_string(&segment["fields"])?;
        writeln!(out, "    {{\"name\": {name}, \"fields\": {fields}}}{comma}")?;
    }
    out.write_all(b"  ]\n}")?;
    Ok(())
}

fn ack(
    file: &FsPath,
    code: &str,
    text: Option<String>,
    error_code: Option<u16>,
) -> anyhow::Result<ExitCode> {
    let code: AckCode = code.parse().map_err(anyhow::Error::msg)?;
    let error = match error_code {
        Some(n) => Some(
            ErrorCode::from_number(n)
                .with_context(|| format!("--error-code {n} is not in HL7 table 0357"))?,
        ),
        None => None,
    };
    let bytes = read_input(file)?;
    let messages = messages(file, &bytes)?;
    let mut out = Vec::new();
    for message in &messages {
        let mut ack = Ack::new(code);
        if let Some(text) = &text {
            ack = ack.with_text(text.clone());
        }
        if let Some(error) = error {
            let severity = if code.is_accept() {
                Severity::Warning
            } else {
                Severity::Error
            };
            ack = ack.with_error(error, severity, text.clone().unwrap_or_default());
        }
        out.extend_from_slice(&hl7::build_ack_bytes(message, &ack));
    }
    write_hl7(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn split(file: &FsPath, out_dir: Option<&FsPath>) -> anyhow::Result<ExitCode> {
    let bytes = read_input(file)?;
    let messages = messages(file, &bytes)?;
    let Some(dir) = out_dir else {
        let mut out = Vec::new();
        for message in &messages {
            message.write_to(&mut out);
        }
        write_hl7(&out)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let width = messages.len().to_string().len().max(6);
    for (i, message) in messages.iter().enumerate() {
        let path: PathBuf = dir.join(format!("{:0width$}.hl7", i + 1));
        if path.exists() {
            bail!(
                "{} already exists; split into an empty directory",
                path.display()
            );
        }
        std::fs::write(&path, message.to_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!("{} message(s) written to {}", messages.len(), dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes HL7 in wire form, or with readable line ends on a terminal.
fn write_hl7(bytes: &[u8]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = stdout.lock();
    if terminal {
        let text: Vec<u8> = bytes
            .iter()
            .map(|&b| if b == b'\r' { b'\n' } else { b })
            .collect();
        out.write_all(&text)?;
    } else {
        out.write_all(bytes)?;
    }
    out.flush()?;
    Ok(())
}
