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
    // Only transports that move data: a template source (from a flag or from a
    // repository's .lbc/template.toml) naming `ext::` would run a command (issue #9).
    .env(crate::plan::EnvVar::plain(
        "GIT_ALLOW_PROTOCOL",
        "https:http:ssh:git:file",
    ))
    .stdin(crate::plan::Stdin::Null)
    .progress()
}

/// git run in one repository (`git -C DIR`), with the environment every command of it
/// gets (credentials by environment, never in argv; no prompt).
#[derive(Debug, Clone)]
pub struct Git {
    pub dir: std::path::PathBuf,
    pub env: Vec<crate::plan::EnvVar>,
}

impl Git {
    /// `dir` need not exist yet (for `clone`); `token` is `(user, token)` for HTTPS.
    pub fn new(dir: &Path, token: Option<(&str, &str)>) -> Self {
        use crate::plan::EnvVar;
        let mut env = vec![
            EnvVar::plain("GIT_TERMINAL_PROMPT", "0"),
            // Never the user's editor or pager.
            EnvVar::plain("GIT_EDITOR", "true"),
            EnvVar::plain("GIT_PAGER", "cat"),
        ];
        if let Some((user, token)) = token {
            crate::ui::register_secret(token);
            let basic = base64_encode(format!("{user}:{token}").as_bytes());
            crate::ui::register_secret(&basic);
            // git's configuration by environment: nothing in argv, nothing on disk.
            env.push(EnvVar::plain("GIT_CONFIG_COUNT", "1"));
            env.push(EnvVar::plain("GIT_CONFIG_KEY_0", "http.extraHeader"));
            env.push(EnvVar::secret(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {basic}"),
            ));
        }
        Git {
            dir: dir.to_owned(),
            env,
        }
    }

    fn cmd(&self, sub: &[&str], flags: &[&str], args: &[String], cwd: &Path) -> crate::plan::Exec {
        let flags = flags.iter().map(|f| (*f).to_owned()).collect();
        crate::plan::Exec::new(
            super::argv("git", sub, flags, args, super::Dash::Always),
            cwd,
        )
        .envs(self.env.clone())
        .stdin(crate::plan::Stdin::Null)
        .progress()
    }

    /// `git clone --quiet --no-checkout -- URL DIR`.
    pub fn clone_into(&self, url: &str) -> crate::plan::Exec {
        let parent = self.dir.parent().unwrap_or(Path::new("/"));
        self.cmd(
            &["clone"],
            &["--quiet", "--no-checkout"],
            &[url.to_owned(), self.dir.display().to_string()],
            parent,
        )
    }

    /// `git fetch --quiet origin -- +refs/heads/B:refs/remotes/origin/B`.
    pub fn fetch(&self, branch: &str) -> crate::plan::Exec {
        self.cmd(
            &["fetch"],
            &["--quiet", "--no-tags"],
            &[
                "origin".into(),
                format!("+{}:{}", head_ref(branch), remote_ref(branch)),
            ],
            &self.dir,
        )
    }

    /// `git checkout --force --detach REF`: the work tree at the fetched branch.
    pub fn checkout(&self, branch: &str) -> crate::plan::Exec {
        // `checkout -- X` would take X as a path: the ref is lbc's own `refs/remotes/...`.
        let mut e = self.cmd(
            &["checkout"],
            &["--quiet", "--force", "--detach"],
            &[],
            &self.dir,
        );
        e.argv.push(remote_ref(branch));
        e
    }

    /// `git clean -ffdx`: nothing left of an interrupted run.
    pub fn clean(&self) -> crate::plan::Exec {
        self.cmd(&["clean"], &["--quiet", "-ffdx"], &[], &self.dir)
    }

    /// `git add --all -- PATH`.
    pub fn add(&self, path: &str) -> crate::plan::Exec {
        self.cmd(&["add"], &["--all"], &[path.to_owned()], &self.dir)
    }

    /// `git commit --quiet --file=-`: the message on stdin.
    pub fn commit(&self, message: &str, identity: &[(&str, &str)]) -> crate::plan::Exec {
        let mut e = self
            .cmd(
                &["commit"],
                &["--quiet", "--no-verify", "--file=-"],
                &[],
                &self.dir,
            )
            .stdin(crate::plan::Stdin::Data(message.to_owned()));
        for (k, v) in identity {
            e = e.env(crate::plan::EnvVar::plain(*k, *v));
        }
        e
    }

    /// `git push --quiet origin -- HEAD:refs/heads/B`: never forced.
    pub fn push(&self, branch: &str) -> crate::plan::Exec {
        self.cmd(
            &["push"],
            &["--quiet", "--porcelain"],
            &["origin".into(), format!("HEAD:{}", head_ref(branch))],
            &self.dir,
        )
    }

    /// `git config --get user.email`: whether commits have an author.
    pub fn user_email(&self) -> crate::plan::Exec {
        self.cmd(&["config"], &["--get"], &["user.email".into()], &self.dir)
    }
}

pub fn head_ref(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

pub fn remote_ref(branch: &str) -> String {
    format!("refs/remotes/origin/{branch}")
}

/// Standard base64 (for an HTTP Basic header).
pub fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

    /// #13: the token never reaches argv; it goes to git as configuration by environment.
    #[test]
    fn token_goes_by_environment_never_argv() {
        assert_eq!(
            base64_encode(b"x-access-token:s3cret"),
            "eC1hY2Nlc3MtdG9rZW46czNjcmV0"
        );
        assert_eq!(base64_encode(b"ab"), "YWI=");
        let g = Git::new(Path::new("/tmp/x"), Some(("x-access-token", "s3cret")));
        let e = g.push("main");
        assert_eq!(
            e.argv,
            [
                "git",
                "push",
                "--quiet",
                "--porcelain",
                "--",
                "origin",
                "HEAD:refs/heads/main"
            ]
        );
        assert!(!e.display().contains("s3cret"));
        let header = e
            .env
            .iter()
            .find(|v| v.name == "GIT_CONFIG_VALUE_0")
            .unwrap();
        assert!(header.secret && header.value.is_none());
        assert_eq!(
            header.real_value(),
            "Authorization: Basic eC1hY2Nlc3MtdG9rZW46czNjcmV0"
        );
        assert!(!serde_json::to_string(&e).unwrap().contains("czNjcmV0"));
    }

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
