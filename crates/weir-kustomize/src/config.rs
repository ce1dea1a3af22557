//! Transformer configuration: which fields each built-in transformer touches.
//!
//! The built-in tables describe where Kubernetes kinds keep names, labels, annotations, images,
//! replica counts and references to other objects. Users extend them with `configurations:`
//! files (same format as kustomize's) and `crds:`.

use serde::Deserialize;

use crate::resid::Gvk;
use crate::types::FieldSpec;

/// Objects of kind `target` are referred to by name from these fields.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NameBackRefs {
    /// Group of the referred-to kind.
    #[serde(default)]
    pub group: String,
    /// Version of the referred-to kind.
    #[serde(default)]
    pub version: String,
    /// The referred-to kind.
    #[serde(default)]
    pub kind: String,
    /// Fields holding such names.
    #[serde(default, rename = "fieldSpecs")]
    pub referrers: Vec<FieldSpec>,
}

impl NameBackRefs {
    /// The referred-to GVK.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }
}

/// The field specs of every built-in transformer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "one list per transformer, named as in kustomize's format"
)]
pub struct TransformerConfig {
    #[serde(default)]
    pub name_prefix: Vec<FieldSpec>,
    #[serde(default)]
    pub name_suffix: Vec<FieldSpec>,
    #[serde(default, rename = "namespace")]
    pub name_space: Vec<FieldSpec>,
    #[serde(default)]
    pub common_labels: Vec<FieldSpec>,
    #[serde(default)]
    pub labels: Vec<FieldSpec>,
    #[serde(default)]
    pub template_labels: Vec<FieldSpec>,
    #[serde(default)]
    pub common_annotations: Vec<FieldSpec>,
    #[serde(default)]
    pub name_reference: Vec<NameBackRefs>,
    #[serde(default)]
    pub var_reference: Vec<FieldSpec>,
    #[serde(default)]
    pub images: Vec<FieldSpec>,
    #[serde(default)]
    pub replicas: Vec<FieldSpec>,
}

/// Adds `x` unless a spec for the same path that `x`'s kinds select is there (kustomize's
/// "effectively equal": after sorting, a kind-specific spec swallows a later generic one);
/// the same field with a different `create` is a conflict.
pub(crate) fn merge_one(list: &mut Vec<FieldSpec>, x: FieldSpec) -> Result<(), String> {
    match list
        .iter()
        .find(|f| f.path == x.path && f.gvk().is_selected_by(&x.gvk()))
    {
        Some(f) if f.create_if_not_present != x.create_if_not_present => Err(format!(
            "conflicting fieldspecs for path '{}' of {}",
            x.path,
            x.gvk()
        )),
        Some(_) => Ok(()),
        None => {
            list.push(x);
            Ok(())
        }
    }
}

/// Adds all of `xs` with [`merge_one`].
pub(crate) fn merge_all(list: &mut Vec<FieldSpec>, xs: &[FieldSpec]) -> Result<(), String> {
    for x in xs {
        merge_one(list, x.clone())?;
    }
    Ok(())
}

