//! How a FHIR server's answer becomes an [`Outcome`]: a short summary of what was delivered,
//! or a retry or a rejection with the server's reason.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::Outcome;
use super::super::http::{is_retryable, parse_retry_after};
use crate::fhir::client::{FhirError, FhirResponse};
use crate::fhir::smart::SmartError;

/// A 2xx answer: delivered with a short summary, unless a batch entry failed.
pub(crate) fn delivered(response: &FhirResponse, batch: bool) -> Outcome {
    let entries: Option<Vec<Value>> = response
        .body
        .as_ref()
        .filter(|body| {
            matches!(
                body.get("type").and_then(Value::as_str),
                Some("transaction-response" | "batch-response")
            )
        })
        .and_then(|body| body.get("entry")?.as_array().cloned())
        .map(|entries| {
            entries
                .iter()
                .map(|entry| entry.get("response").cloned().unwrap_or(Value::Null))
                .collect()
        });
    if batch && let Some(entries) = &entries {
        let failed: Vec<String> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                let status = entry.get("status")?.as_str()?;
                let code: u16 = status.split_whitespace().next()?.parse().ok()?;
                (code >= 300).then(|| {
                    let why = entry
                        .get("outcome")
                        .and_then(crate::fhir::client::operation_outcome_text)
                        .map(|text| format!(": {text}"))
                        .unwrap_or_default();
                    format!("entry {i}: {status}{why}")
                })
            })
            .collect();
        if !failed.is_empty() {
            return Outcome::reject(format!("batch entries failed: {}", failed.join("; ")));
        }
    }
    let mut summary = json!({ "status": response.status.as_u16() });
    if let Some(location) = &response.location {
        summary["location"] = json!(location);
    }
    if let Some(entries) = entries {
        let entries: Vec<Value> = entries
            .iter()
            .map(|entry| {
                let mut short = serde_json::Map::new();
                for key in ["status", "location", "etag"] {
                    if let Some(value) = entry.get(key) {
                        short.insert(key.into(), value.clone());
                    }
                }
                Value::Object(short)
            })
            .collect();
        summary["entries"] = Value::Array(entries);
    } else if let Some(body) = &response.body
        && let (Some(kind), Some(id)) = (
            body.get("resourceType").and_then(Value::as_str),
            body.get("id").and_then(Value::as_str),
        )
    {
        summary["id"] = json!(format!("{kind}/{id}"));
    }
    Outcome::Delivered {
        response: Some(summary.to_string().into_bytes()),
    }
}

/// A failed interaction as an [`Outcome`]: the HTTP destination's rules for statuses, retry
/// for anything that may clear up by itself.
pub(crate) fn classify(error: &FhirError, now: SystemTime) -> Outcome {
    let text = error.to_string();
    match error {
        FhirError::Transport { .. } => Outcome::retry(text),
        FhirError::Status {
            status,
            retry_after,
            ..
        } if is_retryable(*status) => Outcome::Retry {
            error: text,
            after: retry_after
                .as_deref()
                .and_then(|value| parse_retry_after(value, now)),
        },
        FhirError::Status { .. } | FhirError::Request { .. } => Outcome::reject(text),
        // The server took the message (2xx) but its answer is unreadable: delivered is the
        // truth, and resending could create duplicates.
        FhirError::Response { .. } => Outcome::Delivered {
            response: Some(json!({ "warning": text }).to_string().into_bytes()),
        },
        FhirError::Auth(smart) => match smart {
            SmartError::Transport { .. } | SmartError::Response { .. } => Outcome::retry(text),
            SmartError::Status { status, .. } if is_retryable(*status) => Outcome::retry(text),
            SmartError::Status { .. } | SmartError::Sign(_) => Outcome::reject(text),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use std::time::Duration;

    #[test]
    fn statuses_and_failures_are_classified() {
        let now = SystemTime::UNIX_EPOCH;
        let status = |code: u16, after: Option<&str>| FhirError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            diagnostics: "error invalid: bad".into(),
            retry_after: after.map(str::to_owned),
        };
        assert_eq!(
            classify(&status(429, Some("7")), now),
            Outcome::Retry {
                error: "HTTP 429 Too Many Requests: error invalid: bad".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(&status(503, None), now),
            Outcome::Retry { after: None, .. }
        ));
        assert_eq!(
            classify(&status(400, None), now),
            Outcome::reject("HTTP 400 Bad Request: error invalid: bad")
        );
        assert!(matches!(
            classify(&status(404, None), now),
            Outcome::Reject { .. }
        ));
        let transport = FhirError::Transport {
            reason: "no response within 1 s".into(),
        };
        assert!(matches!(classify(&transport, now), Outcome::Retry { .. }));
        let refused = FhirError::Auth(SmartError::Status {
            step: "token request",
            status: StatusCode::UNAUTHORIZED,
            reason: "invalid_client".into(),
        });
        assert!(matches!(classify(&refused, now), Outcome::Reject { .. }));
        let down = FhirError::Auth(SmartError::Status {
            step: "token request",
            status: StatusCode::BAD_GATEWAY,
            reason: "x".into(),
        });
        assert!(matches!(classify(&down, now), Outcome::Retry { .. }));
    }

    #[test]
    fn responses_are_summarised_and_failed_batch_entries_rejected() {
        let body = json!({"resourceType": "Bundle", "type": "batch-response", "entry": [
            {"response": {"status": "201 Created", "location": "Patient/1/_history/1"},
             "resource": {"resourceType": "Patient", "name": [{"family": "NOT-IN-SUMMARY"}]}},
            {"response": {"status": "400 Bad Request", "outcome": {"resourceType": "OperationOutcome",
              "issue": [{"severity": "error", "code": "invalid", "diagnostics": "bad date"}]}}}]});
        let response = FhirResponse {
            status: StatusCode::OK,
            location: None,
            etag: None,
            body: Some(body),
        };
        assert_eq!(
            delivered(&response, true),
            Outcome::reject(
                "batch entries failed: entry 1: 400 Bad Request: error invalid: bad date"
            )
        );
        let Outcome::Delivered {
            response: Some(summary),
        } = delivered(&response, false)
        else {
            panic!("a transaction-style answer is delivered");
        };
        let summary = String::from_utf8(summary).unwrap();
        assert_eq!(
            summary,
            r#"{"entries":[{"location":"Patient/1/_history/1","status":"201 Created"},{"status":"400 Bad Request"}],"status":200}"#
        );
        let created = FhirResponse {
            status: StatusCode::CREATED,
            location: Some("http://h/R4/Patient/9/_history/1".into()),
            etag: None,
            body: Some(json!({"resourceType": "Patient", "id": "9"})),
        };
        assert_eq!(
            delivered(&created, false),
            Outcome::Delivered {
                response: Some(
                    br#"{"id":"Patient/9","location":"http://h/R4/Patient/9/_history/1","status":201}"#
                        .to_vec()
                )
            }
        );
    }
}
