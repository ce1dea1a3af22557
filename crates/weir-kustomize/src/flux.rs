//! What Flux's kustomize-controller does around `kustomize build`: a kustomization is
//! generated when the directory has none, and the Flux `Kustomization`'s `targetNamespace`,
//! `namePrefix`, `nameSuffix`, `patches`, `images`, `components` and `buildMetadata` are
//! layered on top of the user's kustomization; `commonMetadata` is set on every object after
//! the build.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::fs::{FileSystem, normalize};
use crate::loader::KUSTOMIZATION_FILE_NAMES;
use crate::types::{Image, Patch};
use crate::{Error, Options, Output, build};

/// The fields of a Flux `Kustomization` that change the build.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// `spec.targetNamespace`: replaces the kustomization's `namespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.patches`, appended to the kustomization's.
    pub patches: Vec<Patch>,
    /// `spec.images`: an image already listed is updated, others appended.
    pub images: Vec<Image>,
    /// `spec.components` (local relative paths).
    pub components: Vec<String>,
    /// `spec.ignoreMissingComponents`.
    pub ignore_missing_components: bool,
    /// `spec.buildMetadata`.
    pub build_metadata: Vec<String>,
    /// `spec.commonMetadata.labels`.
    pub common_labels: BTreeMap<String, String>,
    /// `spec.commonMetadata.annotations`.
    pub common_annotations: BTreeMap<String, String>,
}

/// A filesystem showing one replaced (or added) kustomization file over another filesystem.
struct Layered<'a> {
    inner: &'a dyn FileSystem,
    file: PathBuf,
    content: Vec<u8>,
}

impl FileSystem for Layered<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if normalize(path) == self.file {
            Ok(self.content.clone())
        } else {
            self.inner.read(path)
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        normalize(path) == self.file || self.inner.is_file(path)
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = self.inner.list(path)?;
        if self.file.parent() == Some(normalize(path).as_path())
            && let Some(name) = self
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
            && !names.contains(&name)
        {
            names.push(name);
            names.sort();
        }
        Ok(names)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        if normalize(path) == self.file {
            Ok(self.file.clone())
        } else {
            self.inner.canonicalize(path)
        }
    }
}

