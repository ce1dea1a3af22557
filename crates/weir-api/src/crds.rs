//! The CustomResourceDefinitions Weir serves, with Flux v2.9's names, fields, defaults, enums
//! and validation, so manifests written for Flux are accepted (and refused) exactly as there.

use serde_json::{Value, json};

use crate::schema::{
    Schema, array, artifact, boolean, condition, date_time, duration, int64, local_ref, object,
    string, string_map,
};

/// Names and presentation of one CRD.
struct Names<'a> {
    group: &'a str,
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
                "name": "v1",
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

/// `source.toolkit.fluxcd.io/v1` GitRepository.
pub fn git_repository() -> Value {
    let reference = object()
        .describe("Which revision to check out: commit, then name, tag, semver, branch.")
        .field(
            "branch",
            string().describe("Branch to check out (default master)."),
        )
        .field(
            "commit",
            string().describe("Commit SHA to check out; wins over the others."),
        )
        .field(
            "name",
            string().describe("Full Git reference, such as refs/heads/main."),
        )
        .field(
            "semver",
            string().describe("Semver range over the repository's tags."),
        )
        .field("tag", string().describe("Tag to check out."));
    let include = object()
        .describe("Another GitRepository's artifact to include.")
        .field(
            "fromPath",
            string().describe("Path in the included artifact to copy."),
        )
        .field("repository", local_ref("The GitRepository to include."))
        .field(
            "toPath",
            string().describe("Where to put it (default the repository's name)."),
        )
        .required(&["repository"]);
    let spec = object()
        .describe("Where to fetch a Git repository from and how often.")
        .field(
            "ignore",
            string().describe("Extra .sourceignore patterns; they replace the default exclusions."),
        )
        .field("include", array(include.clone()).describe("Artifacts of other GitRepositories to include."))
        .field("interval", duration(true).describe("How often to check the repository."))
        .field(
            "provider",
            string()
                .enumerate(&["generic", "aws", "azure", "github"])
                .describe("Authentication provider (generic uses secretRef)."),
        )
        .field("proxySecretRef", local_ref("Secret with the proxy address and credentials."))
        .field("recurseSubmodules", boolean().describe("Also clone submodules."))
        .field("ref", reference)
        .field(
            "secretRef",
            local_ref("Secret with credentials: username/password, bearerToken, ca.crt, or identity/known_hosts for SSH."),
        )
        .field(
            "serviceAccountName",
            string().describe("Service account for the aws or azure provider."),
        )
        .field("sparseCheckout", array(string()).describe("Directories to check out."))
        .field("suspend", boolean().describe("Stop reconciling."))
        .field(
            "timeout",
            duration(false)
                .default(json!("60s"))
                .describe("Timeout of Git operations."),
        )
        .field(
            "url",
            string()
                .pattern("^(http|https|ssh)://.*$")
                .describe("Repository URL: http, https or ssh."),
        )
        .field(
            "verify",
            object()
                .describe("Verify commit or tag signatures.")
                .field(
                    "mode",
                    string()
                        .enumerate(&["head", "HEAD", "Tag", "TagAndHEAD"])
                        .default(json!("HEAD"))
                        .describe("What to verify."),
                )
                .field("secretRef", local_ref("Secret with the trusted public keys."))
                .required(&["secretRef"]),
        )
        .required(&["interval", "url"])
        .rule(
            "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))",
            "serviceAccountName can only be set when provider is 'azure' or 'aws'",
        );
    let status = common_status()
        .field("artifact", artifact())
        .field(
            "includedArtifacts",
            array(artifact()).describe("Artifacts of the included repositories."),
        )
        .field(
            "observedIgnore",
            string().describe("The ignore patterns of the current artifact."),
        )
        .field("observedInclude", array(include))
        .field("observedRecurseSubmodules", boolean())
        .field("observedSparseCheckout", array(string()))
        .field(
            "sourceVerificationMode",
            string().describe("The verification mode last used."),
        );
    definition(
        &Names {
            group: "source.toolkit.fluxcd.io",
            kind: "GitRepository",
            plural: "gitrepositories",
            singular: "gitrepository",
            short_names: &["gitrepo"],
            categories: &["all", "fluxcd", "fluxcd-sources"],
        },
        columns(&[("URL", "string", ".spec.url")]),
        spec,
        status,
    )
}

