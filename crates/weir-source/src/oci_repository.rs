//! The OCIRepository reconciler: an artifact pulled from an OCI registry (by tag, semver range
//! over the tags, or digest), its layer extracted (and archived again with the ignore rules)
//! or copied as it is, stored with Flux's revision `<tag>@sha256:<manifest digest>`.

use std::path::Path;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use weir_api::status::{self, Reason};

use crate::git_repository::Context;
use crate::helm_repository::MAX_CHART_SIZE;
use crate::reconcile::{
    Bookkeeping, Event, Failure, Outcome, Produced, Start, conclude, request_pending,
    stall_unsupported, start, text,
};
use crate::storage::{Storage, ignore_rules};

/// The largest layer Weir pulls (Flux's `--storage-... ` defaults allow larger; 50 MiB here).
const MAX_LAYER_SIZE: u64 = MAX_CHART_SIZE * 5;

/// The OCIRepository API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "OCIRepository"),
        "ocirepositories",
    )
}

/// Reconciles one OCIRepository; failures are written to its status, never returned.
pub async fn reconcile(ctx: &Context, object: &DynamicObject) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let key = format!("{namespace}/{name}");
    let (spec, generation, status) = match start(&api, object, || {
        ctx.storage.remove_all("OCIRepository", &namespace, &name);
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
    let duration = |field: &str, default: u64| {
        text(&spec, field)
            .and_then(weir_api::duration::parse)
            .unwrap_or(Duration::from_secs(default))
    };
    let interval = duration("/interval", 600);
    let attempt = format!("{key}@{generation}");
    let book = Bookkeeping {
        api: &api,
        name: &name,
        key: &attempt,
        generation,
        interval,
        failures: &ctx.failures,
        due: &ctx.due,
    };
    let set = |field: &str| spec.get(field).is_some_and(|v| !v.is_null());
    if spec["provider"].as_str().is_some_and(|p| p != "generic") {
        return stall_unsupported(&book, status, "OCIRepository", "spec.provider").await;
    }
    for field in ["verify", "serviceAccountName", "proxySecretRef"] {
        if set(field) {
            return stall_unsupported(&book, status, "OCIRepository", &format!("spec.{field}"))
                .await;
        }
    }
    if !request_pending(object)
        && status.contains_key("artifact")
        && let Some(remaining) = ctx.due.remaining(&attempt)
    {
        return Ok(Outcome {
            requeue: Some(remaining),
            ..Outcome::default()
        });
    }
    let previous = status.get("artifact").cloned();
    let result = pull(ctx, &namespace, &name, &spec, previous.as_ref()).await;
    conclude(&book, status, result).await
}

/// The tag to pull: `ref.tag`, or the newest tag matching `ref.semver` (after
/// `ref.semverFilter`), or `latest`.
async fn resolve_tag(
    registry: &crate::oci::Registry,
    reference: &oci_client::Reference,
    spec: &Value,
    what: &str,
) -> Result<String, Failure> {
    let Some(range) = text(spec, "/ref/semver") else {
        return Ok(text(spec, "/ref/tag").unwrap_or("latest").to_owned());
    };
    let filter = match text(spec, "/ref/semverFilter") {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| {
            (
                Reason::UrlInvalid,
                format!("invalid spec.ref.semverFilter '{f}': {e}"),
            )
        })?),
        None => None,
    };
    let tags = registry
        .client
        .list_tags(reference, &registry.auth, None, None)
        .await
        .map_err(|e| crate::oci::failure(what, Reason::ArtifactFailed, &e))?
        .tags;
    let versions: Vec<crate::helm_index::ChartVersion> = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)))
        .map(|t| crate::helm_index::ChartVersion {
            version: t.clone(),
            urls: Vec::new(),
            digest: None,
        })
        .collect();
    let chosen = crate::helm_index::select(&versions, range)
        .map_err(|e| (Reason::ArtifactFailed, e))?
        .ok_or_else(|| {
            (
                Reason::ArtifactFailed,
                format!("no tag of '{what}' matches semver range '{range}'"),
            )
        })?;
    Ok(chosen.version.clone())
}

