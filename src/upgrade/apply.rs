//! Applying an upgrade all or nothing: every file that will be touched is copied to a
//! backup under `.lbc/state/` first; each write goes to a temporary sibling and is
//! renamed into place; on any error (or an interrupt) every touched path is restored
//! from the backup and files the upgrade created are removed, so the repository is as
//! it was.

use std::path::{Path, PathBuf};

use crate::error::Error;
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

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// The prefix of a backup directory under `.lbc/state/`; the pid of the writer follows.
pub const BACKUP_PREFIX: &str = "upgrade-backup-";
/// The journal in a backup directory: one line per operation, written before the
/// operation, so that a run killed with SIGKILL can be undone by the next one
/// (`lbc upgrade --recover`).
const JOURNAL: &str = "journal";

/// One entry of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `path` existed; its bytes are in backup file `n`, its mode was `mode`.
    Saved { n: usize, mode: u32, path: String },
    /// `path` did not exist: the upgrade creates it.
    New { path: String },
    /// The directory `path` did not exist: the upgrade creates it.
    Dir { path: String },
}

impl Entry {
    fn line(&self) -> String {
        match self {
            Entry::Saved { n, mode, path } => format!("saved\t{n}\t{mode:o}\t{path}\n"),
            Entry::New { path } => format!("new\t{path}\n"),
            Entry::Dir { path } => format!("dir\t{path}\n"),
        }
    }
    fn parse(line: &str) -> Option<Entry> {
        let mut it = line.splitn(4, '\t');
        match it.next()? {
            "saved" => Some(Entry::Saved {
                n: it.next()?.parse().ok()?,
                mode: u32::from_str_radix(it.next()?, 8).ok()?,
                path: it.next()?.to_owned(),
            }),
            "new" => Some(Entry::New {
                path: it.next()?.to_owned(),
            }),
            "dir" => Some(Entry::Dir {
                path: it.next()?.to_owned(),
            }),
            _ => None,
        }
    }
}

