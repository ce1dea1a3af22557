//! What every reconciler needs: reading spec fields, writing the status, counting failures
//! for the back-off, and the outcome handed to the runtime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

/// A Kubernetes Event to record about the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// A Warning rather than a Normal event.
    pub warning: bool,
    /// The reason, such as `NewArtifact`.
    pub reason: String,
    /// The message.
    pub message: String,
}

/// What a reconcile decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// When to reconcile again (none: only when the object changes).
    pub requeue: Option<Duration>,
    /// An event to record.
    pub event: Option<Event>,
    /// The object's `Ready` status afterwards, for the metrics; none when unchanged.
    pub ready: Option<bool>,
}

/// Back-off after `failures` consecutive failures: 2 s doubling, at most `interval`.
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(10);
    Duration::from_secs(2u64 << exp).min(interval)
}

/// Consecutive failures per object.
#[derive(Debug, Default)]
pub struct Failures(Mutex<HashMap<String, u32>>);

impl Failures {
    /// Records a failure of `key` and returns how many in a row.
    pub fn failed(&self, key: &str) -> u32 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_owned()).or_default();
        *n += 1;
        *n
    }

    /// Records a success of `key`.
    pub fn succeeded(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// When each object is next due, to tell a real trigger (a change, a reconcile request) from
/// the echo of the controller's own status write, which needs no work.
#[derive(Debug, Default)]
pub struct Due(Mutex<HashMap<String, Instant>>);

impl Due {
    /// Records that `key` is next due `after` from now.
    pub fn set(&self, key: &str, after: Duration) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), Instant::now() + after);
    }

    /// The time left before `key` is due; none when it is due (or unknown).
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        let due = *self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key)?;
        due.checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

/// Whether `object` carries a `reconcile.fluxcd.io/requestedAt` value its status has not
/// acknowledged yet.
pub fn request_pending(object: &DynamicObject) -> bool {
    let requested = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(weir_api::RECONCILE_REQUESTED_AT));
    let handled = object
        .data
        .pointer("/status/lastHandledReconcileAt")
        .and_then(Value::as_str);
    requested.is_some_and(|r| Some(r.as_str()) != handled)
}

