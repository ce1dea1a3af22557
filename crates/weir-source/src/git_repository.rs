//! The GitRepository reconciler: fetch, archive, record the artifact in the status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Map, Value, json};
use tracing::debug;
use weir_api::status::{self, Reason};
use weir_git::{Credentials, Reference};

use crate::reconcile::{
    Bookkeeping, Due, Event, Failure, Failures, Outcome, Produced, Start, conclude,
    request_pending, stall_unsupported, start, text,
};
use crate::storage::{Storage, ignore_rules};

/// The GitRepository API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "GitRepository"),
        "gitrepositories",
    )
}

/// What the source reconcilers share.
pub struct Context {
    /// The cluster.
    pub client: kube::Client,
    /// Where artifacts are written and served from.
    pub storage: Storage,
    /// Bare Git caches and scratch trees, per object.
    pub work_dir: PathBuf,
    /// Consecutive failures per object, for the retry back-off.
    pub(crate) failures: Failures,
    pub(crate) due: Due,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("storage", &self.storage)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context writing artifacts to `storage`, with Git caches under `work_dir`.
    pub fn new(client: kube::Client, storage: Storage, work_dir: PathBuf) -> Self {
        Context {
            client,
            storage,
            work_dir,
            failures: Failures::default(),
            due: Due::default(),
        }
    }
}

/// Reconciles one GitRepository; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let key = format!("{namespace}/{name}");

    let (spec, generation, status) = match start(&api, object, || {
        ctx.storage.remove_all("GitRepository", &namespace, &name);
        let _ = std::fs::remove_dir_all(ctx.work_dir.join(&namespace).join(&name));
    })
    .await?
    {
        Start::Done(outcome) => return Ok(outcome),
        Start::Go {
            spec,
            generation,
            status,
        } => (spec, generation, status),
    };
    let interval = text(&spec, "/interval")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(60));
    let timeout = text(&spec, "/timeout")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(60));
    let book = Bookkeeping {
        api: &api,
        name: &name,
        key: &key,
        generation,
        interval,
        failures: &ctx.failures,
        due: &ctx.due,
    };
    // Fields Weir does not implement yet stall the object with a message naming them, rather
    // than being silently ignored.
    if let Some(field) = unsupported(&spec) {
        return stall_unsupported(&book, status, "GitRepository", field).await;
    }
    // The echo of our own status write: nothing to do before the interval.
    let settled = !request_pending(object)
        && status.get("observedGeneration").and_then(Value::as_i64) == Some(generation)
        && status.contains_key("artifact");
    if settled && let Some(remaining) = ctx.due.remaining(&key) {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }

    let result = fetch_and_store(ctx, &namespace, &name, &spec, &status, timeout)
        .await
        .map(|(artifact, event)| {
            let revision = artifact["revision"].as_str().unwrap_or_default().to_owned();
            Produced {
                artifact,
                message: format!("stored artifact for revision '{revision}'"),
                event,
                fields: [(
                    "observedIgnore".to_owned(),
                    spec.get("ignore").cloned().unwrap_or(Value::Null),
                )]
                .into_iter()
                .collect(),
            }
        });
    conclude(&book, status, result).await
}

/// The first field of `spec` that Weir does not implement yet, if any.
fn unsupported(spec: &Value) -> Option<&'static str> {
    let set = |field: &str| match spec.get(field) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(_) => true,
    };
    let provider = spec["provider"].as_str().unwrap_or("generic");
    [
        ("include", "spec.include"),
        ("verify", "spec.verify"),
        ("sparseCheckout", "spec.sparseCheckout"),
        ("recurseSubmodules", "spec.recurseSubmodules"),
        ("proxySecretRef", "spec.proxySecretRef"),
        ("serviceAccountName", "spec.serviceAccountName"),
    ]
    .into_iter()
    .find(|(field, _)| set(field))
    .map(|(_, name)| name)
    .or((provider != "generic").then_some("spec.provider (other than generic)"))
}

