//! Where the catalogue comes from: `LBC_CATALOG` (a file, or `git+URL#REF[:PATH]` for
//! the platform team's repository at a tag), else `~/.config/lbc/catalog.toml`, else the
//! built-in defaults. A git catalogue is cloned once into lbc's cache
//! (`~/.cache/lbc/catalogs/`); a tag or commit already there is used without the
//! network, a branch is fetched each time (the cached copy serves, with a warning, when
//! the remote cannot be reached).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::plan::{Exec, Stdin};
use crate::runner::Runner;

/// The file name of a git catalogue when `:PATH` is not given.
pub const DEFAULT_PATH: &str = "catalog.toml";

/// What `LBC_CATALOG` (or the default file) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    File(PathBuf),
    Git {
        url: String,
        reference: String,
        path: String,
    },
}

/// Where the catalogue in effect was read from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    Defaults,
    File {
        path: PathBuf,
    },
    Git {
        url: String,
        #[serde(rename = "ref")]
        reference: String,
        commit: String,
        path: String,
    },
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::Defaults => "the built-in defaults".into(),
            Source::File { path } => path.display().to_string(),
            Source::Git {
                url,
                reference,
                path,
                ..
            } => format!("git+{url}#{reference}:{path}"),
        }
    }
}

/// The catalogue's text, its lock file's text, and where they came from.
pub struct Read {
    pub text: String,
    pub lock_text: Option<String>,
    pub source: Source,
    /// Local paths (file catalogues only): the catalogue and its lock file.
    pub file: Option<PathBuf>,
    pub lock_path: Option<PathBuf>,
}

/// Parse `git+URL#REF[:PATH]`.
pub fn parse_git(value: &str) -> Option<Result<Spec, Error>> {
    let rest = value.strip_prefix("git+")?;
    let (url, frag) = match rest.rsplit_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (rest, None),
    };
    let (reference, path) = match frag {
        Some(f) => match f.split_once(':') {
            Some((r, p)) => (r, p),
            None => (f, DEFAULT_PATH),
        },
        None => ("HEAD", DEFAULT_PATH),
    };
    let reference = if reference.is_empty() {
        "HEAD"
    } else {
        reference
    };
    if url.is_empty() || url.starts_with('-') || reference.starts_with('-') || path.is_empty() {
        return Some(Err(Error::usage(
            format!("LBC_CATALOG={value} is not a git catalogue"),
            Some("write git+URL#TAG (e.g. git+https://git.corp.example/platform/catalog.git#v3), with :PATH after the tag when the file is not catalog.toml".into()),
        )));
    }
    Some(Ok(Spec::Git {
        url: url.to_owned(),
        reference: reference.to_owned(),
        path: path.trim_start_matches('/').to_owned(),
    }))
}

/// The catalogue named by `LBC_CATALOG`, else the user's file, else none.
/// What the settings name: `LBC_CATALOG` (`env_value`), else `catalog.toml` in lbc's
/// directory of the user's configuration (`config_home`), else nothing.
pub fn spec(env_value: Option<&Path>, config_home: Option<&Path>) -> Result<Option<Spec>, Error> {
    if let Some(v) = env_value.filter(|v| !v.as_os_str().is_empty()) {
        let s = v.to_string_lossy().into_owned();
        if let Some(g) = parse_git(&s) {
            return g.map(Some);
        }
        let p = v.to_owned();
        if !p.is_file() {
            return Err(Error::usage(
                format!("LBC_CATALOG names {}, which is not a file", p.display()),
                Some("point LBC_CATALOG at a catalogue file (or git+URL#TAG for a git repository), or unset it to use the defaults".into()),
            ));
        }
        return Ok(Some(Spec::File(p)));
    }
    Ok(config_home
        .map(|h| h.join("lbc").join("catalog.toml"))
        .filter(|p| p.is_file())
        .map(Spec::File))
}

/// Read the catalogue `spec` names; a git catalogue is cloned under `cache_home`.
pub fn read(spec: &Spec, cache_home: Option<&Path>) -> Result<Read, Error> {
    match spec {
        Spec::File(path) => {
            let text = crate::fsutil::read_to_string(path)?;
            let lock_path = super::lock::path_for(path);
            let lock_text = match fs_err::read_to_string(&lock_path) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(crate::fsutil::io_err(&lock_path, e)),
            };
            Ok(Read {
                text,
                lock_text,
                source: Source::File { path: path.clone() },
                file: Some(path.clone()),
                lock_path: Some(lock_path),
            })
        }
        Spec::Git {
            url,
            reference,
            path,
        } => git(url, reference, path, cache_home),
    }
}

type Fetched = (String, Option<String>, String);
static FETCHED: Mutex<Option<HashMap<String, Fetched>>> = Mutex::new(None);

