//! What a value must look like before lbc hands it to docker, helm, kubectl or git.
//!
//! Every value of `lbc.toml` (and every flag) that ends up as an argument of a tool is
//! checked here when it is read, so that nothing that starts with `-` (which a tool
//! would take as an option) or holds a separator (`=`, `,`, whitespace, a newline) that
//! a tool splits on ever reaches a command line (issue #9). Each check returns the
//! reason as a short phrase ("it starts with '-'") for messages like "`X` is not a
//! valid image reference: it starts with '-'".

use std::path::{Component, Path};

/// Longest value quoted back in an error message.
pub const EXCERPT_CHARS: usize = 80;

/// A value as quoted in a message: at most [`EXCERPT_CHARS`] characters, control
/// characters escaped, so that a 100 000-character value prints one short line.
pub fn excerpt(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == EXCERPT_CHARS {
            let rest = s.chars().count() - n;
            out.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

type Check = Result<(), &'static str>;

fn common(s: &str) -> Check {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.starts_with('-') {
        return Err("it starts with '-', which a tool would read as an option");
    }
    if s.chars().any(char::is_control) {
        return Err("it contains a control character (a newline, a tab, ...)");
    }
    Ok(())
}

/// A non-empty value that must not be read as an option: a kube context, a program name.
pub fn plain(s: &str) -> Check {
    common(s)?;
    if s.trim() != s {
        return Err("it has leading or trailing spaces");
    }
    Ok(())
}

/// A free-text value that only needs to be non-empty and on one line (a description is
/// allowed more; this is for values that reach a command line).
pub fn non_blank(s: &str) -> Check {
    if s.trim().is_empty() {
        return Err("it is empty");
    }
    Ok(())
}

/// An environment-variable name: `[A-Za-z_][A-Za-z0-9_]*`. A `=` would make docker's
/// `--env NAME` set a value, so it is refused.
pub fn env_name(s: &str) -> Check {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("it starts with a digit");
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("only letters, digits and '_' are allowed");
    }
    Ok(())
}

/// A host name with an optional port (`registry.example.com`, `127.0.0.1:5055`,
/// `[::1]:5000`).
pub fn host_port(s: &str) -> Check {
    common(s)?;
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address lacks its ']'")?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the part in brackets is not an IPv6 address");
        }
        match after {
            "" => return Ok(()),
            p => (
                None,
                Some(p.strip_prefix(':').ok_or("only ':PORT' may follow ']'")?),
            ),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(s), None),
        }
    };
    if let Some(h) = host {
        hostname(h)?;
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err("the port is not a number between 1 and 65535"),
        }
    }
    Ok(())
}

/// A DNS host name (labels of letters, digits and '-', separated by dots) or an IPv4
/// address.
pub fn hostname(s: &str) -> Check {
    common(s)?;
    if s.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots, or a dot at an end)");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("a host name allows only letters, digits, '-' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label must start and end with a letter or digit");
        }
    }
    Ok(())
}

/// An image reference as docker takes it: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`.
pub fn image_reference(s: &str) -> Check {
    common(s)?;
    if s.chars().any(char::is_whitespace) {
        return Err("it contains spaces");
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let (algo, hex) = d
            .split_once(':')
            .ok_or("a digest looks like `sha256:HEX`")?;
        if algo.is_empty()
            || hex.is_empty()
            || !algo
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
            || !hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err("a digest looks like `sha256:HEX`");
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        tag_name(t)?;
    }
    repository(name)
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn tag_name(t: &str) -> Check {
    if t.is_empty() {
        return Err("the tag is empty");
    }
    if t.len() > 128 {
        return Err("the tag is longer than 128 characters");
    }
    if !t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err("a tag allows letters, digits, '_', '.' and '-', and starts with a letter, digit or '_'");
    }
    Ok(())
}

/// A repository without tag or digest: `[HOST[:PORT]/]COMPONENT(/COMPONENT)*`.
pub fn repository(r: &str) -> Check {
    common(r)?;
    if r.contains('@') {
        return Err("it must not carry a digest");
    }
    let (host, path) = match r.split_once('/') {
        Some((h, p)) if h.contains('.') || h.contains(':') || h == "localhost" => (Some(h), p),
        _ => (None, r),
    };
    if let Some(h) = host {
        host_port(h).map_err(|_| "the registry host is not a host name with an optional port")?;
    }
    for comp in path.split('/') {
        if comp.is_empty() {
            return Err("it has an empty path component");
        }
        if !comp
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err("path components allow only lowercase letters, digits, '.', '_' and '-'");
        }
        if !comp.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !comp.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err("path components must start and end with a letter or digit");
        }
    }
    Ok(())
}

/// A Dockerfile stage name (`docker build --target`, `FROM ... AS NAME`).
pub fn stage_name(s: &str) -> Check {
    common(s)?;
    if !s.starts_with(|c: char| c.is_ascii_alphabetic())
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(
            "a stage name starts with a letter and holds letters, digits, '_', '.' and '-'",
        );
    }
    Ok(())
}

/// A platform list for `docker build --platform`: `os/arch[/variant]`, comma-separated.
pub fn platform(s: &str) -> Check {
    common(s)?;
    for p in s.split(',') {
        let parts: Vec<&str> = p.split('/').collect();
        if !(2..=3).contains(&parts.len())
            || parts.iter().any(|x| {
                x.is_empty()
                    || !x
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                    || x.starts_with('-')
            })
        {
            return Err("a platform looks like `linux/amd64` or `linux/arm64/v8`");
        }
    }
    Ok(())
}

