//! goyaml.v2's encoder and emitter for the values JSON can hold.
//!
//! The encoder turns a value into events and the libyaml emitter lays them out; here both are
//! one recursive walk that keeps the emitter's layout state (column, indent stack, whether the
//! last thing written was whitespace or indentation) and updates it exactly where
//! `emitterc.go` does, so line breaks and spaces fall in the same places.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::key_order;
use super::number;
use super::scalar::{self, Style};

/// libyaml's default indentation.
pub(super) const BEST_INDENT: i32 = 2;
/// libyaml's default preferred line width.
pub(super) const BEST_WIDTH: usize = 80;
/// Longest key (in bytes) written as a simple `key: value`; longer ones use `? key`.
const SIMPLE_KEY_MAX: usize = 128;

/// Where a node sits, as libyaml's `*_context` flags record it.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    mapping: bool,
    simple_key: bool,
}

/// Output and layout state of `yaml_emitter_t`.
#[derive(Debug)]
pub(super) struct Emitter {
    out: String,
    pub(super) column: usize,
    /// Current indentation; negative before the first block collection.
    indent: i32,
    indents: Vec<i32>,
    /// The last character written was whitespace (or nothing yet on this line).
    pub(super) whitespace: bool,
    /// Only indentation has been written on this line so far.
    pub(super) indention: bool,
}

impl Emitter {
    /// One document as `yaml.Marshal` writes it: no `---`, ending with a line break.
    pub(super) fn document(value: &Value) -> String {
        let mut emitter = Emitter {
            out: String::new(),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
        };
        emitter.node(value, Context::default());
        // DOCUMENT-END (implicit) only finishes the last line.
        emitter.write_indent();
        emitter.out
    }

    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain, context),
            Value::Number(n) => {
                let text = match n.as_f64() {
                    Some(float) if n.is_f64() => number::float_to_yaml(float),
                    _ => n.to_string(),
                };
                self.scalar(&text, Style::Plain, context);
            }
            Value::String(s) => {
                let s = scalar::after_json_reread(s);
                self.scalar(&s, scalar::string_style(&s), context);
            }
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Array(items) => self.block_sequence(items, context),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Object(map) => self.block_mapping(map),
        }
    }

    /// An empty collection: libyaml writes those in flow style. JSON values never put anything
    /// in flow style otherwise, so flow collections here are always empty.
    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value], context: Context) {
        // A sequence directly under a mapping key is "indentless": `key:\n- item`.
        self.increase_indent(false, context.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, map: &Map<String, Value>) {
        self.increase_indent(false, false);
        let mut entries: Vec<(Cow<'_, str>, &Value)> = map
            .iter()
            .map(|(key, value)| (scalar::after_json_reread(key), value))
            .collect();
        key_order::sort(&mut entries, |(key, _)| key);
        for (key, value) in entries {
            let key = key.as_ref();
            self.write_indent();
            let analysis = scalar::analyze(key);
            let simple = !analysis.multiline && key.len() <= SIMPLE_KEY_MAX;
            let key_context = Context {
                mapping: true,
                simple_key: simple,
            };
            let value_context = Context {
                mapping: true,
                simple_key: false,
            };
            if simple {
                self.scalar(key, scalar::string_style(key), key_context);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(key, scalar::string_style(key), key_context);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, value_context);
        }
        self.pop_indent();
    }

    /// `yaml_emitter_emit_scalar`.
    fn scalar(&mut self, text: &str, requested: Style, context: Context) {
        let analysis = scalar::analyze(text);
        // Scalars are never inside a flow collection: only empty ones are written in flow style.
        let style = scalar::select_style(requested, &analysis, false, context.simple_key);
        self.increase_indent(true, false);
        let allow_breaks = !context.simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.pop_indent();
    }

    /// `yaml_emitter_increase_indent`.
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    pub(super) fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    pub(super) fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// `write_break`: a line feed is written as the configured break; other break characters
    /// are copied as they are.
    pub(super) fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    /// `yaml_emitter_write_indent`: starts a new line unless only indentation has been written
    /// on this one, then pads to the current indent.
    pub(super) fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent.max(0)).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    /// `yaml_emitter_write_indicator`.
    pub(super) fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }
}
