//! From [`ChannelConfig`] to [`ChannelSpec`]: the rules serde cannot express (addresses that
//! parse, files that exist, scripts that compile, names that are unique, ranges that make
//! sense), each reported at the offending key, and the defaults filled in.
//!
//! Every check runs even after an earlier one failed, so one pass shows every problem; the
//! spec is built only when the file has no error at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::config::{
    ChannelConfig, DEFAULT_DUPLICATE_WINDOW_SECS, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_GLOB,
    DEFAULT_HTTP_PATH, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_KEEP_DAYS, DEFAULT_KEEP_ERROR_DAYS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_POLL_INTERVAL_SECS,
    DEFAULT_READ_TIMEOUT_SECS, DurabilityMode, FileSourceConfig, HttpSourceConfig,
    MAX_FLUSH_INTERVAL_MS, MllpSourceConfig, ServerTlsConfig, SourceConfig,
};
use super::diagnostic::{Diagnostic, Severity};
use super::load::{FileCx, Seen, Site, same_dir};
use super::spec::{
    AckMode, ChannelId, ChannelSpec, DAY, DuplicateAction, DuplicatesSpec, Durability,
    FileSourceSpec, HttpSourceSpec, MllpSourceSpec, PruneSpec, ServerTlsSpec, SourceSpec,
};
use super::suggest::did_you_mean;
use super::validate_scripts::{self, to_usize};

/// What validation produced: the spec when the file is clean, and what the cross-file
/// checks need even when it is not.
pub(crate) struct Built {
    /// The channel, when the file had no error.
    pub spec: Option<ChannelSpec>,
    /// `enabled` (default true).
    pub enabled: bool,
    /// The source's listen address, when it parsed.
    pub listen: Option<Site<SocketAddr>>,
    /// A file source's folder.
    pub polled: Option<Site<PathBuf>>,
}

/// Checks `config` and builds the spec when no error was found in this file.
pub(crate) fn build(
    cx: &mut FileCx<'_>,
    id: Option<ChannelId>,
    config: ChannelConfig,
    seen: Seen,
) -> Built {
    let enabled = config.enabled.unwrap_or(true);
    let durability = durability(cx, &config);
    let duplicates = duplicates(cx, &config);
    let prune = prune(cx, &config);
    let limits = validate_scripts::limits(cx, &config);

    let mut listen = None;
    let mut polled = None;
    let source = match &config.source {
        Some(source) => self::source(cx, source, &mut listen, &mut polled),
        None => {
            if !seen.source {
                cx.push(
                    Diagnostic::file_level(
                        cx.file,
                        Severity::Error,
                        "missing required table [source]",
                    )
                    .with_help(
                        "add [source] with type = \"mllp\" and listen = \"127.0.0.1:2575\", \
                         for example",
                    ),
                );
            }
            None
        }
    };

    let engine = validate_scripts::engine(cx, &config, id.as_ref(), &limits);
    let filter = match (&config.filter, &engine) {
        (Some(f), Some(engine)) => validate_scripts::filter(cx, &f.accept, engine),
        _ => None,
    };
    let transform = match (&config.transform, &engine) {
        (Some(t), Some(engine)) => validate_scripts::transform(cx, t, None, "[transform]", engine),
        _ => None,
    }
    .unwrap_or_default();

    let destinations =
        super::validate_destination::destinations(cx, &config, seen, engine.as_ref());

    let has_errors = cx.diagnostics.iter().any(Diagnostic::is_error);
    let spec = match (id, source, destinations) {
        (Some(id), Some(source), Some(destinations)) if !has_errors => {
            let warnings = cx.diagnostics.clone();
            Some(ChannelSpec {
                id,
                file: cx.file.to_path_buf(),
                description: config.description.unwrap_or_default(),
                enabled,
                durability,
                source,
                filter,
                transform: transform.script,
                mapping: transform.mapping,
                destinations,
                duplicates,
                prune,
                limits,
                warnings,
            })
        }
        _ => None,
    };
    Built {
        spec,
        enabled,
        listen,
        polled,
    }
}

