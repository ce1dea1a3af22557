//! `weir bootstrap git` and `weir uninstall` end to end: the real Git servers (HTTPS with
//! basic auth and a private CA, SSH with a key), the real API server, and the controller as a
//! process out of cluster standing in for the Deployment (no kubelet runs pods here).
//!
//! A test binary of its own: uninstall deletes cluster-wide CRDs, which must not pull the rug
//! from the controller tests; the tests here take turns for the same reason.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use weir_testenv::{GitServer, TestEnv, wait_for};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One test at a time: they install and remove cluster-wide objects.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn weir(env: &TestEnv, args: &[&str]) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .arg("--kubeconfig")
        .arg(env.control_plane.kubeconfig_path())
        .args(["-n", env.namespace()])
        .env_remove("KUBECONFIG")
        .env_remove("WEIR_GIT_PASSWORD")
        .output()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A file on branch `main` of the bare repository, read with git itself.
fn show(git: &GitServer, repo: &str, path: &str) -> Option<String> {
    let output = weir_testenv::git(&git.repo_path(repo))
        .args(["show", &format!("main:{path}")])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn head(git: &GitServer, repo: &str) -> String {
    weir_testenv::git(&git.repo_path(repo))
        .args(["rev-parse", "main"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The controller process, killed when dropped.
struct Controller(Child);

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
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "controller",
            "--log-encoding",
            "console",
            "--watch-all-namespaces=false",
        ])
        .args(["--enable-leader-election=false"])
        .arg("--kubeconfig")
        .arg(env.control_plane.kubeconfig_path())
        .args(["-n", env.namespace()])
        .arg("--storage-path")
        .arg(storage)
        .arg(format!("--storage-addr=127.0.0.1:{}", ports[0]))
        .arg(format!("--storage-adv-addr=127.0.0.1:{}", ports[0]))
        .arg(format!("--health-addr=127.0.0.1:{}", ports[1]))
        .arg(format!("--receiver-addr=127.0.0.1:{}", ports[2]))
        .arg(format!("--metrics-addr=127.0.0.1:{}", ports[3]))
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok(Controller(child))
}

fn flux(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
}

fn image(deployment: &Deployment) -> String {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn bootstrap_over_https_then_sync_upgrade_and_uninstall() -> TestResult {
    let _turn = TURN.lock().await;
    let env = TestEnv::new("bootstrap-https").await?;
    let ns = env.namespace().to_owned();
    let git = GitServer::start()?;
    git.create_repo("fleet")?;
    let app = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  colour: blue\n";
    git.commit_files(
        "fleet",
        &[(
            "clusters/test/apps/app.yaml",
            &app.replace("name: app", &format!("name: app\n  namespace: {ns}")),
        )],
        &[],
        "an app",
    )?;
    let url = git.https_url("fleet");
    let ca = git.ca_path().display().to_string();
    let bootstrap = |extra: &[&str]| {
        let mut args = vec![
            "bootstrap",
            "git",
            "--url",
            &url,
            "--username",
            git.username(),
            "--password",
            git.password(),
            "--ca-file",
            &ca,
            "--path",
            "./clusters/test",
            "--interval",
            "1m",
        ];
        args.extend_from_slice(extra);
        weir(&env, &args)
    };

    // First run: commit the files, install, no wait (the controller is not running yet).
    let out = bootstrap(&["--wait=false"])?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("new commit"), "{}", text(&out));
    let dir = format!("clusters/test/{ns}");
    let components =
        show(&git, "fleet", &format!("{dir}/gotk-components.yaml")).unwrap_or_default();
    assert!(
        components.contains("kind: CustomResourceDefinition"),
        "{components}"
    );
    assert!(components.contains(&format!(
        "image: ghcr.io/weir-gitops/weir:v{}",
        env!("CARGO_PKG_VERSION")
    )));
    let sync = show(&git, "fleet", &format!("{dir}/gotk-sync.yaml")).unwrap_or_default();
    assert!(
        sync.contains("path: ./clusters/test") && sync.contains(&url),
        "{sync}"
    );
    let kustomization =
        show(&git, "fleet", &format!("{dir}/kustomization.yaml")).unwrap_or_default();
    assert!(
        kustomization.contains("- gotk-components.yaml")
            && kustomization.contains("- gotk-sync.yaml")
    );
    // The password went to the cluster's Secret, never into the repository or the output.
    assert!(!components.contains(git.password()) && !sync.contains(git.password()));
    assert!(!text(&out).contains(git.password()));
    let secret = env.api::<Secret>().get("flux-system").await?;
    let data = secret.data.unwrap_or_default();
    assert_eq!(
        data.get("username").map(|v| v.0.as_slice()),
        Some(git.username().as_bytes())
    );
    assert_eq!(
        data.get("password").map(|v| v.0.as_slice()),
        Some(git.password().as_bytes())
    );
    assert!(data.contains_key("ca.crt"));
    let deployment = env.api::<Deployment>().get("weir-controller").await?;
    assert!(image(&deployment).ends_with(&format!(":v{}", env!("CARGO_PKG_VERSION"))));

    // The controller (out of cluster here) syncs the repository: the app is applied; a second
    // run changes nothing in Git and waits until the cluster is Ready at the head.
    let storage = tempfile::tempdir()?;
    let _controller = start_controller(&env, storage.path())?;
    let before = head(&git, "fleet");
    let out = bootstrap(&["--wait=true", "--timeout", "90s"])?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already up to date"), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("main@sha1:{before}")),
        "{}",
        text(&out)
    );
    assert_eq!(head(&git, "fleet"), before);
    env.api::<ConfigMap>().get("app").await?;

    // Upgrade: a new version is a new commit; the cluster follows it.
    let out = bootstrap(&["--version", "9.9.9", "--wait=true", "--timeout", "90s"])?;
    assert!(out.status.success(), "{}", text(&out));
    let upgraded = head(&git, "fleet");
    assert_ne!(upgraded, before);
    let components =
        show(&git, "fleet", &format!("{dir}/gotk-components.yaml")).unwrap_or_default();
    assert!(components.contains("weir:v9.9.9"));
    let deployment = env.api::<Deployment>().get("weir-controller").await?;
    assert!(image(&deployment).ends_with(":v9.9.9"));
    let ks: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &ns,
        &flux(
            "kustomize.toolkit.fluxcd.io",
            "Kustomization",
            "kustomizations",
        ),
    );
    wait_for(&ks, &ns, Duration::from_secs(30), |o| {
        o.data["status"]["lastAppliedRevision"] == format!("main@sha1:{upgraded}").as_str()
    })
    .await?;

    // Uninstall keeping the namespace: CRDs and controller gone, what was applied stays.
    drop(_controller);
    // A HelmRelease (served at v2, not v1) holding Weir's finalizer must not block the
    // deletion of its CRD.
    let releases: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
            "helmreleases",
        ),
    );
    let release: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": { "name": "held", "finalizers": ["finalizers.fluxcd.io"] },
        "spec": { "interval": "1h", "chartRef": { "kind": "HelmChart", "name": "c" } },
    }))?;
    releases
        .create(&kube::api::PostParams::default(), &release)
        .await?;
    let out = weir(&env, &["uninstall", "--keep-namespace", "--timeout", "60s"])?;
    assert!(out.status.success(), "{}", text(&out));
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    for name in [
        "gitrepositories.source.toolkit.fluxcd.io",
        "helmrepositories.source.toolkit.fluxcd.io",
        "helmcharts.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "helmreleases.helm.toolkit.fluxcd.io",
        "receivers.notification.toolkit.fluxcd.io",
    ] {
        assert!(crds.get_opt(name).await?.is_none(), "{name} left");
    }
    assert!(
        env.api::<Deployment>()
            .get_opt("weir-controller")
            .await?
            .is_none()
    );
    env.api::<ConfigMap>().get("app").await?;
    env.api::<Secret>().get("flux-system").await?;
    Ok(())
}

