//! Exchange and results: Bundle and OperationOutcome.

use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::{CodeableConcept, Extra, Identifier, Meta, Resource, TypeTag};

/// A container of resources (transaction, batch, search result, document): `Bundle`.
///
/// A Resource but not a DomainResource: it has no `text` or `contained`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always `Bundle` in JSON; checked when reading.
    #[serde(rename = "resourceType")]
    pub resource_type: TypeTag<Bundle>,
    /// The logical id on its server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Version, profiles, tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// A persistent identifier for the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    /// `document | message | transaction | transaction-response | batch | batch-response |
    /// history | searchset | collection` (required by FHIR).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub type_: Option<String>,
    /// When it was assembled (instant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Total matches of a search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Paging links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<BundleLink>,
    /// The entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

impl super::FhirResource for Bundle {
    const RESOURCE_TYPE: &'static str = "Bundle";
}

/// A link (`self`, `next`): `Bundle.link`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleLink {
    /// Relation (`self`, `next`, `previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// The URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry: `Bundle.entry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    /// The resource's URI in this bundle (`urn:uuid:…` or an absolute URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    /// The resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// Search match information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<BundleEntrySearch>,
    /// What to do with it (transaction and batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<BundleEntryRequest>,
    /// What happened (transaction-response and batch-response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<BundleEntryResponse>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why an entry is in a search result: `Bundle.entry.search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntrySearch {
    /// `match | include | outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Relevance, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Number>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The HTTP request an entry stands for: `Bundle.entry.request`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntryRequest {
    /// `GET | HEAD | POST | PUT | DELETE | PATCH` (required by FHIR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// URL relative to the server base (`Patient`, `Patient?identifier=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For a conditional read: `If-None-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_none_match: Option<String>,
    /// For a conditional read: `If-Modified-Since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_modified_since: Option<String>,
    /// For a version-aware update: `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<String>,
    /// For a conditional create: the search that must find nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_none_exist: Option<String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The result of one entry: `Bundle.entry.response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntryResponse {
    /// HTTP status (`201 Created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Where the resource now is (`Patient/123/_history/1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The resource's ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// When the server changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Everything else (including `outcome`), kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

domain_resource! {
    /// A list of errors, warnings and information about an action: `OperationOutcome`. What
    /// validation returns and what FHIR servers answer on failure.
    OperationOutcome = "OperationOutcome" {
        /// The issues (at least one, by FHIR).
        issue: Vec<OperationOutcomeIssue>,
    }
}

impl OperationOutcome {
    /// True when any issue is `error` or `fatal`.
    pub fn has_errors(&self) -> bool {
        self.issue
            .iter()
            .any(|i| matches!(i.severity.as_str(), "error" | "fatal"))
    }

    /// Issues of one severity (`error`, `warning`…).
    pub fn count(&self, severity: &str) -> usize {
        self.issue.iter().filter(|i| i.severity == severity).count()
    }
}

/// One problem: `OperationOutcome.issue`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcomeIssue {
    /// `fatal | error | warning | information`.
    pub severity: String,
    /// The issue type (`required`, `value`, `invalid`, `code-invalid`, `structure`…).
    pub code: String,
    /// Coded details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<CodeableConcept>,
    /// Text for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// Deprecated XPath locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location: Vec<String>,
    /// FHIRPath locations (`Patient.name[0].given[1]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}
