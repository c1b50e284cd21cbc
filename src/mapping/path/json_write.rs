//! Writing a value at a JSONPath, creating what is missing on the way.
//!
//! Only paths that designate one place can be written: member names (`.a`, `['key with
//! space']`), array indexes (`[0]`) and equality filters (`[?(@.system=="phone")]`, several
//! joined by `&&`). Wildcards, slices, unions, descendants and negative indexes select zero or
//! many places, so they are refused with the position of the offending character.
//!
//! Creation rules: a missing member becomes an object or array as the next step needs; an
//! index past the end pads the array with `null`; a filter that matches no element appends
//! `{ key: literal, … }` (so `telecom[?(@.system=="phone")].value` creates
//! `{"system": "phone", "value": …}`). A value of the wrong kind on the way (a string where an
//! object is needed) is an error, never overwritten.

use std::fmt;

use serde_json::{Map, Value};

use super::json_read::with_root;
use super::write_syntax::Parser;

/// One step of a writable path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// An array element, 0-based.
    Index(usize),
    /// The first array element whose members equal these literals.
    Filter(Vec<(String, Value)>),
}

/// A parsed writable path.
#[derive(Debug, Clone, PartialEq)]
pub struct WritePath {
    steps: Vec<Step>,
}

impl WritePath {
    /// Parses the writable subset of JSONPath; `$` and `$.` in front are optional.
    pub fn parse(text: &str) -> Result<WritePath, String> {
        let full = with_root(text);
        let mut parser = Parser {
            text: &full,
            shown: text,
            offset: full.len() - with_root_len(text),
            pos: 1,
        };
        let steps = parser.steps()?;
        let filter_then_no_key = steps
            .windows(2)
            .any(|w| matches!(w[0], Step::Filter(_)) && !matches!(w[1], Step::Key(_)));
        if filter_then_no_key {
            return Err(format!(
                "cannot write to `{text}`: a filter selects an object, so the next step must name a member"
            ));
        }
        if steps.is_empty() {
            return Err(format!(
                "cannot write to `{text}`: the path names the whole record"
            ));
        }
        Ok(WritePath { steps })
    }

    /// Refuses to write a filter's own key to anything but the filter's value
    /// (`telecom[?(@.system=="phone")].system = "email"`): the element would no longer match the
    /// filter, so the value could never be read back through the same path.
    fn check_filter_keys(&self, value: &Value) -> Result<(), String> {
        for (at, pair) in self.steps.windows(2).enumerate() {
            let (Step::Filter(conds), Step::Key(key)) = (&pair[0], &pair[1]) else {
                continue;
            };
            let Some((_, wanted)) = conds.iter().find(|(k, _)| k == key) else {
                continue;
            };
            let is_last = at + 2 == self.steps.len();
            if !is_last || value != wanted {
                return Err(format!(
                    "cannot write `{self}`: `{key}` is what the filter selects by, so it must stay {wanted}"
                ));
            }
        }
        Ok(())
    }

    /// The steps, first to last.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Sets `value` at this path inside `root`, creating missing objects, arrays and elements.
    /// Nothing is changed when it fails.
    pub fn set(&self, root: &mut Value, value: Value) -> Result<(), String> {
        // Check first so a failure half-way leaves no half-built objects behind.
        self.check_filter_keys(&value)?;
        check_at(root, &self.steps, self, 0)?;
        set_at(root, &self.steps, value, self, 0)
    }
}

/// Length of the user's text once trimmed: the parser reports positions in it.
fn with_root_len(text: &str) -> usize {
    text.trim().len()
}

impl fmt::Display for WritePath {
    /// The canonical RFC 9535 form, e.g. `$['telecom'][?@['system']=="phone"]['value']`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$")?;
        for step in &self.steps {
            match step {
                Step::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
                Step::Index(i) => write!(f, "[{i}]")?,
                Step::Filter(conds) => {
                    write!(f, "[?")?;
                    for (n, (k, v)) in conds.iter().enumerate() {
                        if n > 0 {
                            write!(f, " && ")?;
                        }
                        write!(f, "@[{}]=={v}", Value::String(k.clone()))?;
                    }
                    write!(f, "]")?;
                }
            }
        }
        Ok(())
    }
}

/// Walks the existing part of the path without changing anything; what is missing will be
/// created with the right kind, so only existing values can be in the way.
fn check_at(node: &Value, steps: &[Step], path: &WritePath, depth: usize) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(());
    };
    let child = match (step, node) {
        (_, Value::Null) => return Ok(()),
        (Step::Key(key), Value::Object(map)) => map.get(key),
        (Step::Index(i), Value::Array(items)) => items.get(*i),
        (Step::Filter(conds), Value::Array(items)) => items.iter().find(|item| {
            conds
                .iter()
                .all(|(k, v)| item.get(k).is_some_and(|x| x == v))
        }),
        (Step::Key(_), other) => return Err(kind_error(path, depth, other, "an object")),
        (_, other) => return Err(kind_error(path, depth, other, "an array")),
    };
    match child {
        Some(child) => check_at(child, rest, path, depth + 1),
        None => Ok(()),
    }
}

