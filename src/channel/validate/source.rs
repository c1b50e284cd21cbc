//! The `[source]` table: MLLP, HTTP and file sources, with their defaults and the server TLS
//! files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::address::listen_address;
use super::files::existing_file;
use crate::channel::config::{
    DEFAULT_GLOB, DEFAULT_HTTP_PATH, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_POLL_INTERVAL_SECS, DEFAULT_READ_TIMEOUT_SECS,
    FileSourceConfig, HttpSourceConfig, MllpSourceConfig, ServerTlsConfig, SourceConfig,
};
use crate::channel::diagnostic::Severity;
use crate::channel::load::{FileCx, Site, same_dir};
use crate::channel::spec::{
    AckMode, FileSourceSpec, HttpSourceSpec, MllpSourceSpec, ServerTlsSpec, SourceSpec,
};
use crate::channel::validate_scripts::to_usize;

pub(in crate::channel) fn secs(v: Option<std::num::NonZeroU64>, default: u64) -> Duration {
    Duration::from_secs(v.map_or(default, |n| n.get()))
}

pub(super) fn source(
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
