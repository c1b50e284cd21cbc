//! What each message family becomes: ADT (Patient, Encounter, RelatedPerson,
//! AllergyIntolerance, Condition), ORU (DiagnosticReport, typed Observations, Specimen), ORM
//! (ServiceRequest), SIU (Appointment) and MDM (DocumentReference).

use ihub::fhir::convert::hl7v2_to_fhir;
use ihub::hl7::Message;
use serde_json::{Value, json};

use super::{convert_sample, full_url_of, only, resources};

#[test]
fn adt_a01_gives_patient_encounter_next_of_kin_allergies_and_diagnoses() {
    let bundle = convert_sample("adt_a01.hl7");
    let patient = only(&bundle, "Patient");
    let patient_url = full_url_of(&bundle, patient);
    assert_eq!(
        patient["identifier"][0],
        json!({"system": "urn:oid:2.16.840.1.113883.19.5", "value": "00481516",
               "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}})
    );
    assert_eq!(
        patient["identifier"][1]["system"],
        "urn:oid:2.16.840.1.113883.4.1"
    );
    assert_eq!(patient["name"][0]["family"], "HARTLEY");
    assert_eq!(patient["name"][0]["given"], json!(["MARGARET", "ANNE"]));
    assert_eq!(patient["name"][0]["use"], "official");
    assert_eq!(patient["name"][1]["use"], "maiden");
    assert_eq!(patient["gender"], "female");
    assert_eq!(patient["birthDate"], "1958-09-23");
    assert_eq!(patient["maritalStatus"]["coding"][0]["code"], "W");
    assert_eq!(patient["address"][0]["city"], "HARRISBURG");
    assert_eq!(
        patient["telecom"][1],
        json!({"system": "email", "value": "mhartley58@example.com", "use": "home"})
    );
    assert_eq!(patient["telecom"][2]["use"], "work");

    let encounter = only(&bundle, "Encounter");
    assert_eq!(encounter["class"]["code"], "IMP");
    assert_eq!(encounter["status"], "in-progress");
    assert_eq!(encounter["period"]["start"], "2025-03-14T08:15:00-05:00");
    assert_eq!(encounter["subject"]["reference"], patient_url.as_str());
    assert_eq!(
        encounter["location"][0]["location"]["display"],
        "4 East Cardiac Telemetry"
    );
    assert_eq!(
        encounter["participant"][0]["individual"]["identifier"]["value"],
        "1730296482"
    );
    assert_eq!(
        encounter["participant"][0]["type"][0]["coding"][0]["code"],
        "ATND"
    );

    let kin = only(&bundle, "RelatedPerson");
    assert_eq!(kin["patient"]["reference"], patient_url.as_str());
    assert_eq!(kin["name"][0]["family"], "HARTLEY");
    assert_eq!(
        kin["relationship"][0]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v2-0063"
    );

    let allergies = resources(&bundle, "AllergyIntolerance");
    assert_eq!(allergies.len(), 2);
    assert_eq!(
        allergies[0]["code"]["coding"][0]["system"],
        "http://www.nlm.nih.gov/research/umls/rxnorm"
    );
    assert_eq!(allergies[0]["category"], json!(["medication"]));
    assert_eq!(allergies[0]["criticality"], "high");
    assert_eq!(
        allergies[0]["reaction"][0]["manifestation"][0]["text"],
        "Hives & wheezing"
    );
    assert_eq!(allergies[0]["onsetDateTime"], "1992-06-11");
    assert_eq!(allergies[1]["category"], json!(["food"]));

    let conditions = resources(&bundle, "Condition");
    assert_eq!(conditions.len(), 2);
    assert_eq!(
        conditions[0]["code"]["coding"][0],
        json!({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R07.9", "display": "Chest pain, unspecified"})
    );
    assert_eq!(
        conditions[0]["verificationStatus"]["coding"][0]["code"],
        "provisional"
    );
    assert_eq!(
        conditions[0]["encounter"]["reference"],
        full_url_of(&bundle, encounter).as_str()
    );
}

#[test]
fn the_adt_event_sets_the_encounter_status() {
    let status = |name: &str| only(&convert_sample(name), "Encounter")["status"].clone();
    assert_eq!(status("adt_a01.hl7"), "in-progress");
    assert_eq!(status("adt_a04.hl7"), "arrived");
    assert_eq!(status("adt_a08.hl7"), "in-progress");
    let discharge = convert_sample("adt_a03.hl7");
    let encounter = only(&discharge, "Encounter");
    assert_eq!(encounter["status"], "finished");
    assert_eq!(encounter["period"]["end"], "2025-03-16T14:30:00-05:00");
    assert_eq!(only(&discharge, "Patient")["deceasedBoolean"], false);
    assert_eq!(
        resources(&discharge, "Condition")[0]["verificationStatus"]["coding"][0]["code"],
        "confirmed"
    );
}

#[test]
fn resending_a_patient_is_a_conditional_create_on_its_mr_identifier() {
    let expected = "identifier=urn:oid:2.16.840.1.113883.19.5|00481516";
    for name in ["adt_a01.hl7", "adt_a08.hl7", "adt_a03.hl7", "mdm_t02.hl7"] {
        let bundle = convert_sample(name);
        let entry = &bundle["entry"][0];
        assert_eq!(
            entry["resource"]["resourceType"], "Patient",
            "{name}: Patient first"
        );
        assert_eq!(entry["request"]["ifNoneExist"], expected, "{name}");
    }
    // Two conversions of the same message differ only in their fresh urn:uuid ids.
    let (a, b) = (convert_sample("adt_a01.hl7"), convert_sample("adt_a01.hl7"));
    assert_ne!(a["entry"][0]["fullUrl"], b["entry"][0]["fullUrl"]);
    assert_eq!(a["entry"][0]["resource"], b["entry"][0]["resource"]);
}

#[test]
fn oru_gives_a_report_with_typed_observations_and_a_specimen() {
    let bundle = convert_sample("oru_r01.hl7");
    let report = only(&bundle, "DiagnosticReport");
    let observations = resources(&bundle, "Observation");
    assert_eq!(observations.len(), 43);
    assert_eq!(report["result"].as_array().unwrap().len(), 43);
    assert_eq!(report["status"], "final");
    assert_eq!(report["identifier"][0]["type"]["coding"][0]["code"], "PLAC");
    assert_eq!(report["issued"], "2025-03-18T09:35:00-05:00");
    let specimen = only(&bundle, "Specimen");
    assert_eq!(
        specimen["collection"]["collectedDateTime"],
        "2025-03-18T08:12:00-05:00"
    );
    assert_eq!(
        report["specimen"][0]["reference"],
        full_url_of(&bundle, specimen).as_str()
    );

    let by_code = |code: &str| {
        *observations
            .iter()
            .find(|o| o["code"]["coding"][0]["code"] == code)
            .unwrap_or_else(|| panic!("no Observation {code}"))
    };
    let potassium = by_code("2823-3");
    assert_eq!(potassium["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(
        potassium["valueQuantity"],
        json!({"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"})
    );
    assert_eq!(
        potassium["interpretation"][0]["coding"][0],
        json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"})
    );
    assert_eq!(potassium["referenceRange"][0]["low"]["value"], 3.5);
    assert_eq!(potassium["referenceRange"][0]["high"]["value"], 5.1);
    assert_eq!(
        potassium["note"][0]["text"],
        "Mildly elevated potassium; suggest repeat if clinically indicated."
    );
    assert_eq!(potassium["status"], "final");
    assert_eq!(by_code("2085-9")["referenceRange"][0]["low"]["value"], 40);
    assert_eq!(by_code("3016-3")["valueQuantity"]["unit"], "mIU/L");
    assert_eq!(by_code("3016-3")["valueQuantity"]["code"], "m[IU]/L");
    assert_eq!(by_code("5778-6")["valueString"], "Yellow");
    assert_eq!(
        by_code("5804-0")["valueCodeableConcept"]["coding"][0]["system"],
        "http://snomed.info/sct"
    );
    let comment = by_code("48767-8")["valueString"].as_str().unwrap();
    assert_eq!(comment.lines().count(), 2, "TX repetitions become lines");
}

#[test]
fn structured_numeric_dates_times_and_encapsulated_data() {
    let text = "MSH|^~\\&|LAB|H|EHR|H|20250101120000||ORU^R01^ORU_R01|T1|P|2.5.1\r\
        PID|1||42^^^H^MR||DOE^JO||20000101|U\r\
        OBR|1|P1^H|F1^LAB|24323-8^Panel^LN|||20250101110000+0100||||||||||||||||||C\r\
        OBX|1|SN|5902-2^PT^LN||^1^:^40||||||C\r\
        OBX|2|SN|2823-3^K^LN||^3.5^-^5.1|mmol/L^^UCUM|||||P\r\
        OBX|3|SN|6690-2^WBC^LN||>^10|10*3/uL^^UCUM|||||F\r\
        OBX|4|DT|11778-8^EDD^LN||20250704||||||F\r\
        OBX|5|TS|33882-2^Collected^LN||202501011030||||||F\r\
        OBX|6|TM|33883-0^Time^LN||1030||||||D\r\
        OBX|7|ED|11502-2^Report^LN||LAB^TEXT^PLAIN^A^Hello world||||||F\r\
        OBX|8|NM|2345-7^Glucose^LN||high|mg/dL|||||X";
    let bundle = hl7v2_to_fhir(&Message::parse(text.as_bytes()).unwrap()).unwrap();
    let observations = resources(&bundle, "Observation");
    assert_eq!(
        observations.len(),
        7,
        "the ED segment becomes the report's presentedForm"
    );
    assert_eq!(
        observations[0]["valueRatio"],
        json!({"numerator": {"value": 1}, "denominator": {"value": 40}})
    );
    assert_eq!(observations[0]["status"], "corrected");
    assert_eq!(observations[1]["valueRange"]["low"]["value"], 3.5);
    assert_eq!(observations[1]["valueRange"]["high"]["unit"], "mmol/L");
    assert_eq!(observations[1]["status"], "preliminary");
    assert_eq!(observations[2]["valueQuantity"]["comparator"], ">");
    assert_eq!(observations[3]["valueDateTime"], "2025-07-04");
    assert_eq!(
        observations[4]["valueDateTime"], "2025-01-01T10:30:00Z",
        "no offset: the assumed one"
    );
    assert_eq!(observations[5]["valueTime"], "10:30:00");
    assert_eq!(observations[5]["status"], "entered-in-error");
    assert_eq!(
        observations[6]["valueString"], "high",
        "an NM that is no number is kept as text"
    );
    assert_eq!(observations[6]["status"], "cancelled");
    assert_eq!(
        observations[6]["effectiveDateTime"],
        "2025-01-01T11:00:00+01:00"
    );
    let report = only(&bundle, "DiagnosticReport");
    assert_eq!(report["status"], "corrected");
    assert_eq!(
        report["presentedForm"][0],
        json!({"contentType": "text/plain", "data": "SGVsbG8gd29ybGQ=", "title": "Report"})
    );
    assert_eq!(report["identifier"][1]["system"], "urn:id:LAB");
}

#[test]
fn orm_gives_one_service_request_per_order() {
    let bundle = convert_sample("orm_o01.hl7");
    let requests = resources(&bundle, "ServiceRequest");
    assert_eq!(requests.len(), 2);
    let first = requests[0];
    assert_eq!(first["status"], "active");
    assert_eq!(first["intent"], "order");
    assert_eq!(first["code"]["coding"][0]["code"], "24323-8");
    assert_eq!(first["identifier"][0]["value"], "ORD778812");
    assert_eq!(first["requisition"]["value"], "GRP22041");
    assert_eq!(first["priority"], "routine");
    assert_eq!(first["occurrenceDateTime"], "2025-03-18T08:00:00-05:00");
    assert_eq!(first["authoredOn"], "2025-03-18T07:15:00-05:00");
    assert_eq!(first["requester"]["display"], "CHIDINMA N OKAFOR");
    assert_eq!(first["reasonCode"][0]["coding"][0]["code"], "E11.9");
    assert_eq!(
        first["note"][0]["text"],
        "Fasting since 2200 previous evening"
    );
    assert_eq!(
        requests[1]["note"][0]["text"],
        "Patient prefers left arm; history of difficult venous access."
    );
    assert_eq!(resources(&bundle, "Condition").len(), 1);
}

#[test]
fn siu_events_set_the_appointment_status() {
    let booked = convert_sample("siu_s12.hl7");
    let appointment = only(&booked, "Appointment");
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["start"], "2025-04-02T09:30:00-05:00");
    assert_eq!(appointment["end"], "2025-04-02T10:00:00-05:00");
    assert_eq!(appointment["minutesDuration"], 30);
    assert_eq!(
        appointment["comment"],
        "Bring MRI disc from outside imaging center."
    );
    assert_eq!(
        appointment["serviceType"][0]["coding"][0]["system"],
        "http://www.ama-assn.org/go/cpt"
    );
    let actors: Vec<&Value> = appointment["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["actor"])
        .collect();
    assert_eq!(actors.len(), 3, "patient, AIP doctor, AIL room");
    assert_eq!(
        actors[0]["reference"],
        full_url_of(&booked, only(&booked, "Patient")).as_str()
    );
    assert_eq!(actors[1]["display"], "ERIK J LINDQVIST");
    assert_eq!(actors[2]["display"], "Orthopedic Clinic");
    let cancelled = convert_sample("siu_s15.hl7");
    assert_eq!(only(&cancelled, "Appointment")["status"], "cancelled");
}

#[test]
fn mdm_gives_a_document_reference_carrying_the_pdf() {
    let bundle = convert_sample("mdm_t02.hl7");
    let document = only(&bundle, "DocumentReference");
    assert_eq!(document["status"], "current");
    assert_eq!(document["docStatus"], "final");
    assert_eq!(document["type"]["coding"][0]["code"], "18842-5");
    assert_eq!(document["category"][0]["coding"][0]["code"], "DS");
    assert_eq!(document["masterIdentifier"]["value"], "DOC-20250316-000418");
    assert_eq!(document["date"], "2025-03-16T13:05:00-05:00");
    assert_eq!(document["author"][0]["display"], "MARCUS A WELBY");
    let attachment = &document["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["title"], "DS_00481516_20250316.pdf");
    use base64::Engine as _;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(attachment["data"].as_str().unwrap())
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert!(pdf.ends_with(b"%%EOF\n"));
    assert_eq!(
        document["context"]["encounter"][0]["reference"],
        full_url_of(&bundle, only(&bundle, "Encounter")).as_str()
    );
}
