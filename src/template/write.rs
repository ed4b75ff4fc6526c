//! Putting rendered files in place, safely:
//! - compare with the destination first (create, overwrite, unchanged), refusing to
//!   write through a symbolic link or over a directory;
//! - write everything into a temporary directory next to the destination, then move
//!   into place: a new directory is one rename; into an existing one, file by file, with
//!   the files it replaces kept aside and put back if a move fails. Nothing is left
//!   half-written by an error.

use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::fsutil::io_err;
use crate::template::render::{OutContent, OutFile};
use crate::transaction::{self, Change};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Overwrite,
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Overwrite => "overwrite",
            Action::Unchanged => "unchanged",
        }
    }
}

/// What will happen to one file.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub path: String,
    pub action: Action,
    pub bytes: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Entries of `dir` that make it "not empty" (`.git` alone does not count), sorted.
pub fn existing_entries(dir: &Path) -> Result<Vec<String>, Error> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(Error::usage(
            format!("{} exists and is not a directory", dir.display()),
            None,
        ));
    }
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".git")
        .collect();
    names.sort();
    Ok(names)
}

/// Compare the files with what `dest` holds.
pub fn compare(dest: &Path, files: &[OutFile]) -> Result<Vec<Planned>, Error> {
    let mut out = Vec::new();
    for f in files {
        // No existing parent may be a link (writing through it could leave `dest`) or a file.
        let comps: Vec<&str> = f.path.split('/').collect();
        let mut here = dest.to_owned();
        for c in &comps[..comps.len() - 1] {
            here.push(c);
            match fs_err::symlink_metadata(&here) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::usage(
                        format!(
                            "{} is a symbolic link: lbc will not write through it",
                            here.display()
                        ),
                        Some("remove the link, or generate into another directory".into()),
                    ))
                }
                Ok(m) if !m.is_dir() => {
                    return Err(Error::usage(
                        format!(
                            "{} is a file, and the template needs a directory there ({})",
                            here.display(),
                            f.path
                        ),
                        Some("move it away, or generate into another directory".into()),
                    ))
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let target = dest.join(&f.path);
        let action = match fs_err::symlink_metadata(&target) {
            Err(_) => Action::Create,
            Ok(m) if m.file_type().is_symlink() => {
                let same = matches!(&f.content, OutContent::Link { target: t }
                    if fs_err::read_link(&target).map(|x| x == Path::new(t)).unwrap_or(false));
                if same {
                    Action::Unchanged
                } else {
                    return Err(Error::usage(
                        format!(
                            "{} is a symbolic link: lbc will not write through it",
                            target.display()
                        ),
                        Some("remove the link, or generate into another directory".into()),
                    ));
                }
            }
            Ok(m) if m.is_dir() => {
                return Err(Error::usage(
                    format!(
                        "{} is a directory, and the template generates a file there",
                        target.display()
                    ),
                    Some("move it away, or generate into another directory".into()),
                ))
            }
            Ok(m) => match &f.content {
                OutContent::File { bytes, executable } => {
                    use std::os::unix::fs::PermissionsExt;
                    let exec_now = m.permissions().mode() & 0o111 != 0;
                    let current = fs_err::read(&target).map_err(|e| io_err(&target, e))?;
                    if &current == bytes && exec_now == *executable {
                        Action::Unchanged
                    } else {
                        Action::Overwrite
                    }
                }
                OutContent::Link { .. } => Action::Overwrite,
            },
        };
        let (executable, link) = match &f.content {
            OutContent::File { executable, .. } => (*executable, None),
            OutContent::Link { target } => (false, Some(target.clone())),
        };
        out.push(Planned {
            path: f.path.clone(),
            action,
            bytes: f.content.len(),
            executable,
            link,
        });
    }
    Ok(out)
}

/// A rendered file as a change of the one transactional writer.
fn change(f: &OutFile) -> Change<'_> {
    match &f.content {
        OutContent::File { bytes, executable } => Change::File {
            path: &f.path,
            bytes,
            executable: *executable,
        },
        OutContent::Link { target } => Change::Link {
            path: &f.path,
            target,
        },
    }
}

/// The prefix of `lbc init`'s staging directories (inside or next to the destination).
const STAGE_PREFIX: &str = ".lbc-init-";

/// Undo what a killed `lbc init` left in `dir` (issue #9): staging directories whose
/// writer is gone are rolled back from their journal (files it had moved in are
/// removed, files it had replaced are put back) and deleted. Returns what was undone,
/// for a warning.
pub fn recover_interrupted(dir: &Path) -> Result<Vec<String>, Error> {
    let mut undone = Vec::new();
    let staging = transaction::Staging {
        dir,
        prefix: STAGE_PREFIX,
    };
    for left in transaction::leftovers(staging) {
        transaction::recover(dir, &left)?;
        undone.extend(left.paths.iter().map(|p| format!("undid {p}")));
        let name = left.dir.file_name().unwrap_or_default().to_string_lossy();
        undone.push(format!("deleted {name} (pid {})", left.pid));
    }
    Ok(undone)
}

/// Write `files` into `dest` as planned (files planned `unchanged` are not touched):
/// all or nothing, also under SIGINT, SIGTERM and SIGHUP; after a SIGKILL the next
/// `lbc init` undoes the leftovers ([`recover_interrupted`]). `hooks`: the settings'
/// test hooks (`LBC_INIT_PAUSE_AFTER`).
pub fn apply(
    dest: &Path,
    files: &[OutFile],
    planned: &[Planned],
    hooks: transaction::Hooks,
) -> Result<(), Error> {
    let todo: Vec<Change> = files
        .iter()
        .zip(planned)
        .filter(|(_, p)| p.action != Action::Unchanged)
        .map(|(f, _)| change(f))
        .collect();
    if !dest.exists() {
        // A new directory: stage next to it, then one rename.
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        let staging = transaction::Staging {
            dir: parent,
            prefix: STAGE_PREFIX,
        };
        return transaction::create(dest, &todo, staging, hooks);
    }
    // An existing directory: stage inside it (same file system), then move file by file.
    let staging = transaction::Staging {
        dir: dest,
        prefix: STAGE_PREFIX,
    };
    transaction::apply(dest, &todo, staging, hooks)
}
