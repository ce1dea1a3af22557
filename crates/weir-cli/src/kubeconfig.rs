//! From `--kubeconfig`/`--context` to a connected client, and from connection failures to
//! messages that say what is wrong and what to do.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::args::GlobalArgs;
use crate::env;

/// The namespace used when neither `-n` nor the kubeconfig context names one, as Flux does.
pub(crate) const DEFAULT_NAMESPACE: &str = "flux-system";

/// A client and what it was built from, for messages.
#[derive(Clone)]
pub(crate) struct Connection {
    /// The client.
    pub(crate) client: kube::Client,
    /// Where the configuration came from: a file path, or "in-cluster configuration".
    pub(crate) origin: String,
    /// The context used, when from a kubeconfig.
    pub(crate) context: Option<String>,
    /// The API server URL.
    pub(crate) server: String,
    /// The namespace to act in.
    pub(crate) namespace: String,
    /// The configuration the client was built from (the controller derives impersonating
    /// clients from it).
    pub(crate) config: kube::Config,
}

/// Why `weir` could not talk to the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// `--kubeconfig` (or `KUBECONFIG`) names a file that does not exist.
    #[error("kubeconfig {} not found", path.display())]
    KubeconfigNotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// No kubeconfig anywhere and not inside a cluster.
    #[error("no kubeconfig: --kubeconfig is not set, KUBECONFIG is not set, {} does not exist, and this is not a pod in a cluster", default.display())]
    NoKubeconfig {
        /// The default path that was tried.
        default: PathBuf,
    },
    /// The kubeconfig could not be parsed or is incomplete.
    #[error("kubeconfig {origin} is not usable: {message}")]
    InvalidKubeconfig {
        /// The file.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// `--context` names a context the kubeconfig does not have.
    #[error("context '{context}' is not in kubeconfig {origin} (it has: {available})")]
    UnknownContext {
        /// The requested context.
        context: String,
        /// The file.
        origin: String,
        /// The contexts it has.
        available: String,
    },
    /// The TLS handshake failed: untrusted or mismatched server certificate, bad client key.
    #[error("TLS handshake with {server} failed: {detail}")]
    Tls {
        /// The API server.
        server: String,
        /// The TLS library's explanation.
        detail: String,
    },
    /// The API server answered 401.
    #[error("the API server at {server} rejected the credentials (401 Unauthorized)")]
    Unauthorized {
        /// The API server.
        server: String,
    },
    /// Nothing answered at the server's address.
    #[error("cannot reach the API server at {server}: {detail}")]
    Unreachable {
        /// The API server.
        server: String,
        /// Refused, timed out, no route...
        detail: String,
    },
    /// Any other failure of a request.
    #[error("request to the API server at {server} failed")]
    Request {
        /// The API server.
        server: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

impl ConnectError {
    /// What the user should try.
    pub fn hint(&self) -> &'static str {
        match self {
            ConnectError::KubeconfigNotFound { .. } => {
                "pass an existing file with --kubeconfig, or fix the KUBECONFIG variable"
            }
            ConnectError::NoKubeconfig { .. } => {
                "pass --kubeconfig FILE or set KUBECONFIG; `tools/cluster up DIR` writes DIR/kubeconfig for a local cluster"
            }
            ConnectError::InvalidKubeconfig { .. } => {
                "check the file with `kubectl config view`; it needs a current context (or --context), a cluster server URL and user credentials"
            }
            ConnectError::UnknownContext { .. } => "pick one of the listed contexts with --context",
            ConnectError::Tls { .. } => {
                "the kubeconfig's certificate-authority(-data) must be the CA that signed the API server's certificate, and the server address must be one the certificate names"
            }
            ConnectError::Unauthorized { .. } => {
                "the token has expired or is wrong, or the client certificate is not signed by the cluster's CA: get fresh credentials for this cluster"
            }
            ConnectError::Unreachable { .. } => {
                "is the cluster running? check the server address in the kubeconfig and that this machine can reach it"
            }
            ConnectError::Request { .. } => "run again with -vv for details",
        }
    }
}

/// Loads the configuration the flags ask for and builds a client. Nothing is sent yet.
pub(crate) async fn connect(
    global: &GlobalArgs,
    timeout: Duration,
) -> Result<Connection, ConnectError> {
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..KubeConfigOptions::default()
    };
    let explicit = global.kubeconfig.clone().or_else(|| {
        std::env::var_os(env::KUBECONFIG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let (mut config, origin, context) = match explicit {
        Some(path) => {
            // KUBECONFIG may list several files; kube merges them as kubectl does.
            let paths: Vec<PathBuf> = std::env::split_paths(&path).collect();
            for p in &paths {
                if !p.exists() {
                    return Err(ConnectError::KubeconfigNotFound { path: p.clone() });
                }
            }
            let origin = path.display().to_string();
            let kubeconfig = read_merged(&paths, &origin)?;
            let context = check_context(&kubeconfig, global.context.as_deref(), &origin)?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| invalid(&origin, &e))?;
            (config, origin, Some(context))
        }
        None => {
            let default = home_kubeconfig();
            match default.as_deref().filter(|p| p.exists()) {
                Some(path) => {
                    let origin = path.display().to_string();
                    let kubeconfig = read_merged(&[path.to_owned()], &origin)?;
                    let context = check_context(&kubeconfig, global.context.as_deref(), &origin)?;
                    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                        .await
                        .map_err(|e| invalid(&origin, &e))?;
                    (config, origin, Some(context))
                }
                None => match kube::Config::incluster() {
                    Ok(config) => (config, "in-cluster configuration".to_owned(), None),
                    Err(_) => {
                        return Err(ConnectError::NoKubeconfig {
                            default: default.unwrap_or_else(|| PathBuf::from("~/.kube/config")),
                        });
                    }
                },
            }
        }
    };
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let namespace = global.namespace.clone().unwrap_or_else(|| {
        if context.is_some() && config.default_namespace != "default" {
            config.default_namespace.clone()
        } else {
            DEFAULT_NAMESPACE.to_owned()
        }
    });
    // Name the client in the API server's audit log and metrics, as kubectl does.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("weir/", env!("CARGO_PKG_VERSION"))),
    ));
    let client =
        kube::Client::try_from(config.clone()).map_err(|source| ConnectError::Request {
            server: server.clone(),
            source,
        })?;
    Ok(Connection {
        config,
        client,
        origin,
        context,
        server,
        namespace,
    })
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".kube/config"))
}

