//! Git servers on loopback: smart HTTP(S) through nginx + fcgiwrap + `git http-backend` with
//! basic auth, and SSH through Debian's `sshd` with key authentication and `git-shell`.
//!
//! Tests may seed repositories with the `git` CLI ([`GitServer::commit_files`]); the product
//! itself never runs `git`.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::pki::Authority;
use crate::process::{self, Lifetime, Process};
use crate::{Error, write_file};

const GIT_HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";

/// A running pair of Git servers sharing one directory of bare repositories. Stopped on drop.
#[derive(Debug)]
pub struct GitServer {
    dir: tempfile::TempDir,
    processes: Vec<Process>,
    https_port: u16,
    http_port: u16,
    ssh_port: u16,
    registry_port: u16,
    ssh_user: String,
    password: String,
    known_hosts: String,
}

/// The user name the HTTP front accepts.
pub const HTTP_USERNAME: &str = "weir";

fn run(command: &mut Command) -> Result<String, Error> {
    let output = command.output().map_err(|source| Error::Spawn {
        name: format!("{command:?}"),
        program: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(Error::Command {
            command: format!("{command:?}"),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// A `git` command isolated from the user's and the system's configuration.
pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Weir Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@weir.invalid")
        .env("GIT_COMMITTER_NAME", "Weir Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@weir.invalid");
    c
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    let mut f = fs::File::open("/dev/urandom").map_err(|source| Error::Io {
        path: "/dev/urandom".into(),
        source,
    })?;
    std::io::Read::read_exact(&mut f, &mut buf).map_err(|source| Error::Io {
        path: "/dev/urandom".into(),
        source,
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn wait_for_port(what: &str, port: u16, process: &mut Process) -> Result<(), Error> {
    process::wait_until(
        what,
        Duration::from_secs(20),
        std::slice::from_mut(process),
        || TcpStream::connect(("127.0.0.1", port)).is_ok(),
    )
}

impl GitServer {
    /// Starts nginx (HTTPS and plain HTTP, basic auth), fcgiwrap and sshd on free loopback
    /// ports, with a fresh CA, password, host key and client key.
    pub fn start() -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("weir-git-")
            .tempdir()
            .map_err(|source| Error::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let root = dir.path().to_owned();
        for sub in ["repos", "work", "logs", "nginx/tmp", "ssh", "charts"] {
            fs::create_dir_all(root.join(sub)).map_err(|source| Error::Io {
                path: root.join(sub),
                source,
            })?;
        }
        for needed in [
            "/usr/sbin/nginx",
            "/usr/sbin/fcgiwrap",
            "/usr/sbin/sshd",
            GIT_HTTP_BACKEND,
        ] {
            if !Path::new(needed).exists() {
                return Err(Error::MissingBinary {
                    binary: needed.to_owned(),
                    path: PathBuf::from(needed),
                });
            }
        }

        // TLS material and the password file nginx checks ({PLAIN} is nginx's clear-text scheme).
        let ca = Authority::new("weir-git-ca")?;
        let serving = ca.server(&[])?;
        write_file(&root.join("ca.crt"), &ca.cert_pem)?;
        write_file(&root.join("nginx/tls.crt"), &serving.cert_pem)?;
        write_file(&root.join("nginx/tls.key"), &serving.key_pem)?;
        let password = random_hex(12)?;
        write_file(
            &root.join("nginx/htpasswd"),
            &format!("{HTTP_USERNAME}:{{PLAIN}}{password}\n"),
        )?;

        let socket = root.join("fcgiwrap.sock");
        let ports = process::free_ports(4)?;
        let (https_port, http_port, ssh_port, registry_port) =
            (ports[0], ports[1], ports[2], ports[3]);
        write_file(
            &root.join("nginx/nginx.conf"),
            &nginx_conf(&root, https_port, http_port, &socket, registry_port),
        )?;

        // SSH: a host key per run, a client key, and an authorized_keys line that only lets
        // the key run git-shell.
        let ssh = root.join("ssh");
        for key in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(ssh.join(key)))?;
        }
        let client_pub = crate::read_file(&ssh.join("client_key.pub"))?;
        write_file(
            &ssh.join("authorized_keys"),
            &format!(
                "command=\"git-shell -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty {}\n",
                client_pub.trim()
            ),
        )?;
        let ssh_user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .ok_or_else(|| Error::Shared("the current user has no name in /etc/passwd".into()))?;
        write_file(
            &ssh.join("sshd_config"),
            &sshd_config(&ssh, ssh_port, &ssh_user),
        )?;
        if nix::unistd::getuid().is_root() {
            // sshd's privilege separation directory; missing on machines where sshd never ran.
            let _ = fs::create_dir_all("/run/sshd");
        }
        let processes = launch(&root, https_port, ssh_port)?;

        let host_pub = crate::read_file(&ssh.join("host_key.pub"))?;
        let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let known_hosts = format!("[127.0.0.1]:{ssh_port} {}\n", host_key.join(" "));
        write_file(&ssh.join("known_hosts"), &known_hosts)?;

        Ok(GitServer {
            dir,
            processes,
            https_port,
            http_port,
            ssh_port,
            registry_port,
            ssh_user,
            password,
            known_hosts,
        })
    }

    /// Starts an OCI registry (CNCF Distribution, `.cache/bin/registry`, `tools/build
    /// registry`) behind this server's nginx: `/v2/` on the HTTPS and HTTP ports, with the
    /// same basic auth and certificate. Returns the registry host (`127.0.0.1:PORT`, HTTPS).
    pub fn start_registry(&mut self) -> Result<String, Error> {
        let binary = crate::control_plane::tools_bin_dir().join("registry");
        if !binary.exists() {
            return Err(Error::MissingBinary {
                binary: "registry".into(),
                path: binary,
            });
        }
        let root = self.dir.path().to_owned();
        let config = root.join("registry.yml");
        write_file(
            &config,
            &format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n  relativeurls: true\n",
                root.join("registry").display(),
                self.registry_port
            ),
        )?;
        let mut registry = Process::start(
            "registry",
            &binary,
            &["serve".into(), config.display().to_string()],
            &[("OTEL_TRACES_EXPORTER", "none")],
            &root.join("logs/registry.log"),
            Lifetime::Attached,
        )?;
        wait_for_port("registry", self.registry_port, &mut registry)?;
        self.processes.push(registry);
        Ok(format!("127.0.0.1:{}", self.https_port))
    }

    /// Creates an empty bare repository `NAME.git` whose default branch is `main`.
    pub fn create_repo(&self, name: &str) -> Result<PathBuf, Error> {
        let path = self.repo_path(name);
        run(git(self.dir.path())
            .args(["init", "-q", "--bare", "--initial-branch=main"])
            .arg(&path))?;
        run(git(&path).args(["config", "http.receivepack", "true"]))?;
        Ok(path)
    }

    /// The on-disk path of bare repository `NAME.git`.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("repos").join(format!("{name}.git"))
    }

    /// `https://127.0.0.1:PORT/NAME.git` (basic auth, certificate from [`ca_pem`](Self::ca_pem)).
    pub fn https_url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}.git", self.https_port)
    }

    /// The directory served as a static Helm chart repository at
    /// [`charts_url`](Self::charts_url) (basic auth, as the Git repositories).
    pub fn charts_dir(&self) -> PathBuf {
        self.dir.path().join("charts")
    }

    /// `https://127.0.0.1:PORT/charts` (basic auth, certificate from [`ca_pem`](Self::ca_pem)).
    pub fn charts_url(&self) -> String {
        format!("https://127.0.0.1:{}/charts", self.https_port)
    }

    /// `http://127.0.0.1:PORT/NAME.git` (basic auth, no TLS).
    pub fn http_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.http_port)
    }

    /// `ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH/NAME.git`.
    pub fn ssh_url(&self, name: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.ssh_user,
            self.ssh_port,
            self.repo_path(name).display()
        )
    }

    /// The HTTP basic-auth user name.
    pub fn username(&self) -> &str {
        HTTP_USERNAME
    }

    /// The HTTP basic-auth password (random per server).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate.
    pub fn ca_pem(&self) -> Result<String, Error> {
        crate::read_file(&self.ca_path())
    }

    /// Path of the CA certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A `known_hosts` line for the SSH server (`[127.0.0.1]:PORT ssh-ed25519 ...`).
    pub fn known_hosts(&self) -> &str {
        &self.known_hosts
    }

    /// Path of a file holding [`known_hosts`](Self::known_hosts).
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.path().join("ssh/known_hosts")
    }

    /// Path of the client's private key (OpenSSH format, no passphrase).
    pub fn ssh_key_path(&self) -> PathBuf {
        self.dir.path().join("ssh/client_key")
    }

    /// The SSH port.
    pub fn ssh_port(&self) -> u16 {
        self.ssh_port
    }

    /// Writes `files` (path, content) into branch `main` of `NAME.git`, removes `removed`,
    /// commits with `message` and pushes (directly on disk, not through the servers).
    /// Returns the new commit's SHA-1.
    pub fn commit_files(
        &self,
        name: &str,
        files: &[(&str, &str)],
        removed: &[&str],
        message: &str,
    ) -> Result<String, Error> {
        let work = self.dir.path().join("work").join(name);
        if !work.exists() {
            run(git(self.dir.path())
                .args(["clone", "-q"])
                .arg(self.repo_path(name))
                .arg(&work))?;
            run(git(&work).args(["checkout", "-q", "-B", "main"]))?;
        }
        for (path, content) in files {
            let target = work.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            write_file(&target, content)?;
        }
        for path in removed {
            run(git(&work).args(["rm", "-q", "-r", "--"]).arg(path))?;
        }
        run(git(&work).args(["add", "-A"]))?;
        run(git(&work).args(["commit", "-q", "--allow-empty", "-m", message]))?;
        run(git(&work).args(["push", "-q", "origin", "HEAD:main"]))?;
        run(git(&work).args(["rev-parse", "HEAD"]))
    }

    /// Stops every server process; later connections are refused.
    pub fn stop(&mut self) {
        for p in self.processes.iter_mut().rev() {
            p.stop();
        }
    }

    /// Starts the servers again after [`stop`](Self::stop), on the same ports with the same
    /// keys and password, as a server coming back after an outage.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        self.processes = launch(self.dir.path(), self.https_port, self.ssh_port)?;
        Ok(())
    }
}

