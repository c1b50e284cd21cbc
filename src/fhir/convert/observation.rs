//! OBX → Observation: the value by OBX-2 type, units, reference range, interpretation, status.
//! An OBX of type ED (an encapsulated document) becomes an Attachment instead, since R4
//! Observation cannot hold one: the caller puts it in `DiagnosticReport.presentedForm` or
//! `DocumentReference.content`.

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{code_system, codeable_concept, text};
use super::error::ConvertError;
use crate::hl7::Value;

const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// What one OBX turned into.
pub(crate) enum ObxResult {
    /// An Observation, by its `urn:uuid:`.
    Observation(String),
    /// An encapsulated document (OBX-2 = ED) as a FHIR Attachment.
    Attachment(Json),
    /// Nothing to convert (no code).
    Nothing,
}

/// OBX-11 (table 0085) → Observation.status.
fn status(code: &str) -> &'static str {
    match code {
        "F" | "U" => "final",
        "P" | "R" | "S" => "preliminary",
        "C" => "corrected",
        "A" => "amended",
        "D" | "W" => "entered-in-error",
        "X" | "N" => "cancelled",
        "I" | "O" => "registered",
        _ => "unknown",
    }
}

/// OBX-8 (table 0078) codes that the v3 ObservationInterpretation code system has too.
fn is_v3_interpretation(code: &str) -> bool {
    matches!(
        code,
        "L" | "H"
            | "LL"
            | "HH"
            | "<"
            | ">"
            | "A"
            | "AA"
            | "N"
            | "I"
            | "R"
            | "S"
            | "MS"
            | "VS"
            | "B"
            | "W"
            | "U"
            | "D"
            | "NEG"
            | "POS"
            | "IND"
            | "DET"
            | "ND"
            | "E"
            | "EX"
            | "HX"
            | "LX"
            | "NS"
            | "NR"
            | "RR"
            | "SDD"
            | "SYN-R"
            | "SYN-S"
            | "IE"
            | "OBX"
            | "CAR"
    )
}

/// OBX-6 units → the unit part of a Quantity (`unit`, and `system`/`code` when UCUM).
fn units(cwe: Value<'_>, cx: &Context<'_>) -> Map<String, Json> {
    let mut out = Map::new();
    let code = text(cwe.component(1));
    if let Some(unit) = text(cwe.component(2)).or_else(|| code.clone()) {
        out.insert("unit".into(), unit.into());
    }
    if let (Some(code), Some(system)) = (code, text(cwe.component(3))) {
        out.insert("system".into(), code_system(&system, cx.options).into());
        out.insert("code".into(), code.into());
    }
    out
}

/// A decimal as a JSON number, or `None` when `s` is not one.
fn number(s: &str) -> Option<Json> {
    let s = s.trim();
    let valid = !s.is_empty()
        && s.trim_start_matches(['+', '-'])
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let n: f64 = s.parse().ok()?;
    if n.fract() == 0.0 && !s.contains('.') && n.abs() < 9e15 {
        return Some(Json::from(n as i64));
    }
    serde_json::Number::from_f64(n).map(Json::Number)
}

fn quantity(value: Json, unit: &Map<String, Json>) -> Json {
    let mut q = unit.clone();
    q.insert("value".into(), value);
    Json::Object(q)
}

/// OBX-7 → a referenceRange: `low-high`, `<x`, `>x`, or the text as written.
fn reference_range(range: &str, unit: &Map<String, Json>) -> Json {
    let bound = |s: &str| number(s).map(|n| quantity(n, unit));
    let trimmed = range.trim();
    for prefix in ["<=", ">=", "<", ">"] {
        if let Some(rest) = trimmed.strip_prefix(prefix)
            && let Some(q) = bound(rest)
        {
            let key = if prefix.starts_with('<') {
                "high"
            } else {
                "low"
            };
            return json!({ key: q, "text": range });
        }
    }
    if let Some((low, high)) = trimmed
        .get(1..)
        .and_then(|t| t.split_once('-'))
        .map(|(l, h)| (&trimmed[..l.len() + 1], h))
        && let (Some(low), Some(high)) = (bound(low), bound(high))
    {
        return json!({ "low": low, "high": high });
    }
    json!({ "text": range })
}

