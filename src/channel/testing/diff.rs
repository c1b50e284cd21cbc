//! A line diff for "the whole output equals this file": which segments (or JSON lines) are
//! missing, extra or changed, with a little unchanged context around each change.

use std::fmt::Write as _;

/// Unchanged lines shown before and after each change.
const CONTEXT: usize = 1;

/// One line of the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Same(&'a str),
    Expected(&'a str),
    Actual(&'a str),
}

/// The diff of `expected` and `actual` as `- expected` / `+ actual` lines (and `  same` lines
/// of context), each indented by `indent`; unchanged stretches are cut to `…`. Empty when
/// the two are equal.
pub fn line_diff(expected: &[&str], actual: &[&str], indent: &str) -> String {
    let lines = diff(expected, actual);
    let mut out = String::new();
    if lines.iter().all(|l| matches!(l, Line::Same(_))) {
        return out;
    }
    // Show a line when a change is within CONTEXT lines of it.
    let near_change = |i: usize| {
        let from = i.saturating_sub(CONTEXT);
        let to = (i + CONTEXT + 1).min(lines.len());
        lines[from..to].iter().any(|l| !matches!(l, Line::Same(_)))
    };
    let mut skipped = false;
    for (i, line) in lines.iter().enumerate() {
        match line {
            Line::Same(text) if near_change(i) => {
                let _ = writeln!(out, "{indent}  {text}");
                skipped = false;
            }
            Line::Same(_) => {
                if !skipped {
                    let _ = writeln!(out, "{indent}  …");
                    skipped = true;
                }
            }
            Line::Expected(text) => {
                let _ = writeln!(out, "{indent}- {text}");
                skipped = false;
            }
            Line::Actual(text) => {
                let _ = writeln!(out, "{indent}+ {text}");
                skipped = false;
            }
        }
    }
    out
}

/// The longest-common-subsequence alignment of two line lists. Quadratic, which is fine for
/// messages of a few hundred segments.
fn diff<'a>(expected: &[&'a str], actual: &[&'a str]) -> Vec<Line<'a>> {
    let (n, m) = (expected.len(), actual.len());
    // lcs[i][j]: the LCS length of expected[i..] and actual[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n && j < m {
        if expected[i] == actual[j] {
            out.push(Line::Same(expected[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Line::Expected(expected[i]));
            i += 1;
        } else {
            out.push(Line::Actual(actual[j]));
            j += 1;
        }
    }
    out.extend(expected[i..].iter().map(|l| Line::Expected(l)));
    out.extend(actual[j..].iter().map(|l| Line::Actual(l)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_inputs_have_no_diff() {
        assert_eq!(line_diff(&["a", "b"], &["a", "b"], ""), "");
    }

    #[test]
    fn a_changed_line_shows_both_versions_with_context() {
        let expected = ["MSH|1", "PID|2", "PV1|3", "OBR|4", "OBX|5", "OBX|6"];
        let actual = ["MSH|1", "PID|X", "PV1|3", "OBR|4", "OBX|5", "OBX|6"];
        assert_eq!(
            line_diff(&expected, &actual, "  "),
            "    MSH|1\n  - PID|2\n  + PID|X\n    PV1|3\n    …\n"
        );
    }

    #[test]
    fn missing_and_extra_lines_at_the_ends() {
        assert_eq!(line_diff(&["a", "b"], &["b", "c"], ""), "- a\n  b\n+ c\n");
        assert_eq!(line_diff(&[], &["x"], ""), "+ x\n");
    }
}
