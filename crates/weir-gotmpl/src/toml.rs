//! Helm's `toToml`: TOML as BurntSushi/toml's encoder writes it (the library Helm uses): keys
//! sorted, plain values before tables, a blank line before each top-level table and each
//! element of an array of tables, two spaces of indent per nesting level, every number read
//! from values a float (`80.0`), `null`s left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::value::Value;

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::List(items) if !items.is_empty() && items.iter().all(is_table))
}

fn bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(key: &str) -> String {
    if bare(key) {
        key.to_owned()
    } else {
        quoted(key)
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` with `.0` added when there is no
/// dot, as the encoder does.
fn float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let text = crate::print::float_g(f);
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

fn element(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float(*f),
        Value::Str(s) => quoted(s),
        Value::List(items) => {
            let mut parts = Vec::new();
            for item in items.iter() {
                if matches!(item, Value::Nil) {
                    return Err("toml: cannot encode array with nil element".into());
                }
                parts.push(element(item)?);
            }
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => {
            // An inline table (inside an array mixing tables and other values).
            let mut parts = Vec::new();
            for (k, v) in m.snapshot() {
                if !matches!(v, Value::Nil) {
                    parts.push(format!("{} = {}", key_part(&k), element(&v)?));
                }
            }
            format!("{{{}}}", parts.join(", "))
        }
        Value::Nil => String::new(),
        Value::Object(_) => quoted(&crate::print::to_string(v)),
    })
}

struct Encoder {
    out: String,
}

impl Encoder {
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn header(key: &[String]) -> String {
        key.iter()
            .map(|k| key_part(k))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if let Value::Map(m) = v {
            if key.len() == 1 {
                self.newline();
            }
            if !key.is_empty() {
                let line = format!("{}[{}]", Self::indent(key), Self::header(key));
                self.out.push_str(&line);
                self.newline();
            }
            return self.table(key, &m.snapshot());
        }
        if is_table_array(v) {
            if let Value::List(items) = v {
                for item in items.iter() {
                    self.newline();
                    let line = format!("{}[[{}]]", Self::indent(key), Self::header(key));
                    self.out.push_str(&line);
                    self.newline();
                    if let Value::Map(m) = item {
                        self.table(key, &m.snapshot())?;
                    }
                }
            }
            return Ok(());
        }
        let name = key.last().map(|k| key_part(k)).unwrap_or_default();
        let line = format!("{}{} = {}", Self::indent(key), name, element(v)?);
        self.out.push_str(&line);
        self.newline();
        Ok(())
    }

    fn table(&mut self, key: &[String], map: &BTreeMap<String, Value>) -> Result<(), String> {
        let (sub, direct): (Vec<_>, Vec<_>) = map
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Nil))
            .partition(|(_, v)| is_table(v) || is_table_array(v));
        for (k, v) in direct.into_iter().chain(sub) {
            let mut path = key.to_vec();
            path.push(k.clone());
            self.encode(&path, v)?;
        }
        Ok(())
    }
}

/// `toToml`: the TOML of `v`, or the encoder's error text (as Helm returns it).
pub(crate) fn to_toml(v: &Value) -> String {
    let mut enc = Encoder { out: String::new() };
    let result = match v {
        Value::Map(_) => enc.encode(&[], v),
        other => element(other).map(|text| enc.out.push_str(&text)),
    };
    match result {
        Ok(()) => enc.out,
        Err(e) => e,
    }
}
