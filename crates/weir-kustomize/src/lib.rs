//! A kustomize-compatible build engine.
//!
//! Pure: files in (through a [`FileSystem`]), objects and YAML out; no network, no Kubernetes
//! client. The output aims to be byte-identical to `kustomize build` v5.5; see
//! `docs/kustomize.md` for what is supported.
//!
//! Non-goals (each gives a clear "not supported" error): `helmCharts`, remote resources (URLs,
//! git), exec, Go and KRM-function plugins.

mod build;
mod config;
mod crds;
mod fieldspec;
pub mod flux;
pub mod fs;
mod generate;
mod loader;
mod nameref;
mod origin;
mod patch;
mod path;
mod plugins;
mod replacement;
pub mod resid;
mod resource;
mod selector;
pub mod smp;
mod sort;
mod transform;
pub mod types;
mod vars;
mod yamlio;

use std::path::Path;

pub use config::TransformerConfig;
pub use fs::{DiskFs, FileSystem, MemFs, RootedFs};
pub use loader::LoadRestrictor;
pub use resource::{ResMap, Resource};

/// Why a build failed. Every variant names the file or object it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read (the cause is the error's source).
    #[error("cannot read {path}")]
    Io {
        /// The file, as the user would name it.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The directory has no kustomization file.
    #[error(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{dir}'"
    )]
    MissingKustomization {
        /// The directory.
        dir: String,
    },
    /// The kustomization file is malformed or has unknown fields.
    #[error("{path}: invalid kustomization: {message}")]
    InvalidKustomization {
        /// The kustomization file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A file outside the kustomization's directory, refused by the load restrictor.
    #[error(
        "security; file '{path}' is not in or below '{root}' (use --load-restrictor LoadRestrictionsNone to allow it)"
    )]
    Restricted {
        /// The file.
        path: String,
        /// The kustomization directory.
        root: String,
    },
    /// Two resources with one id, or a generator merge with nothing to merge into.
    #[error("{origin}: {message}")]
    Conflict {
        /// What clashed.
        message: String,
        /// Where the offending resource came from.
        origin: String,
    },
    /// A feature Weir does not implement.
    #[error("{path}: {feature} is not supported by Weir")]
    Unsupported {
        /// Where it was asked for.
        path: String,
        /// The feature.
        feature: String,
    },
    /// A YAML file could not be parsed.
    #[error(transparent)]
    Yaml(weir_object::yaml::Error),
    /// Anything else, with what was being done.
    #[error("{context}: {message}")]
    Build {
        /// What was being processed (file, object, field).
        context: String,
        /// What went wrong.
        message: String,
    },
}

/// Output order when the kustomization has no `sortOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reorder {
    /// kustomize's legacy order (Namespaces first, webhooks last, ...): `kustomize build`'s
    /// default.
    #[default]
    Legacy,
    /// The order in which resources were read.
    None,
}

/// How to build.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Whether files outside a kustomization's directory may be read.
    pub load_restrictor: LoadRestrictor,
    /// Output order.
    pub reorder: Reorder,
    /// Whether an `openapi` schema adds to the built-in Kubernetes schema (Flux) rather than
    /// replacing it when declared at the top (`kustomize build`).
    pub layer_openapi: bool,
}

impl Options {
    /// The options Flux's kustomize-controller builds with: no load restriction (the
    /// filesystem itself is confined to the source artifact), legacy order, `openapi`
    /// schemas layered over the built-in one.
    pub fn flux() -> Self {
        Options {
            load_restrictor: LoadRestrictor::None,
            reorder: Reorder::Legacy,
            layer_openapi: true,
        }
    }
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct Output {
    /// The objects, in output order.
    pub resources: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl Output {
    /// The multi-document YAML `kustomize build` prints.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(&yamlio::emit(&serde_json::Value::Object(r.clone())));
        }
        out
    }
}

/// Builds the kustomization in `dir` (read through `fs`).
pub fn build(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<Output, Error> {
    let schema = std::cell::RefCell::new(loader::SchemaState {
        layer: options.layer_openapi,
        ..loader::SchemaState::default()
    });
    let ldr = loader::Loader::root(fs, dir, options.load_restrictor, &schema)?;
    let (mut resources, sort_options) = build::build_top(ldr)?;
    sort::apply(
        &mut resources,
        sort_options.as_ref(),
        options.reorder == Reorder::Legacy,
    )?;
    Ok(Output {
        resources: resources.list.into_iter().map(|r| r.obj).collect(),
    })
}
