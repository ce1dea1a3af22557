//! Splitting rendered files into manifests and sorting them in Helm's install order; hooks
//! apart.

/// One manifest of a rendered file.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The template it came from.
    pub path: String,
    /// The document, trimmed.
    pub content: String,
    /// Its `kind`.
    pub kind: String,
    /// A test hook (`helm.sh/hook: test`).
    pub is_test: bool,
}

/// Helm's install order by kind.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Splits a rendered file into documents at lines starting with `---` (Helm v4's
/// `SplitManifests`: leading whitespace trimmed, trailing kept).
fn split(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.trim_start().split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            docs.push(std::mem::take(&mut current));
            current.push_str(rest.trim_start_matches([' ', '\t']));
            continue;
        }
        current.push_str(line);
    }
    docs.push(current);
    docs.into_iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().to_owned())
        .collect()
}

/// A top-level scalar field of a YAML document (`kind: X`).
fn top_field(doc: &str, key: &str) -> Option<String> {
    doc.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
}

fn hook_annotation(doc: &str) -> Option<String> {
    doc.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("helm.sh/hook:")
                .or_else(|| l.strip_prefix("\"helm.sh/hook\":"))
                .or_else(|| l.strip_prefix("'helm.sh/hook':"))
        })
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
}

/// The manifests of `files` (template name, rendered text) in install order, and the hooks.
pub(crate) fn sort(mut files: Vec<(String, String)>) -> (Vec<Manifest>, Vec<Manifest>) {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut manifests = Vec::new();
    let mut hooks = Vec::new();
    for (path, text) in files {
        if text.trim().is_empty() {
            continue;
        }
        for doc in split(&text) {
            let kind = top_field(&doc, "kind").unwrap_or_default();
            let hook = hook_annotation(&doc);
            let m = Manifest {
                path: path.clone(),
                is_test: hook.as_deref().is_some_and(|h| {
                    h.split(',')
                        .any(|h| h.trim() == "test" || h.trim() == "test-success")
                }),
                content: doc,
                kind,
            };
            if hook.is_some() {
                hooks.push(m);
            } else {
                manifests.push(m);
            }
        }
    }
    let rank = |kind: &str| INSTALL_ORDER.iter().position(|k| *k == kind);
    let by_kind = |a: &Manifest, b: &Manifest| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    };
    manifests.sort_by(by_kind);
    hooks.sort_by(by_kind);
    (manifests, hooks)
}
