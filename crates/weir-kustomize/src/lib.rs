//! A kustomize-compatible build engine.
//!
//! Pure: files in (through a [`fs::FileSystem`]), objects and YAML out; no network, no
//! Kubernetes client. The output aims to be byte-identical to `kustomize build` v5.5.
//!
//! Non-goals (each gives a clear "not supported" error): `helmCharts`, remote resources (URLs,
//! git), exec and Go plugins.

pub mod smp;
