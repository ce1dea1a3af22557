//! The `weir` binary end to end, against the real API server from `weir-testenv`.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod apply;
mod check;
mod controller;
mod flux_cli;
mod helm;
