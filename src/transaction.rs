//! The one transactional writer of lbc (`lbc init` into an existing directory, `lbc
//! upgrade`): every new file is written to a staging directory first (so a write error
//! touches nothing), then moved into place one by one, each file it replaces or deletes
//! kept aside; on any error or an interrupt everything moved is put back, the files it
//! created and the directories it made are removed. Modes of replaced files are kept;
//! the executable bits follow the data.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsutil::io_err;

/// One change under the root.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    File {
        path: &'a str,
        bytes: &'a [u8],
        executable: bool,
    },
    Link {
        path: &'a str,
        target: &'a str,
    },
    Delete {
        path: &'a str,
    },
}

impl Change<'_> {
    pub fn path(&self) -> &str {
        match self {
            Change::File { path, .. } | Change::Link { path, .. } | Change::Delete { path } => path,
        }
    }
}

/// Write a file or link of a change under `dir` (creating its parents), as it will be.
pub fn write_staged(dir: &Path, change: &Change) -> Result<(), Error> {
    let path = dir.join(change.path());
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    match change {
        Change::File {
            bytes, executable, ..
        } => {
            fs_err::write(&path, bytes).map_err(|e| io_err(&path, e))?;
            let mode = mode_of(&path)?;
            set_mode(&path, mode, *executable)?;
        }
        Change::Link { target, .. } => {
            std::os::unix::fs::symlink(target, &path).map_err(|e| io_err(&path, e))?;
        }
        Change::Delete { .. } => {}
    }
    Ok(())
}

/// One change done: where, and what it replaced (kept aside).
struct Done {
    target: PathBuf,
    placed: bool,
    saved: Option<PathBuf>,
}

/// Apply `changes` under `root`, all or nothing. The staging directory is made in
/// `stage_in` (on the same file system as `root`). `fail_after` is a test hook: fail on
/// purpose before change N.
pub fn apply(
    root: &Path,
    changes: &[Change],
    stage_in: &Path,
    fail_after: Option<usize>,
) -> Result<(), Error> {
    let stage = tempfile::Builder::new()
        .prefix(".lbc-stage-")
        .tempdir_in(stage_in)
        .map_err(|e| io_err(stage_in, e))?;
    let tree = stage.path().join("tree");
    let backup = stage.path().join("backup");
    fs_err::create_dir_all(&backup).map_err(|e| io_err(&backup, e))?;
    for c in changes {
        write_staged(&tree, c)?;
    }
    let mut done: Vec<Done> = Vec::new();
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), Error> {
        for (n, change) in changes.iter().enumerate() {
            crate::runner::check_interrupt()?;
            if fail_after == Some(n) {
                return Err(Error::failed(
                    format!("LBC_UPGRADE_FAIL_AFTER={n}: stopping the upgrade on purpose"),
                    None,
                ));
            }
            let target = root.join(change.path());
            let existing = fs_err::symlink_metadata(&target).ok();
            if existing.is_none() && matches!(change, Change::Delete { .. }) {
                continue;
            }
            let parent = target.parent().expect("a file has a parent");
            let mut missing = Vec::new();
            let mut p = parent.to_owned();
            while !p.exists() {
                missing.push(p.clone());
                if !p.pop() {
                    break;
                }
            }
            fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
            made_dirs.extend(missing.into_iter().rev());
            let kept_mode = match &existing {
                Some(m) if m.is_file() => Some(mode_bits(m)),
                _ => None,
            };
            let saved = match existing {
                Some(_) => {
                    let b = backup.join(n.to_string());
                    fs_err::rename(&target, &b).map_err(|e| io_err(&target, e))?;
                    Some(b)
                }
                None => None,
            };
            done.push(Done {
                target: target.clone(),
                placed: false,
                saved,
            });
            if let Change::Delete { .. } = change {
                continue;
            }
            let staged = tree.join(change.path());
            fs_err::rename(&staged, &target).map_err(|e| io_err(&target, e))?;
            done.last_mut().expect("pushed above").placed = true;
            if let (Change::File { executable, .. }, Some(mode)) = (change, kept_mode) {
                set_mode(&target, mode, *executable)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for d in done.iter().rev() {
            if d.placed {
                let _ = fs_err::remove_file(&d.target);
            }
            if let Some(b) = &d.saved {
                let _ = fs_err::rename(b, &d.target);
            }
        }
        made_dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in made_dirs {
            let _ = fs_err::remove_dir(&d);
        }
        return Err(e);
    }
    Ok(())
}

fn mode_bits(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode()
}

fn mode_of(path: &Path) -> Result<u32, Error> {
    fs_err::metadata(path)
        .map(|m| mode_bits(&m))
        .map_err(|e| io_err(path, e))
}

/// `mode`, with the executable bits wherever read is allowed when `executable` (like
/// `chmod +x` under the umask), else none.
fn set_mode(path: &Path, mode: u32, executable: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = mode & 0o7777;
    let want = if executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(want))
        .map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #8: init and upgrade share this writer; links are changes too, and a failure
    /// part-way puts every replaced file and link back.
    #[test]
    fn links_and_files_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a"), "old").unwrap();
        std::os::unix::fs::symlink("a", root.join("l")).unwrap();
        let changes = [
            Change::File {
                path: "a",
                bytes: b"new",
                executable: true,
            },
            Change::Link {
                path: "l",
                target: "b",
            },
            Change::File {
                path: "d/e/f",
                bytes: b"f",
                executable: false,
            },
        ];
        assert!(apply(root, &changes, root, Some(2)).is_err());
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "old");
        assert_eq!(std::fs::read_link(root.join("l")).unwrap(), Path::new("a"));
        assert!(!root.join("d").exists());
        let left: Vec<_> = std::fs::read_dir(root).unwrap().collect();
        assert_eq!(left.len(), 2, "no staging directory left behind");
        apply(root, &changes, root, None).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "new");
        assert_eq!(std::fs::read_link(root.join("l")).unwrap(), Path::new("b"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(mode & 0o100, 0, "executable bit follows the data");
    }
}
