//! kubectl: argument lists and output parsing.

use std::path::Path;

use crate::plan::Exec;

pub fn exec<I, S>(kubectl: &str, args: I, cwd: &Path) -> Exec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv = vec![kubectl.to_owned()];
    argv.extend(args.into_iter().map(Into::into));
    Exec::new(argv, cwd).progress()
}

/// `kubectl version --client -o json` -> `v1.35.0`.
pub fn client_version(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("clientVersion")?
        .get("gitVersion")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_client_version() {
        let json = r#"{"clientVersion":{"major":"1","minor":"35","gitVersion":"v1.35.0"}}"#;
        assert_eq!(super::client_version(json).as_deref(), Some("v1.35.0"));
    }
}
