//! [`Lookups`]: the code tables in `scripts/lookups/*.csv` that scripts read with
//! `lookup("gender", code)`.
//!
//! Each file is one table named after its stem. The first row names the columns; the first
//! column is the code looked up, the second the value `lookup(table, code)` returns, and any
//! further columns are read with `lookup(table, code, "column")`. Tables are read once, when the
//! channel loads (so editing a table and saving reloads the channels that use scripts).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::error::ScriptError;

/// One code table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupTable {
    /// Column names from the header row; the first is the code column.
    columns: Vec<String>,
    /// Each code's row (every column, the code included).
    rows: HashMap<String, Vec<String>>,
}

impl LookupTable {
    /// The column names, the code column first.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// How many codes the table holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table holds no codes (only a header).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each code with its second column: the shape mapping files' `lookup` function reads.
    pub fn pairs(&self) -> HashMap<String, String> {
        self.rows
            .iter()
            .filter_map(|(code, row)| row.get(1).map(|value| (code.clone(), value.clone())))
            .collect()
    }

    /// The value of `column` (the second column when `None`) for `code`; `Ok(None)` when the
    /// code is not in the table, `Err` naming the columns when there is no such column.
    pub fn get(&self, code: &str, column: Option<&str>) -> Result<Option<&str>, String> {
        let index = match column {
            None => 1,
            Some(name) => match self.columns.iter().position(|c| c == name) {
                Some(i) => i,
                None => {
                    return Err(format!(
                        "there is no column `{name}`; the columns are {}",
                        self.columns.join(", ")
                    ));
                }
            },
        };
        Ok(self
            .rows
            .get(code)
            .and_then(|row| row.get(index))
            .map(String::as_str))
    }
}

/// Every table of a lookups folder, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    tables: BTreeMap<String, LookupTable>,
    /// The files read, for hot reload.
    files: Vec<PathBuf>,
}

impl Lookups {
    /// Reads every `*.csv` in `dir`. A folder that does not exist holds no tables; a file
    /// that cannot be read or is malformed is an error naming the file and line.
    pub fn load(dir: &Path) -> Result<Lookups, ScriptError> {
        let mut lookups = Lookups::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(lookups),
            Err(source) => {
                return Err(ScriptError::Read {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        for file in files {
            let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let text = std::fs::read_to_string(&file).map_err(|source| ScriptError::Read {
                path: file.clone(),
                source,
            })?;
            let table = parse_table(&file, &text)?;
            lookups.tables.insert(name.to_string(), table);
            lookups.files.push(file);
        }
        Ok(lookups)
    }

    /// Builds a set from tables given in code (tests, `ihub test`).
    pub fn from_tables(tables: impl IntoIterator<Item = (String, LookupTable)>) -> Lookups {
        Lookups {
            tables: tables.into_iter().collect(),
            files: Vec::new(),
        }
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&LookupTable> {
        self.tables.get(name)
    }

    /// Every table as code → second column, for the `lookup` transform of mapping files.
    pub fn mapping_tables(&self) -> crate::mapping::transform::LookupTables {
        self.names()
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), self.table(name)?.pairs())))
            .collect()
    }

    /// The table names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tables.keys().map(String::as_str).collect()
    }

    /// The files the tables were read from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// Parses one CSV table; `file` names it in errors.
pub fn parse_table(file: &Path, text: &str) -> Result<LookupTable, ScriptError> {
    let bad = |line: usize, message: String| ScriptError::Lookup {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(1, format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if headers.len() < 2 || headers.iter().any(String::is_empty) {
        return Err(bad(
            1,
            "the first row names the columns: at least `code,value`".to_string(),
        ));
    }
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            bad(line, csv_problem(&e))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let row: Vec<String> = record.iter().map(str::to_string).collect();
        let Some(code) = row.first().cloned() else {
            continue;
        };
        if rows.insert(code.clone(), row).is_some() {
            return Err(bad(line, format!("the code `{code}` is listed twice")));
        }
    }
    Ok(LookupTable {
        columns: headers,
        rows,
    })
}

/// The csv crate's error without its own position text (the line is reported separately).
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} columns, the header {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the row is not UTF-8 text".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_value_column_and_optional_others() {
        let t = parse_table(
            Path::new("g.csv"),
            "code,value,display\nF, female ,Female\nM,male,Male\n",
        )
        .unwrap();
        assert_eq!(t.get("F", None).unwrap(), Some("female"));
        assert_eq!(t.get("M", Some("display")).unwrap(), Some("Male"));
        assert_eq!(t.get("X", None).unwrap(), None);
        let err = t.get("F", Some("colour")).unwrap_err();
        assert_eq!(
            err,
            "there is no column `colour`; the columns are code, value, display"
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn malformed_tables_name_file_and_line() {
        let err = parse_table(Path::new("g.csv"), "code,value\nF,female\nM\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.csv:3: the row has 1 columns, the header 2"
        );
        let err = parse_table(Path::new("g.csv"), "code,value\nF,a\nF,b\n").unwrap_err();
        assert_eq!(err.to_string(), "g.csv:3: the code `F` is listed twice");
        let err = parse_table(Path::new("g.csv"), "code\nF\n").unwrap_err();
        assert!(err.to_string().starts_with("g.csv:1: "), "{err}");
    }

    #[test]
    fn a_missing_folder_has_no_tables_and_files_are_read_by_stem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Lookups::load(&dir.path().join("nope"))
                .unwrap()
                .names()
                .is_empty()
        );
        std::fs::write(dir.path().join("gender.csv"), "code,value\nF,female\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a table").unwrap();
        let lookups = Lookups::load(dir.path()).unwrap();
        assert_eq!(lookups.names(), ["gender"]);
        assert_eq!(lookups.files().len(), 1);
    }
}
