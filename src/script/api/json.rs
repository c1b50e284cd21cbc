//! JSON for scripts: `parse_json(text)`, `to_json(value)`, and the conversions the pipeline uses
//! to hand a JSON message to a script as a Rhai map and take it back.
//!
//! rhai's own serde support is a crate feature this build does not enable, so the conversion
//! is written out here; it is small. Nesting is capped at [`MAX_JSON_DEPTH`] both ways.

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use serde_json::Value;

/// The deepest nesting converted: serde_json's own parsing limit.
pub(crate) const MAX_JSON_DEPTH: usize = 128;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("parse_json", |text: &str| -> RhaiResult<Dynamic> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("parse_json: not valid JSON: {e}"))?;
        Ok(to_dynamic(&value))
    });
    engine.register_fn("to_json", |value: Dynamic| -> RhaiResult<String> {
        let json = from_dynamic(&value).map_err(|e| format!("to_json: {e}"))?;
        Ok(json.to_string())
    });
}

/// A JSON value as a script value: objects become maps, arrays arrays, numbers `i64` when they
/// are integers that fit and `f64` otherwise.
pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(entries) => {
            let map: Map = entries
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect();
            Dynamic::from_map(map)
        }
    }
}

/// A script value as JSON: `()` is `null`; maps, arrays, strings, characters, numbers and
/// booleans convert; anything else (a `Message`, a function pointer) is an error naming it.
pub(crate) fn from_dynamic(value: &Dynamic) -> Result<Value, String> {
    convert(value, 0)
}

fn convert(value: &Dynamic, depth: usize) -> Result<Value, String> {
    if depth > MAX_JSON_DEPTH {
        return Err(format!(
            "the value is nested deeper than {MAX_JSON_DEPTH} levels"
        ));
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a JSON number"));
    }
    if value.is_string() || value.is_char() {
        return Ok(Value::String(value.to_string()));
    }
    if let Some(array) = value.read_lock::<Array>() {
        return array
            .iter()
            .map(|item| convert(item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut object = serde_json::Map::new();
        for (k, v) in map.iter() {
            object.insert(k.to_string(), convert(v, depth + 1)?);
        }
        return Ok(Value::Object(object));
    }
    Err(format!(
        "a value of type {} cannot be written as JSON",
        value.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_script_values() {
        let json: Value = serde_json::from_str(
            r#"{"a":1,"b":[true,null,2.5,"x"],"c":{"d":-7},"big":18446744073709551615}"#,
        )
        .unwrap();
        let back = from_dynamic(&to_dynamic(&json)).unwrap();
        assert_eq!(back["a"], 1);
        assert_eq!(back["b"], serde_json::json!([true, null, 2.5, "x"]));
        assert_eq!(back["c"]["d"], -7);
        // Past i64: a float, not an error.
        assert!(back["big"].is_f64());
    }

    #[test]
    fn values_that_are_not_json_are_named() {
        let err = from_dynamic(&Dynamic::from(crate::hl7::MessageBuf::new(
            Default::default(),
        )))
        .unwrap_err();
        assert!(err.contains("cannot be written as JSON"), "{err}");
        assert!(from_dynamic(&Dynamic::from_float(f64::NAN)).is_err());
    }
}
