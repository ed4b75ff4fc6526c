//! Kubernetes environments delivered by GitOps (`delivery = "gitops"`, docs/gitops.md):
//! a deploy writes the release under `path` of an environment repository (a Flux
//! `HelmRelease`, an Argo CD `Application`, or the chart rendered with `helm template`
//! plus a kustomization), commits it with a message that says what changed and from
//! which source commit, and pushes; the cluster's controller applies it.
//!
//! The repository is cloned once into lbc's cache (`$XDG_CACHE_HOME/lbc/gitops/HASH`),
//! locked while a verb uses it, and reset to the fetched branch before and after every
//! use. A push that another pipeline beat is retried on top of the new tip (bounded),
//! never forced. The release's facts (image, source commit, promotion) are git trailers
//! of its commit: history, rollback and promote read them back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::config::{Environment, GitopsFormat};
use crate::error::Error;
use crate::execute::{self, Guard, Summary};
use crate::image::ImageRef;
use crate::plan::{Exec, Plan, Step};
use crate::runner::{Runner, StepResult};
use crate::targets::{DeployRequest, Running, Target};
use crate::tools::git::{self, hex, Git};
use crate::tools::helm;
use crate::ui;

/// How many times a push beaten by another pipeline is retried on the new tip.
const PUSH_ATTEMPTS: usize = 5;
const TRAILER_ENV: &str = "Lbc-Environment";
const TRAILER_IMAGE: &str = "Lbc-Image";
const TRAILER_SOURCE: &str = "Lbc-Source-Commit";
const TRAILER_PROMOTED: &str = "Lbc-Promoted-From";
const TRAILER_ROLLBACK: &str = "Lbc-Rollback-To";

/// The files of a release: path under `path` -> content.
pub type Files = BTreeMap<String, String>;

/// A gitops environment.
pub struct GitOps {
    env_name: String,
    env: Environment,
    root: PathBuf,
    project: String,
    repo: String,
    branch: String,
    path: String,
    format: GitopsFormat,
    release: String,
    namespace: String,
    /// The project's chart (absolute) and its path inside the project's repository.
    chart: PathBuf,
    chart_rel: String,
    cache: PathBuf,
    git: Git,
    /// The values of the backing services (issue #10): the external ones' connection and
    /// the migration hook's command.
    services_values: Option<serde_json::Value>,
}

/// A commit of the environment repository that changed `path`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReleaseCommit {
    /// 1 for the oldest release of the environment.
    pub revision: u64,
    pub commit: String,
    /// ISO 8601 commit time.
    pub date: String,
    pub subject: String,
    pub image: Option<String>,
    pub source_commit: Option<String>,
    pub promoted_from: Option<String>,
    /// The environment the commit says it released (`Lbc-Environment`).
    pub env: Option<String>,
    #[serde(skip)]
    pub removed: bool,
}

/// The services' values of a gitops environment (issue #10): only external services
/// can be referenced, since nothing applies a provisioned one before the cluster's
/// reconciler installs the release; the others are left out with a warning.
fn gitops_services(
    ctx: &Ctx,
    env_name: &str,
    deploy: &crate::config::Deploy,
) -> Result<Option<serde_json::Value>, Error> {
    let l = &ctx.project;
    let release = deploy
        .release
        .clone()
        .unwrap_or_else(|| l.project().to_owned());
    let all = crate::services::kube::resolve(l, env_name, &release, |_, _| Ok(String::new()))?;
    let (external, provisioned): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|s| s.provisioned.is_none());
    if !provisioned.is_empty() {
        ui::warn(&format!(
            "gitops environment `{env_name}` only references external services: {} {} not provisioned (give each a Secret your platform manages: `[env.{env_name}.services.NAME] secret = \"...\"`)",
            provisioned.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
            if provisioned.len() == 1 { "is" } else { "are" }
        ));
    }
    Ok(crate::services::kube::chart_values(l, &external))
}

/// A clone in use: the lock is held until this is dropped.
struct Checkout {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl GitOps {
    pub fn resolve(
        ctx: &Ctx,
        env_name: &str,
        env: Environment,
        _flags: &TargetArgs,
    ) -> Result<GitOps, Error> {
        let root = ctx.root().to_owned();
        let repo = env.repo.clone().unwrap_or_default();
        let deploy = ctx.project.config.deploy.clone().unwrap_or_default();
        let chart_rel = deploy
            .chart
            .clone()
            .unwrap_or_else(|| "deploy/chart".into());
        let chart = root.join(&chart_rel);
        if !chart.join("Chart.yaml").is_file() {
            return Err(Error::usage(
                format!(
                    "environment `{env_name}` is delivered by gitops from a Helm chart, and {} has no Chart.yaml",
                    chart.display()
                ),
                Some("add `[deploy] chart = \"PATH\"` to lbc.toml (gitops environments deliver the project's chart)".into()),
            ));
        }
        let token = match &env.token_env {
            Some(var) => Some(std::env::var(var).ok().filter(|t| !t.is_empty()).ok_or_else(|| {
                Error::usage(
                    format!("environment `{env_name}` takes its repository token from ${var}, which is not set"),
                    Some(format!("export {var} (a token with write access to {})", git::strip_credentials(&repo))),
                )
            })?),
            None => None,
        };
        let user = env
            .token_user
            .clone()
            .unwrap_or_else(|| "x-access-token".into());
        let cache = cache_dir(&repo)?;
        let git = Git::new(&cache, token.as_deref().map(|t| (user.as_str(), t)));
        let services_values = gitops_services(ctx, env_name, &deploy)?;
        Ok(GitOps {
            services_values,
            env_name: env_name.to_owned(),
            branch: env.branch.clone().unwrap_or_else(|| "main".into()),
            path: env.path.clone().unwrap_or_default(),
            format: env.format.unwrap_or(GitopsFormat::FluxHelmrelease),
            namespace: env.namespace.clone().unwrap_or_else(|| "default".into()),
            release: deploy
                .release
                .unwrap_or_else(|| ctx.project.project().to_owned()),
            project: ctx.project.project().to_owned(),
            env,
            root,
            repo,
            chart,
            chart_rel,
            cache,
            git,
        })
    }

    /// The repository URL as shown (no credentials).
    fn shown_repo(&self) -> String {
        git::strip_credentials(&self.repo)
    }

    fn announce(&self) {
        ui::info(&format!(
            "environment {}: gitops, {} branch {}, path {} ({})",
            self.env_name,
            self.shown_repo(),
            self.branch,
            self.path,
            self.format.as_str()
        ));
    }

    // --- the clone -------------------------------------------------------------

