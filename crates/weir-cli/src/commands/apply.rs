//! `weir apply` and `weir delete`: the apply engine on the command line.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde_json::{Map, Value, json};
use weir_apply::{ChangeSet, Inventory, Manager, Options, store};

use std::sync::Arc;

use crate::Hinted;
use crate::args::{ApplyArgs, DeleteArgs, DiffArgs, GlobalArgs, TableOrJson};
use crate::kubeconfig;
use crate::progress;

type Object = Map<String, Value>;

fn split_inventory(spec: &str) -> Result<(String, String), Hinted> {
    match spec.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_owned(), name.to_owned()))
        }
        _ => Err(Hinted {
            error: anyhow!("--inventory must be NAMESPACE/NAME, not '{spec}'"),
            hint: Some("for example --inventory default/my-app".into()),
        }),
    }
}

/// Reads manifests from files, directories (their `.yaml`/`.yml`/`.json` files) or stdin.
fn read_manifests(paths: &[impl AsRef<Path>]) -> anyhow::Result<Vec<Object>> {
    let mut objects = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let mut files = Vec::new();
        if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            files.push(("-".to_owned(), text));
        } else if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("reading directory {}", path.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                })
                .collect();
            entries.sort();
            for p in entries {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?;
                files.push((p.display().to_string(), text));
            }
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
        for (name, text) in files {
            for doc in weir_object::yaml::parse_documents(&name, &text)? {
                match doc.value {
                    Value::Object(map) => objects.push(map),
                    _ => {
                        return Err(anyhow!(
                            "{name}:{}: document is not a Kubernetes object",
                            doc.line
                        ));
                    }
                }
            }
        }
    }
    Ok(objects)
}

fn print(set: &ChangeSet, format: TableOrJson) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => {
            for e in &set.entries {
                match &e.reason {
                    Some(reason) => writeln!(out, "{e} ({reason})")?,
                    None => writeln!(out, "{e}")?,
                }
            }
        }
        TableOrJson::Json => {
            let list: Vec<Value> = set
                .entries
                .iter()
                .map(|e| json!({ "object": e.id.to_string(), "version": e.version, "action": e.action.as_str(), "reason": e.reason }))
                .collect();
            writeln!(out, "{}", Value::Array(list))?;
        }
    }
    Ok(())
}

/// The objects of `-f` or `-k`, with the namespace filled in where missing.
fn load_objects(
    files: &[std::path::PathBuf],
    kustomize: Option<&std::path::Path>,
    namespace: &str,
) -> Result<Vec<Object>, Hinted> {
    let mut objects = match (kustomize, files.is_empty()) {
        (Some(dir), _) => {
            weir_kustomize::build(
                &weir_kustomize::DiskFs,
                dir,
                &weir_kustomize::Options::default(),
            )
            .with_context(|| format!("building {}", dir.display()))?
            .resources
        }
        (None, false) => read_manifests(files)?,
        (None, true) => {
            return Err(Hinted {
                error: anyhow!("no manifests given"),
                hint: Some("pass -f FILE|DIR|- or -k DIR".into()),
            });
        }
    };
    for object in &mut objects {
        let meta = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta
            && !meta.contains_key("namespace")
        {
            // Cluster-scoped kinds drop it again once discovery says so.
            meta.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
    }
    Ok(objects)
}

/// Connects, loads the objects of `-f`/`-k` (defaulting their namespace to `-n` or the
/// context's) and makes the apply manager: what `apply` and `diff` both start with.
async fn prepare(
    global: &GlobalArgs,
    files: &[std::path::PathBuf],
    kustomize: Option<&Path>,
    options: Options,
) -> Result<(kubeconfig::Connection, Manager, Vec<Object>), Hinted> {
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| conn.client.default_namespace().to_owned());
    let objects = load_objects(files, kustomize, &namespace)?;
    let manager = Manager::new(conn.client.clone(), options);
    Ok((conn, manager, objects))
}

