//! Docker networks, volumes and service containers (issue #10): argument lists, the
//! read-only probes about them, and the wait until a command inside a container
//! succeeds (a database's readiness probe). Like `docker.rs`, nothing here runs an
//! action itself: the runner does.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::plan::{EnvVar, Exec};
use crate::runner::{self, Runner};
use crate::tools::docker;
use crate::ui;

/// `--label K=V` pairs.
fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["--label".to_owned(), format!("{k}={v}")])
        .collect()
}

pub fn network_create(name: &str, label: &[(&str, &str)], cwd: &Path) -> Exec {
    let mut a = vec!["network".to_owned(), "create".into()];
    a.extend(labels(label));
    a.extend(["--".into(), name.into()]);
    docker::exec(a, cwd).capture()
}

pub fn network_rm(name: &str, cwd: &Path) -> Exec {
    docker::exec(["network", "rm", "--", name], cwd).capture()
}

pub fn volume_create(name: &str, label: &[(&str, &str)], cwd: &Path) -> Exec {
    let mut a = vec!["volume".to_owned(), "create".into()];
    a.extend(labels(label));
    a.extend(["--".into(), name.into()]);
    docker::exec(a, cwd).capture()
}

pub fn volume_rm(names: &[String], cwd: &Path) -> Exec {
    let mut a = vec!["volume".to_owned(), "rm".into(), "--".into()];
    a.extend(names.iter().cloned());
    docker::exec(a, cwd).capture()
}

/// `docker rm --force [--volumes] NAME...` (`--volumes` only removes anonymous volumes).
pub fn rm(names: &[String], anonymous_volumes: bool, cwd: &Path) -> Exec {
    let mut a = vec!["rm".to_owned(), "--force".into()];
    if anonymous_volumes {
        a.push("--volumes".into());
    }
    a.push("--".into());
    a.extend(names.iter().cloned());
    docker::exec(a, cwd).capture()
}

pub fn start(name: &str, cwd: &Path) -> Exec {
    docker::exec(["start", "--", name], cwd).capture()
}

/// `docker stop NAME...`: the image's stop signal, so that a database shuts down
/// cleanly (and Redis saves its data) before the container goes.
pub fn stop(names: &[String], cwd: &Path) -> Exec {
    let mut a = vec!["stop".to_owned(), "--".into()];
    a.extend(names.iter().cloned());
    docker::exec(a, cwd).capture()
}

/// `docker cp SRC DST` (one side is `CONTAINER:PATH`).
pub fn cp(src: &str, dst: &str, cwd: &Path) -> Exec {
    docker::exec(["cp", "--", src, dst], cwd)
}

/// A long-running container, detached.
pub struct RunSpec<'a> {
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

pub fn run_detached(spec: RunSpec, cwd: &Path) -> Exec {
    let mut a: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        spec.name.into(),
        "--network".into(),
        spec.network.into(),
    ];
    if let Some(al) = spec.alias {
        a.extend(["--network-alias".into(), al.into()]);
    }
    a.extend(labels(spec.labels));
    for v in &spec.volumes {
        a.extend(["--volume".into(), v.clone()]);
    }
    for p in &spec.publish {
        a.extend(["--publish".into(), p.clone()]);
    }
    for e in &spec.env {
        a.extend(["--env".into(), e.name.clone()]);
    }
    a.push(spec.image.into());
    a.extend(spec.command);
    docker::exec(a, cwd).envs(spec.env).capture()
}

/// `docker exec [--env NAME]... CONTAINER ARGV...`: values of `env` stay in the child's
/// environment, never in the argv.
pub fn exec_in(container: &str, env: Vec<EnvVar>, argv: Vec<String>, cwd: &Path) -> Exec {
    let mut a: Vec<String> = vec!["exec".into()];
    for e in &env {
        a.extend(["--env".into(), e.name.clone()]);
    }
    a.push(container.into());
    a.extend(argv);
    docker::exec(a, cwd).envs(env)
}

fn exists(runner: &Runner, cwd: &Path, what: &str, name: &str) -> Result<bool, Error> {
    let out = runner.query(&docker::exec(
        [what, "inspect", "--format", "{{.Name}}", "--", name],
        cwd,
    ))?;
    if out.ok() {
        return Ok(true);
    }
    if out.stderr.to_ascii_lowercase().contains("no such") {
        return Ok(false);
    }
    docker::daemon_version(runner, cwd)?;
    Ok(false)
}

