//! `lbc upgrade`: bring a repository up to the newest version of the template it was
//! generated from, file by file with a three-way merge that never loses a local edit,
//! and rewrite `lbc.toml` to the newest schema.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::UpgradeArgs;
use crate::config::{self, FILE_NAME};
use crate::error::Error;
use crate::runner::Runner;
use crate::settings::Settings;
use crate::template::answers::{self, Inputs};
use crate::template::generate;
use crate::template::provenance::{self, Provenance};
use crate::template::render::OutContent;
use crate::template::{builtin, Template};
use crate::ui;
use crate::upgrade::apply::{self, Op};
use crate::upgrade::files::{self, Change, FileData, Outcome, Tree};
use crate::upgrade::schema;

/// The template of a recorded provenance, at a version.
pub fn load(
    recorded: &provenance::Recorded,
    version: Option<&str>,
    runner: &mut Runner,
) -> Result<Template, Error> {
    match recorded.kind.as_str() {
        "builtin" => {
            let stack = recorded
                .source
                .strip_prefix("builtin:")
                .unwrap_or(&recorded.source);
            let t = match version {
                None => Template::builtin(stack)?,
                Some(v) => builtin_version(stack, v)?,
            };
            Ok(t)
        }
        "git" => Template::git(
            &recorded.source,
            Some(version.unwrap_or(&recorded.identity)),
            runner,
        ),
        "directory" => {
            let t = Template::directory(Path::new(&recorded.source))?;
            if version.is_some() && t.identity != recorded.identity {
                return Err(Error::usage(
                    format!(
                        "the template directory {} changed since this repository was generated ({} then, {} now): its old version cannot be reproduced",
                        recorded.source, recorded.identity, t.identity
                    ),
                    Some("publish the template as a git repository with tags; lbc then re-renders the recorded commit exactly".into()),
                ));
            }
            Ok(t)
        }
        other => Err(Error::usage(
            format!("{}: unknown template kind `{other}`", provenance::PATH),
            None,
        )),
    }
}

/// A built-in stack at a released version.
fn builtin_version(stack: &str, version: &str) -> Result<Template, Error> {
    let current = Template::builtin(stack)?;
    if current.manifest.template.version == version {
        return Ok(current);
    }
    Template::builtin_release(stack, version).ok_or_else(|| {
        let mut known = builtin::versions(stack);
        known.push(&current.manifest.template.version);
        Error::usage(
            format!("this lbc cannot reproduce version {version} of the `{stack}` stack"),
            Some(format!(
                "versions it carries: {}; a newer lbc may know it",
                known.join(", ")
            )),
        )
    })
}

/// Render a template with the recorded answers (new variables take their defaults).
pub fn render(
    template: &Template,
    recorded: &Provenance,
    dir_name: &str,
) -> Result<(Tree, answers::Answers), Error> {
    let set: Vec<(String, String)> = recorded
        .answers
        .iter()
        // A variable the template fixes takes that version's own value, whatever an
        // earlier version recorded.
        .filter(|(k, _)| template.manifest.variable(k).is_some_and(|v| !v.is_fixed()))
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    let answers = answers::resolve(
        template,
        &Inputs {
            set: &set,
            interactive: false,
            dir_name: dir_name.to_owned(),
        },
    )?;
    let generated = generate::generate(template, dir_name, &answers)?;
    let tree = generated
        .files
        .into_iter()
        .filter(|f| f.path != provenance::PATH)
        // The repository's own files, which adoption did not write: never the template's.
        .filter(|f| !recorded.keeps(&f.path))
        .filter_map(|f| match f.content {
            OutContent::File { bytes, executable } => {
                Some((f.path, FileData { bytes, executable }))
            }
            OutContent::Link { .. } => None,
        })
        .collect();
    Ok((tree, answers))
}

/// A file of the repository's working tree (`None`: missing, or not a regular file).
pub fn read_ours(root: &Path, rel: &str) -> Option<FileData> {
    let p = root.join(rel);
    let meta = std::fs::symlink_metadata(&p).ok()?;
    if !meta.is_file() {
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    Some(FileData {
        bytes: std::fs::read(&p).ok()?,
        executable: meta.permissions().mode() & 0o111 != 0,
    })
}

/// Where an upgrade gets templates: straight from their sources (`lbc upgrade`), or from
/// a cache that serves many repositories (`lbc fleet`).
pub trait Templates {
    /// The template of a recorded provenance at `version` (`None`: as recorded).
    fn load(
        &mut self,
        recorded: &provenance::Recorded,
        version: Option<&str>,
    ) -> Result<Template, Error>;
    /// The newest version of the template (`None`: the one it loads without a version).
    fn newest(&mut self, recorded: &provenance::Recorded) -> Result<Option<String>, Error>;
}

/// Templates read from their recorded sources through the runner.
pub struct Sources<'a>(pub &'a mut Runner);

