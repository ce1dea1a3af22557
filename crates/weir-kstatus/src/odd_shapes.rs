//! Objects of shapes no API server would return must still get an answer, never a panic:
//! health is computed on whatever a cluster, a plugin or a user's manifest hands over.

use serde_json::{Map, Value, json};

use crate::testing::now;
use crate::{ConditionType, Error, Status, compute_at};

#[test]
fn status_as_a_string_is_an_error_naming_it() {
    let object = json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": { "name": "w" },
        "status": "Ready",
    });
    assert_eq!(
        compute_at(&object, now()),
        Err(Error::Field {
            path: "status".into(),
            expected: "an object",
            found: "a string",
        })
    );
}

#[test]
fn conditions_not_a_list_is_an_error_naming_them() {
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web" },
        "status": { "conditions": { "Available": "True" } },
    });
    let error = compute_at(&object, now()).expect_err("conditions are an object");
    assert_eq!(
        error.to_string(),
        "`status.conditions` is an object, expected a list"
    );
}

#[test]
fn counts_as_strings_read_as_their_defaults() {
    // kstatus ignores mistyped counts: the Deployment looks as if its status were empty.
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "generation": 1 },
        "spec": { "replicas": 2 },
        "status": { "observedGeneration": 1, "replicas": "2", "updatedReplicas": "2" },
    });
    let health = compute_at(&object, now()).expect("counts are read leniently");
    assert_eq!(health.status, Status::InProgress);
    assert_eq!(health.message, "Replicas: 0/2");
}

#[test]
fn odd_kind_and_api_version_fall_back_to_generic_rules() {
    let object = json!({ "apiVersion": 1, "kind": ["Pod"], "status": { "phase": "Unknown" } });
    let health = compute_at(&object, now()).expect("generic rules only");
    assert_eq!(health.status, Status::Current);
}

/// A small deterministic generator (xorshift), so failures reproduce without a fuzzing crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KINDS: &[(&str, &str)] = &[
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("example.com/v1", "Widget"),
];

/// Every field some rule reads.
const PATHS: &[&[&str]] = &[
    &["metadata"],
    &["metadata", "generation"],
    &["metadata", "deletionTimestamp"],
    &["metadata", "creationTimestamp"],
    &["spec"],
    &["spec", "replicas"],
    &["spec", "type"],
    &["spec", "clusterIP"],
    &["spec", "suspend"],
    &["spec", "parallelism"],
    &["spec", "completions"],
    &["spec", "progressDeadlineSeconds"],
    &["spec", "updateStrategy"],
    &["spec", "updateStrategy", "type"],
    &["spec", "updateStrategy", "rollingUpdate", "partition"],
    &["status"],
    &["status", "observedGeneration"],
    &["status", "phase"],
    &["status", "conditions"],
    &["status", "containerStatuses"],
    &["status", "replicas"],
    &["status", "readyReplicas"],
    &["status", "updatedReplicas"],
    &["status", "availableReplicas"],
    &["status", "currentReplicas"],
    &["status", "fullyLabeledReplicas"],
    &["status", "currentRevision"],
    &["status", "updateRevision"],
    &["status", "desiredNumberScheduled"],
    &["status", "currentNumberScheduled"],
    &["status", "updatedNumberScheduled"],
    &["status", "numberAvailable"],
    &["status", "numberReady"],
    &["status", "startTime"],
    &["status", "succeeded"],
    &["status", "active"],
    &["status", "failed"],
];

