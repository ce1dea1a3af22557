//! `weir reconcile`, `weir suspend`, `weir resume`: annotate, then wait for the controller to
//! report the outcome, as Flux's CLI does.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::{Kind, namespaced, ready};
use crate::Hinted;
use crate::args::{
    GlobalArgs, NameArgs, ReconcileCommand, ReconcileSource, SourceTarget, TargetCommand,
};
use crate::kubeconfig::{self, Connection};

/// One object to reconcile, how long to wait for it, and the HelmRelease annotations
/// (`forceAt`, `resetAt`) to set with the same token as `requestedAt`.
struct Request<'a> {
    kind: Kind,
    namespace: &'a str,
    name: &'a str,
    timeout: u64,
    also: &'a [&'static str],
}

impl<'a> Request<'a> {
    fn new(kind: Kind, namespace: &'a str, target: &'a NameArgs) -> Self {
        Request {
            kind,
            namespace,
            name: &target.name,
            timeout: target.timeout,
            also: &[],
        }
    }

    fn what(&self) -> String {
        format!("{} '{}/{}'", self.kind.name(), self.namespace, self.name)
    }
}

async fn read(
    conn: &Connection,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> anyhow::Result<DynamicObject> {
    namespaced(conn, kind, namespace)
        .get(name)
        .await
        .with_context(|| format!("{} '{namespace}/{name}'", kind.name()))
}

/// Sets `reconcile.fluxcd.io/requestedAt`, then waits until the controller has handled it
/// and reports the outcome, as `flux reconcile` does.
async fn request_and_wait(
    conn: &Connection,
    request: &Request<'_>,
) -> Result<DynamicObject, Hinted> {
    let api = namespaced(conn, request.kind, request.namespace);
    let name = request.name;
    let token = weir_api::status::now_precise();
    let what = request.what();
    let mut annotations = Map::new();
    for key in [weir_api::RECONCILE_REQUESTED_AT]
        .iter()
        .chain(request.also)
    {
        annotations.insert((*key).to_owned(), Value::String(token.clone()));
    }
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "annotations": annotations } })),
    )
    .await
    .with_context(|| format!("annotating {what}"))?;
    eprintln!("► annotating {what}");
    let deadline = Instant::now() + Duration::from_secs(request.timeout);
    loop {
        let object = api
            .get(name)
            .await
            .with_context(|| format!("reading {what}"))?;
        let handled =
            object.data["status"]["lastHandledReconcileAt"].as_str() == Some(token.as_str());
        let (status, message) = ready(request.kind, &object);
        let current =
            object.data["status"]["observedGeneration"].as_i64() == object.metadata.generation;
        if handled && current && status != "Unknown" {
            if status == "True" {
                return Ok(object);
            }
            return Err(anyhow!("{what} reconciliation failed: {message}").into());
        }
        if object.data["spec"]["suspend"].as_bool() == Some(true) {
            return Err(Hinted {
                error: anyhow!("{what} is suspended"),
                hint: Some("resume it with `weir resume`".into()),
            });
        }
        if Instant::now() > deadline {
            return Err(Hinted {
                error: anyhow!(
                    "{what} was not reconciled within {}s (last status: {message})",
                    request.timeout
                ),
                hint: Some("is `weir controller` running and watching this namespace?".into()),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reconciles `request`'s object and prints the outcome in Flux's words; an object without a
/// reconciler (a HelmRepository of type oci) is left alone, as Flux's CLI does.
async fn reconcile_one(conn: &Connection, request: &Request<'_>) -> Result<(), Hinted> {
    let object = read(conn, request.kind, request.namespace, request.name).await?;
    if request.kind.is_static(&object) {
        eprintln!(
            "✔ {}: reconciliation not supported by the object",
            request.what()
        );
        return Ok(());
    }
    let object = request_and_wait(conn, request).await?;
    report(request.kind, &object);
    Ok(())
}

fn report(kind: Kind, object: &DynamicObject) {
    match (kind, kind.revision(object)) {
        (
            Kind::GitRepository | Kind::HelmRepository | Kind::HelmChart | Kind::OCIRepository,
            Some(revision),
        ) => {
            eprintln!("✔ fetched revision {revision}");
        }
        (_, Some(revision)) => eprintln!("✔ applied revision {revision}"),
        (_, None) => eprintln!("✔ reconciled"),
    }
}

/// The namespace a reference points into: its own, else the referrer's.
fn namespace_of(reference: &Value, referrer: &str) -> String {
    reference["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(referrer)
        .to_owned()
}

/// The source kind a `sourceRef` or `chartRef` names, if Weir serves it.
fn source_kind(kind: &str) -> Option<Kind> {
    Kind::SOURCES.into_iter().find(|k| k.name() == kind)
}

/// Reconciles the source `reference` (`{kind, name, namespace?}`) of an object in
/// `namespace`.
async fn reconcile_source(
    conn: &Connection,
    reference: &Value,
    namespace: &str,
    timeout: u64,
) -> Result<(), Hinted> {
    let named = reference["kind"].as_str().unwrap_or_default();
    let Some(kind) = source_kind(named) else {
        return Err(Hinted {
            error: anyhow!("cannot reconcile source of kind {named}"),
            hint: Some(
                "Weir serves GitRepository, HelmRepository, HelmChart and OCIRepository sources"
                    .into(),
            ),
        });
    };
    let namespace = namespace_of(reference, namespace);
    let name = reference["name"].as_str().unwrap_or_default();
    let request = Request {
        kind,
        namespace: &namespace,
        name,
        timeout,
        also: &[],
    };
    if kind == Kind::HelmChart {
        // As Flux: a HelmRelease's chart is reconciled together with the chart's own source.
        return reconcile_chart(conn, &request, true).await;
    }
    reconcile_one(conn, &request).await
}

/// Reconciles a HelmChart, after its source when `with_source`.
async fn reconcile_chart(
    conn: &Connection,
    request: &Request<'_>,
    with_source: bool,
) -> Result<(), Hinted> {
    if with_source {
        let chart = read(conn, Kind::HelmChart, request.namespace, request.name).await?;
        // A HelmChart's source is always in its own namespace.
        let mut source = chart.data["spec"]["sourceRef"].clone();
        if let Some(source) = source.as_object_mut() {
            source.remove("namespace");
        }
        Box::pin(reconcile_source(
            conn,
            &source,
            request.namespace,
            request.timeout,
        ))
        .await?;
    }
    reconcile_one(conn, request).await
}

pub(crate) async fn reconcile(
    global: &GlobalArgs,
    command: &ReconcileCommand,
) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let ns = conn.namespace.as_str();
    let request = |kind, target| Request::new(kind, ns, target);
    match command {
        ReconcileCommand::Source(ReconcileSource::Git(t)) => {
            reconcile_one(&conn, &request(Kind::GitRepository, t)).await
        }
        ReconcileCommand::Source(ReconcileSource::Helm(t)) => {
            reconcile_one(&conn, &request(Kind::HelmRepository, t)).await
        }
        ReconcileCommand::Source(ReconcileSource::Chart(c)) => {
            reconcile_chart(&conn, &request(Kind::HelmChart, &c.target), c.with_source).await
        }
        ReconcileCommand::Source(ReconcileSource::Oci(t)) => {
            reconcile_one(&conn, &request(Kind::OCIRepository, t)).await
        }
        ReconcileCommand::Receiver(t) => reconcile_one(&conn, &request(Kind::Receiver, t)).await,
        ReconcileCommand::Kustomization(k) => {
            if k.with_source {
                let ks = read(&conn, Kind::Kustomization, ns, &k.target.name).await?;
                let source = &ks.data["spec"]["sourceRef"];
                reconcile_source(&conn, source, ns, k.target.timeout).await?;
            }
            reconcile_one(&conn, &request(Kind::Kustomization, &k.target)).await
        }
        ReconcileCommand::HelmRelease(h) => {
            let name = &h.target.name;
            if h.with_source {
                let hr = read(&conn, Kind::HelmRelease, ns, name).await?;
                let spec = &hr.data["spec"];
                if spec["chartRef"].is_object() {
                    // A HelmChart (after its own source) or an OCIRepository, as Flux does.
                    reconcile_source(&conn, &spec["chartRef"], ns, h.target.timeout).await?;
                } else {
                    // spec.chart: the HelmChart Flux names `<namespace>-<name>`, in the
                    // namespace of the chart's source.
                    let chart = json!({
                        "kind": "HelmChart",
                        "name": format!("{ns}-{name}"),
                        "namespace": namespace_of(&spec["chart"]["spec"]["sourceRef"], ns),
                    });
                    reconcile_source(&conn, &chart, ns, h.target.timeout).await?;
                }
            }
            let mut also = Vec::new();
            if h.force {
                also.push(weir_api::FORCE_REQUESTED_AT);
            }
            if h.reset {
                also.push(weir_api::RESET_REQUESTED_AT);
            }
            let request = Request {
                also: &also,
                ..request(Kind::HelmRelease, &h.target)
            };
            reconcile_one(&conn, &request).await
        }
    }
}

pub(crate) async fn suspend(
    global: &GlobalArgs,
    command: &TargetCommand,
    suspend: bool,
) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let (kind, target) = match command {
        TargetCommand::Source(SourceTarget::Git(t)) => (Kind::GitRepository, t),
        TargetCommand::Source(SourceTarget::Helm(t)) => (Kind::HelmRepository, t),
        TargetCommand::Source(SourceTarget::Chart(t)) => (Kind::HelmChart, t),
        TargetCommand::Source(SourceTarget::Oci(t)) => (Kind::OCIRepository, t),
        TargetCommand::Kustomization(t) => (Kind::Kustomization, t),
        TargetCommand::HelmRelease(t) => (Kind::HelmRelease, t),
        TargetCommand::Receiver(t) => (Kind::Receiver, t),
    };
    let request = Request::new(kind, &conn.namespace, target);
    let what = request.what();
    namespaced(&conn, kind, &conn.namespace)
        .patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "suspend": suspend } })),
        )
        .await
        .with_context(|| format!("updating {what}"))?;
    if suspend {
        eprintln!("✔ {what} suspended");
        return Ok(());
    }
    eprintln!("► {what} resumed");
    reconcile_one(&conn, &request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_source_kind_can_be_reconciled_first() {
        // A HelmRelease's chartRef to an OCIRepository reconciles the OCIRepository first.
        assert_eq!(source_kind("OCIRepository"), Some(Kind::OCIRepository));
        assert_eq!(source_kind("HelmChart"), Some(Kind::HelmChart));
        assert_eq!(source_kind("GitRepository"), Some(Kind::GitRepository));
        assert_eq!(source_kind("HelmRepository"), Some(Kind::HelmRepository));
        assert_eq!(source_kind("ExternalArtifact"), None);
        assert_eq!(source_kind("Kustomization"), None);
    }
}
