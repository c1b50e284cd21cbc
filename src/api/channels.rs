//! `/api/channels`: what runs, with counters and queue depths; stop and start.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::ApiError;
use crate::engine::{ChannelSlot, Engine};

pub(super) async fn list(State(engine): State<Arc<Engine>>) -> Result<Json<Value>, ApiError> {
    let slots = engine.channels.lock().await;
    let mut out = Vec::with_capacity(slots.len());
    for (id, slot) in slots.iter() {
        out.push(describe(&engine, id, slot)?);
    }
    Ok(Json(Value::Array(out)))
}

pub(super) async fn show(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let slots = engine.channels.lock().await;
    let slot = slots
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no channel \"{id}\"")))?;
    Ok(Json(describe(&engine, &id, slot)?))
}

pub(super) async fn stop(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !engine.stop_by_id(&id).await {
        return Err(ApiError::NotFound(format!("no channel \"{id}\"")));
    }
    Ok(Json(json!({ "id": id, "running": false })))
}

pub(super) async fn start(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !engine.start_by_id(&id).await? {
        return Err(ApiError::NotFound(format!("no channel \"{id}\"")));
    }
    Ok(Json(json!({ "id": id, "running": true })))
}

fn describe(engine: &Engine, id: &str, slot: &ChannelSlot) -> Result<Value, ApiError> {
    let counts = engine.store.channel_counts(id)?;
    let mut destinations = Vec::new();
    for destination in &slot.spec.destinations {
        let stats = engine.store.queue_stats(id, &destination.name)?;
        destinations.push(json!({
            "name": destination.name,
            "type": destination.type_name(),
            "queue_depth": stats.depth,
            "oldest_queued_at_ms": stats.oldest_enqueued_ms,
            "oldest_queued_age_secs": stats.oldest_enqueued_ms.map(|t| crate::channel::runner::now_ms().saturating_sub(t) as f64 / 1000.0),
        }));
    }
    let listen = slot
        .running
        .as_ref()
        .and_then(|r| r.bound)
        .or(slot.spec.source.listen());
    Ok(json!({
        "id": id,
        "description": slot.spec.description,
        "enabled": slot.spec.enabled,
        "running": slot.running.is_some(),
        "source": { "type": slot.spec.source.type_name(), "listen": listen.map(|a| a.to_string()) },
        "counts": {
            "total": counts.total(),
            "received": counts.received,
            "filtered": counts.filtered,
            "queued": counts.queued,
            "sent": counts.sent,
            "error": counts.error,
        },
        "destinations": destinations,
    }))
}
