//! Child processes owned by the test environment.
//!
//! Processes started for tests must not outlive the test binary, even when it is killed.
//! They run under `setpriv --pdeathsig KILL`, which makes the kernel kill them when the thread
//! that forked them ends. Test threads end all the time, so every such process is forked by
//! one dedicated thread that lives as long as the process.

use std::fs::File;
use std::io::{self, BufRead};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::Error;

/// How long a started process may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Killed when this process exits (tests).
    Attached,
    /// Survives this process, in its own process group (`weir-testenv cluster up`).
    Detached,
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The long-lived thread that forks attached processes.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("weir-testenv-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static, so the loop above only ends at exit; parking
                // keeps this thread (and so its children) alive in any case.
                loop {
                    std::thread::park();
                }
            })
            .expect("the OS can start one thread at test start-up");
        Mutex::new(tx)
    })
}

/// A running child process with its output going to a log file. Killed on drop unless it
/// was started detached.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    lifetime: Lifetime,
}

impl Process {
    /// Starts `program` with `args`, output appended to `log`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, &str)],
        log: &Path,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let io_err = |source| Error::Io {
            path: log.to_owned(),
            source,
        };
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io_err)?;
        let err = out.try_clone().map_err(io_err)?;
        let mut command = match lifetime {
            Lifetime::Attached => {
                let mut c = Command::new("setpriv");
                c.arg("--pdeathsig").arg("KILL").arg("--").arg(program);
                c
            }
            Lifetime::Detached => {
                let mut c = Command::new(program);
                std::os::unix::process::CommandExt::process_group(&mut c, 0);
                c
            }
        };
        command
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let spawned = match lifetime {
            Lifetime::Detached => command.spawn(),
            Lifetime::Attached => {
                let (tx, rx) = mpsc::channel();
                spawner()
                    .lock()
                    .map_err(|_| Error::Shared("the process spawner thread died".into()))?
                    .send((command, tx))
                    .map_err(|_| Error::Shared("the process spawner thread died".into()))?;
                rx.recv()
                    .map_err(|_| Error::Shared("the process spawner thread died".into()))?
            }
        };
        let child = spawned.map_err(|source| Error::Spawn {
            name: name.to_owned(),
            program: program.to_owned(),
            source,
        })?;
        Ok(Process {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_owned(),
            lifetime,
        })
    }

    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails with the tail of the log when the process has already exited.
    pub fn check_running(&mut self) -> Result<(), Error> {
        let Some(child) = self.child.as_mut() else {
            return Err(self.exited_error("was stopped"));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited_error(&status.to_string())),
            Err(source) => Err(Error::Io {
                path: self.log.clone(),
                source,
            }),
        }
    }

    fn exited_error(&self, status: &str) -> Error {
        Error::Exited {
            name: self.name.clone(),
            status: status.to_owned(),
            log: self.log.clone(),
            tail: log_tail(&self.log, 15),
        }
    }

    /// Kills the process and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.lifetime == Lifetime::Attached {
            self.stop();
        }
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(file) = File::open(path) else {
        return String::from("(no log)");
    };
    let all: Vec<String> = io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|source| Error::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}

/// `n` distinct TCP ports on 127.0.0.1 that were free a moment ago (all held open together
/// while choosing, so they differ from each other).
pub fn free_ports(n: usize) -> Result<Vec<u16>, Error> {
    let io = |source| Error::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    };
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)).map_err(io))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()).map_err(io))
        .collect()
}

/// Polls `ready` every 100 ms until it returns true, a process exits, or `timeout` passes.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    processes: &mut [Process],
    mut ready: impl FnMut() -> bool,
) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        for p in processes.iter_mut() {
            p.check_running()?;
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                detail: processes
                    .iter()
                    .map(|p| {
                        format!(
                            "{} log {}:\n{}",
                            p.name,
                            p.log.display(),
                            log_tail(&p.log, 10)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
