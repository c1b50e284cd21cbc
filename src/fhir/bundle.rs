//! The seed's `createFHIRBundle(resources, type)`: resources wrapped in a Bundle of type
//! transaction, batch, collection or searchset.
//!
//! Every entry gets a fresh `urn:uuid:` fullUrl. In a transaction, collection or searchset,
//! references between the given resources (`Patient/p1` where a resource is Patient `p1`)
//! are rewritten to that fullUrl, so the server (or reader) resolves them inside the Bundle. A
//! batch's entries are independent by definition, so its references are left alone.
//! Transaction and batch entries carry a `request`: by default a conditional create
//! (`POST Type` with `ifNoneExist: identifier=system|value` from the first identifier), or,
//! with [`EntryMethod::ConditionalPut`], `PUT Type?identifier=system|value`. A resource with no
//! usable identifier is a plain `POST` (or `PUT Type/id` when it has an id and PUT was asked).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// `Bundle.type` values this builder makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleType {
    /// All or nothing.
    Transaction,
    /// Each entry on its own.
    Batch,
    /// A set of resources, no processing.
    Collection,
    /// Search results.
    Searchset,
}

impl BundleType {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleType::Transaction => "transaction",
            BundleType::Batch => "batch",
            BundleType::Collection => "collection",
            BundleType::Searchset => "searchset",
        }
    }
}

/// How transaction and batch entries are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryMethod {
    /// `POST Type` + `ifNoneExist` on the business identifier: creates unless it exists.
    #[default]
    PostIfNoneExist,
    /// `PUT Type?identifier=…`: creates or updates the resource with that identifier.
    ConditionalPut,
}

/// Options of [`create_fhir_bundle_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BundleOptions {
    /// How transaction and batch entries are written.
    pub method: EntryMethod,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// A resource is not a JSON object with a `resourceType`.
    #[error("resource {index} is not a FHIR resource (a JSON object with a resourceType)")]
    NotAResource {
        /// Its position in the input, from 0.
        index: usize,
    },
}

/// `createFHIRBundle(resources, type)` with the default options (conditional create).
pub fn create_fhir_bundle(resources: Vec<Value>, kind: BundleType) -> Result<Value, BundleError> {
    create_fhir_bundle_with(resources, kind, BundleOptions::default())
}

/// `createFHIRBundle(resources, type)`, choosing how transaction entries are written.
pub fn create_fhir_bundle_with(
    mut resources: Vec<Value>,
    kind: BundleType,
    options: BundleOptions,
) -> Result<Value, BundleError> {
    // fullUrl per resource, and `Type/id` → fullUrl for the rewriting.
    let mut full_urls = Vec::with_capacity(resources.len());
    let mut by_local_reference = HashMap::new();
    for (index, resource) in resources.iter().enumerate() {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .ok_or(BundleError::NotAResource { index })?;
        let full_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        if let Some(id) = resource.get("id").and_then(Value::as_str) {
            by_local_reference.insert(format!("{resource_type}/{id}"), full_url.clone());
        }
        full_urls.push(full_url);
    }
    if kind != BundleType::Batch {
        for resource in &mut resources {
            rewrite_references(resource, &by_local_reference);
        }
    }
    let entries: Vec<Value> = resources
        .into_iter()
        .zip(full_urls)
        .map(|(resource, full_url)| entry(resource, full_url, kind, options.method))
        .collect();
    let mut bundle = Map::new();
    bundle.insert("resourceType".into(), json!("Bundle"));
    bundle.insert("type".into(), json!(kind.as_str()));
    if let Ok(now) =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)
    {
        bundle.insert("timestamp".into(), json!(now));
    }
    if kind == BundleType::Searchset {
        bundle.insert("total".into(), json!(entries.len()));
    }
    if !entries.is_empty() {
        bundle.insert("entry".into(), Value::Array(entries));
    }
    Ok(Value::Object(bundle))
}

fn entry(mut resource: Value, full_url: String, kind: BundleType, method: EntryMethod) -> Value {
    let mut entry = Map::new();
    entry.insert("fullUrl".into(), json!(full_url));
    match kind {
        BundleType::Transaction | BundleType::Batch => {
            let request = request(&resource, method);
            // A create or conditional update takes its identity from the server; a local id
            // would be ignored at best and rejected at worst (a PUT whose id mismatches).
            let server_assigned = request.get("method") == Some(&json!("POST"))
                || request
                    .get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.contains('?'));
            if server_assigned && let Some(obj) = resource.as_object_mut() {
                obj.remove("id");
            }
            entry.insert("resource".into(), resource);
            entry.insert("request".into(), request);
        }
        BundleType::Searchset => {
            entry.insert("resource".into(), resource);
            entry.insert("search".into(), json!({"mode": "match"}));
        }
        BundleType::Collection => {
            entry.insert("resource".into(), resource);
        }
    }
    Value::Object(entry)
}

fn request(resource: &Value, method: EntryMethod) -> Value {
    let resource_type = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let search = identifier_search(resource);
    match (method, search) {
        (EntryMethod::PostIfNoneExist, Some(search)) => {
            json!({"method": "POST", "url": resource_type, "ifNoneExist": search})
        }
        (EntryMethod::ConditionalPut, Some(search)) => {
            json!({"method": "PUT", "url": format!("{resource_type}?{search}")})
        }
        (EntryMethod::ConditionalPut, None) => match resource.get("id").and_then(Value::as_str) {
            Some(id) => json!({"method": "PUT", "url": format!("{resource_type}/{id}")}),
            None => json!({"method": "POST", "url": resource_type}),
        },
        (EntryMethod::PostIfNoneExist, None) => json!({"method": "POST", "url": resource_type}),
    }
}

