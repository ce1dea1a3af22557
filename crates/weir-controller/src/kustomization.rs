//! The Kustomization reconciler: source artifact in, objects applied, status as Flux writes it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::reflector::ObjectRef;
use serde_json::{Map, Value, json};
use tracing::info;
use weir_api::status::{self, ConditionType, Reason};
use weir_apply::takeover::ForeignManager;
use weir_apply::{Action, ChangeSet, ChangeSetEntry, Entry, Inventory, Manager, Options};
use weir_object::{GroupKind, ObjectId};
use weir_source::Storage;
use weir_source::reconcile::{
    Due, Event, Failures, Outcome, backoff, conditions_of, patch_status, request_pending,
    status_of, text,
};

/// The Kustomization API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        "kustomizations",
    )
}

/// What Kustomization reconciles share.
pub struct Context {
    /// The cluster.
    pub client: kube::Client,
    /// Where source artifacts are (this process's source reconcilers write them).
    pub storage: Storage,
    /// How long to wait before checking a dependency or a source again.
    pub requeue_dependency: Duration,
    /// Refuse sources and dependencies in other namespaces.
    pub no_cross_namespace_refs: bool,
    /// Post-build substitution fails on a variable without value or default (Flux's
    /// `StrictPostBuildSubstitutions` feature gate).
    pub strict_substitutions: bool,
    manager: Arc<Manager>,
    /// The controller's own client configuration, from which impersonating clients
    /// (`spec.serviceAccountName`) are made; none: impersonation is refused.
    pub config: Option<kube::Config>,
    /// Managers for other identities or clusters, by what makes them.
    targets: Mutex<HashMap<String, Arc<Manager>>>,
    /// GitRepositories as a watch keeps them; none: each is read from the API server.
    pub sources: Option<kube::runtime::reflector::Store<DynamicObject>>,
    /// Unpacked artifacts by digest.
    artifacts: Mutex<HashMap<String, Arc<weir_kustomize::MemFs>>>,
    /// When each object is next due, to tell a real trigger from the echo of a status write.
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
    /// A context applying with field manager `weir`, taking over fields set with kubectl
    /// and by Flux's kustomize-controller.
    pub fn new(client: kube::Client, storage: Storage) -> Self {
        Context {
            manager: Arc::new(manager(&client, false)),
            config: None,
            targets: Mutex::new(HashMap::new()),
            sources: None,
            artifacts: Mutex::new(HashMap::new()),
            client,
            storage,
            requeue_dependency: Duration::from_secs(30),
            no_cross_namespace_refs: false,
            strict_substitutions: false,
            due: Due::default(),
            failures: Failures::default(),
        }
    }
}

fn manager(client: &kube::Client, force: bool) -> Manager {
    let mut options = Options::default();
    options.force = force;
    options.take_over.push(ForeignManager {
        name: "kustomize-controller".into(),
        operation: "Apply".into(),
    });
    Manager::new(client.clone(), options)
}

/// A reconcile's failure: the reason and message for `Ready=False`.
struct Failure {
    reason: Reason,
    message: String,
    /// Retry after this instead of the back-off (waiting for a dependency or source).
    requeue: Option<Duration>,
    /// The inventory to record (what is known to be applied).
    inventory: Option<Inventory>,
    /// Retrying cannot help until the object changes: mark it Stalled and wait.
    terminal: bool,
    /// Nothing worth writing: retry soon, leave the status alone.
    silent: bool,
}

fn failure(reason: Reason, message: impl Into<String>) -> Failure {
    Failure {
        reason,
        message: message.into(),
        requeue: None,
        inventory: None,
        // A forbidden reference stays forbidden until the spec or the flags change.
        terminal: reason == Reason::AccessDenied,
        silent: false,
    }
}

