//! The Docker CLI: typed argument lists (every `docker` argv lbc runs is built here),
//! output parsing, and the read-only probes (through the Engine API when it can).
//! Values are written `--flag=value`; names of variables travel as `--env=NAME` and
//! their values through the child's environment, never in an argv.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::plan::{EnvVar, Exec, Stdin};
use crate::runner::Runner;

fn exec<I, S>(args: I, cwd: &Path) -> Exec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv = vec!["docker".to_owned()];
    argv.extend(args.into_iter().map(Into::into));
    Exec::new(argv, cwd).progress()
}

pub fn client_version(cwd: &Path) -> Exec {
    exec(["version", "--format={{.Client.Version}}"], cwd)
}

/// `docker rm --force NAME`.
pub fn remove(cwd: &Path, name: &str) -> Exec {
    exec(["rm", "--force", "--", name], cwd)
}

/// `docker rm --force -- ID...`: the containers named by the lines of an earlier step's
/// capture (the ID `docker run --detach` printed), never one found by name (issue #9).
pub fn remove_captured(cwd: &Path, capture: &str) -> Exec {
    exec(["rm", "--force", "--"], cwd).args_from(capture)
}

/// `docker container inspect NAME` (what `status --dry-run` shows).
pub fn inspect_container(cwd: &Path, name: &str) -> Exec {
    exec(["container", "inspect", "--", name], cwd)
}

pub fn logs(cwd: &Path, name: &str, tail: u32, follow: bool) -> Exec {
    let mut args = vec!["logs".to_owned(), format!("--tail={tail}")];
    if follow {
        args.push("--follow".into());
    }
    args.extend(["--".into(), name.to_owned()]);
    exec(args, cwd)
}

/// `docker logs --tail=N -- ID` of the container named by an earlier step's capture.
pub fn logs_captured(cwd: &Path, capture: &str, tail: u32) -> Exec {
    exec(
        ["logs".to_owned(), format!("--tail={tail}"), "--".into()],
        cwd,
    )
    .args_from(capture)
}

/// A long-running container of a local environment.
pub struct Detached<'a> {
    pub name: &'a str,
    pub labels: &'a [String],
    /// `ADDRESS:HOST_PORT:CONTAINER_PORT`.
    pub publish: String,
    /// Variables for the container: names in the argv, values in docker's environment.
    pub vars: &'a BTreeMap<String, String>,
    /// The backing services' network, when the project has services (issue #10).
    pub network: Option<&'a str>,
    /// More variables (the services' connection, secrets among them): names in the
    /// argv, values in docker's environment.
    pub extra_env: &'a [EnvVar],
    pub image: &'a str,
}

/// `docker run --detach`; its stdout (the container ID) is captured, not printed.
pub fn run_detached(cwd: &Path, d: &Detached) -> Exec {
    let mut args = vec![
        "run".to_owned(),
        "--detach".into(),
        format!("--name={}", d.name),
    ];
    args.extend(d.labels.iter().map(|l| format!("--label={l}")));
    args.push(format!("--publish={}", d.publish));
    if let Some(n) = d.network {
        args.push(format!("--network={n}"));
    }
    args.extend(d.extra_env.iter().map(|v| format!("--env={}", v.name)));
    args.extend(d.vars.keys().map(|k| format!("--env={k}")));
    args.push(d.image.to_owned());
    exec(args, cwd)
        .envs(d.extra_env.iter().cloned())
        .envs(d.vars.iter().map(|(k, v)| EnvVar::plain(k, v)))
        .capture()
}

/// A task's container: the repository mounted at `workdir`, removed afterwards.
pub struct TaskRun<'a> {
    /// `--name`: `lbc-task-PROJECT-TASK-PID`, so that an interrupted run can remove it.
    pub name: String,
    pub interactive: bool,
    pub tty: bool,
    /// `HOST_DIR:CONTAINER_DIR`.
    pub volume: String,
    /// More mounts (`HOST:CONTAINER:ro`): the CA bundle (issue #11).
    pub mounts: Vec<String>,
    pub workdir: &'a str,
    /// `UID:GID` when lbc does not run as root.
    pub user: Option<String>,
    /// Variables: names in the argv, values in docker's environment.
    pub env: Vec<EnvVar>,
    /// The network of the task's backing services (issue #10).
    pub network: Option<String>,
    pub image: &'a str,
    pub command: &'a [String],
}

