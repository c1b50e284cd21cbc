//! Unit tests of reading channel files: whole snippets of channel text through
//! `check_text`, and the cross-file checks on what it returns.

use std::path::Path;

use super::cross_check::cross_check;
use super::file_check::{Checked, check_text};
use super::problem_text::{Problem, one_of};
use super::read_tables::DESTINATION_COMMON_KEYS;
use crate::channel::config::{
    DestinationCommonConfig, DestinationKindConfig, SourceConfig, TOP_LEVEL_KEYS,
};
use crate::channel::diagnostic::Diagnostic;
use crate::channel::spec::SourceSpec;

fn check(text: &str) -> Checked {
    check_text(Path::new("t/chan.toml"), text)
}

/// The diagnostics as `line:col: message [help]`, without the warning for a channel with
/// no destination (most snippets here have none, on purpose).
fn messages(c: &Checked) -> Vec<String> {
    let mut ds: Vec<Diagnostic> = c
        .diagnostics
        .iter()
        .filter(|d| !d.message.starts_with("no [[destination]]"))
        .cloned()
        .collect();
    ds.sort_by_key(|d| (d.line, d.col));
    ds.iter()
        .map(|d| {
            format!(
                "{}:{}: {}{}",
                d.line,
                d.col,
                d.message,
                d.help
                    .as_ref()
                    .map(|h| format!(" [{h}]"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

const MINIMAL: &str = "[source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2575\"\n\
                       [[destination]]\nname = \"a\"\ntype = \"file\"\ndirectory = \"out/a\"\n";

#[test]
fn minimal_channel_builds_with_defaults() {
    let c = check(MINIMAL);
    assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
    let spec = c.spec.unwrap();
    assert_eq!(spec.id.as_str(), "chan");
    assert!(spec.enabled);
    let SourceSpec::Mllp(mllp) = &spec.source else {
        panic!("not mllp")
    };
    assert_eq!(mllp.listen, "127.0.0.1:2575".parse().unwrap());
    assert_eq!(mllp.max_connections, 64);
    assert_eq!(spec.destinations[0].retry.attempts, 5);
}

#[test]
fn every_problem_in_a_table_is_reported_and_positions_are_exact() {
    let text = "[source]\ntype = \"mllp\"\nlisten = 2575\nack = \"orignal\"\n\
                max_conections = 3\nidle_timeout_secs = 0\n";
    let c = check(text);
    assert_eq!(
        messages(&c),
        vec![
            "3:10: invalid value for `listen`: expected a string, found 2575 \
             [strings are written in quotes: \"…\"]",
            "4:7: unknown value `orignal` for `ack`, expected `original` or `enhanced` \
             [did you mean `original`?]",
            "5:1: unknown key `max_conections`, expected one of `listen`, `ack`, `tls`, \
             `max_connections`, `max_message_bytes`, `idle_timeout_secs`, \
             `read_timeout_secs`, `type` [did you mean `max_connections`?]",
            "6:21: invalid value for `idle_timeout_secs`: expected a whole number of at \
             least 1, found 0",
        ]
    );
    assert!(c.spec.is_none());
}

#[test]
fn a_misspelt_required_key_is_reported_once() {
    let c = check("[source]\ntype = \"mllp\"\nlistne = \"127.0.0.1:1\"\n");
    assert_eq!(
        messages(&c),
        vec![
            "3:1: unknown key `listne`, expected one of `listen`, `ack`, `tls`, \
             `max_connections`, `max_message_bytes`, `idle_timeout_secs`, \
             `read_timeout_secs`, `type` [did you mean `listen`?]"
        ]
    );
}

#[test]
fn later_checks_still_run_on_a_table_with_a_bad_key() {
    let c = check("[source]\ntype = \"mllp\"\nlisten = \"1.2.3.4:70000\"\nack = 5\n");
    let m = messages(&c);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m[0].contains("invalid listen address"), "{m:?}");
    assert!(c.spec.is_none());
}

#[test]
fn a_removed_required_key_is_not_reported_missing_again() {
    let c = check("[source]\ntype = \"http\"\nlisten = 5\n");
    assert_eq!(messages(&c).len(), 1, "{:?}", messages(&c));
}

#[test]
fn missing_keys_name_their_table() {
    let c = check("[source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:1\"\ntls = { cert = \"x\" }\n");
    assert_eq!(
        messages(&c),
        vec!["4:7: missing required key `key` in `tls`"]
    );
    let c = check("[source]\ntype = \"mllp\"\n");
    assert_eq!(
        messages(&c),
        vec!["1:1: missing required key `listen` in [source]"]
    );
}

#[test]
fn tags_are_checked_with_hints() {
    let c = check("[source]\ntype = \"mlp\"\nlisten = \"x\"\n");
    assert_eq!(
        messages(&c),
        vec![
            "2:8: unknown source type `mlp`, expected one of `mllp`, `http`, `file` \
             [did you mean `mllp`?]"
        ]
    );
    let c = check("[source]\nlisten = \"x\"\n");
    assert_eq!(
        messages(&c),
        vec![
            "1:1: missing required key `type` in [source] \
             [add `type = ` one of `mllp`, `http`, `file`]"
        ]
    );
    let c = check("source = 5\n");
    assert_eq!(messages(&c), vec!["1:10: [source] must be a table"]);
}

#[test]
fn destination_keys_are_split_between_common_and_kind() {
    let text = "[source]\ntype = \"file\"\ndirectory = \"in\"\n\
                [[destination]]\nname = \"a\"\ntype = \"mllp\"\nendpoint = \"h:1\"\n\
                ordered = false\nsend_orignal = true\nretry = { attempts = 2 }\n";
    let c = check(text);
    let m = messages(&c);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("9:1: unknown key `send_orignal`, expected one of `endpoint`"),
        "{m:?}"
    );
    assert!(m[0].ends_with("[did you mean `send_original`?]"), "{m:?}");
}

#[test]
fn common_keys_match_the_struct() {
    // serde lists a struct's fields in its unknown-field error: that list is the truth.
    let e = toml::from_str::<DestinationCommonConfig>("zzz = 1").unwrap_err();
    let Problem::UnknownField { expected, .. } = Problem::parse(e.message()) else {
        panic!("{}", e.message())
    };
    assert_eq!(expected, DESTINATION_COMMON_KEYS);
}

#[test]
fn every_type_name_is_dispatched() {
    for ty in SourceConfig::TYPES {
        let c = check(&format!("[source]\ntype = \"{ty}\"\n"));
        assert!(
            messages(&c)
                .iter()
                .all(|m| !m.contains("not implemented") && !m.contains("unknown source type")),
            "{ty}: {:?}",
            messages(&c)
        );
    }
    for ty in DestinationKindConfig::TYPES {
        let c = check(&format!("[[destination]]\nname = \"a\"\ntype = \"{ty}\"\n"));
        assert!(
            messages(&c)
                .iter()
                .all(|m| !m.contains("not implemented") && !m.contains("unknown destination type")),
            "{ty}: {:?}",
            messages(&c)
        );
    }
}

#[test]
fn top_level_keys_are_all_read() {
    // Every documented top-level key is accepted (no "unknown key" for any of them).
    let text = "description = \"d\"\nenabled = true\ndurability = \"interval\"\n\
                flush_interval_ms = 20\n[duplicates]\nwindow_secs = 5\n[prune]\n\
                keep_days = 1\n[limits]\nmax_operations = 10\n[filter]\naccept = 'true'\n\
                [transform]\nscript = \"scripts/stamp_facility.rhai\"\n"
        .to_owned()
        + MINIMAL;
    let c = check(&text);
    assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
    let names: Vec<&str> = TOP_LEVEL_KEYS.to_vec();
    for key in ["description", "source", "destination", "limits"] {
        assert!(names.contains(&key));
    }
}

#[test]
fn unknown_top_level_keys_get_hints() {
    let c = check(&format!("destinaton = 1\n{MINIMAL}"));
    assert_eq!(
        messages(&c),
        vec![format!(
            "1:1: unknown key `destinaton`, expected {} [did you mean `destination`?]",
            one_of(TOP_LEVEL_KEYS)
        )]
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let c = check(&format!("\u{feff}{MINIMAL}"));
    assert!(c.diagnostics.is_empty(), "{:?}", messages(&c));
    assert!(c.spec.is_some());
}

#[test]
fn syntax_errors_are_reported_with_position() {
    let c = check("[source\ntype = \"mllp\"\n");
    assert_eq!(
        messages(&c),
        vec!["1:8: invalid TOML: unclosed table, expected `]`"]
    );
    assert!(c.spec.is_none());
}

#[test]
fn destination_as_a_single_table_is_explained() {
    let c = check("[source]\ntype = \"file\"\ndirectory = \"in\"\n[destination]\nname = \"a\"\n");
    let m = messages(&c);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("`destination` must be a list of tables"),
        "{m:?}"
    );
}

#[test]
fn cross_checks_report_on_both_files() {
    let mut checked = vec![
        check_text(Path::new("a/x.toml"), MINIMAL),
        check_text(Path::new("b/x.toml"), MINIMAL),
    ];
    cross_check(&mut checked);
    for c in &checked {
        let m = messages(c);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(
            m[0].starts_with("0:0: channel id `x` is also used by"),
            "{m:?}"
        );
        assert!(
            m[1].starts_with("3:10: listen address 127.0.0.1:2575 is also used by channel \"x\""),
            "{m:?}"
        );
    }
}

#[test]
fn disabled_channels_and_port_zero_do_not_conflict() {
    let disabled = format!("enabled = false\n{MINIMAL}");
    let mut checked = vec![
        check_text(Path::new("a.toml"), MINIMAL),
        check_text(Path::new("b.toml"), &disabled),
    ];
    cross_check(&mut checked);
    assert!(checked.iter().all(|c| c.diagnostics.is_empty()));
    let zero = MINIMAL.replace("2575", "0");
    let mut checked = vec![
        check_text(Path::new("a.toml"), &zero),
        check_text(Path::new("b.toml"), &zero),
    ];
    cross_check(&mut checked);
    assert!(checked.iter().all(|c| c.diagnostics.is_empty()));
}

#[test]
fn bad_file_names_are_reported() {
    let c = check_text(Path::new("t/Lab Results.toml"), MINIMAL);
    assert_eq!(
        messages(&c),
        vec![
            "0:0: channel id `Lab Results` (the file name) may only contain a-z, 0-9, \
             `_` and `-` [rename the file to lab_results.toml]"
        ]
    );
    assert!(c.spec.is_none());
}
