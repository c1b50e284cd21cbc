//! Checks of the `[[destination]]` tables of a channel file (names, kinds, retry, TLS, file
//! name templates) and building their specs; the FHIR destination's own checks are in
//! `validate_fhir`. Split from `validate` so each file keeps one part of the channel file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::config::{
    ChannelConfig, ClientTlsConfig, DEFAULT_ACK_TIMEOUT_SECS, DEFAULT_FILENAME,
    DEFAULT_HTTP_TIMEOUT_SECS, DEFAULT_INITIAL_BACKOFF_SECS, DEFAULT_MAX_BACKOFF_SECS,
    DEFAULT_RETRY_ATTEMPTS, DestinationConfig, DestinationKindConfig, FILENAME_PLACEHOLDERS,
    FileDestinationConfig, HttpDestinationConfig, MllpDestinationConfig, RetryConfig,
};
use super::diagnostic::{Diagnostic, Severity};
use super::load::{FileCx, Seen, one_of};
use super::spec::{
    CertKeyPair, ClientTlsSpec, DestinationKind, DestinationSpec, FileDestinationSpec,
    HttpDestinationSpec, HttpMethod, MllpDestinationSpec, RetrySpec, is_valid_name,
};
use super::suggest::did_you_mean;
use super::validate::{endpoint, existing_file, secs};
use super::validate_scripts::{self};
use crate::script::ScriptEngine;

pub(super) fn destinations(
    cx: &mut FileCx<'_>,
    config: &ChannelConfig,
    seen: Seen,
    engine: Option<&Arc<ScriptEngine>>,
) -> Option<Vec<DestinationSpec>> {
    if seen.destinations == 0 {
        cx.push(
            Diagnostic::file_level(
                cx.file,
                Severity::Warning,
                "no [[destination]]: messages are stored and never delivered",
            )
            .with_help("add a [[destination]], or set enabled = false until there is one"),
        );
    }
    let has_transform = config.transform.is_some();
    let mut names: Vec<&Spanned<String>> = Vec::new();
    let mut out = Some(Vec::new());
    for d in &config.destination {
        let name = &d.get_ref().common.name;
        let mut ok = true;
        if !is_valid_name(name.get_ref()) {
            ok = false;
            let slug = slug(name.get_ref());
            let mut diag = cx.at(
                name.span(),
                Severity::Error,
                format!(
                    "destination name \"{}\" may only contain a-z, 0-9, `_` and `-`",
                    name.get_ref()
                ),
            );
            if !slug.is_empty() {
                diag = diag.with_help(format!("did you mean \"{slug}\"?"));
            }
            cx.push(diag);
        } else if let Some(first) = names.iter().find(|n| n.get_ref() == name.get_ref()) {
            ok = false;
            let line = cx.at(first.span(), Severity::Error, "").line;
            cx.error_help(
                name.span(),
                format!(
                    "destination name \"{}\" is used twice (first on line {line})",
                    name.get_ref()
                ),
                "each destination needs its own name: it names its queue",
            );
        }
        names.push(name);
        let built = destination(cx, d, has_transform, engine);
        match (built, out.as_mut()) {
            (Some(spec), Some(list)) if ok => list.push(spec),
            _ => out = None,
        }
    }
    if config.destination.len() < seen.destinations {
        // Some could not be read at all; their problems are already reported.
        return None;
    }
    out
}

fn destination(
    cx: &mut FileCx<'_>,
    d: &Spanned<DestinationConfig>,
    has_transform: bool,
    engine: Option<&Arc<ScriptEngine>>,
) -> Option<DestinationSpec> {
    let common = &d.get_ref().common;
    let retry = retry(cx, common.retry.as_ref());
    let transform = match (&common.transform, engine) {
        (Some(t), Some(engine)) => {
            let label = format!("the transform of destination \"{}\"", common.name.get_ref());
            validate_scripts::transform(cx, t.get_ref(), Some(t.span()), &label, engine)
        }
        _ => Some(Default::default()),
    };
    if let Some(send_original) = &common.send_original
        && *send_original.get_ref()
        && !has_transform
    {
        cx.warning(
            send_original.span(),
            "`send_original = true` has no effect: this channel has no [transform]",
        );
    }
    let kind = match &d.get_ref().kind {
        DestinationKindConfig::Mllp(m) => mllp_destination(cx, m).map(DestinationKind::Mllp),
        DestinationKindConfig::Http(h) => http_destination(cx, h).map(DestinationKind::Http),
        DestinationKindConfig::File(f) => file_destination(cx, f).map(DestinationKind::File),
        DestinationKindConfig::Fhir(f) => {
            super::validate_fhir::fhir_destination(cx, f).map(DestinationKind::Fhir)
        }
    };
    Some(DestinationSpec {
        name: common.name.get_ref().clone(),
        kind: kind?,
        retry: retry?,
        ordered: common.ordered.unwrap_or(true),
        send_original: common.send_original.as_ref().is_some_and(|s| *s.get_ref()),
        transform: transform.as_ref().and_then(|t| t.script.clone()),
        mapping: transform.and_then(|t| t.mapping),
    })
}

