//! One image-reference type, with Docker's normalisation (distribution/reference's
//! `ParseNormalizedNamed`): a name without a registry is on `docker.io`, a single-name
//! Docker Hub image is under `library/` (`nginx` is `docker.io/library/nginx`),
//! `index.docker.io` (and `registry-1.docker.io`) is `docker.io`, and a reference with
//! neither tag nor digest means tag `latest`. `python:3.12` and
//! `docker.io/library/python:3.12` are the same image.
//!
//! Every parse, comparison and split of an image reference goes through [`ImageRef`]: the
//! targets (charts want `repository` and `tag` as written), the manifests, the builds'
//! digests, and the catalogue (whose patterns may hold `*`).

use std::fmt;
use std::hash::{Hash, Hasher};

/// The registry of names that do not say one.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference. Equality and hashing are on the normalised parts; the
/// reference as written stays for what lbc shows and hands to tools.
#[derive(Debug, Clone)]
pub struct ImageRef {
    /// Registry host (with port), `docker.io` by default.
    pub registry: String,
    /// Repository path in the registry (`library/python`, `team/app`).
    pub path: String,
    /// The tag as written (`None` when absent).
    pub tag: Option<String>,
    /// `sha256:...` when the reference pins a digest.
    pub digest: Option<String>,
    /// As given.
    written: String,
}

impl PartialEq for ImageRef {
    fn eq(&self, other: &Self) -> bool {
        (&self.registry, &self.path, &self.tag, &self.digest)
            == (&other.registry, &other.path, &other.tag, &other.digest)
    }
}

impl Eq for ImageRef {}

impl Hash for ImageRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (&self.registry, &self.path, &self.tag, &self.digest).hash(state);
    }
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an image reference: {reason}")]
pub struct ParseError {
    pub input: String,
    pub reason: String,
}

impl From<ParseError> for crate::error::Error {
    fn from(e: ParseError) -> Self {
        crate::error::Error::usage(
            e.to_string(),
            Some(
                "write REPOSITORY[:TAG][@DIGEST], e.g. `registry.example.com/team/app:1.2` (lowercase repository)"
                    .to_owned(),
            ),
        )
    }
}

