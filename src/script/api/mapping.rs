//! `map_fields(record, entity, direction)`: the field mappings of `mappings/*.toml` (see
//! `mappings/README.md`) called from a script, and [`map_payload`], the one place that decides
//! how a mapping meets a message, shared with the channel's `mapping` stage.
//!
//! What goes in and comes out depends on the entity's remote paths:
//! - JSONPaths: a map in, a map out, in either direction;
//! - HL7 paths: push takes a map (the local record) and gives a new `Message` (MSH built as
//!   `hl7::message` does, MSH-9 from the entity's `remote` name when it is a message type such
//!   as `ADT_A08`); pull takes a `Message` and gives a map.
//!
//! A record that does not map is an error listing every field that failed. Those reasons hold
//! patient data: they become the message's stored error, never a log line.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult};

use super::json::{from_dynamic, to_dynamic};
use super::segments::new_message_buf;
use crate::hl7::MessageBuf;
use crate::mapping::path::RemotePath;
use crate::mapping::{Direction, EntityMapping, FieldError, MappingSet, RecordErrors};
use crate::script::Payload;
use crate::script::env::ScriptEnv;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn register(engine: &mut Engine, env: &ScriptEnv) {
    let sets = Arc::clone(&env.mappings);
    engine.register_fn(
        "map_fields",
        move |record: Dynamic, entity: &str, direction: &str| {
            map_fields(&sets, record, entity, direction)
        },
    );
}

fn map_fields(
    sets: &[MappingSet],
    record: Dynamic,
    name: &str,
    direction: &str,
) -> RhaiResult<Dynamic> {
    let call = format!("map_fields(.., \"{name}\", \"{direction}\")");
    let direction: Direction = direction
        .parse()
        .map_err(|e: String| format!("{call}: {e}"))?;
    let entity = find_entity(sets, name).map_err(|e| format!("{call}: {e}"))?;
    let payload = if record.is::<MessageBuf>() {
        Payload::Hl7(record.cast::<MessageBuf>())
    } else {
        Payload::Json(from_dynamic(&record).map_err(|e| format!("{call}: the record: {e}"))?)
    };
    // The errors go on separate lines after a summary: the first line (which the ACK
    // carries) names no value, the rest are stored with the message.
    match map_payload(entity, payload, direction) {
        Ok(Payload::Json(value)) => Ok(to_dynamic(&value)),
        Ok(Payload::Hl7(message)) => Ok(Dynamic::from(message)),
        Err(errors) => Err(format!("{call}: {errors}").into()),
    }
}

/// The entity called `name` (local name first, then remote) in any of `sets`, or an error
/// naming the entities there are.
fn find_entity<'a>(sets: &'a [MappingSet], name: &str) -> Result<&'a EntityMapping, String> {
    if let Some(found) = sets
        .iter()
        .flat_map(|s| s.entities())
        .find(|e| e.local == name)
    {
        return Ok(found);
    }
    if let Some(found) = sets.iter().find_map(|s| s.entity(name)) {
        return Ok(found);
    }
    let known: Vec<&str> = sets
        .iter()
        .flat_map(|s| s.entities())
        .map(|e| e.local.as_str())
        .collect();
    Err(if known.is_empty() {
        format!("there is no entity `{name}` (there are no mapping files in mappings/)")
    } else {
        format!(
            "there is no entity `{name}` (the entities are {})",
            known.join(", ")
        )
    })
}

/// Whether the entity's remote fields are HL7 paths (an entity uses one kind only).
pub(crate) fn maps_hl7(entity: &EntityMapping) -> bool {
    entity
        .fields
        .iter()
        .any(|f| matches!(f.remote, RemotePath::Hl7(_)))
}

