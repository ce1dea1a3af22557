//! HelmReleases end to end: charts from a GitRepository and from a HelmRepository served over
//! HTTPS with basic auth, installed, upgraded, rolled back and uninstalled by `weir
//! controller`, with the releases read and changed by the real `helm` CLI (built under
//! `tools/`) against the same API server, in both directions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use weir_testenv::{wait_deleted, wait_for};

use crate::controller::{Fleet, TestResult, Transport, create, is, request, resource};

const WAIT: Duration = Duration::from_secs(90);

const CHART: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n";
const VALUES: &str = "message: hello\nextra: true\n";
const CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
  revision: {{ .Release.Revision | quote }}
";
const BAD: &str = "{{- if .Values.bad }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: Not_A_Valid_Name
{{- end }}
";
const TEST_HOOK: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
data: {}
";
const EXTRA: &str = "{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data: {}
{{- end }}
";

fn chart_files(root: &str) -> Vec<(String, &'static str)> {
    vec![
        (format!("{root}/templates/bad.yaml"), BAD),
        (format!("{root}/templates/tests/test.yaml"), TEST_HOOK),
        (format!("{root}/Chart.yaml"), CHART),
        (format!("{root}/values.yaml"), VALUES),
        (format!("{root}/templates/config.yaml"), CONFIG),
        (format!("{root}/templates/extra.yaml"), EXTRA),
        (
            format!("{root}/templates/NOTES.txt"),
            "Thanks for installing {{ .Chart.Name }}.\n",
        ),
    ]
}

/// A `helm history` entry: revision, status, description.
type Revision = (i64, String, String);

/// The `helm` CLI built by `tools/build helm`, with its own home.
struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
    namespace: String,
}

impl Helm {
    fn new(fleet: &Fleet) -> Result<Self, Box<dyn std::error::Error>> {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/bin/helm");
        assert!(
            bin.exists(),
            "{} is missing: run `tools/build helm` (tools/setup does)",
            bin.display()
        );
        Ok(Helm {
            bin,
            home: tempfile::tempdir()?,
            kubeconfig: fleet.env.control_plane.kubeconfig_path(),
            namespace: fleet.env.namespace().to_owned(),
        })
    }

    fn run(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let home = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["-n", &self.namespace])
            .env("HOME", home)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("KUBECONFIG")
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "helm {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// `helm history NAME` as (revision, status, description).
    fn history(&self, name: &str) -> Result<Vec<Revision>, Box<dyn std::error::Error>> {
        let out: Value = serde_json::from_str(&self.run(&["history", name, "-o", "json"])?)?;
        Ok(out
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap_or_default(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                    r["description"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }
}

/// Creates HelmRelease `name` of the fleet's `charts/demo`, with `extra` in its spec.
async fn git_release(hr: &Api<DynamicObject>, name: &str, extra: Value) -> TestResult {
    let mut spec = json!({
        "interval": "1h",
        "chart": { "spec": { "chart": "./charts/demo", "sourceRef": { "kind": "GitRepository", "name": "fleet" } } },
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    create(
        hr,
        json!({ "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": { "name": name }, "spec": spec }),
    )
    .await
}

fn helm_releases(fleet: &Fleet) -> Api<DynamicObject> {
    Api::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
            "helmreleases",
        ),
    )
}

async fn message(fleet: &Fleet, name: &str) -> Option<String> {
    let config_maps: Api<ConfigMap> = fleet.env.api();
    config_maps
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|cm| cm.data)
        .and_then(|d| d.get("message").cloned())
}

fn released_version(o: &DynamicObject, version: i64) -> bool {
    is(o, "Ready", "True") && o.data["status"]["history"][0]["version"] == version
}

#[tokio::test]
async fn helm_release_lifecycle_is_shared_with_the_helm_cli() -> TestResult {
    let files = chart_files("charts/demo");
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let (fleet, _) = Fleet::start("helm-e2e", &refs, Transport::Https).await?;
    let ns = fleet.env.namespace().to_owned();
    let hr = helm_releases(&fleet);
    let helm = Helm::new(&fleet)?;
    git_release(
        &hr,
        "demo",
        json!({
                "values": { "message": "one" },
        }),
    )
    .await?;

    // Installed: objects with Helm's and Flux's metadata, the release stored as Helm does.
    let installed = wait_for(&hr, "demo", WAIT, |o| released_version(o, 1)).await?;
    assert_eq!(
        installed.data["status"]["helmChart"],
        format!("{ns}/{ns}-demo").as_str()
    );
    assert_eq!(
        installed.data["status"]["history"][0]["chartVersion"],
        "0.1.0"
    );
    assert_eq!(installed.data["status"]["history"][0]["status"], "deployed");
    assert!(is(&installed, "Released", "True"));
    let inventory = installed.data["status"]["inventory"]["entries"].to_string();
    assert!(
        inventory.contains(&format!("{ns}_demo-config__ConfigMap")),
        "{inventory}"
    );
    let ready = crate::controller::condition(&installed, "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["reason"], "InstallSucceeded");
    assert_eq!(
        ready["message"],
        format!("Helm install succeeded for release {ns}/demo.v1 with chart demo@0.1.0").as_str()
    );
    assert_eq!(message(&fleet, "demo-config").await.as_deref(), Some("one"));
    let config_maps: Api<ConfigMap> = fleet.env.api();
    let cm = config_maps.get("demo-config").await?;
    let annotations = cm.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("meta.helm.sh/release-name")
            .map(String::as_str),
        Some("demo")
    );
    let labels = cm.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("demo")
    );
    assert!(config_maps.get_opt("demo-extra").await?.is_some());
    let secrets: Api<Secret> = fleet.env.api();
    let stored = secrets.get("sh.helm.release.v1.demo.v1").await?;
    assert_eq!(stored.type_.as_deref(), Some("helm.sh/release.v1"));
    let labels = stored.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("owner").map(String::as_str), Some("helm"));
    assert_eq!(labels.get("status").map(String::as_str), Some("deployed"));

