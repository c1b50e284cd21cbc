//! A whole channel against the real test servers: the engine in-process reads a channel file
//! whose MLLP source feeds a `type = "fhir"` destination (SMART Backend Services, `convert =
//! "hl7v2-to-fhir"`); the ADT and ORU samples go in over MLLP, and the Patient, Encounter and
//! Observations are read back from the FHIR server.
//!
//! Medplum refuses a transaction that holds a conditional create (the converter's Patient has
//! `ifNoneExist`) and more than 8 entries, because it would need serializable isolation. The
//! full ORU sample (43 OBX) converts to far more, so the destination delivers it in two
//! transactions (the Patient, then the rest pointed at it); this test checks it is SENT and
//! that every Observation is on the server under that Patient.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES;
use ihub::engine::{Engine, EngineSettings};
use ihub::hl7::Message;
use ihub::mllp::MllpClient;
use ihub::store::{Backend, MessageFilter, MessageStatus, MessageSummary, Store};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::servers::{CLIENT_ID, Servers, servers};
use ihub::fhir::client::{FhirAuth, FhirClient};
use ihub::fhir::smart::{SmartAlgorithm, SmartSettings};

/// Medical record numbers of this test's own, so that the samples other tests send to the same
/// servers (with the samples' numbers) do not mix with what this channel delivered.
const ADT_MRN: &str = "CH481516";
const ORU_MRN: &str = "CH377120";

const CHANNEL: &str = r#"
description = "HL7 v2 to FHIR, end to end"

[source]
type = "mllp"
listen = "127.0.0.1:0"

[[destination]]
name = "fhir"
type = "fhir"
base_url = "{base}"
convert = "hl7v2-to-fhir"
timeout_secs = 30
auth = { type = "smart", client_id = "{client}", private_key = "{key}", algorithm = "RS384", key_id = "ihub-rs384", scope = "system/*.read system/*.write", token_endpoint = "{token}" }
retry = { attempts = 5, initial_backoff_secs = 1, max_backoff_secs = 2 }
"#;

/// A sample with its MRN made this test's own and `suffix` appended to its control id.
fn sample(file: &str, mrn: &str, own_mrn: &str, suffix: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(mrn), "{file} has MRN {mrn}");
    text.replace(mrn, own_mrn)
        .replacen("|P|2.5.1", &format!("{suffix}|P|2.5.1"), 1)
}

fn convert(message: &str) -> Value {
    ihub::fhir::convert::hl7v2_to_fhir(&Message::parse(message.as_bytes()).unwrap()).unwrap()
}

async fn start_engine(dir: &Path, servers: &Servers) -> (Arc<Engine>, CancellationToken) {
    let channels = dir.join("channels");
    std::fs::create_dir_all(&channels).unwrap();
    let text = CHANNEL
        .replace("{base}", &servers.fhir_base)
        .replace("{client}", CLIENT_ID)
        .replace("{key}", &servers.rs384_key.display().to_string())
        .replace("{token}", &servers.token_endpoint);
    std::fs::write(channels.join("to_fhir.toml"), text).unwrap();
    let engine = Engine::start(EngineSettings {
        channels_dir: channels,
        data_dir: dir.join("data"),
        api: "127.0.0.1:0".parse().unwrap(),
        backend: Backend::Redb,
        reload_interval: Duration::from_secs(60),
    })
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(engine.clone().run(shutdown.clone()));
    (engine, shutdown)
}