/// `docker run --rm --init --name=NAME ... IMAGE COMMAND...`; the task's stdout stays on
/// stdout. `--init`: the task is not PID 1, so SIGINT and SIGTERM (forwarded by `docker
/// run`) stop it within seconds (issue #9).
pub fn run_task(cwd: &Path, t: &TaskRun) -> Exec {
    let mut args = vec![
        "run".to_owned(),
        "--rm".into(),
        "--init".into(),
        format!("{TASK_NAME_FLAG}{}", t.name),
    ];
    if t.interactive {
        args.push("--interactive".into());
    }
    if t.tty {
        args.push("--tty".into());
    }
    args.push(format!("--volume={}", t.volume));
    args.extend(t.mounts.iter().map(|m| format!("--volume={m}")));
    args.push(format!("--workdir={}", t.workdir));
    if let Some(u) = &t.user {
        // Files the task writes in the mounted repository stay the user's.
        args.push(format!("--user={u}"));
        args.push("--env=HOME=/tmp".into());
    }
    if let Some(n) = &t.network {
        args.push(format!("--network={n}"));
    }
    args.extend(t.env.iter().map(|v| format!("--env={}", v.name)));
    args.push(t.image.to_owned());
    args.extend(t.command.iter().cloned());
    exec(args, cwd).envs(t.env.iter().cloned()).data()
}

const TASK_NAME_FLAG: &str = "--name=";

/// The names of the task containers a plan starts (the `docker run` steps of
/// [`run_task`]).
pub fn task_containers(plan: &crate::plan::Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            crate::plan::Action::Exec(e) if e.argv.get(1).map(String::as_str) == Some("run") => e
                .argv
                .iter()
                .skip(2)
                .take(4)
                .find_map(|a| a.strip_prefix(TASK_NAME_FLAG))
                .filter(|n| n.starts_with("lbc-task-"))
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// What `docker build` gets.
pub struct Build<'a> {
    pub dockerfile: &'a str,
    pub build_args: &'a [(String, String)],
    /// Build arguments passed by name (`--build-arg=NAME`): docker reads the value from
    /// its environment, which `pass_env` carries (the proxy variables, issue #11).
    pub pass_args: &'a [EnvVar],
    pub platform: Option<&'a str>,
    pub tags: &'a [String],
    pub target: Option<&'a str>,
    pub labels: &'a [(&'a str, String)],
    pub context: &'a str,
}

pub fn build(cwd: &Path, b: &Build) -> Exec {
    let mut args = vec!["build".to_owned(), format!("--file={}", b.dockerfile)];
    args.extend(
        b.build_args
            .iter()
            .map(|(k, v)| format!("--build-arg={k}={v}")),
    );
    args.extend(
        b.pass_args
            .iter()
            .map(|v| format!("--build-arg={}", v.name)),
    );
    if let Some(p) = b.platform {
        args.push(format!("--platform={p}"));
    }
    args.extend(b.tags.iter().map(|t| format!("--tag={t}")));
    if let Some(t) = b.target {
        args.push(format!("--target={t}"));
    }
    args.extend(b.labels.iter().map(|(k, v)| format!("--label={k}={v}")));
    args.push(b.context.to_owned());
    exec(args, cwd).envs(b.pass_args.iter().cloned())
}

/// `docker pull REF`.
pub fn pull(cwd: &Path, reference: &str) -> Exec {
    exec(["pull", "--", reference], cwd)
}

/// `docker tag SOURCE TARGET`.
pub fn tag(cwd: &Path, source: &str, target: &str) -> Exec {
    exec(["tag", "--", source, target], cwd)
}

/// `docker push REF`, with the login's private DOCKER_CONFIG when there is one.
pub fn push(cwd: &Path, reference: &str, docker_config: Option<&Path>) -> Exec {
    let e = exec(["push", "--", reference], cwd);
    match docker_config {
        Some(c) => e.env(EnvVar::plain("DOCKER_CONFIG", c.display().to_string())),
        None => e,
    }
}

/// `docker login --password-stdin` into a private DOCKER_CONFIG; the password goes to
/// its stdin only.
pub fn login(
    cwd: &Path,
    server: &str,
    username: &str,
    password: &str,
    docker_config: &Path,
) -> Exec {
    exec(
        [
            "login".to_owned(),
            format!("--username={username}"),
            "--password-stdin".into(),
            "--".into(),
            server.to_owned(),
        ],
        cwd,
    )
    .env(EnvVar::plain(
        "DOCKER_CONFIG",
        docker_config.display().to_string(),
    ))
    .stdin(Stdin::Secret(password.to_owned()))
}

