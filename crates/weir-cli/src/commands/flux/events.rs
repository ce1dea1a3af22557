//! `weir events`: the Kubernetes Events of Weir's objects, oldest first.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use super::Kind;
use crate::Hinted;
use crate::args::{EventsArgs, GlobalArgs};
use crate::kubeconfig;

pub(crate) async fn events(global: &GlobalArgs, args: &EventsArgs) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let api: Api<Event> = if args.all_namespaces {
        Api::all(conn.client.clone())
    } else {
        Api::namespaced(conn.client.clone(), &conn.namespace)
    };
    let filter = args.for_object.as_deref().map(|f| {
        let (kind, name) = f.split_once('/').unwrap_or(("", f));
        (kind.to_ascii_lowercase(), name.to_owned())
    });
    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await
        .context("listing events")?
        .items
        .into_iter()
        .filter(|e| {
            let kind = e.involved_object.kind.clone().unwrap_or_default();
            let name = e.involved_object.name.clone().unwrap_or_default();
            match &filter {
                Some((k, n)) => kind.to_ascii_lowercase() == *k && name == *n,
                None => Kind::ALL.iter().any(|k| k.name() == kind),
            }
        })
        .collect();
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(when);
    let mut out = std::io::stdout().lock();
    writeln!(out, "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")?;
    for e in &events {
        let object = format!(
            "{}/{}",
            e.involved_object.kind.clone().unwrap_or_default(),
            e.involved_object.name.clone().unwrap_or_default()
        );
        let message = e.message.clone().unwrap_or_default().replace('\n', "; ");
        writeln!(
            out,
            "{}\t{}\t{}\t{object}\t{message}",
            when(e),
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default()
        )?;
    }
    Ok(())
}
