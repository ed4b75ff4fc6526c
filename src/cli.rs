//! The command line (clap derive only; doc comments are the help text). Every flag can
//! also be set with an `LBC_<FLAG>` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Uniform build, test and deploy verbs for every repository.
///
/// lbc reads `lbc.toml` (in the current directory or a parent) and maps the same verbs
/// onto Docker, Helm and kubectl in every project.
#[derive(Debug, Parser)]
#[command(name = "lbc", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Run as if lbc was started in DIR.
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        global = true,
        env = "LBC_DIRECTORY"
    )]
    pub directory: Option<PathBuf>,
    /// Print the plan (each command's argv, environment names, directory and purpose) and change nothing.
    #[arg(long, global = true, env = "LBC_DRY_RUN")]
    pub dry_run: bool,
    /// Output format of the result on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true, env = "LBC_OUTPUT")]
    pub output: OutputFormat,
    /// Print only errors and data.
    #[arg(short, long, global = true, env = "LBC_QUIET")]
    pub quiet: bool,
    /// No colour and no spinners (also when NO_COLOR or CI is set).
    #[arg(long, global = true, env = "LBC_NO_COLOR")]
    pub no_color: bool,
    /// Fail with exit code 8 instead of waiting when another lbc holds the lock of the
    /// environment (deploy, destroy, rollback, promote) or of the upgrade.
    #[arg(long, global = true, env = "LBC_NO_WAIT_LOCK")]
    pub no_wait_lock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a service from a stack template (or your own template), or adopt an existing repository.
    ///
    /// `lbc init DIR --stack STACK` writes a complete service: code with a unit test, Dockerfile,
    /// lbc.toml, a Helm chart and CI pipelines. `lbc init --adopt` writes only an lbc.toml for the
    /// repository in the current directory (or DIR), using its Dockerfile and chart.
    Init(InitArgs),
    /// Build the image (and with --push, log in and push it).
    Build(BuildArgs),
    /// Run the test tasks: all of them, or one of unit, functional, integration.
    Test {
        #[arg(value_enum)]
        kind: Option<TestKind>,
    },
    /// Run the `style` task (linters).
    Style,
    /// Run the `format` task (formatters).
    Format,
    /// Run the `complexity` task.
    Complexity,
    /// Run the security tasks: all of them, or one of sast, dependency-scan.
    Security {
        #[arg(value_enum)]
        kind: Option<SecurityKind>,
    },
    /// Run the `run` task (the service on the host or in a container).
    Run,
    /// Rebuild and redeploy `local` on every saved change, streaming the logs (alias
    /// `dev`); a `watch` task in lbc.toml runs instead.
    ///
    /// Changes settle first (debounce); what .dockerignore excludes never triggers a
    /// build. A failed build is shown and the loop goes on. Ctrl-C stops the loop and
    /// removes what it deployed (not the services' data).
    #[command(visible_alias = "dev")]
    Watch(WatchArgs),
    /// Run the `profile` task.
    Profile,
    /// Run any task of lbc.toml by name.
    Task {
        /// The task's name in [tasks].
        name: String,
    },
    /// Deploy the last built image to an environment and wait until it is rolled out
    /// (`local` runs it on this machine's Docker; Kubernetes environments use Helm or kubectl).
    Deploy(DeployArgs),
    /// Print the manifests a Kubernetes deploy would apply.
    Render(RenderArgs),
    /// Deploy to TO exactly the image (by digest) that runs in FROM: no rebuild.
    Promote(PromoteArgs),
    /// Show the release history of a Kubernetes environment.
    History(HistoryArgs),
    /// Roll a Kubernetes environment back to a revision (default: the previous one).
    Rollback(RollbackArgs),
    /// Show what runs in an environment.
    Status(StatusArgs),
    /// Show the logs of what runs in an environment.
    Logs(LogsArgs),
    /// Remove what an environment runs.
    Destroy(DestroyArgs),
    /// Back up the backing services of an environment: one consistent dump per service
    /// (pg_dump, mariadb-dump --single-transaction, a Redis RDB).
    Backup(BackupArgs),
    /// List the backups of an environment.
    Backups(BackupsArgs),
    /// Restore the backing services of an environment from a backup, or from the latest
    /// backups of another environment.
    Restore(RestoreArgs),
    /// Probe the service while killing its replicas at random; report the availability,
    /// the longest outage and the recovery time, and fail (exit 9) below --slo.
    ///
    /// Local replicas are killed with `docker kill` (and started again, as a controller
    /// would); on Kubernetes, pods of the release are deleted, never more than its
    /// PodDisruptionBudget allows.
    Chaos(ChaosArgs),
    /// Per-customer instances (`instances/NAME.toml`): declare, list, remove.
    Instance(InstanceArgs),
    /// Bring the repository up to the newest version of its template (three-way merge that
    /// keeps local edits) and lbc.toml up to the newest schema.
    Upgrade(UpgradeArgs),
    /// Look after many repositories at once: template versions, drift and conflicts
    /// (`fleet status`), and upgrades proposed as branches (`fleet upgrade`).
    Fleet(FleetArgs),
    /// Print the effective configuration (lbc.toml with defaults filled in).
    Config,
    /// Print the JSON Schema of lbc.toml.
    Schema,
    /// The image catalogue: list it (no subcommand), check the repository's images
    /// against it, or lock its tags to digests.
    Catalog(CatalogArgs),
    /// Check that docker, helm, kubectl and git are ready for this project, with a fix for each problem.
    Doctor,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to generate into (created if missing; default: the current directory).
    pub dir: Option<PathBuf>,
    /// Built-in stack: python, node, go, rust, java or static (`--list` describes them).
    #[arg(short, long, env = "LBC_STACK", conflicts_with = "template")]
    pub stack: Option<String>,
    /// Your own template: a directory, or a git repository (path or URL).
    #[arg(long, value_name = "SRC", env = "LBC_TEMPLATE", value_parser = crate::validate::arg::plain)]
    pub template: Option<String>,
    /// Tag, branch or commit of a git template (default: HEAD); with --stack, an earlier
    /// version of the stack that this lbc carries (default: the newest).
    #[arg(long, value_name = "REF", env = "LBC_TEMPLATE_VERSION", value_parser = crate::validate::arg::plain)]
    pub template_version: Option<String>,
    /// The service's name (the template's `name` variable; default: from DIR).
    #[arg(long, env = "LBC_NAME")]
    pub name: Option<String>,
    /// A database beside the service: postgres, mysql (MariaDB), redis or none (the
    /// template's `database` variable: `[services.db]` in lbc.toml and code that uses it).
    #[arg(
        long,
        value_name = "TYPE",
        env = "LBC_DATABASE",
        conflicts_with = "adopt"
    )]
    pub database: Option<String>,
    /// Set a template variable, e.g. `--set registry=registry.corp.example/team/hello` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ask nothing: take the default of every variable not set.
    #[arg(short, long, env = "LBC_YES")]
    pub yes: bool,
    /// Write into a non-empty directory (existing files that differ are listed first).
    #[arg(long, env = "LBC_FORCE")]
    pub force: bool,
    /// List the built-in stacks and their variables.
    #[arg(long, conflicts_with_all = ["adopt", "template", "stack"])]
    pub list: bool,
    /// Write only lbc.toml for an existing repository, using its Dockerfile and chart.
    #[arg(long, conflicts_with = "template", env = "LBC_ADOPT")]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub action: Option<CatalogAction>,
}