impl TransformerConfig {
    /// Merges `other` into this configuration.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<(), String> {
        merge_all(&mut self.name_prefix, &other.name_prefix)?;
        merge_all(&mut self.name_suffix, &other.name_suffix)?;
        merge_all(&mut self.name_space, &other.name_space)?;
        merge_all(&mut self.common_labels, &other.common_labels)?;
        merge_all(&mut self.labels, &other.labels)?;
        merge_all(&mut self.template_labels, &other.template_labels)?;
        merge_all(&mut self.common_annotations, &other.common_annotations)?;
        merge_all(&mut self.var_reference, &other.var_reference)?;
        merge_all(&mut self.images, &other.images)?;
        merge_all(&mut self.replicas, &other.replicas)?;
        for nbr in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|n| n.gvk() == nbr.gvk())
            {
                Some(existing) => merge_all(&mut existing.referrers, &nbr.referrers)?,
                None => self.name_reference.push(nbr.clone()),
            }
        }
        self.sort();
        Ok(())
    }

    /// Orders every list by kind as kustomize does after loading or merging a configuration;
    /// which spec wins a later merge depends on it.
    pub fn sort(&mut self) {
        let by_gvk = |a: &FieldSpec, b: &FieldSpec| a.gvk().legacy_cmp(&b.gvk());
        for list in [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.name_space,
            &mut self.common_labels,
            &mut self.labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ] {
            list.sort_by(by_gvk);
        }
        self.name_reference
            .sort_by(|a, b| a.gvk().legacy_cmp(&b.gvk()));
    }

    /// The built-in configuration.
    pub fn builtin() -> TransformerConfig {
        let meta_labels = metadata_labels();
        let mut common_labels = selector_label_specs();
        common_labels.extend(meta_labels.iter().cloned());
        let mut config = TransformerConfig {
            name_prefix: vec![fs("", "", "", "metadata/name", false)],
            name_suffix: vec![fs("", "", "", "metadata/name", false)],
            name_space: vec![
                fs("", "", "Namespace", "metadata/name", true),
                fs(
                    "apiregistration.k8s.io",
                    "",
                    "APIService",
                    "spec/service/namespace",
                    true,
                ),
                fs(
                    "apiextensions.k8s.io",
                    "",
                    "CustomResourceDefinition",
                    "spec/conversion/webhook/clientConfig/service/namespace",
                    false,
                ),
            ],
            common_labels,
            labels: Vec::new(),
            template_labels: meta_labels,
            common_annotations: metadata_annotations(),
            name_reference: name_references(),
            var_reference: var_references(),
            images: [
                "spec/containers[]/image",
                "spec/initContainers[]/image",
                "spec/template/spec/containers[]/image",
                "spec/template/spec/initContainers[]/image",
            ]
            .iter()
            .map(|p| fs("", "", "", p, true))
            .collect(),
            replicas: [
                "Deployment",
                "ReplicationController",
                "ReplicaSet",
                "StatefulSet",
            ]
            .iter()
            .map(|k| fs("", "", k, "spec/replicas", true))
            .collect(),
        };
        config.sort();
        config
    }
}

fn fs(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
    FieldSpec {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
        path: path.to_owned(),
        create_if_not_present: create,
    }
}

/// Workloads with a pod template in kustomize's configuration: (group, version, kind, path of
/// the template's metadata parent). ReplicationController and Pod are handled separately.
const TEMPLATED: &[(&str, &str, &str, &str)] = &[
    ("", "", "Deployment", "spec/template"),
    ("", "", "ReplicaSet", "spec/template"),
    ("", "", "DaemonSet", "spec/template"),
    ("apps", "", "StatefulSet", "spec/template"),
    ("batch", "", "Job", "spec/template"),
];

fn metadata_labels() -> Vec<FieldSpec> {
    let mut out = vec![
        fs("", "", "", "metadata/labels", true),
        fs(
            "",
            "v1",
            "ReplicationController",
            "spec/template/metadata/labels",
            true,
        ),
    ];
    for (g, v, k, t) in TEMPLATED {
        out.push(fs(g, v, k, &format!("{t}/metadata/labels"), true));
        if *k == "StatefulSet" {
            out.push(fs(
                g,
                v,
                k,
                "spec/volumeClaimTemplates[]/metadata/labels",
                true,
            ));
        }
    }
    out.push(fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/metadata/labels",
        true,
    ));
    out.push(fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ));
    out
}

fn metadata_annotations() -> Vec<FieldSpec> {
    let mut out = vec![
        fs("", "", "", "metadata/annotations", true),
        fs(
            "",
            "v1",
            "ReplicationController",
            "spec/template/metadata/annotations",
            true,
        ),
    ];
    for (g, v, k, t) in TEMPLATED {
        // Annotations on StatefulSets match any group, unlike labels.
        let g = if *k == "StatefulSet" { "" } else { g };
        out.push(fs(g, v, k, &format!("{t}/metadata/annotations"), true));
    }
    out.push(fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/metadata/annotations",
        true,
    ));
    out.push(fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/annotations",
        true,
    ));
    out
}

