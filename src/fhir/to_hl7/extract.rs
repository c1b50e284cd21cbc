//! PID → the seed's [`LocalPatient`] (`extractPatientFromHL7`).

use crate::fhir::patient::{LocalAddress, LocalPatient};
use crate::hl7::{Message, Value};

/// The trimmed text of a value, or `None` when empty.
fn text(value: Value<'_>) -> Option<String> {
    let text = value.text();
    let trimmed = text.trim();
    (!trimmed.is_empty() && trimmed != "\"\"").then(|| trimmed.to_owned())
}

/// PID-8 → the FHIR gender codes `LocalPatient` stores.
fn gender(code: &str) -> Option<String> {
    let gender = match code.to_ascii_uppercase().as_str() {
        "M" => "male",
        "F" => "female",
        "O" | "A" | "N" | "X" => "other",
        "U" => "unknown",
        _ => return None,
    };
    Some(gender.to_owned())
}

/// Reads the patient of an HL7 v2 message (its first PID) into the seed's flat record: the MR
/// identifier (else the first), the legal name (else the first), birth date, gender, the first
/// phone and e-mail, and the first address. Missing parts stay `None`; no PID gives an empty
/// record.
pub fn extract_patient_from_hl7(message: &Message<'_>) -> LocalPatient {
    let Some(pid) = message.segment("PID") else {
        return LocalPatient::default();
    };
    let ids: Vec<Value<'_>> = pid.field(3).repetitions().collect();
    let mrn = ids
        .iter()
        .find(|cx| cx.component(5) == "MR")
        .or_else(|| ids.first())
        .and_then(|cx| text(cx.component(1)));
    let names: Vec<Value<'_>> = pid.field(5).repetitions().collect();
    let name = names
        .iter()
        .find(|xpn| xpn.component(7) == "L")
        .or_else(|| names.first());
    let birth =
        text(pid.field(7).component(1)).and_then(|ts| crate::fhir::convert::datetime::to_date(&ts));
    let telecoms: Vec<Value<'_>> = pid
        .field(13)
        .repetitions()
        .chain(pid.field(14).repetitions())
        .collect();
    let is_email = |x: &Value<'_>| x.component(2) == "NET" || x.component(3) == "Internet";
    let email = telecoms
        .iter()
        .find(|x| is_email(x))
        .and_then(|x| text(x.component(4)));
    let phone = telecoms.iter().filter(|x| !is_email(x)).find_map(|x| {
        text(x.component(1)).or_else(|| {
            let parts: Vec<String> = [6, 7]
                .into_iter()
                .filter_map(|c| text(x.component(c)))
                .collect();
            (!parts.is_empty()).then(|| parts.join(""))
        })
    });
    let address = pid.field(11).repetitions().next().and_then(|xad| {
        let lines: Vec<String> = [
            text(xad.component(1).subcomponent(1)),
            text(xad.component(2)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let address = LocalAddress {
            lines,
            city: text(xad.component(3)),
            state: text(xad.component(4)),
            postal_code: text(xad.component(5)),
            country: text(xad.component(6)),
        };
        (address != LocalAddress::default()).then_some(address)
    });
    LocalPatient {
        id: None,
        first_name: name.and_then(|n| text(n.component(2))),
        last_name: name.and_then(|n| text(n.component(1).subcomponent(1))),
        date_of_birth: birth,
        gender: text(pid.field(8)).as_deref().and_then(gender),
        email,
        phone,
        mrn,
        address,
    }
}