async fn pull(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: &Value,
    previous: Option<&Value>,
) -> Result<Produced, Failure> {
    let url = text(spec, "/url").unwrap_or_default();
    let Some(base) = url.strip_prefix("oci://") else {
        return Err((
            Reason::UrlInvalid,
            format!("invalid URL '{url}': an OCIRepository URL starts with oci://"),
        ));
    };
    let what = base.trim_end_matches('/').to_owned();
    let reference: oci_client::Reference = what.parse().map_err(|e| {
        (
            Reason::UrlInvalid,
            format!("invalid reference '{what}': {e}"),
        )
    })?;
    let registry = crate::oci::registry(&ctx.client, namespace, spec, reference.registry()).await?;
    let (target, tag) = match text(spec, "/ref/digest") {
        Some(digest) => (
            oci_client::Reference::with_digest(
                reference.registry().to_owned(),
                reference.repository().to_owned(),
                digest.to_owned(),
            ),
            None,
        ),
        None => {
            let tag = resolve_tag(&registry, &reference, spec, &what).await?;
            (
                oci_client::Reference::with_tag(
                    reference.registry().to_owned(),
                    reference.repository().to_owned(),
                    tag.clone(),
                ),
                Some(tag),
            )
        }
    };
    let (manifest, digest) = registry
        .client
        .pull_image_manifest(&target, &registry.auth)
        .await
        .map_err(|e| crate::oci::failure(&target.to_string(), Reason::ArtifactFailed, &e))?;
    let revision = match &tag {
        Some(tag) => format!("{tag}@{digest}"),
        None => digest.clone(),
    };
    let media_type = text(spec, "/layerSelector/mediaType");
    let operation = text(spec, "/layerSelector/operation").unwrap_or("extract");
    let hex = digest.trim_start_matches("sha256:").to_owned();
    let copy = operation == "copy";
    let file = if copy {
        format!("{hex}.tgz")
    } else {
        format!("{hex}.tar.gz")
    };
    let path = Storage::path("OCIRepository", namespace, name, &file);
    let mut fields = serde_json::Map::new();
    fields.insert(
        "url".into(),
        json!(ctx.storage.url(&Storage::path(
            "OCIRepository",
            namespace,
            name,
            "latest.tar.gz"
        ))),
    );
    fields.insert(
        "observedLayerSelector".into(),
        spec.get("layerSelector").cloned().unwrap_or(Value::Null),
    );
    fields.insert(
        "observedIgnore".into(),
        spec.get("ignore").cloned().unwrap_or(Value::Null),
    );
    let message = format!("stored artifact for digest '{revision}'");
    if let Some(previous) = previous.filter(|p| p["revision"] == revision.as_str())
        && ctx.storage.local(&path).exists()
    {
        let mut artifact = previous.clone();
        artifact["url"] = json!(ctx.storage.url(&path));
        return Ok(Produced {
            artifact,
            message,
            event: None,
            fields,
        });
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| media_type.is_none_or(|m| l.media_type == m))
        .ok_or_else(|| {
            (
                Reason::ArtifactFailed,
                format!(
                    "'{target}' has no layer{}",
                    media_type
                        .map(|m| format!(" of media type '{m}'"))
                        .unwrap_or_default()
                ),
            )
        })?;
    if layer.size as u64 > MAX_LAYER_SIZE {
        return Err((
            Reason::ArtifactFailed,
            format!(
                "the layer of '{target}' is larger than {} MiB",
                MAX_LAYER_SIZE >> 20
            ),
        ));
    }
    let mut data = Vec::new();
    registry
        .client
        .pull_blob(&target, layer, &mut data)
        .await
        .map_err(|e| crate::oci::failure(&target.to_string(), Reason::ArtifactFailed, &e))?;
    let target_file = ctx.storage.local(&path);
    let work = ctx.work_dir.join("oci").join(namespace).join(name);
    let ignore = spec
        .get("ignore")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let storage = ctx.storage.clone();
    let stored_path = path.clone();
    let store = tokio::task::spawn_blocking(move || -> Result<(String, u64), Failure> {
        let io = |e: std::io::Error| {
            (
                Reason::ArchiveOperationFailed,
                format!("failed to store the artifact: {e}"),
            )
        };
        if copy {
            std::fs::create_dir_all(target_file.parent().unwrap_or(Path::new("."))).map_err(io)?;
            std::fs::write(&target_file, &data).map_err(io)?;
            return Ok((
                format!("sha256:{:x}", Sha256::digest(&data)),
                data.len() as u64,
            ));
        }
        let tree = work.join("tree");
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(&tree).map_err(io)?;
        tar::Archive::new(flate2::read::GzDecoder::new(data.as_slice()))
            .unpack(&tree)
            .map_err(|e| {
                (
                    Reason::ArtifactFailed,
                    format!("the layer is not a gzipped tarball: {e}; set spec.layerSelector.operation: copy to store it as it is"),
                )
            })?;
        let rules = ignore_rules(&tree, ignore.as_deref()).map_err(|e| {
            (
                Reason::ArchiveOperationFailed,
                format!("invalid ignore patterns: {e}"),
            )
        })?;
        let stored = storage.archive(&tree, &rules, &stored_path).map_err(io)?;
        let _ = std::fs::remove_dir_all(&tree);
        Ok((stored.digest, stored.size))
    });
    let (artifact_digest, size) = store
        .await
        .map_err(|e| (Reason::ArchiveOperationFailed, e.to_string()))??;
    ctx.storage
        .garbage_collect("OCIRepository", namespace, name, &file);
    // `latest.tar.gz` always serves the newest artifact, as `status.url` says.
    let latest = ctx.storage.local(&Storage::path(
        "OCIRepository",
        namespace,
        name,
        "latest.tar.gz",
    ));
    let _ = std::fs::remove_file(&latest);
    let _ = std::fs::hard_link(ctx.storage.local(&path), &latest);
    Ok(Produced {
        artifact: json!({
            "path": path,
            "url": ctx.storage.url(&path),
            "revision": revision,
            "digest": artifact_digest,
            "lastUpdateTime": status::now(),
            "size": size,
        }),
        message,
        event: Some(Event {
            warning: false,
            reason: "NewArtifact".into(),
            message: format!("stored artifact with revision '{revision}' from '{url}'"),
        }),
        fields,
    })
}
