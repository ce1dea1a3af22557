//! The commands people use on a running controller, as Flux's CLI: `get`, `reconcile`,
//! `suspend`, `resume`, `events`, `tree`.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use weir_apply::Inventory;

use crate::Hinted;
use crate::args::{
    EventsArgs, GetArgs, GetCommand, GetSources, GlobalArgs, NameArgs, ReconcileCommand,
    SourceTarget, TableOrJson, TargetCommand, TreeCommand,
};
use crate::kubeconfig::{self, Connection};

/// The kinds these commands know, with what their table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitRepository,
    Kustomization,
    Receiver,
}

impl Kind {
    fn resource(self) -> ApiResource {
        match self {
            Kind::GitRepository => weir_source::git_repository::resource(),
            Kind::Kustomization => weir_controller::kustomization::resource(),
            Kind::Receiver => weir_controller::receiver::resource(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::GitRepository => "GitRepository",
            Kind::Kustomization => "Kustomization",
            Kind::Receiver => "Receiver",
        }
    }

    /// The revision column: the artifact's for a source, the last applied for a Kustomization.
    fn revision(self, object: &DynamicObject) -> Option<String> {
        let pointer = match self {
            Kind::GitRepository => "/status/artifact/revision",
            Kind::Kustomization => "/status/lastAppliedRevision",
            Kind::Receiver => return None,
        };
        Some(
            object
                .data
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

fn api(conn: &Connection, kind: Kind, all: bool) -> Api<DynamicObject> {
    if all {
        Api::all_with(conn.client.clone(), &kind.resource())
    } else {
        Api::namespaced_with(conn.client.clone(), &conn.namespace, &kind.resource())
    }
}

fn ready(object: &DynamicObject) -> (String, String) {
    let condition = object.data["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    match condition {
        Some(c) => (
            c["status"].as_str().unwrap_or("Unknown").to_owned(),
            c["message"].as_str().unwrap_or_default().to_owned(),
        ),
        None => ("Unknown".to_owned(), "waiting to be reconciled".to_owned()),
    }
}

/// Rows for one kind: namespace, name, revision, suspended, ready, message.
async fn rows(conn: &Connection, kind: Kind, args: &GetArgs) -> anyhow::Result<Vec<[String; 6]>> {
    let api = api(conn, kind, args.all_namespaces);
    let mut objects = match &args.name {
        Some(name) => vec![api.get(name).await.with_context(|| {
            format!(
                "{} '{}' in namespace '{}'",
                kind.name(),
                name,
                conn.namespace
            )
        })?],
        None => {
            api.list(&ListParams::default())
                .await
                .with_context(|| {
                    format!(
                        "listing {}s (are Weir's CRDs installed? weir install)",
                        kind.name()
                    )
                })?
                .items
        }
    };
    objects.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    Ok(objects
        .iter()
        .map(|o| {
            let (status, message) = ready(o);
            let suspended = o.data["spec"]["suspend"].as_bool().unwrap_or(false);
            [
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
                kind.revision(o).unwrap_or_default(),
                suspended
                    .to_string()
                    .replace("true", "True")
                    .replace("false", "False"),
                status,
                message.replace('\n', " "),
            ]
        })
        .collect())
}

fn print_table(
    out: &mut impl std::io::Write,
    kind: Kind,
    rows: &[[String; 6]],
    all: bool,
    prefix: bool,
) -> std::io::Result<()> {
    let mut headers = vec![
        "NAMESPACE",
        "NAME",
        "REVISION",
        "SUSPENDED",
        "READY",
        "MESSAGE",
    ];
    let mut columns: Vec<usize> = (0..6).collect();
    if !all {
        headers.remove(0);
        columns.remove(0);
    }
    if kind == Kind::Receiver {
        let at = headers.iter().position(|h| *h == "REVISION").unwrap_or(0);
        headers.remove(at);
        columns.remove(at);
    }
    let cell = |row: &[String; 6], c: usize| {
        if c == 1 && prefix {
            format!("{}/{}", kind.name().to_ascii_lowercase(), row[1])
        } else {
            row[c].clone()
        }
    };
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            rows.iter()
                .map(|r| cell(r, c).len())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("\t")
    };
    writeln!(
        out,
        "{}",
        line(headers.iter().map(|h| (*h).to_owned()).collect())
    )?;
    for row in rows {
        writeln!(
            out,
            "{}",
            line(columns.iter().map(|&c| cell(row, c)).collect())
        )?;
    }
    Ok(())
}

pub(crate) async fn get(global: &GlobalArgs, command: &GetCommand) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let (kinds, args): (&[Kind], &GetArgs) = match command {
        GetCommand::Sources(GetSources::Git(a)) => (&[Kind::GitRepository], a),
        GetCommand::Kustomizations(a) => (&[Kind::Kustomization], a),
        GetCommand::Receivers(a) => (&[Kind::Receiver], a),
        GetCommand::All(a) => (
            &[Kind::GitRepository, Kind::Kustomization, Kind::Receiver],
            a,
        ),
    };
    let mut out = std::io::stdout().lock();
    let mut json_rows = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let rows = rows(&conn, *kind, args).await?;
        match args.output {
            TableOrJson::Json => json_rows.extend(rows.iter().map(|r| {
                json!({ "kind": kind.name(), "namespace": r[0], "name": r[1], "revision": r[2],
                        "suspended": r[3] == "True", "ready": r[4], "message": r[5] })
            })),
            TableOrJson::Table => {
                if rows.is_empty() && kinds.len() > 1 {
                    continue;
                }
                if i > 0 {
                    writeln!(out)?;
                }
                print_table(&mut out, *kind, &rows, args.all_namespaces, kinds.len() > 1)?;
            }
        }
    }
    if args.output == TableOrJson::Json {
        writeln!(out, "{}", Value::Array(json_rows))?;
    }
    Ok(())
}

/// Sets `reconcile.fluxcd.io/requestedAt`, then waits until the controller has handled it
/// and reports the outcome, as `flux reconcile` does.
async fn request_and_wait(
    conn: &Connection,
    kind: Kind,
    target: &NameArgs,
) -> Result<DynamicObject, Hinted> {
    let api = api(conn, kind, false);
    let name = &target.name;
    let token = weir_api::status::now_precise();
    let what = format!("{} '{}/{}'", kind.name(), conn.namespace, name);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({ "metadata": { "annotations": { weir_api::RECONCILE_REQUESTED_AT: token } } }),
        ),
    )
    .await
    .with_context(|| format!("annotating {what}"))?;
    eprintln!("► annotating {what}");
    let deadline = Instant::now() + Duration::from_secs(target.timeout);
    loop {
        let object = api
            .get(name)
            .await
            .with_context(|| format!("reading {what}"))?;
        let handled =
            object.data["status"]["lastHandledReconcileAt"].as_str() == Some(token.as_str());
        let (status, message) = ready(&object);
        let current =
            object.data["status"]["observedGeneration"].as_i64() == object.metadata.generation;
        if handled && current && status != "Unknown" {
            if status == "True" {
                return Ok(object);
            }
            return Err(anyhow!("{what} reconciliation failed: {message}").into());
        }
        if object.data["spec"]["suspend"].as_bool() == Some(true) {
            return Err(Hinted {
                error: anyhow!("{what} is suspended"),
                hint: Some("resume it with `weir resume`".into()),
            });
        }
        if Instant::now() > deadline {
            return Err(Hinted {
                error: anyhow!(
                    "{what} was not reconciled within {}s (last status: {message})",
                    target.timeout
                ),
                hint: Some("is `weir controller` running and watching this namespace?".into()),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report(kind: Kind, object: &DynamicObject) {
    match kind.revision(object) {
        Some(revision) if kind == Kind::GitRepository => eprintln!("✔ fetched revision {revision}"),
        Some(revision) => eprintln!("✔ applied revision {revision}"),
        None => eprintln!("✔ reconciled"),
    }
}

pub(crate) async fn reconcile(
    global: &GlobalArgs,
    command: &ReconcileCommand,
) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let (kind, target) = match command {
        ReconcileCommand::Source(SourceTarget::Git(t)) => (Kind::GitRepository, t),
        ReconcileCommand::Receiver(t) => (Kind::Receiver, t),
        ReconcileCommand::Kustomization(k) => {
            if k.with_source {
                let ks = api(&conn, Kind::Kustomization, false)
                    .get(&k.target.name)
                    .await
                    .with_context(|| {
                        format!("Kustomization '{}/{}'", conn.namespace, k.target.name)
                    })?;
                let source = &ks.data["spec"]["sourceRef"];
                if source["kind"] == "GitRepository" {
                    let mut source_conn_ns = conn.namespace.clone();
                    if let Some(ns) = source["namespace"].as_str() {
                        source_conn_ns = ns.to_owned();
                    }
                    let source_conn = Connection {
                        namespace: source_conn_ns,
                        ..conn.clone()
                    };
                    let target = NameArgs {
                        name: source["name"].as_str().unwrap_or_default().to_owned(),
                        timeout: k.target.timeout,
                    };
                    let object =
                        request_and_wait(&source_conn, Kind::GitRepository, &target).await?;
                    report(Kind::GitRepository, &object);
                }
            }
            (Kind::Kustomization, &k.target)
        }
    };
    let object = request_and_wait(&conn, kind, target).await?;
    report(kind, &object);
    Ok(())
}

pub(crate) async fn suspend(
    global: &GlobalArgs,
    command: &TargetCommand,
    suspend: bool,
) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let (kind, target) = match command {
        TargetCommand::Source(SourceTarget::Git(t)) => (Kind::GitRepository, t),
        TargetCommand::Kustomization(t) => (Kind::Kustomization, t),
        TargetCommand::Receiver(t) => (Kind::Receiver, t),
    };
    let what = format!("{} '{}/{}'", kind.name(), conn.namespace, target.name);
    api(&conn, kind, false)
        .patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "suspend": suspend } })),
        )
        .await
        .with_context(|| format!("updating {what}"))?;
    if suspend {
        eprintln!("✔ {what} suspended");
        return Ok(());
    }
    eprintln!("► {what} resumed");
    let object = request_and_wait(&conn, kind, target).await?;
    report(kind, &object);
    Ok(())
}

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
                None => ["GitRepository", "Kustomization", "Receiver"].contains(&kind.as_str()),
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

