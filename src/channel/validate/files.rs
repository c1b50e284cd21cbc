//! Files a channel names (TLS certificates and keys, scripts, profiles): they must exist, and
//! a near-miss name gets a "did you mean".

use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::channel::load::FileCx;
use crate::channel::suggest::did_you_mean;

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
