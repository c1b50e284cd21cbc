//! Patient → ADT^A04 (register) or ADT^A08 (update), and the MSH/PID builders ORM shares.

use serde_json::Value as Json;
use uuid::Uuid;

use super::ToHl7Error;
use super::fields::{array, put, put_cwe, put_cx, put_time, put_xad, put_xpn, put_xtn, str_at};
use crate::hl7::{Delimiters, MessageBuf, now_timestamp};

/// The ADT events [`create_hl7_adt_message`] builds, with their message structure.
const ADT_EVENTS: &[(&str, &str)] = &[
    ("A01", "ADT_A01"),
    ("A04", "ADT_A01"),
    ("A08", "ADT_A01"),
    ("A28", "ADT_A05"),
    ("A31", "ADT_A05"),
];

/// A v2.5.1 message with its MSH filled in: sender `IHUB`, a fresh control id, the time now.
pub(crate) fn new_message(
    kind: &str,
    event: &str,
    structure: &str,
) -> Result<MessageBuf, ToHl7Error> {
    let mut buf = MessageBuf::new(Delimiters::default());
    let control_id: String = Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(20)
        .collect();
    for (path, value) in [
        ("MSH-3", "IHUB"),
        ("MSH-4", "IHUB"),
        ("MSH-7", now_timestamp().as_str()),
        ("MSH-9.1", kind),
        ("MSH-9.2", event),
        ("MSH-9.3", structure),
        ("MSH-10", control_id.as_str()),
        ("MSH-11", "P"),
        ("MSH-12", "2.5.1"),
    ] {
        buf.set(path, value)?;
    }
    Ok(buf)
}

/// Marks the message UTF-8 in MSH-18 when it holds anything beyond ASCII, and returns its text.
pub(crate) fn finish(mut buf: MessageBuf) -> Result<String, ToHl7Error> {
    if !buf.as_bytes().is_ascii() {
        buf.set("MSH-18", "UNICODE UTF-8")?;
    }
    Ok(String::from_utf8_lossy(&buf.into_bytes()).into_owned())
}

/// AdministrativeGender → PID-8 (table 0001).
fn sex(gender: &str) -> Result<&'static str, ToHl7Error> {
    Ok(match gender {
        "male" => "M",
        "female" => "F",
        "other" => "O",
        "unknown" => "U",
        other => {
            return Err(ToHl7Error::Invalid {
                element: "Patient.gender".to_owned(),
                value: other.to_owned(),
                reason: "not an AdministrativeGender code",
            });
        }
    })
}

/// v3 MaritalStatus → PID-16 (table 0002).
fn marital_status(code: &str) -> Option<&'static str> {
    Some(match code {
        "A" => "N",
        "D" => "D",
        "I" => "I",
        "L" => "A",
        "M" => "M",
        "S" => "S",
        "T" => "P",
        "U" => "B",
        "W" => "W",
        "UNK" => "U",
        "OTH" => "O",
        _ => return None,
    })
}

/// Writes the PID segment for a Patient.
pub(crate) fn put_pid(buf: &mut MessageBuf, patient: &Json) -> Result<(), ToHl7Error> {
    buf.set("PID-1", "1")?;
    let mut written = 0;
    for id in array(patient, "identifier") {
        if put_cx(buf, &format!("PID-3[{}]", written + 1), id)? {
            written += 1;
        }
    }
    if written == 0 {
        let id = str_at(patient, "id").ok_or(ToHl7Error::Missing {
            element: "Patient.identifier",
            needed_for: "PID-3",
        })?;
        buf.set("PID-3.1", id)?;
    }
    let mut names = 0;
    for name in array(patient, "name") {
        if put_xpn(buf, &format!("PID-5[{}]", names + 1), name)? {
            names += 1;
        }
    }
    if names == 0 {
        return Err(ToHl7Error::Missing {
            element: "Patient.name",
            needed_for: "PID-5",
        });
    }
    put_time(
        buf,
        "PID-7",
        str_at(patient, "birthDate"),
        "Patient.birthDate",
    )?;
    put(
        buf,
        "PID-8",
        str_at(patient, "gender").map(sex).transpose()?,
    )?;
    for (i, address) in array(patient, "address").iter().enumerate() {
        put_xad(buf, &format!("PID-11[{}]", i + 1), address)?;
    }
    let (mut home, mut work) = (0, 0);
    for point in array(patient, "telecom") {
        if str_at(point, "use") == Some("work") {
            if put_xtn(buf, &format!("PID-14[{}]", work + 1), point)? {
                work += 1;
            }
        } else if put_xtn(buf, &format!("PID-13[{}]", home + 1), point)? {
            home += 1;
        }
    }
    if let Some(language) = array(patient, "communication")
        .first()
        .and_then(|c| c.get("language"))
    {
        put_cwe(buf, "PID-15", language)?;
    }
    let marital = patient["maritalStatus"]["coding"][0]["code"]
        .as_str()
        .and_then(marital_status);
    put(buf, "PID-16", marital)?;
    if let Some(death) = str_at(patient, "deceasedDateTime") {
        put_time(buf, "PID-29", Some(death), "Patient.deceasedDateTime")?;
        buf.set("PID-30", "Y")?;
    } else if let Some(deceased) = patient.get("deceasedBoolean").and_then(Json::as_bool) {
        buf.set("PID-30", if deceased { "Y" } else { "N" })?;
    }
    Ok(())
}

/// Builds an ADT message (`A04` register, `A08` update; also `A01`, `A28`, `A31`) for a FHIR
/// Patient, so a system that only speaks HL7 v2 learns of patients created in FHIR
/// (the seed's `createHL7ADTMessage(patient, event)`). Segments end with `\r`.
pub fn create_hl7_adt_message(patient: &Json, event: &str) -> Result<String, ToHl7Error> {
    let found = str_at(patient, "resourceType").unwrap_or_default();
    if found != "Patient" {
        return Err(ToHl7Error::WrongResource {
            expected: "Patient",
            found: found.to_owned(),
        });
    }
    let event = event.trim().to_ascii_uppercase();
    let Some((_, structure)) = ADT_EVENTS.iter().find(|(e, _)| *e == event) else {
        return Err(ToHl7Error::UnsupportedEvent {
            event,
            supported: "A01, A04, A08, A28, A31",
        });
    };
    let mut buf = new_message("ADT", &event, structure)?;
    buf.set("EVN-1", &event)?;
    buf.set("EVN-2", &now_timestamp())?;
    put_pid(&mut buf, patient)?;
    // PV1 is required in ADT_A01; class N: "not applicable", as no visit is known.
    buf.set("PV1-1", "1")?;
    buf.set("PV1-2", "N")?;
    finish(buf)
}
