//! Putting rendered files in place, safely:
//! - compare with the destination first (create, overwrite, unchanged), refusing to
//!   write through a symbolic link or over a directory;
//! - write everything into a temporary directory next to the destination, then move
//!   into place: a new directory is one rename; into an existing one, file by file, with
//!   the files it replaces kept aside and put back if a move fails. Nothing is left
//!   half-written by an error.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::template::render::{OutContent, OutFile};

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

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(e.kind(), e.to_string()),
    }
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

fn write_one(root: &Path, f: &OutFile) -> Result<(), Error> {
    let path = root.join(&f.path);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    match &f.content {
        OutContent::File { bytes, executable } => {
            fs_err::write(&path, bytes).map_err(|e| io_err(&path, e))?;
            if *executable {
                // Like `chmod +x` under the umask: execute wherever read is allowed.
                use std::os::unix::fs::PermissionsExt;
                let mode = fs_err::metadata(&path)
                    .map_err(|e| io_err(&path, e))?
                    .permissions()
                    .mode();
                fs_err::set_permissions(
                    &path,
                    std::fs::Permissions::from_mode(mode | ((mode & 0o444) >> 2)),
                )
                .map_err(|e| io_err(&path, e))?;
            }
        }
        OutContent::Link { target } => {
            std::os::unix::fs::symlink(target, &path).map_err(|e| io_err(&path, e))?;
        }
    }
    Ok(())
}

/// The prefix of lbc's staging directories (inside or next to the destination).
const STAGE_PREFIX: &str = ".lbc-init-";

/// A staging directory: the pid of its writer (so that the next run can tell a live
/// one from the leftovers of a killed one), and for writes into an existing directory
/// a journal of every move, written before the move (`new PATH` / `saved PATH`).
fn stage_in(dir: &Path) -> Result<tempfile::TempDir, Error> {
    let stage = tempfile::Builder::new()
        .prefix(STAGE_PREFIX)
        .tempdir_in(dir)
        .map_err(|e| io_err(dir, e))?;
    let pid = stage.path().join("pid");
    fs_err::write(&pid, std::process::id().to_string()).map_err(|e| io_err(&pid, e))?;
    Ok(stage)
}

/// Undo what a killed `lbc init` left in `dir` (issue #9): staging directories whose
/// writer is gone are rolled back from their journal (files it had moved in are
/// removed, files it had replaced are put back) and deleted. Returns what was undone,
/// for a warning.
pub fn recover_interrupted(dir: &Path) -> Result<Vec<String>, Error> {
    let mut undone = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(undone);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(STAGE_PREFIX) || !e.path().is_dir() {
            continue;
        }
        let stage = e.path();
        let pid: i32 = std::fs::read_to_string(stage.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        if pid == 0 || crate::runner::process_alive(pid) {
            continue;
        }
        let journal = std::fs::read_to_string(stage.join("journal")).unwrap_or_default();
        let mut dirs = Vec::new();
        for line in journal.lines().rev() {
            let Some((kind, path)) = line.split_once('\t') else {
                continue;
            };
            let target = dir.join(path);
            match kind {
                "new" => {
                    let _ = fs_err::remove_file(&target);
                    undone.push(format!("removed {path}"));
                }
                "saved" => {
                    let saved = stage.join("backup").join(path);
                    if fs_err::symlink_metadata(&saved).is_ok() {
                        let _ = fs_err::remove_file(&target);
                        let _ = fs_err::rename(&saved, &target);
                        undone.push(format!("restored {path}"));
                    }
                }
                "dir" => dirs.push(target),
                _ => {}
            }
        }
        for d in dirs {
            let _ = fs_err::remove_dir(&d);
        }
        fs_err::remove_dir_all(&stage).map_err(|e| io_err(&stage, e))?;
        undone.push(format!("deleted {name} (pid {pid})"));
    }
    Ok(undone)
}

/// Write `files` into `dest` as planned (files planned `unchanged` are not touched):
/// all or nothing, also under SIGINT, SIGTERM and SIGHUP; after a SIGKILL the next
/// `lbc init` undoes the leftovers ([`recover_interrupted`]).
pub fn apply(dest: &Path, files: &[OutFile], planned: &[Planned]) -> Result<(), Error> {
    use std::io::Write;
    let _critical = crate::runner::critical();
    let pause_after: Option<usize> = std::env::var("LBC_INIT_PAUSE_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let todo: Vec<&OutFile> = files
        .iter()
        .zip(planned)
        .filter(|(_, p)| p.action != Action::Unchanged)
        .map(|(f, _)| f)
        .collect();
    if !dest.exists() {
        // A new directory: stage next to it, then one rename.
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        let stage = stage_in(parent)?;
        let tree = stage.path().join("tree");
        fs_err::create_dir(&tree).map_err(|e| io_err(&tree, e))?;
        for (n, f) in todo.iter().enumerate() {
            if pause_after == Some(n) {
                crate::ui::info(&format!("LBC_INIT_PAUSE_AFTER={n}: pausing"));
                crate::runner::sleep(std::time::Duration::from_secs(30))?;
            }
            crate::runner::check_interrupt()?;
            write_one(&tree, f)?;
        }
        crate::runner::check_interrupt()?;
        fs_err::rename(&tree, dest).map_err(|e| io_err(dest, e))?;
        return Ok(());
    }
    // An existing directory: stage inside it (same filesystem), then move file by file.
    let stage = stage_in(dest)?;
    let tree = stage.path().join("tree");
    let backup = stage.path().join("backup");
    for f in &todo {
        crate::runner::check_interrupt()?;
        write_one(&tree, f)?;
    }
    let journal_path = stage.path().join("journal");
    let mut journal = fs_err::File::create(&journal_path).map_err(|e| io_err(&journal_path, e))?;
    let mut note = |kind: &str, path: &Path| -> Result<(), Error> {
        let rel = path.strip_prefix(dest).unwrap_or(path);
        journal
            .write_all(format!("{kind}\t{}\n", rel.display()).as_bytes())
            .and_then(|()| journal.flush())
            .map_err(|e| io_err(&journal_path, e))
    };
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), Error> {
        for (n, f) in todo.iter().enumerate() {
            if pause_after == Some(n) {
                crate::ui::info(&format!("LBC_INIT_PAUSE_AFTER={n}: pausing"));
                crate::runner::sleep(std::time::Duration::from_secs(30))?;
            }
            crate::runner::check_interrupt()?;
            let target = dest.join(&f.path);
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
                note("dir", d)?;
            }
            fs_err::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
            made_dirs.extend(missing.into_iter().rev());
            let exists = fs_err::symlink_metadata(&target).is_ok();
            note(if exists { "saved" } else { "new" }, &target)?;
            let saved = if exists {
                let b = backup.join(&f.path);
                fs_err::create_dir_all(b.parent().expect("has a parent"))
                    .map_err(|e| io_err(&b, e))?;
                fs_err::rename(&target, &b).map_err(|e| io_err(&target, e))?;
                Some(b)
            } else {
                None
            };
            let staged = tree.join(&f.path);
            if let Err(e) = fs_err::rename(&staged, &target) {
                if let Some(b) = &saved {
                    let _ = fs_err::rename(b, &target);
                }
                return Err(io_err(&target, e));
            }
            done.push((target, saved));
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (target, saved) in done.iter().rev() {
            let _ = fs_err::remove_file(target);
            if let Some(b) = saved {
                let _ = fs_err::rename(b, target);
            }
        }
        for d in made_dirs.iter().rev() {
            let _ = fs_err::remove_dir(d);
        }
        return Err(e);
    }
    Ok(())
}
