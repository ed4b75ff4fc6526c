//! helm: argument lists and output parsing.

use std::path::Path;

use crate::plan::Exec;

pub fn exec<I, S>(helm: &str, args: I, cwd: &Path) -> Exec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv = vec![helm.to_owned()];
    argv.extend(args.into_iter().map(Into::into));
    Exec::new(argv, cwd).progress()
}

/// `helm version --short` prints `v4.1.4+g...`; returns the major version.
pub fn major_version(short: &str) -> Option<u32> {
    short
        .trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_major() {
        assert_eq!(super::major_version("v4.1.4+g05fa379\n"), Some(4));
        assert_eq!(super::major_version("v3.14.0+gabc"), Some(3));
        assert_eq!(super::major_version("garbage"), None);
    }
}
