//! Every function through the public entry points (`from_spec`, `apply_chain`), chains,
//! inverses and the error contract: field, function and value named.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::build::FUNCTION_NAMES;
use super::*;

fn chain(specs: Value) -> Vec<Transform> {
    specs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Transform::from_spec(s).unwrap())
        .collect()
}

fn run_with(specs: Value, value: Value, record: &Value) -> Result<Value, FieldError> {
    let mut lookups = LookupTables::new();
    lookups.insert(
        "sex".into(),
        HashMap::from([
            ("1".to_string(), "M".to_string()),
            ("2".to_string(), "F".to_string()),
        ]),
    );
    let cx = Context {
        lookups: &lookups,
        record,
        field: "f",
    };
    apply_chain(&chain(specs), value, &cx)
}

fn run(specs: Value, value: Value) -> Result<Value, FieldError> {
    run_with(specs, value, &Value::Null)
}

#[test]
fn each_function_with_an_example() {
    let record = json!({"last": "Doe"});
    let cases: Vec<(Value, Value, Value)> = vec![
        (json!("trim"), json!("  Jane "), json!("Jane")),
        (json!("lowercase"), json!("JANE"), json!("jane")),
        (json!("uppercase"), json!("jane"), json!("JANE")),
        (json!("capitalize"), json!("jANE dOE"), json!("Jane Doe")),
        (
            json!({"fn": "date_to_iso", "format": "DD/MM/YYYY"}),
            json!("31/01/1980"),
            json!("1980-01-31"),
        ),
        (
            json!({"fn": "date_from_iso", "format": "MM/DD/YYYY"}),
            json!("1980-01-31"),
            json!("01/31/1980"),
        ),
        (
            json!("date_to_unix"),
            json!("1970-01-01T00:01:00Z"),
            json!(60),
        ),
        (
            json!("unix_to_date"),
            json!(60),
            json!("1970-01-01T00:01:00Z"),
        ),
        (
            json!("hl7_ts_to_iso"),
            json!("19800131"),
            json!("1980-01-31"),
        ),
        (
            json!("iso_to_hl7_ts"),
            json!("1980-01-31"),
            json!("19800131"),
        ),
        (
            json!("normalize_phone"),
            json!("(555) 234-5678"),
            json!("+15552345678"),
        ),
        (
            json!("format_phone_us"),
            json!("5552345678"),
            json!("(555) 234-5678"),
        ),
        (json!("to_boolean"), json!("Y"), json!(true)),
        (json!("to_number"), json!("42"), json!(42)),
        (json!("to_string"), json!(42), json!("42")),
        (json!({"fn": "round", "digits": 1}), json!(2.26), json!(2.3)),
        (
            json!({"fn": "normalize_gender", "to": "fhir"}),
            json!("F"),
            json!("female"),
        ),
        (
            json!({"fn": "normalize_gender", "to": "hl7"}),
            json!("male"),
            json!("M"),
        ),
        (json!("json_parse"), json!("[1,2]"), json!([1, 2])),
        (
            json!("json_stringify"),
            json!({"a": 1}),
            json!(r#"{"a":1}"#),
        ),
        (
            json!("full_name"),
            json!({"given": ["Jane"], "family": "Doe"}),
            json!("Jane Doe"),
        ),
        (
            json!("split_name"),
            json!("Jane Doe"),
            json!({"given": ["Jane"], "family": "Doe"}),
        ),
        (
            json!({"fn": "default", "value": "U"}),
            Value::Null,
            json!("U"),
        ),
        (
            json!({"fn": "lookup", "table": "sex"}),
            json!("2"),
            json!("F"),
        ),
        (
            json!({"fn": "regex_replace", "pattern": "[^0-9]", "replacement": ""}),
            json!("12-34"),
            json!("1234"),
        ),
        (
            json!({"fn": "substring", "start": 0, "length": 5}),
            json!("12345-6789"),
            json!("12345"),
        ),
        (
            json!({"fn": "pad", "width": 8, "with": "0"}),
            json!("1234"),
            json!("00001234"),
        ),
        (
            json!({"fn": "concat", "fields": ["last"]}),
            json!("Jane"),
            json!("Jane Doe"),
        ),
    ];
    let mut seen: Vec<&str> = Vec::new();
    for (spec, input, expected) in cases {
        let t = Transform::from_spec(&spec).unwrap();
        seen.push(t.name());
        assert_eq!(
            run_with(json!([spec]), input, &record).unwrap(),
            expected,
            "{}",
            t.name()
        );
    }
    for name in FUNCTION_NAMES {
        assert!(seen.contains(name), "no example for `{name}`");
    }
    assert!(FUNCTION_NAMES.len() >= 25);
}

#[test]
fn chains_run_in_order() {
    assert_eq!(
        run(json!(["trim", "capitalize"]), json!("  mARY ann ")).unwrap(),
        json!("Mary Ann")
    );
    assert_eq!(
        run(
            json!(["hl7_ts_to_iso", {"fn": "date_from_iso", "format": "M/D/YYYY"}]),
            json!("19800105")
        )
        .unwrap(),
        json!("1/5/1980")
    );
    assert_eq!(
        run(
            json!([{"fn": "default", "value": "U"}, {"fn": "normalize_gender", "to": "fhir"}]),
            json!("")
        )
        .unwrap(),
        json!("unknown")
    );
}

#[test]
fn absent_values_pass_through() {
    for name in FUNCTION_NAMES {
        let spec = match *name {
            "date_from_iso" => json!({"fn": name, "format": "YYYY"}),
            "default" | "concat" => continue,
            "lookup" => json!({"fn": name, "table": "sex"}),
            "regex_replace" => json!({"fn": name, "pattern": "x"}),
            "pad" => json!({"fn": name, "width": 3}),
            _ => json!(name),
        };
        assert_eq!(
            run(json!([spec]), Value::Null).unwrap(),
            Value::Null,
            "{name}"
        );
    }
}

#[test]
fn bad_input_names_field_function_and_value() {
    let err = run(json!(["trim", "normalize_phone"]), json!(" 555-12 ")).unwrap_err();
    assert_eq!(err.field, "f");
    assert_eq!(err.function, "normalize_phone");
    assert_eq!(err.value, Some(json!("555-12")));
    assert!(
        err.to_string()
            .contains(r#"field "f": normalize_phone: "555-12" has 5 digits"#),
        "{err}"
    );
    let err = run(json!(["trim"]), json!({"a": 1})).unwrap_err();
    assert!(err.message.contains("expects text, got an object"));
    let err = run(json!([{"fn": "lookup", "table": "sex"}]), json!("9")).unwrap_err();
    assert_eq!(
        (err.function.as_str(), err.value),
        ("lookup", Some(json!("9")))
    );
}

#[test]
fn build_errors_are_precise() {
    let err = |spec: Value| Transform::from_spec(&spec).unwrap_err();
    assert!(err(json!("captalize")).contains("did you mean `capitalize`"));
    assert!(
        err(json!({"fn": "pad", "width": 3, "widht": 4}))
            .contains("no argument `widht`; it takes width")
    );
    assert!(err(json!({"fn": "trim", "x": 1})).contains("takes no arguments"));
    assert!(err(json!({"fn": "pad", "width": -1})).contains("`width` must be a whole number"));
    assert!(err(json!({"fn": "pad", "width": 3, "with": "ab"})).contains("exactly one character"));
    assert!(err(json!({"fn": "regex_replace", "pattern": "("})).contains("bad `pattern`"));
    assert!(err(json!({"fn": "normalize_gender", "to": "v3"})).contains("one of fhir, hl7"));
    assert!(err(json!({"fn": "date_from_iso"})).contains("needs the argument `format`"));
    assert!(err(json!({"fn": "default"})).contains("needs the argument `value`"));
    assert!(err(json!({"width": 3})).contains("`fn"));
    assert!(err(json!(3)).contains("function name"));
}

#[test]
fn inverted_chains_undo_the_push_chain() {
    let push = chain(json!([
        {"fn": "date_to_iso", "format": "MM/DD/YYYY"},
        "iso_to_hl7_ts"
    ]));
    let pull = invert_chain(&push).unwrap();
    let names: Vec<_> = pull.iter().map(Transform::name).collect();
    assert_eq!(names, ["hl7_ts_to_iso", "date_from_iso"]);
    let lookups = LookupTables::new();
    let cx = Context {
        lookups: &lookups,
        record: &Value::Null,
        field: "dob",
    };
    let there = apply_chain(&push, json!("01/31/1980"), &cx).unwrap();
    assert_eq!(there, json!("19800131"));
    assert_eq!(apply_chain(&pull, there, &cx).unwrap(), json!("01/31/1980"));

    let gender = chain(json!([{"fn": "normalize_gender", "to": "hl7"}]));
    let back = invert_chain(&gender).unwrap();
    assert_eq!(
        apply_chain(&back, json!("F"), &cx).unwrap(),
        json!("female")
    );

    assert_eq!(
        invert_chain(&chain(json!(["trim", {"fn": "substring", "length": 2}]))).unwrap_err(),
        "substring"
    );
    assert_eq!(
        invert_chain(&chain(json!(["date_to_iso"]))).unwrap_err(),
        "date_to_iso"
    );
}
