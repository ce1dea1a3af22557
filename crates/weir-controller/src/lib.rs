//! `weir controller`: one process reconciling Flux's GitRepository and Kustomization kinds.
//!
//! Built on kube-runtime's controller (watches, a work queue, per-object back-off). A new
//! artifact on a GitRepository triggers the Kustomizations that use it at once; echoes of the
//! controller's own status writes are recognised and cost no work.

pub mod build;
pub mod cel;
pub mod helm_release;
pub mod kustomization;
pub mod leader;
pub mod metrics;
pub mod receiver;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use kube::{Resource as _, ResourceExt as _};
use tracing::{info, warn};
use weir_source::Storage;
use weir_source::git_repository;
use weir_source::reconcile::Outcome;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where artifacts are stored.
    pub storage_path: PathBuf,
    /// Where the artifact server listens.
    pub storage_addr: SocketAddr,
    /// The address written into artifact URLs (`host:port`).
    pub storage_adv_addr: String,
    /// Where `/healthz` and `/readyz` are served.
    pub health_addr: SocketAddr,
    /// Where Receiver webhooks (`/hook/<sha256>`) are served.
    pub receiver_addr: SocketAddr,
    /// Where Prometheus metrics (`/metrics`) are served.
    pub metrics_addr: SocketAddr,
    /// Compete for a Lease in this namespace before reconciling; none: reconcile at once.
    pub leader_election: Option<String>,
    /// Objects of one kind reconciled at the same time.
    pub concurrent: u16,
    /// Watch only this namespace; all when none.
    pub namespace: Option<String>,
    /// Wait before checking a dependency or a missing source again.
    pub requeue_dependency: Duration,
    /// Refuse references to sources and dependencies in other namespaces.
    pub no_cross_namespace_refs: bool,
    /// The client configuration, from which clients impersonating a Kustomization's
    /// `spec.serviceAccountName` are made; none: such Kustomizations fail.
    pub client_config: Option<kube::Config>,
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A reconcile error as kube-runtime needs it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

