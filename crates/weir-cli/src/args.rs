//! Command-line arguments as the user typed them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Weir: a Flux-compatible GitOps engine for Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "weir", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Flags every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by all commands, named as `kubectl` and `flux` name them.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster].
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace to act in [default: the context's namespace, else flux-system].
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace); WEIR_LOG overrides.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version of this binary.
    Version(VersionArgs),
    /// Check that the cluster is reachable, recent enough, and accepts the credentials.
    Check(CheckArgs),
    /// Kustomize-compatible builds.
    #[command(subcommand)]
    Kustomize(KustomizeCommand),
    /// Helm charts, rendered by Weir's own engine.
    #[command(subcommand)]
    Helm(HelmCommand),
    /// Apply manifests with server-side apply: definitions first, every stage validated by a
    /// server-side dry run before anything is written.
    Apply(ApplyArgs),
    /// Delete everything an inventory recorded.
    Delete(DeleteArgs),
    /// Show Weir's objects (sources, Kustomizations, HelmReleases, Receivers) with their state,
    /// like `flux get`.
    #[command(subcommand)]
    Get(GetCommand),
    /// Ask for an immediate reconcile and wait for its outcome, like `flux reconcile`.
    #[command(subcommand)]
    Reconcile(ReconcileCommand),
    /// Stop reconciling an object until resumed.
    #[command(subcommand)]
    Suspend(TargetCommand),
    /// Resume a suspended object and wait for its reconcile.
    #[command(subcommand)]
    Resume(TargetCommand),
    /// Show the Kubernetes Events of Flux objects, oldest first.
    Events(EventsArgs),
    /// Show what a Kustomization applied, nested Kustomizations and HelmReleases included.
    #[command(subcommand)]
    Tree(TreeCommand),
    /// Run the in-cluster controller: reconcile GitRepositories and Kustomizations.
    Controller(ControllerArgs),
    /// Install Weir on the cluster (namespace, CRDs, RBAC, the controller Deployment), or
    /// print the manifests with --export.
    #[command(disable_version_flag = true)]
    Install(InstallArgs),
    /// Commit Weir's manifests to a Git repository, install them, and sync the cluster from
    /// the repository, like `flux bootstrap`.
    #[command(subcommand)]
    Bootstrap(BootstrapCommand),
    /// Remove Weir from the cluster: the controller, the finalizers of its objects, the CRDs
    /// and the namespace. What the Kustomizations applied stays.
    Uninstall(UninstallArgs),
    /// Show what `weir apply` would change (server-side dry run); exit status 1 when something
    /// would change. Secret values are masked.
    Diff(DiffArgs),
}

/// `weir get ...`.
#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Sources.
    #[command(subcommand)]
    Sources(GetSources),
    /// Kustomizations.
    #[command(visible_alias = "ks", alias = "kustomization")]
    Kustomizations(GetArgs),
    /// HelmReleases; REVISION is the chart version of the latest release.
    #[command(name = "helmreleases", visible_alias = "hr", alias = "helmrelease")]
    HelmReleases(GetArgs),
    /// Receivers.
    #[command(alias = "receiver")]
    Receivers(GetArgs),
    /// Every kind.
    All(GetArgs),
}

/// `weir get sources ...`.
#[derive(Debug, Subcommand)]
pub enum GetSources {
    /// GitRepositories.
    Git(GetArgs),
    /// HelmRepositories.
    Helm(GetArgs),
    /// HelmCharts.
    Chart(GetArgs),
    /// OCIRepositories.
    Oci(GetArgs),
    /// Every kind of source.
    All(GetArgs),
}

/// Options of `weir get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Only this object.
    pub name: Option<String>,
    /// In every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

/// `weir reconcile ...`.
#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// A source.
    #[command(subcommand)]
    Source(ReconcileSource),
    /// A Kustomization.
    #[command(visible_alias = "ks")]
    Kustomization(ReconcileWithSource),
    /// A HelmRelease.
    #[command(name = "helmrelease", visible_alias = "hr")]
    HelmRelease(ReconcileHelmRelease),
    /// A Receiver.
    Receiver(NameArgs),
}

