//! The HelmRelease reconciler (`helm.toolkit.fluxcd.io/v2`): chart from a HelmChart (made
//! from `spec.chart`, or named by `spec.chartRef`), values from `valuesFrom` and `values`,
//! then install, upgrade, rollback or uninstall, with releases stored as Helm stores them so
//! the `helm` CLI sees them, and status written as Flux's helm-controller writes it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use tracing::info;
use weir_api::status::{self, ConditionType, Reason};
use weir_apply::{ChangeSet, Entry, Inventory, Manager, Options};
use weir_helm::release::{self as rel, status as helm_status};
use weir_object::{GroupKind, ObjectId};
use weir_source::Storage;
use weir_source::reconcile::{
    Due, Event, Failures, Outcome, backoff, conditions_of, patch_status, request_pending,
    status_of, text,
};

/// The HelmRelease API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        "helmreleases",
    )
}

/// The field manager of objects Weir releases (Flux's helm-controller's).
pub const FIELD_MANAGER: &str = "helm-controller";

/// Label naming the HelmRelease that made an object (on HelmCharts and released objects).
const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// Label naming the HelmRelease's namespace.
const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// What HelmRelease reconciles share.
pub struct Context {
    /// The cluster.
    pub client: kube::Client,
    /// Where chart artifacts are (this process's HelmChart reconciler writes them).
    pub storage: Storage,
    /// How long to wait before checking a dependency or a chart again.
    pub requeue_dependency: Duration,
    /// Refuse references to other namespaces.
    pub no_cross_namespace_refs: bool,
    /// The controller's client configuration, for `spec.serviceAccountName`.
    pub config: Option<kube::Config>,
    /// The Kubernetes version `.Capabilities` reports.
    pub kube_version: std::sync::OnceLock<String>,
    due: Due,
    failures: Failures,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context releasing with `client`, reading charts from `storage`.
    pub fn new(client: kube::Client, storage: Storage) -> Self {
        Context {
            client,
            storage,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            config: None,
            kube_version: std::sync::OnceLock::new(),
            due: Due::default(),
            failures: Failures::default(),
        }
    }
}

/// A reconcile's failure.
#[derive(Debug)]
struct Failure {
    reason: Reason,
    message: String,
    /// Retry after this instead of the back-off.
    requeue: Option<Duration>,
    /// Nothing will change until the object does.
    terminal: bool,
    /// The release was changed (Released=False).
    released: bool,
    /// The remediation that ran after the failure (`Remediated=True`), if any.
    remediated: Option<String>,
}

fn failure(reason: Reason, message: impl Into<String>) -> Failure {
    Failure {
        reason,
        message: message.into(),
        requeue: None,
        terminal: false,
        released: false,
        remediated: None,
    }
}

/// What a successful reconcile did.
#[derive(Debug)]
struct Done {
    /// `Released` reason and message (install, upgrade, rollback, or already up to date).
    reason: Reason,
    message: String,
    /// A Helm action ran.
    acted: bool,
    /// The remediation that ran, if any.
    remediated: Option<String>,
    /// Drift found in the cluster (and corrected unless the mode is `warn`): the event.
    drift: Option<Event>,
    /// The outcome of the test hooks (`spec.test.enable`), when they ran.
    tests: Option<Result<String, String>>,
}

/// Where a release is and what it is made of.
struct Plan {
    /// The cluster released to, where the release records are stored too (the controller's,
    /// an impersonated identity's, or the one of `spec.kubeConfig`).
    client: kube::Client,
    name: String,
    namespace: String,
    storage_namespace: String,
    chart: weir_helm::Chart,
    values: Value,
    config_digest: String,
    manager: Arc<Manager>,
    timeout: Duration,
}

/// Reconciles one HelmRelease; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let spec = object.data.get("spec").cloned().unwrap_or_default();
    let mut status = status_of(object);
    if object.metadata.deletion_timestamp.is_some() {
        if spec["suspend"].as_bool() != Some(true)
            && let Err(e) = uninstall(ctx, object, &spec, &status).await
        {
            info!(helmrelease = %key, error = %e.message, "uninstall failed");
        }
        weir_source::finalizer::remove(&api, object).await?;
        return Ok(Outcome::default());
    }
    weir_source::finalizer::add(&api, object).await?;
    if let Some(requested) = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(weir_api::RECONCILE_REQUESTED_AT))
    {
        status.insert("lastHandledReconcileAt".into(), json!(requested));
    }
    if spec["suspend"].as_bool() == Some(true) {
        patch_status(&api, &name, status).await?;
        return Ok(Outcome::default());
    }
    let generation = object.metadata.generation.unwrap_or_default();
    let interval = text(&spec, "/interval")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(600));
    // The echo of our own status write, or of a HelmChart status write that brings no new
    // chart: nothing to do before the next attempt is due. A new generation or chart
    // artifact makes a new key, due at once.
    let current_chart = chart_digest(ctx, object, &status).await;
    let due_key = format!("{key}@{generation}@{current_chart}");
    if !request_pending(object)
        && let Some(remaining) = ctx.due.remaining(&due_key)
    {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }
    // Failure counters start again with each new generation, and on request
    // (`reconcile.fluxcd.io/resetAt`, `weir reconcile hr --reset`), as in Flux. A merge patch
    // deletes a field written as null.
    let annotation = |name: &str| {
        object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(name))
            .cloned()
    };
    let reset = annotation(weir_api::RESET_REQUESTED_AT)
        .filter(|at| status.get("lastHandledResetAt").and_then(Value::as_str) != Some(at.as_str()));
    if status
        .get("lastAttemptedGeneration")
        .and_then(Value::as_i64)
        != Some(generation)
        || reset.is_some()
    {
        for counter in ["failures", "installFailures", "upgradeFailures"] {
            status.insert(counter.into(), Value::Null);
        }
    }
    if let Some(at) = reset {
        status.insert("lastHandledResetAt".into(), json!(at));
    }
    // `reconcile.fluxcd.io/forceAt` (`weir reconcile hr --force`): one upgrade even when
    // nothing changed.
    if let Some(at) = annotation(weir_api::FORCE_REQUESTED_AT)
        .filter(|at| status.get("lastHandledForceAt").and_then(Value::as_str) != Some(at.as_str()))
    {
        status.insert("forcePending".into(), json!(true));
        status.insert("lastHandledForceAt".into(), json!(at));
    }
    status.insert("lastAttemptedGeneration".into(), json!(generation));
    let mut result = run(ctx, object, &spec, &mut status).await;
    let mut conditions_test = None;
    if let Ok(done) = &mut result
        && let Some(tests) = done.tests.take()
    {
        let ignore = spec["test"]["ignoreFailures"] == true;
        match tests {
            Ok(message) => conditions_test = Some((true, Reason::TestSucceeded, message)),
            Err(message) if ignore => {
                conditions_test = Some((false, Reason::TestFailed, message));
            }
            Err(message) => {
                conditions_test = Some((false, Reason::TestFailed, message.clone()));
                result = Err(failure(Reason::TestFailed, message));
            }
        }
    }
    let mut conditions = conditions_of(&status);
    if let Some((ok, reason, message)) = &conditions_test {
        status::set(
            &mut conditions,
            ConditionType::TestSuccess,
            *ok,
            *reason,
            message,
            generation,
        );
    }
    let outcome = match result {
        Ok(done) => {
            ctx.failures.succeeded(&key);
            status::set(
                &mut conditions,
                ConditionType::Released,
                true,
                done.reason,
                &done.message,
                generation,
            );
            status::set(
                &mut conditions,
                ConditionType::Ready,
                true,
                done.reason,
                &done.message,
                generation,
            );
            if let Some(remediation) = &done.remediated {
                status::set(
                    &mut conditions,
                    ConditionType::Remediated,
                    true,
                    Reason::RollbackSucceeded,
                    remediation,
                    generation,
                );
            } else if done.acted {
                status::remove(&mut conditions, ConditionType::Remediated);
            }
            status::remove(&mut conditions, ConditionType::Reconciling);
            status::remove(&mut conditions, ConditionType::Stalled);
            status.insert("observedGeneration".into(), json!(generation));
            status.insert("failures".into(), Value::Null);
            Outcome {
                requeue: Some(interval),
                event: done.drift.clone().or_else(|| {
                    done.acted.then(|| Event {
                        warning: false,
                        reason: done.reason.as_str().into(),
                        message: done.message.clone(),
                    })
                }),
                ready: Some(true),
            }
        }
        Err(failed) => {
            let failures = ctx.failures.failed(&key);
            let count = status.get("failures").and_then(Value::as_i64).unwrap_or(0) + 1;
            status.insert("failures".into(), json!(count));
            info!(helmrelease = %key, reason = failed.reason.as_str(), message = %failed.message, "reconcile failed");
            status::set(
                &mut conditions,
                ConditionType::Ready,
                false,
                failed.reason,
                &failed.message,
                generation,
            );
            if failed.released {
                status::set(
                    &mut conditions,
                    ConditionType::Released,
                    false,
                    failed.reason,
                    &failed.message,
                    generation,
                );
            }
            if let Some(remediation) = &failed.remediated {
                status::set(
                    &mut conditions,
                    ConditionType::Remediated,
                    true,
                    Reason::RollbackSucceeded,
                    remediation,
                    generation,
                );
            }
            if failed.terminal {
                status::set(
                    &mut conditions,
                    ConditionType::Stalled,
                    true,
                    failed.reason,
                    &failed.message,
                    generation,
                );
                status::remove(&mut conditions, ConditionType::Reconciling);
                status.insert("observedGeneration".into(), json!(generation));
            } else {
                status::set(
                    &mut conditions,
                    ConditionType::Reconciling,
                    true,
                    Reason::ProgressingWithRetry,
                    &failed.message,
                    generation,
                );
            }
            let waiting = failed.requeue.is_some();
            if failed.terminal {
                // Nothing until the object changes (a new generation is a new key).
                ctx.due
                    .set(&format!("{key}@{generation}@{current_chart}"), interval);
            }
            Outcome {
                requeue: (!failed.terminal).then(|| {
                    failed
                        .requeue
                        .unwrap_or_else(|| backoff(failures, interval))
                }),
                event: (!waiting).then_some(Event {
                    warning: true,
                    reason: failed.reason.as_str().into(),
                    message: failed.message,
                }),
                ready: Some(false),
            }
        }
    };
    status.insert("conditions".into(), Value::Array(conditions));
    status.remove("forcePending");
    // Keyed by the chart as it is now (the reconcile may have created it).
    // Read again only when the chart was unknown at the start (this reconcile made it).
    let chart_now = if current_chart.is_empty() {
        chart_digest(ctx, object, &status).await
    } else {
        current_chart.clone()
    };
    patch_status(&api, &name, status).await?;
    if let Some(requeue) = outcome.requeue {
        let due_key = format!("{key}@{generation}@{chart_now}");
        ctx.due.set(&due_key, requeue);
    }
    Ok(outcome)
}

