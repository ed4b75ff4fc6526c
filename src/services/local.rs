//! Backing services on this machine's Docker engine (issue #10).
//!
//! Per project and environment: one network `lbc-PROJECT-ENV`; per service a container
//! `lbc-PROJECT-ENV_SERVICE` (the network alias is the service's name) on a named volume
//! of the same name, labelled `lbc.project`, `lbc.env`, `lbc.service`. `_` cannot occur
//! in a project or environment name, so these never collide with an app's container.
//!
//! `lbc deploy local` starts the services first, waits until each accepts connections,
//! runs the migration task (`[tasks.migrate]`) as a one-off container of the new image,
//! and only then replaces the app; a failure before that leaves the running app as it
//! was. Tasks that list services get them on a network of their own, started for the
//! run and removed afterwards (with their data: an integration test starts clean).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::catalog::{Catalog, Resolution};
use crate::commands::{lbc_env, task_vars, Ctx};
use crate::config::{Loaded, Task, TaskCommand};
use crate::error::Error;
use crate::plan::{Action, EnvVar, Step};
use crate::services::credentials::Store;
use crate::services::kinds::{Secrets, ServerSpec};
use crate::services::{connection_env, Connection, Service};
use crate::settings::Settings;
use crate::tools::docker;

/// The name of the migration task.
pub const MIGRATE_TASK: &str = "migrate";

pub fn network_name(project: &str, env: &str) -> String {
    format!("lbc-{project}-{env}")
}

pub fn container_name(project: &str, env: &str, service: &str) -> String {
    format!("lbc-{project}-{env}_{service}")
}

/// The named volume of a service (same name as its container).
pub fn volume_name(project: &str, env: &str, service: &str) -> String {
    container_name(project, env, service)
}

fn migrate_container(project: &str, env: &str) -> String {
    format!("lbc-{project}-{env}__migrate")
}

/// How the catalogue resolves the image of a service: its `image` (a catalogue name or
/// a reference), else the catalogue's `TYPE-VERSION` entry, else its `TYPE` entry with
/// `{version}` filled in; mapped, pinned to a locked digest, and judged by the policy
/// as every other image (issue #16).
pub fn resolution_of(catalog: &Catalog, s: &Service) -> Result<Resolution, Error> {
    if let Some(i) = &s.image {
        return catalog.resolve_name(i);
    }
    let base = s.kind.catalog_name();
    let version = s.version();
    let exact = format!("{base}-{version}");
    if catalog.entries.contains_key(&exact) {
        return catalog.resolve_name(&exact);
    }
    match catalog.entries.get(base) {
        Some(e) if e.image.contains("{version}") => {
            let mut r = catalog.resolve_ref(&e.image.replace("{version}", version));
            if e.source != "default" && r.entry.is_none() {
                r.entry = Some(format!("[images] {base}"));
            }
            Ok(r)
        }
        Some(_) => catalog.resolve_name(base),
        None => Err(Error::usage(
            format!("the catalogue has no image for {base} {version}"),
            Some(format!(
                "add `{base}-{version} = \"IMAGE\"` (or `{base} = \"REPOSITORY:{{version}}\"`) under [images] of {}, or set `image` in the service",
                catalog
                    .file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.config/lbc/catalog.toml (or the file named by LBC_CATALOG)".into())
            )),
        )),
    }
}

/// The image a service runs: [`resolution_of`] through the catalogue's policy (refused
/// under `enforce` when not approved, a warning under `warn`).
pub fn image_of(catalog: &Catalog, name: &str, s: &Service) -> Result<String, Error> {
    crate::catalog::bases::checked(
        catalog,
        crate::catalog::bases::ImageUse {
            kind: "service".into(),
            file: "lbc.toml".into(),
            line: None,
            context: format!("service {name}: type = \"{}\"", s.kind.catalog_name()),
            resolution: resolution_of(catalog, s)?,
            index: None,
        },
    )
}