    // The helm CLI sees it.
    let list: Value = serde_json::from_str(&helm.run(&["list", "-o", "json"])?)?;
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    let notes = helm.run(&["get", "notes", "demo"])?;
    assert!(notes.contains("Thanks for installing demo."), "{notes}");

    // Upgrade: new values, an object the new release no longer has is deleted.
    hr.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "values": { "message": "two", "extra": false } } })),
    )
    .await?;
    let upgraded = wait_for(&hr, "demo", WAIT, |o| released_version(o, 2)).await?;
    let ready = crate::controller::condition(&upgraded, "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["reason"], "UpgradeSucceeded");
    assert_eq!(message(&fleet, "demo-config").await.as_deref(), Some("two"));
    assert!(config_maps.get_opt("demo-extra").await?.is_none());
    let history = helm.history("demo")?;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.0, h.1.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );

    // `helm rollback` on Weir's release; Weir then brings it back to what Git says.
    helm.run(&["rollback", "demo", "1", "--force-conflicts"])?;
    assert_eq!(message(&fleet, "demo-config").await.as_deref(), Some("one"));
    assert!(config_maps.get_opt("demo-extra").await?.is_some());
    request(&hr, "demo", "after-rollback").await?;
    wait_for(&hr, "demo", WAIT, |o| released_version(o, 4)).await?;
    assert_eq!(message(&fleet, "demo-config").await.as_deref(), Some("two"));
    assert!(config_maps.get_opt("demo-extra").await?.is_none());
    let history = helm.history("demo")?;
    assert_eq!(history.len(), 4);
    assert_eq!(history[2].2, "Rollback to 1");
    assert_eq!(history[3].1, "deployed");

    // A release left pending by a crash is recovered, not stuck.
    let mut pending = weir_helm::release::decode(
        "v4",
        &secrets
            .get("sh.helm.release.v1.demo.v4")
            .await?
            .data
            .unwrap_or_default()["release"]
            .0,
    )?;
    weir_helm::release::set_status(&mut pending, "pending-upgrade", "interrupted");
    let patch = weir_helm::release::secret(&pending, &ns, 0, true);
    secrets
        .patch(
            "sh.helm.release.v1.demo.v4",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "status": "pending-upgrade" } }, "data": patch["data"] })),
        )
        .await?;
    hr.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "values": { "message": "three" } } })),
    )
    .await?;
    wait_for(&hr, "demo", WAIT, |o| released_version(o, 5)).await?;
    assert_eq!(
        message(&fleet, "demo-config").await.as_deref(),
        Some("three")
    );
    let history = helm.history("demo")?;
    assert!(history[3].2.contains("recovered"), "{history:?}");
    assert_eq!(history.last().map(|h| h.1.as_str()), Some("deployed"));

    // Deleting the HelmRelease uninstalls: objects and history gone, HelmChart deleted.
    hr.delete("demo", &DeleteParams::default()).await?;
    wait_deleted(&hr, "demo", WAIT).await?;
    assert!(config_maps.get_opt("demo-config").await?.is_none());
    assert!(helm.run(&["list", "-o", "json"])?.trim() == "[]");
    Ok(())
}

