//! Parse throughput of `ihub::hl7` next to a bare `memchr2` scan over the same bytes.
//!
//! ```text
//! cargo bench --bench hl7_parse -- --warm-up-time 1 --measurement-time 3
//! IHUB_BENCH_MESSAGES=/path/to/messages.hl7 cargo bench --bench hl7_parse -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! # Reading the ratio
//!
//! The goal is: parse, then read MSH-10, PID-5.1 and the whole OBX-5 of the last OBX, at
//! **≥ 0.3 × a bare `memchr2` scan** over every `\r` and `|` of the same bytes, both measured in
//! the same run. Every group below processes the same corpus once per iteration and reports
//! `Throughput::Bytes`, so
//!
//! ```text
//! ratio = thrpt(ihub_parse_read) / thrpt(scan_memchr2)
//!       = time(scan_memchr2)     / time(ihub_parse_read)     (per iteration)
//! ```
//!
//! Take the middle value of each `thrpt:` (or `time:`) line criterion prints. After the groups
//! have run, the bench also prints a summary with messages per second for each group and this
//! ratio, from the estimates criterion has just saved under `target/criterion/` (or
//! `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`); it is skipped when a filter or `--test`
//! left a group unmeasured. Compare ratios only within one run: the
//! absolute figures move with the load on the machine.
//!
//! # Groups
//!
//! - `scan_memchr2`: the limit: every `\r` and `|` position of each message via
//!   `memchr::memchr2_iter`, summed. No structure.
//! - `ihub_parse_read`: `Message::parse` of each message, then `get_path` of MSH-10 and PID-5.1
//!   (paths parsed once, outside the loop) and `segments_named("OBX").next_back()` → `field(5)`; the
//!   raw lengths of the three values are summed into a checksum.
//! - `ihub_parse_only`: `Message::parse` of each message, nothing read.
//! - `ihub_parse_stream`: `parse_stream` over all messages concatenated into one buffer.
//!
//! # Corpus
//!
//! By default, 20 messages built from the crate's `samples/` in the mix 8 ADT^A01, 6 ORU^R01,
//! 3 ORM^O01, 2 SIU^S12, 1 MDM^T02 (40/30/15/10/5 %), each copy with its own MSH-10, segments
//! ended by `\r`. When `IHUB_BENCH_MESSAGES` names a file of one message per line (segments
//! ended by `\r`, messages by `\n`), its messages are used instead, byte for byte, so the
//! checksum can be compared with other implementations run on the same file.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::SystemTime;

use criterion::{Criterion, Throughput};
use ihub::hl7::{Message, Path, parse_stream};

/// The sample files and how many copies of each go into the default corpus.
const MIX: &[(&str, usize)] = &[
    ("adt_a01.hl7", 8),
    ("oru_r01.hl7", 6),
    ("orm_o01.hl7", 3),
    ("siu_s12.hl7", 2),
    ("mdm_t02.hl7", 1),
];

const GROUPS: [&str; 4] = [
    "scan_memchr2",
    "ihub_parse_read",
    "ihub_parse_only",
    "ihub_parse_stream",
];

struct Corpus {
    /// Shown as the benchmark id under each group, so runs on different corpora stay apart.
    label: String,
    messages: Vec<Vec<u8>>,
    /// All messages back to back, for `parse_stream`.
    concatenated: Vec<u8>,
}

impl Corpus {
    fn bytes(&self) -> usize {
        self.messages.iter().map(Vec::len).sum()
    }
}

fn load_corpus() -> Corpus {
    let (label, messages) = match std::env::var_os("IHUB_BENCH_MESSAGES") {
        Some(path) => {
            let path = PathBuf::from(path);
            let text = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("IHUB_BENCH_MESSAGES={}: {e}", path.display()));
            let messages: Vec<Vec<u8>> = text
                .split(|&b| b == b'\n')
                .filter(|line| !line.trim_ascii().is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            assert!(
                !messages.is_empty(),
                "IHUB_BENCH_MESSAGES={}: no messages",
                path.display()
            );
            let label = path
                .file_stem()
                .map_or_else(|| "file".into(), |s| s.to_string_lossy().into_owned());
            (label, messages)
        }
        None => ("samples".to_string(), sample_mix()),
    };
    let concatenated = messages.concat();
    Corpus {
        label,
        messages,
        concatenated,
    }
}

/// The default corpus: the mix of `MIX`, interleaved, each copy with a distinct MSH-10.
fn sample_mix() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut kinds: Vec<(Vec<u8>, usize)> = MIX
        .iter()
        .map(|&(name, copies)| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("reading sample {}: {e}", path.display()));
            (normalize(&bytes), copies)
        })
        .collect();
    let mut messages = Vec::new();
    // Round-robin over the kinds that still have copies left: a fixed, mixed order.
    while kinds.iter().any(|(_, left)| *left > 0) {
        for (sample, left) in kinds.iter_mut().filter(|(_, left)| *left > 0) {
            *left -= 1;
            let copy = messages.len() + 1;
            messages.push(with_control_id_suffix(sample, copy));
        }
    }
    messages
}

