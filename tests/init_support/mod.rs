//! Helpers of the `lbc init` tests (issue #3): generating a stack into a temporary
//! directory, reading a generated tree, and finding the real tools the tests drive
//! (helm, check-jsonschema) with the same rule as `support::docker_env`: where the test
//! environment is expected (`CI` or `LBC_TEST_ENV`), a missing tool fails the test; on a
//! laptop without it, the test is skipped with one line.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Lbc, Project};

pub const STACKS: &[&str] = &["go", "java", "node", "php", "python", "rust", "static"];

/// Is the test environment expected here?
pub fn expected() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("LBC_TEST_ENV").is_some()
}

fn test_env_dir() -> Option<PathBuf> {
    std::env::var_os("LBC_TEST_ENV_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lbc-test-env")))
}

/// A tool: the variable that names it, then the test environment's copy, then PATH.
fn find_tool(var: &str, in_env_dir: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    if let Some(p) = test_env_dir()
        .map(|d| d.join(in_env_dir))
        .filter(|p| p.is_file())
    {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn missing(test: &str, what: &str) -> Option<PathBuf> {
    if expected() {
        panic!("{test}: the test environment is expected here but {what} is missing; run `bash scripts/test-env.sh`");
    }
    eprintln!("skipped {test}: needs {what} (run `bash scripts/test-env.sh` to provision it)");
    None
}

/// helm (v3 or v4): `LBC_TEST_HELM`, the test environment's, or PATH.
pub fn helm(test: &str) -> Option<PathBuf> {
    find_tool("LBC_TEST_HELM", "bin/helm", "helm").or_else(|| missing(test, "helm (LBC_TEST_HELM)"))
}

/// check-jsonschema (PyPI): `LBC_TEST_CHECK_JSONSCHEMA`, the test environment's venv, or PATH.
pub fn check_jsonschema(test: &str) -> Option<PathBuf> {
    find_tool(
        "LBC_TEST_CHECK_JSONSCHEMA",
        "ci-venv/bin/check-jsonschema",
        "check-jsonschema",
    )
    .or_else(|| {
        missing(
            test,
            "check-jsonschema (LBC_TEST_CHECK_JSONSCHEMA, from PyPI)",
        )
    })
}

/// `lbc init DIR --stack STACK --yes` plus `extra`, in `parent`; returns the directory.
pub fn init(parent: &Project, dir: &str, stack: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["init", dir, "--stack", stack, "--yes"];
    args.extend_from_slice(extra);
    parent.lbc().args(&args).run().success();
    parent.path().join(dir)
}

pub fn lbc_in(dir: &Path) -> Lbc {
    Lbc::new().current_dir(dir)
}

/// Every file under `dir`: relative path -> (bytes, mode bits, or the link target).
pub fn tree(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::PermissionsExt;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(
                    rel,
                    (target.to_string_lossy().as_bytes().to_vec(), 0o120000),
                );
            } else if meta.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    rel,
                    (
                        std::fs::read(&p).unwrap(),
                        meta.permissions().mode() & 0o7777,
                    ),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The paths of `tree`, for messages.
pub fn paths(t: &BTreeMap<String, (Vec<u8>, u32)>) -> Vec<String> {
    t.keys().cloned().collect()
}

/// The repository's own `templates/` directory.
pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}
