//! The HelmChart reconciler: a chart from a HelmRepository (the newest version matching
//! `spec.version`) or packaged from a path of a GitRepository artifact, with `valuesFiles`
//! merged into its `values.yaml`, stored as `<name>-<version>.tgz` with the chart version as
//! revision, as Flux's source-controller does.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use weir_api::status::{self, Reason};

use crate::git_repository::Context;
use crate::helm_repository::{self, MAX_CHART_SIZE};
use crate::reconcile::{
    Bookkeeping, Event, Failure, Outcome, Produced, Start, conclude, request_pending,
    stall_unsupported, start, text,
};
use crate::storage::Storage;

/// The HelmChart API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "HelmChart"),
        "helmcharts",
    )
}

/// Reconciles one HelmChart; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let key = format!("{namespace}/{name}");
    let (spec, generation, status) = match start(&api, object, || {
        ctx.storage.remove_all("HelmChart", &namespace, &name);
        let _ = std::fs::remove_dir_all(work_dir(ctx, &namespace, &name));
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
    let interval = text(&spec, "/interval")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(600));
    let book = Bookkeeping {
        api: &api,
        name: &name,
        key: &key,
        generation,
        interval,
        failures: &ctx.failures,
        due: &ctx.due,
    };
    let kind = text(&spec, "/sourceRef/kind")
        .unwrap_or_default()
        .to_owned();
    if kind == "Bucket" {
        return stall_unsupported(&book, status, "HelmChart", "spec.sourceRef.kind: Bucket").await;
    }
    if spec.get("verify").is_some_and(|v| !v.is_null()) {
        return stall_unsupported(&book, status, "HelmChart", "spec.verify").await;
    }
    let source_name = text(&spec, "/sourceRef/name")
        .unwrap_or_default()
        .to_owned();
    let source_res = match kind.as_str() {
        "GitRepository" => crate::git_repository::resource(),
        _ => helm_repository::resource(),
    };
    let sources: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &source_res);
    let source = match sources.get_opt(&source_name).await? {
        Some(s) => s,
        None => {
            let message = format!("{kind} '{namespace}/{source_name}' not found");
            return conclude(&book, status, Err((Reason::ArtifactFailed, message))).await;
        }
    };
    let oci = kind == "HelmRepository" && source.data["spec"]["type"] == "oci";
    // An OCI HelmRepository has no artifact: the registry is asked at each reconcile.
    let source_artifact = if oci {
        Some(json!({ "revision": "" }))
    } else {
        source.data.pointer("/status/artifact").cloned()
    };
    let Some(source_artifact) = source_artifact else {
        let message =
            format!("no artifact available for {kind} source '{source_name}': waiting for it");
        return conclude(&book, status, Err((Reason::ArtifactFailed, message))).await;
    };
    let source_revision = source_artifact["revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Nothing changed since the last attempt (same generation and source revision, the
    // artifact still stored): wait until it is due.
    let attempt = format!("{key}@{generation}@{source_revision}");
    let stored = status
        .get("artifact")
        .and_then(|a| a["path"].as_str())
        .is_none_or(|p| ctx.storage.local(p).exists());
    let book = Bookkeeping {
        key: &attempt,
        ..book
    };
    if !request_pending(object)
        && stored
        && let Some(remaining) = ctx.due.remaining(&attempt)
    {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }
    let job = Job {
        ctx,
        namespace: &namespace,
        name: &name,
        spec: &spec,
        source: &source,
        source_artifact: &source_artifact,
        previous: status.get("artifact").cloned(),
    };
    let result = match kind.as_str() {
        "GitRepository" => job.package_from_git().await,
        _ if oci => job.pull_from_registry().await,
        _ => job.pull_from_repository().await,
    };
    let result = result.map(|mut produced| {
        produced.fields.insert(
            "observedSourceArtifactRevision".into(),
            json!(source_revision),
        );
        produced.fields.insert(
            "observedValuesFiles".into(),
            spec.get("valuesFiles").cloned().unwrap_or(Value::Null),
        );
        produced
    });
    conclude(&book, status, result).await
}

fn work_dir(ctx: &Context, namespace: &str, name: &str) -> PathBuf {
    ctx.work_dir.join("helmchart").join(namespace).join(name)
}