fn durability(cx: &mut FileCx<'_>, config: &ChannelConfig) -> Durability {
    let mode = config
        .durability
        .as_ref()
        .map_or(DurabilityMode::Sync, |d| *d.get_ref());
    let interval = config.flush_interval_ms.as_ref();
    if let Some(ms) = interval {
        if mode == DurabilityMode::Sync {
            cx.warning(
                ms.span(),
                "`flush_interval_ms` has no effect unless durability = \"interval\"",
            );
        } else if ms.get_ref().get() > MAX_FLUSH_INTERVAL_MS {
            cx.error_help(
                ms.span(),
                format!(
                    "`flush_interval_ms` is {}, more than the maximum {MAX_FLUSH_INTERVAL_MS}",
                    ms.get_ref()
                ),
                "a crash can lose up to this much acknowledged traffic; keep it short",
            );
        }
    }
    match mode {
        DurabilityMode::Sync => Durability::Sync,
        DurabilityMode::Interval => Durability::Interval {
            flush_interval: Duration::from_millis(
                interval.map_or(DEFAULT_FLUSH_INTERVAL_MS, |ms| ms.get_ref().get()),
            ),
        },
    }
}

fn duplicates(cx: &mut FileCx<'_>, config: &ChannelConfig) -> DuplicatesSpec {
    let raw = config.duplicates.clone().unwrap_or_default();
    let window_secs = raw.window_secs.unwrap_or(DEFAULT_DUPLICATE_WINDOW_SECS);
    if let (0, Some(action)) = (window_secs, &raw.action) {
        cx.warning(
            action.span(),
            "`action` has no effect: duplicate detection is off (window_secs = 0)",
        );
    }
    DuplicatesSpec {
        window: (window_secs > 0).then(|| Duration::from_secs(window_secs)),
        action: raw.action.map_or(DuplicateAction::Ack, Spanned::into_inner),
    }
}

fn prune(cx: &mut FileCx<'_>, config: &ChannelConfig) -> PruneSpec {
    let raw = config.prune.clone().unwrap_or_default();
    let keep_days = raw
        .keep_days
        .as_ref()
        .map_or(DEFAULT_KEEP_DAYS, |d| *d.get_ref());
    let keep_error_days = raw
        .keep_error_days
        .as_ref()
        .map_or(DEFAULT_KEEP_ERROR_DAYS, |d| *d.get_ref());
    // Errors are what an analyst comes back to; pruning them before ordinary messages is
    // allowed but almost certainly not meant.
    let errors_go_first = keep_error_days > 0 && (keep_days == 0 || keep_error_days < keep_days);
    if errors_go_first {
        let span = raw
            .keep_error_days
            .as_ref()
            .or(raw.keep_days.as_ref())
            .map(Spanned::span);
        let message = format!(
            "messages in ERROR are kept {keep_error_days} days, less than other messages \
             ({}): errors would be pruned first",
            if keep_days == 0 {
                "no limit".to_owned()
            } else {
                format!("{keep_days} days")
            }
        );
        match span {
            Some(span) => cx.warning(span, message),
            None => cx.push(Diagnostic::file_level(cx.file, Severity::Warning, message)),
        }
    }
    let days = |d: u32| (d > 0).then(|| DAY * d);
    PruneSpec {
        keep_for: days(keep_days),
        keep_messages: raw.keep_messages.filter(|n| *n > 0),
        keep_errors_for: days(keep_error_days),
    }
}

pub(super) fn secs(v: Option<std::num::NonZeroU64>, default: u64) -> Duration {
    Duration::from_secs(v.map_or(default, |n| n.get()))
}

fn source(
    cx: &mut FileCx<'_>,
    source: &Spanned<SourceConfig>,
    listen: &mut Option<Site<SocketAddr>>,
    polled: &mut Option<Site<PathBuf>>,
) -> Option<SourceSpec> {
    match source.get_ref() {
        SourceConfig::Mllp(m) => mllp_source(cx, m, listen).map(SourceSpec::Mllp),
        SourceConfig::Http(h) => http_source(cx, h, listen).map(SourceSpec::Http),
        SourceConfig::File(f) => file_source(cx, f, polled).map(SourceSpec::File),
    }
}

