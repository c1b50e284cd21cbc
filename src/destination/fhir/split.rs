//! Splitting a transaction Bundle in two: its conditional entries first, the rest after.
//!
//! Some servers (Medplum) refuse a transaction that holds a conditional create or update and
//! more than a few entries, because it would need serializable isolation. The HL7 converter's
//! Patient is such an entry (`ifNoneExist`, so a re-sent ADT does not duplicate it), and an ORU
//! holds dozens of Observations. [`split_transaction`] cuts the Bundle into the conditional
//! entries and the others; after the first part is delivered, [`resolved_references`] reads
//! where the server put each of its entries and [`rewrite_references`] points the second
//! part's `urn:uuid:` references at them (`Patient/123`). Pure functions: no I/O.

use std::collections::HashMap;

use serde_json::{Value, json};

/// A transaction Bundle cut in two, each part a transaction Bundle of its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SplitTransaction {
    /// The conditional entries, delivered first.
    pub conditional: Value,
    /// Every other entry, delivered once the first part's references are rewritten.
    pub rest: Value,
}

/// Whether an entry asks the server to search before it writes: `ifNoneExist`, or a
/// conditional update, patch or delete (`Patient?identifier=…`).
pub(crate) fn is_conditional(entry: &Value) -> bool {
    let Some(request) = entry.get("request") else {
        return false;
    };
    let if_none_exist = request
        .get("ifNoneExist")
        .and_then(Value::as_str)
        .is_some_and(|query| !query.is_empty());
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    let url = request.get("url").and_then(Value::as_str).unwrap_or("");
    if_none_exist || (method != "GET" && method != "HEAD" && url.contains('?'))
}

/// Splits a transaction with conditional entries and more than `max_entries` entries; `None`
/// when it can go as one (not a transaction, small enough, nothing conditional or nothing
/// else), or when a conditional entry points at an unconditional one's `urn:uuid:` (the first
/// part would hold a reference it cannot resolve: sent whole, the server gives its reason).
pub(crate) fn split_transaction(bundle: &Value, max_entries: usize) -> Option<SplitTransaction> {
    if bundle.get("type").and_then(Value::as_str) != Some("transaction") {
        return None;
    }
    let entries = bundle.get("entry")?.as_array()?;
    if entries.len() <= max_entries {
        return None;
    }
    let (conditional, rest): (Vec<&Value>, Vec<&Value>) =
        entries.iter().partition(|entry| is_conditional(entry));
    if conditional.is_empty() || rest.is_empty() {
        return None;
    }
    let later: Vec<&str> = rest.iter().filter_map(|entry| full_url(entry)).collect();
    if conditional.iter().any(|entry| mentions_any(entry, &later)) {
        return None;
    }
    let part = |entries: Vec<&Value>| {
        let mut part = bundle.clone();
        part["entry"] = Value::Array(entries.into_iter().cloned().collect());
        part
    };
    Some(SplitTransaction {
        conditional: part(conditional),
        rest: part(rest),
    })
}

/// Where the server put each entry of the first part, keyed by the entry's `urn:uuid:`
/// fullUrl: `Patient/123` from the response's `location` (`Patient/123/_history/1`, relative
/// or absolute), else from the resource it sent back. Entries without a `urn:uuid:` fullUrl
/// are not referenced by `urn:uuid:`, so they are skipped. An `Err` names the entry whose
/// place the answer does not say.
pub(crate) fn resolved_references(
    sent: &Value,
    response: Option<&Value>,
) -> Result<HashMap<String, String>, String> {
    let sent = sent.get("entry").and_then(Value::as_array);
    let answered = response
        .and_then(|body| body.get("entry"))
        .and_then(Value::as_array);
    let mut resolved = HashMap::new();
    for (i, entry) in sent.into_iter().flatten().enumerate() {
        let Some(url) = full_url(entry).filter(|url| url.starts_with("urn:uuid:")) else {
            continue;
        };
        let answer = answered.and_then(|entries| entries.get(i));
        let place = answer
            .and_then(|answer| answer.pointer("/response/location"))
            .and_then(Value::as_str)
            .and_then(type_and_id)
            .or_else(|| {
                let resource = answer?.get("resource")?;
                let kind = resource.get("resourceType")?.as_str()?;
                let id = resource.get("id")?.as_str()?;
                Some(format!("{kind}/{id}"))
            });
        let Some(place) = place else {
            let kind = entry
                .pointer("/resource/resourceType")
                .and_then(Value::as_str)
                .unwrap_or("resource");
            return Err(format!(
                "the server's answer to the conditional entries does not say where entry {i} \
                 ({kind}) is: no response.location and no resource id"
            ));
        };
        resolved.insert(url.to_owned(), place);
    }
    Ok(resolved)
}