    /// Lock the cached clone, clone it when missing, fetch the branch and reset the work
    /// tree to it (nothing left of an earlier run).
    fn sync(&self, runner: &Runner) -> Result<Checkout, Error> {
        let parent = self.cache.parent().expect("cache has a parent");
        fs_err::create_dir_all(parent).map_err(|e| crate::fsutil::io_err(parent, e))?;
        let lock_path = self.cache.with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| crate::fsutil::io_err(&lock_path, e))?;
        // One lbc at a time per clone (two deploys from one machine wait for each other).
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| crate::fsutil::io_err(&lock_path, e.into()))?;
        if !self.cache.join(".git").is_dir() {
            if self.cache.exists() {
                // A clone interrupted before it finished: lbc's own cache, made again.
                fs_err::remove_dir_all(&self.cache)
                    .map_err(|e| crate::fsutil::io_err(&self.cache, e))?;
            }
            let out = runner.query(&self.git.clone_into(&self.repo))?;
            if !out.ok() {
                let _ = fs_err::remove_dir_all(&self.cache);
                return Err(self.unreachable(&out.stderr));
            }
        }
        let out = runner.query(&self.git.fetch(&self.branch))?;
        if !out.ok() {
            if out.stderr.contains("couldn't find remote ref") {
                return Err(Error::usage(
                    format!(
                        "branch `{}` does not exist in {} (environment `{}`)",
                        self.branch,
                        self.shown_repo(),
                        self.env_name
                    ),
                    Some(format!(
                        "create it in the environment repository, or fix `branch` under [env.{}]",
                        self.env_name
                    )),
                ));
            }
            return Err(self.unreachable(&out.stderr));
        }
        self.reset(runner)?;
        Ok(Checkout { _lock: lock })
    }

    /// The work tree back at the fetched branch, without anything lbc wrote.
    fn reset(&self, runner: &Runner) -> Result<(), Error> {
        for exec in [self.git.checkout(&self.branch), self.git.clean()] {
            let out = runner.query(&exec)?;
            if !out.ok() {
                return Err(Error::failed(
                    format!(
                        "could not reset lbc's clone of {} ({}): {}",
                        self.shown_repo(),
                        self.cache.display(),
                        first_line(&out.stderr)
                    ),
                    Some(format!(
                        "remove {} and run again: lbc clones it anew",
                        self.cache.display()
                    )),
                ));
            }
        }
        Ok(())
    }

    fn unreachable(&self, stderr: &str) -> Error {
        let refused = [
            "could not read Username",
            "Authentication failed",
            "403",
            "401",
            "Permission denied",
        ]
        .iter()
        .any(|n| stderr.contains(n));
        Error::Unreachable {
            message: format!(
                "the environment repository {} of `{}` cannot be reached{}: {}",
                self.shown_repo(),
                self.env_name,
                if refused { " (it refused the credentials)" } else { "" },
                first_line(&ui::redact(stderr))
            ),
            hint: match &self.env.token_env {
                Some(v) => format!("check `repo` under [env.{}] and that ${v} holds a token with access to it", self.env_name),
                None => format!("check `repo` under [env.{}], and the credentials git uses for it (ssh agent, credential helper, or `token_env`)", self.env_name),
            },
        }
    }

    // --- reading the repository --------------------------------------------------

    fn open(&self) -> Result<git2::Repository, Error> {
        git2::Repository::open(&self.cache).map_err(|e| {
            Error::failed(
                format!("cannot read lbc's clone {}: {e}", self.cache.display()),
                Some(format!("remove {} and run again", self.cache.display())),
            )
        })
    }

    /// The release commits of the environment (newest first): the first-parent commits of
    /// the fetched branch that changed `path`.
    fn releases(&self) -> Result<Vec<ReleaseCommit>, Error> {
        let repo = self.open()?;
        let tip = repo
            .revparse_single(&git::remote_ref(&self.branch))
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| Error::failed(format!("cannot read branch {}: {e}", self.branch), None))?;
        let path = Path::new(&self.path);
        let entry_of = |c: &git2::Commit| -> Option<git2::Oid> {
            c.tree().ok()?.get_path(path).ok().map(|e| e.id())
        };
        let mut found = Vec::new();
        let mut next = Some(tip);
        while let Some(c) = next {
            let parent = c.parent(0).ok();
            let here = entry_of(&c);
            let before = parent.as_ref().and_then(&entry_of);
            if here != before {
                let msg = c.message().unwrap_or("").to_owned();
                let trailers = trailers(&msg);
                found.push(ReleaseCommit {
                    revision: 0,
                    commit: c.id().to_string(),
                    date: iso_time(c.time().seconds()),
                    subject: msg.lines().next().unwrap_or("").to_owned(),
                    image: trailers.get(TRAILER_IMAGE).cloned(),
                    source_commit: trailers.get(TRAILER_SOURCE).cloned(),
                    promoted_from: trailers.get(TRAILER_PROMOTED).cloned(),
                    env: trailers.get(TRAILER_ENV).cloned(),
                    removed: here.is_none(),
                });
            }
            next = parent;
        }
        let n = found.len() as u64;
        for (i, r) in found.iter_mut().enumerate() {
            r.revision = n - i as u64;
        }
        Ok(found)
    }

    /// The files under `path` at a commit (empty when it has none).
    fn files_at(&self, commit: &str) -> Result<Files, Error> {
        let repo = self.open()?;
        let read = || -> Result<Files, git2::Error> {
            let c = repo.revparse_single(commit)?.peel_to_commit()?;
            let mut files = Files::new();
            let Ok(entry) = c.tree()?.get_path(Path::new(&self.path)) else {
                return Ok(files);
            };
            let Ok(tree) = entry.to_object(&repo)?.peel_to_tree() else {
                return Ok(files);
            };
            tree.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                if e.kind() == Some(git2::ObjectType::Blob) {
                    if let Ok(blob) = e.to_object(&repo).and_then(|o| o.peel_to_blob()) {
                        files.insert(
                            format!("{dir}{}", e.name().unwrap_or("")),
                            String::from_utf8_lossy(blob.content()).into_owned(),
                        );
                    }
                }
                git2::TreeWalkResult::Ok
            })?;
            Ok(files)
        };
        read().map_err(|e| Error::failed(format!("cannot read {commit}: {e}"), None))
    }

    // --- what a release is made of -------------------------------------------------

    /// The values of the release: the environment's values files in order, then `set`,
    /// then the image (which wins), merged as helm merges them.
    fn values(&self, image: &ImageRef) -> Result<serde_json::Value, Error> {
        let mut merged = serde_json::Value::Object(Default::default());
        for v in &self.env.values {
            let p = self.root.join(v);
            let text = crate::fsutil::read_to_string(&p)?;
            let docs = yaml_rust2::YamlLoader::load_from_str(&text).map_err(|e| {
                Error::usage(
                    format!("{} is not valid YAML: {e}", p.display()),
                    Some("fix the values file (`helm lint` shows the same)".into()),
                )
            })?;
            if let Some(doc) = docs.into_iter().next() {
                merge(&mut merged, yaml_to_json(doc));
            }
        }
        let doc = crate::targets::helm::lbc_values(
            &self.env.set,
            Some(image),
            self.services_values.as_ref(),
        );
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&doc) {
            merge(&mut merged, v);
        }
        Ok(merged)
    }

    /// The chart's version from its Chart.yaml.
    fn chart_version(&self) -> Option<String> {
        let text = fs_err::read_to_string(self.chart.join("Chart.yaml")).ok()?;
        let doc = yaml_rust2::YamlLoader::load_from_str(&text).ok()?;
        doc.first()?["version"].as_str().map(str::to_owned)
    }

    /// The files of a release of `image`, in the environment's format.
    pub fn release_files(&self, runner: &Runner, image: &ImageRef) -> Result<Files, Error> {
        self.release_files_at(runner, image, None)
    }

    /// [`GitOps::release_files`] with the project's chart at `source_commit` (a
    /// promotion's) for the formats that name a revision (Argo CD).
    fn release_files_at(
        &self,
        runner: &Runner,
        image: &ImageRef,
        source_commit: Option<&str>,
    ) -> Result<Files, Error> {
        let values = self.values(image)?;
        let mut files = Files::new();
        let manifest = match self.format {
            GitopsFormat::FluxHelmrelease => {
                let mut spec = serde_json::json!({
                    "chart": self.chart_rel,
                    "sourceRef": {"kind": "GitRepository", "name": self.project, "namespace": "flux-system"},
                    "reconcileStrategy": "Revision",
                });
                if let Some(v) = self.chart_version() {
                    spec["version"] = v.into();
                }
                let doc = serde_json::json!({
                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                    "kind": "HelmRelease",
                    "metadata": {"name": self.release, "namespace": self.namespace},
                    "spec": {
                        "interval": "5m",
                        "releaseName": self.release,
                        "targetNamespace": self.namespace,
                        "chart": {"spec": spec},
                        "values": values,
                    }
                });
                files.insert("helmrelease.yaml".into(), to_yaml(&doc));
                "helmrelease.yaml"
            }
            GitopsFormat::ArgocdApplication => {
                let state = git::inspect(&self.root);
                let repo_url = state
                    .as_ref()
                    .and_then(|s| s.source.clone())
                    .unwrap_or_else(|| format!("file://{}", self.root.display()));
                let revision = source_commit
                    .filter(|c| c.len() == 40 && c.chars().all(|ch| ch.is_ascii_hexdigit()))
                    .map(str::to_owned)
                    .or(state.map(|s| s.sha))
                    .unwrap_or_else(|| "HEAD".into());
                let doc = serde_json::json!({
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": format!("{}-{}", self.release, self.env_name), "namespace": "argocd"},
                    "spec": {
                        "project": "default",
                        "source": {
                            "repoURL": repo_url,
                            "targetRevision": revision,
                            "path": self.chart_rel,
                            "helm": {"releaseName": self.release, "valuesObject": values},
                        },
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": self.namespace},
                        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]},
                    }
                });
                files.insert("application.yaml".into(), to_yaml(&doc));
                "application.yaml"
            }
            GitopsFormat::Manifests => {
                let mut values_doc = serde_json::to_string_pretty(&values).expect("json");
                values_doc.push('\n');
                let release = helm::Release {
                    name: &self.release,
                    chart: &self.chart,
                    values_files: &[],
                    values: values_doc,
                };
                let exec = helm::Helm::new(&self.env.helm_bin(), &self.root).template(&release);
                let out = runner.query(&exec)?;
                if !out.ok() {
                    return Err(Error::failed(
                        format!(
                            "the chart {} does not render for `{}`: {}",
                            self.chart.display(),
                            self.env_name,
                            first_line(&out.stderr)
                        ),
                        Some(format!("`helm lint {}` shows why", self.chart.display())),
                    ));
                }
                files.insert("manifests.yaml".into(), out.stdout);
                "manifests.yaml"
            }
        };
        files.insert(
            "kustomization.yaml".into(),
            to_yaml(&serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": self.namespace,
                "resources": [manifest],
            })),
        );
        Ok(files)
    }

    // --- writing -------------------------------------------------------------------

    /// Write `files` as the whole content of `path`, commit and push; on a push beaten
    /// by another pipeline, fetch and do it again on the new tip. `message` gets the
    /// release that was there (for "old -> new"). `Ok(None)`: nothing changed.
    fn commit_release(
        &self,
        ctx: &mut Ctx,
        files: &Files,
        message: &dyn Fn(Option<&ReleaseCommit>) -> String,
        guard: Option<&Guard>,
    ) -> Result<Option<String>, Error> {
        let mut guard = guard;
        for attempt in 1..=PUSH_ATTEMPTS {
            let _checkout = self.sync(ctx.runner)?;
            let result = self.attempt(ctx, files, message, &mut guard);
            match result {
                Ok(Attempt::Pushed(c)) => return Ok(Some(c)),
                Ok(Attempt::Unchanged) => return Ok(None),
                Ok(Attempt::Rejected) => {
                    ui::info(&format!(
                        "{} moved while lbc pushed (another pipeline was first): fetching and writing the release again on the new tip ({attempt}/{PUSH_ATTEMPTS})",
                        self.branch
                    ));
                    self.reset(ctx.runner)?;
                }
                Err(e) => {
                    let _ = self.reset(ctx.runner);
                    return Err(e);
                }
            }
        }
        let _ = self.reset(ctx.runner);
        Err(Error::failed(
            format!(
                "{} rejected the push to {} {PUSH_ATTEMPTS} times: other pipelines kept pushing first",
                self.shown_repo(),
                self.branch
            ),
            Some("nothing was changed; run the deploy again".into()),
        ))
    }

    fn attempt(
        &self,
        ctx: &mut Ctx,
        files: &Files,
        message: &dyn Fn(Option<&ReleaseCommit>) -> String,
        guard: &mut Option<&Guard>,
    ) -> Result<Attempt, Error> {
        let tip = git::remote_ref(&self.branch);
        if self.files_at(&tip)? == *files {
            return Ok(Attempt::Unchanged);
        }
        let releases = self.releases()?;
        // Files lbc never released there (an existing directory): not lbc's to replace.
        if !self.files_at(&tip)?.is_empty()
            && !releases
                .iter()
                .any(|r| r.env.as_deref() == Some(self.env_name.as_str()))
        {
            return Err(Error::Refused {
                message: format!(
                    "{} on {} of {} holds files that lbc never released for `{}` (last changed by commit {})",
                    self.path,
                    self.branch,
                    self.shown_repo(),
                    self.env_name,
                    releases.first().map(|r| &r.commit[..12]).unwrap_or("?")
                ),
                hint: format!(
                    "lbc rewrites its whole `path`: choose an empty directory under [env.{}], or remove those files from the environment repository first",
                    self.env_name
                ),
            });
        }
        // Ask once, before the first change.
        if let Some(g) = guard.take() {
            execute::guard_protected(g)?;
        }
        let msg = message(releases.first());
        let dir = self.cache.join(&self.path);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).map_err(|e| crate::fsutil::io_err(&dir, e))?;
        }
        for (name, content) in files {
            let p = dir.join(name);
            if let Some(parent) = p.parent() {
                fs_err::create_dir_all(parent).map_err(|e| crate::fsutil::io_err(parent, e))?;
            }
            fs_err::write(&p, content).map_err(|e| crate::fsutil::io_err(&p, e))?;
        }
        let identity = self.identity(ctx.runner)?;
        let id: Vec<(&str, &str)> = identity.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut plan = Plan::new(format!("deploy {}", self.env_name));
        plan.push(Step::exec(
            format!("Stage {}", self.path),
            self.git.add(&self.path),
        ));
        plan.push(Step::exec(
            format!("Commit the release of `{}`", self.env_name),
            self.git.commit(&msg, &id),
        ));
        execute::run(ctx.runner, &plan)?;
        let push = self.git.push(&self.branch);
        let started = Instant::now();
        ui::step(&format!("Push to {} {}", self.shown_repo(), self.branch));
        ui::echo_command(&push.display());
        let out = ctx.runner.query(&push)?;
        ctx.runner.record(StepResult {
            purpose: format!("Push to {}", self.branch),
            argv: Some(push.argv.clone()),
            duration_ms: started.elapsed().as_millis() as u64,
            exit_code: out.code,
            on_failure: false,
        });
        if out.ok() {
            let head = ctx.runner.query(&Exec::new(
                ["git", "rev-parse", "--verify", "HEAD"],
                &self.cache,
            ))?;
            // The pushed commit is the branch now: keep the remote-tracking ref in step.
            let _ = ctx.runner.query(&self.git.fetch(&self.branch));
            return Ok(Attempt::Pushed(head.stdout.trim().to_owned()));
        }
        let all = format!("{}{}", out.stdout, out.stderr);
        if all.contains("[rejected]")
            || all.contains("non-fast-forward")
            || all.contains("fetch first")
            || all.contains("failed to update ref")
            || all.contains("cannot lock ref")
        {
            return Ok(Attempt::Rejected);
        }
        Err(Error::failed(
            format!(
                "the push to {} {} failed: {}",
                self.shown_repo(),
                self.branch,
                first_line(&ui::redact(&out.stderr))
            ),
            Some(
                "check the credentials' write access (nothing was pushed; lbc's clone was reset)"
                    .into(),
            ),
        ))
    }

    /// The commit author: git's configuration, else lbc (a CI job has none).
    fn identity(&self, runner: &Runner) -> Result<Vec<(&'static str, String)>, Error> {
        let out = runner.query(&self.git.user_email())?;
        if out.ok() && !out.stdout.trim().is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![
            ("GIT_AUTHOR_NAME", "lbc".into()),
            ("GIT_AUTHOR_EMAIL", "lbc@localhost".into()),
            ("GIT_COMMITTER_NAME", "lbc".into()),
            ("GIT_COMMITTER_EMAIL", "lbc@localhost".into()),
        ])
    }

    /// The plan a dry run prints, with the diff of the files against the branch.
    fn dry_run(
        &self,
        ctx: &mut Ctx,
        mut plan: Plan,
        files: &Files,
        message: &dyn Fn(Option<&ReleaseCommit>) -> String,
    ) -> Result<(), Error> {
        let (current, releases) = {
            let _c = self.sync(ctx.runner)?;
            (
                self.files_at(&git::remote_ref(&self.branch))?,
                self.releases()?,
            )
        };
        let message = message(releases.first());
        let subject = message.lines().next().unwrap_or("");
        let diff = diff_files(&self.path, &current, files);
        if diff.is_empty() {
            plan.note(format!(
                "{} on {} already holds this release: nothing to commit",
                self.path, self.branch
            ));
        } else {
            plan.note(format!(
                "write {} under {}: {}",
                if files.len() == 1 {
                    "1 file".to_owned()
                } else {
                    format!("{} files", files.len())
                },
                self.path,
                files.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            plan.note(format!("commit: {subject}"));
            plan.push(Step::exec(
                format!("Stage {}", self.path),
                self.git.add(&self.path),
            ));
            plan.push(Step::exec(
                format!("Commit the release of `{}`", self.env_name),
                self.git.commit(&message, &[]),
            ));
            plan.push(Step::exec(
                format!(
                    "Push to {} {} (never forced; retried on a new tip)",
                    self.shown_repo(),
                    self.branch
                ),
                self.git.push(&self.branch),
            ));
        }
        plan.dry_run_extra
            .insert("diff".into(), serde_json::Value::String(diff.clone()));
        execute::print_plan(ctx.settings, &plan);
        if !ctx.settings.json && !diff.is_empty() {
            ui::data(&diff);
        }
        Ok(())
    }

    fn guard(&self, what: &str, image: Option<&ImageRef>, yes: bool) -> Option<Guard> {
        let mut details = vec![
            ("repository", self.shown_repo()),
            ("branch", self.branch.clone()),
            ("path", self.path.clone()),
        ];
        if let Some(i) = image {
            details.push(("image", i.reference().to_owned()));
        }
        Guard::when_protected(self.env.protected, &self.env_name, what, details, yes)
    }

    /// `promote_from` and a dirty tree for a protected environment, as for the direct kinds.
    fn check_deploy(&self, ctx: &Ctx, req: &DeployRequest, plan: &mut Plan) -> Result<(), Error> {
        crate::targets::check_deploy(ctx, &self.env_name, &self.env, &self.root, req, plan)
    }

    /// The source of a promotion: `ENV revision N (commit C)` when ENV is gitops too,
    /// and the source commit that release recorded.
    fn promotion_source(
        &self,
        ctx: &Ctx,
        p: &crate::targets::Promotion,
    ) -> (String, Option<String>) {
        let Ok(env) = ctx.project.environment(&p.from) else {
            return (p.from.clone(), None);
        };
        if env.is_gitops() {
            if let Ok(from) = GitOps::resolve(ctx, &p.from, env.clone(), &TargetArgs::default()) {
                let found = from
                    .sync(ctx.runner)
                    .ok()
                    .and_then(|_c| from.releases().ok());
                if let Some(r) =
                    found.and_then(|rs| rs.into_iter().find(|r| r.revision == p.revision))
                {
                    return (
                        format!("{} revision {} (commit {})", p.from, p.revision, r.commit),
                        r.source_commit,
                    );
                }
            }
        }
        (format!("{} revision {}", p.from, p.revision), None)
    }

    fn source_commit(&self) -> String {
        match git::inspect(&self.root) {
            Some(s) => match s.dirty {
                Some(_) => format!("{} (with uncommitted changes)", s.sha),
                None => s.sha,
            },
            None => "unknown (the project is not in a git repository)".into(),
        }
    }

    fn result_json(&self, commit: Option<&str>, image: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "environment": self.env_name,
            "delivery": "gitops",
            "repository": self.shown_repo(),
            "branch": self.branch,
            "path": self.path,
            "image": image,
            "commit": commit,
            "up_to_date": commit.is_none(),
        })
    }

    /// Commit `files` (or say it is a no-op) and print the verb's result.
    #[allow(clippy::too_many_arguments)]
    fn write_and_finish(
        &self,
        ctx: &mut Ctx,
        verb: &str,
        files: &Files,
        message: &dyn Fn(Option<&ReleaseCommit>) -> String,
        guard: Option<&Guard>,
        image: Option<&str>,
        done: &str,
    ) -> Result<(), Error> {
        let commit = self.commit_release(ctx, files, message, guard)?;
        if let Some(i) = image.filter(|_| !verb.starts_with("destroy")) {
            let release = match &commit {
                Some(c) => Some(c.clone()),
                None if self.readable() => {
                    let _c = self.sync(ctx.runner)?;
                    self.releases()?.into_iter().next().map(|r| r.commit)
                }
                None => None,
            };
            if let Some(r) = self.wait_for(ctx.runner, &ImageRef::parse(i)?, release.as_deref())? {
                ui::info(&format!("cluster: {}", r.summary()));
            }
        }
        let summary = match &commit {
            Some(c) => Summary {
                success: Some(format!(
                    "{done}: commit {} pushed to {} {}",
                    &c[..12.min(c.len())],
                    self.shown_repo(),
                    self.branch
                )),
                data: Some(format!("{} {}", self.env_name, c)),
                json: self.result_json(Some(c), image),
            },
            None => {
                ui::info(&format!(
                    "{} on {} already holds this release: nothing to commit",
                    self.path, self.branch
                ));
                Summary {
                    success: None,
                    data: None,
                    json: self.result_json(None, image),
                }
            }
        };
        execute::finish(ctx.settings, ctx.runner, verb, summary);
        Ok(())
    }
}