/// What `lbc deploy` of a docker environment does before it replaces the app.
pub struct Prepared {
    /// Network, volumes, service containers, readiness waits, the migration: each step
    /// carries the hint that says the running app was left as it was.
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
    /// The network the app joins.
    pub network: String,
    /// The connection variables the app gets (secrets by name in the argv).
    pub app_env: Vec<EnvVar>,
    /// Credentials generated while planning, saved when the deploy runs.
    store: Option<Store>,
}

/// Plan the services and the migration of a deploy of `image`; `None` when the project
/// has neither (the deploy is then exactly what it was before services existed).
/// `running_app` is the image of the app that runs now: a failure before the app is
/// replaced leaves it serving, and the error says so.
pub fn plan_deploy(
    ctx: &Ctx,
    env_name: &str,
    image: &str,
    reachable: bool,
    timeout: Duration,
    running_app: Option<&str>,
) -> Result<Option<Prepared>, Error> {
    let l = &ctx.project;
    let migrate = l.config.tasks.get(MIGRATE_TASK);
    if l.config.services.is_empty() && migrate.is_none() {
        return Ok(None);
    }
    let root = l.root.clone();
    let project = l.project();
    let net = network_name(project, env_name);
    let kept = match running_app {
        Some(img) => format!("the running version ({img}) still serves"),
        None => "no app was running".to_owned(),
    };
    let stopped = format!("the deploy stopped before replacing the app: {kept}");
    let mut p = Prepared {
        steps: Vec::new(),
        notes: Vec::new(),
        network: net.clone(),
        app_env: Vec::new(),
        store: None,
    };
    if !reachable || !docker::network_exists(ctx.runner, &root, &net)? {
        p.steps.push(
            Step::exec(
                format!("Create the network {net}"),
                docker::network_create(
                    &root,
                    &net,
                    &[("lbc.project", project), ("lbc.env", env_name)],
                ),
            )
            .hint(stopped.clone()),
        );
    }
    let mut store = Store::load(ctx.settings, project, env_name)?;
    let mut generated = false;
    let catalog = if l.config.services.is_empty() {
        None
    } else {
        Some(ctx.settings.catalog()?)
    };
    let start_hint = format!(
        "{stopped}. If a service's image could not be pulled, pin an approved one in the catalogue (`lbc catalog`) or set `image` under [services.NAME]"
    );
    let mut conns = BTreeMap::new();
    let mut waits = Vec::new();
    for (name, s) in crate::services::ordered(l) {
        let cname = container_name(project, env_name, name);
        let vol = volume_name(project, env_name, name);
        let labels = [
            ("lbc.project", project),
            ("lbc.env", env_name),
            ("lbc.service", name.as_str()),
        ];
        let simage = image_of(catalog.expect("loaded above"), name, s)?;
        let vol_exists = reachable && docker::volume_exists(ctx.runner, &root, &vol)?;
        if vol_exists && !store.services.contains_key(name.as_str()) {
            return Err(Error::failed(
                format!(
                    "volume {vol} holds the data of service `{name}`, but its credentials are not in {}",
                    store.path.display()
                ),
                Some(format!(
                    "put back your copy of that file; or, to start from empty data, remove the volume: `lbc destroy {env_name} --volumes` (this deletes the data)"
                )),
            ));
        }
        let (secrets, new) = store.ensure(name, s.kind)?;
        generated |= new;
        let user = s.user(project);
        let database = s.database(project);
        let existing = if reachable {
            docker::container_inspect(ctx.runner, &root, &cname)?
        } else {
            None
        };
        let what = format!("service `{name}`");
        let create = match &existing {
            Some(c) if c.config.image == simage && c.state.status == "running" => {
                p.notes
                    .push(format!("{what} runs already ({simage}, container {cname})"));
                false
            }
            Some(c) if c.config.image == simage => {
                p.steps.push(
                    Step::exec(
                        format!("Start {what} ({cname})"),
                        docker::start(&root, &cname),
                    )
                    .hint(start_hint.clone()),
                );
                false
            }
            Some(c) => {
                p.steps.push(
                    Step::exec(
                        format!(
                            "Stop the container of {what} to replace it ({} -> {simage}; the data stays in volume {vol})",
                            c.config.image
                        ),
                        docker::stop(&root, std::slice::from_ref(&cname)),
                    )
                    .hint(stopped.clone()),
                );
                p.steps.push(
                    Step::exec(
                        format!("Remove the old container of {what}"),
                        docker::remove_all(&root, std::slice::from_ref(&cname), false),
                    )
                    .hint(stopped.clone()),
                );
                true
            }
            None => true,
        };
        if create {
            if !vol_exists {
                p.steps.push(
                    Step::exec(
                        format!("Create the volume {vol} for the data of {what}"),
                        docker::volume_create(&root, &vol, &labels),
                    )
                    .hint(stopped.clone()),
                );
            }
            let run = docker::ServiceRun {
                name: &cname,
                network: &net,
                alias: Some(name),
                labels: &labels,
                volumes: vec![format!("{vol}:{}", s.kind.data_path())],
                publish: vec![format!("127.0.0.1::{}", s.kind.port())],
                env: s.kind.server_env(&ServerSpec {
                    user: &user,
                    database: &database,
                    secrets: &secrets,
                }),
                image: &simage,
                command: s.kind.server_command(),
            };
            p.steps.push(
                Step::exec(
                    format!("Start {what} ({simage}) as {cname}"),
                    docker::run_service(&root, run),
                )
                .hint(start_hint.clone()),
            );
        }
        // Every service starts before lbc waits for any: their initialisations overlap.
        waits.push(
            wait_step(&what, &cname, s, &user, &database, &secrets, timeout, &root)
                .hint(stopped.clone()),
        );
        conns.insert(
            name.clone(),
            Connection {
                host: name.clone(),
                port: s.kind.port(),
                database,
                user,
                password: secrets.password.clone(),
            },
        );
    }
    p.steps.extend(waits);
    if generated {
        p.notes.push(format!(
            "new service credentials are kept in {} (mode 0600)",
            store.path.display()
        ));
        p.store = Some(store);
    }
    p.app_env = connection_env(l, &conns);
    if let Some(task) = migrate {
        p.steps.push(
            migration_step(l, env_name, task, image, &net, &p.app_env, &root)
                .what(format!("the migration (task `{MIGRATE_TASK}`)"))
                .hint(format!("{stopped}; fix the migration and deploy again")),
        );
    }
    Ok(Some(p))
}

