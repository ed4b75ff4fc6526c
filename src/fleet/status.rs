//! One repository's standing: its template and version, how far behind the newest
//! release it is, its `lbc.toml` schema, its drift (files that differ from the template's
//! rendering at the recorded version) and the upgrade conflicts left in it. Pure over a
//! reader of the repository's files: the caller decides whether they come from a working
//! tree or from a branch of a cached clone.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::commands::upgrade::{self, RepoView};
use crate::config::{self, CURRENT_SCHEMA};
use crate::fleet::templates::{parse_version, Shared};
use crate::upgrade::files::FileData;
use crate::upgrade::merge::has_markers;

/// The version of the JSON document `lbc fleet status --output json` prints. Fields are
/// added, never renamed or removed, without changing it.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// An lbc project, read.
    Ok,
    /// No `lbc.toml` at the root of the default branch (or working tree).
    NotLbc,
    /// The remote could not be cloned or fetched.
    Unreachable,
    /// Read, but something in it could not be understood (a damaged provenance, a
    /// template that cannot be found or rendered).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    pub name: String,
    pub kind: String,
    pub source: String,
    /// The recorded version.
    pub version: String,
    /// The newest released version (null when the template publishes none: a directory,
    /// or a git template without `vX.Y.Z` tags).
    pub newest: Option<String>,
    /// Released versions newer than the recorded one (null when unknown).
    pub behind: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftFile {
    pub path: String,
    /// `modified` or `deleted`.
    pub change: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConflictFile {
    pub path: String,
    /// `markers` (lbc's conflict markers in the file), `unmerged` (an unmerged entry in
    /// git's index), `lbc-new` (the template's version of a binary file waits beside it).
    pub reasons: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listed<T> {
    pub count: usize,
    pub files: Vec<T>,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            count: 0,
            files: Vec::new(),
        }
    }
}