impl Templates for Sources<'_> {
    fn load(
        &mut self,
        recorded: &provenance::Recorded,
        version: Option<&str>,
    ) -> Result<Template, Error> {
        load(recorded, version, self.0)
    }
    fn newest(&mut self, recorded: &provenance::Recorded) -> Result<Option<String>, Error> {
        newest(recorded, self.0)
    }
}

/// The version a recorded template is re-rendered at: the commit SHA of a git template
/// (never a tag that may have moved), the recorded version otherwise.
pub fn base_version(recorded: &provenance::Recorded) -> String {
    match recorded.kind.as_str() {
        "git" => recorded.identity.clone(),
        _ => recorded.version.clone(),
    }
}

/// A repository as an upgrade sees it: where it is (for messages and `lbc.toml`'s path),
/// the name its directory had when it was generated (the `dir_name` built-in), and how to
/// read one of its files.
pub struct RepoView<'a> {
    pub root: &'a Path,
    pub dir_name: &'a str,
    pub read: &'a dyn Fn(&str) -> Option<FileData>,
}

impl RepoView<'_> {
    /// The repository's provenance, read through the view.
    pub fn provenance(&self) -> Result<Option<Provenance>, Error> {
        match (self.read)(provenance::PATH) {
            None => Ok(None),
            Some(f) => Provenance::parse(
                &self.root.join(provenance::PATH),
                &String::from_utf8_lossy(&f.bytes),
            )
            .map(Some),
        }
    }
}

/// A computed upgrade: every decision, nothing written yet.
pub struct Prepared {
    pub provenance: Option<Provenance>,
    pub changes: Vec<Change>,
    pub new_provenance: Option<Provenance>,
    /// The rewritten `lbc.toml` and one line per schema change.
    pub migration: Option<(String, Vec<String>)>,
    pub from_version: String,
    /// The version upgraded to (empty: no template change).
    pub label: String,
}

impl Prepared {
    pub fn up_to_date(&self) -> bool {
        self.new_provenance.is_none() && self.migration.is_none()
    }
    pub fn conflicts(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.outcome.is_conflict())
            .map(|c| c.path.clone())
            .collect()
    }
    /// The JSON summary `lbc upgrade --output json` prints.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "from": self.from_version,
            "to": if self.label.is_empty() { self.from_version.clone() } else { self.label.clone() },
            "up_to_date": self.up_to_date(),
            "template": self.provenance.as_ref().map(|p| p.template.source.clone()),
            "files": self.changes,
            "schema": self.migration.as_ref().map(|(_, c)| c.clone()),
            "conflicts": self.conflicts(),
        })
    }
    /// One line per file, as `lbc upgrade` prints them.
    pub fn summary_lines(&self) -> String {
        summary_lines(
            &self.changes,
            self.migration.as_ref().map(|(_, c)| c.as_slice()),
        )
    }
}

