//! Environments of kind "docker": the embedded default target. `deploy` runs the built
//! image on this machine's engine, replacing an earlier container of the same
//! environment, waits until it is healthy and prints its URL; `status`, `logs`,
//! `destroy`. A failed deploy shows the container's last log lines and removes it
//! (on-failure steps of its plan). With `replicas` > 1 the app runs behind a local load
//! balancer instead: `local_ha.rs` (issue #14).

use std::net::TcpListener;
use std::time::Duration;

use crate::commands::{chosen_image, Chosen, Ctx};
use crate::config::Environment;
use crate::error::Error;
use crate::execute::{self, Guard, Summary};
use crate::image::ImageRef;
use crate::plan::{Action, Plan, Step};
use crate::targets::kube::not_kubernetes;
use crate::targets::local_ha;
use crate::targets::{DeployRequest, Running, Target};
use crate::tools::docker;
use crate::ui;

/// The capture of the app's `docker run --detach`: the ID of the container this run started.
const STARTED: &str = "started";

/// How long to wait for a local container to be healthy.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A docker environment, resolved.
pub struct Local {
    pub(super) env_name: String,
    pub(super) env: Environment,
    /// `lbc-PROJECT-ENV`.
    pub(super) container: String,
    pub(super) project: String,
    pub(super) root: std::path::PathBuf,
    pub(super) timeout: Duration,
}

pub fn container_name(project: &str, env: &str) -> String {
    format!("lbc-{project}-{env}")
}

impl Local {
    pub fn resolve(ctx: &Ctx, env_name: &str, env: Environment) -> Result<Local, Error> {
        Ok(Local {
            container: container_name(ctx.project.project(), env_name),
            project: ctx.project.project().to_owned(),
            root: ctx.root().to_owned(),
            timeout: env.timeout_or(DEFAULT_TIMEOUT),
            env_name: env_name.to_owned(),
            env,
        })
    }

