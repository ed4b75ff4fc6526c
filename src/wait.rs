//! The waits lbc performs itself between steps: an HTTP health check and a container's
//! HEALTHCHECK, and a probe command run until it succeeds (a backing service that
//! accepts connections); rollout waits are kubectl steps. They poll through read-only probes and
//! sleep in slices that notice an interrupt.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::plan::BalancerOp;
use crate::runner::{self, Runner};
use crate::tools::docker::container_inspect;
use crate::tools::haproxy;
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
    // One write: `write!` on an unbuffered stream sends each piece of the format as a
    // TCP segment of its own, and PHP's built-in server closes about one connection in
    // ten whose request line comes in pieces (issue #11: the php stack's deploy).
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: lbc\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
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

/// A small HTTP/1.0 request (the balancer's statistics page and admin form): the status
/// code and the body. Only `http://` URLs.
pub fn http_request(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
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
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: lbc\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer")
        })?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((
        code,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

/// The body of a `Transfer-Encoding: chunked` answer (haproxy's statistics page sends
/// one even to an HTTP/1.0 request).
fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let size = size.split(';').next().unwrap_or("").trim();
        let Ok(n) = usize::from_str_radix(size, 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..n), rest.get(n..)) else {
            out.push_str(rest);
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(chunk);
        raw = after.strip_prefix("\r\n").unwrap_or(after);
    }
    out
}

/// The statistics page of a local balancer: `http://127.0.0.1:PORT/`.
fn stats_url(runner: &Runner, balancer: &str) -> Result<String, Error> {
    let cwd = std::env::temp_dir();
    match crate::tools::docker::published(runner, &cwd, balancer, haproxy::STATS_PORT) {
        Some(addr) => Ok(format!("http://{}", addr.replace("0.0.0.0", "127.0.0.1"))),
        None => Err(Error::failed(
            format!(
                "the load balancer {balancer} does not run (its statistics port is not published)"
            ),
            Some("deploy again: `lbc deploy local` starts it".to_owned()),
        )),
    }
}

/// The replicas' slots as the balancer sees them now.
pub fn balancer_servers(runner: &Runner, balancer: &str) -> Result<Vec<haproxy::Server>, Error> {
    let url = stats_url(runner, balancer)?;
    let (code, body) = http_request("GET", &format!("{url}/;csv"), None, Duration::from_secs(2))
        .map_err(|e| {
            Error::failed(
                format!("could not read the statistics of {balancer}: {e}"),
                None,
            )
        })?;
    if code != 200 {
        return Err(Error::failed(
            format!("the statistics page of {balancer} answered HTTP {code}"),
            None,
        ));
    }
    Ok(haproxy::parse_stats(&body))
}

fn balancer_admin(runner: &Runner, balancer: &str, slot: &str, action: &str) -> Result<(), Error> {
    let url = stats_url(runner, balancer)?;
    let (code, _) = http_request(
        "POST",
        &format!("{url}/"),
        Some(&haproxy::admin_form(slot, action)),
        Duration::from_secs(2),
    )
    .map_err(|e| {
        Error::failed(
            format!("could not {action} {slot} on {balancer}: {e}"),
            None,
        )
    })?;
    // The admin form answers with a redirect to `/;st=DONE`.
    if !(200..400).contains(&code) {
        return Err(Error::failed(
            format!("{balancer} refused to {action} {slot} (HTTP {code})"),
            None,
        ));
    }
    Ok(())
}

