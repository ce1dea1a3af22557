//! Which built-in kinds have rules of their own, and the rules too short for a file of their own.
//!
//! Built-in controllers mostly predate the `Reconciling`/`Stalled` convention, so kstatus reads
//! their progress from kind-specific fields. The table is kstatus' own: kinds not in it (a
//! Namespace, a ServiceAccount) get the generic rules only.

use std::time::SystemTime;

use crate::object::{Object, ObservedCondition};
use crate::{Error, Health, daemonset, deployment, job, pod, statefulset};

/// A kind kstatus has specific rules for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// ConfigMap, Secret, CronJob: there is nothing to wait for.
    AlwaysReady,
    Service,
    Pod,
    PersistentVolumeClaim,
    StatefulSet,
    DaemonSet,
    Deployment,
    ReplicaSet,
    PodDisruptionBudget,
    Job,
    CustomResourceDefinition,
}

impl Builtin {
    /// The rules for `object`'s group and kind, if it has any. The version does not matter:
    /// `extensions/v1beta1` Deployments are judged as `apps/v1` ones.
    pub(crate) fn of(object: &Object<'_>) -> Option<Self> {
        let group = group(object.api_version())?;
        let builtin = match (group, object.kind()) {
            ("", "ConfigMap" | "Secret") | ("batch", "CronJob") => Self::AlwaysReady,
            ("", "Service") => Self::Service,
            ("", "Pod") => Self::Pod,
            ("", "PersistentVolumeClaim") => Self::PersistentVolumeClaim,
            ("apps", "StatefulSet") => Self::StatefulSet,
            ("apps" | "extensions", "DaemonSet") => Self::DaemonSet,
            ("apps" | "extensions", "Deployment") => Self::Deployment,
            ("apps" | "extensions", "ReplicaSet") => Self::ReplicaSet,
            ("policy", "PodDisruptionBudget") => Self::PodDisruptionBudget,
            ("batch", "Job") => Self::Job,
            ("apiextensions.k8s.io", "CustomResourceDefinition") => Self::CustomResourceDefinition,
            _ => return None,
        };
        Some(builtin)
    }

