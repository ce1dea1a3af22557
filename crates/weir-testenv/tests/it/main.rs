//! The test environment's own tests: the real control plane and the real Git servers behave as
//! Weir's tests will rely on.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod control_plane;
mod git_servers;
