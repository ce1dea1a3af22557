//! Staged server-side apply.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream};
use kube::api::{Api, DeleteParams, DynamicObject, GetParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;
use tracing::debug;
use weir_object::{GroupKind, ObjectId};

use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::inventory::Inventory;
use crate::takeover::{self, ForeignManager};

/// How many objects of one stage are dry-run or applied at the same time.
const PARALLEL_REQUESTS: usize = 8;

/// Flux's per-object opt-out of pruning.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";

/// Flux's per-object opt-out of reconciliation (read on the object in the cluster).
pub const RECONCILE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/reconcile";

/// Flux's per-object apply policy: `Override` (default), `Merge`, `IfNotPresent`, `Ignore`.
pub const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";

/// Flux's per-object opt-in to recreating an object whose immutable fields changed
/// (`enabled`), read on the desired and on the live object.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";

/// The value of annotation `key` on the desired object, else on the live one.
fn annotation<'a>(p: &'a Planned, key: &str) -> Option<&'a str> {
    p.object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .or_else(|| {
            p.live
                .as_ref()
                .and_then(|l| l.metadata.annotations.as_ref())
                .and_then(|a| a.get(key))
                .map(String::as_str)
        })
}

/// Why a planned object is not applied, per Flux's annotations: reconciliation disabled on
/// the live object, `ssa: Ignore`, or `ssa: IfNotPresent` on an object that exists.
fn skip_reason(p: &Planned) -> Option<&'static str> {
    let live = p
        .live
        .as_ref()
        .and_then(|l| l.metadata.annotations.as_ref());
    let live_value = |key: &str| live.and_then(|a| a.get(key)).map(String::as_str);
    let desired_value = |key: &str| {
        p.object
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    };
    if live_value(RECONCILE_ANNOTATION).is_some_and(|v| v.eq_ignore_ascii_case("disabled")) {
        return Some("reconciliation is disabled by annotation");
    }
    let ssa = desired_value(SSA_ANNOTATION).or_else(|| live_value(SSA_ANNOTATION));
    match ssa {
        Some(v) if v.eq_ignore_ascii_case("ignore") => {
            Some("apply is disabled by annotation (ssa: Ignore)")
        }
        Some(v) if v.eq_ignore_ascii_case("ifnotpresent") && p.live.is_some() => {
            Some("object exists and is applied only if absent (ssa: IfNotPresent)")
        }
        _ => None,
    }
}
use crate::stage::{self, Object};

/// How a [`Manager`] applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The server-side apply field manager that owns the applied fields. Default `weir`.
    pub field_manager: String,
    /// Take over fields other field managers own instead of failing with a conflict, as Flux
    /// always does. Default `true`.
    pub force_conflicts: bool,
    /// Delete and recreate objects whose immutable fields changed (Flux's `spec.force`).
    /// Without it, only objects annotated `kustomize.toolkit.fluxcd.io/force: enabled` are
    /// recreated, and the others fail the dry run naming the field. Default `false`.
    pub force: bool,
    /// How long to wait for an object deleted to be recreated to be gone. Default 60 s.
    pub recreate_timeout: Duration,
    /// Field managers whose fields are handed to [`Options::field_manager`] before an apply,
    /// so what they set is reverted (see [`ForeignManager::kubectl`], the default). Objects
    /// annotated `kustomize.toolkit.fluxcd.io/ssa: Merge` keep them.
    pub take_over: Vec<ForeignManager>,
    /// How long to wait for applied CustomResourceDefinitions to be established and served
    /// before the stage that may contain their custom resources. Default 30 s.
    pub establish_timeout: Duration,
    /// Only dry-run: report what would be created or configured, write nothing.
    pub dry_run: bool,
    /// The namespace given to namespaced objects that name none (as `helm` and `kubectl -n`
    /// do); none: such objects are refused. Default none.
    pub default_namespace: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            field_manager: "weir".to_owned(),
            force_conflicts: true,
            force: false,
            recreate_timeout: Duration::from_secs(60),
            take_over: ForeignManager::kubectl(),
            establish_timeout: Duration::from_secs(30),
            dry_run: false,
            default_namespace: None,
        }
    }
}

/// Why the API server refused one object in a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The refused object.
    pub id: ObjectId,
    /// The API server's machine-readable reason, such as `Invalid`, or `FieldManagerConflict`
    /// when another field manager owns a field; none when the request did not get an answer.
    pub reason: Option<String>,
    /// The API server's message (or why the object could not be sent).
    pub message: String,
}

impl fmt::Display for Rejection {
    /// Formats as Flux does: `Deployment/ns/web dry-run failed (Invalid): <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} dry-run failed", self.id)?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn wait_lines(
    failed: &[(ObjectId, String)],
    pending: &[(ObjectId, String)],
    seconds: u64,
) -> String {
    let mut out: Vec<String> = failed
        .iter()
        .map(|(id, why)| format!("{id} failed: {why}"))
        .collect();
    out.extend(
        pending
            .iter()
            .map(|(id, why)| format!("{id} not ready after {seconds}s: {why}")),
    );
    out.join("\n")
}

