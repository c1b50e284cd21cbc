//! Person names: one string ⇄ the parts FHIR `HumanName` (and most local records) keep apart.

use serde_json::{Value, json};

use super::NameOrder;
use super::text::as_text;
use crate::mapping::path::kind_of;

/// A name object or list of parts → one string. Accepted inputs: a FHIR `HumanName`
/// (`given` list or text, `family`), an object with `firstName`/`middleName`/`lastName`, a
/// list of texts (given names then family), or text (trimmed, inner spaces collapsed).
pub(super) fn full_name(value: &Value, order: NameOrder) -> Result<Value, String> {
    let (given, family) = parts(value)?;
    let given = given.join(" ");
    let text = match (order, given.is_empty(), family.is_empty()) {
        (_, true, true) => return Ok(Value::Null),
        (_, false, true) => given,
        (_, true, false) => family,
        (NameOrder::GivenFamily, false, false) => format!("{given} {family}"),
        (NameOrder::FamilyGiven, false, false) => format!("{family}, {given}"),
    };
    Ok(Value::String(text))
}

fn parts(value: &Value) -> Result<(Vec<String>, String), String> {
    let word = |v: Option<&Value>| -> Result<String, String> {
        match v {
            None | Some(Value::Null) => Ok(String::new()),
            Some(v) => Ok(as_text(v)?.split_whitespace().collect::<Vec<_>>().join(" ")),
        }
    };
    match value {
        Value::Object(map) if map.contains_key("given") || map.contains_key("family") => {
            let given = match map.get("given") {
                Some(Value::Array(items)) => items.iter().map(|v| word(Some(v))).collect::<Result<
                    Vec<_>,
                    _,
                >>(
                )?,
                other => vec![word(other)?],
            };
            Ok((non_empty(given), word(map.get("family"))?))
        }
        Value::Object(map) => {
            let given = vec![word(map.get("firstName"))?, word(map.get("middleName"))?];
            let family = word(map.get("lastName"))?;
            if map
                .keys()
                .all(|k| !matches!(k.as_str(), "firstName" | "middleName" | "lastName"))
            {
                return Err("expects a name with given/family or firstName/lastName".into());
            }
            Ok((non_empty(given), family))
        }
        Value::Array(items) => {
            let mut words = items
                .iter()
                .map(|v| word(Some(v)))
                .collect::<Result<Vec<_>, _>>()?;
            words.retain(|w| !w.is_empty());
            let family = words.pop().unwrap_or_default();
            Ok((words, family))
        }
        Value::String(_) => Ok((Vec::new(), word(Some(value))?)),
        other => Err(format!("expects a name, got {}", kind_of(other))),
    }
}

fn non_empty(mut words: Vec<String>) -> Vec<String> {
    words.retain(|w| !w.is_empty());
    words
}

/// One string → `{"given": [...], "family": ...}`. `Doe, Jane Q` (a comma) puts the family
/// first; otherwise the last word is the family name. A single word is a family name.
pub(super) fn split_name(value: &Value) -> Result<Value, String> {
    let text = as_text(value)?;
    let (given, family): (Vec<&str>, String) = match text.split_once(',') {
        Some((family, given)) => (
            given.split_whitespace().collect(),
            family.split_whitespace().collect::<Vec<_>>().join(" "),
        ),
        None => {
            let mut words: Vec<&str> = text.split_whitespace().collect();
            let family = words.pop().unwrap_or_default().to_string();
            (words, family)
        }
    };
    if given.is_empty() && family.is_empty() {
        return Ok(Value::Null);
    }
    let mut name = serde_json::Map::new();
    if !given.is_empty() {
        name.insert("given".into(), json!(given));
    }
    if !family.is_empty() {
        name.insert("family".into(), json!(family));
    }
    Ok(Value::Object(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_every_name_shape() {
        let g = NameOrder::GivenFamily;
        let human = json!({"given": ["Jane", "Q"], "family": "Doe"});
        assert_eq!(full_name(&human, g).unwrap(), json!("Jane Q Doe"));
        assert_eq!(
            full_name(&human, NameOrder::FamilyGiven).unwrap(),
            json!("Doe, Jane Q")
        );
        let local = json!({"firstName": " Jane ", "lastName": "Doe"});
        assert_eq!(full_name(&local, g).unwrap(), json!("Jane Doe"));
        assert_eq!(
            full_name(&json!(["Jane", "", "Doe"]), g).unwrap(),
            json!("Jane Doe")
        );
        assert_eq!(
            full_name(&json!({"family": "Doe"}), g).unwrap(),
            json!("Doe")
        );
        assert!(full_name(&json!({"x": 1}), g).is_err());
        assert!(full_name(&json!(true), g).is_err());
    }

    #[test]
    fn splits_both_orders() {
        assert_eq!(
            split_name(&json!("Jane Q  Doe")).unwrap(),
            json!({"given": ["Jane", "Q"], "family": "Doe"})
        );
        assert_eq!(
            split_name(&json!("Doe, Jane Q")).unwrap(),
            json!({"given": ["Jane", "Q"], "family": "Doe"})
        );
        assert_eq!(
            split_name(&json!("Cher")).unwrap(),
            json!({"family": "Cher"})
        );
        assert_eq!(split_name(&json!("  ")).unwrap(), Value::Null);
    }

    #[test]
    fn split_then_join_gives_the_name_back() {
        let name = json!("Jane Q Doe");
        let split = split_name(&name).unwrap();
        assert_eq!(full_name(&split, NameOrder::GivenFamily).unwrap(), name);
    }
}
