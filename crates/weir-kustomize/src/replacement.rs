//! `replacements:`: copy a value from one object's field into fields of others.

use serde_json::Value;

use crate::Error;
use crate::path;
use crate::resid::ResId;
use crate::resource::{ResMap, Resource};
use crate::selector::LabelSelector;
use crate::types::{FieldOptions, Replacement, Selector, TargetSelector};

fn fail(message: String) -> Error {
    Error::Build {
        context: "replacements".into(),
        message,
    }
}

fn selector_id(group: &str, version: &str, kind: &str, name: &str, namespace: &str) -> ResId {
    ResId::new(
        crate::resid::Gvk::new(group, version, kind),
        name,
        namespace,
    )
}

/// Applies the replacements in order.
pub(crate) fn apply(resources: &mut ResMap, replacements: &[Replacement]) -> Result<(), Error> {
    for r in replacements {
        let (Some(source), false) = (&r.source, r.targets.is_empty()) else {
            return Err(fail(
                "replacements must specify a source and at least one target".into(),
            ));
        };
        let sel = selector_id(
            &source.group,
            &source.version,
            &source.kind,
            &source.name,
            &source.namespace,
        );
        let mut found: Option<&Resource> = None;
        for res in &resources.list {
            if res.all_ids().iter().any(|id| id.is_selected_by(&sel)) {
                if found.is_some() {
                    return Err(fail(format!("multiple matches for selector {sel}")));
                }
                found = Some(res);
            }
        }
        let Some(src) = found else {
            return Err(fail(format!("nothing selected by {sel}")));
        };
        let field_path = if source.field_path.is_empty() {
            "metadata.name"
        } else {
            &source.field_path
        };
        let obj = Value::Object(src.obj.clone());
        let value = path::lookup(&obj, &path::split(field_path))
            .map_err(fail)?
            .filter(|v| !is_nil_or_empty(v))
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "fieldPath `{field_path}` is missing for replacement source {sel}"
                ))
            })?;
        let value = refine(source.options.as_ref(), value)?;
        for target in &r.targets {
            apply_target(resources, &value, target)?;
        }
    }
    Ok(())
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Applies the source's delimiter/index option.
fn refine(options: Option<&FieldOptions>, value: Value) -> Result<Value, Error> {
    let Some(o) = options.filter(|o| !o.delimiter.is_empty()) else {
        return Ok(value);
    };
    if value.is_object() || value.is_array() {
        return Err(fail(
            "delimiter option can only be used with scalar nodes".into(),
        ));
    }
    let text = path::scalar_text(&value);
    let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
    if o.index < 0 || o.index as usize >= parts.len() {
        return Err(fail(format!(
            "options.index {} is out of bounds for value {text}",
            o.index
        )));
    }
    Ok(Value::String(parts[o.index as usize].to_owned()))
}

fn selector_matches_meta(res: &Resource, sel: &Selector) -> Result<bool, Error> {
    let check = |s: &str, field: &str| -> Result<bool, Error> {
        if s.is_empty() {
            return Ok(true);
        }
        Ok(LabelSelector::parse(s)
            .map_err(fail)?
            .matches(&res.string_map(field)))
    };
    Ok(check(&sel.annotation_selector, "annotations")? && check(&sel.label_selector, "labels")?)
}

fn apply_target(
    resources: &mut ResMap,
    value: &Value,
    target: &TargetSelector,
) -> Result<(), Error> {
    let Some(select) = &target.select else {
        return Err(fail("target must specify resources to select".into()));
    };
    let default_paths = ["metadata.name".to_owned()];
    let paths: &[String] = if target.field_paths.is_empty() {
        &default_paths
    } else {
        &target.field_paths
    };
    let select_id = select.res_id();
    for res in &mut resources.list {
        if !selector_matches_meta(res, select)? {
            continue;
        }
        let mut rejected = false;
        for reject in &target.reject {
            if (!reject.annotation_selector.is_empty() || !reject.label_selector.is_empty())
                && selector_matches_meta(res, reject)?
            {
                rejected = true;
            }
        }
        if rejected {
            continue;
        }
        let ids = res.all_ids();
        let reject_by_id = target.reject.iter().any(|r| {
            let rid = r.res_id();
            rid != ResId::default() && ids.iter().any(|id| id.is_selected_by(&rid))
        });
        if reject_by_id || !ids.iter().any(|id| id.is_selected_by(&select_id)) {
            continue;
        }
        let create = target.options.as_ref().is_some_and(|o| o.create);
        for fp in paths {
            let mut doc = Value::Object(std::mem::take(&mut res.obj));
            let result = path::visit(
                &mut doc,
                &path::split(fp),
                if create { Some(value) } else { None },
                &mut |node| set_value(target.options.as_ref(), node, value),
            );
            if let Value::Object(m) = doc {
                res.obj = m;
            }
            let count = result.map_err(fail)?;
            if count == 0 {
                return Err(fail(if create {
                    format!("unable to find or create field \"{fp}\" in replacement target")
                } else {
                    format!("unable to find field \"{fp}\" in replacement target")
                }));
            }
        }
    }
    Ok(())
}

/// Writes `value` into a target field. A scalar target keeps its type, as kustomize copies
/// only the text into the existing node.
fn set_value(
    options: Option<&FieldOptions>,
    node: &mut Value,
    value: &Value,
) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(o) = options.filter(|o| !o.delimiter.is_empty()) {
        if node.is_object() || node.is_array() {
            return Err("delimiter option can only be used with scalar nodes".into());
        }
        let current = path::scalar_text(node);
        let mut parts: Vec<String> = current
            .split(o.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        let v = path::scalar_text(&value);
        if o.index < 0 {
            parts.insert(0, v);
        } else if o.index as usize >= parts.len() {
            parts.push(v);
        } else {
            parts[o.index as usize] = v;
        }
        value = Value::String(parts.join(&o.delimiter));
    }
    *node = match (&*node, value) {
        (Value::String(_), v @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => {
            Value::String(path::scalar_text(&v))
        }
        (Value::Number(_), Value::String(s)) => serde_json::from_str::<serde_json::Number>(&s)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        (Value::Bool(_), Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(s),
        },
        (_, v) => v,
    };
    Ok(())
}
