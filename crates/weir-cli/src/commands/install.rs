//! `weir install`: the namespace, CRDs, RBAC and controller Deployment, printed or applied.

use std::io::Write as _;
use std::time::Duration;

use serde_json::Value;
use weir_apply::{Manager, Options};

use crate::Hinted;
use crate::args::{GlobalArgs, InstallArgs, InstallFlags};
use crate::kubeconfig;

/// The install options from the command line; the namespace is the global `-n`.
pub(crate) fn options(global: &GlobalArgs, flags: &InstallFlags) -> weir_install::Options {
    let defaults = weir_install::Options::default();
    weir_install::Options {
        namespace: global
            .namespace
            .clone()
            .unwrap_or_else(|| weir_install::DEFAULT_NAMESPACE.to_owned()),
        version: flags.version.clone().unwrap_or(defaults.version),
        registry: flags.registry.clone(),
        image_pull_secret: flags.image_pull_secret.clone(),
        network_policy: flags.network_policy,
        watch_all_namespaces: flags.watch_all_namespaces,
        log_level: flags.log_level.clone(),
        cluster_domain: flags.cluster_domain.clone(),
        toleration_keys: flags.toleration_keys.clone(),
    }
}

pub(crate) async fn run(global: &GlobalArgs, args: &InstallArgs) -> Result<(), Hinted> {
    let objects = weir_install::components(&options(global, &args.install))?;
    if args.export {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", weir_install::to_yaml(&objects))?;
        return Ok(());
    }
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let objects = objects
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    let set = Manager::new(conn.client.clone(), Options::default())
        .apply_all_staged(objects)
        .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{set}")?;
    Ok(())
}