enum Attempt {
    Pushed(String),
    Unchanged,
    Rejected,
}

impl Target for GitOps {
    fn deploy(&self, ctx: &mut Ctx, req: DeployRequest) -> Result<(), Error> {
        self.announce();
        let image = req.image.clone();
        let mut plan = Plan::new(format!("deploy {}", self.env_name));
        plan.note(format!("image {}", image.reference()));
        self.check_deploy(ctx, &req, &mut plan)?;
        let mut source = self.source_commit();
        let mut promoted_commit = None;
        let promoted = req.promotion.as_ref().map(|p| {
            // A promotion records the source commit of the release it copies (and an Argo
            // CD Application takes the chart at that commit).
            let (from, commit) = self.promotion_source(ctx, p);
            if let Some(c) = commit {
                source = c.clone();
                promoted_commit = Some(c);
            }
            from
        });
        let files = self.release_files_at(ctx.runner, &image, promoted_commit.as_deref())?;
        let env_name = self.env_name.clone();
        let project = self.project.clone();
        let message = move |before: Option<&ReleaseCommit>| {
            let old = before
                .and_then(|b| b.image.clone())
                .unwrap_or_else(|| "nothing".into());
            let verb = if promoted.is_some() {
                "promote"
            } else {
                "deploy"
            };
            let mut m = format!(
                "{verb} {project} to {env_name}: {} -> {}\n\n",
                short_image(&old),
                short_image(image.reference())
            );
            m.push_str(&format!("Image: {old} -> {}\n", image.reference()));
            m.push_str(&format!("Source commit: {source}\n"));
            if let Some(p) = &promoted {
                m.push_str(&format!("Promoted from: {p}\n"));
            }
            m.push_str(&format!(
                "\n{TRAILER_ENV}: {env_name}\n{TRAILER_IMAGE}: {}\n{TRAILER_SOURCE}: {source}\n",
                image.reference()
            ));
            if let Some(p) = &promoted {
                m.push_str(&format!("{TRAILER_PROMOTED}: {p}\n"));
            }
            m
        };
        if ctx.settings.dry_run {
            return self.dry_run(ctx, plan, &files, &message);
        }
        for n in &plan.notes {
            ui::info(n);
        }
        let guard = self.guard("deploy", Some(&req.image), req.yes);
        self.write_and_finish(
            ctx,
            &plan.verb,
            &files,
            &message,
            guard.as_ref(),
            Some(req.image.reference()),
            &format!("{} released to {}", req.image.reference(), self.env_name),
        )
    }

