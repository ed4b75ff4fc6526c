//! The one transactional writer of lbc (`lbc init` into an existing directory, `lbc
//! upgrade`): every new file is written to a staging directory first (so a write error
//! touches nothing), then moved into place one by one, each file it replaces or deletes
//! kept aside; on any error or an interrupt everything moved is put back, the files it
//! created and the directories it made are removed. Modes of replaced files are kept;
//! the executable bits follow the data. The moves happen in a critical section (SIGINT,
//! SIGTERM and SIGHUP roll back too) and each is journalled before it is made, so that
//! what a SIGKILL interrupted is undone by the next run (issue #9: `lbc upgrade
//! --recover`/`--discard`; `lbc init` undoes it itself).

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

/// The test hooks of a writer, read by the settings (`LBC_UPGRADE_FAIL_AFTER`,
/// `LBC_UPGRADE_PAUSE_AFTER`, `LBC_INIT_PAUSE_AFTER`): fail on purpose, or pause (to be
/// sent a signal), before change N, to prove that nothing is left half-done.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hooks {
    /// `upgrade` or `init`: names the hook in its messages.
    pub verb: &'static str,
    pub fail_after: Option<usize>,
    pub pause_after: Option<usize>,
}

impl Hooks {
    fn before(&self, n: usize) -> Result<(), Error> {
        let var = self.verb.to_uppercase();
        if self.pause_after == Some(n) {
            crate::ui::info(&format!("LBC_{var}_PAUSE_AFTER={n}: pausing"));
            crate::runner::sleep(std::time::Duration::from_secs(30))?;
        }
        crate::runner::check_interrupt()?;
        if self.fail_after == Some(n) {
            return Err(Error::failed(
                format!(
                    "LBC_{var}_FAIL_AFTER={n}: stopping the {} on purpose",
                    self.verb
                ),
                None,
            ));
        }
        Ok(())
    }
}

/// Where a writer stages: a directory named `PREFIXPID-...` in `dir` (on the same file
/// system as the root), holding the writer's pid (so that the next run tells a live
/// writer from the leftovers of a killed one), the staged tree, the files it replaced
/// and the journal.
#[derive(Debug, Clone, Copy)]
pub struct Staging<'a> {
    pub dir: &'a Path,
    pub prefix: &'a str,
}

const PID: &str = "pid";
const JOURNAL: &str = "journal";
const BACKUP: &str = "backup";
const TREE: &str = "tree";

fn make_stage(s: Staging) -> Result<tempfile::TempDir, Error> {
    let stage = tempfile::Builder::new()
        .prefix(&format!("{}{}-", s.prefix, std::process::id()))
        .tempdir_in(s.dir)
        .map_err(|e| io_err(s.dir, e))?;
    let pid = stage.path().join(PID);
    fs_err::write(&pid, std::process::id().to_string()).map_err(|e| io_err(&pid, e))?;
    Ok(stage)
}

/// One entry of the journal, written (and flushed) before the move it announces, so
/// that a run killed with SIGKILL can be undone by the next one (issue #9).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `path` existed; it is moved to `backup/N`.
    Saved { n: usize, path: String },
    /// `path` did not exist: the writer creates it.
    New { path: String },
    /// The directory `path` did not exist: the writer creates it.
    Dir { path: String },
}

impl Entry {
    fn line(&self) -> String {
        match self {
            Entry::Saved { n, path } => format!("saved\t{n}\t{path}\n"),
            Entry::New { path } => format!("new\t{path}\n"),
            Entry::Dir { path } => format!("dir\t{path}\n"),
        }
    }

    fn parse(line: &str) -> Option<Entry> {
        let (kind, rest) = line.split_once('\t')?;
        match kind {
            "saved" => {
                let (n, path) = rest.split_once('\t')?;
                Some(Entry::Saved {
                    n: n.parse().ok()?,
                    path: path.to_owned(),
                })
            }
            "new" => Some(Entry::New {
                path: rest.to_owned(),
            }),
            "dir" => Some(Entry::Dir {
                path: rest.to_owned(),
            }),
            _ => None,
        }
    }
}

struct Journal {
    path: PathBuf,
    file: fs_err::File,
    entries: Vec<Entry>,
}

