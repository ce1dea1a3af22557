//! The CustomResourceDefinitions Weir serves, with Flux v2.9's names, fields, defaults, enums
//! and validation, so manifests written for Flux are accepted (and refused) exactly as there.
//!
//! One module per API group; the field schemas several kinds share (selectors, kustomize
//! patches and images, kubeconfig references, drift-ignore rules) are here.

mod helm;
mod kustomize;
mod notification;
mod source;

use serde_json::{Value, json};

use crate::schema::{Schema, array, condition, int64, local_ref, object, string, string_map};

pub use helm::{HELM_RELEASE_DEPENDENCY_KINDS, helm_release};
pub use kustomize::kustomization;
pub use notification::{RECEIVER_TYPES, receiver};
pub use source::{git_repository, helm_chart, helm_repository, oci_repository};

/// Names and presentation of one CRD.
struct Names<'a> {
    group: &'a str,
    /// The one version served and stored (Flux's current one: `v1`, HelmRelease `v2`).
    version: &'a str,
    kind: &'a str,
    plural: &'a str,
    singular: &'a str,
    short_names: &'a [&'a str],
    categories: &'a [&'a str],
}

/// The `Ready` columns every Flux kind prints, after its own.
fn columns(extra: &[(&str, &str, &str)]) -> Value {
    let mut out: Vec<Value> = extra
        .iter()
        .map(|(name, kind, path)| json!({ "name": name, "type": kind, "jsonPath": path }))
        .collect();
    out.push(json!({ "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp" }));
    out.push(json!({ "name": "Ready", "type": "string",
        "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status" }));
    out.push(json!({ "name": "Status", "type": "string",
        "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message" }));
    Value::Array(out)
}

fn definition(names: &Names<'_>, columns: Value, spec: Schema, status: Schema) -> Value {
    let root = object()
        .describe(&format!(
            "{} is part of the Flux-compatible API Weir serves.",
            names.kind
        ))
        .field(
            "apiVersion",
            string().describe("The versioned schema of this object."),
        )
        .field(
            "kind",
            string().describe("The REST resource this object represents."),
        )
        .field("metadata", object())
        .field("spec", spec)
        .field(
            "status",
            status.default(json!({ "observedGeneration": -1 })),
        );
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{}.{}", names.plural, names.group),
            "annotations": { "kustomize.toolkit.fluxcd.io/substitute": "disabled" },
            "labels": { "app.kubernetes.io/part-of": "weir" },
        },
        "spec": {
            "group": names.group,
            "names": {
                "kind": names.kind,
                "listKind": format!("{}List", names.kind),
                "plural": names.plural,
                "singular": names.singular,
                "shortNames": names.short_names,
                "categories": names.categories,
            },
            "scope": "Namespaced",
            "versions": [{
                "name": names.version,
                "served": true,
                "storage": true,
                "subresources": { "status": {} },
                "additionalPrinterColumns": columns,
                "schema": { "openAPIV3Schema": root.into_value() },
            }],
        },
    })
}

/// Status fields every Flux kind has.
fn common_status() -> Schema {
    object()
        .field(
            "conditions",
            array(condition()).describe("The latest observations of the object's state."),
        )
        .field(
            "lastHandledReconcileAt",
            string().describe("The last reconcile.fluxcd.io/requestedAt value handled."),
        )
        .field(
            "observedGeneration",
            int64().describe("The last generation reconciled."),
        )
}

/// A label/annotation selector of objects, as in kustomize patches.
fn selector() -> Schema {
    let text = |d: &str| string().describe(d);
    object()
        .describe(
            "Selects objects by group, version, kind, namespace, name, labels or annotations.",
        )
        .field(
            "annotationSelector",
            text("Annotation selector, in label-selector syntax."),
        )
        .field("group", text("API group."))
        .field("kind", text("Kind."))
        .field("labelSelector", text("Label selector."))
        .field("name", text("Name."))
        .field("namespace", text("Namespace."))
        .field("version", text("API version."))
}

/// CEL expressions deciding the health of custom resources of one kind (`healthCheckExprs`).
fn health_expr() -> Schema {
    object()
        .describe("CEL expressions that decide the health of objects of one kind.")
        .field("apiVersion", string())
        .field(
            "current",
            string().describe("True when the object is ready."),
        )
        .field(
            "failed",
            string().describe("True when the object has failed."),
        )
        .field(
            "inProgress",
            string().describe("True while the object progresses."),
        )
        .field("kind", string())
        .required(&["apiVersion", "current"])
}

/// A kustomize patch and its target (Kustomization `patches`, HelmRelease post-renderers).
fn patch() -> Schema {
    object()
        .describe("A strategic-merge or JSON6902 patch, and the objects it applies to.")
        .field("patch", string().describe("The patch, YAML or JSON."))
        .field("target", selector())
        .required(&["patch"])
}

/// A kustomize image override (Kustomization `images`, HelmRelease post-renderers).
fn image() -> Schema {
    object()
        .describe("An image name, tag or digest to set.")
        .field("digest", string())
        .field(
            "name",
            string().describe("Image name to match, without tag."),
        )
        .field("newName", string())
        .field("newTag", string())
        .required(&["name"])
}

