//! The build context as Docker sees it: files under the context directory minus what
//! `.dockerignore` excludes (Docker's own rules: patterns anchored at the context root,
//! `**` for any number of directories, `!` to re-include, a match on a parent directory
//! excludes everything below it). Hashing it gives the "inputs hash" that lets
//! `lbc build` skip builds whose inputs did not change.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil::io_err;

#[derive(Debug, Clone)]
struct Pattern {
    negated: bool,
    segments: Vec<String>,
}

/// The parsed `.dockerignore` of a context.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    has_negations: bool,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Self {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let segments: Vec<String> = pat
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_owned)
                .collect();
            if segments.is_empty() {
                continue;
            }
            patterns.push(Pattern { negated, segments });
        }
        let has_negations = patterns.iter().any(|p| p.negated);
        DockerIgnore {
            patterns,
            has_negations,
        }
    }

    pub fn load(context: &Path) -> Result<Self, Error> {
        let path = context.join(".dockerignore");
        // Never open anything but a regular file: a FIFO named .dockerignore would block.
        match fs_err::metadata(&path) {
            Ok(m) if !m.is_file() => {
                return Err(Error::usage(
                    format!("{} is not a regular file", path.display()),
                    Some("make .dockerignore a text file, or remove it".into()),
                ))
            }
            _ => {}
        }
        match fs_err::read_to_string(&path) {
            Ok(t) => Ok(Self::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(crate::fsutil::io_err(&path, e)),
        }
    }

    /// Is the relative path (with `/` separators) excluded from the context?
    pub fn excluded(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for p in &self.patterns {
            // A pattern matches the path itself or any of its parent directories.
            let hit = (1..=parts.len()).any(|n| match_segments(&p.segments, &parts[..n]));
            if hit {
                excluded = !p.negated;
            }
        }
        excluded
    }
}

/// Does the pattern match the whole path? `**` matches any number of segments.
/// Dynamic programming over (pattern position, path position): a pattern with many
/// `**` against a deep path stays polynomial (a plain recursion is exponential in the
/// number of `**`; issue #9's fuzz test tries such patterns).
fn match_segments(pat: &[String], path: &[&str]) -> bool {
    let (np, ns) = (pat.len(), path.len());
    // m[i][j]: does pat[i..] match path[j..]?
    let mut m = vec![vec![false; ns + 1]; np + 1];
    m[np][ns] = true;
    for i in (0..np).rev() {
        for j in (0..=ns).rev() {
            m[i][j] = if pat[i] == "**" {
                // Match nothing here, or swallow one more segment.
                m[i + 1][j] || (j < ns && m[i][j + 1])
            } else {
                j < ns && glob(pat[i].as_bytes(), path[j].as_bytes()) && m[i + 1][j + 1]
            };
        }
    }
    m[0][0]
}

