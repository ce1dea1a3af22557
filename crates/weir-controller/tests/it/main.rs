//! The controller's parts against the real API server.

mod leader;
