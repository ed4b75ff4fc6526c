//! `lbc fleet status` and `lbc fleet upgrade`: many repositories at once, in parallel
//! (`--jobs`). Remote repositories are read from bare clones in the cache; local ones as
//! they are. An upgrade is proposed on a new branch `lbc/upgrade-VERSION` made from the
//! default branch in a temporary worktree: the default branch and the user's working
//! copy are never touched, and nothing is ever force-pushed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{
    FleetArgs, FleetCommand, FleetSelect, FleetStatusArgs, FleetUpgradeArgs, ReportFormat,
};
use crate::commands::upgrade::{self, Prepared, RepoView};
use crate::config::CURRENT_SCHEMA;
use crate::error::{code, Error};
use crate::fleet::manifest::{self, Entry, Fleet, Location};
use crate::fleet::status::{self, RepoStatus, State};
use crate::fleet::templates::{Handle, Shared};
use crate::fleet::{cache, parallel, report};
use crate::plan::{Exec, Plan, Step};
use crate::runner::Runner;
use crate::settings::Settings;
use crate::tools::git_cli;
use crate::ui;

pub fn run(settings: &Settings, runner: &mut Runner, args: &FleetArgs) -> Result<(), Error> {
    match &args.command {
        FleetCommand::Status(a) => status(settings, runner, a),
        FleetCommand::Upgrade(a) => upgrade(settings, a),
    }
}

/// The repositories and how to work on them, resolved once.
struct Selected {
    entries: Vec<Entry>,
    jobs: usize,
    cache: PathBuf,
    open_mr: Option<Vec<String>>,
    /// One fetch at a time per cache entry (a URL listed twice).
    syncing:
        std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<std::sync::Mutex<()>>>>,
}

