//! Health of a Kubernetes object, computed from its JSON state the way kstatus does it.
//!
//! Flux decides whether applied objects are healthy with kstatus
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status`). This crate reproduces those rules so that Weir
//! reaches the same verdicts, with the same messages, on the same objects: a Deployment that
//! Flux reports as "Deployment does not have minimum availability" or "Available: 1/3" gets the
//! same words here.
//!
//! The rules, in the order kstatus applies them:
//!
//! 1. an object with `metadata.deletionTimestamp` is [`Status::Terminating`];
//! 2. an object whose `status.observedGeneration` differs from `metadata.generation` is
//!    [`Status::InProgress`];
//! 3. a `Reconciling=True` condition means [`Status::InProgress`], `Stalled=True` means
//!    [`Status::Failed`];
//! 4. built-in kinds have their own rules: Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod,
//!    Job, PersistentVolumeClaim, Service, PodDisruptionBudget, CustomResourceDefinition;
//!    ConfigMap, Secret and CronJob are always current;
//! 5. any other object with a `Ready` condition follows it;
//! 6. anything else is [`Status::Current`].
//!
//! Where the kinds' own fields are mistyped (`spec.replicas: "3"`), kstatus falls back to the
//! field's default and so does this crate; where the generic fields are (`status.conditions`
//! not being a list), it is an [`Error`]. No input makes it panic.
//!
//! Non-goals: fetching objects, watching or waiting for them to become healthy (the apply engine
//! polls and calls [`compute`] on each state it sees), and kstatus' `Augment` (writing the
//! computed conditions back into objects).
//!
//! ```
//! use serde_json::json;
//! use weir_kstatus::{compute, Status};
//!
//! let pvc = json!({
//!     "apiVersion": "v1",
//!     "kind": "PersistentVolumeClaim",
//!     "metadata": { "name": "data", "namespace": "default" },
//!     "status": { "phase": "Pending" },
//! });
//! let health = compute(&pvc)?;
//! assert_eq!(health.status, Status::InProgress);
//! assert_eq!(health.message, "PVC is not Bound. phase: Pending");
//! # Ok::<(), weir_kstatus::Error>(())
//! ```

mod builtin;
mod daemonset;
mod deployment;
mod generic;
mod job;
mod object;
#[cfg(test)]
mod odd_shapes;
mod pod;
mod statefulset;
mod timestamp;

use std::fmt;
use std::time::SystemTime;

use object::Object;

/// How far an object is from the state its spec asks for.
///
/// The names and their spelling (through [`Display`](fmt::Display)) are kstatus' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The object's controller is still working towards the desired state.
    InProgress,
    /// The object's controller has given up, or the object cannot reach the desired state
    /// without a change.
    Failed,
    /// The object has reached the desired state.
    Current,
    /// The object is being deleted.
    Terminating,
    /// The object does not exist. [`compute`] never returns it: it is for callers that looked
    /// the object up and found nothing.
    NotFound,
    /// The status could not be determined. [`compute`] never returns it (it returns an
    /// [`Error`]): it is for callers that need a status for an object they could not judge.
    Unknown,
}

impl Status {
    /// The status as kstatus spells it, e.g. `"InProgress"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Failed => "Failed",
            Self::Current => "Current",
            Self::Terminating => "Terminating",
            Self::NotFound => "NotFound",
            Self::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The standard condition types kstatus computes. Both follow the "abnormal-true" convention:
/// they are only ever reported with status `True`, and their absence means all is well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// The object is not yet in its desired state, but is expected to get there.
    Reconciling,
    /// The object is not in its desired state and is not expected to get there on its own.
    Stalled,
}

impl ConditionType {
    /// The condition type as it appears in `status.conditions`, e.g. `"Reconciling"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconciling => "Reconciling",
            Self::Stalled => "Stalled",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A computed standard condition. Its status is always `True`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Which condition this is.
    pub type_: ConditionType,
    /// A one-word CamelCase reason, e.g. `"LessReady"`, or the reason the object itself gave.
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
}

/// The outcome of [`compute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The verdict.
    pub status: Status,
    /// Why, in kstatus' words, e.g. `"Deployment is available. Replicas: 3"`.
    pub message: String,
    /// `Reconciling` for [`Status::InProgress`], `Stalled` for [`Status::Failed`], none
    /// otherwise; as kstatus computes them.
    pub conditions: Vec<Condition>,
}

impl Health {
    fn current(message: impl Into<String>) -> Self {
        Self {
            status: Status::Current,
            message: message.into(),
            conditions: Vec::new(),
        }
    }

    fn in_progress(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_condition(
            Status::InProgress,
            ConditionType::Reconciling,
            reason,
            message,
        )
    }

    fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_condition(Status::Failed, ConditionType::Stalled, reason, message)
    }

    fn with_condition(
        status: Status,
        type_: ConditionType,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Self {
            status,
            message: message.clone(),
            conditions: vec![Condition {
                type_,
                reason: reason.into(),
                message,
            }],
        }
    }
}

