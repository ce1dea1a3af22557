//! The `weir` binary end to end, against the real API server from `weir-testenv`.

mod check;
