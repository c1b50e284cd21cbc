//! Mapping files (`mappings/*.toml`, or the same text inline in a channel) → [`MappingSet`].
//!
//! Loading parses the TOML into raw structs that keep each value's position
//! (`toml::Spanned`), refuses unknown keys, then builds every path and transform function.
//! Every problem is collected with its `file:line:col` before anything is returned, so an
//! analyst sees them all at once. `mappings/README.md` is the reference for the keys.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::conflict::{OnConflict, Tie};
use super::direction::Directions;
use super::entity::EntityMapping;
use super::transform::LookupTables;
use super::validate::Rule;

mod build;
use build::Builder;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    entity: Vec<RawEntity>,
    #[serde(default)]
    lookup: BTreeMap<String, HashMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    local: Spanned<String>,
    remote: Spanned<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    direction: Directions,
    #[serde(default)]
    field: Vec<RawField>,
    #[serde(default)]
    validate: BTreeMap<String, Spanned<Rule>>,
    conflict: Option<Spanned<RawConflict>>,
}

fn yes() -> bool {
    true
}

type RawChain = Spanned<Vec<Spanned<toml::Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    local: Spanned<String>,
    remote: Spanned<String>,
    #[serde(default)]
    required: bool,
    direction: Option<Spanned<Directions>>,
    transform: Option<RawChain>,
    push: Option<RawChain>,
    pull: Option<RawChain>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StrategyName {
    SourceWins,
    DestWins,
    NewestWins,
    Manual,
    Merge,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConflict {
    strategy: StrategyName,
    tie: Option<Tie>,
    on_conflict: Option<OnConflict>,
}

/// One problem in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    /// 1-based line; 0 when the file as a whole is at fault (it cannot be read).
    pub line: usize,
    /// 1-based column in characters; 0 with `line` 0.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one mapping file, each with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingFileError {
    /// The file as named to the loader (or the origin given for inline text).
    pub file: PathBuf,
    /// The problems, in file order.
    pub problems: Vec<MappingProblem>,
}

impl fmt::Display for MappingFileError {
    /// One `file:line:col: message` line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.file.display(), p.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {}",
                    self.file.display(),
                    p.line,
                    p.col,
                    p.message
                )?;
            }
        }
        Ok(())
    }
}

/// The entities of one mapping file, with the lookup tables their `lookup` functions use.
#[derive(Debug, Clone)]
pub struct MappingSet {
    origin: PathBuf,
    entities: Vec<EntityMapping>,
    lookups: Arc<LookupTables>,
}

impl MappingSet {
    /// Reads and builds a mapping file.
    pub fn load(path: &Path) -> Result<MappingSet, MappingFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| MappingFileError {
            file: path.to_path_buf(),
            problems: vec![MappingProblem {
                line: 0,
                col: 0,
                message: format!("cannot read the mapping file: {e}"),
            }],
        })?;
        MappingSet::from_toml_str(&text, path)
    }

    /// Builds a mapping from TOML text; `origin` names it in errors (a file, or the channel
    /// file it is inline in).
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<MappingSet, MappingFileError> {
        let mut cx = Builder {
            text,
            problems: Vec::new(),
        };
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                cx.error(e.span().unwrap_or(0..0), e.message().to_string());
                return Err(cx.into_error(origin));
            }
        };
        let lookups: Arc<LookupTables> = Arc::new(raw.lookup.into_iter().collect());
        let mut entities: Vec<EntityMapping> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for entity in raw.entity {
            if names.contains(entity.local.get_ref()) {
                cx.error(
                    entity.local.span(),
                    format!(
                        "entity `{}` is mapped twice in this file",
                        entity.local.get_ref()
                    ),
                );
            }
            names.push(entity.local.get_ref().clone());
            if let Some(built) = cx.entity(entity, &lookups) {
                entities.push(built);
            }
        }
        if !cx.problems.is_empty() {
            return Err(cx.into_error(origin));
        }
        Ok(MappingSet {
            origin: origin.to_path_buf(),
            entities,
            lookups,
        })
    }

    /// The entity with this local name (`patients`), or else this remote name (`Patient`).
    pub fn entity(&self, name: &str) -> Option<&EntityMapping> {
        self.entities
            .iter()
            .find(|e| e.local == name)
            .or_else(|| self.entities.iter().find(|e| e.remote == name))
    }

    /// Every entity, in file order.
    pub fn entities(&self) -> &[EntityMapping] {
        &self.entities
    }

    /// Where the mapping came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The lookup tables in use.
    pub fn lookups(&self) -> &LookupTables {
        &self.lookups
    }

    /// Adds lookup tables (loaded from `scripts/lookups/*.csv` by the script layer); a table
    /// with the name of one already present replaces it.
    pub fn add_lookups(&mut self, tables: LookupTables) {
        let mut all = (*self.lookups).clone();
        all.extend(tables);
        self.lookups = Arc::new(all);
        for e in &mut self.entities {
            e.lookups = Arc::clone(&self.lookups);
        }
    }
}

#[cfg(test)]
mod tests;
