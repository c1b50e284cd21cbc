//! `/api/conflicts`: sync conflicts parked for a person to resolve (strategy `manual`, or a
//! `merge` with fields changed on both sides), and their resolution.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::engine::Engine;
use crate::store::{ConflictChoice, ConflictRecord, StoreError};

/// Query of the conflict list: `open` (the default) or `resolved`, or `all`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
}

pub(super) async fn list(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted = query.status.as_deref().unwrap_or("open");
    let records = match wanted {
        "open" => engine.store.conflicts(true)?,
        "resolved" => engine
            .store
            .conflicts(false)?
            .into_iter()
            .filter(|c| !c.is_open())
            .collect(),
        "all" => engine.store.conflicts(false)?,
        other => {
            return Err(ApiError::BadRequest(format!(
                "status {other:?} is not one of open, resolved, all"
            )));
        }
    };
    Ok(Json(Value::Array(records.iter().map(describe).collect())))
}

pub(super) async fn show(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let record = engine
        .store
        .conflict(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no conflict {id}")))?;
    Ok(Json(describe(&record)))
}

/// Body of a resolve: `{"choose": "local"|"remote"}` or `{"value": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResolveBody {
    choose: Option<String>,
    value: Option<Value>,
}

pub(super) async fn resolve(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<u64>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let choice = match (body.choose.as_deref(), body.value) {
        (Some("local"), None) => ConflictChoice::Local,
        (Some("remote"), None) => ConflictChoice::Remote,
        (None, Some(value)) => ConflictChoice::Value(value),
        (Some(other), None) => {
            return Err(ApiError::Unprocessable(format!(
                "\"choose\" is {other:?}; expected \"local\" or \"remote\""
            )));
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "give exactly one of \"choose\" (\"local\" or \"remote\") and \"value\"".into(),
            ));
        }
    };
    match engine.store.resolve_conflict(id, choice).await {
        Ok(record) => Ok(Json(describe(&record))),
        Err(StoreError::ConflictNotFound(_)) => {
            Err(ApiError::NotFound(format!("no conflict {id}")))
        }
        Err(error @ StoreError::ConflictResolved(_)) => Err(ApiError::Conflict(error.to_string())),
        Err(error) => Err(error.into()),
    }
}

fn describe(c: &ConflictRecord) -> Value {
    json!({
        "id": c.id,
        "status": if c.is_open() { "open" } else { "resolved" },
        "entity": c.entity,
        "record_key": c.record_key,
        "fields": c.fields,
        "parked_at_ms": c.parked_at_ms,
        "base": c.base,
        "local": c.local,
        "remote": c.remote,
        "resolution": c.resolution,
    })
}
