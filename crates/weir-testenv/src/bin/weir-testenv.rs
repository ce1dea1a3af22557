//! `weir-testenv cluster up DIR` / `cluster down DIR`: a local control plane that outlives the
//! command, for people and scripts (`tools/cluster` wraps it).

use std::path::PathBuf;
use std::process::ExitCode;

use weir_testenv::{ControlPlane, Lifetime, stop_detached};

const USAGE: &str = "usage: weir-testenv cluster up DIR | weir-testenv cluster down DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (verb, dir) = match args.as_slice() {
        [cluster, verb, dir] if cluster == "cluster" => (verb.as_str(), PathBuf::from(dir)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match verb {
        "up" => ControlPlane::start(&dir, Lifetime::Detached).map(|cp| {
            eprintln!(
                "control plane {} ready at {}\nkubeconfig: {}",
                cp.version(),
                cp.server(),
                cp.kubeconfig_path().display()
            );
        }),
        "down" => stop_detached(&dir).map(|n| eprintln!("stopped {n} processes")),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
