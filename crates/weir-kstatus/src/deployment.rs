//! Deployments and the ReplicaSets they own.
//!
//! Replica counts are checked before conditions, in kstatus' order, because the order decides
//! which message a user sees while a rollout is under way ("Updated: 1/3" before
//! "Available: ..."). Differences are taken with saturating arithmetic: absurd counts must not
//! overflow.

use crate::Health;
use crate::object::{Object, ObservedCondition};

/// What the Deployment controller uses when `progressDeadlineSeconds` is unset, and what means
/// "no deadline": it then never sets `Progressing`, so its absence cannot be held against it.
const NO_PROGRESS_DEADLINE: i64 = i32::MAX as i64;

pub(crate) fn deployment(object: &Object<'_>, conditions: &[ObservedCondition<'_>]) -> Health {
    let deadline = object.int_or(&["spec", "progressDeadlineSeconds"], NO_PROGRESS_DEADLINE);
    let mut progressing = deadline == NO_PROGRESS_DEADLINE;
    let mut available = false;
    for c in conditions {
        match c.type_ {
            // Whatever the condition's status: the controller has given up on this rollout.
            "Progressing" if c.reason == "ProgressDeadlineExceeded" => {
                let mut health = Health::failed(c.reason, c.message);
                health.message = "Progress deadline exceeded".into();
                return health;
            }
            "Progressing" if c.status == "True" && c.reason == "NewReplicaSetAvailable" => {
                progressing = true;
            }
            "Available" if c.status == "True" => available = true,
            _ => {}
        }
    }

    // The controller's own default when `spec.replicas` is unset.
    let spec = object.int_or(&["spec", "replicas"], 1);
    let replicas = object.int_or(&["status", "replicas"], 0);
    let updated = object.int_or(&["status", "updatedReplicas"], 0);
    let ready = object.int_or(&["status", "readyReplicas"], 0);
    let available_replicas = object.int_or(&["status", "availableReplicas"], 0);

    if spec > replicas {
        return Health::in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return Health::in_progress("LessUpdated", format!("Updated: {updated}/{spec}"));
    }
    if replicas > spec {
        let extra = replicas.saturating_sub(spec);
        return Health::in_progress("ExtraPods", format!("Pending termination: {extra}"));
    }
    if updated > available_replicas {
        let message = format!("Available: {available_replicas}/{updated}");
        return Health::in_progress("LessAvailable", message);
    }
    if spec > ready {
        return Health::in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if !progressing {
        return Health::in_progress("ReplicaSetNotAvailable", "ReplicaSet not Available");
    }
    if !available {
        return Health::in_progress("DeploymentNotAvailable", "Deployment not Available");
    }
    Health::current(format!("Deployment is available. Replicas: {replicas}"))
}

pub(crate) fn replica_set(object: &Object<'_>, conditions: &[ObservedCondition<'_>]) -> Health {
    // Pods could not be created (quota, admission): kstatus still calls it progress, since a
    // change elsewhere can unblock it.
    if conditions
        .iter()
        .any(|c| c.type_ == "ReplicaFailure" && c.status == "True")
    {
        return Health::in_progress("ReplicaFailure", "Replica Failure condition. Check Pods");
    }

    let spec = object.int_or(&["spec", "replicas"], 1);
    let replicas = object.int_or(&["status", "replicas"], 0);
    let ready = object.int_or(&["status", "readyReplicas"], 0);
    let available = object.int_or(&["status", "availableReplicas"], 0);
    let labelled = object.int_or(&["status", "fullyLabeledReplicas"], 0);

    if spec > labelled {
        return Health::in_progress("LessLabelled", format!("Labelled: {labelled}/{spec}"));
    }
    if spec > available {
        return Health::in_progress("LessAvailable", format!("Available: {available}/{spec}"));
    }
    if spec > ready {
        return Health::in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        let extra = replicas.saturating_sub(spec);
        return Health::in_progress("ExtraPods", format!("Pending termination: {extra}"));
    }
    Health::current(format!("ReplicaSet is available. Replicas: {replicas}"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Status;
    use crate::testing::check;

    const AVAILABLE: &str = r#"{ "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability." }"#;
    const PROGRESSED: &str = r#"{ "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"web-5d8f7c9b4\" has successfully progressed." }"#;

    fn condition(json: &str) -> Value {
        serde_json::from_str(json).expect("valid condition JSON")
    }

    fn deployment(spec_replicas: Value, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "web", "namespace": "apps", "generation": 4 },
            "spec": {
                "replicas": spec_replicas,
                "progressDeadlineSeconds": 600,
                "selector": { "matchLabels": { "app": "web" } },
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": { "containers": [{ "name": "web", "image": "nginx:1.27" }] },
                },
            },
            "status": status,
        })
    }

    fn counts(replicas: i64, updated: i64, ready: i64, available: i64) -> Value {
        json!({
            "observedGeneration": 4,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": [condition(AVAILABLE), condition(PROGRESSED)],
        })
    }

    #[test]
    fn available_deployment_is_current() {
        let object = deployment(json!(3), counts(3, 3, 3, 3));
        check(
            &object,
            Status::Current,
            "Deployment is available. Replicas: 3",
            None,
        );
    }

    #[test]
    fn deployment_scaled_to_zero_is_current() {
        let mut status = counts(0, 0, 0, 0);
        // The API server omits zero counts.
        let fields = status.as_object_mut().expect("an object");
        fields.retain(|k, _| k == "observedGeneration" || k == "conditions");
        let object = deployment(json!(0), status);
        check(
            &object,
            Status::Current,
            "Deployment is available. Replicas: 0",
            None,
        );
    }

    #[test]
    fn rollout_steps_are_reported_in_kstatus_order() {
        let cases = [
            (counts(1, 1, 1, 1), "Replicas: 1/3", "LessReplicas"),
            (counts(3, 1, 3, 3), "Updated: 1/3", "LessUpdated"),
            (counts(4, 3, 3, 3), "Pending termination: 1", "ExtraPods"),
            (counts(3, 3, 3, 2), "Available: 2/3", "LessAvailable"),
            (counts(3, 3, 2, 3), "Ready: 2/3", "LessReady"),
        ];
        for (status, message, reason) in cases {
            let object = deployment(json!(3), status);
            check(&object, Status::InProgress, message, Some(reason));
        }
    }

    #[test]
    fn missing_spec_replicas_means_one() {
        let mut object = deployment(json!(1), json!({ "observedGeneration": 4 }));
        object["spec"]
            .as_object_mut()
            .expect("an object")
            .remove("replicas");
        check(
            &object,
            Status::InProgress,
            "Replicas: 0/1",
            Some("LessReplicas"),
        );
    }

    #[test]
    fn without_minimum_availability_is_in_progress() {
        let mut status = counts(3, 3, 3, 3);
        status["conditions"] = json!([
            {
                "type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            },
            condition(PROGRESSED),
        ]);
        check(
            &deployment(json!(3), status),
            Status::InProgress,
            "Deployment not Available",
            Some("DeploymentNotAvailable"),
        );
    }

    #[test]
    fn rollout_still_progressing_is_in_progress() {
        let mut status = counts(3, 3, 3, 3);
        status["conditions"] = json!([
            condition(AVAILABLE),
            {
                "type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                "message": "ReplicaSet \"web-5d8f7c9b4\" is progressing.",
            },
        ]);
        check(
            &deployment(json!(3), status),
            Status::InProgress,
            "ReplicaSet not Available",
            Some("ReplicaSetNotAvailable"),
        );
    }

    #[test]
    fn without_progress_deadline_progressing_is_not_needed() {
        let mut status = counts(2, 2, 2, 2);
        status["conditions"] = json!([condition(AVAILABLE)]);
        let mut object = deployment(json!(2), status);
        object["spec"]["progressDeadlineSeconds"] = json!(2_147_483_647);
        check(
            &object,
            Status::Current,
            "Deployment is available. Replicas: 2",
            None,
        );
    }

    #[test]
    fn progress_deadline_exceeded_is_failed() {
        let mut status = counts(3, 1, 2, 2);
        status["conditions"] = json!([
            condition(AVAILABLE),
            {
                "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"web-7c6b9d\" has timed out progressing.",
            },
        ]);
        let object = deployment(json!(3), status);
        check(
            &object,
            Status::Failed,
            "Progress deadline exceeded",
            Some("ProgressDeadlineExceeded"),
        );
        let health = crate::testing::health(&object);
        assert_eq!(
            health.conditions[0].message,
            "ReplicaSet \"web-7c6b9d\" has timed out progressing."
        );
    }

    #[test]
    fn numbers_as_strings_fall_back_to_defaults() {
        let object = deployment(json!("3"), counts(1, 1, 1, 1));
        // `spec.replicas` reads as the default 1.
        check(
            &object,
            Status::Current,
            "Deployment is available. Replicas: 1",
            None,
        );
    }

    #[test]
    fn extreme_counts_do_not_overflow() {
        let object = deployment(json!(i64::MIN), counts(i64::MAX, 0, 0, 0));
        check(
            &object,
            Status::InProgress,
            &format!("Pending termination: {}", i64::MAX),
            Some("ExtraPods"),
        );
    }

    fn replica_set(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-5d8f7c9b4", "namespace": "apps", "generation": 1,
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "3f2a" }],
            },
            "spec": { "replicas": 2, "selector": { "matchLabels": { "app": "web" } } },
            "status": status,
        })
    }

    #[test]
    fn available_replica_set_is_current() {
        let object = replica_set(json!({
            "observedGeneration": 1, "replicas": 2, "fullyLabeledReplicas": 2,
            "readyReplicas": 2, "availableReplicas": 2,
        }));
        check(
            &object,
            Status::Current,
            "ReplicaSet is available. Replicas: 2",
            None,
        );
    }

    #[test]
    fn replica_set_steps_are_reported_in_kstatus_order() {
        let cases = [
            (
                json!({ "replicas": 2, "fullyLabeledReplicas": 1 }),
                "Labelled: 1/2",
                "LessLabelled",
            ),
            (
                json!({ "replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1 }),
                "Available: 1/2",
                "LessAvailable",
            ),
            (
                json!({ "replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 2 }),
                "Ready: 1/2",
                "LessReady",
            ),
            (
                json!({ "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3 }),
                "Pending termination: 1",
                "ExtraPods",
            ),
        ];
        for (status, message, reason) in cases {
            check(
                &replica_set(status),
                Status::InProgress,
                message,
                Some(reason),
            );
        }
    }

    #[test]
    fn replica_failure_is_in_progress() {
        let object = replica_set(json!({
            "replicas": 0,
            "conditions": [{
                "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                "message": "pods \"web-5d8f7c9b4-x\" is forbidden: exceeded quota: compute",
            }],
        }));
        check(
            &object,
            Status::InProgress,
            "Replica Failure condition. Check Pods",
            Some("ReplicaFailure"),
        );
    }
}
