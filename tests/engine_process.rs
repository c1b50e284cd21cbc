//! The `ihub` binary as a child process, driven the way an operator and a sending system drive
//! it: kill -9 under load and restart (nothing acknowledged is lost), python-hl7's `mllp_send`
//! as a real third-party client, `promtool check metrics` on `/metrics`, and SIGTERM with a
//! client connected (exit 0 within 10 s).
//!
//! Every test runs the binary in its own temporary directory on ports it picked by binding
//! 127.0.0.1:0 and releasing them. That leaves a short window in which another process could
//! take the port, so a start whose child exits before `READY` is retried on fresh ports. An
//! [`EngineProcess`] kills its child when dropped, so a failing assertion never leaves an
//! engine running. Timeouts are generous: these tests share two cores with a parallel build
//! and the other tests of this binary.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ihub::mllp::MllpClient;

/// How long a debug build may take from spawn to `READY` on a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one MLLP exchange may take (a durable ACK waits for a disk sync).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Starts retried on fresh ports when the child dies before `READY` (a port taken meanwhile).
const START_ATTEMPTS: usize = 3;
/// The sample the single-message tests send, and its MSH-10.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/oru_r01.hl7");
const SAMPLE_CONTROL_ID: &str = "LAB20250318093512331";

/// A free loopback port: bind port 0, read what the OS chose, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One test's working directory: the channels folder, the store and the file destination's
/// output, all inside a temporary directory the engine runs in.
struct Workspace {
    /// Removed when the test ends (after the engine guard, which is declared later).
    dir: tempfile::TempDir,
    durability: &'static str,
}

impl Workspace {
    fn new(durability: &'static str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("channels")).unwrap();
        Workspace { dir, durability }
    }

    /// The file destination's folder; files are named after MSH-10.
    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// (Re)writes the one channel: MLLP on `mllp_port` into a `file` destination. The channel
    /// id stays the same across rewrites, so a restart on other ports finds its queue again.
    fn write_channel(&self, mllp_port: u16) {
        let channel = format!(
            "# Written by tests/engine_process.rs.\n\
             description = \"process test\"\n\
             durability = \"{durability}\"\n\
             \n\
             [source]\n\
             type = \"mllp\"\n\
             listen = \"127.0.0.1:{mllp_port}\"\n\
             \n\
             [[destination]]\n\
             name = \"archive\"\n\
             type = \"file\"\n\
             directory = \"out\"\n\
             filename = \"{{control_id}}.hl7\"\n",
            durability = self.durability,
        );
        fs::write(self.dir.path().join("channels/process.toml"), channel).unwrap();
    }

    /// Starts the binary on fresh ports (see [`START_ATTEMPTS`]) and waits for `READY`.
    fn start(&self) -> EngineProcess {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let mllp_port = free_port();
            let api_port = free_port();
            self.write_channel(mllp_port);
            let mut engine = EngineProcess::spawn(self.dir.path(), api_port, mllp_port);
            match engine.wait_ready() {
                Ok(()) => return engine,
                Err(reason) => failures.push(format!("{reason}\n{}", engine.log())),
            }
        }
        panic!(
            "the engine did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// The MSH-10 of every delivered file (the file name stem), after checking that the file's
    /// own MSH-10 matches its name. Hidden temporary files of a write in progress are skipped.
    fn delivered(&self) -> HashSet<String> {
        let Ok(entries) = fs::read_dir(self.out_dir()) else {
            return HashSet::new();
        };
        let mut delivered = HashSet::new();
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".hl7") else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            // Written by temp file + rename, so a visible file is complete.
            let content = fs::read(&path).unwrap();
            assert_eq!(
                control_id(&content),
                stem,
                "{name} holds another message's MSH-10"
            );
            delivered.insert(stem.to_owned());
        }
        delivered
    }
}

/// A running `ihub run` child. Dropping it kills the child (SIGKILL) and reaps it, so no test
/// leaves an engine behind, whatever fails.
struct EngineProcess {
    child: Child,
    /// Every stderr line so far, drained by a thread so the child never blocks on a full pipe.
    log: Arc<Mutex<Vec<String>>>,
    /// The MLLP source's address.
    mllp: SocketAddr,
    /// The HTTP API (and `/metrics`) address.
    api: SocketAddr,
}