/// The artifact digest of the HelmChart named in `status.helmChart` (empty when unknown).
async fn chart_digest(
    ctx: &Context,
    object: &DynamicObject,
    status: &Map<String, Value>,
) -> String {
    let chart_ref = &object.data["spec"]["chartRef"];
    let (ns, name, resource) = if chart_ref["kind"] == "OCIRepository" {
        (
            chart_ref["namespace"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| object.metadata.namespace.clone())
                .unwrap_or_default(),
            chart_ref["name"].as_str().unwrap_or_default().to_owned(),
            weir_source::oci_repository::resource(),
        )
    } else {
        let Some((ns, name)) = status
            .get("helmChart")
            .and_then(Value::as_str)
            .and_then(|s| s.split_once('/'))
        else {
            return String::new();
        };
        (
            ns.to_owned(),
            name.to_owned(),
            weir_source::helm_chart::resource(),
        )
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource);
    match api.get_opt(&name).await {
        Ok(Some(chart)) => chart
            .data
            .pointer("/status/artifact/digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// The release name: `spec.releaseName`, else `<targetNamespace>-<name>` with a target
/// namespace, else the object's name; names over 53 characters are shortened with a hash
/// suffix, as Flux does.
fn release_name(spec: &Value, name: &str) -> String {
    if let Some(given) = text(spec, "/releaseName") {
        return given.to_owned();
    }
    let full = match text(spec, "/targetNamespace") {
        Some(target) => format!("{target}-{name}"),
        None => name.to_owned(),
    };
    if full.len() <= 53 {
        return full;
    }
    let hash = format!("{:x}", Sha256::digest(full.as_bytes()));
    format!("{}-{}", &full[..40], &hash[..12])
}

/// Fails unless every `spec.dependsOn` object (a HelmRelease, or with `kind: Kustomization`
/// a Kustomization) is ready.
async fn dependencies(
    ctx: &Context,
    namespace: &str,
    spec: &Value,
    me: &Value,
) -> Result<(), Failure> {
    let Some(list) = spec["dependsOn"].as_array() else {
        return Ok(());
    };
    for dep in list {
        let name = dep["name"].as_str().unwrap_or_default();
        let dep_ns = dep["namespace"].as_str().unwrap_or(namespace);
        let kind = dep["kind"].as_str().unwrap_or("HelmRelease");
        if ctx.no_cross_namespace_refs && dep_ns != namespace {
            return Err(Failure {
                terminal: true,
                ..failure(
                    Reason::AccessDenied,
                    format!(
                        "cannot access dependency '{dep_ns}/{name}', cross-namespace references have been disabled"
                    ),
                )
            });
        }
        let res = match kind {
            "Kustomization" => crate::kustomization::resource(),
            _ => resource(),
        };
        let not_ready = |why: &str| Failure {
            requeue: Some(ctx.requeue_dependency),
            ..failure(
                Reason::DependencyNotReady,
                format!("dependency {kind} '{dep_ns}/{name}' {why}"),
            )
        };
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), dep_ns, &res);
        let found = api
            .get_opt(name)
            .await
            .map_err(|e| not_ready(&e.to_string()))?
            .ok_or_else(|| not_ready("not found"))?;
        let value = serde_json::to_value(&found).unwrap_or_default();
        match dep["readyExpr"].as_str() {
            // readyExpr replaces the built-in check, as for Kustomizations.
            Some(expr) => {
                let expr = crate::cel::Expr::compile(expr).map_err(|why| Failure {
                    terminal: true,
                    ..failure(
                        Reason::InvalidCelExpression,
                        format!(
                            "Reconciliation failed terminally due to configuration error: {why}"
                        ),
                    )
                })?;
                match expr.eval(&[("self", me), ("dep", &value)]) {
                    Ok(true) => {}
                    Ok(false) => return Err(not_ready("is not ready according to readyExpr")),
                    Err(why) => return Err(not_ready(&why)),
                }
            }
            None if !status::is_ready(&value) => return Err(not_ready("is not ready")),
            None => {}
        }
    }
    Ok(())
}

/// The HelmChart a HelmRelease uses: made (or updated) from `spec.chart`, or named by
/// `spec.chartRef`. Returns its `namespace/name` and artifact.
async fn chart_artifact(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
) -> Result<(String, Value), Failure> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let charts = weir_source::helm_chart::resource();
    let (chart_ns, chart_name) = if let Some(chart_ref) =
        spec.get("chartRef").filter(|v| v.is_object())
    {
        let kind = chart_ref["kind"].as_str().unwrap_or_default();
        if kind == "OCIRepository" {
            let ns = chart_ref["namespace"].as_str().unwrap_or(&namespace);
            let name = chart_ref["name"].as_str().unwrap_or_default();
            return oci_artifact(ctx, &namespace, ns, name).await;
        }
        if kind != "HelmChart" {
            return Err(Failure {
                terminal: true,
                ..failure(
                    Reason::Unsupported,
                    format!(
                        "spec.chartRef.kind {kind} is not supported by Weir yet; use a HelmChart or spec.chart"
                    ),
                )
            });
        }
        (
            chart_ref["namespace"]
                .as_str()
                .unwrap_or(&namespace)
                .to_owned(),
            chart_ref["name"].as_str().unwrap_or_default().to_owned(),
        )
    } else {
        let template = &spec["chart"];
        let source_ns = template["spec"]["sourceRef"]["namespace"]
            .as_str()
            .unwrap_or(&namespace)
            .to_owned();
        let chart_name = format!("{namespace}-{name}");
        let mut chart_spec = Map::new();
        for field in [
            "chart",
            "version",
            "reconcileStrategy",
            "valuesFiles",
            "ignoreMissingValuesFiles",
            "verify",
        ] {
            if let Some(v) = template["spec"].get(field).filter(|v| !v.is_null()) {
                chart_spec.insert(field.into(), v.clone());
            }
        }
        let source = &template["spec"]["sourceRef"];
        chart_spec.insert(
            "sourceRef".into(),
            json!({ "kind": source["kind"], "name": source["name"] }),
        );
        chart_spec.insert(
            "interval".into(),
            template["spec"]
                .get("interval")
                .or_else(|| spec.get("interval"))
                .cloned()
                .unwrap_or(json!("10m")),
        );
        let mut labels = template["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        labels.insert(NAME_LABEL.into(), json!(name));
        labels.insert(NAMESPACE_LABEL.into(), json!(namespace));
        let desired = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmChart",
            "metadata": {
                "name": chart_name,
                "namespace": source_ns,
                "labels": labels,
                "annotations": template["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
            },
            "spec": chart_spec,
        });
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &source_ns, &charts);
        api.patch(
            &chart_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await
        .map_err(|e| {
            failure(
                Reason::ArtifactFailed,
                format!("cannot write HelmChart '{source_ns}/{chart_name}': {e}"),
            )
        })?;
        (source_ns, chart_name)
    };
    if ctx.no_cross_namespace_refs && chart_ns != namespace {
        return Err(Failure {
            terminal: true,
            ..failure(
                Reason::AccessDenied,
                format!(
                    "cannot access HelmChart '{chart_ns}/{chart_name}', cross-namespace references have been disabled"
                ),
            )
        });
    }
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &chart_ns, &charts);
    let waiting = |why: String| Failure {
        requeue: Some(ctx.requeue_dependency.min(Duration::from_secs(5))),
        ..failure(Reason::ArtifactFailed, why)
    };
    let found = api
        .get_opt(&chart_name)
        .await
        .map_err(|e| failure(Reason::ArtifactFailed, e.to_string()))?
        .ok_or_else(|| waiting(format!("HelmChart '{chart_ns}/{chart_name}' not found")))?;
    let value = serde_json::to_value(&found).unwrap_or_default();
    let generation = value["metadata"]["generation"].as_i64();
    let ready = value["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    if ready["status"] == "False" && ready["observedGeneration"].as_i64() == generation {
        return Err(waiting(format!(
            "HelmChart '{chart_ns}/{chart_name}' is not ready: {}",
            ready["message"].as_str().unwrap_or_default()
        )));
    }
    if value["status"]["observedGeneration"].as_i64() != generation {
        return Err(waiting(format!(
            "HelmChart '{chart_ns}/{chart_name}' is not reconciled yet"
        )));
    }
    let artifact = value["status"]["artifact"].clone();
    if !artifact.is_object() {
        let why = value["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["message"].as_str())
            .unwrap_or("no artifact yet")
            .to_owned();
        return Err(waiting(format!(
            "HelmChart '{chart_ns}/{chart_name}' is not ready: {why}"
        )));
    }
    Ok((format!("{chart_ns}/{chart_name}"), artifact))
}

