//! Every environment variable `weir` reads, declared once.

/// Log filter in `tracing` syntax (`info`, `weir=debug,kube=info`); overrides `-v`.
pub const WEIR_LOG: &str = "WEIR_LOG";

/// Kubeconfig search path, as for `kubectl` (colon-separated); used when `--kubeconfig` is not
/// given.
pub const KUBECONFIG: &str = "KUBECONFIG";
