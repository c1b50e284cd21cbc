//! The script API as analysts use it: every example in `scripts/README.md` runs against the
//! samples with the real `scripts/lib/` and `scripts/lookups/`, and pipelines built from script
//! files store and queue what `emit`, `drop` and destination transforms decide.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ihub::channel::runner::{ChannelMapping, Pipeline, Route, TransformStage};
use ihub::channel::{AckMode, DuplicateAction};
use ihub::hl7::{Message, MessageBuf};
use ihub::script::{
    Filter, Payload, ScriptEngine, ScriptEnv, ScriptError, ScriptLimits, Transform,
    TransformOutcome,
};
use ihub::store::{Backend, Durability, MessageFilter, MessageStatus, Store, StoredMessage};
use tokio::sync::Notify;

/// The engine of a channel called `readme`, with this repository's `scripts/` folder.
fn repo_engine() -> Arc<ScriptEngine> {
    let env = ScriptEnv::load("readme", Path::new("scripts"))
        .unwrap()
        .with_mappings(Path::new("mappings"))
        .unwrap();
    Arc::new(ScriptEngine::with_env(ScriptLimits::default(), env))
}

const PATIENT_JSON: &str =
    r#"{"resourceType": "Patient", "id": "p1", "gender": "F", "name": [{"family": "Hartley"}]}"#;

#[test]
fn every_example_in_the_scripts_readme_runs() {
    let readme = std::fs::read_to_string("scripts/README.md").unwrap();
    let adt = MessageBuf::parse(&std::fs::read("samples/adt_a01.hl7").unwrap()).unwrap();
    let oru = MessageBuf::parse(&std::fs::read("samples/oru_r01.hl7").unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_str(PATIENT_JSON).unwrap();
    let engine = repo_engine();
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in readme.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) if info.starts_with("rhai") => {
                open = Some((info.to_string(), String::new()));
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some((_, code)), _) => {
                code.push_str(line);
                code.push('\n');
            }
            _ => {}
        }
    }
    assert_eq!(blocks.len(), readme.matches("```rhai").count());
    assert!(blocks.len() >= 20, "found only {} examples", blocks.len());
    for (info, code) in blocks {
        let input = if info.contains("json") {
            Payload::Json(json.clone())
        } else if info.contains("oru") {
            Payload::Hl7(oru.clone())
        } else {
            Payload::Hl7(adt.clone())
        };
        let result = if info.contains("filter") {
            Filter::compile(&engine, &code)
                .and_then(|f| f.accepts_payload(&input, "C1".into()).map(drop))
        } else {
            Transform::from_source(&engine, "README.md", &code)
                .and_then(|t| t.run(input, "C1".into()).map(drop))
        };
        assert!(result.is_ok(), "{info}\n{code}\n=> {result:?}");
    }
}

#[test]
fn segments_are_read_changed_and_added() {
    let oru = MessageBuf::parse(
        b"MSH|^~\\&|LAB|L|EHR|E|20240101||ORU^R01|R1|P|2.5.1\rPID|1||123\rOBR|1\rOBX|1|NM|GLU||9|||H\rOBX|2|NM|NA||140|||N\rOBX|3|NM|K||2|||L\rOBX|4|NM|CA||3|||H\r",
    )
    .unwrap();
    let source = r#"
        let results = msg.segments("OBX");
        msg.set("ZZZ-1", results.len());
        msg.set("ZZZ-2", results[1].path + "/" + results[1].get("3.1") + "/" + results[1].index);
        results.reverse();
        for obx in results {
            if obx.get(8) == "H" { msg.insert_segment_after(obx.path, `NTE|${obx.index}||high`); }
            if obx.get(8) == "L" { msg.remove(obx.path); }
        }
        msg.add_segment("ZEN|done");
    "#;
    let t = Transform::from_source(&repo_engine(), "seg.rhai", source).unwrap();
    let mut msg = oru.clone();
    assert_eq!(t.apply(&mut msg).unwrap(), TransformOutcome::Continue);
    assert_eq!(msg.get("ZZZ-1").unwrap().text(), "4");
    assert_eq!(msg.get("ZZZ-2").unwrap().text(), "OBX[2]/NA/2");
    let view = msg.as_message();
    let names: Vec<&str> = view.segments().map(|s| s.name()).collect();
    // OBX 1 and 4 are high (a note after each), OBX 3 is low (removed).
    assert_eq!(
        names,
        [
            "MSH", "PID", "OBR", "OBX", "NTE", "OBX", "OBX", "NTE", "ZZZ", "ZEN"
        ]
    );
    assert_eq!(msg.get("NTE[2]-1").unwrap().text(), "4");
    assert_eq!(msg.get("OBX[3]-3").unwrap().text(), "CA");
}

