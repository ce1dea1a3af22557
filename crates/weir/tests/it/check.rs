//! `weir check` and `weir version`: success, and a clear message for each way a connection
//! fails.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use weir_testenv::ControlPlane;
use weir_testenv::pki::Authority;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn weir(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.args(args).env_remove("KUBECONFIG").env_remove("WEIR_LOG");
    c
}

fn run(command: &mut Command) -> Result<(Output, String, String), Box<dyn std::error::Error>> {
    let output = command.output()?;
    let stdout = String::from_utf8(output.stdout.clone())?;
    let stderr = String::from_utf8(output.stderr.clone())?;
    Ok((output, stdout, stderr))
}

/// A kubeconfig for `server` with the given CA (PEM) and user section.
fn kubeconfig(server: &str, ca_pem: &str, user: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n{user}\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\n"
    )
}

fn write(dir: &Path, name: &str, content: &str) -> Result<String, Box<dyn std::error::Error>> {
    let path = dir.join(name);
    std::fs::write(&path, content)?;
    Ok(path.display().to_string())
}

#[test]
fn version_prints_the_crate_version() -> TestResult {
    let (out, stdout, _) = run(&mut weir(&["version"]))?;
    assert!(out.status.success());
    assert_eq!(stdout, format!("weir {}\n", env!("CARGO_PKG_VERSION")));
    let (_, json, _) = run(&mut weir(&["version", "-o", "json"]))?;
    let value: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(value["weir"], env!("CARGO_PKG_VERSION"));
    Ok(())
}

#[test]
fn check_passes_against_the_real_api_server() -> TestResult {
    let cp = ControlPlane::shared()?;
    let kubeconfig = cp.kubeconfig_path();
    let (out, stdout, stderr) = run(&mut weir(&[
        "check",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
    ]))?;
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("✔ Kubernetes v1.36.3 at https://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("authenticated as weir-admin (groups: system:masters, system:authenticated)"),
        "{stdout}"
    );
    assert!(stdout.contains("context weir-testenv"), "{stdout}");

    // KUBECONFIG is honoured the same way.
    let (out, _, _) = run(weir(&["check"]).env("KUBECONFIG", &kubeconfig))?;
    assert!(out.status.success());
    Ok(())
}

#[test]
fn missing_kubeconfig_file_is_named() -> TestResult {
    let (out, stdout, stderr) = run(&mut weir(&[
        "check",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: kubeconfig /nonexistent/kubeconfig not found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: pass an existing file with --kubeconfig"),
        "{stderr}"
    );
    assert!(!stdout.contains('✔'), "{stdout}");
    Ok(())
}

#[test]
fn no_kubeconfig_anywhere_says_so() -> TestResult {
    let home = tempfile::tempdir()?;
    let (out, _, stderr) = run(weir(&["check"])
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST"))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: no kubeconfig: --kubeconfig is not set, KUBECONFIG is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: pass --kubeconfig FILE or set KUBECONFIG"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn unknown_context_lists_the_known_ones() -> TestResult {
    let cp = ControlPlane::shared()?;
    let (out, _, stderr) = run(&mut weir(&[
        "check",
        "--kubeconfig",
        &cp.kubeconfig_path().display().to_string(),
        "--context",
        "nope",
    ]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("context 'nope' is not in kubeconfig"),
        "{stderr}"
    );
    assert!(stderr.contains("(it has: weir-testenv)"), "{stderr}");
    Ok(())
}

#[test]
fn untrusted_server_certificate_is_a_tls_error() -> TestResult {
    let cp = ControlPlane::shared()?;
    let dir = tempfile::tempdir()?;
    let other_ca = Authority::new("some-other-ca")?;
    let config = kubeconfig(cp.server(), &other_ca.cert_pem, "    token: whatever\n");
    let path = write(dir.path(), "kubeconfig", &config)?;
    let (out, _, stderr) = run(&mut weir(&["check", "--kubeconfig", &path]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "error: TLS handshake with {} failed: invalid peer certificate",
            cp.server()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the kubeconfig's certificate-authority"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn rejected_credentials_are_unauthorized() -> TestResult {
    let cp = ControlPlane::shared()?;
    let dir = tempfile::tempdir()?;
    let config = kubeconfig(cp.server(), &cp.ca_pem()?, "    token: not-a-valid-token\n");
    let path = write(dir.path(), "kubeconfig", &config)?;
    let (out, _, stderr) = run(&mut weir(&["check", "--kubeconfig", &path]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("rejected the credentials (401 Unauthorized)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-a-valid-token"),
        "a secret leaked: {stderr}"
    );

    // A client certificate from another CA is not accepted either.
    let stranger = Authority::new("stranger")?.client("mallory", &["system:masters"])?;
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&stranger.cert_pem),
        b64(&stranger.key_pem)
    );
    let path = write(
        dir.path(),
        "kubeconfig2",
        &kubeconfig(cp.server(), &cp.ca_pem()?, &user),
    )?;
    let (out, _, stderr) = run(&mut weir(&["check", "--kubeconfig", &path]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("rejected the credentials"), "{stderr}");
    Ok(())
}

#[test]
fn unreachable_server_fails_fast() -> TestResult {
    let cp = ControlPlane::shared()?;
    let dir = tempfile::tempdir()?;
    let port = weir_testenv::process::free_port()?;
    let server = format!("https://127.0.0.1:{port}");
    let path = write(
        dir.path(),
        "kubeconfig",
        &kubeconfig(&server, &cp.ca_pem()?, "    token: t\n"),
    )?;
    let start = Instant::now();
    let (out, _, stderr) = run(&mut weir(&["check", "--kubeconfig", &path]))?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "error: cannot reach the API server at {server}: connection refused"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("hint: is the cluster running?"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(10));
    Ok(())
}
