//! Immutable fields (recreate with force) and taking objects over from `kubectl`.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Map, Value, json};
use weir_apply::{Action, Error, FORCE_ANNOTATION, Manager, Options, SSA_ANNOTATION};
use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn job(ns: &str, image: &str, annotations: Value) -> Map<String, Value> {
    object(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": "migrate", "namespace": ns, "annotations": annotations },
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{ "name": "migrate", "image": image }],
                },
            },
        },
    }))
}

fn service(ns: &str, cluster_ip: &str) -> Map<String, Value> {
    object(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "db", "namespace": ns },
        "spec": {
            "clusterIP": cluster_ip,
            "selector": { "app": "db" },
            "ports": [{ "port": 5432 }],
        },
    }))
}

#[tokio::test]
async fn immutable_changes_fail_without_force_and_recreate_with_it() -> TestResult {
    let env = TestEnv::new("apply-immutable").await?;
    let ns = env.namespace();
    let plain = Manager::new(env.client.clone(), Options::default());
    plain
        .apply_all_staged(vec![
            job(ns, "migrate:1", json!({})),
            service(ns, "10.0.0.150"),
        ])
        .await?;
    let jobs: Api<Job> = env.api();
    let services: Api<Service> = env.api();
    let job_uid = jobs.get("migrate").await?.metadata.uid;
    let service_uid = services.get("db").await?.metadata.uid;

    // Without force: both refused, each naming the field, and nothing is touched.
    let err = plain
        .apply_all_staged(vec![
            job(ns, "migrate:2", json!({})),
            service(ns, "10.0.0.151"),
        ])
        .await
        .err()
        .ok_or("an immutable change was accepted")?;
    let Error::DryRun { rejections } = &err else {
        panic!("expected a dry-run error, got {err:?}");
    };
    assert_eq!(rejections.len(), 2, "{err}");
    for r in rejections {
        assert_eq!(r.reason.as_deref(), Some("Immutable"), "{err}");
        assert!(r.message.contains("--force"), "{err}");
    }
    assert!(err.to_string().contains("spec.template"), "{err}");
    assert!(err.to_string().contains("clusterIP"), "{err}");
    assert_eq!(jobs.get("migrate").await?.metadata.uid, job_uid);
    assert_eq!(services.get("db").await?.metadata.uid, service_uid);

    // The annotation forces that object only; the Service still stops the stage.
    let err = plain
        .apply_all_staged(vec![
            job(ns, "migrate:2", json!({ FORCE_ANNOTATION: "enabled" })),
            service(ns, "10.0.0.151"),
        ])
        .await
        .err()
        .ok_or("an immutable change was accepted")?;
    assert!(matches!(&err, Error::DryRun { rejections } if rejections.len() == 1));
    assert_eq!(jobs.get("migrate").await?.metadata.uid, job_uid);

    // Forced (Flux's spec.force): deleted and created again.
    let mut options = Options::default();
    options.force = true;
    let set = Manager::new(env.client.clone(), options)
        .apply_all_staged(vec![
            job(ns, "migrate:2", json!({})),
            service(ns, "10.0.0.151"),
        ])
        .await?;
    assert!(
        set.entries.iter().all(|e| e.action == Action::Recreated),
        "{set}"
    );
    let new_job = jobs.get("migrate").await?;
    assert_ne!(new_job.metadata.uid, job_uid);
    let image = new_job
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers[0].image.clone());
    assert_eq!(image, Some(Some("migrate:2".to_owned())));
    let new_service = services.get("db").await?;
    assert_ne!(new_service.metadata.uid, service_uid);
    assert_eq!(
        new_service.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("10.0.0.151")
    );

    // An unchanged re-apply is unchanged, forced or not.
    let set = plain
        .apply_all_staged(vec![
            job(ns, "migrate:2", json!({})),
            service(ns, "10.0.0.151"),
        ])
        .await?;
    assert!(
        set.entries.iter().all(|e| e.action == Action::Unchanged),
        "{set}"
    );
    Ok(())
}

fn settings(ns: &str, annotations: Value) -> Map<String, Value> {
    object(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": ns, "annotations": annotations },
        "data": { "color": "blue" },
    }))
}

/// What `kubectl edit` and a client-side `kubectl apply` leave behind: a label, a changed and
/// an added key, and the last-applied annotation, each under kubectl's own field managers.
async fn edit_with_kubectl(api: &Api<ConfigMap>) -> TestResult {
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".to_owned()),
        ..PatchParams::default()
    };
    api.patch(
        "settings",
        &edit,
        &Patch::Merge(json!({
            "metadata": { "labels": { "edited": "by-hand" } },
            "data": { "color": "red" },
        })),
    )
    .await?;
    let client_side = PatchParams {
        field_manager: Some("kubectl-client-side-apply".to_owned()),
        ..PatchParams::default()
    };
    api.patch(
        "settings",
        &client_side,
        &Patch::Merge(json!({
            "metadata": { "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}" } },
            "data": { "extra": "1" },
        })),
    )
    .await?;
    Ok(())
}

fn managers(cm: &ConfigMap) -> Vec<String> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect()
}

#[tokio::test]
async fn changes_made_with_kubectl_are_reverted_unless_merge() -> TestResult {
    let env = TestEnv::new("apply-takeover").await?;
    let ns = env.namespace();
    let api: Api<ConfigMap> = env.api();
    let manager = Manager::new(env.client.clone(), Options::default());
    manager
        .apply_all_staged(vec![settings(ns, json!({}))])
        .await?;
    edit_with_kubectl(&api).await?;

    let set = manager
        .apply_all_staged(vec![settings(ns, json!({}))])
        .await?;
    assert_eq!(set.entries[0].action, Action::Configured, "{set}");
    let cm = api.get("settings").await?;
    let data = cm.data.clone().unwrap_or_default();
    assert_eq!(data.get("color").map(String::as_str), Some("blue"));
    assert_eq!(data.get("extra"), None, "{data:?}");
    assert_eq!(
        cm.metadata.labels.clone().unwrap_or_default().get("edited"),
        None
    );
    let annotations = cm.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "{annotations:?}"
    );
    assert_eq!(managers(&cm), ["weir"]);

    // Taken over once: the next apply writes nothing.
    let set = manager
        .apply_all_staged(vec![settings(ns, json!({}))])
        .await?;
    assert_eq!(set.entries[0].action, Action::Unchanged, "{set}");
    assert_eq!(
        api.get("settings").await?.metadata.resource_version,
        cm.metadata.resource_version
    );

    // ssa: Merge keeps what kubectl added; fields Weir applies are still Weir's.
    let merge = || settings(ns, json!({ SSA_ANNOTATION: "Merge" }));
    manager.apply_all_staged(vec![merge()]).await?;
    edit_with_kubectl(&api).await?;
    manager.apply_all_staged(vec![merge()]).await?;
    let cm = api.get("settings").await?;
    let data = cm.data.clone().unwrap_or_default();
    assert_eq!(data.get("color").map(String::as_str), Some("blue"));
    assert_eq!(data.get("extra").map(String::as_str), Some("1"));
    assert_eq!(
        cm.metadata
            .labels
            .unwrap_or_default()
            .get("edited")
            .map(String::as_str),
        Some("by-hand")
    );
    Ok(())
}
