//! Resource identity as kustomize sees it: group, version, kind, name and namespace, with
//! kustomize's notion of the effective namespace and its legacy output order.

use std::fmt;

/// Group, version and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group; empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// Kinds whose objects have no namespace, by group. Unknown kinds (custom resources) are taken
/// as namespaced, as kustomize does.
const CLUSTER_SCOPED: &[(&str, &[&str])] = &[
    (
        "",
        &["Namespace", "Node", "PersistentVolume", "ComponentStatus"],
    ),
    (
        "admissionregistration.k8s.io",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
        ],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io", &["APIService"]),
    (
        "authentication.k8s.io",
        &["TokenReview", "SelfSubjectReview"],
    ),
    (
        "authorization.k8s.io",
        &[
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ],
    ),
    (
        "certificates.k8s.io",
        &["CertificateSigningRequest", "ClusterTrustBundle"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "networking.k8s.io",
        &["IngressClass", "IPAddress", "ServiceCIDR"],
    ),
    ("node.k8s.io", &["RuntimeClass"]),
    ("policy", &["PodSecurityPolicy"]),
    ("extensions", &["PodSecurityPolicy"]),
    (
        "rbac.authorization.k8s.io",
        &["ClusterRole", "ClusterRoleBinding"],
    ),
    ("scheduling.k8s.io", &["PriorityClass"]),
    (
        "storage.k8s.io",
        &[
            "CSIDriver",
            "CSINode",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
    ("resource.k8s.io", &["DeviceClass", "ResourceSlice"]),
];

impl Gvk {
    /// Builds a GVK.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// Parses `apiVersion` (`apps/v1`, `v1`) and pairs it with `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = split_api_version(api_version);
        Gvk::new(group, version, kind)
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects of this kind certainly have no namespace.
    pub fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED
            .iter()
            .any(|(g, kinds)| *g == self.group && kinds.contains(&self.kind.as_str()))
    }

    /// Whether this GVK matches `selector`, where empty selector fields match anything.
    pub fn is_selected_by(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    fn order_rank(&self) -> i64 {
        weir_object::order::legacy_kind_rank(&self.kind)
    }

    /// `group_version_kind` with `~G`/`~V`/`~K` for empty parts: kustomize's sort key.
    pub(crate) fn stable_sort_key(&self) -> String {
        format!(
            "{}_{}_{}",
            or_placeholder(&self.group, "~G"),
            or_placeholder(&self.version, "~V"),
            or_placeholder(&self.kind, "~K")
        )
    }

    /// kustomize's legacy ordering of kinds.
    pub fn legacy_cmp(&self, other: &Gvk) -> std::cmp::Ordering {
        self.order_rank()
            .cmp(&other.order_rank())
            .then_with(|| self.stable_sort_key().cmp(&other.stable_sort_key()))
    }
}

/// `value`, or `placeholder` (kustomize's `~G`, `~X`, ...) when it is empty: sort keys never
/// hold empty parts.
pub(crate) fn or_placeholder<'a>(value: &'a str, placeholder: &'a str) -> &'a str {
    if value.is_empty() { placeholder } else { value }
}

/// Splits an apiVersion into group and version.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

impl fmt::Display for Gvk {
    /// `Kind.version.group` with placeholders for empty parts, as kustomize prints ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            or_placeholder(&self.kind, "[noKind]"),
            or_placeholder(&self.version, "[noVer]"),
            or_placeholder(&self.group, "[noGrp]")
        )
    }
}

/// A resource's identity: GVK, name and namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    /// Group, version, kind.
    pub gvk: Gvk,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, possibly empty.
    pub namespace: String,
}

impl ResId {
    /// Builds an id.
    pub fn new(gvk: Gvk, name: &str, namespace: &str) -> Self {
        ResId {
            gvk,
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    /// The namespace used to compare ids: cluster-scoped objects have none, and an empty
    /// namespace means `default`.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// Same effective namespace.
    pub fn ns_equals(&self, other: &ResId) -> bool {
        self.effective_namespace() == other.effective_namespace()
    }

    /// Same GVK and name.
    pub fn gvkn_equals(&self, other: &ResId) -> bool {
        self.name == other.name && self.gvk == other.gvk
    }

    /// Same GVK, name and effective namespace.
    pub fn equals(&self, other: &ResId) -> bool {
        self.gvkn_equals(other) && self.ns_equals(other)
    }

    /// Whether `selector` (empty fields match anything) selects this id.
    pub fn is_selected_by(&self, selector: &ResId) -> bool {
        (selector.name.is_empty() || selector.name == self.name)
            && (selector.namespace.is_empty() || selector.ns_equals(self))
            && self.gvk.is_selected_by(&selector.gvk)
    }
}

impl fmt::Display for ResId {
    /// `Kind.version.group/name.namespace`, kustomize's id format in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "[noName]"
        } else {
            &self.name
        };
        let ns = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        write!(f, "{}/{}.{}", self.gvk, name, ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_like_kustomize() {
        let id = ResId::new(Gvk::new("apps", "v1", "Deployment"), "web", "");
        assert_eq!(id.to_string(), "Deployment.v1.apps/web.[noNs]");
        assert_eq!(id.effective_namespace(), "default");
        let ns = ResId::new(Gvk::new("", "v1", "Namespace"), "x", "");
        assert_eq!(ns.effective_namespace(), "_non_namespaceable_");
    }

    #[test]
    fn legacy_order_puts_namespaces_first_and_webhooks_last() {
        let ns = Gvk::new("", "v1", "Namespace");
        let dep = Gvk::new("apps", "v1", "Deployment");
        let custom = Gvk::new("x.io", "v1", "Thing");
        let hook = Gvk::new(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
        );
        let mut all = vec![hook.clone(), custom.clone(), dep.clone(), ns.clone()];
        all.sort_by(|a, b| a.legacy_cmp(b));
        assert_eq!(all, vec![ns, dep, custom, hook]);
    }
}
