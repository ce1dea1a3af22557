//! Against the real Git servers, with the `git` CLI as the client.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_testenv::{GitServer, git};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Bound on any client command here: a test that hits it has found a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

struct Outcome {
    success: bool,
    output: String,
    elapsed: Duration,
}

/// Runs a client command with a hard time limit, so a hanging server fails the test instead
/// of blocking it.
fn run_bounded(command: &mut Command) -> Result<Outcome, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > CLIENT_TIMEOUT {
            child.kill()?;
            return Err(format!("{command:?} hung for {CLIENT_TIMEOUT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    Ok(Outcome {
        success: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        elapsed: start.elapsed(),
    })
}

fn https_clone(server: &GitServer, url: &str, dest: &Path) -> Command {
    let mut c = git(dest.parent().unwrap_or(Path::new("/")));
    c.env("GIT_SSL_CAINFO", server.ca_path())
        .args(["clone", "-q", url])
        .arg(dest);
    c
}

fn ssh_clone(server: &GitServer, known_hosts: &Path, dest: &Path, repo: &str) -> Command {
    let mut c = git(dest.parent().unwrap_or(Path::new("/")));
    c.env(
        "GIT_SSH_COMMAND",
        format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10",
            server.ssh_key_path().display(),
            known_hosts.display()
        ),
    )
    .args(["clone", "-q", &server.ssh_url(repo)])
    .arg(dest);
    c
}

fn with_credentials(url: &str, user: &str, password: &str) -> String {
    url.replacen("://", &format!("://{user}:{password}@"), 1)
}

fn head_of(dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let out = git(dir).args(["rev-parse", "HEAD"]).output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

#[test]
fn clone_over_https_with_basic_auth() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("app")?;
    let sha = server.commit_files(
        "app",
        &[("apps/cm.yaml", "kind: ConfigMap\n")],
        &[],
        "first",
    )?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("clone");
    let url = with_credentials(
        &server.https_url("app"),
        server.username(),
        server.password(),
    );
    let outcome = run_bounded(&mut https_clone(&server, &url, &dest))?;
    assert!(outcome.success, "{}", outcome.output);
    assert_eq!(head_of(&dest)?, sha);
    assert_eq!(
        std::fs::read_to_string(dest.join("apps/cm.yaml"))?,
        "kind: ConfigMap\n"
    );
    Ok(())
}

#[test]
fn push_over_https_is_accepted() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("push")?;
    server.commit_files("push", &[("README", "x\n")], &[], "first")?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("clone");
    let url = with_credentials(
        &server.https_url("push"),
        server.username(),
        server.password(),
    );
    assert!(run_bounded(&mut https_clone(&server, &url, &dest))?.success);
    std::fs::write(dest.join("new.yaml"), "a: b\n")?;
    assert!(run_bounded(git(&dest).args(["add", "new.yaml"]))?.success);
    assert!(run_bounded(git(&dest).args(["commit", "-q", "-m", "second"]))?.success);
    let pushed = run_bounded(git(&dest).env("GIT_SSL_CAINFO", server.ca_path()).args([
        "push",
        "-q",
        "origin",
        "HEAD:main",
    ]))?;
    assert!(pushed.success, "{}", pushed.output);
    let bare_head = git(&server.repo_path("push"))
        .args(["rev-parse", "main"])
        .output()?;
    assert_eq!(String::from_utf8(bare_head.stdout)?.trim(), head_of(&dest)?);
    Ok(())
}

#[test]
fn clone_over_plain_http_with_basic_auth() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("plain")?;
    let sha = server.commit_files("plain", &[("a.yaml", "a: 1\n")], &[], "first")?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("clone");
    let url = with_credentials(
        &server.http_url("plain"),
        server.username(),
        server.password(),
    );
    let outcome = run_bounded(git(work.path()).args(["clone", "-q", &url]).arg(&dest))?;
    assert!(outcome.success, "{}", outcome.output);
    assert_eq!(head_of(&dest)?, sha);
    Ok(())
}

