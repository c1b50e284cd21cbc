//! Agreement with Microsoft's FHIR-Converter on its own HL7 v2 samples.
//!
//! `$FHIR_CONVERTER_CORPUS_DIR` holds `PAIRS.tsv` (root template, input, expected output,
//! direction) with the inputs and the Bundles FHIR-Converter produced. For every `hl7v2->fhir`
//! pair the test converts the input and compares key facts, each counted where the expected
//! output has it:
//! - patient.identifier: every identifier value we give the Patient is among theirs
//! - patient.name: every (family, first given) pair we give the Patient is among theirs
//!   (FHIR-Converter also gives the Patient names from other segments, so "among")
//! - patient.birthDate, patient.gender: equal
//! - encounter.class: the same code; encounter.period.start: the same instant
//! - observation.code: each of their Observation codes is one of ours
//! - observation.value / observation.unit: for the matched code, the same value and unit
//!
//! Left out on purpose, and counted as such: their Observations coded in
//! `…/CodeSystem/observation-code` (made from PID/PV1 fields such as the death certificate or an
//! injury, not from OBX), and the OBX of MDM messages, which are the document's text: we carry
//! them in the DocumentReference, not as Observations.
//!
//! It prints the agreement per fact and fails below the floors in [`FLOORS`].

use std::collections::HashMap;
use std::path::Path;

use ihub::fhir::convert::hl7v2_to_fhir;
use ihub::hl7::parse_stream;
use serde_json::Value;

/// The lowest agreement (percent) each fact may fall to before the test fails.
const FLOORS: &[(&str, f64)] = &[
    ("patient.identifier", 95.0),
    ("patient.name", 95.0),
    ("patient.birthDate", 95.0),
    ("patient.gender", 95.0),
    ("encounter.class", 95.0),
    ("encounter.period.start", 90.0),
    ("observation.code", 95.0),
    ("observation.value", 95.0),
    ("observation.unit", 95.0),
];

#[derive(Default)]
struct Tally {
    agree: usize,
    compared: usize,
    examples: Vec<String>,
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| &e["resource"])
                .filter(|r| r["resourceType"] == kind)
                .collect()
        })
        .unwrap_or_default()
}

