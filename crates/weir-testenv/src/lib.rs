//! Real components for Weir's tests, on loopback only.
//!
//! - [`ControlPlane`]: etcd, kube-apiserver and kube-controller-manager built from pinned Go
//!   modules by `tools/build`, with a generated CA and an admin kubeconfig. One per test binary
//!   ([`ControlPlane::shared`]), a fresh namespace per test ([`TestEnv`]).
//! - [`GitServer`]: bare repositories over HTTPS/HTTP with basic auth (nginx, fcgiwrap and
//!   `git http-backend`) and over SSH with key authentication (`sshd` and `git-shell`).
//!
//! There is no kubelet: pods never run. Tests that need an object to look ready patch its
//! status subresource ([`patch_status`]), as Flux's own tests do.
//!
//! Non-goals: any fake or mocked API server; anything listening beyond 127.0.0.1.

mod control_plane;
mod git;
pub mod pki;
pub mod process;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;

pub use control_plane::{ControlPlane, client_from_kubeconfig, stop_detached, tools_bin_dir};
pub use git::{GitServer, HTTP_USERNAME, git};
pub use process::Lifetime;

/// Why the test environment could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pinned binary has not been built.
    #[error("{binary} not found at {}: run tools/build (or .ci/run) first", path.display())]
    MissingBinary {
        /// Binary name.
        binary: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A process could not be started.
    #[error("could not start {name} ({})", program.display())]
    Spawn {
        /// What it is.
        name: String,
        /// The program.
        program: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A process exited while it should have been serving.
    #[error("{name} exited ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// What it is.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// Something did not become ready in time.
    #[error("{what} not ready after {seconds}s\n{detail}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        seconds: u64,
        /// Logs or last observed state.
        detail: String,
    },
    /// A helper command (`git`, `ssh-keygen`) failed.
    #[error("{command} failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// File I/O.
    #[error("I/O on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Pki(String),
    /// A kubeconfig could not be loaded.
    #[error("kubeconfig {}: {message}", path.display())]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A Kubernetes API call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    /// `up` was asked for a directory whose control plane is still running.
    #[error("a control plane from {} is still running: run `tools/cluster down {}` first", dir.display(), dir.display())]
    AlreadyRunning {
        /// The directory.
        dir: PathBuf,
    },
    /// The shared control plane (or a shared helper) failed earlier in this test binary.
    #[error("{0}")]
    Shared(String),
}

pub(crate) fn write_file(path: &Path, content: &str) -> Result<(), Error> {
    std::fs::write(path, content).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// A fresh directory `$TMPDIR/weir-testenv/<pid>-<what>` for this process. Directories left
/// by test processes that are gone are removed first, so killed runs do not pile up.
pub fn scratch_dir(what: &str) -> Result<PathBuf, Error> {
    let base = std::env::temp_dir().join("weir-testenv");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_string_lossy().split('-').next().map(str::to_owned);
            if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok())
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{}-{what}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// What one test gets: a client for the shared control plane and a namespace of its own,
/// deleted when this value is dropped.
pub struct TestEnv {
    /// An admin client bound to the test's runtime.
    pub client: kube::Client,
    /// The shared control plane.
    pub control_plane: &'static ControlPlane,
    namespace: String,
}

impl Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Connects to the shared control plane (starting it on first use) and creates a namespace
    /// named after `test` plus a unique suffix.
    pub async fn new(test: &str) -> Result<Self, Error> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let control_plane = ControlPlane::shared()?;
        let client = control_plane.client().await?;
        let prefix: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let namespace = format!(
            "{}-{}-{}",
            prefix.trim_matches('-'),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                labels: Some([("weir.dev/test".to_owned(), "true".to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .map_err(Error::Kube)?;
        Ok(TestEnv {
            client,
            control_plane,
            namespace,
        })
    }

    /// This test's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A namespaced API handle in this test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // The test's runtime may already be shutting down, so delete from a thread of our own
        // with a runtime and client of its own. Deletion is not awaited: the namespace
        // controller finishes it in the background.
        let namespace = self.namespace.clone();
        let kubeconfig = self.control_plane.kubeconfig_path();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = client_from_kubeconfig(&kubeconfig).await.ok()?;
                Api::<Namespace>::all(client)
                    .delete(&namespace, &DeleteParams::background())
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Polls `api.get(name)` every 100 ms until `done` holds for the object, or fails after
/// `timeout` with the last state seen (or the last error).
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    mut done: impl FnMut(&K) -> bool,
) -> Result<K, Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match api.get_opt(name).await {
            Ok(Some(object)) if done(&object) => return Ok(object),
            Ok(Some(object)) => format!("last seen: {object:?}"),
            Ok(None) => "not found".to_owned(),
            Err(err) => format!("last error: {err}"),
        };
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!("condition on {name}"),
                seconds: timeout.as_secs(),
                detail: last,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until `name` no longer exists.
pub async fn wait_deleted<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<(), Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(object)) if Instant::now() > deadline => {
                return Err(Error::Timeout {
                    what: format!("deletion of {name}"),
                    seconds: timeout.as_secs(),
                    detail: format!("still there: {object:?}"),
                });
            }
            Err(err) if Instant::now() > deadline => return Err(Error::Kube(err)),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Merges `status` into the object's status subresource, standing in for the controller or
/// kubelet that would write it on a real cluster.
pub async fn patch_status<K>(
    api: &Api<K>,
    name: &str,
    status: serde_json::Value,
) -> Result<K, Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await
    .map_err(Error::Kube)
}
