//! The provider block: `kubernetes = { ... }` and `git = { ... }`, as nested attributes
//! (written with `=`, as in the seed), and the settings made from them.

use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description};
use tf_provider::value::{Value, ValueBool, ValueString};
use tf_provider::{AttributePath, Diagnostics};

/// `kubernetes = { ... }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct KubernetesConfig<'a> {
    #[serde(borrow)]
    pub(crate) host: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) client_certificate: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) client_key: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) cluster_ca_certificate: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) token: ValueString<'a>,
    pub(crate) insecure: ValueBool,
    #[serde(borrow)]
    pub(crate) config_path: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) config_context: ValueString<'a>,
}

/// `git = { http = { ... } }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct HttpConfig<'a> {
    #[serde(borrow)]
    pub(crate) username: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) password: ValueString<'a>,
    pub(crate) allow_insecure_http: ValueBool,
    #[serde(borrow)]
    pub(crate) certificate_authority: ValueString<'a>,
}

/// `git = { ssh = { ... } }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SshConfig<'a> {
    #[serde(borrow)]
    pub(crate) username: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) private_key: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) password: ValueString<'a>,
}

/// `git = { ... }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GitConfig<'a> {
    #[serde(borrow)]
    pub(crate) url: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) branch: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) author_name: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) author_email: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) commit_message_appendix: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) http: Value<HttpConfig<'a>>,
    #[serde(borrow)]
    pub(crate) ssh: Value<SshConfig<'a>>,
}

/// The provider block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ProviderConfig<'a> {
    #[serde(borrow)]
    pub(crate) kubernetes: Value<KubernetesConfig<'a>>,
    #[serde(borrow)]
    pub(crate) git: Value<GitConfig<'a>>,
}

fn attribute(kind: AttributeType, text: &'static str, sensitive: bool) -> Attribute {
    Attribute {
        attr_type: kind,
        description: Description::plain(text),
        constraint: AttributeConstraint::Optional,
        sensitive,
        ..Default::default()
    }
}

fn string(text: &'static str) -> Attribute {
    attribute(AttributeType::String, text, false)
}

fn secret(text: &'static str) -> Attribute {
    attribute(AttributeType::String, text, true)
}

