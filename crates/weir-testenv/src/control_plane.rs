//! etcd + kube-apiserver + kube-controller-manager on loopback ports.

use std::fs;

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::pki::{self, Authority};
use crate::process::{self, Lifetime, Process};
use crate::{Error, write_file};

/// Controllers run by kube-controller-manager: garbage collection and namespace deletion
/// (so ownerReferences and namespace deletion behave as on a real cluster), service accounts,
/// and the workload controllers that give Deployments, Jobs, ... a real status even though no
/// Pod ever runs (there is no kubelet).
const CONTROLLERS: &str = "garbage-collector-controller,namespace-controller,serviceaccount-controller,\
deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,job-controller,\
clusterrole-aggregation-controller";

/// Where the pinned binaries built by `tools/build` live: `$WEIR_TOOLS_BIN`, else the
/// workspace's `.cache/bin`.
pub fn tools_bin_dir() -> PathBuf {
    match std::env::var_os("WEIR_TOOLS_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/bin"),
    }
}

fn tool(name: &str) -> Result<PathBuf, Error> {
    let path = tools_bin_dir().join(name);
    if path.is_file() {
        // Canonical, so that `down` can match it against /proc/PID/exe.
        Ok(path.canonicalize().unwrap_or(path))
    } else {
        Err(Error::MissingBinary {
            binary: name.to_owned(),
            path,
        })
    }
}

/// A running control plane and the files that describe it.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    version: String,
    processes: Vec<Process>,
}

/// The name of the file in the control-plane directory that lists detached processes.
const PIDS_FILE: &str = "pids";

impl ControlPlane {
    /// Starts a control plane whose files live in `dir` (created if needed), and waits until
    /// the API server is ready and the controller manager has created the `default`
    /// ServiceAccount. Blocking; safe to call from inside an async runtime.
    pub fn start(dir: &Path, lifetime: Lifetime) -> Result<Self, Error> {
        let dir = dir.to_owned();
        std::thread::scope(|scope| {
            scope
                .spawn(|| start_blocking(&dir, lifetime))
                .join()
                .unwrap_or_else(|_| Err(Error::Shared("control-plane start-up panicked".into())))
        })
    }

    /// The control plane shared by every test of this test binary, started on first use in a
    /// fresh temporary directory. Its processes end with the test binary.
    pub fn shared() -> Result<&'static ControlPlane, Error> {
        static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let dir = crate::scratch_dir("control-plane").map_err(|e| e.to_string())?;
                ControlPlane::start(&dir, Lifetime::Attached).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::Shared(e.clone()))
    }

    /// The directory holding the kubeconfig, certificates, logs and etcd data.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/kubeconfig`: admin credentials (group `system:masters`), embedded.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The API server's URL, `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The PEM of the CA that signed the API server's certificate and the admin's.
    pub fn ca_pem(&self) -> Result<String, Error> {
        crate::read_file(&self.dir.join("pki/ca.crt"))
    }

    /// The version the API server reports (`v1.36.3`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A new admin client. Each async runtime needs its own: a client is bound to the runtime
    /// it was built in.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_from_kubeconfig(&self.kubeconfig_path()).await
    }

    /// Stops the processes this value owns (detached ones are stopped by [`stop_detached`]).
    pub fn stop(&mut self) {
        for p in self.processes.iter_mut().rev() {
            p.stop();
        }
    }
}

/// Builds a client from a kubeconfig file, with its current context.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .map_err(|e| Error::Kubeconfig {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    kube::Client::try_from(config).map_err(Error::Kube)
}

fn start_blocking(dir: &Path, lifetime: Lifetime) -> Result<ControlPlane, Error> {
    // A port chosen free can be taken by another process before the server binds it; try
    // again with new ports.
    let mut attempt = 1;
    loop {
        match start_once(dir, lifetime) {
            Err(err) if attempt < 3 && err.to_string().contains("address already in use") => {
                attempt += 1;
                let _ = fs::remove_dir_all(dir.join("etcd-data"));
            }
            other => return other,
        }
    }
}