/// SN (structured numeric: comparator^num1^separator^num2) → Quantity, Range or Ratio.
fn structured_numeric(sn: Value<'_>, unit: &Map<String, Json>) -> Option<(&'static str, Json)> {
    let comparator = text(sn.component(1)).unwrap_or_default();
    let first = number(&text(sn.component(2))?)?;
    let separator = text(sn.component(3)).unwrap_or_default();
    let second = text(sn.component(4)).as_deref().and_then(number);
    match (separator.as_str(), second) {
        (":" | "/", Some(second)) => Some((
            "valueRatio",
            json!({ "numerator": { "value": first }, "denominator": { "value": second } }),
        )),
        ("-", Some(second)) => Some((
            "valueRange",
            json!({ "low": quantity(first, unit), "high": quantity(second, unit) }),
        )),
        _ => {
            let mut q = quantity(first, unit);
            if matches!(comparator.as_str(), "<" | "<=" | ">" | ">=") {
                q["comparator"] = comparator.into();
            }
            Some(("valueQuantity", q))
        }
    }
}

/// OBX-5 of type ED → Attachment (`contentType` from type/subtype, `data` in Base64).
pub(crate) fn attachment(ed: Value<'_>, seg: &Seg<'_>) -> Result<Option<Json>, ConvertError> {
    let Some(data) = text(ed.component(5)) else {
        return Ok(None);
    };
    let major = match text(ed.component(2))
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "AP" | "APPLICATION" => "application",
        "IM" | "IMAGE" => "image",
        "TX" | "TEXT" => "text",
        "AU" | "AUDIO" => "audio",
        "VI" | "VIDEO" => "video",
        "MU" | "MULTIPART" => "multipart",
        _ => "",
    };
    let subtype = text(ed.component(3))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let content_type = match (major, subtype.as_str()) {
        (_, s) if s.contains('/') => s.to_owned(),
        ("", _) | (_, "") => "application/octet-stream".to_owned(),
        ("text", "plain" | "txt") => "text/plain".to_owned(),
        (major, sub) => format!("{major}/{sub}"),
    };
    let invalid = |reason: &str| ConvertError::Invalid {
        location: seg.at(5),
        value: data.chars().take(40).collect(),
        reason: reason.to_owned(),
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let encoded = match text(ed.component(4))
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "BASE64" | "B64" => {
            let compact: String = data.split_whitespace().collect();
            engine
                .decode(&compact)
                .map_err(|_| invalid("not valid Base64 (ED-4 says Base64)"))?;
            compact
        }
        "HEX" => {
            let bytes = (0..data.len())
                .step_by(2)
                .map(|i| {
                    data.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| invalid("not valid hexadecimal (ED-4 says Hex)"))?;
            engine.encode(bytes)
        }
        _ => engine.encode(data.as_bytes()),
    };
    Ok(Some(
        json!({ "contentType": content_type, "data": encoded }),
    ))
}

/// OBX-5 → the `value[x]` key and value for the OBX-2 type.
fn value(
    obx: &Seg<'_>,
    unit: &Map<String, Json>,
    cx: &Context<'_>,
) -> Result<Option<(&'static str, Json)>, ConvertError> {
    let kind = obx.text(2).unwrap_or_default().to_ascii_uppercase();
    let field = obx.field(5);
    let first = field.repetition(1);
    Ok(match kind.as_str() {
        "NM" => match text(first) {
            Some(raw) => Some(match number(&raw) {
                Some(n) => ("valueQuantity", quantity(n, unit)),
                None => ("valueString", raw.into()),
            }),
            None => None,
        },
        "SN" => structured_numeric(first, unit),
        // A reference pointer: the pointer itself (RP-1), e.g. a URL to an image.
        "RP" => text(first.component(1)).map(|p| ("valueString", p.into())),
        "CE" | "CWE" | "CNE" | "CF" => {
            codeable_concept(first, cx.options).map(|c| ("valueCodeableConcept", c))
        }
        "DT" | "TS" | "DTM" => cx.date_time(obx, 5)?.map(|d| ("valueDateTime", d.into())),
        "TM" => text(first).and_then(|t| {
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            matches!(digits.len(), 2 | 4 | 6).then(|| {
                let d = format!("{digits:0<6}");
                (
                    "valueTime",
                    format!("{}:{}:{}", &d[..2], &d[2..4], &d[4..6]).into(),
                )
            })
        }),
        _ => {
            let lines: Vec<String> = field
                .repetitions()
                .map(|r| r.text().trim_end().to_owned())
                .collect();
            let joined = lines.join("\n");
            (!joined.trim().is_empty()).then(|| ("valueString", joined.into()))
        }
    })
}

