//! [`EntityMapping`]: how one kind of record (`patients` ⇄ `Patient`) is mapped field by field,
//! in either direction, to a JSON record or an HL7 v2 message.

use std::sync::Arc;

use serde_json::Value;

use super::conflict::Strategy;
use super::direction::{Direction, Directions};
use super::error::{FieldError, RecordErrors};
use super::path::{JsonField, RemotePath, kind_of};
use super::transform::{Context, LookupTables, Transform, apply_chain};
use super::validate::{RecordRules, validate_record};
use crate::hl7::{Message, MessageBuf};

/// One field: where it lives on each side, and the chains its value goes through.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    /// The local field (a simple name or a JSONPath), also the name used in errors.
    pub local: JsonField,
    /// The remote field: a JSONPath or an HL7 path.
    pub remote: RemotePath,
    /// A missing value (after the chain) is an error rather than skipped.
    pub required: bool,
    /// The ways this field travels (already narrowed to the entity's).
    pub direction: Directions,
    /// The chain run local → remote.
    pub push: Vec<Transform>,
    /// The chain run remote → local (the inverted `transform`, or `pull` as written).
    pub pull: Vec<Transform>,
}

/// The mapping of one entity, ready to apply. Built by [`super::MappingSet`] from a file.
#[derive(Debug, Clone)]
pub struct EntityMapping {
    /// The local entity name (`patients`); what scripts and sync jobs ask for.
    pub local: String,
    /// The remote entity name (`Patient`, `ADT_A01`).
    pub remote: String,
    /// Whether sync jobs should use it; `apply` works either way.
    pub enabled: bool,
    /// The ways records may travel.
    pub direction: Directions,
    /// The fields, in file order.
    pub fields: Vec<FieldMapping>,
    /// Validation of the local record: before push, after pull.
    pub rules: RecordRules,
    /// How sync jobs resolve conflicts for this entity, when the file says.
    pub conflict: Option<Strategy>,
    pub(crate) lookups: Arc<LookupTables>,
}

/// The result of mapping a batch: the records that mapped, and every reason for the others,
/// each with its index in the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// `(index, mapped record)`.
    pub mapped: Vec<(usize, Value)>,
    /// `(index, every error of that record)`: these go to ERROR (or a destination's error path).
    pub failed: Vec<(usize, RecordErrors)>,
}

