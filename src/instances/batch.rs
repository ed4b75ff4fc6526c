//! Deploying many instances of one environment at once (issue #12): `lbc deploy ENV
//! --instance NAME | --all-instances` and `lbc promote FROM TO --all-instances`.
//!
//! The plan is one `helm upgrade --install --wait --rollback-on-failure` (v3:
//! `--atomic`) per instance whose release is not already at the wanted state, each in
//! the instance's namespace: helm rolls each one back on its own when its rollout fails,
//! so every instance ends on its new or on its previous revision. Which releases are
//! already up to date is found with one query for the whole environment (the release
//! Secrets helm keeps, across namespaces, by label), never one helm process per
//! instance. The steps run `--jobs` at a time through the one runner; `--fail-fast`
//! starts no new one after a failure. The summary (a table, or the JSON document) is
//! read back from the cluster after the run, in two more queries, so it says what runs,
//! not what was hoped for.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::config::{EnvKind, Environment};
use crate::error::{code, Error};
use crate::execute::Guard;
use crate::image::ImageRef;
use crate::instances::{Instance, Instances, INSTANCE_LABEL};
use crate::plan::{Exec, Plan, Step};
use crate::runner::{Runner, StepResult};
use crate::targets::kube::{self, Kube, Workload};
use crate::targets::Promotion;
use crate::tools::{self, git::hex, helm};
use crate::ui;

/// The release label that makes a repeated deploy of an instance a no-op.
pub const HASH_LABEL: &str = "lbc-deploy-hash";

/// Which instances a verb acts on.
#[derive(Debug, Clone)]
pub enum Selection {
    One(String),
    All,
}

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub image: ImageRef,
    /// Instances deployed at once (at least 1).
    pub jobs: usize,
    pub fail_fast: bool,
    pub yes: bool,
    pub allow_dirty: bool,
    pub force: bool,
    pub promotion: Option<Promotion>,
}

/// The deployed revision of a release in one namespace (from its storage Secret).
#[derive(Debug, Clone)]
pub struct Deployed {
    pub revision: u64,
    pub labels: BTreeMap<String, String>,
}

/// A Kubernetes environment deployed with a chart, resolved for its instances.
pub struct Env {
    pub kube: Kube,
    pub project: String,
}

impl Env {
    /// Resolve `env_name`, which must be a Kubernetes environment with a Helm chart
    /// delivered directly (instances are releases of the chart, one per namespace).
    pub fn resolve(ctx: &Ctx, env_name: &str, flags: &TargetArgs) -> Result<Env, Error> {
        let env = ctx.project.environment(env_name)?.clone();
        if env.kind != EnvKind::Kubernetes || env.is_gitops() {
            return Err(Error::usage(
                format!(
                    "instances of `{env_name}` are deployed one at a time: it is a {} environment",
                    if env.is_gitops() { "gitops" } else { "docker" }
                ),
                Some(if env.is_gitops() {
                    "deploy instances to a Kubernetes environment delivered directly (helm); gitops environments have no instances yet".into()
                } else {
                    format!("use `lbc deploy {env_name} --instance NAME` for one instance on this machine")
                }),
            ));
        }
        if flags.namespace.is_some() {
            return Err(Error::usage(
                "--namespace does not apply to instances: each has its own (`namespace` in its file, default PROJECT-NAME)",
                Some("drop --namespace".to_owned()),
            ));
        }
        let kube = Kube::resolve(ctx, env_name, env, flags)?;
        if !matches!(kube.source, kube::Source::Chart(_)) {
            return Err(Error::usage(
                format!("instances need a Helm chart, and `{env_name}` deploys manifests"),
                Some("set `[deploy] chart = \"PATH\"` in lbc.toml".into()),
            ));
        }
        Ok(Env {
            kube,
            project: ctx.project.project().to_owned(),
        })
    }

    /// The environment's connection, in an instance's namespace.
    pub fn in_namespace(&self, namespace: &str) -> Kube {
        let mut k = self.kube.clone();
        k.cluster.namespace = namespace.to_owned();
        k
    }