#[derive(Debug, Subcommand)]
pub enum CatalogAction {
    /// List every image the repository uses (Dockerfiles, task images, the chart's
    /// values) and what the catalogue says about each; exit 5 when the catalogue's
    /// policy is `enforce` and one is not approved.
    Check {
        /// Also exit 5 under the `warn` policy.
        #[arg(long, env = "LBC_STRICT")]
        strict: bool,
    },
    /// Resolve the catalogue's tags to digests from the registry and write them to the
    /// lock file beside the catalogue; builds use them until the next lock.
    Lock,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Also log in to the registry and push the image.
    #[arg(long, env = "LBC_PUSH")]
    pub push: bool,
    /// Build even when the inputs did not change since the last build.
    #[arg(long, env = "LBC_FORCE")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// Deploy this image reference instead of the last build (wins over --tag).
    #[arg(long, env = "LBC_IMAGE", value_parser = crate::validate::arg::image)]
    pub image: Option<String>,
    /// Deploy this tag of the project's repository instead of the last build.
    #[arg(long, env = "LBC_TAG", value_parser = crate::validate::arg::tag)]
    pub tag: Option<String>,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
    /// Deploy to a protected environment from a git tree with uncommitted changes.
    #[arg(long, env = "LBC_ALLOW_DIRTY")]
    pub allow_dirty: bool,
    /// Deploy to an environment with `promote_from` an image that does not run there.
    #[arg(long, env = "LBC_FORCE")]
    pub force: bool,
    /// Run N containers of the app behind a local load balancer (docker environments;
    /// wins over `replicas` in lbc.toml). A redeploy replaces them one at a time.
    #[arg(long, value_name = "N", env = "LBC_REPLICAS", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub replicas: Option<u32>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub instances: InstanceSelect,
}

