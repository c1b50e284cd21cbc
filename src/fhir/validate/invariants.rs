//! FHIR R4 invariants the tables can't express, each named by its key in the specification
//! (`qty-3`, `bdl-3`…) so a reader can look it up. Each gets the object and its location.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::walk::Walker;
use super::{IssueType, Severity, references};

fn has(obj: &Map<String, Value>, key: &str) -> bool {
    obj.contains_key(key)
}

fn str_at<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// True when a `name[x]` choice element is present (`valueQuantity`, `valueString`…).
fn has_choice(obj: &Map<String, Value>, name: &str) -> bool {
    obj.keys().any(|k| {
        k.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
    })
}

/// True when a CodeableConcept element has a coding with this code.
fn concept_has_code(obj: &Map<String, Value>, key: &str, code: &str) -> bool {
    obj.get(key)
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .is_some_and(|codings| {
            codings
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some(code))
        })
}

fn invariant(w: &mut Walker, at: &str, text: &str) {
    w.error(IssueType::Invariant, at, text.to_owned());
}

/// Reference: the syntax of `reference`, and `ref-1` (a `#id` must name a contained resource).
/// Records the reference for the Bundle rules.
pub(super) fn reference(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let Some(reference) = str_at(obj, "reference") else {
        return;
    };
    let here = format!("{at}.reference");
    if let Err(why) = references::check(reference) {
        w.error(IssueType::Invalid, &here, why);
        return;
    }
    if let Some(id) = reference.strip_prefix('#')
        && !id.is_empty()
        && !w
            .contained
            .last()
            .is_some_and(|ids| ids.iter().any(|c| c == id))
    {
        invariant(
            w,
            &here,
            &format!("ref-1: no contained resource has the id \"{id}\""),
        );
    }
    w.references.push((here, reference.to_owned()));
}

/// `cpt-2`: a ContactPoint with a value needs a system.
pub(super) fn cpt_2(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    if has(obj, "value") && !has(obj, "system") {
        invariant(w, at, "cpt-2: a system is required if a value is provided");
    }
}

/// `qty-3`: a Quantity with a coded unit needs the unit's system.
pub(super) fn qty_3(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    if has(obj, "code") && !has(obj, "system") {
        invariant(
            w,
            at,
            "qty-3: if a code for the unit is present, the system SHALL also be present",
        );
    }
}

/// `per-1`: a Period's start is not after its end (compared on the date part, which is
/// precise whatever the time zones).
pub(super) fn per_1(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let (Some(start), Some(end)) = (str_at(obj, "start"), str_at(obj, "end")) else {
        return;
    };
    let n = start.len().min(end.len()).min(10);
    if let (Some(s), Some(e)) = (start.get(..n), end.get(..n))
        && e < s
    {
        invariant(
            w,
            at,
            "per-1: if present, start SHALL have a lower value than end",
        );
    }
}

