//! `helm.toolkit.fluxcd.io`: HelmRelease, as helm-controller v1.6 serves it (`v2`).

use serde_json::{Value, json};

use super::source::{chart_verification, reconcile_strategy};
use super::{
    Names, columns, common_metadata, common_status, definition, health_expr, ignore_rule, image,
    inventory, kube_config, patch,
};
use crate::schema::{
    Schema, any_json, array, boolean, date_time, duration, int64, integer, map_of, object, string,
    string_map,
};

/// Kinds a HelmRelease's `dependsOn` entries may name: Flux only knows HelmReleases; Weir
/// also waits for Kustomizations.
pub const HELM_RELEASE_DEPENDENCY_KINDS: &[&str] = &["HelmRelease", "Kustomization"];

/// A Go duration with hours, described.
fn timeout(what: &str) -> Schema {
    duration(true).describe(what)
}

/// A name of at most `max` characters, as Flux bounds object names and namespaces.
fn bounded(max: u64, description: &str) -> Schema {
    string().min_length(1).max_length(max).describe(description)
}

/// The `spec.chart` template: the HelmChart the release creates in the source's namespace,
/// named `<namespace>-<name>`.
fn chart_template() -> Schema {
    let source_ref = object()
        .describe("Where the chart comes from.")
        .field(
            "apiVersion",
            string().describe("API version of the source."),
        )
        .field(
            "kind",
            string()
                .enumerate(&["HelmRepository", "GitRepository", "Bucket"])
                .describe("Kind of the source."),
        )
        .field("name", bounded(253, "Name of the source."))
        .field(
            "namespace",
            bounded(63, "Namespace of the source (default the HelmRelease's)."),
        )
        .required(&["kind", "name"]);
    let spec = object()
        .describe("The spec of the HelmChart.")
        .field(
            "chart",
            string()
                .min_length(1)
                .max_length(2048)
                .describe("Chart name in a HelmRepository, or path in a Git or Bucket source."),
        )
        .field(
            "ignoreMissingValuesFiles",
            boolean().describe("Skip valuesFiles that do not exist instead of failing."),
        )
        .field(
            "interval",
            duration(true).describe("How often to check the source (default the release's)."),
        )
        .field("reconcileStrategy", reconcile_strategy())
        .field("sourceRef", source_ref)
        .field(
            "valuesFiles",
            array(string())
                .describe("Values files in the chart, merged in order into values.yaml."),
        )
        .field("verify", chart_verification(false))
        .field(
            "version",
            string()
                .default(json!("*"))
                .describe("Semver range of the chart version (HelmRepository sources only)."),
        )
        .required(&["chart", "sourceRef"]);
    object()
        .describe("The HelmChart to create for this release (or use chartRef).")
        .field(
            "metadata",
            object()
                .describe("Labels and annotations of the HelmChart.")
                .field("annotations", string_map())
                .field("labels", string_map()),
        )
        .field("spec", spec)
        .required(&["spec"])
}

/// `spec.chartRef`: an existing chart artifact.
fn chart_ref() -> Schema {
    object()
        .describe("An existing chart artifact to release (or use chart).")
        .field(
            "apiVersion",
            string().describe("API version of the referent."),
        )
        .field(
            "kind",
            string()
                .enumerate(&["OCIRepository", "HelmChart", "ExternalArtifact"])
                .describe("Kind of the referent."),
        )
        .field("name", bounded(253, "Name of the referent."))
        .field(
            "namespace",
            bounded(63, "Namespace of the referent (default the HelmRelease's)."),
        )
        .required(&["kind", "name"])
}

