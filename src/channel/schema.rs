//! The JSON Schema of the channel file format, generated from the raw config structs of
//! [`config`](super::config) (their `///` docs become descriptions), for `ihub schema` and for
//! editors: Taplo / Even Better TOML validate and complete a TOML file against it.
//!
//! The tables selected by `type` are read by hand (see `config`), so their schemas are written
//! here: one alternative per type, each the variant struct's schema with `type` added as a
//! constant and, for destinations, the keys every destination has.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::config::{
    BasicAuthConfig, BearerAuthConfig, ChannelConfig, DestinationCommonConfig, DestinationConfig,
    FhirAuthConfig, FhirDestinationConfig, FileDestinationConfig, FileSourceConfig,
    HttpDestinationConfig, HttpSourceConfig, MllpDestinationConfig, MllpSourceConfig,
    SmartAuthConfig, SourceConfig,
};

/// The schema of one channel file (JSON Schema draft 7, which TOML editors support best).
pub fn channel_schema() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<ChannelConfig>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.insert("title".into(), json!("Integration Hub channel file"));
        root.insert(
            "description".into(),
            json!("One channel: channels/<id>.toml. Reference: channels/README.md."),
        );
        // `source` is an `Option` only so that the loader can report every problem at once.
        root.insert("required".into(), json!(["source"]));
    }
    schema
}

impl JsonSchema for SourceConfig {
    fn schema_name() -> Cow<'static, str> {
        "SourceConfig".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let variants = vec![
            tagged::<MllpSourceConfig>(generator, "mllp", None),
            tagged::<HttpSourceConfig>(generator, "http", None),
            tagged::<FileSourceConfig>(generator, "file", None),
        ];
        json_schema!({
            "description": "Where messages come from; `type` selects the kind.",
            "oneOf": variants,
        })
    }
}

impl JsonSchema for DestinationConfig {
    fn schema_name() -> Cow<'static, str> {
        "DestinationConfig".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let common = DestinationCommonConfig::json_schema(generator).to_value();
        let variants = vec![
            tagged::<MllpDestinationConfig>(generator, "mllp", Some(&common)),
            tagged::<HttpDestinationConfig>(generator, "http", Some(&common)),
            tagged::<FileDestinationConfig>(generator, "file", Some(&common)),
            fhir_destination(generator, &common),
        ];
        json_schema!({
            "description": "One destination; `type` selects the kind.",
            "oneOf": variants,
        })
    }
}

impl JsonSchema for FhirAuthConfig {
    fn schema_name() -> Cow<'static, str> {
        "FhirAuthConfig".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let variants = vec![
            tagged::<SmartAuthConfig>(generator, "smart", None),
            tagged::<BearerAuthConfig>(generator, "bearer", None),
            tagged::<BasicAuthConfig>(generator, "basic", None),
        ];
        json_schema!({
            "description": "How a FHIR destination authenticates; `type` selects the kind.",
            "oneOf": variants,
        })
    }
}

/// The FHIR destination's schema with `auth`, which serde skips (the loader reads it by hand,
/// see [`FhirDestinationConfig::auth`]).
fn fhir_destination(generator: &mut SchemaGenerator, common: &Value) -> Value {
    let mut schema = tagged::<FhirDestinationConfig>(generator, "fhir", Some(common));
    let mut auth = generator.subschema_for::<FhirAuthConfig>().to_value();
    if let Some(auth) = auth.as_object_mut() {
        auth.insert(
            "description".into(),
            json!(
                "Optional. `{ type = \"smart\" | \"bearer\" | \"basic\", .. }`: how to \
                 authenticate. Secrets are never written here: `bearer` and `basic` name \
                 environment variables. Default: no `Authorization` header."
            ),
        );
    }
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert("auth".into(), auth);
    }
    schema
}

/// `T`'s object schema with `type = tag` required, and the properties of `common` merged in.
fn tagged<T: JsonSchema>(
    generator: &mut SchemaGenerator,
    tag: &str,
    common: Option<&Value>,
) -> Value {
    let mut schema = T::json_schema(generator).to_value();
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    let mut properties = object
        .remove("properties")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    let mut required: Vec<Value> = object
        .remove("required")
        .and_then(|r| r.as_array().cloned())
        .unwrap_or_default();
    if let Some(common) = common {
        if let Some(p) = common.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        if let Some(r) = common.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
    }
    properties.insert(
        "type".into(),
        json!({ "const": tag, "description": format!("`{tag}`: selects this kind.") }),
    );
    required.insert(0, json!("type"));
    object.insert("properties".into(), Value::Object(properties));
    object.insert("required".into(), Value::Array(required));
    object.insert("additionalProperties".into(), json!(false));
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_describes_sources_destinations_and_transforms() {
        let schema = channel_schema();
        let text = schema.to_string();
        assert_eq!(schema["required"], json!(["source"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert!(schema["properties"]["durability"].is_object(), "{text}");
        // Descriptions come from the `///` docs.
        assert!(text.contains("Wall-clock milliseconds per run"), "{text}");
        let defs = schema["definitions"].as_object().unwrap();
        let destination = &defs["DestinationConfig"]["oneOf"];
        assert_eq!(destination.as_array().unwrap().len(), 4);
        let fhir = &destination[3];
        assert_eq!(fhir["properties"]["type"]["const"], "fhir");
        assert!(fhir["properties"]["auth"].is_object(), "{fhir}");
        let auth = &defs["FhirAuthConfig"]["oneOf"];
        assert_eq!(auth[0]["properties"]["type"]["const"], "smart");
        assert!(auth[2]["properties"]["password_env"].is_object(), "{auth}");
        let mllp = &destination[0];
        assert_eq!(mllp["properties"]["type"]["const"], "mllp");
        assert!(mllp["properties"]["transform"].is_object(), "{mllp}");
        assert!(
            mllp["required"]
                .as_array()
                .unwrap()
                .contains(&json!("name"))
        );
        assert!(defs["TransformConfig"]["properties"]["mapping"].is_object());
    }
}