fn start_once(dir: &Path, lifetime: Lifetime) -> Result<ControlPlane, Error> {
    let mut processes = Vec::new();
    match launch(dir, lifetime, &mut processes) {
        Ok((server, version)) => Ok(ControlPlane {
            dir: dir.to_owned(),
            server,
            version,
            processes,
        }),
        Err(err) => {
            // Leave nothing behind, detached or not.
            for p in processes.iter_mut().rev() {
                p.stop();
            }
            let _ = fs::remove_file(dir.join(PIDS_FILE));
            Err(err)
        }
    }
}

/// With `WEIR_TESTENV_AUDIT` set, the API server writes an audit log of every request (JSON
/// lines, metadata level) to `DIR/logs/audit.log`; the apply benchmark counts requests with
/// it. Off by default: it costs disk writes the tests do not need.
fn audit_flags(dir: &Path) -> Result<Vec<String>, Error> {
    if std::env::var_os("WEIR_TESTENV_AUDIT").is_none() {
        return Ok(Vec::new());
    }
    let policy = dir.join("audit-policy.yaml");
    write_file(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
    )?;
    Ok(vec![
        format!("--audit-policy-file={}", policy.display()),
        format!("--audit-log-path={}", dir.join("logs/audit.log").display()),
        "--audit-log-format=json".into(),
        "--audit-log-mode=blocking".into(),
    ])
}