fn select(settings: &Settings, sel: &FleetSelect) -> Result<Selected, Error> {
    let fleet = match &sel.fleet {
        Some(f) => Some(Fleet::load(&settings.cwd.join(f))?),
        None if sel.repos.is_empty() => {
            let p = settings.cwd.join(manifest::FILE_NAME);
            if !p.is_file() {
                return Err(Error::usage(
                    format!("no repositories: name them (directories or git URLs), or write {}", p.display()),
                    Some("e.g. `lbc fleet status services/*`, or a fleet.toml with `repos = [\"services/billing\", \"https://git.example.com/team/orders.git\"]` (docs/fleet.md)".to_owned()),
                ));
            }
            Some(Fleet::load(&p)?)
        }
        None => None,
    };
    let fleet = fleet.unwrap_or_default();
    let mut entries = fleet.repos.clone();
    entries.extend(sel.repos.iter().map(|r| Entry::parse(r, &settings.cwd)));
    if entries.is_empty() {
        return Err(Error::usage(
            format!(
                "{}: `repos` lists no repository",
                fleet
                    .path
                    .as_deref()
                    .unwrap_or(Path::new(manifest::FILE_NAME))
                    .display()
            ),
            Some("add paths or git URLs to `repos`".to_owned()),
        ));
    }
    let jobs = match sel.jobs.or(fleet.jobs) {
        Some(0) => return Err(Error::usage("--jobs must be at least 1", None)),
        Some(n) => n,
        // Mostly waiting on git and the network, not computing: more than the CPUs.
        None => 4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    Ok(Selected {
        entries,
        jobs,
        // Absolute: git runs in other directories.
        cache: settings
            .cwd
            .join(cache::root(sel.cache.as_deref(), fleet.cache.as_deref())?),
        open_mr: fleet.open_mr,
        syncing: Default::default(),
    })
}

/// A remote repository's cache entry.
fn cached(sel: &Selected, url: &str) -> PathBuf {
    cache::entry(&sel.cache, "repos", url)
}

/// The steps that bring the cache up to date, for `--dry-run`.
fn sync_plan(verb: &str, sel: &Selected) -> Plan {
    let mut plan = Plan::new(verb);
    let local = sel
        .entries
        .iter()
        .filter(|e| matches!(e.location, Location::Local(_)))
        .count();
    plan.note(format!(
        "{} repositories, {} jobs at once; remote ones are cloned into {}",
        sel.entries.len(),
        sel.jobs,
        sel.cache.display()
    ));
    if local > 0 {
        plan.note(format!("{local} local repositories are read as they are"));
    }
    for e in &sel.entries {
        if let Location::Remote(url) = &e.location {
            let dest = cached(sel, url);
            let fresh = !dest.join("HEAD").is_file();
            plan.push(Step::exec(
                format!(
                    "{}: {} {}",
                    e.name,
                    if fresh { "clone" } else { "fetch" },
                    e.source()
                ),
                cache::sync(&sel.cache, &dest, url, false),
            ));
        }
    }
    plan
}

/// The branch a repository is read from: fleet.toml's `branch`, else what HEAD names
/// (the remote's default branch in a clone; the checked-out branch locally).
fn default_branch(repo: &git2::Repository, entry: &Entry) -> Result<String, String> {
    if let Some(b) = &entry.branch {
        return Ok(b.clone());
    }
    let head = repo
        .find_reference("HEAD")
        .map_err(|e| format!("no HEAD: {}", e.message()))?;
    match head.symbolic_target() {
        Some(t) => Ok(t.strip_prefix("refs/heads/").unwrap_or(t).to_owned()),
        None => Err("HEAD is detached: name the default branch with `branch` in fleet.toml".into()),
    }
}

fn branch_commit<'r>(repo: &'r git2::Repository, branch: &str) -> Result<git2::Commit<'r>, String> {
    repo.find_reference(&format!("refs/heads/{branch}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| format!("no branch `{branch}`"))
}

/// An empty repository: not one branch.
fn no_branches(repo: &git2::Repository) -> bool {
    repo.references_glob("refs/heads/*")
        .map(|mut r| r.next().is_none())
        .unwrap_or(false)
}

/// Bring a remote repository's cache entry up to date (or report why not).
fn sync_one(runner: &Runner, sel: &Selected, url: &str) -> Result<PathBuf, String> {
    let dest = cached(sel, url);
    let lock = sel
        .syncing
        .lock()
        .unwrap()
        .entry(dest.clone())
        .or_default()
        .clone();
    let _one_at_a_time = lock.lock().unwrap();
    cache::run_sync(runner, &sel.cache, &dest, url, false).map(|()| dest)
}

fn status_one(sel: &Selected, shared: &Shared, entry: &Entry) -> RepoStatus {
    let runner = Runner::new(false);
    let dir_name = entry.dir_name();
    match &entry.location {
        Location::Local(path) => {
            let row = RepoStatus::new(&entry.name, &entry.source(), "local", State::Ok);
            if !path.is_dir() {
                return row.failed(State::Unreachable, "no such directory".into());
            }
            let mut row = row;
            let mut unmerged = Vec::new();
            if let Ok(repo) = git2::Repository::open(path) {
                if let Ok(head) = repo.head() {
                    row.branch = head.shorthand().map(str::to_owned);
                    row.commit = head.target().map(|o| o.to_string());
                }
                row.dirty = Some(crate::tools::git::is_dirty(path));
                unmerged = status::unmerged(&repo);
                row.proposals = status::proposals(&repo);
            }
            let read = |p: &str| upgrade::read_ours(path, p);
            let view = RepoView {
                root: path,
                dir_name: &dir_name,
                read: &read,
            };
            status::inspect(row, &view, &unmerged, shared)
        }
        Location::Remote(url) => {
            let mut row = RepoStatus::new(&entry.name, &entry.source(), "remote", State::Ok);
            let dest = match sync_one(&runner, sel, url) {
                Ok(d) => d,
                Err(e) => return row.failed(State::Unreachable, e),
            };
            let repo = match git2::Repository::open_bare(&dest) {
                Ok(r) => r,
                Err(e) => return row.failed(State::Error, e.message().to_owned()),
            };
            let branch = match default_branch(&repo, entry) {
                Ok(b) => b,
                Err(e) => return row.failed(State::Error, e),
            };
            let commit = match branch_commit(&repo, &branch) {
                Ok(c) => c,
                Err(e) => {
                    // An empty repository has no branch at all: nothing lbc could read.
                    if no_branches(&repo) {
                        row.state = State::NotLbc;
                        row.branch = Some(branch);
                        return row;
                    }
                    return row.failed(State::Error, e);
                }
            };
            row.branch = Some(branch);
            row.commit = Some(commit.id().to_string());
            row.proposals = status::proposals(&repo);
            let tree = match commit.tree() {
                Ok(t) => t,
                Err(e) => return row.failed(State::Error, e.message().to_owned()),
            };
            let read = status::tree_reader(&repo, &tree);
            let root = PathBuf::from(entry.source());
            let view = RepoView {
                root: &root,
                dir_name: &dir_name,
                read: &read,
            };
            status::inspect(row, &view, &[], shared)
        }
    }
}

fn status(settings: &Settings, _runner: &mut Runner, args: &FleetStatusArgs) -> Result<(), Error> {
    let sel = select(settings, &args.select)?;
    if settings.dry_run {
        crate::execute::print_plan(settings, &sync_plan("fleet status", &sel));
        return Ok(());
    }
    ui::step(&format!(
        "reading {} repositories, {} at once",
        sel.entries.len(),
        sel.jobs
    ));
    let shared = Shared::new(&sel.cache);
    let rows: Vec<RepoStatus> =
        parallel(&sel.entries, sel.jobs, |_, e| status_one(&sel, &shared, e))
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::Interrupted)?;
    if settings.json {
        ui::print_json(&report::json(&rows));
    } else {
        match args.format {
            ReportFormat::Table => ui::data(&report::table(&rows)),
            ReportFormat::Markdown => ui::data(&report::markdown(&rows)),
        }
    }
    if let Some(n) = args.fail_on_behind {
        let late: Vec<&str> = rows
            .iter()
            .filter(|r| r.behind() >= n)
            .map(|r| r.name.as_str())
            .collect();
        if !late.is_empty() {
            return Err(Error::Fleet {
                message: format!(
                    "{} of {} repositories {} {n} or more versions behind their template: {}",
                    late.len(),
                    rows.len(),
                    if late.len() == 1 { "is" } else { "are" },
                    late.join(", ")
                ),
                hint: Some("`lbc fleet upgrade` proposes the upgrades as branches (`--dry-run` shows the plan)".to_owned()),
                code: code::FLEET_BEHIND,
            });
        }
    }
    unreadable(&rows)
}

