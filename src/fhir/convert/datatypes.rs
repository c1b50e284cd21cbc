//! The HL7 v2 datatypes every converter shares, as FHIR datatypes: CX → Identifier,
//! XPN → HumanName, XAD → Address, XTN → ContactPoint, CWE/CE → CodeableConcept,
//! XCN → a logical Reference to a practitioner, PL → a location display.
//!
//! Code systems: the HL7 v2 coding-system names (table 0396) that have an official FHIR URI get
//! it (`LN` → `http://loinc.org`, `HL70063` → the v2-0063 code system, …); any other name becomes
//! `<local_system_prefix><name>` (by default `urn:id:<name>`), so a local code keeps a system
//! that says whose it is.

use serde_json::{Map, Value as Json, json};

use super::ConvertOptions;
use crate::hl7::Value;

/// The text of a value, trimmed, or `None` when nothing (or only the HL7 null `""`) is there.
pub(crate) fn text(value: Value<'_>) -> Option<String> {
    if value.is_null() {
        return None;
    }
    let text = value.text();
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

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

/// CX-4/HD → the identifier system: `urn:oid:` for an ISO OID, the URI itself for a URI, else the
/// local prefix and the namespace id (`urn:id:RGH`).
pub(crate) fn authority_system(hd: Value<'_>, options: &ConvertOptions) -> Option<String> {
    let namespace = text(hd.subcomponent(1));
    let universal = text(hd.subcomponent(2));
    let universal_type = text(hd.subcomponent(3)).unwrap_or_default();
    if let Some(universal) = universal {
        if is_oid(&universal) {
            return Some(format!("urn:oid:{universal}"));
        }
        if universal_type.eq_ignore_ascii_case("URI")
            || universal.starts_with("http")
            || universal.starts_with("urn:")
        {
            return Some(universal);
        }
    }
    namespace.map(|n| format!("{}{}", options.local_system_prefix, uri_escape(&n)))
}

/// Whether `s` is an ISO object identifier (`2.16.840.1.113883.19.5`).
pub(crate) fn is_oid(s: &str) -> bool {
    s.contains('.')
        && s.split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
}

/// CX → Identifier (value, system from the assigning authority, type from CX-5 on table 0203).
pub(crate) fn identifier(cx: Value<'_>, options: &ConvertOptions) -> Option<Json> {
    let value = text(cx.component(1))?;
    let mut id = Map::new();
    if let Some(kind) = text(cx.component(5)) {
        id.insert(
            "type".into(),
            concept_of("http://terminology.hl7.org/CodeSystem/v2-0203", &kind, None),
        );
    }
    if let Some(system) = authority_system(cx.component(4), options) {
        id.insert("system".into(), system.into());
    }
    id.insert("value".into(), value.into());
    Some(Json::Object(id))
}

/// Every repetition of a CX field as Identifiers.
pub(crate) fn identifiers(field: Value<'_>, options: &ConvertOptions) -> Vec<Json> {
    field
        .repetitions()
        .filter_map(|cx| identifier(cx, options))
        .collect()
}

/// EI (entity identifier: id^namespace^universal id^type) → Identifier, typed with a table 0203
/// code such as `PLAC` or `FILL` when given.
pub(crate) fn entity_identifier(
    ei: Value<'_>,
    kind: Option<&str>,
    options: &ConvertOptions,
) -> Option<Json> {
    let value = text(ei.component(1).subcomponent(1))?;
    let mut id = Map::new();
    if let Some(kind) = kind {
        id.insert(
            "type".into(),
            concept_of("http://terminology.hl7.org/CodeSystem/v2-0203", kind, None),
        );
    }
    let universal =
        text(ei.component(3).subcomponent(1)).or_else(|| text(ei.component(1).subcomponent(3)));
    let namespace =
        text(ei.component(2).subcomponent(1)).or_else(|| text(ei.component(1).subcomponent(2)));
    let system = match (universal, namespace) {
        (Some(u), _) if is_oid(&u) => Some(format!("urn:oid:{u}")),
        (_, Some(n)) => Some(format!("{}{}", options.local_system_prefix, uri_escape(&n))),
        _ => None,
    };
    if let Some(system) = system {
        id.insert("system".into(), system.into());
    }
    id.insert("value".into(), value.into());
    Some(Json::Object(id))
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

/// Percent-encodes everything but RFC 3986 unreserved characters, for names put into URIs.
pub(crate) fn uri_escape(s: &str) -> String {
    escape_except(s, b"-._~")
}

/// Percent-encodes a search-parameter value for `ifNoneExist`, keeping `:` and `/` readable
/// (they need no escaping in a query) so `urn:oid:…` stays as written.
pub(crate) fn query_escape(s: &str) -> String {
    escape_except(s, b"-._~:/")
}

fn escape_except(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Message;

    fn field<'a>(msg: &'a Message<'a>, path: &str) -> Value<'a> {
        msg.get(path).unwrap()
    }

    const MSG: &[u8] = b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5.1\rPID|1||123^^^RGH&2.16.840.1.113883.19.5&ISO^MR~9^^^GOOD HEALTH^SS||DOE^JANE^Q^JR^DR^^L|||||1 MAIN ST^APT 2^TOWN^PA^17110^USA^H||^PRN^PH^^1^717^5550142~^NET^Internet^j@example.com\rOBX|1|CE|2823-3^Potassium^LN^K^Pot^99LAB||x^y^HL70078^^^^^^Original";

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

    #[test]
    fn codeable_concepts_map_code_systems() {
        let msg = Message::parse(MSG).unwrap();
        let concept = codeable_concept(field(&msg, "OBX-3"), &ConvertOptions::default()).unwrap();
        assert_eq!(concept["coding"][0]["system"], "http://loinc.org");
        assert_eq!(concept["coding"][1]["system"], "urn:id:99LAB");
        let value = codeable_concept(field(&msg, "OBX-5"), &ConvertOptions::default()).unwrap();
        assert_eq!(
            value["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v2-0078"
        );
        assert_eq!(value["text"], "Original");
    }
}