struct Job<'a> {
    ctx: &'a Context,
    namespace: &'a str,
    name: &'a str,
    spec: &'a Value,
    source: &'a DynamicObject,
    source_artifact: &'a Value,
    previous: Option<Value>,
}

fn package_failed(message: String) -> Failure {
    (Reason::ChartPackageFailed, message)
}

/// `path` inside `root`, refusing absolute paths and `..`.
fn inside(root: &Path, path: &str) -> Result<PathBuf, Failure> {
    let rel = Path::new(path.trim_start_matches("./"));
    if rel
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
    {
        return Err(package_failed(format!(
            "path '{path}' leaves the source artifact"
        )));
    }
    Ok(root.join(rel))
}

impl Job<'_> {
    fn chart_name(&self) -> &str {
        text(self.spec, "/chart").unwrap_or_default()
    }

    /// Packages the chart at `spec.chart` in the GitRepository's artifact.
    async fn package_from_git(&self) -> Result<Produced, Failure> {
        let work = work_dir(self.ctx, self.namespace, self.name);
        let tree = work.join("source");
        let tarball = self
            .ctx
            .storage
            .local(self.source_artifact["path"].as_str().unwrap_or_default());
        let revision = self.source_artifact["revision"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let chart_path = self.chart_name().to_owned();
        let values_files = values_files(self.spec);
        let ignore_missing = self.spec["ignoreMissingValuesFiles"] == true;
        let strategy_revision = self.spec["reconcileStrategy"] == "Revision";
        let staged = work.join("chart.tgz");
        let staged_out = staged.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<(String, String), Failure> {
            let _ = std::fs::remove_dir_all(&tree);
            unpack(&tarball, &tree).map_err(|e| {
                (
                    Reason::ArtifactFailed,
                    format!("cannot read the source artifact: {e}"),
                )
            })?;
            let dir = inside(&tree, &chart_path)?;
            if !dir.join("Chart.yaml").is_file() {
                return Err(package_failed(format!(
                    "no chart at '{chart_path}' in revision {revision}: {} has no Chart.yaml",
                    chart_path
                )));
            }
            let chart = weir_helm::load_dir(&dir).map_err(|e| package_failed(e.to_string()))?;
            let name = chart.name().to_owned();
            let mut version = chart.metadata["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if strategy_revision {
                let sha = revision.rsplit(':').next().unwrap_or_default();
                version = format!("{version}+{}", &sha[..sha.len().min(12)]);
            }
            let mut overrides = Vec::new();
            if !values_files.is_empty() {
                let merged = merge_values_files(&tree, &values_files, ignore_missing)?;
                overrides.push(("values.yaml".to_owned(), merged.into_bytes()));
            }
            missing_dependencies(&dir, &chart, &mut overrides)?;
            if strategy_revision {
                overrides.push(("Chart.yaml".to_owned(), set_version(&dir, &version)?));
            }
            package(&dir, &name, &overrides, &staged)
                .map_err(|e| package_failed(format!("cannot package chart '{name}': {e}")))?;
            let _ = std::fs::remove_dir_all(&tree);
            Ok((name, version))
        });
        let (name, version) = built.await.map_err(|e| package_failed(e.to_string()))??;
        let message = format!("packaged '{name}' chart with version '{version}'");
        self.store(&staged_out, &name, &version, message)
    }

    /// Downloads the newest chart version matching `spec.version` from the HelmRepository.
    async fn pull_from_repository(&self) -> Result<Produced, Failure> {
        let chart = self.chart_name().to_owned();
        let constraint = text(self.spec, "/version").unwrap_or("*").to_owned();
        let index = self
            .ctx
            .storage
            .local(self.source_artifact["path"].as_str().unwrap_or_default());
        let want = chart.clone();
        let scan = tokio::task::spawn_blocking(move || crate::helm_index::scan_file(&index, &want))
            .await
            .map_err(|e| (Reason::ChartPullFailed, e.to_string()))?
            .map_err(|e| (Reason::ChartPullFailed, e.to_string()))?;
        let repo = self.source.name_any_str();
        if scan.wanted.is_empty() {
            return Err((
                Reason::ChartPullFailed,
                format!(
                    "no chart named '{chart}' in HelmRepository '{}/{repo}'",
                    self.namespace
                ),
            ));
        }
        let chosen = crate::helm_index::select(&scan.wanted, &constraint)
            .map_err(|e| (Reason::ChartPullFailed, e))?
            .ok_or_else(|| {
                (
                    Reason::ChartPullFailed,
                    format!(
                        "no '{chart}' chart with version matching '{constraint}' in HelmRepository '{}/{repo}' (newest: {})",
                        self.namespace,
                        newest(&scan.wanted)
                    ),
                )
            })?
            .clone();
        let message = format!("pulled '{chart}' chart with version '{}'", chosen.version);
        // The same version, already stored: nothing to download.
        if let Some(stored) = self.already_stored(&chart, &chosen.version, &message) {
            return Ok(stored);
        }
        let repo_spec = self.source.data.get("spec").cloned().unwrap_or_default();
        let repo_url = text(&repo_spec, "/url").unwrap_or_default().to_owned();
        let timeout = text(&repo_spec, "/timeout")
            .and_then(weir_api::duration::parse)
            .unwrap_or(Duration::from_secs(60));
        let http = helm_repository::http_for(&self.ctx.client, self.namespace, &repo_spec, timeout)
            .await?;
        let first = chosen.urls.first().ok_or_else(|| {
            (
                Reason::ChartPullFailed,
                format!(
                    "the index gives no URL for '{chart}' version {}",
                    chosen.version
                ),
            )
        })?;
        let url = resolve(&repo_url, first);
        let send_auth = same_host(&repo_url, &url) || repo_spec["passCredentials"] == true;
        let work = work_dir(self.ctx, self.namespace, self.name);
        let download = work.join("download.tgz");
        let (digest, _) =
            helm_repository::download(&http, &url, send_auth, &download, MAX_CHART_SIZE)
                .await
                .map_err(|(reason, m)| {
                    let reason = if reason == Reason::IndexationFailed {
                        Reason::ChartPullFailed
                    } else {
                        reason
                    };
                    (reason, m)
                })?;
        if let Some(expected) = &chosen.digest
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err((
                Reason::ChartPullFailed,
                format!(
                    "{url}: digest sha256:{digest} differs from the index's {expected}; the repository is inconsistent"
                ),
            ));
        }
        let staged = self.with_values_files(download, &chart, &url).await?;
        self.store(&staged, &chart, &chosen.version, message)
    }

    /// The downloaded chart at `download`, its `values.yaml` replaced by `valuesFiles` merged
    /// when there are some.
    async fn with_values_files(
        &self,
        download: PathBuf,
        chart: &str,
        url: &str,
    ) -> Result<PathBuf, Failure> {
        let values_files = values_files(self.spec);
        if values_files.is_empty() {
            return Ok(download);
        }
        let ignore_missing = self.spec["ignoreMissingValuesFiles"] == true;
        let work = work_dir(self.ctx, self.namespace, self.name);
        let tree = work.join("unpacked");
        let staged = work.join("chart.tgz");
        let (chart_name, staged_in, url) = (chart.to_owned(), staged.clone(), url.to_owned());
        tokio::task::spawn_blocking(move || -> Result<(), Failure> {
            let _ = std::fs::remove_dir_all(&tree);
            unpack(&download, &tree)
                .map_err(|e| package_failed(format!("cannot unpack {url}: {e}")))?;
            let dir = tree.join(&chart_name);
            let merged = merge_values_files(&dir, &values_files, ignore_missing)?;
            package(
                &dir,
                &chart_name,
                &[("values.yaml".into(), merged.into_bytes())],
                &staged_in,
            )
            .map_err(|e| package_failed(format!("cannot package chart: {e}")))?;
            let _ = std::fs::remove_dir_all(&tree);
            Ok(())
        })
        .await
        .map_err(|e| package_failed(e.to_string()))??;
        Ok(staged)
    }

    /// Pulls the newest chart version matching `spec.version` from the OCI registry of an
    /// `oci` HelmRepository (`oci://host/path`, the chart at `host/path/<chart>`): tags listed,
    /// the chart layer pulled, with the repository's basic auth, CA and `insecure` (plain HTTP).
    async fn pull_from_registry(&self) -> Result<Produced, Failure> {
        let chart = self.chart_name().to_owned();
        let constraint = text(self.spec, "/version").unwrap_or("*").to_owned();
        let repo_spec = self.source.data.get("spec").cloned().unwrap_or_default();
        let url = text(&repo_spec, "/url").unwrap_or_default().to_owned();
        let pull_failed = |m: String| (Reason::ChartPullFailed, m);
        if repo_spec["provider"]
            .as_str()
            .is_some_and(|p| p != "generic")
        {
            return Err((
                Reason::Unsupported,
                "the HelmRepository's spec.provider (cloud registry login) is not supported by Weir yet".into(),
            ));
        }
        let Some(base) = url.strip_prefix("oci://") else {
            return Err((
                Reason::UrlInvalid,
                format!("invalid URL '{url}': an OCI HelmRepository URL starts with oci://"),
            ));
        };
        let name = format!("{}/{chart}", base.trim_end_matches('/'));
        let reference: oci_client::Reference = name.parse().map_err(|e| {
            (
                Reason::UrlInvalid,
                format!("invalid chart reference '{name}': {e}"),
            )
        })?;
        let registry = crate::oci::registry(
            &self.ctx.client,
            self.namespace,
            &repo_spec,
            reference.registry(),
        )
        .await?;
        let (client, auth) = (registry.client, registry.auth);
        let describe = |e: oci_client::errors::OciDistributionError| {
            crate::oci::failure(&name, Reason::ChartPullFailed, &e)
        };
        let tags = client
            .list_tags(&reference, &auth, None, None)
            .await
            .map_err(describe)?
            .tags;
        // Helm stores `+` of a version as `_` in tags.
        let versions: Vec<crate::helm_index::ChartVersion> = tags
            .iter()
            .map(|t| crate::helm_index::ChartVersion {
                version: t.replace('_', "+"),
                urls: Vec::new(),
                digest: None,
            })
            .collect();
        let chosen = crate::helm_index::select(&versions, &constraint)
            .map_err(pull_failed)?
            .ok_or_else(|| {
                pull_failed(format!(
                    "no '{chart}' chart with version matching '{constraint}' in {url} (newest: {})",
                    newest(&versions)
                ))
            })?
            .clone();
        let message = format!("pulled '{chart}' chart with version '{}'", chosen.version);
        // The same version, already stored: nothing to download.
        if let Some(stored) = self.already_stored(&chart, &chosen.version, &message) {
            return Ok(stored);
        }
        let tagged = oci_client::Reference::with_tag(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            chosen.version.replace('+', "_"),
        );
        let image = client
            .pull(
                &tagged,
                &auth,
                vec![
                    "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "application/vnd.cncf.helm.chart.provenance.v1.prov",
                ],
            )
            .await
            .map_err(describe)?;
        let layer = image
            .layers
            .into_iter()
            .find(|l| l.media_type == "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
            .ok_or_else(|| pull_failed(format!("'{tagged}' has no Helm chart layer")))?;
        if layer.data.len() as u64 > MAX_CHART_SIZE {
            return Err(pull_failed(format!(
                "'{tagged}' is larger than the {} MiB limit",
                MAX_CHART_SIZE >> 20
            )));
        }
        let work = work_dir(self.ctx, self.namespace, self.name);
        let download = work.join("download.tgz");
        std::fs::create_dir_all(&work)
            .and_then(|()| std::fs::write(&download, &layer.data))
            .map_err(|e| {
                (
                    Reason::ArchiveOperationFailed,
                    format!("cannot write the chart: {e}"),
                )
            })?;
        let staged = self
            .with_values_files(download, &chart, &tagged.to_string())
            .await?;
        self.store(&staged, &chart, &chosen.version, message)
    }

    /// The stored artifact, when it already holds `version` of `chart`.
    fn already_stored(&self, chart: &str, version: &str, message: &str) -> Option<Produced> {
        let path = Storage::path(
            "HelmChart",
            self.namespace,
            self.name,
            &format!("{chart}-{version}.tgz"),
        );
        let previous = self.previous.as_ref()?;
        if previous["revision"] != version
            || previous["path"] != path.as_str()
            || !self.ctx.storage.local(&path).exists()
        {
            return None;
        }
        let mut artifact = previous.clone();
        artifact["url"] = json!(self.ctx.storage.url(&path));
        Some(Produced {
            artifact,
            message: message.to_owned(),
            event: None,
            fields: observed(chart),
        })
    }

    /// Moves the packaged chart at `staged` into storage.
    fn store(
        &self,
        staged: &Path,
        chart: &str,
        version: &str,
        message: String,
    ) -> Result<Produced, Failure> {
        let file = format!("{chart}-{version}.tgz");
        let path = Storage::path("HelmChart", self.namespace, self.name, &file);
        let target = self.ctx.storage.local(&path);
        let store = || -> std::io::Result<(String, u64)> {
            let bytes = std::fs::read(staged)?;
            std::fs::create_dir_all(target.parent().unwrap_or(Path::new(".")))?;
            std::fs::rename(staged, &target)?;
            Ok((
                format!("sha256:{:x}", Sha256::digest(&bytes)),
                bytes.len() as u64,
            ))
        };
        let (digest, size) = store().map_err(|e| {
            (
                Reason::ArchiveOperationFailed,
                format!("failed to store the chart: {e}"),
            )
        })?;
        let unchanged = self
            .previous
            .as_ref()
            .is_some_and(|p| p["digest"] == digest.as_str() && p["revision"] == version);
        self.ctx
            .storage
            .garbage_collect("HelmChart", self.namespace, self.name, &file);
        Ok(Produced {
            artifact: json!({
                "path": path,
                "url": self.ctx.storage.url(&path),
                "revision": version,
                "digest": digest,
                "lastUpdateTime": status::now(),
                "size": size,
            }),
            event: (!unchanged).then(|| Event {
                warning: false,
                reason: "ChartPackageSucceeded".into(),
                message: message.clone(),
            }),
            message,
            fields: observed(chart),
        })
    }
}

