//! The walker: goes through a JSON resource with the rule tables, element by element, and
//! collects one issue per problem with its FHIRPath location (`Bundle.entry[2].resource.status`).

use serde_json::{Map, Value};

use super::primitives::{self, PrimError, clip};
use super::resources as admin;
use super::resources_clinical as clinical;
use super::schema::*;
use super::{IssueType, Severity, references};
use crate::fhir::model::OperationOutcomeIssue;

/// Every resource type with a rule table.
static DEFINITIONS: &[&ResourceDef] = &[
    &admin::PATIENT,
    &admin::PRACTITIONER,
    &admin::ORGANIZATION,
    &admin::RELATED_PERSON,
    &admin::ENCOUNTER,
    &admin::APPOINTMENT,
    &admin::SERVICE_REQUEST,
    &admin::MEDICATION,
    &admin::MEDICATION_REQUEST,
    &admin::DOCUMENT_REFERENCE,
    &admin::BUNDLE,
    &admin::OPERATION_OUTCOME,
    &clinical::OBSERVATION,
    &clinical::CONDITION,
    &clinical::ALLERGY_INTOLERANCE,
    &clinical::DIAGNOSTIC_REPORT,
    &clinical::SPECIMEN,
];

/// Elements every resource has.
const RESOURCE_COMMON: &[El] = &[
    opt("id", ID),
    opt("meta", META),
    opt("implicitRules", URI),
    opt("language", CODE),
];
/// Elements every DomainResource adds (`contained` is walked on its own).
const DOMAIN_COMMON: &[El] = &[
    opt("text", NARRATIVE),
    list("extension", EXTENSION),
    list("modifierExtension", EXTENSION),
];
/// Elements every datatype and backbone element has.
const ELEMENT_COMMON: &[El] = &[
    opt("id", STRING),
    list("extension", EXTENSION),
    list("modifierExtension", EXTENSION),
];

/// Walks resources and collects issues.
#[derive(Default)]
pub(crate) struct Walker {
    pub(super) issues: Vec<OperationOutcomeIssue>,
    /// Every literal reference seen, with its location: Bundle rules resolve them.
    pub(super) references: Vec<(String, String)>,
    /// The ids of the contained resources of the resources being walked, innermost last:
    /// `#id` references resolve against the last.
    pub(super) contained: Vec<Vec<String>>,
}

impl Walker {
    /// Records one issue.
    pub(super) fn issue(&mut self, severity: Severity, code: IssueType, path: &str, text: String) {
        self.issues.push(OperationOutcomeIssue {
            severity: severity.as_str().to_owned(),
            code: code.as_str().to_owned(),
            diagnostics: Some(text),
            expression: vec![path.to_owned()],
            ..OperationOutcomeIssue::default()
        });
    }

    /// Records an error.
    pub(super) fn error(&mut self, code: IssueType, path: &str, text: String) {
        self.issue(Severity::Error, code, path, text);
    }

