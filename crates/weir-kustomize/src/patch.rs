//! Patches: strategic merge (`patches`, `patchesStrategicMerge`) and JSON 6902
//! (`patches`, `patchesJson6902`).

use serde_json::Value;

use crate::Error;
use crate::resource::{ResMap, Resource};
use crate::selector::Compiled;
use crate::smp;
use crate::types::Selector;

/// A parsed patch.
pub(crate) enum Parsed {
    /// Strategic-merge patches (objects).
    Strategic(Vec<Resource>),
    /// A JSON 6902 operation list.
    Json(json_patch::Patch),
}

/// Parses patch text: a list of JSON 6902 operations (JSON or YAML), or one or more
/// strategic-merge objects. Text that is both or neither is an error.
pub(crate) fn parse(text: &str, source: &str) -> Result<Parsed, Error> {
    let fail = |message: String| Error::Build {
        context: format!("patch {source}"),
        message,
    };
    let docs = crate::yamlio::parse(source, text);
    let as_json: Option<json_patch::Patch> = match &docs {
        Ok(d) if d.len() == 1 && d[0].is_array() => serde_json::from_value(d[0].clone()).ok(),
        _ => None,
    };
    let as_objects: Option<Vec<Resource>> = match &docs {
        Ok(d) if !d.is_empty() && d.iter().all(Value::is_object) => Some(
            d.iter()
                .filter_map(|v| v.as_object().cloned())
                .map(|m| Resource::new(m, source))
                .collect(),
        ),
        _ => None,
    };
    match (as_json, as_objects) {
        (Some(_), Some(_)) => Err(fail(
            "illegally qualifies as both an SM and JSON patch".into(),
        )),
        (Some(p), None) => Ok(Parsed::Json(p)),
        (None, Some(objs)) => {
            for o in &objs {
                if o.kind().is_empty() {
                    return Err(fail("strategic merge patch has no kind".into()));
                }
            }
            Ok(Parsed::Strategic(objs))
        }
        (None, None) => match docs {
            Err(e) => Err(e),
            Ok(d) if d.len() == 1 && d[0].is_array() => Err(fail(
                "is a list but not a valid JSON 6902 patch (each operation needs op and path)"
                    .into(),
            )),
            Ok(_) => Err(fail("unable to parse SM or JSON patch".into())),
        },
    }
}

/// Options a `patches` entry can set.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PatchOptions {
    pub(crate) allow_name_change: bool,
    pub(crate) allow_kind_change: bool,
}

/// Indices of the resources a selector picks.
pub(crate) fn select(resources: &ResMap, target: &Selector) -> Result<Vec<usize>, Error> {
    let compiled = Compiled::new(target).map_err(|message| Error::Build {
        context: "patch target".into(),
        message,
    })?;
    Ok(resources
        .list
        .iter()
        .enumerate()
        .filter(|(_, r)| compiled.matches(r))
        .map(|(i, _)| i)
        .collect())
}

/// Applies one strategic-merge patch object to a resource, keeping its name, kind and
/// namespace unless the options allow changing them.
pub(crate) fn apply_strategic(
    res: &mut Resource,
    patch: &Resource,
    opts: PatchOptions,
    schema: &smp::Schema,
) -> Result<(), Error> {
    let (name, ns, kind) = (
        res.name().to_owned(),
        res.namespace().to_owned(),
        res.kind().to_owned(),
    );
    if opts.allow_name_change || opts.allow_kind_change {
        res.store_previous_id();
    }
    let id = res.cur_id();
    let target = Value::Object(std::mem::take(&mut res.obj));
    let patch_value = Value::Object(patch.obj.clone());
    let outcome = match smp::apply(&target, &patch_value, schema) {
        Ok(outcome) => outcome,
        Err(e) => {
            // Leave the resource as it was for any later message.
            if let Value::Object(m) = target {
                res.obj = m;
            }
            return Err(Error::Build {
                context: format!("applying patch {} to {id}", patch.origin),
                message: e.to_string(),
            });
        }
    };
    match outcome {
        smp::Outcome::Deleted => {
            res.obj = serde_json::Map::new();
            return Ok(());
        }
        smp::Outcome::Merged(Value::Object(m)) => res.obj = m,
        smp::Outcome::Merged(_) => {
            res.obj = serde_json::Map::new();
            return Ok(());
        }
    }
    if res.obj.is_empty() {
        return Ok(());
    }
    if !opts.allow_kind_change {
        res.set_kind(&kind);
    }
    if !opts.allow_name_change {
        res.set_name(&name);
    }
    res.set_namespace(&ns);
    Ok(())
}

/// Applies JSON 6902 operations to a resource.
pub(crate) fn apply_json(
    res: &mut Resource,
    ops: &json_patch::Patch,
    source: &str,
) -> Result<(), Error> {
    let id = res.cur_id();
    let mut doc = Value::Object(std::mem::take(&mut res.obj));
    let result = json_patch::patch(&mut doc, ops);
    if let Value::Object(m) = doc {
        res.obj = m;
    }
    result.map_err(|e| Error::Build {
        context: format!("applying JSON patch {source} to {id}"),
        message: e.to_string(),
    })
}
