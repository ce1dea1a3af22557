//! `weir apply` and `weir delete` against the real API server.

use std::process::Command;

use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn weir(
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> Result<(bool, String, String), Box<dyn std::error::Error>> {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: \"{value}\"\n")
}

#[tokio::test]
async fn apply_prune_and_delete_by_inventory() -> TestResult {
    let env = TestEnv::new("cli-apply").await?;
    let ns = env.namespace();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.yaml"), cm("a", "1"))?;
    std::fs::write(dir.path().join("b.yaml"), cm("b", "1"))?;
    let path = dir.path().display().to_string();
    let inventory = format!("{ns}/inv");
    let args = [
        "apply",
        "-n",
        ns,
        "-f",
        &path,
        "--inventory",
        &inventory,
        "--prune",
    ];

    let (ok, out, err) = weir(&kubeconfig, &args)?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("ConfigMap/{ns}/a created\nConfigMap/{ns}/b created\n")
    );
    // Not a terminal: one plain progress line per phase.
    assert_eq!(
        err,
        "stage 1/1: validating 2 objects (server-side dry run)\nstage 1/1: applying 2 objects\n"
    );

    let (ok, out, err) = weir(&kubeconfig, &args)?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("ConfigMap/{ns}/a unchanged\nConfigMap/{ns}/b unchanged\n")
    );

    std::fs::remove_file(dir.path().join("b.yaml"))?;
    std::fs::write(dir.path().join("a.yaml"), cm("a", "2"))?;
    let (ok, out, err) = weir(&kubeconfig, &args)?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("ConfigMap/{ns}/a configured\nConfigMap/{ns}/b deleted\n")
    );

    let (ok, out, err) = weir(
        &kubeconfig,
        &[
            "delete",
            "--inventory",
            &inventory,
            "--wait",
            "--timeout",
            "60",
        ],
    )?;
    assert!(ok, "{err}");
    assert_eq!(out, format!("ConfigMap/{ns}/a deleted\n"));
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), ns);
    assert!(api.get_opt("a").await?.is_none());
    // The inventory ConfigMap itself is kept, now empty.
    assert!(api.get_opt("inv").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn a_rejected_object_is_reported_and_nothing_is_written() -> TestResult {
    let env = TestEnv::new("cli-apply-bad").await?;
    let ns = env.namespace();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("all.yaml");
    std::fs::write(
        &file,
        format!(
            "{}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: -1\n  selector:\n    matchLabels: {{app: x}}\n  template:\n    metadata:\n      labels: {{app: x}}\n    spec:\n      containers: [{{name: c, image: x}}]\n",
            cm("ok", "1")
        ),
    )?;
    let (ok, _, err) = weir(
        &kubeconfig,
        &["apply", "-n", ns, "-f", &file.display().to_string()],
    )?;
    assert!(!ok);
    assert!(err.contains(&format!("Deployment/{ns}/bad")), "{err}");
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), ns);
    assert!(api.get_opt("ok").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn an_inventory_that_cannot_be_written_stops_the_apply_before_any_change() -> TestResult {
    let env = TestEnv::new("cli-apply-inv").await?;
    let ns = env.namespace();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("a.yaml");
    std::fs::write(&file, cm("a", "1"))?;
    let (ok, _, err) = weir(
        &kubeconfig,
        &[
            "apply",
            "-n",
            ns,
            "-f",
            &file.display().to_string(),
            "--inventory",
            "no-such-namespace/inv",
        ],
    )?;
    assert!(!ok);
    assert!(
        err.contains("inventory ConfigMap no-such-namespace/inv")
            && err.contains("create namespace no-such-namespace first"),
        "{err}"
    );
    // The API server's status is reported by its message, not dumped.
    assert!(!err.contains("Status {"), "{err}");
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), ns);
    assert!(api.get_opt("a").await?.is_none());

    // A namespace created by the same apply may hold the inventory.
    let inv_ns = format!("{ns}-inv");
    std::fs::write(
        dir.path().join("ns.yaml"),
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {inv_ns}\n"),
    )?;
    let inventory = format!("{inv_ns}/inv");
    let (ok, _, err) = weir(
        &kubeconfig,
        &[
            "apply",
            "-n",
            ns,
            "-f",
            &dir.path().display().to_string(),
            "--inventory",
            &inventory,
        ],
    )?;
    assert!(ok, "{err}");
    assert!(api.get_opt("a").await?.is_some());
    let inv: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), &inv_ns);
    assert!(inv.get_opt("inv").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn diff_shows_changes_masks_secrets_and_exits_one() -> TestResult {
    let env = TestEnv::new("cli-diff").await?;
    let ns = env.namespace();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let dir = tempfile::tempdir()?;
    let secret = |v: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  token: {v}\n"
        )
    };
    std::fs::write(
        dir.path().join("a.yaml"),
        format!("{}---\n{}", cm("a", "1"), secret("hunter2")),
    )?;
    let path = dir.path().display().to_string();
    let (ok, _, err) = weir(&kubeconfig, &["apply", "-n", ns, "-f", &path])?;
    assert!(ok, "{err}");

    let (ok, out, err) = weir(&kubeconfig, &["diff", "-n", ns, "-f", &path])?;
    assert!(ok, "no change must exit 0: {out}{err}");
    assert_eq!(out, "");

    std::fs::write(
        dir.path().join("a.yaml"),
        format!("{}---\n{}", cm("a", "2"), secret("s3cr3t")),
    )?;
    let (ok, out, err) = weir(&kubeconfig, &["diff", "-n", ns, "-f", &path])?;
    assert!(!ok, "a change must exit 1");
    assert_eq!(err, "", "no error text for differences");
    assert!(out.contains(&format!("--- live/ConfigMap/{ns}/a")), "{out}");
    assert!(
        out.contains("-  k: \"1\"") && out.contains("+  k: \"2\""),
        "{out}"
    );
    assert!(out.contains("*** (after)"), "{out}");
    assert!(
        !out.contains("s3cr3t") && !out.contains("hunter2"),
        "a secret leaked: {out}"
    );
    Ok(())
}

#[tokio::test]
async fn immutable_changes_need_force() -> TestResult {
    let env = TestEnv::new("cli-apply-force").await?;
    let ns = env.namespace();
    let kubeconfig = env.control_plane.kubeconfig_path();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("svc.yaml");
    let service = |ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: {ip}\n  ports: [{{port: 5432}}]\n"
        )
    };
    let path = file.display().to_string();
    std::fs::write(&file, service("10.0.0.160"))?;
    let (ok, _, err) = weir(&kubeconfig, &["apply", "-n", ns, "-f", &path])?;
    assert!(ok, "{err}");

    std::fs::write(&file, service("10.0.0.161"))?;
    let (ok, _, err) = weir(&kubeconfig, &["apply", "-n", ns, "-f", &path])?;
    assert!(!ok);
    assert!(
        err.contains(&format!("Service/{ns}/db dry-run failed (Immutable)")),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");

    let (ok, out, err) = weir(&kubeconfig, &["apply", "-n", ns, "-f", &path, "--force"])?;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("Service/{ns}/db recreated (immutable fields changed)\n")
    );
    let api: kube::Api<k8s_openapi::api::core::v1::Service> =
        kube::Api::namespaced(env.client.clone(), ns);
    let ip = api.get("db").await?.spec.and_then(|s| s.cluster_ip);
    assert_eq!(ip.as_deref(), Some("10.0.0.161"));
    Ok(())
}
