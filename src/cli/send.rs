//! `ihub send`: send HL7 files to an MLLP listener and print each ACK, or, with `--count`,
//! generate load and print throughput and latency.
//!
//! Both modes read and split every file before connecting, so a bad file fails before anything
//! is sent, and the load numbers measure the network and the receiver, not our parser.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::SendArgs;
use crate::hl7::{Message, parse_stream};
use crate::mllp::{MllpClient, TlsClientConfig};

/// How many individual failures load mode prints before only counting them.
const MAX_REPORTED_ERRORS: usize = 10;

/// One message ready to go: its bytes, the control id its ACK must echo, and where it came from
/// (for error messages). Owned, because load-mode tasks outlive the file buffers.
struct Outgoing {
    bytes: Vec<u8>,
    control_id: String,
    origin: String,
}

/// What an ACK says, reduced to what `send` reports.
struct AckSummary {
    /// MSA-1: AA/AE/AR or CA/CE/CR.
    code: String,
    /// MSA-2: the control id of the message being acknowledged.
    control_id: String,
    /// MSA-3: free text, usually the reason for an AE/AR.
    text: String,
}

impl AckSummary {
    /// AA and CA are the two "accepted" codes (original and enhanced mode).
    fn accepted(&self) -> bool {
        matches!(self.code.as_str(), "AA" | "CA")
    }
}