/// An instant as seconds since the epoch, so `+01:10` and `+05:30` renderings compare equal.
fn instant(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &format)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn names(patient: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = patient["name"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    (
                        n["family"].as_str().unwrap_or_default().to_owned(),
                        n["given"][0].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// An Observation's value as comparable text.
fn observation_value(o: &Value) -> Option<String> {
    if let Some(q) = o.get("valueQuantity") {
        return q["value"].as_f64().map(|v| format!("{v}"));
    }
    if let Some(s) = o.get("valueString").and_then(Value::as_str) {
        return Some(s.trim().to_owned());
    }
    if let Some(c) = o.get("valueCodeableConcept") {
        return c["coding"][0]["code"]
            .as_str()
            .or(c["text"].as_str())
            .map(str::to_owned);
    }
    o.get("valueDateTime")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn observation_unit(o: &Value) -> Option<String> {
    let q = o.get("valueQuantity")?;
    q["unit"].as_str().or(q["code"].as_str()).map(str::to_owned)
}

impl Tally {
    fn record(&mut self, agrees: bool, example: impl FnOnce() -> String) {
        self.compared += 1;
        if agrees {
            self.agree += 1;
        } else if self.examples.len() < 6 {
            self.examples.push(example());
        }
    }
}

fn compare(file: &str, ours: &Value, theirs: &Value, tally: &mut HashMap<&'static str, Tally>) {
    let is_document = !resources(ours, "DocumentReference").is_empty();
    let (our_patient, their_patient) = (resources(ours, "Patient"), resources(theirs, "Patient"));
    if let (Some(a), Some(b)) = (our_patient.first(), their_patient.first()) {
        let their_ids: Vec<&str> = b["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["value"].as_str())
            .collect();
        if !their_ids.is_empty() {
            let ours_ids: Vec<&str> = a["identifier"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["value"].as_str())
                .collect();
            let agrees = !ours_ids.is_empty() && ours_ids.iter().all(|v| their_ids.contains(v));
            tally
                .entry("patient.identifier")
                .or_default()
                .record(agrees, || format!("{file}: {ours_ids:?} vs {their_ids:?}"));
        }
        if b.get("name").is_some() {
            let (x, y) = (names(a), names(b));
            let agrees = !x.is_empty() && x.iter().all(|n| y.contains(n));
            tally
                .entry("patient.name")
                .or_default()
                .record(agrees, || format!("{file}: {x:?} vs {y:?}"));
        }
        for key in ["birthDate", "gender"] {
            if b.get(key).is_some() {
                let fact = if key == "gender" {
                    "patient.gender"
                } else {
                    "patient.birthDate"
                };
                tally
                    .entry(fact)
                    .or_default()
                    .record(a.get(key) == b.get(key), || {
                        format!("{file}: {} vs {}", a[key], b[key])
                    });
            }
        }
    }
    if let (Some(a), Some(b)) = (
        resources(ours, "Encounter").first(),
        resources(theirs, "Encounter").first(),
    ) {
        if b.get("class").is_some() {
            tally
                .entry("encounter.class")
                .or_default()
                .record(a["class"]["code"] == b["class"]["code"], || {
                    format!("{file}: {} vs {}", a["class"]["code"], b["class"]["code"])
                });
        }
        if b["period"].get("start").is_some() {
            let (x, y) = (
                instant(&a["period"]["start"]),
                instant(&b["period"]["start"]),
            );
            tally.entry("encounter.period.start").or_default().record(
                x.is_some() && x == y,
                || {
                    format!(
                        "{file}: {} vs {}",
                        a["period"]["start"], b["period"]["start"]
                    )
                },
            );
        }
    }
    let mut our_observations = resources(ours, "Observation");
    for theirs in resources(theirs, "Observation") {
        let Some(code) = theirs["code"]["coding"][0]["code"].as_str() else {
            continue;
        };
        let system = theirs["code"]["coding"][0]["system"]
            .as_str()
            .unwrap_or_default();
        if system.ends_with("/CodeSystem/observation-code") {
            tally.entry("(not from OBX)").or_default().compared += 1;
            continue;
        }
        if is_document {
            tally.entry("(MDM document text)").or_default().compared += 1;
            continue;
        }
        let found = our_observations
            .iter()
            .position(|o| o["code"]["coding"][0]["code"].as_str() == Some(code));
        tally
            .entry("observation.code")
            .or_default()
            .record(found.is_some(), || format!("{file}: no Observation {code}"));
        let Some(i) = found else { continue };
        let ours = our_observations.remove(i);
        if let Some(value) = observation_value(theirs) {
            let mine = observation_value(ours);
            tally
                .entry("observation.value")
                .or_default()
                .record(mine.as_deref() == Some(value.as_str()), || {
                    format!("{file} {code}: {mine:?} vs {value:?}")
                });
        }
        if let Some(unit) = observation_unit(theirs) {
            let mine = observation_unit(ours);
            tally
                .entry("observation.unit")
                .or_default()
                .record(mine.as_deref() == Some(unit.as_str()), || {
                    format!("{file} {code}: {mine:?} vs {unit:?}")
                });
        }
    }
}

#[test]
fn agreement_with_fhir_converter_on_key_facts() {
    let Ok(dir) = std::env::var("FHIR_CONVERTER_CORPUS_DIR") else {
        println!("skipped: FHIR_CONVERTER_CORPUS_DIR is not set (the FHIR-Converter sample pairs)");
        return;
    };
    let dir = Path::new(&dir);
    let pairs = std::fs::read_to_string(dir.join("PAIRS.tsv")).expect("read PAIRS.tsv");
    let mut tally: HashMap<&'static str, Tally> = HashMap::new();
    let (mut converted, mut refused) = (0, Vec::new());
    for line in pairs.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [_, input, expected, "hl7v2->fhir"] = cols[..] else {
            continue;
        };
        let bytes = std::fs::read(dir.join(input)).expect("read input");
        let theirs: Value =
            serde_json::from_slice(&std::fs::read(dir.join(expected)).expect("read expected"))
                .expect("expected JSON");
        let messages = match parse_stream(&bytes) {
            Ok(m) if !m.is_empty() => m,
            Ok(_) => continue,
            Err(e) => {
                refused.push(format!("{input}: parse: {e}"));
                continue;
            }
        };
        match hl7v2_to_fhir(&messages[0]) {
            Ok(ours) => {
                converted += 1;
                compare(input, &ours, &theirs, &mut tally);
            }
            Err(e) => refused.push(format!("{input}: {e}")),
        }
    }
    println!(
        "converted {converted} of {} pairs; refused:",
        converted + refused.len()
    );
    for r in &refused {
        println!("  {r}");
    }
    for fact in ["(not from OBX)", "(MDM document text)"] {
        let left_out = tally.get(fact).map_or(0, |t| t.compared);
        println!("left out on purpose: {left_out} of their Observations {fact}");
    }
    let mut failures = Vec::new();
    for (fact, floor) in FLOORS {
        let t = tally.remove(fact).unwrap_or_default();
        let pct = if t.compared == 0 {
            100.0
        } else {
            100.0 * t.agree as f64 / t.compared as f64
        };
        println!(
            "{fact:<24} {:>4}/{:<4} {pct:5.1}%  (floor {floor}%)",
            t.agree, t.compared
        );
        for e in &t.examples {
            println!("    differs: {e}");
        }
        if pct < *floor {
            failures.push(format!("{fact}: {pct:.1}% < {floor}%"));
        }
    }
    assert!(
        failures.is_empty(),
        "agreement fell below the floor: {failures:?}"
    );
}
