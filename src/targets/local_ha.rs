//! A local environment with replicas (issue #14): `replicas = N` under `[env.NAME]` (or
//! `lbc deploy local --replicas N`) runs N containers of the app behind a load balancer
//! (HAProxy, the catalogue's `haproxy` image) on the environment's network, beside the
//! backing services; the balancer publishes the environment's port and checks the
//! replicas' health itself (`tools/haproxy.rs`).
//!
//! Names: the balancer `lbc-PROJECT-ENV__lb`, the replicas `lbc-PROJECT-ENV__rSLOT-GEN`
//! (`GEN` counts the deploys, so a new replica starts beside the one it replaces); `_`
//! cannot occur in a project or environment name, so none collides with a service's or a
//! single app's container. Labels: `lbc.project`, `lbc.env`, `lbc.role` (`replica` or
//! `balancer`), and on replicas `lbc.slot` and `lbc.generation`.
//!
//! A redeploy replaces the replicas one at a time: start the new one, wait until the
//! balancer sends it requests (its health check passed), drain an old one (no new
//! requests; the open ones finish), remove it, release its slot. Requests keep being
//! answered throughout.

use std::path::Path;
use std::time::Duration;

use crate::commands::Ctx;
use crate::config::Environment;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::plan::{Action, BalancerOp, EnvVar, Plan, Step};
use crate::targets::local::Local;
use crate::targets::DeployRequest;
use crate::tools::docker::{self, ContainerInfo};
use crate::tools::haproxy;

/// The catalogue's logical name of the balancer's image.
pub const BALANCER_IMAGE: &str = "haproxy";
const ROLE_REPLICA: &str = "replica";
const ROLE_BALANCER: &str = "balancer";
/// The label that records the balancer's configuration (a hash): another one means a
/// new balancer.
const CONFIG_LABEL: &str = "lbc.balancer-config";

pub fn balancer_name(project: &str, env: &str) -> String {
    format!("lbc-{project}-{env}__lb")
}

pub fn replica_name(project: &str, env: &str, slot: u32, generation: u32) -> String {
    format!("lbc-{project}-{env}__r{slot}-{generation}")
}

/// A replica that exists now.
#[derive(Debug, Clone)]
pub struct Replica {
    pub name: String,
    pub slot: u32,
    pub generation: u32,
    pub info: ContainerInfo,
}

/// What runs of an environment with replicas: the balancer and the replicas (by slot,
/// then generation).
#[derive(Debug, Clone, Default)]
pub struct Running {
    pub balancer: Option<ContainerInfo>,
    pub replicas: Vec<Replica>,
}

impl Running {
    pub fn is_empty(&self) -> bool {
        self.balancer.is_none() && self.replicas.is_empty()
    }
    /// Every container's name (the balancer last).
    pub fn names(&self, project: &str, env: &str) -> Vec<String> {
        let mut v: Vec<String> = self.replicas.iter().map(|r| r.name.clone()).collect();
        if self.balancer.is_some() {
            v.push(balancer_name(project, env));
        }
        v
    }
}

/// The balancer and the replicas of an environment, as the engine has them.
pub fn running(ctx: &Ctx, root: &Path, project: &str, env: &str) -> Result<Running, Error> {
    let balancer = docker::container_inspect(ctx.runner, root, &balancer_name(project, env))?;
    let names = docker::containers_labelled(
        ctx.runner,
        root,
        &[
            format!("lbc.project={project}"),
            format!("lbc.env={env}"),
            format!("lbc.role={ROLE_REPLICA}"),
        ],
    )?;
    let mut replicas = Vec::new();
    for name in names {
        if let Some(info) = docker::container_inspect(ctx.runner, root, &name)? {
            let num = |k: &str| info.label(k).and_then(|v| v.parse().ok()).unwrap_or(0);
            replicas.push(Replica {
                slot: num("lbc.slot"),
                generation: num("lbc.generation"),
                name,
                info,
            });
        }
    }
    replicas.sort_by_key(|r| (r.slot, r.generation));
    Ok(Running { balancer, replicas })
}

