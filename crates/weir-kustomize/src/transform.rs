//! The simple built-in transformers: namespace, name prefix and suffix, labels, annotations,
//! images, replica counts, and the content-hash name suffix.

use serde_json::{Map, Value};

use crate::Error;
use crate::fieldspec::{self, Create};
use crate::resid::Gvk;
use crate::resource::ResMap;
use crate::types::{FieldSpec, Image, Replica};

fn fail(res_id: &str, fs: &FieldSpec, message: String) -> Error {
    Error::Build {
        context: format!("considering field '{}' of object {res_id}", fs.path),
        message,
    }
}

/// Applies `set` on the field `fs` names in every resource it matches (by current GVK).
fn apply_specs(
    resources: &mut ResMap,
    specs: &[FieldSpec],
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), Error> {
    for res in &mut resources.list {
        let gvk = res.gvk();
        for fs in specs {
            if !fieldspec::matches(fs, &gvk) {
                continue;
            }
            let id = res.cur_id().to_string();
            fieldspec::apply(&mut res.obj, fs, create, set).map_err(|m| fail(&id, fs, m))?;
        }
    }
    Ok(())
}

fn set_scalar(node: &mut Value, value: &str) -> Result<(), String> {
    match node {
        Value::Object(_) | Value::Array(_) => {
            Err("wrong node kind: expected ScalarNode but got a mapping or sequence".to_owned())
        }
        _ => {
            *node = Value::String(value.to_owned());
            Ok(())
        }
    }
}

fn scalar_text(node: &Value) -> String {
    match node {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Sets every pair in a map node, creating it from null.
fn set_pairs(node: &mut Value, pairs: &[(String, String)]) -> Result<(), String> {
    if node.is_null() {
        *node = Value::Object(Map::new());
    }
    match node {
        Value::Object(map) => {
            for (k, v) in pairs {
                map.insert(k.clone(), Value::String(v.clone()));
            }
            Ok(())
        }
        _ => Err("wrong node kind: expected MappingNode".to_owned()),
    }
}

/// `namespace:`.
pub(crate) fn namespace(
    resources: &mut ResMap,
    ns: &str,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    for i in 0..resources.list.len() {
        let res = &mut resources.list[i];
        res.store_previous_id();
        let gvk = res.gvk();
        let api_version = res.api_version().to_owned();
        let id = res.cur_id().to_string();
        // metadata.namespace on every namespaced object.
        if !gvk.is_cluster_scoped() {
            let meta = FieldSpec {
                path: "metadata/namespace".into(),
                create_if_not_present: true,
                ..FieldSpec::default()
            };
            fieldspec::apply(&mut res.obj, &meta, Create::Scalar, &mut |n| {
                set_scalar(n, ns)
            })
            .map_err(|m| fail(&id, &meta, m))?;
        }
        let is_binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        if is_binding && let Some(Value::Array(subjects)) = res.obj.get_mut("subjects") {
            for subject in subjects.iter_mut().filter_map(Value::as_object_mut) {
                if subject.get("name").and_then(Value::as_str) == Some("default") {
                    subject.insert("namespace".into(), Value::String(ns.to_owned()));
                }
            }
        }
        for fs in specs {
            if fs.path == "metadata/namespace"
                || (fs.path == "metadata/name" && api_version != "v1")
                || (is_binding && fs.path == "subjects/namespace")
                || !fieldspec::matches(fs, &gvk)
            {
                continue;
            }
            fieldspec::apply(&mut res.obj, fs, Create::Scalar, &mut |n| set_scalar(n, ns))
                .map_err(|m| fail(&id, fs, m))?;
        }
        let cur = resources.list[i].cur_id();
        let clashes = resources
            .list
            .iter()
            .filter(|r| r.cur_id().equals(&cur))
            .count();
        if clashes != 1 {
            return Err(Error::Conflict {
                message: format!("namespace transformation produces ID conflict for {cur}"),
                origin: resources.list[i].origin.clone(),
            });
        }
    }
    Ok(())
}

/// Kinds whose names are never prefixed or suffixed.
fn skip_affix(gvk: &Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || gvk.kind == "Namespace"
        || (gvk.group == "apiregistration.k8s.io" && gvk.kind == "APIService")
}

/// `namePrefix:` (`suffix == false`) or `nameSuffix:`.
pub(crate) fn affix(
    resources: &mut ResMap,
    affix: &str,
    suffix: bool,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    for res in &mut resources.list {
        let org = res.org_id();
        if skip_affix(&org.gvk) {
            continue;
        }
        for fs in specs {
            if !org.gvk.is_selected_by(&fs.gvk()) {
                continue;
            }
            if fs.path == "metadata/name" {
                if suffix {
                    res.suffixes.push(affix.to_owned());
                } else {
                    res.prefixes.push(affix.to_owned());
                }
                if !affix.is_empty() {
                    res.store_previous_id();
                }
            }
            if !fieldspec::matches(fs, &res.gvk()) {
                continue;
            }
            let id = res.cur_id().to_string();
            fieldspec::apply(&mut res.obj, fs, Create::Scalar, &mut |n| {
                let cur = scalar_text(n);
                let new = if suffix {
                    format!("{cur}{affix}")
                } else {
                    format!("{affix}{cur}")
                };
                set_scalar(n, &new)
            })
            .map_err(|m| fail(&id, fs, m))?;
        }
    }
    Ok(())
}

/// `commonLabels:` / `labels:` / `commonAnnotations:`: sets the pairs in every matching map.
pub(crate) fn pairs(
    resources: &mut ResMap,
    pairs: &[(String, String)],
    specs: &[FieldSpec],
) -> Result<(), Error> {
    if pairs.is_empty() {
        return Ok(());
    }
    apply_specs(resources, specs, Create::Map, &mut |n| set_pairs(n, pairs))
}

/// `images:` entry.
pub(crate) fn image(
    resources: &mut ResMap,
    image: &Image,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let pattern = regex::Regex::new(&format!(
        "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
        image.name
    ))
    .map_err(|e| Error::Build {
        context: format!("images entry '{}'", image.name),
        message: format!("name is not a valid pattern: {e}"),
    })?;
    let mut update = |node: &mut Value| -> Result<(), String> {
        let Value::String(value) = node else {
            return match node {
                Value::Object(_) | Value::Array(_) => {
                    Err("wrong node kind: expected ScalarNode".to_owned())
                }
                _ => Ok(()),
            };
        };
        if !pattern.is_match(value) {
            return Ok(());
        }
        *node = Value::String(updated_image(value, image));
        Ok(())
    };
    for res in &mut resources.list {
        if res.kind() == "CustomResourceDefinition" {
            continue;
        }
        // Any `containers`/`initContainers` list anywhere in the object.
        update_containers(&mut res.obj, &mut update).map_err(|m| Error::Build {
            context: format!("images in {}", res.cur_id()),
            message: m,
        })?;
        let gvk = res.gvk();
        let id = res.cur_id().to_string();
        for fs in specs {
            if fieldspec::matches(fs, &gvk) {
                fieldspec::apply(&mut res.obj, fs, Create::Nothing, &mut update)
                    .map_err(|m| fail(&id, fs, m))?;
            }
        }
    }
    Ok(())
}

/// Walks the whole object; for every `containers`/`initContainers` list updates each
/// element's `image` (kustomize's legacy image filter, which runs besides the field specs).
fn update_containers(
    obj: &mut Map<String, Value>,
    update: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    for (key, v) in obj.iter_mut() {
        walk_containers(v, update)?;
        if (key == "containers" || key == "initContainers")
            && let Value::Array(items) = v
        {
            for item in items {
                if let Some(image) = item.get_mut("image") {
                    update(image)?;
                }
            }
        }
    }
    Ok(())
}

fn walk_containers(
    value: &mut Value,
    update: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => update_containers(map, update),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| walk_containers(v, update)),
        _ => Ok(()),
    }
}