/// Which instances (`instances/NAME.toml`) a deploy or promotion acts on, and how many
/// at once.
#[derive(Debug, Args, Clone, Default)]
pub struct InstanceSelect {
    /// Only this instance (its own release, namespace and host; on a docker environment
    /// its own container, port and volumes).
    #[arg(
        long,
        value_name = "NAME",
        env = "LBC_INSTANCE",
        conflicts_with = "all_instances"
    )]
    pub instance: Option<String>,
    /// Every instance of the environment, `--jobs` at a time, each rolled back on its own
    /// when it fails.
    #[arg(long, env = "LBC_ALL_INSTANCES")]
    pub all_instances: bool,
    /// Instances deployed at once (default 4).
    #[arg(long, value_name = "N", default_value_t = 4, env = "LBC_JOBS", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// Start no further instance after one failed (the running ones finish).
    #[arg(long, env = "LBC_FAIL_FAST")]
    pub fail_fast: bool,
}

#[derive(Debug, Args)]
pub struct InstanceArgs {
    #[command(subcommand)]
    pub action: InstanceAction,
}

#[derive(Debug, Subcommand)]
pub enum InstanceAction {
    /// Declare an instance: writes instances/NAME.toml (never over an existing one).
    Add(InstanceAddArgs),
    /// List the instances: environments, namespace, hosts, backup schedule.
    List,
    /// Remove an instance's release from its environments and its file; its data (the
    /// namespace with its volume claims) stays unless --purge.
    Remove(InstanceRemoveArgs),
}

#[derive(Debug, Args)]
pub struct InstanceAddArgs {
    /// The instance's name: a DNS label like `acme`.
    pub name: String,
    /// An environment it runs in (repeatable; default: every environment).
    #[arg(long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// A Helm value of this instance, over the environment's `set` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Its namespace (default PROJECT-NAME).
    #[arg(long, value_parser = crate::validate::arg::namespace)]
    pub namespace: Option<String>,
    /// Its host (default NAME.DOMAIN, DOMAIN being the environment's `domain`).
    #[arg(long)]
    pub host: Option<String>,
    /// When its backups run (cron, e.g. `0 * * * *`).
    #[arg(long, value_name = "CRON")]
    pub backup_schedule: Option<String>,
    /// Docker environments: its host port.
    #[arg(long)]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct InstanceRemoveArgs {
    /// The instance's name.
    pub name: String,
    /// Only from this environment (default: every environment it runs in).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Also delete its data: the namespace (volume claims, Secrets), or a docker
    /// environment's volumes.
    #[arg(long, env = "LBC_PURGE")]
    pub purge: bool,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
}