/// The inventory in a Kustomization's status.
fn inventory_of(status: &Map<String, Value>) -> Inventory {
    let entries = status
        .get("inventory")
        .and_then(|i| i.get("entries"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Inventory {
        entries: entries
            .iter()
            .filter_map(|e| Entry::parse(e["id"].as_str()?, e["v"].as_str()?).ok())
            .collect(),
    }
}

fn inventory_value(inventory: &Inventory) -> Value {
    let entries: Vec<Value> = inventory
        .entries
        .iter()
        .map(|e| json!({ "id": e.key(), "v": e.version }))
        .collect();
    json!({ "entries": entries })
}

/// Reconciles one Kustomization; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let spec = object.data.get("spec").cloned().unwrap_or_default();
    let mut status = status_of(object);

    if object.metadata.deletion_timestamp.is_some() {
        finalize(ctx, object, &spec, &status).await;
        weir_source::finalizer::remove(&api, object).await?;
        return Ok(Outcome::default());
    }
    weir_source::finalizer::add(&api, object).await?;

    let requested = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(weir_api::RECONCILE_REQUESTED_AT))
        .cloned();
    let pending = request_pending(object);
    if let Some(requested) = &requested {
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

    // Triggered by the echo of our own status write, or by a source status write that does
    // not change the revision: nothing to do before the interval.
    let source = source(ctx, &namespace, &spec).await;
    let revision = source
        .as_ref()
        .ok()
        .and_then(|s| s.pointer("/status/artifact/revision"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let up_to_date = status.get("observedGeneration").and_then(Value::as_i64) == Some(generation)
        && !pending
        && revision.is_some()
        && status.get("lastAttemptedRevision").and_then(Value::as_str) == revision.as_deref();
    if up_to_date && let Some(remaining) = ctx.due.remaining(&key) {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }

    let started = Instant::now();
    let mut digest = None;
    let result = run(ctx, object, &spec, &mut status, source, &mut digest).await;
    if let Err(Failure {
        silent: true,
        requeue,
        ..
    }) = &result
    {
        return Ok(Outcome {
            requeue: *requeue,
            ..Outcome::default()
        });
    }
    if let Some(digest) = &digest {
        let outcome = match &result {
            Ok(_) => Reason::ReconciliationSucceeded,
            Err(f) if matches!(f.reason, Reason::PruneFailed | Reason::HealthCheckFailed) => {
                f.reason
            }
            Err(_) => Reason::ReconciliationFailed,
        };
        let revision = status
            .get("lastAttemptedRevision")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        record_history(
            &mut status,
            digest,
            outcome.as_str(),
            started.elapsed(),
            &revision,
        );
    }
    let mut conditions = conditions_of(&status);
    let outcome = match result {
        Ok((revision, set)) => {
            ctx.failures.succeeded(&key);
            let message = format!("Applied revision: {revision}");
            status::set(
                &mut conditions,
                ConditionType::Ready,
                true,
                Reason::ReconciliationSucceeded,
                &message,
                generation,
            );
            status::remove(&mut conditions, ConditionType::Reconciling);
            status::remove(&mut conditions, ConditionType::Stalled);
            if spec["wait"].as_bool() == Some(true) || spec["healthChecks"].is_array() {
                status::set(
                    &mut conditions,
                    ConditionType::Healthy,
                    true,
                    Reason::Succeeded,
                    &format!(
                        "Health check passed in {}",
                        weir_api::duration::format(started.elapsed())
                    ),
                    generation,
                );
            } else {
                status::remove(&mut conditions, ConditionType::Healthy);
            }
            status.insert("lastAppliedRevision".into(), json!(revision));
            status.insert("observedGeneration".into(), json!(generation));
            let changed: Vec<String> = set
                .entries
                .iter()
                .filter(|e| e.action != Action::Unchanged)
                .map(ToString::to_string)
                .collect();
            info!(kustomization = %key, %revision, changes = changed.len(), "reconciled");
            let message = if changed.is_empty() {
                format!(
                    "Reconciliation finished in {}, next run in {}",
                    weir_api::duration::format(started.elapsed()),
                    weir_api::duration::format(interval)
                )
            } else {
                changed.join("\n")
            };
            Outcome {
                requeue: Some(interval),
                event: Some(Event {
                    warning: false,
                    reason: Reason::ReconciliationSucceeded.as_str().into(),
                    message,
                }),
                ready: Some(true),
            }
        }
        Err(failed) => {
            let failures = ctx.failures.failed(&key);
            info!(kustomization = %key, reason = failed.reason.as_str(), message = %failed.message, "reconcile failed");
            status::set(
                &mut conditions,
                ConditionType::Ready,
                false,
                failed.reason,
                &failed.message,
                generation,
            );
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
                status::remove(&mut conditions, ConditionType::Stalled);
                status::set(
                    &mut conditions,
                    ConditionType::Reconciling,
                    true,
                    Reason::ProgressingWithRetry,
                    &failed.message,
                    generation,
                );
            }
            if failed.reason == Reason::HealthCheckFailed {
                status::set(
                    &mut conditions,
                    ConditionType::Healthy,
                    false,
                    Reason::HealthCheckFailed,
                    &failed.message,
                    generation,
                );
            }
            if let Some(inventory) = &failed.inventory {
                status.insert("inventory".into(), inventory_value(inventory));
            }
            let retry = text(&spec, "/retryInterval")
                .and_then(weir_api::duration::parse)
                .unwrap_or(interval);
            // Waiting for a source (missing, or without an artifact yet) is logged and
            // written to the status, without an event, as Flux does.
            let waiting = failed.reason == Reason::ArtifactFailed && failed.requeue.is_some();
            Outcome {
                // Terminal: nothing until the object changes.
                requeue: (!failed.terminal)
                    .then(|| failed.requeue.unwrap_or_else(|| backoff(failures, retry))),
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
    patch_status(&api, &name, status).await?;
    if let Some(requeue) = outcome.requeue {
        ctx.due.set(&key, requeue);
    }
    Ok(outcome)
}

/// The source object of a Kustomization, or the failure to report.
async fn source(ctx: &Context, namespace: &str, spec: &Value) -> Result<Value, Failure> {
    let kind = text(spec, "/sourceRef/kind").unwrap_or_default();
    let name = text(spec, "/sourceRef/name").unwrap_or_default();
    let source_ns = text(spec, "/sourceRef/namespace").unwrap_or(namespace);
    if ctx.no_cross_namespace_refs && source_ns != namespace {
        return Err(failure(
            Reason::AccessDenied,
            format!(
                "cannot access {kind}/{source_ns}/{name}, cross-namespace references have been disabled"
            ),
        ));
    }
    let resource = match kind {
        "GitRepository" => weir_source::git_repository::resource(),
        "OCIRepository" => weir_source::oci_repository::resource(),
        _ => {
            return Err(Failure {
                terminal: true,
                ..failure(
                    Reason::ArtifactFailed,
                    format!(
                        "source kind {kind} is not supported yet (GitRepository and OCIRepository are)"
                    ),
                )
            });
        }
    };
    // The watch's copy when it has one; the API server otherwise (the cache is still filling,
    // or the source was just created).
    let cached = ctx.sources.as_ref().and_then(|store| {
        store.get(&ObjectRef::new_with(name, resource.clone()).within(source_ns))
    });
    if let Some(found) = cached {
        return serde_json::to_value(&*found)
            .map_err(|e| failure(Reason::ArtifactFailed, e.to_string()));
    }
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), source_ns, &resource);
    match api.get_opt(name).await {
        Ok(Some(found)) => {
            serde_json::to_value(found).map_err(|e| failure(Reason::ArtifactFailed, e.to_string()))
        }
        Ok(None) => Err(Failure {
            requeue: Some(ctx.requeue_dependency),
            ..failure(
                Reason::ArtifactFailed,
                format!(
                    "Source '{kind}/{source_ns}/{name}' not found, retrying in {}",
                    weir_api::duration::format(ctx.requeue_dependency)
                ),
            )
        }),
        Err(e) => Err(failure(Reason::ArtifactFailed, e.to_string())),
    }
}

/// Checks dependencies, builds and applies; returns the applied revision and change set.
async fn run(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    status: &mut Map<String, Value>,
    source: Result<Value, Failure>,
    digest_out: &mut Option<String>,
) -> Result<(String, ChangeSet), Failure> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    for (field, name) in [
        ("decryption", "spec.decryption (SOPS)"),
        ("ignore", "spec.ignore (drift rules)"),
    ] {
        if !spec[field].is_null() {
            return Err(Failure {
                terminal: true,
                ..failure(
                    Reason::Unsupported,
                    format!(
                        "{name} is not supported by Weir yet; remove it, or reconcile this Kustomization with Flux's kustomize-controller"
                    ),
                )
            });
        }
    }
    let source = source?;
    let current = source
        .pointer("/status/artifact/revision")
        .and_then(Value::as_str)
        .map(str::to_owned);
    dependencies(ctx, object, spec, current.as_deref()).await?;
    let health_exprs = crate::cel::compile_health(spec).map_err(configuration_error)?;
    let waiting = |message: String| Failure {
        requeue: Some(ctx.requeue_dependency),
        ..failure(Reason::ArtifactFailed, message)
    };
    let Some(artifact) = source.pointer("/status/artifact") else {
        // A Kustomization never reconciled, waiting for a source whose first fetch is under
        // way (as when the controller starts with many of them): checked again in a second
        // and triggered by the new artifact anyway, without a status write and its echo each.
        let source_ready = source
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["status"].as_str());
        let never_reconciled = !status
            .get("conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready"));
        if never_reconciled && matches!(source_ready, None | Some("Unknown")) {
            return Err(Failure {
                silent: true,
                requeue: Some(Duration::from_secs(1)),
                ..failure(Reason::ArtifactFailed, "source not fetched yet")
            });
        }
        return Err(waiting(format!(
            "Source is not ready, artifact not found, retrying in {}",
            weir_api::duration::format(ctx.requeue_dependency)
        )));
    };
    let revision = artifact["revision"].as_str().unwrap_or_default().to_owned();
    status.insert("lastAttemptedRevision".into(), json!(revision));
    // Say what is going on before work that may last (health checks), as Flux does; a quick
    // reconcile writes its outcome only.
    let long = spec["wait"].as_bool() == Some(true) || spec["healthChecks"].is_array();
    let mut progressing = status.clone();
    let mut conditions = conditions_of(&progressing);
    let generation = object.metadata.generation.unwrap_or_default();
    status::set_unknown(
        &mut conditions,
        ConditionType::Ready,
        Reason::Progressing,
        "Reconciliation in progress",
        generation,
    );
    status::set(
        &mut conditions,
        ConditionType::Reconciling,
        true,
        Reason::Progressing,
        &format!("Fetching manifests for revision {revision}"),
        generation,
    );
    progressing.insert("conditions".into(), Value::Array(conditions));
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    if long {
        patch_status(&api, &name, progressing).await.map_err(|e| {
            failure(
                Reason::ReconciliationFailed,
                format!("cannot update the status: {e}"),
            )
        })?;
    }
    let tarball = ctx
        .storage
        .local(artifact["path"].as_str().unwrap_or_default());
    if !tarball.exists() {
        return Err(waiting(format!(
            "Source is not ready, artifact not found, retrying in {}",
            weir_api::duration::format(ctx.requeue_dependency)
        )));
    }
    let digest = artifact["digest"].as_str().unwrap_or_default().to_owned();
    let variables = variables(ctx, &namespace, spec).await?;
    let source = unpacked(ctx, tarball, digest).await?;
    let objects = {
        let (spec, owner, owner_ns) = (spec.clone(), name.clone(), namespace.clone());
        let (objects, warnings) = tokio::task::spawn_blocking(move || {
            crate::build::objects(&source, &spec, (&owner, &owner_ns), variables.as_ref())
        })
        .await
        .map_err(|e| failure(Reason::BuildFailed, e.to_string()))?
        .map_err(|e| failure(e.reason, e.message))?;
        for warning in warnings {
            info!(kustomization = %format!("{namespace}/{name}"), %warning, "build warning");
        }
        objects
    };
    *digest_out = Some(manifests_digest(&objects));
    // Applying a SOPS-encrypted object would store ciphertext; Flux refuses, and so do we.
    if let Some(encrypted) = objects.iter().find(|o| o.contains_key("sops")) {
        return Err(failure(
            Reason::BuildFailed,
            format!(
                "{} is encrypted with SOPS, and decryption is not supported by Weir yet",
                weir_object::ObjectId::new(
                    "",
                    encrypted
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    encrypted
                        .get("metadata")
                        .and_then(|m| m.get("namespace"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    encrypted
                        .get("metadata")
                        .and_then(|m| m.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )
            ),
        ));
    }

    let old = inventory_of(status);
    let manager = target(ctx, &namespace, spec).await?;
    let manager = manager.as_ref();
    let mut set = manager
        .apply_all_staged(objects)
        .await
        .map_err(|e| failure(Reason::ReconciliationFailed, e.to_string()))?;
    let new = Inventory::from_change_set(&set);
    if spec["prune"].as_bool() == Some(true) {
        match manager.prune(&old, &new).await {
            Ok(pruned) => set.extend(pruned),
            Err(e) => {
                // Keep what could not be deleted in the inventory, to retry.
                let mut kept = new.clone();
                kept.entries.extend(
                    old.entries
                        .iter()
                        .filter(|o| !new.entries.iter().any(|n| n.id == o.id))
                        .cloned(),
                );
                return Err(Failure {
                    inventory: Some(kept),
                    ..failure(Reason::PruneFailed, e.to_string())
                });
            }
        }
    }
    status.insert("inventory".into(), inventory_value(&new));

    let timeout = text(spec, "/timeout")
        .and_then(weir_api::duration::parse)
        .or_else(|| {
            text(spec, "/interval")
                .and_then(weir_api::duration::parse)
                .map(|i| i.saturating_sub(Duration::from_secs(30)))
        })
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_secs(30));
    let checks = if spec["wait"].as_bool() == Some(true) {
        Some(set.clone())
    } else {
        spec["healthChecks"]
            .as_array()
            .map(|list| health_checks(list, &namespace))
    };
    if let Some(checks) = checks {
        // A new source revision cancels the wait: better to apply it than to wait for the
        // timeout on a revision that is already outdated (Flux's kustomize-controller #701).
        let source_ref = (
            text(spec, "/sourceRef/namespace")
                .unwrap_or(&namespace)
                .to_owned(),
            text(spec, "/sourceRef/name").unwrap_or_default().to_owned(),
        );
        let custom = |live: &Value| crate::cel::health(&health_exprs, live);
        tokio::select! {
            waited = manager.wait_with(&checks, timeout, Duration::from_secs(2), &custom) => {
                waited.map_err(|e| failure(Reason::HealthCheckFailed, e.to_string()))?;
            }
            newer = newer_revision(ctx, &source_ref, &revision) => {
                return Err(Failure {
                    requeue: Some(Duration::from_millis(100)),
                    ..failure(
                        Reason::HealthCheckCanceled,
                        format!("New reconciliation triggered by GitRepository/{}/{} (revision {newer})", source_ref.0, source_ref.1),
                    )
                });
            }
        }
    }
    Ok((revision, set))
}

/// The artifact with `digest`, unpacked in memory: once per digest, shared by every
/// Kustomization built from it.
async fn unpacked(
    ctx: &Context,
    tarball: PathBuf,
    digest: String,
) -> Result<Arc<weir_kustomize::MemFs>, Failure> {
    if let Some(found) = ctx
        .artifacts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&digest)
    {
        return Ok(Arc::clone(found));
    }
    let key = digest.clone();
    let fs = tokio::task::spawn_blocking(move || crate::build::unpack(&tarball, &digest))
        .await
        .map_err(|e| failure(Reason::ArtifactFailed, e.to_string()))?
        .map_err(|e| failure(e.reason, e.message))?;
    let fs = Arc::new(fs);
    let mut cache = ctx.artifacts.lock().unwrap_or_else(|e| e.into_inner());
    // A handful of revisions are in use at a time; older ones go.
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&fs));
    Ok(fs)
}

