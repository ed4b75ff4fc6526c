//! `lbc.toml`: the model (a public contract: keys are added, never renamed), loading
//! with errors that point at file, line and column, and semantic validation.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::validate;

pub const FILE_NAME: &str = "lbc.toml";
/// The newest `schema = N` this binary understands. Older files are migrated in memory
/// (and rewritten by `lbc upgrade`, see `upgrade::schema`).
///
/// - 1: an environment without `kind` is a kubernetes environment.
/// - 2: an environment without `kind` is inferred from its keys (`port`, `health`, ...
///   make it docker; `context`, `namespace`, ... kubernetes); neither is an error.
pub const CURRENT_SCHEMA: u32 = 2;

fn default_schema() -> u32 {
    CURRENT_SCHEMA
}

/// The whole of `lbc.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Version of the lbc.toml format. Older versions are migrated in memory.
    #[serde(default = "default_schema")]
    pub schema: u32,
    pub project: Project,
    /// The container image this repository builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// Names of the environment variables that hold push credentials (never the values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// The uniform verbs (gazr's names): `test-unit`, `style`, `format`, `security-sast`, ...
    /// A string runs with `sh -c` exactly as written; an array is an argv run directly;
    /// a table adds where it runs (`stage` or `image`) and extra environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, Task>,
    /// How to deploy to Kubernetes environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Deployment targets by name: `local` (kind "docker"), `qualification`, `staging`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Environment>,
    /// Backing services beside the app (a database, a cache), by name: the name is the
    /// service's host name on the environment's network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, crate::services::Service>,
    /// Where `lbc backup` keeps the services' dumps: a directory or an S3 bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::services::backup::BackupConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The project's name: a DNS-1123 label (lowercase letters, digits, '-').
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// What builds are tagged as and pushed to, e.g. `registry.example.com/team/hello`.
    pub repository: String,
    /// Path of the Dockerfile, relative to the repository root.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Build context, relative to the repository root.
    #[serde(default = "default_context")]
    pub context: String,
    /// Optional build stage (`docker build --target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Optional platform (`docker build --platform`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Build arguments, passed as `--build-arg NAME=VALUE` (values are never interpreted by a shell).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// Build arguments whose value is a logical base image resolved through the base-image
    /// catalogue (`lbc catalog`), e.g. `BUILDER_IMAGE = "python"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bases: BTreeMap<String, String>,
    /// Which build stages trust the organisation's CA certificates (`lbc doctor` shows
    /// the bundle): `build` (the default) every stage but the final image's, `image` the
    /// final image too, `none` no stage.
    #[serde(default, skip_serializing_if = "CaScope::is_default")]
    pub ca_certificates: CaScope,
}

/// `[image] ca_certificates` (issue #11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaScope {
    /// The stages that are not the final image (dependencies are fetched there).
    #[default]
    Build,
    /// Every stage, the final image included.
    Image,
    /// None: the Dockerfile is built as written.
    None,
}

impl CaScope {
    pub fn is_default(&self) -> bool {
        *self == CaScope::Build
    }
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}
fn default_context() -> String {
    ".".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Registry host to log in to; default: the host part of `image.repository`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Name of the environment variable holding the user name.
    pub username_env: String,
    /// Name of the environment variable holding the password or token.
    pub password_env: String,
}

/// What a task runs: a shell string (run with `sh -c` as written) or an argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TaskCommand {
    Shell(String),
    Argv(Vec<String>),
}

/// A task of `[tasks]`.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub run: TaskCommand,
    /// Run inside a container of the image built from this Dockerfile stage, with the
    /// repository mounted at `/workspace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Run inside a container of this image (a catalogue name or an image reference),
    /// with the repository mounted at `/workspace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Extra environment variables for the task.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// One line saying what the task does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Backing services the task runs with (`test-integration`: all of them unless given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Paths of the workspace that the task takes from its image instead of the
    /// repository (PHP's `vendor`, installed in the stage): each is an anonymous volume
    /// that Docker fills from the image (issue #11).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_image: Vec<String>,
}

/// The table form of a task.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TaskTable {
    /// The command: a string runs with `sh -c`, an array is an argv.
    run: TaskCommandRepr,
    /// Run in a container of the image built from this Dockerfile stage.
    #[serde(default)]
    stage: Option<String>,
    /// Run in a container of this image (catalogue name or image reference).
    #[serde(default)]
    image: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    description: Option<String>,
    /// Backing services to start for the task, on the same network, with their
    /// connection variables (`test-integration` gets all of them unless it says).
    #[serde(default)]
    services: Option<Vec<String>>,
    /// Paths of /workspace that come from the task's image, not the repository (e.g.
    /// `["vendor"]`: the PHP packages the stage installed); only with `stage` or `image`.
    #[serde(default)]
    from_image: Vec<String>,
}