/// Starts the three processes into `processes` and waits for them; returns the server URL and
/// version.
fn launch(
    dir: &Path,
    lifetime: Lifetime,
    processes: &mut Vec<Process>,
) -> Result<(String, String), Error> {
    let etcd_bin = tool("etcd")?;
    let apiserver_bin = tool("kube-apiserver")?;
    let kcm_bin = tool("kube-controller-manager")?;
    if lifetime == Lifetime::Detached && live_pids(dir).is_some() {
        return Err(Error::AlreadyRunning {
            dir: dir.to_owned(),
        });
    }

    for sub in ["pki", "logs", "apiserver"] {
        fs::create_dir_all(dir.join(sub)).map_err(|source| Error::Io {
            path: dir.join(sub),
            source,
        })?;
    }
    let pki_dir = dir.join("pki");
    let ca = Authority::new("weir-testenv-ca")?;
    let serving = ca.server(&["kubernetes", "kubernetes.default", "kubernetes.default.svc"])?;
    let admin = ca.client("weir-admin", &["system:masters"])?;
    write_file(&pki_dir.join("ca.crt"), &ca.cert_pem)?;
    write_file(&pki_dir.join("apiserver.crt"), &serving.cert_pem)?;
    write_file(&pki_dir.join("apiserver.key"), &serving.key_pem)?;
    write_file(&pki_dir.join("admin.crt"), &admin.cert_pem)?;
    write_file(&pki_dir.join("admin.key"), &admin.key_pem)?;
    let (sa_key, sa_pub) = pki::key_pair()?;
    write_file(&pki_dir.join("sa.key"), &sa_key)?;
    write_file(&pki_dir.join("sa.pub"), &sa_pub)?;
    let p = |name: &str| pki_dir.join(name).display().to_string();

    let ports = process::free_ports(3)?;
    let (etcd_port, peer_port, api_port) = (ports[0], ports[1], ports[2]);
    let server = format!("https://127.0.0.1:{api_port}");
    let kubeconfig = kubeconfig_yaml(&server, &ca.cert_pem, &admin.cert_pem, &admin.key_pem);
    write_file(&dir.join("kubeconfig"), &kubeconfig)?;

    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    processes.push(Process::start(
        "etcd",
        &etcd_bin,
        &[
            format!("--data-dir={}", dir.join("etcd-data").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            "--unsafe-no-fsync".into(),
            "--log-level=warn".into(),
        ],
        &[],
        &dir.join("logs/etcd.log"),
        lifetime,
    )?);

    processes.push(Process::start(
        "kube-apiserver",
        &apiserver_bin,
        &[
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--endpoint-reconciler-type=none".into(),
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", dir.join("apiserver").display()),
            format!("--tls-cert-file={}", p("apiserver.crt")),
            format!("--tls-private-key-file={}", p("apiserver.key")),
            format!("--client-ca-file={}", p("ca.crt")),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", p("sa.pub")),
            format!("--service-account-signing-key-file={}", p("sa.key")),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--allow-privileged=true".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--profiling=false".into(),
        ]
        .into_iter()
        .chain(audit_flags(dir)?)
        .collect::<Vec<String>>(),
        &[],
        &dir.join("logs/kube-apiserver.log"),
        lifetime,
    )?);

    let kubeconfig_path = dir.join("kubeconfig").display().to_string();
    processes.push(Process::start(
        "kube-controller-manager",
        &kcm_bin,
        &[
            format!("--kubeconfig={kubeconfig_path}"),
            "--leader-elect=false".into(),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            format!("--controllers={CONTROLLERS}"),
            format!("--service-account-private-key-file={}", p("sa.key")),
            format!("--root-ca-file={}", p("ca.crt")),
            "--use-service-account-credentials=false".into(),
            "--profiling=false".into(),
        ],
        &[],
        &dir.join("logs/kube-controller-manager.log"),
        lifetime,
    )?);

    if lifetime == Lifetime::Detached {
        let pids = processes
            .iter()
            .zip([&etcd_bin, &apiserver_bin, &kcm_bin])
            .map(|(process, bin)| format!("{} {}\n", process.pid(), bin.display()))
            .collect::<String>();
        write_file(&dir.join(PIDS_FILE), &pids)?;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
    let client = runtime.block_on(client_from_kubeconfig(&dir.join("kubeconfig")))?;
    let get = |path: &str| {
        runtime.block_on(async {
            let request = http::Request::get(path)
                .body(Vec::new())
                .map_err(|e| Error::Shared(e.to_string()))?;
            client.request_text(request).await.map_err(Error::Kube)
        })
    };
    process::wait_until(
        "kube-apiserver /readyz",
        Duration::from_secs(90),
        &mut processes[..2],
        || get("/readyz").is_ok(),
    )?;
    let sa_path = "/api/v1/namespaces/default/serviceaccounts/default";
    process::wait_until(
        "kube-controller-manager (the default ServiceAccount)",
        Duration::from_secs(60),
        processes,
        || get(sa_path).is_ok(),
    )?;
    let version = get("/version")
        .ok()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
        .and_then(|v| v["gitVersion"].as_str().map(str::to_owned))
        .unwrap_or_default();

    Ok((server, version))
}

fn kubeconfig_yaml(server: &str, ca: &str, cert: &str, key: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: weir-testenv
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: weir-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: weir-testenv
  context:
    cluster: weir-testenv
    user: weir-admin
    namespace: default
current-context: weir-testenv
",
        ca = b64(ca),
        cert = b64(cert),
        key = b64(key),
    )
}

/// The processes listed in `DIR/pids` that are still alive, with the program each was.
fn live_pids(dir: &Path) -> Option<Vec<(i32, String)>> {
    let text = fs::read_to_string(dir.join(PIDS_FILE)).ok()?;
    let live: Vec<(i32, String)> = text
        .lines()
        .filter_map(|line| {
            let (pid, program) = line.split_once(' ')?;
            let pid: i32 = pid.parse().ok()?;
            // Only a process still running the program we started counts: pids are reused.
            let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            (exe == Path::new(program)).then(|| (pid, program.to_owned()))
        })
        .collect();
    (!live.is_empty()).then_some(live)
}

/// Stops the processes a detached [`ControlPlane::start`] recorded in `DIR/pids`: SIGTERM,
/// then SIGKILL after ten seconds. Processes that are not the recorded programs any more are
/// left alone. Returns how many were stopped.
pub fn stop_detached(dir: &Path) -> Result<usize, Error> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let Some(live) = live_pids(dir) else {
        let _ = fs::remove_file(dir.join(PIDS_FILE));
        return Ok(0);
    };
    // Reverse start order: the controller manager first, etcd last.
    for (pid, _) in live.iter().rev() {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while live_pids(dir).is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(still) = live_pids(dir) {
        for (pid, _) in still {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    fs::remove_file(dir.join(PIDS_FILE)).map_err(|source| Error::Io {
        path: dir.join(PIDS_FILE),
        source,
    })?;
    Ok(live.len())
}