/// A `dependsOn` entry: Flux's `name`, `namespace`, `readyExpr`, and Weir's `kind`.
fn dependency() -> Schema {
    object()
        .describe("An object that must be ready before this release is reconciled.")
        .field(
            "kind",
            string().enumerate(HELM_RELEASE_DEPENDENCY_KINDS).describe(
                "Weir only (Flux has no such field): HelmRelease (when absent) or Kustomization.",
            ),
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
        .required(&["name"])
}

/// What to do after a failed install or upgrade.
fn remediation(upgrade: bool) -> Schema {
    let mut schema = object()
        .describe("What to do when the action fails.")
        .field(
            "ignoreTestFailures",
            boolean().describe("Do not remediate failed tests (default test.ignoreFailures)."),
        )
        .field(
            "remediateLastFailure",
            boolean().describe("Remediate the last failure too, when retries are used up."),
        )
        .field(
            "retries",
            integer().describe("Retries before giving up; negative means forever."),
        );
    if upgrade {
        schema = schema.field(
            "strategy",
            string()
                .enumerate(&["rollback", "uninstall"])
                .describe("Remediation: rollback (default) or uninstall."),
        );
    }
    schema
}

/// The `strategy` of install and upgrade, with Flux's rule on `retryInterval`.
fn action_strategy(upgrade: bool) -> Schema {
    let schema = object()
        .describe("How failures are handled: remediate, or retry after an interval.")
        .field(
            "name",
            string()
                .enumerate(&["RemediateOnFailure", "RetryOnFailure"])
                .describe("The strategy."),
        )
        .field(
            "retryInterval",
            duration(true).describe("Wait before retrying (RetryOnFailure only)."),
        )
        .required(&["name"]);
    if upgrade {
        schema.rule(
            "!has(self.retryInterval) || self.name == 'RetryOnFailure'",
            ".retryInterval can only be set when .name is 'RetryOnFailure'",
        )
    } else {
        schema.rule(
            "!has(self.retryInterval) || self.name != 'RemediateOnFailure'",
            ".retryInterval cannot be set when .name is 'RemediateOnFailure'",
        )
    }
}

/// The CRD policy of install and upgrade.
fn crds_policy() -> Schema {
    string()
        .enumerate(&["Skip", "Create", "CreateReplace"])
        .describe("What to do with the chart's crds/ directory.")
}

/// Server-side apply for upgrade and rollback.
fn server_side_apply() -> Schema {
    string()
        .enumerate(&["enabled", "disabled", "auto"])
        .describe("Server-side apply: enabled, disabled, or auto (as the release was made).")
}

/// Flags install and upgrade share.
fn action(description: &str) -> Schema {
    object()
        .describe(description)
        .field("disableHooks", boolean().describe("Do not run hooks."))
        .field(
            "disableOpenAPIValidation",
            boolean()
                .describe("Do not validate the manifests against the cluster's OpenAPI schema."),
        )
        .field(
            "disableSchemaValidation",
            boolean().describe("Do not validate the values against the chart's JSON schema."),
        )
        .field(
            "disableTakeOwnership",
            boolean().describe("Refuse to take over existing objects the release does not own."),
        )
        .field(
            "disableWait",
            boolean().describe("Do not wait for the objects to be ready."),
        )
        .field(
            "disableWaitForJobs",
            boolean().describe("Do not wait for Jobs to complete."),
        )
        .field(
            "timeout",
            timeout("Timeout of the action (default spec.timeout)."),
        )
}

fn install() -> Schema {
    action("How the release is installed.")
        .field("crds", crds_policy())
        .field(
            "createNamespace",
            boolean().describe("Create the target namespace if missing."),
        )
        .field("remediation", remediation(false))
        .field(
            "replace",
            boolean()
                .describe("Reuse the release name when the old release is uninstalled or failed."),
        )
        .field(
            "serverSideApply",
            boolean().describe("Install with server-side apply."),
        )
        .field(
            "skipCRDs",
            boolean().describe("Do not install the chart's CRDs (deprecated: use crds)."),
        )
        .field("strategy", action_strategy(false))
}

fn upgrade() -> Schema {
    action("How the release is upgraded.")
        .field(
            "chartNameChangeStrategy",
            string()
                .enumerate(&["InPlaceUpdate", "Reinstall"])
                .describe("What a change of chart name does: upgrade in place, or reinstall."),
        )
        .field(
            "cleanupOnFail",
            boolean().describe("Delete objects the failed upgrade created."),
        )
        .field("crds", crds_policy())
        .field(
            "force",
            boolean().describe("Replace objects instead of patching them."),
        )
        .field(
            "preserveValues",
            boolean()
                .describe("Merge the values into the last release's instead of replacing them."),
        )
        .field("remediation", remediation(true))
        .field("serverSideApply", server_side_apply())
        .field("strategy", action_strategy(true))
}

fn test() -> Schema {
    let filter = object()
        .describe("A test to run or to skip.")
        .field("exclude", boolean().describe("Skip this test."))
        .field("name", bounded(253, "The test's name."))
        .required(&["name"]);
    object()
        .describe("Helm tests after install and upgrade.")
        .field("enable", boolean().describe("Run the chart's tests."))
        .field("filters", array(filter))
        .field(
            "ignoreFailures",
            boolean().describe("Do not remediate failed tests; the release stays Ready."),
        )
        .field(
            "timeout",
            timeout("Timeout of the tests (default spec.timeout)."),
        )
}

fn rollback() -> Schema {
    object()
        .describe("How a failed upgrade is rolled back.")
        .field(
            "cleanupOnFail",
            boolean().describe("Delete objects the failed rollback created."),
        )
        .field("disableHooks", boolean().describe("Do not run hooks."))
        .field(
            "disableWait",
            boolean().describe("Do not wait for the objects to be ready."),
        )
        .field(
            "disableWaitForJobs",
            boolean().describe("Do not wait for Jobs to complete."),
        )
        .field(
            "force",
            boolean().describe("Replace objects instead of patching them."),
        )
        .field(
            "recreate",
            boolean().describe("Restart the pods of workloads."),
        )
        .field("serverSideApply", server_side_apply())
        .field(
            "timeout",
            timeout("Timeout of the rollback (default spec.timeout)."),
        )
}

fn uninstall() -> Schema {
    object()
        .describe("How the release is uninstalled.")
        .field(
            "deletionPropagation",
            string()
                .enumerate(&["background", "foreground", "orphan"])
                .default(json!("background"))
                .describe("Deletion propagation of the release's objects."),
        )
        .field("disableHooks", boolean().describe("Do not run hooks."))
        .field(
            "disableWait",
            boolean().describe("Do not wait for the objects to be deleted."),
        )
        .field(
            "keepHistory",
            boolean().describe("Keep the release history after uninstalling."),
        )
        .field(
            "timeout",
            timeout("Timeout of the uninstall (default spec.timeout)."),
        )
}

fn values_reference() -> Schema {
    object()
        .describe("Values from a ConfigMap or Secret in the release's namespace.")
        .field(
            "kind",
            string()
                .enumerate(&["Secret", "ConfigMap"])
                .describe("Kind of the referent."),
        )
        .field(
            "literal",
            boolean().describe("Use the value at targetPath as a literal string, not YAML."),
        )
        .field("name", bounded(253, "Name of the referent."))
        .field(
            "optional",
            boolean().describe("Treat a missing object or key as empty."),
        )
        .field(
            "targetPath",
            string()
                .max_length(250)
                .pattern(r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$")
                .describe("Where to put the value, in --set syntax (whole values when absent)."),
        )
        .field(
            "valuesKey",
            string()
                .max_length(253)
                .pattern(r"^[\-._a-zA-Z0-9]+$")
                .describe("Data key (default values.yaml)."),
        )
        .required(&["kind", "name"])
}

fn post_renderer() -> Schema {
    object()
        .describe("A post-renderer, applied to the rendered manifests in order.")
        .field(
            "kustomize",
            object()
                .describe("Kustomize patches and image overrides.")
                .field("images", array(image()))
                .field("patches", array(patch())),
        )
}

fn drift_detection() -> Schema {
    object()
        .describe("Compare the cluster with the release and correct it.")
        .field("ignore", array(ignore_rule()))
        .field(
            "mode",
            string()
                .enumerate(&["enabled", "warn", "disabled"])
                .describe("enabled corrects drift, warn only reports it (default disabled)."),
        )
}

/// One entry of `status.history`: a Helm release revision.
fn snapshot() -> Schema {
    let test_hook = object()
        .describe("The state of one test hook.")
        .field("lastCompleted", date_time())
        .field("lastStarted", date_time())
        .field("phase", string());
    object()
        .describe("A release revision, as stored by Helm.")
        .field("action", string().describe("The action that made it."))
        .field(
            "apiVersion",
            string().describe("Version of this snapshot's format."),
        )
        .field("appVersion", string().describe("The chart's appVersion."))
        .field("chartName", string().describe("The chart's name."))
        .field("chartVersion", string().describe("The chart's version."))
        .field(
            "configDigest",
            string().describe("Digest of the values the release was made with."),
        )
        .field("deleted", date_time().describe("When it was uninstalled."))
        .field("digest", string().describe("Digest of the release object."))
        .field("firstDeployed", date_time())
        .field("lastDeployed", date_time())
        .field("name", string().describe("The release name."))
        .field("namespace", string().describe("The release namespace."))
        .field(
            "ociDigest",
            string().describe("Digest of the chart's OCI artifact, when pulled from a registry."),
        )
        .field(
            "status",
            string().describe("Helm's status: deployed, failed, superseded..."),
        )
        .field(
            "testHooks",
            map_of(test_hook).describe("Test hooks by name."),
        )
        .field("version", integer().describe("The release revision."))
        .required(&[
            "chartName",
            "chartVersion",
            "configDigest",
            "digest",
            "firstDeployed",
            "lastDeployed",
            "name",
            "namespace",
            "status",
            "version",
        ])
}

/// `helm.toolkit.fluxcd.io/v2` HelmRelease.
pub fn helm_release() -> Value {
    let spec = object()
        .describe("Which chart to release, with which values, how often.")
        .field("chart", chart_template())
        .field("chartRef", chart_ref())
        .field("commonMetadata", common_metadata())
        .field("dependsOn", array(dependency()))
        .field("driftDetection", drift_detection())
        .field("healthCheckExprs", array(health_expr()))
        .field("install", install())
        .field(
            "interval",
            duration(true).describe("How often to reconcile."),
        )
        .field("kubeConfig", kube_config())
        .field(
            "maxHistory",
            integer().describe("Release revisions Helm keeps (5 when absent, 0 for all)."),
        )
        .field(
            "persistentClient",
            boolean().describe("Reuse one Kubernetes client for the release's actions."),
        )
        .field(
            "postRenderStrategy",
            string()
                .enumerate(&["nohooks", "combined", "separate"])
                .describe("Which hooks the post-renderers see."),
        )
        .field("postRenderers", array(post_renderer()))
        .field(
            "releaseName",
            bounded(
                53,
                "Helm release name (default [<targetNamespace>-]<name>).",
            ),
        )
        .field("rollback", rollback())
        .field(
            "serviceAccountName",
            bounded(253, "Service account to impersonate."),
        )
        .field(
            "storageNamespace",
            bounded(
                63,
                "Namespace of Helm's release Secrets (default the release's).",
            ),
        )
        .field("suspend", boolean().describe("Stop reconciling."))
        .field(
            "targetNamespace",
            bounded(63, "Namespace to release into (default the HelmRelease's)."),
        )
        .field("test", test())
        .field(
            "timeout",
            timeout("Timeout of each Kubernetes operation of an action (default 5m)."),
        )
        .field("uninstall", uninstall())
        .field("upgrade", upgrade())
        .field(
            "values",
            any_json().describe("Values for the chart, over its own."),
        )
        .field(
            "valuesFrom",
            array(values_reference())
                .describe("Values from ConfigMaps and Secrets, before values."),
        )
        .field(
            "waitStrategy",
            object()
                .describe("How Helm waits for the objects.")
                .field(
                    "name",
                    string()
                        .enumerate(&["poller", "legacy"])
                        .describe("poller (kstatus) or legacy (Helm 3's)."),
                )
                .required(&["name"]),
        )
        .required(&["interval"])
        .rule(
            "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",
            "either chart or chartRef must be set",
        );
    let status = common_status()
        .field(
            "failures",
            int64().describe("Failed reconciles since the last success."),
        )
        .field(
            "helmChart",
            string().describe("The HelmChart made from spec.chart, <namespace>/<name>."),
        )
        .field(
            "history",
            array(snapshot()).describe("The release revisions, newest first."),
        )
        .field(
            "installFailures",
            int64().describe("Failed installs since the last success."),
        )
        .field("inventory", inventory())
        .field("lastAttemptedConfigDigest", string())
        .field("lastAttemptedGeneration", int64())
        .field(
            "lastAttemptedReleaseAction",
            string().enumerate(&["install", "upgrade"]),
        )
        .field("lastAttemptedReleaseActionDuration", string())
        .field(
            "lastAttemptedRevision",
            string().describe("Chart version last attempted."),
        )
        .field("lastAttemptedRevisionDigest", string())
        .field("lastAttemptedValuesChecksum", string())
        .field(
            "lastHandledForceAt",
            string().describe("The last reconcile.fluxcd.io/forceAt value handled."),
        )
        .field(
            "lastHandledResetAt",
            string().describe("The last reconcile.fluxcd.io/resetAt value handled."),
        )
        .field("lastReleaseRevision", integer())
        .field("observedCommonMetadataDigest", string())
        .field("observedPostRenderersDigest", string())
        .field(
            "storageNamespace",
            bounded(63, "Namespace of Helm's release Secrets."),
        )
        .field(
            "upgradeFailures",
            int64().describe("Failed upgrades since the last success."),
        );
    definition(
        &Names {
            group: "helm.toolkit.fluxcd.io",
            version: "v2",
            kind: "HelmRelease",
            plural: "helmreleases",
            singular: "helmrelease",
            short_names: &["hr"],
            categories: &["all", "fluxcd", "fluxcd-appliers"],
        },
        columns(&[]),
        spec,
        status,
    )
}
