//! Weir's CustomResourceDefinitions against the real API server: Flux's own example manifests
//! are accepted unchanged, and what Flux refuses is refused.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod crds;
