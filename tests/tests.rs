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

// `ihub test`: sample channels' tests pass; failing and malformed test files give their pinned report.
mod channel_tests;

// The engine in-process: MLLP/HTTP/file in, file/MLLP out, NAKs, scripts, duplicates, hot reload, API.
mod engine;

// The `ihub` binary as a child: kill -9 under load and restart, python-hl7 mllp_send, promtool, SIGTERM.
mod engine_process;

// Mapping files in mappings/: the sample maps a patient both ways; the README covers every function.
mod mapping_files;

// FHIR models and validation: corpus round trip ($FHIR_CORPUS_DIR), `ihub fhir validate` on samples.
mod fhir_model;

// HL7 v2 -> FHIR R4 on the samples, `ihub fhir convert`, FHIR -> ADT/ORM checked by hl7apy, and agreement with FHIR-Converter ($FHIR_CONVERTER_CORPUS_DIR).
mod fhir_convert;

// Every Bundle the converters make validates with the R4 JSON schema, Medplum and fhir.resources (skips without them).
mod fhir_peers;

// FHIR client, SMART Backend Services, FHIR destination: real FHIR + OAuth servers (skips without them).
mod fhir_client;

// The Rhai script API: README examples, segments, lookups, imports, emit, destination transforms, JSON.
mod scripts;