/// Where a Kubernetes verb acts. Precedence: these flags, then lbc.toml, then the
/// kubeconfig's current context and its namespace.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Kube context to use (overrides the environment's `context`).
    #[arg(long, env = "LBC_CONTEXT", value_parser = crate::validate::arg::plain)]
    pub context: Option<String>,
    /// Namespace to use (overrides the environment's `namespace`).
    #[arg(long, env = "LBC_NAMESPACE", value_parser = crate::validate::arg::namespace)]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The docker environment to deploy to.
    #[arg(long, default_value = "local", env = "LBC_ENV", value_parser = crate::validate::arg::plain)]
    pub env: String,
    /// How long changes must settle before a build (`300ms`, `1s`).
    #[arg(long, default_value = "300ms", env = "LBC_DEBOUNCE", value_parser = crate::config::parse_duration)]
    pub debounce: std::time::Duration,
    /// On Ctrl-C, leave what was deployed running.
    #[arg(long, env = "LBC_NO_CLEANUP")]
    pub no_cleanup: bool,
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// How long to probe and kill (`30s`, `2m`).
    #[arg(long, default_value = "30s", env = "LBC_DURATION", value_parser = crate::config::parse_duration)]
    pub duration: std::time::Duration,
    /// How often to kill a replica.
    #[arg(long, default_value = "5s", env = "LBC_KILL_EVERY", value_parser = crate::config::parse_duration)]
    pub kill_every: std::time::Duration,
    /// The percentage of requests that must be answered (else exit 9).
    #[arg(long, default_value_t = 99.9, env = "LBC_SLO")]
    pub slo: f64,
    /// Probe this URL instead of the environment's own (required on Kubernetes, where lbc
    /// does not know the service's address).
    #[arg(long, env = "LBC_URL", value_parser = crate::validate::arg::http_url)]
    pub url: Option<String>,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Environment name from lbc.toml (docker, or kubernetes: its provisioned services).
    pub env: String,
    /// The instance's services (a docker environment: the instance's own containers and backups).
    #[arg(long, value_name = "NAME", env = "LBC_INSTANCE")]
    pub instance: Option<String>,
    /// Only this service (`[services.NAME]`); default: all of them.
    #[arg(long, value_name = "NAME", env = "LBC_SERVICE")]
    pub service: Option<String>,
    /// Where backups are kept: a directory or `s3://BUCKET/PREFIX` (default: `[backup]
    /// destination` of lbc.toml, else ~/.local/share/lbc/backups/PROJECT).
    #[arg(long, value_name = "DIR|S3-URL", env = "LBC_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Then keep only the N newest backups of each service backed up (older ones are deleted).
    #[arg(long, value_name = "N", env = "LBC_KEEP", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
}

#[derive(Debug, Args)]
pub struct BackupsArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// The instance's services (a docker environment: the instance's own containers and backups).
    #[arg(long, value_name = "NAME", env = "LBC_INSTANCE")]
    pub instance: Option<String>,
    /// Where backups are kept: a directory or `s3://BUCKET/PREFIX` (default: `[backup]
    /// destination` of lbc.toml, else ~/.local/share/lbc/backups/PROJECT).
    #[arg(long, value_name = "DIR|S3-URL", env = "LBC_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Environment name from lbc.toml (docker, or kubernetes: its provisioned services).
    pub env: String,
    /// The instance's services (a docker environment: the instance's own containers and backups).
    #[arg(long, value_name = "NAME", env = "LBC_INSTANCE")]
    pub instance: Option<String>,
    /// A backup file (as listed by `lbc backups`), or an environment whose latest backups
    /// are restored.
    #[arg(long, value_name = "BACKUP|ENV", env = "LBC_FROM")]
    pub from: String,
    /// Only this service (`[services.NAME]`); default: all of them.
    #[arg(long, value_name = "NAME", env = "LBC_SERVICE")]
    pub service: Option<String>,
    /// Where backups are kept: a directory or `s3://BUCKET/PREFIX` (default: `[backup]
    /// destination` of lbc.toml, else ~/.local/share/lbc/backups/PROJECT).
    #[arg(long, value_name = "DIR|S3-URL", env = "LBC_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Replace the data of a service that holds some (refused without it).
    #[arg(long, env = "LBC_OVERWRITE")]
    pub overwrite: bool,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The template version to upgrade to: a tag, branch or commit of a git template, a
    /// version of a built-in stack (default: the newest).
    #[arg(long, value_name = "REF", env = "LBC_TO", value_parser = crate::validate::arg::plain)]
    pub to: Option<String>,
    /// Change nothing; exit 0 when up to date, 6 when an upgrade is available.
    #[arg(long, env = "LBC_CHECK")]
    pub check: bool,
    /// Upgrade even though the git tree has uncommitted changes.
    #[arg(long, env = "LBC_ALLOW_DIRTY")]
    pub allow_dirty: bool,
    /// An earlier upgrade was killed mid-way: put back every file it had changed (from
    /// its backup under .lbc/state/), then stop.
    #[arg(long, conflicts_with_all = ["discard", "check", "to"])]
    pub recover: bool,
    /// An earlier upgrade was killed mid-way: keep the files as it left them and delete
    /// its backup, then stop.
    #[arg(long, conflicts_with_all = ["recover", "check", "to"])]
    pub discard: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// Render this image reference instead of the last build.
    #[arg(long, env = "LBC_IMAGE", value_parser = crate::validate::arg::image)]
    pub image: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// Revision to return to (see `lbc history ENV`).
    pub revision: Option<u32>,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// Gitops environments: wait (up to the environment's `timeout`) until the cluster
    /// reconciled the committed release; fail when it does not.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Keep streaming new lines.
    #[arg(short, long, env = "LBC_FOLLOW")]
    pub follow: bool,
    /// Number of lines from the end.
    #[arg(long, default_value_t = 200, env = "LBC_TAIL")]
    pub tail: u32,
    /// Show the logs of this backing service (`[services.NAME]`) instead of the app.
    #[arg(long, value_name = "NAME", env = "LBC_SERVICE")]
    pub service: Option<String>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Environment name from lbc.toml.
    pub env: String,
    /// Skip the confirmation of protected environments.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
    /// Also remove the backing services' volumes: their data is deleted (kept by default).
    #[arg(long, env = "LBC_VOLUMES")]
    pub volumes: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// For each repository: template and version, versions behind, lbc.toml schema, drift
    /// from the template and unresolved upgrade conflicts.
    Status(FleetStatusArgs),
    /// For each repository behind: upgrade on a new branch `lbc/upgrade-VERSION` from the
    /// default branch, commit, push it (remote repositories) and run `open_mr` of fleet.toml.
    Upgrade(FleetUpgradeArgs),
}

