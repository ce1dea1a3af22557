//! The test environment's own tests: the real control plane and the real Git servers behave as
//! Weir's tests will rely on.

mod control_plane;
mod git_servers;
