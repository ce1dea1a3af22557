//! `notification.toolkit.fluxcd.io`: Receiver.

use serde_json::{Value, json};

use super::{Names, columns, common_status, definition};
use crate::schema::{array, boolean, duration, local_ref, object, string, string_map};

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
            version: "v1",
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
