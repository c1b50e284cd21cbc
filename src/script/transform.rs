//! [`Transform`]: a Rhai script that changes `msg` in place, drops it, or emits more messages.

use std::path::Path;
use std::sync::Arc;

use rhai::AST;

use super::api;
use super::engine::{Access, Ran, ScriptEngine, SourceKind};
use super::error::ScriptError;
use super::payload::Payload;
use crate::hl7::MessageBuf;

/// What a transform decided for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformOutcome {
    /// The script finished; the message (possibly changed) goes on to the destinations.
    Continue,
    /// The script called `drop(reason)`: the message is filtered, with this reason.
    Dropped(String),
}

/// Everything one run of a transform produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformRun {
    /// Whether the message goes on.
    pub outcome: TransformOutcome,
    /// The message as the script left it ([`TransformOutcome::Continue`]), or as it came in
    /// ([`TransformOutcome::Dropped`]). A script may turn HL7 into JSON by assigning a map to
    /// `msg`, or JSON into HL7 by assigning a message.
    pub message: Payload,
    /// The messages given to `emit(..)`, in order. They are kept when the script drops `msg`
    /// (that is how a message is split), and lost when it fails.
    pub emitted: Vec<Payload>,
}

/// A compiled transform script, shared by every message (and thread) of a channel.
///
/// The script sees the message as the variable `msg` and changes it with `msg.set(..)`. It runs
/// synchronously under the engine's limits: call [`Transform::run`] from `spawn_blocking` or a
/// dedicated thread, not a reactor thread.
#[derive(Debug, Clone)]
pub struct Transform {
    engine: Arc<ScriptEngine>,
    ast: Arc<AST>,
    name: Arc<str>,
}

impl Transform {
    /// Reads and compiles the script at `path` (its imports included); errors name the file
    /// with line and column.
    pub fn from_file(
        engine: &Arc<ScriptEngine>,
        path: impl AsRef<Path>,
    ) -> Result<Self, ScriptError> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_source(engine, &path.display().to_string(), &source)
    }

    /// Compiles script text; `name` stands for the file in errors and logs.
    pub fn from_source(
        engine: &Arc<ScriptEngine>,
        name: &str,
        source: &str,
    ) -> Result<Self, ScriptError> {
        let ast = engine.compile(name, source, SourceKind::Script)?;
        Ok(Transform {
            engine: Arc::clone(engine),
            ast: Arc::new(ast),
            name: Arc::from(name),
        })
    }

    /// The script's name: its path as given, or the name passed to [`Transform::from_source`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the script on an HL7 message in place. Changes reach `msg` only when the outcome
    /// is [`TransformOutcome::Continue`]; after an error or a drop, `msg` is as it was. A script
    /// that emits messages, or turns `msg` into JSON, is an error here: use
    /// [`Transform::run`], which returns them.
    pub fn apply(&self, msg: &mut MessageBuf) -> Result<TransformOutcome, ScriptError> {
        let control_id = msg.as_message().control_id().into_owned();
        let run = self.run(Payload::Hl7(msg.clone()), control_id)?;
        if !run.emitted.is_empty() {
            return Err(self.unusable("the script emitted messages, which this caller cannot take"));
        }
        match (run.outcome, run.message) {
            (TransformOutcome::Continue, Payload::Hl7(changed)) => {
                *msg = changed;
                Ok(TransformOutcome::Continue)
            }
            (TransformOutcome::Continue, Payload::Json(_)) => {
                Err(self
                    .unusable("the script turned `msg` into JSON, which this caller cannot take"))
            }
            (dropped, _) => Ok(dropped),
        }
    }

    /// Runs the script on `msg` (HL7, or JSON seen as a map) and returns the message as the
    /// script left it and what it emitted. `control_id` tags the script's log lines.
    pub fn run(&self, msg: Payload, control_id: String) -> Result<TransformRun, ScriptError> {
        // The script works on a copy so that a run that fails half-way leaves nothing
        // half-changed; the copy is moved back only when the script finished.
        let name = Arc::clone(&self.name);
        let input = msg.clone();
        let done = self.engine.run(
            &self.name,
            &self.ast,
            msg,
            Access::ReadWrite,
            control_id,
            move |ran, mut scope| {
                match ran {
                    Ran::Dropped(reason, emitted) => Ok((None, reason, emitted)),
                    Ran::Finished(_, emitted) => {
                        // `msg` is the scope's first entry: variables the script declared come
                        // after it, and shadowing is disabled, so a `let msg` cannot replace it.
                        scope.rewind(1);
                        let Some((_, value, _)) = scope.into_iter().next() else {
                            return Err(replaced(&name, "nothing"));
                        };
                        let message = if value.is::<MessageBuf>() {
                            let type_name = value.type_name();
                            Payload::Hl7(
                                value
                                    .try_cast::<MessageBuf>()
                                    .ok_or_else(|| replaced(&name, type_name))?,
                            )
                        } else if value.is_map() || value.is_array() {
                            Payload::Json(api::from_dynamic(&value).map_err(|e| {
                                replaced(&name, &format!("{} ({e})", value.type_name()))
                            })?)
                        } else {
                            return Err(replaced(&name, value.type_name()));
                        };
                        Ok((Some(message), String::new(), emitted))
                    }
                }
            },
        )?;
        Ok(match done {
            (Some(message), _, emitted) => TransformRun {
                outcome: TransformOutcome::Continue,
                message,
                emitted,
            },
            (None, reason, emitted) => TransformRun {
                outcome: TransformOutcome::Dropped(reason),
                message: input,
                emitted,
            },
        })
    }

    fn unusable(&self, message: &str) -> ScriptError {
        ScriptError::Runtime {
            file: self.name.to_string(),
            line: 0,
            col: 0,
            message: message.to_string(),
        }
    }
}