/// Does the first part of a name say a registry (`r.io`, `host:5000`, `localhost`,
/// or an upper-case host as Docker reads it)?
fn names_registry(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

/// Is `s` a content digest, `ALGORITHM:HEX` (`sha256:` and at least 32 hex digits)?
pub fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(algo, hex)| {
        !algo.is_empty()
            && algo
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
            && hex.len() >= 32
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// `NAME[:TAG][@DIGEST]`.
pub fn join(mut name: String, tag: Option<&str>, digest: Option<&str>) -> String {
    if let Some(t) = tag {
        name.push(':');
        name.push_str(t);
    }
    if let Some(d) = digest {
        name.push('@');
        name.push_str(d);
    }
    name
}

/// The name part (no tag, no digest) of a reference as written, and its tag: the tag is
/// after the last `:` that comes after the last `/` (a `:` before it is a registry port).
fn split_tag(rest: &str) -> (&str, Option<&str>) {
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    }
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
                if !d.contains(':') {
                    return Err(err("the digest is not ALGORITHM:HEX"));
                }
                if !is_digest(d) {
                    return Err(err(
                        "the digest is not ALGORITHM:HEX (e.g. sha256:<64 hex>)",
                    ));
                }
                (r, Some(d.to_owned()))
            }
            None => (input, None),
        };
        let (name, tag) = split_tag(rest);
        let tag = tag.map(str::to_owned);
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
            Some((first, rest)) if names_registry(first) => (first.to_owned(), rest.to_owned()),
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
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
        // Each component starts and ends with a letter or digit (Docker's grammar).
        let edge = |c: char| c.is_ascii_alphanumeric() || (allow_wildcards && c == '*');
        for comp in path.split('/') {
            let ok = !comp.is_empty()
                && comp.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || "._-".contains(c)
                        || (allow_wildcards && c == '*')
                })
                && comp.starts_with(edge)
                && comp.ends_with(edge);
            if !ok {
                return Err(err(
                    "a repository name is lowercase letters, digits and `.`, `_`, `-` separated by `/`, each part starting and ending with a letter or digit",
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
            written: input.to_owned(),
        })
    }

    pub fn parse(input: &str) -> Result<ImageRef, ParseError> {
        Self::parse_with(input, false)
    }

    /// The reference as written (what lbc shows and hands to tools).
    pub fn reference(&self) -> &str {
        &self.written
    }

    /// The repository as written: no tag, no digest (a chart's `image.repository`).
    pub fn repository(&self) -> &str {
        let rest = self
            .written
            .split_once('@')
            .map_or(&*self.written, |(r, _)| r);
        split_tag(rest).0
    }

    /// The tag for a chart's `image.tag`: `TAG`, `TAG@DIGEST`, `@DIGEST` or empty.
    pub fn chart_tag(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => format!("{t}@{d}"),
            (None, Some(d)) => format!("@{d}"),
            (Some(t), None) => t.clone(),
            (None, None) => String::new(),
        }
    }

    /// The registry host of a repository as written in lbc.toml (`docker.io` for Docker
    /// Hub names): where lbc logs in.
    pub fn registry_of(repository: &str) -> String {
        ImageRef::parse(repository.trim())
            .map(|r| r.registry)
            .unwrap_or_else(|_| DEFAULT_REGISTRY.to_owned())
    }

    /// In `repository` (as written in lbc.toml), once both are normalised.
    pub fn is_in(&self, repository: &str) -> bool {
        ImageRef::parse(repository.trim()).is_ok_and(|r| r.name() == self.name())
    }

    /// Same image: same digest when both have one, else the same name, tag and digest.
    pub fn same_as(&self, other: &ImageRef) -> bool {
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
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
        join(self.name(), self.effective_tag(), self.digest.as_deref())
    }

    /// The fully qualified form with the tag as written (`docker.io/library/python`).
    pub fn qualified(&self) -> String {
        join(self.name(), self.tag.as_deref(), self.digest.as_deref())
    }

    /// The familiar form (`python:3.12`, `ghcr.io/acme/tool@sha256:...`).
    pub fn familiar(&self) -> String {
        join(
            self.familiar_name(),
            self.tag.as_deref(),
            self.digest.as_deref(),
        )
    }

    /// The same image pinned to `digest` (the tag stays for readers; Docker ignores it).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        let written = match &self.digest {
            Some(_) => format!(
                "{}@{digest}",
                self.written.split_once('@').map_or("", |(r, _)| r)
            ),
            None => format!("{}@{digest}", self.written),
        };
        ImageRef {
            digest: Some(digest.to_owned()),
            written,
            ..self.clone()
        }
    }

    /// The same reference without its digest.
    pub fn without_digest(&self) -> ImageRef {
        ImageRef {
            digest: None,
            written: self
                .written
                .split_once('@')
                .map_or(&*self.written, |(r, _)| r)
                .to_owned(),
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
            "team/app-",
            "team/.app",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ImageRef::parse_with("python:*", true).is_ok());
        assert!(ImageRef::parse_with("ghcr.io/acme/*", true).is_ok());
        // #8: the lock file's digests are checked by the same rule.
        assert!(is_digest(D));
        assert!(!is_digest("sha256:ff") && !is_digest("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn image_references_split_for_charts() {
        // #8: charts get the repository as written and `TAG`, `TAG@DIGEST` or `@DIGEST`.
        let r = ImageRef::parse("127.0.0.1:5055/team/hello:abc123").unwrap();
        assert_eq!(
            (r.repository(), r.chart_tag().as_str(), r.digest.clone()),
            ("127.0.0.1:5055/team/hello", "abc123", None)
        );
        let r = ImageRef::parse(&format!("r.io/x:1.0@{D}")).unwrap();
        assert_eq!(
            (r.repository(), r.chart_tag(), r.digest.as_deref()),
            ("r.io/x", format!("1.0@{D}"), Some(D))
        );
        let r = ImageRef::parse("localhost:5000/x").unwrap();
        assert_eq!(
            (r.repository(), r.chart_tag().as_str()),
            ("localhost:5000/x", "")
        );
        let r = ImageRef::parse(&format!("x@{D}")).unwrap();
        assert_eq!((r.repository(), r.chart_tag()), ("x", format!("@{D}")));
        assert_eq!(r.reference(), format!("x@{D}"));
        assert!(ImageRef::parse(&format!("a/x:1@{D}"))
            .unwrap()
            .same_as(&ImageRef::parse(&format!("a/x:2@{D}")).unwrap()));
        assert!(!ImageRef::parse("a/x:1")
            .unwrap()
            .same_as(&ImageRef::parse(&format!("a/x:1@{D}")).unwrap()));
    }

    fn name(s: &str) -> String {
        ImageRef::parse(s).unwrap().name()
    }

    /// #8: one normalisation of short names, as Docker does it.
    #[test]
    fn short_names_normalise_like_docker() {
        assert_eq!(name("nginx"), "docker.io/library/nginx");
        assert_eq!(name("team/app"), "docker.io/team/app");
        assert_eq!(name("docker.io/library/nginx"), "docker.io/library/nginx");
        assert_eq!(name("index.docker.io/nginx"), "docker.io/library/nginx");
        assert_eq!(
            name("registry-1.docker.io/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(name("localhost/app"), "localhost/app");
        assert_eq!(name("127.0.0.1:5055/app"), "127.0.0.1:5055/app");
        let nginx = ImageRef::parse("nginx:1").unwrap();
        assert!(nginx.is_in("docker.io/library/nginx"));
        assert!(!nginx.is_in("docker.io/team/nginx"));
        assert!(nginx.same_as(&ImageRef::parse("docker.io/library/nginx:1").unwrap()));
        assert_eq!(nginx.repository(), "nginx");
        assert_eq!(ImageRef::parse("team/app").unwrap().registry, "docker.io");
        assert_eq!(
            ImageRef::parse("r.io:443/app").unwrap().registry,
            "r.io:443"
        );
    }
}