/// Why [`compute`] could not judge an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object itself is not a JSON object.
    #[error("the object is {found}, expected a JSON object")]
    NotAnObject {
        /// What it is instead, e.g. `"a list"`.
        found: &'static str,
    },
    /// A field kstatus relies on has the wrong type.
    #[error("`{path}` is {found}, expected {expected}")]
    Field {
        /// Where the field is, e.g. `"status.conditions[1].type"`.
        path: String,
        /// What it should be, e.g. `"a string"`.
        expected: &'static str,
        /// What it is, e.g. `"a number"`.
        found: &'static str,
    },
    /// A Pod is in a phase kstatus does not know (it knows `Pending`, `Running`, `Succeeded`
    /// and `Failed`; `Unknown` included, this is what it says of a Pod on a lost node).
    #[error("unknown Pod phase `{phase}`")]
    UnknownPodPhase {
        /// The phase found in `status.phase`.
        phase: String,
    },
}

/// Computes the health of `object`, the full state of a Kubernetes object as the API server
/// returns it (status included), as kstatus would.
///
/// The only rule that depends on time (a Pod that cannot be scheduled is given 15 seconds from
/// its creation before it is reported as failed) reads the system clock; [`compute_at`] takes
/// the time instead.
pub fn compute(object: &serde_json::Value) -> Result<Health, Error> {
    compute_at(object, SystemTime::now())
}

/// [`compute`], with `now` as the current time.
pub fn compute_at(object: &serde_json::Value, now: SystemTime) -> Result<Health, Error> {
    let root = object.as_object().ok_or(Error::NotAnObject {
        found: object::describe(object),
    })?;
    let object = Object::new(root);

    if let Some(health) = generic::terminating(&object)? {
        return Ok(health);
    }
    if let Some(health) = generic::generation(&object)? {
        return Ok(health);
    }
    // Parsed only now: kstatus does not look at conditions, and so does not reject malformed
    // ones, for objects that are being deleted or not yet observed.
    let conditions = object.conditions()?;
    if let Some(health) = generic::standard_conditions(&conditions) {
        return Ok(health);
    }
    if let Some(builtin) = builtin::Builtin::of(&object) {
        return builtin.health(&object, &conditions, now);
    }
    if let Some(health) = generic::ready(&conditions) {
        return Ok(health);
    }
    Ok(Health::current("Resource is current"))
}

#[cfg(test)]
mod testing {
    use std::time::{Duration, SystemTime};

    use super::{ConditionType, Health, Status, compute_at};

    /// 2024-05-01T12:00:00Z: tests judge objects at a fixed time.
    pub(crate) fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800)
    }

    pub(crate) fn health(object: &serde_json::Value) -> Health {
        compute_at(object, now()).expect("the test object is well-formed")
    }

    /// Checks status and message, and that the computed condition (if any) matches the status
    /// and carries `reason`.
    #[track_caller]
    pub(crate) fn check(
        object: &serde_json::Value,
        status: Status,
        message: &str,
        reason: Option<&str>,
    ) {
        let health = health(object);
        assert_eq!(health.status, status, "{health:?}");
        assert_eq!(health.message, message);
        match (status, reason) {
            (Status::InProgress | Status::Failed, Some(reason)) => {
                let type_ = if status == Status::Failed {
                    ConditionType::Stalled
                } else {
                    ConditionType::Reconciling
                };
                assert_eq!(health.conditions.len(), 1, "{health:?}");
                assert_eq!(health.conditions[0].type_, type_);
                assert_eq!(health.conditions[0].reason, reason);
            }
            (_, None) => assert!(health.conditions.is_empty(), "{health:?}"),
            (_, Some(_)) => unreachable!("only InProgress and Failed carry a condition"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{check, now};
    use super::*;

    #[test]
    fn statuses_display_as_kstatus_spells_them() {
        let all = [
            Status::InProgress,
            Status::Failed,
            Status::Current,
            Status::Terminating,
            Status::NotFound,
            Status::Unknown,
        ];
        let spelled: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            spelled,
            [
                "InProgress",
                "Failed",
                "Current",
                "Terminating",
                "NotFound",
                "Unknown"
            ]
        );
        assert_eq!(ConditionType::Reconciling.to_string(), "Reconciling");
        assert_eq!(ConditionType::Stalled.to_string(), "Stalled");
    }

    #[test]
    fn in_progress_carries_a_reconciling_condition_with_the_same_message() {
        let health = Health::in_progress("LessReady", "Ready: 1/3");
        assert_eq!(
            health.conditions,
            [Condition {
                type_: ConditionType::Reconciling,
                reason: "LessReady".into(),
                message: "Ready: 1/3".into(),
            }]
        );
    }

    #[test]
    fn a_non_object_is_an_error() {
        assert_eq!(
            compute_at(&json!(["a", "list"]), now()),
            Err(Error::NotAnObject { found: "a list" })
        );
        assert_eq!(
            compute_at(&json!(null), now())
                .expect_err("null is no object")
                .to_string(),
            "the object is null, expected a JSON object"
        );
    }

    #[test]
    fn an_empty_object_is_current() {
        check(&json!({}), Status::Current, "Resource is current", None);
    }

    #[test]
    fn compute_reads_the_clock() {
        // A Pod created long ago that cannot be scheduled fails whatever the clock says.
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "web", "creationTimestamp": "2020-01-01T00:00:00Z" },
            "status": {
                "phase": "Pending",
                "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable" }],
            },
        });
        assert_eq!(compute(&pod).map(|h| h.status), Ok(Status::Failed));
    }
}
