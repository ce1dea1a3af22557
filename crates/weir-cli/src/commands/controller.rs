//! `weir controller`: the in-cluster controller.

use std::time::Duration;

use anyhow::anyhow;

use crate::Hinted;
use crate::args::{ControllerArgs, GlobalArgs};
use crate::kubeconfig;

pub(crate) async fn run(global: &GlobalArgs, args: &ControllerArgs) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let namespace = global
        .namespace
        .clone()
        .or_else(|| std::env::var("RUNTIME_NAMESPACE").ok())
        .unwrap_or_else(|| conn.namespace.clone());
    let requeue_dependency =
        weir_api::duration::parse(&args.requeue_dependency).ok_or_else(|| {
            anyhow!(
                "--requeue-dependency '{}' is not a duration such as 30s",
                args.requeue_dependency
            )
        })?;
    let config = weir_controller::Config {
        storage_path: args.storage_path.clone(),
        storage_addr: args.storage_addr,
        storage_adv_addr: args
            .storage_adv_addr
            .clone()
            .unwrap_or_else(|| format!("weir-controller.{namespace}.svc.cluster.local.")),
        health_addr: args.health_addr,
        receiver_addr: args.receiver_addr,
        metrics_addr: args.metrics_addr,
        leader_election: args.enable_leader_election.then(|| namespace.clone()),
        concurrent: args.concurrent.max(1),
        namespace: (!args.watch_all_namespaces).then_some(namespace),
        requeue_dependency,
        no_cross_namespace_refs: args.no_cross_namespace_refs,
        client_config: Some(conn.config.clone()),
    };
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    weir_controller::run(conn.client.clone(), config, shutdown).await?;
    Ok(())
}