    pub(crate) fn health(
        self,
        object: &Object<'_>,
        conditions: &[ObservedCondition<'_>],
        now: SystemTime,
    ) -> Result<Health, Error> {
        Ok(match self {
            Self::AlwaysReady => Health::current("Resource is always ready"),
            Self::Service => service(object),
            Self::Pod => return pod::health(object, conditions, now),
            Self::PersistentVolumeClaim => persistent_volume_claim(object),
            Self::StatefulSet => statefulset::health(object),
            Self::DaemonSet => return daemonset::health(object),
            Self::Deployment => deployment::deployment(object, conditions),
            Self::ReplicaSet => deployment::replica_set(object, conditions),
            // The generic generation check has already run, and it is the only sign of progress a
            // PDB gives: the disruption controller sets no condition when it fails.
            Self::PodDisruptionBudget => Health::current("AllowedDisruptions has been computed."),
            Self::Job => job::health(object, conditions),
            Self::CustomResourceDefinition => custom_resource_definition(conditions),
        })
    }
}

/// The group of an `apiVersion`, or `None` if it is not one (`a/b/c`), in which case Kubernetes'
/// parser yields no kind at all and so no kind-specific rules.
fn group(api_version: &str) -> Option<&str> {
    match api_version.split_once('/') {
        None => Some(""),
        Some((_, version)) if version.contains('/') => None,
        Some((group, _)) => Some(group),
    }
}

fn persistent_volume_claim(object: &Object<'_>) -> Health {
    let phase = object.str_or(&["status", "phase"], "unknown");
    if phase == "Bound" {
        Health::current("PVC is Bound")
    } else {
        Health::in_progress("NotBound", format!("PVC is not Bound. phase: {phase}"))
    }
}

/// kstatus waits for a LoadBalancer Service's cluster IP, not for its external address: a
/// cluster without a load-balancer implementation would otherwise never be healthy.
fn service(object: &Object<'_>) -> Health {
    let type_ = object.str_or(&["spec", "type"], "ClusterIP");
    let cluster_ip = object.str_or(&["spec", "clusterIP"], "");
    if type_ == "LoadBalancer" && cluster_ip.is_empty() {
        return Health::in_progress(
            "NoIPAssigned",
            "ClusterIP not set. Service type: LoadBalancer",
        );
    }
    Health::current("Service is ready")
}

/// The first decisive condition in list order wins. `Established=False` while `Installing` is
/// the normal first moments of a CRD; any other reason means the API server refused it.
fn custom_resource_definition(conditions: &[ObservedCondition<'_>]) -> Health {
    for c in conditions {
        match (c.type_, c.status) {
            ("NamesAccepted", "False") => return Health::failed(c.reason, c.message),
            ("Established", "False") if c.reason != "Installing" => {
                return Health::failed(c.reason, c.message);
            }
            ("Established", "True") => return Health::current("CRD is established"),
            _ => {}
        }
    }
    Health::in_progress("Installing", "Install in progress")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::Status;
    use crate::testing::check;

    fn builtin_of(object: Value) -> Option<Builtin> {
        let root = object.as_object().expect("tests pass objects");
        Builtin::of(&Object::new(root))
    }

    #[test]
    fn kinds_are_matched_by_group_not_version() {
        let cases = [
            ("v1", "Pod", Some(Builtin::Pod)),
            ("apps/v1", "Deployment", Some(Builtin::Deployment)),
            (
                "extensions/v1beta1",
                "Deployment",
                Some(Builtin::Deployment),
            ),
            ("extensions/v1beta1", "StatefulSet", None),
            ("apps/v1beta2", "StatefulSet", Some(Builtin::StatefulSet)),
            ("batch/v1", "CronJob", Some(Builtin::AlwaysReady)),
            (
                "policy/v1",
                "PodDisruptionBudget",
                Some(Builtin::PodDisruptionBudget),
            ),
            // Same kind name, other group: a custom resource, judged generically.
            ("example.com/v1", "Deployment", None),
            ("apps/v1", "Pod", None),
            ("v1", "Namespace", None),
            ("a/b/c", "Pod", None),
        ];
        for (api_version, kind, expected) in cases {
            let object = json!({ "apiVersion": api_version, "kind": kind });
            assert_eq!(builtin_of(object), expected, "{api_version} {kind}");
        }
    }

    #[test]
    fn config_maps_secrets_and_cron_jobs_are_always_ready() {
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("batch/v1", "CronJob"),
        ] {
            let object = json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": { "name": "x", "namespace": "default" },
                // A Ready condition would decide for a kind without rules; not for these.
                "status": { "conditions": [{ "type": "Ready", "status": "False" }] },
            });
            check(&object, Status::Current, "Resource is always ready", None);
        }
    }

    fn pvc(status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": { "name": "data-postgres-0", "namespace": "db" },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "10Gi" } },
                "storageClassName": "standard",
            },
            "status": status,
        })
    }

    #[test]
    fn pvc_bound_is_current() {
        let object = pvc(json!({ "phase": "Bound", "capacity": { "storage": "10Gi" } }));
        check(&object, Status::Current, "PVC is Bound", None);
    }

    #[test]
    fn pvc_pending_is_in_progress() {
        let object = pvc(json!({ "phase": "Pending" }));
        check(
            &object,
            Status::InProgress,
            "PVC is not Bound. phase: Pending",
            Some("NotBound"),
        );
    }

    #[test]
    fn pvc_without_phase_is_in_progress() {
        check(
            &pvc(json!({})),
            Status::InProgress,
            "PVC is not Bound. phase: unknown",
            Some("NotBound"),
        );
    }

    fn service_of(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "web", "namespace": "apps" },
            "spec": spec,
            "status": status,
        })
    }

    #[test]
    fn cluster_ip_service_is_current() {
        let object = service_of(
            json!({ "type": "ClusterIP", "clusterIP": "10.96.12.4", "ports": [{ "port": 80 }] }),
            json!({ "loadBalancer": {} }),
        );
        check(&object, Status::Current, "Service is ready", None);
    }

    #[test]
    fn service_without_type_is_current() {
        let object = service_of(json!({ "ports": [{ "port": 80 }] }), json!({}));
        check(&object, Status::Current, "Service is ready", None);
    }

    #[test]
    fn load_balancer_without_cluster_ip_is_in_progress() {
        let object = service_of(json!({ "type": "LoadBalancer" }), json!({}));
        check(
            &object,
            Status::InProgress,
            "ClusterIP not set. Service type: LoadBalancer",
            Some("NoIPAssigned"),
        );
    }

    #[test]
    fn load_balancer_with_cluster_ip_is_current_without_ingress() {
        let object = service_of(
            json!({ "type": "LoadBalancer", "clusterIP": "10.96.0.20" }),
            json!({ "loadBalancer": {} }),
        );
        check(&object, Status::Current, "Service is ready", None);
    }

    #[test]
    fn pdb_is_current_once_its_generation_is_observed() {
        let mut object = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": { "name": "web", "namespace": "apps", "generation": 2 },
            "spec": { "minAvailable": 2, "selector": { "matchLabels": { "app": "web" } } },
            "status": {
                "observedGeneration": 2,
                "currentHealthy": 1, "desiredHealthy": 2, "disruptionsAllowed": 0, "expectedPods": 3,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": "False",
                    "reason": "InsufficientPods", "message": "",
                }],
            },
        });
        // Even with fewer healthy pods than desired: that is the Deployment's business.
        check(
            &object,
            Status::Current,
            "AllowedDisruptions has been computed.",
            None,
        );
        object["status"]["observedGeneration"] = json!(1);
        check(
            &object,
            Status::InProgress,
            "PodDisruptionBudget generation is 2, but latest observed generation is 1",
            Some("LatestGenerationNotObserved"),
        );
    }

    fn crd(conditions: Value) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com", "generation": 1 },
            "spec": {
                "group": "example.com",
                "names": { "kind": "Widget", "plural": "widgets" },
                "scope": "Namespaced",
            },
            "status": { "conditions": conditions },
        })
    }

    #[test]
    fn crd_established_is_current() {
        let object = crd(json!([
            { "type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found" },
            { "type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted" },
        ]));
        check(&object, Status::Current, "CRD is established", None);
    }

    #[test]
    fn crd_installing_is_in_progress() {
        let object = crd(json!([
            { "type": "NamesAccepted", "status": "True", "reason": "NoConflicts" },
            { "type": "Established", "status": "False", "reason": "Installing", "message": "the initial names have been accepted" },
        ]));
        check(
            &object,
            Status::InProgress,
            "Install in progress",
            Some("Installing"),
        );
        check(
            &crd(json!([])),
            Status::InProgress,
            "Install in progress",
            Some("Installing"),
        );
    }

    #[test]
    fn crd_with_conflicting_names_is_failed() {
        let object = crd(json!([
            {
                "type": "NamesAccepted", "status": "False", "reason": "MultipleNamesConflict",
                "message": "\"widgets\" is already in use",
            },
            { "type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted" },
        ]));
        check(
            &object,
            Status::Failed,
            "\"widgets\" is already in use",
            Some("MultipleNamesConflict"),
        );
    }

    #[test]
    fn crd_not_established_for_another_reason_is_failed() {
        let object = crd(json!([
            { "type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted" },
        ]));
        check(
            &object,
            Status::Failed,
            "not all names are accepted",
            Some("NotAccepted"),
        );
    }
}
