use std::path::Path;

use super::build::line_col;
use super::*;
use crate::mapping::conflict::Strategy;

fn problems(text: &str) -> Vec<String> {
    let err = MappingSet::from_toml_str(text, Path::new("m.toml")).unwrap_err();
    err.to_string().lines().map(str::to_string).collect()
}

const HEAD: &str = "[[entity]]\nlocal = \"patients\"\nremote = \"Patient\"\n";

#[test]
fn unknown_keys_point_at_line_and_column() {
    let text =
        format!("{HEAD}[[entity.field]]\nlocal = \"a\"\nremote = \"b\"\ntransfrom = [\"trim\"]\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("m.toml:7:1: unknown field `transfrom`"),
        "{p:?}"
    );
}

#[test]
fn toml_syntax_errors_have_a_position() {
    let p = problems("[[entity]]\nlocal = \"a\nremote = 1\n");
    assert!(p[0].starts_with("m.toml:2:"), "{p:?}");
}

#[test]
fn every_semantic_problem_is_reported_in_file_order() {
    let text = format!(
        "{HEAD}\
[[entity.field]]
local = \"phone\"
remote = 'telecom[*].value'
transform = [\"captalize\", {{ fn = \"pad\", width = 3, side = \"middle\" }}]

[[entity.field]]
local = \"name\"
remote = \"name[0].text\"
transform = [{{ fn = \"concat\", fields = [\"x\"] }}]

[[entity.field]]
local = \"a\"
remote = \"PID-x\"
"
    );
    let p = problems(&text);
    assert_eq!(p.len(), 5, "{p:#?}");
    assert!(
        p[0].starts_with("m.toml:6:10: cannot write to `telecom[*].value`: `*` (wildcard)"),
        "{}",
        p[0]
    );
    assert!(
        p[1].starts_with(
            "m.toml:7:14: unknown transform function `captalize` (did you mean `capitalize`?)"
        ),
        "{}",
        p[1]
    );
    assert!(
        p[2].starts_with("m.toml:7:27: `pad`: argument `side` must be one of left, right"),
        "{}",
        p[2]
    );
    assert!(
        p[3].starts_with("m.toml:12:13: `concat` has no inverse"),
        "{}",
        p[3]
    );
    assert!(
        p[4].starts_with("m.toml:16:10: invalid path `PID-x`"),
        "{}",
        p[4]
    );
}

#[test]
fn push_and_pull_chains_are_checked_against_the_direction() {
    let text = format!(
        "{HEAD}[[entity.field]]\nlocal = \"a\"\nremote = \"b\"\ndirection = \"pull\"\npush = [\"trim\"]\n\
         [[entity.field]]\nlocal = \"c\"\nremote = \"d\"\ntransform = [\"trim\"]\npull = [\"trim\"]\n"
    );
    let p = problems(&text);
    assert!(
        p[0].contains("`push` is given but this field is never pushed"),
        "{p:?}"
    );
    assert!(p[1].contains("either `transform`"), "{p:?}");
}

#[test]
fn a_one_way_field_may_use_functions_without_inverse() {
    let text = format!(
        "{HEAD}[[entity.field]]\nlocal = \"first\"\nremote = \"name[0].text\"\ndirection = \"push\"\n\
         transform = [{{ fn = \"concat\", fields = [\"last\"] }}]\n\
         [[entity.field]]\nlocal = \"zip\"\nremote = \"address[0].postalCode\"\n\
         push = [{{ fn = \"substring\", length = 5 }}]\npull = [\"trim\"]\n"
    );
    let set = MappingSet::from_toml_str(&text, Path::new("m.toml")).unwrap();
    let e = set.entity("patients").unwrap();
    let out = e
        .apply(
            &serde_json::json!({"first": "Jane", "last": "Doe", "zip": "12345-6789"}),
            super::super::Direction::Push,
        )
        .unwrap();
    assert_eq!(
        out,
        serde_json::json!({"name": [{"text": "Jane Doe"}], "address": [{"postalCode": "12345"}]})
    );
}

#[test]
fn conflict_and_validate_sections() {
    let text = format!(
        "{HEAD}[entity.conflict]\nstrategy = \"merge\"\non_conflict = \"newest_wins\"\n\
         [entity.validate]\nemail = {{ format = \"email\" }}\n"
    );
    let set = MappingSet::from_toml_str(&text, Path::new("m.toml")).unwrap();
    let e = set.entity("patients").unwrap();
    assert_eq!(
        e.conflict,
        Some(Strategy::Merge {
            on_conflict: OnConflict::NewestWins
        })
    );
    assert!(!e.rules.is_empty());

    let bad = format!("{HEAD}[entity.conflict]\nstrategy = \"source_wins\"\ntie = \"manual\"\n");
    assert!(
        problems(&bad)[0].starts_with("m.toml:4:1: `tie` goes with"),
        "{:?}",
        problems(&bad)
    );
    let bad = format!("{HEAD}[entity.validate]\nemail = {{ format = \"mail\" }}\n");
    assert!(
        problems(&bad)[0].contains("unknown variant `mail`"),
        "{:?}",
        problems(&bad)
    );
    let bad = format!("{HEAD}[entity.conflict]\nstrategy = \"newest\"\n");
    assert!(
        problems(&bad)[0].contains("unknown variant `newest`"),
        "{:?}",
        problems(&bad)
    );
}

#[test]
fn duplicate_entities_and_mixed_remote_kinds_are_refused() {
    let text = format!(
        "{HEAD}[[entity.field]]\nlocal = \"a\"\nremote = \"PID-5\"\n[[entity.field]]\nlocal = \"b\"\nremote = \"name\"\n{HEAD}"
    );
    let p = problems(&text);
    assert!(
        p[0].contains("mixes HL7 paths (`PID-5`) and JSONPaths"),
        "{p:?}"
    );
    assert!(p[1].contains("entity `patients` is mapped twice"), "{p:?}");
}

#[test]
fn load_reports_unreadable_files() {
    let err = MappingSet::load(Path::new("/nonexistent/m.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/m.toml: cannot read the mapping file")
    );
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    assert_eq!(line_col("x", 0), (1, 1));
    assert_eq!(line_col("x", 99), (1, 2));
}

#[test]
fn a_field_cannot_travel_where_its_entity_does_not() {
    let text = "[[entity]]\nlocal = \"a\"\nremote = \"B\"\ndirection = \"push\"\n\
                [[entity.field]]\nlocal = \"x\"\nremote = \"y\"\ndirection = \"pull\"\n";
    let p = problems(text);
    assert_eq!(
        p,
        ["m.toml:8:13: field `x` travels pull, but entity `a` only push"]
    );
}
