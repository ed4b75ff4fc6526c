//! Git state read with git2 (no subprocess): the commit an image is tagged with, whether
//! the tree is dirty and a stable hash of those changes, the version tag at HEAD.

use std::path::Path;

use sha2::{Digest, Sha256};

/// What lbc needs to know about the repository holding the project.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GitState {
    /// Full SHA of HEAD.
    pub sha: String,
    /// 8 hex characters of a hash of the uncommitted changes, when the tree is dirty.
    pub dirty: Option<String>,
    /// `X.Y.Z` when HEAD is exactly at tag `vX.Y.Z` and the tree is clean.
    pub version: Option<String>,
    /// Commit time of HEAD (seconds since the epoch).
    pub commit_time: i64,
    /// The `origin` remote without credentials.
    pub source: Option<String>,
}

impl GitState {
    /// The image tag: 12 characters of the commit, plus `-dirty-<hash>` for a dirty tree.
    pub fn tag(&self) -> String {
        let short = &self.sha[..12.min(self.sha.len())];
        match &self.dirty {
            Some(h) => format!("{short}-dirty-{h}"),
            None => short.to_owned(),
        }
    }
}

/// Paths lbc itself writes and that must not make the tree dirty.
const LBC_STATE: &str = ".lbc/state/";

/// Read the git state of the repository containing `dir`; `None` outside a repository
/// or before the first commit.
pub fn inspect(dir: &Path) -> Option<GitState> {
    inspect_with(dir, true)
}

/// Only what the image tag needs (commit and dirtiness), not the version tag at HEAD
/// nor the remote: what tasks get as `LBC_TAG`, on every run of a task.
pub fn inspect_tag(dir: &Path) -> Option<GitState> {
    inspect_with(dir, false)
}

fn inspect_with(dir: &Path, full: bool) -> Option<GitState> {
    let repo = git2::Repository::discover(dir).ok()?;
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    let sha = head.id().to_string();
    let dirty = dirty_hash(&repo);
    let version = if dirty.is_none() && full {
        version_at(&repo, head.id())
    } else {
        None
    };
    let source = if full {
        repo.find_remote("origin")
            .ok()
            .and_then(|r| r.url().map(strip_credentials))
    } else {
        None
    };
    Some(GitState {
        sha,
        dirty,
        version,
        commit_time: head.time().seconds(),
        source,
    })
}

/// Whether the working tree has changes (tracked or untracked, not ignored).
pub fn is_dirty(dir: &Path) -> bool {
    git2::Repository::discover(dir)
        .ok()
        .is_some_and(|r| dirty_hash(&r).is_some())
}

fn dirty_hash(repo: &git2::Repository) -> Option<String> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts)).ok()?;
    let workdir = repo.workdir()?;
    let mut entries: Vec<(String, u32)> = statuses
        .iter()
        .filter(|e| e.status() != git2::Status::CURRENT && !e.status().is_ignored())
        .filter_map(|e| Some((e.path()?.to_owned(), e.status().bits())))
        .filter(|(p, _)| !p.starts_with(LBC_STATE))
        .collect();
    if entries.is_empty() {
        return None;
    }
    entries.sort();
    let mut h = Sha256::new();
    for (path, bits) in entries {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(bits.to_le_bytes());
        match std::fs::read(workdir.join(&path)) {
            Ok(bytes) => {
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            Err(_) => h.update(b"\xffdeleted"),
        }
    }
    Some(hex(&h.finalize())[..8].to_owned())
}

fn version_at(repo: &git2::Repository, head: git2::Oid) -> Option<String> {
    let names = repo.tag_names(Some("v*")).ok()?;
    let mut found: Vec<String> = names
        .iter()
        .flatten()
        .filter_map(|name| {
            let obj = repo.revparse_single(&format!("refs/tags/{name}")).ok()?;
            let commit = obj.peel_to_commit().ok()?;
            (commit.id() == head).then(|| name.to_owned())
        })
        .filter_map(|name| {
            let v = name.strip_prefix('v')?;
            let core = v.split(['-', '+']).next()?;
            let parts: Vec<&str> = core.split('.').collect();
            (parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
            .then(|| v.to_owned())
        })
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
        .collect();
    found.sort();
    found.pop()
}

/// `https://user:token@host/x` -> `https://host/x`; scp-like URLs are kept.
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority);
        if path.is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        }
    } else {
        url.to_owned()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// `git --version`.
pub fn version(cwd: &Path) -> crate::plan::Exec {
    crate::plan::Exec::new(["git", "--version"], cwd)
}

/// `git clone --bare --quiet -- SOURCE DEST`: the source can never be an option.
pub fn clone_bare(source: &str, dest: &Path, cwd: &Path) -> crate::plan::Exec {
    crate::plan::Exec::new(
        [
            "git".to_owned(),
            "clone".into(),
            "--bare".into(),
            "--quiet".into(),
            "--".into(),
            source.to_owned(),
            dest.display().to_string(),
        ],
        cwd,
    )
    .stdin(crate::plan::Stdin::Null)
    .progress()
}

/// ` (tags: v1, v2)`: the repository's tags, for a hint when a reference is not found
/// (empty without tags).
pub fn tag_list(repo: &git2::Repository) -> String {
    let tags: Vec<String> = repo
        .tag_names(None)
        .ok()
        .map(|t| t.iter().flatten().map(str::to_owned).collect())
        .unwrap_or_default();
    if tags.is_empty() {
        String::new()
    } else {
        format!(" (tags: {})", tags.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://bob:s3cret@git.example.com/team/x.git"),
            "https://git.example.com/team/x.git"
        );
        assert_eq!(
            strip_credentials("git@host:team/x.git"),
            "git@host:team/x.git"
        );
    }
}