/// `weir reconcile source ...`.
#[derive(Debug, Subcommand)]
pub enum ReconcileSource {
    /// A GitRepository.
    Git(NameArgs),
    /// A HelmRepository (one of type oci has nothing to reconcile).
    Helm(NameArgs),
    /// A HelmChart.
    Chart(ReconcileWithSource),
    /// An OCIRepository.
    Oci(NameArgs),
}

/// `weir suspend|resume source ...`.
#[derive(Debug, Subcommand)]
pub enum SourceTarget {
    /// A GitRepository.
    Git(NameArgs),
    /// A HelmRepository.
    Helm(NameArgs),
    /// A HelmChart.
    Chart(NameArgs),
    /// An OCIRepository.
    Oci(NameArgs),
}

/// One object by name, with how long to wait.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// Its name.
    pub name: String,
    /// Seconds to wait for the reconcile.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `weir reconcile kustomization` and `weir reconcile source chart`.
#[derive(Debug, Args)]
pub struct ReconcileWithSource {
    /// The object.
    #[command(flatten)]
    pub target: NameArgs,
    /// Reconcile its source first.
    #[arg(long)]
    pub with_source: bool,
}

/// `weir reconcile helmrelease`.
#[derive(Debug, Args)]
pub struct ReconcileHelmRelease {
    /// The object.
    #[command(flatten)]
    pub target: NameArgs,
    /// Reconcile its source first: the HelmChart (`<namespace>-<name>`, or the one of
    /// spec.chartRef) and the chart's source, or the OCIRepository of spec.chartRef.
    #[arg(long)]
    pub with_source: bool,
    /// Force a one-off install or upgrade (`reconcile.fluxcd.io/forceAt`).
    #[arg(long)]
    pub force: bool,
    /// Reset the failure counts, so remediation retries start over (`reconcile.fluxcd.io/resetAt`).
    #[arg(long)]
    pub reset: bool,
}

/// `weir suspend|resume ...`.
#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// A source.
    #[command(subcommand)]
    Source(SourceTarget),
    /// A Kustomization.
    #[command(visible_alias = "ks")]
    Kustomization(NameArgs),
    /// A HelmRelease.
    #[command(name = "helmrelease", visible_alias = "hr")]
    HelmRelease(NameArgs),
    /// A Receiver.
    Receiver(NameArgs),
}

/// `weir events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only the events of this object, `Kind/name`.
    #[arg(long = "for", value_name = "KIND/NAME")]
    pub for_object: Option<String>,
    /// In every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// `weir tree ...`.
#[derive(Debug, Subcommand)]
pub enum TreeCommand {
    /// A Kustomization's inventory.
    #[command(visible_alias = "ks")]
    Kustomization(TreeArgs),
}

/// `weir tree kustomization`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The Kustomization.
    pub name: String,
}

/// `weir controller`, with Flux's flag names where they exist.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Directory for artifacts and Git caches.
    #[arg(long, default_value = "/data", value_name = "DIR")]
    pub storage_path: PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, default_value = "0.0.0.0:9090", value_name = "ADDR")]
    pub storage_addr: std::net::SocketAddr,
    /// Address written into artifact URLs [default: weir-controller.<namespace>.svc.cluster.local.:80].
    #[arg(long, value_name = "HOST:PORT")]
    pub storage_adv_addr: Option<String>,
    /// Address of the /healthz and /readyz probes.
    #[arg(long, default_value = "0.0.0.0:9440", value_name = "ADDR")]
    pub health_addr: std::net::SocketAddr,
    /// Address of the Receiver webhooks (/hook/<sha256>).
    #[arg(long, default_value = "0.0.0.0:9292", value_name = "ADDR")]
    pub receiver_addr: std::net::SocketAddr,
    /// Address of the Prometheus metrics (/metrics).
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR")]
    pub metrics_addr: std::net::SocketAddr,
    /// Compete for a Lease so that one replica reconciles at a time.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub enable_leader_election: bool,
    /// Objects of each kind reconciled concurrently.
    #[arg(long, default_value_t = 4)]
    pub concurrent: u16,
    /// Watch every namespace (default); with false, only -n (or $RUNTIME_NAMESPACE).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub watch_all_namespaces: bool,
    /// Wait before checking a dependency or a missing source again.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub requeue_dependency: String,
    /// Refuse references to sources and dependencies in other namespaces.
    #[arg(long)]
    pub no_cross_namespace_refs: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogEncoding::Json)]
    pub log_encoding: LogEncoding,
    /// Log level: error, warn, info, debug or trace (-v and WEIR_LOG override).
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// `--log-encoding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogEncoding {
    /// JSON lines.
    Json,
    /// Human-readable lines.
    Console,
}