fn retry(cx: &mut FileCx<'_>, retry: Option<&Spanned<RetryConfig>>) -> Option<RetrySpec> {
    let Some(retry) = retry else {
        return Some(RetrySpec {
            attempts: DEFAULT_RETRY_ATTEMPTS,
            initial_backoff: Duration::from_secs(DEFAULT_INITIAL_BACKOFF_SECS),
            max_backoff: Duration::from_secs(DEFAULT_MAX_BACKOFF_SECS),
        });
    };
    let raw = retry.get_ref();
    let initial = raw
        .initial_backoff_secs
        .map_or(DEFAULT_INITIAL_BACKOFF_SECS, |n| n.get());
    let max = raw
        .max_backoff_secs
        .map_or(DEFAULT_MAX_BACKOFF_SECS, |n| n.get());
    if initial > max {
        let default = |given: bool| if given { "" } else { " (the default)" };
        cx.error_help(
            retry.span(),
            format!(
                "retry: initial_backoff_secs = {initial}{} is greater than max_backoff_secs = \
                 {max}{}",
                default(raw.initial_backoff_secs.is_some()),
                default(raw.max_backoff_secs.is_some()),
            ),
            "the wait starts at initial_backoff_secs and doubles up to max_backoff_secs; \
             raise the maximum or lower the start",
        );
        return None;
    }
    Some(RetrySpec {
        attempts: raw.attempts.map_or(DEFAULT_RETRY_ATTEMPTS, |n| n.get()),
        initial_backoff: Duration::from_secs(initial),
        max_backoff: Duration::from_secs(max),
    })
}

fn mllp_destination(cx: &mut FileCx<'_>, m: &MllpDestinationConfig) -> Option<MllpDestinationSpec> {
    let endpoint = endpoint(cx, &m.endpoint);
    let tls = match &m.tls {
        Some(tls) => Some(client_tls(cx, tls)?),
        None => None,
    };
    Some(MllpDestinationSpec {
        endpoint: endpoint?,
        tls,
        ack_timeout: secs(m.ack_timeout_secs, DEFAULT_ACK_TIMEOUT_SECS),
        reject_on_ar: m.reject_on_ar.unwrap_or(true),
    })
}

fn client_tls(cx: &mut FileCx<'_>, tls: &ClientTlsConfig) -> Option<ClientTlsSpec> {
    let ca = existing_file(cx, &tls.ca, "CA certificate");
    let identity = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let cert = existing_file(cx, cert, "certificate");
            let key = existing_file(cx, key, "private key");
            Some(CertKeyPair {
                cert: cert?,
                key: key?,
            })
        }
        (Some(one), None) | (None, Some(one)) => {
            let (given, missing) = if tls.cert.is_some() {
                ("cert", "key")
            } else {
                ("key", "cert")
            };
            cx.error_help(
                one.span(),
                format!("`{given}` needs `{missing}` too"),
                "a client certificate (mutual TLS) is a certificate and its private key",
            );
            return None;
        }
        (None, None) => None,
    };
    let server_name = match &tls.server_name {
        Some(name) => {
            if rustls_pki_types::ServerName::try_from(name.get_ref().as_str()).is_err() {
                cx.error(
                    name.span(),
                    format!(
                        "invalid server_name \"{}\": expected a DNS name or an IP address",
                        name.get_ref()
                    ),
                );
                return None;
            }
            Some(name.get_ref().clone())
        }
        None => None,
    };
    Some(ClientTlsSpec {
        ca: ca?,
        identity,
        server_name,
    })
}

