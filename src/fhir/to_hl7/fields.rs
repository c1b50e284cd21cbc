//! FHIR datatypes written into HL7 v2 fields of a [`MessageBuf`], at a path prefix such as
//! `PID-3[2]`.

use serde_json::Value as Json;

use super::ToHl7Error;
use crate::fhir::convert::datetime;
use crate::hl7::MessageBuf;

/// A string element, or `None`.
pub(crate) fn str_at<'a>(value: &'a Json, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The elements of an array element (empty when absent).
pub(crate) fn array<'a>(value: &'a Json, key: &str) -> &'a [Json] {
    value
        .get(key)
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Sets `path` when there is a value.
pub(crate) fn put(buf: &mut MessageBuf, path: &str, value: Option<&str>) -> Result<(), ToHl7Error> {
    if let Some(value) = value {
        buf.set(path, value)?;
    }
    Ok(())
}

/// FHIR date/dateTime → HL7 DTM at `path`; an error naming `element` when it is not one.
pub(crate) fn put_time(
    buf: &mut MessageBuf,
    path: &str,
    value: Option<&str>,
    element: &str,
) -> Result<(), ToHl7Error> {
    let Some(value) = value else {
        return Ok(());
    };
    let hl7 = datetime::from_fhir(value).ok_or_else(|| ToHl7Error::Invalid {
        element: element.to_owned(),
        value: value.to_owned(),
        reason: "not a FHIR date or dateTime",
    })?;
    buf.set(path, &hl7)?;
    Ok(())
}

/// An identifier or code system URI → HD parts (namespace, universal id, universal id type).
fn authority(system: &str) -> (Option<String>, Option<String>, Option<&'static str>) {
    if let Some(oid) = system.strip_prefix("urn:oid:") {
        return (None, Some(oid.to_owned()), Some("ISO"));
    }
    if system == "http://hl7.org/fhir/sid/us-ssn" {
        return (
            Some("SSA".to_owned()),
            Some("2.16.840.1.113883.4.1".to_owned()),
            Some("ISO"),
        );
    }
    if system == "http://hl7.org/fhir/sid/us-npi" {
        return (
            Some("NPI".to_owned()),
            Some("2.16.840.1.113883.4.6".to_owned()),
            Some("ISO"),
        );
    }
    if let Some(name) = system.strip_prefix("urn:id:") {
        return (Some(percent_decode(name)), None, None);
    }
    (None, Some(system.to_owned()), Some("URI"))
}

/// Undoes the percent-encoding `urn:id:` names get.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| {
                s.get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .flatten();
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Identifier → CX at `at` (`PID-3[1]`): value, assigning authority, identifier type.
pub(crate) fn put_cx(buf: &mut MessageBuf, at: &str, id: &Json) -> Result<bool, ToHl7Error> {
    let Some(value) = str_at(id, "value") else {
        return Ok(false);
    };
    buf.set(&format!("{at}.1"), value)?;
    if let Some(system) = str_at(id, "system") {
        let (namespace, universal, kind) = authority(system);
        put(buf, &format!("{at}.4.1"), namespace.as_deref())?;
        put(buf, &format!("{at}.4.2"), universal.as_deref())?;
        put(buf, &format!("{at}.4.3"), kind)?;
    }
    let kind = id["type"]["coding"][0]["code"].as_str().or_else(|| {
        (str_at(id, "system") == Some("http://hl7.org/fhir/sid/us-ssn")).then_some("SS")
    });
    put(buf, &format!("{at}.5"), kind)?;
    Ok(true)
}

/// HumanName.use → XPN-7 name type (table 0200).
fn name_type(used: Option<&str>) -> Option<&'static str> {
    Some(match used? {
        "official" => "L",
        "usual" => "D",
        "maiden" => "M",
        "nickname" => "N",
        "old" => "B",
        "anonymous" => "S",
        "temp" => "T",
        _ => return None,
    })
}

/// HumanName → XPN at `at`.
pub(crate) fn put_xpn(buf: &mut MessageBuf, at: &str, name: &Json) -> Result<bool, ToHl7Error> {
    let given: Vec<&str> = array(name, "given")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let family = str_at(name, "family");
    if family.is_none() && given.is_empty() {
        return Ok(false);
    }
    put(buf, &format!("{at}.1"), family)?;
    put(buf, &format!("{at}.2"), given.first().copied())?;
    if given.len() > 1 {
        buf.set(&format!("{at}.3"), &given[1..].join(" "))?;
    }
    put(
        buf,
        &format!("{at}.4"),
        array(name, "suffix").first().and_then(Json::as_str),
    )?;
    put(
        buf,
        &format!("{at}.5"),
        array(name, "prefix").first().and_then(Json::as_str),
    )?;
    put(buf, &format!("{at}.7"), name_type(str_at(name, "use")))?;
    Ok(true)
}