/// Maps one message with `entity` in `direction` (see the module docs for which shapes go in
/// and come out). A message of the wrong kind is an error naming the entity.
pub(crate) fn map_payload(
    entity: &EntityMapping,
    payload: Payload,
    direction: Direction,
) -> Result<Payload, RecordErrors> {
    let mismatch = |message: String| RecordErrors {
        errors: vec![FieldError::new(&entity.local, "read", None, message)],
    };
    match (payload, maps_hl7(entity), direction) {
        (Payload::Json(record), false, _) => entity.apply(&record, direction).map(Payload::Json),
        (Payload::Json(record), true, Direction::Push) => {
            // Without a message type in `remote`, the mapping's own MSH-9 field sets it.
            let kind = message_type_of(&entity.remote);
            let mut message = new_message_buf(kind.as_deref()).map_err(mismatch)?;
            entity.apply_to_hl7(&record, &mut message)?;
            Ok(Payload::Hl7(message))
        }
        (Payload::Hl7(message), true, Direction::Pull) => {
            entity.from_hl7(&message.as_message()).map(Payload::Json)
        }
        (Payload::Json(_), true, Direction::Pull) => Err(mismatch(format!(
            "entity `{}` has HL7 paths: pull reads a Message, not a map",
            entity.local
        ))),
        (Payload::Hl7(_), true, Direction::Push) => Err(mismatch(format!(
            "entity `{}` has HL7 paths: push takes a map (the local record), not a Message",
            entity.local
        ))),
        (Payload::Hl7(_), false, _) => Err(mismatch(format!(
            "entity `{}` has JSONPaths: it maps a map, not an HL7 Message",
            entity.local
        ))),
    }
}

/// `ADT_A08` or `ADT^A08` as MSH-9 (`ADT^A08`); `None` for a name that is not a message type.
fn message_type_of(remote: &str) -> Option<String> {
    let kind = remote.replace('_', "^");
    let parts: Vec<&str> = kind.split('^').collect();
    let code = |p: &&str| p.len() == 3 && p.bytes().all(|b| b.is_ascii_alphanumeric());
    (parts.len() >= 2 && parts.len() <= 3 && parts[..2].iter().all(code)).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_come_from_remote_names() {
        assert_eq!(message_type_of("ADT_A08").as_deref(), Some("ADT^A08"));
        assert_eq!(message_type_of("ORU^R01").as_deref(), Some("ORU^R01"));
        assert_eq!(message_type_of("Patient"), None);
    }

    #[test]
    fn hl7_entities_push_maps_into_messages_and_pull_them_back() {
        let set = MappingSet::from_toml_str(
            r#"
            [[entity]]
            local = "adt"
            remote = "ADT_A08"
            [[entity.field]]
            local = "mrn"
            remote = "PID-3.1"
            required = true
            [[entity.field]]
            local = "family"
            remote = "PID-5.1"
            transform = ["uppercase"]
            "#,
            std::path::Path::new("inline.toml"),
        )
        .unwrap();
        let entity = set.entity("adt").unwrap();
        let record = serde_json::json!({"mrn": "M1", "family": "O^Brien"});
        let Payload::Hl7(message) =
            map_payload(entity, Payload::Json(record), Direction::Push).unwrap()
        else {
            panic!("push of an HL7 entity gives a message");
        };
        assert_eq!(message.get("MSH-9").unwrap().text(), "ADT^A08");
        assert_eq!(message.get("PID-5.1").unwrap().text(), "O^BRIEN");
        let back = map_payload(entity, Payload::Hl7(message.clone()), Direction::Pull).unwrap();
        assert_eq!(
            back,
            Payload::Json(serde_json::json!({"mrn": "M1", "family": "O^BRIEN"}))
        );
        let wrong = map_payload(entity, Payload::Hl7(message), Direction::Push).unwrap_err();
        assert!(wrong.to_string().contains("push takes a map"), "{wrong}");
        let missing = map_payload(
            entity,
            Payload::Json(serde_json::json!({})),
            Direction::Push,
        )
        .unwrap_err();
        assert!(missing.to_string().contains("field \"mrn\""), "{missing}");
    }
}
