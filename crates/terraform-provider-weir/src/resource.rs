//! `weir_bootstrap_git`: Flux's `flux_bootstrap_git`, for Weir.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueBool, ValueEmpty, ValueMap, ValueSet, ValueString};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::config::{Git, Known, Settings};

/// `timeouts = { ... }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Timeouts<'a> {
    #[serde(borrow)]
    pub(crate) create: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) update: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) delete: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) read: ValueString<'a>,
}

/// The resource's attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State<'a> {
    #[serde(borrow)]
    pub(crate) id: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) path: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) namespace: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) version: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) interval: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) secret_name: ValueString<'a>,
    pub(crate) network_policy: ValueBool,
    #[serde(borrow)]
    pub(crate) cluster_domain: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) registry: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) image_pull_secret: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) log_level: ValueString<'a>,
    pub(crate) watch_all_namespaces: ValueBool,
    #[serde(borrow)]
    pub(crate) toleration_keys: ValueSet<ValueString<'a>>,
    pub(crate) keep_namespace: ValueBool,
    pub(crate) delete_git_manifests: ValueBool,
    #[serde(borrow)]
    pub(crate) kustomization_override: ValueString<'a>,
    #[serde(borrow)]
    pub(crate) timeouts: Value<Timeouts<'a>>,
    #[serde(borrow)]
    pub(crate) repository_files: ValueMap<'a, ValueString<'a>>,
}

/// The resource, with the provider's settings.
#[derive(Debug, Clone)]
pub(crate) struct BootstrapGit {
    pub(crate) settings: Arc<RwLock<Option<Settings>>>,
}

fn attr(kind: AttributeType, constraint: AttributeConstraint, text: &'static str) -> Attribute {
    Attribute {
        attr_type: kind,
        description: Description::plain(text),
        constraint,
        ..Default::default()
    }
}

fn owned(text: &str) -> ValueString<'static> {
    Value::Value(Cow::Owned(text.to_owned()))
}

/// `value`, or `default` when null or unknown in the configuration.
fn or_default<'a>(value: ValueString<'a>, default: &str) -> ValueString<'a> {
    match value {
        Value::Value(v) => Value::Value(v),
        _ => owned(default),
    }
}

fn bool_or(value: ValueBool, default: bool) -> ValueBool {
    match value {
        Value::Value(v) => Value::Value(v),
        _ => Value::Value(default),
    }
}

fn text<'a>(value: &'a ValueString<'_>) -> Option<&'a str> {
    value.as_ref_option().map(|c| c.as_ref())
}

impl<'a> State<'a> {
    /// Fills the optional attributes with their defaults, as the plan shows them.
    fn with_defaults(mut self) -> Self {
        let defaults = weir_install::Options::default();
        self.path = or_default(self.path, "");
        self.namespace = or_default(self.namespace, &defaults.namespace);
        self.version = or_default(self.version, &defaults.version);
        self.interval = or_default(self.interval, "1m0s");
        self.secret_name = or_default(self.secret_name, "flux-system");
        self.network_policy = bool_or(self.network_policy, true);
        self.cluster_domain = or_default(self.cluster_domain, &defaults.cluster_domain);
        self.registry = or_default(self.registry, &defaults.registry);
        self.log_level = or_default(self.log_level, "info");
        self.watch_all_namespaces = bool_or(self.watch_all_namespaces, true);
        self.keep_namespace = bool_or(self.keep_namespace, false);
        self.delete_git_manifests = bool_or(self.delete_git_manifests, true);
        self
    }

    fn install(&self) -> weir_install::Options {
        weir_install::Options {
            namespace: text(&self.namespace).unwrap_or("flux-system").to_owned(),
            version: text(&self.version)
                .unwrap_or(env!("CARGO_PKG_VERSION"))
                .to_owned(),
            registry: text(&self.registry)
                .unwrap_or(weir_install::DEFAULT_REGISTRY)
                .to_owned(),
            image_pull_secret: text(&self.image_pull_secret).map(str::to_owned),
            network_policy: self.network_policy.as_ref_option().copied().unwrap_or(true),
            watch_all_namespaces: self
                .watch_all_namespaces
                .as_ref_option()
                .copied()
                .unwrap_or(true),
            log_level: text(&self.log_level).unwrap_or("info").to_owned(),
            cluster_domain: text(&self.cluster_domain)
                .unwrap_or("cluster.local")
                .to_owned(),
            toleration_keys: self
                .toleration_keys
                .as_ref_option()
                .into_iter()
                .flatten()
                .filter_map(|k| text(k).map(str::to_owned))
                .collect(),
        }
    }

