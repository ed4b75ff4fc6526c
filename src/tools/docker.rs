//! The Docker CLI: argument lists, output parsing, and the waits for local deploys.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::Error;
use crate::plan::Exec;
use crate::runner::{self, Runner};
use crate::ui;

pub fn exec<I, S>(args: I, cwd: &Path) -> Exec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv = vec!["docker".to_owned()];
    argv.extend(args.into_iter().map(Into::into));
    Exec::new(argv, cwd).progress()
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
    let out = runner.query(&exec(["version", "--format", "{{.Server.Version}}"], cwd))?;
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
            let (repo, digest) = d.split_once('@')?;
            (repo == repository
                || repo.strip_prefix("docker.io/") == Some(repository)
                || repo.strip_prefix("docker.io/library/") == Some(repository))
            .then(|| digest.to_owned())
        })
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
    if let Some(r) = api_probe(&format!(
        "/images/{}/json",
        super::docker_api::escape(reference)
    )) {
        return r;
    }
    let out = runner.query(&exec(["image", "inspect", "--", reference], cwd))?;
    if !out.ok() {
        if out.stderr.contains("No such") || out.stderr.contains("no such") {
            return Ok(None);
        }
        daemon_version(runner, cwd)?;
        return Ok(None);
    }
    let mut infos: Vec<ImageInfo> = serde_json::from_str(&out.stdout).map_err(|e| {
        Error::failed(
            format!("could not read `docker image inspect` output: {e}"),
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
}

/// `docker container inspect NAME`, or `None` when there is no such container.
pub fn container_inspect(
    runner: &Runner,
    cwd: &Path,
    name: &str,
) -> Result<Option<ContainerInfo>, Error> {
    if let Some(r) = api_probe(&format!(
        "/containers/{}/json",
        super::docker_api::escape(name)
    )) {
        return r;
    }
    let out = runner.query(&exec(["container", "inspect", "--", name], cwd))?;
    if !out.ok() {
        if out.stderr.contains("No such") || out.stderr.contains("no such") {
            return Ok(None);
        }
        daemon_version(runner, cwd)?;
        return Ok(None);
    }
    let mut infos: Vec<ContainerInfo> = serde_json::from_str(&out.stdout).map_err(|e| {
        Error::failed(
            format!("could not read `docker container inspect` output: {e}"),
            None,
        )
    })?;
    Ok(infos.pop())
}

/// The registry host of a repository (`docker.io` for Docker Hub names).
pub fn registry_host(repository: &str) -> String {
    match repository.split_once('/') {
        Some((h, _)) if h.contains('.') || h.contains(':') || h == "localhost" => h.to_owned(),
        _ => "docker.io".to_owned(),
    }
}

/// Poll `url` until it answers 200 while `container` keeps running.
pub fn wait_http(
    runner: &Runner,
    url: &str,
    container: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let spinner = ui::spinner(&format!("waiting for {url}"));
    let start = Instant::now();
    let cwd = std::env::temp_dir();
    let mut checks = 0u32;
    loop {
        runner::check_interrupt()?;
        let last = match http_status(url, Duration::from_secs(2)) {
            Ok(200) => {
                if let Some(s) = spinner {
                    s.finish_and_clear();
                }
                return Ok(());
            }
            Ok(code) => format!("HTTP {code}"),
            Err(e) => e.to_string(),
        };
        if checks % 4 == 0 {
            if let Some(c) = container_inspect(runner, &cwd, container)? {
                if c.state.status != "running" && c.state.status != "created" {
                    if let Some(s) = &spinner {
                        s.finish_and_clear();
                    }
                    return Err(Error::failed(
                        format!(
                            "container {container} stopped ({}, exit code {}) before {url} answered 200",
                            c.state.status, c.state.exit_code
                        ),
                        Some("its last log lines are above; fix the service and run `lbc build` and `lbc deploy local` again".to_owned()),
                    ));
                }
            }
        }
        checks += 1;
        if start.elapsed() >= timeout {
            if let Some(s) = &spinner {
                s.finish_and_clear();
            }
            return Err(Error::failed(
                format!(
                    "{url} did not answer 200 within {}s (last: {last})",
                    timeout.as_secs()
                ),
                Some("check the `health` path and `container_port` in lbc.toml, or raise `timeout` for the environment".to_owned()),
            ));
        }
        runner::sleep(Duration::from_millis(250))?;
    }
}

/// Wait until the container's HEALTHCHECK says healthy (or, without one, it runs).
pub fn wait_healthy(runner: &Runner, container: &str, timeout: Duration) -> Result<(), Error> {
    let spinner = ui::spinner(&format!("waiting for {container} to be healthy"));
    let cwd = std::env::temp_dir();
    let start = Instant::now();
    let result = loop {
        let Some(c) = container_inspect(runner, &cwd, container)? else {
            break Err(Error::failed(
                format!("container {container} disappeared"),
                None,
            ));
        };
        match (
            c.state.status.as_str(),
            c.state.health.as_ref().map(|h| h.status.as_str()),
        ) {
            ("running", None | Some("healthy")) => break Ok(()),
            ("running" | "created", _) => {}
            (status, _) => {
                break Err(Error::failed(
                    format!(
                        "container {container} stopped ({status}, exit code {})",
                        c.state.exit_code
                    ),
                    Some("its last log lines are above".to_owned()),
                ))
            }
        }
        if start.elapsed() >= timeout {
            break Err(Error::failed(
                format!(
                    "container {container} was not healthy within {}s",
                    timeout.as_secs()
                ),
                Some(
                    "raise `timeout` for the environment, or check the image's HEALTHCHECK"
                        .to_owned(),
                ),
            ));
        }
        runner::sleep(Duration::from_millis(300))?;
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}

/// A minimal HTTP/1.1 GET returning the status code. Only `http://` URLs.
pub fn http_status(url: &str, timeout: Duration) -> std::io::Result<u16> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "only http:// URLs")
    })?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = hostport
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: lbc\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        let n = stream.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = String::from_utf8_lossy(&buf[..got]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}