fn mllp_source(
    cx: &mut FileCx<'_>,
    m: &MllpSourceConfig,
    site: &mut Option<Site<SocketAddr>>,
) -> Option<MllpSourceSpec> {
    let listen = listen_address(cx, &m.listen, site);
    let tls = match &m.tls {
        Some(tls) => Some(server_tls(cx, tls)?),
        None => None,
    };
    Some(MllpSourceSpec {
        listen: listen?,
        ack: m.ack.unwrap_or(AckMode::Original),
        tls,
        max_connections: to_usize(
            m.max_connections
                .map_or(DEFAULT_MAX_CONNECTIONS, |n| n.get()),
        ),
        max_message_bytes: to_usize(
            m.max_message_bytes
                .map_or(DEFAULT_MAX_MESSAGE_BYTES, |n| n.get()),
        ),
        idle_timeout: secs(m.idle_timeout_secs, DEFAULT_IDLE_TIMEOUT_SECS),
        read_timeout: secs(m.read_timeout_secs, DEFAULT_READ_TIMEOUT_SECS),
    })
}

fn server_tls(cx: &mut FileCx<'_>, tls: &ServerTlsConfig) -> Option<ServerTlsSpec> {
    let cert = existing_file(cx, &tls.cert, "certificate");
    let key = existing_file(cx, &tls.key, "private key");
    let client_ca = match &tls.client_ca {
        Some(ca) => Some(existing_file(cx, ca, "client CA certificate")?),
        None => None,
    };
    Some(ServerTlsSpec {
        cert: cert?,
        key: key?,
        client_ca,
    })
}

fn http_source(
    cx: &mut FileCx<'_>,
    h: &HttpSourceConfig,
    site: &mut Option<Site<SocketAddr>>,
) -> Option<HttpSourceSpec> {
    let listen = listen_address(cx, &h.listen, site);
    let path = match &h.path {
        Some(p) => {
            let text = p.get_ref();
            if !text.starts_with('/') {
                cx.error_help(
                    p.span(),
                    format!("`path` must start with `/`: \"{text}\""),
                    format!("did you mean \"/{text}\"?"),
                );
                None
            } else if text.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
                cx.error(
                    p.span(),
                    "`path` may not contain spaces, `?` or `#`: it is matched as a plain path",
                );
                None
            } else {
                Some(text.clone())
            }
        }
        None => Some(DEFAULT_HTTP_PATH.to_owned()),
    };
    Some(HttpSourceSpec {
        listen: listen?,
        path: path?,
        max_body_bytes: to_usize(
            h.max_body_bytes
                .map_or(DEFAULT_MAX_MESSAGE_BYTES, |n| n.get()),
        ),
    })
}

fn file_source(
    cx: &mut FileCx<'_>,
    f: &FileSourceConfig,
    site: &mut Option<Site<PathBuf>>,
) -> Option<FileSourceSpec> {
    let directory = PathBuf::from(f.directory.get_ref());
    if f.directory.get_ref().is_empty() {
        cx.error(f.directory.span(), "`directory` is empty");
        return None;
    }
    *site = Some(Site {
        value: directory.clone(),
        at: cx.at(f.directory.span(), Severity::Error, ""),
    });
    let glob = match &f.glob {
        Some(g) => {
            let text = g.get_ref();
            if text.is_empty() || text.contains(['/', '\\']) {
                cx.error(
                    g.span(),
                    "`glob` must be a file name pattern such as \"*.hl7\" (no folders)",
                );
                None
            } else if text.contains(['[', ']', '{', '}']) {
                cx.error(g.span(), "`glob` supports only the wildcards `*` and `?`");
                None
            } else {
                Some(text.clone())
            }
        }
        None => Some(DEFAULT_GLOB.to_owned()),
    };
    let side_directory = |cx: &mut FileCx<'_>, v: &Option<Spanned<String>>, default: &str| {
        let Some(v) = v else {
            return Some(directory.join(default));
        };
        let path = PathBuf::from(v.get_ref());
        if same_dir(&path, &directory) {
            cx.error(
                v.span(),
                format!("`{default}_directory` must differ from `directory`"),
            );
            return None;
        }
        Some(path)
    };
    let done_directory = side_directory(cx, &f.done_directory, "done");
    let error_directory = side_directory(cx, &f.error_directory, "error");
    Some(FileSourceSpec {
        directory,
        glob: glob?,
        poll_interval: secs(f.poll_interval_secs, DEFAULT_POLL_INTERVAL_SECS),
        done_directory: done_directory?,
        error_directory: error_directory?,
    })
}

