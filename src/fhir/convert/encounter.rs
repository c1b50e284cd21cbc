//! PV1 (+ PV2) → Encounter: class from the patient class, status from the trigger event, period
//! from the admit/discharge times, location and the attending, referring, consulting and
//! admitting doctors.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, identifier, location_display, practitioner, text};
use super::error::ConvertError;

const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

/// PV1-2 patient class (table 0004) → Encounter.class (v3 ActCode).
fn class(code: &str) -> Json {
    let (code, display) = match code {
        "I" => ("IMP", "inpatient encounter"),
        "O" | "R" | "B" | "C" => ("AMB", "ambulatory"),
        "E" => ("EMER", "emergency"),
        "P" => ("PRENC", "pre-admission"),
        _ => {
            return json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                "code": "UNK",
                "display": "unknown",
            });
        }
    };
    json!({ "system": ACT_CODE, "code": code, "display": display })
}

/// The Encounter status an ADT event implies; `None` where the PV1 must decide.
fn status_of_event(event: &str) -> Option<&'static str> {
    Some(match event {
        "A01" | "A02" | "A06" | "A07" | "A12" | "A13" | "A15" | "A16" => "in-progress",
        "A04" | "A10" => "arrived",
        "A03" => "finished",
        "A05" | "A14" => "planned",
        "A11" | "A27" | "A38" => "cancelled",
        _ => return None,
    })
}

/// PV1 → Encounter, linked to the Patient; sets the context's encounter.
pub(crate) fn convert_pv1(
    pv1: &Seg<'_>,
    pv2: Option<&Seg<'_>>,
    message_type: &str,
    event: &str,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let options = cx.options;
    let mut encounter = Map::new();
    encounter.insert("resourceType".into(), "Encounter".into());
    if let Some(id) = identifier(pv1.field(19), options) {
        encounter.insert("identifier".into(), json!([id]));
    }
    let start = cx.date_time(pv1, 44)?;
    let end = cx.date_time(pv1, 45)?;
    let status = match (message_type, status_of_event(event)) {
        ("ADT", Some(status)) => status,
        _ if end.is_some() => "finished",
        _ if start.is_some() => "in-progress",
        _ => "unknown",
    };
    encounter.insert("status".into(), status.into());
    encounter.insert(
        "class".into(),
        class(&text(pv1.field(2).component(1)).unwrap_or_default()),
    );
    if let Some(kind) = codeable_concept(pv1.field(4), options) {
        encounter.insert("type".into(), json!([kind]));
    }
    if let Some(service) = codeable_concept(pv1.field(10), options) {
        encounter.insert("serviceType".into(), service);
    }
    if let Some(patient) = cx.patient_ref() {
        encounter.insert("subject".into(), patient);
    }
    let participants: Vec<Json> = [(7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter")]
        .into_iter()
        .flat_map(|(n, code, display)| {
            pv1.field(n).repetitions().filter_map(move |xcn| {
                let individual = practitioner(xcn, options)?;
                Some(json!({
                    "type": [{ "coding": [{ "system": PARTICIPATION, "code": code, "display": display }] }],
                    "individual": individual,
                }))
            }).collect::<Vec<_>>()
        })
        .collect();
    if !participants.is_empty() {
        encounter.insert("participant".into(), participants.into());
    }
    if start.is_some() || end.is_some() {
        let mut period = json!({});
        if let Some(start) = start {
            period["start"] = start.into();
        }
        if let Some(end) = end {
            period["end"] = end.into();
        }
        encounter.insert("period".into(), period);
    }
    if let Some(reason) = pv2.and_then(|pv2| codeable_concept(pv2.field(3), options)) {
        encounter.insert("reasonCode".into(), json!([reason]));
    }
    let mut hospitalization = Map::new();
    if let Some(source) = codeable_concept(pv1.field(14), options) {
        hospitalization.insert("admitSource".into(), source);
    }
    if let Some(disposition) = codeable_concept(pv1.field(36), options) {
        hospitalization.insert("dischargeDisposition".into(), disposition);
    }
    if !hospitalization.is_empty() {
        encounter.insert("hospitalization".into(), Json::Object(hospitalization));
    }
    let mut locations = Vec::new();
    for (n, location_status) in [(3, "active"), (6, "completed")] {
        if let Some(display) = location_display(pv1.field(n)) {
            locations
                .push(json!({ "location": { "display": display }, "status": location_status }));
        }
    }
    if !locations.is_empty() {
        encounter.insert("location".into(), locations.into());
    }
    let full_url = cx.add(Json::Object(encounter));
    cx.encounter = Some(full_url);
    Ok(())
}
