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
//!
//! # Large transactions with conditional entries
//!
//! A transaction with conditional entries (`ifNoneExist`, or a conditional PUT/PATCH/DELETE
//! URL with `?`) and more than [`FhirSettings::max_conditional_transaction_entries`] entries is
//! delivered in two transactions (see `split.rs`): first the conditional entries alone (the
//! converter's Patient), then the rest, with their `urn:uuid:` references to the first part
//! rewritten to where the server put it (`Patient/123`). Medplum refuses such a transaction
//! whole ("requires strict isolation but has too many entries", beyond 8), and an ORU converts
//! to dozens of entries. The split is kept for those transactions only, rather than done for
//! every mixed one, because one transaction is atomic and one round trip: a small ADT, or any
//! transaction on a server without the limit (set the bound to `usize::MAX`), keeps both.
//! Retrying is safe: the first part is conditional, so if the second fails and the delivery is
//! retried, the first finds the Patient it created. Errors of either part are classified as
//! above, the second's reason saying the first was delivered; the summary lists both parts'
//! entries, the conditional ones first.

mod outcome;
mod split;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::Outcome;
use super::http::shared_client;
use crate::fhir::client::{FhirAuth, FhirClient, FhirError, FhirResponse, FhirSetupError};
pub(crate) use outcome::classify;
use outcome::delivered;

/// Medplum's bound on the entries of a transaction with a conditional entry: the default of
/// [`FhirSettings::max_conditional_transaction_entries`].
pub const DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES: usize = 8;

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
    /// A transaction with conditional entries and more entries than this is delivered in two
    /// (see the module docs); usually [`DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES`],
    /// `usize::MAX` never splits.
    pub max_conditional_transaction_entries: usize,
}

/// A FHIR server to deliver to.
#[derive(Debug)]
pub struct FhirDestination {
    client: FhirClient,
    payload: FhirPayload,
    conditional_create: bool,
    max_conditional_transaction_entries: usize,
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
            max_conditional_transaction_entries: settings.max_conditional_transaction_entries,
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
            if let Some(parts) =
                split::split_transaction(&resource, self.max_conditional_transaction_entries)
            {
                return self.send_in_two(parts).await;
            }
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

    /// Delivers a split transaction: the conditional part, then the rest pointed at where the
    /// server put the first part's resources.
    async fn send_in_two(&self, parts: split::SplitTransaction) -> Outcome {
        let first = match self.client.transaction(&parts.conditional).await {
            Ok(first) => first,
            // The server took them but its answer is unreadable, so the second part cannot be
            // pointed at them; the first part is conditional, so sending again is harmless.
            Err(error @ FhirError::Response { .. }) => {
                return Outcome::retry(format!("{FIRST_STEP}: {error}"));
            }
            Err(error) => return in_step(FIRST_STEP, classify(&error, SystemTime::now())),
        };
        let resolved = match split::resolved_references(&parts.conditional, first.body.as_ref()) {
            Ok(resolved) => resolved,
            // The first part is in, and resending would find it: the server may answer
            // differently next time, and an analyst can replay.
            Err(reason) => return Outcome::reject(reason),
        };
        let mut rest = parts.rest;
        split::rewrite_references(&mut rest, &resolved);
        let second = match self.client.transaction(&rest).await {
            Ok(second) => second,
            Err(error) => {
                return in_step(
                    "the other entries (second of two transactions; the first was delivered)",
                    classify(&error, SystemTime::now()),
                );
            }
        };
        let joined = FhirResponse {
            body: Some(split::joined_response(
                first.body.as_ref(),
                second.body.as_ref(),
            )),
            ..second
        };
        delivered(&joined, false)
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

/// The first transaction of a split delivery, as failures name it.
const FIRST_STEP: &str = "the conditional entries (first of two transactions)";

/// Names the step of a split delivery in a failure's reason.
fn in_step(step: &str, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Retry { error, after } => Outcome::Retry {
            error: format!("{step}: {error}"),
            after,
        },
        Outcome::Reject { error } => Outcome::reject(format!("{step}: {error}")),
        delivered @ Outcome::Delivered { .. } => delivered,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn destination(conditional_create: bool) -> FhirDestination {
        FhirDestination::new(FhirSettings {
            base_url: "http://127.0.0.1:1/R4".into(),
            auth: FhirAuth::None,
            timeout: Duration::from_secs(1),
            payload: FhirPayload::Json,
            conditional_create,
            max_conditional_transaction_entries: DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
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
    fn failures_of_a_split_delivery_name_their_step() {
        let after = Some(Duration::from_secs(3));
        assert_eq!(
            in_step(
                "second",
                Outcome::Retry {
                    error: "HTTP 503".into(),
                    after
                }
            ),
            Outcome::Retry {
                error: "second: HTTP 503".into(),
                after
            }
        );
        assert_eq!(
            in_step(FIRST_STEP, Outcome::reject("HTTP 400")),
            Outcome::reject(format!("{FIRST_STEP}: HTTP 400"))
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
