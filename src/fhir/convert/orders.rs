//! An ORM/OML order group (ORC, OBR, TQ1, NTE, OBX) → ServiceRequest.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, entity_identifier, practitioner, text};
use super::error::ConvertError;
use super::message::OrderGroup;
use super::results::{convert_observations, order_identifiers};

/// ORC-5 order status (table 0038), else ORC-1 order control (table 0119) → ServiceRequest.status.
fn status(orc: Option<&Seg<'_>>) -> &'static str {
    let Some(orc) = orc else {
        return "active";
    };
    match orc.text(5).as_deref() {
        Some("A" | "IP" | "SC") => return "active",
        Some("CA" | "DC" | "RP") => return "revoked",
        Some("CM") => return "completed",
        Some("ER") => return "entered-in-error",
        Some("HD") => return "on-hold",
        _ => {}
    }
    match orc.text(1).as_deref() {
        Some("CA" | "OC" | "DC" | "OD" | "CR" | "DR") => "revoked",
        Some("HD" | "OH") => "on-hold",
        Some("NW" | "OK" | "SN" | "XO" | "RL" | "SC" | "XX" | "RO") => "active",
        _ => "unknown",
    }
}

/// Priority code (TQ1-9 or TQ-6: S, A, R, P, C, T) → ServiceRequest.priority.
fn priority(code: &str) -> Option<&'static str> {
    Some(match code {
        "S" => "stat",
        "A" => "asap",
        "R" => "routine",
        "P" | "C" | "T" => "urgent",
        _ => return None,
    })
}

/// Order group → ServiceRequest (and the Observations its OBX carry, as supporting info).
pub(crate) fn convert_order(
    group: &OrderGroup<'_>,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let orc = group.orc.as_ref();
    let obr = group.obr.as_ref();
    let (observations, _) = convert_observations(group, None, None, cx)?;
    let mut request = Map::new();
    request.insert("resourceType".into(), "ServiceRequest".into());
    let ids = order_identifiers(group, cx);
    if !ids.is_empty() {
        request.insert("identifier".into(), ids.into());
    }
    if let Some(requisition) =
        orc.and_then(|orc| entity_identifier(orc.field(4), Some("PGN"), cx.options))
    {
        request.insert("requisition".into(), requisition);
    }
    request.insert("status".into(), status(orc).into());
    request.insert("intent".into(), "order".into());
    let priority_code = group
        .tq1
        .as_ref()
        .and_then(|tq1| text(tq1.field(9).component(1)))
        .or_else(|| obr.and_then(|obr| text(obr.field(27).component(6))))
        .or_else(|| orc.and_then(|orc| text(orc.field(7).component(6))));
    if let Some(p) = priority_code.as_deref().and_then(priority) {
        request.insert("priority".into(), p.into());
    }
    if let Some(code) = obr.and_then(|obr| codeable_concept(obr.field(4), cx.options)) {
        request.insert("code".into(), code);
    }
    if let Some(subject) = cx.patient_ref() {
        request.insert("subject".into(), subject);
    }
    if let Some(encounter) = cx.encounter_ref() {
        request.insert("encounter".into(), encounter);
    }
    let occurrence = match (group.tq1.as_ref(), obr) {
        (Some(tq1), _) if tq1.text(7).is_some() => cx.date_time(tq1, 7)?,
        (_, Some(obr)) if text(obr.field(27).component(4)).is_some() => {
            let at = text(obr.field(27).component(4)).unwrap_or_default();
            Some(
                super::datetime::to_date_time(&at, &cx.options.assumed_offset).ok_or_else(
                    || ConvertError::Invalid {
                        location: format!("{}.4", obr.at(27)),
                        value: at.clone(),
                        reason: "not an HL7 date/time".to_owned(),
                    },
                )?,
            )
        }
        (_, Some(obr)) => cx.date_time(obr, 6)?,
        _ => None,
    };
    if let Some(at) = occurrence {
        request.insert("occurrenceDateTime".into(), at.into());
    }
    if let Some(orc) = orc
        && let Some(at) = cx.date_time(orc, 9)?
    {
        request.insert("authoredOn".into(), at.into());
    }
    let requester = orc
        .and_then(|orc| practitioner(orc.field(12), cx.options))
        .or_else(|| obr.and_then(|obr| practitioner(obr.field(16), cx.options)));
    if let Some(requester) = requester {
        request.insert("requester".into(), requester);
    }
    let reasons: Vec<Json> = obr
        .map(|obr| {
            obr.field(31)
                .repetitions()
                .filter_map(|r| codeable_concept(r, cx.options))
                .collect()
        })
        .unwrap_or_default();
    if !reasons.is_empty() {
        request.insert("reasonCode".into(), reasons.into());
    }
    if !observations.is_empty() {
        request.insert("supportingInfo".into(), observations.into());
    }
    let mut notes: Vec<Json> = obr
        .and_then(|obr| obr.text(13))
        .map(|t| json!({ "text": t }))
        .into_iter()
        .collect();
    notes.extend(group.notes.iter().map(|n| json!({ "text": n })));
    if !notes.is_empty() {
        request.insert("note".into(), notes.into());
    }
    cx.add(Json::Object(request));
    Ok(())
}
