//! The checks across channel files: one id twice, one port listened on twice, one folder
//! polled twice.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use super::file_check::Checked;
use crate::channel::diagnostic::{Diagnostic, Severity};
use crate::channel::spec::ChannelId;

/// The checks across files: one id twice (possible when several folders are validated),
/// two enabled channels listening on the same port, one folder polled by two channels.
pub(super) fn cross_check(checked: &mut [Checked]) {
    let name_of = |c: &Checked| match &c.id {
        Some(id) => format!("channel \"{id}\""),
        None => c.file.display().to_string(),
    };
    let mut extra: Vec<(usize, Diagnostic)> = Vec::new();

    let mut by_id: BTreeMap<&ChannelId, Vec<usize>> = BTreeMap::new();
    for (i, c) in checked.iter().enumerate() {
        if let Some(id) = &c.id {
            by_id.entry(id).or_default().push(i);
        }
    }
    for (id, owners) in by_id.iter().filter(|(_, o)| o.len() > 1) {
        for &i in owners {
            let others: Vec<String> = owners
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| checked[j].file.display().to_string())
                .collect();
            let d = Diagnostic::file_level(
                &checked[i].file,
                Severity::Error,
                format!("channel id `{id}` is also used by {}", others.join(", ")),
            )
            .with_help("a channel id is its file name; rename one of the files");
            extra.push((i, d));
        }
    }

    for i in 0..checked.len() {
        let Some(mine) = checked[i].listen.as_ref().filter(|_| checked[i].enabled) else {
            continue;
        };
        if mine.value.port() == 0 {
            continue;
        }
        let others: Vec<String> = (0..checked.len())
            .filter(|&j| j != i && checked[j].enabled)
            .filter(|&j| {
                checked[j]
                    .listen
                    .as_ref()
                    .is_some_and(|o| same_port(mine.value, o.value))
            })
            .map(|j| name_of(&checked[j]))
            .collect();
        if !others.is_empty() {
            let mut d = mine.at.clone();
            d.message = format!(
                "listen address {} is also used by {}",
                mine.value,
                others.join(", ")
            );
            d.help = Some("each channel needs its own port".to_owned());
            extra.push((i, d));
        }
    }

    for i in 0..checked.len() {
        let Some(mine) = checked[i].polled.as_ref().filter(|_| checked[i].enabled) else {
            continue;
        };
        let others: Vec<String> = (0..checked.len())
            .filter(|&j| j != i && checked[j].enabled)
            .filter(|&j| {
                checked[j]
                    .polled
                    .as_ref()
                    .is_some_and(|o| same_dir(&mine.value, &o.value))
            })
            .map(|j| name_of(&checked[j]))
            .collect();
        if !others.is_empty() {
            let mut d = mine.at.clone();
            d.message = format!(
                "directory {} is also polled by {}",
                mine.value.display(),
                others.join(", ")
            );
            d.help = Some("two channels polling one folder would take each other's files".into());
            extra.push((i, d));
        }
    }

    for (i, d) in extra {
        checked[i].diagnostics.push(d);
    }
}

/// Whether two listeners would fight over a port: same port, and the same IP or either one
/// on all interfaces (`0.0.0.0` and `[::]` also take every specific address; on Linux `[::]`
/// covers IPv4 too).
fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Whether two paths name the same folder, comparing components (`in/lab`, `./in/lab/`).
pub(crate) fn same_dir(a: &Path, b: &Path) -> bool {
    let norm = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_conflict_on_same_port_or_wildcard() {
        let a: SocketAddr = "127.0.0.1:2575".parse().unwrap();
        let b: SocketAddr = "0.0.0.0:2575".parse().unwrap();
        let c: SocketAddr = "127.0.0.2:2575".parse().unwrap();
        let d: SocketAddr = "127.0.0.1:2576".parse().unwrap();
        assert!(same_port(a, a));
        assert!(same_port(a, b));
        assert!(same_port(b, c));
        assert!(!same_port(a, c));
        assert!(!same_port(a, d));
        assert!(same_dir(Path::new("in/lab"), Path::new("./in/lab/")));
        assert!(!same_dir(Path::new("in/lab"), Path::new("in/lab2")));
    }
}