/// Exit 1 (after the report) when some repositories could not be read.
fn unreadable(rows: &[RepoStatus]) -> Result<(), Error> {
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| matches!(r.state, State::Unreachable | State::Error))
        .map(|r| {
            format!(
                "{} ({})",
                r.name,
                r.error
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::Fleet {
        message: format!(
            "{} of {} repositories could not be read: {}",
            bad.len(),
            rows.len(),
            bad.join("; ")
        ),
        hint: Some(
            "the report covers the others; check the URL, your access, or fix the repository"
                .to_owned(),
        ),
        code: code::FAILURE,
    })
}

// ---------------------------------------------------------------------------------
// fleet upgrade

/// What happened (or, with `--dry-run`, would happen) to one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The branch was made (and pushed); `--dry-run`: it would be.
    Proposed,
    /// Proposed, and the branch holds conflicts to resolve.
    ProposedWithConflicts,
    /// Nothing to do (up to date, not an lbc project, already proposed, no such version).
    Skipped,
    /// Unreachable, or a step failed.
    Failed,
}

/// One repository in the upgrade report.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub name: String,
    pub source: String,
    pub location: &'static str,
    pub outcome: Outcome,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    pub template: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub default_branch: Option<String>,
    pub branch: Option<String>,
    /// The commit made on the branch.
    pub commit: Option<String>,
    pub pushed: bool,
    /// `opened`, `failed` or null (no `open_mr`, or a local repository).
    pub merge_request: Option<&'static str>,
    pub files: Vec<crate::upgrade::files::Change>,
    pub schema: Option<Vec<String>>,
    pub conflicts: Vec<String>,
    /// The per-file lines `lbc upgrade` prints, for the human report.
    #[serde(skip)]
    pub summary: String,
    /// The plan of git steps (only with `--dry-run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

