//! [`ScriptEnv`]: what the scripts of one channel share besides the message: the channel's
//! name (for log lines), the folder `import` reads from, the lookup tables, and the field
//! mappings `map_fields` uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ScriptError;
use super::lookups::Lookups;
use crate::mapping::{MappingFileError, MappingSet};

/// The folder, relative to the working directory, that holds scripts, `lib/` (modules for
/// `import`) and `lookups/` (code tables).
pub const SCRIPTS_DIR: &str = "scripts";
/// The only folder, under [`SCRIPTS_DIR`], that `import` may read; import paths start with it.
pub const LIB_PREFIX: &str = "lib/";
/// The folder, under [`SCRIPTS_DIR`], of the lookup tables.
pub const LOOKUPS_DIR: &str = "lookups";
/// The folder, relative to the working directory, of the field mapping files
/// (`mappings/*.toml`) whose entities scripts call with `map_fields`.
pub const MAPPINGS_DIR: &str = "mappings";

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
    /// The mapping files `map_fields(record, entity, direction)` finds entities in.
    pub mappings: Arc<Vec<MappingSet>>,
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
            mappings: Arc::default(),
        })
    }

    /// The same environment with every mapping file in `dir` (`*.toml`, read now) available
    /// to `map_fields`. A folder that does not exist holds no mappings; a file with mistakes
    /// is an error listing them all, with `file:line:col`.
    pub fn with_mappings(mut self, dir: &Path) -> Result<ScriptEnv, MappingFileError> {
        let mut sets = mapping_files(dir)
            .iter()
            .map(|file| MappingSet::load(file))
            .collect::<Result<Vec<_>, _>>()?;
        for set in &mut sets {
            add_csv_lookups(set, &self.lookups);
        }
        self.mappings = Arc::new(sets);
        Ok(self)
    }

    /// Every file whose contents the channel's scripts may depend on besides their own:
    /// library modules, lookup tables and the mapping files of [`MAPPINGS_DIR`]. Hot reload
    /// watches them.
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
        files.extend(mapping_files(Path::new(MAPPINGS_DIR)));
        files
    }
}

/// The `*.toml` files of `dir`, sorted; none when it does not exist.
fn mapping_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Gives a mapping set the `scripts/lookups/*.csv` tables (code → second column) that it does
/// not define itself: a `[lookup.NAME]` table in the mapping file wins over `NAME.csv`.
pub fn add_csv_lookups(set: &mut MappingSet, lookups: &Lookups) {
    let own = set.lookups();
    let tables = lookups
        .mapping_tables()
        .into_iter()
        .filter(|(name, _)| !own.contains_key(name))
        .collect();
    set.add_lookups(tables);
}