/// Starts fcgiwrap, nginx and sshd from the configuration written under `root`, and waits
/// until each accepts connections.
fn launch(root: &Path, https_port: u16, ssh_port: u16) -> Result<Vec<Process>, Error> {
    let mut processes = Vec::new();
    let socket = root.join("fcgiwrap.sock");
    let _ = fs::remove_file(&socket);
    let mut fcgiwrap = Process::start(
        "fcgiwrap",
        Path::new("/usr/sbin/fcgiwrap"),
        &[
            "-c".into(),
            "1".into(),
            "-s".into(),
            format!("unix:{}", socket.display()),
        ],
        &[],
        &root.join("logs/fcgiwrap.log"),
        Lifetime::Attached,
    )?;
    process::wait_until(
        "fcgiwrap socket",
        Duration::from_secs(10),
        std::slice::from_mut(&mut fcgiwrap),
        || socket.exists(),
    )?;
    processes.push(fcgiwrap);
    let mut nginx = Process::start(
        "nginx",
        Path::new("/usr/sbin/nginx"),
        &[
            "-p".into(),
            root.join("nginx").display().to_string(),
            "-c".into(),
            root.join("nginx/nginx.conf").display().to_string(),
            "-e".into(),
            root.join("logs/nginx-error.log").display().to_string(),
        ],
        &[],
        &root.join("logs/nginx.log"),
        Lifetime::Attached,
    )?;
    wait_for_port("nginx", https_port, &mut nginx)?;
    processes.push(nginx);
    let ssh = root.join("ssh");
    let mut sshd = Process::start(
        "sshd",
        Path::new("/usr/sbin/sshd"),
        &[
            "-D".into(),
            "-e".into(),
            "-f".into(),
            ssh.join("sshd_config").display().to_string(),
        ],
        &[],
        &root.join("logs/sshd.log"),
        Lifetime::Attached,
    )?;
    wait_for_port("sshd", ssh_port, &mut sshd)?;
    processes.push(sshd);
    Ok(processes)
}

