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
