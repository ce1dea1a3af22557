//! From a source artifact to the objects to apply: the tarball is unpacked once per digest into
//! memory, then each Kustomization is built from it the way Flux's kustomize-controller does
//! (`weir_kustomize::flux`: a kustomization generated where there is none, the spec's
//! namespace, prefix, suffix, patches, images, components and common metadata layered on), its
//! variables substituted, and every object labelled with its owner.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use weir_api::status::Reason;
use weir_kustomize::MemFs;
use weir_kustomize::flux::Overlay;

/// Why no objects came out, with the Flux reason to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// `ArtifactFailed` or `BuildFailed`.
    pub reason: Reason,
    /// What went wrong, naming the file when there is one.
    pub message: String,
}

fn artifact_failed(message: String) -> BuildError {
    BuildError {
        reason: Reason::ArtifactFailed,
        message,
    }
}

fn build_failed(message: String) -> BuildError {
    BuildError {
        reason: Reason::BuildFailed,
        message,
    }
}

/// Post-build variables: name to value, and whether an unset variable is an error.
pub type Variables = (BTreeMap<String, String>, bool);

/// The annotation or label that exempts an object from post-build substitution.
const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The most a source artifact may hold once unpacked.
const MAX_UNPACKED: u64 = 512 << 20;

/// Reads a gzipped tarball (checking its `digest`) into an in-memory tree rooted at `/`.
pub fn unpack(tarball: &Path, digest: &str) -> Result<MemFs, BuildError> {
    let bytes = std::fs::read(tarball).map_err(|e| {
        artifact_failed(format!(
            "failed to read artifact {}: {e}",
            tarball.display()
        ))
    })?;
    let actual = format!("sha256:{:x}", Sha256::digest(&bytes));
    if !digest.is_empty() && actual != digest {
        return Err(artifact_failed(format!(
            "artifact digest mismatch: expected {digest}, got {actual}"
        )));
    }
    let mut fs = MemFs::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut total = 0u64;
    let failed = |e: std::io::Error| artifact_failed(format!("failed to unpack artifact: {e}"));
    for entry in archive.entries().map_err(failed)? {
        let mut entry = entry.map_err(failed)?;
        let path = entry.path().map_err(failed)?.into_owned();
        let Some(path) = clean(&path.display().to_string()) else {
            continue;
        };
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs.add_dir(&path),
            tar::EntryType::Regular => {
                total += entry.size();
                if total > MAX_UNPACKED {
                    return Err(artifact_failed(format!(
                        "artifact is over {} MiB unpacked",
                        MAX_UNPACKED >> 20
                    )));
                }
                let mut content = Vec::with_capacity(entry.size() as usize);
                entry.read_to_end(&mut content).map_err(failed)?;
                fs.add_file(&path, content);
            }
            _ => {}
        }
    }
    Ok(fs)
}

/// Built objects and the build's warnings.
pub type Built = (Vec<Map<String, Value>>, Vec<String>);

/// Builds the objects of the Kustomization `spec` from the unpacked `source`, substitutes
/// `variables` (none: no substitution) and labels every object as owned by `owner` (name,
/// namespace). Returns the objects and the build's warnings.
pub fn objects(
    source: &MemFs,
    spec: &Value,
    owner: (&str, &str),
    variables: Option<&Variables>,
) -> Result<Built, BuildError> {
    let path = spec["path"].as_str().unwrap_or_default();
    let relative = clean(path)
        .ok_or_else(|| artifact_failed(format!("kustomization path '{path}' leaves the source")))?;
    let dir = Path::new("/").join(&relative);
    if !weir_kustomize::FileSystem::is_dir(source, &dir) {
        return Err(artifact_failed(format!(
            "kustomization path not found: {path}"
        )));
    }
    let overlay = overlay(spec)?;
    let (output, warnings) = weir_kustomize::flux::build_with_overlay(
        source,
        &dir,
        &overlay,
        &weir_kustomize::Options::flux(),
    )
    .map_err(|e| build_failed(e.to_string()))?;
    let mut objects = output.resources;
    if let Some(variables) = variables {
        for object in &mut objects {
            substitute(object, variables)?;
        }
    }
    for object in &mut objects {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(weir_api::OWNER_NAME_LABEL.into(), json!(owner.0));
                labels.insert(weir_api::OWNER_NAMESPACE_LABEL.into(), json!(owner.1));
            }
        }
    }
    Ok((objects, warnings))
}

