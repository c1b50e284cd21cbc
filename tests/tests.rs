//! The one integration-test binary: everything that opens a socket, runs the `ihub` binary or
//! reads files outside the crate lives here, one module per area.

// Test helpers may panic on setup failures: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Samples and the ACKs `ihub hl7 ack` builds, validated strictly by hl7apy (skips without it).
mod oracle_hl7apy;

// `ihub send` and the MLLP codec over real sockets on 127.0.0.1:0.
mod mllp_send;

// `ihub hl7 get|json|ack|split` on files and standard input, exit codes and error text.
mod cli_hl7;

// Every file of an external HL7 v2 corpus ($HL7_CORPUS_DIR) parses or fails cleanly (skips without it).
mod conformance_corpus;

// The MLLP listener: ordering, bad frames, slow senders, connection limits, TLS and mTLS.
mod mllp_server;

// Destinations (MLLP plain and TLS, HTTP, file) against real receivers: every Outcome they classify.
mod destinations;

// The durable store on every backend in the build: data model, queues, pruning, group commit, kill -9.
mod store;

// Channel files: samples and valid fixtures load clean, invalid ones yield their pinned report; `ihub validate`.
mod channel_files;

// The engine in-process: MLLP/HTTP/file in, file/MLLP out, NAKs, scripts, duplicates, hot reload, API.
mod engine;

// The `ihub` binary as a child: kill -9 under load and restart, python-hl7 mllp_send, promtool, SIGTERM.
mod engine_process;

// The Rhai script API: README examples, segments, lookups, imports, emit, destination transforms, JSON.
mod scripts;
