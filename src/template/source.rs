//! Where a template comes from: built into the binary, a directory, or a git repository
//! read with git2 at a tag, branch or commit. Every source yields the same thing: the
//! parsed `template.toml`, the files (path, bytes, executable bit, or a link target) and
//! an immutable identity (the commit SHA for git, a content hash otherwise).

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil::io_err;
use crate::plan::Step;
use crate::runner::Runner;
use crate::template::builtin;
use crate::template::manifest::{self, Manifest};
use crate::tools::git::hex;

/// One file of a template, relative to its root (always `/`-separated).
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    File { bytes: Vec<u8>, executable: bool },
    Link { target: String },
}

/// Where a template was read from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Embedded in lbc: `lbc init --stack STACK`.
    Builtin { stack: String },
    /// A directory, read as it is on disk.
    Directory { path: PathBuf },
    /// A git repository (a path or URL) at a tag, branch or commit.
    Git {
        url: String,
        #[serde(rename = "ref")]
        reference: String,
        commit: String,
    },
}

impl Origin {
    /// The `source` recorded in the provenance: `builtin:STACK`, a path or a URL.
    pub fn source(&self) -> String {
        match self {
            Origin::Builtin { stack } => format!("builtin:{stack}"),
            Origin::Directory { path } => path.display().to_string(),
            Origin::Git { url, .. } => url.clone(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Builtin { .. } => "builtin",
            Origin::Directory { .. } => "directory",
            Origin::Git { .. } => "git",
        }
    }
}

/// Files embedded in the binary by build.rs, as template source files.
fn embedded(files: &[builtin::EmbeddedFile]) -> Vec<SourceFile> {
    files
        .iter()
        .map(|(p, b, x)| SourceFile {
            path: (*p).to_owned(),
            content: Content::File {
                bytes: b.to_vec(),
                executable: *x,
            },
        })
        .collect()
}

/// A template, read and parsed.
#[derive(Debug, Clone)]
pub struct Template {
    pub manifest: Manifest,
    /// Every file except `template.toml`, sorted by path.
    pub files: Vec<SourceFile>,
    pub origin: Origin,
    /// The commit SHA (git) or `sha256:` of the content (built-in, directory).
    pub identity: String,
}

impl Template {
    /// A built-in stack.
    pub fn builtin(stack: &str) -> Result<Template, Error> {
        let Some(files) = builtin::files(stack) else {
            let names = builtin::names();
            let close = names
                .iter()
                .map(|n| (crate::config::levenshtein(stack, n), *n))
                .min()
                .filter(|(d, _)| *d <= 2)
                .map(|(_, n)| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(Error::usage(
                format!("unknown stack `{stack}`"),
                Some(format!(
                    "{close}the stacks are: {}; `lbc init --list` describes them, and `--template SRC` uses your own",
                    names.join(", ")
                )),
            ));
        };
        let files = embedded(files);
        Self::assemble(
            files,
            Origin::Builtin {
                stack: stack.to_owned(),
            },
            None,
            &format!("builtin:{stack}/{}", manifest::FILE_NAME),
        )
    }

    /// A built-in stack at `version`: the current one, or an earlier release embedded
    /// from `templates/.releases/` (`None` when this binary does not carry it).
    pub fn builtin_release(stack: &str, version: &str) -> Option<Template> {
        let current = Template::builtin(stack).ok()?;
        if current.manifest.template.version == version {
            return Some(current);
        }
        let files = embedded(builtin::release_files(stack, version)?);
        Self::assemble(
            files,
            Origin::Builtin {
                stack: stack.to_owned(),
            },
            None,
            &format!("builtin:{stack}@{version}/{}", manifest::FILE_NAME),
        )
        .ok()
    }

    /// A template directory, read as it is on disk (`.git` is skipped).
    pub fn directory(dir: &Path) -> Result<Template, Error> {
        let dir = dir.canonicalize().map_err(|e| {
            Error::usage(
                format!("template {}: {e}", dir.display()),
                Some("--template takes a directory or a git repository (path or URL)".into()),
            )
        })?;
        if !dir.join(manifest::FILE_NAME).is_file() {
            return Err(Error::usage(
                format!(
                    "{} is not a template: it has no {}",
                    dir.display(),
                    manifest::FILE_NAME
                ),
                Some(
                    "a template is a directory with template.toml at its root (docs/templates.md)"
                        .into(),
                ),
            ));
        }
        let mut files = Vec::new();
        walk(&dir, "", &mut files)?;
        let manifest_path = dir.join(manifest::FILE_NAME);
        Self::assemble(
            files,
            Origin::Directory { path: dir.clone() },
            None,
            &manifest_path.display().to_string(),
        )
    }

    /// A git repository at `reference` (default `HEAD`). Local paths and `file://` URLs
    /// are read with git2 directly; network URLs are fetched with `git clone --bare` (so
    /// the user's credential helpers and SSH keys work), then read with git2.
    pub fn git(src: &str, reference: Option<&str>, runner: &mut Runner) -> Result<Template, Error> {
        let reference = reference.unwrap_or("HEAD");
        let (repo, _clone) = open_repo(src, runner)?;
        let obj = ["", "refs/tags/", "refs/heads/", "refs/remotes/origin/"]
            .iter()
            .find_map(|prefix| repo.revparse_single(&format!("{prefix}{reference}")).ok())
            .ok_or_else(|| {
                Error::usage(
                    format!("template {src}: no tag, branch or commit `{reference}`"),
                    Some(format!(
                        "--template-version takes a tag, branch or commit of the repository{}",
                        crate::tools::git::tag_list(&repo)
                    )),
                )
            })?;
        let commit = obj.peel_to_commit().map_err(|e| {
            Error::usage(
                format!(
                    "template {src}: `{reference}` is not a commit: {}",
                    e.message()
                ),
                None,
            )
        })?;
        let tree = commit.tree().map_err(|e| git_err(src, &e))?;
        let mut files = Vec::new();
        let mut failure: Option<Error> = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            let name = entry.name().unwrap_or("");
            let path = format!("{root}{name}");
            let mode = entry.filemode();
            match entry.kind() {
                Some(git2::ObjectType::Blob) => {
                    let blob = match repo.find_blob(entry.id()) {
                        Ok(b) => b,
                        Err(e) => {
                            failure = Some(git_err(src, &e));
                            return git2::TreeWalkResult::Abort;
                        }
                    };
                    let content = if mode == 0o120000 {
                        Content::Link {
                            target: String::from_utf8_lossy(blob.content()).into_owned(),
                        }
                    } else {
                        Content::File {
                            bytes: blob.content().to_vec(),
                            executable: mode == 0o100755,
                        }
                    };
                    files.push(SourceFile { path, content });
                }
                Some(git2::ObjectType::Commit) => {
                    failure = Some(Error::usage(
                        format!("template {src}: `{path}` is a git submodule, which templates cannot contain"),
                        None,
                    ));
                    return git2::TreeWalkResult::Abort;
                }
                _ => {}
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| failure.take().unwrap_or_else(|| git_err(src, &e)))?;
        if let Some(e) = failure {
            return Err(e);
        }
        let sha = commit.id().to_string();
        Self::assemble(
            files,
            Origin::Git {
                url: display_url(src),
                reference: reference.to_owned(),
                commit: sha.clone(),
            },
            Some(sha),
            &format!("{src}@{reference}:{}", manifest::FILE_NAME),
        )
    }

    fn assemble(
        mut files: Vec<SourceFile>,
        origin: Origin,
        identity: Option<String>,
        manifest_name: &str,
    ) -> Result<Template, Error> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let identity = identity.unwrap_or_else(|| content_hash(&files));
        let pos = files.iter().position(|f| f.path == manifest::FILE_NAME);
        let Some(pos) = pos else {
            return Err(Error::usage(
                format!(
                    "{} is not a template: it has no {}",
                    origin.source(),
                    manifest::FILE_NAME
                ),
                Some("a template has template.toml at its root (docs/templates.md)".into()),
            ));
        };
        let manifest_file = files.remove(pos);
        let Content::File { bytes, .. } = manifest_file.content else {
            return Err(Error::usage(
                format!("{manifest_name} is a symbolic link; it must be a file"),
                None,
            ));
        };
        let raw = String::from_utf8(bytes)
            .map_err(|_| Error::usage(format!("{manifest_name} is not UTF-8 text"), None))?;
        let manifest = Manifest::parse(Path::new(manifest_name), &raw)?;
        Ok(Template {
            manifest,
            files,
            origin,
            identity,
        })
    }
}

/// `sha256:` of every file (path, kind, bytes), `template.toml` included.
pub fn content_hash(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    h.update(b"lbc-template-v1\0");
    for f in sorted {
        h.update(f.path.as_bytes());
        h.update([0]);
        let (kind, bytes): (u8, &[u8]) = match &f.content {
            Content::File {
                bytes,
                executable: false,
            } => (b'f', bytes),
            Content::File {
                bytes,
                executable: true,
            } => (b'x', bytes),
            Content::Link { target } => (b'l', target.as_bytes()),
        };
        h.update([kind]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    format!("sha256:{}", hex(&h.finalize()))
}

fn walk(root: &Path, rel: &str, out: &mut Vec<SourceFile>) -> Result<(), Error> {
    let dir = if rel.is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    };
    for entry in fs_err::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
        let entry = entry.map_err(|e| io_err(&dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(Error::usage(
                format!(
                    "{}: a file name in the template is not UTF-8",
                    entry.path().display()
                ),
                None,
            ));
        };
        if rel.is_empty() && name == ".git" {
            continue;
        }
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let meta = fs_err::symlink_metadata(&path).map_err(|e| io_err(&path, e))?;
        if meta.file_type().is_symlink() {
            let target = fs_err::read_link(&path).map_err(|e| io_err(&path, e))?;
            out.push(SourceFile {
                path: child,
                content: Content::Link {
                    target: target.to_string_lossy().into_owned(),
                },
            });
        } else if meta.is_dir() {
            walk(root, &child, out)?;
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let bytes = fs_err::read(&path).map_err(|e| io_err(&path, e))?;
            out.push(SourceFile {
                path: child,
                content: Content::File {
                    bytes,
                    executable: meta.permissions().mode() & 0o111 != 0,
                },
            });
        }
    }
    Ok(())
}

/// Does `src` name a repository over the network (rather than a local path)?
pub fn is_remote(src: &str) -> bool {
    let lower = src.to_ascii_lowercase();
    if ["http://", "https://", "ssh://", "git://", "git+ssh://"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return true;
    }
    // scp-like `user@host:path` (but not a local path that happens to hold a colon)
    match src.split_once(':') {
        Some((host, _)) => host.contains('@') && !host.contains('/'),
        None => false,
    }
}

/// Does `src` look like a git URL (as opposed to a directory path)?
pub fn is_url(src: &str) -> bool {
    is_remote(src) || src.to_ascii_lowercase().starts_with("file://")
}

fn display_url(src: &str) -> String {
    if is_url(src) {
        crate::tools::git::strip_credentials(src)
    } else {
        Path::new(src)
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| src.to_owned())
    }
}

fn git_err(src: &str, e: &git2::Error) -> Error {
    Error::usage(format!("template {src}: {}", e.message()), None)
}

/// The tags of a git template repository.
pub fn git_tags(src: &str, runner: &mut Runner) -> Result<Vec<String>, Error> {
    let (repo, _clone) = open_repo(src, runner)?;
    let tags = repo
        .tag_names(None)
        .map_err(|e| git_err(src, &e))?
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    Ok(tags)
}

/// Open the repository: a local one in place, a `file://` one by a bare clone with
/// git2, a network one by `git clone --bare` through the runner.
fn open_repo(
    src: &str,
    runner: &mut Runner,
) -> Result<(git2::Repository, Option<tempfile::TempDir>), Error> {
    if !is_url(src) {
        let path = Path::new(src);
        if !path.exists() {
            return Err(Error::usage(
                format!("template {src}: no such directory"),
                Some("--template takes a directory or a git repository (path or URL)".into()),
            ));
        }
        let repo = git2::Repository::open(path).map_err(|_| {
            Error::usage(
                format!("template {src}: --template-version needs a git repository, and {src} is not one"),
                Some("drop --template-version to use the directory as it is".into()),
            )
        })?;
        return Ok((repo, None));
    }
    let tmp = tempfile::Builder::new()
        .prefix("lbc-template-")
        .tempdir()
        .map_err(|e| io_err(&std::env::temp_dir(), e))?;
    let dest = tmp.path().join("repo.git");
    if is_remote(src) {
        let exec = crate::tools::git::clone_bare(src, &dest, tmp.path());
        crate::execute::run_one(
            runner,
            Step::exec(format!("Fetch the template {}", display_url(src)), exec),
        )?;
        let repo = git2::Repository::open_bare(&dest).map_err(|e| git_err(src, &e))?;
        Ok((repo, Some(tmp)))
    } else {
        let repo = git2::build::RepoBuilder::new()
            .bare(true)
            .clone(src, &dest)
            .map_err(|e| git_err(src, &e))?;
        Ok((repo, Some(tmp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_remote("https://git.example.com/t.git"));
        assert!(is_remote("git@github.com:acme/t.git"));
        assert!(!is_remote("./templates/t"));
        assert!(!is_remote("/tmp/a:b"));
        assert!(is_url("file:///srv/t.git"));
    }

    #[test]
    fn every_builtin_stack_parses() {
        // The stacks of `lbc init`, and the families of `lbc init --adopt`.
        for (stack, _) in builtin::STACKS {
            let t = Template::builtin(stack).unwrap();
            assert_eq!(t.manifest.template.name, *stack);
            assert!(t.identity.starts_with("sha256:"));
        }
    }

    #[test]
    fn releases_carry_their_own_version() {
        for (stack, version, _) in builtin::RELEASES {
            let t = Template::builtin_release(stack, version)
                .unwrap_or_else(|| panic!("templates/.releases/{stack}/{version} does not parse"));
            assert_eq!(&t.manifest.template.version, version, "{stack}");
        }
        let current = Template::builtin("go").unwrap();
        let again = Template::builtin_release("go", &current.manifest.template.version).unwrap();
        assert_eq!(again.identity, current.identity);
        assert!(Template::builtin_release("go", "0.0.0-never").is_none());
    }

    #[test]
    fn unknown_stack_suggests() {
        let e = Template::builtin("pyhton").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.hint().unwrap().contains("did you mean `python`?"));
    }
}