/// The build-changing fields of a Flux `Kustomization` spec.
fn overlay(spec: &Value) -> Result<Overlay, BuildError> {
    let strings = |value: &Value| -> BTreeMap<String, String> {
        value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect()
    };
    Ok(Overlay {
        target_namespace: spec["targetNamespace"].as_str().map(str::to_owned),
        name_prefix: spec["namePrefix"].as_str().map(str::to_owned),
        name_suffix: spec["nameSuffix"].as_str().map(str::to_owned),
        patches: parse(spec, "patches")?,
        images: parse(spec, "images")?,
        components: parse(spec, "components")?,
        ignore_missing_components: spec["ignoreMissingComponents"].as_bool() == Some(true),
        build_metadata: parse(spec, "buildMetadata")?,
        common_labels: strings(&spec["commonMetadata"]["labels"]),
        common_annotations: strings(&spec["commonMetadata"]["annotations"]),
    })
}

/// A list field of the spec (empty when absent).
fn parse<T: serde::de::DeserializeOwned>(spec: &Value, name: &str) -> Result<Vec<T>, BuildError> {
    match spec.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| build_failed(format!("spec.{name}: {e}"))),
    }
}

/// Substitutes `${...}` expressions in one object, unless it opts out with the
/// `kustomize.toolkit.fluxcd.io/substitute: disabled` annotation or label.
fn substitute(
    object: &mut Map<String, Value>,
    (vars, strict): &Variables,
) -> Result<(), BuildError> {
    let metadata = object.get("metadata");
    let disabled = ["annotations", "labels"].iter().any(|field| {
        metadata
            .and_then(|m| m.get(*field))
            .and_then(|m| m.get(SUBSTITUTE_KEY))
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    });
    if disabled {
        return Ok(());
    }
    let text = weir_object::yaml::to_yaml(&Value::Object(object.clone()));
    if !text.contains("${") {
        return Ok(());
    }
    let id = describe(object);
    let lookup = |name: &str| vars.get(name).cloned();
    let result = weir_envsubst::substitute(&text, &lookup, *strict)
        .map_err(|e| build_failed(format!("post build failed for '{id}': {e}")))?;
    let mut docs = weir_object::yaml::parse_documents(&id, &result).map_err(|e| {
        build_failed(format!(
            "post build failed for '{id}': the result is not YAML: {e}"
        ))
    })?;
    match docs.pop().map(|d| d.value) {
        Some(Value::Object(map)) if docs.is_empty() => {
            *object = map;
            Ok(())
        }
        _ => Err(build_failed(format!(
            "post build failed for '{id}': the result is not one object"
        ))),
    }
}

/// `Kind/namespace/name` of an object, for messages.
fn describe(object: &Map<String, Value>) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let metadata = object.get("metadata");
    let field = |f: &str| {
        metadata
            .and_then(|m| m.get(f))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    match field("namespace") {
        "" => format!("{kind}/{}", field("name")),
        ns => format!("{kind}/{ns}/{}", field("name")),
    }
}

/// `path` without `.` parts, refused if it climbs out with `..`; absolute paths are taken as
/// relative to the source root.
fn clean(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_source() {
        assert_eq!(clean("./apps/prod"), Some(PathBuf::from("apps/prod")));
        assert_eq!(clean("apps/../infra"), Some(PathBuf::from("infra")));
        assert_eq!(clean("../etc"), None);
        assert_eq!(clean(""), Some(PathBuf::new()));
    }

    #[test]
    fn builds_plain_yaml_with_the_spec_overlay_and_owner_labels() -> Result<(), BuildError> {
        let mut fs = MemFs::new();
        fs.add_file(
            "apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  env: ${env}\n",
        );
        let spec = json!({ "path": "./apps", "targetNamespace": "prod", "namePrefix": "p-",
            "commonMetadata": { "labels": { "team": "a" } } });
        let vars = (
            BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
            false,
        );
        let (built, _) = objects(&fs, &spec, ("apps", "flux-system"), Some(&vars))?;
        assert_eq!(built.len(), 1);
        let cm = Value::Object(built[0].clone());
        assert_eq!(cm["metadata"]["name"], "p-cm");
        assert_eq!(cm["metadata"]["namespace"], "prod");
        assert_eq!(cm["metadata"]["labels"]["team"], "a");
        assert_eq!(
            cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
            "apps"
        );
        assert_eq!(cm["data"]["env"], "prod");
        let missing = objects(&fs, &json!({ "path": "./nope" }), ("a", "b"), None);
        assert_eq!(
            missing.map(|_| ()).map_err(|e| e.reason),
            Err(Reason::ArtifactFailed)
        );
        Ok(())
    }
}
