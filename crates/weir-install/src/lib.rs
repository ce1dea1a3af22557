//! The manifests that install Weir on a cluster (`weir install`, `weir bootstrap git`, the
//! Terraform provider), and the sync manifests that point the cluster at its repository.
//!
//! Pure: objects as JSON values, and their YAML with Flux's file names
//! (`gotk-components.yaml`, `gotk-sync.yaml`, `kustomization.yaml`), so a repository
//! bootstrapped by Weir keeps the layout of one bootstrapped by Flux.

use serde_json::{Value, json};

/// The image repository used when none is given.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/weir-gitops";
/// The namespace used when none is given: Flux's, so existing trees keep working.
pub const DEFAULT_NAMESPACE: &str = "flux-system";
/// The controller's name: its Deployment, ServiceAccount and Service.
pub const CONTROLLER: &str = "weir-controller";
/// The label every installed object carries, with the namespace as value.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The label that marks objects as part of Weir.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// Memory the controller asks for: above the 28-52 MiB measured with 100-1,000
/// Kustomizations (`bench/controller`).
const MEMORY_REQUEST: &str = "64Mi";
/// The controller's memory limit.
const MEMORY_LIMIT: &str = "1Gi";

/// Why options are refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that would make an invalid object.
    #[error("invalid {field} '{value}': {reason}")]
    Invalid {
        /// The option.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
}

/// How Weir is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The namespace of the controller (default `flux-system`).
    pub namespace: String,
    /// The version, without `v` (the image tag is `v<version>`).
    pub version: String,
    /// The image repository; the image is `<registry>/weir:v<version>`.
    pub registry: String,
    /// A Secret in the namespace to pull the image with.
    pub image_pull_secret: Option<String>,
    /// Add NetworkPolicies: pods of the namespace may reach anything; from outside, only
    /// metrics scraping and webhooks get in.
    pub network_policy: bool,
    /// Reconcile objects in every namespace (otherwise only in `namespace`).
    pub watch_all_namespaces: bool,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// The cluster's DNS domain, for the artifact URLs.
    pub cluster_domain: String,
    /// Taint keys the controller tolerates (to run on tainted control-plane nodes, say).
    pub toleration_keys: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            registry: DEFAULT_REGISTRY.to_owned(),
            image_pull_secret: None,
            network_policy: true,
            watch_all_namespaces: true,
            log_level: "info".to_owned(),
            cluster_domain: "cluster.local".to_owned(),
            toleration_keys: Vec::new(),
        }
    }
}

impl Options {
    /// Checks the values that end up in object names and arguments.
    pub fn validate(&self) -> Result<(), Error> {
        let dns_label = |field, value: &str| {
            let ok = !value.is_empty()
                && value.len() <= 63
                && value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !value.starts_with('-')
                && !value.ends_with('-');
            if ok {
                Ok(())
            } else {
                Err(Error::Invalid {
                    field,
                    value: value.to_owned(),
                    reason: "expected a DNS label: lower-case letters, digits and '-'",
                })
            }
        };
        dns_label("namespace", &self.namespace)?;
        if let Some(secret) = &self.image_pull_secret {
            dns_label("image pull secret", secret)?;
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            return Err(Error::Invalid {
                field: "log level",
                value: self.log_level.clone(),
                reason: "expected error, warn, info, debug or trace",
            });
        }
        let version = self.version.strip_prefix('v').unwrap_or(&self.version);
        if version.is_empty()
            || !version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        {
            return Err(Error::Invalid {
                field: "version",
                value: self.version.clone(),
                reason: "expected a version such as 0.1.0",
            });
        }
        if self.registry.is_empty() || self.registry.contains(char::is_whitespace) {
            return Err(Error::Invalid {
                field: "registry",
                value: self.registry.clone(),
                reason: "expected an image repository such as ghcr.io/weir-gitops",
            });
        }
        Ok(())
    }

    /// The controller image.
    pub fn image(&self) -> String {
        let version = self.version.strip_prefix('v').unwrap_or(&self.version);
        format!("{}/weir:v{version}", self.registry.trim_end_matches('/'))
    }

    fn labels(&self) -> Value {
        json!({
            INSTANCE_LABEL: self.namespace,
            PART_OF_LABEL: "weir",
            "app.kubernetes.io/version": self.version.strip_prefix('v').unwrap_or(&self.version),
        })
    }

    fn metadata(&self, name: &str, namespaced: bool) -> Value {
        let mut metadata = json!({ "name": name, "labels": self.labels() });
        if namespaced {
            metadata["namespace"] = json!(self.namespace);
        }
        metadata
    }
}

