//! The HelmRepository reconciler: download `index.yaml` (basic auth, custom CA, client
//! certificates), check it, and store it as the artifact, as Flux's source-controller does.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use weir_api::status::{self, Reason};

use crate::git_repository::Context;
use crate::reconcile::{
    Bookkeeping, Event, Failure, Outcome, Produced, Start, conclude, request_pending,
    stall_unsupported, start, text,
};
use crate::storage::Storage;

/// The largest index Weir downloads (Flux's `--helm-index-max-size` default).
pub const MAX_INDEX_SIZE: u64 = 50 << 20;

/// The largest chart Weir downloads (Flux's `--helm-chart-max-size` default).
pub const MAX_CHART_SIZE: u64 = 10 << 20;

/// The HelmRepository API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "HelmRepository"),
        "helmrepositories",
    )
}

/// The data of Secret `namespace/name`; `what` says what it is for in errors.
pub(crate) async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, Failure> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let found = secrets.get_opt(name).await.map_err(|e| {
        (
            Reason::AuthenticationFailed,
            format!("failed to get secret '{namespace}/{name}': {e}"),
        )
    })?;
    let found = found.ok_or_else(|| {
        (
            Reason::AuthenticationFailed,
            format!("secret '{namespace}/{name}' not found"),
        )
    })?;
    Ok(found
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// An HTTP client for a HelmRepository and its basic-auth credentials, from its
/// `secretRef` (`username`, `password`, and in Flux's older layout `caFile`, `certFile`,
/// `keyFile`) and `certSecretRef` (`ca.crt`, `tls.crt`, `tls.key`).
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) auth: Option<(String, String)>,
}