/// OBX → Observation (or Attachment for ED), with `effective` falling back to `default_time`
/// (OBR-7) and `specimen` the group's Specimen.
pub(crate) fn convert_obx(
    obx: &Seg<'_>,
    notes: &[String],
    default_time: Option<&str>,
    specimen: Option<&str>,
    cx: &mut Context<'_>,
) -> Result<ObxResult, ConvertError> {
    if obx.text(2).is_some_and(|t| t.eq_ignore_ascii_case("ED")) {
        return Ok(match attachment(obx.field(5), obx)? {
            Some(mut a) => {
                if let Some(title) = text(obx.field(3).component(2)) {
                    a["title"] = title.into();
                }
                ObxResult::Attachment(a)
            }
            None => ObxResult::Nothing,
        });
    }
    let Some(code) = codeable_concept(obx.field(3), cx.options) else {
        return Ok(ObxResult::Nothing);
    };
    let unit = units(obx.field(6), cx);
    let mut observation = Map::new();
    observation.insert("resourceType".into(), "Observation".into());
    observation.insert(
        "status".into(),
        status(&obx.text(11).unwrap_or_default()).into(),
    );
    observation.insert("code".into(), code);
    if let Some(subject) = cx.patient_ref() {
        observation.insert("subject".into(), subject);
    }
    if let Some(encounter) = cx.encounter_ref() {
        observation.insert("encounter".into(), encounter);
    }
    let effective = cx
        .date_time(obx, 14)?
        .or_else(|| default_time.map(str::to_owned));
    if let Some(effective) = effective {
        observation.insert("effectiveDateTime".into(), effective.into());
    }
    if let Some((key, v)) = value(obx, &unit, cx)? {
        observation.insert(key.into(), v);
    }
    let interpretations: Vec<Json> = obx
        .field(8)
        .repetitions()
        .filter_map(|r| text(r.component(1)))
        .map(|code| {
            if is_v3_interpretation(&code) {
                json!({ "coding": [{ "system": INTERPRETATION, "code": code }] })
            } else {
                json!({ "coding": [{ "code": code }] })
            }
        })
        .collect();
    if !interpretations.is_empty() {
        observation.insert("interpretation".into(), interpretations.into());
    }
    if !notes.is_empty() {
        let notes: Vec<Json> = notes.iter().map(|n| json!({ "text": n })).collect();
        observation.insert("note".into(), notes.into());
    }
    if let Some(method) = codeable_concept(obx.field(17), cx.options) {
        observation.insert("method".into(), method);
    }
    if let Some(specimen) = specimen {
        observation.insert("specimen".into(), json!({ "reference": specimen }));
    }
    if let Some(range) = obx.text(7) {
        observation.insert(
            "referenceRange".into(),
            json!([reference_range(&range, &unit)]),
        );
    }
    Ok(ObxResult::Observation(cx.add(Json::Object(observation))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_integers_integral() {
        assert_eq!(number("96"), Some(json!(96)));
        assert_eq!(number("4.6"), Some(json!(4.6)));
        assert_eq!(number("-1.5"), Some(json!(-1.5)));
        assert_eq!(number("1.2.3"), None);
        assert_eq!(number("high"), None);
    }

    #[test]
    fn reference_ranges() {
        let unit = Map::new();
        assert_eq!(
            reference_range("3.5-5.1", &unit),
            json!({"low":{"value":3.5},"high":{"value":5.1}})
        );
        assert_eq!(
            reference_range("<200", &unit),
            json!({"high":{"value":200},"text":"<200"})
        );
        assert_eq!(
            reference_range(">40", &unit),
            json!({"low":{"value":40},"text":">40"})
        );
        assert_eq!(
            reference_range("-2-2", &unit),
            json!({"low":{"value":-2},"high":{"value":2}})
        );
        assert_eq!(
            reference_range("Negative", &unit),
            json!({"text":"Negative"})
        );
    }
}
