//! The rules that apply to every kind, before and after the kind-specific ones.
//!
//! The standard `Reconciling`/`Stalled` conditions win over everything but deletion and an
//! unobserved generation, so that controllers following the convention (Flux's own included)
//! are judged by what they say rather than by guesses from their other fields.

use crate::object::{Object, ObservedCondition};
use crate::{Error, Health};

/// Deletion has started, whatever else the object says.
pub(crate) fn terminating(object: &Object<'_>) -> Result<Option<Health>, Error> {
    let timestamp = object.str(&["metadata", "deletionTimestamp"])?;
    Ok(timestamp
        .filter(|timestamp| !timestamp.is_empty())
        .map(|_| Health {
            status: crate::Status::Terminating,
            message: "Resource scheduled for deletion".into(),
            conditions: Vec::new(),
        }))
}

/// The controller has not seen the latest spec, so nothing else in the status can be trusted.
///
/// kstatus compares for inequality, not `<`: an observed generation from the future is as
/// stale as one from the past (the object was recreated, say).
pub(crate) fn generation(object: &Object<'_>) -> Result<Option<Health>, Error> {
    let Some(generation) = object.int(&["metadata", "generation"])? else {
        return Ok(None);
    };
    // Kinds without `observedGeneration` cannot be checked this way.
    let Some(observed) = object.int(&["status", "observedGeneration"])? else {
        return Ok(None);
    };
    if observed == generation {
        return Ok(None);
    }
    let message = format!(
        "{} generation is {generation}, but latest observed generation is {observed}",
        object.kind()
    );
    Ok(Some(Health::in_progress(
        "LatestGenerationNotObserved",
        message,
    )))
}

/// Kinds whose controller always sets `observedGeneration` (DaemonSet) are not current until it
/// has: without this, a DaemonSet created a moment ago would pass the generation check.
pub(crate) fn generation_set(object: &Object<'_>) -> Result<Option<Health>, Error> {
    if object.int(&["metadata", "generation"])?.is_none() {
        let message = format!("{} metadata.generation not found", object.kind());
        return Ok(Some(Health::in_progress("NoGeneration", message)));
    }
    if object.int(&["status", "observedGeneration"])?.is_none() {
        let message = format!("{} status.observedGeneration not found", object.kind());
        return Ok(Some(Health::in_progress("NoObservedGeneration", message)));
    }
    Ok(None)
}