/// Compute the upgrade of a repository to `to` (default: the newest version). Pure: it
/// reads the repository through `view` and writes nothing.
pub fn prepare(
    view: &RepoView,
    to: Option<&str>,
    templates: &mut dyn Templates,
) -> Result<Prepared, Error> {
    let root = view.root;
    let path = root.join(FILE_NAME);
    let provenance = view.provenance()?;

    let mut changes: Vec<Change> = Vec::new();
    let mut new_provenance: Option<Provenance> = None;
    let mut label = String::new();
    let mut from_version = String::new();
    if let Some(prov) = &provenance {
        let base_t = templates.load(&prov.template, Some(&base_version(&prov.template)))?;
        let target = match to {
            Some(t) => Some(t.to_owned()),
            None => templates.newest(&prov.template)?,
        };
        // The recorded identity pins the exact files the repository was generated
        // from: a version that renders other files would make a wrong merge base.
        if base_t.identity != prov.template.identity {
            return Err(Error::usage(
                format!(
                    "{}: `identity = \"{}\"` does not match template {} version {} (its identity is {}): the provenance was edited, or the template changed under the same version",
                    provenance::PATH,
                    crate::validate::excerpt(&prov.template.identity),
                    prov.template.source,
                    prov.template.version,
                    base_t.identity
                ),
                Some(format!(
                    "restore {} from git (`git checkout -- {}`); if the template really changed, regenerate into a new directory and compare",
                    provenance::PATH,
                    provenance::PATH
                )),
            ));
        }
        let theirs_t = templates.load(&prov.template, target.as_deref())?;
        from_version = prov.template.version.clone();
        label = theirs_t.manifest.template.version.clone();
        if theirs_t.identity != prov.template.identity {
            let (base, _) = render(&base_t, prov, view.dir_name)?;
            let (theirs, answers) = render(&theirs_t, prov, view.dir_name)?;
            let declared: BTreeMap<String, String> = theirs_t.manifest.template.renames.clone();
            let renames = files::renames(&base, &theirs, &declared);
            changes = files::decide(&base, &theirs, &renames, view.read, &label);
            let mut next = Provenance::new(&theirs_t, &answers);
            next.kept = prov.kept.clone();
            new_provenance = Some(next);
        }
    }

    // lbc.toml: the newest schema, on top of whatever the merge made of it.
    let current_toml = changes
        .iter()
        .find(|c| c.path == FILE_NAME)
        .and_then(|c| c.write.clone())
        .or_else(|| (view.read)(FILE_NAME))
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .unwrap_or_default();
    let migration = if crate::upgrade::merge::has_markers(&current_toml) {
        None
    } else {
        schema::migrate(&path, &current_toml)?
    };
    if let Some((text, _)) = &migration {
        match changes.iter_mut().find(|c| c.path == FILE_NAME) {
            Some(c) => {
                c.write = Some(FileData {
                    bytes: text.clone().into_bytes(),
                    executable: false,
                })
            }
            None => {
                let c = Change {
                    path: FILE_NAME.to_owned(),
                    outcome: Outcome::Updated,
                    from: None,
                    write: Some(FileData {
                        bytes: text.clone().into_bytes(),
                        executable: false,
                    }),
                    delete: vec![],
                    beside: None,
                    conflicts: 0,
                    sides: None,
                };
                changes.push(c);
            }
        }
    }
    Ok(Prepared {
        provenance,
        changes,
        new_provenance,
        migration,
        from_version,
        label,
    })
}

/// Write a prepared upgrade into the repository at `root`, all or nothing, and record
/// its conflicts in git's index. Returns the conflicted paths.
/// Apply a prepared upgrade all-or-nothing; `hooks` are the test hooks of the settings
/// (`LBC_UPGRADE_FAIL_AFTER`, `LBC_UPGRADE_PAUSE_AFTER`), none elsewhere.
pub fn write(
    root: &Path,
    prepared: &Prepared,
    hooks: crate::transaction::Hooks,
) -> Result<Vec<String>, Error> {
    let mut ops: Vec<Op> = Vec::new();
    for c in &prepared.changes {
        if let Some(w) = &c.write {
            ops.push(Op::Write(c.path.clone(), w.clone()));
        }
        for d in &c.delete {
            ops.push(Op::Delete(d.clone()));
        }
        if let Some((p, d)) = &c.beside {
            ops.push(Op::Write(p.clone(), d.clone()));
        }
    }
    // Provenance last: it moves to the new version only with everything else.
    if let Some(p) = &prepared.new_provenance {
        ops.push(Op::Write(
            provenance::PATH.to_owned(),
            FileData {
                bytes: p.to_text().into_bytes(),
                executable: false,
            },
        ));
    }
    apply::apply(root, &ops, hooks)?;
    let conflicts: Vec<&Change> = prepared
        .changes
        .iter()
        .filter(|c| c.outcome.is_conflict())
        .collect();
    if !conflicts.is_empty() {
        if let Err(e) = record_conflicts(root, &conflicts) {
            ui::warn(&format!("could not mark the conflicts in git's index: {e}"));
        }
    }
    Ok(prepared.conflicts())
}