impl Proposal {
    fn new(entry: &Entry) -> Self {
        Proposal {
            name: entry.name.clone(),
            source: entry.source(),
            location: match entry.location {
                Location::Local(_) => "local",
                Location::Remote(_) => "remote",
            },
            outcome: Outcome::Skipped,
            reason: None,
            template: None,
            from: None,
            to: None,
            default_branch: None,
            branch: None,
            commit: None,
            pushed: false,
            merge_request: None,
            files: Vec::new(),
            schema: None,
            conflicts: Vec::new(),
            summary: String::new(),
            plan: None,
        }
    }
    fn skip(mut self, why: impl Into<String>) -> Self {
        self.outcome = Outcome::Skipped;
        self.reason = Some(why.into());
        self
    }
    fn fail(mut self, why: impl Into<String>) -> Self {
        self.outcome = Outcome::Failed;
        self.reason = Some(why.into());
        self
    }
}

/// Everything needed to carry out one proposal.
struct Work {
    repo_dir: PathBuf,
    worktree: PathBuf,
    branch: String,
    message: String,
    prepared: Prepared,
    remote: bool,
    open_mr: Option<Vec<String>>,
}

/// The commit message: what changed, file by file, and the conflicts to resolve.
fn message(p: &Prepared, template: &str, default_branch: &str, base: &str) -> String {
    let title = if p.label.is_empty() {
        format!("lbc upgrade: lbc.toml schema {CURRENT_SCHEMA}")
    } else {
        format!("lbc upgrade: {template} {} -> {}", p.from_version, p.label)
    };
    let mut m = format!(
        "{title}\n\nMade by `lbc fleet upgrade` from {default_branch} ({}).\n\n",
        &base[..12.min(base.len())]
    );
    m.push_str(&p.summary_lines());
    let conflicts = p.conflicts();
    if !conflicts.is_empty() {
        m.push_str(&format!(
            "\nConflicts to resolve ({}): the files hold conflict markers (<<<<<<< local ... >>>>>>> template)\nor, for binary files, the template's version waits beside them as FILE.lbc-new:\n",
            conflicts.len()
        ));
        for c in &conflicts {
            m.push_str(&format!("  - {c}\n"));
        }
    }
    m
}

