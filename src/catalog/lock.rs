//! The catalogue's lock file: the digest each tag of the catalogue pointed at when
//! `lbc catalog lock` asked the registry. It lives beside the catalogue (`catalog.lock`
//! for `catalog.toml`), is committed with it, and builds use its digests until the next
//! `lbc catalog lock` moves them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::image::ImageRef;

pub const HEADER: &str = "# Written by `lbc catalog lock`: the digest each image of the catalogue pointed at\n# when it was locked. lbc builds from these digests until the next `lbc catalog lock`.\n# Commit this file beside the catalogue.\n";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Reference (as the catalogue resolves it) -> `sha256:...`.
    #[serde(default)]
    pub digests: BTreeMap<String, String>,
}

/// Where the lock file of a catalogue file lives.
pub fn path_for(catalog: &Path) -> PathBuf {
    catalog.with_extension("lock")
}

impl Lock {
    pub fn parse(name: &Path, text: &str) -> Result<Lock, Error> {
        let lock: Lock = toml::from_str(text).map_err(|e| Error::Config {
            rendered: crate::config::render_at(name, text, e.span(), e.message().trim()),
            hint: Some(
                "the lock file is written by `lbc catalog lock`: run it again to rewrite it".into(),
            ),
        })?;
        for (k, v) in &lock.digests {
            let ok = ImageRef::parse(k).is_ok() && crate::image::is_digest(v);
            if !ok {
                return Err(Error::Config {
                    rendered: crate::config::render_at(
                        name,
                        text,
                        text.find(k.as_str()).map(|s| s..s + k.len()),
                        &format!("`{k}` = `{v}` is not an image reference and a digest"),
                    ),
                    hint: Some("run `lbc catalog lock` again to rewrite it".into()),
                });
            }
        }
        Ok(lock)
    }

    /// The locked digest of a reference (compared in Docker's normalised form).
    pub fn get(&self, image: &ImageRef) -> Option<&str> {
        if image.digest.is_some() {
            return None;
        }
        let want = image.canonical();
        self.digests.iter().find_map(|(k, v)| {
            ImageRef::parse(k)
                .ok()
                .filter(|r| r.canonical() == want)
                .map(|_| v.as_str())
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str("\n[digests]\n");
        for (k, v) in &self.digests {
            out.push_str(&format!(
                "{} = {}\n",
                toml_edit::Value::from(k.as_str()),
                toml_edit::Value::from(v.as_str())
            ));
        }
        out
    }

    /// Write atomically: a temporary sibling renamed into place.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let io = |e| crate::fsutil::io_err(path, e);
        let mut tmp = tempfile::Builder::new()
            .prefix(".catalog-lock-")
            .tempfile_in(dir)
            .map_err(io)?;
        std::io::Write::write_all(&mut tmp, self.render().as_bytes()).map_err(io)?;
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
                .map_err(io)?;
        }
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lookup_by_normalised_name() {
        // #16: the lock maps the catalogue's tags to digests.
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let mut l = Lock::default();
        l.digests.insert("python:3.11".into(), d.into());
        let text = l.render();
        let back = Lock::parse(Path::new("catalog.lock"), &text).unwrap();
        let r = ImageRef::parse("docker.io/library/python:3.11").unwrap();
        assert_eq!(back.get(&r), Some(d));
        assert_eq!(
            back.get(&r.with_digest(d)),
            None,
            "a pinned reference stays as it is"
        );
        let bad = Lock::parse(
            Path::new("catalog.lock"),
            "[digests]\n\"python:3\" = \"nope\"\n",
        );
        assert_eq!(bad.unwrap_err().exit_code(), 2);
    }
}
