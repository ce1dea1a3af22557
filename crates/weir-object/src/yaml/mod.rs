//! YAML exactly as kustomize v5.5.0 reads and writes it.
//!
//! Reading follows kyaml, which parses with yaml.v3 and turns each document into JSON
//! (`RNode.MarshalJSON`): plain scalars resolve by yaml.v3's YAML 1.2-like rules (`yes` stays a
//! string, `0755` is octal), tags are checked against the text, anchors, aliases and merge keys
//! are expanded (as kyaml's `DeAnchor` does, quirks included), and timestamps become RFC 3339
//! strings as `encoding/json` prints them. kyaml re-encodes each document with yaml.v3 before
//! decoding it, and that round trip changes some folded (`>`) scalars; that is reproduced too.
//!
//! Writing follows `yaml.JSONToYAML` from sigs.k8s.io/yaml v1.4.0, whose YAML side is goyaml.v2:
//! keys sorted by goyaml.v2's natural order, strings quoted whenever YAML 1.1 would read them as
//! something else, numbers printed as Go prints them after a JSON round trip, and the libyaml
//! emitter's layout (2-space indent, indentless sequences under keys, folding at 80 columns).
//!
//! The point is byte-for-byte agreement with `kubectl kustomize`, so the rules are the Go
//! libraries' rules, quirks included; comments name the Go function each part mirrors. The
//! tests hold this against output recorded from `kubectl kustomize` (`testdata/record.sh`).
//!
//! Non-goals: keeping comments, styles or key order through a round trip (kustomize keeps
//! none of them either), and YAML that JSON cannot hold (such input is an error).

mod decode;
mod emitter;
mod folded;
mod key_order;
mod node;
mod number;
mod resolve;
mod scalar;
mod timestamp;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// One document of a stream: its value and the 1-based line its content starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document as JSON, as kustomize sees it.
    pub value: Value,
    /// Line of the document's root node in the file.
    pub line: usize,
}

/// Why a YAML stream could not be read. Every variant names the file, a 1-based line and column,
/// and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not well-formed YAML.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// File, as the caller named it.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A mapping repeats a key (yaml.v3 refuses these; the message is yaml.v3's).
    #[error("{path}:{line}:{column}: {message}")]
    DuplicateKey {
        /// File, as the caller named it.
        path: String,
        /// 1-based line of the repeated key.
        line: usize,
        /// 1-based column of the repeated key.
        column: usize,
        /// `mapping key "x" already defined at line N`.
        message: String,
    },
    /// Aliases expand to far more than the text holds (a "billion laughs" document).
    #[error("{path}:{line}:{column}: {message}")]
    Aliasing {
        /// File, as the caller named it.
        path: String,
        /// 1-based line of the node being expanded when the budget ran out.
        line: usize,
        /// 1-based column of that node.
        column: usize,
        /// What was exceeded.
        message: String,
    },
    /// Valid YAML that JSON cannot hold: `.inf`, `.nan`, null or collection keys.
    #[error("{path}:{line}:{column}: {message}")]
    Unrepresentable {
        /// File, as the caller named it.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What cannot be held.
        message: String,
    },
    /// Anything else yaml.v3 refuses: a tag that does not fit its text, bad `!!binary` data,
    /// a merge key whose value is not a mapping, a recursive alias.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// File, as the caller named it.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Parses a multi-document stream. Empty documents and documents that are only null are
/// skipped (as kustomize does).
pub fn parse_documents(path: &str, text: &str) -> Result<Vec<Document>, Error> {
    parse_documents_with(path, text, &Options::default())
}

/// How to read a stream.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Options {
    /// Let a repeated mapping key replace the earlier one instead of failing (how goyaml.v2,
    /// and so kustomize reading kustomization files, behaves).
    pub allow_duplicate_keys: bool,
}

impl Options {
    /// Options that accept duplicate keys, the later one winning.
    pub fn lenient_keys() -> Self {
        Options {
            allow_duplicate_keys: true,
        }
    }
}

/// [`parse_documents`] with options.
pub fn parse_documents_with(
    path: &str,
    text: &str,
    options: &Options,
) -> Result<Vec<Document>, Error> {
    let mut documents = Vec::new();
    node::for_each_document(path, text, |tree| {
        let line = tree.nodes.first().map_or(1, |root| root.line);
        match decode::decode(path, text.len(), &tree, options.allow_duplicate_keys)? {
            None | Some(Value::Null) => {}
            Some(value) => documents.push(Document { value, line }),
        }
        Ok(())
    })?;
    Ok(documents)
}

/// Serialises one value exactly as kustomize prints a resource.
pub fn to_yaml(value: &Value) -> String {
    emitter::Emitter::document(value)
}

/// The first character of `value` that makes kustomize fail to print it, if any.
///
/// kustomize prints through `encoding/json` and then goyaml.v2, which re-reads the JSON. Its
/// reader rejects DEL, the C1 controls other than NEL, and U+FFFE/U+FFFF, which JSON leaves
/// unescaped ("yaml: control characters are not allowed"); and a NEL in a key reads as a line
/// break inside a flow mapping key, which is a syntax error. [`to_yaml`] writes all of these
/// anyway, so callers that must fail where kustomize fails check this first.
pub fn unprintable_char(value: &Value) -> Option<char> {
    let refused =
        |c: &char| matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}');
    match value {
        Value::String(text) => text.chars().find(refused),
        Value::Array(items) => items.iter().find_map(unprintable_char),
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            let in_key = key.chars().find(|c| refused(c) || *c == '\u{85}');
            in_key.or_else(|| unprintable_char(value))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}