/// Selector fields that `commonLabels` (and `labels` with `includeSelectors`) also update.
fn selector_label_specs() -> Vec<FieldSpec> {
    let mut out = vec![
        fs("", "v1", "Service", "spec/selector", true),
        fs("", "v1", "ReplicationController", "spec/selector", true),
        fs("", "", "Deployment", "spec/selector/matchLabels", true),
    ];
    let affinity = [
        "podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        "podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        "podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        "podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    ];
    let pod_selectors = |kind: &str, out: &mut Vec<FieldSpec>| {
        for a in affinity {
            out.push(fs(
                "apps",
                "",
                kind,
                &format!("spec/template/spec/affinity/{a}"),
                false,
            ));
        }
        out.push(fs(
            "apps",
            "",
            kind,
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            false,
        ));
    };
    pod_selectors("Deployment", &mut out);
    out.push(fs("", "", "ReplicaSet", "spec/selector/matchLabels", true));
    out.push(fs("", "", "DaemonSet", "spec/selector/matchLabels", true));
    out.push(fs(
        "apps",
        "",
        "StatefulSet",
        "spec/selector/matchLabels",
        true,
    ));
    pod_selectors("StatefulSet", &mut out);
    out.push(fs("batch", "", "Job", "spec/selector/matchLabels", false));
    out.push(fs(
        "batch",
        "",
        "CronJob",
        "spec/jobTemplate/spec/selector/matchLabels",
        false,
    ));
    out.push(fs(
        "policy",
        "",
        "PodDisruptionBudget",
        "spec/selector/matchLabels",
        false,
    ));
    for p in [
        "spec/podSelector/matchLabels",
        "spec/ingress/from/podSelector/matchLabels",
        "spec/egress/to/podSelector/matchLabels",
    ] {
        out.push(fs("networking.k8s.io", "", "NetworkPolicy", p, false));
    }
    out
}

/// Kinds holding a pod spec, with the path to it, for name references into pod specs.
const POD_SPECS: &[(&str, &str, &str)] = &[
    ("v1", "Pod", "spec"),
    ("", "PodTemplate", "template/spec"),
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Kinds whose pod spec refers to service accounts, claims and priority classes.
const POD_SPEC_OWNERS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
];

fn refs_in_pod_specs(fields: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for (version, kind, prefix) in POD_SPECS {
        for f in fields {
            out.push(fs("", version, kind, &format!("{prefix}/{f}"), false));
        }
    }
    out
}

fn refs_in_pod_spec_owners(field: &str) -> Vec<FieldSpec> {
    POD_SPEC_OWNERS
        .iter()
        .map(|(kind, prefix)| fs("", "", kind, &format!("{prefix}/{field}"), false))
        .collect()
}

fn backrefs(group: &str, version: &str, kind: &str, referrers: Vec<FieldSpec>) -> NameBackRefs {
    NameBackRefs {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
        referrers,
    }
}

fn name_references() -> Vec<NameBackRefs> {
    let rbac = "rbac.authorization.k8s.io";
    let hpa = || {
        vec![fs(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
            false,
        )]
    };
    let mut config_map = refs_in_pod_specs(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    config_map.extend([
        fs("", "", "Node", "spec/configSource/configMap", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            false,
        ),
    ]);
    let mut secret = refs_in_pod_specs(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        fs("", "", "Ingress", "spec/tls/secretName", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            false,
        ),
        fs("", "", "ServiceAccount", "imagePullSecrets/name", false),
        fs("", "", "StorageClass", "parameters/secretName", false),
        fs("", "", "StorageClass", "parameters/adminSecretName", false),
        fs("", "", "StorageClass", "parameters/userSecretName", false),
        fs("", "", "StorageClass", "parameters/secretRef", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/azureFile/secretName",
            false,
        ),
    ]);
    let mut service_account = vec![
        fs(rbac, "", "RoleBinding", "subjects", false),
        fs(rbac, "", "ClusterRoleBinding", "subjects", false),
    ];
    service_account.extend(refs_in_pod_spec_owners("serviceAccountName"));
    vec![
        backrefs("", "", "Deployment", hpa()),
        backrefs("", "", "ReplicationController", hpa()),
        backrefs("", "", "ReplicaSet", hpa()),
        backrefs("", "", "StatefulSet", hpa()),
        backrefs("", "v1", "ConfigMap", config_map),
        backrefs("", "v1", "Secret", secret),
        backrefs(
            "",
            "v1",
            "Service",
            vec![
                fs("apps", "", "StatefulSet", "spec/serviceName", false),
                fs(
                    "",
                    "",
                    "Ingress",
                    "spec/rules/http/paths/backend/serviceName",
                    false,
                ),
                fs("", "", "Ingress", "spec/backend/serviceName", false),
                fs(
                    "",
                    "",
                    "Ingress",
                    "spec/rules/http/paths/backend/service/name",
                    false,
                ),
                fs("", "", "Ingress", "spec/defaultBackend/service/name", false),
                fs(
                    "apiregistration.k8s.io",
                    "",
                    "APIService",
                    "spec/service/name",
                    false,
                ),
                fs(
                    "admissionregistration.k8s.io",
                    "",
                    "ValidatingWebhookConfiguration",
                    "webhooks/clientConfig/service",
                    false,
                ),
                fs(
                    "admissionregistration.k8s.io",
                    "",
                    "MutatingWebhookConfiguration",
                    "webhooks/clientConfig/service",
                    false,
                ),
            ],
        ),
        backrefs(
            rbac,
            "",
            "Role",
            vec![fs(rbac, "", "RoleBinding", "roleRef/name", false)],
        ),
        backrefs(
            rbac,
            "",
            "ClusterRole",
            vec![
                fs(rbac, "", "RoleBinding", "roleRef/name", false),
                fs(rbac, "", "ClusterRoleBinding", "roleRef/name", false),
            ],
        ),
        backrefs("", "v1", "ServiceAccount", service_account),
        backrefs(
            "",
            "v1",
            "PersistentVolumeClaim",
            refs_in_pod_spec_owners("volumes/persistentVolumeClaim/claimName"),
        ),
        backrefs(
            "",
            "v1",
            "PersistentVolume",
            vec![
                fs("", "", "PersistentVolumeClaim", "spec/volumeName", false),
                fs("", "", "ClusterRole", "rules/resourceNames", false),
            ],
        ),
        backrefs(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            vec![
                fs("", "", "PersistentVolume", "spec/storageClassName", false),
                fs(
                    "",
                    "",
                    "PersistentVolumeClaim",
                    "spec/storageClassName",
                    false,
                ),
                fs(
                    "",
                    "",
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                    false,
                ),
            ],
        ),
        backrefs(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            refs_in_pod_spec_owners("priorityClassName"),
        ),
        // kustomize v5.5 writes this group as "networking.k8s.io/v1", so the reference never
        // matches a real IngressClass; kept as is for identical output.
        backrefs(
            "networking.k8s.io/v1",
            "v1",
            "IngressClass",
            vec![fs("", "", "Ingress", "spec/ingressClassName", false)],
        ),
        backrefs(
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicy",
            vec![fs(
                "admissionregistration.k8s.io",
                "",
                "ValidatingAdmissionPolicyBinding",
                "spec/policyName",
                false,
            )],
        ),
    ]
}