impl Prepared {
    /// Save the credentials generated while planning: called when the deploy runs (a
    /// dry run writes none), after the guard, before any step.
    pub fn save_credentials(&mut self) -> Result<(), Error> {
        match self.store.take() {
            Some(store) => store.save(),
            None => Ok(()),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn wait_step(
    what: &str,
    cname: &str,
    s: &Service,
    user: &str,
    database: &str,
    secrets: &Secrets,
    timeout: Duration,
    root: &Path,
) -> Step {
    Step::new(
        format!("Wait until {what} accepts connections"),
        Action::WaitCommand {
            what: what.to_owned(),
            container: cname.to_owned(),
            probe: docker::exec_in(
                root,
                cname,
                s.kind.client_env(secrets),
                s.kind.ready_probe(user, database),
            ),
            timeout,
        },
    )
}

fn task_command(task: &Task) -> Vec<String> {
    match &task.run {
        TaskCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
        TaskCommand::Argv(a) => a.clone(),
    }
}

fn migration_step(
    l: &Loaded,
    env_name: &str,
    task: &Task,
    image: &str,
    net: &str,
    conn_env: &[EnvVar],
    root: &Path,
) -> Step {
    let mut env = lbc_env(l, &[(task_vars::TASK, MIGRATE_TASK.to_owned())]);
    env.retain(|v| v.name != task_vars::ROOT);
    env.extend(task.env.iter().map(|(k, v)| EnvVar::plain(k, v)));
    env.extend(conn_env.iter().cloned());
    Step::exec(
        format!("Run the migration (task `{MIGRATE_TASK}`) with {image}"),
        docker::run_one_off(
            root,
            docker::OneOff {
                name: &migrate_container(l.project(), env_name),
                network: net,
                labels: &[("lbc.project", l.project()), ("lbc.env", env_name)],
                env,
                image,
                command: &task_command(task),
            },
        ),
    )
}

/// The services of an environment for `lbc status` (JSON documents and human lines).
pub fn status(ctx: &Ctx, env_name: &str) -> Result<(Vec<serde_json::Value>, String), Error> {
    let l = &ctx.project;
    let root = l.root.clone();
    let mut docs = Vec::new();
    let mut human = String::new();
    let catalog = if l.config.services.is_empty() {
        return Ok((docs, human));
    } else {
        ctx.settings.catalog()?
    };
    for (name, s) in crate::services::ordered(l) {
        let cname = container_name(l.project(), env_name, name);
        let vol = volume_name(l.project(), env_name, name);
        let info = docker::container_inspect(ctx.runner, &root, &cname)?;
        let has_volume = docker::volume_exists(ctx.runner, &root, &vol)?;
        let state = info
            .as_ref()
            .map(|c| c.state.status.clone())
            .unwrap_or_else(|| "absent".into());
        let address = info
            .as_ref()
            .filter(|c| c.state.status == "running")
            .and_then(|_| docker::published(ctx.runner, &root, &cname, s.kind.port()));
        let image = info
            .as_ref()
            .map(|c| c.config.image.clone())
            .map_or_else(|| resolution_of(catalog, s).map(|r| r.image), Ok)?;
        human.push_str(&format!(
            "  service {name} ({} {}): {state}\n    container: {cname}\n    image: {image}\n    volume: {vol}{}\n{}",
            s.kind.as_str(),
            s.version(),
            if has_volume { "" } else { " (absent)" },
            address
                .as_ref()
                .map(|a| format!("    published: {a}\n"))
                .unwrap_or_default()
        ));
        docs.push(serde_json::json!({
            "service": name,
            "type": s.kind.as_str(),
            "version": s.version(),
            "container": cname,
            "state": state,
            "image": image,
            "volume": vol,
            "volume_exists": has_volume,
            "published": address,
        }));
    }
    Ok((docs, human))
}

/// The container `lbc logs ENV --service NAME` reads.
pub fn logs_container(l: &Loaded, env_name: &str, service: &str) -> Result<String, Error> {
    if !l.config.services.contains_key(service) {
        return Err(Error::usage(
            format!("no service `{service}` in {}", l.path.display()),
            Some(if l.config.services.is_empty() {
                "the project declares no [services]".to_owned()
            } else {
                format!(
                    "declared services: {}",
                    l.config
                        .services
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        ));
    }
    Ok(container_name(l.project(), env_name, service))
}

/// What `lbc destroy` of a docker environment removes besides the app.
pub struct Teardown {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
    /// Volumes removed (their services' credentials are forgotten afterwards).
    removed_volumes: Vec<(String, Option<String>)>,
    pub kept_volumes: Vec<String>,
    pub anything: bool,
}

/// Every service container, the network and (with `volumes`) the volumes of the
/// environment, found by their labels (so a service removed from lbc.toml goes too).
pub fn plan_destroy(ctx: &Ctx, env_name: &str, volumes: bool) -> Result<Teardown, Error> {
    let l = &ctx.project;
    let root = l.root.clone();
    let project = l.project();
    let sel = vec![
        format!("lbc.project={project}"),
        format!("lbc.env={env_name}"),
    ];
    let mut with_service = sel.clone();
    with_service.push("lbc.service".into());
    let containers = docker::containers_labelled(ctx.runner, &root, &with_service)?;
    let vols = docker::volumes_labelled(ctx.runner, &root, &with_service)?;
    let net = network_name(project, env_name);
    let has_net = docker::network_exists(ctx.runner, &root, &net)?;
    let mut t = Teardown {
        steps: Vec::new(),
        notes: Vec::new(),
        removed_volumes: Vec::new(),
        kept_volumes: Vec::new(),
        anything: !containers.is_empty() || has_net || (volumes && !vols.is_empty()),
    };
    if !containers.is_empty() {
        t.steps.push(Step::exec(
            format!("Stop the services ({})", containers.join(", ")),
            docker::stop(&root, &containers),
        ));
        t.steps.push(Step::exec(
            "Remove the services' containers",
            docker::remove_all(&root, &containers, false),
        ));
    }
    if has_net {
        t.steps.push(Step::exec(
            format!("Remove the network {net}"),
            docker::network_rm(&root, &net),
        ));
    }
    if volumes && !vols.is_empty() {
        t.steps.push(Step::exec(
            format!(
                "Remove the volumes {} (their data is deleted)",
                vols.join(", ")
            ),
            docker::volume_rm(&root, &vols),
        ));
        // `lbc-PROJECT-ENV_SERVICE`: a service's name has no '_'.
        t.removed_volumes = vols
            .iter()
            .map(|v| (v.clone(), v.rsplit_once('_').map(|(_, s)| s.to_owned())))
            .collect();
    } else if !vols.is_empty() {
        t.notes.push(format!(
            "keeping the volumes {} (the services' data); `lbc destroy {env_name} --volumes` removes them",
            vols.join(", ")
        ));
        t.kept_volumes = vols;
    }
    Ok(t)
}

impl Teardown {
    /// After the steps ran: forget the credentials of the services whose data is gone.
    pub fn finish(&self, settings: &Settings, project: &str, env_name: &str) -> Result<(), Error> {
        if self.removed_volumes.is_empty() {
            return Ok(());
        }
        let mut store = Store::load(settings, project, env_name)?;
        let mut changed = false;
        for (_, service) in &self.removed_volumes {
            if let Some(s) = service {
                changed |= store.remove(s);
            }
        }
        if changed {
            if store.services.is_empty() {
                fs_err::remove_file(&store.path).map_err(|e| Error::Io {
                    path: store.path.clone(),
                    source: std::io::Error::new(e.kind(), e.to_string()),
                })?;
            } else {
                store.save()?;
            }
        }
        Ok(())
    }
}

/// Services started for a run of tasks: a network of their own, fresh data, removed at
/// the end of the run.
pub struct TaskServices {
    pub start: Vec<Step>,
    pub cleanup: Vec<Step>,
    network: String,
    /// Connection per service, as a task on the host sees it and as a container does.
    host: BTreeMap<String, Connection>,
    inside: BTreeMap<String, Connection>,
}

impl TaskServices {
    /// `None` when no selected task needs a service.
    pub fn plan(ctx: &Ctx, tasks: &[(&String, &Task)]) -> Result<Option<TaskServices>, Error> {
        let l = &ctx.project;
        let mut wanted: Vec<String> = Vec::new();
        for (name, task) in tasks {
            for s in crate::services::for_task(l, name, task.services.as_deref()) {
                if !wanted.contains(&s) {
                    wanted.push(s);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(None);
        }
        crate::runner::find("docker")?;
        let root = l.root.clone();
        let project = l.project();
        let pid = std::process::id().to_string();
        let run_id = format!("_tasks{pid}");
        let net = network_name(project, &run_id);
        let catalog = ctx.settings.catalog()?;
        let labels_owned = [
            ("lbc.project", project.to_owned()),
            ("lbc.env", run_id.clone()),
            (TASKS_PID_LABEL, pid),
        ];
        let label_refs: Vec<(&str, &str)> =
            labels_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Best effort: an engine that does not answer fails the run's first step anyway.
        let mut start = stale_task_services(ctx, project).unwrap_or_default();
        start.push(Step::exec(
            format!("Create the network {net} for the tasks' services"),
            docker::network_create(&root, &net, &label_refs),
        ));
        let mut t = TaskServices {
            start,
            cleanup: Vec::new(),
            network: net.clone(),
            host: BTreeMap::new(),
            inside: BTreeMap::new(),
        };
        let env_timeout = l
            .config
            .env
            .get("local")
            .map(|e| e.timeout_or(crate::targets::local::DEFAULT_TIMEOUT))
            .unwrap_or(crate::targets::local::DEFAULT_TIMEOUT);
        let mut names = Vec::new();
        let mut waits = Vec::new();
        for (name, s) in crate::services::ordered(l) {
            if !wanted.contains(name) {
                continue;
            }
            let cname = container_name(project, &run_id, name);
            let simage = image_of(catalog, name, s)?;
            let secrets = crate::services::credentials::generate(s.kind)?;
            let (user, database) = (s.user(project), s.database(project));
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| Error::failed(format!("no free port on 127.0.0.1: {e}"), None))?;
            let spec = docker::ServiceRun {
                name: &cname,
                network: &net,
                alias: Some(name),
                labels: &label_refs,
                volumes: Vec::new(),
                publish: vec![format!("127.0.0.1:{port}:{}", s.kind.port())],
                env: s.kind.server_env(&ServerSpec {
                    user: &user,
                    database: &database,
                    secrets: &secrets,
                }),
                image: &simage,
                command: s.kind.server_command(),
            };
            let what = format!("service `{name}`");
            t.start.push(Step::exec(
                format!("Start {what} ({simage}) for the tasks"),
                docker::run_service(&root, spec),
            ));
            waits.push(wait_step(
                &what,
                &cname,
                s,
                &user,
                &database,
                &secrets,
                env_timeout,
                &root,
            ));
            let conn = Connection {
                host: "127.0.0.1".into(),
                port,
                database,
                user,
                password: secrets.password.clone(),
            };
            t.inside.insert(
                name.clone(),
                Connection {
                    host: name.clone(),
                    port: s.kind.port(),
                    ..conn.clone()
                },
            );
            t.host.insert(name.clone(), conn);
            names.push(cname);
        }
        t.start.extend(waits);
        // `--volumes`: the images' anonymous data volumes go with their containers.
        t.cleanup.push(
            Step::exec(
                "Remove the tasks' services and their data",
                docker::remove_all(&root, &names, true),
            )
            .always(),
        );
        t.cleanup.push(
            Step::exec(
                format!("Remove the network {net}"),
                docker::network_rm(&root, &net),
            )
            .always(),
        );
        Ok(Some(t))
    }

    /// The connection variables of the services a task uses, and for a container task
    /// the network its `docker run` joins.
    pub fn for_task(
        &self,
        l: &Loaded,
        name: &str,
        task: &Task,
        in_container: bool,
    ) -> (Vec<EnvVar>, Option<String>) {
        let wanted = crate::services::for_task(l, name, task.services.as_deref());
        if wanted.is_empty() {
            return (Vec::new(), None);
        }
        let conns: BTreeMap<String, Connection> = if in_container {
            &self.inside
        } else {
            &self.host
        }
        .iter()
        .filter(|(k, _)| wanted.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
        let env = connection_env(l, &conns);
        // The caller passes every variable of the task by name (`--env NAME`).
        (env, in_container.then(|| self.network.clone()))
    }
}

/// The label of what a run of tasks started: the PID of the lbc that started it.
const TASKS_PID_LABEL: &str = "lbc.tasks-pid";

/// Steps removing what an earlier run of tasks left behind because it was interrupted
/// (Ctrl-C stops lbc before its cleanup): services of runs whose lbc is gone.
fn stale_task_services(ctx: &Ctx, project: &str) -> Result<Vec<Step>, Error> {
    let root = ctx.project.root.clone();
    let sel = [format!("lbc.project={project}"), TASKS_PID_LABEL.to_owned()];
    let gone = |name: &String| {
        name.rsplit_once("_tasks")
            .map(|(_, rest)| rest.split('_').next().unwrap_or(""))
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    let containers: Vec<String> = docker::containers_labelled(ctx.runner, &root, &sel)?
        .into_iter()
        .filter(gone)
        .collect();
    let networks: Vec<String> = docker::networks_labelled(ctx.runner, &root, &sel)?
        .into_iter()
        .filter(gone)
        .collect();
    let mut steps = Vec::new();
    if !containers.is_empty() {
        steps.push(Step::exec(
            format!(
                "Remove services an interrupted run of tasks left ({})",
                containers.join(", ")
            ),
            docker::remove_all(&root, &containers, true),
        ));
    }
    for n in networks {
        steps.push(Step::exec(
            format!("Remove the network {n} an interrupted run of tasks left"),
            docker::network_rm(&root, &n),
        ));
    }
    Ok(steps)
}