/// The first `Reconciling=True` or `Stalled=True` condition, in list order.
pub(crate) fn standard_conditions(conditions: &[ObservedCondition<'_>]) -> Option<Health> {
    conditions.iter().find_map(|c| match (c.type_, c.status) {
        ("Reconciling", "True") => Some(Health::in_progress(c.reason, c.message)),
        ("Stalled", "True") => Some(Health::failed(c.reason, c.message)),
        _ => None,
    })
}

/// The `Ready` condition, for kinds with no rules of their own.
///
/// `Ready=False` is only InProgress: nothing says whether the object is getting there or stuck.
/// A status other than True/False/Unknown is ignored, as if the condition were absent.
pub(crate) fn ready(conditions: &[ObservedCondition<'_>]) -> Option<Health> {
    conditions
        .iter()
        .filter(|c| c.type_ == "Ready")
        .find_map(|c| match c.status {
            "True" => Some(Health::current("Resource is Ready")),
            "False" | "Unknown" => Some(Health::in_progress(c.reason, c.message)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::testing::{check, now};
    use crate::{Error, Status, compute_at};

    fn kustomization(status: Value) -> Value {
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": { "name": "apps", "namespace": "flux-system", "generation": 3 },
            "spec": { "interval": "10m", "path": "./apps", "prune": true },
            "status": status,
        })
    }

    #[test]
    fn deletion_timestamp_means_terminating() {
        let mut object = kustomization(json!({ "observedGeneration": 1 }));
        object["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        object["metadata"]["finalizers"] = json!(["finalizers.fluxcd.io"]);
        // Wins over the stale generation.
        check(
            &object,
            Status::Terminating,
            "Resource scheduled for deletion",
            None,
        );
    }

    #[test]
    fn empty_deletion_timestamp_is_ignored() {
        let mut object = kustomization(json!({ "observedGeneration": 3 }));
        object["metadata"]["deletionTimestamp"] = json!("");
        check(&object, Status::Current, "Resource is current", None);
    }

    #[test]
    fn stale_observed_generation_means_in_progress() {
        let object = kustomization(json!({
            "observedGeneration": 2,
            "conditions": [{ "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded" }],
        }));
        check(
            &object,
            Status::InProgress,
            "Kustomization generation is 3, but latest observed generation is 2",
            Some("LatestGenerationNotObserved"),
        );
    }

    #[test]
    fn observed_generation_ahead_is_also_in_progress() {
        let object = kustomization(json!({ "observedGeneration": 4 }));
        check(
            &object,
            Status::InProgress,
            "Kustomization generation is 3, but latest observed generation is 4",
            Some("LatestGenerationNotObserved"),
        );
    }

    #[test]
    fn missing_observed_generation_skips_the_check() {
        let object = kustomization(json!({}));
        check(&object, Status::Current, "Resource is current", None);
    }

    #[test]
    fn reconciling_true_means_in_progress() {
        let object = kustomization(json!({
            "observedGeneration": 3,
            "conditions": [
                { "type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Reconciliation in progress" },
                { "type": "Reconciling", "status": "True", "reason": "Progressing", "message": "Fetching manifests for revision main@sha1:0123abcd" },
            ],
        }));
        check(
            &object,
            Status::InProgress,
            "Fetching manifests for revision main@sha1:0123abcd",
            Some("Progressing"),
        );
    }

    #[test]
    fn stalled_true_means_failed() {
        let object = kustomization(json!({
            "observedGeneration": 3,
            "conditions": [
                { "type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed" },
                { "type": "Stalled", "status": "True", "reason": "BuildFailed", "message": "kustomize build failed: accumulating resources" },
            ],
        }));
        check(
            &object,
            Status::Failed,
            "kustomize build failed: accumulating resources",
            Some("BuildFailed"),
        );
    }

    #[test]
    fn standard_conditions_false_are_ignored() {
        let object = kustomization(json!({
            "observedGeneration": 3,
            "conditions": [
                { "type": "Reconciling", "status": "False" },
                { "type": "Stalled", "status": "False" },
            ],
        }));
        check(&object, Status::Current, "Resource is current", None);
    }

    #[test]
    fn standard_conditions_win_over_kind_rules() {
        // A Deployment far from available, but its Stalled condition decides.
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "web", "generation": 1 },
            "spec": { "replicas": 3 },
            "status": {
                "observedGeneration": 1,
                "conditions": [{ "type": "Stalled", "status": "True", "reason": "Custom", "message": "stuck" }],
            },
        });
        check(&object, Status::Failed, "stuck", Some("Custom"));
    }

    #[test]
    fn ready_true_means_current() {
        let object = kustomization(json!({
            "observedGeneration": 3,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                "message": "Applied revision: main@sha1:0123abcd",
            }],
        }));
        check(&object, Status::Current, "Resource is Ready", None);
    }

    #[test]
    fn ready_false_means_in_progress_with_its_message() {
        let object = kustomization(json!({
            "observedGeneration": 3,
            "conditions": [{
                "type": "Ready", "status": "False", "reason": "ArtifactFailed",
                "message": "Source artifact not found, retrying in 30s",
            }],
        }));
        check(
            &object,
            Status::InProgress,
            "Source artifact not found, retrying in 30s",
            Some("ArtifactFailed"),
        );
    }

    #[test]
    fn ready_unknown_means_in_progress() {
        let object = kustomization(json!({
            "conditions": [{ "type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Reconciliation in progress" }],
        }));
        check(
            &object,
            Status::InProgress,
            "Reconciliation in progress",
            Some("Progressing"),
        );
    }

    #[test]
    fn ready_with_an_odd_status_is_ignored() {
        let object = kustomization(json!({
            "conditions": [
                { "type": "Ready", "status": "Maybe" },
                { "type": "Ready", "status": "False", "reason": "Second", "message": "second Ready" },
            ],
        }));
        check(&object, Status::InProgress, "second Ready", Some("Second"));
    }

    #[test]
    fn no_status_means_current() {
        let object = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": { "name": "view-apps" },
            "rules": [{ "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"] }],
        });
        check(&object, Status::Current, "Resource is current", None);
    }

    #[test]
    fn namespace_active_is_current() {
        // kstatus has no Namespace rule: it has no conditions while active.
        let object = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": "apps", "uid": "5b0d" },
            "spec": { "finalizers": ["kubernetes"] },
            "status": { "phase": "Active" },
        });
        check(&object, Status::Current, "Resource is current", None);
    }

    #[test]
    fn namespace_being_deleted_is_terminating() {
        let object = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": "apps", "deletionTimestamp": "2024-05-01T11:59:30Z" },
            "spec": { "finalizers": ["kubernetes"] },
            "status": {
                "phase": "Terminating",
                "conditions": [{
                    "type": "NamespaceContentRemaining", "status": "True",
                    "reason": "SomeResourcesRemain", "message": "Some resources are remaining: pods. has 2 resource instances",
                }],
            },
        });
        check(
            &object,
            Status::Terminating,
            "Resource scheduled for deletion",
            None,
        );
    }

    #[test]
    fn malformed_generic_fields_are_errors() {
        let cases = [
            (
                json!({ "metadata": { "deletionTimestamp": 1714564800 } }),
                "`metadata.deletionTimestamp` is a number, expected a string",
            ),
            (
                json!({ "metadata": { "generation": "3" } }),
                "`metadata.generation` is a string, expected an integer",
            ),
            (
                json!({ "metadata": { "generation": 3 }, "status": { "observedGeneration": 2.5 } }),
                "`status.observedGeneration` is a number, expected an integer",
            ),
            (
                json!({ "metadata": "apps" }),
                "`metadata` is a string, expected an object",
            ),
        ];
        for (object, message) in cases {
            let error = compute_at(&object, now()).expect_err(message);
            assert!(matches!(error, Error::Field { .. }));
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn malformed_conditions_do_not_matter_once_deletion_started() {
        let object = json!({
            "metadata": { "deletionTimestamp": "2024-05-01T11:59:30Z" },
            "status": { "conditions": "Ready" },
        });
        check(
            &object,
            Status::Terminating,
            "Resource scheduled for deletion",
            None,
        );
    }
}
