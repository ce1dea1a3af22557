//! Tests of the whole reader and writer against `kubectl kustomize` (v5.5.0) output.

mod conformance;
mod errors;
mod oracle;