fn invalid(origin: &str, err: &dyn std::fmt::Display) -> ConnectError {
    ConnectError::InvalidKubeconfig {
        origin: origin.to_owned(),
        message: err.to_string(),
    }
}

fn read_merged(paths: &[PathBuf], origin: &str) -> Result<Kubeconfig, ConnectError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let next = Kubeconfig::read_from(path).map_err(|e| invalid(origin, &e))?;
        merged = Some(match merged {
            None => next,
            Some(acc) => acc.merge(next).map_err(|e| invalid(origin, &e))?,
        });
    }
    merged.ok_or_else(|| ConnectError::NoKubeconfig {
        default: PathBuf::from(origin),
    })
}

/// The context that will be used, checked to exist.
fn check_context(
    kubeconfig: &Kubeconfig,
    wanted: Option<&str>,
    origin: &str,
) -> Result<String, ConnectError> {
    let context = match wanted.or(kubeconfig.current_context.as_deref()) {
        Some(c) if !c.is_empty() => c.to_owned(),
        _ => {
            return Err(invalid(
                origin,
                &"it has no current-context; pass --context NAME",
            ));
        }
    };
    if kubeconfig.contexts.iter().any(|c| c.name == context) {
        Ok(context)
    } else {
        Err(ConnectError::UnknownContext {
            context,
            origin: origin.to_owned(),
            available: kubeconfig
                .contexts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Turns a failed request into the connection problem behind it.
pub(crate) fn classify(server: &str, err: kube::Error) -> ConnectError {
    if let kube::Error::Api(status) = &err
        && status.code == 401
    {
        return ConnectError::Unauthorized {
            server: server.to_owned(),
        };
    }
    let mut cause: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return ConnectError::Tls {
                server: server.to_owned(),
                detail: tls.to_string(),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let detail = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::TimedOut => Some("timed out"),
                K::HostUnreachable => Some("host unreachable"),
                K::NetworkUnreachable => Some("network unreachable"),
                K::ConnectionReset => Some("connection reset"),
                _ => None,
            };
            if let Some(detail) = detail {
                return ConnectError::Unreachable {
                    server: server.to_owned(),
                    detail: detail.to_owned(),
                };
            }
        }
        if e.to_string().contains("dns error") {
            return ConnectError::Unreachable {
                server: server.to_owned(),
                detail: "the host name does not resolve".to_owned(),
            };
        }
        if e.is::<tokio::time::error::Elapsed>() || e.to_string().ends_with("timed out") {
            return ConnectError::Unreachable {
                server: server.to_owned(),
                detail: "timed out".to_owned(),
            };
        }
        cause = next_cause(e);
    }
    ConnectError::Request {
        server: server.to_owned(),
        source: err,
    }
}

/// The next error in a chain. `io::Error::source()` skips the error it wraps (it returns that
/// error's source), so step into the wrapped error instead.
fn next_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner as &(dyn StdError + 'static)),
        None => e.source(),
    }
}
