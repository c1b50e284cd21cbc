//! FHIR R4 validation into an OperationOutcome, written over `serde_json::Value` so that it
//! reports on input the typed models could not even read.
//!
//! What is checked, per resource type with a rule table (the 17 modelled types):
//! - required elements and cardinalities (`1..1`, `0..*`, `1..*`), single values vs arrays,
//!   empty arrays and empty objects, one type per choice element (`value[x]`);
//! - required value-set bindings (administrative-gender, observation-status, appointment
//!   status, bundle type, request intent…, and the clinical/verification status concepts);
//! - primitive formats from the specification's regexes (date, dateTime, instant, time, id,
//!   uri, code, oid, base64Binary, decimal, integer, unsignedInt, positiveInt, boolean…);
//! - reference syntax (`Type/id`, `urn:uuid:`, absolute URL, `#contained`);
//! - invariants (`ref-1`, `cpt-2`, `qty-3`, `per-1`, `ext-1`, `pat-1`, `obs-6`, `app-2`,
//!   `app-3`, `con-5`, `ait-1`, `ait-2`, `dom-2`, `bdl-1/2/3/4/7`) and, in a transaction,
//!   that every `urn:uuid:` reference names an entry;
//! - recursively, Bundle entries and contained resources.
//!
//! Every problem is one issue whose `expression` is a FHIRPath-style location
//! (`Bundle.entry[2].resource.status`). Not checked: terminology beyond the required value
//! sets, profiles, and resource types without a table (only their common elements).

mod invariants;
mod primitives;
mod references;
mod resources;
mod resources_clinical;
mod schema;
mod valuesets;
mod walk;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::fhir::model::{OperationOutcome, OperationOutcomeIssue};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The input could not be read at all.
    Fatal,
    /// The resource is not valid R4.
    Error,
    /// Valid, but probably not what was meant.
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// The `OperationOutcome.issue.code` values validation uses (FHIR issue-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    /// Content invalid against the specification (bad reference, empty array).
    Invalid,
    /// Wrong JSON shape (an array where one value belongs, a number for a string).
    Structure,
    /// A required element is missing.
    Required,
    /// A primitive's text is not allowed (a malformed date).
    Value,
    /// A FHIR invariant failed.
    Invariant,
    /// A code is not in its required value set.
    CodeInvalid,
    /// A reference names nothing in the Bundle.
    NotFound,
    /// For information.
    Informational,
}

impl IssueType {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::NotFound => "not-found",
            IssueType::Informational => "informational",
        }
    }
}

/// Validates one resource (a Bundle is validated with all its entries).
///
/// Never fails: problems are issues. An outcome without problems has one `information` issue
/// ("All OK"), since an OperationOutcome needs at least one.
pub fn validate(resource: &Value) -> OperationOutcome {
    let mut walker = walk::Walker::default();
    walker.resource(resource, "", false);
    outcome(walker.issues)
}

/// Parses JSON text and validates it; a parse error is a `fatal` `structure` issue naming the
/// line and column.
pub fn validate_str(json: &str) -> OperationOutcome {
    // Files saved by some Windows editors start with a byte-order mark.
    match serde_json::from_str::<Value>(json.trim_start_matches('\u{feff}')) {
        Ok(value) => validate(&value),
        Err(error) => outcome(vec![OperationOutcomeIssue {
            severity: Severity::Fatal.as_str().to_owned(),
            code: IssueType::Structure.as_str().to_owned(),
            // serde_json's message ends with "at line L column C".
            diagnostics: Some(format!("not JSON: {error}")),
            ..OperationOutcomeIssue::default()
        }]),
    }
}

/// True for a FHIR `date` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`) that is a real calendar day.
pub fn is_date(text: &str) -> bool {
    primitives::check(primitives::Prim::Date, &Value::String(text.to_owned())).is_ok()
}

/// True for a FHIR `dateTime` (a date, or a date and time with a zone).
pub fn is_date_time(text: &str) -> bool {
    primitives::check(primitives::Prim::DateTime, &Value::String(text.to_owned())).is_ok()
}

/// True for a FHIR `id` (letters, digits, `-` and `.`, 1 to 64).
pub fn is_id(text: &str) -> bool {
    primitives::is_id(text)
}

fn outcome(mut issues: Vec<OperationOutcomeIssue>) -> OperationOutcome {
    if issues.is_empty() {
        issues.push(OperationOutcomeIssue {
            severity: Severity::Information.as_str().to_owned(),
            code: IssueType::Informational.as_str().to_owned(),
            diagnostics: Some("All OK".to_owned()),
            ..OperationOutcomeIssue::default()
        });
    }
    OperationOutcome {
        issue: issues,
        ..OperationOutcome::default()
    }
}