fn git(url: &str, reference: &str, path: &str, cache_home: Option<&Path>) -> Result<Read, Error> {
    let shown = crate::tools::git::strip_credentials(url);
    let key = format!("{url}\0{reference}\0{path}");
    let lock_path = Path::new(path)
        .with_extension("lock")
        .to_string_lossy()
        .into_owned();
    let read = |(text, lock_text, commit): Fetched| Read {
        text,
        lock_text,
        source: Source::Git {
            url: shown.clone(),
            reference: reference.to_owned(),
            commit,
            path: path.to_owned(),
        },
        file: None,
        lock_path: None,
    };
    if let Some(fetched) = FETCHED
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|m| m.get(&key).cloned())
    {
        return Ok(read(fetched));
    }
    let root = cache_home
        .map(|c| c.join("lbc").join("catalogs"))
        .ok_or_else(|| {
            Error::usage(
                "no cache directory for the git catalogue (neither XDG_CACHE_HOME nor HOME is set)",
                Some("set XDG_CACHE_HOME".to_owned()),
            )
        })?;
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    let cache = root.join(format!(
        "{}.git",
        &crate::tools::git::hex(&h.finalize())[..16]
    ));
    let runner = Runner::new(false);
    let git_exec = |args: Vec<String>, cwd: &Path| {
        let mut argv = vec!["git".to_owned()];
        argv.extend(args);
        Exec::new(argv, cwd).stdin(Stdin::Null)
    };
    let io = crate::fsutil::io_err;

    // A tag or a commit already in the cache is immutable enough: no network.
    let cached = cache.is_dir() && find_commit(&cache, reference, true).is_some();
    if !cached {
        let fetch_error = if cache.is_dir() {
            let out = runner.query(&git_exec(
                vec![
                    "--git-dir".into(),
                    cache.display().to_string(),
                    "fetch".into(),
                    "--quiet".into(),
                    "--force".into(),
                    "--tags".into(),
                    "--".into(),
                    url.to_owned(),
                    "+refs/heads/*:refs/heads/*".into(),
                ],
                &root,
            ))?;
            (!out.ok()).then(|| out.stderr.trim().to_owned())
        } else {
            fs_err::create_dir_all(&root).map_err(|e| io(&root, e))?;
            let tmp = tempfile::Builder::new()
                .prefix(".clone-")
                .tempdir_in(&root)
                .map_err(|e| io(&root, e))?;
            let dest = tmp.path().join("repo.git");
            let out = runner.query(&git_exec(
                vec![
                    "clone".into(),
                    "--bare".into(),
                    "--quiet".into(),
                    "--".into(),
                    url.to_owned(),
                    dest.display().to_string(),
                ],
                &root,
            ))?;
            if out.ok() {
                // Another lbc may have won the race: its clone serves as well.
                if std::fs::rename(&dest, &cache).is_err() && !cache.is_dir() {
                    return Err(Error::failed(
                        format!(
                            "could not move the catalogue clone into {}",
                            cache.display()
                        ),
                        None,
                    ));
                }
                None
            } else {
                Some(out.stderr.trim().to_owned())
            }
        };
        if let Some(why) = fetch_error {
            if cache.is_dir() && find_commit(&cache, reference, false).is_some() {
                crate::ui::warn(&format!(
                    "could not fetch the catalogue from {shown} ({why}); using the cached copy"
                ));
            } else {
                return Err(Error::failed(
                    format!("could not fetch the catalogue from {shown}: {why}"),
                    Some("check the URL and your access to it (git's credential helpers and SSH keys are used), or point LBC_CATALOG at a local file".into()),
                ));
            }
        }
    }
    let repo = git2::Repository::open_bare(&cache)
        .map_err(|e| Error::failed(format!("{}: {}", cache.display(), e.message()), None))?;
    let commit = find_commit(&cache, reference, false).ok_or_else(|| {
        Error::usage(
            format!("the catalogue repository {shown} has no tag, branch or commit `{reference}`"),
            Some(format!(
                "LBC_CATALOG takes git+URL#TAG{}",
                crate::tools::git::tag_list(&repo)
            )),
        )
    })?;
    let commit_obj = repo
        .find_commit(commit)
        .map_err(|e| Error::failed(e.message().to_owned(), None))?;
    let tree = commit_obj
        .tree()
        .map_err(|e| Error::failed(e.message().to_owned(), None))?;
    let blob_text = |p: &str| -> Option<String> {
        let entry = tree.get_path(Path::new(p)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    };
    let text = blob_text(path).ok_or_else(|| {
        Error::usage(
            format!("the catalogue repository {shown} has no {path} at `{reference}`"),
            Some(
                "write git+URL#TAG:PATH when the catalogue is not catalog.toml at the root".into(),
            ),
        )
    })?;
    let lock_text = blob_text(&lock_path);
    let fetched = (text, lock_text, commit.to_string());
    FETCHED
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, fetched.clone());
    Ok(read(fetched))
}

/// The commit `reference` names in the bare repository at `dir`. `immutable_only`: only
/// a tag or a full commit id (what may be used without fetching).
fn find_commit(dir: &Path, reference: &str, immutable_only: bool) -> Option<git2::Oid> {
    let repo = git2::Repository::open_bare(dir).ok()?;
    if let Ok(r) = repo.find_reference(&format!("refs/tags/{reference}")) {
        return r.peel_to_commit().ok().map(|c| c.id());
    }
    if reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()) {
        return git2::Oid::from_str(reference)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
            .map(|c| c.id());
    }
    if immutable_only {
        return None;
    }
    for name in [format!("refs/heads/{reference}"), reference.to_owned()] {
        if let Ok(obj) = repo.revparse_single(&name) {
            if let Ok(c) = obj.peel_to_commit() {
                return Some(c.id());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_specs() {
        let s = |v: &str| parse_git(v).unwrap().unwrap();
        assert_eq!(
            s("git+https://git.corp/platform/catalog.git#v3"),
            Spec::Git {
                url: "https://git.corp/platform/catalog.git".into(),
                reference: "v3".into(),
                path: "catalog.toml".into()
            }
        );
        assert_eq!(
            s("git+file:///srv/c.git#v1.2:images/catalog.toml"),
            Spec::Git {
                url: "file:///srv/c.git".into(),
                reference: "v1.2".into(),
                path: "images/catalog.toml".into()
            }
        );
        assert!(matches!(s("git+/srv/c.git"), Spec::Git { reference, .. } if reference == "HEAD"));
        assert!(parse_git("/etc/lbc/catalog.toml").is_none());
        assert!(parse_git("git+--upload-pack=x#v1").unwrap().is_err());
    }
}