    /// One query for the whole environment: the deployed revision of the release in
    /// every namespace (helm's storage Secrets carry the release's labels).
    pub fn deployed(&self, runner: &Runner) -> Result<BTreeMap<String, Deployed>, Error> {
        let k = &self.kube;
        let selector = format!("owner=helm,name={},status=deployed", k.release);
        let out = runner.query(
            &k.kubectl()
                .get_selected_all_namespaces_json("secrets", &selector),
        )?;
        if !out.ok() {
            k.check_context(runner)?;
            return Err(k.unreachable(&out.stderr));
        }
        let mut map: BTreeMap<String, Deployed> = BTreeMap::new();
        for s in tools::kubectl::parse_items::<tools::kubectl::SecretObject>(&out.stdout) {
            let revision = s
                .metadata
                .labels
                .get("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let newer = map
                .get(&s.metadata.namespace)
                .is_none_or(|d| d.revision < revision);
            if newer {
                map.insert(
                    s.metadata.namespace.clone(),
                    Deployed {
                        revision,
                        labels: s.metadata.labels,
                    },
                );
            }
        }
        Ok(map)
    }

    /// One query: the release's workloads in every namespace, by namespace.
    pub fn workloads(&self, runner: &Runner) -> Result<BTreeMap<String, Vec<Workload>>, Error> {
        let k = &self.kube;
        let out = runner.query(
            &k.kubectl()
                .get_selected_all_namespaces_json("deployments,statefulsets", &k.selector()),
        )?;
        if !out.ok() {
            return Err(k.unreachable(&out.stderr));
        }
        let mut map: BTreeMap<String, Vec<Workload>> = BTreeMap::new();
        for o in tools::kubectl::parse_items::<tools::kubectl::WorkloadObject>(&out.stdout) {
            let ns = o.metadata.namespace.clone();
            map.entry(ns).or_default().push(Workload::from(o));
        }
        Ok(map)
    }

    /// A hash of what every instance shares: the chart's files and the values files.
    fn base_hash(&self) -> Result<Vec<u8>, Error> {
        let t = &self.kube;
        let mut h = Sha256::new();
        let dir = t.source.dir();
        for f in crate::fsutil::files_under(dir)? {
            h.update(f.as_bytes());
            h.update([0]);
            h.update(crate::fsutil::read(&dir.join(&f))?);
            h.update([0]);
        }
        for v in &t.env.values {
            h.update(crate::fsutil::read(&t.root.join(v))?);
            h.update([0]);
        }
        Ok(h.finalize().to_vec())
    }
}

/// An instance's deploy, planned.
struct Unit<'a> {
    inst: &'a Instance,
    namespace: String,
    hash: String,
    /// `None`: already at the wanted state.
    exec: Option<Exec>,
    /// What runs before the release, in order: the instance's backing services (its
    /// namespace, Secrets, StatefulSets, waits; issue #10).
    pre: Vec<Exec>,
    /// The revision that runs before the deploy.
    before: Option<u64>,
}

/// What running a unit did.
#[derive(Debug, Clone)]
enum Ran {
    Unchanged,
    NotStarted,
    Succeeded,
    Failed(String),
}

