//! The controller's HTTP servers: artifacts, and health probes.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::task::JoinHandle;

use crate::Error;

async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })
}

fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
    })
}

/// Serves the files under `root` at their relative paths, read-only.
pub(crate) async fn storage(
    addr: SocketAddr,
    root: PathBuf,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    let listener = listen(addr).await?;
    let app = Router::new()
        .route("/{*path}", get(artifact))
        .with_state(root);
    Ok(serve(listener, app, stop))
}

async fn artifact(
    State(root): State<PathBuf>,
    UrlPath(path): UrlPath<String>,
) -> impl IntoResponse {
    let safe = Path::new(&path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return Err(StatusCode::BAD_REQUEST);
    }
    tokio::fs::read(root.join(&path))
        .await
        .map_err(|_| StatusCode::NOT_FOUND)
}

/// Serves `/healthz` and `/readyz`.
pub(crate) async fn health(
    addr: SocketAddr,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    let listener = listen(addr).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }));
    Ok(serve(listener, app, stop))
}

#[derive(Clone)]
struct Hooks {
    client: kube::Client,
    receivers: kube::runtime::reflector::Store<kube::api::DynamicObject>,
}

/// Serves Receiver webhooks at `/hook/<sha256>`.
pub(crate) async fn receiver(
    addr: SocketAddr,
    client: kube::Client,
    receivers: kube::runtime::reflector::Store<kube::api::DynamicObject>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    let listener = listen(addr).await?;
    let app = Router::new()
        .route("/hook/{digest}", axum::routing::any(hook))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::receiver::MAX_BODY,
        ))
        .with_state(Hooks { client, receivers });
    Ok(serve(listener, app, stop))
}

async fn hook(
    State(hooks): State<Hooks>,
    UrlPath(digest): UrlPath<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let headers = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let path = format!("/hook/{digest}");
    let (code, message) =
        crate::receiver::handle(&hooks.client, &hooks.receivers, &path, &headers, &body).await;
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        message,
    )
}

/// Serves Prometheus metrics at `/metrics`.
pub(crate) async fn metrics(
    addr: SocketAddr,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    let listener = listen(addr).await?;
    let app = Router::new()
        .route(
            "/metrics",
            get(
                |State(m): State<std::sync::Arc<crate::metrics::Metrics>>| async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        m.render(),
                    )
                },
            ),
        )
        .with_state(metrics);
    Ok(serve(listener, app, stop))
}
