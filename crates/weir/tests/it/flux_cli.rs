//! `weir get|reconcile|suspend|resume|events|tree` on HelmRepositories, HelmCharts and
//! HelmReleases, against the real API server. The test plays the controller's part: it answers
//! each reconcile request with the status a controller writes (as Flux's own CLI tests do with
//! a fake client), and records the order of the requests.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WHEN: &str = "2026-01-01T00:00:00Z";
const REPO_REVISION: &str =
    "sha256:6f3dc2a3a3b9a1c0f8b2b1e7d2a6b4c5d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4";

fn api(env: &TestEnv, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        env.namespace(),
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural),
    )
}

/// The APIs of the kinds the stand-in controller answers for.
fn helm_apis(env: &TestEnv) -> [(&'static str, Api<DynamicObject>); 3] {
    let source = "source.toolkit.fluxcd.io";
    [
        (
            "HelmRepository",
            api(env, source, "v1", "HelmRepository", "helmrepositories"),
        ),
        (
            "HelmChart",
            api(env, source, "v1", "HelmChart", "helmcharts"),
        ),
        (
            "HelmRelease",
            api(
                env,
                "helm.toolkit.fluxcd.io",
                "v2",
                "HelmRelease",
                "helmreleases",
            ),
        ),
    ]
}

async fn create(api: &Api<DynamicObject>, value: Value) -> TestResult {
    let object: DynamicObject = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

fn ready(message: &str) -> Value {
    json!([{ "type": "Ready", "status": "True", "reason": "Succeeded", "message": message,
             "lastTransitionTime": WHEN }])
}

fn artifact(kind: &str, name: &str, revision: &str) -> Value {
    json!({ "digest": REPO_REVISION, "lastUpdateTime": WHEN, "revision": revision,
            "path": format!("{kind}/{name}/artifact.tgz"),
            "url": format!("http://127.0.0.1/{kind}/{name}/artifact.tgz") })
}

/// The status a controller writes after handling `token` on `object`.
fn status(kind: &str, object: &DynamicObject, token: &str) -> Value {
    let name = object.metadata.name.clone().unwrap_or_default();
    let ns = object.metadata.namespace.clone().unwrap_or_default();
    let annotation = |key: &str| {
        object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    let mut status = json!({
        "lastHandledReconcileAt": token,
        "observedGeneration": object.metadata.generation,
    });
    match kind {
        "HelmRepository" => {
            status["conditions"] = ready(&format!("stored artifact: revision '{REPO_REVISION}'"));
            status["artifact"] = artifact("helmrepository", &name, REPO_REVISION);
        }
        "HelmChart" => {
            status["conditions"] = ready("pulled 'podinfo' chart with version '6.5.0'");
            status["artifact"] = artifact("helmchart", &name, "6.5.0");
        }
        _ => {
            status["conditions"] = ready(&format!(
                "Helm install succeeded for release {ns}/{name}.v1 with chart podinfo@6.5.0"
            ));
            status["history"] = json!([{
                "chartName": "podinfo", "chartVersion": "6.5.0", "appVersion": "6.5.0",
                "configDigest": REPO_REVISION, "digest": REPO_REVISION, "firstDeployed": WHEN,
                "lastDeployed": WHEN, "name": name, "namespace": ns, "status": "deployed",
                "version": 1,
            }]);
            status["inventory"] =
                json!({ "entries": [{ "id": format!("{ns}_podinfo__ConfigMap"), "v": "v1" }] });
            status["lastHandledForceAt"] = json!(annotation("reconcile.fluxcd.io/forceAt"));
            status["lastHandledResetAt"] = json!(annotation("reconcile.fluxcd.io/resetAt"));
        }
    }
    status
}

/// Answers reconcile requests on the Helm kinds until dropped; `log` gets `Kind/name` for
/// each request handled, in order.
struct StandIn(tokio::task::JoinHandle<()>);

impl Drop for StandIn {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn stand_in(env: &TestEnv, log: Arc<Mutex<Vec<String>>>) -> StandIn {
    let apis = helm_apis(env);
    StandIn(tokio::spawn(async move {
        loop {
            for (kind, api) in &apis {
                let Ok(list) = api.list(&ListParams::default()).await else {
                    continue;
                };
                for object in list {
                    let token = object
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("reconcile.fluxcd.io/requestedAt"))
                        .cloned();
                    let Some(token) = token else { continue };
                    let handled = object.data["status"]["lastHandledReconcileAt"].as_str()
                        == Some(token.as_str());
                    let suspended = object.data["spec"]["suspend"] == true;
                    if handled || suspended {
                        continue;
                    }
                    let name = object.metadata.name.clone().unwrap_or_default();
                    let status = status(kind, &object, &token);
                    if weir_testenv::patch_status(api, &name, status).await.is_ok()
                        && let Ok(mut log) = log.lock()
                    {
                        log.push(format!("{kind}/{name}"));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}

// Two workers: the stand-in answers while the test blocks on the `weir` process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_kinds_with_get_reconcile_suspend_resume_events_and_tree() -> TestResult {
    let env = TestEnv::new("cli-helm").await?;
    let ns = env.namespace().to_owned();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let weir = |args: &[&str]| -> Result<(bool, String, String), Box<dyn std::error::Error>> {
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["-n", &ns])
            .args(args)
            .env_remove("KUBECONFIG")
            .output()?;
        Ok((
            out.status.success(),
            String::from_utf8(out.stdout)?,
            String::from_utf8(out.stderr)?,
        ))
    };
    // The CRDs, as `weir install` applies them (to its own namespace, as the other tests).
    let install = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("install")
        .env_remove("KUBECONFIG")
        .output()?;
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );

    let [(_, repos), (_, charts), (_, releases)] = helm_apis(&env);
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": { "name": "podinfo" },
            "spec": { "interval": "1h", "url": "https://stefanprodan.github.io/podinfo" },
        }),
    )
    .await?;
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": { "name": "registry" },
            "spec": { "type": "oci", "url": "oci://ghcr.io/stefanprodan/charts" },
        }),
    )
    .await?;
    // The HelmChart a controller creates for the release's spec.chart: `<namespace>-<name>`.
    let chart = format!("{ns}-podinfo");
    create(
        &charts,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
            "metadata": { "name": chart },
            "spec": { "interval": "1h", "chart": "podinfo",
                      "sourceRef": { "kind": "HelmRepository", "name": "podinfo" } },
        }),
    )
    .await?;
    create(
        &releases,
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": { "name": "podinfo" },
            "spec": { "interval": "1h", "chart": { "spec": { "chart": "podinfo",
                      "sourceRef": { "kind": "HelmRepository", "name": "podinfo" } } } },
        }),
    )
    .await?;
    create(&releases, json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": { "name": "from-oci" },
        "spec": { "interval": "1h", "chartRef": { "kind": "OCIRepository", "name": "podinfo" } },
    }))
    .await?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let _controller = stand_in(&env, log.clone());
    let handled = || log.lock().map(|l| l.clone()).unwrap_or_default();

    // Before any reconcile: no revision yet, waiting.
    let (ok, out, err) = weir(&["get", "hr", "podinfo"])?;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines()
            .nth(1)
            .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>()),
        Some(vec![
            "podinfo",
            "",
            "False",
            "Unknown",
            "waiting to be reconciled"
        ]),
        "{out}"
    );

    // --with-source: the chart's HelmRepository, the chart, then the release, as Flux.
    let (ok, _, err) = weir(&[
        "reconcile",
        "hr",
        "podinfo",
        "--with-source",
        "--force",
        "--timeout",
        "30",
    ])?;
    assert!(ok, "{err}");
    assert_eq!(
        handled(),
        [
            "HelmRepository/podinfo".to_owned(),
            format!("HelmChart/{chart}"),
            "HelmRelease/podinfo".to_owned(),
        ]
    );
    for line in [
        format!("fetched revision {REPO_REVISION}"),
        "fetched revision 6.5.0".to_owned(),
        "applied revision 6.5.0".to_owned(),
    ] {
        assert!(err.contains(&line), "{line}: {err}");
    }
    let release = releases.get("podinfo").await?;
    let annotations = release.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get("reconcile.fluxcd.io/forceAt"),
        annotations.get("reconcile.fluxcd.io/requestedAt")
    );
    assert!(!annotations.contains_key("reconcile.fluxcd.io/resetAt"));
    assert_eq!(
        release.data["status"]["lastHandledForceAt"].as_str(),
        annotations
            .get("reconcile.fluxcd.io/forceAt")
            .map(String::as_str)
    );

    // Flux's columns: REVISION is the chart version of the latest release.
    let (ok, out, err) = weir(&["get", "helmreleases"])?;
    assert!(ok, "{err}");
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or_default()
        .split('\t')
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("podinfo"))
        .unwrap_or_default();
    let row: Vec<&str> = row.split('\t').map(str::trim).collect();
    assert_eq!(row[..4], ["podinfo", "6.5.0", "False", "True"], "{out}");
    assert!(row[4].starts_with("Helm install succeeded"), "{out}");

    // A HelmRepository of type oci has no reconciler: Ready as Flux shows it, not annotated.
    let (ok, out, err) = weir(&["get", "sources", "helm"])?;
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("podinfo") && l.contains(REPO_REVISION)),
        "{out}"
    );
    let registry: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("registry"))
        .unwrap_or_default()
        .split('\t')
        .map(str::trim)
        .collect();
    assert_eq!(
        registry,
        ["registry", "", "False", "True", "Helm repository is Ready"],
        "{out}"
    );
    let (ok, _, err) = weir(&["reconcile", "source", "helm", "registry"])?;
    assert!(ok, "{err}");
    assert!(
        err.contains("reconciliation not supported by the object"),
        "{err}"
    );
    let (ok, out, err) = weir(&["get", "sources", "chart", "-o", "json"])?;
    assert!(ok, "{err}");
    let rows: Value = serde_json::from_str(&out)?;
    assert_eq!(rows[0]["name"], chart.as_str());
    assert_eq!(rows[0]["revision"], "6.5.0");
    assert_eq!(rows[0]["kind"], "HelmChart");

    // `reconcile source chart --with-source` reconciles the HelmRepository first.
    let before = handled().len();
    let (ok, _, err) = weir(&["reconcile", "source", "chart", &chart, "--with-source"])?;
    assert!(ok, "{err}");
    assert_eq!(
        handled()[before..],
        [
            "HelmRepository/podinfo".to_owned(),
            format!("HelmChart/{chart}")
        ]
    );

    // A chartRef to an OCIRepository that does not exist: named, nothing reconciled.
    let before = handled().len();
    let (ok, _, err) = weir(&["reconcile", "helmrelease", "from-oci", "--with-source"])?;
    assert!(!ok);
    assert!(
        err.contains("OCIRepository '") && err.contains("not found"),
        "{err}"
    );
    assert_eq!(handled().len(), before);

    // Suspended: shown, refused by reconcile; resumed: reconciled again.
    let (ok, _, err) = weir(&["suspend", "hr", "podinfo"])?;
    assert!(ok, "{err}");
    assert_eq!(releases.get("podinfo").await?.data["spec"]["suspend"], true);
    let (ok, out, err) = weir(&["get", "hr", "podinfo"])?;
    assert!(ok, "{err}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains("\tTrue")),
        "{out}"
    );
    let (ok, _, err) = weir(&["reconcile", "hr", "podinfo", "--timeout", "10"])?;
    assert!(!ok);
    assert!(err.contains("is suspended"), "{err}");
    let before = handled().len();
    let (ok, _, err) = weir(&["resume", "helmrelease", "podinfo", "--timeout", "30"])?;
    assert!(ok, "{err}");
    assert!(err.contains("applied revision 6.5.0"), "{err}");
    assert_eq!(handled()[before..], ["HelmRelease/podinfo".to_owned()]);

    // `get all` lists the Helm kinds, prefixed, sources first.
    let (ok, out, err) = weir(&["get", "all"])?;
    assert!(ok, "{err}");
    let at = |what: &str| out.find(what).unwrap_or_else(|| panic!("{what}: {out}"));
    assert!(at("helmrepository/podinfo") < at(&format!("helmchart/{chart}")));
    assert!(at(&format!("helmchart/{chart}")) < at("helmrelease/podinfo"));

    // Events of HelmReleases are shown without --for.
    let events: Api<Event> = env.api();
    let event: Event = serde_json::from_value(json!({
        "metadata": { "name": "podinfo.install" },
        "involvedObject": { "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                            "name": "podinfo", "namespace": ns },
        "reason": "InstallSucceeded", "type": "Normal", "lastTimestamp": WHEN,
        "message": "Helm install succeeded",
    }))?;
    events.create(&PostParams::default(), &event).await?;
    let (ok, out, err) = weir(&["events"])?;
    assert!(ok, "{err}");
    assert!(
        out.contains("InstallSucceeded\tHelmRelease/podinfo\tHelm install succeeded"),
        "{out}"
    );

    // The tree of a Kustomization goes into the HelmReleases it applied.
    let ks = api(
        &env,
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
    );
    create(
        &ks,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": { "name": "apps" },
            "spec": { "interval": "1h", "prune": true,
                      "sourceRef": { "kind": "GitRepository", "name": "fleet" } },
        }),
    )
    .await?;
    weir_testenv::patch_status(
        &ks,
        "apps",
        json!({ "inventory": { "entries": [
            { "id": format!("{ns}_podinfo_helm.toolkit.fluxcd.io_HelmRelease"), "v": "v2" },
        ] } }),
    )
    .await?;
    let (ok, out, err) = weir(&["tree", "ks", "apps"])?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!(
            "Kustomization/{ns}/apps\n└── HelmRelease/{ns}/podinfo\n    └── ConfigMap/{ns}/podinfo\n"
        )
    );
    Ok(())
}
