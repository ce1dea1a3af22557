//! DaemonSets.
//!
//! The desired count comes from the status, not the spec (it is the number of eligible
//! nodes), so a DaemonSet whose status the controller has not written yet must not pass as
//! having nothing to do: kstatus insists on `observedGeneration` and `desiredNumberScheduled`.

use crate::object::Object;
use crate::{Error, Health, generic};

pub(crate) fn health(object: &Object<'_>) -> Result<Health, Error> {
    if let Some(health) = generic::generation_set(object)? {
        return Ok(health);
    }

    // kstatus' stand-in for "absent": a count is never negative.
    let desired = object.int_or(&["status", "desiredNumberScheduled"], -1);
    if desired == -1 {
        return Ok(Health::in_progress(
            "NoDesiredNumber",
            "Missing .status.desiredNumberScheduled",
        ));
    }
    let current = object.int_or(&["status", "currentNumberScheduled"], 0);
    let updated = object.int_or(&["status", "updatedNumberScheduled"], 0);
    let available = object.int_or(&["status", "numberAvailable"], 0);
    let ready = object.int_or(&["status", "numberReady"], 0);

    Ok(if desired > current {
        Health::in_progress("LessCurrent", format!("Current: {current}/{desired}"))
    } else if desired > updated {
        Health::in_progress("LessUpdated", format!("Updated: {updated}/{desired}"))
    } else if desired > available {
        Health::in_progress("LessAvailable", format!("Available: {available}/{desired}"))
    } else if desired > ready {
        Health::in_progress("LessReady", format!("Ready: {ready}/{desired}"))
    } else {
        Health::current(format!(
            "All replicas scheduled as expected. Replicas: {desired}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Status;
    use crate::testing::check;

    fn daemonset(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": { "name": "node-exporter", "namespace": "monitoring", "generation": 5 },
            "spec": {
                "selector": { "matchLabels": { "app": "node-exporter" } },
                "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
                "template": {
                    "metadata": { "labels": { "app": "node-exporter" } },
                    "spec": { "containers": [{ "name": "exporter", "image": "prom/node-exporter:v1.8.1" }] },
                },
            },
            "status": status,
        })
    }

    fn counts(desired: i64, current: i64, updated: i64, available: i64, ready: i64) -> Value {
        json!({
            "observedGeneration": 5,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberReady": ready,
            "numberMisscheduled": 0,
        })
    }

    #[test]
    fn scheduled_everywhere_is_current() {
        check(
            &daemonset(counts(4, 4, 4, 4, 4)),
            Status::Current,
            "All replicas scheduled as expected. Replicas: 4",
            None,
        );
    }

    #[test]
    fn no_eligible_nodes_is_current() {
        check(
            &daemonset(counts(0, 0, 0, 0, 0)),
            Status::Current,
            "All replicas scheduled as expected. Replicas: 0",
            None,
        );
    }

    #[test]
    fn rollout_steps_are_reported_in_kstatus_order() {
        let cases = [
            (counts(4, 3, 3, 3, 3), "Current: 3/4", "LessCurrent"),
            (counts(4, 4, 2, 4, 4), "Updated: 2/4", "LessUpdated"),
            (counts(4, 4, 4, 3, 4), "Available: 3/4", "LessAvailable"),
            (counts(4, 4, 4, 4, 1), "Ready: 1/4", "LessReady"),
        ];
        for (status, message, reason) in cases {
            check(
                &daemonset(status),
                Status::InProgress,
                message,
                Some(reason),
            );
        }
    }

    #[test]
    fn status_not_yet_written_is_in_progress() {
        check(
            &daemonset(json!({})),
            Status::InProgress,
            "DaemonSet status.observedGeneration not found",
            Some("NoObservedGeneration"),
        );
        check(
            &daemonset(json!({ "observedGeneration": 5 })),
            Status::InProgress,
            "Missing .status.desiredNumberScheduled",
            Some("NoDesiredNumber"),
        );
    }

    #[test]
    fn missing_generation_is_in_progress() {
        let mut object = daemonset(counts(1, 1, 1, 1, 1));
        object["metadata"]
            .as_object_mut()
            .expect("an object")
            .remove("generation");
        check(
            &object,
            Status::InProgress,
            "DaemonSet metadata.generation not found",
            Some("NoGeneration"),
        );
    }

    #[test]
    fn stale_generation_is_in_progress() {
        let mut status = counts(4, 4, 4, 4, 4);
        status["observedGeneration"] = json!(4);
        check(
            &daemonset(status),
            Status::InProgress,
            "DaemonSet generation is 5, but latest observed generation is 4",
            Some("LatestGenerationNotObserved"),
        );
    }
}