/// A path of `from_image`: a path inside the repository ([`check_repo_path`]) made of
/// plain names only (it becomes a `--volume`).
fn check_from_image(path: &str) -> Result<(), String> {
    let plain = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '/');
    match check_repo_path(path) {
        Ok(()) if path.chars().all(plain) => Ok(()),
        Ok(()) => Err("it has a character other than letters, digits, '.', '_', '-' and '/'"),
        Err(why) => Err(why),
    }
    .map_err(|why| {
        format!(
            "from_image: {path:?} is not a relative path of plain names ({why}), e.g. \"vendor\""
        )
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum TaskCommandRepr {
    Shell(String),
    Argv(Vec<String>),
}

impl From<TaskCommandRepr> for TaskCommand {
    fn from(r: TaskCommandRepr) -> Self {
        match r {
            TaskCommandRepr::Shell(s) => TaskCommand::Shell(s),
            TaskCommandRepr::Argv(v) => TaskCommand::Argv(v),
        }
    }
}

/// Only for the JSON Schema: the three accepted forms of a task.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TaskSchema {
    /// A shell string, run with `sh -c` exactly as written.
    Shell(String),
    /// An argv, run directly.
    Argv(Vec<String>),
    /// A table with `run` and where to run it.
    Table(TaskTable),
}

impl JsonSchema for Task {
    fn schema_name() -> String {
        "Task".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        TaskSchema::json_schema(gen)
    }
}

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Task;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a shell string, an array of strings (argv), or a table with `run`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Task, E> {
                Ok(Task::simple(TaskCommand::Shell(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Task, A::Error> {
                let mut argv = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    argv.push(s);
                }
                if argv.is_empty() {
                    return Err(de::Error::invalid_length(0, &"a non-empty argv"));
                }
                Ok(Task::simple(TaskCommand::Argv(argv)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Task, A::Error> {
                let t = TaskTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                for p in &t.from_image {
                    check_from_image(p).map_err(de::Error::custom)?;
                }
                if !t.from_image.is_empty() && t.stage.is_none() && t.image.is_none() {
                    return Err(de::Error::custom(
                        "from_image needs `stage` or `image`: it names paths of the task's container",
                    ));
                }
                Ok(Task {
                    run: t.run.into(),
                    stage: t.stage,
                    image: t.image,
                    env: t.env,
                    description: t.description,
                    services: t.services,
                    from_image: t.from_image,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Task {
    pub fn simple(run: TaskCommand) -> Self {
        Task {
            run,
            stage: None,
            image: None,
            env: BTreeMap::new(),
            description: None,
            services: None,
            from_image: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// A Helm chart directory (default when `deploy/chart` exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// A directory of plain Kubernetes manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<String>,
    /// A kustomize directory; `{env}` is replaced by the environment's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<String>,
    /// Helm release name; default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvKind {
    /// Runs on this machine's Docker engine.
    Docker,
    /// Deploys to a Kubernetes cluster with Helm or kubectl.
    #[default]
    Kubernetes,
}

/// One deployment target.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// `docker` (this machine) or `kubernetes`. Without it, schema 1 means kubernetes;
    /// schema 2 infers it from the other keys.
    #[serde(default, rename = "kind", skip_serializing_if = "Option::is_none")]
    pub declared_kind: Option<EnvKind>,
    /// The kind in effect, after the rules of the file's schema.
    #[serde(skip)]
    pub kind: EnvKind,
    /// Refuse to act without confirmation (typed name on a terminal, `--yes` elsewhere).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,

    // --- kind = "docker" ---
    /// Host port to publish (docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Port the service listens on inside the container (docker; default: `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Host address the port is published on (docker; default 127.0.0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// HTTP path polled until it answers 200 (docker). Without it, lbc waits for the
    /// image's HEALTHCHECK, or for the container to be running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Environment variables for the container (docker).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// How many containers of the app run behind a local load balancer (docker; default
    /// 1: one container publishing the port, no balancer). `lbc deploy --replicas N`
    /// wins (issue #14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub replicas: Option<u32>,

    // --- kind = "kubernetes" ---
    /// Kube context; always passed explicitly to helm and kubectl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Namespace; always passed explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Path to a kubeconfig file for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// Helm values files, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Helm values set as strings: `"a.b" = "v"` nests, `\.` in a key is a literal dot;
    /// they win over `values` files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// How long a deploy may take before it is rolled back (`30s`, `5m`, `1h`; default 5m;
    /// for docker environments: how long to wait for health, default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `timeout` as a duration, resolved when the file is loaded.
    #[serde(skip)]
    #[schemars(skip)]
    pub timeout_value: Option<std::time::Duration>,
    /// Only images running in this environment may be deployed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    /// helm binary to use (default `helm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<String>,
    /// kubectl binary to use (default `kubectl`; `oc` works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubectl: Option<String>,
    /// Backing services in this (kubernetes) environment: `[env.NAME.services.SERVICE]`
    /// with `secret = "NAME"` makes a service external (a Secret the platform manages);
    /// without it lbc provisions the service in the namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, crate::services::kube::EnvService>,
    /// Scheduled backups of this (kubernetes) environment's provisioned services, a
    /// CronJob (hourly by default for protected environments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::services::kube::EnvBackup>,
    /// The wildcard DNS domain of the environment's instances (`instances/NAME.toml`):
    /// instance NAME is served at `NAME.DOMAIN` (docs/instances.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,

    // --- delivery = "gitops" (docs/gitops.md) ---
    /// How a deploy reaches the cluster: `direct` (helm or kubectl, the default) or
    /// `gitops` (a commit to an environment repository that Flux or Argo CD applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// gitops: the environment repository's URL (`https://`, `ssh://`, `git@host:path`,
    /// `file://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// gitops: the branch lbc commits to (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// gitops: the directory inside the environment repository that holds this
    /// environment's release (relative, no `..`); lbc owns its content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// gitops: what lbc writes under `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<GitopsFormat>,
    /// gitops: the environment variable holding an HTTPS token for the repository
    /// (never the token itself). Without it, git's own credentials (ssh agent, helper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// gitops: the user name sent with the token (default `x-access-token`; GitLab
    /// takes `oauth2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_user: Option<String>,
    /// gitops: `NAMESPACE/NAME` of the Flux Kustomization that applies `path`: status and
    /// the wait read its Ready condition and applied revision (instead of the HelmRelease
    /// or Application); the way to follow format "manifests".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomization: Option<String>,
}

/// How a deploy reaches a Kubernetes environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// helm or kubectl against the cluster.
    #[default]
    Direct,
    /// A commit to an environment repository.
    Gitops,
}

/// What a gitops environment's release is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GitopsFormat {
    /// A Flux `HelmRelease` (chart reference and values).
    FluxHelmrelease,
    /// An Argo CD `Application` (chart source and helm values).
    ArgocdApplication,
    /// The chart rendered with `helm template`, plus a kustomization.yaml.
    Manifests,
}

impl GitopsFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            GitopsFormat::FluxHelmrelease => "flux-helmrelease",
            GitopsFormat::ArgocdApplication => "argocd-application",
            GitopsFormat::Manifests => "manifests",
        }
    }
}

impl Environment {
    /// Whether a deploy commits to an environment repository.
    pub fn is_gitops(&self) -> bool {
        self.delivery == Some(Delivery::Gitops)
    }
    /// The gitops keys that are set (for the checks that refuse them elsewhere).
    fn gitops_keys(&self) -> [(&'static str, bool); 8] {
        [
            ("delivery", self.delivery.is_some()),
            ("repo", self.repo.is_some()),
            ("branch", self.branch.is_some()),
            ("path", self.path.is_some()),
            ("format", self.format.is_some()),
            ("token_env", self.token_env.is_some()),
            ("token_user", self.token_user.is_some()),
            ("kustomization", self.kustomization.is_some()),
        ]
    }
    /// The helm binary (`helm` unless `helm = "PATH"`).
    pub fn helm_bin(&self) -> String {
        self.helm.clone().unwrap_or_else(|| "helm".into())
    }
    /// The kubectl binary (`kubectl` unless `kubectl = "PATH"`).
    pub fn kubectl_bin(&self) -> String {
        self.kubectl.clone().unwrap_or_else(|| "kubectl".into())
    }
    /// The environment's `timeout`, or the kind's default.
    pub fn timeout_or(&self, default: std::time::Duration) -> std::time::Duration {
        self.timeout_value.unwrap_or(default)
    }
    /// How many containers of the app a docker environment runs (issue #14).
    pub fn replicas(&self) -> u32 {
        self.replicas.unwrap_or(1)
    }
    pub fn host_port(&self) -> u16 {
        self.port.unwrap_or(8080)
    }
    pub fn container_port(&self) -> u16 {
        self.container_port.unwrap_or_else(|| self.host_port())
    }
    pub fn bind_address(&self) -> &str {
        self.bind.as_deref().unwrap_or("127.0.0.1")
    }
}

/// The most replicas a docker environment runs (the load balancer's server slots).
pub const MAX_REPLICAS: u32 = 16;

/// A loaded configuration with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The `lbc.toml` file.
    pub path: PathBuf,
    /// The directory holding it: the project root.
    pub root: PathBuf,
    /// The file's text, kept for pointing errors at lines.
    pub raw: String,
    /// The `schema` the file declared, before in-memory migration.
    pub declared_schema: u32,
}

/// Find `lbc.toml` in `start` or a parent directory.
pub fn discover(start: &Path) -> Result<PathBuf, Error> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(Error::usage(
        format!(
            "no {FILE_NAME} in {} or any parent directory",
            start.display()
        ),
        Some("run `lbc init DIR --stack STACK` to create a project, `lbc init --adopt` in an existing repository, or pass `-C DIR`".to_owned()),
    ))
}

/// Read, parse and validate `lbc.toml` at `path`.
pub fn load(path: &Path) -> Result<Loaded, Error> {
    let bytes = fs_err::read(path).map_err(|e| crate::fsutil::io_err(path, e))?;
    let raw = decode(path, bytes)?;
    parse(path, &raw)
}

/// The text of a TOML file, or a configuration error naming the line and column of the
/// first byte that is not UTF-8 (TOML files are UTF-8 by definition).
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        // Everything before the bad byte is valid UTF-8: render the error there.
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let span = good..good + 1;
        Error::Config {
            rendered: render_at(
                path,
                &shown,
                Some(span),
                &format!("byte {good} is not valid UTF-8: a TOML file must be UTF-8 text"),
            ),
            hint: Some(
                "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or remove the byte shown".into(),
            ),
        }
    })
}

/// Parse and validate the text of an `lbc.toml`; `path` is only used in messages.
pub fn parse(path: &Path, raw: &str) -> Result<Loaded, Error> {
    let config: Config = toml::from_str(raw).map_err(|e| {
        let mut message = e.message().trim().to_owned();
        if message.contains("untagged enum TaskCommandRepr") {
            message =
                "`run` must be a string (run with `sh -c`) or an array of strings (an argv)".into();
        }
        let hint = did_you_mean(&message).or_else(|| Some(parse_hint(&message).to_owned()));
        Error::Config {
            rendered: render_at(path, raw, e.span(), &message),
            hint,
        }
    })?;
    let mut config = config;
    let declared_schema = config.schema;
    let kinds = resolve_kinds(&config);
    let loaded_for_errors = Loaded {
        config: config.clone(),
        path: path.to_owned(),
        root: PathBuf::new(),
        raw: raw.to_owned(),
        declared_schema,
    };
    check_schema(&loaded_for_errors)?;
    for (name, kind) in kinds {
        let kind = kind
            .map_err(|(msg, hint)| loaded_for_errors.error_at(&["env", &name], &msg, Some(hint)))?;
        let env = config.env.get_mut(&name).expect("listed above");
        env.kind = kind;
        env.declared_kind = Some(kind);
        // Checked by the validation below; a bad value is reported there.
        env.timeout_value = env.timeout.as_deref().and_then(|t| parse_duration(t).ok());
    }
    if declared_schema < CURRENT_SCHEMA && declared_schema > 0 {
        config.schema = CURRENT_SCHEMA;
    }
    let loaded = Loaded {
        config,
        path: path.to_owned(),
        root: path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from(".")),
        raw: raw.to_owned(),
        declared_schema,
    };
    validate(&loaded)?;
    Ok(loaded)
}

impl Loaded {
    /// A semantic error about the value at `key` (a dotted path like `project.name`).
    pub fn error_at(&self, key: &[&str], message: &str, hint: Option<String>) -> Error {
        let span = locate(&self.raw, key, false);
        Error::Config {
            rendered: render_at(&self.path, &self.raw, span, message),
            hint,
        }
    }

    /// A semantic error about a name (a key of a table, like a variable name in `vars`):
    /// points at the key rather than at its value.
    pub fn error_at_key(&self, key: &[&str], message: &str, hint: Option<String>) -> Error {
        let span = locate(&self.raw, key, true);
        Error::Config {
            rendered: render_at(&self.path, &self.raw, span, message),
            hint,
        }
    }

    /// Check the value at `key` with one of [`crate::validate`]'s checks.
    fn check(
        &self,
        key: &[&str],
        what: &str,
        value: &str,
        check: fn(&str) -> Result<(), &'static str>,
        hint: &str,
    ) -> Result<(), Error> {
        check(value).map_err(|why| {
            self.error_at(
                key,
                &format!("{what} `{}` is not valid: {why}", validate::excerpt(value)),
                Some(hint.to_owned()),
            )
        })
    }

    /// Check a key of a table (a name) with one of [`crate::validate`]'s checks.
    fn check_key(
        &self,
        key: &[&str],
        what: &str,
        check: fn(&str) -> Result<(), &'static str>,
        hint: &str,
    ) -> Result<(), Error> {
        let name = key.last().copied().unwrap_or_default();
        check(name).map_err(|why| {
            self.error_at_key(
                key,
                &format!("{what} `{}` is not valid: {why}", validate::excerpt(name)),
                Some(hint.to_owned()),
            )
        })
    }

    /// Is the item at `key` a table (`[tasks.x]` or `x = { ... }`)?
    fn is_table(&self, key: &[&str]) -> bool {
        let Ok(doc) = toml_edit::ImDocument::parse(self.raw.as_str()) else {
            return false;
        };
        let mut item = doc.as_item();
        for k in key {
            match item.get(k) {
                Some(i) => item = i,
                None => return false,
            }
        }
        item.is_table_like()
    }

    pub fn project(&self) -> &str {
        &self.config.project.name
    }

    /// The named environment, or a usage error listing the known ones.
    pub fn environment(&self, name: &str) -> Result<&Environment, Error> {
        self.config.env.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.config.env.keys().map(String::as_str).collect();
            Error::usage(
                format!("unknown environment `{name}` in {}", self.path.display()),
                Some(if known.is_empty() {
                    format!("declare it in {} as `[env.{name}]`", self.path.display())
                } else {
                    format!(
                        "known environments: {}; or declare `[env.{name}]`",
                        known.join(", ")
                    )
                }),
            )
        })
    }

    /// The image section, or a configuration error saying how to declare it.
    pub fn image(&self) -> Result<&Image, Error> {
        self.config.image.as_ref().ok_or_else(|| {
            Error::usage(
                format!("{} has no [image] section", self.path.display()),
                Some(format!(
                    "add\n  [image]\n  repository = \"registry.example.com/team/{}\"",
                    self.project()
                )),
            )
        })
    }
}