impl EngineProcess {
    fn spawn(dir: &Path, api_port: u16, mllp_port: u16) -> EngineProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ihub"))
            .args(["run", "--channels", "channels", "--data", "data", "--api"])
            .arg(format!("127.0.0.1:{api_port}"))
            .current_dir(dir)
            // Plain log lines (no colour codes) at info, whatever the caller's environment says.
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        EngineProcess {
            child,
            log,
            mllp: SocketAddr::from(([127, 0, 0, 1], mllp_port)),
            api: SocketAddr::from(([127, 0, 0, 1], api_port)),
        }
    }

    /// Waits for the `READY` line; `Err` if the child exits first or it takes too long.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if self.log().contains("READY") {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // Give the reader thread a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("the engine exited before READY ({status})"));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("no READY within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log so far, one line per line.
    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, then reap.
    fn kill_9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }

    /// Polls for the exit status for at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        // Already reaped, or gone: both errors are fine here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// MSH-10 by plain splitting (deliberately not our HL7 parser): the tenth `|` item of the
/// first segment (MSH-1 is the separator itself, so item 9 is MSH-10).
fn control_id(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let msh = text.split(['\r', '\n']).next().unwrap_or_default();
    msh.split('|').nth(9).unwrap_or_default().to_owned()
}

/// MSA-1 and MSA-2 of an ACK, by plain splitting.
fn msa(ack: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(ack);
    let msa = text
        .split(['\r', '\n'])
        .find(|segment| segment.starts_with("MSA|"))?;
    let mut fields = msa.split('|').skip(1);
    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
}

/// A small ORU^R01 whose MSH-10 is `control_id`; `n` varies the content.
fn oru(control_id: &str, n: u64) -> Vec<u8> {
    format!(
        "MSH|^~\\&|LOADGEN|HOSP|IHUB|HOSP|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r\
         PID|1||{n}^^^HOSP^MR||DOE^JANE||19700101|F\r\
         OBR|1|ORD{n}||GLU^Glucose^L\r\
         OBX|1|NM|GLU^Glucose^L||{value}|mg/dL|70-99|N|||F\r",
        value = 70 + n % 50,
    )
    .into_bytes()
}

/// Sends one message on a fresh connection and returns MSA-1 (panics on anything else than an
/// ACK for that message).
async fn send_one(addr: SocketAddr, message: &[u8]) -> String {
    let mut client = MllpClient::connect(&addr.to_string(), None).await.unwrap();
    let reply = client.send(message, ACK_TIMEOUT).await.unwrap();
    let (code, acked) = msa(&reply).expect("the reply has an MSA segment");
    assert_eq!(acked, control_id(message), "MSA-2 names another message");
    code
}

/// Waits until `wanted` are all delivered or `limit` passes; returns what was delivered.
fn wait_delivered(
    workspace: &Workspace,
    wanted: &HashSet<String>,
    limit: Duration,
) -> HashSet<String> {
    let started = Instant::now();
    loop {
        let delivered = workspace.delivered();
        if wanted.is_subset(&delivered) || started.elapsed() > limit {
            return delivered;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state the load tasks share: every control id sent (before its send started) and every
/// one answered AA.
#[derive(Default)]
struct LoadLog {
    sent: Mutex<HashSet<String>>,
    acked: Mutex<HashSet<String>>,
}

/// One sender: its own connection, distinct control ids `K<task>-<n>`, one message at a time
/// (MLLP allows one outstanding message per connection). Stops at `stop`, on the first error
/// (the engine was killed) or after `max` messages.
async fn load_task(
    addr: SocketAddr,
    task: u64,
    max: u64,
    log: Arc<LoadLog>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut client) = MllpClient::connect(&addr.to_string(), None).await else {
        return;
    };
    for n in 0..max {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let id = format!("K{task}-{n}");
        log.sent.lock().unwrap().insert(id.clone());
        let Ok(reply) = client
            .send(&oru(&id, task * 1_000_000 + n), ACK_TIMEOUT)
            .await
        else {
            return;
        };
        match msa(&reply) {
            Some((code, acked)) if code == "AA" && acked == id => {
                log.acked.lock().unwrap().insert(id);
            }
            other => panic!("message {id} answered {other:?}"),
        }
    }
}

/// kill -9 of the engine in the middle of a load, restart on the same data directory: every
/// message answered AA reaches the file destination, and nothing arrives that was never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    kill_9_under_load("sync").await;
}

/// The same with `durability = "interval"`: its ACK waits for the journal `write` but not for
/// a disk sync, so a process crash (the page cache survives it) still loses nothing; only a
/// power cut or an operating-system crash can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_interval_durability_loses_nothing_acknowledged() {
    kill_9_under_load("interval").await;
}

