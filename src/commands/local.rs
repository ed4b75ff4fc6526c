//! Environments of kind "docker": the embedded default target. `deploy` runs the built
//! image on this machine's engine, replacing an earlier container of the same
//! environment, waits until it is healthy and prints its URL; `status`, `logs`, `destroy`.

use std::net::TcpListener;
use std::time::Duration;

use crate::cli::DeployArgs;
use crate::commands::{chosen_image, guard_protected, print_plan, print_result, Chosen, Ctx};
use crate::config::{parse_duration, EnvKind, Environment};
use crate::error::Error;
use crate::plan::{Action, EnvVar, Plan, Step};
use crate::tools::{self, docker};
use crate::ui;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn container_name(project: &str, env: &str) -> String {
    format!("lbc-{project}-{env}")
}

fn url(env: &Environment) -> String {
    let host = match env.bind_address() {
        "0.0.0.0" => "127.0.0.1",
        "::" => "[::1]",
        other => other,
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("http://{host}:{}", env.host_port())
}

pub fn deploy(
    ctx: &mut Ctx,
    env_name: &str,
    env: &Environment,
    args: &DeployArgs,
) -> Result<(), Error> {
    debug_assert_eq!(env.kind, EnvKind::Docker);
    tools::find("docker")?;
    let root = ctx.root().to_owned();
    let image = match chosen_image(
        ctx,
        args.image.as_deref(),
        args.tag.as_deref(),
        "run `lbc build` first",
    )? {
        Chosen::Reference(r) => r,
        Chosen::Build(b) => b.image,
    };
    let name = container_name(ctx.project.project(), env_name);
    let timeout = env
        .timeout
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| Error::usage(e, None))?
        .unwrap_or(DEFAULT_TIMEOUT);
    let mut plan = Plan::new(format!("deploy {env_name}"));
    plan.note(format!(
        "target: Docker engine on this machine, container {name}"
    ));

    let reachable = match docker::daemon_version(ctx.runner, &root) {
        Ok(_) => true,
        Err(e) if ctx.settings.dry_run => {
            plan.note(e.to_string());
            false
        }
        Err(e) => return Err(e),
    };
    let mut has_healthcheck = false;
    let mut existing = None;
    if reachable {
        let info = docker::image_inspect(ctx.runner, &root, &image)?;
        match info {
            Some(i) => has_healthcheck = i.has_healthcheck(),
            None => {
                return Err(Error::usage(
                    format!("image {image} is not on this machine"),
                    Some("run `lbc build` (or `docker pull` it) first".into()),
                ))
            }
        }
        existing = docker::container_inspect(ctx.runner, &root, &name)?;
    }
    if existing.is_none() && !port_free(env) {
        return Err(Error::failed(
            format!(
                "port {} on {} is already in use, so {name} cannot publish it",
                env.host_port(),
                env.bind_address()
            ),
            Some(format!(
                "stop what listens there, or choose another port: `port = {}` under [env.{env_name}] in {}",
                env.host_port().wrapping_add(1).max(1024),
                ctx.project.path.display()
            )),
        ));
    }
    if env.protected && !ctx.settings.dry_run {
        guard_protected(
            env_name,
            "deploy",
            &[("image", image.clone()), ("container", name.clone())],
            args.yes,
        )?;
    }
    if let Some(c) = &existing {
        plan.push(Step::exec(
            format!("Remove the previous container ({})", c.config.image),
            docker::exec(["rm", "--force", &name], &root),
        ));
    }
    let mut argv: Vec<String> = vec![
        "run".into(),
        "--detach".into(),
        "--name".into(),
        name.clone(),
        "--label".into(),
        format!("lbc.project={}", ctx.project.project()),
        "--label".into(),
        format!("lbc.env={env_name}"),
        "--publish".into(),
        format!(
            "{}:{}:{}",
            env.bind_address(),
            env.host_port(),
            env.container_port()
        ),
    ];
    let mut vars = Vec::new();
    for (k, v) in &env.vars {
        argv.push("--env".into());
        argv.push(k.clone());
        vars.push(EnvVar::plain(k, v));
    }
    argv.push(image.clone());
    let start_purpose = format!("Start {image} as {name}");
    plan.push(Step::exec(
        start_purpose.clone(),
        docker::exec(argv, &root).envs(vars).capture(),
    ));
    let url = url(env);
    match &env.health {
        Some(path) => plan.push(Step {
            purpose: format!("Wait until {url}{path} answers 200"),
            action: Action::WaitHttp {
                url: format!("{url}{path}"),
                container: name.clone(),
                timeout,
            },
        }),
        None => plan.push(Step {
            purpose: if has_healthcheck {
                format!("Wait until {name} is healthy")
            } else {
                format!("Wait until {name} runs")
            },
            action: Action::WaitHealthy {
                container: name.clone(),
                timeout,
            },
        }),
    }

    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    if let Err(e) = ctx.runner.run_plan(&plan) {
        // Leave nothing half-done: show why, then remove the container that failed.
        if !matches!(e, Error::Interrupted) {
            if let Ok(out) = ctx
                .runner
                .query(&docker::exec(["logs", "--tail", "30", &name], &root))
            {
                let text = format!("{}{}", out.stdout, out.stderr);
                if !text.trim().is_empty() {
                    ui::info(&format!("last log lines of {name}:"));
                    ui::info(text.trim_end());
                }
            }
        }
        // Remove only the container this run started (by its ID): when the start
        // itself failed, the container of that name belongs to someone else (issue #9:
        // two deploys at once used to remove each other's container).
        let started = ctx
            .runner
            .results
            .iter()
            .rev()
            .find(|r| r.purpose == start_purpose)
            .map(|r| r.stdout.trim().to_owned())
            .filter(|id| !id.is_empty());
        if let Some(id) = started {
            ctx.runner
                .cleanup(&docker::exec(["rm", "--force", id.as_str()], &root));
        }
        return Err(e);
    }
    ui::success(&format!("{name} is running {image}"));
    if ctx.settings.json {
        print_result(
            ctx.settings,
            ctx.runner,
            &plan.verb,
            serde_json::json!({
                "environment": env_name,
                "container": name,
                "image": image,
                "url": url,
            }),
        );
    } else {
        ui::data(&url);
    }
    Ok(())
}

