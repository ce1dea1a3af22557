//! `crds:`: OpenAPI definitions of custom types whose `x-kubernetes-*` extensions tell which
//! fields hold names of other objects, labels selectors, annotations and identities.

use serde_json::Value;

use crate::Error;
use crate::config::{NameBackRefs, TransformerConfig, merge_one};
use crate::loader::Loader;
use crate::types::FieldSpec;

/// Reads one `crds:` file (a map of type name → OpenAPI definition).
pub(crate) fn config_from_crd(ldr: &Loader<'_>, path: &str) -> Result<TransformerConfig, Error> {
    let shown = ldr.show(path);
    let text = String::from_utf8_lossy(&ldr.load(path)?).into_owned();
    let doc = crate::yamlio::parse(&shown, &text)?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let Value::Object(defs) = doc else {
        return Err(Error::Build {
            context: shown,
            message:
                "unable to parse open API definition: expected a map of type names to definitions"
                    .into(),
        });
    };
    let mut config = TransformerConfig::default();
    let fail = |message: String| Error::Build {
        context: shown.clone(),
        message,
    };
    for (name, def) in &defs {
        let props = def
            .pointer("/Schema/properties")
            .or_else(|| def.get("properties"));
        let Some(Value::Object(props)) = props else {
            continue;
        };
        if !(props.contains_key("kind")
            && props.contains_key("apiVersion")
            && props.contains_key("metadata"))
        {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_owned();
        walk(&defs, name, &kind, &mut Vec::new(), &mut config, 0).map_err(fail)?;
    }
    Ok(config)
}

fn walk(
    defs: &serde_json::Map<String, Value>,
    type_name: &str,
    kind: &str,
    path: &mut Vec<String>,
    config: &mut TransformerConfig,
    depth: usize,
) -> Result<(), String> {
    if depth > 32 {
        return Ok(());
    }
    let Some(def) = defs.get(type_name) else {
        return Ok(());
    };
    let props = def
        .pointer("/Schema/properties")
        .or_else(|| def.get("properties"));
    let Some(Value::Object(props)) = props else {
        return Ok(());
    };
    for (prop, schema) in props {
        path.push(prop.clone());
        let fs = |p: &[String]| FieldSpec {
            kind: kind.to_owned(),
            path: p.join("/"),
            ..FieldSpec::default()
        };
        let ext = |k: &str| schema.get(k).and_then(Value::as_str);
        if ext("x-kubernetes-annotation").is_some() {
            merge_one(&mut config.common_annotations, fs(path))?;
        }
        if ext("x-kubernetes-label-selector").is_some() {
            merge_one(&mut config.common_labels, fs(path))?;
        }
        if ext("x-kubernetes-identity").is_some() {
            merge_one(&mut config.name_prefix, fs(path))?;
        }
        if let (Some(version), Some(ref_kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut p = path.clone();
            p.push(key.to_owned());
            let other = TransformerConfig {
                name_reference: vec![NameBackRefs {
                    version: version.to_owned(),
                    kind: ref_kind.to_owned(),
                    referrers: vec![fs(&p)],
                    ..NameBackRefs::default()
                }],
                ..TransformerConfig::default()
            };
            config.merge(&other)?;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let target = r.trim_start_matches("#/definitions/");
            walk(defs, target, kind, path, config, depth + 1)?;
        }
        path.pop();
    }
    Ok(())
}
