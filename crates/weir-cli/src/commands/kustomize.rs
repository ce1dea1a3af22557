//! `weir kustomize build DIR`: what `kustomize build` prints, from Weir's own engine.

use std::io::Write as _;

use anyhow::Context as _;

use crate::Hinted;
use crate::args::{KustomizeBuildArgs, LoadRestrictorArg, ReorderArg};

pub(crate) fn build(args: &KustomizeBuildArgs) -> Result<(), Hinted> {
    if args.reorder.is_some() {
        eprintln!(
            "warning: --reorder is deprecated (as in kustomize); prefer sortOptions in the kustomization"
        );
    }
    let options = weir_kustomize::Options {
        load_restrictor: match args.load_restrictor {
            LoadRestrictorArg::LoadRestrictionsRootOnly => weir_kustomize::LoadRestrictor::RootOnly,
            LoadRestrictorArg::LoadRestrictionsNone => weir_kustomize::LoadRestrictor::None,
        },
        reorder: match args.reorder {
            Some(ReorderArg::None) => weir_kustomize::Reorder::None,
            _ => weir_kustomize::Reorder::Legacy,
        },
        layer_openapi: false,
    };
    let output = weir_kustomize::build(&weir_kustomize::DiskFs, &args.dir, &options).map_err(|e| {
        let hint = match &e {
            weir_kustomize::Error::Restricted { .. } => {
                Some("move the file under the kustomization directory, or pass --load-restrictor LoadRestrictionsNone".to_owned())
            }
            weir_kustomize::Error::MissingKustomization { .. } => {
                Some("point at a directory holding a kustomization.yaml".to_owned())
            }
            _ => None,
        };
        Hinted {
            error: anyhow::Error::new(e).context(format!("building {}", args.dir.display())),
            hint,
        }
    })?;
    let yaml = output.to_yaml();
    match &args.output {
        Some(path) => {
            std::fs::write(path, yaml).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(yaml.as_bytes())?,
    }
    Ok(())
}
