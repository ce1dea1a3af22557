//! Weir's source reconcilers and their artifact storage.
//!
//! A GitRepository is fetched (shallow, into a cache that makes an unchanged remote cost one
//! round trip), archived as a reproducible tarball with Flux's ignore rules, and recorded in
//! its status as Flux's source-controller does, so Kustomizations, Weir's or Flux's, can use it.

pub mod finalizer;
pub mod git_repository;
pub mod helm_chart;
pub mod helm_index;
pub mod helm_repository;
mod oci;
pub mod oci_repository;
pub mod reconcile;
pub mod storage;

pub use storage::Storage;
