//! The HTTP API (axum): channels, messages, replay, start/stop, sync conflicts, health, and
//! `/metrics`.
//!
//! Message bodies are returned to API callers (they are the analyst's tool for finding out
//! what happened) but never logged. Errors go through [`ApiError`], which answers JSON
//! `{"error": "…"}` with a fitting status and hides internal details behind a log line.

mod channels;
mod conflicts;
mod messages;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::engine::Engine;

/// The API's routes over a running engine.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/health", get(health))
        .route("/api/channels", get(channels::list))
        .route("/api/channels/{id}", get(channels::show))
        .route("/api/channels/{id}/stop", post(channels::stop))
        .route("/api/channels/{id}/start", post(channels::start))
        .route("/api/channels/{id}/messages", get(messages::list))
        .route("/api/messages/{id}", get(messages::show))
        .route("/api/messages/{id}/replay", post(messages::replay))
        .route("/api/conflicts", get(conflicts::list))
        .route("/api/conflicts/{id}", get(conflicts::show))
        .route("/api/conflicts/{id}/resolve", post(conflicts::resolve))
        .with_state(engine)
}

async fn metrics(axum::extract::State(engine): axum::extract::State<Arc<Engine>>) -> Response {
    match &engine.metrics {
        Some(handle) => {
            match engine.store.disk_usage() {
                Ok(usage) => crate::metrics::record_disk_usage(&usage),
                Err(error) => tracing::warn!(%error, "Cannot measure the store's files."),
            }
            crate::metrics::record_commits(engine.store.commit_count());
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                handle.render(),
            )
                .into_response()
        }
        None => {
            ApiError::Unavailable("metrics are exported by another engine in this process".into())
                .into_response()
        }
    }
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Every API error, mapped to a status and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 409: the request contradicts the current state (a conflict resolved already).
    #[error("{0}")]
    Conflict(String),
    /// 422: a well-formed request whose content cannot be used.
    #[error("{0}")]
    Unprocessable(String),
    /// 503.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the detail is logged, not returned.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "API request failed.");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
