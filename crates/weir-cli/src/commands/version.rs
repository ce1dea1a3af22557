//! `weir version`: the version of this binary.

use std::io::Write as _;

use crate::Hinted;
use crate::args::{OutputFormat, VersionArgs};

pub(crate) fn run(args: &VersionArgs) -> Result<(), Hinted> {
    let version = env!("CARGO_PKG_VERSION");
    let mut out = std::io::stdout().lock();
    match args.output {
        OutputFormat::Text => writeln!(out, "weir {version}")?,
        OutputFormat::Json => writeln!(out, "{}", serde_json::json!({ "weir": version }))?,
    }
    Ok(())
}