/// Parses a listen address (`IP:PORT`), with hints for the usual near-misses.
fn listen_address(
    cx: &mut FileCx<'_>,
    listen: &Spanned<String>,
    site: &mut Option<Site<SocketAddr>>,
) -> Option<SocketAddr> {
    let text = listen.get_ref().trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        *site = Some(Site {
            value: addr,
            at: cx.at(listen.span(), Severity::Error, ""),
        });
        return Some(addr);
    }
    let help = if let Ok(port) = text.parse::<u16>() {
        format!(
            "did you mean \"0.0.0.0:{port}\" (all interfaces) or \"127.0.0.1:{port}\" \
             (this machine only)?"
        )
    } else {
        match text.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                "the port must be a number from 0 to 65535".to_owned()
            }
            Some(("localhost", port)) => format!("did you mean \"127.0.0.1:{port}\"?"),
            Some((_, port)) => format!(
                "a listen address takes an IP address, not a host name: \"0.0.0.0:{port}\" \
                 listens on all interfaces"
            ),
            None => "write IP:PORT, e.g. \"127.0.0.1:2575\"".to_owned(),
        }
    };
    cx.error_help(
        listen.span(),
        format!("invalid listen address \"{text}\": expected IP:PORT"),
        help,
    );
    None
}

/// Checks an outbound `HOST:PORT`.
pub(super) fn endpoint(cx: &mut FileCx<'_>, endpoint: &Spanned<String>) -> Option<String> {
    let text = endpoint.get_ref().trim();
    let problem: Option<(String, String)> = if let Some((scheme, rest)) = text.split_once("://") {
        Some((
            format!("`endpoint` takes HOST:PORT, not a URL (`{scheme}://`)"),
            format!("did you mean \"{}\"?", rest.trim_end_matches('/')),
        ))
    } else if let Ok(addr) = text.parse::<SocketAddr>() {
        (addr.port() == 0).then(|| {
            (
                format!("invalid endpoint \"{text}\": port 0"),
                "the port must be a number from 1 to 65535".to_owned(),
            )
        })
    } else {
        match text.rsplit_once(':') {
            None => Some((
                format!("invalid endpoint \"{text}\": expected HOST:PORT"),
                format!("did you mean \"{text}:6661\"? (6661 is only an example)"),
            )),
            Some((host, port)) => {
                let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
                let host_ok = !host.is_empty()
                    && !host.contains(|c: char| c.is_whitespace() || "/:[]@".contains(c));
                if !port_ok {
                    Some((
                        format!("invalid endpoint \"{text}\": bad port \"{port}\""),
                        "the port must be a number from 1 to 65535".to_owned(),
                    ))
                } else if !host_ok {
                    Some((
                        format!("invalid endpoint \"{text}\": bad host \"{host}\""),
                        "write a host name or IP, and IPv6 in brackets: \"[::1]:6661\"".to_owned(),
                    ))
                } else {
                    None
                }
            }
        }
    };
    match problem {
        Some((message, help)) => {
            cx.error_help(endpoint.span(), message, help);
            None
        }
        None => Some(text.to_owned()),
    }
}

/// A file that must exist (relative paths against the working directory).
pub(crate) fn existing_file(
    cx: &mut FileCx<'_>,
    path: &Spanned<String>,
    what: &str,
) -> Option<PathBuf> {
    let p = PathBuf::from(path.get_ref());
    if p.is_file() {
        return Some(p);
    }
    if p.is_dir() {
        cx.error(
            path.span(),
            format!("{what} {} is a folder, not a file", p.display()),
        );
        return None;
    }
    let help = match nearby_file(&p) {
        Some(hit) => format!("did you mean {}?", hit.display()),
        None => {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
            match parent {
                Some(dir) if !dir.is_dir() => format!(
                    "the folder {} does not exist; relative paths start at the working \
                     directory ihub runs in",
                    dir.display()
                ),
                _ => "relative paths start at the working directory ihub runs in".to_owned(),
            }
        }
    };
    cx.error_help(
        path.span(),
        format!("{what} not found: {}", p.display()),
        help,
    );
    None
}

/// The file in `path`'s folder whose name is closest to `path`'s.
fn nearby_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let entries = std::fs::read_dir(dir.unwrap_or(Path::new("."))).ok()?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    // Directory order differs between machines; sort so the hint is deterministic.
    names.sort();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let hit = did_you_mean(name, &refs)?;
    Some(match dir {
        Some(d) => d.join(hit),
        None => PathBuf::from(hit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::load::check_text;
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
                .any(|m| m
                    .contains("CA certificate not found: Cargo.tom [did you mean Cargo.toml?]")),
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
}
