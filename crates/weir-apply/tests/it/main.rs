//! The apply engine against the real kube-apiserver, etcd and kube-controller-manager.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod apply;
mod replace;