/// What a deploy with replicas needs from the docker target.
pub struct Deploy<'a> {
    pub env_name: &'a str,
    pub env: &'a Environment,
    pub project: &'a str,
    pub root: &'a Path,
    pub image: &'a str,
    pub replicas: u32,
    pub timeout: Duration,
    pub network: &'a str,
    /// The services' connection variables.
    pub service_env: &'a [EnvVar],
    /// The single app container of a deploy without replicas, replaced by the balancer.
    pub single: Option<&'a str>,
    pub running: &'a Running,
    /// The catalogue's image for the balancer.
    pub balancer_image: &'a str,
    /// The URL the balancer answers on.
    pub url: &'a str,
}

fn config_hash(config: &str, image: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(config.as_bytes());
    h.update(b"\0");
    h.update(image.as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The capture of the balancer's `docker run`.
const STARTED_LB: &str = "started-lb";

/// The capture of the `docker run` of the replica in `slot`.
fn started(slot: u32) -> String {
    format!("started-r{slot}")
}

/// Push the app's steps of a deploy with replicas; returns the number of the first one
/// (where the on-failure steps start).
pub fn plan_deploy(plan: &mut Plan, d: &Deploy) -> usize {
    let config = haproxy::config(
        d.env.container_port(),
        d.env.health.as_deref(),
        crate::config::MAX_REPLICAS,
    );
    let hash = config_hash(&config, d.balancer_image);
    let lb = balancer_name(d.project, d.env_name);
    let keep_balancer = d.running.balancer.as_ref().is_some_and(|b| {
        b.state.status == "running" && b.label(CONFIG_LABEL) == Some(hash.as_str())
    });
    let generation = d
        .running
        .replicas
        .iter()
        .map(|r| r.generation)
        .max()
        .unwrap_or(0)
        + 1;
    let first = plan.next_number();
    let mut vars: Vec<EnvVar> = d.service_env.to_vec();
    vars.extend(d.env.vars.iter().map(|(k, v)| EnvVar::plain(k, v)));
    let slot_s: Vec<String> = (1..=d.replicas).map(|s| s.to_string()).collect();
    let gen_s = generation.to_string();
    let start = |slot: u32| {
        let name = replica_name(d.project, d.env_name, slot, generation);
        let labels = [
            ("lbc.project", d.project),
            ("lbc.env", d.env_name),
            ("lbc.role", ROLE_REPLICA),
            ("lbc.slot", slot_s[slot as usize - 1].as_str()),
            ("lbc.generation", gen_s.as_str()),
        ];
        Step::exec(
            format!(
                "Start replica {slot} of {}: {name} ({})",
                d.replicas, d.image
            ),
            docker::run_service(
                d.root,
                docker::ServiceRun {
                    name: &name,
                    network: d.network,
                    alias: Some(haproxy::REPLICAS_ALIAS),
                    labels: &labels,
                    volumes: Vec::new(),
                    publish: Vec::new(),
                    env: vars.clone(),
                    image: d.image,
                    command: Vec::new(),
                },
            ),
        )
        .capture_as(started(slot))
    };
    let serving = |name: &str| {
        Step::new(
            format!("Wait until the load balancer sends requests to {name}"),
            Action::Balancer {
                op: BalancerOp::WaitServing,
                balancer: lb.clone(),
                replica: name.to_owned(),
                network: d.network.to_owned(),
                timeout: d.timeout,
            },
        )
    };
    let retire = |plan: &mut Plan, old: &Replica| {
        plan.push(Step::new(
            format!("Drain {} (no new requests; its open ones finish)", old.name),
            Action::Balancer {
                op: BalancerOp::Drain,
                balancer: lb.clone(),
                replica: old.name.clone(),
                network: d.network.to_owned(),
                timeout: Duration::from_secs(10),
            },
        ));
        plan.push(Step::exec(
            format!("Remove {} ({})", old.name, old.info.config.image),
            docker::remove(d.root, &old.name),
        ));
        plan.push(Step::new(
            format!("Release the balancer's slot of {}", old.name),
            Action::Balancer {
                op: BalancerOp::Release,
                balancer: lb.clone(),
                replica: old.name.clone(),
                network: d.network.to_owned(),
                timeout: d.timeout,
            },
        ));
    };
    let old = &d.running.replicas;
    if keep_balancer {
        plan.note(format!(
            "rolling update behind {lb}: {} new replica(s) replace {} one at a time",
            d.replicas,
            old.len()
        ));
        for slot in 1..=d.replicas {
            let name = replica_name(d.project, d.env_name, slot, generation);
            plan.push(start(slot));
            plan.push(serving(&name));
            if let Some(o) = old.get(slot as usize - 1) {
                retire(plan, o);
            }
        }
        for o in old.iter().skip(d.replicas as usize) {
            retire(plan, o);
        }
    } else {
        for slot in 1..=d.replicas {
            plan.push(start(slot));
        }
        if let Some(single) = d.single {
            plan.note(format!(
                "{single} (one container, no balancer) is replaced by {lb} and {} replicas: the port is unanswered for a moment",
                d.replicas
            ));
            plan.push(Step::exec(
                format!("Remove {single} (the app without replicas)"),
                docker::remove(d.root, single),
            ));
        }
        if let Some(b) = &d.running.balancer {
            plan.note(format!(
                "{lb} is replaced ({}): the port is unanswered for a moment",
                if b.state.status == "running" {
                    "its configuration changed"
                } else {
                    "it does not run"
                }
            ));
            plan.push(Step::exec(
                format!("Remove the load balancer {lb}"),
                docker::remove(d.root, &lb),
            ));
        }
        let labels = [
            ("lbc.project", d.project),
            ("lbc.env", d.env_name),
            ("lbc.role", ROLE_BALANCER),
            (CONFIG_LABEL, hash.as_str()),
        ];
        plan.push(
            Step::exec(
                format!(
                    "Start the load balancer {lb} ({}) on {}",
                    d.balancer_image, d.url
                ),
                docker::run_service(
                    d.root,
                    docker::ServiceRun {
                        name: &lb,
                        network: d.network,
                        alias: None,
                        labels: &labels,
                        volumes: Vec::new(),
                        publish: vec![
                            format!(
                                "{}:{}:{}",
                                d.env.bind_address(),
                                d.env.host_port(),
                                haproxy::FRONTEND_PORT
                            ),
                            format!("127.0.0.1::{}", haproxy::STATS_PORT),
                        ],
                        env: vec![EnvVar::plain(haproxy::CONFIG_VAR, config.clone())],
                        image: d.balancer_image,
                        command: haproxy::command(),
                    },
                ),
            )
            .capture_as(STARTED_LB),
        );
        for slot in 1..=d.replicas {
            plan.push(serving(&replica_name(
                d.project, d.env_name, slot, generation,
            )));
        }
        for o in old {
            plan.push(Step::exec(
                format!("Remove {} ({})", o.name, o.info.config.image),
                docker::remove(d.root, &o.name),
            ));
        }
    }
    if let Some(path) = &d.env.health {
        plan.push(Step::new(
            format!(
                "Wait until {}{path} answers 200 through the balancer",
                d.url
            ),
            Action::WaitHttp {
                url: format!("{}{path}", d.url),
                container: lb.clone(),
                timeout: d.timeout,
            },
        ));
    }
    // A failure leaves the replicas it did not replace serving: show why, and remove the
    // new ones (by the IDs their `docker run` printed).
    for slot in 1..=d.replicas {
        plan.push(
            Step::exec(
                format!("Show the last log lines of the new replica {slot}"),
                docker::logs_captured(d.root, &started(slot), 30),
            )
            .on_failure_from(first),
        );
    }
    for slot in 1..=d.replicas {
        plan.push(
            Step::exec(
                format!("Remove the new replica {slot}"),
                docker::remove_captured(d.root, &started(slot)),
            )
            .on_failure_from(first),
        );
    }
    if !keep_balancer {
        // A balancer this run started, with no replica it could serve.
        plan.push(
            Step::exec(
                format!("Remove the load balancer {lb} this deploy started"),
                docker::remove_captured(d.root, STARTED_LB),
            )
            .on_failure_from(first),
        );
    }
    first
}

/// The steps that remove the balancer and every replica (`destroy`, or a deploy back to
/// one container).
pub fn remove_steps(root: &Path, project: &str, env: &str, r: &Running) -> Vec<Step> {
    let names = r.names(project, env);
    if names.is_empty() {
        return Vec::new();
    }
    vec![Step::exec(
        format!("Stop and remove {}", names.join(", ")),
        docker::remove_all(root, &names, false),
    )]
}

/// `lbc status` of an environment with replicas: JSON and human text.
pub fn status(
    ctx: &Ctx,
    env_name: &str,
    project: &str,
    network: &str,
    url: &str,
    r: &Running,
) -> (serde_json::Value, String) {
    let lb = balancer_name(project, env_name);
    let servers = r
        .balancer
        .as_ref()
        .filter(|b| b.state.status == "running")
        .and_then(|_| crate::wait::balancer_servers(ctx.runner, &lb).ok())
        .unwrap_or_default();
    let mut text = format!(
        "{env_name}: {} replica(s) behind {lb} ({})\n  url: {url}\n",
        r.replicas.len(),
        r.balancer
            .as_ref()
            .map(|b| b.state.status.as_str())
            .unwrap_or("absent")
    );
    let mut reps = Vec::new();
    for rep in &r.replicas {
        let ip = rep.info.ip_on(network).unwrap_or("");
        let slot = servers.iter().find(|s| !ip.is_empty() && s.ip() == ip);
        let serving = slot.is_some_and(|s| s.serving());
        let balancer = slot
            .map(|s| format!("{}, last check {}", s.status, s.check))
            .unwrap_or_else(|| "not seen".into());
        text.push_str(&format!(
            "  replica {}: {} {} (balancer: {balancer})\n    image: {}\n    started: {}\n",
            rep.slot,
            rep.name,
            rep.info.state.status,
            rep.info.config.image,
            rep.info.state.started_at
        ));
        reps.push(serde_json::json!({
            "slot": rep.slot,
            "generation": rep.generation,
            "container": rep.name,
            "state": rep.info.state.status,
            "image": rep.info.config.image,
            "started_at": rep.info.state.started_at,
            "address": ip,
            "balancer": balancer,
            "serving": serving,
        }));
    }
    let json = serde_json::json!({
        "environment": env_name,
        "balancer": {
            "container": lb,
            "state": r.balancer.as_ref().map(|b| b.state.status.clone()).unwrap_or_else(|| "absent".into()),
            "image": r.balancer.as_ref().map(|b| b.config.image.clone()),
        },
        "replicas": reps,
        "url": url,
    });
    (json, text.trim_end().to_owned())
}

/// The replicas `lbc chaos` kills on this machine (issue #14): those behind the balancer,
/// or the one container of an environment without replicas. The local engine has no
/// controller that replaces a killed container, so lbc starts it again right away, as
/// Kubernetes would recreate a pod; it counts as recovered once it serves again.
pub struct Victims {
    pub root: std::path::PathBuf,
    pub project: String,
    pub env_name: String,
    pub network: String,
    /// The balancer (with replicas), else `None`.
    pub balancer: Option<String>,
    /// The one container of an environment without replicas.
    pub single: String,
    pub url: String,
}

impl crate::commands::chaos::Victims for Victims {
    fn url(&self) -> &str {
        &self.url
    }

    fn pick(
        &mut self,
        runner: &crate::runner::Runner,
        random: u64,
    ) -> Result<crate::commands::chaos::Pick, Error> {
        use crate::commands::chaos::Pick;
        let candidates: Vec<String> = if self.balancer.is_some() {
            docker::containers_labelled(
                runner,
                &self.root,
                &[
                    format!("lbc.project={}", self.project),
                    format!("lbc.env={}", self.env_name),
                    format!("lbc.role={ROLE_REPLICA}"),
                ],
            )?
            .into_iter()
            .filter(|n| {
                docker::container_inspect(runner, &self.root, n)
                    .ok()
                    .flatten()
                    .is_some_and(|c| c.state.status == "running")
            })
            .collect()
        } else {
            docker::container_inspect(runner, &self.root, &self.single)?
                .filter(|c| c.state.status == "running")
                .map(|_| vec![self.single.clone()])
                .unwrap_or_default()
        };
        if candidates.is_empty() {
            return Ok(Pick::Skip("no replica runs".into()));
        }
        Ok(Pick::Victim(
            candidates[(random % candidates.len() as u64) as usize].clone(),
        ))
    }

    fn kill_plan(&self, victim: &str) -> Plan {
        let mut p = Plan::new(format!("chaos {}", self.env_name));
        p.push(Step::exec(
            format!("Kill {victim}"),
            docker::kill(&self.root, victim),
        ));
        p.push(Step::exec(
            format!("Start {victim} again (the local engine has no controller to replace it)"),
            docker::start(&self.root, victim),
        ));
        p
    }

    fn repair(&self, runner: &crate::runner::Runner, victim: &str) {
        let stopped = docker::container_inspect(runner, &self.root, victim)
            .ok()
            .flatten()
            .is_some_and(|c| c.state.status != "running");
        if stopped {
            runner.cleanup(&docker::start(&self.root, victim));
        }
    }

    fn recovered(&mut self, runner: &crate::runner::Runner, victim: &str) -> Result<bool, Error> {
        let Some(c) = docker::container_inspect(runner, &self.root, victim)? else {
            return Ok(false);
        };
        if c.state.status != "running" {
            return Ok(false);
        }
        match &self.balancer {
            Some(lb) => {
                let Some(ip) = c.ip_on(&self.network) else {
                    return Ok(false);
                };
                Ok(crate::wait::balancer_servers(runner, lb)
                    .map(|s| s.iter().any(|s| s.ip() == ip && s.serving()))
                    .unwrap_or(false))
            }
            None => Ok(matches!(
                crate::wait::http_status(&self.url, Duration::from_secs(1)),
                Ok(200..=399)
            )),
        }
    }
}

// The docker target's methods for replicas (kept here, out of local.rs).
impl Local {
    /// `deploy` with `replicas` > 1: the services' steps are in `plan` already; the
    /// replicas behind the load balancer follow (issue #14, `local_ha.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn deploy_replicas(
        &self,
        ctx: &mut Ctx,
        req: DeployRequest,
        mut plan: Plan,
        mut services: Option<crate::services::local::Prepared>,
        existing: Option<docker::ContainerInfo>,
        ha: Running,
        replicas: u32,
    ) -> Result<(), Error> {
        let image = req.image.reference().to_owned();
        let root = &self.root;
        let network = match &services {
            Some(s) => s.network.clone(),
            None => {
                let net = crate::services::local::network_name(&self.project, &self.env_name);
                if ha.is_empty() || !docker::network_exists(ctx.runner, root, &net)? {
                    plan.push(Step::exec(
                        format!("Create the network {net}"),
                        docker::network_create(
                            root,
                            &net,
                            &[("lbc.project", &self.project), ("lbc.env", &self.env_name)],
                        ),
                    ));
                }
                net
            }
        };
        let catalog = ctx.settings.catalog()?;
        let balancer_image = crate::catalog::bases::checked(
            catalog,
            crate::catalog::bases::ImageUse {
                kind: "load balancer".into(),
                file: "lbc.toml".into(),
                line: None,
                context: format!("env.{}: replicas = {replicas}", self.env_name),
                resolution: catalog.resolve_name(BALANCER_IMAGE)?,
                index: None,
            },
        )?;
        let service_env = services
            .as_ref()
            .map(|s| s.app_env.clone())
            .unwrap_or_default();
        let url = self.url();
        let lb = balancer_name(&self.project, &self.env_name);
        plan.note(format!(
            "target: Docker engine on this machine, {replicas} replicas behind the load balancer {lb}"
        ));
        plan_deploy(
            &mut plan,
            &Deploy {
                env_name: &self.env_name,
                env: &self.env,
                project: &self.project,
                root,
                image: &image,
                replicas,
                timeout: self.timeout,
                network: &network,
                service_env: &service_env,
                single: existing.as_ref().map(|_| self.container.as_str()),
                running: &ha,
                balancer_image: &balancer_image,
                url: &url,
            },
        );
        let guard = self.guard(
            "deploy",
            vec![
                ("image", image.clone()),
                ("replicas", replicas.to_string()),
                ("load balancer", lb.clone()),
            ],
            req.yes,
        );
        if !ctx.settings.dry_run {
            if let Some(g) = &guard {
                execute::guard_protected(g)?;
            }
            if let Some(s) = &mut services {
                s.save_credentials()?;
            }
        }
        let names: Vec<String> = (1..=replicas).map(|s| format!("replica {s}")).collect();
        execute::execute_and_finish(ctx.settings, ctx.runner, &plan, None, |_, _| Summary {
            success: Some(format!(
                "{replicas} replicas of {image} behind {lb} ({})",
                names.join(", ")
            )),
            data: Some(url.clone()),
            json: serde_json::json!({
                "environment": self.env_name,
                "balancer": lb,
                "replicas": replicas,
                "image": image,
                "url": url,
            }),
        })
    }

    /// `lbc chaos` of a docker environment (the `Target` method).
    pub(super) fn chaos_run(
        &self,
        ctx: &mut Ctx,
        req: crate::commands::chaos::ChaosRequest,
    ) -> Result<(), Error> {
        use crate::commands::chaos::{self, Victims as _};
        crate::runner::find("docker")?;
        let mut plan = Plan::new(format!("chaos {}", self.env_name));
        let reachable = self.reachable(ctx, &mut plan)?;
        let ha = if reachable {
            running(ctx, &self.root, &self.project, &self.env_name)?
        } else {
            Running::default()
        };
        let single = reachable
            && docker::container_inspect(ctx.runner, &self.root, &self.container)?.is_some();
        if reachable && !single && ha.is_empty() {
            return Err(Error::failed(
                format!("nothing is deployed in `{}`", self.env_name),
                Some(format!(
                    "deploy it first: `lbc deploy {} --replicas 3`",
                    self.env_name
                )),
            ));
        }
        let url = req.url.clone().unwrap_or_else(|| {
            format!(
                "{}{}",
                self.url(),
                self.env.health.as_deref().unwrap_or("/")
            )
        });
        let balancer =
            (!ha.is_empty() && !single).then(|| balancer_name(&self.project, &self.env_name));
        let mut victims = Victims {
            root: self.root.clone(),
            project: self.project.clone(),
            env_name: self.env_name.clone(),
            network: crate::services::local::network_name(&self.project, &self.env_name),
            balancer: balancer.clone(),
            single: self.container.clone(),
            url,
        };
        let what = match &balancer {
            Some(lb) => format!(
                "a random replica behind {lb} (now {}: {})",
                ha.replicas.len(),
                ha.replicas
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{} (the only container: no replicas)", self.container),
        };
        chaos::describe(&mut plan, &req, victims.url(), &what);
        plan.steps.extend(victims.kill_plan("REPLICA").steps);
        let guard = self.guard(
            "kill its replicas (lbc chaos)",
            vec![("kills", what.clone())],
            req.yes,
        );
        chaos::execute(
            ctx,
            &self.env_name,
            &plan,
            guard.as_ref(),
            &req,
            &mut victims,
        )
    }
}