fn observed(chart: &str) -> serde_json::Map<String, Value> {
    [("observedChartName".to_owned(), json!(chart))]
        .into_iter()
        .collect()
}

fn newest(versions: &[crate::helm_index::ChartVersion]) -> String {
    versions
        .iter()
        .map(|v| v.version.as_str())
        .max_by(|a, b| weir_gotmpl::semver::order(a, b))
        .unwrap_or("none")
        .to_owned()
}

trait NameAny {
    fn name_any_str(&self) -> String;
}

impl NameAny for DynamicObject {
    fn name_any_str(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
}

fn values_files(spec: &Value) -> Vec<String> {
    spec.get("valuesFiles")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `url` resolved against the repository URL (index entries may be relative).
fn resolve(repo: &str, url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!(
            "{}/{}",
            repo.trim_end_matches('/'),
            url.trim_start_matches("./")
        )
    }
}

fn host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or_default()
}

fn same_host(a: &str, b: &str) -> bool {
    host(a).eq_ignore_ascii_case(host(b))
}

/// Unpacks the gzipped tarball `file` into `dir` (paths leaving `dir` are refused by `tar`).
fn unpack(file: &Path, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let reader = std::fs::File::open(file)?;
    tar::Archive::new(flate2::read::GzDecoder::new(reader)).unpack(dir)
}

