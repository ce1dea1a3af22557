//! StatefulSets.
//!
//! The StatefulSet controller defines `status.conditions` but never sets any, so kstatus can
//! only compare counts and revisions, and cannot tell a rollout that is stuck from one that is
//! slow: a StatefulSet is never Failed.

use crate::Health;
use crate::object::Object;

/// kstatus' stand-in for "no partition": a partition is never negative.
const NO_PARTITION: i64 = -1;

pub(crate) fn health(object: &Object<'_>) -> Health {
    // Pods are only replaced when the user deletes them, so there is no rollout to wait for.
    if object.str_or(&["spec", "updateStrategy", "type"], "") == "OnDelete" {
        return Health::current("StatefulSet is using the ondelete update strategy");
    }

    let spec = object.int_or(&["spec", "replicas"], 1);
    let ready = object.int_or(&["status", "readyReplicas"], 0);
    let current = object.int_or(&["status", "currentReplicas"], 0);
    let updated = object.int_or(&["status", "updatedReplicas"], 0);
    let replicas = object.int_or(&["status", "replicas"], 0);
    let partition = object.int_or(
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
        NO_PARTITION,
    );

    if spec > replicas {
        return Health::in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}"));
    }
    if spec > ready {
        return Health::in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        let extra = replicas.saturating_sub(spec);
        return Health::in_progress("ExtraPods", format!("Pending termination: {extra}"));
    }

    // With a partition, only ordinals at or above it are updated, and the current and update
    // revisions stay apart by design: the rollout is done once those are updated. The API
    // server defaults the partition to 0, so this is the usual path.
    if partition != NO_PARTITION {
        let target = spec.saturating_sub(partition);
        if updated < target {
            let message = format!("updated: {updated}/{target}");
            return Health::in_progress("PartitionRollout", message);
        }
        return Health::current(format!("Partition rollout complete. updated: {updated}"));
    }

    if spec > current {
        return Health::in_progress("LessCurrent", format!("current: {current}/{spec}"));
    }
    let current_revision = object.str_or(&["status", "currentRevision"], "");
    let update_revision = object.str_or(&["status", "updateRevision"], "");
    if current_revision != update_revision {
        return Health::in_progress(
            "RevisionMismatch",
            "Waiting for updated revision to match current",
        );
    }
    Health::current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Status;
    use crate::testing::check;

    fn statefulset(update_strategy: Value, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": { "name": "postgres", "namespace": "db", "generation": 2 },
            "spec": {
                "replicas": 3,
                "serviceName": "postgres",
                "selector": { "matchLabels": { "app": "postgres" } },
                "updateStrategy": update_strategy,
                "template": {
                    "metadata": { "labels": { "app": "postgres" } },
                    "spec": { "containers": [{ "name": "postgres", "image": "postgres:16" }] },
                },
            },
            "status": status,
        })
    }

    fn rolling() -> Value {
        json!({ "type": "RollingUpdate" })
    }

    fn counts(replicas: i64, ready: i64, current: i64, updated: i64) -> Value {
        json!({
            "observedGeneration": 2,
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": "postgres-6b7f9c",
            "updateRevision": "postgres-6b7f9c",
        })
    }

    #[test]
    fn rolled_out_statefulset_is_current() {
        check(
            &statefulset(rolling(), counts(3, 3, 3, 3)),
            Status::Current,
            "All replicas scheduled as expected. Replicas: 3",
            None,
        );
    }

    #[test]
    fn rollout_steps_are_reported_in_kstatus_order() {
        let cases = [
            (counts(2, 2, 2, 2), "Replicas: 2/3", "LessReplicas"),
            (counts(3, 2, 3, 3), "Ready: 2/3", "LessReady"),
            (counts(4, 4, 4, 4), "Pending termination: 1", "ExtraPods"),
            (counts(3, 3, 1, 2), "current: 1/3", "LessCurrent"),
        ];
        for (status, message, reason) in cases {
            check(
                &statefulset(rolling(), status),
                Status::InProgress,
                message,
                Some(reason),
            );
        }
    }

    #[test]
    fn revision_mismatch_is_in_progress() {
        let mut status = counts(3, 3, 3, 3);
        status["updateRevision"] = json!("postgres-8d4c1a");
        check(
            &statefulset(rolling(), status),
            Status::InProgress,
            "Waiting for updated revision to match current",
            Some("RevisionMismatch"),
        );
    }

    #[test]
    fn partition_rollout_waits_for_ordinals_above_the_partition() {
        let strategy = json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 1 } });
        let mut status = counts(3, 3, 2, 1);
        status["updateRevision"] = json!("postgres-8d4c1a");
        check(
            &statefulset(strategy.clone(), status.clone()),
            Status::InProgress,
            "updated: 1/2",
            Some("PartitionRollout"),
        );
        // Ordinal 0 keeps the old revision: the revisions differ, yet the rollout is done.
        status["updatedReplicas"] = json!(2);
        check(
            &statefulset(strategy, status),
            Status::Current,
            "Partition rollout complete. updated: 2",
            None,
        );
    }

    #[test]
    fn defaulted_partition_zero_needs_all_updated() {
        let strategy = json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } });
        check(
            &statefulset(strategy.clone(), counts(3, 3, 3, 2)),
            Status::InProgress,
            "updated: 2/3",
            Some("PartitionRollout"),
        );
        check(
            &statefulset(strategy, counts(3, 3, 3, 3)),
            Status::Current,
            "Partition rollout complete. updated: 3",
            None,
        );
    }

    #[test]
    fn on_delete_is_current_whatever_the_counts() {
        check(
            &statefulset(json!({ "type": "OnDelete" }), counts(1, 0, 0, 0)),
            Status::Current,
            "StatefulSet is using the ondelete update strategy",
            None,
        );
    }

    #[test]
    fn new_statefulset_without_status_counts_is_in_progress() {
        check(
            &statefulset(rolling(), json!({ "observedGeneration": 2 })),
            Status::InProgress,
            "Replicas: 0/3",
            Some("LessReplicas"),
        );
    }
}
