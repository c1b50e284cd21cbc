//! [`FhirError`]: why a FHIR interaction failed, with the server's OperationOutcome turned into
//! one line an analyst can act on.

use reqwest::StatusCode;
use serde_json::Value;

use crate::fhir::smart::SmartError;

/// Most characters of a non-FHIR error body quoted in an error.
const MAX_BODY_TEXT: usize = 512;

/// Most distinct OperationOutcome issues quoted; the rest are counted.
const MAX_ISSUES: usize = 10;

/// Why a FHIR interaction failed. The client does not retry by itself (except once after a 401
/// with SMART); the caller decides from [`FhirError::status`] and the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    /// No answer: the server could not be reached, the connection broke, or it timed out.
    #[error("{reason}")]
    Transport {
        /// What failed, e.g. `no response within 30 s: …`.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("HTTP {status}: {diagnostics}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The OperationOutcome's issues (severity, code, diagnostics, where), or the start of
        /// a body that is not one.
        diagnostics: String,
        /// The raw `Retry-After` header, when the server sent one (429, 503).
        retry_after: Option<String>,
    },
    /// No access token could be had (SMART Backend Services).
    #[error("{0}")]
    Auth(#[from] SmartError),
    /// The request was not sent because what was asked is not a valid FHIR interaction
    /// (a resource without `resourceType`, an update without `id`, a bad id).
    #[error("invalid FHIR request: {reason}")]
    Request {
        /// What is wrong.
        reason: String,
    },
    /// A success status with a body that is not the JSON the interaction returns.
    #[error("HTTP {status} with an unusable body: {reason}")]
    Response {
        /// The status.
        status: StatusCode,
        /// What is wrong with the body.
        reason: String,
    },
}

impl FhirError {
    /// The HTTP status the server answered with, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            FhirError::Status { status, .. } | FhirError::Response { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An error body as one line: the OperationOutcome's issues when it is one, else the start of
/// the text.
pub(crate) fn describe_error_body(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(text) = operation_outcome_text(&value)
    {
        return text;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no body)".into();
    }
    let mut end = text.len().min(MAX_BODY_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace(['\r', '\n'], " ")
}

/// `error invalid: Patient.gender: value not in value set; …`: each issue's severity, code,
/// `diagnostics` (or `details.text`) and `expression` (or the older `location`), `; `-joined.
/// `None` when `value` is not an OperationOutcome with issues.
pub fn operation_outcome_text(value: &Value) -> Option<String> {
    if value.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let issues = value.get("issue")?.as_array()?;
    let mut parts: Vec<String> = Vec::new();
    for text in issues.iter().map(issue_text) {
        // Validators repeat themselves; an analyst needs each problem once.
        if !parts.contains(&text) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        return None;
    }
    let more = parts.len().saturating_sub(MAX_ISSUES);
    parts.truncate(MAX_ISSUES);
    let mut text = parts.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more issues"));
    }
    Some(text)
}

fn issue_text(issue: &Value) -> String {
    let field = |name: &str| issue.get(name).and_then(Value::as_str).unwrap_or_default();
    let mut text = format!("{} {}", field("severity"), field("code"))
        .trim()
        .to_owned();
    let message = issue
        .get("diagnostics")
        .and_then(Value::as_str)
        .or_else(|| issue.pointer("/details/text").and_then(Value::as_str));
    let place = issue
        .get("expression")
        .or_else(|| issue.get("location"))
        .and_then(Value::as_array)
        .map(|places| {
            places
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|places| !places.is_empty());
    if let Some(message) = message {
        text.push_str(": ");
        text.push_str(message.trim());
    }
    if let Some(place) = place {
        text.push_str(" (at ");
        text.push_str(&place);
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operation_outcome_issues_become_one_line() {
        let outcome = json!({
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "invalid", "diagnostics": "Invalid date",
                 "expression": ["Patient.birthDate"]},
                {"severity": "warning", "code": "value", "details": {"text": "odd code"},
                 "location": ["Patient.gender", "Patient.name"]},
                {"severity": "error", "code": "processing"}
            ]
        });
        assert_eq!(
            operation_outcome_text(&outcome).unwrap(),
            "error invalid: Invalid date (at Patient.birthDate); \
             warning value: odd code (at Patient.gender, Patient.name); error processing"
        );
        assert_eq!(
            operation_outcome_text(&json!({"resourceType": "Patient"})),
            None
        );
        let repeated: Vec<Value> = (0..30)
            .map(|i| json!({"severity": "error", "code": "invalid", "diagnostics": format!("p{}", i % 12)}))
            .collect();
        let many = json!({"resourceType": "OperationOutcome", "issue": repeated});
        let text = operation_outcome_text(&many).unwrap();
        assert!(
            text.starts_with("error invalid: p0; error invalid: p1;"),
            "{text}"
        );
        assert!(
            text.ends_with("error invalid: p9; and 2 more issues"),
            "{text}"
        );
        assert_eq!(
            operation_outcome_text(&json!({"resourceType": "OperationOutcome", "issue": []})),
            None
        );
    }

    #[test]
    fn other_bodies_are_quoted_briefly() {
        assert_eq!(describe_error_body(b""), "(no body)");
        assert_eq!(describe_error_body(b" Bad\r\nGateway "), "Bad  Gateway");
        let long = "é".repeat(400);
        let text = describe_error_body(long.as_bytes());
        assert!(text.len() <= MAX_BODY_TEXT && text.starts_with("éé"));
        let outcome = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception","diagnostics":"db down"}]}"#;
        assert_eq!(describe_error_body(outcome), "fatal exception: db down");
    }

    #[test]
    fn status_is_exposed_for_classification() {
        let error = FhirError::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            diagnostics: "slow down".into(),
            retry_after: Some("3".into()),
        };
        assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(error.to_string(), "HTTP 429 Too Many Requests: slow down");
        assert_eq!(FhirError::Transport { reason: "x".into() }.status(), None);
    }
}