/// The files of `valuesFiles` (paths from `root`), merged in order as Helm merges values.
fn merge_values_files(
    root: &Path,
    files: &[String],
    ignore_missing: bool,
) -> Result<String, Failure> {
    let mut merged = json!({});
    for file in files {
        let path = inside(root, file)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ignore_missing => continue,
            Err(e) => {
                return Err(package_failed(format!(
                    "values file '{file}': {e}; fix spec.valuesFiles or set ignoreMissingValuesFiles"
                )));
            }
        };
        let docs = weir_object::yaml::parse_documents(file, &text)
            .map_err(|e| package_failed(format!("values file '{file}': {e}")))?;
        if let Some(doc) = docs.into_iter().next() {
            weir_helm::merge_values(&mut merged, &doc.value);
        }
    }
    Ok(weir_object::yaml::to_yaml(&merged))
}

/// Adds the `file://` dependencies of `chart` not vendored under `charts/` (packaged from
/// their directories); other missing dependencies are an error, as Weir does not download
/// them.
fn missing_dependencies(
    dir: &Path,
    chart: &weir_helm::Chart,
    overrides: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), Failure> {
    let deps = chart.metadata["dependencies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for dep in deps {
        let name = dep["name"].as_str().unwrap_or_default();
        let present = chart
            .subcharts
            .iter()
            .any(|s| s.metadata["name"].as_str() == Some(name));
        if present {
            continue;
        }
        let repository = dep["repository"].as_str().unwrap_or_default();
        let Some(local) = repository.strip_prefix("file://") else {
            return Err(package_failed(format!(
                "dependency '{name}' (from '{repository}') is not vendored in charts/; Weir does not download chart dependencies: run 'helm dependency update' and commit charts/"
            )));
        };
        let dep_dir = dir.join(local);
        let mut files = Vec::new();
        collect(&dep_dir, &dep_dir, &mut files)
            .map_err(|e| package_failed(format!("dependency '{name}' at '{repository}': {e}")))?;
        for (rel, full) in files {
            let data = std::fs::read(&full).map_err(|e| package_failed(e.to_string()))?;
            overrides.push((format!("charts/{name}/{rel}"), data));
        }
    }
    Ok(())
}

