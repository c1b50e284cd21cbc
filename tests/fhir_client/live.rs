//! The FHIR client and destination against the real servers: Medplum's FHIR engine with SMART
//! bearer checks, and oidc-provider issuing tokens for `private_key_jwt` assertions.

use std::path::Path;
use std::time::Duration;

use ihub::destination::{
    DeliveryInput, Destination, FhirDestination, FhirPayload, FhirSettings, Outcome,
};
use ihub::fhir::client::{FhirAuth, FhirClient, FhirError};
use ihub::fhir::smart::{SmartAlgorithm, SmartSettings};
use serde_json::{Value, json};

use super::bundles;
use super::servers::{CLIENT_ID, Servers, servers};

const TIMEOUT: Duration = Duration::from_secs(30);

fn smart(servers: &Servers, algorithm: SmartAlgorithm, scope: &str) -> SmartSettings {
    let (key, kid) = match algorithm {
        SmartAlgorithm::Rs384 => (&servers.rs384_key, "ihub-rs384"),
        SmartAlgorithm::Es384 => (&servers.es384_key, "ihub-es384"),
    };
    SmartSettings {
        client_id: CLIENT_ID.into(),
        private_key_file: key.clone(),
        algorithm,
        key_id: kid.into(),
        scope: scope.into(),
        token_endpoint: None,
    }
}

fn client(servers: &Servers, auth: FhirAuth) -> FhirClient {
    FhirClient::new(&servers.fhir_base, auth, TIMEOUT).unwrap()
}

/// A connection pool for this test's runtime only: every test talks to the same servers, and a
/// pooled connection opened on another test's (finished) runtime cannot be used.
fn own_pool() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn patient(mrn: &str) -> Value {
    json!({ "resourceType": "Patient",
            "identifier": [{ "system": "urn:oid:2.16.840.1.113883.19.5", "value": mrn }],
            "name": [{ "family": "TESTPATIENT", "given": ["ALEX"] }], "gender": "female",
            "birthDate": "1980-02-29" })
}

/// `Patient/123` from `http://…/Patient/123/_history/1` or `Patient/123/_history/1`.
fn type_and_id(location: &str) -> (String, String) {
    let path = location.split("/_history").next().unwrap();
    let mut parts = path.rsplit('/');
    let id = parts.next().unwrap().to_owned();
    (parts.next().unwrap().to_owned(), id)
}

#[tokio::test]
async fn smart_rs384_discovers_the_token_endpoint_then_creates_reads_updates() {
    let Some(servers) = servers() else { return };
    let auth = FhirAuth::Smart(smart(
        servers,
        SmartAlgorithm::Rs384,
        "system/*.read system/*.write",
    ));
    let client = client(servers, auth);
    let created = client.create(&patient("RS-1")).await.unwrap();
    assert_eq!(created.status, 201);
    let location = created.location.expect("a create answers with Location");
    let (kind, id) = type_and_id(&location);
    assert_eq!(kind, "Patient");

    let read = client.read("Patient", &id).await.unwrap();
    let body = read.body.unwrap();
    assert_eq!(body["name"][0]["family"], "TESTPATIENT");
    assert_eq!(body["birthDate"], "1980-02-29");
    assert!(
        read.etag.is_some(),
        "a read answers with the version's ETag"
    );

    let mut changed = body.clone();
    changed["gender"] = json!("other");
    let updated = client.update(&changed).await.unwrap();
    assert_eq!(updated.status, 200);
    assert_ne!(
        updated.body.as_ref().unwrap()["meta"]["versionId"],
        body["meta"]["versionId"]
    );
    let again = client.read("Patient", &id).await.unwrap();
    assert_eq!(again.body.unwrap()["gender"], "other");
}