    /// The bootstrap plan; reports an invalid path or option.
    fn plan(&self, diags: &mut Diagnostics) -> Option<weir_bootstrap::Plan> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let path = match weir_bootstrap::repository_path(text(&self.path).unwrap_or(""), &cwd) {
            Ok(path) => path,
            Err(err) => {
                diags.error(
                    "invalid path",
                    format!(
                        "{err}. The path is where the cluster's manifests live in the \
                         repository, such as \"gitops\" or \"${{path.module}}/../gitops\" from a \
                         checkout of the repository."
                    ),
                    AttributePath::new("path"),
                );
                return None;
            }
        };
        let install = self.install();
        if let Err(err) = install.validate() {
            diags.root_error("invalid option", err.to_string());
            return None;
        }
        Some(weir_bootstrap::Plan {
            install,
            path,
            interval: text(&self.interval).unwrap_or("1m0s").to_owned(),
            secret_name: text(&self.secret_name).unwrap_or("flux-system").to_owned(),
            kustomization_override: text(&self.kustomization_override).map(str::to_owned),
        })
    }

    /// `timeouts.<which>` (`create` or `delete`), five minutes by default.
    fn timeout(&self, which: &str) -> Duration {
        self.timeouts
            .as_ref_option()
            .and_then(|t| {
                let value = if which == "delete" {
                    &t.delete
                } else {
                    &t.create
                };
                text(value).and_then(weir_api::duration::parse)
            })
            .unwrap_or(Duration::from_secs(5 * 60))
    }
}

fn repository(git: &Git) -> weir_bootstrap::Repository {
    weir_bootstrap::Repository {
        url: git.url.clone(),
        branch: git.branch.clone(),
        credentials: git.credentials.clone(),
        author_name: git.author_name.clone(),
        author_email: git.author_email.clone(),
        commit_message_appendix: git.commit_message_appendix.clone(),
    }
}

/// The files as the `repository_files` map.
fn files_value(files: Vec<(String, String)>) -> ValueMap<'static, ValueString<'static>> {
    Value::Value(
        files
            .into_iter()
            .map(|(path, content)| (Cow::Owned(path), Value::Value(Cow::Owned(content))))
            .collect::<BTreeMap<_, _>>(),
    )
}

impl BootstrapGit {
    fn settings(&self) -> Option<Settings> {
        self.settings.read().ok().and_then(|s| s.clone())
    }

    /// The files bootstrap would write, computed without contacting anything; unknown when
    /// the repository settings are not known yet.
    fn planned_files(
        &self,
        diags: &mut Diagnostics,
        state: &State<'_>,
    ) -> Option<ValueMap<'static, ValueString<'static>>> {
        let plan = state.plan(diags)?;
        match self.settings().map(|s| s.git) {
            Some(Known::Yes(git)) => match plan.files(&repository(&git)) {
                Ok(files) => Some(files_value(files)),
                Err(err) => {
                    diags.root_error("invalid option", err.to_string());
                    None
                }
            },
            _ => Some(Value::Unknown),
        }
    }

