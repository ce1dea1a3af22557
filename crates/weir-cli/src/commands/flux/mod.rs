//! The commands people use on a running controller, as Flux's CLI: `get`, `reconcile`,
//! `suspend`, `resume`, `events`, `tree`, for every kind Weir serves.

mod events;
mod get;
mod reconcile;
mod tree;

pub(crate) use events::events;
pub(crate) use get::get;
pub(crate) use reconcile::{reconcile, suspend};
pub(crate) use tree::tree;

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::kubeconfig::Connection;

/// The kinds these commands know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitRepository,
    HelmRepository,
    HelmChart,
    OCIRepository,
    Kustomization,
    HelmRelease,
    Receiver,
}

impl Kind {
    /// Every kind, in the order `weir get all` prints them (Flux's: sources first).
    const ALL: [Kind; 7] = [
        Kind::OCIRepository,
        Kind::GitRepository,
        Kind::HelmRepository,
        Kind::HelmChart,
        Kind::HelmRelease,
        Kind::Kustomization,
        Kind::Receiver,
    ];

    /// The sources, in `weir get sources all` order (Flux's: OCIRepositories first).
    const SOURCES: [Kind; 4] = [
        Kind::OCIRepository,
        Kind::GitRepository,
        Kind::HelmRepository,
        Kind::HelmChart,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::GitRepository => "GitRepository",
            Kind::HelmRepository => "HelmRepository",
            Kind::HelmChart => "HelmChart",
            Kind::OCIRepository => "OCIRepository",
            Kind::Kustomization => "Kustomization",
            Kind::HelmRelease => "HelmRelease",
            Kind::Receiver => "Receiver",
        }
    }

    /// Group, served version and plural, as `weir_api::crds` declares them (a unit test
    /// checks they agree).
    fn group_version_plural(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::GitRepository => ("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
            Kind::HelmRepository => ("source.toolkit.fluxcd.io", "v1", "helmrepositories"),
            Kind::HelmChart => ("source.toolkit.fluxcd.io", "v1", "helmcharts"),
            Kind::OCIRepository => ("source.toolkit.fluxcd.io", "v1", "ocirepositories"),
            Kind::Kustomization => ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
            Kind::HelmRelease => ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
            Kind::Receiver => ("notification.toolkit.fluxcd.io", "v1", "receivers"),
        }
    }

    fn resource(self) -> ApiResource {
        let (group, version, plural) = self.group_version_plural();
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, self.name()),
            plural,
        )
    }

    /// A HelmRepository of type oci has no reconciler and no artifact: Flux's CLI reports it
    /// Ready and skips its reconcile.
    fn is_static(self, object: &DynamicObject) -> bool {
        self == Kind::HelmRepository && object.data["spec"]["type"] == "oci"
    }

    /// The revision column, as `flux get` prints it: the artifact's for a source, the last
    /// applied for a Kustomization, the chart version of the latest release for a
    /// HelmRelease (the last attempted before any).
    fn revision(self, object: &DynamicObject) -> Option<String> {
        let text = |pointer: &str| object.data.pointer(pointer).and_then(Value::as_str);
        let revision = match self {
            Kind::GitRepository | Kind::HelmRepository | Kind::HelmChart | Kind::OCIRepository => {
                text("/status/artifact/revision")
            }
            Kind::Kustomization => text("/status/lastAppliedRevision"),
            Kind::HelmRelease => text("/status/history/0/chartVersion")
                .or_else(|| text("/status/lastAttemptedRevision")),
            Kind::Receiver => return None,
        };
        Some(revision.unwrap_or_default().to_owned())
    }
}

fn api(conn: &Connection, kind: Kind, all: bool) -> Api<DynamicObject> {
    if all {
        Api::all_with(conn.client.clone(), &kind.resource())
    } else {
        namespaced(conn, kind, &conn.namespace)
    }
}

fn namespaced(conn: &Connection, kind: Kind, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(conn.client.clone(), namespace, &kind.resource())
}

/// The Ready condition's status and message; a static object is Ready as Flux shows it.
fn ready(kind: Kind, object: &DynamicObject) -> (String, String) {
    if kind.is_static(object) {
        return ("True".to_owned(), "Helm repository is Ready".to_owned());
    }
    let condition = object.data["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    match condition {
        Some(c) => (
            c["status"].as_str().unwrap_or("Unknown").to_owned(),
            c["message"].as_str().unwrap_or_default().to_owned(),
        ),
        None => ("Unknown".to_owned(), "waiting to be reconciled".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_served_crds() {
        let crds = weir_api::crds::all();
        assert_eq!(crds.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            let crd = crds
                .iter()
                .find(|c| c["spec"]["names"]["kind"] == kind.name())
                .unwrap_or_else(|| panic!("no CRD for {}", kind.name()));
            let (group, version, plural) = kind.group_version_plural();
            assert_eq!(crd["spec"]["group"], group);
            assert_eq!(crd["spec"]["versions"][0]["name"], version);
            assert_eq!(crd["spec"]["names"]["plural"], plural);
        }
    }

    #[test]
    fn helm_release_revision_is_the_latest_chart_version() -> Result<(), serde_json::Error> {
        let object = |status: Value| -> Result<DynamicObject, serde_json::Error> {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": { "name": "x" }, "status": status,
            }))
        };
        let released = object(serde_json::json!({
            "lastAttemptedRevision": "6.5.1",
            "history": [{ "chartVersion": "6.5.0" }, { "chartVersion": "6.4.0" }],
        }))?;
        assert_eq!(
            Kind::HelmRelease.revision(&released).as_deref(),
            Some("6.5.0")
        );
        let attempted = object(serde_json::json!({ "lastAttemptedRevision": "6.5.1" }))?;
        assert_eq!(
            Kind::HelmRelease.revision(&attempted).as_deref(),
            Some("6.5.1")
        );
        Ok(())
    }
}