    /// Walks one resource. `path` is where it sits (`Bundle.entry[0].resource`), or empty at
    /// the root, where the location starts with the resource type.
    pub(super) fn resource(&mut self, value: &Value, path: &str, contained: bool) {
        let Value::Object(obj) = value else {
            let at = if path.is_empty() { "Resource" } else { path };
            self.error(
                IssueType::Structure,
                at,
                "a resource must be a JSON object".into(),
            );
            return;
        };
        let resource_type = match obj.get("resourceType") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                let at = if path.is_empty() { "Resource" } else { path };
                self.error(
                    IssueType::Structure,
                    at,
                    "resourceType must be a string".into(),
                );
                return;
            }
            None => {
                let at = if path.is_empty() { "Resource" } else { path };
                self.error(IssueType::Required, at, "missing resourceType".into());
                return;
            }
        };
        let path = if path.is_empty() { resource_type } else { path };
        if !references::is_resource_type(resource_type) {
            self.error(
                IssueType::Invalid,
                path,
                format!("\"{}\" is not a FHIR R4 resource type", clip(resource_type)),
            );
            return;
        }
        self.elements(obj, RESOURCE_COMMON, path);
        let domain = !matches!(resource_type, "Bundle" | "Binary" | "Parameters");
        if domain {
            self.elements(obj, DOMAIN_COMMON, path);
        }
        // A contained resource's own `#id` references resolve against its container's list.
        let pushed = !contained;
        if pushed {
            self.contained.push(contained_ids(obj));
        }
        if let Some(items) = obj.get("contained") {
            self.contained_resources(items, path, contained, domain);
        }
        match DEFINITIONS.iter().find(|d| d.name == resource_type) {
            Some(def) => {
                self.elements(obj, def.elements, path);
                if let Some(invariant) = def.invariant {
                    invariant(self, obj, path);
                }
            }
            None => self.issue(
                Severity::Information,
                IssueType::Informational,
                path,
                format!(
                    "{resource_type} has no rule table here; only its common elements were checked"
                ),
            ),
        }
        if pushed {
            self.contained.pop();
        }
    }

    fn contained_resources(&mut self, items: &Value, path: &str, nested: bool, domain: bool) {
        let at = format!("{path}.contained");
        if !domain {
            self.error(
                IssueType::Structure,
                &at,
                "this resource type has no contained".into(),
            );
            return;
        }
        if nested {
            self.error(
                IssueType::Invariant,
                &at,
                "dom-2: a contained resource SHALL NOT contain resources".into(),
            );
            return;
        }
        let Value::Array(items) = items else {
            self.error(
                IssueType::Structure,
                &at,
                "contained must be an array".into(),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{at}[{i}]");
            if item.get("id").is_none() {
                self.issue(
                    Severity::Warning,
                    IssueType::Required,
                    &item_path,
                    "a contained resource without an id cannot be referenced".into(),
                );
            }
            self.resource(item, &item_path, true);
        }
    }

    /// Checks the listed elements of an object.
    fn elements(&mut self, obj: &Map<String, Value>, elements: &[El], path: &str) {
        for el in elements {
            self.element(obj, el, path);
        }
    }

    fn element(&mut self, obj: &Map<String, Value>, el: &El, path: &str) {
        if let Ty::Choice(options) = &el.ty {
            self.choice(obj, el, options, path);
            return;
        }
        match obj.get(el.name) {
            Some(value) => self.occurrences(obj, el.name, value, el.many, &el.ty, path),
            None if el.min > 0 && !obj.contains_key(&format!("_{}", el.name)) => self.error(
                IssueType::Required,
                &format!("{path}.{}", el.name),
                format!("missing required element `{}`", el.name),
            ),
            None => {}
        }
    }

    fn choice(&mut self, obj: &Map<String, Value>, el: &El, options: &[(&str, Ty)], path: &str) {
        let found: Vec<(String, &Ty)> = options
            .iter()
            .map(|(suffix, ty)| (format!("{}{suffix}", el.name), ty))
            .filter(|(key, _)| obj.contains_key(key))
            .collect();
        // A key like `valueFoo` whose suffix is not one of the allowed types.
        for key in obj.keys() {
            let Some(suffix) = key.strip_prefix(el.name) else {
                continue;
            };
            if suffix.starts_with(|c: char| c.is_ascii_uppercase())
                && !options.iter().any(|(s, _)| *s == suffix)
            {
                self.error(
                    IssueType::Structure,
                    &format!("{path}.{key}"),
                    format!(
                        "`{key}`: {suffix} is not an allowed type for {}[x]",
                        el.name
                    ),
                );
            }
        }
        if found.len() > 1 {
            let names: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
            self.error(
                IssueType::Structure,
                &format!("{path}.{}[x]", el.name),
                format!("only one of {} may be present", names.join(", ")),
            );
        }
        if found.is_empty() && el.min > 0 {
            self.error(
                IssueType::Required,
                &format!("{path}.{}[x]", el.name),
                format!("missing required element `{}[x]`", el.name),
            );
        }
        for (key, ty) in found {
            if let Some(value) = obj.get(&key) {
                self.occurrences(obj, &key, value, el.many, ty, path);
            }
        }
    }

    fn occurrences(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        value: &Value,
        many: bool,
        ty: &Ty,
        path: &str,
    ) {
        let at = format!("{path}.{key}");
        match (many, value) {
            (true, Value::Array(items)) if items.is_empty() => self.error(
                IssueType::Invalid,
                &at,
                format!("`{key}` is an empty array; leave the element out instead"),
            ),
            (true, Value::Array(items)) => {
                // In a list of primitives, null stands for a value that has only an extension
                // in the parallel `_key` list.
                let extended = obj.contains_key(&format!("_{key}"));
                for (i, item) in items.iter().enumerate() {
                    let item_at = format!("{at}[{i}]");
                    if item.is_null() && extended && matches!(ty, Ty::Prim(_) | Ty::Code(_)) {
                        continue;
                    }
                    self.value(item, ty, &item_at);
                }
            }
            (true, _) => self.error(
                IssueType::Structure,
                &at,
                format!("`{key}` must be an array (it may repeat)"),
            ),
            (false, Value::Array(_)) => self.error(
                IssueType::Structure,
                &at,
                format!("`{key}` must be a single value, not an array (at most one)"),
            ),
            (false, value) => self.value(value, ty, &at),
        }
    }

    fn value(&mut self, value: &Value, ty: &Ty, at: &str) {
        match ty {
            Ty::Prim(prim) => {
                self.primitive(*prim, value, at);
            }
            Ty::Code(set) => {
                if !self.primitive(primitives::Prim::Code, value, at) {
                    return;
                }
                if let Some(code) = value.as_str()
                    && !set.codes.contains(&code)
                {
                    self.error(
                        IssueType::CodeInvalid,
                        at,
                        format!(
                            "\"{}\" is not in the required value set {} ({})",
                            clip(code),
                            set.name,
                            set.codes.join(", ")
                        ),
                    );
                }
            }
            Ty::Concept(set) => {
                self.value(value, &CC, at);
                let codings = value.get("coding").and_then(Value::as_array);
                let mut from_set = 0;
                for (i, coding) in codings.into_iter().flatten().enumerate() {
                    if coding.get("system").and_then(Value::as_str) != Some(set.system) {
                        continue;
                    }
                    from_set += 1;
                    if let Some(code) = coding.get("code").and_then(Value::as_str)
                        && !set.codes.contains(&code)
                    {
                        self.error(
                            IssueType::CodeInvalid,
                            &format!("{at}.coding[{i}].code"),
                            format!(
                                "\"{}\" is not in the required value set {} ({})",
                                clip(code),
                                set.name,
                                set.codes.join(", ")
                            ),
                        );
                    }
                }
                if from_set == 0 && value.is_object() {
                    self.error(
                        IssueType::CodeInvalid,
                        at,
                        format!(
                            "no coding from {} (required binding to {})",
                            set.system, set.name
                        ),
                    );
                }
            }
            Ty::Type(complex) => match value {
                Value::Object(obj) => self.complex(obj, complex, at),
                _ => self.error(IssueType::Structure, at, "must be a JSON object".into()),
            },
            Ty::Resource => self.resource(value, at, false),
            Ty::Any | Ty::Choice(_) => {
                if !value.is_object() {
                    self.error(IssueType::Structure, at, "must be a JSON object".into());
                }
            }
        }
    }

    /// Checks a primitive; true when it is well formed.
    fn primitive(&mut self, prim: primitives::Prim, value: &Value, at: &str) -> bool {
        match primitives::check(prim, value) {
            Ok(()) => true,
            Err(PrimError::Shape(text)) => {
                self.error(IssueType::Structure, at, text);
                false
            }
            Err(PrimError::Value(text)) => {
                self.error(IssueType::Value, at, text);
                false
            }
        }
    }

    fn complex(&mut self, obj: &Map<String, Value>, complex: &Complex, at: &str) {
        if obj.is_empty() {
            self.error(
                IssueType::Invalid,
                at,
                "ele-1: an element must have a value or children, and this one is empty".into(),
            );
            return;
        }
        self.elements(obj, ELEMENT_COMMON, at);
        self.elements(obj, complex.elements, at);
        if let Some(invariant) = complex.invariant {
            invariant(self, obj, at);
        }
    }
}

fn contained_ids(obj: &Map<String, Value>) -> Vec<String> {
    obj.get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}