/// The artifact of OCIRepository `ns/name` (a chart, pulled with `layerSelector` `copy` of
/// Helm's chart media type, or extracted), for a `chartRef`.
async fn oci_artifact(
    ctx: &Context,
    namespace: &str,
    ns: &str,
    name: &str,
) -> Result<(String, Value), Failure> {
    if ctx.no_cross_namespace_refs && ns != namespace {
        return Err(Failure {
            terminal: true,
            ..failure(
                Reason::AccessDenied,
                format!(
                    "cannot access OCIRepository '{ns}/{name}', cross-namespace references have been disabled"
                ),
            )
        });
    }
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        ns,
        &weir_source::oci_repository::resource(),
    );
    let waiting = |why: String| Failure {
        requeue: Some(ctx.requeue_dependency.min(Duration::from_secs(5))),
        ..failure(Reason::ArtifactFailed, why)
    };
    let found = api
        .get_opt(name)
        .await
        .map_err(|e| failure(Reason::ArtifactFailed, e.to_string()))?
        .ok_or_else(|| waiting(format!("OCIRepository '{ns}/{name}' not found")))?;
    let artifact = found
        .data
        .pointer("/status/artifact")
        .cloned()
        .ok_or_else(|| waiting(format!("OCIRepository '{ns}/{name}' has no artifact yet")))?;
    Ok((String::new(), artifact))
}

/// `valuesFrom` then `values`, merged in order as Flux does.
async fn compose_values(ctx: &Context, namespace: &str, spec: &Value) -> Result<Value, Failure> {
    let mut values = json!({});
    let invalid = |message: String| Failure {
        terminal: false,
        ..failure(Reason::InitFailed, message)
    };
    for reference in spec["valuesFrom"].as_array().into_iter().flatten() {
        let kind = reference["kind"].as_str().unwrap_or_default();
        let name = reference["name"].as_str().unwrap_or_default();
        let key = reference["valuesKey"].as_str().unwrap_or("values.yaml");
        let optional = reference["optional"].as_bool() == Some(true);
        let data: Option<Vec<u8>> = match kind {
            "ConfigMap" => {
                let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
                match api.get_opt(name).await {
                    Ok(Some(cm)) => cm
                        .data
                        .and_then(|mut d| d.remove(key))
                        .map(String::into_bytes),
                    Ok(None) => None,
                    Err(e) => {
                        return Err(invalid(format!(
                            "cannot read ConfigMap '{namespace}/{name}': {e}"
                        )));
                    }
                }
            }
            _ => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
                match api.get_opt(name).await {
                    Ok(Some(secret)) => secret.data.and_then(|mut d| d.remove(key)).map(|b| b.0),
                    Ok(None) => None,
                    Err(e) => {
                        return Err(invalid(format!(
                            "cannot read Secret '{namespace}/{name}': {e}"
                        )));
                    }
                }
            }
        };
        let Some(data) = data else {
            if optional {
                continue;
            }
            return Err(invalid(format!(
                "could not find key '{key}' in {kind} '{namespace}/{name}' (spec.valuesFrom); create it or set optional: true"
            )));
        };
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(path) = reference["targetPath"].as_str() {
            // Secret values are never put in the message.
            weir_helm::parse_set_literal_into(&format!("{path}={text}"), &mut values)
                .map_err(|_| {
                    invalid(format!(
                        "spec.valuesFrom targetPath '{path}' of {kind} '{namespace}/{name}' is not a valid path"
                    ))
                })?;
            continue;
        }
        let docs = weir_object::yaml::parse_documents(&format!("{kind}/{name}[{key}]"), &text)
            .map_err(|_| {
                invalid(format!(
                    "key '{key}' of {kind} '{namespace}/{name}' is not valid YAML values"
                ))
            })?;
        if let Some(doc) = docs.into_iter().next() {
            if !doc.value.is_object() && !doc.value.is_null() {
                return Err(invalid(format!(
                    "key '{key}' of {kind} '{namespace}/{name}' is not a map of values"
                )));
            }
            weir_helm::merge_values(&mut values, &doc.value);
        }
    }
    if let Some(inline) = spec.get("values").filter(|v| v.is_object()) {
        weir_helm::merge_values(&mut values, inline);
    }
    Ok(values)
}

