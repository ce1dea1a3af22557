//! `source.toolkit.fluxcd.io`: GitRepository, HelmRepository, HelmChart, OCIRepository.

use serde_json::{Value, json};

use super::{Names, columns, common_status, definition};
use crate::schema::{
    Schema, array, artifact, boolean, duration, local_ref, object, string, string_map,
};

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
            version: "v1",
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

/// `source.toolkit.fluxcd.io/v1` HelmRepository: a Helm chart repository, over HTTP(S) (an
/// index.yaml) or in an OCI registry.
pub fn helm_repository() -> Value {
    let namespace_selector = object()
        .describe("Namespaces, by label, whose objects may use this repository.")
        .field(
            "matchLabels",
            string_map().describe("Labels the namespace must have."),
        );
    let access_from = object()
        .describe("Namespaces other than this one allowed to use the repository.")
        .field("namespaceSelectors", array(namespace_selector))
        .required(&["namespaceSelectors"]);
    let spec = object()
        .describe("Where a Helm repository is and how often to fetch its index.")
        .field("accessFrom", access_from)
        .field(
            "certSecretRef",
            local_ref("Secret with TLS material: ca.crt, and tls.crt/tls.key for mTLS."),
        )
        .field(
            "insecure",
            boolean().describe("Allow plain HTTP to an OCI registry."),
        )
        .field(
            "interval",
            duration(true).describe("How often to fetch the index (not used for oci)."),
        )
        .field(
            "passCredentials",
            boolean().describe("Send the credentials to chart URLs on other hosts too."),
        )
        .field(
            "provider",
            string()
                .enumerate(&["generic", "aws", "azure", "gcp"])
                .default(json!("generic"))
                .describe("OCI registry authentication provider (generic uses secretRef)."),
        )
        .field(
            "secretRef",
            local_ref("Secret with credentials: username/password, or a dockerconfigjson for oci."),
        )
        .field("suspend", boolean().describe("Stop reconciling."))
        .field(
            "timeout",
            duration(false).describe("Timeout of index downloads and registry operations."),
        )
        .field(
            "type",
            string()
                .enumerate(&["default", "oci"])
                .describe("default (an HTTP(S) repository) or oci; absent means default."),
        )
        .field(
            "url",
            string()
                .pattern("^(http|https|oci)://.*$")
                .describe("Repository URL: http, https, or oci for a registry."),
        )
        .required(&["url"]);
    let status = common_status().field("artifact", artifact()).field(
        "url",
        string().describe("Where the repository index is served (empty for oci)."),
    );
    definition(
        &Names {
            group: "source.toolkit.fluxcd.io",
            version: "v1",
            kind: "HelmRepository",
            plural: "helmrepositories",
            singular: "helmrepository",
            short_names: &["helmrepo"],
            categories: &["all", "fluxcd", "fluxcd-sources"],
        },
        columns(&[("URL", "string", ".spec.url")]),
        spec,
        status,
    )
}

/// `reconcileStrategy` of a HelmChart and of a HelmRelease's chart template.
pub(super) fn reconcile_strategy() -> Schema {
    string()
        .enumerate(&["ChartVersion", "Revision"])
        .default(json!("ChartVersion"))
        .describe("What makes a new artifact: a new chart version, or a new source revision.")
}

/// `verify` of a HelmChart (with `matchOIDCIdentity`) and of a HelmRelease's chart template.
pub(super) fn chart_verification(match_oidc_identity: bool) -> Schema {
    let mut verify = object()
        .describe("Verify the signature of a chart pulled from an OCI registry.")
        .field(
            "provider",
            string()
                .enumerate(&["cosign", "notation"])
                .default(json!("cosign"))
                .describe("How the chart is signed."),
        )
        .field(
            "secretRef",
            local_ref("Secret with the trusted public keys (keyless when absent, cosign only)."),
        )
        .required(&["provider"]);
    if match_oidc_identity {
        let identity = object()
            .describe("Regular expressions an OIDC issuer and subject must both match.")
            .field("issuer", string())
            .field("subject", string())
            .required(&["issuer", "subject"]);
        verify = verify.field(
            "matchOIDCIdentity",
            array(identity).describe("Identities accepted for keyless signatures (any of them)."),
        );
    }
    verify
}

