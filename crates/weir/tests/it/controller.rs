//! `weir controller` end to end: a real Git server, the real API server, the controller as a
//! process out of cluster, as in the seed's workflow (push, and the cluster follows).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use weir_testenv::{GitServer, TestEnv, wait_for};

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The controller process, killed when dropped, its webhook port and its metrics port.
struct Controller(Child, u16, u16);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_controller(
    env: &TestEnv,
    storage: &std::path::Path,
) -> Result<Controller, Box<dyn std::error::Error>> {
    let ports = weir_testenv::process::free_ports(4)?;
    let kubeconfig = env.control_plane.kubeconfig_path();
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "controller",
            "--log-encoding",
            "console",
            "--watch-all-namespaces=false",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["-n", env.namespace()])
        .arg("--storage-path")
        .arg(storage)
        .arg(format!("--storage-addr=127.0.0.1:{}", ports[0]))
        .arg(format!("--storage-adv-addr=127.0.0.1:{}", ports[0]))
        .arg(format!("--health-addr=127.0.0.1:{}", ports[1]))
        .arg(format!("--receiver-addr=127.0.0.1:{}", ports[2]))
        .arg(format!("--metrics-addr=127.0.0.1:{}", ports[3]))
        .args(["--requeue-dependency", "2s"])
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok(Controller(child, ports[2], ports[3]))
}

pub(crate) fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
}

pub(crate) fn condition<'a>(object: &'a DynamicObject, kind: &str) -> Option<&'a Value> {
    object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

pub(crate) fn is(object: &DynamicObject, kind: &str, status: &str) -> bool {
    condition(object, kind).is_some_and(|c| c["status"] == status)
}

pub(crate) async fn create(api: &Api<DynamicObject>, value: Value) -> TestResult {
    let object: DynamicObject = serde_json::from_value(value)?;
    api.create(&PostParams::default(), &object).await?;
    Ok(())
}

