//! The HL7 v2 datatypes every converter shares, as FHIR datatypes: XPN → HumanName,
//! XAD → Address, XTN → ContactPoint, XCN → a logical Reference to a practitioner, PL → a
//! location display; with CX/EI → Identifier (`identifiers`) and CWE → CodeableConcept
//! (`codes`) re-exported here so converters import one module.

use serde_json::{Map, Value as Json, json};

use super::ConvertOptions;
use crate::hl7::Value;

pub(crate) use super::codes::{code_system, codeable_concept, concept_of};
pub(crate) use super::identifiers::{
    authority_system, entity_identifier, identifier, identifiers, query_escape,
};

/// The text of a value, trimmed, or `None` when nothing (or only the HL7 null `""`) is there.
pub(crate) fn text(value: Value<'_>) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let text = value.text();
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// XPN name type (table 0200) → HumanName.use.
fn name_use(code: &str) -> Option<&'static str> {
    Some(match code {
        "L" | "C" => "official",
        "D" | "A" => "usual",
        "M" => "maiden",
        "N" => "nickname",
        "B" | "BAD" => "old",
        "S" => "anonymous",
        "T" => "temp",
        _ => return None,
    })
}

/// XPN (or the name part of XCN, starting at `first`) → HumanName.
fn human_name_at(xpn: Value<'_>, first: usize) -> Option<Json> {
    let family = text(xpn.component(first).subcomponent(1));
    let given: Vec<String> = [first + 1, first + 2]
        .into_iter()
        .filter_map(|c| text(xpn.component(c)))
        .collect();
    if family.is_none() && given.is_empty() {
        return None;
    }
    let mut name = Map::new();
    if let Some(family) = family {
        name.insert("family".into(), family.into());
    }
    if !given.is_empty() {
        name.insert("given".into(), given.into());
    }
    if let Some(prefix) = text(xpn.component(first + 4)) {
        name.insert("prefix".into(), json!([prefix]));
    }
    let suffix: Vec<String> = [first + 3, first + 5]
        .into_iter()
        .filter_map(|c| text(xpn.component(c)))
        .collect();
    if !suffix.is_empty() {
        name.insert("suffix".into(), suffix.into());
    }
    Some(Json::Object(name))
}

/// XPN → HumanName, with `use` from XPN-7.
pub(crate) fn human_name(xpn: Value<'_>) -> Option<Json> {
    let mut name = human_name_at(xpn, 1)?;
    if let Some(used) = text(xpn.component(7)).as_deref().and_then(name_use) {
        name["use"] = used.into();
    }
    Some(name)
}

/// Every repetition of an XPN field as HumanNames.
pub(crate) fn human_names(field: Value<'_>) -> Vec<Json> {
    field.repetitions().filter_map(human_name).collect()
}

