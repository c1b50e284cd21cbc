//! Conflict resolution between a local and a remote version of a record, given the base (the
//! version both had at the last sync). Pure functions: the same inputs always give the same
//! result, and a side that did not change never overwrites one that did.
//!
//! "Source" is the side the sync reads from: the remote system on pull, the local store on
//! push; "dest" is the other side.

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::direction::Direction;
use super::path::ReadPath;
use super::transform::parse_iso;

/// Resolution with its consequence (parking a conflict in the store), for the sync jobs.
pub use super::park::{RecordRef, Settled, settle};

/// Where a newer timestamp is read, first found wins.
pub const TIMESTAMP_PATHS: [&str; 2] = ["updatedAt", "meta.lastUpdated"];

/// What decides when timestamps are equal or missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tie {
    /// The source's version.
    SourceWins,
    /// The destination's version.
    DestWins,
    /// Park both as a CONFLICT (the default: no guess).
    #[default]
    Manual,
}

/// What decides a field changed on both sides during a merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// The source's value.
    SourceWins,
    /// The destination's value.
    DestWins,
    /// The value of the version with the newer timestamp; equal or missing → manual.
    NewestWins,
    /// Park the record as a CONFLICT naming the fields (the default).
    #[default]
    Manual,
}

/// How to choose between two versions of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The source's version, whole.
    SourceWins,
    /// The destination's version, whole.
    DestWins,
    /// The version with the newer `updatedAt` / `meta.lastUpdated`.
    NewestWins {
        /// When timestamps are equal or missing.
        tie: Tie,
    },
    /// Never choose: park both versions as a CONFLICT.
    Manual,
    /// Three-way merge per field; a field changed on both sides goes to `on_conflict`.
    Merge {
        /// For fields changed on both sides.
        on_conflict: OnConflict,
    },
}

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The version to store on both sides.
    Resolved(Value),
    /// No automatic choice: both versions, to be parked as CONFLICT and resolved by API or CLI.
    Conflict {
        /// The local version.
        local: Value,
        /// The remote version.
        remote: Value,
        /// The fields in conflict, as dotted paths (`name.family`); `updatedAt` when
        /// `newest_wins` could not tell.
        fields: Vec<String>,
    },
}

/// Chooses between `local` and `remote` (with `base`, the last synced version, when known)
/// for a sync travelling in `direction`. Equal versions are never a conflict.
pub fn resolve(
    base: Option<&Value>,
    local: &Value,
    remote: &Value,
    strategy: Strategy,
    direction: Direction,
) -> Resolution {
    if local == remote {
        return Resolution::Resolved(local.clone());
    }
    let (source, dest) = match direction {
        Direction::Pull => (remote, local),
        Direction::Push => (local, remote),
    };
    let conflict = |fields: Vec<String>| Resolution::Conflict {
        local: local.clone(),
        remote: remote.clone(),
        fields,
    };
    match strategy {
        Strategy::SourceWins => Resolution::Resolved(source.clone()),
        Strategy::DestWins => Resolution::Resolved(dest.clone()),
        Strategy::Manual => conflict(differing_fields(local, remote)),
        Strategy::NewestWins { tie } => match newer(source, dest) {
            Some(true) => Resolution::Resolved(source.clone()),
            Some(false) => Resolution::Resolved(dest.clone()),
            None => match tie {
                Tie::SourceWins => Resolution::Resolved(source.clone()),
                Tie::DestWins => Resolution::Resolved(dest.clone()),
                Tie::Manual => conflict(vec![TIMESTAMP_PATHS[0].to_string()]),
            },
        },
        Strategy::Merge { on_conflict } => {
            let mut cx = MergeCx {
                source_is_local: direction == Direction::Push,
                on_conflict,
                source_newer: newer(source, dest),
                manual: Vec::new(),
            };
            let merged = merge(base, Some(local), Some(remote), "", &mut cx);
            if cx.manual.is_empty() {
                Resolution::Resolved(merged.unwrap_or(Value::Null))
            } else {
                conflict(cx.manual)
            }
        }
    }
}

/// `Some(true)` when `a` is strictly newer than `b`, `Some(false)` when strictly older, `None`
/// when equal or when either has no readable timestamp.
fn newer(a: &Value, b: &Value) -> Option<bool> {
    let (ta, tb) = (timestamp(a)?, timestamp(b)?);
    (ta != tb).then_some(ta > tb)
}

fn timestamp(record: &Value) -> Option<OffsetDateTime> {
    TIMESTAMP_PATHS.iter().find_map(|p| {
        let text = ReadPath::parse(p)
            .ok()?
            .first(record)?
            .as_str()?
            .to_string();
        parse_iso(&text).ok()?.to_offset_date_time().ok()
    })
}

struct MergeCx {
    source_is_local: bool,
    on_conflict: OnConflict,
    source_newer: Option<bool>,
    manual: Vec<String>,
}

/// Three-way merge of one node; `None` means "absent" (deleted or never there).
fn merge(
    base: Option<&Value>,
    local: Option<&Value>,
    remote: Option<&Value>,
    path: &str,
    cx: &mut MergeCx,
) -> Option<Value> {
    if local == remote {
        return local.cloned();
    }
    if local == base {
        return remote.cloned();
    }
    if remote == base {
        return local.cloned();
    }
    if let (Some(Value::Object(l)), Some(Value::Object(r))) = (local, remote) {
        let b = match base {
            Some(Value::Object(b)) => Some(b),
            _ => None,
        };
        let mut keys: Vec<&String> = l.keys().chain(r.keys()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out = Map::new();
        for key in keys {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let merged = merge(
                b.and_then(|b| b.get(key)),
                l.get(key),
                r.get(key),
                &child_path,
                cx,
            );
            if let Some(v) = merged {
                out.insert(key.clone(), v);
            }
        }
        return Some(Value::Object(out));
    }
    // Changed on both sides, differently.
    let (source, dest) = if cx.source_is_local {
        (local, remote)
    } else {
        (remote, local)
    };
    let pick_source = match cx.on_conflict {
        OnConflict::SourceWins => Some(true),
        OnConflict::DestWins => Some(false),
        OnConflict::NewestWins => cx.source_newer,
        OnConflict::Manual => None,
    };
    match pick_source {
        Some(true) => source.cloned(),
        Some(false) => dest.cloned(),
        None => {
            cx.manual.push(if path.is_empty() {
                "$".into()
            } else {
                path.to_string()
            });
            local.cloned()
        }
    }
}

/// The dotted paths of leaves (and whole lists) that differ between two records.
fn differing_fields(a: &Value, b: &Value) -> Vec<String> {
    fn walk(a: Option<&Value>, b: Option<&Value>, path: &str, out: &mut Vec<String>) {
        if a == b {
            return;
        }
        if let (Some(Value::Object(x)), Some(Value::Object(y))) = (a, b) {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(x.get(k), y.get(k), &p, out);
            }
        } else {
            out.push(if path.is_empty() {
                "$".into()
            } else {
                path.to_string()
            });
        }
    }
    let mut out = Vec::new();
    walk(Some(a), Some(b), "", &mut out);
    out
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
