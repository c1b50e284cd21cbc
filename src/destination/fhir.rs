//! [`FhirDestination`]: delivers a message to a FHIR R4 server through a [`FhirClient`].
//!
//! The payload is FHIR JSON, or HL7 v2 turned into FHIR by a converter the channel names
//! (`convert = "hl7v2-to-fhir"`). Then:
//! - a Bundle of type `transaction` or `batch` is POSTed to the base URL;
//! - any other resource is created (`POST [base]/[type]`), or, with
//!   [`FhirSettings::conditional_create`], created only if no resource with its first
//!   identifier exists (`If-None-Exist: identifier=system|value`).
//!
//! The answer is classified like the HTTP destination's: 2xx delivered; 408, 429, 5xx,
//! timeouts and unreachable servers retried, honouring `Retry-After`; other 4xx rejected with
//! the OperationOutcome's diagnostics. A payload that is not FHIR JSON, or that the converter
//! refuses, is rejected: sending it again cannot help. A `batch-response` with a failed entry is
//! rejected too, naming the entries, because resending the batch would repeat the ones that
//! succeeded.
//!
//! The delivery's response is a short JSON summary, never the resources sent back:
//! `{"status":201,"location":"…/Patient/1/_history/1"}` for a create, or
//! `{"status":200,"entries":[{"status":"201 Created","location":"Patient/1/_history/1"},…]}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::Outcome;
use super::http::{is_retryable, parse_retry_after, shared_client};
use crate::fhir::client::{FhirAuth, FhirClient, FhirError, FhirResponse, FhirSetupError};
use crate::fhir::smart::SmartError;

/// Turns a message's bytes (HL7 v2) into a FHIR resource or Bundle. An `Err` is the reason it
/// cannot be converted, shown to the analyst; it must not quote patient data.
pub type FhirConverter = Arc<dyn Fn(&[u8]) -> Result<Value, String> + Send + Sync>;

/// `convert = "hl7v2-to-fhir"`: parses the payload as one HL7 v2 message and converts it with
/// [`hl7v2_to_fhir`](crate::fhir::convert::hl7v2_to_fhir) into a transaction Bundle. The reasons
/// name segments and fields, never the values in them (they may be patient data).
pub fn hl7v2_converter() -> FhirConverter {
    Arc::new(|payload: &[u8]| {
        let message = crate::hl7::Message::parse(payload)
            .map_err(|error| format!("not an HL7 v2 message: {error}"))?;
        crate::fhir::convert::hl7v2_to_fhir(&message).map_err(|error| match error {
            crate::fhir::convert::ConvertError::Invalid {
                location, reason, ..
            } => format!("{location}: the value is {reason}"),
            other => other.to_string(),
        })
    })
}

/// What the payload is and how it becomes FHIR JSON.
#[derive(Clone)]
pub enum FhirPayload {
    /// FHIR JSON already (a transform produced it): sent as it is.
    Json,
    /// HL7 v2, converted first (`convert = "hl7v2-to-fhir"`).
    Convert(FhirConverter),
}

impl std::fmt::Debug for FhirPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FhirPayload::Json => "Json",
            FhirPayload::Convert(_) => "Convert(..)",
        })
    }
}

/// Settings of a FHIR destination, already validated by the channel loader.
#[derive(Debug, Clone)]
pub struct FhirSettings {
    /// The server's base URL, e.g. `https://fhir.example.org/R4`.
    pub base_url: String,
    /// How to authenticate (none, bearer, basic, SMART Backend Services).
    pub auth: FhirAuth,
    /// Bound on each HTTP exchange, token requests included.
    pub timeout: Duration,
    /// FHIR JSON as is, or HL7 v2 through a converter.
    pub payload: FhirPayload,
    /// Create single resources only if none with the same first identifier exists. Has no
    /// effect on Bundles (their entries carry their own `ifNoneExist`) or resources without
    /// an identifier.
    pub conditional_create: bool,
}

/// A FHIR server to deliver to.
#[derive(Debug)]
pub struct FhirDestination {
    client: FhirClient,
    payload: FhirPayload,
    conditional_create: bool,
}

impl FhirDestination {
    /// Builds the destination on the process-wide HTTP client; reads the SMART key now, so a
    /// missing or wrong key file is a setup error rather than a failed delivery.
    pub fn new(settings: FhirSettings) -> Result<FhirDestination, FhirSetupError> {
        let http = shared_client().map_err(|error| FhirSetupError::Client(error.to_string()))?;
        FhirDestination::with_client(settings, http)
    }

    /// Like [`FhirDestination::new`] on a client of the caller's (custom trust, client
    /// certificates, or a pool tied to one Tokio runtime in tests: pooled connections die with
    /// the runtime that opened them).
    pub fn with_client(
        settings: FhirSettings,
        http: reqwest::Client,
    ) -> Result<FhirDestination, FhirSetupError> {
        let client =
            FhirClient::with_client(&settings.base_url, settings.auth, settings.timeout, http)?;
        Ok(FhirDestination {
            client,
            payload: settings.payload,
            conditional_create: settings.conditional_create,
        })
    }

