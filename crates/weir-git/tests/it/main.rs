//! weir-git against real Git servers (nginx + git http-backend over HTTPS, sshd).

use std::collections::BTreeMap;

use weir_git::{Credentials, Error, Reference, checkout};
use weir_testenv::GitServer;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn secret(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect()
}

fn main_branch() -> Reference {
    Reference::Branch("main".into())
}

#[test]
fn checks_out_over_https_and_ssh_with_flux_revisions() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("app")?;
    let first = server.commit_files(
        "app",
        &[("deploy/cm.yaml", "kind: ConfigMap\n")],
        &[],
        "first",
    )?;
    let dir = tempfile::tempdir()?;
    let ca = server.ca_pem()?;

    let https = Credentials::from_secret(
        &server.https_url("app"),
        &secret(&[
            ("username", server.username().as_bytes()),
            ("password", server.password().as_bytes()),
            ("ca.crt", ca.as_bytes()),
        ]),
    )?;
    let out = checkout(
        &server.https_url("app"),
        &main_branch(),
        &https,
        &dir.path().join("cache-https"),
        &dir.path().join("tree"),
    )?;
    assert_eq!(out.commit, first);
    assert_eq!(out.revision, format!("main@sha1:{first}"));
    assert_eq!(out.summary, "first");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tree/deploy/cm.yaml"))?,
        "kind: ConfigMap\n"
    );
    assert!(!dir.path().join("tree/.git").exists());

    // A new commit, fetched into the same cache; a removed file disappears from the tree.
    let second = server.commit_files("app", &[("b.yaml", "b\n")], &["deploy"], "second")?;
    let out = checkout(
        &server.https_url("app"),
        &main_branch(),
        &https,
        &dir.path().join("cache-https"),
        &dir.path().join("tree"),
    )?;
    assert_eq!(out.commit, second);
    assert!(!dir.path().join("tree/deploy").exists());

    let key = std::fs::read(server.ssh_key_path())?;
    let ssh = Credentials::from_secret(
        &server.ssh_url("app"),
        &secret(&[
            ("identity", &key),
            ("known_hosts", server.known_hosts().as_bytes()),
        ]),
    )?;
    let out = checkout(
        &server.ssh_url("app"),
        &Reference::Commit {
            sha: first.clone(),
            branch: Some("main".into()),
        },
        &ssh,
        &dir.path().join("cache-ssh"),
        &dir.path().join("tree-ssh"),
    )?;
    assert_eq!(out.revision, format!("main@sha1:{first}"));
    assert!(dir.path().join("tree-ssh/deploy/cm.yaml").exists());
    Ok(())
}

#[test]
fn failures_are_clear_and_leak_no_secret() -> TestResult {
    let mut server = GitServer::start()?;
    server.create_repo("app")?;
    server.commit_files("app", &[("a.yaml", "a\n")], &[], "first")?;
    let dir = tempfile::tempdir()?;
    let ca = server.ca_pem()?;
    let url = server.https_url("app");
    let run = |creds: &Credentials, reference: &Reference, url: &str| {
        checkout(
            url,
            reference,
            creds,
            &dir.path().join("cache"),
            &dir.path().join("tree"),
        )
    };

    let wrong = Credentials::from_secret(
        &url,
        &secret(&[
            ("username", server.username().as_bytes()),
            ("password", b"not-the-password-s3cr3t"),
            ("ca.crt", ca.as_bytes()),
        ]),
    )?;
    let err = run(&wrong, &main_branch(), &url)
        .err()
        .ok_or("wrong password accepted")?;
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");

    let untrusted = Credentials::from_secret(
        &url,
        &secret(&[
            ("username", server.username().as_bytes()),
            ("password", server.password().as_bytes()),
        ]),
    )?;
    let err = run(&untrusted, &main_branch(), &url)
        .err()
        .ok_or("untrusted TLS accepted")?;
    assert!(err.to_string().contains("certificate"), "{err}");

    let good = Credentials::from_secret(
        &url,
        &secret(&[
            ("username", server.username().as_bytes()),
            ("password", server.password().as_bytes()),
            ("ca.crt", ca.as_bytes()),
        ]),
    )?;
    let err = run(&good, &Reference::Branch("nope".into()), &url)
        .err()
        .ok_or("missing branch found")?;
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("branch 'nope'"), "{err}");

    let key = std::fs::read(server.ssh_key_path())?;
    let forged = "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    let ssh = Credentials::from_secret(
        &server.ssh_url("app"),
        &secret(&[("identity", &key), ("known_hosts", forged.as_bytes())]),
    )?;
    let err = run(&ssh, &main_branch(), &server.ssh_url("app"))
        .err()
        .ok_or("unknown host key accepted")?;
    assert!(err.to_string().contains("known_hosts"), "{err}");

    server.stop();
    let started = std::time::Instant::now();
    let err = run(&good, &main_branch(), &url)
        .err()
        .ok_or("server down but fetched")?;
    assert!(matches!(err, Error::Git { .. }), "{err}");
    assert!(started.elapsed().as_secs() < 10);
    Ok(())
}

#[test]
fn tags_and_semver_ranges() -> TestResult {
    let server = GitServer::start()?;
    server.create_repo("app")?;
    let tag = |name: &str, commit: &str| -> TestResult {
        let status = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(server.repo_path("app"))
            .args(["tag", "-a", "-m", name, name, commit])
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@weir.invalid")
            .status()?;
        assert!(status.success());
        Ok(())
    };
    let mut commits = Vec::new();
    for (i, version) in ["v1.0.0", "v1.1.0", "v2.0.0"].iter().enumerate() {
        let commit = server.commit_files("app", &[("v.txt", &format!("{i}\n"))], &[], version)?;
        tag(version, &commit)?;
        commits.push(commit);
    }
    let dir = tempfile::tempdir()?;
    let creds = Credentials::from_secret(
        &server.http_url("app"),
        &secret(&[
            ("username", server.username().as_bytes()),
            ("password", server.password().as_bytes()),
        ]),
    )?;
    let run = |reference: Reference| {
        checkout(
            &server.http_url("app"),
            &reference,
            &creds,
            &dir.path().join("cache"),
            &dir.path().join("tree"),
        )
    };
    let out = run(Reference::Semver(">=1.0.0 <2.0.0".into()))?;
    assert_eq!(out.revision, format!("v1.1.0@sha1:{}", commits[1]));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tree/v.txt"))?,
        "1\n"
    );
    let out = run(Reference::Tag("v1.0.0".into()))?;
    assert_eq!(out.revision, format!("v1.0.0@sha1:{}", commits[0]));
    let err = run(Reference::Semver(">=3".into()))
        .err()
        .ok_or("a missing version was found")?;
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    Ok(())
}