/// Put back what the journal says, newest first: saved files get their bytes and mode
/// back, new files and directories go, and temporary files lbc left beside them too.
fn undo(root: &Path, backup_dir: &Path, entries: &[Entry]) {
    use std::os::unix::fs::PermissionsExt;
    let mut dirs = Vec::new();
    for e in entries.iter().rev() {
        match e {
            Entry::Saved { n, mode, path } => {
                let target = root.join(path);
                let _ = fs_err::copy(backup_dir.join(n.to_string()), &target);
                let _ = fs_err::set_permissions(&target, std::fs::Permissions::from_mode(*mode));
                remove_strays(&target);
            }
            Entry::New { path } => {
                let target = root.join(path);
                let _ = fs_err::remove_file(&target);
                remove_strays(&target);
            }
            Entry::Dir { path } => dirs.push(root.join(path)),
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = fs_err::remove_dir(&d);
    }
}

/// Temporary files of [`crate::state::write_atomic`] beside `target` (a SIGKILL between
/// writing one and renaming it leaves it behind).
fn remove_strays(target: &Path) {
    let Some(dir) = target.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".lbc-tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Apply `ops` under `root`, all or nothing: also under SIGINT, SIGTERM and SIGHUP
/// (a critical section), and, through the journal, after a SIGKILL.
pub fn apply(root: &Path, ops: &[Op]) -> Result<(), Error> {
    use std::io::Write;
    let _critical = crate::runner::critical();
    let backup_dir = root
        .join(".lbc/state")
        .join(format!("{BACKUP_PREFIX}{}", std::process::id()));
    fs_err::create_dir_all(&backup_dir).map_err(|e| io(&backup_dir, e))?;
    let state_ignore = root.join(".lbc/state/.gitignore");
    if !state_ignore.exists() {
        crate::state::write_atomic(&state_ignore, b"# lbc's local state; never committed\n*\n")?;
    }
    let journal_path = backup_dir.join(JOURNAL);
    let mut journal = fs_err::File::create(&journal_path).map_err(|e| io(&journal_path, e))?;
    // Test hooks: fail, or pause (to be sent a signal), after N operations, to prove
    // that nothing is left half-done.
    let after =
        |var: &str| -> Option<usize> { std::env::var(var).ok().and_then(|v| v.parse().ok()) };
    let fail_after = after("LBC_UPGRADE_FAIL_AFTER");
    let pause_after = after("LBC_UPGRADE_PAUSE_AFTER");
    let mut entries: Vec<Entry> = Vec::new();
    let mut note = |e: Entry, entries: &mut Vec<Entry>| -> Result<(), Error> {
        journal
            .write_all(e.line().as_bytes())
            .and_then(|()| journal.flush())
            .map_err(|err| io(&journal_path, err))?;
        entries.push(e);
        Ok(())
    };
    let result = (|| -> Result<(), Error> {
        for (n, op) in ops.iter().enumerate() {
            if pause_after == Some(n) {
                crate::ui::info(&format!("LBC_UPGRADE_PAUSE_AFTER={n}: pausing"));
                crate::runner::sleep(std::time::Duration::from_secs(30))?;
            }
            crate::runner::check_interrupt()?;
            if fail_after == Some(n) {
                return Err(Error::failed(
                    format!("LBC_UPGRADE_FAIL_AFTER={n}: stopping the upgrade on purpose"),
                    None,
                ));
            }
            let path = root.join(op.path());
            let mode = if path.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let b = backup_dir.join(format!("{n}"));
                fs_err::copy(&path, &b).map_err(|e| io(&path, e))?;
                let mode = fs_err::metadata(&path)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .map_err(|e| io(&path, e))?;
                note(
                    Entry::Saved {
                        n,
                        mode,
                        path: op.path().to_owned(),
                    },
                    &mut entries,
                )?;
                Some(mode)
            } else {
                note(
                    Entry::New {
                        path: op.path().to_owned(),
                    },
                    &mut entries,
                )?;
                None
            };
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
                        for d in missing.iter().rev() {
                            if let Ok(rel) = d.strip_prefix(root) {
                                note(
                                    Entry::Dir {
                                        path: rel.to_string_lossy().into_owned(),
                                    },
                                    &mut entries,
                                )?;
                            }
                        }
                        fs_err::create_dir_all(parent).map_err(|e| io(parent, e))?;
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
        undo(root, &backup_dir, &entries);
        let _ = fs_err::remove_dir_all(&backup_dir);
        return Err(e);
    }
    fs_err::remove_dir_all(&backup_dir).map_err(|e| io(&backup_dir, e))?;
    Ok(())
}

/// A backup left by an upgrade that was killed (SIGKILL, a crash, a power cut).
#[derive(Debug, Clone)]
pub struct Leftover {
    pub dir: PathBuf,
    pub pid: i32,
    /// The files it had touched, newest last.
    pub paths: Vec<String>,
}

/// Backups under `.lbc/state/` whose writer is gone.
pub fn leftovers(root: &Path) -> Vec<Leftover> {
    let state = root.join(".lbc/state");
    let Ok(entries) = std::fs::read_dir(&state) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(BACKUP_PREFIX)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if crate::runner::process_alive(pid) && pid != std::process::id() as i32 {
            continue;
        }
        let journal = std::fs::read_to_string(e.path().join(JOURNAL)).unwrap_or_default();
        let paths = journal
            .lines()
            .filter_map(Entry::parse)
            .filter_map(|en| match en {
                Entry::Saved { path, .. } | Entry::New { path } => Some(path),
                Entry::Dir { .. } => None,
            })
            .collect();
        out.push(Leftover {
            dir: e.path(),
            pid,
            paths,
        });
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// Undo what a killed upgrade did (from its journal), then remove its backup.
pub fn recover(root: &Path, left: &Leftover) -> Result<(), Error> {
    let _critical = crate::runner::critical();
    let journal = fs_err::read_to_string(left.dir.join(JOURNAL)).unwrap_or_default();
    let entries: Vec<Entry> = journal.lines().filter_map(Entry::parse).collect();
    undo(root, &left.dir, &entries);
    fs_err::remove_dir_all(&left.dir).map_err(|e| io(&left.dir, e))
}

/// Keep the tree as the killed upgrade left it: remove its backup and stray temporary
/// files.
pub fn discard(root: &Path, left: &Leftover) -> Result<(), Error> {
    for p in &left.paths {
        remove_strays(&root.join(p));
    }
    fs_err::remove_dir_all(&left.dir).map_err(|e| io(&left.dir, e))
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
        std::env::set_var("LBC_UPGRADE_FAIL_AFTER", "2");
        let err = apply(root, &ops);
        std::env::remove_var("LBC_UPGRADE_FAIL_AFTER");
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
        apply(root, &ops).unwrap();
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

    /// Issue #9: the journal of a killed upgrade lets the next run put everything back.
    #[test]
    fn a_killed_upgrade_is_recovered_from_its_journal() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a"), "old a").unwrap();
        std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        // What a run killed after two operations leaves: a journal, a backup, the new
        // bytes of `a`, a new file in a new directory, a stray temporary file.
        let backup = root.join(".lbc/state/upgrade-backup-999999999");
        std::fs::create_dir_all(&backup).unwrap();
        std::fs::copy(root.join("a"), backup.join("0")).unwrap();
        let journal = [
            Entry::Saved {
                n: 0,
                mode: 0o600,
                path: "a".into(),
            },
            Entry::New { path: "d/c".into() },
            Entry::Dir { path: "d".into() },
        ];
        let text: String = journal.iter().map(Entry::line).collect();
        std::fs::write(backup.join(JOURNAL), text).unwrap();
        std::fs::write(root.join("a"), "new a").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/c"), "c").unwrap();
        std::fs::write(root.join(".lbc-tmp-x"), "half").unwrap();
        let left = leftovers(root);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].pid, 999_999_999);
        assert_eq!(left[0].paths, vec!["a".to_owned(), "d/c".to_owned()]);
        recover(root, &left[0]).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "old a");
        assert_eq!(
            std::fs::metadata(root.join("a"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert!(!root.join("d").exists());
        assert!(!root.join(".lbc-tmp-x").exists());
        assert!(!backup.exists());
        assert!(leftovers(root).is_empty());
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
        apply(root, &ops).unwrap();
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
