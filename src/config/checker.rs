//! The validation context: turns `toml_edit` spans into lines and collects problems, plus the checks
//! every table shares (unknown keys, missing keys, value types).

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::ConfigProblem;
use super::keys::closest;

/// Collects problems while walking a parsed document.
pub(super) struct Checker<'a> {
    /// The file's text, for turning byte offsets into lines.
    source: &'a str,
    pub(super) problems: Vec<ConfigProblem>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(source: &'a str) -> Checker<'a> {
        Checker {
            source,
            problems: Vec::new(),
        }
    }

    /// 1-based line of a span's start; line 1 when `toml_edit` kept no span.
    pub(super) fn line(&self, span: Option<Range<usize>>) -> usize {
        let start = span.map_or(0, |span| span.start);
        let before = self.source.get(..start).unwrap_or(self.source);
        before.matches('\n').count() + 1
    }

    pub(super) fn report(&mut self, line: usize, message: String) {
        self.problems.push(ConfigProblem { line, message });
    }

    /// Report every key of `table` not in `allowed` (suggesting the closest allowed key) and every
    /// key of `required` it lacks (at `table_line`). A missing key that an unknown key looks like a
    /// misspelling of is reported only once, as the misspelling.
    pub(super) fn keys(
        &mut self,
        table: &dyn TableLike,
        allowed: &[&str],
        required: &[&str],
        table_line: usize,
        table_name: &str,
    ) {
        let mut suggested = Vec::new();
        for (key, _) in table.iter().filter(|(key, _)| !allowed.contains(key)) {
            let line = self.line(table.key(key).and_then(toml_edit::Key::span));
            let suggestion = closest(key, allowed);
            let fix = match suggestion {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("valid keys are {}", quoted_list(allowed)),
            };
            self.report(line, format!("unknown key `{key}` in {table_name}; {fix}"));
            suggested.extend(suggestion);
        }
        for key in required
            .iter()
            .filter(|key| !table.contains_key(key) && !suggested.contains(key))
        {
            self.report(table_line, format!("missing key `{key}` in {table_name}"));
        }
    }

    /// The string at `key` parsed with `parse`; `None` when absent, and `None` plus a problem at the
    /// value's line when it is not a string or `parse` rejects it. `example` shows a valid value.
    pub(super) fn parsed<T>(
        &mut self,
        table: &dyn TableLike,
        key: &str,
        example: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let item = table.get(key)?;
        let text = self.string(item, key, example)?;
        let line = self.line(item.span());
        parse(text)
            .map_err(|message| self.report(line, message))
            .ok()
    }

    /// The boolean at `key`; `None` when absent, and `None` plus a problem at the value's line (saying
    /// what `false` means, `when_false`) when it is no boolean.
    pub(super) fn boolean(
        &mut self,
        table: &dyn TableLike,
        key: &str,
        when_false: &str,
    ) -> Option<bool> {
        let item = table.get(key)?;
        let value = item.as_bool();
        if value.is_none() {
            let line = self.line(item.span());
            let message = format!(
                "`{key}` must be true or false ({when_false}), found {}",
                describe(item)
            );
            self.report(line, message);
        }
        value
    }

    /// The tables of an array of tables (`[[key]]`) or an array of inline tables (`key = [{ … }]`),
    /// each with its line; `None` plus a problem when `item` is neither.
    pub(super) fn tables<'t>(
        &mut self,
        item: &'t Item,
        key: &str,
        example: &str,
    ) -> Option<Vec<(&'t dyn TableLike, usize)>> {
        if let Some(array) = item.as_array_of_tables() {
            return Some(
                array
                    .iter()
                    .map(|table| (table as &dyn TableLike, self.line(table.span())))
                    .collect(),
            );
        }
        let Some(array) = item.as_array() else {
            let line = self.line(item.span());
            let message = format!(
                "`{key}` must be an array of tables like {example}, found {}",
                describe(item)
            );
            self.report(line, message);
            return None;
        };
        let mut tables = Vec::new();
        for value in array {
            let line = self.line(value.span());
            match value.as_inline_table() {
                Some(table) => tables.push((table as &dyn TableLike, line)),
                None => self.report(
                    line,
                    format!(
                        "each entry of `{key}` must be a table like {example}, found {}",
                        describe_value(value)
                    ),
                ),
            }
        }
        Some(tables)
    }

    /// The string value of `item`, or a wrong-type problem naming `key`; `example` shows a valid value.
    pub(super) fn string<'t>(
        &mut self,
        item: &'t Item,
        key: &str,
        example: &str,
    ) -> Option<&'t str> {
        let text = item.as_str();
        if text.is_none() {
            let line = self.line(item.span());
            self.report(
                line,
                format!(
                    "`{key}` must be a string like {example}, found {}",
                    describe(item)
                ),
            );
        }
        text
    }
}

/// A short description of an item's type, for wrong-type messages.
pub(super) fn describe(item: &Item) -> String {
    match item {
        Item::Value(value) => describe_value(value),
        Item::Table(_) => "a table".to_string(),
        Item::ArrayOfTables(_) => "an array of tables".to_string(),
        Item::None => "nothing".to_string(),
    }
}

/// A short description of a value's type, with the value when it is a scalar.
pub(super) fn describe_value(value: &Value) -> String {
    match value {
        Value::String(text) => format!("the string `{}`", text.value()),
        Value::Integer(number) => format!("the integer `{}`", number.value()),
        Value::Float(number) => format!("the number `{}`", number.value()),
        Value::Boolean(flag) => format!("the boolean `{}`", flag.value()),
        Value::Datetime(datetime) => format!("the datetime `{}`", datetime.value()),
        Value::Array(_) => "an array".to_string(),
        Value::InlineTable(_) => "an inline table".to_string(),
    }
}

/// `a`, `b` and `c`.
pub(super) fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}
