//! Versions ordered as semver orders them everywhere (`v1.10.0` above `v1.9.0`), for
//! templates' release tags and the built-in stacks' releases.

use std::cmp::Ordering;

/// `1.2.3` or `v1.2.3` as a semver version.
pub fn parse(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// Semver order; names that are not versions sort before every version, by name.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Sort in semver order.
pub fn sort<S: AsRef<str>>(versions: &mut [S]) {
    versions.sort_by(|a, b| compare(a.as_ref(), b.as_ref()));
}

/// The newest release (`vX.Y.Z` without a pre-release part) among tags.
pub fn newest_release<I: IntoIterator<Item = String>>(tags: I) -> Option<String> {
    tags.into_iter()
        .filter_map(|t| parse(&t).filter(|v| v.pre.is_empty()).map(|v| (v, t)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #8: one order, semver's: v1.10.0 is above v1.9.0.
    #[test]
    fn semver_order() {
        let mut v = vec!["v1.10.0", "v1.9.0", "1.2.0", "main"];
        sort(&mut v);
        assert_eq!(v, ["main", "1.2.0", "v1.9.0", "v1.10.0"]);
        assert_eq!(
            newest_release(["v1.9.0", "v1.10.0", "v2.0.0-rc.1", "x"].map(String::from)),
            Some("v1.10.0".into())
        );
    }
}
