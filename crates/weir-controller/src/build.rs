//! From a source artifact to the objects to apply: unpack, find or generate the
//! kustomization, add the Kustomization's own overlay (namespace, prefix, patches, images...),
//! build with Weir's kustomize engine, and label every object with its owner.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use weir_api::status::Reason;

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

/// Unpacks `tarball` (checking its `digest`) under `work`, builds the objects of the
/// Kustomization `spec`, substitutes `variables` (none: no substitution) and labels every
/// object as owned by `owner` (name, namespace).
pub fn objects(
    tarball: &Path,
    digest: &str,
    spec: &Value,
    work: &Path,
    owner: (&str, &str),
    variables: Option<&Variables>,
) -> Result<Vec<Map<String, Value>>, BuildError> {
    let bytes = fs::read(tarball).map_err(|e| {
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
    let root = work.join("source");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).map_err(|e| artifact_failed(e.to_string()))?;
    tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
        .unpack(&root)
        .map_err(|e| artifact_failed(format!("failed to unpack artifact: {e}")))?;

    let path = spec["path"].as_str().unwrap_or_default();
    let relative = clean(path)
        .ok_or_else(|| artifact_failed(format!("kustomization path '{path}' leaves the source")))?;
    let dir = root.join(&relative);
    if !dir.is_dir() {
        return Err(artifact_failed(format!(
            "kustomization path not found: {path}"
        )));
    }
    if !has_kustomization(&dir) {
        generate(&dir)?;
    }
    let target = match overlay(spec, &relative) {
        Some(kustomization) => {
            let overlay = root.join(".weir-overlay");
            fs::create_dir_all(&overlay).map_err(|e| build_failed(e.to_string()))?;
            fs::write(
                overlay.join("kustomization.yaml"),
                weir_object::yaml::to_yaml(&kustomization),
            )
            .map_err(|e| build_failed(e.to_string()))?;
            overlay
        }
        None => dir,
    };
    let output = weir_kustomize::build(
        &weir_kustomize::DiskFs,
        &target,
        &weir_kustomize::Options::default(),
    )
    .map_err(|e| build_failed(strip_root(&e.to_string(), &root)))?;
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
    Ok(objects)
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

/// Error messages name files relative to the source root, as they are in Git.
fn strip_root(message: &str, root: &Path) -> String {
    let prefix = format!("{}/", root.display());
    message.replace(&prefix, "")
}

/// `path` without `.` parts, refused if it climbs out with `..` or is absolute.
fn clean(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

fn has_kustomization(dir: &Path) -> bool {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Writes a kustomization.yaml listing the manifests under `dir`, as Flux does for plain
/// YAML: every `.yaml`/`.yml`/`.json` file that holds a Kubernetes object (or cannot be read,
/// so the build reports it), and every sub-directory with a kustomization of its own.
fn generate(dir: &Path) -> Result<(), BuildError> {
    let mut resources = Vec::new();
    collect(dir, dir, &mut resources).map_err(|e| build_failed(e.to_string()))?;
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    fs::write(
        dir.join("kustomization.yaml"),
        weir_object::yaml::to_yaml(&kustomization),
    )
    .map_err(|e| build_failed(e.to_string()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if path.is_dir() {
            if has_kustomization(&path) {
                out.push(relative);
            } else {
                collect(root, &path, out)?;
            }
            continue;
        }
        let manifest = path
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
        if manifest && holds_object(&path) {
            out.push(relative);
        }
    }
    Ok(())
}

/// Whether a file holds at least one Kubernetes object, or cannot be parsed.
fn holds_object(path: &Path) -> bool {
    let mut text = String::new();
    if fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return true;
    }
    match weir_object::yaml::parse_documents(&path.display().to_string(), &text) {
        Ok(docs) => docs
            .iter()
            .any(|d| d.value.get("apiVersion").is_some() && d.value.get("kind").is_some()),
        Err(_) => true,
    }
}

/// The kustomization Flux's spec fields amount to, on top of the one at `relative`; none when
/// the spec has none of them.
fn overlay(spec: &Value, relative: &Path) -> Option<Value> {
    let base = Path::new("..").join(relative).display().to_string();
    let mut k = Map::new();
    k.insert(
        "apiVersion".into(),
        json!("kustomize.config.k8s.io/v1beta1"),
    );
    k.insert("kind".into(), json!("Kustomization"));
    k.insert("resources".into(), json!([base]));
    let mut any = false;
    for (field, key) in [
        ("targetNamespace", "namespace"),
        ("namePrefix", "namePrefix"),
        ("nameSuffix", "nameSuffix"),
        ("patches", "patches"),
        ("images", "images"),
    ] {
        if let Some(value) = spec.get(field).filter(|v| !v.is_null()) {
            k.insert(key.into(), value.clone());
            any = true;
        }
    }
    if let Some(components) = spec["components"].as_array() {
        let list: Vec<Value> = components
            .iter()
            .filter_map(Value::as_str)
            .map(|c| json!(Path::new(&base).join(c).display().to_string()))
            .collect();
        k.insert("components".into(), Value::Array(list));
        any = true;
    }
    if let Some(labels) = spec["commonMetadata"]["labels"].as_object() {
        k.insert(
            "labels".into(),
            json!([{ "pairs": labels, "includeSelectors": false }]),
        );
        any = true;
    }
    if let Some(annotations) = spec["commonMetadata"]["annotations"].as_object() {
        k.insert(
            "commonAnnotations".into(),
            Value::Object(annotations.clone()),
        );
        any = true;
    }
    any.then_some(Value::Object(k))
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
    fn spec_fields_make_an_overlay() {
        let spec =
            json!({ "targetNamespace": "prod", "commonMetadata": { "labels": { "team": "a" } } });
        let made = overlay(&spec, Path::new("apps")).expect("an overlay");
        assert_eq!(made["resources"], json!(["../apps"]));
        assert_eq!(made["namespace"], "prod");
        assert_eq!(made["labels"][0]["includeSelectors"], false);
        assert_eq!(overlay(&json!({ "path": "x" }), Path::new("x")), None);
    }
}