/// `lbc deploy ENV --instance NAME | --all-instances` (and promote) on a Kubernetes
/// environment with a chart.
pub fn deploy(
    ctx: &mut Ctx,
    env_name: &str,
    flags: &TargetArgs,
    selection: &Selection,
    opts: Options,
) -> Result<(), Error> {
    let instances = crate::instances::load(&ctx.project)?;
    let chosen = select(&instances, env_name, selection)?;
    let e = Env::resolve(ctx, env_name, flags)?;
    let t = &e.kube;
    let image = &opts.image;
    let mut plan = Plan::new(format!("deploy {env_name}"));
    ui::info(&format!(
        "environment {env_name}: context {}, {} instance{} of release {}",
        t.cluster.context,
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" },
        t.release
    ));
    plan.note(format!("image {}", image.reference()));
    check_guards(ctx, env_name, &t.env, &t.root, &opts, &mut plan)?;
    // One query for every instance: which ones already run this state.
    let deployed = e.deployed(ctx.runner)?;
    // helm's major version (its rollback flag), asked only when an instance changes.
    let mut major = None;
    let base = e.base_hash()?;
    let values_files: Vec<std::path::PathBuf> =
        t.env.values.iter().map(|v| t.root.join(v)).collect();
    // The backing services: each instance's own, provisioned in its namespace (#10).
    let services = t.services(ctx)?;
    let services_values = crate::services::kube::chart_values(&ctx.project, &services);
    let mut units = Vec::new();
    for inst in chosen {
        let namespace = inst.namespace(&e.project);
        let k = e.in_namespace(&namespace);
        let values = inst.values(&t.env, Some(image), services_values.as_ref());
        // What lbc applies itself counts too (a service's image from the catalogue).
        // The services as the instance sees them: its backups' names and schedule.
        let iproject = crate::instances::kube_project(&ctx.project, env_name, inst);
        let applied = {
            let ictx = Ctx {
                settings: ctx.settings,
                project: iproject.clone(),
                runner: &mut *ctx.runner,
            };
            crate::services::kube::to_yaml_stream(&k.applied_manifests(&ictx, &services)?)
        };
        let mut labels = vec![format!("{INSTANCE_LABEL}={}", inst.name)];
        if let Some(p) = &opts.promotion {
            labels.push(format!("lbc-promoted-from={}", p.from));
            // 0: promoted from instances, whose revisions differ.
            if p.revision > 0 {
                labels.push(format!("lbc-source-revision={}", p.revision));
            }
        }
        let hash = unit_hash(
            &base,
            &format!("{values}\0{applied}"),
            &t.release,
            &namespace,
            &labels,
        );
        let before = deployed.get(&namespace);
        let mut pre = Vec::new();
        let exec = if before.is_some_and(|d| d.labels.get(HASH_LABEL) == Some(&hash)) {
            plan.note(format!(
                "instance {}: revision {} already runs this chart, these values and this image: nothing to do",
                inst.name,
                before.map(|d| d.revision).unwrap_or(0)
            ));
            None
        } else {
            labels.insert(0, format!("{HASH_LABEL}={hash}"));
            // The services first, ready before the release and its migration hook.
            let mut services_plan = Plan::new("services");
            {
                let ictx = Ctx {
                    settings: ctx.settings,
                    project: iproject.clone(),
                    runner: &mut *ctx.runner,
                };
                k.plan_services(&ictx, &services, &mut services_plan)?;
            }
            for step in services_plan.steps {
                if let crate::plan::Action::Exec(x) = &step.action {
                    pre.push(x.clone());
                }
                let purpose = format!("Instance {}: {}", inst.name, step.purpose);
                plan.push(Step { purpose, ..step });
            }
            let release = helm::Release {
                name: &t.release,
                chart: t.source.dir(),
                values_files: &values_files,
                values,
            };
            let major = match major {
                Some(m) => m,
                None => *major.insert(helm_major(ctx.runner, t)?),
            };
            let exec = k
                .helm()
                .upgrade_install(&release, t.timeout_secs(), major, &labels);
            plan.push(
                Step::exec(
                    format!(
                        "Instance {}: install or upgrade release {} in namespace {namespace} and wait for the rollout (rolled back on failure)",
                        inst.name, t.release
                    ),
                    exec.clone(),
                )
                .what(format!("the deploy of instance `{}`", inst.name)),
            );
            Some(exec)
        };
        units.push(Unit {
            inst,
            namespace,
            hash,
            exec,
            pre,
            before: before.map(|d| d.revision),
        });
    }
    let jobs = opts.jobs.max(1);
    plan.dry_run_extra.insert(
        "instances".into(),
        serde_json::json!(units
            .iter()
            .map(|u| serde_json::json!({
                "instance": u.inst.name,
                "namespace": u.namespace,
                "host": u.inst.host(&t.env),
                "up_to_date": u.exec.is_none(),
            }))
            .collect::<Vec<_>>()),
    );
    plan.dry_run_extra
        .insert("jobs".into(), serde_json::json!(jobs));
    if ctx.settings.dry_run {
        crate::execute::print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    let changing: Vec<&str> = units
        .iter()
        .filter(|u| u.exec.is_some())
        .map(|u| u.inst.name.as_str())
        .collect();
    // The guard of a protected environment: once for the whole batch, listing it.
    if !changing.is_empty() {
        if let Some(g) = Guard::when_protected(
            t.env.protected,
            env_name,
            &format!(
                "deploy {} instance{} ({})",
                changing.len(),
                if changing.len() == 1 { "" } else { "s" },
                changing.join(", ")
            ),
            vec![
                ("context", t.cluster.context.clone()),
                ("image", image.reference().to_owned()),
                ("instances", changing.join(", ")),
            ],
            opts.yes,
        ) {
            crate::execute::guard_protected(&g)?;
        }
    }
    let ran = run_units(ctx.runner, &units, jobs, opts.fail_fast);
    report(ctx, &e, env_name, image, &units, &ran)
}

fn selection(sel: &crate::cli::InstanceSelect) -> Selection {
    match &sel.instance {
        Some(n) => Selection::One(n.clone()),
        None => Selection::All,
    }
}

/// `lbc deploy ENV --instance NAME | --all-instances`.
pub fn deploy_command(ctx: &mut Ctx, args: &crate::cli::DeployArgs) -> Result<(), Error> {
    let sel = &args.instances;
    let env = ctx.project.environment(&args.env)?.clone();
    if env.kind == EnvKind::Docker {
        // One instance on this machine: its own container, port and volumes.
        let Some(name) = sel.instance.as_deref() else {
            return Err(Error::usage(
                format!("--all-instances applies to kubernetes environments, and `{}` is a docker environment", args.env),
                Some(format!("run one instance here: `lbc deploy {} --instance NAME`", args.env)),
            ));
        };
        return crate::instances::with_instance(ctx, &args.env, Some(name), |ictx| {
            let target = crate::targets::resolve(ictx, &args.env, &args.target)?;
            let image = target.choose_image(ictx, args.image.as_deref(), args.tag.as_deref())?;
            target.deploy(
                ictx,
                crate::targets::DeployRequest {
                    image,
                    yes: args.yes,
                    allow_dirty: args.allow_dirty,
                    force: args.force,
                    promotion: None,
                    replicas: args.replicas,
                },
            )
        });
    }
    // Bad names are refused before anything reaches the cluster.
    select(
        &crate::instances::load(&ctx.project)?,
        &args.env,
        &selection(sel),
    )?;
    let image = kube::image_to_deploy(ctx, args.image.as_deref(), args.tag.as_deref())?;
    deploy(
        ctx,
        &args.env,
        &args.target,
        &selection(sel),
        Options {
            image,
            jobs: sel.jobs as usize,
            fail_fast: sel.fail_fast,
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: args.force,
            promotion: None,
        },
    )
}

/// `lbc promote FROM TO --instance NAME | --all-instances`: the image that runs in FROM
/// (in the same instance there when it runs one, else FROM's own release, else the one
/// image all of FROM's instances run), pinned by digest, to the instances of TO.
pub fn promote_command(ctx: &mut Ctx, args: &crate::cli::PromoteArgs) -> Result<(), Error> {
    let sel = selection(&args.instances);
    select(&crate::instances::load(&ctx.project)?, &args.to, &sel)?;
    let from = crate::targets::resolve(ctx, &args.from, &TargetArgs::default())?;
    let own = from.running(ctx)?;
    let mut in_instances: BTreeMap<String, ImageRef> = BTreeMap::new();
    let mut same_instance = None;
    if let Ok(e) = Env::resolve(ctx, &args.from, &TargetArgs::default()) {
        let instances = crate::instances::load(&ctx.project)?;
        let ws = e.workloads(ctx.runner)?;
        for inst in instances.for_env(&args.from) {
            let ns = inst.namespace(&e.project);
            if let Some(i) = ws.get(&ns).and_then(|w| kube::image_of(ctx, w)) {
                if matches!(&sel, Selection::One(n) if *n == inst.name) {
                    same_instance = Some(i.clone());
                }
                in_instances.insert(i.reference().to_owned(), i);
            }
        }
    }
    let (image, revision) = match (same_instance, own) {
        (Some(i), _) => (i, 0),
        (None, Some(r)) => (r.image, r.revision),
        (None, None) => {
            let mut found: Vec<ImageRef> = in_instances.into_values().collect();
            match found.len() {
                1 => (found.remove(0), 0),
                0 => {
                    return Err(Error::usage(
                        format!("nothing runs in `{}` to promote", args.from),
                        Some(format!("deploy it first: `lbc deploy {}`", args.from)),
                    ))
                }
                _ => {
                    return Err(Error::usage(
                        format!(
                            "the instances of `{}` run different images ({}): which one to promote is not clear",
                            args.from,
                            found.iter().map(|i| i.reference().to_owned()).collect::<Vec<_>>().join(", ")
                        ),
                        Some(format!(
                            "deploy one image to `{}` first, or deploy to `{}` with --image REF",
                            args.from, args.to
                        )),
                    ))
                }
            }
        }
    };
    let image = crate::commands::promote::pinned(ctx, image)?;
    ui::info(&format!(
        "promoting {} from `{}` to the instances of `{}`",
        image.reference(),
        args.from,
        args.to
    ));
    deploy(
        ctx,
        &args.to,
        &TargetArgs::default(),
        &sel,
        Options {
            image,
            jobs: args.instances.jobs as usize,
            fail_fast: args.instances.fail_fast,
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: false,
            promotion: Some(Promotion {
                from: args.from.clone(),
                revision,
            }),
        },
    )
}

/// The instances of the selection that run in `env_name`.
fn select<'a>(
    instances: &'a Instances,
    env_name: &str,
    selection: &Selection,
) -> Result<Vec<&'a Instance>, Error> {
    match selection {
        Selection::One(name) => {
            let inst = instances.get(name)?;
            if !inst.in_env(env_name) {
                return Err(Error::usage(
                    format!(
                        "instance `{name}` does not run in `{env_name}`: its environments are {}",
                        inst.spec.environments.join(", ")
                    ),
                    Some(format!(
                        "add `{env_name}` to `environments` in {}",
                        inst.path.display()
                    )),
                ));
            }
            Ok(vec![inst])
        }
        Selection::All => {
            let all = instances.for_env(env_name);
            if all.is_empty() {
                return Err(Error::usage(
                    format!("no instance runs in `{env_name}`"),
                    Some(format!(
                        "add one: `lbc instance add NAME --env {env_name}` (it writes {}/NAME.toml)",
                        crate::instances::DIR
                    )),
                ));
            }
            Ok(all)
        }
    }
}

