//! A transaction split in two, against a simulated FHIR server (axum on 127.0.0.1:0) that
//! records each Bundle it is sent and fails the second transaction once with 503: the delivery
//! is retried as a whole, the second part points at the Patient the first part created, and
//! the summary lists both parts' entries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES;
use ihub::destination::{FhirDestination, FhirPayload, FhirSettings, Outcome};
use ihub::fhir::client::FhirAuth;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The Bundles received, in order.
type Received = Arc<Mutex<Vec<Value>>>;

/// Answers a conditional part with the Patient's place, fails the first other part with 503,
/// and answers later ones with a location per entry.
async fn transaction(State(received): State<Received>, body: String) -> Response {
    let bundle: Value = serde_json::from_str(&body).unwrap();
    let entries = bundle["entry"].as_array().unwrap().clone();
    let is_conditional = |b: &Value| b["entry"][0]["request"].get("ifNoneExist").is_some();
    let conditional = is_conditional(&bundle);
    let others_before = {
        let mut received = received.lock().unwrap();
        let before = received.iter().filter(|b| !is_conditional(b)).count();
        received.push(bundle);
        before
    };
    if !conditional && others_before == 0 {
        let outcome = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "transient", "diagnostics": "busy"}]});
        return (StatusCode::SERVICE_UNAVAILABLE, outcome.to_string()).into_response();
    }
    let answers: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let kind = entry["resource"]["resourceType"].as_str().unwrap();
            let id = if conditional { 42 } else { i };
            json!({"response": {"status": "201 Created",
                                "location": format!("{kind}/{id}/_history/1")}})
        })
        .collect();
    let answer =
        json!({"resourceType": "Bundle", "type": "transaction-response", "entry": answers});
    (StatusCode::OK, answer.to_string()).into_response()
}

fn bundle(observations: usize) -> Value {
    let mut entries = vec![json!({"fullUrl": "urn:uuid:p",
        "resource": {"resourceType": "Patient", "identifier": [{"value": "SIM-1"}]},
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=SIM-1"}})];
    entries.extend((0..observations).map(|n| {
        json!({"fullUrl": format!("urn:uuid:o{n}"),
            "resource": {"resourceType": "Observation", "subject": {"reference": "urn:uuid:p"}},
            "request": {"method": "POST", "url": "Observation"}})
    }));
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// The simulated server, and a destination that delivers to it.
async fn start() -> (FhirDestination, Received) {
    let received: Received = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/R4", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/R4", post(transaction))
        .route("/R4/", post(transaction))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dest = FhirDestination::new(FhirSettings {
        base_url: base,
        auth: FhirAuth::None,
        timeout: Duration::from_secs(10),
        payload: FhirPayload::Json,
        conditional_create: false,
        max_conditional_transaction_entries: DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
    })
    .unwrap();
    (dest, received)
}

#[tokio::test]
async fn simulated_split_transaction_retries_whole_and_points_at_the_patient() {
    let (dest, received) = start().await;
    let payload = bundle(DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES).to_string();

    let Outcome::Retry { error, .. } = dest.send(payload.as_bytes()).await else {
        panic!("a 503 on the second part is retried");
    };
    assert!(
        error.starts_with(
            "the other entries (second of two transactions; the first was delivered): HTTP 503"
        ),
        "{error}"
    );
    let Outcome::Delivered {
        response: Some(summary),
    } = dest.send(payload.as_bytes()).await
    else {
        panic!("the retry is delivered");
    };

    let received = received.lock().unwrap();
    assert_eq!(received.len(), 4, "two parts, twice");
    assert_eq!(received[0]["entry"].as_array().unwrap().len(), 1);
    let rest = &received[3]["entry"];
    assert_eq!(
        rest.as_array().unwrap().len(),
        DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES
    );
    assert_eq!(rest[0]["resource"]["subject"]["reference"], "Patient/42");
    assert_eq!(rest[7]["resource"]["subject"]["reference"], "Patient/42");
    let summary: Value = serde_json::from_slice(&summary).unwrap();
    let entries = summary["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1 + DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES
    );
    assert_eq!(entries[0]["location"], "Patient/42/_history/1");
    assert_eq!(entries[8]["location"], "Observation/7/_history/1");
}

#[tokio::test]
async fn simulated_small_transaction_goes_whole() {
    let (dest, received) = start().await;
    let payload = bundle(DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES - 1).to_string();
    assert!(matches!(
        dest.send(payload.as_bytes()).await,
        Outcome::Delivered { .. }
    ));
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["entry"].as_array().unwrap().len(),
        DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES
    );
}
