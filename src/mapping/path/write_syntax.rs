//! The syntax of writable JSONPaths: member names, quoted names, indexes and `==` filters,
//! with an error that names the character for everything that selects zero or many places.

use serde_json::Value;

use super::json_write::Step;

/// A cursor over the path text (with `$` in front).
pub(super) struct Parser<'t> {
    /// The path with `$` in front.
    pub(super) text: &'t str,
    /// The path as the user wrote it, for messages.
    pub(super) shown: &'t str,
    /// How many characters `$`/`$.` added in front of the user's text.
    pub(super) offset: usize,
    pub(super) pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> String {
        let at = self.pos.saturating_sub(self.offset) + 1;
        format!(
            "cannot write to `{}`: {message} at character {at}",
            self.shown
        )
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    pub(super) fn steps(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('.') => {
                            return Err(self.error("`..` (descendants) selects many places"));
                        }
                        Some('*') => return Err(self.error("`*` (wildcard) selects many places")),
                        _ => steps.push(Step::Key(self.name()?)),
                    }
                }
                '[' => {
                    self.pos += 1;
                    steps.push(self.bracket()?);
                }
                _ => return Err(self.error("expected `.` or `[`")),
            }
        }
        Ok(steps)
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.pos;
        for (i, c) in self.text[start..].char_indices() {
            let ok =
                c == '_' || c.is_alphabetic() || !c.is_ascii() || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos = start + i + c.len_utf8();
        }
        if self.pos == start {
            return Err(self.error("expected a member name"));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn bracket(&mut self) -> Result<Step, String> {
        self.skip_spaces();
        let step = match self.peek() {
            Some('\'' | '"') => Step::Key(self.quoted()?),
            Some(c) if c.is_ascii_digit() => Step::Index(self.index()?),
            Some('-') => return Err(self.error("a negative index cannot be written")),
            Some('*') => return Err(self.error("`*` (wildcard) selects many places")),
            Some(':') => return Err(self.error("a slice selects many places")),
            Some('?') => {
                self.pos += 1;
                Step::Filter(self.filter()?)
            }
            _ => return Err(self.error("expected a quoted name, an index or a `?` filter")),
        };
        self.skip_spaces();
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(step)
            }
            Some(',') => Err(self.error("a union (`,`) selects many places")),
            Some(':') => Err(self.error("a slice selects many places")),
            _ => Err(self.error("expected `]`")),
        }
    }

    fn index(&mut self) -> Result<usize, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| self.error("the index is too large"))
    }

    fn quoted(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err(self.error("expected a quote"));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated quoted name"));
            };
            self.pos += c.len_utf8();
            match c {
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated escape"));
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' | '\'' | '"' | '/' => e,
                        _ => return Err(self.error("unknown escape")),
                    });
                }
                c if c == quote => return Ok(out),
                c => out.push(c),
            }
        }
    }

    /// `(@.a == "x" && @['b'] == 2)` or the same without parentheses.
    fn filter(&mut self) -> Result<Vec<(String, Value)>, String> {
        self.skip_spaces();
        let parens = self.eat('(');
        let mut conds = Vec::new();
        loop {
            self.skip_spaces();
            if !self.eat('@') {
                return Err(self.error(
                    "expected `@` (a filter that can be written compares `@.key == literal`)",
                ));
            }
            let key = if self.eat('.') {
                self.name()?
            } else if self.eat('[') {
                self.skip_spaces();
                let k = self.quoted()?;
                self.skip_spaces();
                if !self.eat(']') {
                    return Err(self.error("expected `]`"));
                }
                k
            } else {
                return Err(self.error("expected `.key` after `@`"));
            };
            self.skip_spaces();
            if !(self.eat('=') && self.eat('=')) {
                return Err(self.error("only `==` filters can be written"));
            }
            self.skip_spaces();
            conds.push((key, self.literal()?));
            self.skip_spaces();
            if self.eat('&') {
                if !self.eat('&') {
                    return Err(self.error("expected `&&`"));
                }
                continue;
            }
            break;
        }
        if parens {
            self.skip_spaces();
            if !self.eat(')') {
                return Err(self.error("expected `)`"));
            }
        }
        Ok(conds)
    }

    fn literal(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('\'' | '"') => Ok(Value::String(self.quoted()?)),
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
                {
                    self.pos += 1;
                }
                serde_json::from_str(&self.text[start..self.pos])
                    .map_err(|_| self.error("expected a string, number, true, false or null"))
            }
        }
    }
}
