//! The cache of remote repositories: one bare clone per URL, under
//! `$LBC_FLEET_CACHE`, `cache` of fleet.toml, `$XDG_CACHE_HOME/lbc/fleet` or
//! `~/.cache/lbc/fleet`. A clone's branches mirror the remote's after each fetch (pruned),
//! so lbc's own proposal branches never linger there once the remote lost them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::plan::Exec;
use crate::tools::git_cli;

/// Where the cache lives, by precedence: the flag/variable, fleet.toml, XDG, home.
pub fn root(flag: Option<&Path>, manifest: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = flag.or(manifest) {
        return Ok(p.to_owned());
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        let x = PathBuf::from(x);
        if x.is_absolute() {
            return Ok(x.join("lbc/fleet"));
        }
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cache/lbc/fleet")),
        None => Err(Error::usage(
            "no cache directory for remote repositories: neither XDG_CACHE_HOME nor HOME is set",
            Some("pass --cache DIR (or set LBC_FLEET_CACHE)".to_owned()),
        )),
    }
}

/// The cache entry of a URL: readable, and unique per URL (credentials left out).
pub fn entry(root: &Path, kind: &str, url: &str) -> PathBuf {
    let clean = crate::tools::git::strip_credentials(url);
    let hash = crate::tools::git::hex(&Sha256::digest(clean.as_bytes()));
    let last = clean
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git");
    let slug: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    root.join(kind).join(format!("{slug}-{}.git", &hash[..12]))
}

/// The command that brings a cache entry up to date: a bare clone the first time, a
/// pruning fetch afterwards.
pub fn sync(root: &Path, dest: &Path, url: &str, tags: bool) -> Exec {
    if dest.join("HEAD").is_file() {
        git_cli::fetch_mirror(dest, tags)
    } else {
        git_cli::clone_bare(url, dest, root)
    }
}

/// Run [`sync`]: on failure, the first line of git's error (credentials stripped).
pub fn run_sync(
    runner: &crate::runner::Runner,
    root: &Path,
    dest: &Path,
    url: &str,
    tags: bool,
) -> Result<(), String> {
    if let Some(parent) = dest.parent() {
        fs_err::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let fresh = !dest.join("HEAD").is_file();
    let exec = sync(root, dest, url, tags);
    let mut out = runner.query(&exec).map_err(|e| e.to_string())?;
    if !out.ok() && !fresh {
        // A worktree left by an interrupted `fleet upgrade` holds a branch the fetch would
        // prune: forget it, and try once more.
        let pruned = runner.query(&git_cli::worktree_prune(dest));
        if pruned.is_ok_and(|p| p.ok()) {
            out = runner.query(&exec).map_err(|e| e.to_string())?;
        }
    }
    if out.ok() {
        return Ok(());
    }
    if fresh {
        // A failed clone leaves nothing behind, or a partial directory: never a cache entry.
        let _ = fs_err::remove_dir_all(dest);
    }
    let why = out
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("git failed without a message")
        .to_owned();
    let why = match url.split_once("://") {
        Some(_) => why.replace(url, &crate::tools::git::strip_credentials(url)),
        None => why,
    };
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_stable_and_leave_credentials_out() {
        let a = entry(
            Path::new("/c"),
            "repos",
            "https://bob:tok@git.example.com/team/orders.git",
        );
        let b = entry(
            Path::new("/c"),
            "repos",
            "https://git.example.com/team/orders.git",
        );
        assert_eq!(a, b);
        assert!(
            a.display().to_string().starts_with("/c/repos/orders-"),
            "{}",
            a.display()
        );
        assert!(!a.display().to_string().contains("tok"));
    }
}
