//! Multi-document YAML to objects, keeping file and line for every error.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::id::{GroupKind, ObjectId};

/// Where a document came from: a file path (or `-` for standard input) and the line its
/// document starts on, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file as the user named it.
    pub path: Arc<str>,
    /// First line of the document in that file.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// Why a YAML stream could not be decoded into objects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The YAML itself is malformed (or exceeds the reader's alias budget, or repeats a key).
    #[error(transparent)]
    Yaml(#[from] crate::yaml::Error),
    /// A document is valid YAML but not a mapping, so it cannot be a Kubernetes object.
    #[error(
        "{origin}: document is a {found}, not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
    )]
    NotAnObject {
        /// Where the document starts.
        origin: Source,
        /// What was found instead: "list", "string", ...
        found: &'static str,
    },
    /// A required field is missing or not a non-empty string.
    #[error(
        "{origin}: object has no {field}: every Kubernetes object needs apiVersion, kind and metadata.name"
    )]
    MissingField {
        /// Where the document starts.
        origin: Source,
        /// The dotted field path, such as `metadata.name`.
        field: &'static str,
    },
}

/// One decoded Kubernetes object and the document it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object's fields, in the order they were written.
    pub fields: Map<String, Value>,
    /// Where it was read from.
    pub source: Source,
}

impl Object {
    fn str_at(&self, path: &[&str]) -> Option<&str> {
        let (last, parents) = path.split_last()?;
        let mut map = &self.fields;
        for key in parents {
            map = map.get(*key)?.as_object()?;
        }
        map.get(*last)?.as_str().filter(|s| !s.is_empty())
    }

    /// `apiVersion`, when present.
    pub fn api_version(&self) -> Option<&str> {
        self.str_at(&["apiVersion"])
    }

    /// `kind`, when present.
    pub fn kind(&self) -> Option<&str> {
        self.str_at(&["kind"])
    }

    /// `metadata.name`, when present.
    pub fn name(&self) -> Option<&str> {
        self.str_at(&["metadata", "name"])
    }

    /// `metadata.namespace`, or `""` when unset.
    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"]).unwrap_or("")
    }

    /// The object's identity. Fails, naming the document, when apiVersion, kind or
    /// metadata.name is missing.
    pub fn id(&self) -> Result<ObjectId, Error> {
        let missing = |field| Error::MissingField {
            origin: self.source.clone(),
            field,
        };
        let api_version = self.api_version().ok_or_else(|| missing("apiVersion"))?;
        let kind = self.kind().ok_or_else(|| missing("kind"))?;
        let name = self.name().ok_or_else(|| missing("metadata.name"))?;
        let (group_kind, _) = GroupKind::from_api_version(api_version, kind);
        Ok(ObjectId {
            group_kind,
            namespace: self.namespace().to_owned(),
            name: name.to_owned(),
        })
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// Decodes a multi-document YAML stream into objects, reading YAML as kustomize and
/// `kubectl` do (see [`crate::yaml`]).
///
/// Empty documents and documents that are only `null` are skipped. Every other document must
/// be a mapping; identity fields are not checked here (call [`Object::id`]) so that callers
/// such as kustomize can accept partial objects.
pub fn decode_documents(path: &str, text: &str) -> Result<Vec<Object>, Error> {
    let path: Arc<str> = Arc::from(path);
    let mut objects = Vec::new();
    for doc in crate::yaml::parse_documents(&path, text)? {
        let source = Source {
            path: Arc::clone(&path),
            line: doc.line,
        };
        match doc.value {
            Value::Object(fields) => objects.push(Object { fields, source }),
            other => {
                return Err(Error::NotAnObject {
                    origin: source,
                    found: kind_of(&other),
                });
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_multiple_documents_with_their_lines() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n  namespace: ns\n";
        let objects = decode_documents("app.yaml", text).expect("valid stream");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].source.to_string(), "app.yaml:1");
        assert_eq!(objects[1].source.to_string(), "app.yaml:9");
        let id = objects[1].id().expect("complete object");
        assert_eq!(id.inventory_key(), "ns_b__Secret");
    }

    #[test]
    fn keeps_field_order() {
        let objects = decode_documents("x.yaml", "kind: A\napiVersion: v1\nmetadata: {name: n}\n")
            .expect("valid");
        let keys: Vec<_> = objects[0].fields.keys().cloned().collect();
        assert_eq!(keys, ["kind", "apiVersion", "metadata"]);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\ndata: [unclosed\n";
        let err = decode_documents("bad.yaml", text).expect_err("broken YAML");
        let message = err.to_string();
        assert!(message.starts_with("bad.yaml:"), "{message}");
        match err {
            Error::Yaml(crate::yaml::Error::Syntax { line, .. }) => {
                assert!((6..=8).contains(&line), "line {line}")
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn non_mapping_documents_are_rejected() {
        let err = decode_documents("list.yaml", "- a\n- b\n").expect_err("a list");
        assert_eq!(
            err.to_string(),
            "list.yaml:1: document is a list, not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
        );
    }

    #[test]
    fn missing_identity_fields_are_named() {
        let objects =
            decode_documents("x.yaml", "apiVersion: v1\nkind: ConfigMap\n").expect("valid");
        let err = objects[0].id().expect_err("no name");
        assert!(err.to_string().contains("has no metadata.name"), "{err}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 1..12 {
            text.push_str(&format!(
                "{}: &{} [*{},*{},*{},*{},*{},*{},*{},*{},*{},*{}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char,
                (b'a' + i - 1) as char
            ));
        }
        assert!(decode_documents("bomb.yaml", &text).is_err());
    }
}