/// Reads the credentials, fetches, and archives when the revision is new. Returns the artifact
/// and, for a new one, the event to record.
async fn fetch_and_store(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: &Value,
    status: &Map<String, Value>,
    timeout: Duration,
) -> Result<(Value, Option<Event>), Failure> {
    let url = text(spec, "/url").unwrap_or_default().to_owned();
    let credentials = match text(spec, "/secretRef/name") {
        Some(secret) => {
            let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
            let found = secrets.get_opt(secret).await.map_err(|e| {
                (
                    Reason::AuthenticationFailed,
                    format!("failed to get secret '{namespace}/{secret}': {e}"),
                )
            })?;
            let found = found.ok_or_else(|| {
                (
                    Reason::AuthenticationFailed,
                    format!("secret '{namespace}/{secret}' not found"),
                )
            })?;
            let data: BTreeMap<String, Vec<u8>> = found
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            Credentials::from_secret(&url, &data).map_err(|e| {
                (
                    Reason::AuthenticationFailed,
                    format!("secret '{namespace}/{secret}': {e}"),
                )
            })?
        }
        None => Credentials::default(),
    };
    let reference = Reference::from_fields(
        text(spec, "/ref/branch"),
        text(spec, "/ref/tag"),
        text(spec, "/ref/semver"),
        text(spec, "/ref/name"),
        text(spec, "/ref/commit"),
    );
    let work = ctx.work_dir.join(namespace).join(name);
    let cache = work.join("cache");
    let fetch = {
        let (url, reference, cache) = (url.clone(), reference.clone(), cache.clone());
        tokio::task::spawn_blocking(move || weir_git::fetch(&url, &reference, &credentials, &cache))
    };
    let fetched = match tokio::time::timeout(timeout, fetch).await {
        Err(_) => {
            return Err((
                Reason::GitOperationFailed,
                format!(
                    "failed to checkout and determine revision: timed out after {}",
                    weir_api::duration::format(timeout)
                ),
            ));
        }
        Ok(Err(join)) => return Err((Reason::GitOperationFailed, join.to_string())),
        Ok(Ok(Err(err))) => {
            let reason = match err {
                weir_git::Error::Authentication { .. } | weir_git::Error::Credentials { .. } => {
                    Reason::AuthenticationFailed
                }
                _ => Reason::GitOperationFailed,
            };
            return Err((
                reason,
                format!("failed to checkout and determine revision: {err}"),
            ));
        }
        Ok(Ok(Ok(fetched))) => fetched,
    };

    let file = format!("{}.tar.gz", fetched.commit);
    let path = Storage::path("GitRepository", namespace, name, &file);
    let previous = status.get("artifact");
    let unchanged = previous
        .is_some_and(|a| a["revision"] == fetched.revision.as_str() && a["path"] == path.as_str())
        && status.get("observedIgnore") == spec.get("ignore")
        && ctx.storage.local(&path).exists();
    if let (true, Some(previous)) = (unchanged, previous) {
        debug!(%namespace, %name, revision = %fetched.revision, "no changes since last reconciliation");
        let mut artifact = previous.clone();
        artifact["url"] = json!(ctx.storage.url(&path));
        return Ok((artifact, None));
    }

    let tree = work.join("tree");
    let storage = ctx.storage.clone();
    let ignore = spec
        .get("ignore")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let commit = fetched.commit.clone();
    let store = tokio::task::spawn_blocking(move || -> Result<_, Failure> {
        weir_git::export(&cache, &commit, &tree)
            .map_err(|e| (Reason::GitOperationFailed, e.to_string()))?;
        let rules = ignore_rules(&tree, ignore.as_deref()).map_err(|e| {
            (
                Reason::ArchiveOperationFailed,
                format!("invalid ignore patterns: {e}"),
            )
        })?;
        let stored = storage.archive(&tree, &rules, &path).map_err(|e| {
            (
                Reason::ArchiveOperationFailed,
                format!("failed to archive artifact: {e}"),
            )
        })?;
        let _ = std::fs::remove_dir_all(&tree);
        Ok((stored, path))
    });
    let (stored, path) = store
        .await
        .map_err(|e| (Reason::ArchiveOperationFailed, e.to_string()))??;
    ctx.storage
        .garbage_collect("GitRepository", namespace, name, &file);
    let artifact = json!({
        "path": path,
        "url": ctx.storage.url(&path),
        "revision": fetched.revision,
        "digest": stored.digest,
        "lastUpdateTime": status::now(),
        "size": stored.size,
    });
    let event = Event {
        warning: false,
        reason: "NewArtifact".into(),
        message: format!("stored artifact for commit '{}'", fetched.summary),
    };
    Ok((artifact, Some(event)))
}
