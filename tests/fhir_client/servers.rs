//! Starts the project's test servers (`tests/servers/*.mjs`) once per test run: the FHIR server
//! with SMART checks and the OAuth server, on free loopback ports, with client keys made by
//! `openssl` in a scratch directory. Tests that need them skip, with the reason printed, when
//! `IHUB_TEST_SERVERS_DIR` (the `npm ci` of `tests/servers/`), Node 22 or openssl is missing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to say `ready`: Medplum indexes all R4 definitions at start
/// (2–5 s on an idle 2-core machine; more while cargo builds next to it).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The client id registered at the OAuth server.
pub const CLIENT_ID: &str = "ihub";

/// The running servers and the key files a SMART client signs with.
pub struct Servers {
    /// `http://127.0.0.1:PORT/fhir/R4`.
    pub fhir_base: String,
    /// `http://127.0.0.1:PORT/token`.
    pub token_endpoint: String,
    /// RSA private key (PKCS#8 PEM), registered with kid `ihub-rs384`.
    pub rs384_key: PathBuf,
    /// P-384 private key (PKCS#8 PEM), registered with kid `ihub-es384`.
    pub es384_key: PathBuf,
    /// An RSA key the OAuth server does not know (registered under no kid).
    pub unknown_key: PathBuf,
    _processes: Vec<ServerProcess>,
}

/// A child server, killed when dropped. Its stdin is a pipe the server watches: if this test
/// process dies without dropping it, the pipe closes and the server exits by itself.
pub struct ServerProcess {
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why the servers are not running: a missing prerequisite (skip) or a failure (the test fails).
enum NotRunning {
    Skip(String),
    Failed(String),
}

/// The shared servers, started on first use; `None` (after printing why) when a prerequisite
/// is missing. Panics when everything is installed but a server does not start.
pub fn servers() -> Option<&'static Servers> {
    static SERVERS: OnceLock<Result<Servers, NotRunning>> = OnceLock::new();
    let state = SERVERS.get_or_init(|| {
        let (node, modules) = prerequisites().map_err(NotRunning::Skip)?;
        start(&node, &modules).map_err(NotRunning::Failed)
    });
    match state {
        Ok(servers) => Some(servers),
        Err(NotRunning::Skip(reason)) => {
            eprintln!("skipped: {reason}");
            None
        }
        Err(NotRunning::Failed(reason)) => panic!("test servers: {reason}"),
    }
}

/// Node 22 and the installed packages, or why not.
fn prerequisites() -> Result<(PathBuf, PathBuf), String> {
    let installed = std::env::var_os("IHUB_TEST_SERVERS_DIR")
        .map(PathBuf::from)
        .ok_or("IHUB_TEST_SERVERS_DIR is not set (npm ci of tests/servers/)")?;
    let modules = installed.join("node_modules");
    if !modules.is_dir() {
        return Err(format!("{} does not exist", modules.display()));
    }
    let node = find_node(&modules)?;
    run(Command::new("openssl").arg("version")).map_err(|e| format!("openssl: {e}"))?;
    Ok((node, modules))
}