fn unreachable(reason: &str) -> Error {
    Error::Unreachable {
        message: format!("the Docker daemon is not reachable: {reason}"),
        hint: "start it (`systemctl start docker`, or `dockerd &` as root), or point DOCKER_HOST at a running engine; `lbc doctor` checks the setup".into(),
    }
}

/// A read-only probe through the Engine API: `Ok(None)` for 404, the parsed body for
/// 200, `Err` when the daemon is down; the outer `None` means "use the CLI".
fn api_probe<T: serde::de::DeserializeOwned>(path: &str) -> Option<Result<Option<T>, Error>> {
    let ep = super::docker_api::endpoint()?;
    Some(match super::docker_api::get(&ep, path) {
        super::docker_api::Reply::Unreachable(why) => Err(unreachable(&why)),
        super::docker_api::Reply::Http(404, _) => Ok(None),
        super::docker_api::Reply::Http(200, body) => {
            serde_json::from_slice(&body).map(Some).map_err(|e| {
                Error::failed(
                    format!("could not read the Docker API's answer to {path}: {e}"),
                    None,
                )
            })
        }
        super::docker_api::Reply::Http(code, body) => Err(Error::failed(
            format!(
                "the Docker daemon answered {code} to {path}: {}",
                String::from_utf8_lossy(&body).trim()
            ),
            None,
        )),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionInfo {
    version: String,
}

/// Check that the daemon answers; returns the server version.
pub fn daemon_version(runner: &Runner, cwd: &Path) -> Result<String, Error> {
    if let Some(r) = api_probe::<VersionInfo>("/version") {
        return r?
            .map(|v| v.version)
            .ok_or_else(|| unreachable("no version answer"));
    }
    let out = runner.query(&exec(["version", "--format={{.Server.Version}}"], cwd))?;
    let version = out.stdout.trim();
    if out.ok() && !version.is_empty() {
        return Ok(version.to_owned());
    }
    let reason = out
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no answer")
        .trim()
        .to_owned();
    Err(unreachable(&reason))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    pub id: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub repo_digests: Option<Vec<String>>,
    #[serde(default)]
    pub config: Option<ImageConfig>,
    #[serde(default, rename = "RootFS")]
    pub root_fs: Option<RootFs>,
}

/// The layers of an image (their content digests, bottom first).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(default)]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub healthcheck: Option<serde_json::Value>,
}

impl ImageInfo {
    /// The registry digest of this image in `repository`, if it was pushed or pulled.
    pub fn digest_in(&self, repository: &str) -> Option<String> {
        self.repo_digests.as_ref()?.iter().find_map(|d| {
            let r = crate::image::ImageRef::parse(d).ok()?;
            r.is_in(repository).then_some(r.digest).flatten()
        })
    }
    /// The layers, bottom first (none when the engine did not say).
    pub fn layers(&self) -> &[String] {
        self.root_fs.as_ref().map_or(&[], |r| r.layers.as_slice())
    }
    pub fn has_healthcheck(&self) -> bool {
        self.config
            .as_ref()
            .and_then(|c| c.healthcheck.as_ref())
            .is_some_and(|h| !h.is_null())
    }
}

/// `docker image inspect REF`, or `None` when there is no such image.
pub fn image_inspect(
    runner: &Runner,
    cwd: &Path,
    reference: &str,
) -> Result<Option<ImageInfo>, Error> {
    inspect(runner, cwd, "image", "/images", reference)
}

/// `docker OBJECT inspect NAME` (through the Engine API when it can), or `None` when
/// there is no such object.
fn inspect<T: serde::de::DeserializeOwned>(
    runner: &Runner,
    cwd: &Path,
    object: &str,
    api_prefix: &str,
    name: &str,
) -> Result<Option<T>, Error> {
    if let Some(r) = api_probe(&format!(
        "{api_prefix}/{}/json",
        super::docker_api::escape(name)
    )) {
        return r;
    }
    let out = runner.query(&exec([object, "inspect", "--", name], cwd))?;
    if !out.ok() {
        if out.stderr.contains("No such") || out.stderr.contains("no such") {
            return Ok(None);
        }
        daemon_version(runner, cwd)?;
        return Ok(None);
    }
    let mut infos: Vec<T> = serde_json::from_str(&out.stdout).map_err(|e| {
        Error::failed(
            format!("could not read `docker {object} inspect` output: {e}"),
            None,
        )
    })?;
    Ok(infos.pop())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInfo {
    pub id: String,
    pub state: ContainerState,
    pub config: ContainerConfig,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub network_settings: Option<NetworkSettings>,
}

/// Where a container is attached (its address on each network).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    #[serde(default)]
    pub networks: Option<BTreeMap<String, Endpoint>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(rename = "IPAddress", default)]
    pub ip_address: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

impl ContainerInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.labels.as_ref()?.get(key).map(String::as_str)
    }
    /// Its IP address on `network` (empty while it does not run).
    pub fn ip_on(&self, network: &str) -> Option<&str> {
        self.network_settings
            .as_ref()?
            .networks
            .as_ref()?
            .get(network)
            .map(|e| e.ip_address.as_str())
            .filter(|ip| !ip.is_empty())
    }
}