/// Splits an image reference into name, tag and digest as kustomize does.
fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|i| *i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (colon, at) {
        (None, None) => (image.to_owned(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => {
            let a = a + slash;
            (
                image[..a].to_owned(),
                String::new(),
                image[a + 1..].to_owned(),
            )
        }
        (Some(c), Some(a)) => {
            let (c, a) = (c + slash, a + slash);
            (
                image[..c].to_owned(),
                image[c + 1..a].to_owned(),
                image[a + 1..].to_owned(),
            )
        }
        (Some(c), None) => {
            let c = c + slash;
            (
                image[..c].to_owned(),
                image[c + 1..].to_owned(),
                String::new(),
            )
        }
        (None, Some(_)) => (image.to_owned(), String::new(), String::new()),
    }
}

fn updated_image(value: &str, image: &Image) -> String {
    let (mut name, mut tag, mut digest) = split_image(value);
    if !image.new_name.is_empty() {
        name = image.new_name.clone();
    }
    if !image.new_tag.is_empty() && !image.digest.is_empty() {
        tag = image.new_tag.clone();
        digest = image.digest.clone();
    } else if !image.new_tag.is_empty() {
        tag = image.new_tag.clone();
        digest.clear();
    } else if !image.digest.is_empty() {
        tag.clear();
        digest = image.digest.clone();
    } else if !image.tag_suffix.is_empty() {
        tag.push_str(&image.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    name
}

/// `replicas:` entry.
pub(crate) fn replicas(
    resources: &mut ResMap,
    replica: &Replica,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let mut found = false;
    for fs in specs {
        let sel = fs.gvk();
        let matches =
            resources.matching_any_id(|id| id.name == replica.name && id.gvk.is_selected_by(&sel));
        if matches.is_empty() {
            continue;
        }
        found = true;
        for i in matches {
            let res = &mut resources.list[i];
            if !fieldspec::matches(fs, &res.gvk()) {
                continue;
            }
            let id = res.cur_id().to_string();
            fieldspec::apply(&mut res.obj, fs, Create::Scalar, &mut |n| {
                *n = Value::from(replica.count);
                Ok(())
            })
            .map_err(|m| fail(&id, fs, m))?;
        }
    }
    if found {
        Ok(())
    } else {
        Err(Error::Build {
            context: format!("replicas entry '{}'", replica.name),
            message: format!(
                "resource with name {} does not match a config with the following GVK [{}]",
                replica.name,
                specs
                    .iter()
                    .map(|f| f.gvk().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        })
    }
}

/// Appends the content hash to the names of generated resources that want it.
pub(crate) fn hash_names(resources: &mut ResMap) {
    for res in &mut resources.list {
        if res.needs_hash {
            let hash = crate::generate::content_hash(&res.obj);
            res.store_previous_id();
            let name = format!("{}-{hash}", res.name());
            res.set_name(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_like_kustomize() {
        let s = |x: &str| split_image(x);
        assert_eq!(s("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(s("nginx:1.7"), ("nginx".into(), "1.7".into(), "".into()));
        assert_eq!(
            s("reg:5000/nginx:1.7"),
            ("reg:5000/nginx".into(), "1.7".into(), "".into())
        );
        assert_eq!(
            s("nginx@sha256:abc"),
            ("nginx".into(), "".into(), "sha256:abc".into())
        );
        assert_eq!(
            s("a/b:t@sha256:d"),
            ("a/b".into(), "t".into(), "sha256:d".into())
        );
    }
}