fn http_destination(cx: &mut FileCx<'_>, h: &HttpDestinationConfig) -> Option<HttpDestinationSpec> {
    let url = match reqwest::Url::parse(h.url.get_ref()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Some(h.url.get_ref().clone())
        }
        Ok(url) => {
            cx.error(
                h.url.span(),
                format!(
                    "invalid url \"{}\": expected an http:// or https:// URL, not {}:",
                    h.url.get_ref(),
                    url.scheme()
                ),
            );
            None
        }
        Err(e) => {
            cx.error(
                h.url.span(),
                format!("invalid url \"{}\": {e}", h.url.get_ref()),
            );
            None
        }
    };
    let mut headers = Vec::new();
    let mut headers_ok = true;
    for (name, value) in h.headers.iter().flatten() {
        if reqwest::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
            headers_ok = false;
            cx.error(
                name.span(),
                format!("invalid header name \"{}\"", name.get_ref()),
            );
        } else if reqwest::header::HeaderValue::from_str(value.get_ref()).is_err() {
            headers_ok = false;
            cx.error(
                value.span(),
                format!(
                    "invalid value for header \"{}\": control characters are not allowed",
                    name.get_ref()
                ),
            );
        } else if name.get_ref().eq_ignore_ascii_case("content-type") && h.content_type.is_some() {
            headers_ok = false;
            cx.error_help(
                name.span(),
                "Content-Type is set twice: here and in `content_type`",
                "keep `content_type` and remove this header",
            );
        } else {
            headers.push((name.get_ref().clone(), value.get_ref().clone()));
        }
    }
    let content_type = match &h.content_type {
        Some(ct) => {
            let text = ct.get_ref();
            if !text.contains('/') || reqwest::header::HeaderValue::from_str(text).is_err() {
                cx.error(
                    ct.span(),
                    format!(
                        "invalid content_type \"{text}\": expected a media type such as \
                         \"application/hl7-v2\""
                    ),
                );
                return None;
            }
            Some(text.clone())
        }
        None => None,
    };
    if !headers_ok {
        return None;
    }
    Some(HttpDestinationSpec {
        url: url?,
        method: h.method.unwrap_or(HttpMethod::Post),
        headers,
        timeout: secs(h.timeout_secs, DEFAULT_HTTP_TIMEOUT_SECS),
        content_type,
    })
}

fn file_destination(cx: &mut FileCx<'_>, f: &FileDestinationConfig) -> Option<FileDestinationSpec> {
    if f.directory.get_ref().is_empty() {
        cx.error(f.directory.span(), "`directory` is empty");
        return None;
    }
    let filename = match &f.filename {
        Some(template) => filename_template(cx, template)?,
        None => DEFAULT_FILENAME.to_owned(),
    };
    Some(FileDestinationSpec {
        directory: PathBuf::from(f.directory.get_ref()),
        filename,
    })
}

/// A file name template: `{placeholder}`s from the known list, no folders, and something
/// that differs per message (or files overwrite each other: a warning).
fn filename_template(cx: &mut FileCx<'_>, template: &Spanned<String>) -> Option<String> {
    let text = template.get_ref();
    if text.is_empty() || text == "." || text == ".." || text.contains(['/', '\\']) {
        cx.error(
            template.span(),
            "`filename` must be a plain file name (no folders); put folders in `directory`",
        );
        return None;
    }
    let mut used = Vec::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            cx.error(template.span(), "`filename` has a `}` without its `{`");
            return None;
        }
        let after = &rest[open + 1..];
        let Some(close) = after
            .find(['{', '}'])
            .filter(|&i| after[i..].starts_with('}'))
        else {
            cx.error(template.span(), "`filename` has a `{` without its `}`");
            return None;
        };
        let name = &after[..close];
        if !FILENAME_PLACEHOLDERS.contains(&name) {
            let mut d = cx.at(
                template.span(),
                Severity::Error,
                format!(
                    "unknown placeholder `{{{name}}}` in `filename`, expected {}",
                    one_of(FILENAME_PLACEHOLDERS)
                ),
            );
            if let Some(hit) = did_you_mean(name, FILENAME_PLACEHOLDERS) {
                d = d.with_help(format!("did you mean `{{{hit}}}`?"));
            }
            cx.push(d);
            return None;
        }
        used.push(name);
        rest = &after[close + 1..];
    }
    if !used.contains(&"message_id") && !used.contains(&"control_id") {
        cx.warning(
            template.span(),
            "`filename` has neither {message_id} nor {control_id}: messages may overwrite \
             each other's files",
        );
    }
    Some(text.clone())
}

/// `name` made into `[a-z0-9_-]+`: words split at case changes (`LabResults` →
/// `lab_results`), lower case, anything else as `_`, runs of `_` merged.
pub(crate) fn slug(name: &str) -> String {
    let mut spaced = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if ch.is_uppercase() && prev_lower {
            spaced.push('_');
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        spaced.push(ch);
    }
    let mut out = String::new();
    for ch in spaced.chars().flat_map(char::to_lowercase) {
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' {
            ch
        } else {
            '_'
        };
        if !(ch == '_' && out.ends_with('_')) {
            out.push(ch);
        }
    }
    out.trim_matches('_').to_owned()
}