/// Match one path segment against a glob with `*`, `?`, `[...]` and `\` escapes.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star_p, mut star_i) = (usize::MAX, 0usize);
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star_p = p;
                    star_i = i;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(&pat[p..], s[i]) {
                        if matched {
                            p += next;
                            i += 1;
                            continue;
                        }
                    } else if s[i] == b'[' {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        if star_p != usize::MAX {
            p = star_p + 1;
            star_i += 1;
            i = star_i;
            continue;
        }
        return false;
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// A `[...]` class at the start of `pat`: (does `c` match, length of the class).
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut j = 1;
    let negate = matches!(pat.get(1), Some(b'^') | Some(b'!'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while j < pat.len() {
        if pat[j] == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        let lo = pat[j];
        if j + 2 < pat.len() && pat[j + 1] == b'-' && pat[j + 2] != b']' {
            if lo <= c && c <= pat[j + 2] {
                matched = true;
            }
            j += 3;
        } else {
            if lo == c {
                matched = true;
            }
            j += 1;
        }
    }
    None
}

/// The inputs hash of a build: every file of the context that Docker would send (path,
/// executable bit, content), the Dockerfile, and the given extra strings (build args,
/// target, platform...). Returns (hex hash, number of files).
pub fn inputs_hash(
    context: &Path,
    dockerfile: &Path,
    extra: &[String],
) -> Result<(String, usize), Error> {
    let ignore = DockerIgnore::load(context)?;
    let mut files = Vec::new();
    walk(context, "", &ignore, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(b"lbc-inputs-v1\0");
    for rel in &files {
        let full = context.join(rel);
        let meta = fs_err::symlink_metadata(&full).map_err(|e| io_err(&full, e))?;
        h.update(rel.as_bytes());
        h.update([0]);
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs_err::read_link(&full).map_err(|e| io_err(&full, e))?;
            h.update(b"link\0");
            h.update(target.to_string_lossy().as_bytes());
        } else if !ft.is_file() {
            // A FIFO, socket or device (issue #9): opening it could block forever or
            // read without end. Docker sends such entries as bare headers; only their
            // name and kind count.
            h.update(b"special\0");
            h.update(special_kind(&ft).as_bytes());
        } else {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                h.update([u8::from(meta.permissions().mode() & 0o111 != 0)]);
            }
            let bytes = fs_err::read(&full).map_err(|e| io_err(&full, e))?;
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        h.update([0]);
    }
    h.update(b"\0dockerfile\0");
    let df = fs_err::read(dockerfile).map_err(|e| io_err(dockerfile, e))?;
    h.update(&df);
    for e in extra {
        h.update(b"\0");
        h.update(e.as_bytes());
    }
    Ok((crate::tools::git::hex(&h.finalize()), files.len()))
}

/// The kind of a file that is neither a regular file, a directory nor a symlink.
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block-device"
    } else if ft.is_char_device() {
        "char-device"
    } else {
        "unknown"
    }
}

/// The context directory, checked to lie inside the repository once symlinks are
/// resolved: a context of "/" or "../.." (or a symlink to them) would make lbc hash,
/// and docker send, the whole file system (issue #9).
pub fn checked_context(root: &Path, context: &Path) -> Result<std::path::PathBuf, String> {
    let real_root = fs_err::canonicalize(root).map_err(|e| e.to_string())?;
    let real = fs_err::canonicalize(context).map_err(|e| e.to_string())?;
    if !real.starts_with(&real_root) {
        return Err(format!(
            "it resolves to {}, outside the repository {}",
            real.display(),
            real_root.display()
        ));
    }
    Ok(real)
}

/// lbc's own bookkeeping (`.lbc/state/`): it changes with every build, so it never
/// counts as an input, even when `.dockerignore` forgets it.
const LBC_STATE: &str = ".lbc/state";

fn walk(root: &Path, rel: &str, ignore: &DockerIgnore, out: &mut Vec<String>) -> Result<(), Error> {
    let dir = if rel.is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    };
    let entries = fs_err::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type().map_err(|e| io_err(&entry.path(), e))?;
        let excluded = ignore.excluded(&child);
        if ft.is_dir() {
            if child == LBC_STATE {
                continue;
            }
            // An excluded directory can only hold included files when a `!` pattern
            // re-includes something; otherwise skip it whole.
            if excluded && !ignore.has_negations {
                continue;
            }
            walk(root, &child, ignore, out)?;
        } else if !excluded || child == ".dockerignore" {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let ig = DockerIgnore::parse(
            "# comment\n.git\n*.md\n!README.md\n**/node_modules\ntarget/\nsrc/*.tmp\n",
        );
        assert!(ig.excluded(".git/config"));
        assert!(ig.excluded("NOTES.md"));
        assert!(!ig.excluded("README.md"));
        assert!(
            !ig.excluded("docs/NOTES.md"),
            "*.md is anchored at the root"
        );
        assert!(ig.excluded("a/b/node_modules/x.js"));
        assert!(ig.excluded("node_modules/x.js"));
        assert!(ig.excluded("target/debug/lbc"));
        assert!(ig.excluded("src/a.tmp"));
        assert!(!ig.excluded("src/a.rs"));
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.rs", b"main.rs"));
        assert!(!glob(b"*.rs", b"main.rs.bak"));
        assert!(glob(b"ma?n.rs", b"main.rs"));
        assert!(glob(b"[a-c]x", b"bx"));
        assert!(!glob(b"[!a-c]x", b"bx"));
        assert!(glob(b"\\*", b"*"));
    }
}
