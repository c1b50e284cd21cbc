//! `did you mean …`: the closest known name to a misspelled key, type, value or file name.
//!
//! Three rules, tried in order, because each catches mistakes the next one cannot:
//! 1. the same words in another case style (`maxConnections`, `Max-Connections`), which an
//!    edit distance would score far apart;
//! 2. names analysts bring from other engines or from habit (`retry_count`, `port`, `url`),
//!    from a short hand-written table, and the same stem with another unit suffix
//!    (`timeout` → `timeout_secs`, `idle_timeout_seconds` → `idle_timeout_secs`);
//! 3. a small edit distance (optimal string alignment: insertions, deletions, substitutions
//!    and swaps of two neighbours, each costing 1), at most a third of the word's length, as
//!    rustc does, so `mlp` finds `mllp` but `fhir` does not pretend to be `file`.

/// Words that other engines or habit use for one of our keys, and the key we mean. A pair
/// applies only when its target is among the candidates, so `url` suggests `endpoint` for an
/// MLLP destination and nothing where neither exists.
const ALIASES: &[(&str, &str)] = &[
    ("retry_count", "attempts"),
    ("retries", "attempts"),
    ("max_retries", "attempts"),
    ("max_attempts", "attempts"),
    ("retry_attempts", "attempts"),
    ("port", "listen"),
    ("bind", "listen"),
    ("address", "listen"),
    ("listen_address", "listen"),
    ("listen_addr", "listen"),
    ("host", "endpoint"),
    ("address", "endpoint"),
    ("url", "endpoint"),
    ("endpoint", "url"),
    ("uri", "url"),
    ("dir", "directory"),
    ("folder", "directory"),
    ("path", "directory"),
    ("expression", "accept"),
    ("expr", "accept"),
    ("condition", "accept"),
    ("filter", "accept"),
    ("file", "script"),
    ("path", "script"),
    ("tcp", "mllp"),
    ("hl7", "mllp"),
    ("https", "http"),
    ("rest", "http"),
    ("directory", "file"),
    ("folder", "file"),
    ("dir", "file"),
    ("ca_cert", "ca"),
    ("ca_file", "ca"),
    ("sni", "server_name"),
    ("hostname", "server_name"),
    ("msg_id", "message_id"),
    ("id", "message_id"),
    ("msg_type", "message_type"),
    ("event", "trigger"),
    ("timestamp", "received"),
];

/// Unit suffixes (and the `_file`/`_path` habit) that may differ between what was written and
/// what we call the key.
const SUFFIXES: &[&str] = &[
    "_secs", "_seconds", "_sec", "_s", "_ms", "_millis", "_bytes", "_size", "_days", "_file",
    "_path",
];

/// The candidate that `unknown` most likely meant, or `None` when nothing is close enough to
/// be worth suggesting.
pub fn did_you_mean<'a>(unknown: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if unknown.is_empty() {
        return None;
    }
    let normal = normalize(unknown);
    // 1. Same words, other case style.
    if let Some(hit) = candidates
        .iter()
        .find(|c| normalize(c) == normal && **c != unknown)
    {
        return Some(hit);
    }
    // 2a. A known alias whose target is on offer.
    for (alias, target) in ALIASES {
        if *alias == normal
            && let Some(hit) = candidates.iter().find(|c| *c == target)
        {
            return Some(hit);
        }
    }
    // 2b. Same stem, other unit suffix (or none).
    let stem = strip_suffix(&normal);
    if let Some(hit) = candidates
        .iter()
        .find(|c| strip_suffix(&normalize(c)) == stem && **c != unknown)
    {
        return Some(hit);
    }
    // 3. Closest by edit distance, within a third of the length (at least 1).
    let limit = normal.chars().count().max(3) / 3;
    candidates
        .iter()
        .map(|c| (distance(&normal, &normalize(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| *c)
}

/// Lower case with words joined by `_`: `maxConnections`, `Max-Connections` and
/// `max connections` all become `max_connections`.
fn normalize(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 4);
    let mut prev_lower = false;
    for ch in word.chars() {
        if ch == '-' || ch == ' ' || ch == '_' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        out.extend(ch.to_lowercase());
    }
    out
}

fn strip_suffix(word: &str) -> &str {
    SUFFIXES
        .iter()
        .find_map(|s| word.strip_suffix(s))
        .unwrap_or(word)
}

/// Optimal string alignment distance over characters: Levenshtein plus swaps of two
/// neighbouring characters (`lsiten` is one step from `listen`, not two).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: the swap rule looks two rows back.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("mlp", "mllp"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("lsiten", "listen"), 1);
        assert_eq!(distance("endpont", "endpoint"), 1);
        assert_eq!(distance("fhir", "file"), 3);
    }

    #[test]
    fn suggests_by_case_style() {
        let keys = ["listen", "max_connections", "max_message_bytes"];
        assert_eq!(
            did_you_mean("maxConnections", &keys),
            Some("max_connections")
        );
        assert_eq!(
            did_you_mean("Max-Connections", &keys),
            Some("max_connections")
        );
    }

    #[test]
    fn suggests_aliases_only_when_the_target_exists() {
        let retry = ["attempts", "initial_backoff_secs", "max_backoff_secs"];
        assert_eq!(did_you_mean("retry_count", &retry), Some("attempts"));
        assert_eq!(did_you_mean("retryCount", &retry), Some("attempts"));
        assert_eq!(did_you_mean("url", &["name", "endpoint"]), Some("endpoint"));
        assert_eq!(did_you_mean("endpoint", &["name", "url"]), Some("url"));
        assert_eq!(did_you_mean("port", &["name", "url"]), None);
        assert_eq!(
            did_you_mean("msg_id", &["message_id", "control_id"]),
            Some("message_id")
        );
    }

    #[test]
    fn suggests_the_same_stem_with_another_unit() {
        let keys = ["ack_timeout_secs", "reject_on_ar"];
        assert_eq!(did_you_mean("ack_timeout", &keys), Some("ack_timeout_secs"));
        assert_eq!(
            did_you_mean("ack_timeout_seconds", &keys),
            Some("ack_timeout_secs")
        );
        assert_eq!(
            did_you_mean("flush_interval", &["flush_interval_ms"]),
            Some("flush_interval_ms")
        );
    }

    #[test]
    fn suggests_close_spellings_but_not_distant_ones() {
        let types = ["mllp", "http", "file"];
        assert_eq!(did_you_mean("mlp", &types), Some("mllp"));
        assert_eq!(did_you_mean("htp", &types), Some("http"));
        assert_eq!(did_you_mean("fhir", &types), None);
        assert_eq!(did_you_mean("", &types), None);
        assert_eq!(
            did_you_mean("stamp_facilty.rhai", &["stamp_facility.rhai", "README.md"]),
            Some("stamp_facility.rhai")
        );
        // The exact word is not a suggestion of itself.
        assert_eq!(did_you_mean("zzz", &["zzz_secs"]), Some("zzz_secs"));
    }
}