fn plan_one(
    sel: &Selected,
    shared: &Shared,
    runner: &Runner,
    entry: &Entry,
    index: usize,
    to: Option<&str>,
) -> (Proposal, Option<Work>) {
    let mut prop = Proposal::new(entry);
    let (repo_dir, remote) = match &entry.location {
        Location::Local(p) => (p.clone(), false),
        Location::Remote(url) => match sync_one(runner, sel, url) {
            Ok(d) => (d, true),
            Err(e) => return (prop.fail(format!("unreachable: {e}")), None),
        },
    };
    let repo = match git2::Repository::open(&repo_dir) {
        Ok(r) => r,
        Err(_) => return (prop.skip("not a git repository"), None),
    };
    let default = match default_branch(&repo, entry) {
        Ok(b) => b,
        Err(e) => return (prop.fail(e), None),
    };
    if let Err(e) = git_cli::check_ref_name(&default) {
        return (prop.fail(e), None);
    }
    let commit = match branch_commit(&repo, &default) {
        Ok(c) => c,
        Err(e) if no_branches(&repo) => {
            return (
                prop.skip(format!("not an lbc project (empty repository: {e})")),
                None,
            )
        }
        Err(e) => return (prop.fail(e), None),
    };
    prop.default_branch = Some(default.clone());
    let tree = match commit.tree() {
        Ok(t) => t,
        Err(e) => return (prop.fail(e.message().to_owned()), None),
    };
    let read = status::tree_reader(&repo, &tree);
    let dir_name = entry.dir_name();
    let view = RepoView {
        root: &repo_dir,
        dir_name: &dir_name,
        read: &read,
    };
    if read(crate::config::FILE_NAME).is_none() {
        return (prop.skip("not an lbc project"), None);
    }
    let provenance = match view.provenance() {
        Ok(p) => p,
        Err(e) => return (prop.fail(e.to_string()), None),
    };
    // The release to propose: --to, or the newest; never a downgrade.
    let target = match &provenance {
        None => None,
        Some(p) => {
            prop.template = Some(p.template.name.clone());
            prop.from = Some(p.template.version.clone());
            match shared.target(&p.template, to) {
                Err(e) => return (prop.fail(e), None),
                Ok(None) => match to {
                    Some(v) => {
                        return (
                            prop.skip(format!("template `{}` has no release {v}", p.template.name)),
                            None,
                        )
                    }
                    None => None,
                },
                Ok(Some(r)) => {
                    let here = crate::fleet::templates::parse_version(&p.template.version);
                    if here.is_some_and(|h| r.version <= h) {
                        None
                    } else {
                        Some(r)
                    }
                }
            }
        }
    };
    let schema_old = read(crate::config::FILE_NAME)
        .and_then(|f| {
            String::from_utf8_lossy(&f.bytes)
                .parse::<toml::Table>()
                .ok()
        })
        .and_then(|t| t.get("schema").and_then(toml::Value::as_integer))
        .is_some_and(|s| s < i64::from(CURRENT_SCHEMA));
    if target.is_none() && !schema_old {
        return (prop.skip("up to date"), None);
    }
    // Without a newer release, only lbc.toml's schema moves: stay at the recorded version.
    let reference = match (&target, &provenance) {
        (Some(r), _) => Some(r.reference.clone()),
        (None, Some(p)) => Some(upgrade::base_version(&p.template)),
        (None, None) => None,
    };
    let prepared = match upgrade::prepare(&view, reference.as_deref(), &mut Handle(shared)) {
        Ok(p) => p,
        Err(e) => return (prop.fail(e.to_string()), None),
    };
    if prepared.up_to_date() {
        return (prop.skip("up to date"), None);
    }
    let branch = match &target {
        Some(r) => format!("lbc/upgrade-{}", r.version),
        None => format!("lbc/upgrade-schema-{CURRENT_SCHEMA}"),
    };
    if let Err(e) = git_cli::check_ref_name(&branch) {
        return (prop.fail(e), None);
    }
    prop.to = Some(if prepared.label.is_empty() {
        prepared.from_version.clone()
    } else {
        prepared.label.clone()
    });
    prop.branch = Some(branch.clone());
    prop.files = prepared.changes.clone();
    prop.schema = prepared.migration.as_ref().map(|(_, c)| c.clone());
    prop.conflicts = prepared.conflicts();
    prop.summary = prepared.summary_lines();
    if repo.find_reference(&format!("refs/heads/{branch}")).is_ok() {
        return (
            prop.skip(format!(
                "branch {branch} exists already (an earlier proposal): left as it is"
            )),
            None,
        );
    }
    prop.outcome = if prop.conflicts.is_empty() {
        Outcome::Proposed
    } else {
        Outcome::ProposedWithConflicts
    };
    let worktree = std::env::temp_dir()
        .join(format!("lbc-fleet-{}-{index}", std::process::id()))
        .join(&dir_name);
    let message = message(
        &prepared,
        prop.template.as_deref().unwrap_or("lbc.toml"),
        &default,
        &commit.id().to_string(),
    );
    let open_mr = if remote { sel.open_mr.clone() } else { None };
    (
        prop,
        Some(Work {
            repo_dir,
            worktree,
            branch,
            message,
            prepared,
            remote,
            open_mr,
        }),
    )
}