    /// Connects and runs bootstrap; reports what failed.
    async fn apply<'a>(&self, diags: &mut Diagnostics, planned: State<'a>) -> Option<State<'a>> {
        let plan = planned.plan(diags)?;
        let Some(settings) = self.settings() else {
            diags.root_error_short("the provider is not configured");
            return None;
        };
        let (Known::Yes(kubernetes), Known::Yes(git)) = (settings.kubernetes, settings.git) else {
            diags.root_error(
                "the provider's connection values are still unknown at apply time",
                "Make the kubernetes and git values depend on resources that exist by now.",
            );
            return None;
        };
        let client = match kubernetes.client().await {
            Ok(client) => client,
            Err(err) => {
                diags.root_error("cannot connect to the cluster", err);
                return None;
            }
        };
        let repository = repository(&git);
        let work = match tempfile::tempdir() {
            Ok(work) => work,
            Err(err) => {
                diags.root_error("cannot create a temporary directory", err.to_string());
                return None;
            }
        };
        let timeout = planned.timeout("create");
        let result = weir_bootstrap::bootstrap(
            &client,
            &repository,
            &plan,
            work.path(),
            Some(timeout),
            &|_line| {},
        )
        .await;
        if let Err(err) = result {
            let summary = match &err {
                weir_bootstrap::Error::Git(weir_git::Error::Authentication { .. }) => {
                    "Git authentication failed"
                }
                weir_bootstrap::Error::Git(_) => "Git operation failed",
                weir_bootstrap::Error::NotReady { .. } => "the cluster did not sync",
                weir_bootstrap::Error::Apply(_) | weir_bootstrap::Error::Kube { .. } => {
                    "installing on the cluster failed"
                }
                _ => "bootstrap failed",
            };
            diags.root_error(summary, chain(&err));
            return None;
        }
        let mut state = planned;
        state.id = owned(&plan.install.namespace);
        match plan.files(&repository) {
            Ok(files) => state.repository_files = files_value(files),
            Err(err) => {
                diags.root_error("invalid option", err.to_string());
                return None;
            }
        }
        Some(state)
    }
}

/// An error and its causes, one per line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}

