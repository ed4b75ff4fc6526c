//! Templates for a whole fleet: each distinct template source is fetched once per run
//! (git URLs into the cache, with their tags), each version loaded once, and shared by
//! every worker thread. Versions are ordered as semver; pre-releases are not offered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::commands::upgrade;
use crate::error::Error;
use crate::runner::Runner;
use crate::template::provenance::Recorded;
use crate::template::source::{is_url, Origin};
use crate::template::{builtin, Template};

type Slot<T> = Arc<OnceLock<Result<T, String>>>;
type Slots<K, T> = Mutex<HashMap<K, Slot<T>>>;

/// A released version of a template and how to load it (a tag of a git template, the
/// version of a built-in stack).
#[derive(Debug, Clone)]
pub struct Release {
    pub version: semver::Version,
    pub reference: String,
}

/// What every worker shares.
pub struct Shared {
    cache_root: PathBuf,
    mirrors: Slots<String, PathBuf>,
    loaded: Slots<(String, String), Arc<Template>>,
    releases: Slots<String, Arc<Vec<Release>>>,
}

fn slot<K: std::hash::Hash + Eq + Clone, T>(map: &Slots<K, T>, key: &K) -> Slot<T> {
    map.lock()
        .unwrap()
        .entry(key.clone())
        .or_insert_with(|| Arc::new(OnceLock::new()))
        .clone()
}

/// `X.Y.Z` or `vX.Y.Z`, not a pre-release.
pub fn parse_version(text: &str) -> Option<semver::Version> {
    let v = semver::Version::parse(text.strip_prefix('v').unwrap_or(text)).ok()?;
    v.pre.is_empty().then_some(v)
}

impl Shared {
    pub fn new(cache_root: &Path) -> Self {
        Shared {
            cache_root: cache_root.to_owned(),
            mirrors: Mutex::default(),
            loaded: Mutex::default(),
            releases: Mutex::default(),
        }
    }

    /// The git repository of a git template on this machine: the path it was recorded
    /// with, or the cache's copy of its URL (fetched once per run).
    fn repository(&self, source: &str) -> Result<PathBuf, String> {
        if !is_url(source) {
            return Ok(PathBuf::from(source));
        }
        let s = slot(&self.mirrors, &source.to_owned());
        s.get_or_init(|| {
            let dest = super::cache::entry(&self.cache_root, "templates", source);
            super::cache::run_sync(&Runner::new(false), &self.cache_root, &dest, source, true)
                .map(|()| dest)
                .map_err(|e| format!("template {source}: {e}"))
        })
        .clone()
    }

    /// The template of a provenance at a version (`None`: the recorded one).
    pub fn load(&self, recorded: &Recorded, version: Option<&str>) -> Result<Arc<Template>, Error> {
        let key = (
            recorded.source.clone(),
            version.unwrap_or(&recorded.identity).to_owned(),
        );
        let s = slot(&self.loaded, &key);
        s.get_or_init(|| {
            let mut runner = Runner::new(false);
            let t = if recorded.kind == "git" {
                let repo = self.repository(&recorded.source)?;
                let reference = version.unwrap_or(&recorded.identity);
                let mut t =
                    Template::git(&repo.display().to_string(), Some(reference), &mut runner)
                        .map_err(|e| e.to_string())?;
                // Loaded from the cache, recorded as the source it came from.
                t.origin = Origin::Git {
                    url: recorded.source.clone(),
                    reference: reference.to_owned(),
                    commit: t.identity.clone(),
                };
                t
            } else {
                upgrade::load(recorded, version, &mut runner).map_err(|e| e.to_string())?
            };
            Ok(Arc::new(t))
        })
        .clone()
        .map_err(|m| Error::failed(m, None))
    }

    /// The released versions of a template, oldest first.
    pub fn releases(&self, recorded: &Recorded) -> Result<Arc<Vec<Release>>, String> {
        let s = slot(
            &self.releases,
            &format!("{}\0{}", recorded.kind, recorded.source),
        );
        s.get_or_init(|| {
            let mut out: Vec<Release> = match recorded.kind.as_str() {
                "builtin" => {
                    let stack = recorded
                        .source
                        .strip_prefix("builtin:")
                        .unwrap_or(&recorded.source);
                    let mut names: Vec<String> = builtin::versions(stack)
                        .iter()
                        .map(|v| (*v).to_owned())
                        .collect();
                    if let Ok(t) = Template::builtin(stack) {
                        names.push(t.manifest.template.version.clone());
                    }
                    names
                        .into_iter()
                        .filter_map(|n| {
                            Some(Release {
                                version: parse_version(&n)?,
                                reference: n,
                            })
                        })
                        .collect()
                }
                "git" => {
                    let path = self.repository(&recorded.source)?;
                    let repo = git2::Repository::open(&path)
                        .map_err(|e| format!("template {}: {}", recorded.source, e.message()))?;
                    let tags = repo
                        .tag_names(None)
                        .map_err(|e| format!("template {}: {}", recorded.source, e.message()))?;
                    tags.iter()
                        .flatten()
                        .filter_map(|t| {
                            Some(Release {
                                version: parse_version(t)?,
                                reference: t.to_owned(),
                            })
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            out.sort_by(|a, b| a.version.cmp(&b.version));
            out.dedup_by(|a, b| a.version == b.version);
            Ok(Arc::new(out))
        })
        .clone()
    }

    /// The release `wanted` names (`1.2.0` or `v1.2.0`), or the newest.
    pub fn target(
        &self,
        recorded: &Recorded,
        wanted: Option<&str>,
    ) -> Result<Option<Release>, String> {
        let releases = self.releases(recorded)?;
        Ok(match wanted {
            None => releases.last().cloned(),
            Some(w) => {
                let v = parse_version(w);
                releases
                    .iter()
                    .find(|r| r.reference == w || v.as_ref() == Some(&r.version))
                    .cloned()
            }
        })
    }
}

/// The shared templates as the upgrade machinery asks for them.
pub struct Handle<'a>(pub &'a Shared);

impl upgrade::Templates for Handle<'_> {
    fn load(&mut self, recorded: &Recorded, version: Option<&str>) -> Result<Template, Error> {
        self.0.load(recorded, version).map(|t| (*t).clone())
    }
    fn newest(&mut self, recorded: &Recorded) -> Result<Option<String>, Error> {
        self.0
            .target(recorded, None)
            .map(|r| r.map(|r| r.reference))
            .map_err(|m| Error::failed(m, None))
    }
}