/// `kustomize.toolkit.fluxcd.io/v1` Kustomization.
pub fn kustomization() -> Value {
    let source_ref = object()
        .describe("The source of the manifests.")
        .field(
            "apiVersion",
            string().describe("API version of the source."),
        )
        .field(
            "kind",
            string()
                .enumerate(&[
                    "OCIRepository",
                    "GitRepository",
                    "Bucket",
                    "ExternalArtifact",
                ])
                .describe("Kind of the source."),
        )
        .field("name", string().describe("Name of the source."))
        .field(
            "namespace",
            string().describe("Namespace of the source (default the Kustomization's)."),
        )
        .required(&["kind", "name"]);
    let dependency = object()
        .describe("A Kustomization that must be ready first.")
        .field("name", string().describe("Its name."))
        .field(
            "namespace",
            string().describe("Its namespace (default this one's)."),
        )
        .field(
            "readyExpr",
            string().describe("CEL expression deciding readiness, with self and dep."),
        )
        .required(&["name"]);
    let health_check = object()
        .describe("An object that must be ready.")
        .field("apiVersion", string())
        .field("kind", string())
        .field("name", string())
        .field("namespace", string())
        .required(&["kind", "name"]);
    let health_expr = object()
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
        .required(&["apiVersion", "current"]);
    let patch = object()
        .describe("A strategic-merge or JSON6902 patch, and the objects it applies to.")
        .field("patch", string().describe("The patch, YAML or JSON."))
        .field("target", selector())
        .required(&["patch"]);
    let image = object()
        .describe("An image name, tag or digest to set.")
        .field("digest", string())
        .field(
            "name",
            string().describe("Image name to match, without tag."),
        )
        .field("newName", string())
        .field("newTag", string())
        .required(&["name"]);
    let substitute_ref = object()
        .describe("A ConfigMap or Secret of substitution variables.")
        .field("kind", string().enumerate(&["Secret", "ConfigMap"]))
        .field("name", string().min_length(1).max_length(253))
        .field(
            "optional",
            boolean()
                .default(json!(false))
                .describe("Treat a missing object as empty."),
        )
        .required(&["kind", "name"]);
    let post_build = object()
        .describe("Variable substitution after the build.")
        .field(
            "substitute",
            string_map().describe("Variables and their values."),
        )
        .field("substituteFrom", array(substitute_ref))
        .field(
            "substituteStrategy",
            string().enumerate(&["WithVariables", "Always"]),
        );
    let kube_config = object()
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
        );
    let metadata = object()
        .describe("Labels and annotations for every object.")
        .field("annotations", string_map())
        .field("labels", string_map());
    let decryption = object()
        .describe("Decrypt SOPS-encrypted manifests.")
        .field("provider", string().enumerate(&["sops"]))
        .field("secretRef", local_ref("Secret with the decryption keys."))
        .field("serviceAccountName", string())
        .required(&["provider"]);
    let ignore_rule = object()
        .describe("JSON pointers to ignore in drift detection.")
        .field("paths", array(string()))
        .field("target", selector())
        .required(&["paths"]);
    let spec = object()
        .describe("What to build and apply, from which source, how often.")
        .field(
            "buildMetadata",
            array(string().enumerate(&["originAnnotations", "transformerAnnotations"])),
        )
        .field("commonMetadata", metadata)
        .field(
            "components",
            array(string()).describe("kustomize Components to include."),
        )
        .field("decryption", decryption)
        .field(
            "deletionPolicy",
            string()
                .enumerate(&["MirrorPrune", "Delete", "WaitForTermination", "Orphan"])
                .describe("What happens to applied objects when the Kustomization is deleted."),
        )
        .field("dependsOn", array(dependency))
        .field(
            "force",
            boolean()
                .default(json!(false))
                .describe("Recreate objects whose immutable fields changed."),
        )
        .field("healthCheckExprs", array(health_expr))
        .field("healthChecks", array(health_check))
        .field("ignore", array(ignore_rule))
        .field("ignoreMissingComponents", boolean())
        .field("images", array(image))
        .field(
            "interval",
            duration(true).describe("How often to reconcile."),
        )
        .field("kubeConfig", kube_config)
        .field("namePrefix", string().min_length(1).max_length(200))
        .field("nameSuffix", string().min_length(1).max_length(200))
        .field("patches", array(patch))
        .field(
            "path",
            string().describe("Directory in the source (default its root)."),
        )
        .field("postBuild", post_build)
        .field(
            "prune",
            boolean().describe("Delete objects that left the source."),
        )
        .field(
            "retryInterval",
            duration(true).describe("Retry interval after a failure."),
        )
        .field(
            "serviceAccountName",
            string().describe("Service account to impersonate."),
        )
        .field("sourceRef", source_ref)
        .field("suspend", boolean())
        .field("targetNamespace", string().min_length(1).max_length(63))
        .field(
            "timeout",
            duration(true).describe("Timeout of apply and health checks."),
        )
        .field(
            "wait",
            boolean().describe("Wait for every applied object to be ready."),
        )
        .required(&["interval", "prune", "sourceRef"]);
    let inventory_entry = object()
        .field("id", string().describe("<namespace>_<name>_<group>_<kind>"))
        .field("v", string().describe("API version"))
        .required(&["id", "v"]);
    let snapshot = object()
        .field("digest", string())
        .field("firstReconciled", date_time())
        .field("lastReconciled", date_time())
        .field("lastReconciledDuration", string())
        .field("lastReconciledStatus", string())
        .field("metadata", string_map())
        .field("totalReconciliations", int64())
        .required(&[
            "digest",
            "firstReconciled",
            "lastReconciled",
            "lastReconciledDuration",
            "lastReconciledStatus",
            "totalReconciliations",
        ]);
    let status = common_status()
        .field(
            "history",
            array(snapshot).describe("The last reconciliations, newest first."),
        )
        .field(
            "inventory",
            object()
                .describe("The objects applied.")
                .field("entries", array(inventory_entry))
                .required(&["entries"]),
        )
        .field("lastAppliedOriginRevision", string())
        .field(
            "lastAppliedRevision",
            string().describe("Source revision last applied successfully."),
        )
        .field(
            "lastAttemptedRevision",
            string().describe("Source revision last attempted."),
        );
    definition(
        &Names {
            group: "kustomize.toolkit.fluxcd.io",
            kind: "Kustomization",
            plural: "kustomizations",
            singular: "kustomization",
            short_names: &["ks"],
            categories: &["all", "fluxcd", "fluxcd-appliers"],
        },
        columns(&[]),
        spec,
        status,
    )
}