/// The error for a script that assigned something unusable to `msg`.
fn replaced(name: &str, type_name: &str) -> ScriptError {
    ScriptError::Runtime {
        file: name.to_string(),
        line: 0,
        col: 0,
        message: format!(
            "the script replaced `msg` with a value of type {type_name}; change the message with msg.set(path, value), or assign a message or a map"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::script::{ScriptLimits, spawn_script_thread};

    const ADT: &[u8] = b"MSH|^~\\&|REG|HOSP|EHR|HOSP|20240101||ADT^A01|C1|P|2.5.1\rPID|1||123^^^HOSP^MR||DOE^JANE\r";

    fn engine() -> Arc<ScriptEngine> {
        Arc::new(ScriptEngine::new(ScriptLimits::default()))
    }

    fn apply(source: &str, msg: &mut MessageBuf) -> Result<TransformOutcome, ScriptError> {
        Transform::from_source(&engine(), "t.rhai", source)?.apply(msg)
    }

    fn runtime(result: Result<TransformOutcome, ScriptError>) -> (usize, usize, String) {
        match result {
            Err(ScriptError::Runtime {
                line, col, message, ..
            }) => (line, col, message),
            other => panic!("expected a runtime error, got {other:?}"),
        }
    }

    #[test]
    fn a_script_file_sets_msh_4_and_the_bytes_change() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, r#"msg.set("MSH-4", "LENSWORKS");"#).unwrap();
        let transform = Transform::from_file(&engine(), file.path()).unwrap();
        assert_eq!(transform.name(), file.path().display().to_string());

        let mut msg = MessageBuf::parse(ADT).unwrap();
        assert_eq!(
            transform.apply(&mut msg).unwrap(),
            TransformOutcome::Continue
        );
        assert_eq!(
            msg.as_bytes(),
            b"MSH|^~\\&|REG|LENSWORKS|EHR|HOSP|20240101||ADT^A01|C1|P|2.5.1\rPID|1||123^^^HOSP^MR||DOE^JANE\r"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.rhai");
        let err = Transform::from_file(&engine(), &path).unwrap_err();
        assert!(matches!(err, ScriptError::Read { .. }));
        assert!(err.to_string().contains("nope.rhai"), "{err}");
    }

    #[test]
    fn a_compile_error_names_the_file_line_and_column() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "let a = 1;\nlet b = a +;\n").unwrap();
        let err = Transform::from_file(&engine(), file.path()).unwrap_err();
        let shown = err.to_string();
        match err {
            ScriptError::Compile {
                file: name,
                line,
                col,
                ..
            } => {
                assert_eq!(name, file.path().display().to_string());
                assert_eq!((line, col), (2, 12));
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
        assert!(
            shown.starts_with(&format!("{}:2:12: ", file.path().display())),
            "{shown}"
        );
    }

    #[test]
    fn an_undeclared_variable_is_a_compile_error_at_its_position() {
        match apply(
            "let a = 1;\nlet b = c + a;",
            &mut MessageBuf::parse(ADT).unwrap(),
        ) {
            Err(ScriptError::Compile {
                file,
                line,
                col,
                message,
            }) => {
                assert_eq!(file, "t.rhai");
                assert_eq!((line, col), (2, 9));
                assert!(message.contains("`c`"), "{message}");
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn drop_filters_with_a_reason_and_leaves_the_message_alone() {
        let source = r#"msg.set("MSH-4", "CHANGED");
                        if msg.trigger == "A01" { drop("A01 goes elsewhere"); }"#;
        let mut msg = MessageBuf::parse(ADT).unwrap();
        assert_eq!(
            apply(source, &mut msg).unwrap(),
            TransformOutcome::Dropped("A01 goes elsewhere".to_string())
        );
        assert_eq!(msg.as_bytes(), ADT);
        assert_eq!(
            apply("drop();", &mut msg).unwrap(),
            TransformOutcome::Dropped("dropped by the transform script".to_string())
        );
        // Not even a `try` around a closure can swallow it.
        assert_eq!(
            apply(
                r#"try { [1].map(|x| drop("inside")) } catch {} msg.set("MSH-4", "X");"#,
                &mut msg
            )
            .unwrap(),
            TransformOutcome::Dropped("inside".to_string())
        );
    }

    #[test]
    fn a_failed_run_leaves_the_message_alone() {
        let mut msg = MessageBuf::parse(ADT).unwrap();
        let (line, col, message) = runtime(apply(
            "msg.set(\"MSH-4\", \"CHANGED\");\nthrow \"stop here\";",
            &mut msg,
        ));
        assert_eq!((line, col, message.as_str()), (2, 1, "stop here"));
        assert_eq!(msg.as_bytes(), ADT);
    }

    #[test]
    fn scripts_read_the_header_and_any_path() {
        let source = r#"
            msg.set("ZZZ-1", msg.type);
            msg.set("ZZZ-2", msg.trigger);
            msg.set("ZZZ-3", msg.control_id);
            msg.set("ZZZ-4", msg.version);
            msg.set("ZZZ-5", msg.get("PID-5.2"));
            msg.set("ZZZ-6", msg.get("PID-99.3") == "" && msg.get("OBX[4]-5") == "");
            msg.set("ZZZ-7", msg.to_string().len() > 0 && msg.to_string().starts_with("MSH|"));
            msg.set("ZZZ-8", 42);
            msg.set("ZZZ-9", ());
        "#;
        let mut msg = MessageBuf::parse(ADT).unwrap();
        apply(source, &mut msg).unwrap();
        let zzz = msg.as_message().segment("ZZZ").unwrap();
        let fields: Vec<String> = (1..=9).map(|n| zzz.field(n).text().into_owned()).collect();
        assert_eq!(
            fields,
            [
                "ADT", "A01", "C1", "2.5.1", "JANE", "true", "true", "42", ""
            ]
        );
    }

    #[test]
    fn set_escapes_delimiters() {
        let mut msg = MessageBuf::parse(ADT).unwrap();
        apply(r#"msg.set("NTE-3", "a|b^c");"#, &mut msg).unwrap();
        assert_eq!(msg.get("NTE-3").unwrap().raw(), b"a\\F\\b\\S\\c");
        assert_eq!(msg.get("NTE-3").unwrap().text(), "a|b^c");
    }

    #[test]
    fn a_bad_path_names_the_path_and_points_at_it() {
        let mut msg = MessageBuf::parse(ADT).unwrap();
        let (line, col, message) =
            runtime(apply("let a = 1;\nlet x = msg.get(\"PID-x\");", &mut msg));
        assert_eq!((line, col), (2, 13));
        assert_eq!(
            message,
            "msg.get: invalid path `PID-x`: expected a field number at character 5\n  PID-x\n      ^"
        );
        let (_, _, message) = runtime(apply(r#"msg.set("PID-", "x");"#, &mut msg));
        assert!(
            message.starts_with("msg.set: invalid path `PID-`"),
            "{message}"
        );
        let (_, _, message) = runtime(apply(r#"msg.set("PID-5", [1, 2]);"#, &mut msg));
        assert!(message.contains("the value is array"), "{message}");
    }

    #[test]
    fn msg_cannot_be_replaced_or_hidden() {
        let mut msg = MessageBuf::parse(ADT).unwrap();
        let (_, _, message) = runtime(apply("msg = 1;", &mut msg));
        assert!(
            message.contains("replaced `msg` with a value of type i64"),
            "{message}"
        );
        let (_, _, message) = runtime(apply("let msg = 1;", &mut msg));
        assert!(message.contains("`let msg` would hide"), "{message}");
        assert_eq!(msg.as_bytes(), ADT);
    }

    #[test]
    fn functions_reach_msg_as_this() {
        let mut msg = MessageBuf::parse(ADT).unwrap();
        let (_, _, message) = runtime(apply(
            r#"fn stamp() { msg.set("MSH-4", "X") } stamp();"#,
            &mut msg,
        ));
        assert!(message.contains("functions do not see `msg`"), "{message}");
        let source =
            r#"fn stamp(facility) { this.set("MSH-4", facility); } msg.stamp("LENSWORKS");"#;
        apply(source, &mut msg).unwrap();
        assert_eq!(msg.get("MSH-4").unwrap().text(), "LENSWORKS");
    }

    #[test]
    fn one_transform_serves_four_threads_at_once() {
        let transform = Transform::from_source(
            &engine(),
            "t.rhai",
            r#"msg.set("MSH-4", "LENSWORKS"); msg.set("PID-9", msg.control_id + "-done");"#,
        )
        .unwrap();
        let check = |transform: &Transform, thread: usize| {
            for i in 0..25 {
                let id = format!("T{thread}-{i}");
                let mut msg = MessageBuf::parse(ADT).unwrap();
                msg.set("MSH-10", &id).unwrap();
                assert_eq!(
                    transform.apply(&mut msg).unwrap(),
                    TransformOutcome::Continue
                );
                assert_eq!(msg.get("MSH-4").unwrap().text(), "LENSWORKS");
                assert_eq!(msg.get("PID-9").unwrap().text(), format!("{id}-done"));
            }
        };
        // Ordinary threads: each run moves to a script thread of its own.
        let shared = &transform;
        std::thread::scope(|s| {
            for thread in 0..4 {
                s.spawn(move || check(shared, thread));
            }
        });
        // Script threads: runs stay on the caller's thread.
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let transform = transform.clone();
                spawn_script_thread(format!("script-{thread}"), move || {
                    check(&transform, thread)
                })
                .unwrap()
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}
