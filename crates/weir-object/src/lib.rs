//! Kubernetes objects as Weir handles them before they reach a cluster.
//!
//! This crate knows how to name an object ([`ObjectId`], in the same shape as Flux's inventory
//! entries), and how to decode multi-document YAML into [`Object`]s while remembering where each
//! came from ([`Source`]), so that every later error can point at a file and a line.
//!
//! Non-goals: talking to a cluster, schema validation, and rendering YAML back out (the
//! kustomize engine owns output formatting).

mod decode;
mod id;

pub use decode::{Error, Object, Source, decode_documents};
pub use id::{GroupKind, ObjectId, ParseIdError};