/// Asks for a reconcile now, as `flux reconcile` does.
pub(crate) async fn request(api: &Api<DynamicObject>, name: &str, token: &str) -> TestResult {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({ "metadata": { "annotations": { "reconcile.fluxcd.io/requestedAt": token } } }),
        ),
    )
    .await?;
    Ok(())
}

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn git_push_is_applied_pruned_and_failures_are_reported() -> TestResult {
    let (mut fleet, revision) = Fleet::start(
        "controller-e2e",
        &[
            ("gitops/apps/a.yaml", &cm("app-a", "1")),
            ("gitops/apps/b.yaml", &cm("app-b", "1")),
        ],
        Transport::Https,
    )
    .await?;
    let (git, ks) = (fleet.git.clone(), fleet.ks.clone());
    fleet
        .kustomization("apps", "./gitops/apps", json!({}))
        .await?;

    // Ready at the pushed revision, in Flux's format, and applied with owner labels.
    let source = wait_for(&git, "fleet", WAIT, |o| {
        is(o, "Ready", "True") && o.data["status"]["artifact"]["revision"] == revision.as_str()
    })
    .await?;
    assert!(is(&source, "ArtifactInStorage", "True"));
    assert!(
        source.data["status"]["artifact"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    wait_for(&ks, "apps", WAIT, |o| {
        is(o, "Ready", "True") && o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    let config_maps: Api<ConfigMap> = fleet.env.api();
    let a = config_maps.get("app-a").await?;
    let labels = a.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("apps")
    );
    let ready = ks.get("apps").await?;
    assert_eq!(
        condition(&ready, "Ready").map(|c| c["message"].clone()),
        Some(json!(format!("Applied revision: {revision}")))
    );
    let entries = ready.data["status"]["inventory"]["entries"]
        .as_array()
        .map(Vec::len);
    assert_eq!(entries, Some(2));

    // A push that changes one file and deletes the other: applied and pruned.
    let second = fleet.server.commit_files(
        "fleet",
        &[("gitops/apps/a.yaml", &cm("app-a", "2"))],
        &["gitops/apps/b.yaml"],
        "second",
    )?;
    request(&git, "fleet", "1").await?;
    let revision = format!("main@sha1:{second}");
    wait_for(&ks, "apps", WAIT, |o| {
        o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    let a = config_maps.get("app-a").await?;
    assert_eq!(
        a.data.unwrap_or_default().get("value").map(String::as_str),
        Some("2")
    );
    assert!(
        config_maps.get_opt("app-b").await?.is_none(),
        "app-b was not pruned"
    );

    // Broken YAML: Ready=False naming the file, and the cluster keeps the last good state.
    let third = fleet.server.commit_files(
        "fleet",
        &[
            ("gitops/apps/a.yaml", &cm("app-a", "3")),
            (
                "gitops/apps/broken.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
            ),
        ],
        &[],
        "broken",
    )?;
    request(&git, "fleet", "2").await?;
    let failed = wait_for(&ks, "apps", WAIT, |o| {
        o.data["status"]["lastAttemptedRevision"] == format!("main@sha1:{third}").as_str()
            && is(o, "Ready", "False")
    })
    .await?;
    let ready = condition(&failed, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "BuildFailed", "{ready}");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("broken.yaml")),
        "{ready}"
    );
    assert_eq!(
        failed.data["status"]["lastAppliedRevision"],
        revision.as_str()
    );
    let a = config_maps.get("app-a").await?;
    assert_eq!(
        a.data.unwrap_or_default().get("value").map(String::as_str),
        Some("2")
    );

    // The Git server down: FetchFailed, the artifact and the cluster untouched.
    let artifact = git.get("fleet").await?.data["status"]["artifact"].clone();
    fleet.server.stop();
    request(&git, "fleet", "3").await?;
    let down = wait_for(&git, "fleet", WAIT, |o| is(o, "FetchFailed", "True")).await?;
    assert!(is(&down, "Ready", "False"));
    assert_eq!(
        down.data["status"]["artifact"]["revision"],
        artifact["revision"]
    );
    assert!(config_maps.get_opt("app-a").await?.is_some());

    // The server back: the source recovers by itself (the failure back-off retries).
    fleet.server.restart()?;
    let back = wait_for(&git, "fleet", WAIT, |o| {
        is(o, "Ready", "True") && condition(o, "FetchFailed").is_none()
    })
    .await?;
    assert_eq!(
        back.data["status"]["artifact"]["revision"],
        artifact["revision"]
    );
    Ok(())
}

#[tokio::test]
async fn ssh_source_depends_on_and_suspend() -> TestResult {
    let (fleet, revision) = Fleet::start(
        "controller-deps",
        &[
            ("infra/cm.yaml", &cm("infra-cm", "1")),
            ("apps/cm.yaml", &cm("app-cm", "1")),
        ],
        Transport::Ssh,
    )
    .await?;
    let (env, server, ks) = (&fleet.env, &fleet.server, fleet.ks.clone());
    let ns = env.namespace().to_owned();
    let depends_on = |dep: &str| json!({ "dependsOn": [{ "name": dep }] });

    // apps waits for infra, which does not exist yet.
    fleet
        .kustomization("apps", "./apps", depends_on("infra"))
        .await?;
    let waiting = wait_for(&ks, "apps", WAIT, |o| is(o, "Ready", "False")).await?;
    assert_eq!(
        condition(&waiting, "Ready").map(|c| c["reason"].clone()),
        Some(json!("DependencyNotReady"))
    );
    let config_maps: Api<ConfigMap> = env.api();
    assert!(config_maps.get_opt("app-cm").await?.is_none());

    fleet.kustomization("infra", "./infra", json!({})).await?;
    for name in ["infra", "apps"] {
        wait_for(&ks, name, WAIT, |o| {
            is(o, "Ready", "True") && o.data["status"]["lastAppliedRevision"] == revision.as_str()
        })
        .await?;
    }
    assert!(config_maps.get_opt("app-cm").await?.is_some());

    // The CLI: get, suspend, reconcile, resume, tree, events.
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
    let (ok, out, err) = weir(&["get", "kustomizations"])?;
    assert!(ok, "{err}");
    let apps_line = out
        .lines()
        .find(|l| l.starts_with("apps"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        apps_line.contains(&revision) && apps_line.contains("True"),
        "{out}"
    );
    assert!(out.starts_with("NAME"), "{out}");

    // Suspended: a new revision is not applied until resumed.
    let (ok, _, err) = weir(&["suspend", "kustomization", "apps"])?;
    assert!(ok, "{err}");
    let second = server.commit_files(
        "fleet",
        &[("apps/cm.yaml", &cm("app-cm", "2"))],
        &[],
        "second",
    )?;
    let revision = format!("main@sha1:{second}");
    let (ok, _, err) = weir(&["reconcile", "source", "git", "fleet", "--timeout", "60"])?;
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("fetched revision {revision}")),
        "{err}"
    );
    wait_for(&ks, "infra", WAIT, |o| {
        o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let value = config_maps.get("app-cm").await?.data.unwrap_or_default();
    assert_eq!(value.get("value").map(String::as_str), Some("1"));
    let (ok, _, err) = weir(&["resume", "kustomization", "apps", "--timeout", "60"])?;
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("applied revision {revision}")),
        "{err}"
    );
    let value = config_maps.get("app-cm").await?.data.unwrap_or_default();
    assert_eq!(value.get("value").map(String::as_str), Some("2"));

    let (ok, out, err) = weir(&["tree", "kustomization", "apps"])?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("Kustomization/{ns}/apps\n└── ConfigMap/{ns}/app-cm\n")
    );
    let (ok, out, err) = weir(&["events", "--for", "Kustomization/apps"])?;
    assert!(ok, "{err}");
    assert!(
        out.contains("ReconciliationSucceeded") && out.contains("DependencyNotReady"),
        "{out}"
    );
    Ok(())
}

/// Sends one HTTP/1.1 POST and returns the status code.
fn post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<u16, Box<dyn std::error::Error>> {
    Ok(http(port, "POST", path, headers, body)?.0)
}

/// Sends one HTTP/1.1 request and returns the status code and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split_whitespace()
        .nth(1)
        .ok_or("no status")?
        .parse()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

#[tokio::test]
async fn a_receiver_call_applies_a_push_at_once() -> TestResult {
    let templated = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: templated\ndata:\n  env: ${cluster}\n  region: ${region:=eu}\n  team: ${team}\n  literal: $${cluster}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  env: ${cluster}\n";
    // The GitRepository's interval is an hour: only the webhook can explain a prompt apply.
    let (fleet, revision) = Fleet::start(
        "controller-hook",
        &[
            ("apps/cm.yaml", &cm("hooked", "1")),
            ("apps/vars.yaml", templated),
        ],
        Transport::Http,
    )
    .await?;
    let (env, server, controller, ks) = (
        &fleet.env,
        &fleet.server,
        &fleet.controller,
        fleet.ks.clone(),
    );
    let ns = env.namespace().to_owned();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = env.api();
    let token: k8s_openapi::api::core::v1::Secret = serde_json::from_value(
        json!({ "metadata": { "name": "hook-token" }, "stringData": { "token": "s3cret-token" } }),
    )?;
    secrets.create(&PostParams::default(), &token).await?;
    let vars: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "cluster-vars" },
        "data": { "team": "platform", "cluster": "overridden-by-inline" },
    }))?;
    let cms: Api<ConfigMap> = env.api();
    cms.create(&PostParams::default(), &vars).await?;
    let receivers = Api::<DynamicObject>::namespaced_with(
        env.client.clone(),
        &ns,
        &resource("notification.toolkit.fluxcd.io", "Receiver", "receivers"),
    );
    fleet
        .kustomization(
            "apps",
            "./apps",
            json!({ "postBuild": {
            "substitute": { "cluster": "prod" },
            "substituteFrom": [
                { "kind": "ConfigMap", "name": "cluster-vars" },
                { "kind": "Secret", "name": "absent", "optional": true },
            ] } }),
        )
        .await?;
    create(&receivers, json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": { "name": "gitlab" },
        "spec": { "type": "gitlab", "events": ["Push Hook"], "secretRef": { "name": "hook-token" },
                  "resources": [{ "kind": "GitRepository", "name": "fleet" }] },
    })).await?;
    // Post-build substitution, with Flux's defaults, escapes and opt-out.
    let config_maps: Api<ConfigMap> = env.api();
    let templated = wait_for(&config_maps, "templated", WAIT, |_| true).await?;
    let data = templated.data.unwrap_or_default();
    let get = |k: &str| data.get(k).map(String::as_str);
    assert_eq!(
        (get("env"), get("region"), get("team"), get("literal")),
        (
            Some("prod"),
            Some("eu"),
            Some("platform"),
            Some("${cluster}")
        )
    );
    let raw = config_maps.get("raw").await?.data.unwrap_or_default();
    assert_eq!(raw.get("env").map(String::as_str), Some("${cluster}"));
    wait_for(&ks, "apps", WAIT, |o| {
        o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    let receiver = wait_for(&receivers, "gitlab", WAIT, |o| is(o, "Ready", "True")).await?;
    let path = receiver.data["status"]["webhookPath"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(path.starts_with("/hook/") && path.len() == 70, "{path}");

    let second = server.commit_files(
        "fleet",
        &[("apps/cm.yaml", &cm("hooked", "2"))],
        &[],
        "second",
    )?;
    // A wrong token is refused and triggers nothing.
    let code = post(
        controller.1,
        &path,
        &[("X-Gitlab-Token", "wrong"), ("X-Gitlab-Event", "Push Hook")],
        "{}",
    )?;
    assert_eq!(code, 400);
    assert_eq!(post(controller.1, "/hook/0000", &[], "{}")?, 404);

    let started = std::time::Instant::now();
    let code = post(
        controller.1,
        &path,
        &[
            ("X-Gitlab-Token", "s3cret-token"),
            ("X-Gitlab-Event", "Push Hook"),
        ],
        "{}",
    )?;
    assert_eq!(code, 200);
    let revision = format!("main@sha1:{second}");
    wait_for(&ks, "apps", WAIT, |o| {
        o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    let elapsed = started.elapsed();
    eprintln!("webhook to applied: {} ms", elapsed.as_millis());
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let config_maps: Api<ConfigMap> = env.api();
    let value = config_maps.get("hooked").await?.data.unwrap_or_default();
    assert_eq!(value.get("value").map(String::as_str), Some("2"));

    // Flux's metric names, per object.
    let (code, metrics) = http(controller.2, "GET", "/metrics", &[], "")?;
    assert_eq!(code, 200);
    let apps = format!("kind=\"Kustomization\",name=\"apps\",namespace=\"{ns}\"");
    assert!(
        metrics.contains(&format!("gotk_reconcile_duration_seconds_count{{{apps}}}")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "gotk_reconcile_condition{{{apps},status=\"True\",type=\"Ready\"}} 1"
        )),
        "{metrics}"
    );
    Ok(())
}

fn deployment(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers: [{{name: web, image: nginx:1.29}}]\n"
    )
}

#[tokio::test]
async fn a_new_revision_cancels_a_pending_health_check() -> TestResult {
    // One replica never becomes available here (no kubelet): the health check would hang.
    let (fleet, revision) = Fleet::start(
        "controller-cancel",
        &[("apps/web.yaml", &deployment(1))],
        Transport::Http,
    )
    .await?;
    fleet
        .kustomization("apps", "./apps", json!({ "wait": true, "timeout": "10m" }))
        .await?;
    wait_for(&fleet.ks, "apps", WAIT, |o| {
        o.data["status"]["lastAttemptedRevision"] == revision.as_str()
    })
    .await?;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = fleet.env.api();
    wait_for(&deployments, "web", WAIT, |_| true).await?;

    // Scaled to zero, the Deployment becomes available: the new revision must not wait for
    // the ten-minute timeout of the old one.
    let second =
        fleet
            .server
            .commit_files("fleet", &[("apps/web.yaml", &deployment(0))], &[], "second")?;
    request(&fleet.git, "fleet", "1").await?;
    let revision = format!("main@sha1:{second}");
    let started = std::time::Instant::now();
    let done = wait_for(&fleet.ks, "apps", WAIT, |o| {
        o.data["status"]["lastAppliedRevision"] == revision.as_str() && is(o, "Ready", "True")
    })
    .await?;
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );
    assert!(is(&done, "Healthy", "True"));
    let history = done.data["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!history.is_empty() && history.len() <= 5, "{history:?}");
    assert_eq!(
        history[0]["lastReconciledStatus"],
        "ReconciliationSucceeded"
    );
    assert_eq!(history[0]["metadata"]["revision"], revision.as_str());
    Ok(())
}

/// How the GitRepository of a [`Fleet`] reaches the Git server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Plain HTTP, basic auth.
    Http,
    /// HTTPS, basic auth, the server's CA in the Secret.
    Https,
    /// SSH, key and known_hosts in the Secret.
    Ssh,
}

/// A namespace with Weir's CRDs, a Git server holding `fleet`, the controller, and a
/// GitRepository `fleet` on branch main with its credentials in Secret `git`.
pub(crate) struct Fleet {
    pub(crate) env: TestEnv,
    pub(crate) server: GitServer,
    pub(crate) git: Api<DynamicObject>,
    ks: Api<DynamicObject>,
    controller: Controller,
    _storage: tempfile::TempDir,
}

impl Fleet {
    pub(crate) async fn start(
        test: &str,
        files: &[(&str, &str)],
        transport: Transport,
    ) -> Result<(Self, String), Box<dyn std::error::Error>> {
        let env = TestEnv::new(test).await?;
        let ns = env.namespace().to_owned();
        let server = GitServer::start()?;
        server.create_repo("fleet")?;
        let head = server.commit_files("fleet", files, &[], "first")?;
        // CRDs, the controller, then the objects a bootstrap would create.
        let install = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("--kubeconfig")
            .arg(env.control_plane.kubeconfig_path())
            .arg("install")
            .env_remove("KUBECONFIG")
            .output()?;
        assert!(
            install.status.success(),
            "{}",
            String::from_utf8_lossy(&install.stderr)
        );
        let storage = tempfile::tempdir()?;
        let controller = start_controller(&env, storage.path())?;
        let (url, data) = match transport {
            Transport::Http => (
                server.http_url("fleet"),
                json!({ "username": server.username(), "password": server.password() }),
            ),
            Transport::Https => (
                server.https_url("fleet"),
                json!({ "username": server.username(), "password": server.password(), "ca.crt": server.ca_pem()? }),
            ),
            Transport::Ssh => (
                server.ssh_url("fleet"),
                json!({ "identity": std::fs::read_to_string(server.ssh_key_path())?, "known_hosts": server.known_hosts() }),
            ),
        };
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = env.api();
        let secret: k8s_openapi::api::core::v1::Secret =
            serde_json::from_value(json!({ "metadata": { "name": "git" }, "stringData": data }))?;
        secrets.create(&PostParams::default(), &secret).await?;
        let git = Api::<DynamicObject>::namespaced_with(
            env.client.clone(),
            &ns,
            &resource(
                "source.toolkit.fluxcd.io",
                "GitRepository",
                "gitrepositories",
            ),
        );
        let ks = Api::<DynamicObject>::namespaced_with(
            env.client.clone(),
            &ns,
            &resource(
                "kustomize.toolkit.fluxcd.io",
                "Kustomization",
                "kustomizations",
            ),
        );
        create(&git, json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": { "name": "fleet" },
            "spec": { "interval": "1h", "url": url, "secretRef": { "name": "git" }, "ref": { "branch": "main" } },
        })).await?;
        let fleet = Fleet {
            env,
            server,
            git,
            ks,
            controller,
            _storage: storage,
        };
        Ok((fleet, format!("main@sha1:{head}")))
    }

    /// Creates Kustomization `name` from the fleet, with `extra` merged into its spec.
    pub(crate) async fn kustomization(&self, name: &str, path: &str, extra: Value) -> TestResult {
        let mut spec = json!({ "interval": "1h", "path": path, "prune": true,
            "targetNamespace": self.env.namespace(), "sourceRef": { "kind": "GitRepository", "name": "fleet" } });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        create(
            &self.ks,
            json!({ "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": { "name": name }, "spec": spec }),
        )
        .await
    }
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

