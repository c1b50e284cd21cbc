//! Whole snippets of channel text through `check_text`, checked for their diagnostics and the
//! spec they build.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::load::check_text;
use crate::channel::spec::{
    AckMode, ChannelSpec, DAY, DuplicateAction, DuplicatesSpec, Durability, PruneSpec, SourceSpec,
};
use crate::channel::spec::{DestinationKind, HttpMethod, RetrySpec};
use crate::channel::validate_destination::slug;
use crate::script::ScriptLimits;

const SOURCE: &str = "[source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2575\"\n";

/// The diagnostics as `severity line:col: message [help]`, without the warning for a
/// channel with no destination (most snippets here have none, on purpose).
fn messages(text: &str) -> Vec<String> {
    let c = check_text(Path::new("c.toml"), text);
    let mut ds: Vec<Diagnostic> = c
        .diagnostics
        .into_iter()
        .filter(|d| !d.message.starts_with("no [[destination]]"))
        .collect();
    ds.sort_by_key(|d| (d.line, d.col));
    ds.iter()
        .map(|d| {
            format!(
                "{} {}:{}: {}{}",
                d.severity.as_str(),
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

fn spec(text: &str) -> ChannelSpec {
    let c = check_text(Path::new("c.toml"), text);
    assert!(
        c.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        c.diagnostics
    );
    c.spec.expect("spec")
}

fn with_dest(dest: &str) -> String {
    format!("{SOURCE}[[destination]]\nname = \"d\"\n{dest}\n")
}

#[test]
fn listen_addresses_get_hints() {
    let m = messages(&format!(
        "[source]\ntype = \"mllp\"\nlisten = \"2575\"\n{}",
        "[[destination]]\nname = \"a\"\ntype = \"file\"\ndirectory = \"o\"\n"
    ));
    assert_eq!(
        m,
        vec![
            "error 3:10: invalid listen address \"2575\": expected IP:PORT [did you mean \
             \"0.0.0.0:2575\" (all interfaces) or \"127.0.0.1:2575\" (this machine only)?]"
        ]
    );
    for (listen, help) in [
        ("localhost:2575", "did you mean \"127.0.0.1:2575\"?"),
        (
            "lab.example.org:2575",
            "a listen address takes an IP address",
        ),
        ("127.0.0.1:99999", "the port must be a number"),
        ("nonsense", "write IP:PORT"),
    ] {
        let m = messages(&format!(
            "[source]\ntype = \"http\"\nlisten = \"{listen}\"\n"
        ));
        assert!(m.iter().any(|m| m.contains(help)), "{listen}: {m:?}");
    }
}

#[test]
fn endpoints_are_host_and_port() {
    for good in [
        "lab.example.org:6661",
        "127.0.0.1:1",
        "[::1]:6661",
        "h:65535",
    ] {
        let s = spec(&with_dest(&format!(
            "type = \"mllp\"\nendpoint = \"{good}\""
        )));
        let DestinationKind::Mllp(m) = &s.destinations[0].kind else {
            panic!()
        };
        assert_eq!(m.endpoint, good);
        assert_eq!(m.ack_timeout, Duration::from_secs(30));
        assert!(m.reject_on_ar);
    }
    for (bad, want) in [
        ("mllp://lab:6661", "did you mean \"lab:6661\"?"),
        ("lab", "expected HOST:PORT"),
        ("lab:0", "bad port"),
        ("lab:x", "bad port"),
        ("la b:1", "bad host"),
        (":1", "bad host"),
        ("0.0.0.0:0", "port 0"),
    ] {
        let m = messages(&with_dest(&format!(
            "type = \"mllp\"\nendpoint = \"{bad}\""
        )));
        assert!(m.iter().any(|m| m.contains(want)), "{bad}: {m:?}");
    }
}

#[test]
fn defaults_are_filled_in() {
    let s = spec(&with_dest("type = \"file\"\ndirectory = \"out\""));
    assert_eq!(s.description, "");
    assert!(s.enabled);
    assert_eq!(s.durability, Durability::Sync);
    assert_eq!(
        s.duplicates,
        DuplicatesSpec {
            window: Some(Duration::from_secs(3600)),
            action: DuplicateAction::Ack
        }
    );
    assert_eq!(
        s.prune,
        PruneSpec {
            keep_for: Some(DAY * 30),
            keep_messages: None,
            keep_errors_for: Some(DAY * 90)
        }
    );
    // The documented defaults (config.rs, channels/README.md) are the engine's.
    assert_eq!(
        s.limits,
        ScriptLimits {
            max_operations: 1_000_000,
            timeout: Duration::from_millis(1000),
            max_string_bytes: 1 << 20,
            max_array_len: 100_000,
            max_map_len: 100_000,
            max_call_depth: 64
        }
    );
    let SourceSpec::Mllp(m) = &s.source else {
        panic!()
    };
    assert_eq!(m.ack, AckMode::Original);
    assert_eq!(m.max_message_bytes, 16 << 20);
    assert_eq!(m.idle_timeout, Duration::from_secs(600));
    assert_eq!(m.read_timeout, Duration::from_secs(60));
    assert!(m.tls.is_none());
    let d = &s.destinations[0];
    assert!(d.ordered);
    assert!(!d.send_original);
    assert_eq!(
        d.retry,
        RetrySpec {
            attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60)
        }
    );
    let DestinationKind::File(f) = &d.kind else {
        panic!()
    };
    assert_eq!(f.filename, "{message_id}.hl7");
    assert_eq!(s.filter, None);
    assert_eq!(s.transform, None);
}

#[test]
fn settings_are_carried_over() {
    let text = "description = \"x\"\nenabled = false\ndurability = \"interval\"\n\
                [duplicates]\nwindow_secs = 0\n[prune]\nkeep_days = 0\nkeep_messages = 10\n\
                keep_error_days = 0\n[limits]\ntimeout_ms = 5\nmax_call_depth = 3\n\
                [source]\ntype = \"file\"\ndirectory = \"in/x\"\nglob = \"*.txt\"\n\
                done_directory = \"in/ok\"\n\
                [[destination]]\nname = \"h\"\ntype = \"http\"\nurl = \"https://e.org/x\"\n\
                method = \"PUT\"\nheaders = { X-A = \"1\" }\ntimeout_secs = 3\n\
                ordered = false\nretry = { attempts = 1, max_backoff_secs = 1 }\n";
    let s = spec(text);
    assert!(!s.enabled);
    assert_eq!(
        s.durability,
        Durability::Interval {
            flush_interval: Duration::from_millis(50)
        }
    );
    assert_eq!(s.duplicates.window, None);
    assert_eq!(
        s.prune,
        PruneSpec {
            keep_for: None,
            keep_messages: Some(10),
            keep_errors_for: None
        }
    );
    assert_eq!(s.limits.timeout, Duration::from_millis(5));
    assert_eq!(s.limits.max_call_depth, 3);
    let SourceSpec::File(f) = &s.source else {
        panic!()
    };
    assert_eq!(f.glob, "*.txt");
    assert_eq!(f.done_directory, PathBuf::from("in/ok"));
    assert_eq!(f.error_directory, PathBuf::from("in/x/error"));
    assert_eq!(f.poll_interval, Duration::from_secs(1));
    let d = &s.destinations[0];
    assert!(!d.ordered);
    assert_eq!(d.retry.attempts, 1);
    let DestinationKind::Http(h) = &d.kind else {
        panic!()
    };
    assert_eq!(h.method, HttpMethod::Put);
    assert_eq!(h.headers, vec![("X-A".to_owned(), "1".to_owned())]);
    assert_eq!(h.timeout, Duration::from_secs(3));
    assert_eq!(h.content_type, None);
}

#[test]
fn retry_ranges_are_checked() {
    let m = messages(&with_dest(
        "type = \"file\"\ndirectory = \"o\"\n\
         retry = { attempts = 0, initial_backoff_secs = 120 }",
    ));
    // Both problems of one table, in reading order.
    assert_eq!(
        m,
        vec![
            "error 8:9: retry: initial_backoff_secs = 120 is greater than \
             max_backoff_secs = 60 (the default) [the wait starts at initial_backoff_secs \
             and doubles up to max_backoff_secs; raise the maximum or lower the start]",
            "error 8:22: invalid value for `attempts`: expected a whole number of at \
             least 1, found 0",
        ]
    );
    let m = messages(&with_dest(
        "type = \"file\"\ndirectory = \"o\"\nretry = { initial_backoff_secs = 120 }",
    ));
    assert_eq!(
        m,
        vec![
            "error 8:9: retry: initial_backoff_secs = 120 is greater than \
             max_backoff_secs = 60 (the default) [the wait starts at initial_backoff_secs \
             and doubles up to max_backoff_secs; raise the maximum or lower the start]"
        ]
    );
}

#[test]
fn destination_names_are_checked() {
    let text = format!(
        "{SOURCE}[[destination]]\nname = \"a\"\ntype = \"file\"\ndirectory = \"o\"\n\
         [[destination]]\nname = \"a\"\ntype = \"file\"\ndirectory = \"p\"\n\
         [[destination]]\nname = \"EHR Out\"\ntype = \"file\"\ndirectory = \"q\"\n"
    );
    let m = messages(&text);
    assert_eq!(
        m,
        vec![
            "error 9:8: destination name \"a\" is used twice (first on line 5) [each \
             destination needs its own name: it names its queue]",
            "error 13:8: destination name \"EHR Out\" may only contain a-z, 0-9, `_` and \
             `-` [did you mean \"ehr_out\"?]",
        ]
    );
}

#[test]
fn no_destinations_is_a_warning_and_the_channel_still_builds() {
    let c = check_text(Path::new("c.toml"), SOURCE);
    assert_eq!(c.diagnostics.len(), 1);
    assert_eq!(c.diagnostics[0].severity, Severity::Warning);
    let spec = c.spec.unwrap();
    assert!(spec.destinations.is_empty());
    assert_eq!(spec.warnings, c.diagnostics);
}

#[test]
fn filter_expressions_are_parsed_and_errors_located() {
    let m = messages(&format!("[filter]\naccept = 'msg.type == '\n{SOURCE}"));
    // The position is ours; the wording after the colon is the script engine's.
    assert!(
        m[0].starts_with("error 2:23: invalid filter expression: ")
            && m[0].to_lowercase().contains("incomplete"),
        "{m:?}"
    );
    let m = messages(&format!("[filter]\naccept = \"msg.type ==\\t\"\n{SOURCE}"));
    assert!(m[0].starts_with("error 2:10: invalid filter"), "{m:?}");
    let m = messages(&format!(
        "[filter]\naccept = '''\nmsg.type == \"ADT\" &&\n  ) '''\n{SOURCE}"
    ));
    assert!(m[0].starts_with("error 4:3: invalid filter"), "{m:?}");
    let m = messages(&format!("[filter]\naccept = ' '\n{SOURCE}"));
    assert!(m[0].starts_with("error 2:10: `accept` is empty"), "{m:?}");
}

#[test]
fn file_templates_are_checked() {
    let ok = spec(&with_dest(
        "type = \"file\"\ndirectory = \"o\"\nfilename = \"{channel}-{control_id}.hl7\"",
    ));
    let DestinationKind::File(f) = &ok.destinations[0].kind else {
        panic!()
    };
    assert_eq!(f.filename, "{channel}-{control_id}.hl7");
    for (template, want) in [
        ("{mesage_id}.hl7", "did you mean `{message_id}`?"),
        ("{message_id.hl7", "without its `}`"),
        ("message_id}.hl7", "without its `{`"),
        ("a/{message_id}", "no folders"),
        ("{channel}.hl7", "may overwrite"),
    ] {
        let m = messages(&with_dest(&format!(
            "type = \"file\"\ndirectory = \"o\"\nfilename = \"{template}\""
        )));
        assert!(m.iter().any(|m| m.contains(want)), "{template}: {m:?}");
    }
}

#[test]
fn http_destinations_are_checked() {
    for (dest, want) in [
        ("url = \"ftp://x/y\"", "not ftp:"),
        ("url = \"not a url\"", "invalid url"),
        (
            "url = \"http://x\"\nmethod = \"post\"",
            "did you mean `POST`?",
        ),
        (
            "url = \"http://x\"\nheaders = { \"a b\" = \"1\" }",
            "invalid header name",
        ),
        (
            "url = \"http://x\"\nheaders = { Content-Type = \"a/b\" }\ncontent_type = \"a/b\"",
            "set twice",
        ),
        (
            "url = \"http://x\"\ncontent_type = \"hl7\"",
            "invalid content_type",
        ),
    ] {
        let m = messages(&with_dest(&format!("type = \"http\"\n{dest}")));
        assert!(m.iter().any(|m| m.contains(want)), "{dest}: {m:?}");
    }
}

#[test]
fn tls_files_must_exist_and_pair_up() {
    let m = messages(&with_dest(
        "type = \"mllp\"\nendpoint = \"h:1\"\ntls = { ca = \"Cargo.toml\", cert = \"Cargo.toml\" }",
    ));
    assert!(
        m.iter().any(|m| m.contains("`cert` needs `key` too")),
        "{m:?}"
    );
    let m = messages(&with_dest(
        "type = \"mllp\"\nendpoint = \"h:1\"\ntls = { ca = \"Cargo.tom\", server_name = \"a b\" }",
    ));
    assert!(
        m.iter()
            .any(|m| m.contains("CA certificate not found: Cargo.tom [did you mean Cargo.toml?]")),
        "{m:?}"
    );
    assert!(m.iter().any(|m| m.contains("invalid server_name")), "{m:?}");
    let s = spec(&with_dest(
        "type = \"mllp\"\nendpoint = \"h:1\"\ntls = { ca = \"Cargo.toml\", server_name = \"lab.example.org\" }",
    ));
    let DestinationKind::Mllp(m) = &s.destinations[0].kind else {
        panic!()
    };
    let tls = m.tls.as_ref().unwrap();
    assert_eq!(tls.ca, PathBuf::from("Cargo.toml"));
    assert_eq!(tls.server_name.as_deref(), Some("lab.example.org"));
    assert!(tls.identity.is_none());
}

#[test]
fn settings_without_effect_are_warnings() {
    let text = format!(
        "flush_interval_ms = 10\n[duplicates]\nwindow_secs = 0\naction = \"reject\"\n\
         [prune]\nkeep_days = 30\nkeep_error_days = 7\n{}",
        with_dest("type = \"file\"\ndirectory = \"o\"\nsend_original = true")
    );
    let m = messages(&text);
    assert_eq!(m.len(), 4, "{m:?}");
    assert!(m.iter().all(|m| m.starts_with("warning")), "{m:?}");
    let text = format!("durability = \"interval\"\nflush_interval_ms = 60000\n{SOURCE}");
    let m = messages(&text);
    assert!(
        m[0].starts_with("error 2:21: `flush_interval_ms` is 60000"),
        "{m:?}"
    );
}

#[test]
fn file_sources_are_checked() {
    for (extra, want) in [
        ("glob = \"in/*.hl7\"", "no folders"),
        ("glob = \"*.[ch]\"", "only the wildcards"),
        ("done_directory = \"./in\"", "must differ"),
    ] {
        let m = messages(&format!(
            "[source]\ntype = \"file\"\ndirectory = \"in\"\n{extra}\n"
        ));
        assert!(m.iter().any(|m| m.contains(want)), "{extra}: {m:?}");
    }
}

#[test]
fn http_sources_are_checked() {
    let m = messages("[source]\ntype = \"http\"\nlisten = \"127.0.0.1:1\"\npath = \"hl7\"\n");
    assert!(m[0].contains("[did you mean \"/hl7\"?]"), "{m:?}");
    let s = spec("[source]\ntype = \"http\"\nlisten = \"127.0.0.1:1\"\n");
    let SourceSpec::Http(h) = &s.source else {
        panic!()
    };
    assert_eq!(h.path, "/");
    assert_eq!(h.max_body_bytes, 16 << 20);
}

#[test]
fn slugs() {
    assert_eq!(slug("EHR Out"), "ehr_out");
    assert_eq!(slug("BadId"), "bad_id");
    assert_eq!(slug("LabResults2"), "lab_results2");
    assert_eq!(slug("Lab Results"), "lab_results");
    assert_eq!(slug("  a--b.c "), "a--b_c");
    assert_eq!(slug("..."), "");
}