fn start(node: &Path, modules: &Path) -> Result<Servers, String> {
    // A fixed scratch directory under target/, emptied first: the static servers are never
    // dropped, so a temporary directory would never be removed.
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhir_client_servers");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    // The scripts resolve their packages from the directory they are in.
    std::os::unix::fs::symlink(modules, scratch.join("node_modules")).map_err(|e| e.to_string())?;
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers");
    for script in ["fhir_server.mjs", "oauth_server.mjs", "package.json"] {
        std::fs::copy(sources.join(script), scratch.join(script))
            .map_err(|e| format!("copy {script}: {e}"))?;
    }

    let rs384_key = make_key(
        &scratch,
        "rs384",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    )?;
    let es384_key = make_key(
        &scratch,
        "es384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    )?;
    let unknown_key = make_key(
        &scratch,
        "unknown",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    )?;
    let public = |name: &str| std::fs::read_to_string(scratch.join(format!("{name}.pub.pem")));
    let clients = serde_json::json!([{ "client_id": CLIENT_ID, "keys": [
        { "kid": "ihub-rs384", "alg": "RS384", "public_key_pem": public("rs384").map_err(|e| e.to_string())? },
        { "kid": "ihub-es384", "alg": "ES384", "public_key_pem": public("es384").map_err(|e| e.to_string())? },
    ]}]);
    let clients_file = scratch.join("clients.json");
    std::fs::write(&clients_file, clients.to_string()).map_err(|e| e.to_string())?;

    let (fhir_port, oauth_port) = (free_port()?, free_port()?);
    let fhir_base = format!("http://127.0.0.1:{fhir_port}/fhir/R4");
    let issuer = format!("http://127.0.0.1:{oauth_port}");
    let started = Instant::now();
    let oauth = spawn(
        node,
        &scratch,
        "oauth_server.mjs",
        &[
            ("OAUTH_PORT", oauth_port.to_string()),
            ("OAUTH_AUDIENCE", fhir_base.clone()),
            ("OAUTH_CLIENTS_FILE", clients_file.display().to_string()),
        ],
    )?;
    let fhir = spawn(
        node,
        &scratch,
        "fhir_server.mjs",
        &[
            ("FHIR_PORT", fhir_port.to_string()),
            ("FHIR_AUTH", "smart".into()),
            ("OAUTH_ISSUER", issuer.clone()),
        ],
    )?;
    let (oauth, oauth_ready) = oauth;
    let (fhir, fhir_ready) = fhir;
    wait_ready(&oauth_ready, "oauth_server.mjs", &scratch)?;
    wait_ready(&fhir_ready, "fhir_server.mjs", &scratch)?;
    eprintln!("test servers ready in {} ms", started.elapsed().as_millis());
    Ok(Servers {
        fhir_base,
        token_endpoint: format!("{issuer}/token"),
        rs384_key,
        es384_key,
        unknown_key,
        _processes: vec![oauth, fhir],
    })
}

/// Node 22 from the `node` npm package in the install, else `IHUB_NODE`, else `node` on PATH.
fn find_node(modules: &Path) -> Result<PathBuf, String> {
    let bundled = modules.join("node/bin/node");
    let node = if bundled.is_file() {
        bundled
    } else {
        std::env::var_os("IHUB_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from)
    };
    let version = run(Command::new(&node).arg("--version")).map_err(|e| format!("node: {e}"))?;
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 22 {
        return Err(format!(
            "{} is Node {}, oidc-provider needs 22 or later",
            node.display(),
            version.trim()
        ));
    }
    Ok(node)
}

/// `openssl genpkey` into `<name>.pem` (PKCS#8) and the public half into `<name>.pub.pem`.
pub fn make_key(dir: &Path, name: &str, args: &[&str]) -> Result<PathBuf, String> {
    let private = dir.join(format!("{name}.pem"));
    run(Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&private))?;
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(dir.join(format!("{name}.pub.pem"))))?;
    Ok(private)
}

fn run(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A port that was free a moment ago (the servers need each other's URL before they start).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts `node script` with `env`, stderr to `<script>.log`; the receiver gets its `ready` line.
fn spawn(
    node: &Path,
    dir: &Path,
    script: &str,
    env: &[(&str, String)],
) -> Result<(ServerProcess, mpsc::Receiver<String>), String> {
    let log =
        std::fs::File::create(dir.join(format!("{script}.log"))).map_err(|e| e.to_string())?;
    let mut child = Command::new(node)
        .arg(script)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {script}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stdin = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("ready ") {
                let _ = tx.send(line);
            }
        }
    });
    Ok((
        ServerProcess {
            child,
            _stdin: stdin,
        },
        rx,
    ))
}

fn wait_ready(ready: &mpsc::Receiver<String>, script: &str, dir: &Path) -> Result<(), String> {
    ready.recv_timeout(READY_TIMEOUT).map(drop).map_err(|_| {
        let log = std::fs::read_to_string(dir.join(format!("{script}.log"))).unwrap_or_default();
        format!("{script} did not start within {READY_TIMEOUT:?}; its log:\n{log}")
    })
}
