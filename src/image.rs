//! One image-reference type, with Docker's normalisation: a name without a registry is
//! on `docker.io`, and a one-part Docker Hub name is under `library/` (`nginx` is
//! `docker.io/library/nginx`). Every comparison of repositories goes through it.

use serde::Serialize;

/// The registry of names that do not say one.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// An image reference as written, split the way charts want it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// As given.
    pub reference: String,
    /// The repository as written (no tag, no digest).
    pub repository: String,
    /// The tag for a chart's `image.tag`: `TAG`, `TAG@DIGEST`, `@DIGEST` or empty.
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> ImageRef {
        let (name, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (reference, None),
        };
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
            None => (name, ""),
        };
        let tag = match (&digest, tag) {
            (Some(d), "") => format!("@{d}"),
            (Some(d), t) => format!("{t}@{d}"),
            (None, t) => t.to_owned(),
        };
        ImageRef {
            reference: reference.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        }
    }
    /// The registry host (`docker.io` for Docker Hub names).
    pub fn registry(&self) -> String {
        registry_host(&self.repository)
    }
    /// `docker.io/library/nginx` for `nginx`.
    pub fn normalized_repository(&self) -> String {
        normalize_repository(&self.repository)
    }
    /// The same repository, once both are normalised.
    pub fn is_in(&self, repository: &str) -> bool {
        self.normalized_repository() == normalize_repository(repository)
    }
    /// Same image: same digest when both have one, else the same normalised repository
    /// and tag.
    pub fn same_as(&self, other: &ImageRef) -> bool {
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            _ => {
                self.normalized_repository() == other.normalized_repository()
                    && self.tag == other.tag
            }
        }
    }
}

/// Does the first part of a name say a registry (`r.io`, `host:5000`, `localhost`)?
fn names_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// The registry host of a repository (`docker.io` for Docker Hub names).
pub fn registry_host(repository: &str) -> String {
    match repository.split_once('/') {
        Some((h, _)) if names_registry(h) => h.to_owned(),
        _ => DEFAULT_REGISTRY.to_owned(),
    }
}

/// Docker's normal form of a repository: registry, and `library/` for one-part Docker
/// Hub names.
pub fn normalize_repository(repository: &str) -> String {
    let repository = repository.trim();
    let (registry, path) = match repository.split_once('/') {
        Some((h, rest)) if names_registry(h) => (h, rest.to_owned()),
        _ => (DEFAULT_REGISTRY, repository.to_owned()),
    };
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        DEFAULT_REGISTRY
    } else {
        registry
    };
    let path = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    format!("{registry}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_for_charts() {
        let r = ImageRef::parse("127.0.0.1:5055/team/hello:abc123");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str(), r.digest),
            ("127.0.0.1:5055/team/hello", "abc123", None)
        );
        let r = ImageRef::parse("r.io/x:1.0@sha256:ff");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str(), r.digest.as_deref()),
            ("r.io/x", "1.0@sha256:ff", Some("sha256:ff"))
        );
        let r = ImageRef::parse("localhost:5000/x");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str()),
            ("localhost:5000/x", "")
        );
        assert!(ImageRef::parse("a/x:1@sha256:aa").same_as(&ImageRef::parse("a/x:2@sha256:aa")));
    }

    /// #8: one normalisation of short names, as Docker does it.
    #[test]
    fn short_names_normalise_like_docker() {
        assert_eq!(normalize_repository("nginx"), "docker.io/library/nginx");
        assert_eq!(normalize_repository("team/app"), "docker.io/team/app");
        assert_eq!(
            normalize_repository("docker.io/library/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(
            normalize_repository("index.docker.io/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(normalize_repository("localhost/app"), "localhost/app");
        assert_eq!(
            normalize_repository("127.0.0.1:5055/app"),
            "127.0.0.1:5055/app"
        );
        assert!(ImageRef::parse("nginx:1").is_in("docker.io/library/nginx"));
        assert!(ImageRef::parse("nginx:1").same_as(&ImageRef::parse("docker.io/library/nginx:1")));
        assert_eq!(registry_host("team/app"), "docker.io");
        assert_eq!(registry_host("r.io:443/app"), "r.io:443");
    }
}