#[async_trait]
impl Resource for BootstrapGit {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::{Computed, Optional, OptionalComputed};
        use AttributeType as T;
        let timeouts: HashMap<String, Attribute> = ["create", "update", "delete", "read"]
            .into_iter()
            .map(|k| {
                (
                    k.to_owned(),
                    attr(T::String, Optional, "A duration such as 5m or 1h."),
                )
            })
            .collect();
        let attributes: HashMap<String, Attribute> = [
            (
                "id",
                attr(T::String, Computed, "The namespace Weir is installed in."),
            ),
            (
                "path",
                attr(
                    T::String,
                    OptionalComputed,
                    "The directory the cluster syncs, from the repository root, or a local \
                     path into a checkout of it (${path.module}/../gitops).",
                ),
            ),
            (
                "namespace",
                attr(T::String, OptionalComputed, "Weir's namespace."),
            ),
            (
                "version",
                attr(T::String, OptionalComputed, "The Weir version to install."),
            ),
            (
                "interval",
                attr(
                    T::String,
                    OptionalComputed,
                    "How often the cluster looks for new commits.",
                ),
            ),
            (
                "secret_name",
                attr(
                    T::String,
                    OptionalComputed,
                    "The Secret with the Git credentials.",
                ),
            ),
            (
                "network_policy",
                attr(T::Bool, OptionalComputed, "Add NetworkPolicies."),
            ),
            (
                "cluster_domain",
                attr(T::String, OptionalComputed, "The cluster's DNS domain."),
            ),
            (
                "registry",
                attr(T::String, OptionalComputed, "The image repository."),
            ),
            (
                "image_pull_secret",
                attr(T::String, Optional, "A Secret to pull the image with."),
            ),
            (
                "log_level",
                attr(T::String, OptionalComputed, "The controller's log level."),
            ),
            (
                "watch_all_namespaces",
                attr(T::Bool, OptionalComputed, "Reconcile in every namespace."),
            ),
            (
                "toleration_keys",
                attr(
                    T::Set(Box::new(T::String)),
                    Optional,
                    "Taint keys the controller tolerates.",
                ),
            ),
            (
                "keep_namespace",
                attr(T::Bool, OptionalComputed, "Keep the namespace on destroy."),
            ),
            (
                "delete_git_manifests",
                attr(
                    T::Bool,
                    OptionalComputed,
                    "Remove the files from the repository on destroy.",
                ),
            ),
            (
                "kustomization_override",
                attr(
                    T::String,
                    Optional,
                    "Replaces the generated kustomization.yaml.",
                ),
            ),
            (
                "timeouts",
                attr(T::AttributeSingle(timeouts), Optional, "Timeouts."),
            ),
            (
                "repository_files",
                attr(
                    T::Map(Box::new(T::String)),
                    Computed,
                    "The files written to the repository, by path.",
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::plain(
                    "Commits Weir's install and sync manifests to the repository, installs Weir \
                     on the cluster, and waits until the cluster syncs from the repository.",
                ),
                attributes,
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        // Only what is known; the plan checks the rest.
        if let Value::Value(version) = &config.version
            && let Err(err) = (weir_install::Options {
                version: version.to_string(),
                ..weir_install::Options::default()
            })
            .validate()
        {
            diags.error(
                "invalid version",
                err.to_string(),
                AttributePath::new("version"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Some(Settings {
            kubernetes: Known::Yes(kubernetes),
            git: Known::Yes(git),
        }) = self.settings()
        else {
            return Some((state, private_state));
        };
        let mut state = state;
        let Some(plan) = state.plan(diags) else {
            return Some((state, private_state));
        };
        // Drift on the cluster: the installed version (none: uninstalled behind our back).
        match kubernetes.client().await {
            Ok(client) => {
                match weir_bootstrap::installed_version(&client, &plan.install.namespace).await {
                    Ok(Some(version)) => state.version = owned(&version),
                    Ok(None) => state.version = owned("not installed"),
                    Err(err) => diags.root_warning("cannot read the installation", chain(&err)),
                }
            }
            Err(err) => diags.root_warning("cannot connect to the cluster", err),
        }
        // Drift in Git: files edited or deleted in the repository show as changes to make.
        let repository = repository(&git);
        if let Ok(work) = tempfile::tempdir() {
            match weir_bootstrap::drifted_files(&repository, &plan, work.path()).await {
                Ok(drifted) => {
                    if let Value::Value(files) = &mut state.repository_files {
                        for path in drifted {
                            files.insert(Cow::Owned(path), owned("(changed in the repository)"));
                        }
                    }
                }
                Err(err) => diags.root_warning("cannot read the repository", chain(&err)),
            }
        }
        Some((state, private_state))
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut state = proposed_state.with_defaults();
        state.id = Value::Unknown;
        state.repository_files = self.planned_files(diags, &state)?;
        Some((state, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let mut state = proposed_state.with_defaults();
        state.repository_files = self.planned_files(diags, &state)?;
        // Another namespace is another installation.
        let replace = vec![AttributePath::new("namespace")];
        Some((state, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = self.apply(diags, planned_state).await?;
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = self.apply(diags, planned_state).await?;
        Some((state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let Some(Settings {
            kubernetes: Known::Yes(kubernetes),
            git: Known::Yes(git),
        }) = self.settings()
        else {
            diags.root_error_short("the provider's connection values are unknown");
            return None;
        };
        let plan = state.plan(diags)?;
        let client = match kubernetes.client().await {
            Ok(client) => client,
            Err(err) => {
                diags.root_error("cannot connect to the cluster", err);
                return None;
            }
        };
        let keep = state
            .keep_namespace
            .as_ref_option()
            .copied()
            .unwrap_or(false);
        let timeout = state.timeout("delete");
        if let Err(err) =
            weir_bootstrap::uninstall(&client, &plan.install.namespace, keep, timeout).await
        {
            diags.root_error("uninstall failed", chain(&err));
            return None;
        }
        if state
            .delete_git_manifests
            .as_ref_option()
            .copied()
            .unwrap_or(true)
        {
            let work = tempfile::tempdir().ok()?;
            if let Err(err) =
                weir_bootstrap::remove_files(&repository(&git), &plan, work.path()).await
            {
                diags.root_error("removing the files from the repository failed", chain(&err));
                return None;
            }
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        _diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // By namespace: the other attributes take their defaults; read fills in the version.
        let mut state = State {
            namespace: owned(&id),
            ..State::default()
        }
        .with_defaults();
        state.id = owned(&id);
        state.toleration_keys = Value::Null;
        state.repository_files = Value::Value(BTreeMap::new());
        Some((state, ValueEmpty::default()))
    }
}