/// Sends the files and prints each ACK (or load figures).
pub fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    if args.timeout_secs == 0 {
        bail!("--timeout-secs must be at least 1");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let messages = load_messages(&args.files)?;
    let tls = match &args.tls_ca {
        Some(path) => Some(TlsClientConfig::from_ca_pem(path).context("--tls-ca")?),
        None => None,
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match args.count {
        None => runtime.block_on(send_each(&args.addr, tls, &messages, timeout)),
        Some(count) => runtime.block_on(generate_load(
            &args.addr,
            tls,
            messages,
            count,
            args.connections,
            timeout,
        )),
    }
}

/// Reads and splits every file, in order.
fn load_messages(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<Outgoing>> {
    let mut out = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        let messages =
            parse_stream(&bytes).with_context(|| format!("{} is not valid HL7", path.display()))?;
        if messages.is_empty() {
            bail!("{} holds no HL7 message", path.display());
        }
        for (i, msg) in messages.iter().enumerate() {
            out.push(outgoing(path, i + 1, msg)?);
        }
    }
    Ok(out)
}

fn outgoing(path: &Path, number: usize, msg: &Message<'_>) -> anyhow::Result<Outgoing> {
    let origin = format!("{} message {number}", path.display());
    let control_id = msg
        .get("MSH-10")
        .with_context(|| format!("{origin}: reading MSH-10"))?
        .text()
        .into_owned();
    Ok(Outgoing {
        // `to_bytes` re-serialises with `\r` terminators, so files saved with LF or CRLF line
        // ends go out as valid HL7.
        bytes: msg.to_bytes(),
        control_id,
        origin,
    })
}

/// Reads MSA-1..3 from a reply frame.
fn read_ack(reply: &[u8]) -> anyhow::Result<AckSummary> {
    let ack = Message::parse(reply).context("the reply is not an HL7 message")?;
    let code = ack.get("MSA-1")?.text().into_owned();
    if code.is_empty() {
        bail!("the reply has no MSA-1 (acknowledgment code)");
    }
    Ok(AckSummary {
        code,
        control_id: ack.get("MSA-2")?.text().into_owned(),
        text: ack.get("MSA-3")?.text().into_owned(),
    })
}

/// Default mode: one connection, one message at a time, one `MSA-1 MSA-2` line per ACK.
/// Keeps going after a rejected message (the user wants to see every answer), but stops at a
/// transport failure, since the connection is then unusable.
async fn send_each(
    addr: &str,
    tls: Option<TlsClientConfig>,
    messages: &[Outgoing],
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let mut client = MllpClient::connect_timeout(addr, tls, timeout).await?;
    let mut stdout = std::io::stdout();
    let mut not_accepted = 0usize;
    for msg in messages {
        let reply = client
            .send(&msg.bytes, timeout)
            .await
            .with_context(|| format!("sending {} (MSH-10 {})", msg.origin, msg.control_id))?;
        match read_ack(&reply) {
            Ok(ack) => {
                writeln!(stdout, "{} {}", ack.code, ack.control_id)?;
                if !ack.accepted() {
                    not_accepted += 1;
                    let text = if ack.text.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", ack.text)
                    };
                    eprintln!(
                        "{} (MSH-10 {}) was not accepted: {}{text}",
                        msg.origin, msg.control_id, ack.code
                    );
                }
            }
            Err(error) => {
                not_accepted += 1;
                eprintln!("{} (MSH-10 {}): {error:#}", msg.origin, msg.control_id);
            }
        }
    }
    if not_accepted > 0 {
        eprintln!(
            "{not_accepted} of {} messages were not accepted by {addr}",
            messages.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// What one load-mode connection did.
#[derive(Default)]
struct WorkerReport {
    /// Messages taken from the shared counter and sent (whatever the outcome).
    sent: u64,
    /// Round-trip time of every exchange that got a reply.
    latencies: Vec<Duration>,
    /// Messages that failed: no reply, unreadable ACK, wrong MSA-2, or not AA/CA.
    errors: u64,
    /// The first few failures, for stderr.
    first_errors: Vec<String>,
}

impl WorkerReport {
    fn error(&mut self, why: String) {
        self.errors += 1;
        if self.first_errors.len() < MAX_REPORTED_ERRORS {
            self.first_errors.push(why);
        }
    }
}

/// Load mode: `connections` tasks share one counter of `count` messages; each sends its next
/// message only after the previous ACK, as MLLP requires, so concurrency = connections.
async fn generate_load(
    addr: &str,
    tls: Option<TlsClientConfig>,
    messages: Vec<Outgoing>,
    count: u64,
    connections: usize,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    // Connect everything first: a wrong address or CA fails once and clearly, and connection
    // setup stays out of the throughput figure.
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(MllpClient::connect_timeout(addr, tls.clone(), timeout).await?);
    }
    let messages = Arc::new(messages);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for client in clients {
        tasks.push(tokio::spawn(worker(
            client,
            tls.clone(),
            Arc::clone(&messages),
            Arc::clone(&next),
            count,
            timeout,
        )));
    }
    let mut total = WorkerReport::default();
    for task in tasks {
        let report = task.await.context("a load-generator task failed")?;
        total.sent += report.sent;
        total.errors += report.errors;
        total.latencies.extend(report.latencies);
        for why in report.first_errors {
            if total.first_errors.len() < MAX_REPORTED_ERRORS {
                total.first_errors.push(why);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    total.latencies.sort_unstable();
    let rate = if elapsed > 0.0 {
        total.sent as f64 / elapsed
    } else {
        0.0
    };
    println!(
        "sent {} messages over {connections} connections in {elapsed:.2} s: {rate:.0} msgs/s, \
         p50 {} ms, p99 {} ms, {} errors",
        total.sent,
        percentile_ms(&total.latencies, 50),
        percentile_ms(&total.latencies, 99),
        total.errors,
    );
    for why in &total.first_errors {
        eprintln!("  {why}");
    }
    if total.errors > MAX_REPORTED_ERRORS as u64 {
        eprintln!("  … and {} more", total.errors - MAX_REPORTED_ERRORS as u64);
    }
    if total.sent < count {
        eprintln!(
            "stopped early: {} of {count} messages sent (could not reconnect to {addr})",
            total.sent
        );
    }
    Ok(if total.errors == 0 && total.sent == count {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One connection's loop: take the next message number, send, check the ACK, repeat. After a
/// transport failure the connection may hold a late ACK, so it reconnects; if that fails the
/// worker stops and the others take over the remaining messages.
async fn worker(
    mut client: MllpClient,
    tls: Option<TlsClientConfig>,
    messages: Arc<Vec<Outgoing>>,
    next: Arc<AtomicU64>,
    count: u64,
    timeout: Duration,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= count {
            break;
        }
        // `messages` is never empty (load_messages refuses empty files), and n % len < len.
        let Some(msg) = usize::try_from(n % messages.len().max(1) as u64)
            .ok()
            .and_then(|i| messages.get(i))
        else {
            break;
        };
        report.sent += 1;
        let sent_at = Instant::now();
        match client.send(&msg.bytes, timeout).await {
            Ok(reply) => {
                report.latencies.push(sent_at.elapsed());
                match read_ack(&reply) {
                    Ok(ack) if ack.accepted() && ack.control_id == msg.control_id => {}
                    Ok(ack) => report.error(format!(
                        "{} (MSH-10 {}): ACK {} for MSH-10 {}",
                        msg.origin, msg.control_id, ack.code, ack.control_id
                    )),
                    Err(error) => report.error(format!(
                        "{} (MSH-10 {}): {error:#}",
                        msg.origin, msg.control_id
                    )),
                }
            }
            Err(error) => {
                report.error(format!(
                    "{} (MSH-10 {}): {:#}",
                    msg.origin,
                    msg.control_id,
                    anyhow::Error::from(error)
                ));
                match MllpClient::connect_timeout(client.addr(), tls.clone(), timeout).await {
                    Ok(fresh) => client = fresh,
                    Err(error) => {
                        report
                            .first_errors
                            .push(format!("{:#}", anyhow::Error::from(error)));
                        break;
                    }
                }
            }
        }
    }
    report
}

/// The `p`th percentile (nearest rank) of sorted latencies, in milliseconds, or `-` if none.
fn percentile_ms(sorted: &[Duration], p: usize) -> String {
    if sorted.is_empty() {
        return "-".to_owned();
    }
    // Nearest rank: the smallest value with at least p% of samples at or below it.
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    let index = rank.min(sorted.len()) - 1;
    sorted.get(index).map_or_else(
        || "-".to_owned(),
        |d| format!("{:.2}", d.as_secs_f64() * 1000.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile_ms(&samples, 50), "50.00");
        assert_eq!(percentile_ms(&samples, 99), "99.00");
        assert_eq!(percentile_ms(&ms(&[7]), 99), "7.00");
        assert_eq!(percentile_ms(&ms(&[1, 2]), 50), "1.00");
        assert_eq!(percentile_ms(&[], 50), "-");
    }
}
