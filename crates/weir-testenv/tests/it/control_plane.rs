//! Against the real kube-apiserver, etcd and kube-controller-manager.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use weir_testenv::{TestEnv, patch_status, wait_deleted, wait_for};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..ConfigMap::default()
    }
}

#[tokio::test]
async fn reports_the_pinned_version() -> TestResult {
    let env = TestEnv::new("version").await?;
    let info = env.client.apiserver_version().await?;
    assert_eq!(info.git_version, "v1.36.3");
    assert_eq!(env.control_plane.version(), "v1.36.3");
    Ok(())
}

#[tokio::test]
async fn config_map_create_read_update_delete() -> TestResult {
    let env = TestEnv::new("cm-crud").await?;
    let api: Api<ConfigMap> = env.api();

    let created = api
        .create(
            &PostParams::default(),
            &config_map("app", &[("color", "blue")]),
        )
        .await?;
    assert_eq!(created.metadata.namespace.as_deref(), Some(env.namespace()));

    let mut read = api.get("app").await?;
    assert_eq!(
        read.data
            .as_ref()
            .and_then(|d| d.get("color"))
            .map(String::as_str),
        Some("blue")
    );

    read.data = Some([("color".to_owned(), "green".to_owned())].into());
    let updated = api.replace("app", &PostParams::default(), &read).await?;
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(
        api.get("app")
            .await?
            .data
            .and_then(|d| d.get("color").cloned())
            .as_deref(),
        Some("green")
    );

    api.delete("app", &DeleteParams::default()).await?;
    assert!(api.get_opt("app").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn namespace_create_read_update_delete_goes_away() -> TestResult {
    let env = TestEnv::new("ns-crud").await?;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let name = format!("{}-extra", env.namespace());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;
    let patched = namespaces
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "platform"}}})),
        )
        .await?;
    assert_eq!(
        patched
            .metadata
            .labels
            .and_then(|l| l.get("team").cloned())
            .as_deref(),
        Some("platform")
    );

    // Content makes the namespace controller do real work before the namespace can go.
    let in_ns: Api<ConfigMap> = Api::namespaced(env.client.clone(), &name);
    in_ns
        .create(&PostParams::default(), &config_map("inside", &[("k", "v")]))
        .await?;

    namespaces.delete(&name, &DeleteParams::default()).await?;
    let terminating = namespaces.get(&name).await?;
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    wait_deleted(&namespaces, &name, Duration::from_secs(60)).await?;
    Ok(())
}

#[tokio::test]
async fn server_side_apply_records_the_field_manager() -> TestResult {
    let env = TestEnv::new("ssa").await?;
    let api: Api<ConfigMap> = env.api();
    let object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"key": "value"},
    });
    let applied = api
        .patch(
            "applied",
            &PatchParams::apply("weir-test").force(),
            &Patch::Apply(&object),
        )
        .await?;
    let managers = applied.metadata.managed_fields.unwrap_or_default();
    let entry = managers
        .iter()
        .find(|m| m.manager.as_deref() == Some("weir-test"))
        .ok_or("no managedFields entry for weir-test")?;
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    let fields = serde_json::to_string(&entry.fields_v1)?;
    assert!(fields.contains("f:key"), "{fields}");
    Ok(())
}

#[tokio::test]
async fn garbage_collector_deletes_dependents() -> TestResult {
    let env = TestEnv::new("gc").await?;
    let api: Api<ConfigMap> = env.api();
    let owner = api
        .create(&PostParams::default(), &config_map("owner", &[]))
        .await?;
    let mut child = config_map("child", &[]);
    child.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.clone().ok_or("owner has no uid")?,
            ..Default::default()
        },
    ]);
    api.create(&PostParams::default(), &child).await?;
    api.delete("owner", &DeleteParams::background()).await?;
    wait_deleted(&api, "child", Duration::from_secs(60)).await?;
    Ok(())
}

#[tokio::test]
async fn deployment_scaled_to_zero_becomes_available() -> TestResult {
    let env = TestEnv::new("deploy").await?;
    let api: Api<Deployment> = env.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}
            }
        }
    }))?;
    api.create(&PostParams::default(), &deployment).await?;
    // Written by the deployment controller in kube-controller-manager.
    wait_for(&api, "web", Duration::from_secs(60), |d| {
        d.status.as_ref().is_some_and(|s| {
            s.observed_generation == Some(1)
                && s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Available" && c.status == "True")
        })
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn status_subresource_can_be_patched_for_readiness() -> TestResult {
    let env = TestEnv::new("status").await?;
    let api: Api<Service> = env.api();
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}
    }))?;
    api.create(&PostParams::default(), &service).await?;
    patch_status(
        &api,
        "lb",
        json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.10"}]}}),
    )
    .await?;
    let got = api.get("lb").await?;
    let ip = got
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .and_then(|i| i.first().and_then(|i| i.ip.clone()));
    assert_eq!(ip.as_deref(), Some("127.0.0.10"));
    Ok(())
}