    pub(super) fn url(&self) -> String {
        let host = match self.env.bind_address() {
            "0.0.0.0" => "127.0.0.1",
            "::" => "[::1]",
            other => other,
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        format!("http://{host}:{}", self.env.host_port())
    }

    /// Can lbc bind the port? (Docker could not either, then.)
    fn port_free(&self) -> bool {
        TcpListener::bind((self.env.bind_address(), self.env.host_port())).is_ok()
    }

    pub(super) fn guard(
        &self,
        what: &str,
        details: Vec<(&'static str, String)>,
        yes: bool,
    ) -> Option<Guard> {
        Guard::when_protected(self.env.protected, &self.env_name, what, details, yes)
    }

    /// The container whose logs `lbc logs` shows: the app's, or with replicas
    /// (issue #14) the newest replica's in the first slot (`lbc status` lists them all).
    fn app_container(&self, ctx: &Ctx) -> Result<String, Error> {
        if ctx.settings.dry_run
            || docker::container_inspect(ctx.runner, &self.root, &self.container)?.is_some()
        {
            return Ok(self.container.clone());
        }
        let ha = local_ha::running(ctx, &self.root, &self.project, &self.env_name)?;
        Ok(ha
            .replicas
            .iter()
            .filter(|r| r.slot == 1)
            .max_by_key(|r| r.generation)
            .or(ha.replicas.first())
            .map(|r| r.name.clone())
            .unwrap_or_else(|| self.container.clone()))
    }

    /// Does the engine answer? In a dry run an unreachable one is a note.
    pub(super) fn reachable(&self, ctx: &Ctx, plan: &mut Plan) -> Result<bool, Error> {
        match docker::daemon_version(ctx.runner, &self.root) {
            Ok(_) => Ok(true),
            Err(e) if ctx.settings.dry_run => {
                plan.note(e.to_string());
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Target for Local {
    fn choose_image(
        &self,
        ctx: &Ctx,
        image: Option<&str>,
        tag: Option<&str>,
    ) -> Result<ImageRef, Error> {
        crate::runner::find("docker")?;
        Ok(ImageRef::parse(
            &match chosen_image(ctx, image, tag, "run `lbc build` first")? {
                Chosen::Reference(r) => r,
                Chosen::Build(b) => b.image,
            },
        )?)
    }

    fn deploy(&self, ctx: &mut Ctx, req: DeployRequest) -> Result<(), Error> {
        let image = req.image.reference().to_owned();
        let name = &self.container;
        let root = &self.root;
        let env = &self.env;
        let mut plan = Plan::new(format!("deploy {}", self.env_name));
        let mut has_healthcheck = false;
        let mut existing = None;
        let mut ha = local_ha::Running::default();
        let replicas = req.replicas.unwrap_or_else(|| env.replicas());
        if replicas == 1 {
            plan.note(format!(
                "target: Docker engine on this machine, container {name}"
            ));
        }
        let reachable = self.reachable(ctx, &mut plan)?;
        if reachable {
            match docker::image_inspect(ctx.runner, root, &image)? {
                Some(i) => has_healthcheck = i.has_healthcheck(),
                None => {
                    return Err(Error::usage(
                        format!("image {image} is not on this machine"),
                        Some("run `lbc build` (or `docker pull` it) first".into()),
                    ))
                }
            }
            existing = docker::container_inspect(ctx.runner, root, name)?;
            ha = local_ha::running(ctx, root, &self.project, &self.env_name)?;
        }
        if existing.is_none() && ha.balancer.is_none() && !self.port_free() {
            return Err(Error::failed(
                format!(
                    "port {} on {} is already in use, so {name} cannot publish it",
                    env.host_port(),
                    env.bind_address()
                ),
                Some(format!(
                    "stop what listens there, or choose another port: `port = {}` under [env.{}] in {}",
                    env.host_port().wrapping_add(1).max(1024),
                    self.env_name,
                    ctx.project.path.display()
                )),
            ));
        }
        // Backing services and the migration come first (issue #10): network, services,
        // their readiness, the migration; a failure there leaves the running app alone.
        let mut services = crate::services::local::plan_deploy(
            ctx,
            &self.env_name,
            &image,
            reachable,
            self.timeout,
            existing
                .as_ref()
                .map(|c| c.config.image.as_str())
                .or_else(|| ha.replicas.first().map(|r| r.info.config.image.as_str())),
        )?;
        if let Some(s) = &services {
            plan.notes.extend(s.notes.iter().cloned());
            plan.steps.extend(s.steps.iter().cloned());
        }
        if replicas > 1 {
            return self.deploy_replicas(ctx, req, plan, services, existing, ha, replicas);
        }
        // The first step that touches the app: the on-failure steps start there.
        let app_from = plan.next_number();
        if !ha.is_empty() {
            plan.note(format!(
                "one container replaces the load balancer and its {} replica(s): the port is unanswered for a moment",
                ha.replicas.len()
            ));
            plan.steps.extend(local_ha::remove_steps(
                root,
                &self.project,
                &self.env_name,
                &ha,
            ));
        }
        if let Some(c) = &existing {
            plan.push(Step::exec(
                format!("Remove the previous container ({})", c.config.image),
                docker::remove(root, name),
            ));
        }
        let service_env = services
            .as_ref()
            .map(|s| s.app_env.clone())
            .unwrap_or_default();
        plan.push(
            Step::exec(
                format!("Start {image} as {name}"),
                docker::run_detached(
                    root,
                    &docker::Detached {
                        name,
                        labels: &[
                            format!("lbc.project={}", self.project),
                            format!("lbc.env={}", self.env_name),
                        ],
                        publish: format!(
                            "{}:{}:{}",
                            env.bind_address(),
                            env.host_port(),
                            env.container_port()
                        ),
                        vars: &env.vars,
                        network: services.as_ref().map(|s| s.network.as_str()),
                        extra_env: &service_env,
                        image: &image,
                    },
                ),
            )
            // The ID of the container this run started: the only one a failure removes.
            .capture_as(STARTED),
        );
        let url = self.url();
        plan.push(match &env.health {
            Some(path) => Step::new(
                format!("Wait until {url}{path} answers 200"),
                Action::WaitHttp {
                    url: format!("{url}{path}"),
                    container: name.clone(),
                    timeout: self.timeout,
                },
            ),
            None => Step::new(
                if has_healthcheck {
                    format!("Wait until {name} is healthy")
                } else {
                    format!("Wait until {name} runs")
                },
                Action::WaitHealthy {
                    container: name.clone(),
                    timeout: self.timeout,
                },
            ),
        });
        // Leave nothing half-done: show why, then remove the container that failed, by
        // the ID its `docker run` printed: when the start itself failed, the container
        // of that name belongs to another run (issue #9: two deploys at once used to
        // remove each other's container).
        plan.push(
            Step::exec(
                format!("Show the last log lines of {name}"),
                docker::logs_captured(root, STARTED, 30),
            )
            .on_failure_from(app_from),
        );
        plan.push(
            Step::exec(
                format!("Remove the failed container {name}"),
                docker::remove_captured(root, STARTED),
            )
            .on_failure_from(app_from),
        );
        let guard = self.guard(
            "deploy",
            vec![("image", image.clone()), ("container", name.clone())],
            req.yes,
        );
        // New service credentials are saved once the deploy is confirmed, before any
        // step runs (a dry run writes none).
        if !ctx.settings.dry_run {
            if let Some(g) = &guard {
                execute::guard_protected(g)?;
            }
            if let Some(s) = &mut services {
                s.save_credentials()?;
            }
        }
        execute::execute_and_finish(ctx.settings, ctx.runner, &plan, None, |_, _| Summary {
            success: Some(format!("{name} is running {image}")),
            data: Some(url.clone()),
            json: serde_json::json!({
                "environment": self.env_name,
                "container": name,
                "image": image,
                "url": url,
            }),
        })
    }

    fn render(&self, _ctx: &mut Ctx, _image: Option<&str>) -> Result<(), Error> {
        Err(not_kubernetes(&self.env_name))
    }

    fn status(&self, ctx: &mut Ctx) -> Result<(), Error> {
        crate::runner::find("docker")?;
        let name = &self.container;
        if ctx.settings.dry_run {
            let mut plan = Plan::new(format!("status {}", self.env_name));
            plan.push(Step::exec(
                "Inspect the container",
                docker::inspect_container(&self.root, name),
            ));
            execute::print_plan(ctx.settings, &plan);
            return Ok(());
        }
        docker::daemon_version(ctx.runner, &self.root)?;
        let info = docker::container_inspect(ctx.runner, &self.root, name)?;
        let env_name = &self.env_name;
        // The backing services (issue #10).
        let (services, services_text) = crate::services::local::status(ctx, env_name)?;
        // With replicas (issue #14): the balancer and each replica.
        let ha = local_ha::running(ctx, &self.root, &self.project, env_name)?;
        if info.is_none() && !ha.is_empty() {
            let network = crate::services::local::network_name(&self.project, env_name);
            let (mut doc, text) =
                local_ha::status(ctx, env_name, &self.project, &network, &self.url(), &ha);
            if ctx.settings.json {
                if !services.is_empty() {
                    doc["services"] = serde_json::Value::Array(services);
                }
                ui::print_json(&doc);
            } else {
                ui::data(&text);
                if !services_text.is_empty() {
                    ui::data(&services_text);
                }
            }
            return Ok(());
        }
        if ctx.settings.json {
            let mut doc = match &info {
                None => {
                    serde_json::json!({"environment": env_name, "container": name, "state": "absent"})
                }
                Some(c) => serde_json::json!({
                    "environment": env_name,
                    "container": name,
                    "state": c.state.status,
                    "health": c.state.health.as_ref().map(|h| h.status.clone()),
                    "image": c.config.image,
                    "image_id": c.image,
                    "started_at": c.state.started_at,
                    "url": self.url(),
                }),
            };
            if !services.is_empty() {
                doc["services"] = serde_json::Value::Array(services);
            }
            ui::print_json(&doc);
            return Ok(());
        }
        match &info {
            None => ui::data(&format!("{env_name}: not deployed (no container {name})")),
            Some(c) => ui::data(&format!(
                "{env_name}: {}{}\n  container: {name}\n  image: {}\n  started: {}\n  url: {}",
                c.state.status,
                c.state
                    .health
                    .as_ref()
                    .map(|h| format!(" ({})", h.status))
                    .unwrap_or_default(),
                c.config.image,
                c.state.started_at,
                self.url()
            )),
        }
        if !services_text.is_empty() {
            ui::data(&services_text);
        }
        Ok(())
    }

    fn logs(
        &self,
        ctx: &mut Ctx,
        follow: bool,
        tail: u32,
        service: Option<&str>,
    ) -> Result<(), Error> {
        crate::runner::find("docker")?;
        let name = &match service {
            Some(s) => crate::services::local::logs_container(&ctx.project, &self.env_name, s)?,
            None => self.app_container(ctx)?,
        };
        let mut plan = Plan::new(format!("logs {}", self.env_name));
        plan.push(Step::exec(
            format!("Show the logs of {name}"),
            docker::logs(&self.root, name, tail, follow).data(),
        ));
        if !ctx.settings.dry_run {
            docker::daemon_version(ctx.runner, &self.root)?;
            if docker::container_inspect(ctx.runner, &self.root, name)?.is_none() {
                return Err(Error::failed(
                    format!(
                        "nothing is deployed in `{}` (no container {name})",
                        self.env_name
                    ),
                    Some(format!("deploy it first: `lbc deploy {}`", self.env_name)),
                ));
            }
        }
        execute::execute(ctx.settings, ctx.runner, &plan, None).map(|_| ())
    }

    fn destroy(&self, ctx: &mut Ctx, yes: bool, volumes: bool) -> Result<(), Error> {
        crate::runner::find("docker")?;
        let name = &self.container;
        let mut plan = Plan::new(format!("destroy {}", self.env_name));
        let reachable = self.reachable(ctx, &mut plan)?;
        let single =
            !reachable || docker::container_inspect(ctx.runner, &self.root, name)?.is_some();
        if single {
            plan.push(Step::exec(
                format!("Stop and remove {name}"),
                docker::remove(&self.root, name),
            ));
        }
        // The load balancer and the replicas (issue #14).
        let ha = if reachable {
            local_ha::running(ctx, &self.root, &self.project, &self.env_name)?
        } else {
            local_ha::Running::default()
        };
        plan.steps.extend(local_ha::remove_steps(
            &self.root,
            &self.project,
            &self.env_name,
            &ha,
        ));
        let exists = single || !ha.is_empty();
        // The backing services' containers and network, and with `--volumes` their
        // data (issue #10).
        let teardown = if reachable {
            Some(crate::services::local::plan_destroy(
                ctx,
                &self.env_name,
                volumes,
            )?)
        } else {
            None
        };
        if let Some(t) = &teardown {
            plan.notes.extend(t.notes.iter().cloned());
            plan.steps.extend(t.steps.iter().cloned());
        }
        let services_exist = teardown.as_ref().is_some_and(|t| t.anything);
        if !exists && !services_exist {
            plan.note(format!("nothing to destroy: no container {name}"));
        }
        let guard = self
            .guard("destroy", vec![("container", name.clone())], yes)
            .filter(|_| exists || services_exist);
        let kept = teardown
            .as_ref()
            .map(|t| t.kept_volumes.clone())
            .unwrap_or_default();
        if execute::execute(ctx.settings, ctx.runner, &plan, guard.as_ref())?.is_none() {
            return Ok(());
        }
        if let Some(t) = &teardown {
            // The credentials of services whose data is gone are forgotten.
            t.finish(ctx.settings, ctx.project.project(), &self.env_name)?;
        }
        execute::finish(
            ctx.settings,
            ctx.runner,
            &plan.verb,
            Summary {
                success: exists.then(|| format!("removed {name}")),
                data: None,
                json: serde_json::json!({
                    "environment": self.env_name,
                    "container": name,
                    "removed": exists,
                    "kept_volumes": kept,
                }),
            },
        );
        Ok(())
    }

    fn history(&self, _ctx: &mut Ctx) -> Result<(), Error> {
        Err(not_kubernetes(&self.env_name))
    }

    fn rollback(&self, _ctx: &mut Ctx, _revision: Option<u32>, _yes: bool) -> Result<(), Error> {
        Err(not_kubernetes(&self.env_name))
    }

    fn running(&self, _ctx: &Ctx) -> Result<Option<Running>, Error> {
        Err(not_kubernetes(&self.env_name))
    }

    fn chaos(&self, ctx: &mut Ctx, req: crate::commands::chaos::ChaosRequest) -> Result<(), Error> {
        self.chaos_run(ctx, req)
    }
}
