//! The Flux-compatible API Weir serves: CustomResourceDefinitions for
//! `source.toolkit.fluxcd.io/v1` GitRepository, `kustomize.toolkit.fluxcd.io/v1` Kustomization
//! and `notification.toolkit.fluxcd.io/v1` Receiver, with Flux v2.9's fields, defaults, enums and
//! validation, and the well-known names (annotations, labels, finalizer, condition reasons).

pub mod crds;
pub mod duration;
pub mod schema;
pub mod status;

/// Annotation whose change asks for an immediate reconcile (`flux reconcile` sets it).
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The finalizer Flux's controllers put on the objects they reconcile.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// Label naming the Kustomization that applied an object.
pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";

/// Label naming the namespace of the Kustomization that applied an object.
pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
