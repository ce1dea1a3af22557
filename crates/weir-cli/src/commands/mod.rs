//! One module per command.

mod apply;
mod bootstrap;
mod check;
mod controller;
mod flux;
mod helm;
mod install;
mod kustomize;
mod version;

use crate::Hinted;
use crate::args::{BootstrapCommand, Cli, Command, HelmCommand, KustomizeCommand};

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> Result<(), Hinted> {
    match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Check(args) => check::run(&cli.global, &args).await,
        Command::Kustomize(KustomizeCommand::Build(args)) => kustomize::build(&args),
        Command::Helm(HelmCommand::Template(args)) => helm::template(&cli.global, &args),
        Command::Apply(args) => apply::apply(&cli.global, &args).await,
        Command::Delete(args) => apply::delete(&cli.global, &args).await,
        Command::Diff(args) => apply::diff(&cli.global, &args).await,
        Command::Get(args) => flux::get(&cli.global, &args).await,
        Command::Reconcile(args) => flux::reconcile(&cli.global, &args).await,
        Command::Suspend(args) => flux::suspend(&cli.global, &args, true).await,
        Command::Resume(args) => flux::suspend(&cli.global, &args, false).await,
        Command::Events(args) => flux::events(&cli.global, &args).await,
        Command::Tree(args) => flux::tree(&cli.global, &args).await,
        Command::Controller(args) => controller::run(&cli.global, &args).await,
        Command::Install(args) => install::run(&cli.global, &args).await,
        Command::Bootstrap(BootstrapCommand::Git(args)) => bootstrap::git(&cli.global, &args).await,
        Command::Uninstall(args) => bootstrap::uninstall(&cli.global, &args).await,
    }
}
