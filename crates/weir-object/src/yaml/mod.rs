//! YAML as kustomize reads and writes it (placeholder: being written).
