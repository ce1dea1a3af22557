//! Kubernetes objects as Weir handles them before they reach a cluster.
//!
//! This crate knows how to name an object ([`ObjectId`], in the same shape as Flux's inventory
//! entries), and how to decode multi-document YAML into [`Object`]s while remembering where each
//! came from ([`Source`]), so that every later error can point at a file and a line.
//!
//! It also reads and writes YAML exactly as kustomize and `kubectl` do ([`yaml`]): go-yaml
//! v3's scalar resolution on the way in, go-yaml v2's emitter (sorted keys, quoting, line
//! folding) on the way out, so Weir's output is byte-identical to kustomize's.
//!
//! Non-goals: talking to a cluster and schema validation.

mod decode;
mod id;
pub mod order;
pub mod yaml;

pub use decode::{Error, Object, Source, decode_documents};
pub use id::{GroupKind, ObjectId, ParseIdError};