fn check_schema(l: &Loaded) -> Result<(), Error> {
    if l.declared_schema == 0 {
        return Err(l.error_at(
            &["schema"],
            "`schema` starts at 1",
            Some(format!("set `schema = {CURRENT_SCHEMA}`")),
        ));
    }
    if l.declared_schema > CURRENT_SCHEMA {
        return Err(l.error_at(
            &["schema"],
            &format!(
                "this file uses lbc.toml schema {}, but this lbc ({}) only knows schemas up to {CURRENT_SCHEMA}: this lbc is too old",
                l.declared_schema,
                env!("CARGO_PKG_VERSION")
            ),
            Some("install a newer lbc (see install.sh)".into()),
        ));
    }
    Ok(())
}

type KindResult = Result<EnvKind, (String, String)>;

/// The kind of every environment under the rules of the file's schema.
fn resolve_kinds(c: &Config) -> Vec<(String, KindResult)> {
    c.env
        .iter()
        .map(|(name, env)| {
            let kind = match env.declared_kind {
                Some(k) => Ok(k),
                None if c.schema <= 1 => Ok(EnvKind::Kubernetes),
                None => infer_kind(name, env),
            };
            (name.clone(), kind)
        })
        .collect()
}

fn infer_kind(name: &str, env: &Environment) -> KindResult {
    let docker = env.port.is_some()
        || env.container_port.is_some()
        || env.bind.is_some()
        || env.health.is_some()
        || env.replicas.is_some()
        || !env.vars.is_empty();
    let kube = env.context.is_some()
        || env.namespace.is_some()
        || env.kubeconfig.is_some()
        || !env.values.is_empty()
        || !env.set.is_empty()
        || env.promote_from.is_some()
        || env.helm.is_some()
        || env.kubectl.is_some()
        || env.domain.is_some()
        || env.gitops_keys().iter().any(|(_, set)| *set);
    match (docker, kube) {
        (true, false) => Ok(EnvKind::Docker),
        (false, true) => Ok(EnvKind::Kubernetes),
        (true, true) => Err((
            format!("environment `{name}` mixes docker keys (port, health, ...) and kubernetes keys (context, namespace, ...)"),
            format!("say which it is with `kind = \"docker\"` or `kind = \"kubernetes\"` under [env.{name}], and remove the other keys"),
        )),
        (false, false) => Err((
            format!("environment `{name}` does not say what it is"),
            format!("add `kind = \"docker\"` (this machine) or `kind = \"kubernetes\"` with `context` and `namespace` under [env.{name}]"),
        )),
    }
}