/// A step of the rolling replacement of a local environment's replicas (issue #14):
/// wait until the balancer serves a new replica, drain an old one, or release the slots
/// of drained replicas once they are gone.
pub fn balancer(
    runner: &Runner,
    op: BalancerOp,
    balancer: &str,
    replica: &str,
    network: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let cwd = std::env::temp_dir();
    let start = Instant::now();
    match op {
        BalancerOp::WaitServing => {
            let spinner = ui::spinner(&format!(
                "waiting for {balancer} to send requests to {replica}"
            ));
            // The balancer's slot of this replica, once it was made to check it.
            let mut checked: Option<String> = None;
            let result = loop {
                runner::check_interrupt()?;
                let Some(c) = container_inspect(runner, &cwd, replica)? else {
                    break Err(Error::failed(
                        format!("container {replica} disappeared"),
                        None,
                    ));
                };
                if c.state.status != "running" && c.state.status != "created" {
                    break Err(Error::failed(
                        format!(
                            "container {replica} stopped ({}, exit code {}) before the load balancer sent it requests",
                            c.state.status, c.state.exit_code
                        ),
                        Some("its last log lines are above; fix the service and run `lbc build` and `lbc deploy local` again".to_owned()),
                    ));
                }
                let mut last = "not found by the balancer yet".to_owned();
                if let Some(ip) = c.ip_on(network) {
                    // The balancer may be starting: its page answers a moment later.
                    match balancer_servers(runner, balancer) {
                        Ok(servers) => {
                            if let Some(s) = servers.iter().find(|s| s.ip() == ip) {
                                if checked.as_deref() == Some(s.name.as_str()) {
                                    if s.serving() {
                                        break Ok(());
                                    }
                                } else {
                                    // A slot that gets an address is UP at once when it
                                    // was UP before (a slot never used, or one a removed
                                    // replica left): haproxy keeps its last check. Mark
                                    // it down once so that only a check of this replica
                                    // brings it up.
                                    if s.serving() {
                                        balancer_admin(runner, balancer, &s.name, "hdown")?;
                                    }
                                    checked = Some(s.name.clone());
                                }
                                last = format!("slot {}: {}", s.name, s.status);
                            }
                        }
                        Err(e) => last = e.to_string(),
                    }
                }
                if start.elapsed() >= timeout {
                    break Err(Error::failed(
                        format!(
                            "the load balancer did not send requests to {replica} within {}s (last: {last})",
                            timeout.as_secs()
                        ),
                        Some("its health check fails: check the `health` path and `container_port` in lbc.toml, or raise `timeout`".to_owned()),
                    ));
                }
                runner::sleep(Duration::from_millis(200))?;
            };
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            result
        }
        BalancerOp::Drain => {
            let Some(ip) = container_inspect(runner, &cwd, replica)?
                .and_then(|c| c.ip_on(network).map(str::to_owned))
            else {
                return Ok(()); // not running: the balancer sends it nothing
            };
            let servers = balancer_servers(runner, balancer)?;
            let Some(slot) = servers
                .iter()
                .find(|s| s.ip() == ip)
                .map(|s| s.name.clone())
            else {
                return Ok(());
            };
            balancer_admin(runner, balancer, &slot, "drain")?;
            loop {
                let open = balancer_servers(runner, balancer)?
                    .into_iter()
                    .find(|s| s.name == slot)
                    .map_or(0, |s| s.current);
                if open == 0 {
                    return Ok(());
                }
                if start.elapsed() >= timeout {
                    ui::warn(&format!(
                        "{replica} still had {open} open request(s) after {}s; stopping it anyway (the balancer retries them elsewhere when it can)",
                        timeout.as_secs()
                    ));
                    return Ok(());
                }
                runner::sleep(Duration::from_millis(100))?;
            }
        }
        BalancerOp::Release => {
            let drained: Vec<String> = balancer_servers(runner, balancer)?
                .into_iter()
                .filter(|s| s.status.starts_with("DRAIN"))
                .map(|s| s.name)
                .collect();
            // Until the balancer's DNS forgets the removed replica (`hold obsolete 1s`),
            // its slot keeps the old address: making it ready earlier would send it
            // requests for a moment.
            while start.elapsed() < timeout.min(Duration::from_secs(5)) {
                let still = balancer_servers(runner, balancer)?
                    .into_iter()
                    .any(|s| drained.contains(&s.name) && s.status.starts_with("DRAIN"));
                if !still {
                    break;
                }
                runner::sleep(Duration::from_millis(200))?;
            }
            for slot in drained {
                balancer_admin(runner, balancer, &slot, "ready")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// haproxy's statistics page comes chunked (issue #14).
    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            super::dechunk("5\r\n# pxn\r\n3\r\name\r\n0\r\n\r\n"),
            "# pxname"
        );
    }
}