/// `Chart.yaml` of `dir` with its top-level `version` set to `version`.
fn set_version(dir: &Path, version: &str) -> Result<Vec<u8>, Failure> {
    let text = std::fs::read_to_string(dir.join("Chart.yaml"))
        .map_err(|e| package_failed(format!("Chart.yaml: {e}")))?;
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("version:") {
            out.push_str(&format!("version: {version}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out.into_bytes())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if entry.file_type()?.is_dir() {
            if rel != ".git" {
                collect(root, &path, out)?;
            }
        } else if entry.file_type()?.is_file() {
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Writes chart directory `dir` as a gzipped tarball with top directory `name`, replacing
/// (or adding) the files of `overrides`; entries sorted, without times or owners.
fn package(
    dir: &Path,
    name: &str,
    overrides: &[(String, Vec<u8>)],
    target: &Path,
) -> std::io::Result<()> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.retain(|(rel, _)| !overrides.iter().any(|(o, _)| o == rel));
    let mut entries: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(rel, full)| std::fs::read(full).map(|d| (rel, d)))
        .collect::<std::io::Result<_>>()?;
    entries.extend(overrides.iter().cloned());
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(target)?;
    let mut builder = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    builder.mode(tar::HeaderMode::Deterministic);
    for (rel, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, format!("{name}/{rel}"), data.as_slice())?;
    }
    builder.into_inner()?.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_hosts() {
        assert_eq!(
            resolve("https://charts.test/repo/", "podinfo-1.0.0.tgz"),
            "https://charts.test/repo/podinfo-1.0.0.tgz"
        );
        assert_eq!(
            resolve("https://a.test", "https://b.test/x.tgz"),
            "https://b.test/x.tgz"
        );
        assert!(same_host("https://a.test/x", "https://A.test/y"));
        assert!(!same_host("https://a.test/x", "https://b.test/x"));
    }

    #[test]
    fn packages_a_chart_with_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let chart = dir.path().join("demo");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(chart.join("values.yaml"), "a: 1\n").unwrap();
        std::fs::write(chart.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
        std::fs::write(dir.path().join("prod.yaml"), "a: 2\nb: 3\n").unwrap();
        let merged = merge_values_files(
            dir.path(),
            &["values.yaml".into(), "prod.yaml".into()],
            true,
        )
        .unwrap();
        assert_eq!(merged, "a: 2\nb: 3\n");
        assert!(merge_values_files(dir.path(), &["missing.yaml".into()], false).is_err());
        assert!(inside(dir.path(), "../x").is_err());
        let out = dir.path().join("out.tgz");
        let version = set_version(&chart, "1.0.0+abc").unwrap();
        package(
            &chart,
            "demo",
            &[
                ("values.yaml".into(), merged.into_bytes()),
                ("Chart.yaml".into(), version),
            ],
            &out,
        )
        .unwrap();
        let loaded = weir_helm::load_dir(&out).unwrap();
        assert_eq!(loaded.metadata["version"], "1.0.0+abc");
        assert_eq!(loaded.values, json!({ "a": 2, "b": 3 }));
        assert_eq!(loaded.templates.len(), 1);
    }
}