pub(crate) async fn tree(global: &GlobalArgs, command: &TreeCommand) -> Result<(), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let TreeCommand::Kustomization(args) = command;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Kustomization/{}/{}", conn.namespace, args.name)?;
    let mut lines = Vec::new();
    let mut visited = vec![format!("{}/{}", conn.namespace, args.name)];
    branch(
        &conn,
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

/// Appends the tree lines of Kustomization `namespace/name`'s inventory, recursing into
/// the Kustomizations it applied, each once (`visited`): the bootstrap Kustomization applies
/// itself.
fn branch<'a>(
    conn: &'a Connection,
    namespace: &'a str,
    name: &'a str,
    indent: &'a str,
    lines: &'a mut Vec<String>,
    visited: &'a mut Vec<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Hinted>> + 'a>> {
    Box::pin(async move {
        let api: Api<DynamicObject> = Api::namespaced_with(
            conn.client.clone(),
            namespace,
            &Kind::Kustomization.resource(),
        );
        let ks = api
            .get(name)
            .await
            .with_context(|| format!("Kustomization '{namespace}/{name}'"))?;
        let entries = ks.data["status"]["inventory"]["entries"]
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
            let key = format!("{}/{}", entry.id.namespace, entry.id.name);
            if entry.id.group_kind.group == "kustomize.toolkit.fluxcd.io"
                && entry.id.group_kind.kind == "Kustomization"
                && !visited.contains(&key)
            {
                visited.push(key);
                let child = format!("{indent}{}", if last { "    " } else { "│   " });
                branch(
                    conn,
                    &entry.id.namespace,
                    &entry.id.name,
                    &child,
                    lines,
                    visited,
                )
                .await?;
            }
        }
        Ok(())
    })
}
