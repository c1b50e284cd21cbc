//! Sources: where messages come in. Each kind frames bytes into messages and hands them to the
//! channel's [`Pipeline`](crate::channel::runner::Pipeline); it answers the sender only with what
//! the pipeline returns, which is decided after the message is durable.
//!
//! - [`mllp`]: HL7 over MLLP/TCP, optionally TLS or mutual TLS.
//! - [`http`]: HL7 or JSON over HTTP POST.
//! - [`file`](mod@file): files dropped in a directory, moved to `done/` or `error/` once stored.

pub mod file;
pub mod http;
pub mod mllp;