/// `sha256:<hex>` of values as JSON with sorted keys.
fn config_digest(values: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let text = serde_json::to_string(&sorted(values)).unwrap_or_default();
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// The apply manager for a release: field manager `helm-controller`, objects without a
/// namespace put in the release namespace, and `spec.serviceAccountName` impersonated.
async fn manager_for(
    ctx: &Context,
    namespace: &str,
    spec: &Value,
    target: &str,
) -> Result<(Arc<Manager>, kube::Client), Failure> {
    if spec["kubeConfig"]["configMapRef"].is_object() {
        return Err(Failure {
            terminal: true,
            ..failure(
                Reason::Unsupported,
                "spec.kubeConfig.configMapRef (cloud providers) is not supported by Weir yet; use spec.kubeConfig.secretRef",
            )
        });
    }
    let account = text(spec, "/serviceAccountName");
    let config = match text(spec, "/kubeConfig/secretRef/name") {
        Some(secret) => Some(
            crate::kustomization::remote_config(&ctx.client, namespace, spec, secret)
                .await
                .map(|(config, _)| config)
                .map_err(|why| failure(Reason::InitFailed, why))?,
        ),
        None if account.is_some() => Some(ctx.config.clone().ok_or_else(|| {
            failure(
                Reason::InitFailed,
                "spec.serviceAccountName needs the controller's own kubeconfig",
            )
        })?),
        None => None,
    };
    let client = match config {
        Some(mut config) => {
            if let Some(account) = account {
                config.auth_info.impersonate =
                    Some(format!("system:serviceaccount:{namespace}:{account}"));
            }
            kube::Client::try_from(config)
                .map_err(|e| failure(Reason::InitFailed, e.to_string()))?
        }
        None => ctx.client.clone(),
    };
    let mut options = Options::default();
    options.field_manager = FIELD_MANAGER.into();
    options.default_namespace = Some(target.to_owned());
    options
        .take_over
        .push(weir_apply::takeover::ForeignManager {
            name: "helm".into(),
            operation: "Apply".into(),
        });
    Ok((Arc::new(Manager::new(client.clone(), options)), client))
}

/// The releases named `name` in `namespace`, oldest first.
async fn history(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<Value>, Failure> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(&format!("owner=helm,name={name}")))
        .await
        .map_err(|e| {
            failure(
                Reason::InitFailed,
                format!("cannot read the release history of '{namespace}/{name}': {e}"),
            )
        })?;
    let mut out = Vec::new();
    for secret in list.items {
        let secret_name = secret.metadata.name.clone().unwrap_or_default();
        let Some(data) = secret.data.as_ref().and_then(|d| d.get("release")) else {
            continue;
        };
        let release = rel::decode(&secret_name, &data.0)
            .map_err(|e| failure(Reason::InitFailed, e.to_string()))?;
        out.push(release);
    }
    out.sort_by_key(rel::version);
    Ok(out)
}

/// Writes `release` to its Secret (creating it, or replacing it when `update`).
async fn store(
    client: &kube::Client,
    namespace: &str,
    release: &Value,
    update: bool,
) -> Result<(), Failure> {
    let now = jiff::Timestamp::now().as_second();
    let secret: Secret = serde_json::from_value(rel::secret(release, namespace, now, update))
        .map_err(|e| failure(Reason::InitFailed, e.to_string()))?;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = rel::secret_name(rel::name(release), rel::version(release));
    let result = if update {
        api.replace(&name, &PostParams::default(), &secret)
            .await
            .map(|_| ())
    } else {
        api.create(&PostParams::default(), &secret)
            .await
            .map(|_| ())
    };
    result.map_err(|e| {
        failure(
            Reason::InitFailed,
            format!("cannot store release '{namespace}/{name}': {e}"),
        )
    })
}

/// Objects of a release manifest, with Helm's ownership metadata and Flux's labels, and
/// their inventory (namespace filled in for every object, so inventories compare).
fn release_objects(
    manifest: &str,
    release: &str,
    release_ns: &str,
    owner: (&str, &str),
    common: &Value,
) -> (Vec<Map<String, Value>>, Inventory) {
    let mut objects = Vec::new();
    let mut inventory = Inventory::default();
    for (_, object) in rel::manifest_objects(manifest) {
        let Value::Object(mut object) = object else {
            continue;
        };
        let metadata = object.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert("app.kubernetes.io/managed-by".into(), json!("Helm"));
                labels.insert(NAME_LABEL.into(), json!(owner.1));
                labels.insert(NAMESPACE_LABEL.into(), json!(owner.0));
                for (k, v) in common["labels"].as_object().into_iter().flatten() {
                    labels.insert(k.clone(), v.clone());
                }
            }
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert("meta.helm.sh/release-name".into(), json!(release));
                annotations.insert("meta.helm.sh/release-namespace".into(), json!(release_ns));
                for (k, v) in common["annotations"].as_object().into_iter().flatten() {
                    annotations.insert(k.clone(), v.clone());
                }
            }
        }
        let api_version = object["apiVersion"].as_str().unwrap_or("v1").to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let (group_kind, version) = GroupKind::from_api_version(&api_version, &kind);
        inventory.entries.push(Entry {
            id: ObjectId {
                group_kind,
                namespace: object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(release_ns)
                    .to_owned(),
                name: object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            },
            version,
        });
        objects.push(object);
    }
    (objects, inventory)
}

