//! Reading a repository for detection: evidence (file and line), bounded reads that never
//! follow a symbolic link, and a bounded walk that skips dependency and build directories.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// Why lbc concluded something: a file, the line in it when one line says it, and what it says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub note: String,
}

impl Evidence {
    pub fn file(file: &str, note: impl Into<String>) -> Self {
        Evidence {
            file: file.to_owned(),
            line: None,
            note: note.into(),
        }
    }
    pub fn at(file: &str, line: usize, note: impl Into<String>) -> Self {
        Evidence {
            file: file.to_owned(),
            line: Some(line),
            note: note.into(),
        }
    }
    /// `file:line` (or `file`), for messages.
    pub fn place(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }
}

/// The largest part of a file detection reads: manifests and settings are far smaller,
/// and a generated or vendored giant is not where a framework is declared.
pub const MAX_READ: u64 = 512 * 1024;
/// How many files a walk looks at, at most.
pub const MAX_WALK: usize = 4000;

/// Directories that hold dependencies, build output or tooling, never the application.
pub const SKIP_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    "vendor",
    "target",
    "venv",
    ".venv",
    "env",
    "__pycache__",
    "dist",
    "build",
    ".next",
    ".gradle",
    ".mvn",
    ".idea",
    ".tox",
    ".lbc",
    "site-packages",
    "bower_components",
    "storage",
];

/// A repository, read only.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    pub fn new(root: &Path) -> Self {
        Repo {
            root: root.to_path_buf(),
        }
    }

    /// The path of `rel` when neither it nor any directory on the way is a symbolic link
    /// (a link could lead out of the repository) and `rel` has no `..`.
    fn real(&self, rel: &str) -> Option<PathBuf> {
        let mut p = self.root.clone();
        for c in Path::new(rel).components() {
            match c {
                Component::Normal(n) => p.push(n),
                Component::CurDir => {}
                _ => return None,
            }
            if p.symlink_metadata().ok()?.file_type().is_symlink() {
                return None;
            }
        }
        Some(p)
    }

    pub fn is_file(&self, rel: &str) -> bool {
        self.real(rel)
            .and_then(|p| p.symlink_metadata().ok())
            .is_some_and(|m| m.is_file())
    }

    pub fn is_dir(&self, rel: &str) -> bool {
        self.real(rel)
            .and_then(|p| p.symlink_metadata().ok())
            .is_some_and(|m| m.is_dir())
    }

    /// The first [`MAX_READ`] bytes of a regular file, as text (invalid UTF-8 replaced).
    pub fn read(&self, rel: &str) -> Option<String> {
        let p = self.real(rel)?;
        if !p.symlink_metadata().ok()?.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        fs_err::File::open(&p)
            .ok()?
            .take(MAX_READ)
            .read_to_end(&mut bytes)
            .ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The names in a directory (files and directories, no links), sorted.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let Some(p) = self.real(rel) else {
            return Vec::new();
        };
        let Ok(entries) = fs_err::read_dir(&p) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    /// Regular files under `rel` (relative to the root, `/`-separated, sorted), at most
    /// `depth` directories down, whose name ends with one of `exts`; skips [`SKIP_DIRS`],
    /// hidden directories and links, and stops after [`MAX_WALK`] entries.
    pub fn walk(&self, rel: &str, depth: usize, exts: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = 0usize;
        let mut stack = vec![(rel.trim_matches('/').to_owned(), 0usize)];
        while let Some((dir, d)) = stack.pop() {
            let Some(p) = self.real(if dir.is_empty() { "." } else { &dir }) else {
                continue;
            };
            let Ok(entries) = fs_err::read_dir(&p) else {
                continue;
            };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                seen += 1;
                if seen > MAX_WALK {
                    out.sort();
                    return out;
                }
                let Ok(t) = e.file_type() else { continue };
                let name = e.file_name().to_string_lossy().into_owned();
                let child = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                if t.is_dir() {
                    if d < depth && !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                        stack.push((child, d + 1));
                    }
                } else if t.is_file() && exts.iter().any(|x| name.ends_with(x)) {
                    out.push(child);
                }
            }
        }
        out.sort();
        out
    }
}

/// The 1-based number of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The 1-based line number of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The first match of `re` in `text`: its line and its first capture group (or the whole match).
pub fn find_re(text: &str, re: &regex::Regex) -> Option<(usize, String)> {
    let c = re.captures(text)?;
    let m = c.get(1).or_else(|| c.get(0))?;
    Some((line_at(text, c.get(0)?.start()), m.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_never_followed_and_skipped_dirs_not_walked() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.py"), "app = FastAPI()\n").unwrap();
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("app")).unwrap();
        std::fs::create_dir_all(r.join("node_modules/x")).unwrap();
        std::fs::write(r.join("app/main.py"), "x = 1\n").unwrap();
        std::fs::write(r.join("node_modules/x/a.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.py"), r.join("s.py")).unwrap();
        let repo = Repo::new(r);
        assert_eq!(repo.walk("", 5, &[".py"]), ["app/main.py"]);
        assert_eq!(repo.read("s.py"), None);
        assert_eq!(repo.read("linked/secret.py"), None);
        assert_eq!(repo.read("../x"), None);
        assert!(!repo.is_file("s.py"));
        assert_eq!(repo.read("app/main.py").as_deref(), Some("x = 1\n"));
    }

    #[test]
    fn reads_are_bounded() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("big"), vec![b'a'; MAX_READ as usize + 10]).unwrap();
        assert_eq!(
            Repo::new(d.path()).read("big").unwrap().len(),
            MAX_READ as usize
        );
    }
}
