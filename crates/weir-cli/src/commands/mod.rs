//! One module per command.

mod apply;
mod check;
mod controller;
mod install;
mod kustomize;
mod version;

use crate::Hinted;
use crate::args::{Cli, Command, KustomizeCommand};

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> Result<(), Hinted> {
    match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Check(args) => check::run(&cli.global, &args).await,
        Command::Kustomize(KustomizeCommand::Build(args)) => kustomize::build(&args),
        Command::Apply(args) => apply::apply(&cli.global, &args).await,
        Command::Delete(args) => apply::delete(&cli.global, &args).await,
        Command::Diff(args) => apply::diff(&cli.global, &args).await,
        Command::Controller(args) => controller::run(&cli.global, &args).await,
        Command::Install(args) => install::run(&cli.global, &args).await,
    }
}