/// Resolves when the source's artifact revision is no longer `current`, with the new one.
async fn newer_revision(
    ctx: &Context,
    (namespace, name): &(String, String),
    current: &str,
) -> String {
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        namespace,
        &weir_source::git_repository::resource(),
    );
    let key = ObjectRef::new_with(name, weir_source::git_repository::resource()).within(namespace);
    loop {
        let cached = ctx.sources.as_ref().and_then(|store| store.get(&key));
        let source = match cached {
            Some(found) => Some((*found).clone()),
            None => api.get_opt(name).await.ok().flatten(),
        };
        if let Some(source) = source
            && let Some(revision) = source
                .data
                .pointer("/status/artifact/revision")
                .and_then(Value::as_str)
            && revision != current
        {
            return revision.to_owned();
        }
        // Reading the cache costs nothing; the API server is asked less often.
        let pause = if ctx.sources.is_some() { 500 } else { 2000 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// `sha256:<hex>` of the built objects, as multi-document YAML.
fn manifests_digest(objects: &[Map<String, Value>]) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for object in objects {
        hasher.update(b"---\n");
        hasher.update(weir_object::yaml::to_yaml(&Value::Object(object.clone())).as_bytes());
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// Records a reconcile in `status.history` as Flux does: at most 5 snapshots, newest first; a
/// snapshot with the same digest and outcome is updated and moved to the front.
fn record_history(
    status: &mut Map<String, Value>,
    digest: &str,
    outcome: &str,
    took: Duration,
    revision: &str,
) {
    let now = status::now();
    let mut history: Vec<Value> = status
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let position = history
        .iter()
        .position(|h| h["digest"] == digest && h["lastReconciledStatus"] == outcome);
    let entry = match position.map(|i| history.remove(i)) {
        Some(mut h) => {
            let total = h["totalReconciliations"].as_i64().unwrap_or(0) + 1;
            h["lastReconciled"] = json!(now);
            h["lastReconciledDuration"] = json!(weir_api::duration::format(took));
            h["totalReconciliations"] = json!(total);
            h["metadata"] = json!({ "revision": revision });
            h
        }
        None => json!({
            "digest": digest,
            "firstReconciled": now,
            "lastReconciled": now,
            "lastReconciledDuration": weir_api::duration::format(took),
            "lastReconciledStatus": outcome,
            "totalReconciliations": 1,
            "metadata": { "revision": revision },
        }),
    };
    history.insert(0, entry);
    history.truncate(5);
    status.insert("history".into(), Value::Array(history));
}

/// The post-build variables of `spec.postBuild`: each `substituteFrom` in order, then
/// `substitute`, later ones winning; none when there is nothing to substitute.
async fn variables(
    ctx: &Context,
    namespace: &str,
    spec: &Value,
) -> Result<Option<crate::build::Variables>, Failure> {
    let post = &spec["postBuild"];
    if post.is_null() {
        return Ok(None);
    }
    let mut vars = std::collections::BTreeMap::new();
    for source in post["substituteFrom"].as_array().into_iter().flatten() {
        let kind = source["kind"].as_str().unwrap_or_default();
        let name = source["name"].as_str().unwrap_or_default();
        let optional = source["optional"].as_bool() == Some(true);
        let failed = |why: String| {
            failure(
                Reason::BuildFailed,
                format!("substitute from '{kind}/{name}' error: {why}"),
            )
        };
        let data: Option<Vec<(String, String)>> = match kind {
            "ConfigMap" => {
                let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
                    Api::namespaced(ctx.client.clone(), namespace);
                api.get_opt(name)
                    .await
                    .map_err(|e| failed(e.to_string()))?
                    .map(|cm| cm.data.unwrap_or_default().into_iter().collect())
            }
            "Secret" => {
                let api: Api<k8s_openapi::api::core::v1::Secret> =
                    Api::namespaced(ctx.client.clone(), namespace);
                api.get_opt(name)
                    .await
                    .map_err(|e| failed(e.to_string()))?
                    .map(|secret| {
                        secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect()
                    })
            }
            other => return Err(failed(format!("unsupported kind {other}"))),
        };
        match data {
            Some(pairs) => vars.extend(pairs),
            None if optional => {}
            None => return Err(failed(format!("{kind} '{namespace}/{name}' not found"))),
        }
    }
    if let Some(inline) = post["substitute"].as_object() {
        for (k, v) in inline {
            vars.insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    for (name, value) in &mut vars {
        let valid = name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(failure(
                Reason::BuildFailed,
                format!(
                    "'{name}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
                ),
            ));
        }
        *value = value.replace('\n', "");
    }
    let always = post["substituteStrategy"].as_str() == Some("Always");
    if vars.is_empty() && !always {
        return Ok(None);
    }
    Ok(Some((vars, ctx.strict_substitutions)))
}

/// The manager that applies for a Kustomization: the controller's own, or one acting as
/// `spec.serviceAccountName` (impersonation) and/or on the cluster of `spec.kubeConfig`, with
/// `spec.force`. Made once per identity and cluster, then reused.
async fn target(ctx: &Context, namespace: &str, spec: &Value) -> Result<Arc<Manager>, Failure> {
    let force = spec["force"].as_bool() == Some(true);
    let account = text(spec, "/serviceAccountName");
    let kubeconfig = text(spec, "/kubeConfig/secretRef/name");
    if spec["kubeConfig"]["configMapRef"].is_object() {
        return Err(Failure {
            terminal: true,
            ..failure(
                Reason::ReconciliationFailed,
                "spec.kubeConfig.configMapRef (cloud providers) is not supported yet; use spec.kubeConfig.secretRef",
            )
        });
    }
    let failed = |why: String| failure(Reason::ReconciliationFailed, why);
    let (config, key) = match kubeconfig {
        Some(secret) => {
            let (config, version) = remote_config(&ctx.client, namespace, spec, secret)
                .await
                .map_err(failed)?;
            (
                Some(config),
                format!("kubeconfig:{namespace}/{secret}@{version}"),
            )
        }
        None => (ctx.config.clone(), "local".to_owned()),
    };
    if kubeconfig.is_none() && account.is_none() {
        return Ok(if force {
            cached(ctx, "local|force".into(), || Ok(manager(&ctx.client, true)))?
        } else {
            Arc::clone(&ctx.manager)
        });
    }
    let key = format!("{key}|{}|{force}", account.unwrap_or_default());
    cached(ctx, key, || {
        let mut config = config.ok_or_else(|| {
            failed("spec.serviceAccountName needs the controller's own kubeconfig".into())
        })?;
        if let Some(account) = account {
            config.auth_info.impersonate =
                Some(format!("system:serviceaccount:{namespace}:{account}"));
        }
        let client = kube::Client::try_from(config).map_err(|e| failed(e.to_string()))?;
        Ok(manager(&client, force))
    })
}

/// The client configuration in kubeconfig Secret `namespace/secret` (`spec.kubeConfig.secretRef`,
/// key `spec.kubeConfig.secretRef.key`, else `value` or `value.yaml`), and the Secret's
/// resourceVersion.
pub(crate) async fn remote_config(
    client: &kube::Client,
    namespace: &str,
    spec: &Value,
    secret: &str,
) -> Result<(kube::Config, String), String> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    let found = secrets
        .get_opt(secret)
        .await
        .map_err(|e| format!("cannot read kubeconfig secret '{namespace}/{secret}': {e}"))?
        .ok_or_else(|| format!("kubeconfig secret '{namespace}/{secret}' not found"))?;
    let version = found.metadata.resource_version.clone().unwrap_or_default();
    let mut data = found.data.unwrap_or_default();
    let key = text(spec, "/kubeConfig/secretRef/key");
    let bytes = match key {
        Some(key) => data.remove(key),
        None => data.remove("value").or_else(|| data.remove("value.yaml")),
    }
    .ok_or_else(|| {
        format!(
            "kubeconfig secret '{namespace}/{secret}' has no key {}",
            key.unwrap_or("'value' or 'value.yaml'")
        )
    })?;
    let text = String::from_utf8(bytes.0)
        .map_err(|_| format!("kubeconfig secret '{namespace}/{secret}' is not UTF-8"))?;
    let parsed = kube::config::Kubeconfig::from_yaml(&text)
        .map_err(|e| format!("kubeconfig secret '{namespace}/{secret}': {e}"))?;
    let config =
        kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| format!("kubeconfig secret '{namespace}/{secret}': {e}"))?;
    Ok((config, version))
}

fn cached(
    ctx: &Context,
    key: String,
    make: impl FnOnce() -> Result<Manager, Failure>,
) -> Result<Arc<Manager>, Failure> {
    let mut targets = ctx.targets.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = targets.get(&key) {
        return Ok(Arc::clone(found));
    }
    let made = Arc::new(make()?);
    targets.insert(key, Arc::clone(&made));
    Ok(made)
}

/// `spec.healthChecks` as change-set entries to wait for.
fn health_checks(list: &[Value], namespace: &str) -> ChangeSet {
    ChangeSet {
        entries: list
            .iter()
            .map(|check| {
                let api_version = check["apiVersion"].as_str().unwrap_or("v1");
                let kind = check["kind"].as_str().unwrap_or_default();
                let (group_kind, version) = GroupKind::from_api_version(api_version, kind);
                ChangeSetEntry {
                    id: ObjectId {
                        group_kind,
                        namespace: check["namespace"].as_str().unwrap_or(namespace).to_owned(),
                        name: check["name"].as_str().unwrap_or_default().to_owned(),
                    },
                    version,
                    action: Action::Configured,
                    reason: None,
                }
            })
            .collect(),
    }
}

/// Fails unless every `spec.dependsOn` Kustomization is ready (at its generation).
async fn dependencies(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    revision: Option<&str>,
) -> Result<(), Failure> {
    let Some(list) = spec["dependsOn"].as_array() else {
        return Ok(());
    };
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let me = serde_json::to_value(object).unwrap_or_default();
    let my_source = source_key(spec, &namespace);
    for dep in list {
        let name = dep["name"].as_str().unwrap_or_default();
        let dep_ns = dep["namespace"].as_str().unwrap_or(&namespace);
        let not_ready = |why: String| Failure {
            requeue: Some(ctx.requeue_dependency),
            ..failure(
                Reason::DependencyNotReady,
                format!("dependency '{dep_ns}/{name}' {why}"),
            )
        };
        if ctx.no_cross_namespace_refs && dep_ns != namespace {
            return Err(failure(
                Reason::AccessDenied,
                format!(
                    "cannot access dependency '{dep_ns}/{name}', cross-namespace references have been disabled"
                ),
            ));
        }
        let expr = dep["readyExpr"]
            .as_str()
            .map(crate::cel::Expr::compile)
            .transpose()
            .map_err(configuration_error)?;
        // Weir's extension: `kind: HelmRelease` waits for a HelmRelease (Flux cannot depend
        // across kinds, flux2 #3364).
        let kind = dep["kind"].as_str().unwrap_or("Kustomization");
        let dep_resource = match kind {
            "HelmRelease" => crate::helm_release::resource(),
            _ => resource(),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), dep_ns, &dep_resource);
        let found = api
            .get_opt(name)
            .await
            .map_err(|e| not_ready(e.to_string()))?
            .ok_or_else(|| not_ready("not found".into()))?;
        let value = serde_json::to_value(&found).unwrap_or_default();
        match expr {
            // readyExpr replaces the built-in check, as in Flux.
            Some(expr) => match expr.eval(&[("self", &me), ("dep", &value)]) {
                Ok(true) => {}
                Ok(false) => return Err(not_ready("is not ready according to readyExpr".into())),
                Err(why) => return Err(not_ready(why)),
            },
            None => {
                if !status::is_ready(&value) {
                    return Err(not_ready("is not ready".into()));
                }
                // Same source: the dependency must have applied this very revision.
                let dep_spec = &value["spec"];
                if source_key(dep_spec, dep_ns) == my_source
                    && let Some(revision) = revision
                    && value["status"]["lastAppliedRevision"].as_str() != Some(revision)
                {
                    return Err(not_ready(format!(
                        "is not up to date with revision {revision}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `(kind, namespace, name)` of a Kustomization's source.
fn source_key(spec: &Value, namespace: &str) -> (String, String, String) {
    (
        text(spec, "/sourceRef/kind").unwrap_or_default().to_owned(),
        text(spec, "/sourceRef/namespace")
            .unwrap_or(namespace)
            .to_owned(),
        text(spec, "/sourceRef/name").unwrap_or_default().to_owned(),
    )
}

/// A terminal failure for a configuration error (an invalid CEL expression).
fn configuration_error(why: String) -> Failure {
    Failure {
        terminal: true,
        ..failure(
            Reason::InvalidCelExpression,
            format!("Reconciliation failed terminally due to configuration error: {why}"),
        )
    }
}

/// On deletion, deletes what the inventory holds when the deletion policy says so.
async fn finalize(
    ctx: &Context,
    object: &DynamicObject,
    spec: &Value,
    status: &Map<String, Value>,
) {
    if spec["suspend"].as_bool() == Some(true) {
        return;
    }
    let policy = spec["deletionPolicy"].as_str().unwrap_or("MirrorPrune");
    let delete = match policy {
        "Delete" | "WaitForTermination" => true,
        "Orphan" => false,
        _ => spec["prune"].as_bool() == Some(true),
    };
    let inventory = inventory_of(status);
    if !delete || inventory.entries.is_empty() {
        return;
    }
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let manager = match target(ctx, &namespace, spec).await {
        Ok(manager) => manager,
        // The identity or cluster is gone: nothing can be deleted, as in Flux.
        Err(failed) => {
            info!(kustomization = ?object.metadata.name, error = %failed.message, "not deleting the inventory");
            return;
        }
    };
    if let Err(e) = manager.prune(&inventory, &Inventory::default()).await {
        info!(kustomization = ?object.metadata.name, error = %e, "deleting the inventory failed");
    }
}
