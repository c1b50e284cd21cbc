//! One request to a running engine's HTTP API, shared by `ihub messages` and `ihub conflicts`:
//! the same connection error, the same JSON check, the API's own error text on a refusal.

use anyhow::{Context, bail};
use serde_json::Value;

/// Sends `request` to the API at `api` and returns its JSON body; a non-2xx answer becomes an
/// error carrying the API's `error` text.
pub async fn send(api: &str, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the engine's API at {api} (is `ihub` running?)"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the API answered with something that is not JSON")?;
    if !status.is_success() {
        bail!(
            "{}",
            body["error"]
                .as_str()
                .unwrap_or("the API refused the request")
        );
    }
    Ok(body)
}