/// Address → XAD at `at`.
pub(crate) fn put_xad(buf: &mut MessageBuf, at: &str, address: &Json) -> Result<bool, ToHl7Error> {
    let lines: Vec<&str> = array(address, "line")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let parts = [
        (1, lines.first().copied()),
        (2, (lines.len() > 1).then(|| lines[1])),
        (3, str_at(address, "city")),
        (4, str_at(address, "state")),
        (5, str_at(address, "postalCode")),
        (6, str_at(address, "country")),
        (9, str_at(address, "district")),
    ];
    if parts.iter().all(|(_, v)| v.is_none()) {
        return Ok(false);
    }
    for (component, value) in parts {
        put(buf, &format!("{at}.{component}"), value)?;
    }
    let kind = match (str_at(address, "use"), str_at(address, "type")) {
        (_, Some("postal")) => Some("M"),
        (Some("home"), _) => Some("H"),
        (Some("work"), _) => Some("B"),
        (Some("temp"), _) => Some("C"),
        (Some("old"), _) => Some("BA"),
        _ => None,
    };
    put(buf, &format!("{at}.7"), kind)?;
    Ok(true)
}

/// ContactPoint → XTN at `at`: e-mail in XTN-4, numbers in XTN-1, with use and equipment codes.
pub(crate) fn put_xtn(buf: &mut MessageBuf, at: &str, point: &Json) -> Result<bool, ToHl7Error> {
    let Some(value) = str_at(point, "value") else {
        return Ok(false);
    };
    let used = str_at(point, "use");
    let use_code = match used {
        Some("work") => "WPN",
        _ => "PRN",
    };
    match str_at(point, "system") {
        Some("email") => {
            buf.set(&format!("{at}.2"), "NET")?;
            buf.set(&format!("{at}.3"), "Internet")?;
            buf.set(&format!("{at}.4"), value)?;
        }
        system => {
            let equipment = match (system, used) {
                (Some("fax"), _) => "FX",
                (Some("pager"), _) => "BP",
                (_, Some("mobile")) => "CP",
                _ => "PH",
            };
            buf.set(&format!("{at}.1"), value)?;
            buf.set(&format!("{at}.2"), use_code)?;
            buf.set(&format!("{at}.3"), equipment)?;
        }
    }
    Ok(true)
}

/// A code system URI → its HL7 table 0396 name, where it has a short one.
fn coding_system_name(system: &str) -> Option<String> {
    let known = match system {
        "http://loinc.org" => "LN",
        "http://snomed.info/sct" => "SCT",
        "http://hl7.org/fhir/sid/icd-10-cm" => "I10",
        "http://hl7.org/fhir/sid/icd-9-cm" => "I9C",
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "RXNORM",
        "http://www.ama-assn.org/go/cpt" => "CPT",
        "http://unitsofmeasure.org" => "UCUM",
        "http://hl7.org/fhir/sid/cvx" => "CVX",
        "http://hl7.org/fhir/sid/ndc" => "NDC",
        _ => "",
    };
    if !known.is_empty() {
        return Some(known.to_owned());
    }
    if let Some(table) = system.strip_prefix("http://terminology.hl7.org/CodeSystem/v2-") {
        return Some(format!("HL7{table}"));
    }
    system
        .strip_prefix("urn:id:")
        .map(percent_decode)
        .filter(|n| n.len() <= 20)
}

/// CodeableConcept → CWE at `at`: the first coding (code, display, system) and its text.
pub(crate) fn put_cwe(buf: &mut MessageBuf, at: &str, concept: &Json) -> Result<bool, ToHl7Error> {
    let coding = array(concept, "coding").first();
    let code = coding.and_then(|c| str_at(c, "code"));
    let display = coding
        .and_then(|c| str_at(c, "display"))
        .or_else(|| str_at(concept, "text"));
    if code.is_none() && display.is_none() {
        return Ok(false);
    }
    put(buf, &format!("{at}.1"), code)?;
    put(buf, &format!("{at}.2"), display)?;
    let system = coding
        .and_then(|c| str_at(c, "system"))
        .and_then(coding_system_name);
    put(buf, &format!("{at}.3"), system.as_deref())?;
    Ok(true)
}

/// A logical Reference to a practitioner (identifier + display) → XCN at `at`.
pub(crate) fn put_xcn(
    buf: &mut MessageBuf,
    at: &str,
    reference: &Json,
) -> Result<bool, ToHl7Error> {
    let id = reference.get("identifier").and_then(|i| str_at(i, "value"));
    let display = str_at(reference, "display");
    if id.is_none() && display.is_none() {
        return Ok(false);
    }
    put(buf, &format!("{at}.1"), id)?;
    if let Some(display) = display {
        // "GIVEN MIDDLE FAMILY": the last word is the family name.
        let words: Vec<&str> = display.split_whitespace().collect();
        if let Some((family, given)) = words.split_last() {
            buf.set(&format!("{at}.2"), family)?;
            put(buf, &format!("{at}.3"), given.first().copied())?;
            if given.len() > 1 {
                buf.set(&format!("{at}.4"), &given[1..].join(" "))?;
            }
        }
    }
    if let Some(system) = reference
        .get("identifier")
        .and_then(|i| str_at(i, "system"))
    {
        let (namespace, universal, kind) = authority(system);
        put(buf, &format!("{at}.9.1"), namespace.as_deref())?;
        put(buf, &format!("{at}.9.2"), universal.as_deref())?;
        put(buf, &format!("{at}.9.3"), kind)?;
    }
    Ok(true)
}
