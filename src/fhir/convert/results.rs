//! An ORU/OUL order group (OBR, its OBX, NTE and SPM) → DiagnosticReport, Observations and a
//! Specimen.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, concept_of, entity_identifier, text};
use super::error::ConvertError;
use super::message::OrderGroup;
use super::observation::{ObxResult, convert_obx};

/// OBR-25 result status (table 0123) → DiagnosticReport.status.
fn report_status(code: &str) -> &'static str {
    match code {
        "O" | "I" => "registered",
        "S" | "A" => "partial",
        "P" | "R" => "preliminary",
        "F" => "final",
        "C" => "corrected",
        "X" => "cancelled",
        _ => "unknown",
    }
}

/// The group's Specimen: from its SPM segment, else from OBR-7 (collection) and OBR-15.
fn convert_specimen(
    group: &OrderGroup<'_>,
    cx: &mut Context<'_>,
) -> Result<Option<String>, ConvertError> {
    let mut specimen = Map::new();
    specimen.insert("resourceType".into(), "Specimen".into());
    let mut collection = Map::new();
    if let Some(spm) = group.specimens.first() {
        let ids: Vec<Json> = [1, 2]
            .into_iter()
            .filter_map(|c| entity_identifier(spm.field(2).component(c), None, cx.options))
            .collect();
        if !ids.is_empty() {
            specimen.insert("identifier".into(), ids.into());
        }
        if let Some(kind) = codeable_concept(spm.field(4), cx.options) {
            specimen.insert("type".into(), kind);
        }
        if let Some(at) = cx.date_time(spm, 17)? {
            collection.insert("collectedDateTime".into(), at.into());
        }
        if let Some(at) = cx.date_time(spm, 18)? {
            specimen.insert("receivedTime".into(), at.into());
        }
    } else if let Some(obr) = &group.obr {
        let source = codeable_concept(obr.field(15).component(1), cx.options);
        let collected = cx.date_time(obr, 7)?;
        if source.is_none() && collected.is_none() {
            return Ok(None);
        }
        if let Some(kind) = source {
            specimen.insert("type".into(), kind);
        }
        if let Some(at) = collected {
            collection.insert("collectedDateTime".into(), at.into());
        }
        if let Some(at) = cx.date_time(obr, 14)? {
            specimen.insert("receivedTime".into(), at.into());
        }
    } else {
        return Ok(None);
    }
    if !collection.is_empty() {
        specimen.insert("collection".into(), Json::Object(collection));
    }
    if let Some(subject) = cx.patient_ref() {
        specimen.insert("subject".into(), subject);
    }
    Ok(Some(cx.add(Json::Object(specimen))))
}

/// Placer (OBR-2/ORC-2) and filler (OBR-3/ORC-3) order numbers as typed identifiers.
pub(crate) fn order_identifiers(group: &OrderGroup<'_>, cx: &Context<'_>) -> Vec<Json> {
    let mut ids = Vec::new();
    for (field, kind) in [(2, "PLAC"), (3, "FILL")] {
        let ei = group
            .obr
            .iter()
            .chain(group.orc.iter())
            .map(|s| s.field(field))
            .find(|v| text(v.component(1)).is_some());
        if let Some(id) = ei.and_then(|ei| entity_identifier(ei, Some(kind), cx.options)) {
            ids.push(id);
        }
    }
    ids
}

/// Converts the group's OBX segments; returns the Observation references and the attachments.
pub(crate) fn convert_observations(
    group: &OrderGroup<'_>,
    default_time: Option<&str>,
    specimen: Option<&str>,
    cx: &mut Context<'_>,
) -> Result<(Vec<Json>, Vec<Json>), ConvertError> {
    let mut results = Vec::new();
    let mut attachments = Vec::new();
    for (obx, notes) in &group.observations {
        match convert_obx(obx, notes, default_time, specimen, cx)? {
            ObxResult::Observation(url) => results.push(json!({ "reference": url })),
            ObxResult::Attachment(a) => attachments.push(a),
            ObxResult::Nothing => {}
        }
    }
    Ok((results, attachments))
}

/// ORU/OUL order group → DiagnosticReport with its Observations and Specimen.
pub(crate) fn convert_report(
    group: &OrderGroup<'_>,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let Some(obr) = &group.obr else {
        // Observations outside an OBR (not valid ORU, but seen): keep them.
        convert_observations(group, None, None, cx)?;
        return Ok(());
    };
    let code = codeable_concept(obr.field(4), cx.options)
        .ok_or_else(|| missing(obr, 4, "DiagnosticReport.code"))?;
    let effective = cx.date_time(obr, 7)?;
    let specimen = convert_specimen(group, cx)?;
    let (results, attachments) =
        convert_observations(group, effective.as_deref(), specimen.as_deref(), cx)?;
    let mut report = Map::new();
    report.insert("resourceType".into(), "DiagnosticReport".into());
    let ids = order_identifiers(group, cx);
    if !ids.is_empty() {
        report.insert("identifier".into(), ids.into());
    }
    report.insert(
        "status".into(),
        report_status(&obr.text(25).unwrap_or_default()).into(),
    );
    if let Some(section) = text(obr.field(24).component(1)) {
        report.insert(
            "category".into(),
            json!([concept_of(
                "http://terminology.hl7.org/CodeSystem/v2-0074",
                &section,
                None
            )]),
        );
    }
    report.insert("code".into(), code);
    if let Some(subject) = cx.patient_ref() {
        report.insert("subject".into(), subject);
    }
    if let Some(encounter) = cx.encounter_ref() {
        report.insert("encounter".into(), encounter);
    }
    if let Some(effective) = effective {
        report.insert("effectiveDateTime".into(), effective.into());
    }
    if let Some(issued) = cx.instant(obr, 22)? {
        report.insert("issued".into(), issued.into());
    }
    if let Some(specimen) = specimen {
        report.insert("specimen".into(), json!([{ "reference": specimen }]));
    }
    if !results.is_empty() {
        report.insert("result".into(), results.into());
    }
    if !group.notes.is_empty() {
        report.insert("conclusion".into(), group.notes.join("\n").into());
    }
    if !attachments.is_empty() {
        report.insert("presentedForm".into(), attachments.into());
    }
    cx.add(Json::Object(report));
    Ok(())
}

/// The error for a field a required FHIR element needs.
pub(crate) fn missing(seg: &Seg<'_>, n: usize, needed_for: &str) -> ConvertError {
    ConvertError::Invalid {
        location: seg.at(n),
        value: String::new(),
        reason: format!("empty, but {needed_for} needs it"),
    }
}
