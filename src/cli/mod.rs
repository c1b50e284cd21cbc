//! The `ihub` command line: clap definitions and dispatch. Each subcommand lives in its own file
//! and returns `anyhow::Result`; this module turns errors into `error: …` on stderr and exit codes.

mod api_call;
mod conflicts;
mod fhir;
mod fhir_convert;
mod fhir_validate;
mod hl7;
mod messages;
mod run;
mod schema;
mod send;
mod test;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// `ihub`: the Integration Hub engine and its tools.
#[derive(Debug, Parser)]
#[command(name = "ihub", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without one, `ihub` runs the engine (`ihub run`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine: every enabled channel, the HTTP API and /metrics (the default).
    Run(RunArgs),
    /// List, show and replay stored messages through a running engine's API.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// List, show and resolve parked sync conflicts through a running engine's API.
    #[command(subcommand)]
    Conflicts(conflicts::ConflictsCommand),
    /// Inspect, convert and acknowledge HL7 v2 files.
    #[command(subcommand)]
    Hl7(Hl7Command),
    /// Send HL7 v2 files to an MLLP listener and print each ACK, or generate load with --count.
    Send(SendArgs),
    /// Check channel files and report every problem with file:line:col; exit 78 on errors.
    Validate(ValidateArgs),
    /// Run channel tests (`channels/<id>.test.toml`) without contacting any destination.
    Test(TestArgs),
    /// Print the JSON Schema of the channel file format, for editors.
    Schema,
    /// FHIR R4 tools: validate resources, convert HL7 v2 to FHIR.
    #[command(subcommand)]
    Fhir(fhir::FhirCommand),
}

/// `ihub test`: channel tests.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files or channel files, or directories of them (default: `channels`).
    #[arg(default_value = "channels")]
    pub paths: Vec<PathBuf>,
}

/// `ihub hl7 …`: offline tools over HL7 v2 files (one message, a stream, or a batch).
#[derive(Debug, Subcommand)]
pub enum Hl7Command {
    /// Print the decoded value of each PATH for each message, one per line.
    Get {
        /// The HL7 file; `-` reads standard input.
        file: PathBuf,
        /// Paths such as `PID-5.1`, `PID-3[2].4`, `OBX[3]-5`, `MSH-10`.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Print each message as JSON: segments → fields → repetitions → components → subcomponents.
    Json {
        /// The HL7 file; `-` reads standard input.
        file: PathBuf,
    },
    /// Print the ACK for each message.
    Ack {
        /// The HL7 file; `-` reads standard input.
        file: PathBuf,
        /// The acknowledgment code: AA, AE, AR (original mode) or CA, CE, CR (enhanced mode).
        #[arg(long, default_value = "AA")]
        code: String,
        /// Text for MSA-3 (and the ERR segment's diagnostic when the code is not an accept).
        #[arg(long)]
        text: Option<String>,
        /// The HL7 table 0357 error code for the ERR segment (e.g. 101 required field missing);
        /// without it a NAK reports 207 (application internal error).
        #[arg(long)]
        error_code: Option<u16>,
    },
    /// Split a batch or stream into one message per output.
    Split {
        /// The HL7 file; `-` reads standard input.
        file: PathBuf,
        /// Write `NNNNNN.hl7` files into this directory instead of printing to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `ihub send`: an MLLP client and load generator.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The listener to connect to, as HOST:PORT.
    pub addr: String,
    /// HL7 files to send (each may hold one message, a stream or a batch).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Load mode: send this many messages in all (cycling through the files), then print
    /// messages/s and p50/p99 latency instead of each ACK.
    #[arg(long)]
    pub count: Option<u64>,
    /// Number of concurrent connections in load mode.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Connect with TLS, trusting the CA certificate(s) in this PEM file.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Seconds to wait for each ACK.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

/// `ihub run`: settings from `ihub.toml` in the working directory, overridden by these flags.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// The channels directory [default: channels].
    #[arg(long)]
    pub channels: Option<PathBuf>,
    /// The data directory for the store [default: data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The HTTP API and /metrics address [default: 127.0.0.1:8080].
    #[arg(long)]
    pub api: Option<SocketAddr>,
    /// The store backend: redb (default) or sled (built with `--features sled`).
    #[arg(long)]
    pub backend: Option<String>,
    /// How often to look for changed channel files, in milliseconds [default: 1000].
    #[arg(long, hide = true)]
    pub reload_ms: Option<u64>,
}

/// `ihub messages …`: the message API of a running engine.
#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// List a channel's messages, newest first.
    List {
        /// The channel id.
        channel: String,
        /// Only this status: received, filtered, queued, sent, error.
        #[arg(long)]
        status: Option<String>,
        /// Only this control id (MSH-10).
        #[arg(long)]
        control_id: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
    /// Show one message: every stage, destination and attempt.
    Show {
        /// The message id.
        id: u64,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
    /// Queue a message again, for every destination or one.
    Replay {
        /// The message id.
        id: u64,
        /// Only this destination.
        #[arg(long)]
        destination: Option<String>,
        /// The engine's API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
    },
}

/// `ihub validate`: the checks startup runs, without starting anything.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Channel files, or directories of them (every `*.toml` except `*.test.toml`).
    #[arg(default_value = "channels")]
    pub paths: Vec<PathBuf>,
    /// Fail (exit 78) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run::run(RunArgs::default()),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Messages(command)) => messages::run(command),
        Some(Command::Conflicts(command)) => conflicts::run(command),
        Some(Command::Hl7(cmd)) => hl7::run(cmd),
        Some(Command::Send(args)) => send::run(args),
        Some(Command::Validate(args)) => validate::run(args),
        Some(Command::Test(args)) => test::run(args),
        Some(Command::Schema) => schema::run(),
        Some(Command::Fhir(command)) => fhir::run(command),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