/// The string at JSON `pointer` in `value`.
pub fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The object's status as a map (empty when it has none).
pub fn status_of(object: &DynamicObject) -> Map<String, Value> {
    object
        .data
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The conditions of a status.
pub fn conditions_of(status: &Map<String, Value>) -> Vec<Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Writes `status` to the status subresource of `name`.
pub async fn patch_status(
    api: &Api<DynamicObject>,
    name: &str,
    status: Map<String, Value>,
) -> Result<(), kube::Error> {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// Why a source reconcile failed: the condition reason and a message for the user.
pub type Failure = (weir_api::status::Reason, String);

/// What a successful source reconcile produced.
#[derive(Debug, Clone)]
pub struct Produced {
    /// `status.artifact`.
    pub artifact: Value,
    /// The `Ready` message.
    pub message: String,
    /// The event to record (a new artifact), if any.
    pub event: Option<Event>,
    /// Other status fields to set (`null`: remove the field).
    pub fields: Map<String, Value>,
}

/// The bookkeeping of one source object's reconcile.
#[derive(Debug)]
pub struct Bookkeeping<'a> {
    /// The object's API.
    pub api: &'a Api<DynamicObject>,
    /// Its name.
    pub name: &'a str,
    /// `namespace/name`.
    pub key: &'a str,
    /// Its `metadata.generation`.
    pub generation: i64,
    /// `spec.interval`.
    pub interval: Duration,
    /// Consecutive failures, for the back-off.
    pub failures: &'a Failures,
    /// When it is next due.
    pub due: &'a Due,
}

/// Writes the status of a source reconcile, as Flux's source-controller does: on success an
/// artifact with `ArtifactInStorage` and `Ready` true; on failure `FetchFailed`, `Ready` false
/// and `Reconciling` with a retry after a back-off.
pub async fn conclude(
    book: &Bookkeeping<'_>,
    mut status: Map<String, Value>,
    result: Result<Produced, Failure>,
) -> Result<Outcome, kube::Error> {
    use weir_api::status::{self, ConditionType, Reason};
    let generation = book.generation;
    let mut conditions = conditions_of(&status);
    match result {
        Ok(produced) => {
            book.failures.succeeded(book.key);
            for kind in [ConditionType::ArtifactInStorage, ConditionType::Ready] {
                status::set(
                    &mut conditions,
                    kind,
                    true,
                    Reason::Succeeded,
                    &produced.message,
                    generation,
                );
            }
            for kind in [
                ConditionType::FetchFailed,
                ConditionType::Reconciling,
                ConditionType::Stalled,
            ] {
                status::remove(&mut conditions, kind);
            }
            status.insert("conditions".into(), Value::Array(conditions));
            status.insert("artifact".into(), produced.artifact);
            status.insert("observedGeneration".into(), json!(generation));
            for (field, value) in produced.fields {
                if value.is_null() {
                    status.remove(&field);
                } else {
                    status.insert(field, value);
                }
            }
            patch_status(book.api, book.name, status).await?;
            book.due.set(book.key, book.interval);
            Ok(Outcome {
                requeue: Some(book.interval),
                event: produced.event,
                ready: Some(true),
            })
        }
        Err((reason, message)) => {
            let failures = book.failures.failed(book.key);
            tracing::info!(object = %book.key, %message, "source reconcile failed");
            for kind in [ConditionType::FetchFailed, ConditionType::Ready] {
                let failed = kind == ConditionType::FetchFailed;
                status::set(&mut conditions, kind, failed, reason, &message, generation);
            }
            status::set(
                &mut conditions,
                ConditionType::Reconciling,
                true,
                Reason::ProgressingWithRetry,
                &message,
                generation,
            );
            status.insert("conditions".into(), Value::Array(conditions));
            patch_status(book.api, book.name, status).await?;
            let retry = backoff(failures, book.interval);
            book.due.set(book.key, retry);
            Ok(Outcome {
                requeue: Some(retry),
                event: Some(Event {
                    warning: true,
                    reason: reason.as_str().to_owned(),
                    message,
                }),
                ready: Some(false),
            })
        }
    }
}

/// Stalls an object whose spec uses `field`, which Weir does not implement, with a message
/// naming it.
pub async fn stall_unsupported(
    book: &Bookkeeping<'_>,
    mut status: Map<String, Value>,
    kind: &str,
    field: &str,
) -> Result<Outcome, kube::Error> {
    use weir_api::status::{self, ConditionType, Reason};
    let message = format!(
        "{field} is not supported by Weir yet; remove it, or reconcile this {kind} with Flux's controllers"
    );
    let mut conditions = conditions_of(&status);
    for kind in [ConditionType::Stalled, ConditionType::Ready] {
        let stalled = kind == ConditionType::Stalled;
        status::set(
            &mut conditions,
            kind,
            stalled,
            Reason::Unsupported,
            &message,
            book.generation,
        );
    }
    status::remove(&mut conditions, ConditionType::Reconciling);
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("observedGeneration".into(), json!(book.generation));
    patch_status(book.api, book.name, status).await?;
    Ok(Outcome {
        ready: Some(false),
        event: Some(Event {
            warning: true,
            reason: Reason::Unsupported.as_str().into(),
            message,
        }),
        ..Outcome::default()
    })
}

/// How a source reconcile goes on after [`start`].
#[derive(Debug)]
pub enum Start {
    /// Nothing more to do (deleted, or suspended).
    Done(Outcome),
    /// Reconcile with this spec, generation and status (`lastHandledReconcileAt` set).
    Go {
        /// `spec`.
        spec: Value,
        /// `metadata.generation`.
        generation: i64,
        /// The status to write back.
        status: Map<String, Value>,
    },
}

/// What every source reconcile starts with: on deletion `cleanup` then the finalizer removed;
/// otherwise the finalizer added, a reconcile request acknowledged, and a suspended object
/// left alone.
pub async fn start(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    cleanup: impl FnOnce(),
) -> Result<Start, kube::Error> {
    if object.metadata.deletion_timestamp.is_some() {
        cleanup();
        crate::finalizer::remove(api, object).await?;
        return Ok(Start::Done(Outcome::default()));
    }
    crate::finalizer::add(api, object).await?;
    let spec = object.data.get("spec").cloned().unwrap_or_default();
    let mut status = status_of(object);
    if let Some(requested) = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(weir_api::RECONCILE_REQUESTED_AT))
    {
        status.insert("lastHandledReconcileAt".into(), json!(requested));
    }
    if spec["suspend"].as_bool() == Some(true) {
        let name = object.metadata.name.clone().unwrap_or_default();
        patch_status(api, &name, status).await?;
        return Ok(Start::Done(Outcome::default()));
    }
    Ok(Start::Go {
        spec,
        generation: object.metadata.generation.unwrap_or_default(),
        status,
    })
}