pub(crate) async fn apply(global: &GlobalArgs, args: &ApplyArgs) -> Result<(), Hinted> {
    let mut options = Options::default();
    options.field_manager.clone_from(&args.field_manager);
    options.dry_run = args.dry_run;
    options.force = args.force;
    let (conn, manager, objects) =
        prepare(global, &args.files, args.kustomize.as_deref(), options).await?;
    let display = Arc::new(progress::Display::stderr());
    let shown = Arc::clone(&display);
    let manager = manager.with_progress(move |p| shown.show(p));
    let result = apply_with(&conn, &manager, objects, args).await;
    display.finish();
    let set = result?;
    print(&set, args.output)?;
    if args.wait && !args.dry_run {
        let result = manager
            .wait(
                &set,
                Duration::from_secs(args.timeout),
                Duration::from_secs(1),
            )
            .await;
        display.finish();
        result?;
        eprintln!("all objects are ready");
    }
    Ok(())
}

/// The apply proper: inventory checks, staged apply, prune, inventory save.
async fn apply_with(
    conn: &kubeconfig::Connection,
    manager: &Manager,
    objects: Vec<Object>,
    args: &ApplyArgs,
) -> Result<ChangeSet, Hinted> {
    // Read the previous inventory and make sure the new one can be written before anything is
    // applied, so a missing namespace or permission does not leave objects unrecorded.
    let previous = match &args.inventory {
        Some(spec) if !args.dry_run => {
            let (ns, name) = split_inventory(spec)?;
            let old = store::load(&conn.client, &ns, &name).await?;
            // A namespace created by this very apply cannot be checked beforehand.
            let creates_namespace = objects.iter().any(|o| {
                o.get("kind").and_then(Value::as_str) == Some("Namespace")
                    && o.get("metadata")
                        .and_then(|m| m.get("name"))
                        .and_then(Value::as_str)
                        == Some(ns.as_str())
            });
            if !creates_namespace {
                store::check_writable(&conn.client, &ns, &name, &old, &args.field_manager).await?;
            }
            Some((ns, name, old))
        }
        _ => None,
    };
    let mut set = manager.apply_all_staged(objects).await?;
    if let Some((ns, name, old)) = previous {
        let new = Inventory::from_change_set(&set);
        if args.prune {
            set.extend(manager.prune(&old, &new).await?);
        }
        // An unchanged inventory is not written again: an unchanged apply writes nothing.
        if new != old {
            store::save(&conn.client, &ns, &name, &new, &args.field_manager).await?;
        }
    }
    Ok(set)
}

pub(crate) async fn delete(global: &GlobalArgs, args: &DeleteArgs) -> Result<(), Hinted> {
    let (ns, name) = split_inventory(&args.inventory)?;
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let old = store::load(&conn.client, &ns, &name).await?;
    if old.entries.is_empty() {
        return Err(Hinted {
            error: anyhow!("inventory {ns}/{name} is empty or does not exist"),
            hint: Some("check the --inventory given to `weir apply`".into()),
        });
    }
    let display = Arc::new(progress::Display::stderr());
    let shown = Arc::clone(&display);
    let manager =
        Manager::new(conn.client.clone(), Options::default()).with_progress(move |p| shown.show(p));
    let result = manager.prune(&old, &Inventory::default()).await;
    display.finish();
    let set = result?;
    print(&set, TableOrJson::Table)?;
    if args.wait {
        let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout);
        while manager.any_exists(&set).await? {
            if std::time::Instant::now() > deadline {
                return Err(
                    anyhow!("objects of {ns}/{name} still exist after {}s", args.timeout).into(),
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    store::save(&conn.client, &ns, &name, &Inventory::default(), "weir").await?;
    Ok(())
}

pub(crate) async fn diff(global: &GlobalArgs, args: &DiffArgs) -> Result<(), Hinted> {
    let mut options = Options::default();
    options.field_manager.clone_from(&args.field_manager);
    options.dry_run = true;
    let (_conn, manager, objects) =
        prepare(global, &args.files, args.kustomize.as_deref(), options).await?;
    let differences = manager.diff(objects).await?;
    let mut out = std::io::stdout().lock();
    let mut changed = false;
    for d in &differences {
        if d.action == weir_apply::Action::Unchanged {
            continue;
        }
        changed = true;
        let before = d
            .live
            .as_ref()
            .map(weir_object::yaml::to_yaml)
            .unwrap_or_default();
        let after = weir_object::yaml::to_yaml(&d.merged);
        let text = similar::TextDiff::from_lines(&before, &after);
        write!(
            out,
            "{}",
            text.unified_diff()
                .context_radius(3)
                .header(&format!("live/{}", d.id), &format!("merged/{}", d.id))
        )?;
    }
    if changed {
        Err(crate::DifferencesFound.into())
    } else {
        Ok(())
    }
}