fn lines(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object lacks what identifies it (`apiVersion`, `kind` or `metadata.name`).
    #[error("object #{index} ({kind}/{name}) is invalid: {reason}")]
    Invalid {
        /// Its position in the input.
        index: usize,
        /// Its kind, or empty.
        kind: String,
        /// Its name, or empty.
        name: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The server-side dry run of a stage refused some objects; nothing of that stage was
    /// written.
    #[error("{}", lines(.rejections))]
    DryRun {
        /// Every refused object, in apply order.
        rejections: Vec<Rejection>,
    },
    /// Deleting a pruned object failed.
    #[error("{id} delete failed")]
    Delete {
        /// The object.
        id: ObjectId,
        /// The API server's answer.
        #[source]
        source: Box<kube::Error>,
    },
    /// Applying an object failed after its stage passed the dry run.
    #[error("{id} apply failed")]
    Apply {
        /// The object.
        id: ObjectId,
        /// The API server's answer.
        #[source]
        source: Box<kube::Error>,
    },
    /// An object being recreated (immutable fields changed) was not gone in time after its
    /// deletion; a finalizer may hold it.
    #[error(
        "{id} was deleted to be recreated but still exists after {seconds}s; check its finalizers"
    )]
    Recreate {
        /// The object.
        id: ObjectId,
        /// The timeout.
        seconds: u64,
    },
    /// Objects did not become ready in time, or one failed.
    #[error("{}", wait_lines(.failed, .pending, *.seconds))]
    NotReady {
        /// Objects that failed (kstatus `Failed`), with why.
        failed: Vec<(ObjectId, String)>,
        /// Objects still not ready when the time ran out, with their last status message.
        pending: Vec<(ObjectId, String)>,
        /// The timeout.
        seconds: u64,
    },
    /// An applied CustomResourceDefinition was not established and served in time.
    #[error("{id} was not established within {seconds}s: {detail}")]
    NotEstablished {
        /// The CustomResourceDefinition.
        id: ObjectId,
        /// The timeout.
        seconds: u64,
        /// Its last known state (boxed to keep the error small).
        detail: Box<str>,
    },
}

/// What a [`Manager`] is doing, reported to the function given to [`Manager::with_progress`]
/// so a command line can show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The server-side dry run of stage `stage` (1-based) of `stages` has checked `done` of
    /// its `total` objects.
    Validating {
        /// The stage, from 1.
        stage: usize,
        /// How many stages there are.
        stages: usize,
        /// Objects checked so far.
        done: usize,
        /// Objects in the stage.
        total: usize,
    },
    /// `done` of the `total` objects of stage `stage` of `stages` have been applied (or found
    /// unchanged).
    Applying {
        /// The stage, from 1.
        stage: usize,
        /// How many stages there are.
        stages: usize,
        /// Objects handled so far.
        done: usize,
        /// Objects in the stage.
        total: usize,
    },
    /// Waiting for a CustomResourceDefinition to be established.
    Establishing {
        /// The CustomResourceDefinition.
        id: &'a ObjectId,
    },
    /// `done` of `total` objects to prune have been handled.
    Pruning {
        /// Objects handled so far.
        done: usize,
        /// Objects to prune.
        total: usize,
    },
    /// `ready` of `total` objects are ready; `waiting` is one that is not, with its status.
    Waiting {
        /// Objects ready.
        ready: usize,
        /// Objects waited for.
        total: usize,
        /// The first object not ready, and why.
        waiting: Option<(&'a ObjectId, &'a str)>,
    },
}