pub fn run(settings: &Settings, runner: &mut Runner, args: &UpgradeArgs) -> Result<(), Error> {
    let path = config::discover(&settings.cwd)?;
    let root = path.parent().unwrap_or(Path::new(".")).to_owned();
    let writes = !args.check && !settings.dry_run;
    // One upgrade at a time per project (issue #9).
    let _lock = if writes {
        settings.lock(&root, "upgrade", "upgrade")?
    } else {
        None
    };
    // What an upgrade killed mid-way left behind comes first: it explains the dirty
    // tree, and nothing may be merged on top of a half-applied upgrade.
    let left = apply::leftovers(&root);
    if args.recover || args.discard {
        if left.is_empty() {
            ui::success("no interrupted upgrade to recover or discard");
            return Ok(());
        }
        if settings.dry_run {
            for l in &left {
                ui::data(&format!(
                    "would {} the upgrade of pid {} ({}): {}",
                    if args.recover { "undo" } else { "keep" },
                    l.pid,
                    l.dir.display(),
                    l.paths.join(", ")
                ));
            }
            return Ok(());
        }
        for l in &left {
            if args.recover {
                apply::recover(&root, l)?;
                ui::success(&format!(
                    "restored {} file{} the interrupted upgrade (pid {}) had changed",
                    l.paths.len(),
                    if l.paths.len() == 1 { "" } else { "s" },
                    l.pid
                ));
            } else {
                apply::discard(l)?;
                ui::success(&format!(
                    "kept the files as the interrupted upgrade (pid {}) left them; deleted its backup",
                    l.pid
                ));
            }
        }
        return Ok(());
    }
    if let Some(l) = left.first() {
        let message = format!(
            "an earlier `lbc upgrade` (pid {}) was killed before it finished: it changed {} file{} ({}) and left its backup in {}",
            l.pid,
            l.paths.len(),
            if l.paths.len() == 1 { "" } else { "s" },
            crate::validate::excerpt(&l.paths.join(", ")),
            l.dir.display()
        );
        let hint = "`lbc upgrade --recover` puts those files back as they were before it; `lbc upgrade --discard` keeps them as they are and deletes the backup".to_owned();
        if writes {
            return Err(Error::Refused { message, hint });
        }
        ui::warn(&format!("{message}\nhint: {hint}"));
    }
    if !args.allow_dirty && !args.check && !settings.dry_run && crate::tools::git::is_dirty(&root) {
        return Err(Error::usage(
            "the git tree has uncommitted changes: lbc upgrade needs a clean tree, so that what it changes can be reviewed and undone with git",
            Some("commit or stash your changes first, or pass --allow-dirty".to_owned()),
        ));
    }
    let dir_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read = |p: &str| read_ours(&root, p);
    let view = RepoView {
        root: &root,
        dir_name: &dir_name,
        read: &read,
    };
    let prepared = prepare(&view, args.to.as_deref(), &mut Sources(runner))?;
    let Prepared {
        provenance,
        changes,
        migration,
        from_version,
        label,
        ..
    } = &prepared;
    let up_to_date = prepared.up_to_date();
    let summary = prepared.summary();

    if args.check {
        if settings.json {
            ui::print_json(&summary);
        } else if up_to_date {
            ui::data("up to date");
        } else {
            ui::data(&format!(
                "upgrade available: {}{}",
                if label.is_empty() {
                    String::new()
                } else {
                    format!("template {from_version} -> {label}")
                },
                migration
                    .as_ref()
                    .map(|_| format!("; lbc.toml schema -> {}", config::CURRENT_SCHEMA))
                    .unwrap_or_default()
            ));
        }
        return if up_to_date {
            Ok(())
        } else {
            Err(Error::UpgradeAvailable)
        };
    }
    if up_to_date {
        if settings.json {
            ui::print_json(&summary);
        } else {
            ui::success(&format!(
                "already up to date{}",
                provenance
                    .as_ref()
                    .map(|p| format!(" ({} {})", p.template.name, p.template.version))
                    .unwrap_or_default()
            ));
        }
        return Ok(());
    }

    if settings.dry_run {
        if settings.json {
            ui::print_json(&serde_json::json!({"dry_run": true, "upgrade": summary}));
        } else {
            ui::data(&diff_report(
                &root,
                changes,
                from_version,
                label,
                migration.as_ref().map(|(_, c)| c.as_slice()),
            ));
        }
        return Ok(());
    }

    let conflicts = write(&root, &prepared, settings.upgrade_hooks())?;

    if !settings.json {
        ui::data(&prepared.summary_lines());
    }
    if !label.is_empty() {
        ui::success(&format!("upgraded from {from_version} to {label}"));
    }
    if settings.json {
        ui::print_json(&summary);
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflicts { files: conflicts });
    }
    Ok(())
}

/// The newest version of a template: the highest `vX.Y.Z` tag of a git template, the
/// embedded version of a built-in stack.
fn newest(recorded: &provenance::Recorded, runner: &mut Runner) -> Result<Option<String>, Error> {
    match recorded.kind.as_str() {
        "git" => {
            let tags = crate::template::source::git_tags(&recorded.source, runner)?;
            Ok(crate::versions::newest_release(tags).or_else(|| recorded.reference.clone()))
        }
        _ => Ok(None),
    }
}