/// Builds `dir` the way Flux's kustomize-controller does for a `Kustomization` with `overlay`.
/// Returns the output and warnings (such as kustomization fields Flux ignores).
///
/// Flux builds with `LoadRestrictionsNone` inside a filesystem confined to the source
/// artifact (use [`crate::fs::RootedFs`]), and layers `openapi` schemas over the built-in one;
/// `options` should say so (see [`Options::flux`]).
pub fn build_with_overlay(
    fs: &dyn FileSystem,
    dir: &Path,
    overlay: &Overlay,
    options: &Options,
) -> Result<(Output, Vec<String>), Error> {
    let root = fs.canonicalize(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut warnings = Vec::new();
    let existing = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| root.join(n))
        .find(|p| fs.is_file(p));
    let (file, mut k) = match &existing {
        Some(path) => {
            let text = String::from_utf8_lossy(&fs.read(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?)
            .into_owned();
            let shown = path.display().to_string();
            let value = crate::yamlio::parse_config(&shown, &text)?
                .into_iter()
                .next()
                .unwrap_or(Value::Object(Map::new()));
            let Value::Object(mut map) = value else {
                return Err(Error::InvalidKustomization {
                    path: shown,
                    message: "is not a mapping of kustomization fields".into(),
                });
            };
            // Flux re-marshals the kustomization through its Go type, which drops unknown
            // fields.
            let unknown: Vec<String> = map
                .keys()
                .filter(|k| !crate::types::TOP_LEVEL_FIELDS.contains(&k.as_str()))
                .cloned()
                .collect();
            for key in unknown {
                warnings.push(format!(
                    "{shown}: unknown field `{key}` ignored (as Flux does)"
                ));
                map.remove(&key);
            }
            (path.clone(), map)
        }
        None => (root.join("kustomization.yaml"), generate(fs, &root)?),
    };

    if let Some(ns) = &overlay.target_namespace {
        k.insert("namespace".into(), Value::String(ns.clone()));
    }
    if let Some(p) = &overlay.name_prefix {
        k.insert("namePrefix".into(), Value::String(p.clone()));
    }
    if let Some(s) = &overlay.name_suffix {
        k.insert("nameSuffix".into(), Value::String(s.clone()));
    }
    for p in &overlay.patches {
        let mut entry = Map::new();
        entry.insert("patch".into(), Value::String(p.patch.clone()));
        if let Some(t) = &p.target {
            entry.insert("target".into(), selector_value(t));
        }
        push(&mut k, "patches", Value::Object(entry));
    }
    for c in &overlay.components {
        if Path::new(c).is_absolute() || c.contains("://") {
            return Err(Error::Build {
                context: "spec.components".into(),
                message: format!("component path '{c}' must be local and relative"),
            });
        }
        if overlay.ignore_missing_components && !fs.is_dir(&root.join(c)) {
            continue;
        }
        push(&mut k, "components", Value::String(c.clone()));
    }
    for image in &overlay.images {
        let list = k
            .entry("images")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = list else { continue };
        match items
            .iter_mut()
            .find(|i| i.get("name").and_then(Value::as_str) == Some(&image.name))
        {
            Some(Value::Object(existing)) => {
                if !image.new_name.is_empty() {
                    existing.insert("newName".into(), Value::String(image.new_name.clone()));
                }
                if !image.new_tag.is_empty() || !image.digest.is_empty() {
                    existing.insert("newTag".into(), Value::String(image.new_tag.clone()));
                    existing.insert("digest".into(), Value::String(image.digest.clone()));
                }
            }
            _ => {
                let mut m = Map::new();
                m.insert("name".into(), Value::String(image.name.clone()));
                for (key, v) in [
                    ("newName", &image.new_name),
                    ("newTag", &image.new_tag),
                    ("digest", &image.digest),
                ] {
                    if !v.is_empty() {
                        m.insert(key.into(), Value::String(v.clone()));
                    }
                }
                items.push(Value::Object(m));
            }
        }
    }
    if !overlay.build_metadata.is_empty() {
        k.insert(
            "buildMetadata".into(),
            Value::Array(
                overlay
                    .build_metadata
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
    }

    let layered = Layered {
        inner: fs,
        file: normalize(&file),
        content: weir_object::yaml::to_yaml(&Value::Object(k)).into_bytes(),
    };
    let mut output = build(&layered, &root, options)?;
    if !overlay.common_labels.is_empty() || !overlay.common_annotations.is_empty() {
        for obj in &mut output.resources {
            set_common_metadata(obj, &overlay.common_labels, &overlay.common_annotations);
        }
    }
    Ok((output, warnings))
}

fn push(k: &mut Map<String, Value>, field: &str, v: Value) {
    match k.entry(field).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(v),
        other => *other = Value::Array(vec![v]),
    }
}

fn selector_value(s: &crate::types::Selector) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
        ("labelSelector", &s.label_selector),
        ("annotationSelector", &s.annotation_selector),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    Value::Object(m)
}

/// Sets labels and annotations in every object's metadata (not in selectors or templates), as
/// Flux's `commonMetadata` does.
fn set_common_metadata(
    obj: &mut Map<String, Value>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    for (field, pairs) in [("labels", labels), ("annotations", annotations)] {
        if pairs.is_empty() {
            continue;
        }
        let target = meta
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        if let Value::Object(m) = target {
            for (k, v) in pairs {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
}

/// Flux's generated kustomization: every YAML file below `root` that holds Kubernetes objects,
/// and every subdirectory that has a kustomization (not descended into), in walk order.
fn generate(fs: &dyn FileSystem, root: &Path) -> Result<Map<String, Value>, Error> {
    let mut resources = Vec::new();
    walk(fs, root, root, &mut resources)?;
    let mut k = Map::new();
    k.insert(
        "apiVersion".into(),
        Value::String("kustomize.config.k8s.io/v1beta1".into()),
    );
    k.insert("kind".into(), Value::String("Kustomization".into()));
    if resources.is_empty() {
        // An empty directory builds to nothing.
        k.insert("namespace".into(), Value::String("_placeholder".into()));
    } else {
        k.insert(
            "resources".into(),
            Value::Array(resources.into_iter().map(Value::String).collect()),
        );
    }
    Ok(k)
}

fn walk(fs: &dyn FileSystem, root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let names = fs.list(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for name in names {
        let path = dir.join(&name);
        let rel = format!("./{}", path.strip_prefix(root).unwrap_or(&path).display());
        if fs.is_dir(&path) {
            if KUSTOMIZATION_FILE_NAMES
                .iter()
                .any(|k| fs.is_file(&path.join(k)))
            {
                out.push(rel);
            } else {
                walk(fs, root, &path, out)?;
            }
            continue;
        }
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let bytes = fs.read(&path).map_err(|source| Error::Io {
            path: rel.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        crate::build::load_resources(&rel, text.as_bytes()).map_err(|e| Error::Build {
            context: rel.clone(),
            message: format!("failed to decode Kubernetes YAML: {e}"),
        })?;
        out.push(rel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFs;

    #[test]
    fn generates_a_kustomization_and_layers_the_spec() {
        let mut fs = MemFs::new();
        fs.add_file(
            "/repo/apps/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        );
        fs.add_file(
            "/repo/apps/sub/b.yml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
        );
        fs.add_file(
            "/repo/apps/base/kustomization.yaml",
            "resources: [c.yaml]\n",
        );
        fs.add_file(
            "/repo/apps/base/c.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        );
        fs.add_file("/repo/apps/notes.txt", "not yaml");
        let overlay = Overlay {
            target_namespace: Some("prod".into()),
            name_prefix: Some("x-".into()),
            common_labels: [("owner".to_owned(), "flux".to_owned())].into(),
            ..Overlay::default()
        };
        let (out, warnings) =
            build_with_overlay(&fs, Path::new("/repo/apps"), &overlay, &Options::default())
                .expect("build");
        assert!(warnings.is_empty());
        let names: Vec<String> = out
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["metadata"]["namespace"].as_str().unwrap_or(""),
                    r["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(names, ["prod/x-a", "prod/x-b", "prod/x-c"]);
        assert!(
            out.resources
                .iter()
                .all(|r| r["metadata"]["labels"]["owner"] == "flux")
        );
    }

    #[test]
    fn an_empty_directory_builds_to_nothing() {
        let mut fs = MemFs::new();
        fs.add_dir("/empty");
        let (out, _) = build_with_overlay(
            &fs,
            Path::new("/empty"),
            &Overlay::default(),
            &Options::default(),
        )
        .expect("build");
        assert!(out.resources.is_empty());
    }

    #[test]
    fn unknown_fields_are_dropped_with_a_warning() {
        let mut fs = MemFs::new();
        fs.add_file("/k/kustomization.yaml", "resources: [a.yaml]\nfoo: bar\n");
        fs.add_file(
            "/k/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        );
        let (out, warnings) = build_with_overlay(
            &fs,
            Path::new("/k"),
            &Overlay::default(),
            &Options::default(),
        )
        .expect("build");
        assert_eq!(out.resources.len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