/// `Type/id` from a location: `Patient/123/_history/1`, `https://h/R4/Patient/123`, ….
pub(crate) fn type_and_id(location: &str) -> Option<String> {
    let path = location.split("/_history").next()?;
    let path = path.split(['?', '#']).next()?.trim_end_matches('/');
    let mut parts = path.rsplit('/');
    let id = parts.next().filter(|id| !id.is_empty())?;
    let kind = parts
        .next()
        .filter(|kind| kind.starts_with(|c: char| c.is_ascii_uppercase()))?;
    Some(format!("{kind}/{id}"))
}

/// Replaces every string that is exactly one of `resolved`'s `urn:uuid:` URLs (a
/// `reference`, wherever it sits in a resource or request) with the real `Type/id`.
pub(crate) fn rewrite_references(value: &mut Value, resolved: &HashMap<String, String>) {
    match value {
        Value::String(text) => {
            if let Some(place) = resolved.get(text.as_str()) {
                *text = place.clone();
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_references(item, resolved)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|field| rewrite_references(field, resolved)),
        _ => {}
    }
}

/// Both parts' answers as one transaction-response, so the delivery's summary lists every
/// entry in the order they were sent (the first part's, then the rest's).
pub(crate) fn joined_response(first: Option<&Value>, second: Option<&Value>) -> Value {
    let entries: Vec<Value> = [first, second]
        .into_iter()
        .flatten()
        .filter_map(|body| body.get("entry")?.as_array().cloned())
        .flatten()
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
}

fn full_url(entry: &Value) -> Option<&str> {
    entry.get("fullUrl")?.as_str()
}

/// Whether any string in `value` is one of `urls`.
fn mentions_any(value: &Value, urls: &[&str]) -> bool {
    match value {
        Value::String(text) => urls.contains(&text.as_str()),
        Value::Array(items) => items.iter().any(|item| mentions_any(item, urls)),
        Value::Object(fields) => fields.values().any(|field| mentions_any(field, urls)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, resource: Value, request: Value) -> Value {
        json!({"fullUrl": url, "resource": resource, "request": request})
    }

    fn patient() -> Value {
        entry(
            "urn:uuid:p",
            json!({"resourceType": "Patient", "identifier": [{"value": "1"}]}),
            json!({"method": "POST", "url": "Patient", "ifNoneExist": "identifier=1"}),
        )
    }

    fn observation(n: usize) -> Value {
        entry(
            &format!("urn:uuid:o{n}"),
            json!({"resourceType": "Observation", "subject": {"reference": "urn:uuid:p"},
                   "valueString": "urn:uuid:p is text, kept only if not exact"}),
            json!({"method": "POST", "url": "Observation"}),
        )
    }

    fn bundle(entries: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    }

    #[test]
    fn conditional_entries_are_recognised() {
        assert!(is_conditional(&patient()));
        assert!(!is_conditional(&observation(1)));
        let put = json!({"request": {"method": "PUT", "url": "Patient?identifier=x|1"}});
        assert!(is_conditional(&put));
        let delete = json!({"request": {"method": "DELETE", "url": "Observation?code=1"}});
        assert!(is_conditional(&delete));
        let search = json!({"request": {"method": "GET", "url": "Patient?name=x"}});
        assert!(!is_conditional(&search));
        let empty = json!({"request": {"method": "POST", "url": "Patient", "ifNoneExist": ""}});
        assert!(!is_conditional(&empty));
    }

    #[test]
    fn a_large_mixed_transaction_is_split_conditional_first() {
        let mut entries = vec![observation(1), patient()];
        entries.extend((2..=8).map(observation));
        let whole = bundle(entries);
        let split = split_transaction(&whole, 8).unwrap();
        assert_eq!(split.conditional, bundle(vec![patient()]));
        let rest = split.rest["entry"].as_array().unwrap();
        assert_eq!(rest.len(), 8);
        assert_eq!(rest[0], observation(1));
        assert_eq!(rest[7]["fullUrl"], "urn:uuid:o8");
        assert_eq!(split.rest["type"], "transaction");
    }

    #[test]
    fn small_unmixed_or_non_transaction_bundles_are_not_split() {
        let mut entries = vec![patient()];
        entries.extend((1..=7).map(observation));
        assert_eq!(split_transaction(&bundle(entries.clone()), 8), None);
        entries.push(observation(8));
        assert!(split_transaction(&bundle(entries.clone()), 8).is_some());
        assert_eq!(
            split_transaction(&bundle(entries.clone()), usize::MAX),
            None
        );
        let mut batch = bundle(entries);
        batch["type"] = json!("batch");
        assert_eq!(split_transaction(&batch, 8), None);
        let plain = bundle((1..=20).map(observation).collect());
        assert_eq!(split_transaction(&plain, 8), None);
        let all_conditional = bundle((0..20).map(|_| patient()).collect());
        assert_eq!(split_transaction(&all_conditional, 8), None);
    }

    #[test]
    fn a_conditional_entry_pointing_at_a_later_one_is_not_split() {
        let mut encounter = patient();
        encounter["resource"]["subject"] = json!({"reference": "urn:uuid:o1"});
        let mut entries = vec![encounter];
        entries.extend((1..=9).map(observation));
        assert_eq!(split_transaction(&bundle(entries), 8), None);
    }

    #[test]
    fn locations_become_type_and_id() {
        assert_eq!(
            type_and_id("Patient/123/_history/1").unwrap(),
            "Patient/123"
        );
        assert_eq!(
            type_and_id("https://h.example/R4/Patient/a-b/_history/2").unwrap(),
            "Patient/a-b"
        );
        assert_eq!(type_and_id("Patient/9").unwrap(), "Patient/9");
        assert_eq!(type_and_id("123"), None);
        assert_eq!(type_and_id("fhir/123/_history/1"), None);
    }

    #[test]
    fn references_are_resolved_from_locations_or_resources() {
        let sent = bundle(vec![patient(), {
            let mut other = patient();
            other["fullUrl"] = json!("urn:uuid:q");
            other
        }]);
        let answer = json!({"entry": [
            {"response": {"status": "201 Created", "location": "Patient/123/_history/1"}},
            {"response": {"status": "200 OK"}, "resource": {"resourceType": "Patient", "id": "77"}}
        ]});
        let resolved = resolved_references(&sent, Some(&answer)).unwrap();
        assert_eq!(resolved["urn:uuid:p"], "Patient/123");
        assert_eq!(resolved["urn:uuid:q"], "Patient/77");
        let silent = json!({"entry": [{"response": {"status": "200 OK"}}]});
        assert_eq!(
            resolved_references(&bundle(vec![patient()]), Some(&silent)).unwrap_err(),
            "the server's answer to the conditional entries does not say where entry 0 \
             (Patient) is: no response.location and no resource id"
        );
        assert!(resolved_references(&bundle(vec![patient()]), None).is_err());
    }

    #[test]
    fn exact_urn_references_are_rewritten_everywhere() {
        let resolved = HashMap::from([("urn:uuid:p".to_owned(), "Patient/123".to_owned())]);
        let mut rest = bundle(vec![observation(1), {
            let mut report = observation(2);
            report["resource"]["result"] = json!([{"reference": "urn:uuid:o1"},
                                                  {"reference": "urn:uuid:p"}]);
            report
        }]);
        rewrite_references(&mut rest, &resolved);
        assert_eq!(
            rest["entry"][0]["resource"]["subject"]["reference"],
            "Patient/123"
        );
        assert_eq!(
            rest["entry"][0]["resource"]["valueString"],
            "urn:uuid:p is text, kept only if not exact"
        );
        assert_eq!(
            rest["entry"][1]["resource"]["result"],
            json!([{"reference": "urn:uuid:o1"}, {"reference": "Patient/123"}])
        );
        assert_eq!(rest["entry"][1]["fullUrl"], "urn:uuid:o2");
    }

    #[test]
    fn both_answers_are_joined_in_order() {
        let first = json!({"entry": [{"response": {"status": "201 Created"}}]});
        let second = json!({"entry": [{"response": {"status": "201 Created", "location": "O/1"}},
                                      {"response": {"status": "201 Created", "location": "O/2"}}]});
        let joined = joined_response(Some(&first), Some(&second));
        assert_eq!(joined["type"], "transaction-response");
        let entries = joined["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2]["response"]["location"], "O/2");
    }
}