    /// The client, for callers that read back what was delivered.
    pub fn client(&self) -> &FhirClient {
        &self.client
    }

    /// Converts if needed, sends, and classifies the answer (see the module docs).
    pub async fn send(&self, payload: &[u8]) -> Outcome {
        let resource = match &self.payload {
            FhirPayload::Json => serde_json::from_slice::<Value>(payload)
                .map_err(|error| format!("the payload is not FHIR JSON: {error}")),
            FhirPayload::Convert(convert) => {
                convert(payload).map_err(|reason| format!("cannot convert to FHIR: {reason}"))
            }
        };
        let resource = match resource {
            Ok(resource) => resource,
            Err(error) => return Outcome::reject(error),
        };
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
            return Outcome::reject("the payload has no resourceType: it is not a FHIR resource");
        };
        let kind = resource.get("type").and_then(Value::as_str);
        let result = if resource_type == "Bundle" && matches!(kind, Some("transaction" | "batch")) {
            self.client.transaction(&resource).await
        } else if let Some(search) = self.if_none_exist(&resource) {
            self.client.conditional_create(&resource, &search).await
        } else {
            self.client.create(&resource).await
        };
        match result {
            Ok(response) => delivered(&response, kind == Some("batch")),
            Err(error) => classify(&error, SystemTime::now()),
        }
    }

    /// `identifier=system|value` from the resource's first identifier, when conditional
    /// creates are on and it has one.
    fn if_none_exist(&self, resource: &Value) -> Option<String> {
        if !self.conditional_create {
            return None;
        }
        let identifier = resource.pointer("/identifier/0")?;
        let value = identifier.get("value")?.as_str()?;
        Some(match identifier.get("system").and_then(Value::as_str) {
            Some(system) => format!(
                "identifier={}|{}",
                escape_search(system),
                escape_search(value)
            ),
            None => format!("identifier={}", escape_search(value)),
        })
    }
}

/// Escapes `\`, `|`, `,` and `$` in a search value (FHIR R4 search §3.1.1.4.7), then
/// percent-encodes what a header and a query cannot carry.
fn escape_search(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' | '|' | ',' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    let mut encoded = String::new();
    for byte in out.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/\\|,$".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A 2xx answer: delivered with a short summary, unless a batch entry failed.
fn delivered(response: &FhirResponse, batch: bool) -> Outcome {
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

    fn destination(conditional_create: bool) -> FhirDestination {
        FhirDestination::new(FhirSettings {
            base_url: "http://127.0.0.1:1/R4".into(),
            auth: FhirAuth::None,
            timeout: Duration::from_secs(1),
            payload: FhirPayload::Json,
            conditional_create,
        })
        .unwrap()
    }

    #[test]
    fn if_none_exist_uses_the_first_identifier_escaped() {
        let patient = json!({"resourceType": "Patient", "identifier": [
            {"system": "urn:oid:1.2.3", "value": "A|1 2"}, {"value": "ignored"}]});
        assert_eq!(
            destination(true).if_none_exist(&patient).unwrap(),
            "identifier=urn:oid:1.2.3|A\\|1%202"
        );
        assert_eq!(destination(false).if_none_exist(&patient), None);
        let bare = json!({"resourceType": "Patient", "identifier": [{"value": "7"}]});
        assert_eq!(
            destination(true).if_none_exist(&bare).unwrap(),
            "identifier=7"
        );
        let none = json!({"resourceType": "Patient"});
        assert_eq!(destination(true).if_none_exist(&none), None);
    }

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

    #[tokio::test]
    async fn unusable_payloads_are_rejected_without_sending() {
        let dest = destination(false);
        let Outcome::Reject { error } = dest.send(b"MSH|^~\\&|").await else {
            panic!("HL7 sent as JSON is rejected");
        };
        assert!(error.starts_with("the payload is not FHIR JSON"), "{error}");
        assert_eq!(
            dest.send(br#"{"id": "1"}"#).await,
            Outcome::reject("the payload has no resourceType: it is not a FHIR resource")
        );
        let failing: FhirConverter = Arc::new(|_| Err("no PID segment".into()));
        let converting = FhirDestination {
            payload: FhirPayload::Convert(failing),
            ..destination(false)
        };
        assert_eq!(
            converting.send(b"MSH|").await,
            Outcome::reject("cannot convert to FHIR: no PID segment")
        );
        // Port 1 refuses: a valid resource is tried, and the failure is worth a retry.
        let patient = br#"{"resourceType": "Patient"}"#;
        assert!(matches!(dest.send(patient).await, Outcome::Retry { .. }));
    }
}
