//! Weir's apply engine: objects in, a [`ChangeSet`] out.
//!
//! Modelled on Flux's `fluxcd/pkg/ssa`, so that a Kustomization reconciled by Weir changes a
//! cluster exactly as Flux would:
//!
//! - [`stage`] splits objects into the stages they must be applied in (cluster-wide definitions
//!   such as CustomResourceDefinitions and Namespaces first, then everything else in kustomize's
//!   legacy kind order);
//! - [`Manager::apply_all_staged`] applies each stage with server-side apply, after a
//!   server-side dry run of the whole stage, so a stage with one rejected object writes nothing;
//!   it reports what happened to each object in a [`ChangeSet`];
//! - [`Inventory`] records what was applied in Flux's `status.inventory` format and
//!   [`Inventory::diff`] says what to prune, in a safe deletion order.
//!
//! - [`Manager::prune`] deletes what left the inventory, [`Manager::wait`] waits for kstatus
//!   health, and [`takeover`] hands fields set with `kubectl` to Weir so they are reverted.
//!
//! Non-goals: rendering objects (`weir-kustomize`, `weir-helm`); writing any Flux status
//! (`weir-controller`).

mod apply;
mod changeset;
mod inventory;
pub mod stage;
pub mod store;
pub mod takeover;

pub use apply::{
    CustomHealth, Difference, Error, FORCE_ANNOTATION, Manager, Options, PRUNE_ANNOTATION,
    Progress, RECONCILE_ANNOTATION, Rejection, SSA_ANNOTATION,
};
pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use inventory::{Entry, Inventory};