/// Where a value is read from or written to on the remote side of one `apply` call.
enum Remote<'a> {
    Json(&'a mut Value),
    Hl7Out(&'a mut MessageBuf),
}

impl EntityMapping {
    /// Maps `record` in `direction`: a local record to the remote shape on push, a remote
    /// record to the local shape on pull. Every failed field and validation rule is returned
    /// at once. Only for entities whose remote paths are JSONPaths (see [`Self::from_hl7`]).
    pub fn apply(&self, record: &Value, direction: Direction) -> Result<Value, RecordErrors> {
        let mut errors = self.check(direction, false);
        if !errors.errors.is_empty() {
            return Err(errors);
        }
        let mut out = Value::Object(serde_json::Map::new());
        match direction {
            Direction::Push => {
                self.validate(record, &mut errors);
                self.push(record, Remote::Json(&mut out), &mut errors);
            }
            Direction::Pull => {
                for field in self.fields_for(Direction::Pull) {
                    let RemotePath::Json(path) = &field.remote else {
                        continue;
                    };
                    let value = path.get(record).cloned();
                    self.pull_one(field, value, record, &mut out, &mut errors);
                }
                self.validate(&out, &mut errors);
            }
        }
        errors.into_result(out)
    }

    /// Maps every record of a batch; a failing record does not stop the others.
    pub fn apply_batch(&self, records: &[Value], direction: Direction) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        for (i, record) in records.iter().enumerate() {
            match self.apply(record, direction) {
                Ok(v) => outcome.mapped.push((i, v)),
                Err(e) => outcome.failed.push((i, e)),
            }
        }
        outcome
    }

    /// Push into an HL7 message: each field's value (after its chain) is set at its HL7
    /// path, creating segments and fields as needed. The local record is validated first.
    pub fn apply_to_hl7(
        &self,
        record: &Value,
        message: &mut MessageBuf,
    ) -> Result<(), RecordErrors> {
        let mut errors = self.check(Direction::Push, true);
        if !errors.errors.is_empty() {
            return Err(errors);
        }
        self.validate(record, &mut errors);
        self.push(record, Remote::Hl7Out(message), &mut errors);
        errors.into_result(())
    }

    /// Pull from an HL7 message: each field's text (empty counts as absent) goes through its
    /// chain into the local record, which is then validated.
    pub fn from_hl7(&self, message: &Message<'_>) -> Result<Value, RecordErrors> {
        let mut errors = self.check(Direction::Pull, true);
        if !errors.errors.is_empty() {
            return Err(errors);
        }
        let mut out = Value::Object(serde_json::Map::new());
        let source = Value::Null;
        for field in self.fields_for(Direction::Pull) {
            let RemotePath::Hl7(path) = &field.remote else {
                continue;
            };
            let value = match message.get(path) {
                Ok(v) if v.is_empty() => None,
                Ok(v) => Some(Value::String(v.text().into_owned())),
                Err(e) => {
                    errors.push(FieldError::new(
                        field.local.as_str(),
                        "read",
                        None,
                        e.to_string(),
                    ));
                    continue;
                }
            };
            self.pull_one(field, value, &source, &mut out, &mut errors);
        }
        self.validate(&out, &mut errors);
        errors.into_result(out)
    }

    /// The direction is allowed and the remote paths are of the kind the call needs.
    fn check(&self, direction: Direction, hl7: bool) -> RecordErrors {
        let mut errors = RecordErrors::default();
        if !self.direction.allows(direction) {
            errors.push(FieldError::new(
                &self.local,
                "direction",
                None,
                format!("entity `{}` does not map {direction}", self.local),
            ));
        }
        for field in &self.fields {
            let is_hl7 = matches!(field.remote, RemotePath::Hl7(_));
            if is_hl7 != hl7 {
                let (has, call) = if is_hl7 {
                    ("an HL7 path", "apply_to_hl7/from_hl7")
                } else {
                    ("a JSONPath", "apply")
                };
                errors.push(FieldError::new(
                    field.local.as_str(),
                    "read",
                    None,
                    format!(
                        "the remote field `{}` is {has}: use {call}",
                        field.remote.as_str()
                    ),
                ));
            }
        }
        errors
    }

    fn fields_for(&self, direction: Direction) -> impl Iterator<Item = &FieldMapping> {
        self.fields
            .iter()
            .filter(move |f| f.direction.allows(direction))
    }

    fn validate(&self, local: &Value, errors: &mut RecordErrors) {
        for e in validate_record(local, &self.rules) {
            errors.push(e.into());
        }
    }

    fn context<'a>(&'a self, record: &'a Value, field: &'a FieldMapping) -> Context<'a> {
        Context {
            lookups: &self.lookups,
            record,
            field: field.local.as_str(),
        }
    }

    /// Runs a chain; `Ok(None)` when the result is absent or blank text (FHIR forbids empty
    /// strings, HL7 has no empty value) and the field is optional.
    fn run(
        &self,
        field: &FieldMapping,
        chain: &[Transform],
        value: Option<Value>,
        record: &Value,
        from: &str,
    ) -> Result<Option<Value>, FieldError> {
        let out = apply_chain(
            chain,
            value.unwrap_or(Value::Null),
            &self.context(record, field),
        )?;
        let blank = match &out {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        };
        if !blank {
            return Ok(Some(out));
        }
        if field.required {
            return Err(FieldError::new(
                field.local.as_str(),
                "required",
                None,
                format!("is required, but `{from}` has no value"),
            ));
        }
        Ok(None)
    }

    fn push(&self, record: &Value, mut remote: Remote<'_>, errors: &mut RecordErrors) {
        for field in self.fields_for(Direction::Push) {
            let value = field.local.get(record).cloned();
            let value = match self.run(field, &field.push, value, record, field.local.as_str()) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let written = match (&mut remote, &field.remote) {
                (Remote::Json(out), RemotePath::Json(path)) => path.set(out, value.clone()),
                (Remote::Hl7Out(msg), RemotePath::Hl7(path)) => hl7_text(&value)
                    .and_then(|text| msg.set(path, &text).map_err(|e| e.to_string())),
                _ => Err("the remote path is of the wrong kind".to_string()),
            };
            if let Err(message) = written {
                errors.push(FieldError::new(
                    field.local.as_str(),
                    "write",
                    Some(&value),
                    message,
                ));
            }
        }
    }

    fn pull_one(
        &self,
        field: &FieldMapping,
        value: Option<Value>,
        record: &Value,
        out: &mut Value,
        errors: &mut RecordErrors,
    ) {
        match self.run(field, &field.pull, value, record, field.remote.as_str()) {
            Ok(Some(v)) => {
                if let Err(message) = field.local.set(out, v.clone()) {
                    errors.push(FieldError::new(
                        field.local.as_str(),
                        "write",
                        Some(&v),
                        message,
                    ));
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
}

/// The text an HL7 field gets: strings as they are, numbers and booleans as text.
fn hl7_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "{} cannot be written to an HL7 field; map its parts to components",
            kind_of(other)
        )),
    }
}

#[cfg(test)]
mod tests;