fn kind_error(path: &WritePath, depth: usize, found: &Value, wanted: &str) -> String {
    let prefix = WritePath {
        steps: path.steps[..depth].to_vec(),
    };
    format!(
        "cannot write `{path}`: `{prefix}` is {}, not {wanted}",
        kind_of(found)
    )
}

fn set_at(
    node: &mut Value,
    steps: &[Step],
    value: Value,
    path: &WritePath,
    depth: usize,
) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        *node = value;
        return Ok(());
    };
    let kind_error = |found: &Value, wanted: &str| kind_error(path, depth, found, wanted);
    match step {
        Step::Key(key) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else {
                return Err(kind_error(node, "an object"));
            };
            let child = map.entry(key.clone()).or_insert(Value::Null);
            set_at(child, rest, value, path, depth + 1)
        }
        Step::Index(index) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(items) = node else {
                return Err(kind_error(node, "an array"));
            };
            if items.len() <= *index {
                items.resize(index + 1, Value::Null);
            }
            set_at(&mut items[*index], rest, value, path, depth + 1)
        }
        Step::Filter(conds) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(items) = node else {
                return Err(kind_error(node, "an array"));
            };
            let found = items.iter().position(|item| {
                conds
                    .iter()
                    .all(|(k, v)| item.get(k).is_some_and(|x| x == v))
            });
            let index = match found {
                Some(i) => i,
                None => {
                    let element: Map<String, Value> = conds.iter().cloned().collect();
                    items.push(Value::Object(element));
                    items.len() - 1
                }
            };
            if rest.is_empty() {
                // Replacing the element itself: keep it findable by the same filter.
                let Value::Object(mut map) = value else {
                    return Err(format!(
                        "cannot write `{path}`: a filter selects an element, so the value must be an object, not {}",
                        kind_of(&value)
                    ));
                };
                for (k, v) in conds {
                    map.insert(k.clone(), v.clone());
                }
                items[index] = Value::Object(map);
                return Ok(());
            }
            set_at(&mut items[index], rest, value, path, depth + 1)
        }
    }
}

/// "a string", "an object", … for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(path: &str, start: Value, value: Value) -> Result<Value, String> {
        let mut doc = start;
        WritePath::parse(path)?.set(&mut doc, value)?;
        Ok(doc)
    }

    #[test]
    fn creates_objects_arrays_and_filtered_elements() {
        let doc = write("name[0].given[0]", Value::Null, json!("Jane")).unwrap();
        assert_eq!(doc, json!({"name": [{"given": ["Jane"]}]}));
        let doc = write(
            r#"telecom[?(@.system=="phone")].value"#,
            json!({"telecom": [{"system": "email", "value": "a@b.c"}]}),
            json!("+15551234567"),
        )
        .unwrap();
        assert_eq!(
            doc["telecom"],
            json!([{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "+15551234567"}])
        );
        let doc = write("$.a['key with space'][2]", json!({}), json!(true)).unwrap();
        assert_eq!(doc, json!({"a": {"key with space": [null, null, true]}}));
    }

    #[test]
    fn a_matching_element_is_updated_not_duplicated() {
        let start = json!({"telecom": [{"system": "phone", "value": "old", "use": "home"}]});
        let doc = write(
            r#"telecom[?@.system=='phone' && @.use=='home'].value"#,
            start,
            json!("new"),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"telecom": [{"system": "phone", "value": "new", "use": "home"}]})
        );
    }

    #[test]
    fn refuses_paths_that_select_many_places() {
        for (path, what) in [
            ("a[*].b", "wildcard"),
            ("a..b", "descendants"),
            ("a[0:2]", "slice"),
            ("a[0,1]", "union"),
            ("a[-1]", "negative"),
            ("a[?@.x > 1]", "`==`"),
            ("a.*", "wildcard"),
        ] {
            let err = WritePath::parse(path).unwrap_err();
            assert!(err.contains(what) && err.contains(path), "{path}: {err}");
        }
    }

    #[test]
    fn errors_point_at_the_character_in_the_users_text() {
        let err = WritePath::parse("name[x]").unwrap_err();
        assert!(err.ends_with("at character 6"), "{err}");
        let err = WritePath::parse("$.a[*]").unwrap_err();
        assert!(err.ends_with("at character 5"), "{err}");
    }

    #[test]
    fn never_overwrites_a_value_of_the_wrong_kind() {
        let err = write("name.given", json!({"name": "Jane"}), json!("x")).unwrap_err();
        assert!(err.contains("is a string, not an object"), "{err}");
        let err = write("name[0]", json!({"name": {}}), json!("x")).unwrap_err();
        assert!(err.contains("is an object, not an array"), "{err}");
    }

    #[test]
    fn displays_in_canonical_form() {
        let p = WritePath::parse(r#"telecom[?(@.system=="phone")].value"#).unwrap();
        assert_eq!(
            p.to_string(),
            r#"$["telecom"][?@["system"]=="phone"]["value"]"#
        );
    }
}