#[tokio::test]
async fn bootstrap_over_ssh_learns_the_host_key_and_concurrent_pushes_both_land() -> TestResult {
    let _turn = TURN.lock().await;
    let env = TestEnv::new("bootstrap-ssh").await?;
    let other = TestEnv::new("bootstrap-ssh-other").await?;
    let git = GitServer::start()?;
    git.create_repo("empty")?;
    let url = git.ssh_url("empty");
    let key = git.ssh_key_path().display().to_string();
    let args = |path: &'static str| {
        vec![
            "bootstrap".to_owned(),
            "git".to_owned(),
            "--url".to_owned(),
            url.clone(),
            "--private-key-file".to_owned(),
            key.clone(),
            "--path".to_owned(),
            path.to_owned(),
            "--wait=false".to_owned(),
        ]
    };
    // Two clusters bootstrap the same empty repository at once: one push is rejected as
    // non-fast-forward and retried on a fresh fetch; both land.
    let spawn = |env: &TestEnv, args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(&args)
            .arg("--kubeconfig")
            .arg(env.control_plane.kubeconfig_path())
            .args(["-n", env.namespace()])
            .env_remove("KUBECONFIG")
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn(&env, args("clusters/a")));
        let b = s.spawn(|| spawn(&other, args("clusters/b")));
        (a.join(), b.join())
    });
    let (a, b) = (a.map_err(|_| "thread")??, b.map_err(|_| "thread")??);
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert!(
        show(
            &git,
            "empty",
            &format!("clusters/a/{}/gotk-sync.yaml", env.namespace())
        )
        .is_some()
    );
    assert!(
        show(
            &git,
            "empty",
            &format!("clusters/b/{}/gotk-sync.yaml", other.namespace())
        )
        .is_some()
    );

    // No known_hosts given: the host key shown was recorded in the Secret, and it is the
    // server's.
    let secret = env.api::<Secret>().get("flux-system").await?;
    let data = secret.data.unwrap_or_default();
    let known = String::from_utf8_lossy(
        &data
            .get("known_hosts")
            .map(|v| v.0.clone())
            .unwrap_or_default(),
    )
    .into_owned();
    let server_key = git.known_hosts().split_whitespace().nth(2).unwrap_or("?");
    assert!(known.contains(server_key), "{known}");
    assert!(data.contains_key("identity"));

    // A bad key is refused with a clear message and nothing is installed.
    let bad = tempfile::NamedTempFile::new()?;
    std::fs::write(bad.path(), "not a key")?;
    let third = TestEnv::new("bootstrap-ssh-bad").await?;
    let out = weir(
        &third,
        &[
            "bootstrap",
            "git",
            "--url",
            &url,
            "--private-key-file",
            &bad.path().display().to_string(),
            "--wait=false",
        ],
    )?;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("failed to authenticate SSH session"),
        "{}",
        text(&out)
    );
    assert!(
        third
            .api::<Deployment>()
            .get_opt("weir-controller")
            .await?
            .is_none()
    );

    // Clean up the cluster-wide objects for the next test.
    let out = weir(&env, &["uninstall", "--keep-namespace", "--timeout", "60s"])?;
    assert!(out.status.success(), "{}", text(&out));
    Ok(())
}