async fn kill_9_under_load(durability: &'static str) {
    const TASKS: u64 = 4;
    const KILL_AFTER: usize = 200;
    let workspace = Workspace::new(durability);
    let mut engine = tokio::task::block_in_place(|| workspace.start());
    let log = Arc::new(LoadLog::default());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(load_task(
                engine.mllp,
                task,
                5_000,
                log.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // Wait for enough AAs, bounded: a load that stalls fails here with the engine's log.
    let started = Instant::now();
    while log.acked.lock().unwrap().len() < KILL_AFTER {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} AAs after 120 s; engine log:\n{}",
            log.acked.lock().unwrap().len(),
            engine.log()
        );
        assert!(
            tasks.iter().any(|t| !t.is_finished()),
            "every sender stopped early; engine log:\n{}",
            engine.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL while the senders are still sending.
    engine.kill_9();
    let at_kill = log.acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        // Each send fails at once on the closed connection; the timeout only bounds a bug.
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a sender did not stop after the kill")
            .unwrap();
    }
    // An ACK read just before the kill took effect counts: it was answered AA.
    let acked = log.acked.lock().unwrap().clone();
    let sent = log.sent.lock().unwrap().clone();
    let before_restart = workspace.delivered().len();

    drop(engine);
    let engine = tokio::task::block_in_place(|| workspace.start());
    // Generous: the restarted engine delivers the backlog one fdatasync'ed file at a time, on
    // two cores shared with the rest of the test suite.
    let restarted = Instant::now();
    let delivered =
        tokio::task::block_in_place(|| wait_delivered(&workspace, &acked, Duration::from_secs(60)));
    let waited = restarted.elapsed();

    let mut missing: Vec<&String> = acked.difference(&delivered).collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never delivered after restart, e.g. {:?}; engine log:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        engine.log()
    );
    let mut unknown: Vec<&String> = delivered.difference(&sent).collect();
    unknown.sort();
    assert!(
        unknown.is_empty(),
        "delivered messages that were never sent: {unknown:?}"
    );
    println!(
        "kill -9 under load ({durability}): acked {} ({at_kill} when killed), sent {}, delivered \
         {before_restart} before the kill, delivered {} after restart (all acknowledged present, \
         {:.1} s after restart)",
        acked.len(),
        sent.len(),
        delivered.len(),
        waited.as_secs_f64()
    );
}

