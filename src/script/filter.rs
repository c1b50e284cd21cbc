//! [`Filter`]: a Rhai expression over `msg` that decides whether a channel takes a message.

use std::sync::Arc;

use rhai::AST;

use super::engine::{Access, Ran, ScriptEngine, SourceKind};
use super::error::{FILTER_NAME, ScriptError};
use super::payload::Payload;
use crate::hl7::MessageBuf;

/// A compiled filter expression such as `msg.type == "ADT" && msg.trigger in ["A01", "A04"]`.
///
/// Compiled once when the channel is built, then run for each message. It is a single
/// expression (no statements), it sees `msg` read-only, and it must return `true` or `false`;
/// a call to `drop(reason)` counts as `false`. It runs synchronously under the engine's limits:
/// call [`Filter::accepts`] from `spawn_blocking` or a dedicated thread, not a reactor thread.
#[derive(Debug, Clone)]
pub struct Filter {
    engine: Arc<ScriptEngine>,
    ast: Arc<AST>,
    name: Arc<str>,
    expression: String,
}

impl Filter {
    /// Compiles `expression`; errors name the "filter expression" with line and column.
    pub fn compile(engine: &Arc<ScriptEngine>, expression: &str) -> Result<Self, ScriptError> {
        let ast = engine.compile(FILTER_NAME, expression, SourceKind::Expression)?;
        Ok(Filter {
            engine: Arc::clone(engine),
            ast: Arc::new(ast),
            name: Arc::from(FILTER_NAME),
            expression: expression.to_string(),
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether the channel takes `msg`. Any result other than a boolean is
    /// [`ScriptError::NotBool`], naming the type returned.
    pub fn accepts(&self, msg: &MessageBuf) -> Result<bool, ScriptError> {
        self.accepts_payload(
            &Payload::Hl7(msg.clone()),
            msg.as_message().control_id().into_owned(),
        )
    }

    /// [`Filter::accepts`] for any message: a JSON document is `msg` as a map
    /// (`msg.resourceType == "Patient"`). `control_id` tags log lines.
    pub fn accepts_payload(&self, msg: &Payload, control_id: String) -> Result<bool, ScriptError> {
        // A constant, so that `msg.set(..)` in a filter fails instead of changing a copy.
        self.engine.run(
            &self.name,
            &self.ast,
            msg.clone(),
            Access::ReadOnly,
            control_id,
            |ran, _| match ran {
                Ran::Dropped(..) => Ok(false),
                Ran::Finished(value, _) => value.as_bool().map_err(|found| ScriptError::NotBool {
                    file: FILTER_NAME.to_string(),
                    found: found.to_string(),
                }),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ScriptLimits;

    fn engine() -> Arc<ScriptEngine> {
        Arc::new(ScriptEngine::new(ScriptLimits::default()))
    }

    fn message(kind: &str) -> MessageBuf {
        let text = format!(
            "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101||{kind}|C1|P|2.5\rPID|1||123^^^HOSP^MR||DOE^JANE"
        );
        MessageBuf::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_filter_accepts_or_rejects() {
        let filter = Filter::compile(&engine(), r#"msg.type == "ORU""#).unwrap();
        assert!(filter.accepts(&message("ORU^R01")).unwrap());
        assert!(!filter.accepts(&message("ADT^A01")).unwrap());
        assert_eq!(filter.expression(), r#"msg.type == "ORU""#);
    }

    #[test]
    fn triggers_can_be_matched_against_a_list() {
        let filter = Filter::compile(
            &engine(),
            r#"msg.type == "ADT" && msg.trigger in ["A01", "A04"]"#,
        )
        .unwrap();
        assert!(filter.accepts(&message("ADT^A01")).unwrap());
        assert!(filter.accepts(&message("ADT^A04")).unwrap());
        assert!(!filter.accepts(&message("ADT^A08")).unwrap());
        assert!(!filter.accepts(&message("ORU^R01")).unwrap());
    }

    #[test]
    fn a_result_that_is_not_a_boolean_is_an_error_naming_its_type() {
        let filter = Filter::compile(&engine(), r#"msg.get("PID-5.1")"#).unwrap();
        let err = filter.accepts(&message("ADT^A01")).unwrap_err();
        match &err {
            ScriptError::NotBool { file, found } => {
                assert_eq!(file, "filter expression");
                assert_eq!(found, "string");
            }
            other => panic!("expected NotBool, got {other:?}"),
        }
        let text = err.to_string();
        assert_eq!(
            text,
            "filter expression: the expression returned string, not true or false"
        );
        // The value itself (a patient's name) stays out of the error.
        assert!(!text.contains("DOE"));
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let err =
            Filter::compile(&engine(), "msg.type == \"ORU\" &&\n  msg.trigger ==").unwrap_err();
        match err {
            ScriptError::Compile {
                file, line, col, ..
            } => {
                assert_eq!(file, "filter expression");
                assert_eq!((line, col), (2, 17));
            }
            other => panic!("expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn a_filter_is_one_expression() {
        assert!(matches!(
            Filter::compile(&engine(), "let x = 1; x == 1"),
            Err(ScriptError::Compile { .. })
        ));
    }

    #[test]
    fn a_filter_cannot_change_the_message() {
        let filter = Filter::compile(&engine(), r#"msg.set("MSH-4", "X") == ()"#).unwrap();
        match filter.accepts(&message("ADT^A01")) {
            Err(ScriptError::Runtime { message, .. }) => {
                assert!(message.contains("cannot be changed"), "{message}");
            }
            other => panic!("expected a runtime error, got {other:?}"),
        }
    }

    #[test]
    fn drop_in_a_filter_rejects() {
        let filter = Filter::compile(
            &engine(),
            r#"if msg.type == "ADT" { drop("no ADT") } else { true }"#,
        )
        .unwrap();
        assert!(!filter.accepts(&message("ADT^A01")).unwrap());
        assert!(filter.accepts(&message("ORU^R01")).unwrap());
    }
}