#[tokio::test]
async fn releases_made_by_helm_are_adopted() -> TestResult {
    let mut files = chart_files("charts/demo");
    files.push((
        "apps/after.yaml".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-release\ndata: {}\n",
    ));
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let (fleet, _) = Fleet::start("helm-adopt", &refs, Transport::Https).await?;
    let hr = helm_releases(&fleet);
    let helm = Helm::new(&fleet)?;
    let local = tempfile::tempdir()?;
    for (path, content) in chart_files("demo") {
        let file = local.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(local.path()))?;
        std::fs::write(file, content)?;
    }
    let chart = local.path().join("demo");
    helm.run(&[
        "install",
        "adopted",
        chart.to_str().unwrap_or_default(),
        "--set",
        "message=cli",
    ])?;
    assert_eq!(
        message(&fleet, "adopted-config").await.as_deref(),
        Some("cli")
    );
    git_release(
        &hr,
        "adopted",
        json!({
                "values": { "message": "gitops" },
        }),
    )
    .await?;
    // Across kinds (Weir's `kind` on dependsOn): a Kustomization waits for the HelmRelease.
    fleet
        .kustomization(
            "after",
            "./apps",
            json!({ "dependsOn": [{ "kind": "HelmRelease", "name": "adopted" }] }),
        )
        .await?;
    wait_for(&hr, "adopted", WAIT, |o| released_version(o, 2)).await?;
    let ks = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &resource(
            "kustomize.toolkit.fluxcd.io",
            "Kustomization",
            "kustomizations",
        ),
    );
    wait_for(&ks, "after", WAIT, |o| is(o, "Ready", "True")).await?;
    assert_eq!(
        message(&fleet, "adopted-config").await.as_deref(),
        Some("gitops")
    );
    let history = helm.history("adopted")?;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.0, h.1.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    // Helm can upgrade Weir's release in turn.
    helm.run(&[
        "upgrade",
        "adopted",
        chart.to_str().unwrap_or_default(),
        "--set",
        "message=cli2",
        "--force-conflicts",
    ])?;
    assert_eq!(
        message(&fleet, "adopted-config").await.as_deref(),
        Some("cli2")
    );
    Ok(())
}

/// Packs `files` (paths from the chart root) as `<name>-<version>.tgz` the way `helm package`
/// lays archives out.
fn package(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[(String, &str)],
) -> Result<String, Box<dyn std::error::Error>> {
    use sha2::Digest as _;
    let file = format!("{name}-{version}.tgz");
    let out = std::fs::File::create(dir.join(&file))?;
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        out,
        flate2::Compression::default(),
    ));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, format!("{name}/{path}"), content.as_bytes())?;
    }
    builder.into_inner()?.finish()?;
    Ok(format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(dir.join(&file))?)
    ))
}

