//! PID → Patient (with a conditional create on its business identifier) and NK1 → RelatedPerson.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{
    addresses, codeable_concept, concept_of, contact_points, human_names, identifiers,
    query_escape, text,
};
use super::error::ConvertError;

/// PID-8 (table 0001) → administrative gender.
pub(crate) fn gender(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "M" => "male",
        "F" => "female",
        "O" | "A" | "N" | "X" => "other",
        "U" => "unknown",
        _ => return None,
    })
}

/// PID-16 (table 0002) → the v3 MaritalStatus code and display.
fn marital_status(code: &str) -> Option<(&'static str, &'static str, &'static str)> {
    const V3: &str = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus";
    const NULL: &str = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
    Some(match code {
        "A" | "E" => (V3, "L", "Legally Separated"),
        "D" => (V3, "D", "Divorced"),
        "I" => (V3, "I", "Interlocutory"),
        "M" => (V3, "M", "Married"),
        "N" => (V3, "A", "Annulled"),
        "S" => (V3, "S", "Never Married"),
        "W" => (V3, "W", "Widowed"),
        "C" | "G" | "P" | "R" => (V3, "T", "Domestic partner"),
        "B" => (V3, "U", "unmarried"),
        "O" => (NULL, "OTH", "other"),
        "U" | "T" => (NULL, "UNK", "unknown"),
        _ => return None,
    })
}

/// The `ifNoneExist` query for a patient: its MR identifier (else its first identifier with a
/// system) as `identifier=system|value`.
fn business_identifier_query(identifiers: &[Json]) -> Option<String> {
    let is_mr = |id: &&Json| id["type"]["coding"][0]["code"] == "MR";
    let chosen = identifiers
        .iter()
        .filter(|id| id["system"].is_string())
        .find(is_mr)
        .or_else(|| identifiers.iter().find(|id| id["system"].is_string()))?;
    Some(format!(
        "identifier={}|{}",
        query_escape(chosen["system"].as_str()?),
        query_escape(chosen["value"].as_str()?)
    ))
}

/// PID → Patient, added to the Bundle as a conditional create.
pub(crate) fn convert_pid(pid: &Seg<'_>, cx: &mut Context<'_>) -> Result<(), ConvertError> {
    let options = cx.options;
    let mut patient = Map::new();
    patient.insert("resourceType".into(), "Patient".into());
    // PID-2 (external id, deprecated) and PID-4 (alternate ids) are identifiers too.
    let mut ids = identifiers(pid.field(3), options);
    ids.extend(identifiers(pid.field(2), options));
    ids.extend(identifiers(pid.field(4), options));
    if let Some(ssn) = pid.text(19) {
        ids.push(
            json!({ "system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn,
            "type": concept_of("http://terminology.hl7.org/CodeSystem/v2-0203", "SS", None) }),
        );
    }
    let query = business_identifier_query(&ids);
    if !ids.is_empty() {
        patient.insert("identifier".into(), ids.into());
    }
    // PID-9 (alias, kept for backward compatibility) names the same person too.
    let mut names = human_names(pid.field(5));
    names.extend(human_names(pid.field(9)));
    if !names.is_empty() {
        patient.insert("name".into(), names.into());
    }
    let mut telecom = contact_points(pid.field(13), Some("home"));
    telecom.extend(contact_points(pid.field(14), Some("work")));
    if !telecom.is_empty() {
        patient.insert("telecom".into(), telecom.into());
    }
    if let Some(code) = pid.text(8) {
        let gender = gender(&code).ok_or_else(|| ConvertError::Invalid {
            location: pid.at(8),
            value: code.clone(),
            reason: "not a code of HL7 table 0001 (F, M, O, U, A, N)".to_owned(),
        })?;
        patient.insert("gender".into(), gender.into());
    }
    if let Some(birth) = cx.date(pid, 7)? {
        patient.insert("birthDate".into(), birth.into());
    }
    if let Some(death) = cx.date_time(pid, 29)? {
        patient.insert("deceasedDateTime".into(), death.into());
    } else if let Some(flag) = pid.text(30) {
        patient.insert("deceasedBoolean".into(), (flag == "Y").into());
    }
    let addresses = addresses(pid.field(11));
    if !addresses.is_empty() {
        patient.insert("address".into(), addresses.into());
    }
    if let Some((system, code, display)) = text(pid.field(16).component(1))
        .as_deref()
        .and_then(marital_status)
    {
        patient.insert(
            "maritalStatus".into(),
            concept_of(system, code, Some(display)),
        );
    }
    if let Some(flag) = pid.text(24) {
        patient.insert("multipleBirthBoolean".into(), (flag == "Y").into());
    }
    if let Some(language) = codeable_concept(pid.field(15), options) {
        patient.insert("communication".into(), json!([{ "language": language }]));
    }
    let full_url = cx.add_conditional(Json::Object(patient), query);
    cx.patient = Some(full_url);
    Ok(())
}

/// NK1 → RelatedPerson of the patient.
pub(crate) fn convert_nk1(nk1: &Seg<'_>, cx: &mut Context<'_>) -> Result<(), ConvertError> {
    let Some(patient) = cx.patient_ref() else {
        return Ok(());
    };
    let options = cx.options;
    let mut person = Map::new();
    person.insert("resourceType".into(), "RelatedPerson".into());
    person.insert("active".into(), true.into());
    person.insert("patient".into(), patient);
    let relationships: Vec<Json> = [3, 7]
        .into_iter()
        .filter_map(|n| codeable_concept(nk1.field(n), options))
        .collect();
    if !relationships.is_empty() {
        person.insert("relationship".into(), relationships.into());
    }
    let names = human_names(nk1.field(2));
    if !names.is_empty() {
        person.insert("name".into(), names.into());
    }
    let mut telecom = contact_points(nk1.field(5), Some("home"));
    telecom.extend(contact_points(nk1.field(6), Some("work")));
    if !telecom.is_empty() {
        person.insert("telecom".into(), telecom.into());
    }
    if let Some(gender) = nk1.text(15).as_deref().and_then(gender) {
        person.insert("gender".into(), gender.into());
    }
    if let Some(birth) = cx.date(nk1, 16)? {
        person.insert("birthDate".into(), birth.into());
    }
    let addresses = addresses(nk1.field(4));
    if !addresses.is_empty() {
        person.insert("address".into(), addresses.into());
    }
    let start = cx.date(nk1, 8)?;
    let end = cx.date(nk1, 9)?;
    if start.is_some() || end.is_some() {
        let mut period = json!({});
        if let Some(start) = start {
            period["start"] = start.into();
        }
        if let Some(end) = end {
            period["end"] = end.into();
        }
        person.insert("period".into(), period);
    }
    cx.add(Json::Object(person));
    Ok(())
}