/// `weir install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print the manifests as YAML instead of applying them.
    #[arg(long)]
    pub export: bool,
    /// How to install.
    #[command(flatten)]
    pub install: InstallFlags,
}

/// What Weir is installed with (the namespace is the global `-n`, default flux-system).
#[derive(Debug, Clone, Args)]
pub struct InstallFlags {
    /// The version to install (image tag `v<VERSION>`) [default: this binary's].
    #[arg(long = "version", value_name = "VERSION")]
    pub version: Option<String>,
    /// The image repository: the image is `<REGISTRY>/weir:v<VERSION>`.
    #[arg(long, default_value = weir_install::DEFAULT_REGISTRY)]
    pub registry: String,
    /// A Secret in the namespace to pull the image with.
    #[arg(long, value_name = "NAME")]
    pub image_pull_secret: Option<String>,
    /// Add NetworkPolicies that keep other namespaces out except for metrics and webhooks.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub network_policy: bool,
    /// Reconcile objects in every namespace, not only Weir's.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub watch_all_namespaces: bool,
    /// The controller's log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Taint keys the controller tolerates (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "KEY")]
    pub toleration_keys: Vec<String>,
}

/// `weir bootstrap ...`.
#[derive(Debug, Subcommand)]
pub enum BootstrapCommand {
    /// Bootstrap from any Git server, over HTTPS (token or password) or SSH (key).
    #[command(disable_version_flag = true)]
    Git(Box<BootstrapGitArgs>),
}

/// `weir bootstrap git`.
#[derive(Debug, Args)]
pub struct BootstrapGitArgs {
    /// The repository URL (https://, http:// or ssh://).
    #[arg(long)]
    pub url: String,
    /// The branch (created when missing).
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// The directory the cluster syncs, from the repository root; Weir's files go to
    /// `<PATH>/<namespace>/`.
    #[arg(long, default_value = "")]
    pub path: String,
    /// How often the cluster looks for new commits.
    #[arg(long, default_value = "1m0s")]
    pub interval: String,
    /// The Secret, in the namespace, that gets the Git credentials.
    #[arg(long, default_value = "flux-system")]
    pub secret_name: String,
    /// HTTPS user name (with --password).
    #[arg(long, short = 'u', default_value = "git")]
    pub username: String,
    /// HTTPS password or token [env: WEIR_GIT_PASSWORD].
    #[arg(long, short = 'p', env = "WEIR_GIT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// SSH private key file (for ssh:// URLs).
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// Passphrase of the SSH key [env: WEIR_GIT_KEY_PASSWORD].
    #[arg(long, env = "WEIR_GIT_KEY_PASSWORD", hide_env_values = true)]
    pub private_key_password: Option<String>,
    /// known_hosts file for the SSH server [default: accept the key it shows and record it].
    #[arg(long, value_name = "FILE")]
    pub known_hosts_file: Option<PathBuf>,
    /// PEM file of the CA that signed the HTTPS server's certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Commit author name.
    #[arg(long, default_value = "Weir")]
    pub author_name: String,
    /// Commit author e-mail.
    #[arg(long, default_value = "weir@users.noreply.local")]
    pub author_email: String,
    /// Wait until the cluster has synced the pushed commit.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub wait: bool,
    /// How long to wait.
    #[arg(long, default_value = "5m")]
    pub timeout: String,
    /// How to install.
    #[command(flatten)]
    pub install: InstallFlags,
}

/// `weir uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Leave the namespace (and the Secrets in it).
    #[arg(long)]
    pub keep_namespace: bool,
    /// How long to wait for the CustomResourceDefinitions to go.
    #[arg(long, default_value = "2m")]
    pub timeout: String,
}