/// Which repositories, and how to reach them.
#[derive(Debug, Args)]
pub struct FleetSelect {
    /// Repositories: directories or git URLs (default: `repos` of fleet.toml).
    #[arg(value_name = "REPO")]
    pub repos: Vec<String>,
    /// The fleet file (default: ./fleet.toml when no REPO is named).
    #[arg(long, value_name = "FILE", env = "LBC_FLEET")]
    pub fleet: Option<PathBuf>,
    /// Repositories worked on at once (default: `jobs` of fleet.toml, else 4 per CPU).
    #[arg(short, long, value_name = "N", env = "LBC_JOBS")]
    pub jobs: Option<usize>,
    /// Where remote repositories are cloned (default: `cache` of fleet.toml, else
    /// $XDG_CACHE_HOME/lbc/fleet or ~/.cache/lbc/fleet).
    #[arg(long, value_name = "DIR", env = "LBC_FLEET_CACHE")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FleetStatusArgs {
    #[command(flatten)]
    pub select: FleetSelect,
    /// The human report: a table, or Markdown (`--output json` prints the JSON document).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table, env = "LBC_FORMAT")]
    pub format: ReportFormat,
    /// Exit 7 when a repository is N or more released versions behind its template.
    #[arg(long, value_name = "N", env = "LBC_FAIL_ON_BEHIND", value_parser = clap::value_parser!(u32).range(1..))]
    pub fail_on_behind: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Markdown,
}

#[derive(Debug, Args)]
pub struct FleetUpgradeArgs {
    #[command(flatten)]
    pub select: FleetSelect,
    /// The version to propose: `1.2.0` or `v1.2.0` (default: each template's newest).
    /// Repositories whose template has no such release are skipped.
    #[arg(long, value_name = "VERSION", env = "LBC_TO")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose running image is promoted.
    pub from: String,
    /// The environment it is deployed to.
    pub to: String,
    /// Confirm a protected environment without a prompt.
    #[arg(long, env = "LBC_YES")]
    pub yes: bool,
    /// Promote from a git tree with uncommitted changes.
    #[arg(long, env = "LBC_ALLOW_DIRTY")]
    pub allow_dirty: bool,
    #[command(flatten)]
    pub instances: InstanceSelect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestKind {
    Unit,
    Functional,
    Integration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityKind {
    Sast,
    DependencyScan,
}
