//! Staged server-side apply against the real API server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::{Map, Value, json};
use weir_apply::{ChangeSet, Error, Manager, Options};
use weir_object::ObjectId;
use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn config_map(namespace: &str, color: &str) -> Map<String, Value> {
    object(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": "settings", "namespace": namespace },
        "data": { "color": color },
    }))
}

fn deployment(namespace: &str, replicas: i64) -> Map<String, Value> {
    object(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": namespace },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "nginx:1.29" }] },
            },
        },
    }))
}

fn actions(set: &ChangeSet) -> Vec<String> {
    set.entries.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn applies_creates_then_leaves_unchanged_objects_alone_then_configures() -> TestResult {
    let env = TestEnv::new("apply-lifecycle").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());

    let set = manager
        .apply_all_staged(vec![deployment(ns, 1), config_map(ns, "blue")])
        .await?;
    assert_eq!(
        actions(&set),
        [
            format!("ConfigMap/{ns}/settings created"),
            format!("Deployment/{ns}/web created"),
        ]
    );

    let config_maps: Api<ConfigMap> = env.api();
    let deployments: Api<Deployment> = env.api();
    let before = config_maps.get("settings").await?;
    let generation = deployments.get("web").await?.metadata.generation;
    let set = manager
        .apply_all_staged(vec![deployment(ns, 1), config_map(ns, "blue")])
        .await?;
    assert_eq!(
        actions(&set),
        [
            format!("ConfigMap/{ns}/settings unchanged"),
            format!("Deployment/{ns}/web unchanged"),
        ]
    );
    let after = config_maps.get("settings").await?;
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(
        deployments.get("web").await?.metadata.generation,
        generation
    );

    let set = manager
        .apply_all_staged(vec![deployment(ns, 1), config_map(ns, "green")])
        .await?;
    assert_eq!(
        actions(&set),
        [
            format!("ConfigMap/{ns}/settings configured"),
            format!("Deployment/{ns}/web unchanged"),
        ]
    );
    let data = config_maps.get("settings").await?.data.unwrap_or_default();
    assert_eq!(data.get("color").map(String::as_str), Some("green"));
    Ok(())
}

#[tokio::test]
async fn applies_a_crd_and_its_custom_resource_in_one_call() -> TestResult {
    let env = TestEnv::new("apply-crd").await?;
    let ns = env.namespace();
    // CRDs are cluster-wide: a group of this test run's own keeps parallel runs apart.
    let group = format!("t{}.weir.test", std::process::id());
    let crd_name = format!("widgets.{group}");
    let crd = object(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": crd_name },
        "spec": {
            "group": group,
            "names": { "kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "properties": { "size": { "type": "integer" } },
                    } },
                } },
            }],
        },
    }));
    let widget = object(json!({
        "apiVersion": format!("{group}/v1"),
        "kind": "Widget",
        "metadata": { "name": "w", "namespace": ns },
        "spec": { "size": 3 },
    }));
    let manager = Manager::new(env.client.clone(), Options::default());

    // The custom resource comes first in the input: staging puts its definition before it.
    let result = manager.apply_all_staged(vec![widget, crd]).await;

    let widgets: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        ns,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(&group, "v1", "Widget")),
    );
    let found = widgets.get_opt("w").await;
    let crds: Api<DynamicObject> = Api::all_with(
        env.client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    crds.delete(&crd_name, &DeleteParams::background()).await?;

    let set = result?;
    assert_eq!(
        actions(&set),
        [
            format!("CustomResourceDefinition/{crd_name} created"),
            format!("Widget/{ns}/w created"),
        ]
    );
    let found = found?.ok_or("the widget was not created")?;
    assert_eq!(found.data["spec"]["size"], json!(3));
    Ok(())
}