#[tokio::test]
async fn smart_es384_with_a_configured_endpoint_and_conditional_create() {
    let Some(servers) = servers() else { return };
    let mut settings = smart(servers, SmartAlgorithm::Es384, "system/Patient.cruds");
    settings.token_endpoint = Some(servers.token_endpoint.clone());
    let client = client(servers, FhirAuth::Smart(settings));
    let condition = "identifier=urn:oid:2.16.840.1.113883.19.5|ES-1";
    let first = client
        .conditional_create(&patient("ES-1"), condition)
        .await
        .unwrap();
    assert_eq!(first.status, 201);
    let second = client
        .conditional_create(&patient("ES-1"), condition)
        .await
        .unwrap();
    assert_eq!(
        second.status, 200,
        "the existing Patient is returned, none created"
    );
    assert_eq!(first.body.unwrap()["id"], second.body.unwrap()["id"]);
    let found = client
        .search(
            "Patient",
            &[("identifier", "urn:oid:2.16.840.1.113883.19.5|ES-1")],
        )
        .await
        .unwrap();
    assert_eq!(found.body.unwrap()["entry"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_resources_are_rejected_with_the_servers_diagnostics() {
    let Some(servers) = servers() else { return };
    let auth = FhirAuth::Smart(smart(servers, SmartAlgorithm::Rs384, "system/*.write"));
    let client = client(servers, auth);
    let mut bad = patient("BAD-1");
    bad["birthDate"] = json!("12/25/1974");
    let error = client.create(&bad).await.unwrap_err();
    let FhirError::Status {
        status,
        diagnostics,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(*status, 400);
    assert!(diagnostics.contains("birthDate"), "{diagnostics}");
    assert!(
        diagnostics.starts_with("error "),
        "from the OperationOutcome: {diagnostics}"
    );

    let dest = FhirDestination::with_client(
        FhirSettings {
            base_url: servers.fhir_base.clone(),
            auth: FhirAuth::Smart(smart(servers, SmartAlgorithm::Rs384, "system/*.write")),
            timeout: TIMEOUT,
            payload: FhirPayload::Json,
            conditional_create: false,
            max_conditional_transaction_entries:
                ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
        },
        own_pool(),
    )
    .unwrap();
    let error = match dest.send(bad.to_string().as_bytes()).await {
        Outcome::Reject { error } => error,
        other => panic!("{other:?}"),
    };
    assert!(error.starts_with("HTTP 400 Bad Request: error"), "{error}");
}

#[tokio::test]
async fn auth_failures_are_rejections_that_say_why() {
    let Some(servers) = servers() else { return };
    let reject = |outcome: Outcome| match outcome {
        Outcome::Reject { error } => error,
        other => panic!("expected a rejection, got {other:?}"),
    };
    let dest = |auth: FhirAuth| {
        FhirDestination::with_client(
            FhirSettings {
                base_url: servers.fhir_base.clone(),
                auth,
                timeout: TIMEOUT,
                payload: FhirPayload::Json,
                conditional_create: false,
                max_conditional_transaction_entries:
                    ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
            },
            own_pool(),
        )
        .unwrap()
    };
    let body = patient("AUTH-1").to_string();

    let none = reject(dest(FhirAuth::None).send(body.as_bytes()).await);
    assert!(
        none.starts_with("HTTP 401 Unauthorized") && none.contains("Bearer"),
        "{none}"
    );
    let garbage = FhirAuth::Bearer {
        token: "not-a-jwt".into(),
    };
    assert!(reject(dest(garbage).send(body.as_bytes()).await).starts_with("HTTP 401"));

    // A key the authorization server has never seen: oidc-provider refuses the assertion.
    let mut stranger = smart(servers, SmartAlgorithm::Rs384, "system/*.write");
    stranger.private_key_file = servers.unknown_key.clone();
    let refused = reject(dest(FhirAuth::Smart(stranger)).send(body.as_bytes()).await);
    assert!(
        refused.starts_with("SMART token request: HTTP 401") && refused.contains("invalid_client"),
        "{refused}"
    );

    // A read-only token cannot create.
    let read_only = FhirAuth::Smart(smart(servers, SmartAlgorithm::Es384, "system/Patient.read"));
    let forbidden = reject(dest(read_only).send(body.as_bytes()).await);
    assert!(
        forbidden.starts_with("HTTP 403 Forbidden") && forbidden.contains("Patient"),
        "{forbidden}"
    );

    // A token fetched once and given as a fixed bearer token works like SMART.
    let token = fetch_token(servers).await;
    let bearer = dest(FhirAuth::Bearer { token });
    assert!(matches!(
        bearer.send(body.as_bytes()).await,
        Outcome::Delivered { .. }
    ));
}

/// A token from the OAuth server, through the client's own SMART code.
async fn fetch_token(servers: &Servers) -> String {
    let auth =
        ihub::fhir::smart::SmartAuth::new(smart(servers, SmartAlgorithm::Rs384, "system/*.write"))
            .unwrap();
    let base = reqwest::Url::parse(&servers.fhir_base).unwrap();
    auth.access_token(&reqwest::Client::new(), &base, TIMEOUT)
        .await
        .unwrap()
}

/// The end-to-end check at destination level: ADT and ORU samples converted, sent as
/// transactions through `Destination::Fhir`, and read back from the server.
#[tokio::test]
async fn adt_and_oru_samples_are_delivered_and_read_back() {
    let Some(servers) = servers() else { return };
    let mut dest = Destination::Fhir(
        FhirDestination::with_client(
            FhirSettings {
                base_url: servers.fhir_base.clone(),
                auth: FhirAuth::Smart(smart(servers, SmartAlgorithm::Es384, "system/*.cruds")),
                timeout: TIMEOUT,
                payload: FhirPayload::Convert(std::sync::Arc::new(bundles::to_bundle)),
                conditional_create: false,
                max_conditional_transaction_entries:
                    ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
            },
            own_pool(),
        )
        .unwrap(),
    );
    let reader = client(
        servers,
        FhirAuth::Smart(smart(servers, SmartAlgorithm::Rs384, "system/*.read")),
    );
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for (file, trigger) in [("adt_a01.hl7", "A01"), ("oru_r01.hl7", "R01")] {
        let payload = std::fs::read(samples.join(file)).unwrap();
        let msg = ihub::hl7::Message::parse(&payload).unwrap();
        let input = DeliveryInput {
            payload: &payload,
            message_id: 1,
            control_id: &msg.control_id(),
            channel: "fhir_test",
            message_type: &msg.message_type(),
            trigger,
            received_ms: 0,
        };
        let summary = match dest.send(&input).await {
            Outcome::Delivered {
                response: Some(summary),
            } => summary,
            other => panic!("{file}: {other:?}"),
        };
        let summary: Value = serde_json::from_slice(&summary).unwrap();
        assert_eq!(summary["status"], 200, "{file}: {summary}");
        let entries = summary["entries"].as_array().unwrap();
        let expected = bundles::to_bundle(&payload).unwrap()["entry"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(entries.len(), expected, "{file}: one response per entry");
        assert!(
            entries
                .iter()
                .all(|e| e["status"].as_str().unwrap().starts_with("201")),
            "{summary}"
        );

        // Read back: the Patient by its location, and what refers to it by search.
        let (_, patient_id) = type_and_id(entries[0]["location"].as_str().unwrap());
        let patient = reader
            .read("Patient", &patient_id)
            .await
            .unwrap()
            .body
            .unwrap();
        assert_eq!(
            patient["identifier"][0]["value"],
            msg.get("PID-3.1").unwrap().text().as_ref()
        );
        assert_eq!(
            patient["name"][0]["family"],
            msg.get("PID-5.1").unwrap().text().as_ref()
        );
        let subject = format!("Patient/{patient_id}");
        if file.starts_with("adt") {
            let found = reader
                .search("Encounter", &[("subject", &subject)])
                .await
                .unwrap()
                .body
                .unwrap();
            assert_eq!(
                found["entry"][0]["resource"]["class"]["code"], "IMP",
                "PV1-2 = I"
            );
        } else {
            let found = reader
                .search(
                    "Observation",
                    &[("subject", &subject), ("code", "http://loinc.org|2823-3")],
                )
                .await
                .unwrap()
                .body
                .unwrap();
            let potassium = &found["entry"][0]["resource"];
            assert_eq!(
                potassium["valueQuantity"]["value"], 5.4,
                "OBX-5 of the potassium result"
            );
            assert_eq!(potassium["valueQuantity"]["unit"], "mmol/L");
            let all = reader
                .search("Observation", &[("subject", &subject), ("_count", "100")])
                .await
                .unwrap();
            let count = all.body.unwrap()["entry"].as_array().map_or(0, Vec::len);
            assert_eq!(count, msg.segments_named("OBX").count());
        }
    }
}
