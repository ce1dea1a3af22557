//! `weir helm template`: what `helm template` prints, from Weir's own renderer.

use std::io::Write as _;

use anyhow::Context as _;

use crate::Hinted;
use crate::args::{GlobalArgs, HelmTemplateArgs};

pub(crate) fn template(global: &GlobalArgs, args: &HelmTemplateArgs) -> Result<(), Hinted> {
    let chart = weir_helm::load_dir(&args.chart)?;
    // Helm's order: files merged, then --set-json, --set, --set-string, --set-file and
    // --set-literal applied onto them.
    let mut values = serde_json::json!({});
    for file in &args.values {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading values file {}", file.display()))?;
        let docs = weir_object::yaml::parse_documents(&file.display().to_string(), &text)?;
        if let Some(doc) = docs.into_iter().next() {
            weir_helm::merge_values(&mut values, &doc.value);
        }
    }
    for expr in &args.set_json {
        weir_helm::parse_set_json_into(expr, &mut values)?;
    }
    for expr in &args.set {
        weir_helm::parse_set_into(expr, true, &mut values)?;
    }
    for expr in &args.set_string {
        weir_helm::parse_set_into(expr, false, &mut values)?;
    }
    for expr in &args.set_file {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|e| {
                weir_helm::Error::Values(format!("--set-file: cannot read {path}: {e}"))
            })
        };
        weir_helm::parse_set_file_into(expr, read, &mut values)?;
    }
    for expr in &args.set_literal {
        weir_helm::parse_set_literal_into(expr, &mut values)?;
    }
    let options = weir_helm::Options {
        release: args.release.clone(),
        namespace: global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        kube_version: args.kube_version.clone(),
        api_versions: args.api_versions.clone(),
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        is_upgrade: args.is_upgrade,
        values: vec![values],
    };
    let out = weir_helm::template(&chart, &options)?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}
