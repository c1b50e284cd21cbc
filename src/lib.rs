//! Integration Hub (`ihub`): a healthcare integration engine.
//!
//! # Layout
//! - [`hl7`]: the HL7 v2 message model: a zero-copy parser, paths such as `PID-3[2].4.2`,
//!   escapes, character sets, the builder and serializer, ACK/NAK and batches. Pure: no I/O.
//! - [`mllp`]: MLLP framing (`<VT> payload <FS><CR>`) as a tokio-util codec, and a client.
//! - [`metrics`]: the name of every exported metric, and the Prometheus recorder.
//! - [`script`]: the Rhai sandbox: channel filters and transform scripts over `msg`, with
//!   operation, size and wall-clock limits.
//! - [`destination`]: delivery to MLLP, HTTP and file destinations, each answer classified as
//!   delivered, retry or reject, and the jittered exponential [`destination::RetryPolicy`].
//! - [`store`]: the durable store: messages, per-destination queues, group commit; redb or sled.
//! - [`channel`]: channel files (`channels/*.toml`): the raw model, loading and validation with
//!   file:line:col diagnostics, and the validated [`channel::ChannelSpec`] the runtime starts.
//! - [`source`]: where messages come in: MLLP, HTTP and file sources feeding a channel pipeline.
//! - [`engine`]: the running engine: channels started from their specs, delivery workers, hot
//!   reload and graceful shutdown.
//! - [`api`]: the HTTP API (channels, messages, replay) and `/metrics`.
//! - [`mapping`]: field mappings (JSONPath and HL7 paths), transform functions, record
//!   validation and conflict resolution.
//! - [`fhir`]: FHIR R4 resources, validation, HL7 v2 ⇄ FHIR conversion and the FHIR client.
//! - [`cli`]: the `ihub` subcommands; `main.rs` only parses arguments and maps errors to exit codes.

pub mod api;
pub mod channel;
pub mod cli;
pub mod destination;
pub mod engine;
pub mod fhir;
pub mod hl7;
pub mod mapping;
pub mod metrics;
pub mod mllp;
pub mod script;
pub mod source;
pub mod store;