const PATH_HINT: &str =
    "give a path relative to the repository root that stays inside it, like `docker/Dockerfile`";
const ENV_NAME_HINT: &str =
    "use letters, digits and '_', not starting with a digit (like `API_URL`)";

fn validate(l: &Loaded) -> Result<(), Error> {
    let c = &l.config;
    check_schema(l)?;
    if let Err(why) = check_dns_label(&c.project.name) {
        return Err(l.error_at(
            &["project", "name"],
            &format!(
                "project name `{}` is not a DNS-1123 label: {why}",
                validate::excerpt(&c.project.name)
            ),
            Some(format!(
                "use a name like `{}`",
                suggest_dns_label(&c.project.name)
            )),
        ));
    }
    if let Some(img) = &c.image {
        if let Err(why) = check_repository(&img.repository) {
            return Err(l.error_at(
                &["image", "repository"],
                &format!(
                    "image repository `{}` is not valid: {why}",
                    validate::excerpt(&img.repository)
                ),
                Some("use lowercase, like `registry.example.com/team/hello`, without a tag".into()),
            ));
        }
        l.check(
            &["image", "dockerfile"],
            "dockerfile path",
            &img.dockerfile,
            validate::repo_path,
            PATH_HINT,
        )?;
        l.check(
            &["image", "context"],
            "build context",
            &img.context,
            validate::repo_path,
            "give a directory relative to the repository root that stays inside it (default \".\")",
        )?;
        if let Some(t) = &img.target {
            l.check(
                &["image", "target"],
                "build target",
                t,
                validate::stage_name,
                "name a stage of the Dockerfile (`FROM ... AS NAME`), or remove `target`",
            )?;
        }
        if let Some(p) = &img.platform {
            l.check(
                &["image", "platform"],
                "platform",
                p,
                validate::platform,
                "write it like `linux/amd64`, or remove `platform` to build for this machine",
            )?;
        }
        for (table, map) in [("args", &img.args), ("bases", &img.bases)] {
            for name in map.keys() {
                l.check_key(
                    &["image", table, name],
                    "build argument name",
                    validate::env_name,
                    ENV_NAME_HINT,
                )?;
            }
        }
        for (name, logical) in &img.bases {
            l.check(
                &["image", "bases", name],
                "base image",
                logical,
                validate::image_reference,
                "name a catalogue entry (`lbc catalog`) or give an image reference like `python:3.12-slim`",
            )?;
        }
        if let Some(dup) = img.args.keys().find(|k| img.bases.contains_key(*k)) {
            return Err(l.error_at(
                &["image", "bases", dup],
                &format!("build argument `{dup}` is set in both [image.args] and [image.bases]"),
                Some("keep it in one of the two tables".into()),
            ));
        }
    }
    if let Some(r) = &c.registry {
        for (key, v) in [
            ("username_env", &r.username_env),
            ("password_env", &r.password_env),
        ] {
            if !is_env_name(v) {
                return Err(l.error_at(
                    &["registry", key],
                    &format!("`{}` is not an environment variable name: `{key}` names the variable that holds the credential, never the credential itself", validate::excerpt(v)),
                    Some(format!("set `{key} = \"REGISTRY_{}\"` and export that variable", if key == "username_env" { "USER" } else { "PASSWORD" })),
                ));
            }
        }
        if let Some(server) = &r.server {
            l.check(
                &["registry", "server"],
                "registry server",
                server,
                validate::host_port,
                "give the registry's host name, with a port if needed, like `registry.example.com` or `127.0.0.1:5000`",
            )?;
        }
    }
    for (name, task) in &c.tasks {
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            || name.starts_with('-')
        {
            return Err(l.error_at_key(
                &["tasks", name],
                &format!("task name `{}` is not valid", validate::excerpt(name)),
                Some("use letters, digits, '-' and '_', starting with a letter or digit".into()),
            ));
        }
        // `run` is the value of a string or array task, or a key of a table task
        // (worked out only for an error: it parses the file again).
        let run_key = || -> Vec<&str> {
            if l.is_table(&["tasks", name]) {
                vec!["tasks", name, "run"]
            } else {
                vec!["tasks", name]
            }
        };
        match &task.run {
            TaskCommand::Shell(s) if s.trim().is_empty() => {
                return Err(l.error_at(
                    &run_key(),
                    &format!("task `{name}` has an empty command"),
                    Some("give the command to run, e.g. `\"python3 -m unittest\"`".into()),
                ));
            }
            TaskCommand::Argv(a) if a.is_empty() => {
                return Err(l.error_at(
                    &run_key(),
                    &format!("task `{name}` has an empty argv: there is no program to run"),
                    Some("give the program and its arguments, e.g. `[\"python3\", \"-m\", \"unittest\"]`".into()),
                ));
            }
            TaskCommand::Argv(a) if a[0].trim().is_empty() => {
                return Err(l.error_at(
                    &run_key(),
                    &format!(
                        "task `{name}` names no program: the first element of its argv is empty"
                    ),
                    Some(
                        "give the program first, e.g. `[\"python3\", \"-m\", \"unittest\"]`".into(),
                    ),
                ));
            }
            _ => {}
        }
        if task.stage.is_some() && task.image.is_some() {
            return Err(l.error_at(
                &["tasks", name, "image"],
                &format!("task `{name}` runs either in a `stage` or in an `image`, not both"),
                Some("keep `stage` (a stage of this repository's Dockerfile) or `image` (any image), not both".into()),
            ));
        }
        if task.stage.is_some() && c.image.is_none() {
            return Err(l.error_at(
                &["tasks", name, "stage"],
                &format!(
                    "task `{name}` runs in a Dockerfile stage, but there is no [image] section"
                ),
                Some("add an [image] section, or use `image = \"NAME\"` instead of `stage`".into()),
            ));
        }
        if let Some(stage) = &task.stage {
            l.check(
                &["tasks", name, "stage"],
                "stage",
                stage,
                validate::stage_name,
                "name a stage of the Dockerfile (`FROM ... AS NAME`)",
            )?;
        }
        if let Some(image) = &task.image {
            l.check(
                &["tasks", name, "image"],
                "task image",
                image,
                validate::image_reference,
                "name a catalogue entry (`lbc catalog`) or give an image reference like `python:3.12-slim`",
            )?;
        }
        for var in task.env.keys() {
            l.check_key(
                &["tasks", name, "env", var],
                "variable name",
                validate::env_name,
                ENV_NAME_HINT,
            )?;
        }
    }
    if let Some(d) = &c.deploy {
        for (key, v) in [
            ("chart", &d.chart),
            ("manifests", &d.manifests),
            ("kustomize", &d.kustomize),
        ] {
            if let Some(v) = v {
                l.check(&["deploy", key], key, v, validate::repo_path, PATH_HINT)?;
            }
        }
        if let Some(r) = &d.release {
            l.check(
                &["deploy", "release"],
                "release name",
                r,
                validate::release_name,
                "use lowercase letters, digits, '-' and '.' (at most 53), or remove `release` to use the project name",
            )?;
        }
    }
    for (name, env) in &c.env {
        if let Err(why) = check_dns_label(name) {
            return Err(l.error_at_key(
                &["env", name],
                &format!(
                    "environment name `{}` is not valid: {why}",
                    validate::excerpt(name)
                ),
                Some("use lowercase letters, digits and '-'".into()),
            ));
        }
        match env.kind {
            EnvKind::Docker => {
                let k8s_only = [
                    ("context", env.context.is_some()),
                    ("namespace", env.namespace.is_some()),
                    ("kubeconfig", env.kubeconfig.is_some()),
                    ("values", !env.values.is_empty()),
                    ("set", !env.set.is_empty()),
                    ("promote_from", env.promote_from.is_some()),
                    ("helm", env.helm.is_some()),
                    ("kubectl", env.kubectl.is_some()),
                    ("domain", env.domain.is_some()),
                ];
                if let Some((key, _)) = k8s_only
                    .iter()
                    .chain(env.gitops_keys().iter())
                    .find(|(_, set)| *set)
                {
                    return Err(l.error_at(
                        &["env", name, key],
                        &format!("`{key}` applies to kubernetes environments, but `env.{name}` has kind = \"docker\""),
                        Some(format!("remove `{key}`, or set `kind = \"kubernetes\"`")),
                    ));
                }
                if let Some(h) = &env.health {
                    if !h.starts_with('/') {
                        return Err(l.error_at(
                            &["env", name, "health"],
                            &format!("health path `{}` must start with '/'", validate::excerpt(h)),
                            Some(format!("write `health = \"/{}\"`", validate::excerpt(h))),
                        ));
                    }
                    l.check(
                        &["env", name, "health"],
                        "health path",
                        h,
                        validate::http_path,
                        "write a path like `/healthz`, with %-escapes for anything else",
                    )?;
                }
                if let Some(n) = env.replicas {
                    if !(1..=MAX_REPLICAS).contains(&n) {
                        return Err(l.error_at(
                            &["env", name, "replicas"],
                            &format!("replicas = {n} is out of range"),
                            Some(format!("choose between 1 and {MAX_REPLICAS}")),
                        ));
                    }
                }
                for (key, port) in [("port", env.port), ("container_port", env.container_port)] {
                    if port == Some(0) {
                        return Err(l.error_at(
                            &["env", name, key],
                            "port 0 is not a usable port",
                            Some("choose a port between 1 and 65535, e.g. 8080".into()),
                        ));
                    }
                }
                if let Some(b) = &env.bind {
                    if b.parse::<std::net::IpAddr>().is_err() {
                        return Err(l.error_at(
                            &["env", name, "bind"],
                            &format!("`{}` is not an IP address", validate::excerpt(b)),
                            Some("use `127.0.0.1` (this machine only) or `0.0.0.0`".into()),
                        ));
                    }
                }
                for var in env.vars.keys() {
                    l.check_key(
                        &["env", name, "vars", var],
                        "variable name",
                        validate::env_name,
                        ENV_NAME_HINT,
                    )?;
                }
            }
            EnvKind::Kubernetes => {
                let docker_only = [
                    ("port", env.port.is_some()),
                    ("container_port", env.container_port.is_some()),
                    ("bind", env.bind.is_some()),
                    ("health", env.health.is_some()),
                    ("vars", !env.vars.is_empty()),
                    ("replicas", env.replicas.is_some()),
                ];
                if let Some((key, _)) = docker_only.iter().find(|(_, set)| *set) {
                    return Err(l.error_at(
                        &["env", name, key],
                        &format!("`{key}` applies to docker environments, but `env.{name}` is a kubernetes environment"),
                        Some(format!("add `kind = \"docker\"` to [env.{name}], or remove `{key}`")),
                    ));
                }
                validate_gitops(l, name, env)?;
                if let Some(from) = &env.promote_from {
                    if !c.env.contains_key(from) {
                        return Err(l.error_at(
                            &["env", name, "promote_from"],
                            &format!(
                                "`promote_from = \"{}\"` names no environment",
                                validate::excerpt(from)
                            ),
                            Some(format!(
                                "known environments: {}",
                                c.env.keys().cloned().collect::<Vec<_>>().join(", ")
                            )),
                        ));
                    }
                    if from == name {
                        return Err(l.error_at(
                            &["env", name, "promote_from"],
                            &format!("`env.{name}` cannot be promoted from itself"),
                            Some("name the environment that comes before it (e.g. `promote_from = \"staging\"`), or remove `promote_from`".into()),
                        ));
                    }
                }
                if let Some(ctx) = &env.context {
                    l.check(
                        &["env", name, "context"],
                        "kube context",
                        ctx,
                        validate::plain,
                        "name a context of your kubeconfig (`kubectl config get-contexts`), or remove `context`",
                    )?;
                }
                if let Some(ns) = &env.namespace {
                    if let Err(why) = validate::namespace(ns) {
                        return Err(l.error_at(
                            &["env", name, "namespace"],
                            &format!("namespace `{}` is not valid: {why}", validate::excerpt(ns)),
                            Some(format!("use a name like `{}`", suggest_dns_label(ns))),
                        ));
                    }
                }
                if let Some(d) = &env.domain {
                    l.check(
                        &["env", name, "domain"],
                        "domain",
                        d,
                        validate::hostname,
                        "write the wildcard domain of the instances, like `apps.example.com`",
                    )?;
                }
                if let Some(k) = &env.kubeconfig {
                    // A kubeconfig usually lives outside the repository (`~/.kube/...`):
                    // any path is fine, as long as it cannot be read as an option.
                    l.check(
                        &["env", name, "kubeconfig"],
                        "kubeconfig path",
                        k,
                        validate::plain,
                        "give the path of a kubeconfig file (relative to the repository root, or absolute)",
                    )?;
                }
                for (i, v) in env.values.iter().enumerate() {
                    validate::repo_path(v).map_err(|why| {
                        l.error_at(
                            &["env", name, "values"],
                            &format!(
                                "values file #{} `{}` is not valid: {why}",
                                i + 1,
                                validate::excerpt(v)
                            ),
                            Some(PATH_HINT.into()),
                        )
                    })?;
                }
                for key in env.set.keys() {
                    l.check_key(
                        &["env", name, "set", key],
                        "value path",
                        validate::helm_key,
                        "write a Helm value path like `image.pullPolicy`",
                    )?;
                }
                for (key, prog) in [("helm", &env.helm), ("kubectl", &env.kubectl)] {
                    if let Some(prog) = prog {
                        l.check(
                            &["env", name, key],
                            "program",
                            prog,
                            validate::plain,
                            &format!(
                                "give the name or path of the {key} binary, or remove `{key}`"
                            ),
                        )?;
                    }
                }
            }
        }
        if let Some(other) = overlapping_gitops_path(c, name, env) {
            return Err(l.error_at(
                &["env", name, "path"],
                &format!(
                    "`env.{name}` and `env.{other}` write to the same directory of the same repository and branch (`{}` and `{}` overlap): each release rewrites its whole `path`",
                    env.path.as_deref().unwrap_or(""),
                    c.env[other].path.as_deref().unwrap_or("")
                ),
                Some(format!("give each environment its own directory, e.g. `apps/{}/{name}`", c.project.name)),
            ));
        }
        if let Some(t) = &env.timeout {
            if let Err(why) = parse_duration(t) {
                return Err(l.error_at(
                    &["env", name, "timeout"],
                    &format!(
                        "timeout `{}` is not a duration: {why}",
                        validate::excerpt(t)
                    ),
                    Some("write it like `90s`, `5m` or `1h30m`".into()),
                ));
            }
        }
    }
    crate::services::validate(l)
}