/// Runs `cli` (`tofu` or `terraform`) in `dir` with the provider built next to the weir binary
/// (dev_overrides: no registry), a CLI configuration and a home of the test's own.
fn tofu(
    cli: &str,
    work: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> Result<Output, std::io::Error> {
    Command::new(weir_testenv::tools_bin_dir().join(cli))
        .args(args)
        .env("CHECKPOINT_DISABLE", "1")
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", work.join("tofu.rc"))
        .env("HOME", work)
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("KUBECONFIG")
        .env_remove("TF_PLUGIN_CACHE_DIR")
        .output()
}

#[tokio::test]
async fn tofu_plans_without_a_cluster_bootstraps_upgrades_and_destroys() -> TestResult {
    provider_lifecycle("tofu").await
}

#[tokio::test]
async fn terraform_plans_without_a_cluster_bootstraps_upgrades_and_destroys() -> TestResult {
    provider_lifecycle("terraform").await
}

/// The provider's life cycle with `cli`, OpenTofu or Terraform.
async fn provider_lifecycle(cli: &str) -> TestResult {
    let _turn = TURN.lock().await;
    let env = TestEnv::new(cli).await?;
    let ns = env.namespace().to_owned();
    let git = GitServer::start()?;
    git.create_repo("fleet")?;
    let provider_dir = std::path::Path::new(env!("CARGO_BIN_EXE_weir"))
        .parent()
        .ok_or("no target directory")?
        .to_owned();
    assert!(
        provider_dir.join("terraform-provider-weir").exists(),
        "build the provider first: cargo build -p terraform-provider-weir"
    );
    let work = tempfile::tempdir()?;
    std::fs::write(
        work.path().join("tofu.rc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"weir/weir\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        ),
    )?;
    let required =
        "terraform {\n  required_providers {\n    weir = { source = \"weir/weir\" }\n  }\n}\n";

    // One apply creates the cluster and bootstraps it: with the cluster's address unknown at
    // plan time, the plan succeeds without contacting anything.
    let unknown = work.path().join("unknown");
    std::fs::create_dir_all(&unknown)?;
    std::fs::write(
        unknown.join("main.tf"),
        format!(
            "{required}resource \"terraform_data\" \"cluster\" {{\n  input = \"https://127.0.0.1:1\"\n}}\n\
             provider \"weir\" {{\n  kubernetes = {{ host = terraform_data.cluster.output }}\n  \
             git = {{ url = \"{}\" }}\n}}\n\
             resource \"weir_bootstrap_git\" \"this\" {{\n  path = \"clusters/home\"\n}}\n",
            git.https_url("fleet")
        ),
    )?;
    let out = tofu(
        cli,
        work.path(),
        &unknown,
        &["plan", "-input=false", "-no-color", "-detailed-exitcode"],
    )?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("weir_bootstrap_git.this will be created"),
        "{}",
        text(&out)
    );

    // The seed's layout: infrastructure/ in a checkout of the repository, path to ../gitops.
    let checkout = work.path().join("checkout");
    let infrastructure = checkout.join("infrastructure");
    std::fs::create_dir_all(checkout.join(".git"))?;
    std::fs::create_dir_all(&infrastructure)?;
    std::fs::write(
        infrastructure.join("main.tf"),
        format!(
            "{required}variable \"weir_version\" {{\n  default = \"{version}\"\n}}\n\
             provider \"weir\" {{\n  kubernetes = {{ config_path = \"{kubeconfig}\" }}\n  git = {{\n    \
             url = \"{url}\"\n    http = {{\n      username = \"{user}\"\n      password = \"{password}\"\n      \
             certificate_authority = file(\"{ca}\")\n    }}\n  }}\n}}\n\
             resource \"weir_bootstrap_git\" \"this\" {{\n  path = \"${{path.module}}/../gitops\"\n  \
             namespace = \"{ns}\"\n  version = var.weir_version\n  timeouts = {{ create = \"90s\" }}\n}}\n",
            version = env!("CARGO_PKG_VERSION"),
            kubeconfig = env.control_plane.kubeconfig_path().display(),
            url = git.https_url("fleet"),
            user = git.username(),
            password = git.password(),
            ca = git.ca_path().display(),
        ),
    )?;
    let storage = tempfile::tempdir()?;
    let controller = start_controller(&env, storage.path())?;
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    )?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains(git.password()),
        "the password was printed"
    );
    let sync = show(&git, "fleet", &format!("gitops/{ns}/gotk-sync.yaml")).unwrap_or_default();
    assert!(sync.contains("path: ./gitops"), "{sync}");
    let gitrepo: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &ns,
        &flux(
            "source.toolkit.fluxcd.io",
            "GitRepository",
            "gitrepositories",
        ),
    );
    let bootstrapped = head(&git, "fleet");
    wait_for(&gitrepo, &ns, Duration::from_secs(10), |o| {
        o.data["status"]["artifact"]["revision"] == format!("main@sha1:{bootstrapped}").as_str()
    })
    .await?;

    // Nothing changed: an empty plan. A version bump: a plan that shows it, then an apply
    // that commits the new components; the cluster follows.
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &["plan", "-input=false", "-no-color", "-detailed-exitcode"],
    )?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bump = ["-var", "weir_version=9.9.9"];
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &[
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            bump[0],
            bump[1],
        ],
    )?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("9.9.9"), "{}", text(&out));
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            bump[0],
            bump[1],
        ],
    )?;
    assert!(out.status.success(), "{}", text(&out));
    let deployment = env.api::<Deployment>().get("weir-controller").await?;
    assert!(image(&deployment).ends_with(":v9.9.9"));
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "-input=false", "-no-color", "-detailed-exitcode"];
        args.extend_from_slice(&bump);
        args.extend_from_slice(extra);
        tofu(cli, work.path(), &infrastructure, &args)
    };

    // Drift in Git: someone edits a bootstrap file; the plan shows it, the apply restores it.
    let file = format!("gitops/{ns}/kustomization.yaml");
    let original = show(&git, "fleet", &file).unwrap_or_default();
    git.commit_files(
        "fleet",
        &[(file.as_str(), "# edited by hand\n")],
        &[],
        "edit",
    )?;
    let out = plan(&[])?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("changed in the repository"),
        "{}",
        text(&out)
    );
    let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    args.extend_from_slice(&bump);
    let out = tofu(cli, work.path(), &infrastructure, &args)?;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(show(&git, "fleet", &file).unwrap_or_default(), original);

    // Import by namespace, after forgetting the resource.
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &["state", "rm", "weir_bootstrap_git.this"],
    )?;
    assert!(out.status.success(), "{}", text(&out));
    let mut args = vec!["import", "-input=false", "-no-color"];
    args.extend_from_slice(&bump);
    args.extend_from_slice(&["weir_bootstrap_git.this", ns.as_str()]);
    let out = tofu(cli, work.path(), &infrastructure, &args)?;
    assert!(out.status.success(), "{}", text(&out));
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &["state", "show", "-no-color", "weir_bootstrap_git.this"],
    )?;
    assert!(
        text(&out).contains("9.9.9") && text(&out).contains(&ns),
        "{}",
        text(&out)
    );
    // The imported state has the defaults (path ""); an apply makes it match the
    // configuration again, committing nothing new.
    let before = head(&git, "fleet");
    let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    args.extend_from_slice(&bump);
    let out = tofu(cli, work.path(), &infrastructure, &args)?;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(head(&git, "fleet"), before);

    // Destroy: uninstalled, files removed from the repository.
    drop(controller);
    let out = tofu(
        cli,
        work.path(),
        &infrastructure,
        &[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            bump[0],
            bump[1],
        ],
    )?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(show(&git, "fleet", &format!("gitops/{ns}/gotk-sync.yaml")).is_none());
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    assert!(
        crds.get_opt("kustomizations.kustomize.toolkit.fluxcd.io")
            .await?
            .is_none()
    );
    Ok(())
}
