//! The waits lbc performs itself between steps: an HTTP health check and a container's
//! HEALTHCHECK, and a probe command run until it succeeds (a backing service that
//! accepts connections); rollout waits are kubectl steps. They poll through read-only probes and
//! sleep in slices that notice an interrupt.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::runner::{self, Runner};
use crate::tools::docker::container_inspect;
use crate::ui;

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

/// Run `probe` (a `docker exec` in `container`) until it exits 0, while the container
/// keeps running; fail naming `what` when the container stops or `timeout` passes (a
/// backing service that accepts connections, issue #10).
pub fn wait_command(
    runner: &Runner,
    what: &str,
    container: &str,
    probe: &crate::plan::Exec,
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
        match container_inspect(runner, &cwd, container)? {
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
    if result.is_err() {
        // Why it is not ready is in its log.
        let text = crate::tools::docker::last_log_lines(runner, &cwd, container, 20);
        if !text.trim().is_empty() {
            ui::info(&format!("last log lines of {container}:"));
            ui::info(text.trim_end());
        }
    }
    result
}