/// The keys of `delivery = "gitops"`: all present when it is set, none otherwise; a
/// relative `path` inside the repository; a branch and a token variable that are names.
fn validate_gitops(l: &Loaded, name: &str, env: &Environment) -> Result<(), Error> {
    if !env.is_gitops() {
        if let Some((key, _)) = env.gitops_keys().iter().skip(1).find(|(_, set)| *set) {
            return Err(l.error_at(
                &["env", name, key],
                &format!(
                    "`{key}` applies to gitops environments, but `env.{name}` deploys directly"
                ),
                Some(format!(
                    "add `delivery = \"gitops\"` to [env.{name}], or remove `{key}`"
                )),
            ));
        }
        return Ok(());
    }
    for (key, missing, example) in [
        (
            "repo",
            env.repo.is_none(),
            "repo = \"https://git.example.com/team/environments.git\"",
        ),
        ("path", env.path.is_none(), "path = \"apps/NAME/ENV\""),
        (
            "format",
            env.format.is_none(),
            "format = \"flux-helmrelease\" (or \"argocd-application\", \"manifests\")",
        ),
    ] {
        if missing {
            return Err(l.error_at(
                &["env", name, "delivery"],
                &format!("`env.{name}` has delivery = \"gitops\" but no `{key}`"),
                Some(format!("add `{example}` under [env.{name}]")),
            ));
        }
    }
    if let Some(r) = &env.repo {
        if r.trim().is_empty() || r.starts_with('-') || r.chars().any(char::is_whitespace) {
            return Err(l.error_at(
                &["env", name, "repo"],
                &format!("`{r}` is not a repository URL"),
                Some("write it like `https://git.example.com/team/environments.git` or `git@host:team/environments.git`".into()),
            ));
        }
        if r.contains("://")
            && crate::tools::git::strip_credentials(r) != *r
            && r.split_once("://")
                .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or("").contains(':'))
        {
            return Err(l.error_at(
                &["env", name, "repo"],
                "`repo` carries a password or token: lbc.toml is committed, and a credential in a URL ends up in logs",
                Some(format!("write the URL without it and name the variable that holds the token: `token_env = \"ENV_REPO_TOKEN\"` under [env.{name}]")),
            ));
        }
    }
    if let Some(p) = &env.path {
        if let Err(why) = check_repo_path(p) {
            return Err(l.error_at(
                &["env", name, "path"],
                &format!("path `{p}` is not a directory inside the environment repository: {why}"),
                Some(format!(
                    "use a relative path without `..`, like `apps/{}/{name}`",
                    l.config.project.name
                )),
            ));
        }
    }
    if let Some(k) = &env.kustomization {
        let ok = k.split_once('/').is_some_and(|(ns, n)| {
            check_dns_label(ns).is_ok()
                && !n.is_empty()
                && n.len() <= 253
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && !n.starts_with(['-', '.'])
        });
        if !ok {
            return Err(l.error_at(
                &["env", name, "kustomization"],
                &format!("`{k}` is not `NAMESPACE/NAME` of a Flux Kustomization"),
                Some("write it like `kustomization = \"flux-system/apps\"`".into()),
            ));
        }
    }
    if let Some(b) = &env.branch {
        if let Err(why) = check_branch(b) {
            return Err(l.error_at(
                &["env", name, "branch"],
                &format!("branch `{b}` is not a valid branch name: {why}"),
                Some("use a name like `main` or `environments/prod`".into()),
            ));
        }
    }
    for (key, v) in [
        ("token_env", &env.token_env),
        ("token_user", &env.token_user),
    ] {
        let Some(v) = v else { continue };
        let ok = if key == "token_env" {
            is_env_name(v)
        } else {
            !v.is_empty() && !v.contains(':') && !v.chars().any(char::is_whitespace)
        };
        if !ok {
            return Err(l.error_at(
                &["env", name, key],
                &if key == "token_env" {
                    format!("`{v}` is not an environment variable name: `token_env` names the variable that holds the token, never the token itself")
                } else {
                    format!("`{v}` is not a user name (no ':' nor spaces)")
                },
                Some(if key == "token_env" {
                    "set `token_env = \"ENV_REPO_TOKEN\"` and export that variable".into()
                } else {
                    "use `x-access-token` (GitHub), `oauth2` (GitLab) or your user name".into()
                }),
            ));
        }
    }
    Ok(())
}