#[tokio::test]
async fn charts_from_an_https_helm_repository_with_basic_auth() -> TestResult {
    let (fleet, _) =
        Fleet::start("helm-repo", &[("README.md", "fleet\n")], Transport::Https).await?;
    let ns = fleet.env.namespace().to_owned();
    let dir = fleet.server.charts_dir();
    let mut entries = String::new();
    for (version, msg) in [("1.0.0", "old"), ("1.1.0", "new"), ("2.0.0-rc.1", "pre")] {
        let chart = CHART.replace("0.1.0", version);
        let values = VALUES.replace("hello", msg);
        let files: Vec<(String, &str)> = vec![
            ("Chart.yaml".into(), chart.as_str()),
            ("values.yaml".into(), values.as_str()),
            ("templates/config.yaml".into(), CONFIG),
        ];
        let digest = package(&dir, "demo", version, &files)?;
        entries.push_str(&format!(
            "  - apiVersion: v2\n    name: demo\n    version: {version}\n    digest: {digest}\n    urls:\n    - demo-{version}.tgz\n"
        ));
    }
    std::fs::write(
        dir.join("index.yaml"),
        format!(
            "apiVersion: v1\nentries:\n  demo:\n{entries}generated: \"2026-01-01T00:00:00Z\"\n"
        ),
    )?;
    let secrets: Api<Secret> = fleet.env.api();
    let secret: Secret = serde_json::from_value(json!({ "metadata": { "name": "charts" },
        "stringData": { "username": fleet.server.username(), "password": fleet.server.password(), "ca.crt": fleet.server.ca_pem()? } }))?;
    secrets.create(&PostParams::default(), &secret).await?;
    let repos = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        &ns,
        &resource(
            "source.toolkit.fluxcd.io",
            "HelmRepository",
            "helmrepositories",
        ),
    );
    create(&repos, json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": { "name": "charts" },
        "spec": { "interval": "1h", "url": fleet.server.charts_url(), "secretRef": { "name": "charts" }, "certSecretRef": { "name": "charts" } },
    })).await?;
    let repo = wait_for(&repos, "charts", WAIT, |o| is(o, "Ready", "True")).await?;
    assert!(
        repo.data["status"]["artifact"]["revision"]
            .as_str()
            .is_some_and(|r| r.starts_with("sha256:"))
    );
    // Wrong credentials: a clear failure, no secret in it.
    let bad: Secret = serde_json::from_value(json!({ "metadata": { "name": "bad" },
        "stringData": { "username": "nobody", "password": "hunter2-wrong", "ca.crt": fleet.server.ca_pem()? } }))?;
    secrets.create(&PostParams::default(), &bad).await?;
    create(&repos, json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": { "name": "denied" },
        "spec": { "interval": "1h", "url": fleet.server.charts_url(), "secretRef": { "name": "bad" }, "certSecretRef": { "name": "bad" } },
    })).await?;
    let denied = wait_for(&repos, "denied", WAIT, |o| is(o, "Ready", "False")).await?;
    let why = crate::controller::condition(&denied, "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(why["reason"], "AuthenticationFailed");
    assert!(
        why["message"]
            .as_str()
            .is_some_and(|m| m.contains("401") && !m.contains("hunter2")),
        "{why}"
    );

    let hr = helm_releases(&fleet);
    // Values from a ConfigMap, then a Secret key put at a path (its value has a comma).
    let config_maps: Api<ConfigMap> = fleet.env.api();
    let base: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "base-values" },
        "data": { "values.yaml": "message: from-configmap\nextra: true\n" } }))?;
    config_maps.create(&PostParams::default(), &base).await?;
    let over: Secret = serde_json::from_value(json!({ "metadata": { "name": "over-values" },
        "stringData": { "msg": "from-secret, with a comma" } }))?;
    secrets.create(&PostParams::default(), &over).await?;
    create(&hr, json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": { "name": "web" },
        "spec": {
            "interval": "1h",
            "chart": { "spec": { "chart": "demo", "version": "1.x", "sourceRef": { "kind": "HelmRepository", "name": "charts" } } },
            "valuesFrom": [
                { "kind": "ConfigMap", "name": "base-values" },
                { "kind": "Secret", "name": "over-values", "valuesKey": "msg", "targetPath": "message" },
                { "kind": "ConfigMap", "name": "absent", "optional": true },
            ],
        },
    })).await?;
    let web = wait_for(&hr, "web", WAIT, |o| released_version(o, 1)).await?;
    assert_eq!(web.data["status"]["history"][0]["chartVersion"], "1.1.0");
    assert_eq!(
        message(&fleet, "web-config").await.as_deref(),
        Some("from-secret, with a comma")
    );
    let charts = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        &ns,
        &resource("source.toolkit.fluxcd.io", "HelmChart", "helmcharts"),
    );
    let chart = charts.get(&format!("{ns}-web")).await?;
    assert_eq!(chart.data["status"]["artifact"]["revision"], "1.1.0");
    // A version range allowing pre-releases moves the release to 2.0.0-rc.1.
    hr.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "chart": { "spec": { "version": ">=2.0.0-0" } } } })),
    )
    .await?;
    wait_for(&hr, "web", WAIT, |o| released_version(o, 2)).await?;
    let config_maps: Api<ConfigMap> = fleet.env.api();
    let cm = config_maps.get("web-config").await?;
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("revision")
            .map(String::as_str),
        Some("2")
    );
    // No such version: the HelmRelease says why.
    hr.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "chart": { "spec": { "version": ">=9" } } } })),
    )
    .await?;
    let stuck = wait_for(&hr, "web", WAIT, |o| {
        crate::controller::condition(o, "Ready")
            .and_then(|c| c["message"].as_str())
            .is_some_and(|m| m.contains("no 'demo' chart with version matching '>=9'"))
    })
    .await?;
    assert!(is(&stuck, "Ready", "False"));
    Ok(())
}