#[test]
fn lookups_give_values_columns_and_unit_for_unknown_codes() {
    let source = r#"
        msg.set("ZLK-1", lookup("gender", "F"));
        msg.set("ZLK-2", lookup("gender", "M", "display"));
        msg.set("ZLK-3", lookup("gender", "Q") ?? "none");
    "#;
    let mut msg = MessageBuf::parse(&std::fs::read("samples/adt_a01.hl7").unwrap()).unwrap();
    let engine = repo_engine();
    Transform::from_source(&engine, "l.rhai", source)
        .unwrap()
        .apply(&mut msg)
        .unwrap();
    assert_eq!(msg.get("ZLK-1").unwrap().text(), "female");
    assert_eq!(msg.get("ZLK-2").unwrap().text(), "Male");
    assert_eq!(msg.get("ZLK-3").unwrap().text(), "none");
    let err = Transform::from_source(&engine, "l.rhai", "let x = lookup(\"gendr\", \"F\");")
        .unwrap()
        .apply(&mut msg)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "l.rhai:1:9: lookup: there is no table `gendr` (the tables are gender)"
    );
}

/// A scripts folder of its own, for import tests.
fn scripts_dir(modules: &[(&str, &str)]) -> (tempfile::TempDir, Arc<ScriptEngine>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    for (name, text) in modules {
        std::fs::write(dir.path().join("lib").join(name), text).unwrap();
    }
    let env = ScriptEnv::load("imports", dir.path()).unwrap();
    let engine = Arc::new(ScriptEngine::with_env(ScriptLimits::default(), env));
    (dir, engine)
}

