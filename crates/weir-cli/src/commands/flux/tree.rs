//! `weir tree kustomization`: what a Kustomization applied, as `flux tree` prints it.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use weir_apply::Inventory;

use super::{Kind, namespaced};
use crate::Hinted;
use crate::args::{GlobalArgs, TreeCommand};
use crate::kubeconfig::{self, Connection};

pub(crate) async fn tree(global: &GlobalArgs, command: &TreeCommand) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let TreeCommand::Kustomization(args) = command;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Kustomization/{}/{}", conn.namespace, args.name)?;
    let mut lines = Vec::new();
    let mut visited = vec![format!("Kustomization/{}/{}", conn.namespace, args.name)];
    branch(
        &conn,
        Kind::Kustomization,
        &conn.namespace,
        &args.name,
        "",
        &mut lines,
        &mut visited,
    )
    .await?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The kind of an inventory entry whose own inventory the tree shows below it.
fn nested(group: &str, kind: &str) -> Option<Kind> {
    match (group, kind) {
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => Some(Kind::Kustomization),
        ("helm.toolkit.fluxcd.io", "HelmRelease") => Some(Kind::HelmRelease),
        _ => None,
    }
}

/// Appends the tree lines of `kind` `namespace/name`'s inventory (`status.inventory`, the same
/// format for Kustomizations and HelmReleases), recursing into the Kustomizations and
/// HelmReleases it applied, each once (`visited`): the bootstrap Kustomization applies
/// itself.
fn branch<'a>(
    conn: &'a Connection,
    kind: Kind,
    namespace: &'a str,
    name: &'a str,
    indent: &'a str,
    lines: &'a mut Vec<String>,
    visited: &'a mut Vec<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Hinted>> + 'a>> {
    Box::pin(async move {
        let object = namespaced(conn, kind, namespace)
            .get(name)
            .await
            .with_context(|| format!("{} '{namespace}/{name}'", kind.name()))?;
        let entries = object.data["status"]["inventory"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let inventory = Inventory {
            entries: entries
                .iter()
                .filter_map(|e| weir_apply::Entry::parse(e["id"].as_str()?, e["v"].as_str()?).ok())
                .collect(),
        };
        let count = inventory.entries.len();
        for (i, entry) in inventory.entries.iter().enumerate() {
            let last = i + 1 == count;
            lines.push(format!(
                "{indent}{}{}",
                if last { "└── " } else { "├── " },
                entry.id
            ));
            let group_kind = &entry.id.group_kind;
            let Some(child_kind) = nested(&group_kind.group, &group_kind.kind) else {
                continue;
            };
            let key = format!(
                "{}/{}/{}",
                child_kind.name(),
                entry.id.namespace,
                entry.id.name
            );
            if visited.contains(&key) {
                continue;
            }
            visited.push(key);
            let child = format!("{indent}{}", if last { "    " } else { "│   " });
            branch(
                conn,
                child_kind,
                &entry.id.namespace,
                &entry.id.name,
                &child,
                lines,
                visited,
            )
            .await?;
        }
        Ok(())
    })
}
