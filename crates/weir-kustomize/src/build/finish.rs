//! The last touches of a build: annotations as strings, and build metadata.

use serde_json::Value;

use crate::resource::Resource;

/// kustomize rewrites every resource's annotations as a string map at the end of a build, so
/// `port: 8080` comes out as `port: "8080"`.
pub(super) fn stringify_annotations(r: &mut Resource) {
    let Some(Value::Object(annotations)) = r
        .obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    for v in annotations.values_mut() {
        let text = match &*v {
            Value::String(_) => continue,
            Value::Null | Value::Object(_) | Value::Array(_) => String::new(),
            other => other.to_string(),
        };
        *v = Value::String(text);
    }
}

/// Writes the build metadata the kustomization asked for into annotations and labels.
pub(super) fn add_build_metadata(r: &mut Resource, metadata: &[String]) {
    let wants = |o: &str| metadata.iter().any(|m| m == o);
    let mut annotations = r.string_map("annotations");
    let mut set = |k: &str, v: String| match annotations.iter_mut().find(|(ak, _)| ak == k) {
        Some(slot) => slot.1 = v,
        None => annotations.push((k.to_owned(), v)),
    };
    let mut changed = false;
    if wants("originAnnotations")
        && let Some(o) = &r.build_origin
    {
        set("config.kubernetes.io/origin", o.annotation());
        changed = true;
    }
    if wants("transformerAnnotations") && !r.transformations.is_empty() {
        set(
            "alpha.config.kubernetes.io/transformations",
            crate::origin::transformations_annotation(&r.transformations),
        );
        changed = true;
    }
    if changed {
        r.set_string_map("annotations", annotations);
    }
    if wants("managedByLabel") {
        let mut labels = r.string_map("labels");
        labels.retain(|(k, _)| k != "app.kubernetes.io/managed-by");
        labels.push((
            "app.kubernetes.io/managed-by".into(),
            "kustomize-v5.5.0".into(),
        ));
        r.set_string_map("labels", labels);
    }
}