#[tokio::test]
async fn failed_upgrades_roll_back_drift_is_corrected_and_tests_run() -> TestResult {
    let files = chart_files("charts/demo");
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let (fleet, _) = Fleet::start("helm-remediate", &refs, Transport::Https).await?;
    let hr = helm_releases(&fleet);
    let helm = Helm::new(&fleet)?;
    git_release(
        &hr,
        "demo",
        json!({
                "values": { "message": "good" },
                "upgrade": { "remediation": { "retries": 1 } },
                "driftDetection": { "mode": "enabled", "ignore": [{ "paths": ["/data/ignored"] }] },
                "test": { "enable": true },
        }),
    )
    .await?;
    let installed = wait_for(&hr, "demo", WAIT, |o| released_version(o, 1)).await?;
    let tested = crate::controller::condition(&installed, "TestSuccess")
        .cloned()
        .unwrap_or_default();
    assert_eq!(tested["status"], "True", "{tested}");
    assert_eq!(tested["reason"], "TestSucceeded");

    // An upgrade the API server refuses: the release fails, is rolled back, and says so.
    hr.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "values": { "message": "broken", "bad": true } } })),
    )
    .await?;
    // With one retry: upgrade, rollback, upgrade again, rollback again, then stalled.
    let failed = wait_for(&hr, "demo", WAIT, |o| is(o, "Stalled", "True")).await?;
    assert!(is(&failed, "Ready", "False"));
    assert!(is(&failed, "Remediated", "True"));
    let ready = crate::controller::condition(&failed, "Ready")
        .cloned()
        .unwrap_or_default();
    assert_eq!(ready["reason"], "RetriesExceeded", "{ready}");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("Not_A_Valid_Name") && m.contains("after 2 attempt(s)")),
        "{ready}"
    );
    assert_eq!(failed.data["status"]["upgradeFailures"], 2);
    assert_eq!(
        message(&fleet, "demo-config").await.as_deref(),
        Some("good")
    );
    let history = helm.history("demo")?;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.0, h.1.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, "superseded"),
            (2, "failed"),
            (3, "superseded"),
            (4, "failed"),
            (5, "deployed")
        ],
        "{history:?}"
    );
    assert_eq!(history[4].2, "Rollback to 3");
    // Stalled means quiet: no more attempts while nothing changes.
    let failures = failed.data["status"]["failures"].clone();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hr.get("demo").await?.data["status"]["failures"], failures);

    // Fixed in Git (here: in the spec): the next upgrade goes through.
    hr.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "values": { "message": "fixed", "bad": null } } })),
    )
    .await?;
    wait_for(&hr, "demo", WAIT, |o| released_version(o, 6)).await?;
    assert_eq!(
        message(&fleet, "demo-config").await.as_deref(),
        Some("fixed")
    );

    // Drift: a changed field is put back at the next reconcile; an ignored path is left alone.
    let config_maps: Api<ConfigMap> = fleet.env.api();
    config_maps
        .patch(
            "demo-config",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "demo-config" }, "data": { "message": "edited", "ignored": "mine" } })),
        )
        .await?;
    request(&hr, "demo", "drift").await?;
    wait_for(&config_maps, "demo-config", WAIT, |cm| {
        cm.data
            .as_ref()
            .and_then(|d| d.get("message"))
            .map(String::as_str)
            == Some("fixed")
    })
    .await?;
    let cm = config_maps.get("demo-config").await?;
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("ignored")
            .map(String::as_str),
        Some("mine")
    );
    // Six releases, the oldest trimmed (maxHistory 5); drift correction made none.
    let history = helm.history("demo")?;
    assert_eq!(history.len(), 5, "{history:?}");
    assert_eq!(history.last().map(|h| h.0), Some(6));
    Ok(())
}

#[test]
fn template_value_flags_match_helm() -> TestResult {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("flags");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: flags\nversion: 1.0.0\n",
    )?;
    std::fs::write(chart.join("values.yaml"), "a: 1\nlist: [x]\n")?;
    std::fs::write(
        chart.join("templates/values.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\ndata:\n  all: {{ toJson .Values | quote }}\n",
    )?;
    let file = dir.path().join("text.txt");
    std::fs::write(&file, "line one\nline, two\n")?;
    let args = [
        "template".to_owned(),
        "rel".to_owned(),
        chart.display().to_string(),
        "--set-json".to_owned(),
        r#"obj={"k":"1,2","n":[1,2.5,null]},list=["j"]"#.to_owned(),
        "--set".to_owned(),
        "a=2,b.c=true,list[1]=s".to_owned(),
        "--set-string".to_owned(),
        "n=007".to_owned(),
        "--set-file".to_owned(),
        format!("file.text={}", file.display()),
        "--set-literal".to_owned(),
        r"lit=x,y\z".to_owned(),
    ];
    same_as_helm(&args)
}