/// A Kubernetes namespace: a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most
/// 63 characters).
pub fn namespace(s: &str) -> Check {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || s.starts_with('-')
        || s.ends_with('-')
    {
        return Err("a namespace holds lowercase letters, digits and '-', and starts and ends with a letter or digit");
    }
    Ok(())
}

/// A Helm release name, by Helm's own rule: at most 53 characters, dot-separated
/// labels of lowercase letters, digits and '-', each starting and ending with a letter
/// or digit.
pub fn release_name(s: &str) -> Check {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > 53 {
        return Err("a Helm release name has at most 53 characters");
    }
    for label in s.split('.') {
        if label.is_empty()
            || !label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err("a Helm release name holds lowercase letters, digits, '-' and '.', and starts and ends with a letter or digit");
        }
    }
    Ok(())
}

/// A key of `set` (a Helm value path like `image.pullPolicy` or `ingress.hosts[0]`):
/// no `=`, `,` or spaces, which Helm would split on.
pub fn helm_key(s: &str) -> Check {
    common(s)?;
    if s.chars()
        .any(|c| matches!(c, '=' | ',') || c.is_whitespace())
    {
        return Err("a value path must not contain '=', ',' or spaces");
    }
    Ok(())
}

/// A path relative to the repository root that stays inside it: not absolute, no `..`
/// that climbs above the root, not starting with '-'.
pub fn repo_path(s: &str) -> Check {
    common(s)?;
    let p = Path::new(s);
    if p.is_absolute() {
        return Err("it is absolute; paths in lbc.toml are relative to the repository root");
    }
    let mut depth: i32 = 0;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err("it climbs out of the repository with '..'");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("it is absolute; paths in lbc.toml are relative to the repository root")
            }
        }
    }
    Ok(())
}

/// An HTTP path for health checks: starts with '/', visible ASCII only (it is written
/// into an HTTP request line).
pub fn http_path(s: &str) -> Check {
    if !s.starts_with('/') {
        return Err("it must start with '/'");
    }
    if !s.chars().all(|c| c.is_ascii_graphic()) {
        return Err("it may hold only visible ASCII characters (no spaces or newlines)");
    }
    Ok(())
}

/// clap value parsers: a flag's value is checked as the same value in lbc.toml would
/// be, and refused with exit 2 before anything runs.
pub mod arg {
    fn wrap(s: &str, check: fn(&str) -> super::Check, what: &str) -> Result<String, String> {
        check(s)
            .map(|()| s.to_owned())
            .map_err(|why| format!("not {what}: {why}"))
    }
    pub fn plain(s: &str) -> Result<String, String> {
        wrap(s, super::plain, "a usable value")
    }
    /// Parsed by the one image-reference type (#8).
    pub fn image(s: &str) -> Result<String, String> {
        crate::image::ImageRef::parse(s)
            .map(|_| s.to_owned())
            .map_err(|e| e.to_string())
    }
    pub fn tag(s: &str) -> Result<String, String> {
        wrap(s, super::tag_name, "a tag")
    }
    pub fn namespace(s: &str) -> Result<String, String> {
        wrap(
            s,
            crate::config::check_dns_label,
            "a namespace (a DNS-1123 label)",
        )
    }
    /// `http://HOST[:PORT][/PATH]` (what `lbc chaos --url` probes, issue #14).
    pub fn http_url(s: &str) -> Result<String, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or("not an http:// URL (lbc probes plain HTTP)")?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        if !s.chars().all(|c| c.is_ascii_graphic()) {
            return Err("visible ASCII only (%-escape anything else)".into());
        }
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_issue_9() {
        for ok in [
            "python",
            "python:3.12-slim",
            "127.0.0.1:5055/lbc/python:1",
            "registry.example.com/team/app@sha256:abcdef0123",
            "localhost/x",
            "[::1]:5000/x:y",
        ] {
            assert_eq!(image_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "-v/:/host",
            "--privileged",
            "",
            "a b",
            "x\n--rm",
            "Upper/Case",
            "x:",
            "x@sha256",
            "--help.io/x",
            "reg.io:-1/x",
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_and_paths_issue_9() {
        assert!(host_port("--help").is_err());
        assert!(host_port("registry.example.com").is_ok());
        assert!(host_port("127.0.0.1:5055").is_ok());
        assert!(host_port("a..b").is_err());
        assert!(host_port("h:0").is_err());
        assert!(repo_path("..").is_err());
        assert!(repo_path("../..").is_err());
        assert!(repo_path("/").is_err());
        assert!(repo_path("a/../../b").is_err());
        assert!(repo_path("-").is_err());
        assert!(repo_path("--help").is_err());
        assert!(repo_path("a/../b").is_ok());
        assert!(repo_path(".").is_ok());
        assert!(env_name("PATH=/evil").is_err());
        assert!(helm_key("a,b=c").is_err());
        assert!(release_name("--debug").is_err());
        assert!(release_name("app.v2").is_ok());
        assert!(release_name("1app").is_ok());
        assert!(release_name("App").is_err());
        assert!(namespace("1team").is_ok());
        assert!(namespace("--all").is_err());
        assert!(stage_name("-x").is_err());
        assert!(platform("linux/amd64").is_ok());
        assert!(platform("linux/amd64,linux/arm64/v8").is_ok());
        assert!(platform("").is_err());
        assert!(http_path("/x HTTP/1.1\r\nHost: y").is_err());
    }

    #[test]
    fn excerpt_is_bounded() {
        let long = "x".repeat(100_000);
        let e = excerpt(&long);
        assert!(e.len() < 200, "{}", e.len());
        assert_eq!(excerpt("a\nb"), "a\\nb");
    }
}