    fn render(&self, ctx: &mut Ctx, image: Option<&str>) -> Result<(), Error> {
        let img = match image {
            Some(i) => ImageRef::parse(i)?,
            None => match crate::targets::kube::image_to_deploy(ctx, None, None) {
                Ok(i) => i,
                Err(_) => ImageRef::parse(&format!(
                    "{}:unbuilt",
                    crate::targets::kube::project_repository(ctx)
                ))?,
            },
        };
        let files = self.release_files(ctx.runner, &img)?;
        if ctx.settings.json {
            ui::print_json(&serde_json::json!({
                "environment": self.env_name,
                "path": self.path,
                "files": files,
            }));
            return Ok(());
        }
        let mut text = String::new();
        for (name, content) in &files {
            text.push_str(&format!("# {}/{name}\n{content}", self.path));
            if !content.ends_with('\n') {
                text.push('\n');
            }
        }
        ui::data(text.trim_end());
        Ok(())
    }

    fn status(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let releases = {
            let _c = self.sync(ctx.runner)?;
            self.releases()?
        };
        let current = releases.first().filter(|r| !r.removed);
        let reconciled = self.reconciled(ctx.runner)?;
        if ctx.settings.json {
            ui::print_json(&serde_json::json!({
                "environment": self.env_name,
                "delivery": "gitops",
                "repository": self.shown_repo(),
                "branch": self.branch,
                "path": self.path,
                "committed": current,
                "cluster": reconciled,
            }));
            return Ok(());
        }
        let mut text = format!(
            "environment {} (gitops: {} {} {})\n",
            self.env_name,
            self.shown_repo(),
            self.branch,
            self.path
        );
        match current {
            Some(r) => text.push_str(&format!(
                "committed: revision {} commit {} ({})\n  image: {}\n  source commit: {}\n",
                r.revision,
                &r.commit[..12],
                r.date,
                r.image.as_deref().unwrap_or("unknown"),
                r.source_commit.as_deref().unwrap_or("unknown"),
            )),
            None => text.push_str("committed: nothing (no release under the path)\n"),
        }
        match reconciled {
            Some(r) => text.push_str(&format!("cluster: {}\n", r.summary())),
            None => text.push_str("cluster: not asked (no `context` under the environment)\n"),
        }
        ui::data(text.trim_end());
        Ok(())
    }