/// Everything `weir install` applies, in apply order: the Namespace, the
/// CustomResourceDefinitions, RBAC, the Services, the controller Deployment and, when asked,
/// the NetworkPolicies.
pub fn components(options: &Options) -> Result<Vec<Value>, Error> {
    options.validate()?;
    let ns = &options.namespace;
    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": merge(options.labels(), json!({
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/warn-version": "latest",
            })),
        },
    })];
    for mut crd in weir_api::crds::all() {
        if let Some(labels) = crd.pointer_mut("/metadata/labels") {
            *labels = merge(labels.clone(), options.labels());
        } else if let Some(metadata) = crd.get_mut("metadata") {
            metadata["labels"] = options.labels();
        }
        objects.push(crd);
    }
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": options.metadata(CONTROLLER, true),
    }));
    // The controller applies whatever the repository holds: cluster-admin, as Flux's
    // kustomize-controller. Kustomizations with spec.serviceAccountName run with less.
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": options.metadata(&format!("weir-reconciler-{ns}"), false),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [{ "kind": "ServiceAccount", "name": CONTROLLER, "namespace": ns }],
    }));
    // Read and edit access to Weir's kinds for the built-in view/edit/admin roles.
    for (name, verbs, aggregate) in [
        (
            format!("weir-view-{ns}"),
            json!(["get", "list", "watch"]),
            json!({ "rbac.authorization.k8s.io/aggregate-to-view": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true" }),
        ),
        (
            format!("weir-edit-{ns}"),
            json!(["create", "delete", "deletecollection", "patch", "update"]),
            json!({ "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true" }),
        ),
    ] {
        let mut metadata = options.metadata(&name, false);
        metadata["labels"] = merge(metadata["labels"].clone(), aggregate);
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata,
            "rules": [{
                "apiGroups": [
                    "source.toolkit.fluxcd.io",
                    "kustomize.toolkit.fluxcd.io",
                    "helm.toolkit.fluxcd.io",
                    "notification.toolkit.fluxcd.io",
                ],
                "resources": ["*"],
                "verbs": verbs,
            }],
        }));
    }
    let selector = json!({ "app": CONTROLLER });
    let service = |name: &str, target: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": options.metadata(name, true),
            "spec": {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{ "name": "http", "port": 80, "protocol": "TCP", "targetPort": target }],
            },
        })
    };
    // Artifacts, under the controller's name; webhooks under Flux's `webhook-receiver`, so
    // Ingresses written for Flux's Receivers keep working.
    objects.push(service(CONTROLLER, "http"));
    objects.push(service("webhook-receiver", "http-webhook"));
    objects.push(deployment(options));
    if options.network_policy {
        objects.extend(network_policies(options));
    }
    Ok(objects)
}

fn deployment(options: &Options) -> Value {
    let args = vec![
        "controller".to_owned(),
        format!("--watch-all-namespaces={}", options.watch_all_namespaces),
        format!("--log-level={}", options.log_level),
        "--log-encoding=json".to_owned(),
        "--enable-leader-election=true".to_owned(),
        "--storage-path=/data".to_owned(),
        format!(
            "--storage-adv-addr={CONTROLLER}.$(RUNTIME_NAMESPACE).svc.{}.",
            options.cluster_domain.trim_end_matches('.')
        ),
    ];
    let mut pod = json!({
        "serviceAccountName": CONTROLLER,
        "terminationGracePeriodSeconds": 10,
        "securityContext": { "fsGroup": 1337 },
        "containers": [{
            "name": "manager",
            "image": options.image(),
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "env": [
                { "name": "RUNTIME_NAMESPACE",
                  "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
                { "name": "POD_NAME",
                  "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
            ],
            "ports": [
                { "name": "http", "containerPort": 9090, "protocol": "TCP" },
                { "name": "http-webhook", "containerPort": 9292, "protocol": "TCP" },
                { "name": "http-prom", "containerPort": 8080, "protocol": "TCP" },
                { "name": "healthz", "containerPort": 9440, "protocol": "TCP" },
            ],
            "livenessProbe": { "httpGet": { "path": "/healthz", "port": "healthz" } },
            "readinessProbe": { "httpGet": { "path": "/readyz", "port": "healthz" } },
            "resources": {
                "requests": { "cpu": "100m", "memory": MEMORY_REQUEST },
                "limits": { "cpu": "1000m", "memory": MEMORY_LIMIT },
            },
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "capabilities": { "drop": ["ALL"] },
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "volumeMounts": [
                { "name": "data", "mountPath": "/data" },
                { "name": "tmp", "mountPath": "/tmp" },
            ],
        }],
        "volumes": [
            { "name": "data", "emptyDir": {} },
            { "name": "tmp", "emptyDir": {} },
        ],
        "nodeSelector": { "kubernetes.io/os": "linux" },
    });
    if let Some(secret) = &options.image_pull_secret {
        pod["imagePullSecrets"] = json!([{ "name": secret }]);
    }
    if !options.toleration_keys.is_empty() {
        pod["tolerations"] = options
            .toleration_keys
            .iter()
            .map(|key| json!({ "key": key, "operator": "Exists" }))
            .collect();
    }
    let mut metadata = options.metadata(CONTROLLER, true);
    metadata["labels"]["app"] = json!(CONTROLLER);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            // One reconciler at a time: the new pod waits for the old one's Lease.
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": { "app": CONTROLLER } },
            "template": {
                "metadata": {
                    "labels": { "app": CONTROLLER },
                    "annotations": { "prometheus.io/scrape": "true", "prometheus.io/port": "8080" },
                },
                "spec": pod,
            },
        },
    })
}

