//! What an untagged plain scalar means.
//!
//! Reading follows yaml.v3 (`resolve.go`), which is YAML 1.2-like: only `true`/`false` in three
//! spellings are booleans. Writing asks goyaml.v2 the same question to decide whether a string
//! needs quotes, and v2 is YAML 1.1-like: `yes`, `on`, `y` and friends are booleans too. Apart
//! from that word list the two resolvers are the same algorithm.

use super::number;
use super::timestamp::{self, Timestamp};

/// Which Go YAML library is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schema {
    /// gopkg.in/yaml.v3, which kustomize reads with.
    V3,
    /// goyaml.v2, which kustomize writes with.
    V2,
}

/// The value a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// Too large for an int64 but fits a uint64.
    Uint(u64),
    Float(f64),
    Timestamp(Timestamp),
    Str,
}

impl Resolved {
    /// The short tag yaml.v3 would report, for error messages.
    pub(super) fn tag(&self) -> &'static str {
        match self {
            Resolved::Null => "!!null",
            Resolved::Bool(_) => "!!bool",
            Resolved::Int(_) | Resolved::Uint(_) => "!!int",
            Resolved::Float(_) => "!!float",
            Resolved::Timestamp(_) => "!!timestamp",
            Resolved::Str => "!!str",
        }
    }
}

/// Words with a fixed meaning, before any number parsing.
fn word(text: &str, schema: Schema) -> Option<Resolved> {
    let resolved = match text {
        "true" | "True" | "TRUE" => Resolved::Bool(true),
        "false" | "False" | "FALSE" => Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        _ if schema == Schema::V2 => match text {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Resolved::Bool(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Resolved::Bool(false),
            _ => return None,
        },
        _ => return None,
    };
    Some(resolved)
}

/// Resolves a plain scalar; `timestamps` is false when an explicit tag other than
/// `!!timestamp` rules them out.
pub(super) fn resolve(text: &str, schema: Schema, timestamps: bool) -> Resolved {
    // The first byte is a cheap hint of what the text could be; anything else is a string.
    let hint = text.as_bytes().first().copied();
    match hint {
        None => Resolved::Null,
        Some(b'+' | b'-' | b'0'..=b'9' | b'.' | b'y' | b'Y' | b'n' | b'N' | b't' | b'T')
        | Some(b'f' | b'F' | b'o' | b'O' | b'~') => {
            if let Some(resolved) = word(text, schema) {
                return resolved;
            }
            match hint {
                Some(b'.') => {
                    number::parse_decimal_float(text).map_or(Resolved::Str, Resolved::Float)
                }
                Some(b'+' | b'-' | b'0'..=b'9') => resolve_number(text, timestamps),
                _ => Resolved::Str,
            }
        }
        Some(_) => Resolved::Str,
    }
}

fn resolve_number(text: &str, timestamps: bool) -> Resolved {
    if timestamps && let Some(stamp) = timestamp::parse(text) {
        return Resolved::Timestamp(stamp);
    }
    let plain = text.replace('_', "");
    if let Some(int) = number::parse_int(&plain) {
        return Resolved::Int(int);
    }
    if let Some(uint) = number::parse_uint(&plain) {
        return Resolved::Uint(uint);
    }
    if number::is_yaml_style_float(&plain)
        && let Some(float) = number::parse_decimal_float(&plain)
    {
        return Resolved::Float(float);
    }
    // The resolvers' own `0b`/`0o` fallbacks accept nothing Go's ParseInt has not already
    // accepted (it knows those prefixes since Go 1.13), so they are not repeated here.
    Resolved::Str
}

/// goyaml.v2 `isBase60Float`: YAML 1.1 sexagesimal numbers such as `1:20`, which v2 no longer
/// parses but still quotes on output.
pub(super) fn is_base60_float(text: &str) -> bool {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    if !(first == b'+' || first == b'-' || first.is_ascii_digit()) || !text.contains(':') {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut i = usize::from(first == b'+' || first == b'-');
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i < start + 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let ok = match &b[start..i] {
            [d] => d.is_ascii_digit(),
            [tens, _] => (b'0'..=b'5').contains(tens),
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_v3_reading() {
        let v3 = |text| resolve(text, Schema::V3, true);
        assert_eq!(v3("yes"), Resolved::Str);
        assert_eq!(v3("True"), Resolved::Bool(true));
        assert_eq!(v3("~"), Resolved::Null);
        assert_eq!(v3("0755"), Resolved::Int(493));
        assert_eq!(v3("08"), Resolved::Float(8.0));
        assert_eq!(v3("1_000"), Resolved::Int(1000));
        assert_eq!(v3("0b101"), Resolved::Int(5));
        assert_eq!(v3("-0o17"), Resolved::Int(-15));
        assert_eq!(v3("18446744073709551615"), Resolved::Uint(u64::MAX));
        assert_eq!(v3("1e3"), Resolved::Float(1000.0));
        assert_eq!(v3(".5"), Resolved::Float(0.5));
        assert_eq!(v3("1e400"), Resolved::Str);
        assert_eq!(v3("0x1p3"), Resolved::Str);
        // The merge key is recognised by the parser, not the resolver.
        assert_eq!(v3("<<"), Resolved::Str);
        assert!(matches!(v3("2001-12-14"), Resolved::Timestamp(_)));
        assert_eq!(resolve("2001-12-14", Schema::V3, false), Resolved::Str);
    }

    #[test]
    fn goyaml_v2_quoting_questions() {
        let v2 = |text| resolve(text, Schema::V2, true);
        assert_eq!(v2("yes"), Resolved::Bool(true));
        assert_eq!(v2("Off"), Resolved::Bool(false));
        assert_eq!(v2("y"), Resolved::Bool(true));
        assert_eq!(v2("ok"), Resolved::Str);
    }

    #[test]
    fn base60() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("-190:20:30.15"));
        assert!(is_base60_float("1_0:5"));
        assert!(!is_base60_float("1:60"));
        assert!(!is_base60_float("1:2:"));
        assert!(!is_base60_float("12"));
        assert!(!is_base60_float("a:1"));
        assert!(!is_base60_float("1:123"));
    }
}