/// Another gitops environment (declared before `name`) whose path is, contains or lies
/// inside this one's, on the same repository and branch.
fn overlapping_gitops_path<'a>(c: &'a Config, name: &str, env: &Environment) -> Option<&'a String> {
    if !env.is_gitops() {
        return None;
    }
    let key = |e: &Environment| {
        (
            e.repo.clone().unwrap_or_default(),
            e.branch.clone().unwrap_or_else(|| "main".into()),
        )
    };
    let comps = |e: &Environment| -> Vec<String> {
        e.path
            .as_deref()
            .unwrap_or("")
            .split('/')
            .map(str::to_owned)
            .collect()
    };
    let mine = comps(env);
    c.env
        .iter()
        .take_while(|(n, _)| n.as_str() != name)
        .find(|(_, o)| {
            o.is_gitops() && key(o) == key(env) && {
                let theirs = comps(o);
                let n = mine.len().min(theirs.len());
                mine[..n] == theirs[..n]
            }
        })
        .map(|(n, _)| n)
}

/// A directory inside a repository: relative, no `.`/`..` component, not empty.
pub fn check_repo_path(p: &str) -> Result<(), &'static str> {
    if p.trim().is_empty() {
        return Err("it is empty");
    }
    if p.starts_with('/') || p.starts_with('\\') || p.contains(':') {
        return Err("it is absolute");
    }
    for comp in p.split('/') {
        match comp {
            ".." => return Err("it climbs out with `..`"),
            "" | "." => return Err("it has an empty or `.` component"),
            ".git" => return Err("it points into `.git`"),
            c if c.starts_with('-') => return Err("a component starts with '-'"),
            c if c.chars().any(|ch| ch.is_control() || ch == '\\') => {
                return Err("it contains control characters or backslashes")
            }
            _ => {}
        }
    }
    Ok(())
}

