//! CWE/CE → CodeableConcept, and the FHIR URIs of HL7 v2 coding-system names (table 0396).
//!
//! The names that have an official FHIR URI get it (`LN` → `http://loinc.org`, `HL70063` → the
//! v2-0063 code system, …); any other name becomes `<local_system_prefix><name>` (by default
//! `urn:id:<name>`), so a local code keeps a system that says whose it is.

use serde_json::{Map, Value as Json, json};

use super::ConvertOptions;
use super::datatypes::text;
use super::identifiers::uri_escape;
use crate::hl7::Value;

/// The system URI for an HL7 v2 coding-system name (table 0396).
pub(crate) fn code_system(name: &str, options: &ConvertOptions) -> String {
    let known = match name.to_ascii_uppercase().as_str() {
        "LN" | "LOINC" => "http://loinc.org",
        "SCT" | "SNM" | "SNOMED" | "SNOMEDCT" | "SNOMED-CT" => "http://snomed.info/sct",
        "I10" | "I10C" | "ICD10CM" | "ICD-10-CM" => "http://hl7.org/fhir/sid/icd-10-cm",
        "I10P" => "http://www.cms.gov/Medicare/Coding/ICD10",
        "I9" | "I9C" | "I9CDX" | "ICD9" => "http://hl7.org/fhir/sid/icd-9-cm",
        "RXNORM" | "RXN" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "CPT" | "C4" | "C5" => "http://www.ama-assn.org/go/cpt",
        "UCUM" => "http://unitsofmeasure.org",
        "CVX" => "http://hl7.org/fhir/sid/cvx",
        "NDC" => "http://hl7.org/fhir/sid/ndc",
        "CDCREC" => "urn:oid:2.16.840.1.113883.6.238",
        "ISO639" | "ISO639-1" => "urn:ietf:bcp:47",
        "ISO3166_1" | "ISO3166" => "urn:iso:std:iso:3166",
        "NPI" => "http://hl7.org/fhir/sid/us-npi",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    if let Some(table) = name
        .strip_prefix("HL7")
        .filter(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()))
    {
        return format!("http://terminology.hl7.org/CodeSystem/v2-{table}");
    }
    format!("{}{}", options.local_system_prefix, uri_escape(name))
}

/// A Coding from a code, display and coding-system name; `None` without a code.
fn coding(
    code: Value<'_>,
    display: Value<'_>,
    system: Value<'_>,
    options: &ConvertOptions,
) -> Option<Json> {
    let code = text(code)?;
    let mut coding = Map::new();
    if let Some(system) = text(system) {
        coding.insert("system".into(), code_system(&system, options).into());
    }
    coding.insert("code".into(), code.into());
    if let Some(display) = text(display) {
        coding.insert("display".into(), display.into());
    }
    Some(Json::Object(coding))
}

/// CWE/CE/CNE → CodeableConcept: the primary and the alternate coding, and the original text
/// (CWE-9) or else the primary display as `text`.
pub(crate) fn codeable_concept(cwe: Value<'_>, options: &ConvertOptions) -> Option<Json> {
    let codings: Vec<Json> = [(1, 2, 3), (4, 5, 6)]
        .into_iter()
        .filter_map(|(c, d, s)| {
            coding(
                cwe.component(c),
                cwe.component(d),
                cwe.component(s),
                options,
            )
        })
        .collect();
    let label = text(cwe.component(9)).or_else(|| text(cwe.component(2)));
    if codings.is_empty() && label.is_none() {
        return None;
    }
    let mut concept = Map::new();
    if !codings.is_empty() {
        concept.insert("coding".into(), codings.into());
    }
    if let Some(label) = label {
        concept.insert("text".into(), label.into());
    }
    Some(Json::Object(concept))
}

/// A CodeableConcept with one coding of a known system, for codes from HL7 tables.
pub(crate) fn concept_of(system: &str, code: &str, display: Option<&str>) -> Json {
    let mut coding = json!({ "system": system, "code": code });
    if let Some(display) = display {
        coding["display"] = display.into();
    }
    json!({ "coding": [coding] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Message;

    #[test]
    fn codeable_concepts_map_code_systems() {
        let msg = Message::parse(
            b"MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5.1\rOBX|1|CE|2823-3^Potassium^LN^K^Pot^99LAB||x^y^HL70078^^^^^^Original",
        )
        .unwrap();
        let options = ConvertOptions::default();
        let concept = codeable_concept(msg.get("OBX-3").unwrap(), &options).unwrap();
        assert_eq!(concept["coding"][0]["system"], "http://loinc.org");
        assert_eq!(concept["coding"][1]["system"], "urn:id:99LAB");
        let value = codeable_concept(msg.get("OBX-5").unwrap(), &options).unwrap();
        assert_eq!(
            value["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v2-0078"
        );
        assert_eq!(value["text"], "Original");
    }
}
