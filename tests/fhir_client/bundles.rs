//! A deliberately small HL7 v2 → FHIR transaction builder for the destination tests, standing in
//! for `ihub::fhir::convert` until that lands: Patient (conditional on PID-3), an Encounter for
//! ADT, one Observation per OBX for ORU. Only what the read-back checks need.

use ihub::hl7::Message;
use serde_json::{Value, json};

/// The identifier system the test uses for MRNs (PID-3.4.2, the assigning authority's OID).
pub fn mrn_system(msg: &Message<'_>) -> String {
    format!(
        "urn:oid:{}",
        msg.get("PID-3.4.2")
            .map(|v| v.text().into_owned())
            .unwrap_or_default()
    )
}

fn text(msg: &Message<'_>, path: &str) -> String {
    msg.get(path)
        .map(|v| v.text().into_owned())
        .unwrap_or_default()
}

/// `19580923` → `1958-09-23`.
fn date(hl7: &str) -> Option<String> {
    (hl7.len() >= 8).then(|| format!("{}-{}-{}", &hl7[..4], &hl7[4..6], &hl7[6..8]))
}

/// The transaction Bundle for an ADT or ORU message, as the converter function the FHIR
/// destination takes.
pub fn to_bundle(bytes: &[u8]) -> Result<Value, String> {
    let msg = Message::parse(bytes).map_err(|e| e.to_string())?;
    let (system, mrn) = (mrn_system(&msg), text(&msg, "PID-3.1"));
    if mrn.is_empty() {
        return Err("PID-3 is empty".into());
    }
    let gender = match text(&msg, "PID-8").as_str() {
        "M" => "male",
        "F" => "female",
        _ => "unknown",
    };
    let mut patient = json!({
        "resourceType": "Patient",
        "identifier": [{ "system": system, "value": mrn }],
        "name": [{ "family": text(&msg, "PID-5.1"), "given": [text(&msg, "PID-5.2")] }],
        "gender": gender,
    });
    if let Some(birth) = date(&text(&msg, "PID-7")) {
        patient["birthDate"] = json!(birth);
    }
    let patient_ref = "urn:uuid:00000000-0000-4000-8000-000000000001";
    let mut request = json!({ "method": "POST", "url": "Patient" });
    // Medplum refuses a transaction holding a conditional create when it has more than 8
    // entries (it would need serializable isolation); an ORU with 43 OBX has 44.
    if msg.segments_named("OBX").count() < 8 {
        request["ifNoneExist"] = json!(format!("identifier={system}|{mrn}"));
    }
    let mut entries =
        vec![json!({ "fullUrl": patient_ref, "resource": patient, "request": request })];
    match msg.message_type().as_ref() {
        "ADT" => {
            let class = match text(&msg, "PV1-2").as_str() {
                "I" => ("IMP", "inpatient encounter"),
                "E" => ("EMER", "emergency"),
                _ => ("AMB", "ambulatory"),
            };
            entries.push(json!({
                "resource": { "resourceType": "Encounter", "status": "in-progress",
                    "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                               "code": class.0, "display": class.1 },
                    "subject": { "reference": patient_ref } },
                "request": { "method": "POST", "url": "Encounter" },
            }));
        }
        "ORU" => {
            for obx in msg.segments_named("OBX") {
                let field = |n: usize, c: usize| obx.field(n).component(c).text().into_owned();
                let code = json!({ "coding": [{ "system": "http://loinc.org",
                    "code": field(3, 1), "display": field(3, 2) }] });
                let mut observation = json!({ "resourceType": "Observation", "status": "final",
                    "code": code, "subject": { "reference": patient_ref } });
                let value = field(5, 1);
                match (field(2, 1).as_str(), value.parse::<f64>()) {
                    ("NM", Ok(number)) => {
                        let unit = field(6, 1);
                        observation["valueQuantity"] = if unit.is_empty() {
                            json!({ "value": number })
                        } else {
                            json!({ "value": number, "unit": unit,
                                    "system": "http://unitsofmeasure.org", "code": unit })
                        };
                    }
                    ("CE" | "CWE", _) => {
                        observation["valueCodeableConcept"] = json!({ "text": field(5, 2) })
                    }
                    _ => observation["valueString"] = json!(value),
                }
                entries.push(json!({ "resource": observation,
                    "request": { "method": "POST", "url": "Observation" } }));
            }
        }
        other => return Err(format!("the test builder knows ADT and ORU, not {other}")),
    }
    Ok(json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries }))
}