/// Objects Helm must keep on upgrade and uninstall (`helm.sh/resource-policy: keep`).
fn kept(manifest: &str, release_ns: &str) -> Vec<ObjectId> {
    rel::manifest_objects(manifest)
        .into_iter()
        .filter(|(_, o)| o["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep")
        .map(|(_, o)| {
            let (group_kind, _) = GroupKind::from_api_version(
                o["apiVersion"].as_str().unwrap_or("v1"),
                o["kind"].as_str().unwrap_or_default(),
            );
            ObjectId {
                group_kind,
                namespace: o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(release_ns)
                    .to_owned(),
                name: o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// Applies post-renderers (kustomize patches and images) to the release's objects.
fn post_render(
    objects: Vec<Map<String, Value>>,
    spec: &Value,
) -> Result<Vec<Map<String, Value>>, Failure> {
    let mut objects = objects;
    for renderer in spec["postRenderers"].as_array().into_iter().flatten() {
        let Some(kustomize) = renderer.get("kustomize") else {
            continue;
        };
        let mut fs = weir_kustomize::MemFs::new();
        let resources: Vec<String> = objects
            .iter()
            .map(|o| weir_object::yaml::to_yaml(&Value::Object(o.clone())))
            .collect();
        fs.add_file("/render/resources.yaml", resources.join("---\n"));
        let mut kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["resources.yaml"],
        });
        for field in ["patches", "images"] {
            if let Some(v) = kustomize.get(field) {
                kustomization[field] = v.clone();
            }
        }
        fs.add_file(
            "/render/kustomization.yaml",
            weir_object::yaml::to_yaml(&kustomization),
        );
        let options = weir_kustomize::Options {
            reorder: weir_kustomize::Reorder::None,
            ..weir_kustomize::Options::flux()
        };
        let built = weir_kustomize::build(&fs, std::path::Path::new("/render"), &options)
            .map_err(|e| failure(Reason::InitFailed, format!("post-renderer failed: {e}")))?;
        objects = built.resources;
    }
    Ok(objects)
}

/// The `status.history` snapshot of a release.
fn snapshot(release: &Value, config_digest: &str) -> Value {
    let encoded = serde_json::to_vec(release).unwrap_or_default();
    let mut snap = json!({
        "digest": format!("sha256:{:x}", Sha256::digest(&encoded)),
        "name": release["name"],
        "namespace": release["namespace"],
        "version": release["version"],
        "status": rel::status_of(release),
        "chartName": release["chart"]["metadata"]["name"],
        "chartVersion": release["chart"]["metadata"]["version"],
        "configDigest": config_digest,
        "firstDeployed": release["info"]["first_deployed"],
        "lastDeployed": release["info"]["last_deployed"],
    });
    if let Some(app) = release["chart"]["metadata"]["appVersion"].as_str() {
        snap["appVersion"] = json!(app);
    }
    snap
}

async fn kube_version(ctx: &Context) -> String {
    if let Some(v) = ctx.kube_version.get() {
        return v.clone();
    }
    let version = match ctx.client.apiserver_version().await {
        Ok(info) => info
            .git_version
            .trim_start_matches('v')
            .split(['-', '+'])
            .next()
            .unwrap_or("1.36.0")
            .to_owned(),
        Err(_) => return "1.36.0".to_owned(),
    };
    let _ = ctx.kube_version.set(version.clone());
    version
}

/// Prepares, decides and runs the Helm action.
async fn run(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    status: &mut Map<String, Value>,
) -> Result<Done, Failure> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let hr_name = object.metadata.name.clone().unwrap_or_default();
    let me = serde_json::to_value(object).unwrap_or_default();
    dependencies(ctx, &namespace, spec, &me).await?;
    let (chart_ref, artifact) = chart_artifact(ctx, object, spec).await?;
    if !chart_ref.is_empty() {
        status.insert("helmChart".into(), json!(chart_ref));
    }
    let path = ctx
        .storage
        .local(artifact["path"].as_str().unwrap_or_default());
    let chart = tokio::task::spawn_blocking(move || weir_helm::load_dir(&path))
        .await
        .map_err(|e| failure(Reason::ArtifactFailed, e.to_string()))?
        .map_err(|e| failure(Reason::ArtifactFailed, format!("cannot load chart: {e}")))?;
    let values = compose_values(ctx, &namespace, spec).await?;
    let target = text(spec, "/targetNamespace")
        .unwrap_or(&namespace)
        .to_owned();
    let storage_ns = text(spec, "/storageNamespace")
        .unwrap_or(&target)
        .to_owned();
    let name = release_name(spec, &hr_name);
    status.insert("storageNamespace".into(), json!(storage_ns));
    let timeout = text(spec, "/timeout")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(300));
    let (manager, client) = manager_for(ctx, &namespace, spec, &target).await?;
    let plan = Plan {
        manager,
        client,
        config_digest: config_digest(&values),
        name,
        namespace: target,
        storage_namespace: storage_ns,
        chart,
        values,
        timeout,
    };
    let chart_version = plan.chart.metadata["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    status.insert("lastAttemptedRevision".into(), json!(chart_version));
    status.insert(
        "lastAttemptedConfigDigest".into(),
        json!(plan.config_digest),
    );
    let mut releases = history(&plan.client, &plan.storage_namespace, &plan.name).await?;
    // A release left pending by an interrupted operation (a crash, a lost leader) blocks Helm
    // for good; Weir marks it failed and goes on.
    if let Some(last) = releases.last_mut() {
        let state = rel::status_of(last).to_owned();
        if state.starts_with("pending-") {
            let description =
                format!("Weir recovered this release left {state} by an interrupted operation");
            rel::set_status(last, helm_status::FAILED, &description);
            store(&plan.client, &plan.storage_namespace, last, true).await?;
            info!(release = %plan.name, %state, "recovered a pending release");
        }
    }
    let deployed = releases
        .iter()
        .rev()
        .find(|r| rel::status_of(r) == helm_status::DEPLOYED)
        .cloned();
    let latest = releases.last().cloned();
    let remediation = |action: &str| spec[action]["remediation"]["retries"].as_i64().unwrap_or(0);
    let forced = status.remove("forcePending").is_some();
    let counter = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    let Some(current) = deployed else {
        // Install (again, when earlier attempts failed and retries remain).
        let failures = counter("installFailures");
        let retries = remediation("install");
        retries_left("install", failures, retries, status)?;
        status.insert("lastAttemptedReleaseAction".into(), json!("install"));
        let next = latest.as_ref().map_or(1, |l| rel::version(l) + 1);
        return match release(ctx, object, spec, &plan, next, None, "install").await {
            Ok(mut done) => {
                record(status, &done.1, &plan.config_digest);
                done.0.tests = test(spec, &plan, &done.1, object).await;
                Ok(done.0)
            }
            Err(failed) => {
                status.insert("installFailures".into(), json!(failures + 1));
                // Install remediation: uninstall what the failed install applied.
                let remediate = failures < retries
                    || spec["install"]["remediation"]["remediateLastFailure"] == true;
                if remediate
                    && let Some(failed_release) =
                        history(&plan.client, &plan.storage_namespace, &plan.name)
                            .await?
                            .last()
                {
                    let _ = remove_objects(&plan, failed_release).await;
                }
                Err(failed)
            }
        };
    };
    let same_chart = current["chart"]["metadata"]["version"] == chart_version.as_str()
        && current["chart"]["metadata"]["name"] == plan.chart.metadata["name"];
    let last_snapshot = status
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.first())
        .cloned();
    let history_digest = last_snapshot
        .as_ref()
        .and_then(|s| s["configDigest"].as_str())
        .map(str::to_owned);
    // The snapshot describes the deployed release only if no one (helm rollback, helm
    // upgrade) made a newer one since; otherwise the release's own values are compared.
    let snapshot_current = last_snapshot
        .as_ref()
        .is_some_and(|s| s["version"] == current["version"] && s["name"] == current["name"]);
    let same_values = if snapshot_current {
        history_digest.as_deref() == Some(plan.config_digest.as_str())
    } else {
        current.get("config").cloned().unwrap_or(json!({})) == plan.values
    };
    let latest_failed = latest.as_ref().is_some_and(|l| {
        rel::status_of(l) == helm_status::FAILED && rel::version(l) > rel::version(&current)
    });
    let post_renderers_changed = status
        .get("observedPostRenderersDigest")
        .and_then(Value::as_str)
        != Some(config_digest(&spec["postRenderers"]).as_str())
        && spec["postRenderers"].is_array();
    if same_chart && same_values && !latest_failed && !post_renderers_changed && !forced {
        record(status, &current, &plan.config_digest);
        let corrected = drift(spec, &plan, &current, object).await?;
        let action = status
            .get("lastAttemptedReleaseAction")
            .and_then(Value::as_str)
            .unwrap_or("install")
            .to_owned();
        let (reason, verb) = if action == "upgrade" {
            (Reason::UpgradeSucceeded, "upgrade")
        } else {
            (Reason::InstallSucceeded, "install")
        };
        return Ok(Done {
            reason,
            message: succeeded_message(verb, &current),
            acted: false,
            remediated: None,
            drift: corrected,
            tests: None,
        });
    }
    let failures = counter("upgradeFailures");
    let retries = remediation("upgrade");
    retries_left("upgrade", failures, retries, status)?;
    status.insert("lastAttemptedReleaseAction".into(), json!("upgrade"));
    let next = latest.as_ref().map_or(1, |l| rel::version(l) + 1);
    match release(ctx, object, spec, &plan, next, Some(&current), "upgrade").await {
        Ok(mut done) => {
            status.insert(
                "observedPostRenderersDigest".into(),
                json!(config_digest(&spec["postRenderers"])),
            );
            record(status, &done.1, &plan.config_digest);
            done.0.tests = test(spec, &plan, &done.1, object).await;
            Ok(done.0)
        }
        Err(mut failed) => {
            status.insert("upgradeFailures".into(), json!(failures + 1));
            let strategy = spec["upgrade"]["remediation"]["strategy"]
                .as_str()
                .unwrap_or("rollback");
            let remediate =
                retries != 0 || spec["upgrade"]["remediation"]["remediateLastFailure"] == true;
            if remediate && strategy == "rollback" {
                match rollback(&plan, &current, next + 1).await {
                    Ok(rolled) => {
                        record(status, &rolled, &history_digest.unwrap_or_default());
                        failed.remediated = Some(format!(
                            "Helm rollback to previous release {}/{}.v{} with chart {}@{} succeeded",
                            plan.namespace,
                            plan.name,
                            rel::version(&current),
                            current["chart"]["metadata"]["name"]
                                .as_str()
                                .unwrap_or_default(),
                            current["chart"]["metadata"]["version"]
                                .as_str()
                                .unwrap_or_default(),
                        ));
                        failed.message = format!(
                            "{}; rolled back to version {}",
                            failed.message,
                            rel::version(&current)
                        );
                    }
                    Err(e) => {
                        failed.message =
                            format!("{}; rollback failed: {}", failed.message, e.message)
                    }
                }
            } else if remediate && strategy == "uninstall" {
                // Uninstall remediation: the release's objects and history removed (history
                // kept with `uninstall.keepHistory`); the next attempt installs afresh.
                let releases = history(&plan.client, &plan.storage_namespace, &plan.name).await?;
                let mut removed = Ok(());
                if let Some(last) = releases.last() {
                    removed = remove_objects(&plan, last).await;
                }
                removed = removed.and(remove_objects(&plan, &current).await);
                match removed {
                    Ok(()) => {
                        forget(&plan, spec, &releases).await?;
                        status.insert("installFailures".into(), Value::Null);
                        failed.remediated = Some(format!(
                            "Helm uninstall succeeded for release {}/{}",
                            plan.namespace, plan.name
                        ));
                        failed.message = format!("{}; uninstalled", failed.message);
                    }
                    Err(e) => {
                        failed.message =
                            format!("{}; uninstall failed: {}", failed.message, e.message)
                    }
                }
            }
            Err(failed)
        }
    }
}

/// Runs the release's test hooks when `spec.test.enable` is set.
async fn test(
    spec: &Value,
    plan: &Plan,
    release: &Value,
    object: &DynamicObject,
) -> Option<Result<String, String>> {
    if spec["test"]["enable"] != true {
        return None;
    }
    let owner_ns = object.metadata.namespace.clone().unwrap_or_default();
    let owner_name = object.metadata.name.clone().unwrap_or_default();
    let hooks: Vec<Value> = release["hooks"].as_array().cloned().unwrap_or_default();
    let count = hooks
        .iter()
        .filter(|h| {
            h["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e == "test"))
        })
        .count();
    let timeout = text(spec, "/test/timeout").and_then(weir_api::duration::parse);
    let plan_view = Plan {
        manager: Arc::clone(&plan.manager),
        client: plan.client.clone(),
        name: plan.name.clone(),
        namespace: plan.namespace.clone(),
        storage_namespace: plan.storage_namespace.clone(),
        chart: weir_helm::Chart::default(),
        values: Value::Null,
        config_digest: String::new(),
        timeout: timeout.unwrap_or(plan.timeout),
    };
    let target = format!(
        "{}/{}.v{}",
        plan.namespace,
        plan.name,
        rel::version(release)
    );
    Some(
        match run_hooks(&plan_view, &hooks, "test", (&owner_ns, &owner_name)).await {
            Ok(()) if count == 0 => Ok(format!("No test hooks for release {target}")),
            Ok(()) => Ok(format!(
                "Helm test succeeded for release {target}: {count} test hook(s) completed successfully"
            )),
            Err(e) => Err(format!(
                "Helm test failed for release {target}: {}",
                e.message
            )),
        },
    )
}

/// Removes the `spec.driftDetection.ignore` paths (JSON pointers) that apply to `id` from
/// `value`.
fn strip_ignored(value: &mut Value, rules: &[Value], id: &ObjectId) {
    for rule in rules {
        let target = &rule["target"];
        let applies = target.is_null()
            || (target["kind"]
                .as_str()
                .is_none_or(|k| k == id.group_kind.kind)
                && target["name"].as_str().is_none_or(|n| n == id.name)
                && target["namespace"]
                    .as_str()
                    .is_none_or(|n| n == id.namespace)
                && target["group"]
                    .as_str()
                    .is_none_or(|g| g == id.group_kind.group));
        if !applies {
            continue;
        }
        for path in rule["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
            let last = last.replace("~1", "/").replace("~0", "~");
            if let Some(parent) = value.pointer_mut(parent) {
                match parent {
                    Value::Object(map) => {
                        map.remove(&last);
                    }
                    Value::Array(items) => {
                        if let Ok(i) = last.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Drift detection (`spec.driftDetection.mode` `enabled` or `warn`): the release's objects
/// compared with the cluster by a server-side dry run, ignoring `ignore` paths; with
/// `enabled` the differences are applied back. Returns the event to record, if any drift.
async fn drift(
    spec: &Value,
    plan: &Plan,
    current: &Value,
    object: &DynamicObject,
) -> Result<Option<Event>, Failure> {
    let mode = spec["driftDetection"]["mode"]
        .as_str()
        .unwrap_or("disabled");
    if mode != "enabled" && mode != "warn" {
        return Ok(None);
    }
    let owner_ns = object.metadata.namespace.clone().unwrap_or_default();
    let owner_name = object.metadata.name.clone().unwrap_or_default();
    let (objects, _) = release_objects(
        current["manifest"].as_str().unwrap_or_default(),
        &plan.name,
        &plan.namespace,
        (&owner_ns, &owner_name),
        &spec["commonMetadata"],
    );
    let rules: Vec<Value> = spec["driftDetection"]["ignore"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let differences = plan.manager.diff(objects.clone()).await.map_err(|e| {
        failure(
            Reason::ReconciliationFailed,
            format!("drift detection failed: {e}"),
        )
    })?;
    let drifted: Vec<String> = differences
        .into_iter()
        .filter_map(|d| {
            let mut merged = d.merged;
            strip_ignored(&mut merged, &rules, &d.id);
            let live = d.live.map(|mut live| {
                strip_ignored(&mut live, &rules, &d.id);
                live
            });
            (live.as_ref() != Some(&merged)).then(|| d.id.to_string())
        })
        .collect();
    if drifted.is_empty() {
        return Ok(None);
    }
    let release = format!(
        "{}/{}.v{}",
        plan.namespace,
        plan.name,
        rel::version(current)
    );
    if mode == "warn" {
        return Ok(Some(Event {
            warning: true,
            reason: "DriftDetected".into(),
            message: format!(
                "Cluster state of release {release} has drifted from the desired state:\n{}",
                drifted.join("\n")
            ),
        }));
    }
    plan.manager.apply_all_staged(objects).await.map_err(|e| {
        failure(
            Reason::ReconciliationFailed,
            format!("correcting drift failed: {e}"),
        )
    })?;
    Ok(Some(Event {
        warning: false,
        reason: "DriftDetected".into(),
        message: format!(
            "Cluster state of release {release} has been corrected:\n{}",
            drifted.join("\n")
        ),
    }))
}

/// Fails terminally (`RetriesExceeded`, with the last failure) once `failures` of `action`
/// (install or upgrade) exceed its remediation `retries` (negative: retry forever).
fn retries_left(
    action: &str,
    failures: i64,
    retries: i64,
    status: &Map<String, Value>,
) -> Result<(), Failure> {
    if failures > 0 && retries >= 0 && failures > retries {
        return Err(Failure {
            terminal: true,
            released: true,
            ..failure(
                Reason::RetriesExceeded,
                format!(
                    "Failed to {action} after {failures} attempt(s), giving up until the HelmRelease changes; last failure: {}",
                    last_failure(status)
                ),
            )
        });
    }
    Ok(())
}

/// The message of the `Released=False` condition (the last Helm action's failure).
fn last_failure(status: &Map<String, Value>) -> String {
    conditions_of(status)
        .iter()
        .find(|c| c["type"] == "Released" && c["status"] == "False")
        .and_then(|c| c["message"].as_str())
        .unwrap_or("unknown")
        .to_owned()
}

fn succeeded_message(verb: &str, release: &Value) -> String {
    format!(
        "Helm {verb} succeeded for release {}/{}.v{} with chart {}@{}",
        release["namespace"].as_str().unwrap_or_default(),
        rel::name(release),
        rel::version(release),
        release["chart"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default(),
        release["chart"]["metadata"]["version"]
            .as_str()
            .unwrap_or_default(),
    )
}

/// Puts `release` first in `status.history` (at most 5 kept).
fn record(status: &mut Map<String, Value>, release: &Value, config_digest: &str) {
    let snap = snapshot(release, config_digest);
    let mut history: Vec<Value> = status
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    history.retain(|s| s["version"] != snap["version"] || s["name"] != snap["name"]);
    history.insert(0, snap);
    history.truncate(5);
    status.insert("history".into(), Value::Array(history));
    // The release's objects, in Flux's inventory format (for `weir tree` and metrics).
    let namespace = release["namespace"].as_str().unwrap_or_default();
    let (_, mut inventory) = release_objects(
        release["manifest"].as_str().unwrap_or_default(),
        "",
        namespace,
        ("", ""),
        &Value::Null,
    );
    for entry in &mut inventory.entries {
        if CLUSTER_KINDS.contains(&entry.id.group_kind.kind.as_str()) {
            entry.id.namespace.clear();
        }
    }
    let entries: Vec<Value> = inventory
        .entries
        .iter()
        .map(|e| json!({ "id": e.key(), "v": e.version }))
        .collect();
    status.insert("inventory".into(), json!({ "entries": entries }));
}

/// Built-in cluster-scoped kinds, whose inventory entries have no namespace.
const CLUSTER_KINDS: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "PersistentVolume",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Deletes the objects of `release` (except those Helm keeps).
async fn remove_objects(plan: &Plan, release: &Value) -> Result<(), Failure> {
    let manifest = release["manifest"].as_str().unwrap_or_default();
    let (_, mut old) = release_objects(
        manifest,
        &plan.name,
        &plan.namespace,
        ("", ""),
        &Value::Null,
    );
    let keep = kept(manifest, &plan.namespace);
    old.entries.retain(|e| !keep.contains(&e.id));
    plan.manager
        .prune(&old, &Inventory::default())
        .await
        .map_err(|e| failure(Reason::UninstallFailed, e.to_string()))?;
    Ok(())
}

/// Runs the hooks of `rendered` for `event` in weight order, waiting for each.
async fn run_hooks(
    plan: &Plan,
    hooks: &[Value],
    event: &str,
    owner: (&str, &str),
) -> Result<(), Failure> {
    let mut selected: Vec<&Value> = hooks
        .iter()
        .filter(|h| {
            h["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e == event))
        })
        .collect();
    selected.sort_by_key(|h| {
        (
            h["weight"].as_i64().unwrap_or(0),
            h["name"].as_str().unwrap_or_default().to_owned(),
        )
    });
    for hook in selected {
        let manifest = hook["manifest"].as_str().unwrap_or_default();
        let (objects, inventory) =
            release_objects(manifest, &plan.name, &plan.namespace, owner, &Value::Null);
        let policies: Vec<&str> = hook["delete_policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if policies.contains(&"before-hook-creation") {
            let _ = plan.manager.prune(&inventory, &Inventory::default()).await;
        }
        let hook_name = hook["name"].as_str().unwrap_or_default();
        let set = plan.manager.apply_all_staged(objects).await.map_err(|e| {
            failure(
                Reason::InstallFailed,
                format!("{event} hook {hook_name} failed: {e}"),
            )
        })?;
        let waited = plan
            .manager
            .wait(&set, plan.timeout, Duration::from_secs(2))
            .await;
        if waited.is_ok() && policies.contains(&"hook-succeeded")
            || waited.is_err() && policies.contains(&"hook-failed")
        {
            let _ = plan.manager.prune(&inventory, &Inventory::default()).await;
        }
        waited.map_err(|e| {
            failure(
                Reason::InstallFailed,
                format!("{event} hook {hook_name} failed: {e}"),
            )
        })?;
    }
    Ok(())
}

/// Installs (no `current`) or upgrades to `version`: records the release pending, applies
/// CRDs, hooks and objects, deletes what the previous release had and this one has not,
/// waits for health, then records it deployed (the previous one superseded). On failure the
/// release is recorded failed.
async fn release(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    plan: &Plan,
    version: u32,
    current: Option<&Value>,
    action: &str,
) -> Result<(Done, Value), Failure> {
    let owner_ns = object.metadata.namespace.clone().unwrap_or_default();
    let owner_name = object.metadata.name.clone().unwrap_or_default();
    let owner = (owner_ns.as_str(), owner_name.as_str());
    let is_upgrade = current.is_some();
    let (failed_reason, ok_reason, pending, verb) = if is_upgrade {
        (
            Reason::UpgradeFailed,
            Reason::UpgradeSucceeded,
            helm_status::PENDING_UPGRADE,
            "upgrade",
        )
    } else {
        (
            Reason::InstallFailed,
            Reason::InstallSucceeded,
            helm_status::PENDING_INSTALL,
            "install",
        )
    };
    let fail = |message: String| Failure {
        released: true,
        ..failure(failed_reason, message)
    };
    let options = weir_helm::Options {
        release: plan.name.clone(),
        namespace: plan.namespace.clone(),
        kube_version: kube_version(ctx).await,
        is_upgrade,
        values: vec![plan.values.clone()],
        skip_tests: false,
        ..weir_helm::Options::default()
    };
    let chart = plan.chart.clone();
    let rendered = {
        let options = options.clone();
        tokio::task::spawn_blocking(move || weir_helm::render(&chart, &options, version))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(format!("Helm {verb} failed: template: {e}")))?
    };
    let now = jiff::Timestamp::now().to_string();
    let first = current
        .and_then(|c| c["info"]["first_deployed"].as_str())
        .unwrap_or(&now)
        .to_owned();
    let record = rel::Record {
        name: &plan.name,
        namespace: &plan.namespace,
        version,
        status: pending,
        description: &format!("Initial {verb}"),
        first_deployed: &first,
        last_deployed: &now,
        config: &plan.values,
    };
    let mut new = rel::new_release(&record, &plan.chart, &rendered);
    // Post-renderers change the recorded manifest too, as in Helm.
    let (objects, _) = release_objects(
        &rendered.manifest(),
        &plan.name,
        &plan.namespace,
        owner,
        &spec["commonMetadata"],
    );
    let objects = post_render(objects, spec)?;
    let mut manifest = String::new();
    for o in &objects {
        manifest.push_str("---\n");
        manifest.push_str(&weir_object::yaml::to_yaml(&Value::Object(o.clone())));
    }
    if !manifest.is_empty() {
        new["manifest"] = json!(manifest);
    }
    store(&plan.client, &plan.storage_namespace, &new, false).await?;

    let applied = async {
        let section = if is_upgrade { "upgrade" } else { "install" };
        // CRDs from crds/: Create (install default), CreateReplace, or Skip (upgrade default).
        let policy = spec[section]["crds"].as_str().unwrap_or(if is_upgrade { "Skip" } else { "Create" });
        let skip_crds = spec["install"]["skipCRDs"] == true && !is_upgrade;
        if policy != "Skip" && !skip_crds && !rendered.crds.is_empty() {
            let mut crds = Vec::new();
            for (path, text) in &rendered.crds {
                let docs = weir_object::yaml::parse_documents(path, text).map_err(|e| format!("{path}: {e}"))?;
                crds.extend(docs.into_iter().filter_map(|d| d.value.as_object().cloned()));
            }
            if policy == "Create" {
                let crd_api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(plan.client.clone());
                let mut missing = Vec::new();
                for crd in crds {
                    let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                    if crd_api.get_opt(&name).await.map_err(|e| e.to_string())?.is_none() {
                        missing.push(crd);
                    }
                }
                crds = missing;
            }
            if !crds.is_empty() {
                plan.manager.apply_all_staged(crds).await.map_err(|e| format!("CRDs: {e}"))?;
            }
        }
        if !is_upgrade && spec["install"]["createNamespace"] == true {
            plan.manager
                .apply_all_staged(vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": plan.namespace}}).as_object().cloned().unwrap_or_default()])
                .await
                .map_err(|e| e.to_string())?;
        }
        let hooks: Vec<Value> = new["hooks"].as_array().cloned().unwrap_or_default();
        let hooks_enabled = spec[section]["disableHooks"] != true;
        if hooks_enabled {
            run_hooks(plan, &hooks, &format!("pre-{section}"), owner).await.map_err(|f| f.message)?;
        }
        let set = plan.manager.apply_all_staged(objects.clone()).await.map_err(|e| e.to_string())?;
        if let Some(current) = current {
            let (_, old) = release_objects(current["manifest"].as_str().unwrap_or_default(), &plan.name, &plan.namespace, owner, &Value::Null);
            let (_, new_inventory) = release_objects(&manifest, &plan.name, &plan.namespace, owner, &Value::Null);
            let keep = kept(current["manifest"].as_str().unwrap_or_default(), &plan.namespace);
            let mut old = old;
            old.entries.retain(|e| !keep.contains(&e.id));
            plan.manager.prune(&old, &new_inventory).await.map_err(|e| format!("deleting objects the new release no longer has: {e}"))?;
        }
        if spec[section]["disableWait"] != true {
            wait(plan, &set).await?;
        }
        if hooks_enabled {
            run_hooks(plan, &hooks, &format!("post-{section}"), owner).await.map_err(|f| f.message)?;
        }
        Ok::<_, String>(())
    }
    .await;
    match applied {
        Ok(()) => {
            let description = if is_upgrade {
                "Upgrade complete"
            } else {
                "Install complete"
            };
            rel::set_status(&mut new, helm_status::DEPLOYED, description);
            store(&plan.client, &plan.storage_namespace, &new, true).await?;
            supersede_and_trim(plan, spec, version).await?;
            info!(release = %plan.name, version, action, "released");
            Ok((
                Done {
                    reason: ok_reason,
                    message: succeeded_message(verb, &new),
                    acted: true,
                    remediated: None,
                    drift: None,
                    tests: None,
                },
                new,
            ))
        }
        Err(message) => {
            let text = format!(
                "Helm {verb} failed for release {}/{} with chart {}@{}: {message}",
                plan.namespace,
                plan.name,
                plan.chart.name(),
                plan.chart.metadata["version"].as_str().unwrap_or_default()
            );
            rel::set_status(&mut new, helm_status::FAILED, &text);
            store(&plan.client, &plan.storage_namespace, &new, true).await?;
            Err(fail(text))
        }
    }
}

async fn wait(plan: &Plan, set: &ChangeSet) -> Result<(), String> {
    plan.manager
        .wait(set, plan.timeout, Duration::from_secs(2))
        .await
        .map_err(|e| format!("health check failed: {e}"))
}

/// Marks every deployed release other than `version` superseded and deletes the oldest
/// beyond `spec.maxHistory` (default 5; 0: unlimited).
async fn supersede_and_trim(plan: &Plan, spec: &Value, version: u32) -> Result<(), Failure> {
    let releases = history(&plan.client, &plan.storage_namespace, &plan.name).await?;
    for mut old in releases
        .iter()
        .filter(|r| rel::version(r) != version)
        .cloned()
    {
        if rel::status_of(&old) == helm_status::DEPLOYED {
            let description = old["info"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            rel::set_status(&mut old, helm_status::SUPERSEDED, &description);
            store(&plan.client, &plan.storage_namespace, &old, true).await?;
        }
    }
    let max = spec["maxHistory"].as_i64().unwrap_or(5);
    if max > 0 && releases.len() as i64 > max {
        let api: Api<Secret> = Api::namespaced(plan.client.clone(), &plan.storage_namespace);
        let excess = releases.len() - max as usize;
        for old in releases.iter().take(excess) {
            let _ = api
                .delete(
                    &rel::secret_name(&plan.name, rel::version(old)),
                    &DeleteParams::default(),
                )
                .await;
        }
    }
    Ok(())
}

/// Rolls back to `target` as release `version`: its manifest applied again, the failed
/// release superseded, as `helm rollback` does.
async fn rollback(plan: &Plan, target: &Value, version: u32) -> Result<Value, Failure> {
    let mut back = target.clone();
    let now = jiff::Timestamp::now().to_string();
    back["version"] = json!(version);
    back["info"]["last_deployed"] = json!(now);
    let description = format!("Rollback to {}", rel::version(target));
    rel::set_status(&mut back, helm_status::PENDING_ROLLBACK, &description);
    store(&plan.client, &plan.storage_namespace, &back, false).await?;
    let manifest = back["manifest"].as_str().unwrap_or_default().to_owned();
    let (objects, inventory) = release_objects(
        &manifest,
        &plan.name,
        &plan.namespace,
        ("", ""),
        &Value::Null,
    );
    let result = async {
        let set = plan
            .manager
            .apply_all_staged(objects)
            .await
            .map_err(|e| e.to_string())?;
        // Objects only the failed release had are deleted.
        let releases = history(&plan.client, &plan.storage_namespace, &plan.name)
            .await
            .map_err(|f| f.message)?;
        if let Some(failed) = releases
            .iter()
            .rev()
            .find(|r| rel::version(r) < version && rel::version(r) > rel::version(target))
        {
            let (_, old) = release_objects(
                failed["manifest"].as_str().unwrap_or_default(),
                &plan.name,
                &plan.namespace,
                ("", ""),
                &Value::Null,
            );
            plan.manager
                .prune(&old, &inventory)
                .await
                .map_err(|e| e.to_string())?;
        }
        wait(plan, &set).await
    }
    .await;
    match result {
        Ok(()) => {
            rel::set_status(&mut back, helm_status::DEPLOYED, &description);
            store(&plan.client, &plan.storage_namespace, &back, true).await?;
            let releases = history(&plan.client, &plan.storage_namespace, &plan.name).await?;
            // Every other deployed release is superseded; failed ones stay failed, as in Helm.
            for mut old in releases.into_iter().filter(|r| {
                rel::version(r) != version && rel::status_of(r) == helm_status::DEPLOYED
            }) {
                let d = old["info"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                rel::set_status(&mut old, helm_status::SUPERSEDED, &d);
                store(&plan.client, &plan.storage_namespace, &old, true).await?;
            }
            Ok(back)
        }
        Err(message) => {
            rel::set_status(
                &mut back,
                helm_status::FAILED,
                &format!("Rollback \"{}\" failed: {message}", plan.name),
            );
            store(&plan.client, &plan.storage_namespace, &back, true).await?;
            Err(failure(Reason::RollbackFailed, message))
        }
    }
}

/// Deletes the history of an uninstalled release, or with `uninstall.keepHistory` marks its
/// last revision `uninstalled`.
async fn forget(plan: &Plan, spec: &Value, releases: &[Value]) -> Result<(), Failure> {
    if spec["uninstall"]["keepHistory"] == true {
        if let Some(last) = releases.last() {
            let mut last = last.clone();
            rel::set_status(
                &mut last,
                helm_status::UNINSTALLED,
                "Uninstallation complete",
            );
            store(&plan.client, &plan.storage_namespace, &last, true).await?;
        }
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(plan.client.clone(), &plan.storage_namespace);
    for r in releases {
        let _ = api
            .delete(
                &rel::secret_name(&plan.name, rel::version(r)),
                &DeleteParams::default(),
            )
            .await;
    }
    Ok(())
}

/// On deletion: deletes the release's objects and its history (unless `keepHistory`), and
/// the HelmChart made for it.
async fn uninstall(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    status: &Map<String, Value>,
) -> Result<(), Failure> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let hr_name = object.metadata.name.clone().unwrap_or_default();
    if spec.get("chartRef").is_none_or(Value::is_null)
        && let Some((chart_ns, chart_name)) = status
            .get("helmChart")
            .and_then(Value::as_str)
            .and_then(|s| s.split_once('/'))
    {
        let api: Api<DynamicObject> = Api::namespaced_with(
            ctx.client.clone(),
            chart_ns,
            &weir_source::helm_chart::resource(),
        );
        let _ = api.delete(chart_name, &DeleteParams::default()).await;
    }
    let target = text(spec, "/targetNamespace")
        .unwrap_or(&namespace)
        .to_owned();
    let storage_ns = status
        .get("storageNamespace")
        .and_then(Value::as_str)
        .unwrap_or(text(spec, "/storageNamespace").unwrap_or(&target))
        .to_owned();
    let name = release_name(spec, &hr_name);
    let (manager, client) = manager_for(ctx, &namespace, spec, &target).await?;
    let releases = history(&client, &storage_ns, &name).await?;
    let Some(current) = releases
        .iter()
        .rev()
        .find(|r| rel::status_of(r) != helm_status::UNINSTALLED)
        .cloned()
    else {
        return Ok(());
    };
    let plan = Plan {
        manager,
        client,
        name: name.clone(),
        namespace: target,
        storage_namespace: storage_ns.clone(),
        chart: weir_helm::Chart::default(),
        values: Value::Null,
        config_digest: String::new(),
        timeout: Duration::from_secs(300),
    };
    remove_objects(&plan, &current).await?;
    forget(&plan, spec, &releases).await?;
    info!(release = %name, namespace = %storage_ns, "uninstalled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_flux() {
        assert_eq!(release_name(&json!({}), "podinfo"), "podinfo");
        assert_eq!(
            release_name(&json!({"targetNamespace": "apps"}), "podinfo"),
            "apps-podinfo"
        );
        assert_eq!(release_name(&json!({"releaseName": "x"}), "podinfo"), "x");
        let long = release_name(&json!({"targetNamespace": "a".repeat(40)}), &"b".repeat(20));
        assert_eq!(long.len(), 53);
    }

    #[test]
    fn config_digest_ignores_key_order() {
        assert_eq!(
            config_digest(&json!({"a": 1, "b": {"c": 2, "d": 3}})),
            config_digest(&json!({"b": {"d": 3, "c": 2}, "a": 1}))
        );
    }
}
