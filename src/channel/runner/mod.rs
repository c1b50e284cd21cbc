//! The channel pipeline: what happens to one message between the source and the queues.
//!
//! parse → duplicate check → filter → transform → destination transforms → **store
//! (durable)** → answer. Messages emitted by scripts are stored as messages of their own, and
//! the answer waits for them too (see `channel/scripted.rs` for the semantics).
//!
//! The answer (HL7 ACK, HTTP status, file move) is decided here but given by the source only
//! after [`Pipeline::receive`] returns, and that happens only after the store has made the
//! message and its queue entries durable. Every message is stored, whatever its fate: accepted,
//! filtered, duplicate or broken, so an analyst can always find out what happened to it.
//! Scripts run on the blocking pool, never on the reactor threads that serve the sockets.
//!
//! # Layout
//! - `pipeline`: the public types ([`Pipeline`], [`Route`], [`Disposition`]) and the entry
//!   points [`Pipeline::receive`], [`Pipeline::submit`] and [`Pipeline::receive_json`].
//! - `storing`: handing a message and its emitted children to the store writer, and settling
//!   messages that go to no destination.
//! - `answering`: the ACK or NAK for each outcome, and the acknowledgment codes.
//! - `duplicates`: the duplicate control-id check.
//! - `meters`: the handles of the metrics every message touches.

mod answering;
mod duplicates;
mod meters;
mod pipeline;
mod storing;

pub use super::stage::{ChannelMapping, TransformStage};
pub use meters::IntakeMeters;
pub use pipeline::{Answering, Disposition, Pipeline, Route, now_ms};
