//! `weir bootstrap git` and `weir uninstall`.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use weir_git::{Auth, Credentials};

use crate::Hinted;
use crate::args::{BootstrapGitArgs, GlobalArgs, UninstallArgs};
use crate::kubeconfig;

fn duration(text: &str, flag: &str) -> Result<Duration, Hinted> {
    weir_api::duration::parse(text).ok_or_else(|| Hinted {
        error: anyhow!("invalid --{flag} '{text}'"),
        hint: Some("write a duration such as 30s, 5m or 1h30m".to_owned()),
    })
}

fn read(path: &std::path::Path, what: &str) -> Result<String, Hinted> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} {}", path.display()))
        .map_err(Hinted::from)
}

/// The credentials the flags give for `url`.
fn credentials(args: &BootstrapGitArgs) -> Result<Credentials, Hinted> {
    let ssh = args.url.starts_with("ssh://");
    let auth = if ssh {
        let Some(key) = &args.private_key_file else {
            return Err(Hinted {
                error: anyhow!("an ssh:// URL needs --private-key-file"),
                hint: Some("or use the https:// URL with --password (a token)".to_owned()),
            });
        };
        Auth::Ssh {
            identity: read(key, "SSH private key")?,
            passphrase: args.private_key_password.clone(),
            known_hosts: match &args.known_hosts_file {
                Some(file) => read(file, "known_hosts file")?,
                None => String::new(),
            },
        }
    } else if let Some(password) = &args.password {
        Auth::Basic {
            username: args.username.clone(),
            password: password.clone(),
        }
    } else {
        Auth::None
    };
    let ca_pem = match &args.ca_file {
        Some(file) => Some(read(file, "CA file")?.into_bytes()),
        None => None,
    };
    Ok(Credentials { auth, ca_pem })
}

pub(crate) async fn git(global: &GlobalArgs, args: &BootstrapGitArgs) -> Result<(), Hinted> {
    let install = super::install::options(global, &args.install);
    let cwd = std::env::current_dir()?;
    let path = weir_bootstrap::repository_path(&args.path, &cwd)?;
    let timeout = duration(&args.timeout, "timeout")?;
    duration(&args.interval, "interval")?;
    let repository = weir_bootstrap::Repository {
        url: args.url.clone(),
        branch: args.branch.clone(),
        credentials: credentials(args)?,
        author_name: args.author_name.clone(),
        author_email: args.author_email.clone(),
        commit_message_appendix: None,
    };
    let plan = weir_bootstrap::Plan {
        install,
        path,
        interval: args.interval.clone(),
        secret_name: args.secret_name.clone(),
        kustomization_override: None,
    };
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let work = tempfile::tempdir()?;
    let progress = |line: &str| {
        let _ = writeln!(std::io::stderr(), "► {line}");
    };
    let done = weir_bootstrap::bootstrap(
        &conn.client,
        &repository,
        &plan,
        work.path(),
        args.wait.then_some(timeout),
        &progress,
    )
    .await
    .map_err(|err| {
        let hint = match &err {
            weir_bootstrap::Error::NotReady { .. } => Some(
                "the controller runs in the cluster: check its pod \
                 (kubectl -n flux-system logs deploy/weir-controller) and `weir events`"
                    .to_owned(),
            ),
            weir_bootstrap::Error::Git(weir_git::Error::Authentication { .. }) => Some(
                "check --username/--password (a token with write access) or the SSH key".to_owned(),
            ),
            _ => None,
        };
        Hinted {
            error: err.into(),
            hint,
        }
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "✔ bootstrap finished at {} ({})",
        done.revision,
        if done.pushed {
            "new commit"
        } else {
            "repository already up to date"
        }
    )?;
    Ok(())
}

pub(crate) async fn uninstall(global: &GlobalArgs, args: &UninstallArgs) -> Result<(), Hinted> {
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| weir_install::DEFAULT_NAMESPACE.to_owned());
    let timeout = duration(&args.timeout, "timeout")?;
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let removed =
        weir_bootstrap::uninstall(&conn.client, &namespace, args.keep_namespace, timeout).await?;
    let mut out = std::io::stdout().lock();
    for object in removed {
        writeln!(out, "{object} deleted")?;
    }
    writeln!(out, "✔ uninstall finished")?;
    Ok(())
}
