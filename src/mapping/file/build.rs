//! Building entities from the raw file: paths, chains and their inverses, directions,
//! validation rules and conflict settings, each problem recorded with its position.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use super::{
    MappingFileError, MappingProblem, RawChain, RawConflict, RawEntity, RawField, StrategyName,
};
use crate::mapping::conflict::Strategy;
use crate::mapping::direction::{Direction, Directions};
use crate::mapping::entity::{EntityMapping, FieldMapping};
use crate::mapping::path::{JsonField, RemotePath};
use crate::mapping::transform::{LookupTables, Transform, invert_chain};
use crate::mapping::validate::RecordRules;

/// Collects problems while building one file.
pub(super) struct Builder<'t> {
    pub(super) text: &'t str,
    pub(super) problems: Vec<(usize, MappingProblem)>,
}

impl Builder<'_> {
    pub(super) fn error(&mut self, span: Range<usize>, message: String) {
        let (line, col) = line_col(self.text, span.start);
        self.problems
            .push((span.start, MappingProblem { line, col, message }));
    }

    pub(super) fn into_error(mut self, origin: &Path) -> MappingFileError {
        self.problems.sort_by_key(|(at, _)| *at);
        MappingFileError {
            file: origin.to_path_buf(),
            problems: self.problems.into_iter().map(|(_, p)| p).collect(),
        }
    }

    pub(super) fn entity(
        &mut self,
        raw: RawEntity,
        lookups: &Arc<LookupTables>,
    ) -> Option<EntityMapping> {
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
            (e, Some(d)) => {
                let span = raw.direction.as_ref().map_or(0..0, Spanned::span);
                self.error(
                    span,
                    format!(
                        "field `{}` travels {}, but entity `{entity_name}` only {}",
                        raw.local.get_ref(),
                        directions_text(d),
                        directions_text(e)
                    ),
                );
                e
            }
        };
        let (push_ok, pull_ok) = (
            direction.allows(Direction::Push),
            direction.allows(Direction::Pull),
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
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// `push`, `pull` or `both ways`, for messages.
fn directions_text(d: Directions) -> &'static str {
    match d {
        Directions::Both => "both ways",
        Directions::Push => "push",
        Directions::Pull => "pull",
    }
}