async fn channel_addr(engine: &Engine) -> SocketAddr {
    let started = Instant::now();
    loop {
        if let Some(addr) = engine.bound_addresses().await.get("to_fhir") {
            return *addr;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the channel did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until all `expected` messages of the channel are SENT or ERROR, and returns them.
async fn wait_until_settled(store: &Store, expected: usize) -> Vec<MessageSummary> {
    let started = Instant::now();
    loop {
        let all = store
            .list(&MessageFilter {
                channel: Some("to_fhir".into()),
                ..Default::default()
            })
            .unwrap();
        let settled = all
            .iter()
            .filter(|m| matches!(m.status, MessageStatus::Sent | MessageStatus::Error))
            .count();
        if all.len() == expected && settled == expected {
            return all;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {expected} settled messages: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status_of<'a>(all: &'a [MessageSummary], control_id: &str) -> &'a MessageSummary {
    all.iter()
        .find(|m| m.meta.control_id == control_id)
        .unwrap_or_else(|| panic!("{control_id} not stored: {all:?}"))
}

/// The id of the Patient a delivery created, from the response summary the store keeps: one
/// entry per resource of the transaction, with its location.
async fn delivered_patient_id(store: &Store, control_id: &str) -> String {
    let found = store
        .list(&MessageFilter {
            channel: Some("to_fhir".into()),
            control_id: Some(control_id.into()),
            ..Default::default()
        })
        .unwrap();
    let stored = store.message(found[0].id).unwrap().unwrap();
    let delivery = &stored.destinations[0];
    assert_eq!(delivery.destination, "fhir");
    let attempt = delivery.attempts.iter().find(|a| a.ok).unwrap();
    let summary: Value = serde_json::from_slice(attempt.response.as_ref().unwrap()).unwrap();
    assert_eq!(summary["status"], 200, "{summary}");
    let patients: Vec<&str> = summary["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["location"].as_str())
        .filter_map(|location| location.split("/_history").next())
        .filter_map(|path| path.split_once("Patient/").map(|(_, id)| id))
        .collect();
    assert_eq!(patients.len(), 1, "one Patient per message: {summary}");
    patients[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adt_and_oru_through_a_channel_to_the_fhir_server_and_back() {
    let Some(servers) = servers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (engine, shutdown) = start_engine(dir.path(), servers).await;
    let addr = channel_addr(&engine).await;

    let adt = sample("adt_a01.hl7", "00481516", ADT_MRN, "CH");
    let oru = sample("oru_r01.hl7", "00377120", ORU_MRN, "CH");
    // Too many entries for one transaction with a conditional create: it goes in two.
    let entries = convert(&oru)["entry"].as_array().unwrap().len();
    assert!(
        entries > DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
        "{entries}"
    );
    for message in [&adt, &oru] {
        let mut client = MllpClient::connect(&addr.to_string(), None).await.unwrap();
        let ack = client
            .send(message.as_bytes(), Duration::from_secs(10))
            .await
            .unwrap();
        let ack = Message::parse(&ack).unwrap();
        assert_eq!(ack.get("MSA-1").unwrap().text(), "AA");
    }
    let all = wait_until_settled(&engine.store, 2).await;
    let control_id = |text: &str| {
        Message::parse(text.as_bytes())
            .unwrap()
            .control_id()
            .into_owned()
    };
    for message in [&adt, &oru] {
        let stored = status_of(&all, &control_id(message));
        assert_eq!(stored.status, MessageStatus::Sent, "{stored:?}");
    }
    let oru_stored = engine
        .store
        .message(status_of(&all, &control_id(&oru)).id)
        .unwrap()
        .unwrap();
    assert_eq!(
        oru_stored.destinations[0].attempts.len(),
        1,
        "delivered at the first attempt"
    );
    // The summary lists both transactions' entries, the Patient's first.
    let summary: Value = serde_json::from_slice(
        oru_stored.destinations[0].attempts[0]
            .response
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["entries"].as_array().unwrap().len(),
        entries,
        "{summary}"
    );
    let first = summary["entries"][0]["location"].as_str().unwrap();
    assert!(first.starts_with("Patient/"), "{summary}");

    let reader = FhirClient::new(
        &servers.fhir_base,
        FhirAuth::Smart(SmartSettings {
            client_id: CLIENT_ID.into(),
            private_key_file: servers.es384_key.clone(),
            algorithm: SmartAlgorithm::Es384,
            key_id: "ihub-es384".into(),
            scope: "system/*.read".into(),
            token_endpoint: None,
        }),
        Duration::from_secs(30),
    )
    .unwrap();

    // ADT^A01: the Patient with its identifier, name and birth date; an inpatient Encounter.
    let adt_control = Message::parse(adt.as_bytes())
        .unwrap()
        .control_id()
        .into_owned();
    let patient_id = delivered_patient_id(&engine.store, &adt_control).await;
    let patient = reader
        .read("Patient", &patient_id)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(patient["identifier"][0]["value"], ADT_MRN);
    assert_eq!(patient["name"][0]["family"], "HARTLEY");
    assert_eq!(patient["birthDate"], "1958-09-23");
    assert_eq!(patient["gender"], "female");
    let by_identifier = reader
        .search("Patient", &[("identifier", ADT_MRN)])
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(by_identifier["entry"].as_array().map_or(0, Vec::len), 1);
    let subject = format!("Patient/{patient_id}");
    let encounters = reader
        .search("Encounter", &[("subject", &subject)])
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(encounters["entry"][0]["resource"]["class"]["code"], "IMP");

    // ORU^R01: one Observation per OBX, with values and units, under the ORU's Patient.
    let oru_message = Message::parse(oru.as_bytes()).unwrap();
    let patient_id = delivered_patient_id(&engine.store, &oru_message.control_id()).await;
    let patient = reader
        .read("Patient", &patient_id)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(patient["identifier"][0]["value"], ORU_MRN);
    assert_eq!(patient["name"][0]["family"], "OYELARAN");
    let subject = format!("Patient/{patient_id}");
    let leukocytes = reader
        .search(
            "Observation",
            &[("subject", &subject), ("code", "http://loinc.org|6690-2")],
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let leukocytes = &leukocytes["entry"][0]["resource"];
    assert_eq!(leukocytes["valueQuantity"]["value"], 11.8, "{leukocytes}");
    assert_eq!(leukocytes["valueQuantity"]["code"], "10*3/uL");
    assert_eq!(leukocytes["status"], "final");
    assert_eq!(leukocytes["interpretation"][0]["coding"][0]["code"], "H");
    let all = reader
        .search("Observation", &[("subject", &subject), ("_count", "100")])
        .await
        .unwrap()
        .body
        .unwrap();
    let count = all["entry"].as_array().map_or(0, Vec::len);
    assert_eq!(count, oru_message.segments_named("OBX").count());
    // The last result too: the whole message went, not its first entries.
    let esterase = reader
        .search(
            "Observation",
            &[("subject", &subject), ("code", "http://loinc.org|5799-2")],
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let esterase = &esterase["entry"][0]["resource"];
    assert_eq!(
        esterase["valueCodeableConcept"]["coding"][0]["code"], "260385009",
        "{esterase}"
    );

    shutdown.cancel();
}
