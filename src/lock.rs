//! One lock per project and environment (issue #9): `deploy`, `destroy`, `rollback` and
//! `promote` hold `.lbc/state/lock-env-ENV`, `upgrade` holds `.lbc/state/lock-upgrade`,
//! so that two runs never interleave their steps (two `lbc deploy local` at once used to
//! remove each other's container and leave none running).
//!
//! The lock is an advisory `flock(2)` on the file: the kernel releases it when the
//! process ends, however it ends (even SIGKILL), so a stale lock cannot exist; the
//! file's text (pid, verb, time) only says who holds it. A second run waits, printing
//! who holds the lock; with `--no-wait-lock` it fails at once with exit code 8.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;
use crate::{runner, state, ui};

/// A held lock; released when dropped (or when the process ends).
pub struct Lock {
    _file: Option<Flock<std::fs::File>>,
    pub path: PathBuf,
}

/// The lock file of `what` (`env-local`, `upgrade`) in the project at `root`.
pub fn path(root: &Path, what: &str) -> PathBuf {
    root.join(state::DIR).join(format!("lock-{what}"))
}

/// Take the lock of `what` for `verb` (`deploy local`), waiting for another lbc that
/// holds it unless `wait` is false.
pub fn acquire(root: &Path, what: &str, verb: &str, wait: bool) -> Result<Lock, Error> {
    let dir = root.join(state::DIR);
    let path = path(root, what);
    // A read-only checkout cannot hold a lock file: go on without one, and say so.
    let unlockable = |e: &std::io::Error| {
        e.raw_os_error() == Some(nix::errno::Errno::EROFS as i32)
            || e.kind() == std::io::ErrorKind::PermissionDenied
    };
    if let Err(e) = fs_err::create_dir_all(&dir) {
        if unlockable(&e) {
            ui::warn(&format!(
                "cannot create {} ({e}): running without the lock that keeps two lbc runs apart",
                dir.display()
            ));
            return Ok(Lock { _file: None, path });
        }
    }
    state::ensure_dir(&dir)?;
    let io = |e: std::io::Error| Error::Io {
        path: path.clone(),
        source: e,
    };
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
    };
    let mut announced = false;
    let mut file = match open() {
        Ok(f) => f,
        Err(e) if unlockable(&e) => {
            ui::warn(&format!(
                "cannot open {} ({e}): running without the lock that keeps two lbc runs apart",
                path.display()
            ));
            return Ok(Lock { _file: None, path });
        }
        Err(e) => return Err(io(e)),
    };
    let mut locked = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => break l,
            Err((f, nix::errno::Errno::EWOULDBLOCK)) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another lbc".to_owned()
                } else {
                    format!("another lbc ({holder})")
                };
                if !wait {
                    return Err(Error::Locked {
                        message: format!("{who} holds the lock {}", path.display()),
                        hint: "wait for it to finish, or run again without --no-wait-lock to wait"
                            .into(),
                    });
                }
                if !announced {
                    ui::warn(&format!(
                        "waiting for {who} to finish: it holds {} (Ctrl-C to give up; --no-wait-lock fails at once instead)",
                        path.display()
                    ));
                    announced = true;
                }
                runner::sleep(Duration::from_millis(200))?;
                file = f;
            }
            Err((_, e)) => return Err(io(std::io::Error::from(e))),
        }
    };
    // Who holds it, for the message of the next run that waits.
    let _ = locked.set_len(0);
    let _ = locked.rewind();
    let _ = writeln!(
        *locked,
        "pid {}, `lbc {verb}`, since {}",
        std::process::id(),
        state::now_rfc3339()
    );
    let _ = locked.flush();
    Ok(Lock {
        _file: Some(locked),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #9: a second holder is refused without waiting, and gets the lock once the
    /// first is dropped.
    #[test]
    fn second_holder_is_refused_then_served() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "env-local", "deploy local", false).unwrap();
        let err = match acquire(dir.path(), "env-local", "deploy local", false) {
            Err(e) => e,
            Ok(_) => panic!("two holders of one lock"),
        };
        assert_eq!(err.exit_code(), crate::error::code::LOCKED);
        assert!(err.to_string().contains("deploy local"), "{err}");
        // Another environment has its own lock.
        let other = acquire(dir.path(), "env-staging", "deploy staging", false).unwrap();
        drop(first);
        acquire(dir.path(), "env-local", "deploy local", false).unwrap();
        drop(other);
    }
}
