//! What lbc records between runs, under `.lbc/state/` in the project (git-ignored by a
//! `.gitignore` of its own): the builds, so that later verbs use exactly what was built.
//! Every write goes to a temporary file first and is renamed into place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsutil::io_err as io;

pub const DIR: &str = ".lbc/state";
const BUILDS: &str = "builds.json";
const KEEP: usize = 20;

/// One recorded build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BuildRecord {
    /// `repository:tag`, the reference deploys use.
    pub image: String,
    pub repository: String,
    pub tag: String,
    /// Every reference the image was tagged with.
    pub tags: Vec<String>,
    /// The local image ID (`sha256:...`).
    pub image_id: String,
    /// The registry digest (`sha256:...`), once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Hash of everything that went into the build.
    pub inputs_hash: String,
    /// Full commit SHA, when built from a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// RFC 3339 time of the build.
    pub created: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Builds {
    /// Newest first.
    #[serde(default)]
    pub builds: Vec<BuildRecord>,
}

fn state_dir(root: &Path) -> PathBuf {
    root.join(DIR)
}

impl Builds {
    pub fn load(root: &Path) -> Result<Self, Error> {
        let path = state_dir(root).join(BUILDS);
        match fs_err::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::failed(
                    format!("{} is damaged: {e}", path.display()),
                    Some(format!(
                        "delete it (lbc only loses its memory of earlier builds): rm {}",
                        path.display()
                    )),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Builds::default()),
            Err(e) => Err(crate::fsutil::io_err(&path, e)),
        }
    }

    pub fn last(&self) -> Option<&BuildRecord> {
        self.builds.first()
    }

    pub fn by_inputs(&self, hash: &str) -> Option<&BuildRecord> {
        self.builds.iter().find(|b| b.inputs_hash == hash)
    }

    pub fn by_tag(&self, tag: &str) -> Option<&BuildRecord> {
        self.builds.iter().find(|b| b.tag == tag)
    }

    /// Add a build as the newest, keeping the last few.
    pub fn record(&mut self, rec: BuildRecord) {
        self.builds.retain(|b| b.image != rec.image);
        self.builds.insert(0, rec);
        self.builds.truncate(KEEP);
    }

    pub fn save(&self, root: &Path) -> Result<(), Error> {
        let dir = state_dir(root);
        ensure_dir(&dir)?;
        let text = serde_json::to_string_pretty(self).expect("serializable");
        write_atomic(&dir.join(BUILDS), text.as_bytes())
    }
}

/// Read a JSON file of the state directory; `None` when it does not exist.
pub fn load_json<T: serde::de::DeserializeOwned>(
    root: &Path,
    file: &str,
) -> Result<Option<T>, Error> {
    let path = state_dir(root).join(file);
    match fs_err::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::failed(
                format!("{} is damaged: {e}", path.display()),
                Some(format!("delete it: rm {}", path.display())),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, e)),
    }
}

/// Write a JSON file of the state directory, atomically.
pub fn save_json<T: Serialize>(root: &Path, file: &str, value: &T) -> Result<(), Error> {
    let dir = state_dir(root);
    ensure_dir(&dir)?;
    let text = serde_json::to_string_pretty(value).expect("serializable");
    write_atomic(&dir.join(file), text.as_bytes())
}

pub fn ensure_dir(dir: &Path) -> Result<(), Error> {
    if !dir.is_dir() {
        fs_err::create_dir_all(dir).map_err(|e| io(dir, e))?;
        write_atomic(
            &dir.join(".gitignore"),
            b"# lbc's local state; never committed\n*\n",
        )?;
    }
    Ok(())
}

/// Write a file by writing a temporary sibling and renaming it over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_mode(path, bytes, None)
}

/// [`write_atomic`] for a file only its owner may read (0600 from its first byte on):
/// credentials.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_mode(path, bytes, Some(0o600))
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".lbc-tmp-");
    if let Some(m) = mode {
        builder.permissions(std::fs::Permissions::from_mode(m));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| io(path, e))?;
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    Ok(())
}

/// Now, as RFC 3339 UTC (`2026-11-22T04:15:46Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Seconds since the epoch as RFC 3339 UTC (times before 1970 read as 1970).
pub fn rfc3339(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_328_146), "2026-11-22T06:15:46Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
