//! kyaml-style field paths (`spec.template.spec.containers.[name=web].image`), as used by
//! replacements and vars: reading one value, and visiting (or creating) every match.

use regex::Regex;
use serde_json::{Map, Value};

/// Splits a dotted path; `[...]` segments may contain dots.
pub(crate) fn split(path: &str) -> Vec<String> {
    let raw = crate::fieldspec::split_path_on(path, '.');
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let elem = &raw[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut joined = vec![elem.clone()];
            while i + 1 < raw.len() {
                i += 1;
                joined.push(raw[i].clone());
                if raw[i].ends_with(']') {
                    break;
                }
            }
            let s = joined.join(".");
            if s.contains('=') {
                out.push(s);
            } else {
                out.push(s.trim_matches(|c| c == '[' || c == ']').to_owned());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Also splits `name[3]` into `name`, `3` (vars accept that form).
pub(crate) fn split_with_indices(path: &str) -> Vec<String> {
    let re = Regex::new(r"^(.*)\[(\d+)\]$").expect("a valid constant regex");
    let mut out = Vec::new();
    for s in split(path) {
        match re.captures(&s) {
            Some(c) => {
                if !c[1].is_empty() {
                    out.push(c[1].to_owned());
                }
                out.push(c[2].to_owned());
            }
            None => out.push(s),
        }
    }
    out
}

fn is_list_index(p: &str) -> bool {
    p.starts_with('[') && p.ends_with(']')
}

fn split_index(p: &str) -> Result<(String, String), String> {
    let inner = &p[1..p.len() - 1];
    inner
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| {
            "list path element must contain fieldName=fieldValue for element to match".into()
        })
}

/// The text of a scalar as YAML would show it.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Reads the value at `path` (kyaml's Lookup): numbers index lists, `-` is the last element,
/// `[k=v]` picks the list element whose field `k` equals `v` (`[=v]` for plain lists).
pub(crate) fn lookup<'a>(node: &'a Value, path: &[String]) -> Result<Option<&'a Value>, String> {
    let mut cur = node;
    for part in path {
        let next = if let Ok(idx) = part.parse::<i64>() {
            if idx < 0 {
                return Err(format!("array index {idx} cannot be negative"));
            }
            cur.as_array().and_then(|a| a.get(idx as usize))
        } else if part == "-" {
            cur.as_array().and_then(|a| a.last())
        } else if part == "*" {
            return Err("wildcard is not supported in PathGetter".into());
        } else if is_list_index(part) {
            let (k, v) = split_index(part)?;
            cur.as_array().and_then(|a| {
                a.iter().find(|e| {
                    if k.is_empty() {
                        scalar_text(e) == v
                    } else {
                        e.get(&k).is_some_and(|f| scalar_text(f) == v)
                    }
                })
            })
        } else {
            match cur {
                Value::Object(m) => m.get(part.as_str()),
                Value::Null => None,
                _ => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// What kind of node to create for a missing path part.
fn kind_for_next(next: Option<&String>, leaf: &Value) -> Value {
    match next {
        Some(n) if is_list_index(n) || n.parse::<usize>().is_ok() => Value::Array(Vec::new()),
        Some(_) => Value::Object(Map::new()),
        None => match leaf {
            Value::Object(_) => Value::Object(Map::new()),
            Value::Array(_) => Value::Array(Vec::new()),
            _ => Value::Null,
        },
    }
}

/// Visits every node matching `path` (kyaml's PathMatcher): `*` matches every element,
/// `[k=regex]` matches elements whose field `k` matches the (unanchored) regex. With `create`,
/// missing fields and elements are created, shaped like `create`. Returns how many matched.
pub(crate) fn visit(
    node: &mut Value,
    path: &[String],
    create: Option<&Value>,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<usize, String> {
    let Some((part, rest)) = path.split_first() else {
        f(node)?;
        return Ok(1);
    };
    if let Ok(idx) = part.parse::<usize>() {
        let Value::Array(items) = node else {
            return Err(format!("expected a list at index {idx}"));
        };
        if items.len() == idx
            && let Some(leaf) = create
        {
            items.push(kind_for_next(rest.first(), leaf));
        }
        let len = items.len();
        let item = items
            .get_mut(idx)
            .ok_or_else(|| format!("index {idx} specified but only {len} elements found"))?;
        return visit(item, rest, create, f);
    }
    if is_list_index(part) {
        let (field, pattern) = split_index(part)?;
        let re = Regex::new(&pattern).map_err(|e| format!("invalid pattern '{pattern}': {e}"))?;
        let Value::Array(items) = node else {
            return Ok(0);
        };
        let mut count = 0;
        for item in items.iter_mut() {
            let text = if field.is_empty() {
                Some(scalar_text(item))
            } else {
                item.get(&field).filter(|v| !v.is_null()).map(scalar_text)
            };
            if text.is_some_and(|t| re.is_match(t.trim())) {
                if field.is_empty() {
                    f(item)?;
                    count += 1;
                } else {
                    count += visit(item, rest, create, f)?;
                }
            }
        }
        if count == 0
            && let Some(leaf) = create
        {
            let value = Value::String(pattern.clone());
            let elem = if field.is_empty() {
                value
            } else {
                let mut m = Map::new();
                m.insert(field.clone(), value);
                Value::Object(m)
            };
            items.push(elem);
            return visit(node, path, Some(leaf), f);
        }
        return Ok(count);
    }
    if part == "*" {
        let Value::Array(items) = node else {
            return Ok(0);
        };
        let mut count = 0;
        for item in items.iter_mut() {
            count += visit(item, rest, create, f)?;
        }
        return Ok(count);
    }
    match node {
        Value::Object(map) => {
            if !map.contains_key(part.as_str()) {
                match create {
                    Some(leaf) => {
                        map.insert(part.clone(), kind_for_next(rest.first(), leaf));
                    }
                    None => return Ok(0),
                }
            }
            match map.get_mut(part.as_str()) {
                Some(child) => visit(child, rest, create, f),
                None => Ok(0),
            }
        }
        Value::Null if create.is_some() => {
            *node = Value::Object(Map::new());
            visit(node, path, create, f)
        }
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_split_around_brackets() {
        assert_eq!(
            split("spec.containers.[name=a.b].image"),
            vec!["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split("metadata.annotations.[a.b/c]"),
            vec!["metadata", "annotations", "a.b/c"]
        );
        assert_eq!(
            split_with_indices("spec.ports[0].port"),
            vec!["spec", "ports", "0", "port"]
        );
    }

    #[test]
    fn lookup_and_visit() {
        let mut v = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let got = lookup(&v, &split("spec.containers.[name=b].image")).expect("ok");
        assert_eq!(got, Some(&json!("y")));
        let n = visit(&mut v, &split("spec.containers.*.image"), None, &mut |n| {
            *n = json!("z");
            Ok(())
        })
        .expect("ok");
        assert_eq!(n, 2);
        let n = visit(
            &mut v,
            &split("metadata.labels.app"),
            Some(&json!("s")),
            &mut |n| {
                *n = json!("web");
                Ok(())
            },
        )
        .expect("ok");
        assert_eq!(n, 1);
        assert_eq!(v["metadata"]["labels"]["app"], "web");
    }
}
