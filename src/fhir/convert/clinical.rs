//! AL1 → AllergyIntolerance and DG1 → Condition.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, concept_of, text};
use super::error::ConvertError;

const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";

/// AL1-2 allergen type (table 0127) → AllergyIntolerance.category.
fn allergy_category(code: &str) -> Option<&'static str> {
    Some(match code {
        "DA" | "MA" => "medication",
        "FA" => "food",
        "EA" | "AA" | "PA" | "LA" => "environment",
        _ => return None,
    })
}

/// AL1-4 severity (table 0128) → (criticality, reaction severity).
fn allergy_severity(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "SV" => ("high", "severe"),
        "MO" => ("low", "moderate"),
        "MI" => ("low", "mild"),
        "U" => ("unable-to-assess", ""),
        _ => return None,
    })
}

/// AL1 → AllergyIntolerance of the patient.
pub(crate) fn convert_al1(al1: &Seg<'_>, cx: &mut Context<'_>) -> Result<(), ConvertError> {
    let Some(patient) = cx.patient_ref() else {
        return Ok(());
    };
    let options = cx.options;
    let mut allergy = Map::new();
    allergy.insert("resourceType".into(), "AllergyIntolerance".into());
    allergy.insert(
        "clinicalStatus".into(),
        concept_of(ALLERGY_CLINICAL, "active", Some("Active")),
    );
    if let Some(category) = text(al1.field(2).component(1))
        .as_deref()
        .and_then(allergy_category)
    {
        allergy.insert("category".into(), json!([category]));
    }
    let severity = text(al1.field(4).component(1))
        .as_deref()
        .and_then(allergy_severity);
    if let Some((criticality, _)) = severity {
        allergy.insert("criticality".into(), criticality.into());
    }
    if let Some(code) = codeable_concept(al1.field(3), options) {
        allergy.insert("code".into(), code);
    }
    allergy.insert("patient".into(), patient);
    if let Some(onset) = cx.date(al1, 6)? {
        allergy.insert("onsetDateTime".into(), onset.into());
    }
    let manifestations: Vec<Json> = al1
        .field(5)
        .repetitions()
        .filter_map(text)
        .map(|t| json!({ "text": t }))
        .collect();
    if !manifestations.is_empty() {
        let mut reaction = json!({ "manifestation": manifestations });
        if let Some((_, level)) = severity.filter(|(_, level)| !level.is_empty()) {
            reaction["severity"] = level.into();
        }
        allergy.insert("reaction".into(), json!([reaction]));
    }
    cx.add(Json::Object(allergy));
    Ok(())
}

/// DG1 → Condition (an encounter diagnosis) of the patient.
pub(crate) fn convert_dg1(dg1: &Seg<'_>, cx: &mut Context<'_>) -> Result<(), ConvertError> {
    if cx.patient.is_none() {
        return Ok(());
    }
    let options = cx.options;
    let mut condition = json!({
        "resourceType": "Condition",
        "clinicalStatus": concept_of(CONDITION_CLINICAL, "active", Some("Active")),
        "category": [concept_of(CONDITION_CATEGORY, "encounter-diagnosis", Some("Encounter Diagnosis"))],
    });
    // DG1-6 (table 0052): A admitting and W working are provisional, F final is confirmed.
    let verification = match text(dg1.field(6).component(1)).as_deref() {
        Some("F") => Some(("confirmed", "Confirmed")),
        Some("A" | "W") => Some(("provisional", "Provisional")),
        _ => None,
    };
    if let Some((code, display)) = verification {
        condition["verificationStatus"] = concept_of(CONDITION_VERIFICATION, code, Some(display));
    }
    let code = codeable_concept(dg1.field(3), options)
        .or_else(|| dg1.text(4).map(|t| json!({ "text": t })));
    if let Some(code) = code {
        condition["code"] = code;
    }
    cx.link(&mut condition, "subject", Some("encounter"));
    if let Some(recorded) = cx.date_time(dg1, 5)? {
        condition["recordedDate"] = recorded.into();
    }
    cx.add(condition);
    Ok(())
}