    fn wait_reconciled(&self, ctx: &mut Ctx) -> Result<(), Error> {
        if !self.readable() {
            return Err(Error::usage(
                format!(
                    "lbc cannot see what the cluster of `{}` reconciled: {}",
                    self.env_name,
                    if self.env.context.is_none() {
                        "the environment has no `context`"
                    } else {
                        "format \"manifests\" has no controller object to read without `kustomization`"
                    }
                ),
                Some(format!(
                    "set `context = \"NAME\"` under [env.{}] (and, for format manifests, `kustomization = \"NAMESPACE/NAME\"`)",
                    self.env_name
                )),
            ));
        }
        let release = {
            let _c = self.sync(ctx.runner)?;
            self.releases()?.into_iter().next().filter(|r| !r.removed)
        };
        let (image, commit) = release
            .and_then(|r| Some((ImageRef::parse(r.image.as_deref()?).ok()?, r.commit)))
            .ok_or_else(|| {
                Error::usage(
                    format!("nothing is committed for `{}`", self.env_name),
                    Some(format!("deploy it: `lbc deploy {}`", self.env_name)),
                )
            })?;
        self.wait_for(ctx.runner, &image, Some(&commit)).map(|_| ())
    }

    fn logs(
        &self,
        _ctx: &mut Ctx,
        _follow: bool,
        _tail: u32,
        service: Option<&str>,
    ) -> Result<(), Error> {
        if service.is_some() {
            return Err(crate::targets::kube::docker_only("--service"));
        }
        Err(Error::usage(
            format!(
                "`{}` is delivered by gitops: lbc does not read its pods' logs",
                self.env_name
            ),
            Some(format!(
                "use `kubectl logs -l app.kubernetes.io/instance={}` on the cluster",
                self.release
            )),
        ))
    }