/// A kubeconfig for a remote cluster: in a Secret, or a ConfigMap naming a cloud provider.
fn kube_config() -> Schema {
    object()
    .describe("A kubeconfig for a remote cluster.")
    .field("configMapRef", local_ref("ConfigMap describing the cluster (provider, address, ca.crt)."))
    .field(
        "secretRef",
        object()
            .describe("Secret holding a kubeconfig.")
            .field("key", string().describe("Data key (default value, then value.yaml)."))
            .field("name", string())
            .required(&["name"]),
    )
    .rule(
        "has(self.configMapRef) || has(self.secretRef)",
        "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
    )
    .rule(
        "!has(self.configMapRef) || !has(self.secretRef)",
        "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
    )
}

/// Labels and annotations put on every applied object (`commonMetadata`).
fn common_metadata() -> Schema {
    object()
        .describe("Labels and annotations for every object.")
        .field("annotations", string_map())
        .field("labels", string_map())
}

/// JSON pointers drift detection ignores, on the objects a selector picks.
fn ignore_rule() -> Schema {
    object()
        .describe("JSON pointers to ignore in drift detection.")
        .field("paths", array(string()))
        .field("target", selector())
        .required(&["paths"])
}

/// The objects a Kustomization or HelmRelease applied, in Flux's inventory format.
fn inventory() -> Schema {
    let entry = object()
        .field("id", string().describe("<namespace>_<name>_<group>_<kind>"))
        .field("v", string().describe("API version"))
        .required(&["id", "v"]);
    object()
        .describe("The objects applied.")
        .field("entries", array(entry))
        .required(&["entries"])
}

/// Every CRD Weir serves, in a stable order.
pub fn all() -> Vec<Value> {
    vec![
        git_repository(),
        helm_repository(),
        helm_chart(),
        oci_repository(),
        kustomization(),
        helm_release(),
        receiver(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks what the API server would only report one error at a time: every node has a
    /// type (or keeps unknown fields), every required field is declared, every default is
    /// one of its enum's values.
    fn check(path: &str, node: &Value, problems: &mut Vec<String>) {
        let Some(map) = node.as_object() else {
            problems.push(format!("{path}: not an object"));
            return;
        };
        if !map.contains_key("type") && !map.contains_key("x-kubernetes-preserve-unknown-fields") {
            problems.push(format!("{path}: no type"));
        }
        let properties = map.get("properties").and_then(Value::as_object);
        for name in map
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let declared = name
                .as_str()
                .is_some_and(|n| properties.is_some_and(|p| p.contains_key(n)));
            if !declared {
                problems.push(format!("{path}: required {name} is not a field"));
            }
        }
        if let (Some(default), Some(Value::Array(values))) = (map.get("default"), map.get("enum"))
            && !values.contains(default)
        {
            problems.push(format!("{path}: default {default} is not in the enum"));
        }
        for (name, child) in properties.into_iter().flatten() {
            check(&format!("{path}.{name}"), child, problems);
        }
        if let Some(items) = map.get("items") {
            check(&format!("{path}[]"), items, problems);
        }
        if let Some(values @ Value::Object(_)) = map.get("additionalProperties") {
            check(&format!("{path}{{}}"), values, problems);
        }
    }

    #[test]
    fn every_schema_is_consistent() {
        let mut problems = Vec::new();
        for crd in all() {
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
            check(
                kind,
                &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
                &mut problems,
            );
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn kinds_are_served_at_flux_versions() {
        let served: Vec<(String, String, String)> = all()
            .iter()
            .map(|crd| {
                let text = |pointer: &str| {
                    crd.pointer(pointer)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                (
                    text("/metadata/name"),
                    text("/spec/names/kind"),
                    text("/spec/versions/0/name"),
                )
            })
            .collect();
        let expected = [
            (
                "gitrepositories.source.toolkit.fluxcd.io",
                "GitRepository",
                "v1",
            ),
            (
                "helmrepositories.source.toolkit.fluxcd.io",
                "HelmRepository",
                "v1",
            ),
            ("helmcharts.source.toolkit.fluxcd.io", "HelmChart", "v1"),
            (
                "ocirepositories.source.toolkit.fluxcd.io",
                "OCIRepository",
                "v1",
            ),
            (
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "Kustomization",
                "v1",
            ),
            ("helmreleases.helm.toolkit.fluxcd.io", "HelmRelease", "v2"),
            ("receivers.notification.toolkit.fluxcd.io", "Receiver", "v1"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(n, k, v)| ((*n).to_owned(), (*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(served, expected);
    }

    #[test]
    fn oci_repository_has_flux_names_columns_and_url_pattern() {
        let crd = oci_repository();
        assert_eq!(crd["spec"]["names"]["shortNames"], json!(["ocirepo"]));
        let version = &crd["spec"]["versions"][0];
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(columns, ["URL", "Age", "Ready", "Status"]);
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["properties"]["url"]["pattern"], "^oci://.*$");
        assert_eq!(spec["required"], json!(["interval", "url"]));
    }

    #[test]
    fn helm_release_keeps_values_and_types_the_rest_of_its_spec() {
        let crd = helm_release();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(spec.get("x-kubernetes-preserve-unknown-fields").is_none());
        assert_eq!(
            spec["properties"]["values"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        assert_eq!(spec["properties"]["releaseName"]["maxLength"], 53);
        let columns: Vec<&str> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(columns, ["Age", "Ready", "Status"]);
    }
}