/// Can lbc bind the port? (Docker could not either, then.)
fn port_free(env: &Environment) -> bool {
    TcpListener::bind((env.bind_address(), env.host_port())).is_ok()
}

pub fn status(ctx: &mut Ctx, env_name: &str, env: &Environment) -> Result<(), Error> {
    tools::find("docker")?;
    let root = ctx.root().to_owned();
    let name = container_name(ctx.project.project(), env_name);
    if ctx.settings.dry_run {
        let mut plan = Plan::new(format!("status {env_name}"));
        plan.push(Step::exec(
            "Inspect the container",
            docker::exec(["container", "inspect", &name], &root),
        ));
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    docker::daemon_version(ctx.runner, &root)?;
    let info = docker::container_inspect(ctx.runner, &root, &name)?;
    let doc = match &info {
        None => serde_json::json!({"environment": env_name, "container": name, "state": "absent"}),
        Some(c) => serde_json::json!({
            "environment": env_name,
            "container": name,
            "state": c.state.status,
            "health": c.state.health.as_ref().map(|h| h.status.clone()),
            "image": c.config.image,
            "image_id": c.image,
            "started_at": c.state.started_at,
            "url": url(env),
        }),
    };
    if ctx.settings.json {
        ui::print_json(&doc);
    } else {
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
                url(env)
            )),
        }
    }
    Ok(())
}

pub fn logs(ctx: &mut Ctx, env_name: &str, follow: bool, tail: u32) -> Result<(), Error> {
    tools::find("docker")?;
    let root = ctx.root().to_owned();
    let name = container_name(ctx.project.project(), env_name);
    let mut args = vec!["logs".to_owned(), "--tail".into(), tail.to_string()];
    if follow {
        args.push("--follow".into());
    }
    args.push(name.clone());
    let mut plan = Plan::new(format!("logs {env_name}"));
    plan.push(Step::exec(
        format!("Show the logs of {name}"),
        docker::exec(args, &root).data(),
    ));
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    docker::daemon_version(ctx.runner, &root)?;
    if docker::container_inspect(ctx.runner, &root, &name)?.is_none() {
        return Err(Error::failed(
            format!("nothing is deployed in `{env_name}` (no container {name})"),
            Some(format!("deploy it first: `lbc deploy {env_name}`")),
        ));
    }
    ctx.runner.run_plan(&plan)
}

pub fn destroy(ctx: &mut Ctx, env_name: &str, env: &Environment, yes: bool) -> Result<(), Error> {
    tools::find("docker")?;
    let root = ctx.root().to_owned();
    let name = container_name(ctx.project.project(), env_name);
    let mut plan = Plan::new(format!("destroy {env_name}"));
    let reachable = match docker::daemon_version(ctx.runner, &root) {
        Ok(_) => true,
        Err(e) if ctx.settings.dry_run => {
            plan.note(e.to_string());
            false
        }
        Err(e) => return Err(e),
    };
    let exists = !reachable || docker::container_inspect(ctx.runner, &root, &name)?.is_some();
    if exists {
        plan.push(Step::exec(
            format!("Stop and remove {name}"),
            docker::exec(["rm", "--force", &name], &root),
        ));
    } else {
        plan.note(format!("nothing to destroy: no container {name}"));
    }
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    if exists && env.protected {
        guard_protected(env_name, "destroy", &[("container", name.clone())], yes)?;
    }
    for n in &plan.notes {
        ui::info(n);
    }
    ctx.runner.run_plan(&plan)?;
    if exists {
        ui::success(&format!("removed {name}"));
    }
    print_result(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        serde_json::json!({"environment": env_name, "container": name, "removed": exists}),
    );
    Ok(())
}
