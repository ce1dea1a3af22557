//! `weir-testenv cluster up DIR` / `cluster down DIR`: a local control plane that outlives the
//! command, for people and scripts (`tools/cluster` wraps it).
//!
//! `weir-testenv git-server DIR FILES`: the test Git server (HTTP, HTTPS, SSH) serving one
//! repository `fleet` whose first commit holds the files under FILES; writes `DIR/git.env`
//! (URLs, CA file, credentials, head commit) and serves until killed. For benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use weir_testenv::{ControlPlane, Lifetime, stop_detached};

const USAGE: &str = "usage: weir-testenv cluster up DIR | weir-testenv cluster down DIR | weir-testenv git-server DIR FILES";

/// Serves `files` as repository `fleet` until the process is killed.
fn git_server(
    dir: &std::path::Path,
    files: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let server = weir_testenv::GitServer::start()?;
    server.create_repo("fleet")?;
    let mut contents = Vec::new();
    collect(files, files, &mut contents)?;
    let refs: Vec<(&str, &str)> = contents
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let head = server.commit_files("fleet", &refs, &[], "fleet")?;
    std::fs::create_dir_all(dir)?;
    let env = format!(
        "HTTP_URL={}\nHTTPS_URL={}\nCA_FILE={}\nUSERNAME={}\nPASSWORD={}\nHEAD={head}\n",
        server.http_url("fleet"),
        server.https_url("fleet"),
        server.ca_path().display(),
        server.username(),
        server.password(),
    );
    std::fs::write(dir.join("git.env.tmp"), env)?;
    std::fs::rename(dir.join("git.env.tmp"), dir.join("git.env"))?;
    eprintln!(
        "serving {} files at {}",
        contents.len(),
        server.http_url("fleet")
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn collect(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((relative, std::fs::read_to_string(&path)?));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, dir, files] = args.as_slice()
        && command == "git-server"
    {
        return match git_server(std::path::Path::new(dir), std::path::Path::new(files)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
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