/// Flux's three policies, for Weir's single pod: pods of the namespace reach anything and
/// each other; from other namespaces only metrics scraping and webhooks come in.
fn network_policies(options: &Options) -> Vec<Value> {
    let policy = |name: &str, spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": options.metadata(name, true),
            "spec": spec,
        })
    };
    vec![
        policy(
            "allow-egress",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [{}],
                "ingress": [{ "from": [{ "podSelector": {} }] }],
            }),
        ),
        policy(
            "allow-scraping",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{ "namespaceSelector": {} }],
                    "ports": [{ "port": 8080, "protocol": "TCP" }],
                }],
            }),
        ),
        policy(
            "allow-webhooks",
            json!({
                "podSelector": { "matchLabels": { "app": CONTROLLER } },
                "policyTypes": ["Ingress"],
                "ingress": [{ "from": [{ "namespaceSelector": {} }] }],
            }),
        ),
    ]
}

/// What the cluster syncs from: the GitRepository and Kustomization that bootstrap writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// Their name (default `flux-system`).
    pub name: String,
    /// Their namespace (the install namespace).
    pub namespace: String,
    /// The repository URL.
    pub url: String,
    /// The branch.
    pub branch: String,
    /// The path in the repository, `./` relative, that the Kustomization applies.
    pub path: String,
    /// How often to look for changes (`1m0s`).
    pub interval: String,
    /// The Secret with the Git credentials; none for a public repository.
    pub secret_name: Option<String>,
}

/// The GitRepository and Kustomization of `sync`, as Flux's bootstrap writes them.
pub fn sync_objects(sync: &Sync) -> Vec<Value> {
    let mut spec = json!({
        "interval": sync.interval,
        "ref": { "branch": sync.branch },
        "url": sync.url,
    });
    if let Some(secret) = &sync.secret_name {
        spec["secretRef"] = json!({ "name": secret });
    }
    vec![
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": { "name": sync.name, "namespace": sync.namespace },
            "spec": spec,
        }),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": { "name": sync.name, "namespace": sync.namespace },
            "spec": {
                "interval": "10m0s",
                "path": sync.path,
                "prune": true,
                "sourceRef": { "kind": "GitRepository", "name": sync.name },
            },
        }),
    ]
}

/// Objects as one multi-document YAML stream.
pub fn to_yaml(objects: &[Value]) -> String {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&weir_object::yaml::to_yaml(object));
    }
    out
}

