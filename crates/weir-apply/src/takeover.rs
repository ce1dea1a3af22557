//! Taking objects over from `kubectl`.
//!
//! Server-side apply only removes a field when its field manager stops applying it. Fields set
//! with `kubectl apply` (client-side), `kubectl edit` or `kubectl patch` belong to `kubectl`'s
//! own managers, so applying the desired state with force would change their values but never
//! remove them: a label someone added by hand would stay forever. As Flux does, Weir hands those
//! managers' fields to its own apply entry before applying, and drops the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation; the next apply then owns, and
//! therefore reverts, everything `kubectl` did.
//!
//! Objects annotated `kustomize.toolkit.fluxcd.io/ssa: Merge` are left alone, which is what
//! that policy means in Flux: fields added outside Git are kept.

use serde_json::{Map, Value, json};

/// The annotation `kubectl apply` (client-side) keeps its last applied object in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A field manager whose fields Weir takes over, with the operation of its managed-fields
/// entry (`Apply` or `Update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignManager {
    /// The manager's name, such as `kubectl-edit`.
    pub name: String,
    /// `Apply` or `Update`.
    pub operation: String,
}

impl ForeignManager {
    fn new(name: &str, operation: &str) -> Self {
        ForeignManager {
            name: name.to_owned(),
            operation: operation.to_owned(),
        }
    }

    /// The managers `kubectl` writes with when people change objects by hand: server-side and
    /// client-side `apply`, `edit`, `patch`, and the `before-first-apply` entry the API server
    /// creates when an object gets its first apply. `kubectl scale`, `rollout` and `label`
    /// are not in the list: undoing them would restart or rescale workloads unexpectedly.
    pub fn kubectl() -> Vec<ForeignManager> {
        vec![
            Self::new("kubectl", "Apply"),
            Self::new("kubectl", "Update"),
            Self::new("kubectl-client-side-apply", "Update"),
            Self::new("kubectl-edit", "Update"),
            Self::new("kubectl-patch", "Update"),
            Self::new("before-first-apply", "Update"),
        ]
    }
}

/// The merge patch that hands the fields of `foreign` managers on `live` to `manager`'s apply
/// entry and removes the last-applied annotation; `None` when there is nothing to take over.
///
/// The patch carries the live resource version, so the API server refuses it (409) rather
/// than overwrite a change made in between.
pub fn patch(live: &Value, manager: &str, foreign: &[ForeignManager]) -> Option<Value> {
    let metadata = live.get("metadata")?;
    let entries = metadata
        .get("managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let is_foreign = |entry: &Value| {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        main_resource(entry)
            && text("manager") != manager
            && foreign
                .iter()
                .any(|f| f.name == text("manager") && f.operation == text("operation"))
    };
    let has_annotation = metadata
        .get("annotations")
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .is_some();
    if !entries.iter().any(is_foreign) && !has_annotation {
        return None;
    }

    let mut out = Map::new();
    if let Some(version) = metadata.get("resourceVersion") {
        out.insert("resourceVersion".into(), version.clone());
    }
    if entries.iter().any(is_foreign) {
        let mut kept = Vec::new();
        let mut taken = Map::new();
        let mut api_version = None;
        for entry in entries {
            if is_foreign(entry) {
                if let Some(Value::Object(fields)) = entry.get("fieldsV1") {
                    union(&mut taken, fields);
                }
                api_version = api_version.or_else(|| entry.get("apiVersion").cloned());
            } else {
                kept.push(entry.clone());
            }
        }
        forget_last_applied(&mut taken);
        let api_version = api_version.unwrap_or_else(|| Value::String("v1".into()));
        let own = kept.iter_mut().find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
                && main_resource(e)
        });
        match own {
            Some(entry) => {
                if let Some(Value::Object(fields)) = entry.get_mut("fieldsV1") {
                    union(fields, &taken);
                } else if let Some(map) = entry.as_object_mut() {
                    map.insert("fieldsV1".into(), Value::Object(taken));
                }
            }
            // Even an entry for no field keeps the list non-empty: an empty list would leave
            // managedFields as they are.
            None => kept.push(json!({
                "manager": manager,
                "operation": "Apply",
                "apiVersion": api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": taken,
            })),
        }
        out.insert("managedFields".into(), Value::Array(kept));
    }
    if has_annotation {
        out.insert(
            "annotations".into(),
            json!({ LAST_APPLIED_ANNOTATION: Value::Null }),
        );
    }
    Some(json!({ "metadata": out }))
}