    fn destroy(&self, ctx: &mut Ctx, yes: bool, volumes: bool) -> Result<(), Error> {
        if volumes {
            return Err(crate::targets::kube::docker_only("--volumes"));
        }
        self.announce();
        let env_name = self.env_name.clone();
        let message =
            move |before: Option<&ReleaseCommit>| {
                format!(
                "remove the release of {env_name}\n\nImage was: {}\n\n{TRAILER_ENV}: {env_name}\n",
                before.and_then(|b| b.image.clone()).unwrap_or_else(|| "unknown".into())
            )
            };
        let files = Files::new();
        if ctx.settings.dry_run {
            let plan = Plan::new(format!("destroy {}", self.env_name));
            return self.dry_run(ctx, plan, &files, &message);
        }
        let guard = self.guard("destroy", None, yes);
        self.write_and_finish(
            ctx,
            &format!("destroy {}", self.env_name),
            &files,
            &message,
            guard.as_ref(),
            None,
            &format!("the release of {} removed", self.env_name),
        )
    }

    fn history(&self, ctx: &mut Ctx) -> Result<(), Error> {
        let releases = {
            let _c = self.sync(ctx.runner)?;
            self.releases()?
        };
        if ctx.settings.json {
            ui::print_json(&serde_json::json!({
                "environment": self.env_name,
                "repository": self.shown_repo(),
                "path": self.path,
                "history": releases,
            }));
            return Ok(());
        }
        if releases.is_empty() {
            return Err(Error::failed(
                format!(
                    "nothing was ever committed under {} for `{}`",
                    self.path, self.env_name
                ),
                Some(format!("deploy it: `lbc deploy {}`", self.env_name)),
            ));
        }
        let mut text =
            String::from("REVISION  COMMIT        DATE                       IMAGE  MESSAGE\n");
        for r in releases.iter().rev() {
            text.push_str(&format!(
                "{:<9} {:<13} {:<26} {}  {}\n",
                r.revision,
                &r.commit[..12],
                r.date,
                r.image
                    .as_deref()
                    .map(short_image)
                    .unwrap_or_else(|| "-".into()),
                r.subject
            ));
        }
        ui::data(text.trim_end());
        Ok(())
    }

    fn rollback(&self, ctx: &mut Ctx, revision: Option<u32>, yes: bool) -> Result<(), Error> {
        self.announce();
        let (target, files) = {
            let _c = self.sync(ctx.runner)?;
            let releases = self.releases()?;
            let target = match revision {
                Some(r) => releases
                    .iter()
                    .find(|x| x.revision == u64::from(r))
                    .cloned()
                    .ok_or_else(|| {
                        Error::usage(
                            format!(
                                "`{}` has no revision {r} (it has 1 to {})",
                                self.env_name,
                                releases.len()
                            ),
                            Some(format!("`lbc history {}` lists them", self.env_name)),
                        )
                    })?,
                None => releases.get(1).cloned().ok_or_else(|| {
                    Error::usage(
                        format!("`{}` has no earlier release to roll back to", self.env_name),
                        Some(format!(
                            "`lbc history {}` lists the releases",
                            self.env_name
                        )),
                    )
                })?,
            };
            let files = self.files_at(&target.commit)?;
            (target, files)
        };
        let env_name = self.env_name.clone();
        let t = target.clone();
        let message = move |before: Option<&ReleaseCommit>| {
            let old = before
                .and_then(|b| b.image.clone())
                .unwrap_or_else(|| "unknown".into());
            let new = t.image.clone().unwrap_or_else(|| "unknown".into());
            let mut m = format!(
                "rollback {env_name} to revision {} ({}): {} -> {}\n\nImage: {old} -> {new}\nRestores the files of commit {}.\n\n{TRAILER_ENV}: {env_name}\n",
                t.revision,
                &t.commit[..12],
                short_image(&old),
                short_image(&new),
                t.commit
            );
            if let Some(i) = &t.image {
                m.push_str(&format!("{TRAILER_IMAGE}: {i}\n"));
            }
            if let Some(s) = &t.source_commit {
                m.push_str(&format!("{TRAILER_SOURCE}: {s}\n"));
            }
            m.push_str(&format!("{TRAILER_ROLLBACK}: {}\n", t.commit));
            m
        };
        if ctx.settings.dry_run {
            let plan = Plan::new(format!("rollback {}", self.env_name));
            return self.dry_run(ctx, plan, &files, &message);
        }
        let guard = self.guard("roll back", None, yes);
        self.write_and_finish(
            ctx,
            &format!("rollback {}", self.env_name),
            &files,
            &message,
            guard.as_ref(),
            target.image.as_deref(),
            &format!(
                "{} rolled back to revision {}",
                self.env_name, target.revision
            ),
        )
    }

    fn running(&self, ctx: &Ctx) -> Result<Option<Running>, Error> {
        let releases = {
            let _c = self.sync(ctx.runner)?;
            self.releases()?
        };
        Ok(releases
            .into_iter()
            .next()
            .filter(|r| !r.removed)
            .and_then(|r| {
                Some(Running {
                    image: ImageRef::parse(r.image.as_deref()?).ok()?,
                    revision: r.revision,
                })
            }))
    }
}

// --- the cluster's side --------------------------------------------------------------

/// What the cluster's controller reports about the release.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reconciled {
    pub kind: String,
    /// The image the object on the cluster carries (its values' `image`).
    pub image: Option<String>,
    /// A Kustomization: the repository revision it applied, or attempted when it failed.
    #[serde(skip)]
    pub applied: Option<String>,
    /// The controller has seen the object's last change.
    pub observed: bool,
    /// The controller gave up on this change (a failed install or upgrade, degraded).
    pub failed: bool,
    pub ready: Option<bool>,
    pub message: Option<String>,
    /// Flux: `status.lastAppliedRevision`; Argo CD: `status.sync.revision`.
    pub revision: Option<String>,
    /// Argo CD: sync and health status.
    pub sync: Option<String>,
    pub health: Option<String>,
}