fn unit_hash(
    base: &[u8],
    values: &str,
    release: &str,
    namespace: &str,
    labels: &[String],
) -> String {
    let mut h = Sha256::new();
    h.update(base);
    h.update(values.as_bytes());
    h.update(format!("\0release {release}\0ns {namespace}\0"));
    for l in labels {
        h.update(l.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())[..40].to_owned()
}

fn helm_major(runner: &Runner, t: &Kube) -> Result<u32, Error> {
    let out = runner.query(&helm::Helm::new(&t.helm_bin, &t.root).version())?;
    Ok(helm::major_version(&out.stdout).unwrap_or(3))
}

/// The guards of a deploy before anything changes: `promote_from` (the image must run
/// in that environment, in its own release or in one of its instances, unless
/// `--force`) and a dirty tree for a protected environment.
fn check_guards(
    ctx: &Ctx,
    env_name: &str,
    env: &Environment,
    root: &Path,
    opts: &Options,
    plan: &mut Plan,
) -> Result<(), Error> {
    let image = &opts.image;
    if let Some(from) = &env.promote_from {
        let found = images_in(ctx, from)?.iter().any(|i| i.same_as(image));
        if found {
            plan.note(format!("{} runs in `{from}` too", image.reference()));
        } else if !opts.force {
            return Err(Error::Refused {
                message: format!(
                    "`{env_name}` only takes images that run in `{from}`, and {} does not run there (in its release or any of its instances)",
                    image.reference()
                ),
                hint: format!("promote what runs there: `lbc promote {from} {env_name} --all-instances`; or pass --force"),
            });
        } else {
            plan.note(format!(
                "--force: {} does not run in `{from}`",
                image.reference()
            ));
        }
    }
    if env.protected && !opts.allow_dirty && crate::tools::git::is_dirty(root) {
        return Err(Error::Refused {
            message: format!("`{env_name}` is protected and the git tree has uncommitted changes"),
            hint: "commit or stash them first, or pass --allow-dirty".into(),
        });
    }
    Ok(())
}

/// The project's images that run in an environment: its own release's and, for a
/// Kubernetes environment with a chart, its instances' (one query).
pub fn images_in(ctx: &Ctx, env_name: &str) -> Result<Vec<ImageRef>, Error> {
    let mut images = Vec::new();
    let target = crate::targets::resolve(ctx, env_name, &TargetArgs::default())?;
    if let Some(r) = target.running(ctx)? {
        images.push(r.image);
    }
    if let Ok(e) = Env::resolve(ctx, env_name, &TargetArgs::default()) {
        for ws in e.workloads(ctx.runner)?.values() {
            images.extend(kube::image_of(ctx, ws));
        }
    }
    Ok(images)
}

/// Run the units that change something, `jobs` at a time; with `fail_fast`, none
/// starts after a failure. An interrupt stops new ones from starting; the running ones
/// end as helm ends them (on their new or previous revision).
fn run_units(runner: &mut Runner, units: &[Unit], jobs: usize, fail_fast: bool) -> Vec<Ran> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Ran>> = Mutex::new(
        units
            .iter()
            .map(|u| {
                if u.exec.is_none() {
                    Ran::Unchanged
                } else {
                    Ran::NotStarted
                }
            })
            .collect(),
    );
    let records: Mutex<Vec<(usize, StepResult)>> = Mutex::new(Vec::new());
    let todo: Vec<usize> = (0..units.len())
        .filter(|i| units[*i].exec.is_some())
        .collect();
    let total = todo.len();
    let shared: &Runner = runner;
    std::thread::scope(|s| {
        for _ in 0..jobs.min(total.max(1)) {
            s.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = todo.get(n) else { break };
                if crate::runner::interrupted() || (fail_fast && failed.load(Ordering::SeqCst)) {
                    continue;
                }
                let u = &units[i];
                let exec = u.exec.as_ref().expect("a unit to run");
                ui::step(&format!(
                    "[{}/{total}] instance {}: deploy in namespace {}",
                    n + 1,
                    u.inst.name,
                    u.namespace
                ));
                let started = Instant::now();
                // The instance's services, then its release: a failed service step is
                // the instance's failure, before its release is touched.
                let mut out = None;
                for x in &u.pre {
                    ui::echo_command(&x.display());
                    match shared.query(x) {
                        Ok(o) if o.ok() => {}
                        other => {
                            out = Some(other);
                            break;
                        }
                    }
                }
                let out = match out {
                    Some(failed) => failed,
                    None => {
                        ui::echo_command(&exec.display());
                        shared.query(exec)
                    }
                };
                let (ran, exit_code) = match out {
                    Ok(o) if o.ok() => (Ran::Succeeded, o.code),
                    Ok(o) => {
                        let why = last_line(&o.stderr);
                        ui::warn(&format!("instance {}: {why}", u.inst.name));
                        (Ran::Failed(why), o.code)
                    }
                    Err(e) => (Ran::Failed(e.to_string()), None),
                };
                if matches!(ran, Ran::Failed(_)) {
                    failed.store(true, Ordering::SeqCst);
                }
                records.lock().expect("not poisoned").push((
                    i,
                    StepResult {
                        purpose: format!("Instance {}: install or upgrade", u.inst.name),
                        argv: Some(exec.argv.clone()),
                        duration_ms: started.elapsed().as_millis() as u64,
                        exit_code,
                        on_failure: false,
                    },
                ));
                results.lock().expect("not poisoned")[i] = ran;
            });
        }
    });
    let mut records = records.into_inner().expect("not poisoned");
    records.sort_by_key(|(i, _)| *i);
    for (_, r) in records {
        runner.record(r);
    }
    results.into_inner().expect("not poisoned")
}