/// `source.toolkit.fluxcd.io/v1` HelmChart: a chart from a HelmRepository, GitRepository or
/// Bucket, packaged as an artifact (HelmReleases with `spec.chart` create one).
pub fn helm_chart() -> Value {
    let source_ref = object()
        .describe("Where the chart comes from, in the HelmChart's namespace.")
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
        .field("name", string().describe("Name of the source."))
        .required(&["kind", "name"]);
    let spec = object()
        .describe("Which chart to package, from which source, how often.")
        .field(
            "chart",
            string().describe("Chart name in a HelmRepository, or path in a Git or Bucket source."),
        )
        .field(
            "ignoreMissingValuesFiles",
            boolean().describe("Skip valuesFiles that do not exist instead of failing."),
        )
        .field(
            "interval",
            duration(true).describe("How often to check the source for a new chart."),
        )
        .field("reconcileStrategy", reconcile_strategy())
        .field("sourceRef", source_ref)
        .field("suspend", boolean().describe("Stop reconciling."))
        .field(
            "valuesFiles",
            array(string())
                .describe("Values files in the chart, merged in order into values.yaml."),
        )
        .field("verify", chart_verification(true))
        .field(
            "version",
            string()
                .default(json!("*"))
                .describe("Semver range of the chart version (HelmRepository sources only)."),
        )
        .required(&["chart", "interval", "sourceRef"])
        .rule(
            "!has(self.verify) || self.sourceRef.kind == 'HelmRepository'",
            "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'",
        );
    let status = common_status()
        .field("artifact", artifact())
        .field(
            "observedChartName",
            string().describe("The chart name of the last artifact."),
        )
        .field(
            "observedSourceArtifactRevision",
            string().describe("The source revision the last artifact was built from."),
        )
        .field(
            "observedValuesFiles",
            array(string()).describe("The valuesFiles of the last artifact (those found)."),
        )
        .field(
            "url",
            string().describe("Where the last chart package is served."),
        );
    definition(
        &Names {
            group: "source.toolkit.fluxcd.io",
            version: "v1",
            kind: "HelmChart",
            plural: "helmcharts",
            singular: "helmchart",
            short_names: &["hc"],
            categories: &["all", "fluxcd", "fluxcd-sources"],
        },
        columns(&[
            ("Chart", "string", ".spec.chart"),
            ("Version", "string", ".spec.version"),
            ("Source Kind", "string", ".spec.sourceRef.kind"),
            ("Source Name", "string", ".spec.sourceRef.name"),
        ]),
        spec,
        status,
    )
}

/// `source.toolkit.fluxcd.io/v1` OCIRepository: one layer of an OCI artifact in a container
/// registry (Kubernetes manifests, or a Helm chart a HelmRelease's `chartRef` names).
pub fn oci_repository() -> Value {
    let reference = object()
        .describe("Which artifact to pull: digest, then semver, then tag (default latest).")
        .field(
            "digest",
            string().describe("Digest to pull, sha256:<hex>; wins over the others."),
        )
        .field(
            "semver",
            string().describe("Semver range over the tags; the newest in it is pulled."),
        )
        .field(
            "semverFilter",
            string().describe("Regular expression the tags in the semver range must match."),
        )
        .field("tag", string().describe("Tag to pull (default latest)."));
    let layer_selector = object()
        .describe("Which layer of the artifact to keep (default the first) and how.")
        .field(
            "mediaType",
            string().describe("Media type of the layer; the first layer of this type is kept."),
        )
        .field(
            "operation",
            string()
                .enumerate(&["extract", "copy"])
                .describe("extract (default) the layer's tarball, or copy it as it is."),
        );
    let verify = chart_verification(true)
        .describe("Verify the artifact's signature.")
        .field(
            "trustedRootSecretRef",
            local_ref("Secret with a Sigstore trusted_root.json, for self-hosted Sigstore."),
        );
    let spec = object()
        .describe("Which OCI artifact to pull and how often.")
        .field(
            "certSecretRef",
            local_ref("Secret with TLS material: ca.crt, and tls.crt/tls.key for mTLS."),
        )
        .field(
            "ignore",
            string().describe("Extra .sourceignore patterns; they replace the default exclusions."),
        )
        .field(
            "insecure",
            boolean().describe("Allow plain HTTP to the registry."),
        )
        .field(
            "interval",
            duration(true).describe("How often to check the registry."),
        )
        .field("layerSelector", layer_selector.clone())
        .field(
            "provider",
            string()
                .enumerate(&["generic", "aws", "azure", "gcp"])
                .default(json!("generic"))
                .describe("Registry authentication provider (generic uses secretRef)."),
        )
        .field(
            "proxySecretRef",
            local_ref("Secret with the proxy address and credentials."),
        )
        .field("ref", reference)
        .field(
            "secretRef",
            local_ref("Secret of type kubernetes.io/dockerconfigjson with registry credentials."),
        )
        .field(
            "serviceAccountName",
            string().describe("Service account whose image pull secrets authenticate the pull."),
        )
        .field("suspend", boolean().describe("Stop reconciling."))
        .field(
            "timeout",
            duration(false)
                .default(json!("60s"))
                .describe("Timeout of registry operations."),
        )
        .field(
            "url",
            string()
                .pattern("^oci://.*$")
                .describe("Repository URL: oci://<host>/<path>."),
        )
        .field("verify", verify)
        .required(&["interval", "url"]);
    let status = common_status()
        .field("artifact", artifact())
        .field(
            "observedIgnore",
            string().describe("The ignore patterns of the current artifact."),
        )
        .field(
            "observedLayerSelector",
            layer_selector.describe("The layer selector of the current artifact."),
        )
        .field(
            "url",
            string().describe("Where the last artifact is served."),
        );
    definition(
        &Names {
            group: "source.toolkit.fluxcd.io",
            version: "v1",
            kind: "OCIRepository",
            plural: "ocirepositories",
            singular: "ocirepository",
            short_names: &["ocirepo"],
            categories: &["all", "fluxcd", "fluxcd-sources"],
        },
        columns(&[("URL", "string", ".spec.url")]),
        spec,
        status,
    )
}
