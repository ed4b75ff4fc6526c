//! Applying an upgrade all or nothing: every file that will be touched is copied to a
//! backup under `.lbc/state/` first; each write goes to a temporary sibling and is
//! renamed into place; on any error (or an interrupt) every touched path is restored
//! from the backup and files the upgrade created are removed, so the repository is as
//! it was.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsutil::io_err as io;
use crate::upgrade::files::FileData;

/// One operation on the repository.
#[derive(Debug, Clone)]
pub enum Op {
    Write(String, FileData),
    Delete(String),
}

impl Op {
    fn path(&self) -> &str {
        match self {
            Op::Write(p, _) | Op::Delete(p) => p,
        }
    }
}

struct Touched {
    path: PathBuf,
    backup: Option<PathBuf>,
    mode: Option<u32>,
}

/// Apply `ops` under `root`, all or nothing. `fail_after` is the test hook of the
/// settings (`LBC_UPGRADE_FAIL_AFTER`): fail on purpose before operation N.
pub fn apply(root: &Path, ops: &[Op], fail_after: Option<usize>) -> Result<(), Error> {
    let backup_dir = root
        .join(".lbc/state")
        .join(format!("upgrade-backup-{}", std::process::id()));
    fs_err::create_dir_all(&backup_dir).map_err(|e| io(&backup_dir, e))?;
    let state_ignore = root.join(".lbc/state/.gitignore");
    if !state_ignore.exists() {
        crate::state::write_atomic(&state_ignore, b"# lbc's local state; never committed\n*\n")?;
    }
    let mut touched: Vec<Touched> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), Error> {
        for (n, op) in ops.iter().enumerate() {
            crate::runner::check_interrupt()?;
            if fail_after == Some(n) {
                return Err(Error::failed(
                    format!("LBC_UPGRADE_FAIL_AFTER={n}: stopping the upgrade on purpose"),
                    None,
                ));
            }
            let path = root.join(op.path());
            let (backup, mode) = if path.is_file() {
                let b = backup_dir.join(format!("{n}"));
                fs_err::copy(&path, &b).map_err(|e| io(&path, e))?;
                let mode = {
                    use std::os::unix::fs::PermissionsExt;
                    fs_err::metadata(&path).map(|m| m.permissions().mode()).ok()
                };
                (Some(b), mode)
            } else {
                (None, None)
            };
            touched.push(Touched {
                path: path.clone(),
                backup,
                mode,
            });
            match op {
                Op::Write(_, data) => {
                    if let Some(parent) = path.parent() {
                        let mut missing = Vec::new();
                        let mut p = parent.to_path_buf();
                        while !p.exists() {
                            missing.push(p.clone());
                            if !p.pop() {
                                break;
                            }
                        }
                        fs_err::create_dir_all(parent).map_err(|e| io(parent, e))?;
                        created_dirs.extend(missing);
                    }
                    crate::state::write_atomic(&path, &data.bytes)?;
                    // The temporary file was private (0600): give the file the mode it
                    // had, or an ordinary file's, with the executable bits of the data.
                    set_mode(&path, mode.unwrap_or(0o644), data.executable)?;
                }
                Op::Delete(_) => {
                    if path.exists() {
                        fs_err::remove_file(&path).map_err(|e| io(&path, e))?;
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for t in touched.iter().rev() {
            match &t.backup {
                Some(b) => {
                    let _ = fs_err::copy(b, &t.path);
                    if let Some(mode) = t.mode {
                        use std::os::unix::fs::PermissionsExt;
                        let _ =
                            fs_err::set_permissions(&t.path, std::fs::Permissions::from_mode(mode));
                    }
                }
                None => {
                    let _ = fs_err::remove_file(&t.path);
                }
            }
        }
        created_dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in created_dirs {
            let _ = fs_err::remove_dir(&d);
        }
        let _ = fs_err::remove_dir_all(&backup_dir);
        return Err(e);
    }
    fs_err::remove_dir_all(&backup_dir).map_err(|e| io(&backup_dir, e))?;
    Ok(())
}

fn set_mode(path: &Path, mode: u32, executable: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = mode & 0o7777;
    let want = if executable {
        // Executable for whoever may read it.
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(want)).map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> FileData {
        FileData {
            bytes: s.as_bytes().to_vec(),
            executable: false,
        }
    }

    #[test]
    fn all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a"), "old a").unwrap();
        std::fs::write(root.join("b"), "old b").unwrap();
        let ops = vec![
            Op::Write("a".into(), data("new a")),
            Op::Delete("b".into()),
            Op::Write("deep/new/c".into(), data("c")),
        ];
        // Fail before the last operation: everything is restored.
        let err = apply(root, &ops, Some(2));
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(root.join("b")).unwrap(), "old b");
        assert!(!root.join("deep").exists());
        assert_eq!(
            std::fs::read_dir(root.join(".lbc/state"))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name() != ".gitignore")
                .count(),
            0
        );
        // And then for real.
        apply(root, &ops, None).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "new a");
        assert!(!root.join("b").exists());
        assert_eq!(
            std::fs::read_to_string(root.join("deep/new/c")).unwrap(),
            "c"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            mode("deep/new/c"),
            0o644,
            "new files are ordinary files, not private ones"
        );
    }

    #[test]
    fn modes_are_kept_and_executable_bits_follow_the_data() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("group"), "x").unwrap();
        std::fs::set_permissions(root.join("group"), std::fs::Permissions::from_mode(0o664))
            .unwrap();
        let ops = vec![
            Op::Write("group".into(), data("y")),
            Op::Write(
                "run.sh".into(),
                FileData {
                    bytes: b"#!/bin/sh\n".to_vec(),
                    executable: true,
                },
            ),
        ];
        apply(root, &ops, None).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("group"), 0o664);
        assert_eq!(mode("run.sh"), 0o755);
    }
}
