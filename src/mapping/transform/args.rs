//! Reading a function's named arguments (`{ fn = "pad", width = 5, with = "0" }`), with errors
//! that name the function and the argument, and unknown arguments refused.

use serde_json::{Map, Value};

/// The arguments of one function call, consumed one by one; [`Args::finish`] refuses leftovers.
pub(super) struct Args<'a> {
    function: &'a str,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Args<'a> {
    pub(super) fn new(function: &'a str, map: &'a Map<String, Value>) -> Self {
        Args {
            function,
            map,
            known: Vec::new(),
        }
    }

    fn take(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key)
    }

    fn wrong(&self, key: &str, wanted: &str) -> String {
        format!("`{}`: argument `{key}` must be {wanted}", self.function)
    }

    pub(super) fn value(&mut self, key: &'static str) -> Option<Value> {
        self.take(key).cloned()
    }

    pub(super) fn string(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(key, "text")),
        }
    }

    pub(super) fn required_string(&mut self, key: &'static str) -> Result<String, String> {
        self.string(key)?
            .ok_or_else(|| format!("`{}` needs the argument `{key}`", self.function))
    }

    pub(super) fn count(&mut self, key: &'static str) -> Result<Option<usize>, String> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a whole number ≥ 0")),
        }
    }

    pub(super) fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "true or false")),
        }
    }

    pub(super) fn strings(&mut self, key: &'static str) -> Result<Vec<String>, String> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.wrong(key, "a list of texts")),
            Some(_) => Err(self.wrong(key, "a list of texts")),
        }
    }

    /// One of `choices`, or `default` when absent.
    pub(super) fn choice(
        &mut self,
        key: &'static str,
        choices: &[&str],
        default: &'static str,
    ) -> Result<String, String> {
        let value = self.string(key)?.unwrap_or_else(|| default.to_string());
        if choices.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(self.wrong(key, &format!("one of {}", choices.join(", "))))
        }
    }

    /// Refuses arguments the function does not take.
    pub(super) fn finish(self) -> Result<(), String> {
        for key in self.map.keys() {
            if key != "fn" && !self.known.contains(&key.as_str()) {
                let takes = if self.known.is_empty() {
                    "takes no arguments".to_string()
                } else {
                    format!("takes {}", self.known.join(", "))
                };
                return Err(format!(
                    "`{}` has no argument `{key}`; it {takes}",
                    self.function
                ));
            }
        }
        Ok(())
    }
}
