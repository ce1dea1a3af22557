//! Bootstrap: commit Weir's install and sync manifests to a Git repository, install them on
//! the cluster with the Git credentials Secret, and wait until the cluster syncs from the
//! repository. Then the cluster manages itself from Git: a new version is a new commit of
//! `gotk-components.yaml`, applied by the controller. Also uninstall, and the checks the
//! Terraform provider reads state with.
//!
//! Used by `weir bootstrap git`, `weir uninstall` and `terraform-provider-weir`.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use weir_git::{Auth, Credentials};
use weir_install::{Options, Sync};

/// The server-side apply field manager of bootstrap.
pub const FIELD_MANAGER: &str = "weir-bootstrap";

/// Why bootstrap or uninstall failed. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options are invalid.
    #[error(transparent)]
    Install(#[from] weir_install::Error),
    /// `path` cannot be used.
    #[error("path '{path}': {reason}")]
    Path {
        /// The path given.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// Git failed (unreachable, authentication, refused push).
    #[error(transparent)]
    Git(#[from] weir_git::Error),
    /// Applying the manifests failed.
    #[error("applying Weir's manifests to the cluster")]
    Apply(#[from] weir_apply::Error),
    /// A request to the cluster failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// An object did not become Ready in time.
    #[error("{object} is not ready after {waited}: {message}")]
    NotReady {
        /// `Kind/namespace/name`.
        object: String,
        /// How long it was waited for.
        waited: String,
        /// Its Ready condition's message, or what is known.
        message: String,
    },
    /// Uninstall could not remove everything in time.
    #[error("uninstall did not finish: {0}")]
    Leftovers(String),
    /// A blocking task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

fn kube_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube {
        what,
        source: Box::new(source),
    }
}

/// The repository bootstrap writes to.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Its URL (`https://`, `http://` or `ssh://`).
    pub url: String,
    /// The branch (created when missing).
    pub branch: String,
    /// How to authenticate; also what the cluster's Secret holds.
    pub credentials: Credentials,
    /// The commits' author name.
    pub author_name: String,
    /// The commits' author e-mail.
    pub author_email: String,
    /// Text appended to commit messages.
    pub commit_message_appendix: Option<String>,
}

/// What to bootstrap.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How Weir is installed.
    pub install: Options,
    /// The directory in the repository the cluster syncs, from the repository root
    /// ([`repository_path`] makes it from what a user writes); empty for the root.
    pub path: String,
    /// How often the GitRepository looks for changes (`1m0s`).
    pub interval: String,
    /// The Secret with the Git credentials, in the install namespace.
    pub secret_name: String,
    /// Replaces the generated `kustomization.yaml` of the `<namespace>` directory.
    pub kustomization_override: Option<String>,
}

impl Plan {
    /// The directory bootstrap writes its files to: `<path>/<namespace>`.
    pub fn directory(&self) -> String {
        if self.path.is_empty() {
            self.install.namespace.clone()
        } else {
            format!("{}/{}", self.path, self.install.namespace)
        }
    }

    /// The GitRepository and Kustomization the cluster syncs with.
    pub fn sync(&self, repository: &Repository) -> Sync {
        let anonymous = matches!(repository.credentials.auth, Auth::None)
            && repository.credentials.ca_pem.is_none();
        Sync {
            name: self.install.namespace.clone(),
            namespace: self.install.namespace.clone(),
            url: repository.url.clone(),
            branch: repository.branch.clone(),
            path: format!("./{}", self.path),
            interval: self.interval.clone(),
            secret_name: (!anonymous).then(|| self.secret_name.clone()),
        }
    }

    /// The files bootstrap writes, by path from the repository root.
    pub fn files(&self, repository: &Repository) -> Result<Vec<(String, String)>, Error> {
        let directory = self.directory();
        Ok(weir_install::repository_files(
            &self.install,
            &self.sync(repository),
            self.kustomization_override.as_deref(),
        )?
        .into_iter()
        .map(|(name, content)| (format!("{directory}/{name}"), content))
        .collect())
    }
}

/// The directory in the repository for `path` as a user writes it: relative to the
/// repository root (`clusters/home`, `./gitops`), or a local path into a checkout of the
/// repository that contains `cwd` (`../gitops` from `infrastructure/`, as
/// `${path.module}/../gitops` in Terraform). A path that leaves the repository is refused.
pub fn repository_path(path: &str, cwd: &Path) -> Result<String, Error> {
    let refuse = |reason: String| Error::Path {
        path: path.to_owned(),
        reason,
    };
    let given = Path::new(path);
    let local = given.is_absolute() || given.components().any(|c| c == Component::ParentDir);
    if !local {
        let parts: Vec<String> = given
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        return Ok(parts.join("/"));
    }
    let absolute = normalize(&cwd.join(given));
    let cwd = normalize(cwd);
    let Some(root) = cwd.ancestors().find(|dir| dir.join(".git").exists()) else {
        return Err(refuse(
            "it leaves the repository root; write it from the repository root (such as \
             clusters/home), or run from a checkout of the repository"
                .to_owned(),
        ));
    };
    match absolute.strip_prefix(root) {
        Ok(relative) => Ok(relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")),
        Err(_) => Err(refuse(format!(
            "it resolves to {}, outside the repository checkout at {}",
            absolute.display(),
            root.display()
        ))),
    }
}

/// `path` without `.` and `..` components, resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// What [`bootstrap`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrapped {
    /// The branch's head with the files.
    pub commit: String,
    /// The revision the cluster syncs to, as Flux writes it (`main@sha1:<commit>`).
    pub revision: String,
    /// Whether a commit was pushed (`false`: the repository already had the files).
    pub pushed: bool,
    /// The files, by path from the repository root.
    pub files: Vec<String>,
}

/// Commits the files of `plan` to the repository (nothing when they are already there),
/// returning the branch head and, for SSH without known_hosts, the host key learned.
pub async fn push(
    repository: &Repository,
    plan: &Plan,
    work: &Path,
) -> Result<weir_git::Pushed, Error> {
    let files: Vec<(String, Vec<u8>)> = plan
        .files(repository)?
        .into_iter()
        .map(|(path, content)| (path, content.into_bytes()))
        .collect();
    let version = plan.install.version.trim_start_matches('v');
    let message = format!("Add Weir v{version} component and sync manifests");
    commit(repository, work, files, Vec::new(), message).await
}

/// Removes the directory bootstrap wrote from the repository (`delete_git_manifests`).
pub async fn remove_files(
    repository: &Repository,
    plan: &Plan,
    work: &Path,
) -> Result<weir_git::Pushed, Error> {
    let message = format!("Remove Weir manifests from {}", plan.directory());
    commit(
        repository,
        work,
        Vec::new(),
        vec![plan.directory()],
        message,
    )
    .await
}

/// Commits and pushes on a blocking thread, with the message appendix.
async fn commit(
    repository: &Repository,
    work: &Path,
    files: Vec<(String, Vec<u8>)>,
    remove: Vec<String>,
    mut message: String,
) -> Result<weir_git::Pushed, Error> {
    if let Some(appendix) = &repository.commit_message_appendix {
        message.push_str("\n\n");
        message.push_str(appendix);
    }
    let repository = repository.clone();
    let work = work.to_owned();
    tokio::task::spawn_blocking(move || {
        weir_git::commit_and_push(
            &repository.url,
            &repository.branch,
            &repository.credentials,
            &work,
            &weir_git::Change {
                files: &files,
                remove: &remove,
                message: &message,
                author_name: &repository.author_name,
                author_email: &repository.author_email,
            },
        )
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
    .map_err(Error::from)
}

/// The files of `plan` that differ in the repository from what bootstrap would write (drift:
/// edited or deleted by someone), by path.
pub async fn drifted_files(
    repository: &Repository,
    plan: &Plan,
    work: &Path,
) -> Result<Vec<String>, Error> {
    let files = plan.files(repository)?;
    let paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let (url, branch, credentials, work) = (
        repository.url.clone(),
        repository.branch.clone(),
        repository.credentials.clone(),
        work.to_owned(),
    );
    let (_, contents) = tokio::task::spawn_blocking(move || {
        weir_git::read_files(&url, &branch, &credentials, &work, &paths)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(files
        .into_iter()
        .zip(contents)
        .filter(|((_, want), have)| have.as_deref() != Some(want.as_bytes()))
        .map(|((path, _), _)| path)
        .collect())
}

/// The Secret data the controller reads, in Flux's format, for `credentials`.
fn secret_data(credentials: &Credentials, learned_known_hosts: Option<&str>) -> Value {
    let mut data = serde_json::Map::new();
    match &credentials.auth {
        Auth::Basic { username, password } => {
            data.insert("username".into(), json!(username));
            data.insert("password".into(), json!(password));
        }
        Auth::Bearer(token) => {
            data.insert("bearerToken".into(), json!(token));
        }
        Auth::Ssh {
            identity,
            passphrase,
            known_hosts,
        } => {
            data.insert("identity".into(), json!(identity));
            let hosts = if known_hosts.trim().is_empty() {
                learned_known_hosts.unwrap_or_default()
            } else {
                known_hosts.as_str()
            };
            data.insert("known_hosts".into(), json!(hosts));
            if let Some(passphrase) = passphrase {
                data.insert("password".into(), json!(passphrase));
            }
        }
        _ => {}
    }
    if let Some(ca) = &credentials.ca_pem {
        data.insert("ca.crt".into(), json!(String::from_utf8_lossy(ca)));
    }
    Value::Object(data)
}

/// Applies the components, the Git credentials Secret and the sync manifests.
pub async fn install(
    client: &kube::Client,
    repository: &Repository,
    plan: &Plan,
    learned_known_hosts: Option<&str>,
) -> Result<(), Error> {
    // A field manager of its own: the fields the controller adds when it applies the same
    // manifests from Git (owner labels) are left alone, so neither undoes the other.
    let mut options = weir_apply::Options::default();
    options.field_manager = FIELD_MANAGER.to_owned();
    let manager = weir_apply::Manager::new(client.clone(), options);
    let components = as_maps(weir_install::components(&plan.install)?);
    manager.apply_all_staged(components).await?;
    let sync = plan.sync(repository);
    if let Some(secret) = &sync.secret_name {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &plan.install.namespace);
        let body = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret,
                "namespace": plan.install.namespace,
                "labels": { weir_install::PART_OF_LABEL: "weir" },
            },
            "stringData": secret_data(&repository.credentials, learned_known_hosts),
        });
        secrets
            .patch(
                secret,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(kube_error(format!(
                "writing the Git credentials Secret {}/{secret}",
                plan.install.namespace
            )))?;
    }
    manager
        .apply_all_staged(as_maps(weir_install::sync_objects(&sync)))
        .await?;
    // Fetch now rather than at the next interval, as `flux bootstrap` does; the new artifact
    // triggers the Kustomization. (Asking the Kustomization too could apply the previous
    // revision once more before the fetch.)
    let requested = json!({ "metadata": { "annotations": {
        weir_api::RECONCILE_REQUESTED_AT: weir_api::status::now_precise(),
    } } });
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &sync.namespace,
        &flux_resource(
            "source.toolkit.fluxcd.io",
            "GitRepository",
            "gitrepositories",
        ),
    );
    api.patch(
        &sync.name,
        &PatchParams::default(),
        &Patch::Merge(&requested),
    )
    .await
    .map_err(kube_error(format!(
        "requesting a fetch of GitRepository/{}/{}",
        sync.namespace, sync.name
    )))?;
    Ok(())
}

fn as_maps(values: Vec<Value>) -> Vec<serde_json::Map<String, Value>> {
    values
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect()
}

/// Pushes, installs, and with `wait`, waits until the GitRepository and the Kustomization
/// are Ready at the pushed revision. `progress` hears what is going on.
pub async fn bootstrap(
    client: &kube::Client,
    repository: &Repository,
    plan: &Plan,
    work: &Path,
    wait: Option<Duration>,
    progress: &(dyn Fn(&str) + Send + std::marker::Sync),
) -> Result<Bootstrapped, Error> {
    plan.install.validate()?;
    progress(&format!(
        "pushing the manifests to {} ({})",
        repository.url, repository.branch
    ));
    let pushed = push(repository, plan, work).await?;
    let commit = pushed.commit.clone().unwrap_or_default();
    progress(&if pushed.changed {
        format!("committed {commit}")
    } else {
        format!("the repository is up to date at {commit}")
    });
    progress(&format!(
        "installing Weir v{} in namespace {}",
        plan.install.version.trim_start_matches('v'),
        plan.install.namespace
    ));
    install(client, repository, plan, pushed.known_hosts.as_deref()).await?;
    let revision = format!("{}@sha1:{commit}", repository.branch);
    if let Some(timeout) = wait {
        wait_synced(
            client,
            &plan.install.namespace,
            &revision,
            timeout,
            progress,
        )
        .await?;
    }
    Ok(Bootstrapped {
        commit,
        revision,
        pushed: pushed.changed,
        files: plan
            .files(repository)?
            .into_iter()
            .map(|(path, _)| path)
            .collect(),
    })
}

fn flux_resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
}