fn nginx_conf(
    root: &Path,
    https_port: u16,
    http_port: u16,
    socket: &Path,
    registry_port: u16,
) -> String {
    let root_s = root.display();
    let nginx = root.join("nginx");
    let nginx = nginx.display();
    let location = format!(
        "        auth_basic \"git\";
        auth_basic_user_file {nginx}/htpasswd;
        location /charts/ {{
            alias {root_s}/charts/;
        }}
        location /v2/ {{
            proxy_pass http://127.0.0.1:{registry_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
        location / {{
            fastcgi_pass unix:{socket};
            fastcgi_buffering off;
            fastcgi_request_buffering off;
            fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {root_s}/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param GIT_CONFIG_NOSYSTEM 1;
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
        }}",
        socket = socket.display()
    );
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {nginx}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log off;
    error_log {root_s}/logs/nginx-error.log warn;
    client_max_body_size 0;
    client_body_temp_path {nginx}/tmp/body;
    fastcgi_temp_path {nginx}/tmp/fastcgi;
    proxy_temp_path {nginx}/tmp/proxy;
    uwsgi_temp_path {nginx}/tmp/uwsgi;
    scgi_temp_path {nginx}/tmp/scgi;
    server {{
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {nginx}/tls.crt;
        ssl_certificate_key {nginx}/tls.key;
{location}
    }}
    server {{
        listen 127.0.0.1:{http_port};
{location}
    }}
}}
"
    )
}

fn sshd_config(ssh: &Path, port: u16, user: &str) -> String {
    let ssh = ssh.display();
    format!(
        "Port {port}
ListenAddress 127.0.0.1
HostKey {ssh}/host_key
PidFile {ssh}/sshd.pid
AuthorizedKeysFile {ssh}/authorized_keys
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel ERROR
"
    )
}
