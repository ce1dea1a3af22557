//! `weir check`: can Weir work with this cluster?
//!
//! Reads the kubeconfig, asks the API server for its version, checks it against the oldest
//! Kubernetes Weir supports, and asks who the credentials authenticate as.

use std::io::Write as _;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

use crate::Hinted;
use crate::args::{CheckArgs, GlobalArgs};
use crate::kubeconfig::{self, ConnectError};

/// The oldest Kubernetes minor version Weir supports (the oldest k8s-openapi knows).
const MIN_KUBERNETES: (u32, u32) = (1, 33);

pub(crate) async fn run(global: &GlobalArgs, args: &CheckArgs) -> Result<(), Hinted> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "► checking prerequisites")?;
    let conn = kubeconfig::connect(global, Duration::from_secs(args.timeout)).await?;
    match &conn.context {
        Some(context) => writeln!(out, "✔ kubeconfig {} (context {context})", conn.origin)?,
        None => writeln!(out, "✔ {}", conn.origin)?,
    }

    let info = conn
        .client
        .apiserver_version()
        .await
        .map_err(|e| kubeconfig::classify(&conn.server, e))?;
    let version = format!("{}.{}", info.major, info.minor);
    let parsed = parse_minor(&info.major, &info.minor);
    match parsed {
        Some(v) if v >= MIN_KUBERNETES => writeln!(
            out,
            "✔ Kubernetes {} at {} (>={}.{})",
            info.git_version, conn.server, MIN_KUBERNETES.0, MIN_KUBERNETES.1
        )?,
        _ => {
            return Err(Hinted {
                error: anyhow::anyhow!(
                    "Kubernetes {} ({version}) at {} is older than {}.{}, the oldest Weir supports",
                    info.git_version,
                    conn.server,
                    MIN_KUBERNETES.0,
                    MIN_KUBERNETES.1
                ),
                hint: Some("upgrade the cluster".into()),
            });
        }
    }

    // /version is public; a SelfSubjectReview proves the credentials are accepted.
    // Anonymous users may not create reviews: 403 here means the credentials were ignored.
    let review = match Api::<SelfSubjectReview>::all(conn.client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
    {
        Ok(review) => Some(review),
        Err(kube::Error::Api(status)) if status.code == 403 => None,
        Err(e) => return Err(kubeconfig::classify(&conn.server, e).into()),
    };
    let user = review
        .and_then(|r| r.status)
        .and_then(|s| s.user_info)
        .unwrap_or_default();
    let name = user.username.unwrap_or_default();
    if name.is_empty() || name == "system:anonymous" {
        return Err(Hinted {
            error: ConnectError::Unauthorized {
                server: conn.server.clone(),
            }
            .into(),
            hint: Some(
                "the API server treats these credentials as anonymous: the kubeconfig has no user credentials, or they are not for this cluster".into(),
            ),
        });
    }
    let groups = user.groups.unwrap_or_default().join(", ");
    writeln!(out, "✔ authenticated as {name} (groups: {groups})")?;
    writeln!(out, "✔ prerequisites checks passed")?;
    Ok(())
}

/// `("1", "36+")` → `(1, 36)`: providers append `+` to the minor version.
fn parse_minor(major: &str, minor: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| -> Option<u32> {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Some((digits(major)?, digits(minor)?))
}

#[cfg(test)]
mod tests {
    use super::parse_minor;

    #[test]
    fn minor_versions_with_provider_suffixes_parse() {
        assert_eq!(parse_minor("1", "36"), Some((1, 36)));
        assert_eq!(parse_minor("1", "33+"), Some((1, 33)));
        assert_eq!(parse_minor("", "33"), None);
    }
}
