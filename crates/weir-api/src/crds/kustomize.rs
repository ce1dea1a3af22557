//! `kustomize.toolkit.fluxcd.io`: Kustomization.

use serde_json::{Value, json};

use super::{
    Names, columns, common_metadata, common_status, definition, health_expr, ignore_rule, image,
    inventory, kube_config, patch,
};
use crate::schema::{
    array, boolean, date_time, duration, int64, local_ref, object, string, string_map,
};

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
        .describe("A Kustomization (or, in Weir, a HelmRelease) that must be ready first.")
        .field(
            "kind",
            string()
                .enumerate(&["Kustomization", "HelmRelease"])
                .describe("Weir only (Flux has no such field): Kustomization (when absent) or HelmRelease."),
        )
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
    let decryption = object()
        .describe("Decrypt SOPS-encrypted manifests.")
        .field("provider", string().enumerate(&["sops"]))
        .field("secretRef", local_ref("Secret with the decryption keys."))
        .field("serviceAccountName", string())
        .required(&["provider"]);
    let spec = object()
        .describe("What to build and apply, from which source, how often.")
        .field(
            "buildMetadata",
            array(string().enumerate(&["originAnnotations", "transformerAnnotations"])),
        )
        .field("commonMetadata", common_metadata())
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
        .field("healthCheckExprs", array(health_expr()))
        .field("healthChecks", array(health_check))
        .field("ignore", array(ignore_rule()))
        .field("ignoreMissingComponents", boolean())
        .field("images", array(image()))
        .field(
            "interval",
            duration(true).describe("How often to reconcile."),
        )
        .field("kubeConfig", kube_config())
        .field("namePrefix", string().min_length(1).max_length(200))
        .field("nameSuffix", string().min_length(1).max_length(200))
        .field("patches", array(patch()))
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
        .field("inventory", inventory())
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
            version: "v1",
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