fn var_references() -> Vec<FieldSpec> {
    let container_fields = [
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
    ];
    let mut out = Vec::new();
    let owners: &[(&str, &str, &str)] = &[
        (
            "CronJob",
            "spec/jobTemplate/spec/template/spec",
            "spec/jobTemplate/spec/template/volumes/nfs/server",
        ),
        (
            "DaemonSet",
            "spec/template/spec",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "Deployment",
            "spec/template/spec",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "Job",
            "spec/template/spec",
            "spec/template/spec/volumes/nfs/server",
        ),
        ("Pod", "spec", "spec/volumes/nfs/server"),
        (
            "ReplicaSet",
            "spec/template/spec",
            "spec/template/spec/volumes/nfs/server",
        ),
        (
            "StatefulSet",
            "spec/template/spec",
            "spec/volumeClaimTemplates/spec/nfs/server",
        ),
    ];
    for (kind, prefix, nfs) in owners {
        for f in container_fields {
            out.push(fs("", "", kind, &format!("{prefix}/{f}"), false));
        }
        out.push(fs("", "", kind, nfs, false));
    }
    out.push(fs(
        "",
        "",
        "Deployment",
        "spec/template/metadata/annotations",
        false,
    ));
    for p in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        out.push(fs("", "", "Ingress", p, false));
    }
    out.push(fs("", "", "Service", "spec/ports/port", false));
    out.push(fs("", "", "Service", "spec/ports/targetPort", false));
    out.push(fs("", "", "PersistentVolume", "spec/nfs/server", false));
    out.push(fs("", "", "", "metadata/labels", false));
    out.push(fs("", "", "", "metadata/annotations", false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_have_the_expected_sizes() {
        let c = TransformerConfig::builtin();
        assert_eq!(c.var_reference.len(), 72);
        assert_eq!(c.common_labels.len(), 22 + 10);
        let secret = c
            .name_reference
            .iter()
            .find(|n| n.kind == "Secret")
            .expect("secret refs");
        assert_eq!(secret.referrers.len(), 8 * 7 + 13);
    }

    #[test]
    fn merging_keeps_one_copy_and_flags_conflicts() {
        let mut c = TransformerConfig::builtin();
        let before = c.clone();
        c.merge(&before).expect("self-merge");
        assert_eq!(c, before);
        let mut other = TransformerConfig::default();
        other
            .name_prefix
            .push(fs("", "", "", "metadata/name", true));
        assert!(c.merge(&other).is_err());
    }
}
