//! Applying an upgrade all or nothing, with lbc's one transactional writer
//! ([`crate::transaction`]) staging under `.lbc/state/`: on any error (or an interrupt)
//! every touched path is restored and files the upgrade created are removed, so the
//! repository is as it was; after a SIGKILL, the next run names the leftovers and
//! `lbc upgrade --recover`/`--discard` undo or keep them (issue #9).

use std::path::Path;

use crate::error::Error;
use crate::fsutil::io_err as io;
use crate::transaction::{self, Change, Hooks, Leftover, Staging};
use crate::upgrade::files::FileData;

/// One operation on the repository.
#[derive(Debug, Clone)]
pub enum Op {
    Write(String, FileData),
    Delete(String),
}

/// The prefix of an upgrade's staging directory (its backup) under `.lbc/state/`.
pub const BACKUP_PREFIX: &str = "upgrade-backup-";

fn staging(state: &Path) -> Staging<'_> {
    Staging {
        dir: state,
        prefix: BACKUP_PREFIX,
    }
}

/// Apply `ops` under `root`, all or nothing (see [`crate::transaction`]); the staging
/// directory is under `.lbc/state/`. `hooks` are the test hooks of the settings
/// (`LBC_UPGRADE_FAIL_AFTER`, `LBC_UPGRADE_PAUSE_AFTER`).
pub fn apply(root: &Path, ops: &[Op], hooks: Hooks) -> Result<(), Error> {
    let state = root.join(".lbc/state");
    fs_err::create_dir_all(&state).map_err(|e| io(&state, e))?;
    let state_ignore = state.join(".gitignore");
    if !state_ignore.exists() {
        crate::state::write_atomic(&state_ignore, b"# lbc's local state; never committed\n*\n")?;
    }
    let changes: Vec<Change> = ops
        .iter()
        .map(|op| match op {
            Op::Write(path, data) => Change::File {
                path,
                bytes: &data.bytes,
                executable: data.executable,
            },
            Op::Delete(path) => Change::Delete { path },
        })
        .collect();
    transaction::apply(root, &changes, staging(&state), hooks)
}

/// Backups under `.lbc/state/` of upgrades that were killed.
pub fn leftovers(root: &Path) -> Vec<Leftover> {
    transaction::leftovers(staging(&root.join(".lbc/state")))
}

/// Undo what a killed upgrade did, then remove its backup.
pub fn recover(root: &Path, left: &Leftover) -> Result<(), Error> {
    transaction::recover(root, left)
}

/// Keep the tree as the killed upgrade left it: remove its backup.
pub fn discard(left: &Leftover) -> Result<(), Error> {
    transaction::discard(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

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
        let fail = Hooks {
            verb: "upgrade",
            fail_after: Some(2),
            pause_after: None,
        };
        let err = apply(root, &ops, fail);
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
        apply(root, &ops, Hooks::default()).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "new a");
        assert!(!root.join("b").exists());
        assert_eq!(
            std::fs::read_to_string(root.join("deep/new/c")).unwrap(),
            "c"
        );
        let mode = |p: &str| mode(&root.join(p));
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
        apply(root, &ops, Hooks::default()).unwrap();
        let mode = |p: &str| mode(&root.join(p));
        assert_eq!(mode("group"), 0o664);
        assert_eq!(mode("run.sh"), 0o755);
    }
}