/// Waits until the GitRepository and the Kustomization named `namespace` in `namespace` are
/// Ready at `revision`; on timeout, says which one is not and why.
pub async fn wait_synced(
    client: &kube::Client,
    namespace: &str,
    revision: &str,
    timeout: Duration,
    progress: &(dyn Fn(&str) + Send + std::marker::Sync),
) -> Result<(), Error> {
    let started = Instant::now();
    for (kind, plural, group, revision_field) in [
        (
            "GitRepository",
            "gitrepositories",
            "source.toolkit.fluxcd.io",
            "/status/artifact/revision",
        ),
        (
            "Kustomization",
            "kustomizations",
            "kustomize.toolkit.fluxcd.io",
            "/status/lastAppliedRevision",
        ),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            namespace,
            &flux_resource(group, kind, plural),
        );
        let object = format!("{kind}/{namespace}/{namespace}");
        progress(&format!("waiting for {object} to be Ready at {revision}"));
        let mut last = String::from("it has no status yet");
        loop {
            if let Some(found) = api
                .get_opt(namespace)
                .await
                .map_err(kube_error(format!("reading {object}")))?
            {
                let ready = found
                    .data
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                    .cloned();
                let at = found.data.pointer(revision_field).and_then(Value::as_str);
                if let Some(ready) = &ready {
                    last = format!(
                        "Ready={} {}: {}",
                        ready["status"].as_str().unwrap_or("Unknown"),
                        ready["reason"].as_str().unwrap_or_default(),
                        ready["message"].as_str().unwrap_or_default()
                    );
                }
                if ready.as_ref().is_some_and(|r| r["status"] == "True") && at == Some(revision) {
                    break;
                }
                if let Some(at) = at
                    && at != revision
                {
                    last = format!("{last} (at {at}, waiting for {revision})");
                }
            }
            if started.elapsed() >= timeout {
                let controller = controller_state(client, namespace).await;
                return Err(Error::NotReady {
                    object,
                    waited: format!("{}s", timeout.as_secs()),
                    message: format!("{last}; {controller}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    progress(&format!("synced at {revision}"));
    Ok(())
}

/// How the controller Deployment is doing, for error messages.
async fn controller_state(client: &kube::Client, namespace: &str) -> String {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(weir_install::CONTROLLER).await {
        Ok(Some(d)) => {
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            format!(
                "Deployment {namespace}/{}: {ready}/1 replicas ready",
                weir_install::CONTROLLER
            )
        }
        Ok(None) => format!(
            "Deployment {namespace}/{} not found",
            weir_install::CONTROLLER
        ),
        Err(e) => format!("cannot read the controller Deployment: {e}"),
    }
}

/// The version of Weir installed in `namespace` (from the controller Deployment's labels),
/// or `None` when it is not installed.
pub async fn installed_version(
    client: &kube::Client,
    namespace: &str,
) -> Result<Option<String>, Error> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let found = api
        .get_opt(weir_install::CONTROLLER)
        .await
        .map_err(kube_error(format!(
            "reading Deployment {namespace}/{}",
            weir_install::CONTROLLER
        )))?;
    Ok(found.map(|d| {
        d.metadata
            .labels
            .unwrap_or_default()
            .get("app.kubernetes.io/version")
            .cloned()
            .unwrap_or_default()
    }))
}

/// The kinds Weir serves, whose objects carry its finalizer.
fn served_kinds() -> Vec<ApiResource> {
    weir_api::crds::all()
        .iter()
        .filter_map(|crd| {
            let group = crd.pointer("/spec/group")?.as_str()?;
            let kind = crd.pointer("/spec/names/kind")?.as_str()?;
            let plural = crd.pointer("/spec/names/plural")?.as_str()?;
            // HelmRelease is served at v2, the others at v1.
            let version = crd.pointer("/spec/versions/0/name")?.as_str()?;
            Some(ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            ))
        })
        .collect()
}

/// Removes Weir from the cluster: the controller first (so nothing reconciles meanwhile),
/// then the finalizers of every Weir object (workloads they applied stay), the CRDs and
/// their objects, the cluster roles and, unless `keep_namespace`, the namespace. Never waits
/// on a finalizer: what is still there after `timeout` is reported. Returns what was removed.
pub async fn uninstall(
    client: &kube::Client,
    namespace: &str,
    keep_namespace: bool,
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    let mut removed = Vec::new();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    if deployments
        .delete(weir_install::CONTROLLER, &DeleteParams::default())
        .await
        .is_ok()
    {
        removed.push(format!(
            "Deployment/{namespace}/{}",
            weir_install::CONTROLLER
        ));
    }
    let strip = || async {
        let mut stripped = 0;
        for resource in served_kinds() {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue; // the CRD is not there
            };
            for object in list {
                if object
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_none_or(Vec::is_empty)
                {
                    continue;
                }
                let ns = object.metadata.namespace.clone().unwrap_or_default();
                let name = object.metadata.name.clone().unwrap_or_default();
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
                let patch = json!({ "metadata": { "finalizers": null } });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(kube_error(format!(
                        "removing the finalizers of {}/{ns}/{name}",
                        resource.kind
                    )))?;
                stripped += 1;
            }
        }
        Ok::<usize, Error>(stripped)
    };
    strip().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names: Vec<String> = weir_api::crds::all()
        .iter()
        .filter_map(|c| c.pointer("/metadata/name")?.as_str().map(str::to_owned))
        .collect();
    for name in &names {
        if crds.delete(name, &DeleteParams::default()).await.is_ok() {
            removed.push(format!("CustomResourceDefinition/{name}"));
        }
    }
    let selector = format!(
        "{}={namespace},{}=weir",
        weir_install::INSTANCE_LABEL,
        weir_install::PART_OF_LABEL
    );
    let lp = ListParams::default().labels(&selector);
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    for role in roles
        .list(&lp)
        .await
        .map_err(kube_error("listing ClusterRoles"))?
    {
        let name = role.metadata.name.unwrap_or_default();
        if roles.delete(&name, &DeleteParams::default()).await.is_ok() {
            removed.push(format!("ClusterRole/{name}"));
        }
    }
    for binding in bindings
        .list(&lp)
        .await
        .map_err(kube_error("listing ClusterRoleBindings"))?
    {
        let name = binding.metadata.name.unwrap_or_default();
        if bindings
            .delete(&name, &DeleteParams::default())
            .await
            .is_ok()
        {
            removed.push(format!("ClusterRoleBinding/{name}"));
        }
    }
    if !keep_namespace {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        if namespaces
            .delete(namespace, &DeleteParams::default())
            .await
            .is_ok()
        {
            removed.push(format!("Namespace/{namespace}"));
        }
    }
    // The CRDs go once their objects are gone; objects created meanwhile get their
    // finalizers removed again.
    let started = Instant::now();
    loop {
        let mut left = Vec::new();
        for name in &names {
            if crds
                .get_opt(name)
                .await
                .map_err(kube_error("reading CustomResourceDefinitions"))?
                .is_some()
            {
                left.push(format!("CustomResourceDefinition/{name}"));
            }
        }
        if left.is_empty() {
            break;
        }
        if started.elapsed() >= timeout {
            return Err(Error::Leftovers(format!(
                "{} still there after {}s",
                left.join(", "),
                timeout.as_secs()
            )));
        }
        strip().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_repository_root_or_a_checkout() -> Result<(), Box<dyn std::error::Error>> {
        let cwd = std::env::temp_dir().join(format!("weir-bootstrap-{}", std::process::id()));
        let infra = cwd.join("infrastructure");
        std::fs::create_dir_all(infra.join("modules"))?;
        std::fs::create_dir_all(cwd.join(".git"))?;
        assert_eq!(
            repository_path("./clusters/home/", &infra)?,
            "clusters/home"
        );
        assert_eq!(repository_path(".", &infra)?, "");
        assert_eq!(repository_path("./../gitops", &infra)?, "gitops");
        assert_eq!(
            repository_path("../../gitops", &infra.join("modules"))?,
            "gitops"
        );
        assert_eq!(
            repository_path(&cwd.join("gitops").display().to_string(), &infra)?,
            "gitops"
        );
        let err = repository_path("../../elsewhere", &infra)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("outside the repository checkout"), "{err}");
        std::fs::remove_dir_all(&cwd)?;
        let err = repository_path("../gitops", Path::new("/"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("leaves the repository root"), "{err}");
        Ok(())
    }

    #[test]
    fn secret_data_in_flux_format_with_a_learned_host_key() {
        let ssh = Credentials {
            auth: Auth::Ssh {
                identity: "KEY".into(),
                passphrase: None,
                known_hosts: String::new(),
            },
            ca_pem: None,
        };
        let data = secret_data(&ssh, Some("[127.0.0.1]:2222 ssh-ed25519 AAAA"));
        assert_eq!(data["identity"], "KEY");
        assert_eq!(data["known_hosts"], "[127.0.0.1]:2222 ssh-ed25519 AAAA");
        let basic = Credentials {
            auth: Auth::Basic {
                username: "git".into(),
                password: "token".into(),
            },
            ca_pem: Some(b"PEM".to_vec()),
        };
        let data = secret_data(&basic, None);
        assert_eq!(data["username"], "git");
        assert_eq!(data["ca.crt"], "PEM");
    }
}