#[test]
fn imports_read_scripts_lib_only_and_errors_name_the_module_file() {
    let (dir, engine) = scripts_dir(&[
        ("good.rhai", "fn twice(x) { x * 2 }\n"),
        ("broken.rhai", "fn f() {\n  let = 1;\n}\n"),
        ("fails.rhai", "fn half(x) {\n    x / 0\n}\n"),
    ]);
    let lib = dir.path().join("lib").display().to_string();
    let mut msg = MessageBuf::parse(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5").unwrap();
    Transform::from_source(
        &engine,
        "ok.rhai",
        "import \"lib/good\" as g;\nmsg.set(\"ZZZ-1\", g::twice(21));",
    )
    .unwrap()
    .apply(&mut msg)
    .unwrap();
    assert_eq!(msg.get("ZZZ-1").unwrap().text(), "42");

    // A syntax error in the module: its file, line and column.
    match Transform::from_source(&engine, "s.rhai", "let a = 1;\nimport \"lib/broken\" as b;") {
        Err(ScriptError::Compile {
            file, line, col, ..
        }) => {
            assert_eq!(file, format!("{lib}/broken.rhai"));
            assert_eq!((line, col), (2, 7));
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    // Climbing out, or a module that does not exist: the import line of the script.
    for (path, expected) in [
        ("../secrets", "cannot import `../secrets`"),
        (
            "lib/missing",
            "cannot import `lib/missing`: there is no file",
        ),
    ] {
        let source = format!("let a = 1;\nimport \"{path}\" as x;");
        match Transform::from_source(&engine, "s.rhai", &source) {
            Err(ScriptError::Compile {
                file,
                line,
                message,
                ..
            }) => {
                assert_eq!((file.as_str(), line), ("s.rhai", 2), "{message}");
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("expected a compile error for {path}, got {other:?}"),
        }
    }
    // A runtime error inside a module function: the module's file and line.
    let t = Transform::from_source(
        &engine,
        "r.rhai",
        "import \"lib/fails\" as f;\nlet x = f::half(4);",
    )
    .unwrap();
    match t.apply(&mut msg) {
        Err(ScriptError::Runtime { file, line, .. }) => {
            assert_eq!(file, format!("{lib}/fails.rhai"));
            assert_eq!(line, 2);
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

/// A pipeline over a fresh store, with the given scripts, and destinations `a` and `b`.
struct TestPipeline {
    pipeline: Arc<Pipeline>,
    store: Store,
    _dir: tempfile::TempDir,
}

fn pipeline(transform: Option<&str>, a: Option<&str>, b_original: bool) -> TestPipeline {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data"), Backend::Redb).unwrap();
    let engine = repo_engine();
    let compile = |name: &str, source: &str| {
        let script = Arc::new(Transform::from_source(&engine, name, source).unwrap());
        Arc::new(TransformStage::script(script))
    };
    let route = |name: &str, transform: Option<Arc<TransformStage>>, send_original: bool| Route {
        name: name.into(),
        send_original,
        transform,
        wake: Arc::new(Notify::new()),
    };
    let pipeline = Arc::new(Pipeline {
        channel: "scripted".into(),
        store: store.clone(),
        filter: None,
        transform: transform.map(|s| compile("channel.rhai", s)),
        routes: vec![
            route("a", a.map(|s| compile("a.rhai", s)), false),
            route("b", None, b_original),
        ],
        durability: Durability::Sync,
        ack_mode: AckMode::Original,
        duplicate_window: None,
        duplicate_action: DuplicateAction::Ack,
        meters: Default::default(),
    });
    TestPipeline {
        pipeline,
        store,
        _dir: dir,
    }
}

impl TestPipeline {
    fn messages(&self) -> Vec<StoredMessage> {
        let mut list = self
            .store
            .list(&MessageFilter {
                channel: Some("scripted".into()),
                limit: Some(100),
                ..Default::default()
            })
            .unwrap();
        list.sort_by_key(|m| m.id);
        list.iter()
            .map(|m| self.store.message(m.id).unwrap().unwrap())
            .collect()
    }
}

fn payload(m: &StoredMessage, destination: &str) -> Option<String> {
    m.destinations
        .iter()
        .find(|d| d.destination == destination)
        .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
}

fn two_orders() -> Bytes {
    Bytes::from_static(
        b"MSH|^~\\&|LAB|L|EHR|E|20240101||ORU^R01|ORD1|P|2.5.1\rPID|1||123\rOBR|1|A\rOBX|1|NM|GLU||5\rOBR|2|B\rOBX|1|NM|K||4\r",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_stores_and_queues_each_part_and_filters_the_original() {
    let split = std::fs::read_to_string("scripts/split_by_obr.rhai").unwrap();
    let t = pipeline(Some(&split), None, false);
    let answer = t.pipeline.receive(two_orders(), "10.0.0.9:5000").await;
    assert_eq!(answer.code.as_str(), "AA");
    let ack = String::from_utf8(answer.ack.unwrap().to_vec()).unwrap();
    assert!(ack.contains("|ORD1"), "the ACK answers the original: {ack}");
    let stored = t.messages();
    assert_eq!(stored.len(), 3, "{stored:#?}");
    let parent = &stored[0];
    assert_eq!(parent.status, MessageStatus::Filtered);
    assert_eq!(
        parent.error.as_deref(),
        Some(
            "dropped by the transform: split into one message per OBR; the scripts emitted 2 messages"
        )
    );
    for (n, part) in stored[1..].iter().enumerate() {
        assert_eq!(part.status, MessageStatus::Queued);
        assert_eq!(
            part.peer,
            format!("emitted by message {} from 10.0.0.9:5000", parent.id)
        );
        assert_eq!(part.meta.control_id, format!("ORD1-{}", n + 1));
        let sent = payload(part, "a").unwrap();
        assert_eq!(payload(part, "b").unwrap(), sent);
        let m = Message::parse(sent.as_bytes()).unwrap();
        assert_eq!(m.segments_named("OBR").count(), 1);
        assert_eq!(m.get("OBR-2").unwrap().text(), ["A", "B"][n]);
        assert_eq!(m.get("PID-3").unwrap().text(), "123");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_transforms_change_or_drop_for_their_destination_only() {
    let t = pipeline(
        Some(r#"msg.set("MSH-4", "STAMPED");"#),
        Some(r#"if msg.control_id == "SKIP" { drop("not for a"); } msg.set("MSH-5", "A-ONLY");"#),
        true,
    );
    let raw = two_orders();
    assert_eq!(
        t.pipeline.receive(raw.clone(), "p").await.code.as_str(),
        "AA"
    );
    let skip = String::from_utf8_lossy(&raw).replace("ORD1", "SKIP");
    assert_eq!(
        t.pipeline
            .receive(Bytes::from(skip), "p")
            .await
            .code
            .as_str(),
        "AA"
    );
    let stored = t.messages();
    let first = &stored[0];
    assert_eq!(first.status, MessageStatus::Queued);
    let a = Message::parse(payload(first, "a").unwrap().as_bytes())
        .unwrap()
        .get("MSH-4")
        .unwrap()
        .text()
        .into_owned();
    assert_eq!(
        a, "STAMPED",
        "a gets the channel transform's output, then its own"
    );
    assert!(payload(first, "a").unwrap().contains("|A-ONLY|"));
    // b has send_original: the message as received.
    assert_eq!(payload(first, "b").unwrap().as_bytes(), &raw[..]);
    let second = &stored[1];
    assert_eq!(second.status, MessageStatus::Queued);
    assert!(payload(second, "a").is_none());
    assert!(payload(second, "b").is_some());
    assert_eq!(
        second.error.as_deref(),
        Some("dropped by destination transforms: a: not for a")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_destination_transform_fails_the_message_and_queues_nothing() {
    let t = pipeline(
        Some(r#"emit(hl7::message("ADT^A08"));"#),
        Some("let x = 1;\nthrow \"no\";"),
        false,
    );
    let answer = t.pipeline.receive(two_orders(), "p").await;
    assert_eq!(answer.code.as_str(), "AE");
    let stored = t.messages();
    assert_eq!(stored.len(), 1, "nothing emitted is kept");
    assert_eq!(stored[0].status, MessageStatus::Error);
    assert_eq!(
        stored[0].error.as_deref(),
        Some("destination \"a\": transform: a.rhai:2:1: no")
    );
    assert!(stored[0].destinations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_messages_reach_scripts_as_maps() {
    let t = pipeline(
        Some(
            r#"msg.gender = lookup("gender", msg.gender) ?? "unknown"; msg.seen = true;
               if msg.id == "p2" { let adt = hl7::message("ADT^A08"); adt.set("PID-3.1", msg.id); emit(adt); }"#,
        ),
        Some(r#"if type_of(msg) == "map" && msg.id == "p2" { drop("a takes no p2"); }"#),
        true,
    );
    let answer = t
        .pipeline
        .receive_json(PATIENT_JSON.as_bytes().to_vec(), "p")
        .await;
    assert_eq!(answer.code.as_str(), "AA");
    assert!(answer.ack.is_none());
    let p2 = PATIENT_JSON.replace("p1", "p2");
    t.pipeline.receive_json(p2.into_bytes(), "p").await;
    let bad = t.pipeline.receive_json(b"{not json".to_vec(), "p").await;
    assert_eq!(bad.code.as_str(), "AE");

    let stored = t.messages();
    assert_eq!(stored.len(), 4, "{stored:#?}");
    let sent: serde_json::Value = serde_json::from_str(&payload(&stored[0], "a").unwrap()).unwrap();
    assert_eq!(sent["gender"], "female");
    assert_eq!(sent["seen"], true);
    assert_eq!(sent["name"][0]["family"], "Hartley");
    assert_eq!(
        payload(&stored[0], "b").unwrap(),
        PATIENT_JSON,
        "send_original: as received"
    );
    assert!(stored[0].transformed.is_some());
    // p2: a dropped it, b took it; the emitted ADT went to both.
    assert!(payload(&stored[1], "a").is_none());
    let adt = payload(&stored[2], "a").unwrap();
    assert!(adt.starts_with("MSH|^~\\&|"), "{adt}");
    assert_eq!(
        Message::parse(adt.as_bytes())
            .unwrap()
            .get("PID-3.1")
            .unwrap()
            .text(),
        "p2"
    );
    assert_eq!(stored[2].meta.message_type, "ADT");
    assert_eq!(stored[3].status, MessageStatus::Error);
    assert!(
        stored[3]
            .error
            .as_deref()
            .unwrap()
            .starts_with("the body is not valid JSON")
    );
}

#[test]
fn log_lines_and_emit_in_a_filter() {
    let engine = repo_engine();
    let filter = Filter::compile(&engine, r#"emit(msg) == ()"#).unwrap();
    let msg = MessageBuf::parse(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5").unwrap();
    let err = filter.accepts(&msg).unwrap_err();
    assert!(
        err.to_string().contains("only a transform may emit"),
        "{err}"
    );
    // Logging calls do not fail and do not change the message.
    let t = Transform::from_source(&engine, "log.rhai", r#"log_info("one"); log_warn("two");"#)
        .unwrap();
    let mut copy = msg.clone();
    assert_eq!(t.apply(&mut copy).unwrap(), TransformOutcome::Continue);
    assert_eq!(copy, msg);
}

#[test]
fn hot_reload_watches_scripts_modules_tables_and_mappings() {
    let spec = ihub::channel::load_channel_file(Path::new("channels/lab_results.toml")).unwrap();
    let watched = spec.watched_files();
    for expected in [
        "scripts/stamp_facility.rhai",
        "scripts/ehr_notes.rhai",
        "scripts/lib/dates.rhai",
        "scripts/lookups/gender.csv",
    ] {
        assert!(
            watched.iter().any(|p| p == Path::new(expected)),
            "{expected} not in {watched:?}"
        );
    }
    assert_eq!(
        spec.destinations[1].transform.as_deref(),
        Some(Path::new("scripts/ehr_notes.rhai"))
    );
    assert_eq!(spec.destinations[0].transform, None);
    assert_eq!(spec.mapping, None);
}

#[test]
fn the_example_scripts_do_what_their_comments_say() {
    let engine = repo_engine();
    let oru = MessageBuf::parse(
        b"MSH|^~\\&|LAB|L|EHR|E|20240101||ORU^R01|R1|P|2.5.1\rPID|1||123||DOE^JANE||19580923|F\rOBR|1\rOBX|1|NM|GLU||9|||H\rOBX|2|NM|NA||140|||N\r",
    )
    .unwrap();
    let notes = Transform::from_file(&engine, "scripts/ehr_notes.rhai").unwrap();
    let mut msg = oru.clone();
    notes.apply(&mut msg).unwrap();
    assert_eq!(msg.get("NTE-3").unwrap().text(), "abnormal result (H)");
    assert_eq!(msg.get("ZPD-1").unwrap().text(), "female");
    // One OBR: nothing to split, the message goes on unchanged.
    let split = Transform::from_file(&engine, "scripts/split_by_obr.rhai").unwrap();
    let run = split.run(Payload::Hl7(oru.clone()), "R1".into()).unwrap();
    assert_eq!(run.outcome, TransformOutcome::Continue);
    assert!(run.emitted.is_empty());
    assert_eq!(run.message, Payload::Hl7(oru));
}

/// A local patient record as `mappings/patient.toml` expects it.
const LOCAL_PATIENT: &str = r#"#{
    mrn: " M-1042 ", firstName: "jane", lastName: "o'neil", gender: "F",
    phone: "(555) 234-5678", email: "Jane@Example.ORG",
    address: #{ city: "springfield", state: "il", postalCode: "62704-1234", country: "US" }
}"#;

#[test]
fn map_fields_pushes_a_record_to_fhir_and_pulls_it_back() {
    let source = format!(
        r#"
        let patient = map_fields({LOCAL_PATIENT}, "patients", "push");
        let local = map_fields(patient, "Patient", "pull");
        msg = #{{ patient: patient, local: local }};
        "#
    );
    let t = Transform::from_source(&repo_engine(), "map.rhai", &source).unwrap();
    let run = t
        .run(Payload::Json(serde_json::json!({})), String::new())
        .unwrap();
    let Payload::Json(out) = run.message else {
        panic!("the script leaves a map: {:?}", run.message);
    };
    let patient = &out["patient"];
    assert_eq!(patient["name"][0]["given"][0], "Jane");
    assert_eq!(patient["name"][0]["family"], "O'Neil");
    assert_eq!(patient["gender"], "female");
    assert_eq!(patient["address"][0]["postalCode"], "62704");
    assert_eq!(patient["address"][0]["country"], "USA");
    assert_eq!(
        patient["identifier"][0],
        serde_json::json!({"system": "urn:ihub:mrn", "value": "M-1042"})
    );
    assert_eq!(
        patient["telecom"],
        serde_json::json!([
            {"system": "phone", "value": "+15552345678"},
            {"system": "email", "value": "jane@example.org"}
        ])
    );
    // Pulled back by the remote name: the local shape again, cleaned up.
    assert_eq!(out["local"]["mrn"], "M-1042");
    assert_eq!(out["local"]["address"]["country"], "US");
    assert_eq!(out["local"]["phone"], "+15552345678");
}

#[test]
fn map_fields_errors_name_every_field_and_the_call() {
    let engine = repo_engine();
    let run = |source: &str| {
        Transform::from_source(&engine, "map.rhai", source)
            .unwrap()
            .run(Payload::Json(serde_json::json!({})), String::new())
            .unwrap_err()
            .to_string()
    };
    let bad =
        run(r#"let p = map_fields(#{ firstName: "Jane", phone: "555-12" }, "patients", "push");"#);
    let mut lines = bad.lines();
    assert_eq!(
        lines.next(),
        Some(r#"map.rhai:1:9: map_fields(.., "patients", "push"): 5 field errors"#),
        "{bad}"
    );
    assert!(
        !bad.lines().next().unwrap().contains("555-12"),
        "no value on the first line"
    );
    for expected in [
        r#"field "mrn""#,
        r#"field "lastName""#,
        r#"field "phone": normalize_phone: "555-12""#,
    ] {
        assert!(bad.contains(expected), "{expected} in {bad}");
    }
    assert_eq!(
        run(r#"map_fields(#{}, "doctors", "push")"#),
        r#"map.rhai:1:1: map_fields(.., "doctors", "push"): there is no entity `doctors` (the entities are patients)"#
    );
    assert_eq!(
        run(r#"map_fields(#{}, "patients", "sideways")"#),
        r#"map.rhai:1:1: map_fields(.., "patients", "sideways"): direction `sideways` is not `push` or `pull`"#
    );
}

#[test]
fn map_fields_with_hl7_paths_builds_and_reads_messages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("adt.toml"),
        r#"
        [[entity]]
        local = "admission"
        remote = "ADT_A01"
        [[entity.field]]
        local = "mrn"
        remote = "PID-3.1"
        [[entity.field]]
        local = "family"
        remote = "PID-5.1"
        transform = ["trim", "uppercase"]
        "#,
    )
    .unwrap();
    let env = ScriptEnv::load("hl7map", Path::new("scripts"))
        .unwrap()
        .with_mappings(dir.path())
        .unwrap();
    let engine = Arc::new(ScriptEngine::with_env(ScriptLimits::default(), env));
    let source = r#"
        let local = map_fields(msg, "admission", "pull");
        local.family = local.family + " Jr";
        msg = map_fields(local, "admission", "push");
    "#;
    let adt = MessageBuf::parse(&std::fs::read("samples/adt_a01.hl7").unwrap()).unwrap();
    let mrn = adt.get("PID-3.1").unwrap().text().into_owned();
    let run = Transform::from_source(&engine, "hl7map.rhai", source)
        .unwrap()
        .run(Payload::Hl7(adt), "C1".into())
        .unwrap();
    let Payload::Hl7(out) = run.message else {
        panic!("push of an HL7 entity gives a message");
    };
    assert_eq!(out.get("MSH-9").unwrap().text(), "ADT^A01");
    assert_eq!(out.get("PID-3.1").unwrap().text(), mrn);
    assert_eq!(out.get("PID-5.1").unwrap().text(), "HARTLEY JR");
}

#[test]
fn a_broken_mapping_file_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[entity]]\nlocal = \"x\"\nremote = \"X\"\nspeling = 1\n",
    )
    .unwrap();
    let err = ScriptEnv::load("bad", Path::new("scripts"))
        .unwrap()
        .with_mappings(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.toml:4:1"), "{err}");
}

/// A pipeline whose channel transform is only the mapping `text` (a file in a temporary
/// folder), with one destination `a`.
fn mapping_pipeline(text: &str) -> TestPipeline {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adt.toml");
    std::fs::write(&file, text).unwrap();
    let store = Store::open(&dir.path().join("data"), Backend::Redb).unwrap();
    let stage = TransformStage {
        mapping: Some(ChannelMapping::load(&file, &Default::default()).unwrap()),
        script: None,
    };
    let pipeline = Arc::new(Pipeline {
        channel: "scripted".into(),
        store: store.clone(),
        filter: None,
        transform: Some(Arc::new(stage)),
        routes: vec![Route {
            name: "a".into(),
            send_original: false,
            transform: None,
            wake: Arc::new(Notify::new()),
        }],
        durability: Durability::Sync,
        ack_mode: AckMode::Original,
        duplicate_window: None,
        duplicate_action: DuplicateAction::Ack,
        meters: Default::default(),
    });
    TestPipeline {
        pipeline,
        store,
        _dir: dir,
    }
}

const ADT_MAPPING: &str = r#"
[[entity]]
local = "admission"
remote = "ADT_A01"
[[entity.field]]
local = "mrn"
remote = "PID-3.1"
required = true
[[entity.field]]
local = "name.family"
remote = "PID-5.1"
transform = ["capitalize"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_mapping_pulls_hl7_into_a_json_record() {
    let t = mapping_pipeline(ADT_MAPPING);
    let adt = Bytes::from(std::fs::read("samples/adt_a01.hl7").unwrap());
    let answer = t.pipeline.receive(adt, "10.0.0.9:5000").await;
    assert_eq!(answer.code.as_str(), "AA");
    let stored = t.messages();
    assert_eq!(stored[0].status, MessageStatus::Queued);
    let sent: serde_json::Value = serde_json::from_str(&payload(&stored[0], "a").unwrap()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"mrn": "00481516", "name": {"family": "Hartley"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_map_is_an_error_whose_values_stay_out_of_the_ack() {
    let failing = ADT_MAPPING.replace(r#"["capitalize"]"#, r#"["to_boolean"]"#);
    let t = mapping_pipeline(&failing);
    let adt = Bytes::from(std::fs::read("samples/adt_a01.hl7").unwrap());
    let answer = t.pipeline.receive(adt, "10.0.0.9:5000").await;
    assert_eq!(answer.code.as_str(), "AE");
    let ack = String::from_utf8(answer.ack.unwrap().to_vec()).unwrap();
    assert!(ack.contains("1 field error"), "{ack}");
    assert!(!ack.contains("HARTLEY"), "a value reached the ACK: {ack}");
    let stored = t.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, MessageStatus::Error);
    assert!(stored[0].destinations.is_empty());
    let reason = stored[0].error.as_deref().unwrap();
    assert!(reason.contains("(pull): 1 field error"), "{reason}");
    assert!(
        reason.contains(r#"field "name.family": to_boolean: "HARTLEY""#),
        "{reason}"
    );

    // A JSON message meets the same mapping pushed: the record becomes an HL7 message.
    let t = mapping_pipeline(ADT_MAPPING);
    let body = br#"{"mrn": "M7", "name": {"family": "o'neil"}}"#.to_vec();
    let answer = t.pipeline.receive_json(body, "10.0.0.9:5000").await;
    assert_eq!(answer.status, MessageStatus::Queued);
    let sent = payload(&t.messages()[0], "a").unwrap();
    let sent = MessageBuf::parse(sent.as_bytes()).unwrap();
    assert_eq!(sent.get("MSH-9").unwrap().text(), "ADT^A01");
    assert_eq!(sent.get("PID-3.1").unwrap().text(), "M7");
    assert_eq!(sent.get("PID-5.1").unwrap().text(), "O'Neil");
}

#[test]
fn a_channel_mapping_file_holds_exactly_one_entity() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.toml");
    let two = format!("{ADT_MAPPING}\n[[entity]]\nlocal = \"other\"\nremote = \"ORU_R01\"\n");
    std::fs::write(&file, two).unwrap();
    let err = ChannelMapping::load(&file, &Default::default()).unwrap_err();
    assert!(
        err.ends_with(
            "a channel's mapping file holds exactly one entity, this one has 2 (admission, other); \
             split the file, or call map_fields(record, \"admission\", \"push\") from a script"
        ),
        "{err}"
    );
}

/// A channel's mapping reads `scripts/lookups/*.csv` tables (code → second column) it does not
/// define itself; a `[lookup.NAME]` table of its own wins over `NAME.csv`.
#[test]
fn channel_mappings_use_the_csv_lookup_tables() {
    let lookups = ihub::script::Lookups::load(Path::new("scripts/lookups")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.toml");
    std::fs::write(
        &file,
        r#"
[[entity]]
local = "people"
remote = "Person"
direction = "push"
[[entity.field]]
local = "sex"
remote = "gender"
transform = [{ fn = "lookup", table = "gender" }]
"#,
    )
    .unwrap();
    let mapping = ChannelMapping::load(&file, &lookups).unwrap();
    let out = mapping
        .apply(ihub::script::Payload::Json(serde_json::json!({"sex": "F"})))
        .unwrap();
    let ihub::script::Payload::Json(out) = out else {
        panic!("a JSON record maps to JSON")
    };
    assert_eq!(out["gender"], "female", "from scripts/lookups/gender.csv");

    let own = file.with_file_name("own.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&own, format!("[lookup.gender]\nF = \"F-own\"\n{text}")).unwrap();
    let mapping = ChannelMapping::load(&own, &lookups).unwrap();
    let ihub::script::Payload::Json(out) = mapping
        .apply(ihub::script::Payload::Json(serde_json::json!({"sex": "F"})))
        .unwrap()
    else {
        panic!("a JSON record maps to JSON")
    };
    assert_eq!(out["gender"], "F-own", "the file's own table wins");
}