impl Reconciled {
    fn summary(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.kind,
            match self.ready {
                Some(true) => "ready",
                Some(false) => "not ready",
                None => "not reconciled yet",
            }
        );
        if let Some(r) = &self.revision {
            s.push_str(&format!(", revision {r}"));
        }
        if let Some(x) = &self.sync {
            s.push_str(&format!(", sync {x}"));
        }
        if let Some(x) = &self.health {
            s.push_str(&format!(", health {x}"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!(": {m}"));
        }
        s
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct CrObject {
    #[serde(default)]
    metadata: CrMeta,
    #[serde(default)]
    spec: serde_json::Value,
    #[serde(default)]
    status: CrStatus,
}

#[derive(Debug, Default, serde::Deserialize)]
struct CrMeta {
    #[serde(default)]
    generation: i64,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrStatus {
    #[serde(default)]
    observed_generation: i64,
    #[serde(default)]
    conditions: Vec<crate::tools::kubectl::Condition>,
    last_applied_revision: Option<String>,
    last_attempted_revision: Option<String>,
    sync: Option<ArgoSync>,
    health: Option<ArgoHealth>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ArgoSync {
    status: Option<String>,
    revision: Option<String>,
    /// The source Argo CD compared: equal to the spec's once it saw the last change.
    #[serde(default, rename = "comparedTo")]
    compared_to: serde_json::Value,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ArgoHealth {
    status: Option<String>,
    message: Option<String>,
}

impl GitOps {
    /// After a push: wait (up to `timeout`) until the controller reports the release
    /// with `image` ready; fail clearly when it reports a failure or time runs out.
    fn wait_for(
        &self,
        runner: &Runner,
        image: &ImageRef,
        release_commit: Option<&str>,
    ) -> Result<Option<Reconciled>, Error> {
        if !self.readable() {
            return Ok(None);
        }
        let timeout = self.env.timeout_or(crate::targets::kube::DEFAULT_TIMEOUT);
        ui::step(&format!(
            "Wait for the cluster of `{}` to reconcile {} (timeout {}s)",
            self.env_name,
            short_image(image.reference()),
            timeout.as_secs()
        ));
        let started = Instant::now();
        let wanted = image
            .digest
            .clone()
            .unwrap_or_else(|| image.effective_tag().unwrap_or_default().to_owned());
        let mut last = None;
        while started.elapsed() < timeout {
            if let Some(r) = self.reconciled(runner)? {
                let carries = match (&r.applied, release_commit) {
                    // A Kustomization: the revision it applied or attempted contains ours.
                    (Some(rev), Some(c)) => self.contains(runner, rev, c),
                    (Some(_), None) => false,
                    (None, _) => r.image.as_deref() == Some(wanted.as_str()),
                };
                if carries && r.observed && r.failed {
                    return Err(Error::failed(
                        format!(
                            "the cluster of `{}` failed to apply {}: {}",
                            self.env_name,
                            image.reference(),
                            r.summary()
                        ),
                        Some(format!(
                            "the commit stays in {} {}: fix the cause and deploy again, or `lbc rollback {}`",
                            self.shown_repo(),
                            self.branch,
                            self.env_name
                        )),
                    ));
                }
                if carries && r.observed && r.ready == Some(true) {
                    return Ok(Some(r));
                }
                last = Some(r);
            }
            crate::runner::sleep(std::time::Duration::from_secs(1))?;
        }
        Err(Error::failed(
            format!(
                "the cluster of `{}` did not reconcile {} within {}s: {}",
                self.env_name,
                image.reference(),
                timeout.as_secs(),
                last.map(|r| r.summary())
                    .unwrap_or_else(|| "the object is not on the cluster".into())
            ),
            Some(format!(
                "the commit was pushed; check the controller (`flux get helmreleases`, `argocd app get`), or raise `timeout` under [env.{}]",
                self.env_name
            )),
        ))
    }

    /// Whether lbc can read what the cluster reconciled: a context, and an object to read.
    fn readable(&self) -> bool {
        self.env.context.is_some()
            && (self.format != GitopsFormat::Manifests || self.env.kustomization.is_some())
    }

    /// Whether the environment repository's revision `rev` (Flux: `BRANCH@sha1:SHA`)
    /// is `commit` or a descendant of it (fetching once when lbc's clone lacks it).
    fn contains(&self, runner: &Runner, rev: &str, commit: &str) -> bool {
        let sha = rev.rsplit(':').next().unwrap_or(rev);
        let check = || -> Option<bool> {
            let repo = git2::Repository::open(&self.cache).ok()?;
            let applied = git2::Oid::from_str(sha).ok()?;
            let ours = git2::Oid::from_str(commit).ok()?;
            repo.find_commit(applied).ok()?;
            Some(applied == ours || repo.graph_descendant_of(applied, ours).unwrap_or(false))
        };
        check()
            .or_else(|| {
                let _ = runner.query(&self.git.fetch(&self.branch));
                check()
            })
            .unwrap_or(false)
    }

    /// The controller's view, when the environment names a kube context.
    fn reconciled(&self, runner: &Runner) -> Result<Option<Reconciled>, Error> {
        let Some(context) = &self.env.context else {
            return Ok(None);
        };
        let (kind, object, ns) = match (self.format, &self.env.kustomization) {
            (_, Some(k)) => {
                let (ns, name) = k.split_once('/').unwrap_or(("flux-system", k));
                (
                    "Kustomization",
                    format!("kustomizations.kustomize.toolkit.fluxcd.io/{name}"),
                    ns.to_owned(),
                )
            }
            (GitopsFormat::ArgocdApplication, None) => (
                "Application",
                format!(
                    "applications.argoproj.io/{}-{}",
                    self.release, self.env_name
                ),
                "argocd".to_owned(),
            ),
            _ => (
                "HelmRelease",
                format!("helmreleases.helm.toolkit.fluxcd.io/{}", self.release),
                self.namespace.clone(),
            ),
        };
        if !self.readable() {
            return Ok(None);
        }
        let cluster = crate::tools::kubectl::Cluster {
            context: context.clone(),
            namespace: ns,
            kubeconfig: self.env.kubeconfig.as_ref().map(|k| self.root.join(k)),
        };
        let kubectl =
            crate::tools::kubectl::Kubectl::on(&self.env.kubectl_bin(), &self.root, &cluster);
        let out = runner.query(&kubectl.get_json(&[object]))?;
        if !out.ok() {
            if out.stderr.contains("NotFound") || out.stderr.contains("not found") {
                return Ok(None);
            }
            return Ok(Some(Reconciled {
                kind: kind.into(),
                applied: None,
                image: None,
                observed: false,
                failed: false,
                ready: None,
                message: Some(first_line(&out.stderr).to_owned()),
                revision: None,
                sync: None,
                health: None,
            }));
        }
        let obj: CrObject = serde_json::from_str(&out.stdout).unwrap_or_default();
        Ok(Some(parse_reconciled(kind, obj)))
    }
}

fn parse_reconciled(kind: &str, obj: CrObject) -> Reconciled {
    let st = obj.status;
    let values = match kind {
        "Application" => &obj.spec["source"]["helm"]["valuesObject"],
        _ => &obj.spec["values"],
    };
    let image = values["image"]["digest"]
        .as_str()
        .or(values["image"]["tag"].as_str())
        .map(str::to_owned);
    match kind {
        "Application" => {
            let sync = st.sync.as_ref().and_then(|s| s.status.clone());
            let health = st.health.as_ref().and_then(|h| h.status.clone());
            Reconciled {
                kind: kind.into(),
                applied: None,
                image,
                observed: st.sync.as_ref().is_some_and(|s| {
                    !s.compared_to["source"].is_null()
                        && s.compared_to["source"] == obj.spec["source"]
                }),
                failed: matches!(health.as_deref(), Some("Degraded" | "Missing")),
                ready: sync
                    .as_ref()
                    .map(|s| s == "Synced" && health.as_deref() == Some("Healthy")),
                message: st.health.and_then(|h| h.message),
                revision: st.sync.and_then(|s| s.revision),
                sync,
                health,
            }
        }
        _ => {
            let ready = st.conditions.iter().find(|c| c.kind == "Ready");
            let failed = ready.is_some_and(|c| {
                c.status == "False" && c.reason != "Progressing" && !c.reason.is_empty()
            });
            Reconciled {
                kind: kind.into(),
                applied: (kind == "Kustomization")
                    .then(|| {
                        if failed {
                            st.last_attempted_revision.clone()
                        } else {
                            st.last_applied_revision.clone()
                        }
                    })
                    .map(|r| r.unwrap_or_default()),
                image: if kind == "Kustomization" { None } else { image },
                observed: st.observed_generation >= obj.metadata.generation
                    && st.observed_generation > 0,
                failed,
                ready: ready.map(|c| c.status == "True"),
                message: ready.map(|c| c.message.clone()).filter(|m| !m.is_empty()),
                revision: st.last_applied_revision,
                sync: None,
                health: None,
            }
        }
    }
}

// --- helpers -----------------------------------------------------------------------

/// `$XDG_CACHE_HOME/lbc/gitops/HASH` (else `~/.cache/...`): one clone per repository.
fn cache_dir(repo: &str) -> Result<PathBuf, Error> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| {
            Error::usage(
                "neither XDG_CACHE_HOME nor HOME is set: lbc has nowhere to keep its clone of the environment repository",
                Some("set HOME (or XDG_CACHE_HOME)".into()),
            )
        })?;
    let h = Sha256::digest(git::strip_credentials(repo).as_bytes());
    Ok(base.join("lbc").join("gitops").join(&hex(&h)[..16]))
}

/// The `Key: value` trailers of a commit message (the last paragraph).
fn trailers(message: &str) -> BTreeMap<String, String> {
    let last = message.trim_end().rsplit("\n\n").next().unwrap_or("");
    last.lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.starts_with("Lbc-"))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
}

/// `repo:tag@sha256:0123456789ab` (12 hex characters of a digest).
fn short_image(reference: &str) -> String {
    match reference.split_once("@sha256:") {
        Some((name, d)) => format!("{name}@sha256:{}", &d[..12.min(d.len())]),
        None => reference.to_owned(),
    }
}

fn iso_time(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Merge `b` into `a` as helm merges values: maps deeply, anything else replaced.
fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (a, b) => *a = b,
    }
}

fn yaml_to_json(y: yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::String(s)),
        Yaml::Integer(i) => i.into(),
        Yaml::String(s) => s.into(),
        Yaml::Boolean(b) => b.into(),
        Yaml::Array(a) => a.into_iter().map(yaml_to_json).collect(),
        Yaml::Hash(h) => serde_json::Value::Object(
            h.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => String::new(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

pub fn json_to_yaml(v: &serde_json::Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        serde_json::Value::String(s) => Yaml::String(s.clone()),
        serde_json::Value::Array(a) => Yaml::Array(a.iter().map(json_to_yaml).collect()),
        serde_json::Value::Object(o) => Yaml::Hash(
            o.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), json_to_yaml(v)))
                .collect(),
        ),
    }
}