const WORDS: &[&str] = &[
    "",
    "True",
    "False",
    "Unknown",
    "Ready",
    "Reconciling",
    "Stalled",
    "Available",
    "Progressing",
    "ProgressDeadlineExceeded",
    "NewReplicaSetAvailable",
    "Complete",
    "Failed",
    "Suspended",
    "Established",
    "NamesAccepted",
    "Installing",
    "PodScheduled",
    "Unschedulable",
    "Running",
    "Pending",
    "Succeeded",
    "CrashLoopBackOff",
    "LoadBalancer",
    "OnDelete",
    "Bound",
    "3",
    "2024-05-01T11:59:59Z",
    "2024-02-30T99:00:00+25:00",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    let choice = if depth > 3 {
        rng.below(8)
    } else {
        rng.below(11)
    };
    match choice {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(*rng.pick(&[0_i64, 1, 2, 3, -1, i64::MAX, i64::MIN, 2_147_483_647])),
        3 => json!(u64::MAX),
        4 => json!(1.5),
        5..=7 => json!(*rng.pick(WORDS)),
        8 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
        9 => condition_list(rng, depth),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                let key = [
                    "type", "status", "reason", "name", "state", "waiting", "message",
                ];
                map.insert((*rng.pick(&key)).into(), value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

/// A list of mostly well-formed conditions, so that the rules behind them are reached.
fn condition_list(rng: &mut Rng, depth: u32) -> Value {
    let items = (0..rng.below(5))
        .map(|_| {
            if rng.below(8) == 0 {
                return value(rng, depth + 1);
            }
            json!({
                "type": *rng.pick(WORDS),
                "status": *rng.pick(&["True", "False", "Unknown", "Maybe"]),
                "reason": *rng.pick(WORDS),
                "message": "generated",
            })
        })
        .collect();
    Value::Array(items)
}

/// A value that fits the field at `path` most of the time, so that the rules behind it are
/// reached, and anything at all otherwise.
fn plausible(rng: &mut Rng, path: &[&str]) -> Value {
    if rng.below(6) == 0 {
        return value(rng, 0);
    }
    match path.last().copied().unwrap_or_default() {
        "metadata" | "spec" | "status" | "updateStrategy" => json!({}),
        "conditions" => condition_list(rng, 0),
        "containerStatuses" => {
            let reason = *rng.pick(&["CrashLoopBackOff", "ImagePullBackOff", ""]);
            json!([{ "name": "app", "state": { "waiting": { "reason": reason } } }])
        }
        "suspend" => json!(rng.below(2) == 0),
        "deletionTimestamp" => json!(""),
        "type" | "clusterIP" | "phase" | "currentRevision" | "updateRevision" | "startTime"
        | "creationTimestamp" => json!(*rng.pick(WORDS)),
        _ => json!(rng.below(5)),
    }
}

fn set(object: &mut Value, path: &[&str], leaf: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = object;
    for key in parents {
        if !cursor[*key].is_object() {
            cursor[*key] = json!({});
        }
        cursor = &mut cursor[*key];
    }
    cursor[*last] = leaf;
}

#[test]
fn generated_objects_never_panic_and_keep_the_invariants() {
    let mut rng = Rng(0x5eed_1e55_c0ff_ee00);
    let mut errors = 0;
    for _ in 0..20_000 {
        let (api_version, kind) = *rng.pick(KINDS);
        let mut object = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": { "name": "generated", "generation": 1 },
            "status": { "observedGeneration": 1 },
        });
        for _ in 0..1 + rng.below(12) {
            let path = *rng.pick(PATHS);
            let leaf = plausible(&mut rng, path);
            set(&mut object, path, leaf);
        }

        let Ok(health) = compute_at(&object, now()) else {
            errors += 1;
            continue;
        };
        let types: Vec<ConditionType> = health.conditions.iter().map(|c| c.type_).collect();
        match health.status {
            Status::InProgress => assert_eq!(types, [ConditionType::Reconciling], "{object}"),
            Status::Failed => assert_eq!(types, [ConditionType::Stalled], "{object}"),
            Status::Current | Status::Terminating => assert!(types.is_empty(), "{object}"),
            Status::NotFound | Status::Unknown => panic!("compute never says {}", health.status),
        }
    }
    // Most generated objects must get past validation, or the rules go untested.
    assert!(errors < 5_000, "{errors} errors");
}