/// XAD → Address; XAD-7 (table 0190) gives `use` or `type`.
pub(crate) fn address(xad: Value<'_>) -> Option<Json> {
    let mut address = Map::new();
    let lines: Vec<String> = [
        text(xad.component(1).subcomponent(1)),
        text(xad.component(2)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !lines.is_empty() {
        address.insert("line".into(), lines.into());
    }
    for (component, key) in [
        (3, "city"),
        (9, "district"),
        (4, "state"),
        (5, "postalCode"),
        (6, "country"),
    ] {
        if let Some(value) = text(xad.component(component)) {
            address.insert(key.into(), value.into());
        }
    }
    if address.is_empty() {
        return None;
    }
    match text(xad.component(7)).as_deref() {
        Some("H" | "P") => address.insert("use".into(), "home".into()),
        Some("B" | "O") => address.insert("use".into(), "work".into()),
        Some("C") => address.insert("use".into(), "temp".into()),
        Some("BA") => address.insert("use".into(), "old".into()),
        Some("M") => address.insert("type".into(), "postal".into()),
        _ => None,
    };
    Some(Json::Object(address))
}

/// Every repetition of an XAD field as Addresses.
pub(crate) fn addresses(field: Value<'_>) -> Vec<Json> {
    field.repetitions().filter_map(address).collect()
}

/// The phone number of an XTN: `+C (AAA) LLL-LLLL xE` from its parts, else XTN-12, else XTN-1.
fn phone_number(xtn: Value<'_>) -> Option<String> {
    if let Some(local) = text(xtn.component(7)) {
        let local = match local.len() {
            7 if local.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{}-{}", &local[..3], &local[3..])
            }
            _ => local,
        };
        let mut number = String::new();
        if let Some(country) = text(xtn.component(5)) {
            number.push_str(&format!("+{country} "));
        }
        if let Some(area) = text(xtn.component(6)) {
            number.push_str(&format!("({area}) "));
        }
        number.push_str(&local);
        if let Some(extension) = text(xtn.component(8)) {
            number.push_str(&format!(" x{extension}"));
        }
        return Some(number);
    }
    text(xtn.component(12)).or_else(|| text(xtn.component(1)))
}

/// XTN → ContactPoint: an email for network addresses, else phone, fax or pager.
pub(crate) fn contact_point(xtn: Value<'_>, default_use: Option<&str>) -> Option<Json> {
    let use_code = text(xtn.component(2)).unwrap_or_default();
    let equipment = text(xtn.component(3)).unwrap_or_default();
    let is_email =
        use_code == "NET" || equipment.eq_ignore_ascii_case("Internet") || equipment == "X.400";
    let (system, value) = if is_email {
        (
            "email",
            text(xtn.component(4)).or_else(|| text(xtn.component(1)))?,
        )
    } else {
        let system = match equipment.as_str() {
            "FX" => "fax",
            "BP" => "pager",
            _ => "phone",
        };
        (system, phone_number(xtn)?)
    };
    let mut point = json!({ "system": system, "value": value });
    let used = match (use_code.as_str(), equipment.as_str()) {
        (_, "CP") => Some("mobile"),
        ("PRN" | "ORN" | "VHN", _) => Some("home"),
        ("WPN", _) => Some("work"),
        _ => default_use,
    };
    if let Some(used) = used {
        point["use"] = used.into();
    }
    Some(point)
}

/// Every repetition of an XTN field as ContactPoints.
pub(crate) fn contact_points(field: Value<'_>, default_use: Option<&str>) -> Vec<Json> {
    field
        .repetitions()
        .filter_map(|x| contact_point(x, default_use))
        .collect()
}

/// XCN → a logical Reference (identifier and display), for practitioners the message names but
/// does not describe; the FHIR server does not need to know them.
pub(crate) fn practitioner(xcn: Value<'_>, options: &ConvertOptions) -> Option<Json> {
    let mut reference = Map::new();
    if let Some(value) = text(xcn.component(1)) {
        let mut id = json!({ "value": value });
        if let Some(system) = authority_system(xcn.component(9), options) {
            id["system"] = system.into();
        }
        reference.insert("identifier".into(), id);
    }
    if let Some(name) = human_name_at(xcn, 2) {
        let mut parts: Vec<String> = Vec::new();
        if let Some(given) = name["given"].as_array() {
            parts.extend(given.iter().filter_map(|g| g.as_str().map(str::to_owned)));
        }
        if let Some(family) = name["family"].as_str() {
            parts.push(family.to_owned());
        }
        reference.insert("display".into(), parts.join(" ").into());
    }
    (!reference.is_empty()).then_some(Json::Object(reference))
}

/// PL → a human-readable location (PL-9 description, else point of care, room, bed, facility).
pub(crate) fn location_display(pl: Value<'_>) -> Option<String> {
    text(pl.component(9)).or_else(|| {
        let parts: Vec<String> = (1..=4)
            .filter_map(|c| text(pl.component(c).subcomponent(1)))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Message;

    fn field<'a>(msg: &'a Message<'a>, path: &str) -> Value<'a> {
        msg.get(path).unwrap()
    }

    const MSG: &[u8] = b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5.1\rPID|1||123^^^RGH&2.16.840.1.113883.19.5&ISO^MR~9^^^GOOD HEALTH^SS||DOE^JANE^Q^JR^DR^^L||||||1 MAIN ST^APT 2^TOWN^PA^17110^USA^H||^PRN^PH^^1^717^5550142~^NET^Internet^j@example.com\rOBX|1|CE|2823-3^Potassium^LN^K^Pot^99LAB||x^y^HL70078^^^^^^Original";

    #[test]
    fn identifiers_take_their_system_from_the_authority() {
        let msg = Message::parse(MSG).unwrap();
        let ids = identifiers(field(&msg, "PID-3"), &ConvertOptions::default());
        assert_eq!(ids[0]["system"], "urn:oid:2.16.840.1.113883.19.5");
        assert_eq!(ids[0]["type"]["coding"][0]["code"], "MR");
        assert_eq!(ids[1]["system"], "urn:id:GOOD%20HEALTH");
        assert_eq!(ids[1]["value"], "9");
    }

    #[test]
    fn names_addresses_and_telecoms() {
        let msg = Message::parse(MSG).unwrap();
        let name = human_name(field(&msg, "PID-5")).unwrap();
        assert_eq!(
            name,
            json!({"family":"DOE","given":["JANE","Q"],"prefix":["DR"],"suffix":["JR"],"use":"official"})
        );
        let addr = address(field(&msg, "PID-11")).unwrap();
        assert_eq!(addr["line"], json!(["1 MAIN ST", "APT 2"]));
        assert_eq!(addr["use"], "home");
        let telecom = contact_points(field(&msg, "PID-13"), None);
        assert_eq!(
            telecom[0],
            json!({"system":"phone","value":"+1 (717) 555-0142","use":"home"})
        );
        assert_eq!(telecom[1]["system"], "email");
        assert_eq!(telecom[1]["value"], "j@example.com");
    }
}
