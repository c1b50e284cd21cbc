//! Deserializing one value of toml's spanned tree with every problem reported: when serde
//! fails, the offending entry (found by the error's byte span) is reported, cut out, and the
//! value read again.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::file_check::FileCx;
use super::problem_text::Problem;
use crate::channel::diagnostic::Severity;

/// Where a value being read sits, for messages that serde's errors cannot word themselves.
pub(super) struct Place<'e> {
    /// How to name the value as a whole: `[source]`, `` `durability` ``.
    pub(super) label: String,
    /// The key the value is stored under, when it is a plain value (not a table).
    pub(super) key: Option<String>,
    /// Keys that are valid in this table besides the struct's own (the common keys of a
    /// destination, read separately), offered in "expected one of" and `did you mean`.
    pub(super) extra: &'e [&'e str],
}

/// The most rounds spent cutting problems out of one table: each round removes one entry,
/// so this only guards against a loop that would not shrink.
const MAX_ROUNDS: usize = 256;

/// Deserializes `value` into `T`, reporting every problem serde finds. Entries that serde
/// rejects (unknown keys, wrong types, values out of range) are reported and removed, and
/// the value is read again, so the next problem is found too.
///
/// Returns what could be read, without the removed entries, so that the later checks still
/// run on the rest (a bad `ack` does not hide a bad `listen`); the file has an error by then,
/// so no channel is built from it. `None` when a required key is missing.
pub(super) fn read<T: DeserializeOwned>(
    cx: &mut FileCx<'_>,
    mut value: Spanned<DeValue<'_>>,
    place: &Place<'_>,
) -> Option<T> {
    let root_span = value.span();
    // Keys already removed, with the span of their table, and the keys they probably meant:
    // a later "missing field" for either is the same problem again and is not repeated
    // (`endpont` is reported once, not also as a missing `endpoint`).
    let mut removed: Vec<(Range<usize>, String)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => return Some(t),
            Err(error) => error,
        };
        let span = error.span().unwrap_or_else(|| root_span.clone());
        let problem = Problem::parse(error.message());
        let by_key = matches!(problem, Problem::UnknownField { .. });
        if let Problem::MissingField { name } = &problem {
            if removed.iter().any(|(s, k)| *s == span && k == name) {
                return None;
            }
            let within = path_to(&value, &span)
                .filter(|p| !p.is_empty())
                .map_or_else(|| place.label.clone(), |p| format!("`{}`", p.join(".")));
            let d = cx.at(
                span,
                Severity::Error,
                format!("missing required key `{name}` in {within}"),
            );
            cx.push(d);
            return None;
        }
        let found = if span == root_span {
            None
        } else {
            cut(&mut value, &span, by_key)
        };
        let key = found
            .as_ref()
            .map(|f| f.key.clone())
            .or_else(|| place.key.clone());
        let at_root = found.as_ref().is_none_or(|f| f.parent == root_span);
        let extra = if at_root { place.extra } else { &[] };
        let d = problem.diagnostic(cx, span, key.as_deref(), extra);
        let meant = d.help.as_deref().and_then(suggested_key).map(str::to_owned);
        cx.push(d);
        match found {
            Some(f) => {
                if let Some(meant) = meant {
                    removed.push((f.parent.clone(), meant));
                }
                removed.push((f.parent, f.key));
            }
            None => return None,
        }
    }
    None
}

/// The key in a `` did you mean `key`? `` hint.
fn suggested_key(help: &str) -> Option<&str> {
    help.strip_prefix("did you mean `")?.strip_suffix("`?")
}

/// An entry taken out of a table.
struct Cut {
    /// Its key.
    key: String,
    /// The span of the table it was in.
    parent: Range<usize>,
}

/// Finds, at any depth, the table entry whose key (`by_key`) or value has exactly `span`,
/// and removes it.
fn cut(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>, by_key: bool) -> Option<Cut> {
    let parent = value.span();
    match value.get_mut() {
        DeValue::Table(table) => {
            let hit = table
                .iter()
                .find(|(k, v)| {
                    if by_key {
                        k.span() == *span
                    } else {
                        v.span() == *span
                    }
                })
                .map(|(k, _)| k.get_ref().to_string());
            if let Some(key) = hit {
                table.remove(key.as_str());
                return Some(Cut { key, parent });
            }
            table
                .iter_mut()
                .filter(|(_, v)| contains(&v.span(), span))
                .find_map(|(_, v)| cut(v, span, by_key))
        }
        DeValue::Array(items) => items
            .iter_mut()
            .filter(|v| contains(&v.span(), span))
            .find_map(|v| cut(v, span, by_key)),
        _ => None,
    }
}

/// The keys leading from `value` to the table or value with exactly `span`.
fn path_to(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<Vec<String>> {
    if value.span() == *span {
        return Some(Vec::new());
    }
    match value.get_ref() {
        DeValue::Table(table) => table.iter().find_map(|(k, v)| {
            if !contains(&v.span(), span) {
                return None;
            }
            let mut path = path_to(v, span)?;
            path.insert(0, k.get_ref().to_string());
            Some(path)
        }),
        DeValue::Array(items) => items.iter().find_map(|v| {
            if contains(&v.span(), span) {
                path_to(v, span)
            } else {
                None
            }
        }),
        _ => None,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}