/// `docker container inspect NAME`, or `None` when there is no such container.
pub fn container_inspect(
    runner: &Runner,
    cwd: &Path,
    name: &str,
) -> Result<Option<ContainerInfo>, Error> {
    inspect(runner, cwd, "container", "/containers", name)
}

// --- Backing services (issue #10): networks, volumes, service containers, exec, cp. ---

/// `--label=K=V` for each pair.
fn label_args<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = String> + 'a {
    pairs.iter().map(|(k, v)| format!("--label={k}={v}"))
}

/// `docker network create --label=K=V... -- NAME`.
pub fn network_create(cwd: &Path, name: &str, labels: &[(&str, &str)]) -> Exec {
    let mut a = vec!["network".to_owned(), "create".into()];
    a.extend(label_args(labels));
    a.extend(["--".into(), name.into()]);
    exec(a, cwd).capture()
}

/// `docker network rm -- NAME`.
pub fn network_rm(cwd: &Path, name: &str) -> Exec {
    exec(["network", "rm", "--", name], cwd).capture()
}

/// `docker volume create --label=K=V... -- NAME`.
pub fn volume_create(cwd: &Path, name: &str, labels: &[(&str, &str)]) -> Exec {
    let mut a = vec!["volume".to_owned(), "create".into()];
    a.extend(label_args(labels));
    a.extend(["--".into(), name.into()]);
    exec(a, cwd).capture()
}

/// `docker volume rm -- NAME...`.
pub fn volume_rm(cwd: &Path, names: &[String]) -> Exec {
    let mut a = vec!["volume".to_owned(), "rm".into(), "--".into()];
    a.extend(names.iter().cloned());
    exec(a, cwd).capture()
}

/// `docker rm --force [--volumes] -- NAME...` (`--volumes` only removes anonymous volumes).
pub fn remove_all(cwd: &Path, names: &[String], anonymous_volumes: bool) -> Exec {
    let mut a = vec!["rm".to_owned(), "--force".into()];
    if anonymous_volumes {
        a.push("--volumes".into());
    }
    a.push("--".into());
    a.extend(names.iter().cloned());
    exec(a, cwd).capture()
}

/// `docker kill -- NAME` (SIGKILL: what `lbc chaos` does to a replica, issue #14).
pub fn kill(cwd: &Path, name: &str) -> Exec {
    exec(["kill", "--", name], cwd).capture()
}

/// `docker start -- NAME`.
pub fn start(cwd: &Path, name: &str) -> Exec {
    exec(["start", "--", name], cwd).capture()
}

/// `docker stop -- NAME...`: the image's stop signal, so that a database shuts down
/// cleanly (and Redis saves its data) before the container goes.
pub fn stop(cwd: &Path, names: &[String]) -> Exec {
    let mut a = vec!["stop".to_owned(), "--".into()];
    a.extend(names.iter().cloned());
    exec(a, cwd).capture()
}

/// `docker cp -- SRC DST` (one side is `CONTAINER:PATH`).
pub fn cp(cwd: &Path, src: &str, dst: &str) -> Exec {
    exec(["cp", "--", src, dst], cwd)
}

/// A backing service's long-running container.
pub struct ServiceRun<'a> {
    pub name: &'a str,
    pub network: &'a str,
    /// The container's host name on the network.
    pub alias: Option<&'a str>,
    pub labels: &'a [(&'a str, &'a str)],
    /// `VOLUME:PATH` mounts.
    pub volumes: Vec<String>,
    /// `--publish` values.
    pub publish: Vec<String>,
    /// Given by name; docker reads the values from its own environment.
    pub env: Vec<EnvVar>,
    pub image: &'a str,
    pub command: Vec<String>,
}