type ProgressFn = Box<dyn Fn(Progress<'_>) + Send + Sync>;

/// A custom health rule for [`Manager::wait_with`]: the verdict on a live object, or none to
/// use kstatus' rules.
pub type CustomHealth<'a> = dyn Fn(&Value) -> Option<weir_kstatus::Health> + Send + Sync + 'a;

/// Applies objects to one cluster with server-side apply.
///
/// It remembers which API resource serves each kind, so reuse one manager across applies.
pub struct Manager {
    client: kube::Client,
    options: Options,
    resources: Mutex<HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What identifies an object, read from the object itself.
struct Identity {
    id: ObjectId,
    /// The version part of `apiVersion`.
    version: String,
    api_version: String,
}

impl Identity {
    /// The identity of `object`, the `index`th of the input. The namespace is the object's own;
    /// for cluster-scoped kinds, [`Manager::dry_run`] clears it once discovery has told.
    fn of(index: usize, object: &Object) -> Result<Self, Error> {
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        let metadata = |key: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let (api_version, kind, name) = (text("apiVersion"), text("kind"), metadata("name"));
        let invalid = |reason| Error::Invalid {
            index,
            kind: kind.to_owned(),
            name: name.to_owned(),
            reason,
        };
        if api_version.is_empty() {
            return Err(invalid("apiVersion is not set"));
        }
        if kind.is_empty() {
            return Err(invalid("kind is not set"));
        }
        if name.is_empty() {
            return Err(invalid("metadata.name is not set"));
        }
        let (group_kind, version) = GroupKind::from_api_version(api_version, kind);
        Ok(Identity {
            id: ObjectId {
                group_kind,
                namespace: metadata("namespace").to_owned(),
                name: name.to_owned(),
            },
            version,
            api_version: api_version.to_owned(),
        })
    }
}

/// An object of a stage that passed the dry run, waiting to be applied.
struct Planned {
    id: ObjectId,
    version: String,
    api: Api<DynamicObject>,
    /// What is applied: the input object, less a namespace on a cluster-scoped kind.
    object: Value,
    live: Option<DynamicObject>,
    /// `live` was read from etcd, not from the watch cache: its content can be compared with
    /// the dry run whatever the resource versions (other controllers write status meanwhile).
    live_verified: bool,
    dry_run: DynamicObject,
    /// Immutable fields changed and force is on: delete, then create.
    recreate: bool,
}

impl Manager {
    /// A manager applying through `client`.
    pub fn new(client: kube::Client, options: Options) -> Self {
        Manager {
            client,
            options,
            resources: Mutex::new(HashMap::new()),
            progress: None,
        }
    }

    /// Reports what the manager is doing to `report` as it goes (see [`Progress`]).
    #[must_use]
    pub fn with_progress(mut self, report: impl Fn(Progress<'_>) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    fn report(&self, progress: Progress<'_>) {
        if let Some(report) = &self.progress {
            report(progress);
        }
    }

    /// The options this manager applies with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Splits `objects` into [stages](crate::stage) and applies them in order, waiting for
    /// CustomResourceDefinitions of the first stage to be established before the second.
    ///
    /// Each stage is dry-run as a whole first: if the API server refuses any object, nothing of
    /// that stage is written and [`Error::DryRun`] lists every refused object. Stages applied
    /// before stay applied. Objects that cannot be named ([`Error::Invalid`]) are refused before
    /// anything is written.
    pub async fn apply_all_staged(&self, objects: Vec<Object>) -> Result<ChangeSet, Error> {
        for (index, object) in objects.iter().enumerate() {
            Identity::of(index, object)?;
        }
        let stages = stage::stage(objects);
        let count = stages.in_order().count();
        let mut set = ChangeSet::default();
        for (index, objects) in stages.in_order().enumerate() {
            let applied = self.apply_stage(objects, (index + 1, count)).await?;
            if !self.options.dry_run {
                self.wait_established(&applied).await?;
            }
            set.extend(applied);
        }
        Ok(set)
    }

    /// What applying `objects` would change, object by object, from a server-side dry run:
    /// the live object and the object as the API server would store it, both without
    /// bookkeeping fields and status, Secret values masked. Writes nothing. Refused objects
    /// fail the call as in [`Manager::apply_all_staged`]; objects of kinds not served yet (a CRD
    /// in the same set) are refused too.
    pub async fn diff(&self, objects: Vec<Object>) -> Result<Vec<Difference>, Error> {
        for (index, object) in objects.iter().enumerate() {
            Identity::of(index, object)?;
        }
        let stages = stage::stage(objects);
        let mut out = Vec::new();
        let mut rejections = Vec::new();
        for objects in stages.in_order() {
            for (index, object) in objects.iter().enumerate() {
                let identity = Identity::of(index, object)?;
                match self.dry_run(identity, object).await {
                    Ok(p) => {
                        let live = p.live.as_ref().and_then(comparable);
                        let merged = comparable(&p.dry_run).unwrap_or(Value::Null);
                        let (live, merged) = mask_secret(&p.id, live, merged);
                        let action = match &live {
                            None => Action::Created,
                            Some(l) if *l == merged => Action::Unchanged,
                            Some(_) => Action::Configured,
                        };
                        out.push(Difference {
                            id: p.id,
                            action,
                            live,
                            merged,
                        });
                    }
                    Err(rejection) => rejections.push(*rejection),
                }
            }
        }
        if rejections.is_empty() {
            Ok(out)
        } else {
            Err(Error::DryRun { rejections })
        }
    }

    /// Applies one stage: a server-side dry run of every object, then, if none was refused,
    /// a server-side apply of every object that the dry run shows would change. Up to eight
    /// objects (`PARALLEL_REQUESTS`) are in flight at a time; results keep the input order.
    async fn apply_stage(
        &self,
        objects: &[Object],
        (stage, stages): (usize, usize),
    ) -> Result<ChangeSet, Error> {
        let total = objects.len();
        // Futures made in a loop, not a closure: a closure over borrowed objects is not
        // general enough for the controller's `Send` bound.
        let mut pending = Vec::with_capacity(total);
        for (index, object) in objects.iter().enumerate() {
            pending.push(self.dry_run(Identity::of(index, object)?, object));
        }
        let mut dry_runs = stream::iter(pending).buffered(PARALLEL_REQUESTS);
        let mut planned = Vec::with_capacity(total);
        let mut rejections = Vec::new();
        let mut done = 0;
        while let Some(result) = dry_runs.next().await {
            self.report(Progress::Validating {
                stage,
                stages,
                done,
                total,
            });
            done += 1;
            match result {
                Ok(p) => planned.push(p),
                Err(rejection) => rejections.push(*rejection),
            }
        }
        if !rejections.is_empty() {
            return Err(Error::DryRun { rejections });
        }

        let params = self.params();
        let mut pending = Vec::with_capacity(planned.len());
        for p in planned {
            pending.push(self.apply_planned(p, &params));
        }
        let mut applies = stream::iter(pending).buffered(PARALLEL_REQUESTS);
        let mut changes = ChangeSet::default();
        let mut first_error = None;
        let mut done = 0;
        // Every started request is awaited, so that a failure leaves no apply in doubt.
        while let Some(result) = applies.next().await {
            self.report(Progress::Applying {
                stage,
                stages,
                done,
                total,
            });
            done += 1;
            match result {
                Ok(entry) => changes.entries.push(entry),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(changes),
        }
    }

    /// Applies one dry-run object when the dry run shows a change (or recreates it when
    /// immutable fields changed and force is allowed); says what happened.
    async fn apply_planned(
        &self,
        p: Planned,
        params: &PatchParams,
    ) -> Result<ChangeSetEntry, Error> {
        if let Some(reason) = skip_reason(&p) {
            debug!(object = %p.id, reason, "skipped");
            return Ok(ChangeSetEntry {
                id: p.id,
                version: p.version,
                action: Action::Skipped,
                reason: Some(reason.to_owned()),
            });
        }
        let mut reason = None;
        let action = if p.recreate {
            reason = Some("immutable fields changed".to_owned());
            if !self.options.dry_run {
                self.recreate(&p, params).await?;
            }
            Action::Recreated
        } else if self.options.dry_run {
            match &p.live {
                Some(live) if unchanged(live, &p) => Action::Unchanged,
                Some(_) => Action::Configured,
                None => Action::Created,
            }
        } else {
            let took_over = self.take_over(&p).await?;
            if took_over {
                reason = Some("took over fields set with kubectl".to_owned());
            }
            match &p.live {
                Some(live) if !took_over && unchanged(live, &p) => Action::Unchanged,
                live => {
                    let created = live.is_none();
                    p.api
                        .patch(&p.id.name, params, &Patch::Apply(&p.object))
                        .await
                        .map_err(|source| Error::Apply {
                            id: p.id.clone(),
                            source: Box::new(source),
                        })?;
                    if created {
                        Action::Created
                    } else {
                        Action::Configured
                    }
                }
            }
        };
        debug!(object = %p.id, %action, "applied");
        Ok(ChangeSetEntry {
            id: p.id,
            version: p.version,
            action,
            reason,
        })
    }

    /// Hands the fields `kubectl` set on the live object to this manager (see
    /// [`takeover`]), unless the object's policy is `ssa: Merge`. Returns whether it did.
    async fn take_over(&self, p: &Planned) -> Result<bool, Error> {
        let Some(live) = &p.live else {
            return Ok(false);
        };
        if annotation(p, SSA_ANNOTATION).is_some_and(|v| v.eq_ignore_ascii_case("merge")) {
            return Ok(false);
        }
        let live = serde_json::to_value(live).unwrap_or_default();
        let Some(patch) =
            takeover::patch(&live, &self.options.field_manager, &self.options.take_over)
        else {
            return Ok(false);
        };
        p.api
            .patch(&p.id.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::Apply {
                id: p.id.clone(),
                source: Box::new(source),
            })?;
        debug!(object = %p.id, "took over kubectl's fields");
        Ok(true)
    }

    /// Deletes the live object (only the one the dry run saw, by UID), waits until it is gone
    /// and applies the desired one.
    async fn recreate(&self, p: &Planned, params: &PatchParams) -> Result<(), Error> {
        let uid = p.live.as_ref().and_then(|l| l.metadata.uid.clone());
        let delete = DeleteParams {
            preconditions: uid.clone().map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        let failed = |source| Error::Apply {
            id: p.id.clone(),
            source: Box::new(source),
        };
        match p.api.delete(&p.id.name, &delete).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(failed(err)),
        }
        let deadline = Instant::now() + self.options.recreate_timeout;
        loop {
            let current = p.api.get_opt(&p.id.name).await.map_err(failed)?;
            if current.is_none_or(|c| c.metadata.uid != uid) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::Recreate {
                    id: p.id.clone(),
                    seconds: self.options.recreate_timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        p.api
            .patch(&p.id.name, params, &Patch::Apply(&p.object))
            .await
            .map_err(failed)?;
        Ok(())
    }

    fn params(&self) -> PatchParams {
        let params = PatchParams::apply(&self.options.field_manager);
        if self.options.force_conflicts {
            params.force()
        } else {
            params
        }
    }

    /// Reads the live object and dry-runs the apply of `object`, or says why the API server
    /// refused it.
    async fn dry_run(
        &self,
        identity: Identity,
        object: &Object,
    ) -> Result<Planned, Box<Rejection>> {
        let Identity {
            mut id,
            version,
            api_version,
        } = identity;
        let reject = |id: &ObjectId, (reason, message): (Option<String>, String)| {
            Box::new(Rejection {
                id: id.clone(),
                reason,
                message,
            })
        };

        let kind = id.group_kind.kind.clone();
        let gvk = GroupVersionKind::gvk(&id.group_kind.group, &version, &kind);
        let (resource, capabilities) = self.resolve(&gvk).await.map_err(|_| {
            let message = format!("no matches for kind \"{kind}\" in version \"{api_version}\"");
            reject(&id, (None, message))
        })?;
        let mut object = object.clone();
        let api = match capabilities.scope {
            Scope::Namespaced if id.namespace.is_empty() => {
                let Some(namespace) = &self.options.default_namespace else {
                    return Err(reject(&id, (None, "namespace not specified".to_owned())));
                };
                id.namespace = namespace.clone();
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.insert("namespace".into(), Value::String(namespace.clone()));
                }
                Api::namespaced_with(self.client.clone(), namespace, &resource)
            }
            Scope::Namespaced => {
                Api::namespaced_with(self.client.clone(), &id.namespace, &resource)
            }
            Scope::Cluster => {
                // A namespace on a cluster-scoped object means nothing; the inventory must not
                // record one.
                id.namespace.clear();
                if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.remove("namespace");
                }
                Api::all_with(self.client.clone(), &resource)
            }
        };

        // From the API server's watch cache (`resourceVersion=0`): no etcd read. A stale copy
        // is harmless: an object is unchanged only when the dry run was made on the very
        // version read (see `unchanged`).
        let live = match api.get_with(&id.name, &GetParams::any()).await {
            Ok(live) => Some(live),
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(err) => return Err(reject(&id, message(err))),
        };
        let object = Value::Object(object);
        let mut planned = Planned {
            id,
            version,
            api,
            object,
            live,
            dry_run: DynamicObject::new("", &resource),
            live_verified: false,
            recreate: false,
        };
        let result = planned
            .api
            .patch(
                &planned.id.name,
                &self.params().dry_run(),
                &Patch::Apply(&planned.object),
            )
            .await;
        match result {
            Ok(dry_run) => {
                // The cached read was older than what the dry run saw: read again, from etcd.
                let seen = planned.live.as_ref().map(|l| &l.metadata.resource_version);
                let stored = dry_run.metadata.resource_version.as_ref();
                if stored.is_some_and(|v| !v.is_empty())
                    && seen != Some(&dry_run.metadata.resource_version)
                {
                    planned.live = planned
                        .api
                        .get_opt(&planned.id.name)
                        .await
                        .map_err(|err| reject(&planned.id, message(err)))?;
                    planned.live_verified = true;
                }
                planned.dry_run = dry_run;
            }
            Err(err) if planned.live.is_some() && is_immutable(&err) => {
                let forced = self.options.force
                    || annotation(&planned, FORCE_ANNOTATION)
                        .is_some_and(|v| v.eq_ignore_ascii_case("enabled"));
                if !forced {
                    let (_, message) = message(err);
                    return Err(reject(
                        &planned.id,
                        (
                            Some("Immutable".to_owned()),
                            format!(
                                "{message}; to delete and recreate the object, apply with force \
                                 (--force, spec.force) or annotate it with \
                                 {FORCE_ANNOTATION}: enabled"
                            ),
                        ),
                    ));
                }
                planned.dry_run = self
                    .dry_run_create(&planned)
                    .await
                    .map_err(|err| reject(&planned.id, message(err)))?;
                planned.recreate = true;
            }
            Err(err) => return Err(reject(&planned.id, message(err))),
        }
        Ok(planned)
    }

    /// Validates `p`'s desired object as a new object, for an object that is to be recreated:
    /// a dry-run create under a generated name (the real name is taken by the live object),
    /// returned with the real name back.
    async fn dry_run_create(&self, p: &Planned) -> Result<DynamicObject, kube::Error> {
        let mut object: DynamicObject =
            serde_json::from_value(p.object.clone()).map_err(kube::Error::SerdeError)?;
        object.metadata.name = None;
        object.metadata.generate_name = Some(format!("{}-", p.id.name));
        let params = kube::api::PostParams {
            dry_run: true,
            field_manager: Some(self.options.field_manager.clone()),
        };
        let mut created = p.api.create(&params, &object).await?;
        created.metadata.name = Some(p.id.name.clone());
        created.metadata.generate_name = None;
        Ok(created)
    }

    /// Waits until every object of `set` that was not skipped or deleted is ready (kstatus
    /// `Current`), polling every `interval`. Fails fast when one is `Failed`; on timeout the
    /// error names every object not ready with its last status message.
    pub async fn wait(
        &self,
        set: &ChangeSet,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), Error> {
        self.wait_with(set, timeout, interval, &|_| None).await
    }

    /// As [`Manager::wait`], with `custom` deciding the health of the objects it knows
    /// (returning none leaves an object to kstatus' rules), such as Flux's
    /// `healthCheckExprs`. It sees the live object with its `apiVersion` and `kind`.
    pub async fn wait_with(
        &self,
        set: &ChangeSet,
        timeout: Duration,
        interval: Duration,
        custom: &CustomHealth<'_>,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<&ChangeSetEntry> = set
            .entries
            .iter()
            .filter(|e| !matches!(e.action, Action::Skipped | Action::Deleted))
            .collect();
        let total = pending.len();
        loop {
            let mut still = Vec::new();
            let mut waiting = Vec::new();
            let mut failed = Vec::new();
            for entry in pending {
                let message = match self.health(entry, custom).await {
                    Ok(health) => match health.status {
                        weir_kstatus::Status::Current => continue,
                        weir_kstatus::Status::Failed => {
                            failed.push((entry.id.clone(), health.message));
                            continue;
                        }
                        other => format!("{other}: {}", health.message),
                    },
                    Err(message) => message,
                };
                waiting.push((entry.id.clone(), message));
                still.push(entry);
            }
            self.report(Progress::Waiting {
                ready: total - still.len(),
                total,
                waiting: waiting.first().map(|(id, why)| (id, why.as_str())),
            });
            if !failed.is_empty() {
                return Err(Error::NotReady {
                    failed,
                    pending: waiting,
                    seconds: timeout.as_secs(),
                });
            }
            if still.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    failed,
                    pending: waiting,
                    seconds: timeout.as_secs(),
                });
            }
            pending = still;
            tokio::time::sleep(interval).await;
        }
    }

    /// Whether any object deleted in `set` still exists (finalizers may hold it).
    pub async fn any_exists(&self, set: &ChangeSet) -> Result<bool, Error> {
        for entry in set.entries.iter().filter(|e| e.action == Action::Deleted) {
            let id = &entry.id;
            let Ok(api) = self.api_for(id, &entry.version).await else {
                continue;
            };
            let live = api
                .get_opt(&id.name)
                .await
                .map_err(|source| Error::Delete {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            if live.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The kstatus health of the live object behind `entry`, or why it cannot be read.
    async fn health(
        &self,
        entry: &ChangeSetEntry,
        custom: &CustomHealth<'_>,
    ) -> Result<weir_kstatus::Health, String> {
        let id = &entry.id;
        let api = self
            .api_for(id, &entry.version)
            .await
            .map_err(|e| e.to_string())?;
        let live = api
            .get_opt(&id.name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "NotFound".to_owned())?;
        let mut value = serde_json::to_value(&live).map_err(|e| e.to_string())?;
        if let Some(map) = value.as_object_mut() {
            let gvk =
                GroupVersionKind::gvk(&id.group_kind.group, &entry.version, &id.group_kind.kind);
            map.insert("apiVersion".into(), Value::String(gvk.api_version()));
            map.insert("kind".into(), Value::String(gvk.kind));
        }
        match custom(&value) {
            Some(health) => Ok(health),
            None => weir_kstatus::compute(&value).map_err(|e| e.to_string()),
        }
    }

    /// Deletes the objects of `old` that are not in `new` (Flux's prune), in a safe order:
    /// namespaced objects, cluster-scoped ones, Namespaces, CustomResourceDefinitions last.
    ///
    /// Never deletes anything outside `old`. Objects annotated
    /// `kustomize.toolkit.fluxcd.io/prune: disabled` are left in place and reported as
    /// skipped; objects already gone, or whose kind is no longer served, are skipped too.
    pub async fn prune(&self, old: &Inventory, new: &Inventory) -> Result<ChangeSet, Error> {
        let mut changes = ChangeSet::default();
        let doomed = Inventory::diff(old, new);
        let total = doomed.len();
        for (done, id) in doomed.into_iter().enumerate() {
            self.report(Progress::Pruning { done, total });
            let version = old
                .entries
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.version.clone())
                .unwrap_or_default();
            let skipped = |reason: &str| ChangeSetEntry {
                id: id.clone(),
                version: version.clone(),
                action: Action::Skipped,
                reason: Some(reason.to_owned()),
            };
            let Ok(api) = self.api_for(&id, &version).await else {
                changes.entries.push(skipped("kind no longer served"));
                continue;
            };
            let live = api
                .get_opt(&id.name)
                .await
                .map_err(|source| Error::Delete {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            let Some(live) = live else {
                changes.entries.push(skipped("already deleted"));
                continue;
            };
            let disabled = live
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(PRUNE_ANNOTATION))
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
            if disabled {
                changes
                    .entries
                    .push(skipped("pruning is disabled by annotation"));
                continue;
            }
            api.delete(&id.name, &DeleteParams::background())
                .await
                .map_err(|source| Error::Delete {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            debug!(object = %id, "pruned");
            changes.entries.push(ChangeSetEntry {
                id,
                version,
                action: Action::Deleted,
                reason: None,
            });
        }
        Ok(changes)
    }

    /// The API for the recorded object `id` at `version`, namespaced or cluster-wide as its
    /// kind is served.
    async fn api_for(
        &self,
        id: &ObjectId,
        version: &str,
    ) -> Result<Api<DynamicObject>, kube::Error> {
        let gvk = GroupVersionKind::gvk(&id.group_kind.group, version, &id.group_kind.kind);
        let (resource, capabilities) = self.resolve(&gvk).await?;
        Ok(match capabilities.scope {
            Scope::Namespaced => {
                Api::namespaced_with(self.client.clone(), &id.namespace, &resource)
            }
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// The API resource serving `gvk`, from the cache or discovery. Failures are not cached:
    /// a kind may become served later (its CustomResourceDefinition being established).
    async fn resolve(
        &self,
        gvk: &GroupVersionKind,
    ) -> Result<(ApiResource, ApiCapabilities), kube::Error> {
        if let Some(found) = self.cache().get(gvk) {
            return Ok(found.clone());
        }
        let found = kube::discovery::pinned_kind(&self.client, gvk).await?;
        self.cache().insert(gvk.clone(), found.clone());
        Ok(found)
    }

    fn cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>> {
        // The map is only ever inserted into whole entries, so a poisoned one is still valid.
        self.resources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every CustomResourceDefinition in `applied` is established and each of its
    /// served versions is discoverable, so that the next stage can apply its custom resources.
    async fn wait_established(&self, applied: &ChangeSet) -> Result<(), Error> {
        let timeout = self.options.establish_timeout;
        let deadline = Instant::now() + timeout;
        for entry in &applied.entries {
            let id = &entry.id;
            if id.group_kind.group != "apiextensions.k8s.io"
                || id.group_kind.kind != "CustomResourceDefinition"
            {
                continue;
            }
            let gvk =
                GroupVersionKind::gvk(&id.group_kind.group, &entry.version, &id.group_kind.kind);
            self.report(Progress::Establishing { id });
            loop {
                let detail = match self.get(&gvk, &id.name).await {
                    Ok(Some(crd)) => match self.established(&crd).await {
                        Ok(()) => break,
                        Err(detail) => detail,
                    },
                    Ok(None) => "not found".to_owned(),
                    Err(err) => err.to_string(),
                };
                if Instant::now() >= deadline {
                    return Err(Error::NotEstablished {
                        id: id.clone(),
                        seconds: timeout.as_secs(),
                        detail: detail.into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Reads a cluster-scoped object.
    async fn get(
        &self,
        gvk: &GroupVersionKind,
        name: &str,
    ) -> Result<Option<DynamicObject>, kube::Error> {
        let (resource, _) = self.resolve(gvk).await?;
        Api::all_with(self.client.clone(), &resource)
            .get_opt(name)
            .await
    }

    /// `Ok` when `crd` is established and its served versions are discoverable; otherwise why
    /// not.
    async fn established(&self, crd: &DynamicObject) -> Result<(), String> {
        let value = serde_json::to_value(crd).map_err(|err| err.to_string())?;
        let health = weir_kstatus::compute(&value).map_err(|err| err.to_string())?;
        if health.status != weir_kstatus::Status::Current {
            return Err(format!("{}: {}", health.status, health.message));
        }
        let spec = &value["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let kind = spec["names"]["kind"].as_str().unwrap_or_default();
        let versions = spec["versions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for version in versions {
            if version["served"].as_bool() != Some(true) {
                continue;
            }
            let name = version["name"].as_str().unwrap_or_default();
            let gvk = GroupVersionKind::gvk(group, name, kind);
            self.resolve(&gvk)
                .await
                .map_err(|err| format!("{group}/{name} {kind} is not served yet: {err}"))?;
        }
        Ok(())
    }
}

/// The API server's reason and message for a refused request, without kube's wrapping.
fn message(err: kube::Error) -> (Option<String>, String) {
    match err {
        kube::Error::Api(status) => {
            let conflict = status.details.as_ref().is_some_and(|details| {
                details
                    .causes
                    .iter()
                    .any(|cause| cause.reason == "FieldManagerConflict")
            });
            let reason = if conflict {
                Some("FieldManagerConflict".to_owned())
            } else {
                Some(status.reason.clone()).filter(|r| !r.is_empty())
            };
            let message = if status.message.is_empty() {
                kube::Error::Api(status).to_string()
            } else {
                status.message
            };
            (reason, message)
        }
        other => (None, other.to_string()),
    }
}

/// Whether the API server refused a change because it touches an immutable field: a 422
/// (Invalid) whose message says so, in the words the built-in validations and common
/// admission webhooks use. Other validation errors are not: recreating would not help them.
fn is_immutable(err: &kube::Error) -> bool {
    let kube::Error::Api(status) = err else {
        return false;
    };
    if status.code != 422 {
        return false;
    }
    let texts = std::iter::once(status.message.as_str()).chain(
        status
            .details
            .iter()
            .flat_map(|d| d.causes.iter().map(|c| c.message.as_str())),
    );
    texts.into_iter().any(|text| {
        let text = text.to_ascii_lowercase();
        text.contains("field is immutable")
            || text.contains("is immutable")
            || text.contains("may not change once set")
            || text.contains("cannot be changed")
            || (text.contains("updates to") && text.contains("are forbidden"))
    })
}

/// Whether a dry-run result equals the live object, ignoring what every write changes
/// (managed fields, resource version, generation) and the status, which an apply to the main
/// resource never changes but controllers may update between the two reads.
/// One object's difference, from [`Manager::diff`].
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The object.
    pub id: ObjectId,
    /// Created, Configured or Unchanged.
    pub action: Action,
    /// The live object, if it exists.
    pub live: Option<Value>,
    /// The object after the apply.
    pub merged: Value,
}

/// An object without the fields the API server maintains, for comparing and showing.
fn comparable(object: &DynamicObject) -> Option<Value> {
    let mut value = serde_json::to_value(object).ok()?;
    let map = value.as_object_mut()?;
    map.remove("status");
    if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            metadata.remove(key);
        }
    }
    Some(value)
}

/// Secret values never leave the cluster in a diff: each is replaced by a mask that only
/// tells whether it changed.
fn mask_secret(id: &ObjectId, live: Option<Value>, merged: Value) -> (Option<Value>, Value) {
    if !id.group_kind.group.is_empty() || id.group_kind.kind != "Secret" {
        return (live, merged);
    }
    let keys = |v: &Value| -> Vec<(String, String)> {
        ["data", "stringData"]
            .iter()
            .flat_map(|f| {
                v.get(*f)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(move |(k, val)| (format!("{f}/{k}"), val.to_string()))
            })
            .collect()
    };
    let before = live.as_ref().map(keys).unwrap_or_default();
    let after = keys(&merged);
    let mask = |v: &mut Value, own: &[(String, String)], other: &[(String, String)], tag: &str| {
        for field in ["data", "stringData"] {
            if let Some(map) = v.get_mut(field).and_then(Value::as_object_mut) {
                for (k, val) in map.iter_mut() {
                    let key = format!("{field}/{k}");
                    let mine = own.iter().find(|(x, _)| *x == key).map(|(_, v)| v);
                    let theirs = other.iter().find(|(x, _)| *x == key).map(|(_, v)| v);
                    *val = Value::String(if mine == theirs {
                        "***".to_owned()
                    } else {
                        format!("*** ({tag})")
                    });
                }
            }
        }
    };
    let mut live = live;
    let mut merged = merged;
    if let Some(l) = live.as_mut() {
        mask(l, &before, &after, "before");
    }
    mask(&mut merged, &after, &before, "after");
    (live, merged)
}

/// Whether applying `p` would change nothing: the dry run gives the same object as the live
/// one, and the live object is trustworthy: read from etcd, or read from the watch cache at
/// the version the dry run was made on (a dry run reports the stored version; a newer one
/// means the cached read was stale).
fn unchanged(live: &DynamicObject, p: &Planned) -> bool {
    let trusted = p.live_verified
        || (live.metadata.resource_version.is_some()
            && live.metadata.resource_version == p.dry_run.metadata.resource_version);
    trusted && same(live, &p.dry_run)
}

fn same(live: &DynamicObject, dry_run: &DynamicObject) -> bool {
    fn normalised(object: &DynamicObject) -> Option<Value> {
        let mut value = serde_json::to_value(object).ok()?;
        let map = value.as_object_mut()?;
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["managedFields", "resourceVersion", "generation"] {
                metadata.remove(key);
            }
        }
        Some(value)
    }
    match (normalised(live), normalised(dry_run)) {
        (Some(live), Some(dry_run)) => live == dry_run,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;
    use serde_json::json;

    use super::*;

    fn object(resource_version: &str, data: Value) -> DynamicObject {
        DynamicObject {
            types: None,
            metadata: ObjectMeta {
                name: Some("cm".to_owned()),
                resource_version: Some(resource_version.to_owned()),
                ..ObjectMeta::default()
            },
            data,
        }
    }

    #[test]
    fn comparison_ignores_write_bookkeeping_and_status() {
        let live = object("1", json!({ "data": { "a": "1" }, "status": { "x": 1 } }));
        let dry_run = object("2", json!({ "data": { "a": "1" }, "status": { "x": 2 } }));
        assert!(same(&live, &dry_run));
        let changed = object("1", json!({ "data": { "a": "2" } }));
        assert!(!same(&live, &changed));
    }

    #[test]
    fn dry_run_errors_list_every_rejected_object() {
        let err = Error::DryRun {
            rejections: vec![
                Rejection {
                    id: ObjectId::new("apps", "Deployment", "ns", "web"),
                    reason: Some("Invalid".to_owned()),
                    message: "spec.replicas: Invalid value: -1".to_owned(),
                },
                Rejection {
                    id: ObjectId::new("example.com", "Widget", "ns", "w"),
                    reason: None,
                    message: "no matches for kind \"Widget\" in version \"example.com/v1\""
                        .to_owned(),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "Deployment/ns/web dry-run failed (Invalid): spec.replicas: Invalid value: -1\n\
             Widget/ns/w dry-run failed: no matches for kind \"Widget\" in version \"example.com/v1\""
        );
    }
}