#[test]
fn wrong_password_fails_fast_with_an_authentication_error() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("secret")?;
    server.commit_files("secret", &[("a", "a\n")], &[], "first")?;
    let work = tempfile::tempdir()?;
    let url = with_credentials(&server.https_url("secret"), server.username(), "wrong");
    let outcome = run_bounded(&mut https_clone(&server, &url, &work.path().join("c")))?;
    assert!(!outcome.success);
    assert!(
        outcome.output.contains("Authentication failed"),
        "{}",
        outcome.output
    );
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "took {:?}",
        outcome.elapsed
    );

    // No credentials at all is refused the same way.
    let outcome = run_bounded(&mut https_clone(
        &server,
        &server.https_url("secret"),
        &work.path().join("d"),
    ))?;
    assert!(!outcome.success);
    Ok(())
}

#[test]
fn clone_over_ssh_with_a_key() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("ssh")?;
    let sha = server.commit_files("ssh", &[("k.yaml", "k: v\n")], &[], "first")?;
    let work = tempfile::tempdir()?;
    let dest = work.path().join("clone");
    let outcome = run_bounded(&mut ssh_clone(
        &server,
        &server.known_hosts_path(),
        &dest,
        "ssh",
    ))?;
    assert!(outcome.success, "{}", outcome.output);
    assert_eq!(head_of(&dest)?, sha);
    assert!(
        server
            .known_hosts()
            .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", server.ssh_port()))
    );
    Ok(())
}

#[test]
fn unknown_host_key_is_refused() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("hk")?;
    server.commit_files("hk", &[("a", "a\n")], &[], "first")?;
    let work = tempfile::tempdir()?;
    // A known_hosts line for this address with some other server's key.
    let other = GitServer::start()?;
    let forged = other.known_hosts().replacen(
        &format!(":{}", other.ssh_port()),
        &format!(":{}", server.ssh_port()),
        1,
    );
    let known_hosts = work.path().join("known_hosts");
    std::fs::write(&known_hosts, forged)?;
    let outcome = run_bounded(&mut ssh_clone(
        &server,
        &known_hosts,
        &work.path().join("c"),
        "hk",
    ))?;
    assert!(!outcome.success);
    assert!(
        outcome.output.contains("Host key verification failed")
            || outcome
                .output
                .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        outcome.output
    );
    // An empty known_hosts: the host is simply unknown.
    std::fs::write(&known_hosts, "")?;
    let outcome = run_bounded(&mut ssh_clone(
        &server,
        &known_hosts,
        &work.path().join("d"),
        "hk",
    ))?;
    assert!(!outcome.success);
    assert!(
        outcome.output.contains("Host key verification failed"),
        "{}",
        outcome.output
    );
    Ok(())
}

#[test]
fn a_stopped_server_fails_fast_instead_of_hanging() -> TestResult {
    let mut server = GitServer::start()?;
    server.create_repo("down")?;
    server.commit_files("down", &[("a", "a\n")], &[], "first")?;
    server.stop();
    let work = tempfile::tempdir()?;
    let url = with_credentials(
        &server.https_url("down"),
        server.username(),
        server.password(),
    );
    let https = run_bounded(&mut https_clone(&server, &url, &work.path().join("h")))?;
    assert!(!https.success);
    assert!(
        https.output.contains("Connection refused") || https.output.contains("Couldn't connect"),
        "{}",
        https.output
    );
    let ssh = run_bounded(&mut ssh_clone(
        &server,
        &server.known_hosts_path(),
        &work.path().join("s"),
        "down",
    ))?;
    assert!(!ssh.success);
    assert!(ssh.output.contains("Connection refused"), "{}", ssh.output);
    assert!(https.elapsed < Duration::from_secs(10) && ssh.elapsed < Duration::from_secs(10));
    Ok(())
}