#[tokio::test]
async fn a_rejected_object_stops_its_whole_stage() -> TestResult {
    let env = TestEnv::new("apply-rejected").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());

    let err = manager
        .apply_all_staged(vec![config_map(ns, "blue"), deployment(ns, -1)])
        .await
        .err()
        .ok_or("a Deployment with -1 replicas was accepted")?;

    let Error::DryRun { rejections } = &err else {
        panic!("expected a dry-run error, got {err:?}");
    };
    assert_eq!(rejections.len(), 1);
    assert_eq!(
        rejections[0].id,
        ObjectId::new("apps", "Deployment", ns, "web")
    );
    assert_eq!(rejections[0].reason.as_deref(), Some("Invalid"));
    assert!(
        rejections[0].message.contains("spec.replicas"),
        "{}",
        rejections[0].message
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("Deployment/{ns}/web dry-run failed (Invalid): ")),
        "{message}"
    );
    let config_maps: Api<ConfigMap> = env.api();
    assert!(config_maps.get_opt("settings").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn unknown_kinds_are_rejected_with_the_rest_of_the_stage() -> TestResult {
    let env = TestEnv::new("apply-unknown").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());
    let gadget = object(json!({
        "apiVersion": "nowhere.weir.test/v1",
        "kind": "Gadget",
        "metadata": { "name": "g", "namespace": ns },
    }));

    let err = manager
        .apply_all_staged(vec![config_map(ns, "blue"), gadget])
        .await
        .err()
        .ok_or("an unknown kind was accepted")?;

    assert_eq!(
        err.to_string(),
        format!(
            "Gadget/{ns}/g dry-run failed: no matches for kind \"Gadget\" in version \"nowhere.weir.test/v1\""
        )
    );
    let config_maps: Api<ConfigMap> = env.api();
    assert!(config_maps.get_opt("settings").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn objects_without_a_name_are_invalid() -> TestResult {
    let env = TestEnv::new("apply-invalid").await?;
    let manager = Manager::new(env.client.clone(), Options::default());
    let nameless = object(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": {} }));
    let namespace = object(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": format!("{}-never", env.namespace()) },
    }));

    // The Namespace is in an earlier stage than the nameless object: it must not be written
    // either.
    let err = manager
        .apply_all_staged(vec![namespace, nameless])
        .await
        .err()
        .ok_or("a nameless object was accepted")?;

    assert!(
        matches!(&err, Error::Invalid { index: 1, .. }),
        "unexpected error: {err:?}"
    );
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    assert!(
        namespaces
            .get_opt(&format!("{}-never", env.namespace()))
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn applies_a_namespace_and_its_contents_in_one_call() -> TestResult {
    let env = TestEnv::new("apply-namespace").await?;
    // Namespaces are cluster-wide: one named after the test's own keeps runs apart.
    let extra = format!("{}-extra", env.namespace());
    let namespace = object(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        // A namespace on a cluster-scoped object is dropped, not sent.
        "metadata": { "name": extra, "namespace": "ignored" },
    }));
    let manager = Manager::new(env.client.clone(), Options::default());

    let result = manager
        .apply_all_staged(vec![config_map(&extra, "blue"), namespace])
        .await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let found: Api<ConfigMap> = Api::namespaced(env.client.clone(), &extra);
    let found = found.get_opt("settings").await;
    namespaces
        .delete(&extra, &DeleteParams::background())
        .await?;

    let set = result?;
    assert_eq!(
        actions(&set),
        [
            format!("Namespace/{extra} created"),
            format!("ConfigMap/{extra}/settings created"),
        ]
    );
    assert!(found?.is_some());
    Ok(())
}

#[tokio::test]
async fn without_force_a_field_owned_by_another_manager_is_a_conflict() -> TestResult {
    let env = TestEnv::new("apply-conflict").await?;
    let ns = env.namespace();
    let config_maps: Api<ConfigMap> = env.api();
    config_maps
        .patch(
            "settings",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(Value::Object(config_map(ns, "red"))),
        )
        .await?;
    let mut options = Options::default();
    options.force_conflicts = false;
    let manager = Manager::new(env.client.clone(), options);

    let err = manager
        .apply_all_staged(vec![config_map(ns, "blue")])
        .await
        .err()
        .ok_or("a conflicting apply was accepted")?;

    let Error::DryRun { rejections } = &err else {
        panic!("expected a dry-run error, got {err:?}");
    };
    assert_eq!(
        rejections[0].reason.as_deref(),
        Some("FieldManagerConflict")
    );
    let data = config_maps.get("settings").await?.data.unwrap_or_default();
    assert_eq!(data.get("color").map(String::as_str), Some("red"));

    // With force (the default), the same apply takes the field over.
    let set = Manager::new(env.client.clone(), Options::default())
        .apply_all_staged(vec![config_map(ns, "blue")])
        .await?;
    assert_eq!(
        actions(&set),
        [format!("ConfigMap/{ns}/settings configured")]
    );
    Ok(())
}

#[tokio::test]
async fn prune_deletes_only_what_left_the_inventory_and_respects_the_opt_out() -> TestResult {
    let env = TestEnv::new("apply-prune").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());
    let named = |name: &str, annotations: Value| {
        object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": ns, "annotations": annotations },
            "data": { "k": "v" },
        }))
    };
    let first = manager
        .apply_all_staged(vec![
            named("keep", json!({})),
            named("gone", json!({})),
            named(
                "protected",
                json!({ weir_apply::PRUNE_ANNOTATION: "disabled" }),
            ),
        ])
        .await?;
    let old = weir_apply::Inventory::from_change_set(&first);

    // An object the inventory never recorded must survive any prune.
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), ns);
    api.create(
        &kube::api::PostParams::default(),
        &serde_json::from_value(json!({ "metadata": { "name": "outsider" } }))?,
    )
    .await?;

    let second = manager
        .apply_all_staged(vec![named("keep", json!({}))])
        .await?;
    let new = weir_apply::Inventory::from_change_set(&second);
    let pruned = manager.prune(&old, &new).await?;
    assert_eq!(
        actions(&pruned),
        [
            format!("ConfigMap/{ns}/gone deleted"),
            format!("ConfigMap/{ns}/protected skipped"),
        ]
    );
    for (name, present) in [("keep", true), ("protected", true), ("outsider", true)] {
        assert_eq!(api.get_opt(name).await?.is_some(), present, "{name}");
    }
    weir_testenv::wait_deleted(&api, "gone", std::time::Duration::from_secs(30)).await?;

    // Pruning again finds nothing left to delete.
    let again = manager.prune(&old, &new).await?;
    assert!(
        again
            .entries
            .iter()
            .all(|e| e.action != weir_apply::Action::Deleted)
    );
    Ok(())
}

