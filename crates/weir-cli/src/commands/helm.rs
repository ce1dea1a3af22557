//! `weir helm template`: what `helm template` prints, from Weir's own renderer.

use std::io::Write as _;

use anyhow::Context as _;

use crate::Hinted;
use crate::args::{GlobalArgs, HelmTemplateArgs};

pub(crate) fn template(global: &GlobalArgs, args: &HelmTemplateArgs) -> Result<(), Hinted> {
    let chart = weir_helm::load_dir(&args.chart)?;
    let mut values = Vec::new();
    for file in &args.values {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading values file {}", file.display()))?;
        let docs = weir_object::yaml::parse_documents(&file.display().to_string(), &text)?;
        values.extend(docs.into_iter().map(|d| d.value).take(1));
    }
    // Helm applies --set before --set-string.
    for expr in &args.set {
        values.push(weir_helm::parse_set(expr, true)?);
    }
    for expr in &args.set_string {
        values.push(weir_helm::parse_set(expr, false)?);
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
        values,
    };
    let out = weir_helm::template(&chart, &options)?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}
