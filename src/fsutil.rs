//! File-system helpers every module shares: one I/O error type that names the path, a
//! sorted walk of a directory's files, and lbc's private temporary directories.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// An I/O error that names the path it concerns.
pub fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(e.kind(), e.to_string()),
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs_err::read(path).map_err(|e| io_err(path, e))
}

pub fn read_to_string(path: &Path) -> Result<String, Error> {
    fs_err::read_to_string(path).map_err(|e| io_err(path, e))
}

/// Every file under `root` (following no order of the file system), as `/`-separated
/// paths relative to it, sorted.
pub fn files_under(root: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    collect(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    for entry in fs_err::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

/// Permissions of lbc's private temporary directories (rewritten Dockerfiles, docker
/// logins): the owner's only.
pub fn owner_only_dir() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o700)
}

/// A private (owner-only) temporary directory `lbc-NAME-...` for what lbc hands a tool
/// (a rewritten Dockerfile, the `DOCKER_CONFIG` of a `docker login`), and its path. Unless
/// `materialize` (a dry run makes nothing) the path is `$TMPDIR/lbc-NAME-XXXXXX`, for the
/// plan to show, and no directory is returned. The directory goes when it is dropped.
pub fn private_temp_dir(
    name: &str,
    materialize: bool,
) -> Result<(PathBuf, Option<tempfile::TempDir>), Error> {
    if !materialize {
        return Ok((
            std::env::temp_dir().join(format!("lbc-{name}-XXXXXX")),
            None,
        ));
    }
    // The pid in the name lets a later run remove what a killed one left (issue #9).
    let dir = tempfile::Builder::new()
        .prefix(&format!("lbc-{name}-{}-", std::process::id()))
        .permissions(owner_only_dir())
        .tempdir()
        .map_err(|e| io_err(&std::env::temp_dir(), e))?;
    Ok((dir.path().to_owned(), Some(dir)))
}

/// A new file (never over an existing one) with `mode` from its first byte, holding
/// `bytes`: the copies lbc writes into its private temporary directories.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| io_err(path, e);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?
        .write_all(bytes)
        .map_err(io)
}