fn summary_lines(changes: &[Change], schema: Option<&[String]>) -> String {
    let mut out = String::new();
    for c in changes {
        let what = match c.outcome {
            Outcome::Updated => "updated".to_owned(),
            Outcome::KeptLocal => "kept (local change)".to_owned(),
            Outcome::Merged => "merged".to_owned(),
            Outcome::Conflict => format!(
                "CONFLICT ({} region{})",
                c.conflicts,
                if c.conflicts == 1 { "" } else { "s" }
            ),
            Outcome::BinaryConflict => format!(
                "CONFLICT (binary: yours kept, the template's is {}.lbc-new)",
                c.path
            ),
            Outcome::Added => "added".to_owned(),
            Outcome::AddedConflict => {
                "CONFLICT (the template adds a file you already have)".to_owned()
            }
            Outcome::StaysDeleted => {
                "stays deleted (you deleted it; the template still has it)".to_owned()
            }
            Outcome::Removed => "removed (the template removed it)".to_owned(),
            Outcome::KeptRemoved => "kept (the template removed it, but you changed it)".to_owned(),
            Outcome::Renamed => format!(
                "renamed from {} (local edits moved along)",
                c.from.as_deref().unwrap_or("?")
            ),
        };
        out.push_str(&format!("  {:<40} {what}\n", c.path));
    }
    if let Some(lines) = schema {
        for l in lines {
            out.push_str(&format!("  {:<40} {l}\n", FILE_NAME));
        }
    }
    out
}

/// `--dry-run`: a unified diff of every file that would change, then the summary.
fn diff_report(
    root: &Path,
    changes: &[Change],
    from: &str,
    to: &str,
    schema: Option<&[String]>,
) -> String {
    let mut out = String::new();
    for c in changes {
        let old_path = c.from.as_deref().unwrap_or(&c.path);
        let old = read_ours(root, old_path)
            .map(|f| f.bytes)
            .unwrap_or_default();
        let new = match (&c.write, c.delete.contains(&c.path)) {
            (Some(w), _) => w.bytes.clone(),
            (None, true) => vec![],
            (None, false) => old.clone(),
        };
        if old != new {
            if files::is_binary(&old) || files::is_binary(&new) {
                out.push_str(&format!(
                    "Binary files a/{old_path} and b/{} differ\n",
                    c.path
                ));
            } else {
                let old_s = String::from_utf8_lossy(&old);
                let new_s = String::from_utf8_lossy(&new);
                let diff = similar::TextDiff::from_lines(old_s.as_ref(), new_s.as_ref());
                out.push_str(
                    &diff
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("a/{old_path}"), &format!("b/{}", c.path))
                        .to_string(),
                );
            }
        }
        if let Some((p, _)) = &c.beside {
            out.push_str(&format!(
                "new file {p} (the template's version of a binary file you changed)\n"
            ));
        }
        for d in &c.delete {
            if d != &c.path && c.from.as_deref() != Some(d.as_str()) {
                out.push_str(&format!("deleted {d}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\nupgrade {}:\n",
        if to.is_empty() {
            "of lbc.toml".to_owned()
        } else {
            format!("{from} -> {to}")
        }
    ));
    out.push_str(&summary_lines(changes, schema));
    out
}

/// Record each conflict in git's index as `git merge` does (stages 1, 2 and 3), so that
/// `git status` shows it as unmerged and `git commit` refuses until it is resolved and
/// added: conflict markers cannot be committed by accident.
fn record_conflicts(root: &Path, conflicts: &[&Change]) -> Result<(), git2::Error> {
    let repo = match git2::Repository::discover(root) {
        Ok(r) => r,
        Err(_) => return Ok(()),
    };
    let Some(workdir) = repo.workdir().map(Path::to_owned) else {
        return Ok(());
    };
    let prefix = root
        .canonicalize()
        .ok()
        .and_then(|r| {
            r.strip_prefix(workdir.canonicalize().ok()?)
                .ok()
                .map(Path::to_owned)
        })
        .unwrap_or_default();
    let mut index = repo.index()?;
    for c in conflicts {
        let Some(sides) = &c.sides else { continue };
        let rel = prefix.join(&c.path);
        let path = rel.to_string_lossy().into_owned().into_bytes();
        // The stage lives in bits 12-13 of the flags: 1 base, 2 ours, 3 theirs.
        let entry = |bytes: &[u8], stage: u16| -> Result<git2::IndexEntry, git2::Error> {
            Ok(git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: bytes.len() as u32,
                id: repo.blob(bytes)?,
                flags: stage << 12,
                flags_extended: 0,
                path: path.clone(),
            })
        };
        index.remove_path(&rel)?;
        for (stage, bytes) in (1u16..).zip(sides.iter()) {
            index.add(&entry(bytes, stage)?)?;
        }
    }
    index.write()
}