/// The last meaningful line of a tool's error output.
fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("failed")
        .to_owned()
}

/// One row of the summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub instance: String,
    pub namespace: String,
    pub revision: Option<u64>,
    pub image: Option<String>,
    pub ready: String,
    pub url: Option<String>,
    /// deployed, unchanged, rolled back, failed (not installed), not started.
    pub result: String,
    /// Which revision runs now: `new`, `previous` or `none`.
    pub on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Read back what runs (two queries), print the table or the JSON document, and fail
/// naming the instances that did not get the new revision.
fn report(
    ctx: &mut Ctx,
    e: &Env,
    env_name: &str,
    image: &ImageRef,
    units: &[Unit],
    ran: &[Ran],
) -> Result<(), Error> {
    let t = &e.kube;
    let deployed = e.deployed(ctx.runner)?;
    let workloads = e.workloads(ctx.runner)?;
    let mut rows = Vec::new();
    let (mut failed, mut not_started) = (Vec::new(), Vec::new());
    for (u, r) in units.iter().zip(ran) {
        let now = deployed.get(&u.namespace);
        let is_new = now.is_some_and(|d| d.labels.get(HASH_LABEL) == Some(&u.hash));
        let ws = workloads
            .get(&u.namespace)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (result, error) = match r {
            Ran::Unchanged => ("unchanged".to_owned(), None),
            Ran::Succeeded if is_new => ("deployed".to_owned(), None),
            Ran::NotStarted => {
                not_started.push(u.inst.name.clone());
                ("not started".to_owned(), None)
            }
            Ran::Succeeded | Ran::Failed(_) => {
                failed.push(u.inst.name.clone());
                let why = match r {
                    Ran::Failed(w) => Some(w.clone()),
                    _ => Some("the release does not carry the new state".to_owned()),
                };
                match now {
                    Some(d) if u.before.is_some() => (
                        format!("failed, rolled back to revision {}", d.revision),
                        why,
                    ),
                    Some(_) => ("failed".to_owned(), why),
                    None => ("failed, not installed".to_owned(), why),
                }
            }
        };
        rows.push(Row {
            instance: u.inst.name.clone(),
            namespace: u.namespace.clone(),
            revision: now.map(|d| d.revision),
            image: kube::image_of(ctx, ws).map(|i| i.reference().to_owned()),
            ready: ready(ws),
            url: u.inst.url(&t.env),
            result,
            on: if now.is_none() {
                "none"
            } else if is_new || matches!(r, Ran::Unchanged) {
                "new"
            } else {
                "previous"
            }
            .to_owned(),
            error,
        });
    }
    let ok = failed.is_empty() && not_started.is_empty();
    if ctx.settings.json {
        ui::print_json(&serde_json::json!({
            "verb": format!("deploy {env_name}"),
            "ok": ok,
            "environment": env_name,
            "context": t.cluster.context,
            "release": t.release,
            "image": image.reference(),
            "instances": rows,
            "failed": failed,
            "not_started": not_started,
            "steps": ctx.runner.results_json(),
        }));
    } else {
        ui::data(&table(&rows));
    }
    if ok {
        let changed = ran.iter().filter(|r| matches!(r, Ran::Succeeded)).count();
        ui::success(&format!(
            "{changed} instance{} of {} deployed, {} unchanged, in {env_name}",
            if changed == 1 { "" } else { "s" },
            units.len(),
            units.len() - changed
        ));
        return Ok(());
    }
    let mut message = String::new();
    if !failed.is_empty() {
        message.push_str(&format!(
            "{} of {} instances failed to deploy to `{env_name}`: {}",
            failed.len(),
            units.len(),
            failed.join(", ")
        ));
    }
    if !not_started.is_empty() {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&format!(
            "{} not started{}: {}",
            not_started.len(),
            if crate::runner::interrupted() {
                " (interrupted)"
            } else {
                " (--fail-fast)"
            },
            not_started.join(", ")
        ));
    }
    Err(Error::Fleet {
        message,
        hint: Some(
            "each failed instance was rolled back on its own: the RESULT column (JSON: `on`) says which revision runs; fix the cause and deploy again: the instances already deployed are no-ops".into(),
        ),
        code: if crate::runner::interrupted() { code::INTERRUPTED } else { code::FAILURE },
    })
}