/// A YAML document (keys in the order serde_json keeps: sorted).
pub fn to_yaml(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let mut em = yaml_rust2::YamlEmitter::new(&mut out);
    em.dump(&json_to_yaml(v)).expect("yaml");
    let body = out.strip_prefix("---\n").unwrap_or(&out).to_owned();
    format!("# Written by lbc (docs/gitops.md); lbc rewrites this directory on every release.\n{body}\n")
}

/// A unified diff of the files under `path`, as `git diff` shows it.
pub fn diff_files(path: &str, before: &Files, after: &Files) -> String {
    let mut out = String::new();
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let a = before.get(name).map(String::as_str).unwrap_or("");
        let b = after.get(name).map(String::as_str).unwrap_or("");
        if before.contains_key(name) && a == b {
            continue;
        }
        let old = if before.contains_key(name) {
            format!("a/{path}/{name}")
        } else {
            "/dev/null".into()
        };
        let new = if after.contains_key(name) {
            format!("b/{path}/{name}")
        } else {
            "/dev/null".into()
        };
        let d = similar::TextDiff::from_lines(a, b);
        out.push_str(&format!(
            "{}",
            d.unified_diff().context_radius(3).header(&old, &new)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #13: trailers are read back from a release commit's message.
    #[test]
    fn trailers_are_read_from_the_last_paragraph() {
        let m = "deploy x to staging: a -> b\n\nImage: a -> b\n\nLbc-Environment: staging\nLbc-Image: r/x:1@sha256:ab\n";
        let t = trailers(m);
        assert_eq!(
            t.get("Lbc-Image").map(String::as_str),
            Some("r/x:1@sha256:ab")
        );
        assert_eq!(
            t.get("Lbc-Environment").map(String::as_str),
            Some("staging")
        );
        assert!(!t.contains_key("Image"));
    }

    /// #13: values files merge deeply, `set` and the image win.
    #[test]
    fn values_merge_deeply() {
        let mut a = serde_json::json!({"a": {"b": 1, "c": 2}, "l": [1]});
        merge(&mut a, serde_json::json!({"a": {"c": 3}, "l": [2]}));
        assert_eq!(a, serde_json::json!({"a": {"b": 1, "c": 3}, "l": [2]}));
        let y = to_yaml(&serde_json::json!({"k": "v: x", "n": 2, "t": true}));
        let back = yaml_rust2::YamlLoader::load_from_str(&y).unwrap();
        assert_eq!(
            yaml_to_json(back[0].clone()),
            serde_json::json!({"k": "v: x", "n": 2, "t": true})
        );
    }

    /// #13: the dry-run diff names the files as git does, new files from /dev/null.
    #[test]
    fn diff_names_files_under_the_path() {
        let before: Files = [("a.yaml".to_owned(), "x: 1\n".to_owned())].into();
        let after: Files = [
            ("a.yaml".to_owned(), "x: 2\n".to_owned()),
            ("b.yaml".to_owned(), "y: 1\n".to_owned()),
        ]
        .into();
        let d = diff_files("apps/x", &before, &after);
        assert!(
            d.contains("--- a/apps/x/a.yaml\n+++ b/apps/x/a.yaml"),
            "{d}"
        );
        assert!(d.contains("-x: 1\n+x: 2"), "{d}");
        assert!(d.contains("--- /dev/null\n+++ b/apps/x/b.yaml"), "{d}");
        assert!(diff_files("p", &after, &after).is_empty());
    }
}
