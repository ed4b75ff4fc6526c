//! The built-in stack templates, embedded in the binary by `build.rs`, which assembles
//! each from `templates/_shared/` (chart, CI pipelines) and `templates/<stack>/` (its own
//! files, which replace shared ones of the same path). They use exactly the public
//! template format. Earlier releases of a stack are frozen, complete, in
//! `templates/.releases/<stack>/<version>/`: when a stack's version is bumped, its
//! previous version is copied there first, so that the exact bytes a repository was
//! generated from can always be rendered again.

include!(concat!(env!("OUT_DIR"), "/stacks.rs"));

/// The prefix of the templates `lbc init --adopt` writes an existing repository's
/// Dockerfile, chart and pipelines from (`templates/_dockerfiles/FAMILY`).
pub const ADOPT_PREFIX: &str = "adopt-";

/// The names of the built-in stacks of `lbc init --stack`, sorted.
pub fn names() -> Vec<&'static str> {
    STACKS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !n.starts_with(ADOPT_PREFIX))
        .collect()
}

/// The adoption template of a stack family (`adopt-python`), when lbc has one.
pub fn adopt_template(stack: &str) -> Option<String> {
    let name = format!("{ADOPT_PREFIX}{stack}");
    STACKS.iter().any(|(n, _)| *n == name).then_some(name)
}

/// The files of one built-in stack: (path, content, executable).
pub fn files(stack: &str) -> Option<&'static [EmbeddedFile]> {
    STACKS.iter().find(|(n, _)| *n == stack).map(|(_, f)| *f)
}

/// The files of an earlier release of a stack, if this binary carries it.
pub fn release_files(stack: &str, version: &str) -> Option<&'static [EmbeddedFile]> {
    RELEASES
        .iter()
        .find(|(s, v, _)| *s == stack && *v == version)
        .map(|(_, _, f)| *f)
}

/// The earlier releases of `stack` this binary can render, oldest first (semver order).
pub fn versions(stack: &str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = RELEASES
        .iter()
        .filter(|(s, _, _)| *s == stack)
        .map(|(_, v, _)| *v)
        .collect();
    crate::versions::sort(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file<'a>(files: &'a [EmbeddedFile], path: &str) -> Option<&'a [u8]> {
        files
            .iter()
            .find(|(p, _, _)| *p == path)
            .map(|(_, b, _)| *b)
    }

    /// Issue #11: the Dockerfiles of `lbc init` and of `lbc init --adopt` come from one
    /// source. python, node, go and rust embed their family's Dockerfile.jinja and
    /// .dockerignore byte for byte, and no Dockerfile of their own.
    #[test]
    fn the_stacks_embed_their_familys_dockerfile() {
        for stack in ["python", "node", "go", "rust"] {
            let own = files(stack).unwrap();
            let family = files(&format!("{ADOPT_PREFIX}{stack}")).unwrap();
            for path in ["Dockerfile.jinja", ".dockerignore"] {
                assert_eq!(
                    file(own, path),
                    file(family, path),
                    "{stack}: {path} is not its family's"
                );
                assert!(file(own, path).is_some(), "{stack}: no {path}");
            }
            assert!(
                file(own, "Dockerfile").is_none(),
                "{stack}: its own Dockerfile"
            );
            assert_ne!(
                file(own, "template.toml"),
                file(family, "template.toml"),
                "{stack}: the family's template.toml"
            );
        }
        // java and php keep their own (build.rs, OWN_DOCKERFILE).
        assert!(file(files("java").unwrap(), "Dockerfile.jinja").is_some());
        assert!(file(files("php").unwrap(), "Dockerfile").is_some());
    }
}
