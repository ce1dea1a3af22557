//! Legacy `vars:`: `$(NAME)` in selected fields is replaced by a field of a named object.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Error;
use crate::fieldspec::{self, Create};
use crate::path;
use crate::resource::ResMap;
use crate::types::{FieldSpec, Var};

fn fail(message: String) -> Error {
    Error::Build {
        context: "vars".into(),
        message,
    }
}

/// Records, on the object each var reads, the var's name (kustomize's MergeVars).
pub(crate) fn bind(resources: &mut ResMap, vars: &[Var]) -> Result<(), Error> {
    for v in vars {
        let target = crate::resid::ResId::new(v.objref.gvk(), &v.objref.name, &v.objref.namespace);
        let strict = !target.namespace.is_empty() || target.gvk.is_cluster_scoped();
        let matched = resources.matching_any_id(|id| {
            if strict {
                target.equals(id)
            } else {
                target.gvkn_equals(id)
            }
        });
        if matched.len() > 1 {
            return Err(fail(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                v.name
            )));
        }
        if let Some(i) = matched.first() {
            resources.list[*i].ref_var_names.push(v.name.clone());
        }
    }
    Ok(())
}

/// Resolves every var and substitutes `$(NAME)` in the var-reference fields.
pub(crate) fn resolve(
    resources: &mut ResMap,
    vars: &[Var],
    specs: &[FieldSpec],
) -> Result<(), Error> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for v in vars {
        let field = if v.fieldref.field_path.is_empty() {
            "metadata.name"
        } else {
            &v.fieldref.field_path
        };
        let res = resources
            .list
            .iter()
            .find(|r| r.ref_var_names.contains(&v.name))
            .ok_or_else(|| {
                fail(format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    v.name
                ))
            })?;
        let obj = Value::Object(res.obj.clone());
        let value = path::lookup(&obj, &path::split_with_indices(field))
            .map_err(fail)?
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "field specified in var '{}' not found in corresponding resource",
                    v.name
                ))
            })?;
        values.insert(v.name.clone(), value);
    }
    for res in &mut resources.list {
        let gvk = res.gvk();
        for fs in specs {
            if !fieldspec::matches(fs, &gvk) {
                continue;
            }
            fieldspec::apply(&mut res.obj, fs, Create::Nothing, &mut |node| {
                substitute_node(node, &values)
            })
            .map_err(fail)?;
        }
    }
    Ok(())
}

fn substitute_node(node: &mut Value, values: &BTreeMap<String, Value>) -> Result<(), String> {
    match node {
        Value::String(s) => {
            *node = expand(s, values);
            Ok(())
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => *item = expand(s, values),
                    _ => return Err("invalid value type expect a string".into()),
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Expands `$(NAME)`; `$$` is a literal `$`. A string that is exactly one reference takes the
/// value with its type.
fn expand(input: &str, values: &BTreeMap<String, Value>) -> Value {
    let mapped = |name: &str| -> Value {
        match values.get(name) {
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
            _ => Value::String(format!("$({name})")),
        }
    };
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let (read, is_var, advance) = match rest.as_bytes()[0] {
                b'$' => ("$".to_owned(), false, 1),
                b'(' => match rest.find(')') {
                    Some(end) => (rest[1..end].to_owned(), true, end + 1),
                    None => ("$(".to_owned(), false, 1),
                },
                _ => {
                    let c = rest.chars().next().unwrap_or_default();
                    (format!("${c}"), false, c.len_utf8())
                }
            };
            if is_var {
                let v = mapped(&read);
                if input == format!("$({read})") {
                    return v;
                }
                out.push_str(&path::scalar_text(&v));
            } else {
                out.push_str(&read);
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint <= input.len() {
        out.push_str(&input[checkpoint.min(input.len())..]);
    }
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expands_like_kustomize() {
        let mut m = BTreeMap::new();
        m.insert("A".to_owned(), json!("x"));
        m.insert("N".to_owned(), json!(3));
        assert_eq!(expand("pre-$(A)-post", &m), json!("pre-x-post"));
        assert_eq!(expand("$(N)", &m), json!(3));
        assert_eq!(expand("$$(A)", &m), json!("$(A)"));
        assert_eq!(expand("$(B)", &m), json!("$(B)"));
        assert_eq!(expand("cost $5", &m), json!("cost $5"));
    }
}
