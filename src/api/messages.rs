//! `/api/channels/{id}/messages` and `/api/messages/{id}`: find messages, see every stage and
//! attempt, replay.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::engine::Engine;
use crate::store::{MessageFilter, MessageStatus, StoredMessage};

/// Query parameters of the message list.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    control_id: Option<String>,
    since: Option<u64>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(engine): State<Arc<Engine>>,
    Path(channel): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match &query.status {
        Some(s) => Some(
            s.parse::<MessageStatus>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
        None => None,
    };
    let filter = MessageFilter {
        channel: Some(channel),
        status,
        message_type: query.message_type,
        control_id: query.control_id,
        since_ms: query.since,
        limit: Some(query.limit.unwrap_or(100).min(10_000)),
    };
    let summaries = engine.store.list(&filter)?;
    let out: Vec<Value> = summaries
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id,
                "channel": m.channel,
                "received_at_ms": m.received_at_ms,
                "status": m.status.to_string(),
                "type": m.meta.message_type,
                "trigger": m.meta.trigger,
                "control_id": m.meta.control_id,
                "error": m.error,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

pub(super) async fn show(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let message = engine
        .store
        .message(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no message {id}")))?;
    Ok(Json(describe(&message)))
}

/// Query of a replay: one destination, or all.
#[derive(Debug, Deserialize)]
pub(super) struct ReplayQuery {
    destination: Option<String>,
}

pub(super) async fn replay(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<u64>,
    Query(query): Query<ReplayQuery>,
) -> Result<Json<Value>, ApiError> {
    let message = engine
        .store
        .message(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no message {id}")))?;
    if let Some(name) = &query.destination
        && !message.destinations.iter().any(|d| &d.destination == name)
    {
        return Err(ApiError::BadRequest(format!(
            "message {id} has no destination \"{name}\""
        )));
    }
    engine
        .store
        .replay(id, query.destination.as_deref())
        .await?;
    Ok(Json(
        json!({ "id": id, "replayed": query.destination.map_or_else(|| json!("all"), |d| json!(d)) }),
    ))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\r', "\n")
}

fn describe(m: &StoredMessage) -> Value {
    let destinations: Vec<Value> = m
        .destinations
        .iter()
        .map(|d| {
            let attempts: Vec<Value> = d
                .attempts
                .iter()
                .map(|a| json!({ "at_ms": a.at_ms, "ok": a.ok, "duration_ms": a.duration_ms, "error": a.error, "response": a.response.as_deref().map(text) }))
                .collect();
            json!({ "name": d.destination, "status": d.status.to_string(), "payload": text(&d.payload), "not_before_ms": d.not_before_ms, "attempts": attempts })
        })
        .collect();
    json!({
        "id": m.id,
        "channel": m.channel,
        "peer": m.peer,
        "received_at_ms": m.received_at_ms,
        "updated_at_ms": m.updated_at_ms,
        "status": m.status.to_string(),
        "error": m.error,
        "type": m.meta.message_type,
        "trigger": m.meta.trigger,
        "control_id": m.meta.control_id,
        "patient_id": m.meta.patient_id,
        "raw": text(&m.raw),
        "transformed": m.transformed.as_deref().map(text),
        "destinations": destinations,
    })
}
