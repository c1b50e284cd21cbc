//! The engine in-process, on 127.0.0.1:0 ports and temp directories: what an EHR or a lab sees.
//!
//! Each test writes channel files, starts an [`Engine`], talks to it over real sockets, and
//! checks the ACKs, the store and what destinations received.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use ihub::engine::{Engine, EngineSettings};
use ihub::hl7::Message;
use ihub::mllp::{MllpClient, MllpCodec};
use ihub::store::{Backend, DeliveryStatus, MessageFilter, MessageStatus};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// A running engine over a temp directory; stops when dropped.
struct TestEngine {
    engine: Arc<Engine>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: tempfile::TempDir,
}

impl TestEngine {
    async fn start(channels: &[(&str, &str)]) -> TestEngine {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("channels")).unwrap();
        for (id, text) in channels {
            let text = text.replace("{dir}", &dir.path().display().to_string());
            std::fs::write(dir.path().join("channels").join(format!("{id}.toml")), text).unwrap();
        }
        let settings = EngineSettings {
            channels_dir: dir.path().join("channels"),
            data_dir: dir.path().join("data"),
            api: "127.0.0.1:0".parse().unwrap(),
            backend: Backend::Redb,
            reload_interval: Duration::from_millis(200),
        };
        let engine = Engine::start(settings).await.unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(engine.clone().run(shutdown.clone()));
        let started = Instant::now();
        while engine.api_addr().is_none() && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        TestEngine {
            engine,
            shutdown,
            task: Some(task),
            dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn addr(&self, channel: &str) -> SocketAddr {
        self.engine.bound_addresses().await[channel]
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("engine stops within 10 s")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn message(control_id: &str, kind: &str) -> String {
    format!(
        "MSH|^~\\&|LAB|LABFAC|EHR|EHRFAC|20240101120000||{kind}|{control_id}|P|2.5.1\rPID|1||12345^^^HOSP^MR||DOE^JANE\rOBR|1\rOBX|1|NM|GLU^Glucose||5.4|mmol/L\r"
    )
}

async fn send(addr: SocketAddr, payload: &str) -> String {
    let mut client = MllpClient::connect(&addr.to_string(), None).await.unwrap();
    let reply = client
        .send(payload.as_bytes(), Duration::from_secs(10))
        .await
        .unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

fn msa(ack: &str) -> (String, String) {
    let m = Message::parse(ack.as_bytes()).unwrap();
    (
        m.get("MSA-1").unwrap().text().into_owned(),
        m.get("MSA-2").unwrap().text().into_owned(),
    )
}

/// An MLLP receiver standing in for the lab or EHR: records each message, answers AA.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn listen_on(&self, listener: TcpListener) {
        let got = self.got.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let got = got.clone();
                tokio::spawn(async move {
                    let mut framed = Framed::new(stream, MllpCodec::new());
                    while let Some(Ok(frame)) = framed.next().await {
                        let control_id = Message::parse(&frame)
                            .map(|m| m.control_id().into_owned())
                            .unwrap_or_default();
                        got.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&frame).into_owned());
                        let ack = format!(
                            "MSH|^~\\&|EHR|EHRFAC|LAB|LABFAC|20240101||ACK|A{control_id}|P|2.5.1\rMSA|AA|{control_id}\r"
                        );
                        if framed.send(Bytes::from(ack)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }

    fn control_ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| {
                Message::parse(m.as_bytes())
                    .ok()
                    .map(|m| m.control_id().into_owned())
            })
            .collect()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

const LAB_CHANNEL: &str = r#"
description = "lab results"
[source]
type = "mllp"
listen = "127.0.0.1:0"
ack = "original"
[filter]
accept = 'msg.type == "ORU"'
[transform]
script = "{dir}/stamp.rhai"
[[destination]]
name = "archive"
type = "file"
directory = "{dir}/out"
filename = "{control_id}.hl7"
[[destination]]
name = "ehr"
type = "mllp"
endpoint = "{ehr}"
ack_timeout_secs = 5
retry = { attempts = 50, initial_backoff_secs = 1, max_backoff_secs = 1 }
"#;

async fn lab_engine(ehr: SocketAddr) -> TestEngine {
    let text = LAB_CHANNEL.replace("{ehr}", &ehr.to_string());
    let engine = TestEngine::start(&[]).await;
    std::fs::write(
        engine.path("stamp.rhai"),
        "msg.set(\"MSH-4\", \"LENSWORKS\");\n",
    )
    .unwrap();
    let text = text.replace("{dir}", &engine.dir.path().display().to_string());
    std::fs::write(engine.path("channels/lab.toml"), text).unwrap();
    let started = Instant::now();
    while !engine.engine.bound_addresses().await.contains_key("lab") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the channel file was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mllp_in_file_and_mllp_out() {
    let ehr_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ehr = Receiver::default();
    let ehr_addr = ehr_listener.local_addr().unwrap();
    ehr.listen_on(ehr_listener).await;
    let engine = lab_engine(ehr_addr).await;
    let addr = engine.addr("lab").await;

    assert_eq!(
        msa(&send(addr, &message("ORU1", "ORU^R01")).await),
        ("AA".into(), "ORU1".into())
    );
    assert_eq!(
        msa(&send(addr, &message("ADT1", "ADT^A01")).await),
        ("AA".into(), "ADT1".into()),
        "filtered messages are still acknowledged"
    );

    wait_for("the EHR to receive ORU1", Duration::from_secs(10), || {
        ehr.control_ids() == ["ORU1"]
    })
    .await;
    let delivered = ehr.got.lock().unwrap()[0].clone();
    let m = Message::parse(delivered.as_bytes()).unwrap();
    assert_eq!(m.sending_facility(), "LENSWORKS", "the transform ran");
    // The archive is another destination with its own worker: it may finish after the EHR.
    let archive = engine.path("out/ORU1.hl7");
    wait_for("the archive to write ORU1", Duration::from_secs(10), || {
        archive.exists()
    })
    .await;
    let archived = std::fs::read(&archive).unwrap();
    assert_eq!(archived, delivered.as_bytes());

    let store = &engine.engine.store;
    let filtered = store
        .list(&MessageFilter {
            channel: Some("lab".into()),
            status: Some(MessageStatus::Filtered),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].meta.control_id, "ADT1");
    wait_for("ORU1 to be SENT", Duration::from_secs(5), || {
        store
            .list(&MessageFilter {
                channel: Some("lab".into()),
                status: Some(MessageStatus::Sent),
                ..Default::default()
            })
            .unwrap()
            .len()
            == 1
    })
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_is_down_gets_everything_in_order_when_it_comes_back() {
    // Reserve a port for the EHR but do not listen yet: it is down.
    let ehr_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let engine = lab_engine(ehr_addr).await;
    let addr = engine.addr("lab").await;
    let ids: Vec<String> = (1..=6).map(|i| format!("ORD{i}")).collect();
    for id in &ids {
        assert_eq!(msa(&send(addr, &message(id, "ORU^R01")).await).0, "AA");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ehr = Receiver::default();
    ehr.listen_on(TcpListener::bind(ehr_addr).await.unwrap())
        .await;
    wait_for("all six to arrive", Duration::from_secs(15), || {
        ehr.control_ids().len() >= ids.len()
    })
    .await;
    assert_eq!(
        ehr.control_ids(),
        ids,
        "delivered once each, in arrival order"
    );
    let message = engine.engine.store.message(1).unwrap().unwrap();
    let ehr_dest = message
        .destinations
        .iter()
        .find(|d| d.destination == "ehr")
        .unwrap();
    assert!(
        ehr_dest.attempts.len() >= 2,
        "failed attempts are recorded: {:?}",
        ehr_dest.attempts
    );
    assert!(!ehr_dest.attempts[0].ok && ehr_dest.attempts.last().unwrap().ok);
    engine.stop().await;
}

const SIMPLE_CHANNEL: &str = r#"
[source]
type = "mllp"
listen = "127.0.0.1:0"
ack = "original"
{transform}
[[destination]]
name = "archive"
type = "file"
directory = "{dir}/out"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_input_is_stored_and_answered_with_a_nak() {
    let engine = TestEngine::start(&[("simple", &SIMPLE_CHANNEL.replace("{transform}", ""))]).await;
    let addr = engine.addr("simple").await;
    // No MSH-9: the header is readable, so AE with the control id.
    let ack = send(addr, "MSH|^~\\&|LAB|LF|EHR|EF|20240101||\rPID|1\r").await;
    let m = Message::parse(ack.as_bytes()).unwrap();
    assert_eq!(m.get("MSA-1").unwrap().text(), "AE");
    assert!(m.get("ERR-7").unwrap().text().contains("MSH-9"), "{ack}");
    // Not HL7 at all: AR.
    assert_eq!(msa(&send(addr, "hello, is this the lab?").await).0, "AR");
    // Junk before a frame and a frame split across writes still work.
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let payload = message("SPLIT1", "ORU^R01");
    raw.write_all(b"garbage\r\n\x0b").await.unwrap();
    raw.write_all(&payload.as_bytes()[..20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    raw.write_all(&payload.as_bytes()[20..]).await.unwrap();
    raw.write_all(b"\x1c\r").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("MSA|AA|SPLIT1"));

    let errors = engine
        .engine
        .store
        .list(&MessageFilter {
            channel: Some("simple".into()),
            status: Some(MessageStatus::Error),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(errors.len(), 2, "both broken inputs are stored as ERROR");
    assert!(errors.iter().all(|e| e.error.is_some()));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_script_is_stopped_and_the_message_goes_to_error() {
    let text = SIMPLE_CHANNEL.replace(
        "{transform}",
        "[transform]\nscript = \"{dir}/loop.rhai\"\n[limits]\ntimeout_ms = 300\n",
    );
    let dir = tempfile::tempdir().unwrap();
    // The script must exist before the channel validates.
    let engine = {
        let script = dir.path().join("loop.rhai");
        std::fs::write(&script, "let x = 0;\nloop { x += 1; }\n").unwrap();
        TestEngine::start(&[(
            "looping",
            &text.replace("{dir}/loop.rhai", &script.display().to_string()),
        )])
        .await
    };
    let addr = engine.addr("looping").await;
    let started = Instant::now();
    let ack = send(addr, &message("LOOP1", "ORU^R01")).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let m = Message::parse(ack.as_bytes()).unwrap();
    assert_eq!(m.get("MSA-1").unwrap().text(), "AE");
    let stored = engine
        .engine
        .store
        .list(&MessageFilter {
            channel: Some("looping".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(stored[0].status, MessageStatus::Error);
    assert!(
        stored[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("transform"),
        "{:?}",
        stored[0].error
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_acknowledged_again_but_delivered_once() {
    let engine = TestEngine::start(&[("simple", &SIMPLE_CHANNEL.replace("{transform}", ""))]).await;
    let addr = engine.addr("simple").await;
    assert_eq!(msa(&send(addr, &message("DUP1", "ORU^R01")).await).0, "AA");
    assert_eq!(msa(&send(addr, &message("DUP1", "ORU^R01")).await).0, "AA");
    wait_for("one delivery", Duration::from_secs(5), || {
        files_in(&engine.path("out")).len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        files_in(&engine.path("out")).len(),
        1,
        "the duplicate was not delivered"
    );
    let all = engine
        .engine
        .store
        .list(&MessageFilter {
            channel: Some("simple".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2, "the duplicate is stored too");
    assert!(all.iter().any(|m| m.status == MessageStatus::Filtered
        && m.error.as_deref().unwrap_or("").contains("duplicate")));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_adds_changes_and_removes_channels() {
    let engine = TestEngine::start(&[]).await;
    let file = engine.path("channels/hot.toml");
    let text = SIMPLE_CHANNEL
        .replace("{transform}", "")
        .replace("{dir}", &engine.dir.path().display().to_string());
    std::fs::write(&file, &text).unwrap();
    let started = Instant::now();
    while !engine.engine.bound_addresses().await.contains_key("hot") {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a new channel file takes effect within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let addr = engine.addr("hot").await;
    assert_eq!(msa(&send(addr, &message("HOT1", "ORU^R01")).await).0, "AA");

    // An invalid edit keeps the running version.
    std::fs::write(&file, text.replace("type = \"file\"", "type = \"fiel\"")).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let still = engine.addr("hot").await;
    assert_eq!(msa(&send(still, &message("HOT2", "ORU^R01")).await).0, "AA");

    // Removing the file stops the channel.
    std::fs::remove_file(&file).unwrap();
    let started = Instant::now();
    while engine.engine.bound_addresses().await.contains_key("hot") {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a removed channel stops within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        MllpClient::connect(&still.to_string(), None).await.is_err(),
        "nothing listens any more"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_file_sources() {
    let http = r#"
[source]
type = "http"
listen = "127.0.0.1:0"
path = "/hl7"
[[destination]]
name = "archive"
type = "file"
directory = "{dir}/http_out"
"#;
    let file = r#"
[source]
type = "file"
directory = "{dir}/inbox"
glob = "*.hl7"
[[destination]]
name = "archive"
type = "file"
directory = "{dir}/file_out"
"#;
    let engine = TestEngine::start(&[("web", http), ("drop", file)]).await;
    let addr = engine.addr("web").await;
    let client = reqwest::Client::new();
    let reply = client
        .post(format!("http://{addr}/hl7"))
        .header("content-type", "application/hl7-v2")
        .body(message("WEB1", "ORU^R01"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.text().await.unwrap().contains("MSA|AA|WEB1"));
    let reply = client
        .post(format!("http://{addr}/hl7"))
        .header("content-type", "application/hl7-v2")
        .body("not hl7")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let reply = client
        .post(format!("http://{addr}/hl7"))
        .header("content-type", "application/json")
        .body(r#"{"resourceType":"Patient"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);

    let batch = ihub::hl7::build_batch(&[message("F1", "ORU^R01"), message("F2", "ORU^R01")], true);
    std::fs::write(engine.path("inbox/batch.hl7"), batch).unwrap();
    wait_for("the file to move to done/", Duration::from_secs(10), || {
        engine.path("inbox/done/batch.hl7").exists()
    })
    .await;
    wait_for("both messages delivered", Duration::from_secs(10), || {
        files_in(&engine.path("file_out")).len() == 2
    })
    .await;
    std::fs::write(engine.path("inbox/bad.hl7"), "this is not HL7").unwrap();
    wait_for(
        "the bad file to move to error/",
        Duration::from_secs(10),
        || engine.path("inbox/error/bad.hl7").exists(),
    )
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_shows_and_replays() {
    let engine = TestEngine::start(&[("simple", &SIMPLE_CHANNEL.replace("{transform}", ""))]).await;
    let addr = engine.addr("simple").await;
    assert_eq!(msa(&send(addr, &message("API1", "ORU^R01")).await).0, "AA");
    let api = engine.engine.api_addr().unwrap();
    let client = reqwest::Client::new();
    wait_for("delivery", Duration::from_secs(5), || {
        files_in(&engine.path("out")).len() == 1
    })
    .await;
    let channels: serde_json::Value = client
        .get(format!("http://{api}/api/channels"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels[0]["id"], "simple");
    assert_eq!(channels[0]["destinations"][0]["name"], "archive");
    // Every message stored, and by status: "received" is a message still in the pipeline
    // (this one was delivered, its attempt perhaps not yet recorded).
    let counts = &channels[0]["counts"];
    assert_eq!(counts["total"], 1);
    assert_eq!(counts["received"], 0);
    assert_eq!(
        counts["queued"].as_u64().unwrap() + counts["sent"].as_u64().unwrap(),
        1
    );
    let list: serde_json::Value = client
        .get(format!(
            "http://{api}/api/channels/simple/messages?control_id=API1"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list[0]["id"].as_u64().unwrap();
    let shown: serde_json::Value = client
        .get(format!("http://{api}/api/messages/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["destinations"][0]["status"], "sent");
    assert!(shown["raw"].as_str().unwrap().contains("API1"));
    let replay = client
        .post(format!("http://{api}/api/messages/{id}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    wait_for("the replayed delivery", Duration::from_secs(5), || {
        engine
            .engine
            .store
            .message(id)
            .unwrap()
            .unwrap()
            .destinations[0]
            .attempts
            .len()
            == 2
    })
    .await;
    let missing = client
        .get(format!("http://{api}/api/messages/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let stop = client
        .post(format!("http://{api}/api/channels/simple/stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 200);
    assert!(MllpClient::connect(&addr.to_string(), None).await.is_err());
    let start = client
        .post(format!("http://{api}/api/channels/simple/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 200);
    let metrics = client
        .get(format!("http://{api}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(metrics.status() == 200 || metrics.status() == 503);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_cli_resolve_parked_conflicts() {
    use serde_json::json;
    let engine = TestEngine::start(&[("simple", &SIMPLE_CHANNEL.replace("{transform}", ""))]).await;
    let api = engine.engine.api_addr().unwrap();
    let park = |key: &str| ihub::store::NewConflict {
        entity: "patient".into(),
        record_key: key.into(),
        base: None,
        local: json!({"name": "local"}),
        remote: json!({"name": "remote"}),
        fields: vec!["name".into()],
    };
    let a = engine
        .engine
        .store
        .park_conflict(park("MRN1"))
        .await
        .unwrap();
    let b = engine
        .engine
        .store
        .park_conflict(park("MRN2"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let reply = client.get(url).send().await.unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, open) = get(format!("http://{api}/api/conflicts")).await;
    assert_eq!(status, 200);
    assert_eq!(open.as_array().unwrap().len(), 2);
    assert_eq!(open[0]["record_key"], "MRN1");
    assert_eq!(open[0]["status"], "open");
    let (status, one) = get(format!("http://{api}/api/conflicts/{b}")).await;
    assert_eq!((status, &one["remote"]), (200, &json!({"name": "remote"})));
    let (status, missing) = get(format!("http://{api}/api/conflicts/999")).await;
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap().contains("999"));
    let (status, _) = get(format!("http://{api}/api/conflicts?status=nonsense")).await;
    assert_eq!(status, 400);

    let resolve = |id: u64, body: serde_json::Value| {
        let client = client.clone();
        async move {
            let reply = client
                .post(format!("http://{api}/api/conflicts/{id}/resolve"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, bad) = resolve(a, json!({"choose": "both"})).await;
    assert_eq!(status, 422);
    assert!(bad["error"].as_str().unwrap().contains("both"));
    assert_eq!(resolve(a, json!({})).await.0, 422);
    let (status, done) = resolve(a, json!({"choose": "local"})).await;
    assert_eq!(status, 200);
    assert_eq!(done["resolution"]["value"], json!({"name": "local"}));
    let (status, twice) = resolve(a, json!({"value": {"name": "x"}})).await;
    assert_eq!(status, 409);
    assert!(
        twice["error"]
            .as_str()
            .unwrap()
            .contains(&format!("conflict {a}"))
    );
    assert_eq!(resolve(999, json!({"choose": "local"})).await.0, 404);
    let (_, resolved) = get(format!("http://{api}/api/conflicts?status=resolved")).await;
    assert_eq!(resolved.as_array().unwrap().len(), 1);

    // The CLI, against this engine: list shows the open one, resolve takes a value file.
    let ihub = move |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ihub"))
            .args(args)
            .args(["--api", &api.to_string()])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, listed, _) = tokio::task::spawn_blocking(move || ihub(&["conflicts", "list"]))
        .await
        .unwrap();
    assert!(ok);
    assert!(
        listed.contains("MRN2") && !listed.contains("MRN1"),
        "{listed}"
    );
    let file = engine.path("merged.json");
    std::fs::write(&file, r#"{"name": "merged"}"#).unwrap();
    let file_arg = file.display().to_string();
    let (ok, shown, _) = tokio::task::spawn_blocking(move || {
        ihub(&[
            "conflicts",
            "resolve",
            &b.to_string(),
            "--value-file",
            &file_arg,
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{shown}");
    assert_eq!(
        engine
            .engine
            .store
            .conflict(b)
            .unwrap()
            .unwrap()
            .resolution
            .unwrap()
            .value,
        json!({"name": "merged"})
    );
    let (ok, _, error) = tokio::task::spawn_blocking(move || {
        ihub(&["conflicts", "resolve", &b.to_string(), "--choose", "remote"])
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(error.contains("already resolved"), "{error}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_with_mutual_tls() {
    let certs = tempfile::tempdir().unwrap();
    let script = certs.path().join("make-dev-certs.sh");
    std::fs::copy("certs/make-dev-certs.sh", &script).unwrap();
    match std::process::Command::new("bash").arg(&script).output() {
        Ok(out) if out.status.success() => {}
        other => {
            println!("skipped: certs/make-dev-certs.sh could not make certificates: {other:?}");
            return;
        }
    }
    let c = |name: &str| certs.path().join(name).display().to_string();
    let channel = format!(
        r#"
[source]
type = "mllp"
listen = "127.0.0.1:0"
tls = {{ cert = "{}", key = "{}", client_ca = "{}" }}
[[destination]]
name = "archive"
type = "file"
directory = "{{dir}}/out"
"#,
        c("server.crt"),
        c("server.key"),
        c("ca.crt")
    );
    let engine = TestEngine::start(&[("secure", &channel)]).await;
    let addr = engine.addr("secure").await.to_string();
    let tls =
        ihub::mllp::TlsClientConfig::mutual(c("ca.crt"), c("client.crt"), c("client.key")).unwrap();
    let mut client = MllpClient::connect(&addr, Some(tls)).await.unwrap();
    let ack = client
        .send(
            message("TLS1", "ORU^R01").as_bytes(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        msa(&String::from_utf8_lossy(&ack)),
        ("AA".into(), "TLS1".into())
    );
    let plain = ihub::mllp::TlsClientConfig::from_ca_pem(c("ca.crt")).unwrap();
    let refused = match MllpClient::connect(&addr, Some(plain)).await {
        Err(_) => true,
        Ok(mut c) => c
            .send(
                message("TLS2", "ORU^R01").as_bytes(),
                Duration::from_secs(5),
            )
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client without a certificate must not get an ACK"
    );
    let plain_tcp = MllpClient::connect(&addr, None).await;
    if let Ok(mut c) = plain_tcp {
        assert!(
            c.send(
                message("TLS3", "ORU^R01").as_bytes(),
                Duration::from_secs(5)
            )
            .await
            .is_err(),
            "plain TCP gets no ACK"
        );
    }
    let stored = engine
        .engine
        .store
        .list(&MessageFilter {
            channel: Some("secure".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        stored.len(),
        1,
        "only the authenticated message was accepted"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_messages_and_destination_transforms_reach_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let channel_script = dir.path().join("split.rhai");
    std::fs::write(
        &channel_script,
        "for obx in msg.segments(\"OBX\") {\n  let part = hl7::parse(msg.to_string());\n  part.set(\"MSH-10\", `${msg.control_id}-${obx.index}`);\n  emit(part);\n}\ndrop(\"split\");\n",
    )
    .unwrap();
    let only_first = dir.path().join("only_first.rhai");
    std::fs::write(
        &only_first,
        "if !msg.control_id.ends_with(\"-1\") { drop(\"only the first part\"); }\nmsg.set(\"MSH-5\", \"FIRST\");\n",
    )
    .unwrap();
    let text = format!(
        r#"
[source]
type = "mllp"
listen = "127.0.0.1:0"
[transform]
script = "{split}"
[[destination]]
name = "all"
type = "file"
directory = "{{dir}}/all"
filename = "{{control_id}}.hl7"
[[destination]]
name = "first"
type = "file"
directory = "{{dir}}/first"
filename = "{{control_id}}.hl7"
transform = {{ script = "{first}" }}
"#,
        split = channel_script.display(),
        first = only_first.display()
    );
    let engine = TestEngine::start(&[("split", &text)]).await;
    let addr = engine.addr("split").await;
    let two_results = message("SPL1", "ORU^R01") + "OBX|2|NM|K^Potassium||4.1|mmol/L\r";
    assert_eq!(
        msa(&send(addr, &two_results).await),
        ("AA".into(), "SPL1".into())
    );
    wait_for(
        "both parts in all/, one in first/",
        Duration::from_secs(10),
        || files_in(&engine.path("all")).len() == 2 && files_in(&engine.path("first")).len() == 1,
    )
    .await;
    let first = std::fs::read_to_string(engine.path("first/SPL1-1.hl7")).unwrap();
    assert_eq!(
        Message::parse(first.as_bytes())
            .unwrap()
            .get("MSH-5")
            .unwrap()
            .text(),
        "FIRST"
    );
    let all = std::fs::read_to_string(engine.path("all/SPL1-2.hl7")).unwrap();
    assert_eq!(
        Message::parse(all.as_bytes())
            .unwrap()
            .get("MSH-5")
            .unwrap()
            .text(),
        "EHR"
    );
    engine.stop().await;
}

const BLOCKED_ARCHIVE: &str = r#"
[source]
type = "mllp"
listen = "127.0.0.1:0"
ack = "original"
[[destination]]
name = "archive"
type = "file"
directory = "{dir}/out"
retry = { attempts = 50, initial_backoff_secs = 1, max_backoff_secs = 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_destination_catches_up_on_a_backlog_in_batches_and_in_order() {
    let engine = TestEngine::start(&[("archive", BLOCKED_ARCHIVE)]).await;
    // A plain file where the directory should be: every write fails until it is removed.
    let out = engine.path("out");
    std::fs::write(&out, b"in the way").unwrap();
    let addr = engine.addr("archive").await;
    let ids: Vec<String> = (1..=150).map(|i| format!("BATCH{i}")).collect();
    for id in &ids {
        assert_eq!(msa(&send(addr, &message(id, "ORU^R01")).await).0, "AA");
    }
    std::fs::remove_file(&out).unwrap();
    let store = &engine.engine.store;
    // A batch's files appear before its attempts are recorded: wait for both.
    wait_for(
        "the backlog to be written and recorded",
        Duration::from_secs(20),
        || {
            files_in(&out).len() >= ids.len()
                && store
                    .queue_stats("archive", "archive")
                    .is_ok_and(|stats| stats.depth == 0)
        },
    )
    .await;
    let mut batch_times = std::collections::BTreeSet::new();
    for (index, id) in ids.iter().enumerate() {
        let message_id = index as u64 + 1;
        let file = std::fs::read_to_string(out.join(format!("{message_id}.hl7"))).unwrap();
        assert!(file.contains(id.as_str()), "{message_id}.hl7 holds {id}");
        let stored = store.message(message_id).unwrap().unwrap();
        let archive = &stored.destinations[0];
        assert_eq!(archive.status, DeliveryStatus::Sent, "message {message_id}");
        let last = archive.attempts.last().unwrap();
        assert!(last.ok, "message {message_id}: {:?}", archive.attempts);
        if message_id == 1 {
            assert!(
                !archive.attempts[0].ok,
                "the head's failed attempts are recorded"
            );
        } else {
            // Ordered: nothing behind the failing head was tried before it went through.
            assert_eq!(archive.attempts.len(), 1, "message {message_id}");
        }
        batch_times.insert(last.at_ms);
    }
    // Messages written in one batch share their attempt's start time.
    assert!(
        batch_times.len() <= 10,
        "150 files took {} steps; expected a few batches",
        batch_times.len()
    );
    engine.stop().await;
}
