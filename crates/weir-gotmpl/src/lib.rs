//! Go's `text/template` for Weir's Helm renderer.
//!
//! - [`parse`]: the template language (actions, pipelines, variables, `if`/`else if`/`else`,
//!   `range` over lists, maps and integers with `else`, `with`, `define`/`template`/`block`,
//!   `break`/`continue`, `{{-`/`-}}` trimming, comments), with errors naming the template,
//!   line and column.
//! - [`exec`]: execution with Go's semantics: truth, field access on maps with
//!   `missingkey=zero` (Helm's setting: a missing key is nil and prints `<no value>`), errors
//!   on fields of nil, Go's comparison rules, and the built-in functions.
//! - [`print`]: Go's `fmt` printing (`%v` of maps, slices, nil and floats such as `1e+06`;
//!   `Sprintf` verbs and their error notes).
//!
//! - [`sprig`]: the Sprig v3 functions charts use most, and Helm's `toYaml`, `toJson`,
//!   `fromJson`, `required` and `fail`.

mod crypto;
pub mod exec;
pub mod parse;
pub mod print;
pub mod semver;
pub mod sprig;
mod toml;
pub mod value;

pub use exec::{Exec, ExecFunc, Func, Templates};
pub use value::{JsonLike, Object, Value};

/// Why a template could not be parsed or executed, in Go's wording
/// (`template: NAME:LINE:COL: ...`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The template text is invalid.
    #[error("template: {template}:{line}: {message}")]
    Parse {
        /// The template's name (its file, for Helm).
        template: String,
        /// 1-based line.
        line: usize,
        /// 0-based byte column (not shown, as in Go).
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// Execution failed.
    #[error("template: {template}:{line}:{col}: executing \"{template}\" at <{at}>: {message}")]
    Exec {
        /// The template being executed.
        template: String,
        /// 1-based line.
        line: usize,
        /// 0-based byte column.
        col: usize,
        /// The pipeline, as written.
        at: String,
        /// What went wrong.
        message: String,
    },
    /// No template by that name.
    #[error("template: no template {0:?} associated with template")]
    NoTemplate(String),
}

#[cfg(test)]
mod tests;
