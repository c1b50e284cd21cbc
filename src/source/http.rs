//! The HTTP source: `POST` HL7 (`application/hl7-v2`, `x-application/hl7-v2+er7`, or text) and
//! get the HL7 ACK back; `POST` JSON (`application/json`) and get a small JSON receipt.
//!
//! Status codes say whether the message is safe: 200 only after it is on disk; 422 when it was
//! stored but refused (unreadable HL7, a script error), with the NAK in the body; 503 when it
//! could not be stored (the sender must retry); 413 over the size limit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::channel::runner::{Disposition, Pipeline};

/// Binds `listen` and serves `POST path` until `stop` is cancelled.
pub async fn start(
    listen: SocketAddr,
    path: &str,
    max_body_bytes: usize,
    pipeline: Arc<Pipeline>,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(pipeline);
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(error) = served.await {
            tracing::error!(%error, "The HTTP source stopped.");
        }
    });
    Ok((local, task))
}

async fn receive(
    State(pipeline): State<Arc<Pipeline>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") || content_type.ends_with("+json") {
        if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
            return (StatusCode::BAD_REQUEST, "the body is not valid JSON").into_response();
        }
        let disposition = pipeline
            .receive_json(body.to_vec(), &peer.to_string())
            .await;
        return json_receipt(&disposition);
    }
    let disposition = pipeline.receive(body, &peer.to_string()).await;
    let status = status_of(&disposition);
    let ack = disposition.ack.map(|b| b.to_vec()).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/hl7-v2")], ack).into_response()
}

fn status_of(disposition: &Disposition) -> StatusCode {
    match (disposition.message_id, disposition.accepted()) {
        (None, _) => StatusCode::SERVICE_UNAVAILABLE,
        (Some(_), true) => StatusCode::OK,
        (Some(_), false) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn json_receipt(disposition: &Disposition) -> Response {
    let body = serde_json::json!({
        "message_id": disposition.message_id,
        "status": disposition.status.to_string(),
        "accepted": disposition.accepted(),
    });
    (status_of(disposition), axum::Json(body)).into_response()
}
