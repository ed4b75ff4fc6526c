//! Image references with Docker's normalisation (distribution/reference's
//! `ParseNormalizedNamed`): a name without a registry is on `docker.io`, a single-name
//! Docker Hub image is under `library/`, `index.docker.io` is `docker.io`, and a reference
//! with neither tag nor digest means tag `latest`. `python:3.12` and
//! `docker.io/library/python:3.12` are the same image.

use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host (with port), `docker.io` by default.
    pub registry: String,
    /// Repository path in the registry (`library/python`, `team/app`).
    pub path: String,
    /// The tag as written (`None` when absent).
    pub tag: Option<String>,
    /// `sha256:...` when the reference pins a digest.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an image reference: {reason}")]
pub struct ParseError {
    pub input: String,
    pub reason: String,
}

impl ImageRef {
    /// Parse and normalise. `allow_wildcards` lets `*` appear in names and tags (for
    /// catalogue patterns such as `python:*`).
    pub fn parse_with(input: &str, allow_wildcards: bool) -> Result<ImageRef, ParseError> {
        let err = |reason: &str| ParseError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.len() > 4096 {
            return Err(err("it is too long"));
        }
        if input.starts_with('-') {
            return Err(err("it starts with `-`"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains white space"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                let (algo, hex) = d
                    .split_once(':')
                    .ok_or_else(|| err("the digest is not ALGORITHM:HEX"))?;
                let algo_ok = !algo.is_empty()
                    && algo.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c)
                    });
                let hex_ok = hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit());
                if !algo_ok || !hex_ok {
                    return Err(err(
                        "the digest is not ALGORITHM:HEX (e.g. sha256:<64 hex>)",
                    ));
                }
                (r, Some(d.to_owned()))
            }
            None => (input, None),
        };
        // The tag is after the last `:` that comes after the last `/` (a `:` before it is
        // a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_owned()),
            ),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars().enumerate().all(|(i, c)| {
                    c.is_ascii_alphanumeric()
                        || c == '_'
                        || (i > 0 && (c == '.' || c == '-'))
                        || (allow_wildcards && c == '*')
                });
            if !ok {
                return Err(err(
                    "the tag may hold letters, digits, `_`, `.` and `-` (at most 128)",
                ));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            DEFAULT_REGISTRY.to_owned()
        } else {
            registry
        };
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(err("the registry is not a host name with an optional port"));
        }
        if path.is_empty() {
            return Err(err("the repository name is empty"));
        }
        for comp in path.split('/') {
            let ok = !comp.is_empty()
                && comp.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || "._-".contains(c)
                        || (allow_wildcards && c == '*')
                })
                && comp
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || (allow_wildcards && c == '*'));
            if !ok {
                return Err(err(
                    "a repository name is lowercase letters, digits and `.`, `_`, `-` separated by `/`",
                ));
            }
        }
        let path = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(ImageRef {
            registry,
            path,
            tag,
            digest,
        })
    }

    pub fn parse(input: &str) -> Result<ImageRef, ParseError> {
        Self::parse_with(input, false)
    }

    /// `registry/path`, fully qualified (`docker.io/library/python`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The name as people write it: `python`, `team/app`, `ghcr.io/acme/tool`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            self.name()
        }
    }

    /// The tag in effect: the written one, `latest` without tag and digest, else none.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// The fully qualified form with the effective tag: what two references must share
    /// to be the same image (`docker.io/library/python:latest`).
    pub fn canonical(&self) -> String {
        let mut s = self.name();
        if let Some(t) = self.effective_tag() {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The familiar form (`python:3.12`, `ghcr.io/acme/tool@sha256:...`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The same image pinned to `digest` (the tag stays for readers; Docker ignores it).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// The same reference without its digest.
    pub fn without_digest(&self) -> ImageRef {
        ImageRef {
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_normalisation() {
        // #16: the catalogue compares references the way Docker does.
        let r = ImageRef::parse("python").unwrap();
        assert_eq!(r.canonical(), "docker.io/library/python:latest");
        assert_eq!(r.familiar(), "python");
        let r = ImageRef::parse("python:3.11-slim").unwrap();
        assert_eq!(r.canonical(), "docker.io/library/python:3.11-slim");
        assert_eq!(
            ImageRef::parse("docker.io/library/python:3.11-slim").unwrap(),
            r
        );
        assert_eq!(
            ImageRef::parse("index.docker.io/library/python:3.11-slim").unwrap(),
            r
        );
        let r = ImageRef::parse("team/app:1").unwrap();
        assert_eq!(r.canonical(), "docker.io/team/app:1");
        assert_eq!(r.familiar(), "team/app:1");
        let r = ImageRef::parse("127.0.0.1:5055/mirror/python:3.11").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5055");
        assert_eq!(r.path, "mirror/python");
        assert_eq!(r.tag.as_deref(), Some("3.11"));
        let r = ImageRef::parse("localhost/app").unwrap();
        assert_eq!(r.canonical(), "localhost/app:latest");
        let r = ImageRef::parse(&format!("node:20@{D}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.canonical(), format!("docker.io/library/node:20@{D}"));
        let r = ImageRef::parse(&format!("node@{D}")).unwrap();
        assert_eq!(r.effective_tag(), None);
        assert_eq!(r.canonical(), format!("docker.io/library/node@{D}"));
        assert_eq!(
            ImageRef::parse("registry:5000/app").unwrap().registry,
            "registry:5000"
        );
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in [
            "",
            "Python:3",
            "python:",
            "python:-x",
            "a b",
            "--help",
            "python@sha256:xyz",
            "x//y",
            "python:*",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ImageRef::parse_with("python:*", true).is_ok());
        assert!(ImageRef::parse_with("ghcr.io/acme/*", true).is_ok());
    }
}