pub(crate) async fn http_for(
    client: &kube::Client,
    namespace: &str,
    spec: &Value,
    timeout: Duration,
) -> Result<Http, Failure> {
    let auth_failed = |message: String| (Reason::AuthenticationFailed, message);
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")));
    let mut auth = None;
    let mut tls = BTreeMap::new();
    if let Some(name) = text(spec, "/secretRef/name") {
        let data = secret_data(client, namespace, name).await?;
        let get = |k: &str| data.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        match (get("username"), get("password")) {
            (Some(u), Some(p)) => auth = Some((u, p)),
            (None, None) => {}
            _ => {
                return Err(auth_failed(format!(
                    "secret '{namespace}/{name}': basic auth needs both 'username' and 'password'"
                )));
            }
        }
        for (old, new) in [
            ("caFile", "ca.crt"),
            ("certFile", "tls.crt"),
            ("keyFile", "tls.key"),
        ] {
            if let Some(v) = data.get(old) {
                tls.insert(new.to_owned(), v.clone());
            }
        }
    }
    if let Some(name) = text(spec, "/certSecretRef/name") {
        tls.extend(secret_data(client, namespace, name).await?);
    }
    if let Some(ca) = tls.get("ca.crt") {
        for cert in reqwest::Certificate::from_pem_bundle(ca)
            .map_err(|e| auth_failed(format!("invalid CA certificate 'ca.crt': {e}")))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    match (tls.get("tls.crt"), tls.get("tls.key")) {
        (Some(cert), Some(key)) => {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                auth_failed(format!(
                    "invalid client certificate 'tls.crt'/'tls.key': {e}"
                ))
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(auth_failed(
                "a client certificate needs both 'tls.crt' and 'tls.key'".into(),
            ));
        }
    }
    let client = builder
        .build()
        .map_err(|e| auth_failed(format!("cannot configure the HTTP client: {e}")))?;
    Ok(Http { client, auth })
}

/// Describes a request error without its URL's credentials: the cause chain, which names
/// refused connections, TLS failures and timeouts.
fn describe(error: &reqwest::Error) -> String {
    let mut out = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Downloads `url` to `target` (atomically), at most `max` bytes, returning the sha256 hex
/// digest and the size.
pub(crate) async fn download(
    http: &Http,
    url: &str,
    send_auth: bool,
    target: &Path,
    max: u64,
) -> Result<(String, u64), Failure> {
    let fetch_failed = |m: String| (Reason::IndexationFailed, m);
    let mut request = http.client.get(url);
    if let (Some((user, pass)), true) = (&http.auth, send_auth) {
        request = request.basic_auth(user, Some(pass));
    }
    let response = request
        .send()
        .await
        .map_err(|e| fetch_failed(format!("failed to fetch {url}: {}", describe(&e))))?;
    let code = response.status();
    if code == reqwest::StatusCode::UNAUTHORIZED || code == reqwest::StatusCode::FORBIDDEN {
        return Err((
            Reason::AuthenticationFailed,
            format!("failed to fetch {url}: {code}; check the credentials in spec.secretRef"),
        ));
    }
    if !code.is_success() {
        return Err(fetch_failed(format!("failed to fetch {url}: {code}")));
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    let io = |e: std::io::Error| {
        (
            Reason::ArchiveOperationFailed,
            format!("cannot write {}: {e}", target.display()),
        )
    };
    tokio::fs::create_dir_all(parent).await.map_err(io)?;
    let temp = parent.join(format!(
        ".download-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let mut file = tokio::fs::File::create(&temp).await.map_err(io)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(fetch_failed(format!(
                    "failed to fetch {url}: {}",
                    describe(&e)
                )));
            }
        };
        size += chunk.len() as u64;
        if size > max {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(fetch_failed(format!(
                "{url} is larger than the {} MiB limit",
                max >> 20
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(&temp, target).await.map_err(io)?;
    Ok((format!("{:x}", hasher.finalize()), size))
}

/// The URL of `index.yaml` in the repository at `url`.
fn index_url(url: &str) -> String {
    format!("{}/index.yaml", url.trim_end_matches('/'))
}

/// Reconciles one HelmRepository; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let key = format!("{namespace}/{name}");
    let (spec, generation, status) = match start(&api, object, || {
        ctx.storage.remove_all("HelmRepository", &namespace, &name);
    })
    .await?
    {
        Start::Done(outcome) => return Ok(outcome),
        Start::Go {
            spec,
            generation,
            status,
        } => (spec, generation, status),
    };
    let duration = |field: &str, default: u64| {
        text(&spec, field)
            .and_then(weir_api::duration::parse)
            .unwrap_or(Duration::from_secs(default))
    };
    let interval = duration("/interval", 600);
    let timeout = duration("/timeout", 60);
    let book = Bookkeeping {
        api: &api,
        name: &name,
        key: &key,
        generation,
        interval,
        failures: &ctx.failures,
        due: &ctx.due,
    };
    if spec["provider"].as_str().is_some_and(|p| p != "generic") {
        return stall_unsupported(&book, status, "HelmRepository", "spec.provider").await;
    }
    // An OCI HelmRepository is static, as in Flux: its HelmCharts ask the registry.
    if spec["type"] == "oci" {
        return Ok(Outcome::default());
    }
    let attempt = format!("{key}@{generation}");
    let book = Bookkeeping {
        key: &attempt,
        ..book
    };
    if !request_pending(object)
        && let Some(remaining) = ctx.due.remaining(&attempt)
    {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }
    let previous = status.get("artifact").cloned();
    let result = fetch_index(ctx, &namespace, &name, &spec, previous.as_ref(), timeout).await;
    conclude(&book, status, result).await
}

async fn fetch_index(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: &Value,
    previous: Option<&Value>,
    timeout: Duration,
) -> Result<Produced, Failure> {
    let url = text(spec, "/url").unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err((
            Reason::UrlInvalid,
            format!("invalid URL '{url}': a HelmRepository URL starts with http:// or https://"),
        ));
    }
    let http = http_for(&ctx.client, namespace, spec, timeout).await?;
    let work = ctx.work_dir.join(namespace).join(name);
    let download_to = work.join("index.yaml");
    let (hex, size) = download(&http, &index_url(url), true, &download_to, MAX_INDEX_SIZE).await?;
    let checked = download_to.clone();
    let scan = tokio::task::spawn_blocking(move || crate::helm_index::scan_file(&checked, ""))
        .await
        .map_err(|e| (Reason::IndexationFailed, e.to_string()))?
        .map_err(|e| {
            (
                Reason::IndexationFailed,
                format!("{} is not a Helm repository index: {e}", index_url(url)),
            )
        })?;
    let revision = format!("sha256:{hex}");
    let file = format!("index-{hex}.yaml");
    let path = Storage::path("HelmRepository", namespace, name, &file);
    let fields = [(
        "url".to_owned(),
        json!(ctx.storage.url(&Storage::path(
            "HelmRepository",
            namespace,
            name,
            "index.yaml"
        ))),
    )]
    .into_iter()
    .collect();
    let message = format!("stored artifact: revision '{revision}'");
    if let Some(previous) = previous.filter(|p| p["revision"] == revision.as_str())
        && ctx.storage.local(&path).exists()
    {
        let _ = std::fs::remove_file(&download_to);
        let mut artifact = previous.clone();
        artifact["url"] = json!(ctx.storage.url(&path));
        return Ok(Produced {
            artifact,
            message,
            event: None,
            fields,
        });
    }
    let target = ctx.storage.local(&path);
    let move_in = || -> std::io::Result<()> {
        std::fs::create_dir_all(target.parent().unwrap_or(Path::new(".")))?;
        std::fs::rename(&download_to, &target)?;
        // `index.yaml` always serves the latest index.
        let latest = target.with_file_name("index.yaml");
        let _ = std::fs::remove_file(&latest);
        std::fs::hard_link(&target, &latest)
    };
    move_in().map_err(|e| {
        (
            Reason::ArchiveOperationFailed,
            format!("failed to store the index: {e}"),
        )
    })?;
    let dir = ctx
        .storage
        .local(&Storage::path("HelmRepository", namespace, name, ""));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let f = entry.file_name();
            if f != file.as_str() && f != "index.yaml" {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(Produced {
        artifact: json!({
            "path": path,
            "url": ctx.storage.url(&path),
            "revision": revision,
            "digest": revision,
            "lastUpdateTime": status::now(),
            "size": size,
        }),
        message,
        event: Some(Event {
            warning: false,
            reason: "NewArtifact".into(),
            message: format!(
                "stored fetched index of size {size} bytes ({} charts, {} versions) from '{url}'",
                scan.charts, scan.versions
            ),
        }),
        fields,
    })
}