/// The values of `open_mr`'s placeholders.
fn placeholder(prop: &Proposal, work: &Work, key: &str) -> String {
    let body = work
        .message
        .split_once("\n\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    let title = work.message.lines().next().unwrap_or("");
    match key {
        "branch" => work.branch.clone(),
        "default_branch" => prop.default_branch.clone().unwrap_or_default(),
        "repo" => prop.name.clone(),
        "url" => prop.source.clone(),
        "template" => prop.template.clone().unwrap_or_default(),
        "from" => prop.from.clone().unwrap_or_default(),
        "version" => prop.to.clone().unwrap_or_default(),
        "title" => {
            if prop.conflicts.is_empty() {
                title.to_owned()
            } else {
                format!("{title} (conflicts to resolve)")
            }
        }
        "body" => body.to_owned(),
        "conflicts" => prop.conflicts.len().to_string(),
        _ => String::new(),
    }
}

/// The git steps of one proposal (the upgrade itself is written by lbc between the
/// first and second step).
fn steps(prop: &Proposal, work: &Work) -> Result<Vec<Step>, String> {
    let start = prop.default_branch.clone().unwrap_or_default();
    let mut s = vec![
        Step::exec(
            format!(
                "{}: a worktree on the new branch {} from {start}",
                prop.name, work.branch
            ),
            git_cli::worktree_add(&work.repo_dir, &work.worktree, &work.branch, &start),
        ),
        Step::exec(
            format!("{}: stage the upgrade", prop.name),
            git_cli::add_all(&work.worktree),
        ),
        Step::exec(
            format!(
                "{}: commit it (the message lists every file and conflict)",
                prop.name
            ),
            git_cli::commit(&work.worktree, &work.message),
        ),
    ];
    if work.remote {
        s.push(Step::exec(
            format!(
                "{}: push {} (a new branch; never forced)",
                prop.name, work.branch
            ),
            git_cli::push_branch(&work.worktree, &work.branch),
        ));
        if let Some(argv) = &work.open_mr {
            let filled = manifest::fill(argv, &|k| placeholder(prop, work, k))?;
            s.push(Step::exec(
                format!(
                    "{}: open the merge request (open_mr of fleet.toml)",
                    prop.name
                ),
                Exec::new(filled, &work.worktree)
                    .stdin(crate::plan::Stdin::Null)
                    .progress(),
            ));
        }
    }
    Ok(s)
}

fn cleanup_step(prop: &Proposal, work: &Work) -> Step {
    Step::exec(
        format!("{}: remove the worktree (the branch stays)", prop.name),
        git_cli::worktree_remove(&work.repo_dir, &work.worktree),
    )
}

/// Carry out one proposal; the worktree is removed whatever happens.
fn execute(runner: &mut Runner, mut prop: Proposal, work: &Work) -> Proposal {
    let steps = match steps(&prop, work) {
        Ok(s) => s,
        Err(e) => return prop.fail(format!("open_mr: {e}")),
    };
    if let Some(parent) = work.worktree.parent() {
        if let Err(e) = fs_err::create_dir_all(parent) {
            return prop.fail(e.to_string());
        }
    }
    let run = |runner: &mut Runner, step: &Step| -> Result<(), Error> {
        crate::execute::run_one(runner, step.clone())
    };
    let result = (|| -> Result<(), Error> {
        run(runner, &steps[0])?;
        upgrade::write(&work.worktree, &work.prepared, Default::default())?;
        for s in &steps[1..3] {
            run(runner, s)?;
        }
        if let Ok(repo) = git2::Repository::open(&work.worktree) {
            prop.commit = repo
                .head()
                .ok()
                .and_then(|h| h.target())
                .map(|o| o.to_string());
        }
        if work.remote {
            run(runner, &steps[3])?;
            prop.pushed = true;
            if let Some(mr) = steps.get(4) {
                match run(runner, mr) {
                    Ok(()) => prop.merge_request = Some("opened"),
                    Err(e) => {
                        prop.merge_request = Some("failed");
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    })();
    let cleaned = crate::execute::run_one(runner, cleanup_step(&prop, work));
    if let Some(parent) = work.worktree.parent() {
        let _ = fs_err::remove_dir_all(parent);
    }
    match (result, cleaned) {
        (Err(e), _) => prop.fail(e.to_string()),
        (Ok(()), Err(e)) => {
            ui::warn(&format!("{}: {e}", prop.name));
            prop
        }
        (Ok(()), Ok(_)) => prop,
    }
}

fn upgrade(settings: &Settings, args: &FleetUpgradeArgs) -> Result<(), Error> {
    let sel = select(settings, &args.select)?;
    if let Some(v) = &args.to {
        if v.starts_with('-') || crate::fleet::templates::parse_version(v).is_none() {
            return Err(Error::usage(
                format!("--to {v}: not a released version (X.Y.Z or vX.Y.Z)"),
                None,
            ));
        }
    }
    let shared = Shared::new(&sel.cache);
    let dry = settings.dry_run;
    let json = settings.json;
    let results = parallel(&sel.entries, sel.jobs, |i, entry| {
        let mut runner = Runner::new(json);
        let (mut prop, work) = plan_one(&sel, &shared, &runner, entry, i, args.to.as_deref());
        match work {
            None => prop,
            Some(work) if dry => {
                let mut plan = Plan::new(format!("fleet upgrade ({})", prop.name));
                plan.note(format!(
                    "after step 1, lbc writes the upgrade into the worktree {} ({} files)",
                    work.worktree.display(),
                    work.prepared.changes.len()
                ));
                match steps(&prop, &work) {
                    Ok(s) => {
                        for st in s {
                            plan.push(st);
                        }
                        plan.push(cleanup_step(&prop, &work));
                        prop.plan = Some(plan);
                        prop
                    }
                    Err(e) => prop.fail(format!("open_mr: {e}")),
                }
            }
            Some(work) => execute(&mut runner, prop, &work),
        }
    });
    let props: Vec<Proposal> = results
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or(Error::Interrupted)?;
    if json {
        ui::print_json(&serde_json::json!({
            "report_version": status::REPORT_VERSION,
            "dry_run": dry,
            "repositories": props,
        }));
    } else {
        ui::data(&upgrade_report(&props, dry));
    }
    let failed: Vec<String> = props
        .iter()
        .filter(|p| p.outcome == Outcome::Failed)
        .map(|p| format!("{} ({})", p.name, p.reason.as_deref().unwrap_or("")))
        .collect();
    if !failed.is_empty() {
        return Err(Error::Fleet {
            message: format!("{} of {} repositories failed: {}", failed.len(), props.len(), failed.join("; ")),
            hint: Some("the others went through; run it again once fixed (proposals made already are skipped)".to_owned()),
            code: code::FAILURE,
        });
    }
    let conflicted: Vec<&str> = props
        .iter()
        .filter(|p| p.outcome == Outcome::ProposedWithConflicts)
        .map(|p| p.name.as_str())
        .collect();
    if !conflicted.is_empty() && !dry {
        return Err(Error::Fleet {
            message: format!(
                "{} proposal{} hold{} conflicts to resolve on the branch: {}",
                conflicted.len(),
                if conflicted.len() == 1 { "" } else { "s" },
                if conflicted.len() == 1 { "s" } else { "" },
                conflicted.join(", ")
            ),
            hint: Some(
                "each conflicted file is listed in the branch's commit message and in the report"
                    .to_owned(),
            ),
            code: code::CONFLICT,
        });
    }
    Ok(())
}

fn upgrade_report(props: &[Proposal], dry: bool) -> String {
    let mut out = String::new();
    for p in props {
        let what = match p.outcome {
            Outcome::Proposed | Outcome::ProposedWithConflicts => {
                let head = format!(
                    "{}: {} {} -> {} on {} from {}{}",
                    p.name,
                    p.template.as_deref().unwrap_or("lbc.toml"),
                    p.from.as_deref().unwrap_or("-"),
                    p.to.as_deref().unwrap_or("-"),
                    p.branch.as_deref().unwrap_or("?"),
                    p.default_branch.as_deref().unwrap_or("?"),
                    if dry {
                        " (would be proposed)".to_owned()
                    } else if p.pushed {
                        format!(
                            ", pushed{}",
                            match p.merge_request {
                                Some("opened") => ", merge request opened",
                                _ => "",
                            }
                        )
                    } else {
                        ", committed (local repository: not pushed)".to_owned()
                    }
                );
                let mut s = head + "\n";
                for l in p.summary.lines() {
                    s.push_str(&format!("  {l}\n"));
                }
                if !p.conflicts.is_empty() {
                    s.push_str(&format!(
                        "    conflicts to resolve: {}\n",
                        p.conflicts.join(", ")
                    ));
                }
                if let Some(plan) = &p.plan {
                    for l in plan.render_human().lines() {
                        s.push_str(&format!("    {l}\n"));
                    }
                }
                s
            }
            Outcome::Skipped => format!(
                "{}: skipped: {}\n",
                p.name,
                p.reason.as_deref().unwrap_or("")
            ),
            Outcome::Failed => format!(
                "{}: FAILED: {}\n",
                p.name,
                p.reason.as_deref().unwrap_or("")
            ),
        };
        out.push_str(&what);
    }
    let count = |o: Outcome| props.iter().filter(|p| p.outcome == o).count();
    out.push_str(&format!(
        "\n{} repositories: {} {}, {} with conflicts, {} skipped, {} failed\n",
        props.len(),
        count(Outcome::Proposed) + count(Outcome::ProposedWithConflicts),
        if dry { "would be proposed" } else { "proposed" },
        count(Outcome::ProposedWithConflicts),
        count(Outcome::Skipped),
        count(Outcome::Failed)
    ));
    out
}