/// One message in the line format: non-blank segments, each ended by `\r`, no `\n`.
fn normalize(bytes: &[u8]) -> Vec<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for segment in bytes
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|s| !s.trim_ascii().is_empty())
    {
        out.extend_from_slice(segment);
        out.push(b'\r');
    }
    out
}

/// The message with `-NNN` appended to MSH-10 (the field after the ninth field separator).
fn with_control_id_suffix(message: &[u8], copy: usize) -> Vec<u8> {
    let header_end = memchr::memchr(b'\r', message).unwrap_or(message.len());
    let sep = message[3];
    let mut seps = memchr::memchr_iter(sep, &message[..header_end]);
    let end = seps
        .nth(9)
        .unwrap_or_else(|| panic!("sample has no MSH-10 field"));
    let mut out = Vec::with_capacity(message.len() + 4);
    out.extend_from_slice(&message[..end]);
    out.extend_from_slice(format!("-{copy:03}").as_bytes());
    out.extend_from_slice(&message[end..]);
    out
}

fn scan_memchr2(messages: &[Vec<u8>]) -> usize {
    messages
        .iter()
        .map(|m| memchr::memchr2_iter(b'\r', b'|', black_box(m)).count())
        .sum()
}

struct Paths {
    msh10: Path,
    pid51: Path,
}

/// Lengths of MSH-10, PID-5.1 and the whole OBX-5 of the last OBX, as written.
fn parse_read(messages: &[Vec<u8>], paths: &Paths) -> usize {
    let mut sum = 0;
    for m in messages {
        let msg = Message::parse(black_box(m)).expect("corpus message parses");
        sum += msg.get_path(&paths.msh10).raw().len();
        sum += msg.get_path(&paths.pid51).raw().len();
        if let Some(obx) = msg.segments_named("OBX").next_back() {
            sum += obx.field(5).raw().len();
        }
    }
    sum
}

fn parse_only(messages: &[Vec<u8>]) -> usize {
    messages
        .iter()
        .map(|m| {
            Message::parse(black_box(m))
                .expect("corpus message parses")
                .segment_count()
        })
        .sum()
}

fn parse_all(concatenated: &[u8]) -> usize {
    parse_stream(black_box(concatenated))
        .expect("corpus parses as a stream")
        .len()
}

fn benches(c: &mut Criterion, corpus: &Corpus) {
    let paths = Paths {
        msh10: Path::parse("MSH-10").expect("valid path"),
        pid51: Path::parse("PID-5.1").expect("valid path"),
    };
    let bytes = corpus.bytes() as u64;
    let id = corpus.label.as_str();
    let messages = corpus.messages.as_slice();

    let checksum = parse_read(messages, &paths);
    assert!(checksum > 0, "checksum is zero: nothing was read");
    let delimiters = scan_memchr2(messages);
    let streamed = parse_all(&corpus.concatenated);
    assert_eq!(streamed, messages.len(), "parse_stream finds every message");
    println!(
        "corpus `{id}`: {} messages, {bytes} bytes ({:.0} B/message); \
         checksum (MSH-10 + PID-5.1 + last OBX-5 lengths) = {checksum}; \
         `\\r`/`|` positions = {delimiters}",
        messages.len(),
        bytes as f64 / messages.len() as f64,
    );

    let mut group = c.benchmark_group("scan_memchr2");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(id, |b| b.iter(|| scan_memchr2(messages)));
    group.finish();

    let mut group = c.benchmark_group("ihub_parse_read");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(id, |b| b.iter(|| parse_read(messages, &paths)));
    group.finish();

    let mut group = c.benchmark_group("ihub_parse_only");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(id, |b| b.iter(|| parse_only(messages)));
    group.finish();

    let mut group = c.benchmark_group("ihub_parse_stream");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(id, |b| b.iter(|| parse_all(&corpus.concatenated)));
    group.finish();
}

/// Nanoseconds per iteration criterion saved for `group/id`, if written after `since`.
fn saved_estimate(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("criterion"))
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/criterion"));
    let file = home.join(group).join(id).join("new/estimates.json");
    if std::fs::metadata(&file).ok()?.modified().ok()? < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    ["slope", "mean"]
        .iter()
        .find_map(|k| json.get(k)?.get("point_estimate")?.as_f64())
}

fn summary(corpus: &Corpus, since: SystemTime) {
    let id = corpus.label.as_str();
    let Some(times) = GROUPS
        .iter()
        .map(|g| saved_estimate(g, id, since))
        .collect::<Option<Vec<f64>>>()
    else {
        return;
    };
    let n = corpus.messages.len() as f64;
    let mb = corpus.bytes() as f64 / 1e6;
    println!("\nsummary for corpus `{id}` (1 MB = 10^6 B):");
    for (group, ns) in GROUPS.iter().zip(&times) {
        let secs = ns / 1e9;
        println!(
            "  {group:<18} {:>12.0} msgs/s {:>9.1} MB/s",
            n / secs,
            mb / secs
        );
    }
    println!(
        "  ratio ihub_parse_read / scan_memchr2 = {:.3} (goal ≥ 0.3)",
        times[0] / times[1]
    );
}

fn main() {
    let corpus = load_corpus();
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &corpus);
    c.final_summary();
    summary(&corpus, started);
}