/// `weir diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Files or directories of YAML manifests (`-` for standard input).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        conflicts_with = "kustomize"
    )]
    pub files: Vec<PathBuf>,
    /// A kustomization directory, built with Weir's kustomize engine.
    #[arg(short = 'k', long, value_name = "DIR")]
    pub kustomize: Option<PathBuf>,
    /// Server-side apply field manager.
    #[arg(long, default_value = "weir")]
    pub field_manager: String,
}

/// `weir apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories of YAML manifests (`-` for standard input).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        conflicts_with = "kustomize"
    )]
    pub files: Vec<PathBuf>,
    /// A kustomization directory, built with Weir's kustomize engine.
    #[arg(short = 'k', long, value_name = "DIR")]
    pub kustomize: Option<PathBuf>,
    /// Where to keep the record of applied objects: a ConfigMap `NAMESPACE/NAME`.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub inventory: Option<String>,
    /// Delete objects of the previous inventory that are not applied any more.
    #[arg(long, requires = "inventory")]
    pub prune: bool,
    /// Wait until the applied objects are ready.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Server-side apply field manager.
    #[arg(long, default_value = "weir")]
    pub field_manager: String,
    /// Only dry-run on the server and show what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete and recreate objects whose immutable fields changed (a Job's template, a
    /// Service's clusterIP, selectors), like Flux's `spec.force`. Without it only objects
    /// annotated `kustomize.toolkit.fluxcd.io/force: enabled` are recreated.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

/// `weir delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The inventory ConfigMap `NAMESPACE/NAME` of a previous `weir apply --inventory`.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub inventory: String,
    /// Wait until the objects are gone.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Table or JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableOrJson {
    /// One line per object.
    Table,
    /// A JSON list.
    Json,
}

/// `weir kustomize ...`.
#[derive(Debug, Subcommand)]
pub enum KustomizeCommand {
    /// Build a kustomization directory and print the resulting YAML.
    Build(KustomizeBuildArgs),
}

/// `weir helm ...`.
#[derive(Debug, Subcommand)]
pub enum HelmCommand {
    /// Render a chart directory and print the manifests, as `helm template` does.
    Template(HelmTemplateArgs),
}

/// `weir helm template`.
#[derive(Debug, Args)]
pub struct HelmTemplateArgs {
    /// The release name.
    pub release: String,
    /// The chart directory.
    pub chart: PathBuf,
    /// Values files, merged in order over the chart's values.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Values on the command line (`a.b=c,list[0]=x`; `true`, numbers and `null` typed),
    /// after the files.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Like --set, every value a string.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
    /// Values as JSON (`a.b={"x":1},list=[1,2]`), applied before --set.
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// Values read from files (`key=path`), applied after --set-string.
    #[arg(long = "set-file", value_name = "KEY=FILE")]
    pub set_file: Vec<String>,
    /// One value taken literally (commas and backslashes included), applied last.
    #[arg(long = "set-literal", value_name = "KEY=VALUE")]
    pub set_literal: Vec<String>,
    /// The Kubernetes version `.Capabilities` reports.
    #[arg(long, default_value = "1.36.0")]
    pub kube_version: String,
    /// Extra API versions for `.Capabilities.APIVersions` (repeat or separate with commas).
    #[arg(short = 'a', long, value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Print the chart's crds/ files first.
    #[arg(long)]
    pub include_crds: bool,
    /// Leave out test hooks.
    #[arg(long)]
    pub skip_tests: bool,
    /// Render as an upgrade (`.Release.IsUpgrade`).
    #[arg(long)]
    pub is_upgrade: bool,
}