/// The receiver types Flux v2.9 accepts.
pub const RECEIVER_TYPES: &[&str] = &[
    "generic",
    "generic-hmac",
    "generic-oidc",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
];

/// `notification.toolkit.fluxcd.io/v1` Receiver.
pub fn receiver() -> Value {
    let resource = object()
        .describe("An object to reconcile when the webhook is called.")
        .field("apiVersion", string())
        .field(
            "filter",
            string().describe("CEL expression over res and req selecting this resource."),
        )
        .field(
            "kind",
            string().enumerate(&[
                "Bucket",
                "GitRepository",
                "Kustomization",
                "HelmRelease",
                "HelmChart",
                "HelmRepository",
                "ImageRepository",
                "ImagePolicy",
                "ImageUpdateAutomation",
                "OCIRepository",
                "ArtifactGenerator",
                "ExternalArtifact",
            ]),
        )
        .field(
            "matchLabels",
            string_map().describe("Labels selecting objects when name is *."),
        )
        .field("name", string().min_length(1).max_length(253))
        .field("namespace", string().min_length(1).max_length(253))
        .required(&["kind", "name"]);
    let oidc = object()
        .field("audience", string())
        .field("issuerURL", string().pattern("^https?://"))
        .field(
            "validations",
            array(
                object()
                    .field("expression", string())
                    .field("message", string())
                    .required(&["expression", "message"]),
            )
            .min_items(1),
        )
        .field(
            "variables",
            array(
                object()
                    .field("expression", string())
                    .field("name", string())
                    .required(&["expression", "name"]),
            ),
        )
        .required(&["issuerURL", "validations"]);
    let spec = object()
        .describe("A webhook that triggers reconciles.")
        .field("events", array(string()).describe("Event types to accept (all when empty)."))
        .field(
            "interval",
            duration(true)
                .default(json!("10m"))
                .describe("How often to re-read the Secret."),
        )
        .field("oidcProviders", array(oidc).list_map("issuerURL"))
        .field("resourceFilter", string().describe("CEL expression selecting resources."))
        .field("resources", array(resource))
        .field("secretRef", local_ref("Secret with the webhook token (data key token)."))
        .field("suspend", boolean())
        .field("type", string().enumerate(RECEIVER_TYPES).describe("The webhook's sender."))
        .required(&["resources", "type"])
        .rule(
            "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)",
            "generic-oidc receivers must define at least one oidcProvider",
        )
        .rule(
            "self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0",
            "oidcProviders can only be set when type is generic-oidc",
        )
        .rule(
            "self.type != 'generic-oidc' || !has(self.secretRef)",
            "secretRef cannot be set when type is generic-oidc",
        )
        .rule(
            "self.type == 'generic-oidc' || has(self.secretRef)",
            "secretRef is required when type is not generic-oidc",
        );
    let status = common_status().field(
        "webhookPath",
        string().describe("The path the webhook listens on: /hook/<sha256>."),
    );
    definition(
        &Names {
            group: "notification.toolkit.fluxcd.io",
            kind: "Receiver",
            plural: "receivers",
            singular: "receiver",
            short_names: &[],
            categories: &["all", "fluxcd", "fluxcd-notifications"],
        },
        columns(&[]),
        spec,
        status,
    )
}

/// Every CRD Weir serves, in a stable order.
pub fn all() -> Vec<Value> {
    vec![git_repository(), kustomization(), receiver()]
}