/// `docker run --detach --name=... --network=... IMAGE COMMAND...` of a service.
pub fn run_service(cwd: &Path, s: ServiceRun) -> Exec {
    let mut a: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        format!("--name={}", s.name),
        format!("--network={}", s.network),
    ];
    if let Some(al) = s.alias {
        a.push(format!("--network-alias={al}"));
    }
    a.extend(label_args(s.labels));
    a.extend(s.volumes.iter().map(|v| format!("--volume={v}")));
    a.extend(s.publish.iter().map(|p| format!("--publish={p}")));
    a.extend(s.env.iter().map(|e| format!("--env={}", e.name)));
    a.push(s.image.into());
    a.extend(s.command);
    exec(a, cwd).envs(s.env).capture()
}

/// A one-off container on a network, removed afterwards (a migration).
pub struct OneOff<'a> {
    pub name: &'a str,
    pub network: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
    /// Given by name; docker reads the values from its own environment.
    pub env: Vec<EnvVar>,
    pub image: &'a str,
    pub command: &'a [String],
}

/// `docker run --rm --name=... --network=... IMAGE COMMAND...`.
pub fn run_one_off(cwd: &Path, o: OneOff) -> Exec {
    let mut a: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        format!("--name={}", o.name),
        format!("--network={}", o.network),
    ];
    a.extend(label_args(o.labels));
    a.extend(o.env.iter().map(|e| format!("--env={}", e.name)));
    a.push(o.image.into());
    a.extend(o.command.iter().cloned());
    exec(a, cwd).envs(o.env)
}

/// `docker exec [--env=NAME]... CONTAINER ARGV...`: values of `env` stay in the child's
/// environment, never in the argv. (`docker exec` takes no `--` before the container.)
pub fn exec_in(cwd: &Path, container: &str, env: Vec<EnvVar>, argv: Vec<String>) -> Exec {
    let mut a: Vec<String> = vec!["exec".into()];
    a.extend(env.iter().map(|e| format!("--env={}", e.name)));
    a.push(container.into());
    a.extend(argv);
    exec(a, cwd).envs(env)
}

fn object_exists(runner: &Runner, cwd: &Path, what: &str, name: &str) -> Result<bool, Error> {
    let out = runner.query(&exec(
        [what, "inspect", "--format={{.Name}}", "--", name],
        cwd,
    ))?;
    if out.ok() {
        return Ok(true);
    }
    if out.stderr.to_ascii_lowercase().contains("no such") {
        return Ok(false);
    }
    daemon_version(runner, cwd)?;
    Ok(false)
}

pub fn network_exists(runner: &Runner, cwd: &Path, name: &str) -> Result<bool, Error> {
    object_exists(runner, cwd, "network", name)
}

pub fn volume_exists(runner: &Runner, cwd: &Path, name: &str) -> Result<bool, Error> {
    object_exists(runner, cwd, "volume", name)
}

/// Names listed by `docker ... ls --filter=label=L... --format=...`, sorted.
fn labelled(
    runner: &Runner,
    cwd: &Path,
    list: &[&str],
    label: &[String],
    format: &str,
) -> Result<Vec<String>, Error> {
    let mut a: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    a.extend(label.iter().map(|l| format!("--filter=label={l}")));
    a.push(format!("--format={format}"));
    let out = runner.query(&exec(a, cwd))?;
    if !out.ok() {
        daemon_version(runner, cwd)?;
    }
    let mut v: Vec<String> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    Ok(v)
}

/// Containers (running or not) carrying every `label` (`K=V`, or `K` for presence).
pub fn containers_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    labelled(runner, cwd, &["ps", "--all"], label, "{{.Names}}")
}

/// Networks carrying every `label`.
pub fn networks_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    labelled(runner, cwd, &["network", "ls"], label, "{{.Name}}")
}

/// Volumes carrying every `label`.
pub fn volumes_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    labelled(runner, cwd, &["volume", "ls"], label, "{{.Name}}")
}

/// The host address a container's port is published on (`127.0.0.1:49153`).
pub fn published(runner: &Runner, cwd: &Path, container: &str, port: u16) -> Option<String> {
    let out = runner
        .query(&exec(
            ["port", "--", container, &format!("{port}/tcp")],
            cwd,
        ))
        .ok()?;
    out.ok()
        .then(|| out.stdout.lines().next().map(|l| l.trim().to_owned()))
        .flatten()
        .filter(|l| !l.is_empty())
}

/// The last lines of a container's log (stdout and stderr), for failure reports.
pub fn last_log_lines(runner: &Runner, cwd: &Path, container: &str, n: u32) -> String {
    runner
        .query(&logs(cwd, container, n, false))
        .ok()
        .filter(|o| o.ok())
        .map(|o| format!("{}{}", o.stdout, o.stderr))
        .unwrap_or_default()
}