/// The interpreter for python-hl7: `$IHUB_PYTHON` (`.ci/run` points it at a venv) or `python3`.
fn python() -> String {
    std::env::var("IHUB_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// `Err(reason)` when `python` cannot import python-hl7 (PyPI `hl7`).
fn python_hl7_available(python: &str) -> Result<(), String> {
    let output = Command::new(python)
        .args(["-c", "import hl7.client"])
        .output()
        .map_err(|error| format!("cannot run {python}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "{python}: {}",
        stderr.lines().last().unwrap_or("import failed").trim()
    ))
}

/// python-hl7 0.4.5's `mllp_send` (run as `python -m hl7.client`, the module behind the
/// `mllp_send` entry point) sends a sample to the engine and prints the ACK it got: AA for that
/// message's control id. `--loose` splits the file on `MSH|^~\&|` instead of expecting MLLP
/// frame bytes in it; our samples are bare messages.
#[test]
fn python_hl7_mllp_send_gets_aa() {
    let python = python();
    if let Err(reason) = python_hl7_available(&python) {
        println!("skipped: python-hl7 not installed ({reason})");
        return;
    }
    let workspace = Workspace::new("sync");
    let engine = workspace.start();
    let output = Command::new(&python)
        .args(["-m", "hl7.client", "--loose", "--file", SAMPLE, "--port"])
        .arg(engine.mllp.port().to_string())
        .arg("127.0.0.1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mllp_send failed ({}):\n{stdout}\n{stderr}\nengine log:\n{}",
        output.status,
        engine.log()
    );
    let expected = format!("MSA|AA|{SAMPLE_CONTROL_ID}");
    assert!(
        stdout.contains(&expected),
        "mllp_send printed no {expected}:\n{}",
        stdout.replace('\r', "\n")
    );
    // And the message went through the channel to its destination.
    let wanted = HashSet::from([SAMPLE_CONTROL_ID.to_owned()]);
    let delivered = wait_delivered(&workspace, &wanted, Duration::from_secs(30));
    assert!(
        delivered.contains(SAMPLE_CONTROL_ID),
        "not delivered; engine log:\n{}",
        engine.log()
    );
    println!(
        "python-hl7 mllp_send: {}",
        stdout.trim().replace('\r', " | ")
    );
}

/// `GET /metrics` after some traffic (accepted, rejected as unreadable, delivered) passes
/// `promtool check metrics`, Prometheus' own parser and linter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    if Command::new("promtool").arg("--version").output().is_err() {
        println!("skipped: promtool not found (Debian package `prometheus`; .ci/run installs it)");
        return;
    }
    let workspace = Workspace::new("sync");
    let engine = tokio::task::block_in_place(|| workspace.start());
    let mut wanted = HashSet::new();
    for n in 0..3 {
        let id = format!("PROM{n}");
        assert_eq!(send_one(engine.mllp, &oru(&id, n)).await, "AA");
        wanted.insert(id);
    }
    // Something that is not HL7: answered AR, counted as an error.
    let mut client = MllpClient::connect(&engine.mllp.to_string(), None)
        .await
        .unwrap();
    let reply = client.send(b"not hl7 at all", ACK_TIMEOUT).await.unwrap();
    assert_eq!(msa(&reply).map(|(code, _)| code).as_deref(), Some("AR"));
    // Wait for the deliveries so the destination series exist too.
    let delivered = tokio::task::block_in_place(|| {
        wait_delivered(&workspace, &wanted, Duration::from_secs(30))
    });
    assert!(wanted.is_subset(&delivered), "not all delivered");

    let url = format!("http://{}/metrics", engine.api);
    let response = reqwest::get(&url).await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let metrics = response.text().await.unwrap();
    for name in [
        "channel_received_messages_total",
        "mllp_acks_sent_total",
        "destination_sent_messages_total",
        "store_disk_bytes{part=\"journal\"}",
        "store_journal_segments",
        "store_commits_total",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- /metrics ---\n{metrics}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!(
        "promtool check metrics: ok ({} lines of /metrics)",
        metrics.lines().count()
    );
}

/// SIGTERM with a client connected (it has just been answered and keeps its connection open):
/// the engine stops and exits 0 within 10 s, and what it acknowledged is delivered after a
/// restart if it was not already.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_client_connected_exits_0() {
    let workspace = Workspace::new("sync");
    let mut engine = tokio::task::block_in_place(|| workspace.start());
    let mut client = MllpClient::connect(&engine.mllp.to_string(), None)
        .await
        .unwrap();
    let reply = client.send(&oru("TERM1", 1), ACK_TIMEOUT).await.unwrap();
    assert_eq!(msa(&reply), Some(("AA".to_owned(), "TERM1".to_owned())));

    // `kill -TERM`: std can only send SIGKILL, and a signal crate is not worth it for a test.
    let term = Command::new("kill")
        .args(["-TERM", &engine.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success(), "kill -TERM failed: {term}");
    let asked = Instant::now();
    let status = tokio::task::block_in_place(|| engine.wait_exit(Duration::from_secs(10)));
    let took = asked.elapsed();
    let Some(status) = status else {
        panic!("still running 10 s after SIGTERM; log:\n{}", engine.log());
    };
    assert!(
        status.success(),
        "exit status {status} after SIGTERM; log:\n{}",
        engine.log()
    );
    // The message it acknowledged was stored: a restart delivers it if it was not yet.
    let engine = tokio::task::block_in_place(|| workspace.start());
    let wanted = HashSet::from(["TERM1".to_owned()]);
    let delivered = tokio::task::block_in_place(|| {
        wait_delivered(&workspace, &wanted, Duration::from_secs(30))
    });
    assert!(
        delivered.contains("TERM1"),
        "TERM1 lost; log:\n{}",
        engine.log()
    );
    println!(
        "SIGTERM with a client connected: {status} after {} ms",
        took.as_millis()
    );
}