/// Whether a managed-fields entry is about the object itself rather than a subresource.
fn main_resource(entry: &Value) -> bool {
    entry
        .get("subresource")
        .is_none_or(|s| s.as_str().unwrap_or_default().is_empty())
}

/// Adds every field of `other` to the field set `into` (FieldsV1 trees are sets: a key is a
/// field, its value the set of its children).
fn union(into: &mut Map<String, Value>, other: &Map<String, Value>) {
    for (key, value) in other {
        match (into.get_mut(key), value) {
            (Some(Value::Object(mine)), Value::Object(theirs)) => union(mine, theirs),
            (Some(_), _) => {}
            (None, value) => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Removes the last-applied annotation from a field set, since the patch deletes it.
fn forget_last_applied(fields: &mut Map<String, Value>) {
    let Some(Value::Object(metadata)) = fields.get_mut("f:metadata") else {
        return;
    };
    let Some(Value::Object(annotations)) = metadata.get_mut("f:annotations") else {
        return;
    };
    annotations.remove(&format!("f:{LAST_APPLIED_ANNOTATION}"));
    if annotations.keys().all(|k| k == ".") {
        metadata.remove("f:annotations");
    }
    if metadata.is_empty() {
        fields.remove("f:metadata");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(managed: Value, annotations: Value) -> Value {
        json!({
            "metadata": {
                "name": "web",
                "resourceVersion": "42",
                "annotations": annotations,
                "managedFields": managed,
            }
        })
    }

    #[test]
    fn nothing_to_do_without_kubectl() {
        let object = live(
            json!([{ "manager": "weir", "operation": "Apply", "fieldsV1": { "f:data": {} } },
                   { "manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {} }]),
            json!({ "note": "x" }),
        );
        assert_eq!(patch(&object, "weir", &ForeignManager::kubectl()), None);
    }

    #[test]
    fn kubectl_fields_move_to_the_apply_entry_and_the_annotation_goes() {
        let object = live(
            json!([
                { "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                  "fieldsV1": { "f:metadata": { "f:annotations": { ".": {},
                      "f:kubectl.kubernetes.io/last-applied-configuration": {} } },
                      "f:data": { "f:a": {} } } },
                { "manager": "weir", "operation": "Apply", "apiVersion": "v1",
                  "fieldsV1": { "f:data": { "f:b": {} } } },
                { "manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
                  "fieldsV1": { "f:metadata": { "f:labels": { "f:hand": {} } } } },
                { "manager": "kubectl", "operation": "Update", "subresource": "status",
                  "fieldsV1": { "f:status": {} } }
            ]),
            json!({ "kubectl.kubernetes.io/last-applied-configuration": "{}" }),
        );
        let ops = patch(&object, "weir", &ForeignManager::kubectl()).expect("a patch");
        assert_eq!(
            ops,
            json!({ "metadata": {
                "resourceVersion": "42",
                "managedFields": [
                    { "manager": "weir", "operation": "Apply", "apiVersion": "v1",
                      "fieldsV1": { "f:data": { "f:a": {}, "f:b": {} },
                                    "f:metadata": { "f:labels": { "f:hand": {} } } } },
                    { "manager": "kubectl", "operation": "Update", "subresource": "status",
                      "fieldsV1": { "f:status": {} } }
                ],
                "annotations": { "kubectl.kubernetes.io/last-applied-configuration": null }
            } })
        );
    }

    #[test]
    fn a_new_apply_entry_is_made_when_weir_had_none() {
        let object = live(
            json!([{ "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                     "fieldsV1": { "f:spec": { "f:replicas": {} } } }]),
            json!({}),
        );
        let ops = patch(&object, "weir", &ForeignManager::kubectl()).expect("a patch");
        assert_eq!(
            ops["metadata"]["managedFields"],
            json!([{ "manager": "weir", "operation": "Apply", "apiVersion": "apps/v1",
                     "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": { "f:replicas": {} } } }])
        );
    }
}
