//! The base-image catalogue: templates and `[image.bases]` name logical images
//! (`python`, `go-builder`, ...); the catalogue maps each to a concrete reference.
//! Defaults are well-known upstream images; `$LBC_CATALOG`, or else
//! `~/.config/lbc/catalog.toml`, overrides them with an organisation's approved images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The upstream defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("debian", "debian:bookworm-slim"),
    ("python", "python:3.12-slim-bookworm"),
    ("python-runtime", "python:3.12-slim-bookworm"),
    ("node", "node:22-bookworm-slim"),
    ("node-runtime", "node:22-bookworm-slim"),
    ("go-builder", "golang:1.23-bookworm"),
    ("go-runtime", "debian:bookworm-slim"),
    ("rust-builder", "rust:1-bookworm"),
    ("rust-runtime", "debian:bookworm-slim"),
    ("java-builder", "eclipse-temurin:21-jdk"),
    ("java-runtime", "eclipse-temurin:21-jre"),
    ("static-runtime", "busybox:1.36"),
    // Middleware for `[services]` (issue #10): `{version}` is the service's version;
    // an entry `NAME-VERSION` (e.g. `postgres-15`) wins over the pattern.
    ("postgres", "postgres:{version}"),
    ("mariadb", "mariadb:{version}"),
    ("redis", "redis:{version}"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    images: BTreeMap<String, String>,
}

/// One resolved entry and where its value came from.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub image: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub entries: BTreeMap<String, Entry>,
    /// The override file that was read, if any.
    pub file: Option<PathBuf>,
}

impl Catalog {
    /// The effective catalogue: defaults, then the override file.
    pub fn load() -> Result<Self, Error> {
        let mut entries: BTreeMap<String, Entry> = DEFAULTS
            .iter()
            .map(|(n, i)| {
                (
                    (*n).to_owned(),
                    Entry {
                        name: (*n).to_owned(),
                        image: (*i).to_owned(),
                        source: "default".into(),
                    },
                )
            })
            .collect();
        let file = override_path()?;
        if let Some(path) = &file {
            let raw = fs_err::read_to_string(path).map_err(|e| Error::Io {
                path: path.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            })?;
            let parsed: CatalogFile = toml::from_str(&raw).map_err(|e| Error::Config {
                rendered: crate::config::render_at(path, &raw, e.span(), e.message().trim()),
                hint: Some(
                    "a catalogue file holds one table: [images] with NAME = \"IMAGE\" lines".into(),
                ),
            })?;
            for (name, image) in parsed.images {
                entries.insert(
                    name.clone(),
                    Entry {
                        name,
                        image,
                        source: path.display().to_string(),
                    },
                );
            }
        }
        Ok(Catalog { entries, file })
    }

    /// Resolve a logical name; a value that is not in the catalogue but looks like an
    /// image reference (has `:`, `/` or `@`) is used as it is.
    pub fn resolve(&self, name: &str) -> Result<String, Error> {
        if let Some(e) = self.entries.get(name) {
            return Ok(e.image.clone());
        }
        if name.contains([':', '/', '@']) {
            return Ok(name.to_owned());
        }
        Err(Error::usage(
            format!("`{name}` is not in the base-image catalogue"),
            Some(format!(
                "known names: {}; add it to {} under [images], or give a full image reference",
                self.entries.keys().cloned().collect::<Vec<_>>().join(", "),
                self.file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| {
                        "~/.config/lbc/catalog.toml (or the file named by LBC_CATALOG)".into()
                    })
            )),
        ))
    }
}

fn override_path() -> Result<Option<PathBuf>, Error> {
    if let Some(p) = std::env::var_os("LBC_CATALOG").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(Error::usage(
                format!("LBC_CATALOG names {}, which is not a file", p.display()),
                Some(
                    "point LBC_CATALOG at a catalogue file, or unset it to use the defaults".into(),
                ),
            ));
        }
        return Ok(Some(p));
    }
    let home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    Ok(home
        .map(|h| h.join("lbc").join("catalog.toml"))
        .filter(|p| p.is_file()))
}
