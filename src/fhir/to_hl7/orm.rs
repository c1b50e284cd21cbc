//! ServiceRequest → ORM^O01 (ORC + OBR, and PID when the patient is at hand).

use serde_json::Value as Json;

use super::ToHl7Error;
use super::adt::{finish, new_message, put_pid};
use super::fields::{array, put, put_cwe, put_cx, put_time, put_xcn, str_at};

/// ServiceRequest.status → ORC-1 order control and ORC-5 order status.
fn order_control(status: &str) -> (&'static str, Option<&'static str>) {
    match status {
        "on-hold" => ("HD", Some("HD")),
        "revoked" => ("CA", Some("CA")),
        "completed" => ("SC", Some("CM")),
        "entered-in-error" => ("CA", Some("ER")),
        _ => ("NW", None),
    }
}

/// ServiceRequest.priority → the TQ priority code (OBR-27.6).
fn priority(code: &str) -> Option<&'static str> {
    Some(match code {
        "stat" => "S",
        "asap" => "A",
        "routine" => "R",
        "urgent" => "C",
        _ => return None,
    })
}

/// The ServiceRequest and, when the input is a Bundle, the Patient its subject points to.
fn find_request(input: &Json) -> Result<(&Json, Option<&Json>), ToHl7Error> {
    let kind = str_at(input, "resourceType").unwrap_or_default();
    if kind == "ServiceRequest" {
        return Ok((input, None));
    }
    let wrong = || ToHl7Error::WrongResource {
        expected: "ServiceRequest (or a Bundle holding one)",
        found: kind.to_owned(),
    };
    if kind != "Bundle" {
        return Err(wrong());
    }
    let entries = array(input, "entry");
    let request = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "ServiceRequest")
        .ok_or_else(wrong)?;
    let subject = request["subject"]["reference"].as_str().unwrap_or_default();
    let patient = entries
        .iter()
        .find(|e| {
            let r = &e["resource"];
            r["resourceType"] == "Patient"
                && (e["fullUrl"].as_str() == Some(subject)
                    || r["id"]
                        .as_str()
                        .is_some_and(|id| subject == format!("Patient/{id}")))
        })
        .map(|e| &e["resource"]);
    Ok((request, patient))
}

/// Builds an ORM^O01 new-order message for a ServiceRequest, so an order placed in FHIR reaches
/// a lab or department system that takes HL7 v2. Given a Bundle (as [`crate::fhir::convert`]
/// makes), the ServiceRequest's Patient becomes the PID; given a bare ServiceRequest, the message
/// has no PID (the patient group is optional in ORM^O01).
pub fn service_request_to_orm(input: &Json) -> Result<String, ToHl7Error> {
    let (request, patient) = find_request(input)?;
    let mut buf = new_message("ORM", "O01", "ORM_O01")?;
    if let Some(patient) = patient {
        put_pid(&mut buf, patient)?;
    }
    let (control, status) = order_control(str_at(request, "status").unwrap_or("active"));
    buf.set("ORC-1", control)?;
    let typed = |code: &str| {
        array(request, "identifier")
            .iter()
            .find(|id| id["type"]["coding"][0]["code"] == code)
    };
    let placer = typed("PLAC").or_else(|| array(request, "identifier").first());
    if let Some(id) = placer {
        put_ei(&mut buf, "ORC-2", id)?;
        put_ei(&mut buf, "OBR-2", id)?;
    }
    if let Some(id) = typed("FILL") {
        put_ei(&mut buf, "ORC-3", id)?;
        put_ei(&mut buf, "OBR-3", id)?;
    }
    if let Some(requisition) = request.get("requisition") {
        put_ei(&mut buf, "ORC-4", requisition)?;
    }
    put(&mut buf, "ORC-5", status)?;
    put_time(
        &mut buf,
        "ORC-9",
        str_at(request, "authoredOn"),
        "ServiceRequest.authoredOn",
    )?;
    if let Some(requester) = request.get("requester") {
        put_xcn(&mut buf, "ORC-12", requester)?;
    }
    buf.set("OBR-1", "1")?;
    let code = request.get("code").ok_or(ToHl7Error::Missing {
        element: "ServiceRequest.code",
        needed_for: "OBR-4",
    })?;
    if !put_cwe(&mut buf, "OBR-4", code)? {
        return Err(ToHl7Error::Missing {
            element: "ServiceRequest.code",
            needed_for: "OBR-4",
        });
    }
    let occurrence = str_at(request, "occurrenceDateTime");
    put_time(
        &mut buf,
        "OBR-6",
        occurrence,
        "ServiceRequest.occurrenceDateTime",
    )?;
    if let Some(requester) = request.get("requester") {
        put_xcn(&mut buf, "OBR-16", requester)?;
    }
    put_time(
        &mut buf,
        "OBR-27.4",
        occurrence,
        "ServiceRequest.occurrenceDateTime",
    )?;
    put(
        &mut buf,
        "OBR-27.6",
        str_at(request, "priority").and_then(priority),
    )?;
    for (i, reason) in array(request, "reasonCode").iter().enumerate() {
        put_cwe(&mut buf, &format!("OBR-31[{}]", i + 1), reason)?;
    }
    let notes = array(request, "note")
        .iter()
        .filter_map(|n| str_at(n, "text"));
    for (i, note) in notes.enumerate() {
        buf.set(&format!("NTE[{}]-1", i + 1), &(i + 1).to_string())?;
        buf.set(&format!("NTE[{}]-3", i + 1), note)?;
    }
    finish(buf)
}

/// Identifier → EI at `at` (entity id, namespace, universal id, type), via the CX writer's
/// authority mapping.
fn put_ei(buf: &mut crate::hl7::MessageBuf, at: &str, id: &Json) -> Result<(), ToHl7Error> {
    // Write as CX into a scratch copy of the components: CX-1 and CX-4 (HD) line up with EI-1
    // and EI-2..4 once the HD is spread over components.
    let mut scratch = crate::hl7::MessageBuf::new(crate::hl7::Delimiters::default());
    let plain = serde_json::json!({ "value": id["value"], "system": id["system"] });
    if !put_cx(&mut scratch, "PID-3", &plain)? {
        return Ok(());
    }
    let cx = scratch.get("PID-3")?;
    put(
        buf,
        &format!("{at}.1"),
        Some(cx.component(1).text().as_ref()),
    )?;
    for (sub, component) in [(1, 2), (2, 3), (3, 4)] {
        let part = cx.component(4).subcomponent(sub).text().into_owned();
        put(
            buf,
            &format!("{at}.{component}"),
            (!part.is_empty()).then_some(part.as_str()),
        )?;
    }
    Ok(())
}