/// `helm template ARGS` and `weir helm template ARGS` print the same.
fn same_as_helm(args: &[String]) -> TestResult {
    let home = tempfile::tempdir()?;
    let helm_bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/bin/helm");
    assert!(helm_bin.exists(), "run `tools/build helm`");
    let helm = Command::new(helm_bin)
        .args(args)
        .env("HOME", home.path())
        .output()?;
    let weir = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("helm")
        .args(args)
        .output()?;
    assert!(
        helm.status.success(),
        "{}",
        String::from_utf8_lossy(&helm.stderr)
    );
    assert!(
        weir.status.success(),
        "{}",
        String::from_utf8_lossy(&weir.stderr)
    );
    assert_eq!(
        String::from_utf8(weir.stdout)?,
        String::from_utf8(helm.stdout)?
    );
    Ok(())
}

#[test]
fn dependency_tags_and_import_values_match_helm() -> TestResult {
    let dir = tempfile::tempdir()?;
    let parent = dir.path().join("parent");
    let write = |path: &str, text: &str| -> std::io::Result<()> {
        let file = parent.join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(&parent))?;
        std::fs::write(file, text)
    };
    write(
        "Chart.yaml",
        "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: 1.0.0\n  import-values:\n  - data\n  - child: deep.x\n    parent: from.deep\n- name: other\n  version: 1.0.0\n  tags: [extras]\n",
    )?;
    write(
        "values.yaml",
        "host: parent\ntags:\n  extras: false\ndata:\n  port: 1\n",
    )?;
    write(
        "templates/cm.yaml",
        "kind: ConfigMap\nv: {{ toJson .Values }}\n",
    )?;
    for child in ["child", "other"] {
        write(
            &format!("charts/{child}/Chart.yaml"),
            &format!("apiVersion: v2\nname: {child}\nversion: 1.0.0\n"),
        )?;
        write(
            &format!("charts/{child}/values.yaml"),
            "exports:\n  data:\n    port: 80\n    host: child\ndeep:\n  x:\n    z: 1\n",
        )?;
        write(
            &format!("charts/{child}/templates/cm.yaml"),
            &format!("kind: ConfigMap\nname: {child}\n"),
        )?;
    }
    let chart = parent.display().to_string();
    same_as_helm(&["template".into(), "r".into(), chart.clone()])?;
    same_as_helm(&[
        "template".into(),
        "r".into(),
        chart,
        "--set".into(),
        "tags.extras=true".into(),
    ])
}

