//! A transform as a channel file writes it: a field mapping, a script, or both, the mapping
//! first (`[transform]` and a destination's `transform = { .. }`).
//!
//! A channel's mapping (`mapping = "mappings/patient.toml"`) names a file with exactly one
//! entity, applied by what the message is (semantics for analysts in `channels/README.md`):
//! - a JSON message is a local record, mapped **push** to the remote shape: a FHIR resource
//!   or API payload when the entity's remote paths are JSONPaths, a new HL7 message when they
//!   are HL7 paths;
//! - an HL7 message is mapped **pull** by an entity with HL7 paths into a local JSON record.
//!
//! A record that does not map fails the message (ERROR, AE): the stored reason lists every
//! field; only its first line, which names no value, goes into the ACK.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::mapping::{Direction, EntityMapping, MappingSet};
use crate::script::{
    Lookups, Payload, Transform, TransformOutcome, TransformRun, add_csv_lookups, map_payload,
    maps_hl7,
};

/// A channel's or destination's transform, compiled and loaded once per channel load.
#[derive(Debug, Default)]
pub struct TransformStage {
    /// The `mapping` file's entity, run first.
    pub mapping: Option<ChannelMapping>,
    /// The `script`, run on what the mapping made.
    pub script: Option<Arc<Transform>>,
}

impl TransformStage {
    /// A stage that only runs `script`.
    pub fn script(script: Arc<Transform>) -> TransformStage {
        TransformStage {
            mapping: None,
            script: Some(script),
        }
    }

    /// Maps, then runs the script, on `message`. The error is the reason to store.
    pub fn run(&self, message: Payload, control_id: String) -> Result<TransformRun, String> {
        let message = match &self.mapping {
            Some(mapping) => mapping.apply(message)?,
            None => message,
        };
        match &self.script {
            Some(script) => script.run(message, control_id).map_err(|e| e.to_string()),
            None => Ok(TransformRun {
                outcome: TransformOutcome::Continue,
                message,
                emitted: Vec::new(),
            }),
        }
    }
}

/// The one entity of a channel's mapping file.
#[derive(Debug, Clone)]
pub struct ChannelMapping {
    file: PathBuf,
    entity: EntityMapping,
}

impl ChannelMapping {
    /// Reads `file`, which must hold exactly one entity. The error lists every mistake of the
    /// file (`file:line:col`), or the entities when there are several.
    pub fn load(file: &Path, lookups: &Lookups) -> Result<ChannelMapping, String> {
        let mut set = MappingSet::load(file).map_err(|e| e.to_string())?;
        add_csv_lookups(&mut set, lookups);
        match set.entities() {
            [entity] => Ok(ChannelMapping {
                file: file.to_path_buf(),
                entity: entity.clone(),
            }),
            [] => Err(format!("{}: the mapping has no entity", file.display())),
            several => Err(format!(
                "{}: a channel's mapping file holds exactly one entity, this one has {} ({}); \
                 split the file, or call map_fields(record, \"{}\", \"push\") from a script",
                file.display(),
                several.len(),
                several
                    .iter()
                    .map(|e| e.local.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                several[0].local,
            )),
        }
    }

    /// Maps one message: JSON is pushed, HL7 pulled. The error (the reason stored with the
    /// message) starts with a one-line summary; the field errors, which show values, follow on
    /// lines of their own.
    pub fn apply(&self, message: Payload) -> Result<Payload, String> {
        let direction = match &message {
            Payload::Json(_) => Direction::Push,
            Payload::Hl7(_) if maps_hl7(&self.entity) => Direction::Pull,
            Payload::Hl7(_) => {
                return Err(format!(
                    "mapping {}: the message is HL7 v2, but entity `{}` maps JSON fields \
                     (its remote fields are JSONPaths, not HL7 paths such as PID-5.1)",
                    self.file.display(),
                    self.entity.local
                ));
            }
        };
        map_payload(&self.entity, message, direction)
            .map_err(|errors| format!("mapping {} ({direction}): {errors}", self.file.display()))
    }
}