/// `ready/desired` over the workloads, `-` without any.
pub fn ready(ws: &[Workload]) -> String {
    if ws.is_empty() {
        return "-".into();
    }
    let ready: u64 = ws.iter().map(|w| w.ready.min(w.desired)).sum();
    let desired: u64 = ws.iter().map(|w| w.desired).sum();
    format!("{ready}/{desired}")
}

/// The human summary: one line per instance.
pub fn table(rows: &[Row]) -> String {
    let header = ["INSTANCE", "REVISION", "IMAGE", "READY", "URL", "RESULT"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.instance.clone(),
                r.revision
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.image.clone().unwrap_or_else(|| "-".into()),
                r.ready.clone(),
                r.url.clone().unwrap_or_else(|| "-".into()),
                r.result.clone(),
            ]
        })
        .collect();
    crate::instances::report::columns(&header, &cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #12: the hash changes with the values, the namespace and the labels, so that an
    /// instance is a no-op only when everything it would apply is what runs.
    #[test]
    fn unit_hash_covers_values_namespace_and_labels() {
        let a = unit_hash(b"base", "{}", "hello", "hello-acme", &[]);
        assert_eq!(a, unit_hash(b"base", "{}", "hello", "hello-acme", &[]));
        assert_ne!(
            a,
            unit_hash(b"base", "{\"x\":1}", "hello", "hello-acme", &[])
        );
        assert_ne!(a, unit_hash(b"base", "{}", "hello", "hello-beta", &[]));
        assert_ne!(a, unit_hash(b"other", "{}", "hello", "hello-acme", &[]));
        assert_ne!(
            a,
            unit_hash(
                b"base",
                "{}",
                "hello",
                "hello-acme",
                &["lbc-promoted-from=s".into()]
            )
        );
    }
}
