//! Kustomize's legacy output order by kind (`api/resid/gvk.go`), which both `kustomize build`
//! and the apply engine follow: namespaces and definitions first, webhooks last.

/// Kinds the legacy order puts first, in this order.
pub const LEGACY_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds the legacy order puts last, in this order: webhooks would intercept the objects
/// applied before them.
pub const LEGACY_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Where `kind` sorts given the `first` and `last` kind lists: a negative rank for first
/// kinds (in their order), 0 for every other kind, a positive rank for last kinds.
pub fn kind_rank<S: AsRef<str>>(kind: &str, first: &[S], last: &[S]) -> i64 {
    let position = |list: &[S]| list.iter().position(|k| k.as_ref() == kind);
    if let Some(i) = position(first) {
        i as i64 - first.len() as i64
    } else if let Some(i) = position(last) {
        1 + i as i64
    } else {
        0
    }
}

/// [`kind_rank`] with kustomize's default lists, [`LEGACY_FIRST`] and [`LEGACY_LAST`].
pub fn legacy_kind_rank(kind: &str) -> i64 {
    kind_rank(kind, LEGACY_FIRST, LEGACY_LAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_first_unknown_kinds_in_the_middle_webhooks_last() {
        let mut kinds = [
            "ValidatingWebhookConfiguration",
            "Widget",
            "Deployment",
            "MutatingWebhookConfiguration",
            "Namespace",
        ];
        kinds.sort_by_key(|k| legacy_kind_rank(k));
        assert_eq!(
            kinds,
            [
                "Namespace",
                "Deployment",
                "Widget",
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration",
            ]
        );
    }
}
