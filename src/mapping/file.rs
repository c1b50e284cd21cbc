//! Mapping files (`mappings/*.toml`, or the same text inline in a channel) → [`MappingSet`].
//!
//! Loading parses the TOML into raw structs that keep each value's position
//! (`toml::Spanned`), refuses unknown keys, then builds every path and transform function.
//! Every problem is collected with its `file:line:col` before anything is returned, so an
//! analyst sees them all at once. `mappings/README.md` is the reference for the keys.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::conflict::{OnConflict, Strategy, Tie};
use super::direction::Directions;
use super::entity::{EntityMapping, FieldMapping};
use super::path::{JsonField, RemotePath};
use super::transform::{LookupTables, Transform, invert_chain};
use super::validate::{RecordRules, Rule};

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

struct Builder<'t> {
    text: &'t str,
    problems: Vec<(usize, MappingProblem)>,
}

impl Builder<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let (line, col) = line_col(self.text, span.start);
        self.problems
            .push((span.start, MappingProblem { line, col, message }));
    }

    fn into_error(mut self, origin: &Path) -> MappingFileError {
        self.problems.sort_by_key(|(at, _)| *at);
        MappingFileError {
            file: origin.to_path_buf(),
            problems: self.problems.into_iter().map(|(_, p)| p).collect(),
        }
    }

    fn entity(&mut self, raw: RawEntity, lookups: &Arc<LookupTables>) -> Option<EntityMapping> {
        let before = self.problems.len();
        let name = raw.local.get_ref().clone();
        let mut fields = Vec::new();
        for f in raw.field {
            if let Some(built) = self.field(f, raw.direction, &name) {
                fields.push(built);
            }
        }
        let mut hl7 = fields
            .iter()
            .filter(|f| matches!(f.remote, RemotePath::Hl7(_)));
        if let Some(first_hl7) = hl7.next()
            && fields
                .iter()
                .any(|f| matches!(f.remote, RemotePath::Json(_)))
        {
            self.error(
                raw.remote.span(),
                format!(
                    "entity `{name}` mixes HL7 paths (`{}`) and JSONPaths; one entity maps to one kind of remote record",
                    first_hl7.remote.as_str()
                ),
            );
        }
        let mut rules = Vec::new();
        for (path, rule) in raw.validate {
            match JsonField::parse(&path) {
                Ok(_) => rules.push((path, rule.into_inner())),
                Err(e) => self.error(rule.span(), format!("validate: {e}")),
            }
        }
        let rules = RecordRules::new(rules).unwrap_or_default();
        let conflict = raw.conflict.and_then(|c| self.conflict(c));
        (self.problems.len() == before).then(|| EntityMapping {
            local: name,
            remote: raw.remote.into_inner(),
            enabled: raw.enabled,
            direction: raw.direction,
            fields,
            rules,
            conflict,
            lookups: Arc::clone(lookups),
        })
    }

    fn field(
        &mut self,
        raw: RawField,
        entity: Directions,
        entity_name: &str,
    ) -> Option<FieldMapping> {
        let before = self.problems.len();
        let local = JsonField::parse(raw.local.get_ref())
            .map_err(|e| self.error(raw.local.span(), e))
            .ok();
        let remote = RemotePath::parse(raw.remote.get_ref())
            .map_err(|e| self.error(raw.remote.span(), e))
            .ok();
        let direction = match (entity, raw.direction.as_ref().map(|d| *d.get_ref())) {
            (e, None) => e,
            (Directions::Both, Some(d)) => d,
            (e, Some(d)) if d == e || d == Directions::Both => e,
            (e, Some(_)) => {
                let span = raw.direction.as_ref().map_or(0..0, Spanned::span);
                self.error(
                    span,
                    format!(
                        "field `{}`: its direction is not among entity `{entity_name}`'s ({e:?})",
                        raw.local.get_ref()
                    )
                    .to_lowercase()
                    .replacen(
                        &raw.local.get_ref().to_lowercase(),
                        raw.local.get_ref(),
                        1,
                    ),
                );
                e
            }
        };
        let (push_ok, pull_ok) = (
            direction.allows(super::Direction::Push),
            direction.allows(super::Direction::Pull),
        );
        if let (Some(RemotePath::Json(r)), true) = (&remote, push_ok)
            && let Some(why) = r.write_error()
        {
            self.error(
                raw.remote.span(),
                format!("{why} (this field is pushed, so its remote path is written)"),
            );
        }
        if let (Some(l), true) = (&local, pull_ok)
            && let Some(why) = l.write_error()
        {
            self.error(
                raw.local.span(),
                format!("{why} (this field is pulled, so its local path is written)"),
            );
        }
        let (push, pull) = self.chains(&raw, push_ok, pull_ok);
        if self.problems.len() != before {
            return None;
        }
        Some(FieldMapping {
            local: local?,
            remote: remote?,
            required: raw.required,
            direction,
            push,
            pull,
        })
    }

    fn chains(
        &mut self,
        raw: &RawField,
        push_ok: bool,
        pull_ok: bool,
    ) -> (Vec<Transform>, Vec<Transform>) {
        if let (Some(t), Some(other)) = (&raw.transform, raw.push.as_ref().or(raw.pull.as_ref())) {
            let _ = t;
            self.error(
                other.span(),
                "give either `transform` (run backwards on pull) or `push`/`pull`, not both".into(),
            );
            return (Vec::new(), Vec::new());
        }
        if let Some(t) = &raw.transform {
            let chain = self.chain(t);
            if !pull_ok {
                return (chain, Vec::new());
            }
            return match invert_chain(&chain) {
                Ok(pull) => (chain, pull),
                Err(name) => {
                    let hint = if name == "date_to_iso" {
                        " (give it a `format` so it can be undone)"
                    } else {
                        ""
                    };
                    self.error(t.span(), format!(
                        "`{name}` has no inverse{hint}, so this chain cannot run on pull; give `push = [...]` and `pull = [...]`, or `direction = \"push\"`"
                    ));
                    (Vec::new(), Vec::new())
                }
            };
        }
        let push = raw.push.as_ref().map(|c| self.chain(c)).unwrap_or_default();
        let pull = raw.pull.as_ref().map(|c| self.chain(c)).unwrap_or_default();
        if let (Some(c), false) = (&raw.push, push_ok) {
            self.error(
                c.span(),
                "`push` is given but this field is never pushed".into(),
            );
        }
        if let (Some(c), false) = (&raw.pull, pull_ok) {
            self.error(
                c.span(),
                "`pull` is given but this field is never pulled".into(),
            );
        }
        (push, pull)
    }

    fn chain(&mut self, raw: &RawChain) -> Vec<Transform> {
        let mut out = Vec::new();
        for step in raw.get_ref() {
            let spec = serde_json::to_value(step.get_ref())
                .map_err(|e| e.to_string())
                .and_then(|v| Transform::from_spec(&v));
            match spec {
                Ok(t) => out.push(t),
                Err(e) => self.error(step.span(), e),
            }
        }
        out
    }

    fn conflict(&mut self, raw: Spanned<RawConflict>) -> Option<Strategy> {
        let span = raw.span();
        let c = raw.into_inner();
        let strategy = match (c.strategy, c.tie, c.on_conflict) {
            (StrategyName::NewestWins, tie, None) => Strategy::NewestWins {
                tie: tie.unwrap_or_default(),
            },
            (StrategyName::Merge, None, oc) => Strategy::Merge {
                on_conflict: oc.unwrap_or_default(),
            },
            (StrategyName::SourceWins, None, None) => Strategy::SourceWins,
            (StrategyName::DestWins, None, None) => Strategy::DestWins,
            (StrategyName::Manual, None, None) => Strategy::Manual,
            _ => {
                self.error(
                    span,
                    "`tie` goes with strategy \"newest_wins\" and `on_conflict` with \"merge\""
                        .into(),
                );
                return None;
            }
        };
        Some(strategy)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests;
