//! [`ScriptEnv`]: what the scripts of one channel share besides the message: the channel's
//! name (for log lines), the folder `import` reads from, and the lookup tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ScriptError;
use super::lookups::Lookups;

/// The folder, relative to the working directory, that holds scripts, `lib/` (modules for
/// `import`) and `lookups/` (code tables).
pub const SCRIPTS_DIR: &str = "scripts";
/// The only folder, under [`SCRIPTS_DIR`], that `import` may read; import paths start with it.
pub const LIB_PREFIX: &str = "lib/";
/// The folder, under [`SCRIPTS_DIR`], of the lookup tables.
pub const LOOKUPS_DIR: &str = "lookups";

/// The per-channel context of a [`ScriptEngine`](super::ScriptEngine).
///
/// [`ScriptEnv::default`] has no channel name, no lookup tables and no imports: scripts in
/// unit tests and `ihub hl7` commands run with it.
#[derive(Debug, Clone, Default)]
pub struct ScriptEnv {
    /// The channel id, put on every `log_info`/`log_warn` line.
    pub channel: Arc<str>,
    /// The folder holding `lib/`; `None` refuses every `import`.
    pub scripts_dir: Option<PathBuf>,
    /// The tables `lookup(..)` reads.
    pub lookups: Arc<Lookups>,
}

impl ScriptEnv {
    /// The environment of channel `channel`: imports from `<scripts_dir>/lib/`, tables from
    /// `<scripts_dir>/lookups/*.csv` (read now).
    pub fn load(channel: &str, scripts_dir: &Path) -> Result<ScriptEnv, ScriptError> {
        let lookups = Lookups::load(&scripts_dir.join(LOOKUPS_DIR))?;
        Ok(ScriptEnv {
            channel: Arc::from(channel),
            scripts_dir: Some(scripts_dir.to_path_buf()),
            lookups: Arc::new(lookups),
        })
    }

    /// Every file whose contents the channel's scripts may depend on besides their own:
    /// library modules and lookup tables. Hot reload watches them.
    pub fn dependencies(scripts_dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for (dir, ext) in [
            (scripts_dir.join(LIB_PREFIX.trim_end_matches('/')), "rhai"),
            (scripts_dir.join(LOOKUPS_DIR), "csv"),
        ] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                files.extend(
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext)),
                );
            }
        }
        files.sort();
        files
    }
}