impl<T> Listed<T> {
    fn of(files: Vec<T>) -> Self {
        Listed {
            count: files.len(),
            files,
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RepoStatus {
    pub name: String,
    pub source: String,
    /// `local` (a working copy, read as it is) or `remote` (the default branch of a cached clone).
    pub location: &'static str,
    pub state: State,
    pub error: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// A local working copy with uncommitted changes (null for remote repositories).
    pub dirty: Option<bool>,
    pub template: Option<TemplateInfo>,
    /// `schema = N` of lbc.toml.
    pub schema: Option<u32>,
    pub schema_current: Option<bool>,
    pub drift: Listed<DriftFile>,
    pub conflicts: Listed<ConflictFile>,
    /// Nothing to upgrade: no newer release, and lbc.toml at the current schema.
    pub up_to_date: Option<bool>,
    /// Upgrade proposals waiting in the repository: its `lbc/upgrade-*` branches.
    pub proposals: Vec<String>,
}

impl RepoStatus {
    pub fn new(name: &str, source: &str, location: &'static str, state: State) -> Self {
        RepoStatus {
            name: name.to_owned(),
            source: source.to_owned(),
            location,
            state,
            error: None,
            branch: None,
            commit: None,
            dirty: None,
            template: None,
            schema: None,
            schema_current: None,
            drift: Listed::default(),
            conflicts: Listed::default(),
            up_to_date: None,
            proposals: Vec::new(),
        }
    }

    pub fn failed(mut self, state: State, message: String) -> Self {
        self.state = state;
        self.error = Some(message);
        self
    }

    pub fn behind(&self) -> u32 {
        self.template.as_ref().and_then(|t| t.behind).unwrap_or(0)
    }
}

/// `schema = N` of an lbc.toml text (the current schema when it has none).
fn schema_of(text: &str) -> Option<u32> {
    let table: toml::Table = text.parse().ok()?;
    match table.get("schema") {
        None => Some(CURRENT_SCHEMA),
        Some(v) => v.as_integer().and_then(|n| u32::try_from(n).ok()),
    }
}

/// Fill `row` from the repository's files. `unmerged` lists the paths git's index holds
/// as unmerged (local working copies only).
pub fn inspect(
    mut row: RepoStatus,
    view: &RepoView,
    unmerged: &[String],
    templates: &Shared,
) -> RepoStatus {
    let Some(toml) = (view.read)(config::FILE_NAME) else {
        row.state = State::NotLbc;
        return row;
    };
    let toml_text = String::from_utf8_lossy(&toml.bytes);
    row.schema = schema_of(&toml_text);
    row.schema_current = row.schema.map(|s| s >= CURRENT_SCHEMA);
    let mut conflicts: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for p in unmerged {
        conflicts.entry(p.clone()).or_default().push("unmerged");
    }
    if has_markers(&toml_text) {
        conflicts
            .entry(config::FILE_NAME.to_owned())
            .or_default()
            .push("markers");
    }
    let provenance = match view.provenance() {
        Ok(p) => p,
        Err(e) => return row.failed(State::Error, e.to_string()),
    };
    let mut behind = 0;
    if let Some(prov) = &provenance {
        let recorded = &prov.template;
        let releases = templates.releases(recorded);
        let (newest, n) = match &releases {
            Ok(r) => {
                let here = parse_version(&recorded.version);
                let n = here.map(|h| r.iter().filter(|x| x.version > h).count() as u32);
                (r.last().map(|x| x.version.to_string()), n)
            }
            Err(_) => (None, None),
        };
        behind = n.unwrap_or(0);
        row.template = Some(TemplateInfo {
            name: recorded.name.clone(),
            kind: recorded.kind.clone(),
            source: recorded.source.clone(),
            version: recorded.version.clone(),
            newest,
            behind: n,
        });
        if let Err(e) = releases {
            return row.failed(State::Error, e);
        }
        let base = templates
            .load(recorded, Some(&upgrade::base_version(recorded)))
            .and_then(|t| upgrade::render(&t, prov, view.dir_name));
        let tree = match base {
            Ok((tree, _)) => tree,
            Err(e) => return row.failed(State::Error, e.to_string()),
        };
        let mut drift = Vec::new();
        for (path, want) in &tree {
            let have = if path == config::FILE_NAME {
                Some(toml.clone())
            } else {
                (view.read)(path)
            };
            match have {
                None => drift.push(DriftFile {
                    path: path.clone(),
                    change: "deleted",
                }),
                Some(FileData { bytes, .. }) if bytes != want.bytes => {
                    if path != config::FILE_NAME && has_markers(&String::from_utf8_lossy(&bytes)) {
                        conflicts.entry(path.clone()).or_default().push("markers");
                    }
                    drift.push(DriftFile {
                        path: path.clone(),
                        change: "modified",
                    });
                }
                Some(_) => {}
            }
            if (view.read)(&format!("{path}.lbc-new")).is_some() {
                conflicts.entry(path.clone()).or_default().push("lbc-new");
            }
        }
        row.drift = Listed::of(drift);
    }
    row.conflicts = Listed::of(
        conflicts
            .into_iter()
            .map(|(path, reasons)| ConflictFile { path, reasons })
            .collect(),
    );
    row.up_to_date = Some(behind == 0 && row.schema_current != Some(false));
    row
}

/// The paths git's index holds as unmerged in the repository at `root`.
pub fn unmerged(repo: &git2::Repository) -> Vec<String> {
    let Ok(index) = repo.index() else {
        return Vec::new();
    };
    if !index.has_conflicts() {
        return Vec::new();
    }
    let mut out: Vec<String> = index
        .conflicts()
        .map(|it| {
            it.flatten()
                .filter_map(|c| {
                    let e = c.our.or(c.their).or(c.ancestor)?;
                    Some(String::from_utf8_lossy(&e.path).into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// A reader over the tree of a commit (for cached clones, and to plan from a branch).
pub fn tree_reader<'r>(
    repo: &'r git2::Repository,
    tree: &'r git2::Tree<'r>,
) -> impl Fn(&str) -> Option<FileData> + 'r {
    move |rel: &str| {
        let entry = tree.get_path(Path::new(rel)).ok()?;
        let mode = entry.filemode();
        if mode != 0o100644 && mode != 0o100755 {
            return None;
        }
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(FileData {
            bytes: blob.content().to_vec(),
            executable: mode == 0o100755,
        })
    }
}

/// The `lbc/upgrade-*` branches of a repository (proposals made by `lbc fleet upgrade`).
pub fn proposals(repo: &git2::Repository) -> Vec<String> {
    let mut out: Vec<String> = repo
        .references_glob("refs/heads/lbc/upgrade-*")
        .map(|refs| {
            refs.flatten()
                .filter_map(|r| r.shorthand().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
