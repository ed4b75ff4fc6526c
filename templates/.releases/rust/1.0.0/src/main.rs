//! A tiny HTTP service: `/` greets, `/healthz` answers 200, `/metrics` counts requests.
//! Standard library only (no crates), so the image builds offline.
//!
//! `server healthcheck` is the image's HEALTHCHECK: it exits 0 when GET /healthz answers
//! 200 (the runtime image has no curl or wget).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Status code, content type and body for a GET of `path`.
pub fn respond(path: &str) -> (u16, &'static str, String) {
    let count = REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
    match path {
        "/healthz" => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
        "/" => {
            let greeting =
                std::env::var("GREETING").unwrap_or_else(|_| "hello from lbc".to_string());
            (200, "text/plain; charset=utf-8", format!("{greeting}\n"))
        }
        "/metrics" => (
            200,
            "text/plain; version=0.0.4",
            format!(
                "# HELP app_requests_total HTTP requests served.\n# TYPE app_requests_total counter\napp_requests_total {count}\n"
            ),
        ),
        _ => (404, "text/plain; charset=utf-8", "not found\n".to_string()),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    }
}

/// Answer one connection: read the request line and headers, write one response.
fn handle(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = target.split('?').next().unwrap_or("/");
    let (code, content_type, body) = if method == "GET" {
        respond(path)
    } else {
        (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".to_string(),
        )
    };
    eprintln!("\"{method} {target}\" {code}");
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(code),
        body.len(),
    )?;
    stream.flush()
}

/// Serve forever on `listener`, one thread per connection.
pub fn serve(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = handle(stream) {
                eprintln!("connection error: {e}");
            }
        });
    }
}

fn port() -> String {
    std::env::var("PORT").unwrap_or_else(|_| "8080".to_string())
}

/// GET /healthz on this machine: true when it answers 200.
fn healthcheck(port: &str) -> bool {
    let addr = format!("127.0.0.1:{port}");
    let mut stream = match addr
        .parse()
        .ok()
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
    {
        Some(s) => s,
        None => return false,
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        std::process::exit(if healthcheck(&port()) { 0 } else { 1 });
    }
    let addr = format!("0.0.0.0:{}", port());
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("cannot listen on {addr}: {e}");
        std::process::exit(1)
    });
    println!("listening on {addr}");
    serve(listener);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(respond("/healthz").0, 200);
        assert_eq!(respond("/").0, 200);
        assert!(respond("/metrics").2.contains("app_requests_total "));
        assert_eq!(respond("/nope").0, 404);
    }

    #[test]
    fn healthz_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        std::thread::spawn(move || serve(listener));
        assert!(healthcheck(&port));
    }

    #[test]
    fn healthcheck_fails_when_nothing_listens() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port().to_string()
        };
        assert!(!healthcheck(&port));
    }
}