/// The rules of `git check-ref-format --branch` that matter, without running git.
pub fn check_branch(b: &str) -> Result<(), &'static str> {
    if b.is_empty() {
        return Err("it is empty");
    }
    if b.starts_with('-') || b.starts_with('/') || b.ends_with('/') || b.ends_with('.') {
        return Err("it starts with '-' or '/', or ends with '/' or '.'");
    }
    if b.contains("..") || b.contains("//") || b.contains("@{") || b.ends_with(".lock") {
        return Err("it contains `..`, `//`, `@{` or ends with `.lock`");
    }
    if b.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c)) {
        return Err("it contains a space or one of ~ ^ : ? * [ \\");
    }
    Ok(())
}

/// Check a DNS-1123 label (what Kubernetes accepts as a name).
pub fn check_dns_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("it must start with a lowercase letter");
    }
    if s.ends_with('-') {
        return Err("it must not end with '-'");
    }
    Ok(())
}

pub fn suggest_dns_label(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out
        .trim_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit());
    let mut out: String = out.chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "my-service".into()
    } else {
        out
    }
}

fn check_repository(r: &str) -> Result<(), String> {
    let parsed = crate::image::ImageRef::parse(r).map_err(|e| e.reason)?;
    if parsed.tag.is_some() || parsed.digest.is_some() {
        return Err("it must not carry a tag or digest: lbc computes the tag".into());
    }
    Ok(())
}

pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse `90s`, `5m`, `1h30m`, `250ms` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    if s.contains(char::is_whitespace) {
        return Err("write it without spaces".into());
    }
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// The byte span of the value (or, failing that, the key or table) at `key`; with
/// `want_key`, the span of the last key itself (for errors about a name, like an
/// environment-variable name in `vars`).
pub(crate) fn locate(raw: &str, key: &[&str], want_key: bool) -> Option<Range<usize>> {
    let doc = toml_edit::ImDocument::parse(raw).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best = None;
    for (i, k) in key.iter().enumerate() {
        let last = i + 1 == key.len();
        let key_span = match item {
            toml_edit::Item::Table(t) => t.key(k).and_then(toml_edit::Key::span),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                t.key(k).and_then(toml_edit::Key::span)
            }
            _ => None,
        };
        let next = match item {
            toml_edit::Item::Table(t) => t.get(k),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => t.get(k).map(|_| {
                // inline tables hold values; re-enter through the table view
                &item[k]
            }),
            _ => None,
        };
        match next {
            Some(n) => {
                if last && want_key && key_span.is_some() {
                    return key_span;
                }
                if let Some(s) = n.span() {
                    best = Some(s);
                } else if let toml_edit::Item::Table(t) = n {
                    // `[tasks.x]`: a table's own span is its header; the key names it too.
                    if let Some(s) = t.span().or(key_span) {
                        best = Some(s);
                    }
                }
                item = n;
            }
            None => break,
        }
    }
    best
}

/// Longest part of a line shown under an error; longer lines are cut around the column.
const LINE_WINDOW: usize = 100;
/// Longest message: a message quoting a huge value stays a few lines.
const MESSAGE_MAX: usize = 400;

