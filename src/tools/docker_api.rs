//! Read-only probes through the Docker Engine API (`GET` over the daemon's socket).
//!
//! Planning asks the engine questions (is it up, does this image exist, what runs in this
//! container). Each `docker` CLI call costs 20-40 ms of process start-up; the same
//! question over the socket costs well under a millisecond, which is what lets a no-op
//! `lbc build` be much faster than a cached `docker build`. Every action (build, push,
//! run, rm) still goes through the CLI and the runner. When the engine is not reached
//! through a plain `unix://` or `tcp://` endpoint (a docker context, ssh, TLS), probes
//! fall back to the CLI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Where the engine listens, when lbc can talk to it directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(String),
    Tcp(String),
}

/// The endpoint from `DOCKER_HOST`, or `None` when probes must use the CLI.
pub fn endpoint() -> Option<Endpoint> {
    use crate::settings::env_var;
    if env_var("DOCKER_CONTEXT").is_some_and(|v| v != "default")
        || env_var("DOCKER_TLS_VERIFY").is_some()
    {
        return None;
    }
    match env_var("DOCKER_HOST") {
        None => {
            // A current context other than the default is named in the CLI's config.
            let dir = match env_var("DOCKER_CONFIG") {
                Some(d) => std::path::PathBuf::from(d),
                None => std::path::Path::new(&env_var("HOME")?).join(".docker"),
            };
            if let Ok(text) = std::fs::read_to_string(dir.join("config.json")) {
                let current = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("currentContext")?.as_str().map(str::to_owned));
                if current.is_some_and(|c| !c.is_empty() && c != "default") {
                    return None;
                }
            }
            Some(Endpoint::Unix("/var/run/docker.sock".into()))
        }
        Some(h) => {
            if let Some(p) = h.strip_prefix("unix://") {
                Some(Endpoint::Unix(p.to_owned()))
            } else {
                h.strip_prefix("tcp://")
                    .map(|a| Endpoint::Tcp(a.trim_end_matches('/').to_owned()))
            }
        }
    }
}

/// What a probe got back.
#[derive(Debug)]
pub enum Reply {
    /// The HTTP status and body.
    Http(u16, Vec<u8>),
    /// Nothing listens there: the daemon is down (the message says why).
    Unreachable(String),
}

/// `GET path` on the engine.
pub fn get(ep: &Endpoint, path: &str) -> Reply {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: lbc\r\nConnection: close\r\n\r\n"
    );
    let timeout = Some(Duration::from_secs(30));
    let raw = match ep {
        Endpoint::Unix(p) => UnixStream::connect(p).and_then(|mut s| {
            s.set_read_timeout(timeout)?;
            s.write_all(request.as_bytes())?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf)?;
            Ok(buf)
        }),
        Endpoint::Tcp(a) => TcpStream::connect(a).and_then(|mut s| {
            s.set_read_timeout(timeout)?;
            s.write_all(request.as_bytes())?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf)?;
            Ok(buf)
        }),
    };
    let raw = match raw {
        Ok(r) => r,
        Err(e) => {
            let place = match ep {
                Endpoint::Unix(p) => format!("unix://{p}"),
                Endpoint::Tcp(a) => format!("tcp://{a}"),
            };
            return Reply::Unreachable(format!(
                "cannot connect to the Docker daemon at {place}: {e}"
            ));
        }
    };
    match parse_response(&raw) {
        Some((status, body)) => Reply::Http(status, body),
        None => Reply::Unreachable("the Docker daemon sent an answer lbc cannot read".into()),
    }
}

/// Split an HTTP/1.1 response into status and (de-chunked) body.
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[head_end + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        if rest.len() < size {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    Some((status, out))
}

/// Escape a reference or name for a URL path (slashes and colons stay as they are: the
/// engine's routes take them).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Some((200, b"{}".to_vec())));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((404, b"abcde".to_vec())));
    }

    #[test]
    fn escapes_only_what_it_must() {
        assert_eq!(
            escape("127.0.0.1:5055/team/x:tag"),
            "127.0.0.1:5055/team/x:tag"
        );
        assert_eq!(escape("a b?"), "a%20b%3F");
    }
}
