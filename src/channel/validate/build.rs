//! The whole channel file: every check run in turn, the spec built when none failed, and the
//! channel-level settings (durability, duplicate detection, pruning) with their defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::source::source;
use crate::channel::config::{
    ChannelConfig, DEFAULT_DUPLICATE_WINDOW_SECS, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_ERROR_DAYS, DurabilityMode, MAX_FLUSH_INTERVAL_MS,
};
use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::load::{FileCx, Seen, Site};
use crate::channel::spec::{
    ChannelId, ChannelSpec, DAY, DuplicateAction, DuplicatesSpec, Durability, PruneSpec,
};
use crate::channel::validate_scripts;

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
        crate::channel::validate_destination::destinations(cx, &config, seen, engine.as_ref());

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