#[tokio::test]
async fn charts_from_an_oci_registry_with_basic_auth() -> TestResult {
    let (mut fleet, _) =
        Fleet::start("helm-oci", &[("README.md", "fleet\n")], Transport::Https).await?;
    let host = fleet.server.start_registry()?;
    let helm = Helm::new(&fleet)?;
    // Two versions pushed with the real helm CLI.
    let work = tempfile::tempdir()?;
    let ca = work.path().join("ca.crt");
    std::fs::write(&ca, fleet.server.ca_pem()?)?;
    let ca = ca.display().to_string();
    helm.run(&[
        "registry",
        "login",
        &host,
        "-u",
        fleet.server.username(),
        "-p",
        fleet.server.password(),
        "--ca-file",
        &ca,
    ])?;
    for (version, msg) in [("1.0.0", "oci-old"), ("1.1.0", "oci-new")] {
        let dir = work.path().join(format!("src-{version}/demo"));
        std::fs::create_dir_all(dir.join("templates"))?;
        std::fs::write(dir.join("Chart.yaml"), CHART.replace("0.1.0", version))?;
        std::fs::write(dir.join("values.yaml"), VALUES.replace("hello", msg))?;
        std::fs::write(dir.join("templates/config.yaml"), CONFIG)?;
        let out = work.path().join("out");
        helm.run(&[
            "package",
            &dir.display().to_string(),
            "-d",
            &out.display().to_string(),
        ])?;
        let tgz = out
            .join(format!("demo-{version}.tgz"))
            .display()
            .to_string();
        helm.run(&[
            "push",
            &tgz,
            &format!("oci://{host}/charts"),
            "--ca-file",
            &ca,
        ])?;
    }
    let secrets: Api<Secret> = fleet.env.api();
    let secret: Secret = serde_json::from_value(json!({ "metadata": { "name": "registry" },
        "stringData": { "username": fleet.server.username(), "password": fleet.server.password(), "ca.crt": fleet.server.ca_pem()? } }))?;
    secrets.create(&PostParams::default(), &secret).await?;
    let repos = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &resource(
            "source.toolkit.fluxcd.io",
            "HelmRepository",
            "helmrepositories",
        ),
    );
    create(
        &repos,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": { "name": "oci" },
            "spec": { "type": "oci", "interval": "1h", "url": format!("oci://{host}/charts"),
                "secretRef": { "name": "registry" }, "certSecretRef": { "name": "registry" } },
        }),
    )
    .await?;
    let hr = helm_releases(&fleet);
    create(&hr, json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": { "name": "fromoci" },
        "spec": {
            "interval": "1h",
            "chart": { "spec": { "chart": "demo", "version": "1.x", "sourceRef": { "kind": "HelmRepository", "name": "oci" } } },
        },
    })).await?;
    let released = wait_for(&hr, "fromoci", WAIT, |o| released_version(o, 1)).await?;
    assert_eq!(
        released.data["status"]["history"][0]["chartVersion"],
        "1.1.0"
    );
    assert_eq!(
        message(&fleet, "fromoci-config").await.as_deref(),
        Some("oci-new")
    );
    // Pinned to the older version: a downgrade through an upgrade.
    hr.patch(
        "fromoci",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "chart": { "spec": { "version": "1.0.0" } } } })),
    )
    .await?;
    wait_for(&hr, "fromoci", WAIT, |o| released_version(o, 2)).await?;
    assert_eq!(
        message(&fleet, "fromoci-config").await.as_deref(),
        Some("oci-old")
    );

    // OCIRepository: the chart layer copied, for a HelmRelease's chartRef; credentials from a
    // Docker config Secret, as Flux expects them.
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            fleet.server.username(),
            fleet.server.password()
        ))
    };
    let docker: Secret = serde_json::from_value(json!({ "metadata": { "name": "docker" },
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": { ".dockerconfigjson": json!({ "auths": { host.clone(): { "auth": b64 } } }).to_string() } }))?;
    secrets.create(&PostParams::default(), &docker).await?;
    let oci_repos = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &resource(
            "source.toolkit.fluxcd.io",
            "OCIRepository",
            "ocirepositories",
        ),
    );
    create(&oci_repos, json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": { "name": "demo-chart" },
        "spec": { "interval": "1h", "url": format!("oci://{host}/charts/demo"),
            "ref": { "semver": "1.x" },
            "layerSelector": { "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy" },
            "secretRef": { "name": "docker" }, "certSecretRef": { "name": "registry" } },
    })).await?;
    let pulled = wait_for(&oci_repos, "demo-chart", WAIT, |o| is(o, "Ready", "True")).await?;
    assert!(
        pulled.data["status"]["artifact"]["revision"]
            .as_str()
            .is_some_and(|r| r.starts_with("1.1.0@sha256:")),
        "{}",
        pulled.data["status"]
    );
    create(&hr, json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": { "name": "viaref" },
        "spec": { "interval": "1h", "chartRef": { "kind": "OCIRepository", "name": "demo-chart" } },
    })).await?;
    let viaref = wait_for(&hr, "viaref", WAIT, |o| released_version(o, 1)).await?;
    assert_eq!(viaref.data["status"]["history"][0]["chartVersion"], "1.1.0");
    assert_eq!(
        message(&fleet, "viaref-config").await.as_deref(),
        Some("oci-new")
    );

    // OCIRepository extracted, for a Kustomization: plain manifests inside the pushed archive.
    let dir = work.path().join("src-manifests/manifests");
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: manifests\nversion: 1.0.0\n",
    )?;
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\ndata:\n  message: from an OCI artifact\n",
    )?;
    let out = work.path().join("out");
    helm.run(&[
        "package",
        &dir.display().to_string(),
        "-d",
        &out.display().to_string(),
    ])?;
    let tgz = out.join("manifests-1.0.0.tgz").display().to_string();
    helm.run(&[
        "push",
        &tgz,
        &format!("oci://{host}/charts"),
        "--ca-file",
        &ca,
    ])?;
    create(&oci_repos, json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": { "name": "manifests" },
        "spec": { "interval": "1h", "url": format!("oci://{host}/charts/manifests"),
            "ref": { "tag": "1.0.0" },
            "layerSelector": { "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip" },
            "secretRef": { "name": "registry" }, "certSecretRef": { "name": "registry" } },
    })).await?;
    let ks = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &resource(
            "kustomize.toolkit.fluxcd.io",
            "Kustomization",
            "kustomizations",
        ),
    );
    create(
        &ks,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": { "name": "from-oci" },
            "spec": { "interval": "1h", "path": "./manifests/templates", "prune": true,
                "targetNamespace": fleet.env.namespace(),
                "sourceRef": { "kind": "OCIRepository", "name": "manifests" } },
        }),
    )
    .await?;
    wait_for(&ks, "from-oci", WAIT, |o| is(o, "Ready", "True")).await?;
    assert_eq!(
        message(&fleet, "from-oci").await.as_deref(),
        Some("from an OCI artifact")
    );
    Ok(())
}