/// `weir kustomize build`.
#[derive(Debug, Args)]
pub struct KustomizeBuildArgs {
    /// The kustomization directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Whether files outside a kustomization's directory may be read.
    #[arg(long, value_enum, default_value_t = LoadRestrictorArg::LoadRestrictionsRootOnly)]
    pub load_restrictor: LoadRestrictorArg,
    /// Output order when the kustomization has no sortOptions (deprecated, as in kustomize).
    #[arg(long, value_enum)]
    pub reorder: Option<ReorderArg>,
    /// Write the output to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--load-restrictor` values, spelled as kustomize spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(
    clippy::enum_variant_names,
    reason = "the names are kustomize's flag values"
)]
pub enum LoadRestrictorArg {
    /// Only files in or below the kustomization directory.
    #[value(name = "LoadRestrictionsRootOnly")]
    LoadRestrictionsRootOnly,
    /// Any file.
    #[value(name = "LoadRestrictionsNone")]
    LoadRestrictionsNone,
}

/// `--reorder` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReorderArg {
    /// kustomize's legacy kind order.
    Legacy,
    /// Input order.
    None,
}

/// `weir version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `weir check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Seconds to wait for the API server before giving up.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For programs.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn helm_kinds_have_flux_command_names() {
        let parse = |line: &str| {
            Cli::try_parse_from(line.split(' '))
                .unwrap_or_else(|e| panic!("{line}: {e}"))
                .command
        };
        for line in [
            "weir get helmreleases",
            "weir get hr",
            "weir get helmrelease podinfo",
        ] {
            assert!(
                matches!(parse(line), Command::Get(GetCommand::HelmReleases(_))),
                "{line}"
            );
        }
        assert!(matches!(
            parse("weir get sources helm -A"),
            Command::Get(GetCommand::Sources(GetSources::Helm(_)))
        ));
        assert!(matches!(
            parse("weir get sources chart"),
            Command::Get(GetCommand::Sources(GetSources::Chart(_)))
        ));
        let Command::Reconcile(ReconcileCommand::HelmRelease(hr)) =
            parse("weir reconcile hr podinfo --with-source --force --reset")
        else {
            panic!("not reconcile helmrelease");
        };
        assert!(hr.with_source && hr.force && hr.reset);
        assert_eq!(hr.target.name, "podinfo");
        assert!(matches!(
            parse("weir reconcile source chart default-podinfo --with-source"),
            Command::Reconcile(ReconcileCommand::Source(ReconcileSource::Chart(c))) if c.with_source
        ));
        assert!(matches!(
            parse("weir reconcile source helm podinfo"),
            Command::Reconcile(ReconcileCommand::Source(ReconcileSource::Helm(_)))
        ));
        for line in ["weir suspend helmrelease podinfo", "weir resume hr podinfo"] {
            assert!(
                matches!(
                    parse(line),
                    Command::Suspend(TargetCommand::HelmRelease(_))
                        | Command::Resume(TargetCommand::HelmRelease(_))
                ),
                "{line}"
            );
        }
        assert!(matches!(
            parse("weir suspend source chart c"),
            Command::Suspend(TargetCommand::Source(SourceTarget::Chart(_)))
        ));
    }

    #[test]
    fn oci_repositories_have_flux_command_names() {
        let parse = |line: &str| {
            Cli::try_parse_from(line.split(' '))
                .unwrap_or_else(|e| panic!("{line}: {e}"))
                .command
        };
        assert!(matches!(
            parse("weir get sources oci -A"),
            Command::Get(GetCommand::Sources(GetSources::Oci(_)))
        ));
        assert!(matches!(
            parse("weir reconcile source oci podinfo"),
            Command::Reconcile(ReconcileCommand::Source(ReconcileSource::Oci(t))) if t.name == "podinfo"
        ));
        assert!(matches!(
            parse("weir suspend source oci podinfo"),
            Command::Suspend(TargetCommand::Source(SourceTarget::Oci(_)))
        ));
        assert!(matches!(
            parse("weir resume source oci podinfo"),
            Command::Resume(TargetCommand::Source(SourceTarget::Oci(_)))
        ));
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli = Cli::try_parse_from([
            "weir",
            "check",
            "--kubeconfig",
            "/k",
            "--context",
            "c",
            "-n",
            "ns",
            "-vv",
        ])
        .expect("valid command line");
        assert_eq!(cli.global.kubeconfig, Some(PathBuf::from("/k")));
        assert_eq!(cli.global.context.as_deref(), Some("c"));
        assert_eq!(cli.global.namespace.as_deref(), Some("ns"));
        assert_eq!(cli.global.verbose, 2);
    }
}
