//! The script stage of the pipeline: the channel's filter and transform, then each
//! destination's transform, and the messages they emit, worked out into what to store and
//! queue. Synchronous (scripts block): the pipeline calls [`run_scripts`] on the blocking pool.
//!
//! Semantics (documented for analysts in `scripts/README.md`; mappings in `channels/README.md`):
//! - The filter sees the message as received; `false` (or `drop`) filters it.
//! - A transform's `mapping` runs before its script, on the same message (see `stage.rs`).
//! - The channel transform changes `msg`, may `drop` it and may `emit` more messages. Emitted
//!   messages are new messages: each goes through every destination's transform and is stored
//!   and queued on its own, whether or not the script dropped the original (emit one message
//!   per OBR, then `drop("split")`).
//! - A destination transform runs on what that destination would get (the transformed
//!   message, or the original with `send_original`); its `drop` means this destination does
//!   not get it; what it emits goes to this destination only.
//! - Any script or mapping error fails the whole message: nothing is queued, nothing emitted
//!   is kept.

use bytes::Bytes;
use std::cell::OnceCell;

use super::runner::Route;
use super::stage::TransformStage;
use crate::script::{Filter, Payload, TransformOutcome};
use crate::store::NewDelivery;

/// What the scripts decided for one message.
#[derive(Debug)]
pub(crate) enum Scripted {
    /// The message goes on: what each destination gets, and what was emitted.
    Continue {
        /// The message after the channel transform, when there is one.
        transformed: Option<Vec<u8>>,
        /// One queue entry per destination that takes it, in route order.
        deliveries: Vec<NewDelivery>,
        /// Why the destinations that do not take it dropped it, `destination: reason`.
        dropped_by: Vec<String>,
        /// Emitted messages, each with its own deliveries.
        children: Vec<Child>,
    },
    /// The filter refused it, or the channel transform dropped it (perhaps after emitting).
    Filtered {
        /// Why, for the stored status.
        reason: String,
        /// Emitted messages, still stored and queued.
        children: Vec<Child>,
    },
    /// A script or mapping failed: the reason names the script, line and column, or the
    /// mapping file and every field that did not map.
    Error(String),
}

/// A message a script emitted, and where it goes.
#[derive(Debug)]
pub(crate) struct Child {
    /// The message.
    pub message: Payload,
    /// Its queue entries (destination transforms already applied).
    pub deliveries: Vec<NewDelivery>,
    /// Why destinations that do not take it dropped it.
    pub dropped_by: Vec<String>,
}

/// Runs the filter, the channel transform and the destinations' transforms on `original`,
/// whose bytes as received are `received` (what `send_original` destinations get).
pub(crate) fn run_scripts(
    filter: Option<&Filter>,
    transform: Option<&TransformStage>,
    routes: &[Route],
    original: Payload,
    received: &[u8],
    control_id: &str,
) -> Scripted {
    match try_scripts(filter, transform, routes, original, received, control_id) {
        Ok(scripted) => scripted,
        Err(reason) => Scripted::Error(reason),
    }
}

fn try_scripts(
    filter: Option<&Filter>,
    transform: Option<&TransformStage>,
    routes: &[Route],
    original: Payload,
    received: &[u8],
    control_id: &str,
) -> Result<Scripted, String> {
    if let Some(filter) = filter {
        let accepted = filter
            .accepts_payload(&original, control_id.to_string())
            .map_err(|e| format!("filter: {e}"))?;
        if !accepted {
            return Ok(Scripted::Filtered {
                reason: "the channel filter did not accept it".into(),
                children: Vec::new(),
            });
        }
    }
    let (outcome, message, emitted) = match transform {
        Some(t) => {
            let run = t
                .run(original.clone(), control_id.to_string())
                .map_err(|e| format!("transform: {e}"))?;
            (run.outcome, run.message, run.emitted)
        }
        None => (TransformOutcome::Continue, original.clone(), Vec::new()),
    };
    let mut children = Vec::new();
    for child in emitted {
        let id = control_id_of(&child);
        let routed = route(routes, &child, &child, None, &id)?;
        children.push(Child {
            message: child,
            deliveries: routed.deliveries,
            dropped_by: routed.dropped_by,
        });
        children.extend(routed.children);
    }
    match outcome {
        TransformOutcome::Dropped(reason) => Ok(Scripted::Filtered {
            reason: format!("dropped by the transform: {reason}"),
            children,
        }),
        TransformOutcome::Continue => {
            let routed = route(routes, &message, &original, Some(received), control_id)?;
            children.extend(routed.children);
            Ok(Scripted::Continue {
                transformed: transform.map(|_| message.to_bytes()),
                deliveries: routed.deliveries,
                dropped_by: routed.dropped_by,
                children,
            })
        }
    }
}

/// What the destinations make of one message.
struct Routed {
    deliveries: Vec<NewDelivery>,
    dropped_by: Vec<String>,
    children: Vec<Child>,
}

/// Runs each destination's transform on `message` (or on `original`, for `send_original`;
/// a destination without a transform then gets `received`, the bytes as they came in).
fn route(
    routes: &[Route],
    message: &Payload,
    original: &Payload,
    received: Option<&[u8]>,
    control_id: &str,
) -> Result<Routed, String> {
    let mut routed = Routed {
        deliveries: Vec::new(),
        dropped_by: Vec::new(),
        children: Vec::new(),
    };
    // Each form is serialized once, however many destinations take it.
    let (message_bytes, original_bytes) = (OnceCell::new(), OnceCell::new());
    for r in routes {
        let base = if r.send_original { original } else { message };
        let Some(transform) = &r.transform else {
            let bytes = if r.send_original {
                original_bytes.get_or_init(|| {
                    received.map_or_else(|| original.to_bytes().into(), Bytes::copy_from_slice)
                })
            } else {
                message_bytes.get_or_init(|| Bytes::from(message.to_bytes()))
            };
            routed.deliveries.push(NewDelivery {
                destination: r.name.clone(),
                payload: bytes.clone(),
            });
            continue;
        };
        let run = transform
            .run(base.clone(), control_id.to_string())
            .map_err(|e| format!("destination \"{}\": transform: {e}", r.name))?;
        match run.outcome {
            TransformOutcome::Continue => routed.deliveries.push(NewDelivery {
                destination: r.name.clone(),
                payload: run.message.to_bytes().into(),
            }),
            TransformOutcome::Dropped(reason) => {
                routed.dropped_by.push(format!("{}: {reason}", r.name));
            }
        }
        // What a destination transform emits goes to that destination only, as it is.
        for extra in run.emitted {
            routed.children.push(Child {
                deliveries: vec![NewDelivery {
                    destination: r.name.clone(),
                    payload: extra.to_bytes().into(),
                }],
                message: extra,
                dropped_by: Vec::new(),
            });
        }
    }
    Ok(routed)
}

/// A message that meets no script: every destination gets `bytes` as they are.
pub(crate) fn unscripted(routes: &[Route], bytes: Bytes) -> Scripted {
    Scripted::Continue {
        transformed: None,
        deliveries: routes
            .iter()
            .map(|r| NewDelivery {
                destination: r.name.clone(),
                payload: bytes.clone(),
            })
            .collect(),
        dropped_by: Vec::new(),
        children: Vec::new(),
    }
}

/// MSH-10 of an HL7 message, empty for JSON.
pub(crate) fn control_id_of(message: &Payload) -> String {
    match message {
        Payload::Hl7(buf) => buf.as_message().control_id().into_owned(),
        Payload::Json(_) => String::new(),
    }
}