#[tokio::test]
async fn uninstall_remediation_removes_the_failed_release() -> TestResult {
    let files = chart_files("charts/demo");
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let (fleet, _) = Fleet::start("helm-uninstall", &refs, Transport::Https).await?;
    let hr = helm_releases(&fleet);
    git_release(
        &hr,
        "demo",
        json!({ "upgrade": { "remediation": { "remediateLastFailure": true, "strategy": "uninstall" } } }),
    )
    .await?;
    wait_for(&hr, "demo", WAIT, |o| released_version(o, 1)).await?;
    assert!(message(&fleet, "demo-config").await.is_some());
    hr.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "values": { "bad": true } } })),
    )
    .await?;
    let remediated = wait_for(&hr, "demo", WAIT, |o| is(o, "Remediated", "True")).await?;
    let why = crate::controller::condition(&remediated, "Remediated")
        .cloned()
        .unwrap_or_default();
    assert!(
        why["message"]
            .as_str()
            .is_some_and(|m| m.contains("Helm uninstall succeeded")),
        "{why}"
    );
    assert!(message(&fleet, "demo-config").await.is_none());
    Ok(())
}

#[test]
fn to_toml_matches_helm() -> TestResult {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("toml");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: toml\nversion: 1.0.0\n",
    )?;
    std::fs::write(
        chart.join("values.yaml"),
        "name: \"a\\\"b\\\\c\"\nport: 80\nratio: 1.5\nenabled: true\nlist: [1, \"two\", 3.5]\nempty: {}\nemptylist: []\nnested:\n  z: 1\n  a:\n    deep: x\n    deeper:\n      k: v\n  b: [ {x: 1}, {x: 2} ]\ntables: [ {num: 1}, {num: 2, sub: {q: 1}} ]\nnul: null\nbig: 12345678901\n\"odd key\": 1\n",
    )?;
    std::fs::write(
        chart.join("templates/t.yaml"),
        "a: |\n{{ toToml .Values | indent 2 }}\nb: {{ toToml (list 1 2) | quote }}\nc: {{ toToml \"str\" | quote }}\n",
    )?;
    same_as_helm(&["template".into(), "r".into(), chart.display().to_string()])
}

#[tokio::test]
async fn a_release_to_the_cluster_of_a_kubeconfig_secret() -> TestResult {
    let files = chart_files("charts/demo");
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let (fleet, _) = Fleet::start("helm-remote", &refs, Transport::Https).await?;
    // A kubeconfig in a Secret (here for the same cluster) is used instead of the controller's
    // identity, for the objects and for the release records.
    let kubeconfig = std::fs::read_to_string(fleet.env.control_plane.kubeconfig_path())?;
    let secrets: Api<Secret> = fleet.env.api();
    let remote: Secret = serde_json::from_value(json!({
        "metadata": { "name": "remote" }, "stringData": { "value": kubeconfig },
    }))?;
    secrets.create(&PostParams::default(), &remote).await?;
    let hr = helm_releases(&fleet);
    git_release(
        &hr,
        "remote",
        json!({ "kubeConfig": { "secretRef": { "name": "remote" } }, "values": { "message": "remote" } }),
    )
    .await?;
    wait_for(&hr, "remote", WAIT, |o| released_version(o, 1)).await?;
    assert_eq!(
        message(&fleet, "remote-config").await.as_deref(),
        Some("remote")
    );
    assert!(
        secrets
            .get_opt("sh.helm.release.v1.remote.v1")
            .await?
            .is_some()
    );
    // A missing Secret: a clear failure naming it.
    git_release(
        &hr,
        "nowhere",
        json!({ "kubeConfig": { "secretRef": { "name": "absent" } } }),
    )
    .await?;
    let failed = wait_for(&hr, "nowhere", WAIT, |o| {
        crate::controller::condition(o, "Ready")
            .and_then(|c| c["message"].as_str())
            .is_some_and(|m| m.contains("kubeconfig secret"))
    })
    .await?;
    assert!(is(&failed, "Ready", "False"));
    let why = crate::controller::condition(&failed, "Ready")
        .cloned()
        .unwrap_or_default();
    assert!(
        why["message"]
            .as_str()
            .is_some_and(|m| m.contains("kubeconfig secret") && m.contains("absent")),
        "{why}"
    );
    Ok(())
}
