//! `.Files` and `.Capabilities`.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_gotmpl::value::CallResult;
use weir_gotmpl::{Object, Value};

use crate::Chart;

/// A chart's files (not templates), with Helm's `Files` methods.
#[derive(Debug)]
struct Files(Arc<Vec<(String, Vec<u8>)>>);

pub(crate) fn glob_match(pattern: &str, path: &str) -> bool {
    // `*` does not cross `/`, `**` does; `?` is one character.
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) if p.get(1) == Some(&'*') => (0..=s.len()).any(|i| go(&p[2..], &s[i..])),
            (Some('*'), _) => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| go(&p[1..], &s[i..])),
            (Some('?'), Some(c)) if *c != '/' => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    go(&p, &s)
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "files.Files"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(p, d)| (Value::str(p), Value::str(String::from_utf8_lossy(d))))
                .collect(),
        )
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<CallResult> {
        let arg = || {
            args.first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some(Ok(match name {
            "Get" => match self.0.iter().find(|(p, _)| *p == arg()) {
                Some((_, d)) => match std::str::from_utf8(d) {
                    Ok(text) => Value::str(text),
                    // A binary file: a Go string holds any bytes; keep them for b64enc.
                    Err(_) => Value::Object(Arc::new(Binary(d.clone()))),
                },
                None => Value::str(""),
            },
            "GetBytes" => Value::str(
                self.0
                    .iter()
                    .find(|(p, _)| *p == arg())
                    .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default(),
            ),
            "Glob" => {
                let pattern = arg();
                Value::Object(Arc::new(Files(Arc::new(
                    self.0
                        .iter()
                        .filter(|(p, _)| glob_match(&pattern, p))
                        .cloned()
                        .collect(),
                ))))
            }
            "Lines" => {
                let text = self
                    .0
                    .iter()
                    .find(|(p, _)| *p == arg())
                    .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default();
                Value::list(text.split('\n').map(Value::str).collect())
            }
            "AsConfig" | "AsSecrets" => {
                use base64::Engine as _;
                let map: BTreeMap<String, serde_json::Value> = self
                    .0
                    .iter()
                    .map(|(p, d)| {
                        let key = p.rsplit('/').next().unwrap_or(p).to_owned();
                        let value = if name == "AsSecrets" {
                            base64::engine::general_purpose::STANDARD.encode(d)
                        } else {
                            String::from_utf8_lossy(d).into_owned()
                        };
                        (key, serde_json::Value::String(value))
                    })
                    .collect();
                if map.is_empty() {
                    return Some(Ok(Value::str("")));
                }
                let json = serde_json::Value::Object(map.into_iter().collect());
                let text = weir_object::yaml::to_yaml(&json);
                Value::str(text.strip_suffix('\n').unwrap_or(&text))
            }
            _ => return None,
        }))
    }
}

/// A Go string that is not UTF-8 (a binary file's content).
#[derive(Debug)]
struct Binary(Vec<u8>);

impl Object for Binary {
    fn type_name(&self) -> &str {
        "string"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn bytes(&self) -> Option<Vec<u8>> {
        Some(self.0.clone())
    }
}

/// `.Files` of `chart`.
pub(crate) fn files_value(chart: &Chart) -> Value {
    Value::Object(Arc::new(Files(Arc::clone(&chart.files))))
}

/// The group/versions (and `group/version/Kind`s) a Kubernetes 1.36 API server serves by
/// default, as Helm's default capabilities list them.
const BUILTIN: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    (
        "authentication.k8s.io/v1",
        &["TokenReview", "SelfSubjectReview"],
    ),
    (
        "authorization.k8s.io/v1",
        &[
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ],
    ),
    ("autoscaling/v1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    (
        "flowcontrol.apiserver.k8s.io/v1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "networking.k8s.io/v1",
        &[
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "IPAddress",
            "ServiceCIDR",
        ],
    ),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "resource.k8s.io/v1",
        &[
            "DeviceClass",
            "ResourceClaim",
            "ResourceClaimTemplate",
            "ResourceSlice",
        ],
    ),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    (
        "storage.k8s.io/v1",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
];

/// `.Capabilities` for Kubernetes `kube_version` (`1.36.0` or `v1.36.0`) and extra API
/// versions.
pub(crate) fn capabilities(kube_version: &str, extra: &[String]) -> Value {
    let version = format!("v{}", kube_version.trim_start_matches('v'));
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1").to_owned();
    let minor = parts.next().unwrap_or("0").to_owned();
    let mut apis: Vec<String> = Vec::new();
    for (gv, kinds) in BUILTIN {
        apis.push((*gv).to_owned());
        for kind in *kinds {
            apis.push(format!("{gv}/{kind}"));
        }
    }
    apis.extend(extra.iter().cloned());
    let kube = Value::map(
        [
            ("Version", Value::str(&version)),
            ("Major", Value::str(&major)),
            ("Minor", Value::str(&minor)),
            ("GitVersion", Value::str(&version)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    );
    Value::map(
        [
            ("KubeVersion", kube),
            // A string list, whose `Has` the template engine provides (Helm's VersionSet).
            (
                "APIVersions",
                Value::list(apis.into_iter().map(Value::from).collect()),
            ),
            (
                "HelmVersion",
                Value::map(
                    [("Version".to_owned(), Value::str("v4.2.4"))]
                        .into_iter()
                        .collect(),
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("files/*.conf", "files/a.conf"));
        assert!(!glob_match("files/*.conf", "files/sub/a.conf"));
        assert!(glob_match("files/**.conf", "files/sub/a.conf"));
        assert!(glob_match("dashboards/*.json", "dashboards/x.json"));
    }
}
