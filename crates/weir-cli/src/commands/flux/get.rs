//! `weir get`: one table per kind, Flux's columns.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use kube::api::ListParams;
use serde_json::{Value, json};

use super::{Kind, api, ready};
use crate::Hinted;
use crate::args::{GetArgs, GetCommand, GetSources, GlobalArgs, TableOrJson};
use crate::kubeconfig::{self, Connection};

/// Rows for one kind: namespace, name, revision, suspended, ready, message. `None` when the
/// kind's CRD is not installed and `skip_missing` (`get all` on a cluster installed by an
/// older Weir).
async fn rows(
    conn: &Connection,
    kind: Kind,
    args: &GetArgs,
    skip_missing: bool,
) -> anyhow::Result<Option<Vec<[String; 6]>>> {
    let api = api(conn, kind, args.all_namespaces);
    let mut objects = match &args.name {
        Some(name) => match api.get(name).await {
            Ok(object) => vec![object],
            Err(err) if skip_missing && is_not_found(&err) => Vec::new(),
            Err(err) => {
                return Err(err).with_context(|| {
                    format!(
                        "{} '{}' in namespace '{}'",
                        kind.name(),
                        name,
                        conn.namespace
                    )
                });
            }
        },
        None => match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(err) if skip_missing && is_not_found(&err) => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| {
                    format!(
                        "listing {}s (are Weir's CRDs installed? weir install)",
                        kind.name()
                    )
                });
            }
        },
    };
    objects.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    Ok(Some(
        objects
            .iter()
            .map(|o| {
                let (status, message) = ready(kind, o);
                let suspended = o.data["spec"]["suspend"].as_bool().unwrap_or(false);
                [
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default(),
                    kind.revision(o).unwrap_or_default(),
                    if suspended { "True" } else { "False" }.to_owned(),
                    status,
                    message.replace('\n', " "),
                ]
            })
            .collect(),
    ))
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
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
        GetCommand::Sources(GetSources::Helm(a)) => (&[Kind::HelmRepository], a),
        GetCommand::Sources(GetSources::Chart(a)) => (&[Kind::HelmChart], a),
        GetCommand::Sources(GetSources::Oci(a)) => (&[Kind::OCIRepository], a),
        GetCommand::Sources(GetSources::All(a)) => (&Kind::SOURCES, a),
        GetCommand::Kustomizations(a) => (&[Kind::Kustomization], a),
        GetCommand::HelmReleases(a) => (&[Kind::HelmRelease], a),
        GetCommand::Receivers(a) => (&[Kind::Receiver], a),
        GetCommand::All(a) => (&Kind::ALL, a),
    };
    let several = kinds.len() > 1;
    let mut out = std::io::stdout().lock();
    let mut json_rows = Vec::new();
    let mut printed = false;
    for kind in kinds {
        let Some(rows) = rows(&conn, *kind, args, several).await? else {
            continue;
        };
        match args.output {
            TableOrJson::Json => json_rows.extend(rows.iter().map(|r| {
                json!({ "kind": kind.name(), "namespace": r[0], "name": r[1], "revision": r[2],
                        "suspended": r[3] == "True", "ready": r[4], "message": r[5] })
            })),
            TableOrJson::Table => {
                if rows.is_empty() && several {
                    continue;
                }
                if printed {
                    writeln!(out)?;
                }
                print_table(&mut out, *kind, &rows, args.all_namespaces, several)?;
                printed = true;
            }
        }
    }
    if args.output == TableOrJson::Json {
        writeln!(out, "{}", Value::Array(json_rows))?;
    }
    Ok(())
}
