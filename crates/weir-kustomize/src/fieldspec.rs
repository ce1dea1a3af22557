//! Field specs: "in objects of this kind, the field at this path", and walking to those fields.

use serde_json::{Map, Value};

use crate::resid::Gvk;
use crate::types::FieldSpec;

/// Splits a field-spec path on `/`; `\/` stands for a literal slash inside a key (annotation
/// names such as `nginx.ingress.kubernetes.io\/auth-secret`).
pub(crate) fn split_path(path: &str) -> Vec<String> {
    split_path_on(path, '/')
}

/// Splits `path` on `sep`; a backslash before `sep` keeps it literal.
pub(crate) fn split_path_on(path: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&sep) => {
                cur.push(sep);
                chars.next();
            }
            c if c == sep => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    // A leading separator is allowed (`/a/b`).
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    parts
}

/// What to create at the end of the path when the field is missing and the spec allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Never create.
    Nothing,
    /// An empty mapping.
    Map,
    /// An empty string scalar.
    Scalar,
}

/// Whether the field spec applies to objects of this GVK.
pub(crate) fn matches(fs: &FieldSpec, gvk: &Gvk) -> bool {
    gvk.is_selected_by(&fs.gvk())
}

/// Calls `set` on every node the spec's path reaches in `obj` (lists along the path are walked
/// element by element). With `create`, missing mappings along the path and the final field are
/// created when the spec says `create: true`. Errors name the path segment that could not be
/// walked.
pub(crate) fn apply(
    obj: &mut Map<String, Value>,
    fs: &FieldSpec,
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let path = split_path(&fs.path);
    let create = if fs.create_if_not_present {
        create
    } else {
        Create::Nothing
    };
    walk_map(obj, &path, create, set)
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if path.is_empty() {
        return set(node);
    }
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, set)?;
            }
            Ok(())
        }
        Value::Object(map) => walk_map(map, path, create, set),
        _ => Err("expected sequence or mapping node".to_owned()),
    }
}

fn walk_map(
    map: &mut Map<String, Value>,
    path: &[String],
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let (name, is_seq) = match first.strip_suffix("[]") {
        Some(n) => (n, true),
        None => (first.as_str(), false),
    };
    if name.is_empty() {
        return Err("cannot set or create an empty field name".to_owned());
    }
    let make = if create == Create::Nothing || is_seq {
        None
    } else if rest.is_empty() {
        Some(match create {
            Create::Map => Value::Object(Map::new()),
            _ => Value::String(String::new()),
        })
    } else {
        Some(Value::Object(Map::new()))
    };
    match map.get_mut(name) {
        Some(field) => {
            if field.is_null()
                && let Some(empty) = make
            {
                *field = empty;
            }
            walk(field, rest, create, set)
        }
        None => match make {
            Some(empty) => {
                let field = map.entry(name.to_owned()).or_insert(empty);
                walk(field, rest, create, set)
            }
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            path: path.to_owned(),
            create_if_not_present: create,
            ..FieldSpec::default()
        }
    }

    #[test]
    fn escaped_slashes_stay_in_keys() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }

    #[test]
    fn walks_lists_and_creates_maps() {
        let mut obj = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        let map = obj.as_object_mut().expect("object");
        let mut seen = Vec::new();
        apply(
            map,
            &spec("spec/containers/image", false),
            Create::Scalar,
            &mut |v| {
                seen.push(v.as_str().unwrap_or_default().to_owned());
                *v = json!("x");
                Ok(())
            },
        )
        .expect("walk");
        assert_eq!(seen, ["a", "b"]);
        apply(map, &spec("metadata/labels", true), Create::Map, &mut |v| {
            v.as_object_mut()
                .expect("map")
                .insert("k".into(), json!("v"));
            Ok(())
        })
        .expect("create");
        assert_eq!(obj["metadata"]["labels"]["k"], "v");
        assert_eq!(obj["spec"]["containers"][1]["image"], "x");
    }

    #[test]
    fn scalar_in_the_middle_is_an_error() {
        let mut obj = json!({"spec": "oops"});
        let err = apply(
            obj.as_object_mut().expect("object"),
            &spec("spec/x", false),
            Create::Nothing,
            &mut |_| Ok(()),
        );
        assert!(err.is_err());
    }
}
