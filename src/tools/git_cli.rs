//! git command lines for the work lbc does on other repositories (`lbc fleet`): clone and
//! fetch into a cache, a worktree per proposal, commit, push. Argument lists only; the
//! runner runs them. Every value that could be read as an option comes after `--` or is
//! checked first ([`check_ref_name`]).

use std::path::Path;

use crate::plan::{Exec, Stdin};

fn git<I, S>(args: I, cwd: &Path) -> Exec
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut argv = vec!["git".to_owned()];
    argv.extend(args.into_iter().map(Into::into));
    // Never wait for a password on a terminal: a repository that needs credentials the
    // user's helpers do not have is reported as unreachable.
    Exec::new(argv, cwd)
        .env(crate::plan::EnvVar::plain("GIT_TERMINAL_PROMPT", "0"))
        .stdin(Stdin::Null)
        .progress()
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// A branch name lbc creates or reads from a configuration file: what `git check-ref-format
/// --branch` accepts, and never something an option parser could take for a flag.
pub fn check_ref_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c));
    if bad {
        Err(format!("`{name}` is not a valid git branch name"))
    } else {
        Ok(())
    }
}

/// `git clone --bare URL DEST`: a new cache entry (the remote's default branch becomes HEAD).
pub fn clone_bare(url: &str, dest: &Path, cwd: &Path) -> Exec {
    git(
        [
            "clone".to_owned(),
            "--bare".into(),
            "--quiet".into(),
            "--".into(),
            url.to_owned(),
            path_arg(dest),
        ],
        cwd,
    )
}

/// Bring a bare cache up to date: every branch as the remote has it (pruned), and its tags.
pub fn fetch_mirror(repo: &Path, tags: bool) -> Exec {
    // No automatic maintenance after each fetch: it is one more git process per
    // repository and doubled the time of a fleet with nothing new (docs/performance.md).
    let mut args = vec![
        "-c".to_owned(),
        "maintenance.auto=false".into(),
        "-c".into(),
        "gc.auto=0".into(),
        "fetch".into(),
        "--quiet".into(),
        "--prune".into(),
        "--no-write-fetch-head".into(),
    ];
    if tags {
        args.extend(["--tags".into(), "--prune-tags".into()]);
    } else {
        args.push("--no-tags".into());
    }
    args.extend(["origin".into(), "+refs/heads/*:refs/heads/*".into()]);
    git(args, repo)
}

/// A new worktree at `path` on a new branch `branch` starting at `start`.
pub fn worktree_add(repo: &Path, path: &Path, branch: &str, start: &str) -> Exec {
    git(
        [
            "worktree".to_owned(),
            "add".into(),
            "--quiet".into(),
            "-b".into(),
            branch.to_owned(),
            "--".into(),
            path_arg(path),
            start.to_owned(),
        ],
        repo,
    )
}

/// Remove a worktree lbc made (its branch stays).
pub fn worktree_remove(repo: &Path, path: &Path) -> Exec {
    git(
        [
            "worktree".to_owned(),
            "remove".into(),
            "--force".into(),
            "--".into(),
            path_arg(path),
        ],
        repo,
    )
}

/// Forget worktrees whose directory is gone (an interrupted proposal): their branch is
/// checked out there as far as git knows, and a fetch would refuse to prune it.
pub fn worktree_prune(repo: &Path) -> Exec {
    git(["worktree", "prune"], repo)
}

/// Stage everything in a worktree (conflicted files included, markers and all).
pub fn add_all(worktree: &Path) -> Exec {
    git(["add", "--all"], worktree)
}

/// Commit with the message on stdin (no value in the argv).
pub fn commit(worktree: &Path, message: &str) -> Exec {
    // `whitespace`: a line of the message that starts with `#` (a file name) stays.
    git(
        ["commit", "--quiet", "--cleanup=whitespace", "--file", "-"],
        worktree,
    )
    .stdin(Stdin::Data(message.to_owned()))
}

/// Push one new branch to `origin`. Never forced: a branch that exists there already makes
/// git refuse, and nothing else is pushed.
pub fn push_branch(worktree: &Path, branch: &str) -> Exec {
    git(
        [
            "push".to_owned(),
            "--quiet".into(),
            "origin".into(),
            format!("refs/heads/{branch}:refs/heads/{branch}"),
        ],
        worktree,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        assert!(check_ref_name("lbc/upgrade-1.2.0").is_ok());
        assert!(check_ref_name("main").is_ok());
        for bad in ["-x", "a..b", "a b", "a:b", "", "x.lock", "a/", "@{u"] {
            assert!(check_ref_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn push_is_never_forced() {
        let e = push_branch(Path::new("/w"), "lbc/upgrade-1.0.0");
        assert!(e
            .argv
            .iter()
            .all(|a| !a.starts_with('+') && a != "--force" && a != "-f"));
        assert_eq!(
            e.argv.last().unwrap(),
            "refs/heads/lbc/upgrade-1.0.0:refs/heads/lbc/upgrade-1.0.0"
        );
    }
}
