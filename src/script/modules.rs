//! [`LibResolver`]: `import "lib/dates" as dates;` reads `scripts/lib/dates.rhai`, and nothing
//! else: paths must start with `lib/`, may not climb out with `..` or be absolute, and name
//! only letters, digits, `_`, `-` and `/`. Each module is compiled and initialised once per
//! engine (that is, per channel) and shared by every script and run after that.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, EvalAltResult, Module, ModuleResolver, Position, Scope};

/// A module shared between scripts (rhai keeps its alias private).
type SharedModule = rhai::Shared<Module>;

use super::env::LIB_PREFIX;

/// The module resolver of an engine with a scripts folder.
pub(crate) struct LibResolver {
    /// The scripts folder; import paths are relative to it.
    root: PathBuf,
    /// Modules already initialised, by import path.
    cache: Mutex<HashMap<String, SharedModule>>,
}

thread_local! {
    /// The imports being resolved on this thread, to stop an import cycle.
    static RESOLVING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

impl LibResolver {
    pub(crate) fn new(root: PathBuf) -> Self {
        LibResolver {
            root,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The file an import path names, or why it may not be imported.
    pub(crate) fn file_for(&self, path: &str) -> Result<PathBuf, String> {
        let name = path.strip_suffix(".rhai").unwrap_or(path);
        let allowed = name.strip_prefix(LIB_PREFIX).is_some_and(|rest| {
            !rest.is_empty()
                && rest.split('/').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                })
        });
        if !allowed {
            return Err(format!(
                "cannot import `{path}`: modules are imported from {}/{LIB_PREFIX}, as \"{LIB_PREFIX}name\" (letters, digits, `_`, `-`; no `..`)",
                self.root.display().to_string().trim_end_matches('/')
            ));
        }
        Ok(self.root.join(format!("{name}.rhai")))
    }

    fn load(
        &self,
        engine: &Engine,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let runtime = |text: String| -> Box<EvalAltResult> {
            Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(text), pos))
        };
        let file = self.file_for(path).map_err(runtime)?;
        let shown = file.display().to_string();
        let source = match std::fs::read_to_string(&file) {
            Ok(source) => source,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(runtime(format!(
                    "cannot import `{path}`: there is no file {shown}{}",
                    self.nearby(path)
                        .map(|hit| format!(" (did you mean \"{hit}\"?)"))
                        .unwrap_or_default()
                )));
            }
            Err(e) => {
                return Err(runtime(format!(
                    "cannot import `{path}`: cannot read {shown}: {e}"
                )));
            }
        };
        let mut ast = engine.compile(&source).map_err(|e| {
            Box::new(EvalAltResult::ErrorInModule(
                shown.clone(),
                Box::new(EvalAltResult::ErrorParsing(*e.0, e.1)),
                pos,
            ))
        })?;
        ast.set_source(shown.as_str());
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(shown.clone(), e, pos)))?;
        module.set_id(shown.as_str());
        module.build_index();
        Ok(Arc::new(module))
    }
}

impl LibResolver {
    /// The import path of the module in `lib/` whose name is closest to `path`'s.
    fn nearby(&self, path: &str) -> Option<String> {
        let entries = std::fs::read_dir(self.root.join(LIB_PREFIX)).ok()?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_str()?.strip_suffix(".rhai")?.to_string();
                Some(format!("{LIB_PREFIX}{name}"))
            })
            .collect();
        names.sort();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        crate::channel::suggest::did_you_mean(path, &refs).map(str::to_string)
    }
}

impl ModuleResolver for LibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(module) = self.cache.lock().ok().and_then(|c| c.get(path).cloned()) {
            return Ok(module);
        }
        let cycle = RESOLVING.with(|r| {
            let mut r = r.borrow_mut();
            if r.iter().any(|p| p == path) {
                Some(format!("import cycle: {} -> {path}", r.join(" -> ")))
            } else {
                r.push(path.to_string());
                None
            }
        });
        if let Some(cycle) = cycle {
            return Err(Box::new(EvalAltResult::ErrorRuntime(
                Dynamic::from(cycle),
                pos,
            )));
        }
        let loaded = self.load(engine, path, pos);
        RESOLVING.with(|r| {
            r.borrow_mut().pop();
        });
        let module = loaded?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(path.to_string(), module.clone());
        }
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lib_paths_resolve_to_files() {
        let r = LibResolver::new(PathBuf::from("scripts"));
        assert_eq!(
            r.file_for("lib/dates").unwrap(),
            PathBuf::from("scripts/lib/dates.rhai")
        );
        assert_eq!(
            r.file_for("lib/hl7/names.rhai").unwrap(),
            PathBuf::from("scripts/lib/hl7/names.rhai")
        );
        for bad in [
            "dates",
            "lib/",
            "lib/../secrets",
            "/etc/passwd",
            "lib//x",
            "lib/a b",
            "../lib/x",
            "lib/./x",
        ] {
            let err = r.file_for(bad).unwrap_err();
            assert!(err.contains("scripts/lib/"), "{bad}: {err}");
        }
    }
}
