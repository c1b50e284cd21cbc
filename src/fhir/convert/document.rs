//! MDM T01–T11: TXA with its OBX content → DocumentReference carrying the document.

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, concept_of, entity_identifier, practitioner, text};
use super::error::ConvertError;
use super::observation::attachment;

/// TXA-17 completion status (table 0271) → DocumentReference.docStatus.
fn doc_status(code: &str) -> Option<&'static str> {
    Some(match code {
        "AU" | "LA" => "final",
        "DI" | "DO" | "IN" | "IP" | "PA" => "preliminary",
        _ => return None,
    })
}

/// The DocumentReference for an MDM message: TXA plus the OBX that carry the document (ED
/// segments as they are; text OBX joined into one `text/plain` attachment).
pub(crate) fn convert_document(
    txa: &Seg<'_>,
    content: &[Seg<'_>],
    event: &str,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let options = cx.options;
    let mut document = Map::new();
    document.insert("resourceType".into(), "DocumentReference".into());
    if let Some(id) = entity_identifier(txa.field(12), None, options) {
        document.insert("masterIdentifier".into(), id);
    }
    let cancelled = event == "T11" || txa.text(19).as_deref() == Some("CA");
    let status = match (cancelled, txa.text(19).as_deref()) {
        (true, _) => "entered-in-error",
        (_, Some("OB")) => "superseded",
        _ => "current",
    };
    document.insert("status".into(), status.into());
    if let Some(doc_status) = txa.text(17).as_deref().and_then(doc_status) {
        document.insert("docStatus".into(), doc_status.into());
    }
    let type_from_txa = text(txa.field(2).component(1)).map(|code| {
        concept_of(
            "http://terminology.hl7.org/CodeSystem/v2-0270",
            &code,
            text(txa.field(2).component(2)).as_deref(),
        )
    });
    let type_from_obx = content
        .iter()
        .find_map(|obx| codeable_concept(obx.field(3), options));
    match (type_from_obx, type_from_txa) {
        (Some(kind), category) => {
            document.insert("type".into(), kind);
            if let Some(category) = category {
                document.insert("category".into(), json!([category]));
            }
        }
        (None, Some(kind)) => {
            document.insert("type".into(), kind);
        }
        (None, None) => {}
    }
    if let Some(subject) = cx.patient_ref() {
        document.insert("subject".into(), subject);
    }
    let created = cx.date_time(txa, 4)?;
    if let Some(date) = cx.instant(txa, 4)? {
        document.insert("date".into(), date.into());
    }
    let authors: Vec<Json> = txa
        .field(5)
        .repetitions()
        .filter_map(|x| practitioner(x, options))
        .collect();
    if !authors.is_empty() {
        document.insert("author".into(), authors.into());
    }
    if let Some(authenticator) = practitioner(txa.field(10), options) {
        document.insert("authenticator".into(), authenticator);
    }
    let title = txa.text(16);
    let mut attachments = Vec::new();
    let mut lines = Vec::new();
    for obx in content {
        if obx.text(2).is_some_and(|t| t.eq_ignore_ascii_case("ED")) {
            if let Some(a) = attachment(obx.field(5), obx)? {
                attachments.push(a);
            }
        } else {
            lines.extend(obx.field(5).repetitions().map(|r| r.text().into_owned()));
        }
    }
    if !lines.is_empty() {
        let data = base64::engine::general_purpose::STANDARD.encode(lines.join("\n"));
        attachments.push(json!({ "contentType": "text/plain", "data": data }));
    }
    if attachments.is_empty() {
        // The notification came without the document (e.g. T01 before transcription).
        attachments.push(
            json!({ "title": title.clone().unwrap_or_else(|| "document not included".to_owned()) }),
        );
    }
    let content: Vec<Json> = attachments
        .into_iter()
        .map(|mut a| {
            if let (Some(title), None) = (&title, a.get("title")) {
                a["title"] = title.clone().into();
            }
            if let Some(created) = &created {
                a["creation"] = created.clone().into();
            }
            json!({ "attachment": a })
        })
        .collect();
    document.insert("content".into(), content.into());
    if let Some(encounter) = cx.encounter_ref() {
        document.insert("context".into(), json!({ "encounter": [encounter] }));
    }
    cx.add(Json::Object(document));
    Ok(())
}