/// The files bootstrap writes under `<path>/<namespace>/`, with Flux's names:
/// `gotk-components.yaml`, `gotk-sync.yaml` and the `kustomization.yaml` listing both, or,
/// with `kustomization_override`, that text instead.
pub fn repository_files(
    options: &Options,
    sync: &Sync,
    kustomization_override: Option<&str>,
) -> Result<Vec<(String, String)>, Error> {
    let header = format!(
        "# Weir v{} components, written by weir bootstrap; do not edit.\n",
        options
            .version
            .strip_prefix('v')
            .unwrap_or(&options.version)
    );
    let components = format!("{header}{}", to_yaml(&components(options)?));
    let sync_yaml = format!(
        "# Weir sync manifests, written by weir bootstrap.\n{}",
        to_yaml(&sync_objects(sync))
    );
    let kustomization = match kustomization_override {
        Some(text) => text.to_owned(),
        None => "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n".to_owned(),
    };
    Ok(vec![
        ("gotk-components.yaml".to_owned(), components),
        ("gotk-sync.yaml".to_owned(), sync_yaml),
        ("kustomization.yaml".to_owned(), kustomization),
    ])
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base_map), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base_map.extend(extra);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} missing"))
    }

    #[test]
    fn components_follow_the_options() -> Result<(), Error> {
        let options = Options {
            namespace: "gitops".into(),
            version: "v1.2.3".into(),
            registry: "registry.local:5000/weir/".into(),
            image_pull_secret: Some("pull".into()),
            network_policy: false,
            watch_all_namespaces: false,
            log_level: "debug".into(),
            cluster_domain: "home.arpa".into(),
            toleration_keys: vec!["node-role.kubernetes.io/control-plane".into()],
        };
        let objects = components(&options)?;
        assert_eq!(objects[0]["kind"], "Namespace");
        assert_eq!(objects[0]["metadata"]["name"], "gitops");
        let deployment = find(&objects, "Deployment", CONTROLLER);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["image"],
            "registry.local:5000/weir/weir:v1.2.3"
        );
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert!(args.contains(&"--watch-all-namespaces=false"));
        assert!(args.contains(&"--log-level=debug"));
        assert!(
            args.contains(
                &"--storage-adv-addr=weir-controller.$(RUNTIME_NAMESPACE).svc.home.arpa."
            )
        );
        assert_eq!(pod["imagePullSecrets"][0]["name"], "pull");
        assert_eq!(
            pod["tolerations"][0]["key"],
            "node-role.kubernetes.io/control-plane"
        );
        assert!(!objects.iter().any(|o| o["kind"] == "NetworkPolicy"));
        let binding = find(&objects, "ClusterRoleBinding", "weir-reconciler-gitops");
        assert_eq!(binding["subjects"][0]["namespace"], "gitops");
        for kind in [
            "GitRepository",
            "HelmRepository",
            "HelmChart",
            "OCIRepository",
            "Kustomization",
            "HelmRelease",
            "Receiver",
        ] {
            assert!(
                objects
                    .iter()
                    .any(|o| o["kind"] == "CustomResourceDefinition"
                        && o["spec"]["names"]["kind"] == kind)
            );
        }
        Ok(())
    }

    #[test]
    fn defaults_have_network_policies_and_flux_names() -> Result<(), Error> {
        let objects = components(&Options::default())?;
        assert_eq!(objects[0]["metadata"]["name"], "flux-system");
        assert_eq!(
            objects
                .iter()
                .filter(|o| o["kind"] == "NetworkPolicy")
                .count(),
            3
        );
        find(&objects, "Service", "webhook-receiver");
        // Every group Weir serves is in the roles aggregated to view, edit and admin.
        for role in ["weir-view-flux-system", "weir-edit-flux-system"] {
            let groups = &find(&objects, "ClusterRole", role)["rules"][0]["apiGroups"];
            for crd in weir_api::crds::all() {
                assert!(
                    groups
                        .as_array()
                        .is_some_and(|g| g.contains(&crd["spec"]["group"])),
                    "{role} misses {}",
                    crd["spec"]["group"]
                );
            }
        }
        Ok(())
    }

    #[test]
    fn bad_options_are_refused_with_the_field() {
        for (options, field) in [
            (
                Options {
                    namespace: "Flux_System".into(),
                    ..Options::default()
                },
                "namespace",
            ),
            (
                Options {
                    log_level: "loud".into(),
                    ..Options::default()
                },
                "log level",
            ),
            (
                Options {
                    version: "1.0 beta".into(),
                    ..Options::default()
                },
                "version",
            ),
        ] {
            let err = components(&options)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn repository_files_have_flux_names() -> Result<(), Error> {
        let sync = Sync {
            name: "flux-system".into(),
            namespace: "flux-system".into(),
            url: "https://git.example/fleet.git".into(),
            branch: "main".into(),
            path: "./clusters/home".into(),
            interval: "1m0s".into(),
            secret_name: Some("flux-system".into()),
        };
        let files = repository_files(&Options::default(), &sync, None)?;
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "gotk-components.yaml",
                "gotk-sync.yaml",
                "kustomization.yaml"
            ]
        );
        assert!(files[1].1.contains("path: ./clusters/home"));
        assert!(files[1].1.contains("name: flux-system"));
        Ok(())
    }
}