/// The provider block's schema.
pub(crate) fn provider_attributes() -> HashMap<String, Attribute> {
    let kubernetes: HashMap<String, Attribute> = [
        ("host", string("The API server URL (https://...).")),
        ("client_certificate", string("PEM client certificate.")),
        ("client_key", secret("PEM client key.")),
        (
            "cluster_ca_certificate",
            string("PEM CA certificate of the API server."),
        ),
        ("token", secret("Bearer token.")),
        (
            "insecure",
            attribute(
                AttributeType::Bool,
                "Skip the API server's certificate check.",
                false,
            ),
        ),
        (
            "config_path",
            string("A kubeconfig file, instead of host and credentials."),
        ),
        ("config_context", string("The kubeconfig context to use.")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let http: HashMap<String, Attribute> = [
        ("username", string("HTTP user name (default `git`).")),
        ("password", secret("HTTP password or access token.")),
        (
            "allow_insecure_http",
            attribute(AttributeType::Bool, "Allow an http:// URL.", false),
        ),
        (
            "certificate_authority",
            string("PEM CA certificate of the Git server."),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let ssh: HashMap<String, Attribute> = [
        ("username", string("SSH user name (default `git`).")),
        ("private_key", secret("PEM or OpenSSH private key.")),
        ("password", secret("The private key's passphrase.")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let git: HashMap<String, Attribute> = [
        (
            "url",
            string("The repository URL: https://, http:// or ssh://."),
        ),
        ("branch", string("The branch (default `main`).")),
        (
            "author_name",
            string("Commit author name (default `Weir`)."),
        ),
        ("author_email", string("Commit author e-mail.")),
        (
            "commit_message_appendix",
            string("Text appended to commit messages."),
        ),
        (
            "http",
            attribute(
                AttributeType::AttributeSingle(http),
                "HTTP(S) credentials.",
                false,
            ),
        ),
        (
            "ssh",
            attribute(
                AttributeType::AttributeSingle(ssh),
                "SSH credentials.",
                false,
            ),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    [
        (
            "kubernetes".to_owned(),
            attribute(
                AttributeType::AttributeSingle(kubernetes),
                "How to reach the cluster.",
                false,
            ),
        ),
        (
            "git".to_owned(),
            attribute(
                AttributeType::AttributeSingle(git),
                "The repository to bootstrap.",
                false,
            ),
        ),
    ]
    .into_iter()
    .collect()
}

/// A value that may not be known yet (plan time, before the cluster exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Known<T> {
    /// Known.
    Yes(T),
    /// Not known until apply.
    Later,
}

/// The cluster connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kubernetes {
    pub(crate) host: Option<String>,
    pub(crate) client_certificate: Option<String>,
    pub(crate) client_key: Option<String>,
    pub(crate) cluster_ca_certificate: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) insecure: bool,
    pub(crate) config_path: Option<String>,
    pub(crate) config_context: Option<String>,
}

/// The repository.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    pub(crate) url: String,
    pub(crate) branch: String,
    pub(crate) author_name: String,
    pub(crate) author_email: String,
    pub(crate) commit_message_appendix: Option<String>,
    pub(crate) credentials: weir_git::Credentials,
}

/// What the provider block gives, once read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) kubernetes: Known<Kubernetes>,
    pub(crate) git: Known<Git>,
}

/// A string value: `Ok(None)` when null, `Err(())` when unknown.
fn text(value: &ValueString<'_>) -> Result<Option<String>, ()> {
    match value {
        Value::Value(v) => Ok(Some(v.to_string())),
        Value::Null => Ok(None),
        Value::Unknown => Err(()),
    }
}

fn flag(value: &ValueBool) -> Result<bool, ()> {
    match value {
        Value::Value(v) => Ok(*v),
        Value::Null => Ok(false),
        Value::Unknown => Err(()),
    }
}

impl Settings {
    /// Reads the provider block; unknown values are kept as [`Known::Later`], invalid ones
    /// are reported.
    pub(crate) fn from_config(diags: &mut Diagnostics, config: ProviderConfig<'_>) -> Option<Self> {
        let kubernetes = match &config.kubernetes {
            Value::Unknown => Known::Later,
            Value::Null => Known::Yes(Kubernetes::default()),
            Value::Value(k) => match kubernetes(k) {
                Ok(k) => Known::Yes(k),
                Err(()) => Known::Later,
            },
        };
        let git = match &config.git {
            Value::Unknown => Known::Later,
            Value::Null => {
                diags.error_short(
                    "the provider block needs git = { url = ... }",
                    AttributePath::new("git"),
                );
                return None;
            }
            Value::Value(g) => match git(diags, g) {
                Ok(Some(g)) => Known::Yes(g),
                Ok(None) => return None,
                Err(()) => Known::Later,
            },
        };
        Some(Settings { kubernetes, git })
    }
}

fn kubernetes(k: &KubernetesConfig<'_>) -> Result<Kubernetes, ()> {
    Ok(Kubernetes {
        host: text(&k.host)?,
        client_certificate: text(&k.client_certificate)?,
        client_key: text(&k.client_key)?,
        cluster_ca_certificate: text(&k.cluster_ca_certificate)?,
        token: text(&k.token)?,
        insecure: flag(&k.insecure)?,
        config_path: text(&k.config_path)?,
        config_context: text(&k.config_context)?,
    })
}

/// The repository settings; `Ok(None)` after reporting an invalid value.
fn git(diags: &mut Diagnostics, g: &GitConfig<'_>) -> Result<Option<Git>, ()> {
    let Some(url) = text(&g.url)? else {
        diags.error_short(
            "git.url is required",
            AttributePath::new("git").attribute("url"),
        );
        return Ok(None);
    };
    let path = |name: &'static str| AttributePath::new("git").attribute(name);
    let mut credentials = weir_git::Credentials::default();
    if url.starts_with("ssh://") {
        let Value::Value(ssh) = &g.ssh else {
            diags.error(
                "an ssh:// URL needs git.ssh",
                "Set git = { ssh = { private_key = ... } }, or use the https:// URL with \
                 git.http.",
                path("ssh"),
            );
            return Ok(None);
        };
        let Some(identity) = text(&ssh.private_key)? else {
            diags.error_short("git.ssh.private_key is required", path("ssh"));
            return Ok(None);
        };
        credentials.auth = weir_git::Auth::Ssh {
            identity,
            passphrase: text(&ssh.password)?,
            known_hosts: String::new(),
        };
    } else if url.starts_with("https://") || url.starts_with("http://") {
        if let Value::Value(http) = &g.http {
            if url.starts_with("http://") && !flag(&http.allow_insecure_http)? {
                diags.error(
                    "an http:// URL sends credentials in clear text",
                    "Use https://, or set git.http.allow_insecure_http = true.",
                    path("url"),
                );
                return Ok(None);
            }
            if let Some(password) = text(&http.password)? {
                credentials.auth = weir_git::Auth::Basic {
                    username: text(&http.username)?.unwrap_or_else(|| "git".to_owned()),
                    password,
                };
            }
            credentials.ca_pem = text(&http.certificate_authority)?.map(String::into_bytes);
        }
    } else {
        diags.error(
            format!("unsupported git.url '{url}'"),
            "Use an https://, http:// or ssh:// URL.",
            path("url"),
        );
        return Ok(None);
    }
    Ok(Some(Git {
        url,
        branch: text(&g.branch)?.unwrap_or_else(|| "main".to_owned()),
        author_name: text(&g.author_name)?.unwrap_or_else(|| "Weir".to_owned()),
        author_email: text(&g.author_email)?
            .unwrap_or_else(|| "weir@users.noreply.local".to_owned()),
        commit_message_appendix: text(&g.commit_message_appendix)?,
        credentials,
    }))
}

impl Kubernetes {
    /// A client for the cluster: from `config_path` (and `config_context`), else from
    /// `host` and its credentials, else from `KUBECONFIG` or in-cluster.
    pub(crate) async fn client(&self) -> Result<kube::Client, String> {
        use kube::config::{
            AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
            NamedContext,
        };
        let options = KubeConfigOptions {
            context: self.config_context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = if let Some(path) = &self.config_path {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| format!("reading kubernetes.config_path {path}: {e}"))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("kubernetes.config_path {path}: {e}"))?
        } else if let Some(host) = &self.host {
            let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
            let kubeconfig = Kubeconfig {
                clusters: vec![NamedCluster {
                    name: "weir".into(),
                    other: Default::default(),
                    cluster: Some(Cluster {
                        server: Some(host.clone()),
                        insecure_skip_tls_verify: Some(self.insecure),
                        certificate_authority_data: self.cluster_ca_certificate.as_deref().map(b64),
                        ..Cluster::default()
                    }),
                }],
                auth_infos: vec![NamedAuthInfo {
                    name: "weir".into(),
                    other: Default::default(),
                    auth_info: Some(AuthInfo {
                        client_certificate_data: self.client_certificate.as_deref().map(b64),
                        client_key_data: self.client_key.as_deref().map(|k| b64(k).into()),
                        token: self.token.clone().map(Into::into),
                        ..AuthInfo::default()
                    }),
                }],
                contexts: vec![NamedContext {
                    name: "weir".into(),
                    other: Default::default(),
                    context: Some(Context {
                        cluster: "weir".into(),
                        user: Some("weir".into()),
                        ..Context::default()
                    }),
                }],
                current_context: Some("weir".into()),
                ..Kubeconfig::default()
            };
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubernetes.host {host}: {e}"))?
        } else {
            kube::Config::infer()
                .await
                .map_err(|e| format!("no kubernetes block and no kubeconfig: {e}"))?
        };
        kube::Client::try_from(config).map_err(|e| format!("connecting to the cluster: {e}"))
    }
}