fn api(
    client: &kube::Client,
    namespace: Option<&str>,
    resource: &kube::discovery::ApiResource,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// What the reconcile wrappers share: where events and metrics go.
#[derive(Clone)]
struct Telemetry {
    recorder: Recorder,
    metrics: Arc<metrics::Metrics>,
}

impl Telemetry {
    /// Records a reconcile's metrics and event.
    async fn record(
        &self,
        object: &DynamicObject,
        resource: &kube::discovery::ApiResource,
        outcome: &Outcome,
        took: Duration,
    ) {
        let id = (
            resource.kind.as_str(),
            object.metadata.namespace.as_deref().unwrap_or_default(),
            object.metadata.name.as_deref().unwrap_or_default(),
        );
        if object.metadata.deletion_timestamp.is_some() {
            self.metrics.forget(id.0, id.1, id.2);
        } else {
            let ready = outcome.ready.map(|r| if r { "True" } else { "False" });
            let suspended = object.data["spec"]["suspend"].as_bool() == Some(true);
            self.metrics.record(id, took, ready, suspended);
            self.metrics.info(id, info_labels(object, resource));
        }
        publish(&self.recorder, object, resource, outcome).await;
    }
}

/// The `gotk_resource_info` labels of an object, as Flux's kube-state-metrics configuration
/// names them.
fn info_labels(
    object: &DynamicObject,
    resource: &kube::discovery::ApiResource,
) -> std::collections::BTreeMap<String, String> {
    let text = |pointer: &str| {
        object
            .data
            .pointer(pointer)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    let ready = object.data["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown")
        .to_owned();
    let mut labels = std::collections::BTreeMap::from([
        ("customresource_group".to_owned(), resource.group.clone()),
        ("customresource_kind".to_owned(), resource.kind.clone()),
        (
            "customresource_version".to_owned(),
            resource.version.clone(),
        ),
        ("name".to_owned(), object.name_any()),
        (
            "exported_namespace".to_owned(),
            object.namespace().unwrap_or_default(),
        ),
        ("ready".to_owned(), ready),
        (
            "suspended".to_owned(),
            (object.data["spec"]["suspend"].as_bool() == Some(true)).to_string(),
        ),
    ]);
    match resource.kind.as_str() {
        "GitRepository" => {
            labels.insert("revision".into(), text("/status/artifact/revision"));
            labels.insert("url".into(), text("/spec/url"));
        }
        "Kustomization" => {
            labels.insert("revision".into(), text("/status/lastAppliedRevision"));
            labels.insert("source_name".into(), text("/spec/sourceRef/name"));
        }
        "HelmRepository" => {
            labels.insert("revision".into(), text("/status/artifact/revision"));
            labels.insert("url".into(), text("/spec/url"));
        }
        "HelmChart" => {
            labels.insert("revision".into(), text("/status/artifact/revision"));
            labels.insert("source_name".into(), text("/spec/sourceRef/name"));
        }
        "HelmRelease" => {
            labels.insert("revision".into(), text("/status/lastAttemptedRevision"));
            labels.insert("chart_name".into(), text("/spec/chart/spec/chart"));
        }
        "Receiver" => {
            labels.insert("webhook_path".into(), text("/status/webhookPath"));
        }
        _ => {}
    }
    labels
}

async fn publish(
    recorder: &Recorder,
    object: &DynamicObject,
    resource: &kube::discovery::ApiResource,
    outcome: &Outcome,
) {
    let Some(event) = &outcome.event else {
        return;
    };
    let mut note = event.message.clone();
    if note.len() > 1024 {
        note.truncate(
            note.char_indices()
                .take_while(|(i, _)| *i < 1000)
                .last()
                .map_or(0, |(i, _)| i),
        );
        note.push_str("...");
    }
    let kube_event = KubeEvent {
        type_: if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: event.reason.clone(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder
        .publish(&kube_event, &object.object_ref(resource))
        .await
    {
        warn!(object = %object.name_any(), error = %e, "cannot record event");
    }
}

fn action(outcome: &Outcome) -> Action {
    match outcome.requeue {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    }
}

/// Runs the reconcilers and servers until `shutdown` completes.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Error> {
    let io = |path: PathBuf| move |source| Error::Io { path, source };
    let artifacts = config.storage_path.join("artifacts");
    let work = config.storage_path.join("work");
    std::fs::create_dir_all(&artifacts).map_err(io(artifacts.clone()))?;
    std::fs::create_dir_all(&work).map_err(io(work.clone()))?;
    let storage = Storage::new(&artifacts, &config.storage_adv_addr);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let storage_server = server::storage(config.storage_addr, artifacts.clone(), stopped()).await?;
    let health_server = server::health(config.health_addr, stopped()).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let metrics_server =
        server::metrics(config.metrics_addr, Arc::clone(&metrics), stopped()).await?;

    // Stop on the caller's signal, or when leadership is lost.
    let election = config.leader_election.as_ref().map(|namespace| {
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
            format!(
                "weir-{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_millisecond()
            )
        });
        leader::Election::new(
            client.clone(),
            namespace,
            "weir-controller-leader-election",
            &identity,
        )
    });
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {}
            _ = lost_rx => {}
        }
        let _ = stop_tx.send(true);
    });
    if let Some(election) = &election {
        tokio::select! {
            () = election.acquire() => {}
            () = stopped() => {
                let _ = tokio::join!(storage_server, health_server, metrics_server);
                return Ok(());
            }
        }
        let holder = election.clone();
        tokio::spawn(async move {
            holder.hold().await;
            let _ = lost_tx.send(());
        });
    }

    let reporter = Reporter {
        controller: "weir-controller".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let telemetry = Telemetry {
        recorder: Recorder::new(client.clone(), reporter),
        metrics,
    };
    let concurrency = controller::Config::default().concurrency(config.concurrent);
    let namespace = config.namespace.as_deref();

    let git_res = git_repository::resource();
    let git_ctx = Arc::new(git_repository::Context::new(
        client.clone(),
        storage.clone(),
        work.join("git"),
    ));
    let git_recorder = telemetry.clone();
    let git_res_events = git_res.clone();
    let sources = Controller::new_with(
        api(&client, namespace, &git_res),
        watcher::Config::default(),
        git_res.clone(),
    )
    .with_config(concurrency.clone())
    .graceful_shutdown_on(stopped())
    .run(
        move |object: Arc<DynamicObject>, ctx: Arc<git_repository::Context>| {
            let recorder = git_recorder.clone();
            let resource = git_res_events.clone();
            async move {
                let started = std::time::Instant::now();
                let outcome = git_repository::reconcile(&ctx, &object).await?;
                recorder
                    .record(&object, &resource, &outcome, started.elapsed())
                    .await;
                Ok::<_, ReconcileError>(action(&outcome))
            }
        },
        |_object, error, _ctx| {
            warn!(%error, "GitRepository reconcile failed");
            Action::requeue(Duration::from_secs(5))
        },
        git_ctx,
    )
    .for_each(|_| async {});

    let helm_sources = helm_sources(
        &client,
        namespace,
        &storage,
        &work,
        &telemetry,
        concurrency.clone(),
        stopped(),
    );
    let mut hr_ctx = helm_release::Context::new(client.clone(), storage.clone());
    hr_ctx.requeue_dependency = config.requeue_dependency;
    hr_ctx.no_cross_namespace_refs = config.no_cross_namespace_refs;
    hr_ctx.config = config.client_config.clone();
    let releases = helm_releases(
        &client,
        namespace,
        hr_ctx,
        &telemetry,
        concurrency.clone(),
        stopped(),
    );

    let ks_res = kustomization::resource();
    let mut ks_ctx = kustomization::Context::new(client.clone(), storage);
    ks_ctx.requeue_dependency = config.requeue_dependency;
    ks_ctx.no_cross_namespace_refs = config.no_cross_namespace_refs;
    ks_ctx.config = config.client_config.clone();
    let ks_controller = Controller::new_with(
        api(&client, namespace, &ks_res),
        watcher::Config::default(),
        ks_res.clone(),
    );
    let store = ks_controller.store();
    let oci_ks_store = ks_controller.store();
    let oci_ks_map = ks_res.clone();
    let oci_res = weir_source::oci_repository::resource();
    let ks_res_map = ks_res.clone();
    let ks_res_events = ks_res.clone();
    let ks_recorder = telemetry.clone();
    // GitRepositories as the Kustomizations see them: a cache kept by this watch, so that a
    // reconcile (and the echo of its status write) reads its source without a request.
    let source_cache = reflector::store::Writer::new(git_res.clone());
    ks_ctx.sources = Some(source_cache.as_reader());
    let source_events = reflector::reflector(
        source_cache,
        watcher::watcher(
            api(&client, namespace, &git_res),
            watcher::Config::default(),
        ),
    )
    .touched_objects();
    let appliers = ks_controller
        .watches_stream_with(
            source_events,
            move |source: DynamicObject| {
                // Only a new revision concerns the Kustomizations using this source.
                let revision = source
                    .data
                    .pointer("/status/artifact/revision")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                let source_ns = source.namespace().unwrap_or_default();
                let source_name = source.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|ks| {
                        let spec = &ks.data["spec"]["sourceRef"];
                        let ns = ks.namespace().unwrap_or_default();
                        spec["kind"] == "GitRepository"
                            && spec["name"] == source_name.as_str()
                            && spec["namespace"].as_str().unwrap_or(&ns) == source_ns
                            && revision.is_some()
                            && ks
                                .data
                                .pointer("/status/lastAttemptedRevision")
                                .and_then(|v| v.as_str())
                                != revision.as_deref()
                    })
                    .map(|ks| {
                        ObjectRef::new_with(&ks.name_any(), ks_res_map.clone())
                            .within(&ks.namespace().unwrap_or_default())
                    })
                    .collect::<Vec<_>>()
            },
            git_res.clone(),
        )
        .watches_with(
            api(&client, namespace, &oci_res),
            oci_res.clone(),
            watcher::Config::default(),
            move |source: DynamicObject| {
                let revision = source.data.pointer("/status/artifact/revision").cloned();
                dependents(&oci_ks_store, &oci_ks_map, &source, |ks, ns, name| {
                    let spec = &ks.data["spec"]["sourceRef"];
                    spec["kind"] == "OCIRepository"
                        && spec["name"] == name
                        && spec["namespace"]
                            .as_str()
                            .map_or(ks.namespace().as_deref() == Some(ns), |n| n == ns)
                        && ks.data.pointer("/status/lastAttemptedRevision") != revision.as_ref()
                })
            },
        )
        .with_config(concurrency)
        .graceful_shutdown_on(stopped())
        .run(
            move |object: Arc<DynamicObject>, ctx: Arc<kustomization::Context>| {
                let recorder = ks_recorder.clone();
                let resource = ks_res_events.clone();
                async move {
                    let started = std::time::Instant::now();
                    let outcome = kustomization::reconcile(&ctx, &object).await?;
                    recorder
                        .record(&object, &resource, &outcome, started.elapsed())
                        .await;
                    Ok::<_, ReconcileError>(action(&outcome))
                }
            },
            |_object, error, _ctx| {
                warn!(%error, "Kustomization reconcile failed");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(ks_ctx),
        )
        .for_each(|_| async {});

    let rcv_res = receiver::resource();
    let rcv_controller = Controller::new_with(
        api(&client, namespace, &rcv_res),
        watcher::Config::default(),
        rcv_res.clone(),
    );
    let receiver_server = server::receiver(
        config.receiver_addr,
        client.clone(),
        rcv_controller.store(),
        stopped(),
    )
    .await?;
    let rcv_recorder = telemetry.clone();
    let rcv_res_events = rcv_res.clone();
    let receivers = rcv_controller
        .graceful_shutdown_on(stopped())
        .run(
            move |object: Arc<DynamicObject>, client: Arc<kube::Client>| {
                let recorder = rcv_recorder.clone();
                let resource = rcv_res_events.clone();
                async move {
                    let started = std::time::Instant::now();
                    let outcome = receiver::reconcile(&client, &object).await?;
                    recorder
                        .record(&object, &resource, &outcome, started.elapsed())
                        .await;
                    Ok::<_, ReconcileError>(action(&outcome))
                }
            },
            |_object, error, _ctx| {
                warn!(%error, "Receiver reconcile failed");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(client.clone()),
        )
        .for_each(|_| async {});

    info!(storage = %config.storage_addr, health = %config.health_addr, receiver = %config.receiver_addr, "controller started");
    tokio::join!(sources, appliers, receivers, helm_sources, releases);
    signal.abort();
    if let Some(election) = &election {
        election.release().await;
    }
    let _ = tokio::join!(
        storage_server,
        health_server,
        receiver_server,
        metrics_server
    );
    info!("controller stopped");
    Ok(())
}

/// Objects of `resource` whose `field` (a JSON pointer to `namespace/name`, or to a
/// sourceRef) names `source`, and that have not seen its current revision.
fn dependents(
    store: &reflector::Store<DynamicObject>,
    resource: &kube::discovery::ApiResource,
    source: &DynamicObject,
    matches: impl Fn(&DynamicObject, &str, &str) -> bool,
) -> Vec<ObjectRef<DynamicObject>> {
    let source_ns = source.namespace().unwrap_or_default();
    let source_name = source.name_any();
    if source.data.pointer("/status/artifact/revision").is_none() {
        return Vec::new();
    }
    store
        .state()
        .into_iter()
        .filter(|o| matches(o, &source_ns, &source_name))
        .map(|o| {
            ObjectRef::new_with(&o.name_any(), resource.clone())
                .within(&o.namespace().unwrap_or_default())
        })
        .collect()
}

/// The HelmRepository and HelmChart reconcilers; a new artifact of a GitRepository or
/// HelmRepository triggers the HelmCharts using it.
fn helm_sources(
    client: &kube::Client,
    namespace: Option<&str>,
    storage: &Storage,
    work: &std::path::Path,
    telemetry: &Telemetry,
    concurrency: controller::Config,
    stopped: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped_again = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    tokio::spawn(async move {
        stopped.await;
        let _ = stop_tx.send(true);
    });
    let ctx = Arc::new(git_repository::Context::new(
        client.clone(),
        storage.clone(),
        work.join("helm"),
    ));
    let repo_res = weir_source::helm_repository::resource();
    let repo_events = repo_res.clone();
    let repo_telemetry = telemetry.clone();
    let repositories = Controller::new_with(
        api(client, namespace, &repo_res),
        watcher::Config::default(),
        repo_res.clone(),
    )
    .with_config(concurrency.clone())
    .graceful_shutdown_on(stopped_again())
    .run(
        move |object: Arc<DynamicObject>, ctx: Arc<git_repository::Context>| {
            let telemetry = repo_telemetry.clone();
            let resource = repo_events.clone();
            async move {
                let started = std::time::Instant::now();
                let outcome = weir_source::helm_repository::reconcile(&ctx, &object).await?;
                telemetry
                    .record(&object, &resource, &outcome, started.elapsed())
                    .await;
                Ok::<_, ReconcileError>(action(&outcome))
            }
        },
        |_object, error, _ctx| {
            warn!(%error, "HelmRepository reconcile failed");
            Action::requeue(Duration::from_secs(5))
        },
        Arc::clone(&ctx),
    )
    .for_each(|_| async {});

    let oci_res = weir_source::oci_repository::resource();
    let oci_events = oci_res.clone();
    let oci_telemetry = telemetry.clone();
    let oci_sources = Controller::new_with(
        api(client, namespace, &oci_res),
        watcher::Config::default(),
        oci_res.clone(),
    )
    .with_config(concurrency.clone())
    .graceful_shutdown_on(stopped_again())
    .run(
        move |object: Arc<DynamicObject>, ctx: Arc<git_repository::Context>| {
            let telemetry = oci_telemetry.clone();
            let resource = oci_events.clone();
            async move {
                let started = std::time::Instant::now();
                let outcome = weir_source::oci_repository::reconcile(&ctx, &object).await?;
                telemetry
                    .record(&object, &resource, &outcome, started.elapsed())
                    .await;
                Ok::<_, ReconcileError>(action(&outcome))
            }
        },
        |_object, error, _ctx| {
            warn!(%error, "OCIRepository reconcile failed");
            Action::requeue(Duration::from_secs(5))
        },
        Arc::clone(&ctx),
    )
    .for_each(|_| async {});

    let chart_res = weir_source::helm_chart::resource();
    let chart_controller = Controller::new_with(
        api(client, namespace, &chart_res),
        watcher::Config::default(),
        chart_res.clone(),
    );
    let (store_git, store_repo) = (chart_controller.store(), chart_controller.store());
    let (res_git, res_repo) = (chart_res.clone(), chart_res.clone());
    let by_source = |kind: &'static str| {
        move |chart: &DynamicObject, ns: &str, name: &str| {
            chart.data["spec"]["sourceRef"]["kind"] == kind
                && chart.data["spec"]["sourceRef"]["name"] == name
                && chart.namespace().as_deref() == Some(ns)
        }
    };
    let chart_events = chart_res.clone();
    let chart_telemetry = telemetry.clone();
    let charts = chart_controller
        .watches_with(
            api(client, namespace, &git_repository::resource()),
            git_repository::resource(),
            watcher::Config::default(),
            move |source: DynamicObject| {
                dependents(&store_git, &res_git, &source, by_source("GitRepository"))
            },
        )
        .watches_with(
            api(client, namespace, &repo_res),
            repo_res.clone(),
            watcher::Config::default(),
            move |source: DynamicObject| {
                dependents(&store_repo, &res_repo, &source, by_source("HelmRepository"))
            },
        )
        .with_config(concurrency)
        .graceful_shutdown_on(stopped_again())
        .run(
            move |object: Arc<DynamicObject>, ctx: Arc<git_repository::Context>| {
                let telemetry = chart_telemetry.clone();
                let resource = chart_events.clone();
                async move {
                    let started = std::time::Instant::now();
                    let outcome = weir_source::helm_chart::reconcile(&ctx, &object).await?;
                    telemetry
                        .record(&object, &resource, &outcome, started.elapsed())
                        .await;
                    Ok::<_, ReconcileError>(action(&outcome))
                }
            },
            |_object, error, _ctx| {
                warn!(%error, "HelmChart reconcile failed");
                Action::requeue(Duration::from_secs(5))
            },
            ctx,
        )
        .for_each(|_| async {});
    async move {
        tokio::join!(repositories, charts, oci_sources);
    }
    .boxed()
}

