//! Handles of the metrics every message touches, registered once per channel on first use.
//!
//! Why: `metrics::counter!` with labels clones the channel name, builds the label set, hashes
//! it and looks it up in the registry under a lock, for every message. A handle does none of
//! that. Registered on first use, not at construction, so a pipeline built before the
//! Prometheus recorder is installed still reports.

use std::sync::OnceLock;

use metrics::Counter;

use super::Route;
use crate::hl7::AckCode;

/// The per-message counters of one channel.
#[derive(Default)]
pub struct IntakeMeters {
    received: OnceLock<Counter>,
    /// By [`AckCode`], in declaration order.
    acks: [OnceLock<Counter>; 6],
    /// Per route, in the channel's destination order.
    enqueued: OnceLock<Vec<Counter>>,
}

impl IntakeMeters {
    /// Messages received on `channel`.
    pub(super) fn received(&self, channel: &str) -> &Counter {
        self.received.get_or_init(
            || metrics::counter!(crate::metrics::RECEIVED, "channel" => channel.to_owned()),
        )
    }

    /// Messages queued for each of `routes` (a pipeline's routes never change).
    pub(super) fn enqueued(&self, channel: &str, routes: &[Route]) -> &[Counter] {
        self.enqueued.get_or_init(|| {
            routes
                .iter()
                .map(|route| {
                    metrics::counter!(crate::metrics::ENQUEUED, "channel" => channel.to_owned(), "destination" => route.name.clone())
                })
                .collect()
        })
    }

    /// Acknowledgments with `code` sent on `channel`.
    pub(super) fn ack(&self, channel: &str, code: AckCode) -> &Counter {
        let slot = match code {
            AckCode::AA => &self.acks[0],
            AckCode::AE => &self.acks[1],
            AckCode::AR => &self.acks[2],
            AckCode::CA => &self.acks[3],
            AckCode::CE => &self.acks[4],
            AckCode::CR => &self.acks[5],
        };
        slot.get_or_init(|| {
            metrics::counter!(crate::metrics::ACKS_SENT, "channel" => channel.to_owned(), "code" => code.as_str())
        })
    }
}
