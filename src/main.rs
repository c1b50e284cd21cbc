//! The `ihub` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: messages are allocated on one thread and freed on
/// another, which glibc serialises on its arena locks (Cargo.toml says what it measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Logs go to stderr; RUST_LOG overrides the default level (info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    ihub::cli::main()
}
