//! Pods.
//!
//! A Pod that has run to completion is Current whether it succeeded or not: kstatus judges
//! whether the Pod's controller did its job, not the workload's exit code. Of the many ways a
//! Pod can be stuck, kstatus calls only two Failed: a container in `CrashLoopBackOff` and a Pod
//! that still cannot be scheduled 15 seconds after its creation. An image that cannot be
//! pulled leaves the Pod `Pending`, which stays InProgress.

use std::time::SystemTime;

use serde_json::Value;

use crate::object::{
    Object, ObservedCondition, find_condition, member_object, member_str, mistyped,
};
use crate::timestamp::{self, Nanos};
use crate::{Error, Health};

/// How long a Pod may stay unschedulable before it is reported as failed: the scheduler may
/// still be making room (preemption, autoscaling).
const SCHEDULE_WINDOW_NANOS: Nanos = 15 * 1_000_000_000;

pub(crate) fn health(
    object: &Object<'_>,
    conditions: &[ObservedCondition<'_>],
    now: SystemTime,
) -> Result<Health, Error> {
    Ok(match object.str_or(&["status", "phase"], "") {
        "Succeeded" => Health::current("Pod has completed successfully"),
        "Failed" => Health::current("Pod has completed, but not successfully"),
        "Running" => {
            if find_condition(conditions, "Ready", "True").is_some() {
                return Ok(Health::current("Pod is Ready"));
            }
            let crash_looping = crash_looping_containers(object)?;
            if crash_looping.is_empty() {
                Health::in_progress("PodRunningNotReady", "Pod is running but is not Ready")
            } else {
                let names = crash_looping.join(",");
                let message = format!("Containers in CrashLoop state: {names}");
                Health::failed("ContainerCrashLooping", message)
            }
        }
        "Pending" => match find_condition(conditions, "PodScheduled", "False") {
            Some(c) if c.reason == "Unschedulable" => {
                if within_schedule_window(object, now) {
                    Health::in_progress("PodNotScheduled", "Pod has not been scheduled")
                } else {
                    Health::failed("PodUnschedulable", "Pod could not be scheduled")
                }
            }
            _ => Health::in_progress("PodPending", "Pod is in the Pending phase"),
        },
        // The kubelet has not reported on the Pod yet.
        "" => Health::in_progress("PodNotObserved", "Pod phase not available"),
        phase => {
            return Err(Error::UnknownPodPhase {
                phase: phase.to_owned(),
            });
        }
    })
}

/// Whether `now` is less than the schedule window after the Pod's creation. A missing or
/// unreadable creation time counts as long ago, as it does in kstatus.
fn within_schedule_window(object: &Object<'_>, now: SystemTime) -> bool {
    let created = timestamp::parse(object.str_or(&["metadata", "creationTimestamp"], ""));
    created.is_some_and(|created| timestamp::nanos(now) - SCHEDULE_WINDOW_NANOS < created)
}

/// Names of the containers waiting with reason `CrashLoopBackOff`, in status order.
///
/// kstatus reads `status.containerStatuses` strictly (and would crash on a mistyped entry); a
/// mistyped entry is an error here. Entries without a name or a waiting reason are skipped.
fn crash_looping_containers<'a>(object: &Object<'a>) -> Result<Vec<&'a str>, Error> {
    let Some(statuses) = object.list(&["status", "containerStatuses"])? else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for (index, entry) in statuses.iter().enumerate() {
        let at = || format!("status.containerStatuses[{index}]");
        let fields = match entry {
            Value::Object(fields) => fields,
            Value::Null => continue,
            other => return Err(mistyped(at(), "an object", other)),
        };
        let Some(name) = member_str(fields, "name", &at)? else {
            continue;
        };
        let Some(state) = member_object(fields, "state", &at)? else {
            continue;
        };
        let at_state = || format!("{}.state", at());
        let Some(waiting) = member_object(state, "waiting", &at_state)? else {
            continue;
        };
        let at_waiting = || format!("{}.waiting", at_state());
        if member_str(waiting, "reason", &at_waiting)? == Some("CrashLoopBackOff") {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{check, now};
    use crate::{Error, Status, compute_at};

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-5d8f7c9b4-q7x2m",
                "namespace": "apps",
                "creationTimestamp": "2024-05-01T11:50:00Z",
            },
            "spec": {
                "containers": [
                    { "name": "web", "image": "nginx:1.27" },
                    { "name": "sidecar", "image": "envoyproxy/envoy:v1.30.1" },
                ],
            },
            "status": status,
        })
    }

    fn container(name: &str, state: Value, ready: bool) -> Value {
        json!({ "name": name, "state": state, "ready": ready, "restartCount": 4, "image": "nginx:1.27" })
    }

    #[test]
    fn unobserved_pod_is_in_progress() {
        check(
            &pod(json!({})),
            Status::InProgress,
            "Pod phase not available",
            Some("PodNotObserved"),
        );
    }

    #[test]
    fn completed_pods_are_current() {
        check(
            &pod(json!({ "phase": "Succeeded" })),
            Status::Current,
            "Pod has completed successfully",
            None,
        );
        check(
            &pod(json!({ "phase": "Failed", "reason": "Evicted" })),
            Status::Current,
            "Pod has completed, but not successfully",
            None,
        );
    }

    #[test]
    fn running_and_ready_is_current() {
        let object = pod(json!({
            "phase": "Running",
            "conditions": [
                { "type": "Initialized", "status": "True" },
                { "type": "Ready", "status": "True" },
                { "type": "ContainersReady", "status": "True" },
                { "type": "PodScheduled", "status": "True" },
            ],
        }));
        check(&object, Status::Current, "Pod is Ready", None);
    }

    #[test]
    fn running_not_ready_is_in_progress() {
        let object = pod(json!({
            "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady" }],
            "containerStatuses": [
                container("web", json!({ "running": { "startedAt": "2024-05-01T11:50:05Z" } }), false),
            ],
        }));
        check(
            &object,
            Status::InProgress,
            "Pod is running but is not Ready",
            Some("PodRunningNotReady"),
        );
    }

    #[test]
    fn crash_looping_containers_are_failed() {
        let back_off = json!({ "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container" } });
        let object = pod(json!({
            "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady" }],
            "containerStatuses": [
                container("web", back_off.clone(), false),
                container("sidecar", back_off, false),
                { "state": { "waiting": { "reason": "CrashLoopBackOff" } } },
            ],
        }));
        check(
            &object,
            Status::Failed,
            "Containers in CrashLoop state: web,sidecar",
            Some("ContainerCrashLooping"),
        );
    }

    #[test]
    fn image_pull_back_off_is_only_pending() {
        let object = pod(json!({
            "phase": "Pending",
            "conditions": [{ "type": "PodScheduled", "status": "True" }],
            "containerStatuses": [container(
                "web",
                json!({ "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image \"nginx:1.27\"" } }),
                false,
            )],
        }));
        check(
            &object,
            Status::InProgress,
            "Pod is in the Pending phase",
            Some("PodPending"),
        );
    }

    fn unschedulable(created: &str) -> Value {
        let mut object = pod(json!({
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }],
        }));
        object["metadata"]["creationTimestamp"] = json!(created);
        object
    }

    #[test]
    fn unschedulable_pod_gets_fifteen_seconds() {
        // `now()` is 2024-05-01T12:00:00Z.
        check(
            &unschedulable("2024-05-01T11:59:50Z"),
            Status::InProgress,
            "Pod has not been scheduled",
            Some("PodNotScheduled"),
        );
        check(
            &unschedulable("2024-05-01T11:59:45Z"),
            Status::Failed,
            "Pod could not be scheduled",
            Some("PodUnschedulable"),
        );
        let later = compute_at(
            &unschedulable("2024-05-01T11:59:50Z"),
            now() + Duration::from_secs(6),
        );
        assert_eq!(later.map(|h| h.status), Ok(Status::Failed));
    }

    #[test]
    fn unschedulable_pod_without_creation_time_is_failed() {
        check(
            &unschedulable("yesterday"),
            Status::Failed,
            "Pod could not be scheduled",
            Some("PodUnschedulable"),
        );
    }

    #[test]
    fn unknown_phase_is_an_error() {
        assert_eq!(
            compute_at(&pod(json!({ "phase": "Unknown" })), now()),
            Err(Error::UnknownPodPhase {
                phase: "Unknown".into()
            })
        );
    }

    #[test]
    fn mistyped_container_statuses_are_errors() {
        let cases = [
            (
                json!("web"),
                "`status.containerStatuses` is a string, expected a list",
            ),
            (
                json!([7]),
                "`status.containerStatuses[0]` is a number, expected an object",
            ),
            (
                json!([{ "name": "web", "state": "waiting" }]),
                "`status.containerStatuses[0].state` is a string, expected an object",
            ),
            (
                json!([{ "name": "web", "state": { "waiting": { "reason": 1 } } }]),
                "`status.containerStatuses[0].state.waiting.reason` is a number, expected a string",
            ),
        ];
        for (statuses, message) in cases {
            let object = pod(json!({ "phase": "Running", "containerStatuses": statuses }));
            let error = compute_at(&object, now()).expect_err(message);
            assert_eq!(error.to_string(), message);
        }
    }
}