#[tokio::test]
async fn flux_annotations_skip_objects() -> TestResult {
    let env = TestEnv::new("apply-annotations").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());
    let cm = |name: &str, color: &str, annotations: Value| {
        object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": ns, "annotations": annotations },
            "data": { "color": color },
        }))
    };
    manager
        .apply_all_staged(vec![
            cm(
                "frozen",
                "blue",
                json!({ weir_apply::RECONCILE_ANNOTATION: "disabled" }),
            ),
            cm(
                "once",
                "blue",
                json!({ weir_apply::SSA_ANNOTATION: "IfNotPresent" }),
            ),
        ])
        .await?;
    let set = manager
        .apply_all_staged(vec![
            cm("frozen", "green", json!({})),
            cm(
                "once",
                "green",
                json!({ weir_apply::SSA_ANNOTATION: "IfNotPresent" }),
            ),
            cm(
                "never",
                "green",
                json!({ weir_apply::SSA_ANNOTATION: "Ignore" }),
            ),
        ])
        .await?;
    assert_eq!(
        actions(&set),
        [
            format!("ConfigMap/{ns}/frozen skipped"),
            format!("ConfigMap/{ns}/never skipped"),
            format!("ConfigMap/{ns}/once skipped"),
        ]
    );
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), ns);
    for name in ["frozen", "once"] {
        let color = api
            .get(name)
            .await?
            .data
            .and_then(|d| d.get("color").cloned());
        assert_eq!(color.as_deref(), Some("blue"), "{name}");
    }
    assert!(api.get_opt("never").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn wait_succeeds_times_out_and_fails_fast() -> TestResult {
    use std::time::Duration;
    let env = TestEnv::new("apply-wait").await?;
    let ns = env.namespace();
    let manager = Manager::new(env.client.clone(), Options::default());

    // A Deployment scaled to zero becomes Available through kube-controller-manager.
    let set = manager
        .apply_all_staged(vec![deployment(ns, 0), config_map(ns, "blue")])
        .await?;
    manager
        .wait(&set, Duration::from_secs(60), Duration::from_millis(200))
        .await?;

    // One replica never becomes available: no kubelet runs pods here.
    let set = manager.apply_all_staged(vec![deployment(ns, 1)]).await?;
    let err = manager
        .wait(&set, Duration::from_secs(2), Duration::from_millis(200))
        .await
        .expect_err("cannot become ready without a kubelet");
    let text = err.to_string();
    assert!(
        text.contains(&format!("Deployment/{ns}/web not ready after 2s")),
        "{text}"
    );

    // A Job marked failed fails the wait at once.
    let job = object(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": "once", "namespace": ns },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "c", "image": "busybox" }],
        } } },
    }));
    let set = manager.apply_all_staged(vec![job]).await?;
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(env.client.clone(), ns);
    // The job controller starts the Job first; mark it failed only then, as a real failure
    // would (its start time is immutable once set).
    weir_testenv::wait_for(&jobs, "once", Duration::from_secs(30), |j| {
        j.status.as_ref().is_some_and(|s| s.start_time.is_some())
    })
    .await?;
    weir_testenv::patch_status(
        &jobs,
        "once",
        json!({
            "active": 0,
            "conditions": [
                { "type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" },
                { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" },
            ],
        }),
    )
    .await?;
    let started = std::time::Instant::now();
    let err = manager
        .wait(&set, Duration::from_secs(60), Duration::from_millis(200))
        .await
        .expect_err("the job failed");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.to_string().contains(&format!("Job/{ns}/once failed")),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn inventories_round_trip_through_a_config_map() -> TestResult {
    let env = TestEnv::new("apply-store").await?;
    let ns = env.namespace();
    let empty = weir_apply::store::load(&env.client, ns, "inv").await?;
    assert!(empty.entries.is_empty());
    let manager = Manager::new(env.client.clone(), Options::default());
    let set = manager
        .apply_all_staged(vec![config_map(ns, "blue")])
        .await?;
    let inventory = weir_apply::Inventory::from_change_set(&set);
    weir_apply::store::save(&env.client, ns, "inv", &inventory, "weir").await?;
    let back = weir_apply::store::load(&env.client, ns, "inv").await?;
    assert_eq!(back, inventory);
    assert_eq!(back.entries[0].key(), format!("{ns}_settings__ConfigMap"));
    Ok(())
}
