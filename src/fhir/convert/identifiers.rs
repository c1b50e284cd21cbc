//! CX and EI → Identifier, with the system taken from the assigning authority (HD), and the
//! percent-encoding used for names put into URIs and search queries.

use serde_json::{Map, Value as Json};

use super::ConvertOptions;
use super::codes::concept_of;
use super::datatypes::text;
use crate::hl7::Value;

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
