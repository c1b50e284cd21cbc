//! Property: whatever a writable path is, writing a value there and reading the same path back
//! (through the RFC 9535 reader) gives that value.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{ReadPath, Step, WritePath};

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        "[a-z]{1,3}|[a-z ]{1,4}".prop_map(Step::Key),
        (0usize..3).prop_map(Step::Index),
        ("[a-c]", "[x-z]{1,2}").prop_map(|(k, v)| Step::Filter(vec![(k, Value::String(v))])),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,8}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
    ]
}

/// Renders steps in the loose style analysts write (dotted names, `?(...)` filters), so the
/// parser is exercised too, not only the canonical form.
fn written(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) if !k.contains(' ') => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Key(k) => out.push_str(&format!("['{k}']")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Filter(c) => out.push_str(&format!("[?(@.{}=={})]", c[0].0, c[0].1)),
        }
    }
    out
}

/// Paths the writer accepts: after a filter comes a member name, and not the filter's own key
/// (writing that would make the element stop matching; a unit test pins that refusal).
fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..5).prop_filter("filter then another member", |s| {
        s.windows(2).all(|w| match (&w[0], &w[1]) {
            (Step::Filter(conds), Step::Key(key)) => conds.iter().all(|(k, _)| k != key),
            (Step::Filter(_), _) => false,
            _ => true,
        }) && !matches!(s.last(), Some(Step::Filter(_)))
    })
}

#[test]
fn writing_the_filter_key_to_another_value_is_refused() {
    let path = WritePath::parse(r#"telecom[?(@.system=="phone")].system"#).unwrap();
    let mut doc = json!({"telecom": [{"system": "phone", "value": "1"}]});
    let before = doc.clone();
    let error = path.set(&mut doc, json!("email")).unwrap_err();
    assert!(error.contains("what the filter selects by"), "{error}");
    assert_eq!(doc, before);
    path.set(&mut doc, json!("phone")).unwrap();
    assert_eq!(doc, before);
}

proptest! {
    #[test]
    fn write_then_read_gives_the_value(
        first in steps(),
        second in steps(),
        a in leaf(),
        b in leaf(),
    ) {
        let mut doc = Value::Null;
        let p1 = WritePath::parse(&written(&first)).unwrap();
        prop_assert_eq!(p1.steps(), &first[..]);
        p1.set(&mut doc, a.clone()).unwrap();
        prop_assert_eq!(ReadPath::parse(&written(&first)).unwrap().first(&doc), Some(&a));
        prop_assert_eq!(ReadPath::parse(&p1.to_string()).unwrap().first(&doc), Some(&a));
        // A second write into the same document either fails cleanly (a value of the wrong kind
        // on the way) or can be read back.
        let p2 = WritePath::parse(&written(&second)).unwrap();
        let before = doc.clone();
        match p2.set(&mut doc, b.clone()) {
            Ok(()) => prop_assert_eq!(ReadPath::parse(&p2.to_string()).unwrap().first(&doc), Some(&b)),
            Err(_) => prop_assert_eq!(doc, before),
        }
    }
}
