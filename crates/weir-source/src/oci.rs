//! What the OCI sources share: a registry client for a source's spec (`insecure` for plain
//! HTTP, `certSecretRef` CA) and its credentials (`secretRef`: a `kubernetes.io/dockerconfigjson`
//! Secret, as Flux expects, or `username`/`password` keys).

use base64::Engine as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use serde_json::Value;
use weir_api::status::Reason;

use crate::helm_repository::secret_data;
use crate::reconcile::{Failure, text};

/// A registry client and the credentials to use with `host`.
pub(crate) struct Registry {
    pub(crate) client: oci_client::Client,
    pub(crate) auth: RegistryAuth,
}

/// The credentials for `host` in a Docker config JSON (`auths`, by host, with `username` and
/// `password` or `auth` = base64 of `user:password`).
fn docker_config_auth(config: &[u8], host: &str) -> Option<(String, String)> {
    let config: Value = serde_json::from_slice(config).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let entry = auths.iter().find_map(|(key, entry)| {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let key = key.split('/').next().unwrap_or(key);
        (key == host).then_some(entry)
    })?;
    if let (Some(user), Some(pass)) = (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        return Some((user.to_owned(), pass.to_owned()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.get("auth")?.as_str()?)
        .ok()?;
    let (user, pass) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The client for a source whose `spec` has `secretRef`, `certSecretRef` and `insecure`,
/// reading credentials for registry `host`.
pub(crate) async fn registry(
    kube: &kube::Client,
    namespace: &str,
    spec: &Value,
    host: &str,
) -> Result<Registry, Failure> {
    let mut auth = RegistryAuth::Anonymous;
    let mut config = ClientConfig::default();
    if spec["insecure"] == true {
        config.protocol = ClientProtocol::Http;
    }
    if let Some(secret) = text(spec, "/secretRef/name") {
        let data = secret_data(kube, namespace, secret).await?;
        let get = |k: &str| data.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        let credentials = match (get("username"), get("password")) {
            (Some(user), Some(pass)) => Some((user, pass)),
            _ => data
                .get(".dockerconfigjson")
                .and_then(|c| docker_config_auth(c, host)),
        };
        match credentials {
            Some((user, pass)) => auth = RegistryAuth::Basic(user, pass),
            None => {
                return Err((
                    Reason::AuthenticationFailed,
                    format!(
                        "secret '{namespace}/{secret}' has no credentials for {host}: give 'username' and 'password', or a '.dockerconfigjson' with an entry for {host}"
                    ),
                ));
            }
        }
    }
    if let Some(secret) = text(spec, "/certSecretRef/name") {
        let data = secret_data(kube, namespace, secret).await?;
        if let Some(ca) = data.get("ca.crt") {
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: ca.clone(),
            });
        }
    }
    Ok(Registry {
        client: oci_client::Client::new(config),
        auth,
    })
}

/// A registry error as a failure: `AuthenticationFailed` when the registry refused the
/// credentials, else `reason`; the message names `what`.
pub(crate) fn failure(
    what: &str,
    reason: Reason,
    error: &oci_client::errors::OciDistributionError,
) -> Failure {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    let reason = if text.contains("401") || lower.contains("unauthorized") {
        Reason::AuthenticationFailed
    } else {
        reason
    };
    (reason, format!("failed to pull '{what}': {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_credentials() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let config = serde_json::json!({ "auths": {
            "https://ghcr.io": { "auth": b64.encode("me:secret") },
            "127.0.0.1:5000": { "username": "u", "password": "p" },
        }})
        .to_string();
        assert_eq!(
            docker_config_auth(config.as_bytes(), "ghcr.io"),
            Some(("me".into(), "secret".into()))
        );
        assert_eq!(
            docker_config_auth(config.as_bytes(), "127.0.0.1:5000"),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(docker_config_auth(config.as_bytes(), "quay.io"), None);
    }
}
