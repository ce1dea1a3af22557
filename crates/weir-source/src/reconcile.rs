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
