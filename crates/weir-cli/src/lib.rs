//! The `weir` command line.
//!
//! Arguments are parsed into [`args::Cli`], each command lives in its own module under
//! `commands/`, and [`main`] turns failures into a message on stderr with the cause chain and a
//! `hint:` line, and an exit code. Standard output carries only a command's result.
//!
//! Non-goals: reconciling anything (that is the controller's crate); this crate never depends
//! on `weir-controller`.

pub mod args;
mod commands;
pub mod env;
mod kubeconfig;
mod progress;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

pub use kubeconfig::ConnectError;

/// An error with an optional hint telling the user what to do next.
#[derive(Debug)]
pub struct Hinted {
    /// What went wrong.
    pub error: anyhow::Error,
    /// What to try.
    pub hint: Option<String>,
}

impl<E: Into<anyhow::Error>> From<E> for Hinted {
    fn from(error: E) -> Self {
        let error = error.into();
        let hint = error
            .chain()
            .find_map(|e| e.downcast_ref::<ConnectError>())
            .map(|e| e.hint().to_owned());
        Hinted { error, hint }
    }
}

/// Parses the process's arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match &cli.command {
        args::Command::Controller(c) => {
            init_controller_logging(cli.global.verbose, &c.log_level, c.log_encoding)
        }
        _ => init_logging(cli.global.verbose),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return report(err.into()),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(hinted) => report(hinted),
    }
}

/// `weir diff` found differences: exit status 1 with nothing more to say.
#[derive(Debug, thiserror::Error)]
#[error("differences found")]
pub struct DifferencesFound;

fn report(hinted: Hinted) -> ExitCode {
    if hinted.error.downcast_ref::<DifferencesFound>().is_some() {
        return ExitCode::FAILURE;
    }
    // A closed pipe (`weir ... | head`) is not a failure.
    if hinted.error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", hinted.error);
    for cause in hinted.error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    if let Some(hint) = hinted.hint {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    ExitCode::FAILURE
}

/// The controller logs what it does at info level, as JSON lines by default (for log
/// collectors) or for people with `--log-encoding console`.
fn init_controller_logging(verbose: u8, level: &str, encoding: args::LogEncoding) {
    let default = match verbose {
        0 | 1 => format!("{level},kube_client=warn,kube_runtime=warn"),
        2 => "debug".to_owned(),
        _ => "trace".to_owned(),
    };
    let filter = std::env::var(env::WEIR_LOG).unwrap_or(default);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    let _ = match encoding {
        args::LogEncoding::Json => builder.json().try_init(),
        args::LogEncoding::Console => builder.try_init(),
    };
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // kube logs failed requests at error level; the command reports them itself.
        0 => "warn,kube_client=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = std::env::var(env::WEIR_LOG).unwrap_or_else(|_| default.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .try_init();
}