impl Journal {
    fn create(path: PathBuf) -> Result<Self, Error> {
        let file = fs_err::File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(Journal {
            path,
            file,
            entries: Vec::new(),
        })
    }

    fn note(&mut self, e: Entry) -> Result<(), Error> {
        use std::io::Write;
        self.file
            .write_all(e.line().as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|err| io_err(&self.path, err))?;
        self.entries.push(e);
        Ok(())
    }
}

fn read_journal(stage: &Path) -> Vec<Entry> {
    std::fs::read_to_string(stage.join(JOURNAL))
        .unwrap_or_default()
        .lines()
        .filter_map(Entry::parse)
        .collect()
}

/// Put back what the journal says, newest first: a replaced or deleted path gets back
/// what was moved aside (if it was), a created one goes, created directories go when
/// empty. Best effort: it runs after a failure, or for a writer that was killed.
fn undo(root: &Path, backup: &Path, entries: &[Entry]) {
    let mut dirs = Vec::new();
    for e in entries.iter().rev() {
        match e {
            Entry::Saved { n, path } => {
                let saved = backup.join(n.to_string());
                if fs_err::symlink_metadata(&saved).is_ok() {
                    let target = root.join(path);
                    let _ = fs_err::remove_file(&target);
                    let _ = fs_err::rename(&saved, &target);
                }
            }
            Entry::New { path } => {
                let _ = fs_err::remove_file(root.join(path));
            }
            Entry::Dir { path } => dirs.push(root.join(path)),
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = fs_err::remove_dir(&d);
    }
}

/// Apply `changes` under `root`, all or nothing: on an error, and on SIGINT, SIGTERM
/// or SIGHUP (a critical section: the signal is noticed between two changes), every
/// change made is undone; after a SIGKILL, the journal lets the next run undo them
/// ([`leftovers`], [`recover`]).
pub fn apply(root: &Path, changes: &[Change], staging: Staging, hooks: Hooks) -> Result<(), Error> {
    let _critical = crate::runner::critical();
    let stage = make_stage(staging)?;
    let tree = stage.path().join(TREE);
    let backup = stage.path().join(BACKUP);
    fs_err::create_dir_all(&backup).map_err(|e| io_err(&backup, e))?;
    for c in changes {
        crate::runner::check_interrupt()?;
        write_staged(&tree, c)?;
    }
    let mut journal = Journal::create(stage.path().join(JOURNAL))?;
    let result = (|| -> Result<(), Error> {
        for (n, change) in changes.iter().enumerate() {
            hooks.before(n)?;
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
            for d in missing.iter().rev() {
                if let Ok(rel) = d.strip_prefix(root) {
                    journal.note(Entry::Dir {
                        path: rel.to_string_lossy().into_owned(),
                    })?;
                }
            }
            fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
            let kept_mode = match &existing {
                Some(m) if m.is_file() => Some(mode_bits(m)),
                _ => None,
            };
            let path = change.path().to_owned();
            if existing.is_some() {
                journal.note(Entry::Saved { n, path })?;
                let b = backup.join(n.to_string());
                fs_err::rename(&target, &b).map_err(|e| io_err(&target, e))?;
            } else {
                journal.note(Entry::New { path })?;
            }
            if let Change::Delete { .. } = change {
                continue;
            }
            let staged = tree.join(change.path());
            fs_err::rename(&staged, &target).map_err(|e| io_err(&target, e))?;
            if let (Change::File { executable, .. }, Some(mode)) = (change, kept_mode) {
                set_mode(&target, mode, *executable)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        undo(root, &backup, &journal.entries);
        return Err(e);
    }
    Ok(())
}

/// Write `changes` as the new directory `dest` (which does not exist yet): staged next
/// to it, then one rename; an interrupt (or a failure) before the rename leaves nothing,
/// a SIGKILL leaves only the staging directory, which [`recover`] deletes.
pub fn create(
    dest: &Path,
    changes: &[Change],
    staging: Staging,
    hooks: Hooks,
) -> Result<(), Error> {
    let _critical = crate::runner::critical();
    let stage = make_stage(staging)?;
    let tree = stage.path().join(TREE);
    fs_err::create_dir(&tree).map_err(|e| io_err(&tree, e))?;
    for (n, c) in changes.iter().enumerate() {
        hooks.before(n)?;
        write_staged(&tree, c)?;
    }
    crate::runner::check_interrupt()?;
    fs_err::rename(&tree, dest).map_err(|e| io_err(dest, e))
}

/// A staging directory left by a writer that was killed (SIGKILL, a crash, a power cut).
#[derive(Debug, Clone)]
pub struct Leftover {
    pub dir: PathBuf,
    pub pid: i32,
    /// The paths it had replaced, deleted or created, oldest first.
    pub paths: Vec<String>,
}

/// The staging directories named `PREFIX...` in `staging.dir` whose writer is gone.
pub fn leftovers(staging: Staging) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(staging.dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(staging.prefix) || !e.path().is_dir() {
            continue;
        }
        // No pid yet: a writer that is starting right now.
        let Some(pid) = std::fs::read_to_string(e.path().join(PID))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            continue;
        };
        if crate::runner::process_alive(pid) && pid != std::process::id() as i32 {
            continue;
        }
        let paths = read_journal(&e.path())
            .into_iter()
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

/// Undo what a killed writer did under `root` (from its journal), then delete its
/// staging directory.
pub fn recover(root: &Path, left: &Leftover) -> Result<(), Error> {
    let _critical = crate::runner::critical();
    undo(root, &left.dir.join(BACKUP), &read_journal(&left.dir));
    fs_err::remove_dir_all(&left.dir).map_err(|e| io_err(&left.dir, e))
}

/// Keep the tree as the killed writer left it: delete its staging directory.
pub fn discard(left: &Leftover) -> Result<(), Error> {
    fs_err::remove_dir_all(&left.dir).map_err(|e| io_err(&left.dir, e))
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
        let staging = Staging {
            dir: root,
            prefix: ".lbc-stage-",
        };
        let fail = Hooks {
            verb: "upgrade",
            fail_after: Some(2),
            pause_after: None,
        };
        assert!(apply(root, &changes, staging, fail).is_err());
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "old");
        assert_eq!(std::fs::read_link(root.join("l")).unwrap(), Path::new("a"));
        assert!(!root.join("d").exists());
        let left: Vec<_> = std::fs::read_dir(root).unwrap().collect();
        assert_eq!(left.len(), 2, "no staging directory left behind");
        apply(root, &changes, staging, Hooks::default()).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "new");
        assert_eq!(std::fs::read_link(root.join("l")).unwrap(), Path::new("b"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(mode & 0o100, 0, "executable bit follows the data");
    }

    /// #9: the journal of a writer killed mid-way lets the next run put everything
    /// back: a replaced file (with its mode), a created file and its new directory.
    #[test]
    fn a_killed_writer_is_undone_from_its_journal() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a"), "old a").unwrap();
        std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        // What a run killed after two changes leaves: `a` moved aside and replaced, a
        // new file in a new directory, and its journal.
        let stage = root.join(".lbc-stage-999999999-x");
        std::fs::create_dir_all(stage.join(BACKUP)).unwrap();
        std::fs::write(stage.join(PID), "999999999").unwrap();
        std::fs::rename(root.join("a"), stage.join(BACKUP).join("0")).unwrap();
        std::fs::write(root.join("a"), "new a").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/c"), "c").unwrap();
        let journal = [
            Entry::Saved {
                n: 0,
                path: "a".into(),
            },
            Entry::Dir { path: "d".into() },
            Entry::New { path: "d/c".into() },
        ];
        let text: String = journal.iter().map(Entry::line).collect();
        std::fs::write(stage.join(JOURNAL), text).unwrap();
        let staging = Staging {
            dir: root,
            prefix: ".lbc-stage-",
        };
        let left = leftovers(staging);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].pid, 999_999_999);
        assert_eq!(left[0].paths, ["a", "d/c"]);
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
        assert!(!stage.exists());
        assert!(leftovers(staging).is_empty());
    }

    /// #9: a live writer's staging directory is not a leftover.
    #[test]
    fn a_live_writer_is_not_a_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging {
            dir: dir.path(),
            prefix: ".lbc-stage-",
        };
        let other = dir.path().join(".lbc-stage-1-x");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(PID), "1").unwrap();
        assert!(
            leftovers(staging).iter().all(|l| l.dir != other),
            "pid 1 is alive"
        );
    }
}