/// `ext-1`: an extension has either nested extensions or a value, not both, and one value.
pub(super) fn ext_1(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let values = obj
        .keys()
        .filter(|k| {
            k.strip_prefix("value")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .count();
    let nested = has(obj, "extension");
    if values > 1 {
        w.error(
            IssueType::Structure,
            at,
            "an extension has at most one value[x]".into(),
        );
    }
    if (values > 0) == nested {
        invariant(
            w,
            at,
            "ext-1: must have either extensions or value[x], not both",
        );
    }
}

/// `pat-1`: a Patient.contact has a name, telecom, address or organization.
pub(super) fn pat_1(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    if !["name", "telecom", "address", "organization"]
        .iter()
        .any(|k| has(obj, k))
    {
        invariant(
            w,
            at,
            "pat-1: SHALL at least contain a contact's details or a reference to an organization",
        );
    }
}

/// `obs-6`: an Observation (or component) has dataAbsentReason only when it has no value.
pub(super) fn obs_6(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    if has(obj, "dataAbsentReason") && has_choice(obj, "value") {
        invariant(
            w,
            at,
            "obs-6: dataAbsentReason SHALL only be present if value[x] is not present",
        );
    }
}

/// `app-2` and `app-3`: start and end come together, and only proposed, cancelled or
/// waitlisted appointments may lack them.
pub(super) fn app_2_3(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let (start, end) = (has(obj, "start"), has(obj, "end"));
    if start != end {
        invariant(
            w,
            at,
            "app-2: either start and end are specified, or neither",
        );
    }
    let status = str_at(obj, "status").unwrap_or("");
    if !start && !end && !matches!(status, "proposed" | "cancelled" | "waitlist") {
        invariant(
            w,
            at,
            "app-3: only proposed, cancelled or waitlist appointments can be missing start/end dates",
        );
    }
}

/// `con-5`: an entered-in-error Condition has no clinicalStatus.
pub(super) fn con_5(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    if concept_has_code(obj, "verificationStatus", "entered-in-error") && has(obj, "clinicalStatus")
    {
        invariant(
            w,
            at,
            "con-5: clinicalStatus SHALL NOT be present if verificationStatus is entered-in-error",
        );
    }
}

/// `ait-1` and `ait-2`: clinicalStatus is present exactly when the allergy is not
/// entered-in-error.
pub(super) fn ait_1_2(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let in_error = concept_has_code(obj, "verificationStatus", "entered-in-error");
    let clinical = has(obj, "clinicalStatus");
    if !in_error && !clinical {
        invariant(
            w,
            at,
            "ait-1: clinicalStatus SHALL be present if verificationStatus is not entered-in-error",
        );
    }
    if in_error && clinical {
        invariant(
            w,
            at,
            "ait-2: clinicalStatus SHALL NOT be present if verificationStatus is entered-in-error",
        );
    }
}

/// Bundle rules: `bdl-1` (total only in search results and history), `bdl-2` (entry.search
/// only in search results), `bdl-3`/`bdl-4` (request in batch/transaction, response in their
/// responses), `bdl-7` (fullUrl unique), and in a transaction every `urn:uuid:`/`urn:oid:`
/// reference names an entry's fullUrl.
pub(super) fn bundle(w: &mut Walker, obj: &Map<String, Value>, at: &str) {
    let kind = str_at(obj, "type").unwrap_or("");
    if has(obj, "total") && !matches!(kind, "searchset" | "history") {
        invariant(
            w,
            &format!("{at}.total"),
            "bdl-1: total only when a search or history",
        );
    }
    let entries = obj
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let requests = matches!(kind, "batch" | "transaction" | "history");
    let responses = matches!(kind, "batch-response" | "transaction-response" | "history");
    let mut full_urls = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        let here = format!("{at}.entry[{i}]");
        if has(entry, "search") && kind != "searchset" {
            invariant(
                w,
                &format!("{here}.search"),
                "bdl-2: entry.search only when a search",
            );
        }
        if requests != has(entry, "request") {
            invariant(
                w,
                &here,
                "bdl-3: entry.request mandatory for batch/transaction/history, otherwise prohibited",
            );
        }
        if responses != has(entry, "response") {
            invariant(
                w,
                &here,
                "bdl-4: entry.response mandatory for batch-response/transaction-response/history, otherwise prohibited",
            );
        }
        if let Some(full_url) = str_at(entry, "fullUrl") {
            let version = entry
                .get("resource")
                .and_then(|r| r.pointer("/meta/versionId"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !full_urls.insert((full_url.to_owned(), version.to_owned())) {
                invariant(
                    w,
                    &format!("{here}.fullUrl"),
                    &format!("bdl-7: fullUrl \"{full_url}\" is not unique"),
                );
            }
        }
    }
    let prefix = format!("{at}.entry[");
    let unresolved: Vec<(String, String)> = w
        .references
        .iter()
        .filter(|(path, r)| {
            path.starts_with(&prefix)
                && (r.starts_with("urn:uuid:") || r.starts_with("urn:oid:"))
                && !full_urls.iter().any(|(url, _)| url == r)
        })
        .cloned()
        .collect();
    for (path, reference) in unresolved {
        let text = format!("\"{reference}\" does not match the fullUrl of any entry in the Bundle");
        if kind == "transaction" {
            w.error(IssueType::NotFound, &path, text);
        } else {
            w.issue(Severity::Warning, IssueType::NotFound, &path, text);
        }
    }
}
