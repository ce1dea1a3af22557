//! The order objects are applied in.
//!
//! Objects other objects depend on being *known to the API server* go first, in a stage of their
//! own: CustomResourceDefinitions (custom resources of them are rejected until they are
//! established), Namespaces (namespaced objects in them are rejected until they exist) and
//! cluster-wide definitions (ClusterRoles, ClusterRoleBindings and `*Class` kinds). Everything
//! else follows in a second stage, in kustomize's legacy kind order.
//!
//! Flux's `ApplyAllStaged` differs slightly: it applies `*Class` kinds in a stage of their own
//! after the definitions, leaves ClusterRoleBindings to the last stage, and sorts by its own
//! `ReconcileOrder`. Ties are broken as Flux does (group, kind, namespace, name).

use serde_json::{Map, Value};

/// One object, as JSON.
pub type Object = Map<String, Value>;

/// Objects split into the stages they are applied in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stages {
    /// CustomResourceDefinitions, Namespaces and cluster-wide definitions.
    pub definitions: Vec<Object>,
    /// Everything else, in kustomize's legacy kind order.
    pub resources: Vec<Object>,
}

impl Stages {
    /// The stages in the order they are applied, skipping empty ones.
    pub fn in_order(&self) -> impl Iterator<Item = &[Object]> {
        [self.definitions.as_slice(), self.resources.as_slice()]
            .into_iter()
            .filter(|s| !s.is_empty())
    }
}

fn kind(object: &Object) -> &str {
    object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn group(object: &Object) -> &str {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Whether `object` belongs to the first stage.
pub fn is_definition(object: &Object) -> bool {
    let kind = kind(object);
    match (group(object), kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => true,
        ("", "Namespace") => true,
        ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding") => true,
        // StorageClass, PriorityClass, IngressClass, RuntimeClass, VolumeSnapshotClass, ...:
        // cluster-wide definitions other objects name.
        _ => kind.ends_with("Class") && kind.len() > "Class".len(),
    }
}

fn metadata<'a>(object: &'a Object, key: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Splits `objects` into stages, each sorted in kustomize's legacy kind order. Ties are broken
/// by group, kind, namespace and name, as Flux does, so the order does not depend on the
/// input's.
pub fn stage(objects: Vec<Object>) -> Stages {
    let (mut definitions, mut resources): (Vec<_>, Vec<_>) =
        objects.into_iter().partition(is_definition);
    let key = |o: &Object| {
        (
            weir_object::order::legacy_kind_rank(kind(o)),
            group(o).to_owned(),
            kind(o).to_owned(),
            metadata(o, "namespace").to_owned(),
            metadata(o, "name").to_owned(),
        )
    };
    definitions.sort_by_cached_key(key);
    resources.sort_by_cached_key(key);
    Stages {
        definitions,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(api_version: &str, kind: &str, name: &str) -> Object {
        match json!({ "apiVersion": api_version, "kind": kind, "metadata": { "name": name } }) {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn names(objects: &[Object]) -> Vec<String> {
        objects
            .iter()
            .map(|o| format!("{}/{}", kind(o), metadata(o, "name")))
            .collect()
    }

    #[test]
    fn definitions_go_in_the_first_stage() {
        let stages = stage(vec![
            object("apps/v1", "Deployment", "web"),
            object("example.com/v1", "Widget", "w"),
            object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "crb"),
            object("v1", "ConfigMap", "settings"),
            object("networking.k8s.io/v1", "IngressClass", "nginx"),
            object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "widgets.example.com",
            ),
            object("node.k8s.io/v1", "RuntimeClass", "gvisor"),
            object("rbac.authorization.k8s.io/v1", "ClusterRole", "cr"),
            object("v1", "Namespace", "apps"),
            object("storage.k8s.io/v1", "StorageClass", "fast"),
            object("scheduling.k8s.io/v1", "PriorityClass", "high"),
            object("rbac.authorization.k8s.io/v1", "Role", "role"),
        ]);
        assert_eq!(
            names(&stages.definitions),
            [
                "Namespace/apps",
                "StorageClass/fast",
                "CustomResourceDefinition/widgets.example.com",
                "ClusterRole/cr",
                "ClusterRoleBinding/crb",
                "PriorityClass/high",
                "IngressClass/nginx",
                "RuntimeClass/gvisor",
            ]
        );
        assert_eq!(
            names(&stages.resources),
            [
                "Role/role",
                "ConfigMap/settings",
                "Deployment/web",
                "Widget/w"
            ]
        );
        assert_eq!(stages.in_order().count(), 2);
    }

    #[test]
    fn resources_follow_kustomize_legacy_order() {
        let stages = stage(vec![
            object(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "v",
            ),
            object("example.com/v1", "Zebra", "z"),
            object("apps/v1", "Deployment", "b"),
            object("example.com/v1", "Apple", "a"),
            object(
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                "m",
            ),
            object("v1", "Service", "svc"),
            object("apps/v1", "Deployment", "a"),
            object("v1", "Secret", "s"),
            object("v1", "ServiceAccount", "sa"),
        ]);
        assert!(stages.definitions.is_empty());
        assert_eq!(
            names(&stages.resources),
            [
                "ServiceAccount/sa",
                "Secret/s",
                "Service/svc",
                "Deployment/a",
                "Deployment/b",
                "Apple/a",
                "Zebra/z",
                "MutatingWebhookConfiguration/m",
                "ValidatingWebhookConfiguration/v",
            ]
        );
        assert_eq!(stages.in_order().count(), 1);
    }

    #[test]
    fn a_kind_named_class_is_not_a_definition() {
        assert!(!is_definition(&object("example.com/v1", "Class", "c")));
        assert!(is_definition(&object("example.com/v1", "WidgetClass", "c")));
    }
}
