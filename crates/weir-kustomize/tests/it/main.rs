//! The build engine end to end on real directories: bad input gives clear errors naming the
//! file, never a panic, never a read outside the root.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod bad_input;
mod builds;
mod differential;