/// Render a message at a byte span of a file: `--> file:line:col`, the line, a caret line.
/// The excerpt is bounded: a 100 000-character line prints about [`LINE_WINDOW`]
/// characters around the column, and the message at most [`MESSAGE_MAX`].
pub fn render_at(path: &Path, raw: &str, span: Option<Range<usize>>, message: &str) -> String {
    let message = if message.chars().count() > MESSAGE_MAX {
        let cut: String = message.chars().take(MESSAGE_MAX).collect();
        format!("{cut}… (message cut)")
    } else {
        message.to_owned()
    };
    let Some(span) = span else {
        return format!("{}: {message}", path.display());
    };
    let mut start = span.start.min(raw.len());
    while !raw.is_char_boundary(start) {
        start -= 1;
    }
    let line_start = raw[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = raw[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(raw.len());
    let line_no = raw[..start].matches('\n').count() + 1;
    let col = raw[line_start..start].chars().count() + 1;
    let mut end = span.end.clamp(start, line_end);
    while !raw.is_char_boundary(end) {
        end += 1;
    }
    let line: Vec<char> = raw[line_start..line_end]
        .trim_end_matches('\r')
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let width = raw[start..end].chars().count().max(1);
    // The window of the line to show: the whole line when short, else LINE_WINDOW
    // characters starting a little before the column.
    let (from, to) = if line.len() <= LINE_WINDOW {
        (0, line.len())
    } else {
        let from = (col - 1).saturating_sub(20).min(line.len());
        (from, (from + LINE_WINDOW).min(line.len()))
    };
    let mut shown: String = line[from..to].iter().collect();
    let mut caret_col = col - 1 - from.min(col - 1);
    if from > 0 {
        shown.insert_str(0, "… ");
        caret_col += 2;
    }
    if to < line.len() {
        shown.push_str(" …");
    }
    let width = width.min(to.saturating_sub(col - 1).max(1));
    let gutter = line_no.to_string().len();
    let pad = " ".repeat(gutter);
    format!(
        "{message}\n{pad}--> {}:{line_no}:{col}\n{pad} |\n{line_no} | {shown}\n{pad} | {}{}",
        path.display(),
        " ".repeat(caret_col),
        "^".repeat(width)
    )
}

/// The fix to suggest for a TOML or type error that has no better one.
fn parse_hint(message: &str) -> &'static str {
    if message.starts_with("duplicate key") {
        "a key may appear once per table: remove one of the two"
    } else if message.starts_with("missing field") {
        "add the key; docs/lbc-toml.md lists every key and what it takes"
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("invalid length")
        || message.starts_with("`run`")
    {
        "docs/lbc-toml.md says what this key takes (`lbc schema` prints the JSON Schema)"
    } else {
        "lbc.toml is TOML (https://toml.io); docs/lbc-toml.md describes every key"
    }
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" make "did you mean `a`?".
fn did_you_mean(message: &str) -> Option<String> {
    let (unknown, rest) = if let Some(r) = message.strip_prefix("unknown field `") {
        r.split_once('`')?
    } else if let Some(r) = message.strip_prefix("unknown variant `") {
        r.split_once('`')?
    } else {
        return None;
    };
    let expected: Vec<&str> = rest
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    let best = expected
        .iter()
        .map(|e| (levenshtein(unknown, e), *e))
        .min()?;
    if best.0 <= (unknown.len().max(3) / 2).max(2) {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("valid keys here: {}", expected.join(", ")))
    }
}

/// The edit distance of two names, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// The JSON Schema of `lbc.toml`, as committed in `docs/lbc.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Config);
    serde_json::to_value(schema).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #8: the repository of `[image]` is checked by the one image-reference parser.
    #[test]
    fn repositories_are_checked_like_image_references() {
        for ok in [
            "nginx",
            "team/app",
            "127.0.0.1:5055/team/hello",
            "localhost/app",
        ] {
            assert_eq!(check_repository(ok), Ok(()), "{ok}");
        }
        for bad in ["", "team/App", "team/app-", "a//b", "r.io/a b"] {
            assert!(check_repository(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            check_repository("r.io/team/app:1").unwrap_err(),
            "it must not carry a tag or digest: lbc computes the tag"
        );
    }

    fn parse_str(s: &str) -> Result<Loaded, Error> {
        parse(Path::new("/repo/lbc.toml"), s)
    }

    /// #11: `from_image` names plain relative paths of a container task, with the line.
    #[test]
    fn from_image_paths_are_plain_and_need_a_container() {
        let base =
            "[project]\nname = \"shop\"\n[image]\nrepository = \"r.io/shop\"\n[tasks.migrate]\nrun = [\"php\", \"bin/migrate.php\"]\n";
        let ok = parse_str(&format!(
            "{base}stage = \"test\"\nfrom_image = [\"vendor\", \"var/cache\"]\n"
        ))
        .unwrap();
        assert_eq!(
            ok.config.tasks["migrate"].from_image,
            ["vendor", "var/cache"]
        );
        for bad in [
            "/vendor",
            "../x",
            "a//b",
            "v:/x",
            "vendor,dst=/etc",
            "-v",
            ".",
        ] {
            let e = parse_str(&format!("{base}stage = \"test\"\nfrom_image = [{bad:?}]\n"))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"))
                .to_string();
            assert!(
                e.contains("from_image") && e.contains("lbc.toml:5"),
                "{bad}: {e}"
            );
        }
        let e = parse_str(&format!("{base}from_image = [\"vendor\"]\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("needs `stage` or `image`"), "{e}");
    }

    /// #13: a gitops `path` stays inside the repository; a branch is a branch name.
    #[test]
    fn gitops_paths_and_branches_are_checked() {
        for ok in ["apps/hello/staging", "a", "clusters/prod-eu/hello"] {
            assert!(check_repo_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/abs", "../x", "a/../b", "a//b", "./a", ".git/x", "a/-b", "C:/x", "a\\b",
        ] {
            assert!(check_repo_path(bad).is_err(), "{bad}");
        }
        for ok in ["main", "env/prod", "release-1.2"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "@{u}"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
        let l = parse_str(
            "schema = 2\n[project]\nname = \"x\"\n[env.a]\ndelivery = \"gitops\"\nrepo = \"r\"\npath = \"apps/x\"\nformat = \"manifests\"\n[env.b]\ndelivery = \"gitops\"\nrepo = \"r\"\nbranch = \"other\"\npath = \"apps/x\"\nformat = \"manifests\"\n",
        );
        assert!(l.is_ok(), "same path on another branch is fine");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("42").unwrap().as_secs(), 42);
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn unknown_key_points_at_line_and_suggests() {
        let err =
            parse_str("[project]\nname = \"x\"\n\n[image]\nrepositry = \"r/x\"\n").unwrap_err();
        let Error::Config { rendered, hint } = err else {
            panic!("wrong error")
        };
        assert!(rendered.contains("/repo/lbc.toml:5:1"), "{rendered}");
        assert!(rendered.contains("repositry"), "{rendered}");
        assert_eq!(hint.as_deref(), Some("did you mean `repository`?"));
    }

    #[test]
    fn semantic_error_points_at_value() {
        let err = parse_str("[project]\nname = \"Hello_World\"\n").unwrap_err();
        let Error::Config { rendered, hint } = err else {
            panic!("wrong error")
        };
        assert!(rendered.contains("/repo/lbc.toml:2:8"), "{rendered}");
        assert_eq!(hint.as_deref(), Some("use a name like `hello-world`"));
    }

    #[test]
    fn task_forms() {
        let l = parse_str(
            "[project]\nname = \"x\"\n[image]\nrepository = \"r/x\"\n[tasks]\na = \"echo hi\"\nb = [\"true\"]\nc = { run = \"make\", stage = \"test\" }\n",
        )
        .unwrap();
        assert_eq!(
            l.config.tasks["a"].run,
            TaskCommand::Shell("echo hi".into())
        );
        assert_eq!(
            l.config.tasks["b"].run,
            TaskCommand::Argv(vec!["true".into()])
        );
        assert_eq!(l.config.tasks["c"].stage.as_deref(), Some("test"));
        let err = parse_str(
            "[project]\nname = \"x\"\n[tasks]\nc = { run = \"make\", stag = \"test\" }\n",
        )
        .unwrap_err();
        assert_eq!(err.hint(), Some("did you mean `stage`?"));
    }

    #[test]
    fn too_new_schema() {
        let err = parse_str("schema = 99\n[project]\nname = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("this lbc is too old"), "{err}");
    }
}