/// `identifier=system|value` from the first identifier with a value (FHIR token search,
/// escaped and percent-encoded), or `None`.
fn identifier_search(resource: &Value) -> Option<String> {
    let identifier = match resource.get("identifier")? {
        Value::Array(list) => list.iter().find(|i| i.get("value").is_some())?,
        single => single, // Bundle.identifier, Appointment… are lists; a few are single
    };
    let value = identifier.get("value")?.as_str()?;
    let token = match identifier.get("system").and_then(Value::as_str) {
        Some(system) => format!("{}|{}", encode(system), encode(value)),
        None => encode(value),
    };
    Some(format!("identifier={token}"))
}

/// Escapes FHIR search separators (`\`, `|`, `,`, `$`) with a backslash, then percent-encodes
/// what a query string can't carry.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            out.push_str("%5C");
        }
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | ':' | '/' => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    out
}

/// Replaces every `"reference": "Type/id"` naming a resource of the bundle by its fullUrl.
fn rewrite_references(value: &mut Value, by_local_reference: &HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::String(reference)) = obj.get_mut("reference")
                && let Some(full_url) = by_local_reference.get(reference.as_str())
            {
                *reference = full_url.clone();
            }
            for child in obj.values_mut() {
                rewrite_references(child, by_local_reference);
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_references(item, by_local_reference);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::validate::validate;

    fn resources() -> Vec<Value> {
        vec![
            json!({"resourceType": "Patient", "id": "p1",
                   "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN 1|2"}]}),
            json!({"resourceType": "Observation", "id": "o1", "status": "final",
                   "code": {"text": "IOP"}, "subject": {"reference": "Patient/p1"},
                   "performer": [{"reference": "Practitioner/elsewhere"}]}),
        ]
    }

    #[test]
    fn transaction_entries_post_if_none_exist_and_resolve_references() {
        let bundle = create_fhir_bundle(resources(), BundleType::Transaction).unwrap();
        assert_eq!(bundle["type"], "transaction");
        let patient = &bundle["entry"][0];
        let full_url = patient["fullUrl"].as_str().unwrap();
        assert!(
            full_url.starts_with("urn:uuid:") && full_url.len() == 45,
            "{full_url}"
        );
        assert_eq!(patient["request"]["method"], "POST");
        assert_eq!(patient["request"]["url"], "Patient");
        assert_eq!(
            patient["request"]["ifNoneExist"],
            "identifier=http://hospital.example.org/mrn|MRN%201%5C%7C2"
        );
        assert!(patient["resource"].get("id").is_none());
        let observation = &bundle["entry"][1];
        assert_eq!(observation["resource"]["subject"]["reference"], full_url);
        assert_eq!(
            observation["resource"]["performer"][0]["reference"],
            "Practitioner/elsewhere"
        );
        assert_eq!(
            observation["request"],
            json!({"method": "POST", "url": "Observation"})
        );
        assert_ne!(observation["fullUrl"], patient["fullUrl"]);
        let outcome = validate(&bundle);
        assert!(!outcome.has_errors(), "{outcome:?}");
    }

    #[test]
    fn conditional_put_is_an_option() {
        let options = BundleOptions {
            method: EntryMethod::ConditionalPut,
        };
        let bundle =
            create_fhir_bundle_with(resources(), BundleType::Transaction, options).unwrap();
        assert_eq!(bundle["entry"][0]["request"]["method"], "PUT");
        assert!(
            bundle["entry"][0]["request"]["url"]
                .as_str()
                .unwrap()
                .starts_with("Patient?identifier=http://hospital.example.org/mrn|")
        );
        // No identifier: PUT to the id.
        assert_eq!(
            bundle["entry"][1]["request"],
            json!({"method": "PUT", "url": "Observation/o1"})
        );
        assert_eq!(bundle["entry"][1]["resource"]["id"], "o1");
        assert!(!validate(&bundle).has_errors());
    }

    #[test]
    fn batch_collection_and_searchset() {
        let batch = create_fhir_bundle(resources(), BundleType::Batch).unwrap();
        assert_eq!(
            batch["entry"][1]["resource"]["subject"]["reference"],
            "Patient/p1"
        );
        assert!(batch["entry"][0]["request"].is_object());
        assert!(!validate(&batch).has_errors());
        let collection = create_fhir_bundle(resources(), BundleType::Collection).unwrap();
        assert!(collection["entry"][0].get("request").is_none());
        assert_eq!(collection["entry"][0]["resource"]["id"], "p1");
        assert_eq!(
            collection["entry"][1]["resource"]["subject"]["reference"],
            collection["entry"][0]["fullUrl"]
        );
        assert!(!validate(&collection).has_errors());
        let search = create_fhir_bundle(resources(), BundleType::Searchset).unwrap();
        assert_eq!(search["total"], 2);
        assert_eq!(search["entry"][0]["search"]["mode"], "match");
        assert!(!validate(&search).has_errors(), "{:?}", validate(&search));
    }

    #[test]
    fn refuses_what_is_not_a_resource() {
        assert_eq!(
            create_fhir_bundle(
                vec![json!({"resourceType": "Patient"}), json!({"id": "x"})],
                BundleType::Collection
            ),
            Err(BundleError::NotAResource { index: 1 })
        );
        let empty = create_fhir_bundle(vec![], BundleType::Transaction).unwrap();
        assert!(empty.get("entry").is_none());
        assert!(!validate(&empty).has_errors());
    }

    #[test]
    fn search_values_are_escaped() {
        assert_eq!(encode("a|b,c$d\\e f"), "a%5C%7Cb%5C%2Cc%5C%24d%5C%5Ce%20f");
        assert_eq!(encode("http://x.org/a"), "http://x.org/a");
    }
}