#[tokio::test]
async fn health_check_expressions_decide_readiness() -> TestResult {
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n";
    let (fleet, revision) = Fleet::start(
        "controller-cel",
        &[
            ("crds/widget.yaml", WIDGET_CRD),
            ("apps/widget.yaml", widget),
        ],
        Transport::Http,
    )
    .await?;
    fleet.kustomization("crds", "./crds", json!({})).await?;
    wait_for(&fleet.ks, "crds", WAIT, |o| is(o, "Ready", "True")).await?;
    fleet
        .kustomization(
            "apps",
            "./apps",
            json!({
                "wait": true, "timeout": "2m",
                "healthCheckExprs": [{ "apiVersion": "example.com/v1", "kind": "Widget",
                    "current": "status.phase == 'Ready'", "failed": "status.phase == 'Broken'" }],
            }),
        )
        .await?;
    let widgets = Api::<DynamicObject>::namespaced_with(
        fleet.env.client.clone(),
        fleet.env.namespace(),
        &resource("example.com", "Widget", "widgets"),
    );
    wait_for(&widgets, "w", WAIT, |_| true).await?;
    let waiting = fleet.ks.get("apps").await?;
    assert!(!is(&waiting, "Ready", "True"), "ready before the widget is");
    weir_testenv::patch_status(&widgets, "w", json!({ "phase": "Ready" })).await?;
    let done = wait_for(&fleet.ks, "apps", WAIT, |o| {
        is(o, "Ready", "True") && o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    assert!(is(&done, "Healthy", "True"));

    // An expression that does not compile stalls the Kustomization: no retry until it changes.
    fleet
        .kustomization(
            "broken",
            "./apps",
            json!({
                "wait": true,
                "healthCheckExprs": [{ "apiVersion": "example.com/v1", "current": "status.(" }],
            }),
        )
        .await?;
    let stalled = wait_for(&fleet.ks, "broken", WAIT, |o| is(o, "Stalled", "True")).await?;
    let ready = condition(&stalled, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "InvalidCELExpression", "{ready}");
    assert!(
        ready["message"].as_str().is_some_and(
            |m| m.starts_with("Reconciliation failed terminally due to configuration error")
        ),
        "{ready}"
    );
    Ok(())
}

#[tokio::test]
async fn service_account_impersonation_and_remote_kubeconfig() -> TestResult {
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied-secret\nstringData:\n  k: v\n";
    let (fleet, revision) = Fleet::start(
        "controller-identity",
        &[
            ("apps/cm.yaml", &cm("as-deployer", "1")),
            ("secret/s.yaml", secret),
        ],
        Transport::Http,
    )
    .await?;
    let ns = fleet.env.namespace().to_owned();
    // A service account that may manage ConfigMaps only.
    let rbac = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: {ns}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: configmaps\n  namespace: {ns}\n\
         rules:\n- apiGroups: ['']\n  resources: [configmaps]\n  verbs: [get, list, watch, create, update, patch, delete]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: {ns}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps}}\n\
         subjects: [{{kind: ServiceAccount, name: deployer, namespace: {ns}}}]\n"
    );
    let objects: Vec<serde_json::Map<String, Value>> =
        weir_object::yaml::parse_documents("rbac.yaml", &rbac)?
            .into_iter()
            .filter_map(|d| d.value.as_object().cloned())
            .collect();
    weir_apply::Manager::new(fleet.env.client.clone(), weir_apply::Options::default())
        .apply_all_staged(objects)
        .await?;

    fleet
        .kustomization(
            "as-sa",
            "./apps",
            json!({ "serviceAccountName": "deployer" }),
        )
        .await?;
    wait_for(&fleet.ks, "as-sa", WAIT, |o| {
        is(o, "Ready", "True") && o.data["status"]["lastAppliedRevision"] == revision.as_str()
    })
    .await?;
    fleet
        .kustomization(
            "as-sa-denied",
            "./secret",
            json!({ "serviceAccountName": "deployer" }),
        )
        .await?;
    let denied = wait_for(&fleet.ks, "as-sa-denied", WAIT, |o| is(o, "Ready", "False")).await?;
    let ready = condition(&denied, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "ReconciliationFailed", "{ready}");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("system:serviceaccount:{ns}:deployer"))),
        "{ready}"
    );
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = fleet.env.api();
    assert!(secrets.get_opt("applied-secret").await?.is_none());

    // A kubeconfig in a Secret (here for the same cluster) is used instead of the controller's.
    let kubeconfig = std::fs::read_to_string(fleet.env.control_plane.kubeconfig_path())?;
    let remote: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": { "name": "remote" }, "stringData": { "value": kubeconfig },
    }))?;
    secrets.create(&PostParams::default(), &remote).await?;
    fleet
        .kustomization(
            "remote",
            "./secret",
            json!({ "kubeConfig": { "secretRef": { "name": "remote" } } }),
        )
        .await?;
    wait_for(&fleet.ks, "remote", WAIT, |o| is(o, "Ready", "True")).await?;
    assert!(secrets.get_opt("applied-secret").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn deleting_a_kustomization_follows_its_deletion_policy() -> TestResult {
    let (fleet, _) = Fleet::start(
        "controller-delete",
        &[
            ("mirror/cm.yaml", &cm("mirrored", "1")),
            ("orphan/cm.yaml", &cm("orphaned", "1")),
        ],
        Transport::Http,
    )
    .await?;
    fleet.kustomization("mirror", "./mirror", json!({})).await?;
    fleet
        .kustomization("orphan", "./orphan", json!({ "deletionPolicy": "Orphan" }))
        .await?;
    for name in ["mirror", "orphan"] {
        wait_for(&fleet.ks, name, WAIT, |o| is(o, "Ready", "True")).await?;
    }
    for name in ["mirror", "orphan"] {
        fleet
            .ks
            .delete(name, &kube::api::DeleteParams::default())
            .await?;
        weir_testenv::wait_deleted(&fleet.ks, name, WAIT).await?;
    }
    let config_maps: Api<ConfigMap> = fleet.env.api();
    // MirrorPrune with prune: true deletes what was applied; Orphan leaves it.
    assert!(config_maps.get_opt("mirrored").await?.is_none());
    assert!(config_maps.get_opt("orphaned").await?.is_some());
    Ok(())
}
