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

/// A value for `--set-string KEY=VALUE`: helm splits on `,` and reads `\` as an escape,
/// so `a = "x,b=y"` would also set `b` (issue #9). Escaped, the value arrives whole.
pub fn set_string_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    fn set_string_values_are_escaped_issue_9() {
        assert_eq!(super::set_string_value("x,b=y"), "x\\,b=y");
        assert_eq!(super::set_string_value("a\\b"), "a\\\\b");
        assert_eq!(super::set_string_value("plain"), "plain");
    }

    #[test]
    fn parses_major() {
        assert_eq!(super::major_version("v4.1.4+g05fa379\n"), Some(4));
        assert_eq!(super::major_version("v3.14.0+gabc"), Some(3));
        assert_eq!(super::major_version("garbage"), None);
    }
}
