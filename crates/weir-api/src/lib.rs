//! The Flux-compatible API Weir serves: CustomResourceDefinitions for
//! `source.toolkit.fluxcd.io/v1` GitRepository, HelmRepository, HelmChart and OCIRepository,
//! `kustomize.toolkit.fluxcd.io/v1` Kustomization, `helm.toolkit.fluxcd.io/v2` HelmRelease and
//! `notification.toolkit.fluxcd.io/v1` Receiver, with Flux v2.9's fields, defaults, enums and
//! validation, and the well-known names (annotations, labels, finalizer, condition reasons).
//!
//! Non-goals: I/O. This crate builds data (schemas, names, conditions) and never talks to a
//! cluster.

pub mod crds;
pub mod duration;
pub mod schema;
pub mod status;

/// Annotation whose change asks for an immediate reconcile (`flux reconcile` sets it).
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// HelmRelease annotation asking for a one-off install or upgrade (`flux reconcile hr --force`);
/// echoed in `status.lastHandledForceAt`.
pub const FORCE_REQUESTED_AT: &str = "reconcile.fluxcd.io/forceAt";

/// HelmRelease annotation asking to reset the failure counts (`flux reconcile hr --reset`);
/// echoed in `status.lastHandledResetAt`.
pub const RESET_REQUESTED_AT: &str = "reconcile.fluxcd.io/resetAt";

/// The finalizer Flux's controllers put on the objects they reconcile.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Label naming the Kustomization that applied an object.
pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";

/// Label naming the namespace of the Kustomization that applied an object.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