/// The HelmRelease reconciler; a new artifact of its HelmChart triggers a HelmRelease.
fn helm_releases(
    client: &kube::Client,
    namespace: Option<&str>,
    ctx: helm_release::Context,
    telemetry: &Telemetry,
    concurrency: controller::Config,
    stopped: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    let hr_res = helm_release::resource();
    let hr_controller = Controller::new_with(
        api(client, namespace, &hr_res),
        watcher::Config::default(),
        hr_res.clone(),
    );
    let store = hr_controller.store();
    let oci_store = hr_controller.store();
    let hr_map = hr_res.clone();
    let oci_map = hr_res.clone();
    let oci_res = weir_source::oci_repository::resource();
    let chart_res = weir_source::helm_chart::resource();
    let hr_events = hr_res.clone();
    let hr_telemetry = telemetry.clone();
    hr_controller
        .watches_with(
            api(client, namespace, &chart_res),
            chart_res.clone(),
            watcher::Config::default(),
            move |chart: DynamicObject| {
                let revision = chart.data.pointer("/status/artifact/revision").cloned();
                dependents(&store, &hr_map, &chart, |hr, ns, name| {
                    hr.data["status"]["helmChart"] == format!("{ns}/{name}").as_str()
                        && hr.data["status"]["history"][0]["chartVersion"]
                            != revision.clone().unwrap_or_default()
                })
            },
        )
        .watches_with(
            api(client, namespace, &oci_res),
            oci_res.clone(),
            watcher::Config::default(),
            move |source: DynamicObject| {
                dependents(&oci_store, &oci_map, &source, |hr, ns, name| {
                    let chart_ref = &hr.data["spec"]["chartRef"];
                    chart_ref["kind"] == "OCIRepository"
                        && chart_ref["name"] == name
                        && chart_ref["namespace"]
                            .as_str()
                            .map_or(hr.namespace().as_deref() == Some(ns), |n| n == ns)
                })
            },
        )
        .with_config(concurrency)
        .graceful_shutdown_on(stopped)
        .run(
            move |object: Arc<DynamicObject>, ctx: Arc<helm_release::Context>| {
                let telemetry = hr_telemetry.clone();
                let resource = hr_events.clone();
                async move {
                    let started = std::time::Instant::now();
                    let outcome = helm_release::reconcile(&ctx, &object).await?;
                    telemetry
                        .record(&object, &resource, &outcome, started.elapsed())
                        .await;
                    Ok::<_, ReconcileError>(action(&outcome))
                }
            },
            |_object, error, _ctx| {
                warn!(%error, "HelmRelease reconcile failed");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(ctx),
        )
        .for_each(|_| async {})
        .boxed()
}