pub fn network_exists(runner: &Runner, cwd: &Path, name: &str) -> Result<bool, Error> {
    exists(runner, cwd, "network", name)
}

pub fn volume_exists(runner: &Runner, cwd: &Path, name: &str) -> Result<bool, Error> {
    exists(runner, cwd, "volume", name)
}

fn names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Containers (running or not) carrying every `label` (`K=V`, or `K` for presence).
pub fn containers_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    let mut a = vec!["ps".to_owned(), "--all".into()];
    for l in label {
        a.extend(["--filter".into(), format!("label={l}")]);
    }
    a.extend(["--format".into(), "{{.Names}}".into()]);
    let out = runner.query(&docker::exec(a, cwd))?;
    if !out.ok() {
        docker::daemon_version(runner, cwd)?;
    }
    Ok(names(&out.stdout))
}

/// Networks carrying every `label`.
pub fn networks_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    let mut a = vec!["network".to_owned(), "ls".into()];
    for l in label {
        a.extend(["--filter".into(), format!("label={l}")]);
    }
    a.extend(["--format".into(), "{{.Name}}".into()]);
    let out = runner.query(&docker::exec(a, cwd))?;
    if !out.ok() {
        docker::daemon_version(runner, cwd)?;
    }
    Ok(names(&out.stdout))
}

/// Volumes carrying every `label`.
pub fn volumes_labelled(
    runner: &Runner,
    cwd: &Path,
    label: &[String],
) -> Result<Vec<String>, Error> {
    let mut a = vec!["volume".to_owned(), "ls".into()];
    for l in label {
        a.extend(["--filter".into(), format!("label={l}")]);
    }
    a.extend(["--format".into(), "{{.Name}}".into()]);
    let out = runner.query(&docker::exec(a, cwd))?;
    if !out.ok() {
        docker::daemon_version(runner, cwd)?;
    }
    Ok(names(&out.stdout))
}

/// The host address a container's port is published on (`127.0.0.1:49153`).
pub fn published(runner: &Runner, cwd: &Path, container: &str, port: u16) -> Option<String> {
    let out = runner
        .query(&docker::exec(
            ["port", container, &format!("{port}/tcp")],
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
        .query(&docker::exec(
            ["logs", "--tail", &n.to_string(), container],
            cwd,
        ))
        .ok()
        .filter(|o| o.ok())
        .map(|o| format!("{}{}", o.stdout, o.stderr))
        .unwrap_or_default()
}

/// Run `probe` (a `docker exec` in `container`) until it exits 0, while the container
/// keeps running; fail naming `what` when the container stops or `timeout` passes.
pub fn wait_command(
    runner: &Runner,
    what: &str,
    container: &str,
    probe: &Exec,
    timeout: Duration,
) -> Result<(), Error> {
    let spinner = ui::spinner(&format!("waiting for {what} to accept connections"));
    let cwd = std::env::temp_dir();
    let start = Instant::now();
    let result = loop {
        runner::check_interrupt()?;
        let out = runner.query(probe)?;
        if out.ok() {
            break Ok(());
        }
        match docker::container_inspect(runner, &cwd, container)? {
            None => {
                break Err(Error::failed(
                    format!("{what} is not ready: its container {container} disappeared"),
                    None,
                ))
            }
            Some(c) if c.state.status != "running" && c.state.status != "created" => {
                break Err(Error::failed(
                    format!(
                        "{what} stopped before it accepted connections (container {container}: {}, exit code {})",
                        c.state.status, c.state.exit_code
                    ),
                    Some(format!("its last log lines are above; `docker logs {container}` shows them all")),
                ))
            }
            Some(_) => {}
        }
        if start.elapsed() >= timeout {
            let why = format!("{}{}", out.stdout, out.stderr);
            let why = why.trim();
            break Err(Error::failed(
                format!(
                    "{what} did not accept connections within {}s{}",
                    timeout.as_secs(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" (last check: {})", why.lines().last().unwrap_or(why))
                    }
                ),
                Some(format!(
                    "its last log lines are above; raise `timeout` of the environment, or check the service's image (`docker logs {container}`)"
                )),
            ));
        }
        runner::sleep(Duration::from_millis(250))?;
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}
