//! The gazr verbs (`test`, `style`, `format`, `complexity`, `security`, `run`, `watch`,
//! `profile`) and `lbc task NAME`: each runs tasks of `[tasks]`, on the host or inside a
//! container with the repository mounted at `/workspace`.

use std::io::IsTerminal;

use crate::catalog::Catalog;
use crate::commands::{build, lbc_env, print_plan, print_result, Ctx};
use crate::config::{Task, TaskCommand};
use crate::error::Error;
use crate::plan::{EnvVar, Exec, Plan, Step};
use crate::tools::{self, docker};

/// Where a container task sees the repository.
pub const WORKSPACE: &str = "/workspace";

/// A verb and the tasks it runs: the verb's own task if declared, else its parts.
pub struct Verb {
    pub name: String,
    pub tasks: Vec<String>,
}

impl Verb {
    /// `lbc test`: `test` if declared, else every one of test-unit, test-functional,
    /// test-integration that is declared.
    pub fn composite(name: &str, parts: &[&str]) -> Verb {
        let mut tasks = vec![name.to_owned()];
        tasks.extend(parts.iter().map(|p| format!("{name}-{p}")));
        Verb {
            name: name.to_owned(),
            tasks,
        }
    }
    pub fn single(name: &str) -> Verb {
        Verb {
            name: name.to_owned(),
            tasks: vec![name.to_owned()],
        }
    }
}

fn select<'a>(ctx: &'a Ctx, verb: &Verb) -> Result<Vec<(&'a String, &'a Task)>, Error> {
    let tasks = &ctx.project.config.tasks;
    if let Some((k, t)) = tasks.get_key_value(&verb.tasks[0]) {
        return Ok(vec![(k, t)]);
    }
    let found: Vec<_> = verb.tasks[1..]
        .iter()
        .filter_map(|n| tasks.get_key_value(n))
        .collect();
    if found.is_empty() {
        let names = verb
            .tasks
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let example = example_for(&verb.tasks[verb.tasks.len().min(2) - 1]);
        return Err(Error::usage(
            format!(
                "no {names} task in {}: `lbc {}` has nothing to run",
                ctx.project.path.display(),
                verb.name.replace('-', " ")
            ),
            Some(format!(
                "declare it under [tasks], e.g.\n  [tasks]\n  {example}\n(a string runs with `sh -c`, an array is an argv; add `image = \"NAME\"` or `stage = \"STAGE\"` in a table to run it in a container)"
            )),
        ));
    }
    Ok(found)
}

fn example_for(task: &str) -> String {
    let cmd = match task {
        "test" | "test-unit" => "\"python3 -m unittest discover -s tests\"",
        "test-functional" | "test-integration" => "\"./scripts/functional-tests.sh\"",
        "style" => "[\"ruff\", \"check\", \".\"]",
        "format" => "[\"ruff\", \"format\", \".\"]",
        "complexity" => "[\"radon\", \"cc\", \"-a\", \".\"]",
        "security" | "security-sast" => "[\"bandit\", \"-r\", \"src\"]",
        "security-dependency-scan" => "[\"pip-audit\"]",
        "run" => "\"python3 -m app\"",
        "watch" => "\"watchexec -r -- python3 -m app\"",
        "profile" => "\"python3 -m cProfile -m app\"",
        _ => "\"echo replace me\"",
    };
    format!("{task} = {cmd}")
}

/// The plan of one verb's tasks.
/// The plan, and for each step the task it runs (`None` for a stage build).
/// A task plan: the plan, for each step the task it runs (`None` for a stage build),
/// and the names of the containers its steps start.
pub type TaskPlan = (Plan, Vec<Option<String>>, Vec<String>);

pub fn plan(ctx: &Ctx, verb: &Verb) -> Result<TaskPlan, Error> {
    let selected = select(ctx, verb)?;
    let mut plan = Plan::new(verb.name.replace('-', " "));
    let project = &ctx.project;
    let needs_tag = project.config.image.is_some();
    let git = if needs_tag {
        tools::git::inspect_tag(&project.root)
    } else {
        None
    };
    let mut built_stages: Vec<String> = Vec::new();
    let mut owners: Vec<Option<String>> = Vec::new();
    let mut containers: Vec<String> = Vec::new();
    let catalog = if selected.iter().any(|(_, t)| t.image.is_some()) {
        Some(Catalog::load()?)
    } else {
        None
    };
    for (name, task) in selected {
        let mut extra = vec![("LBC_TASK", name.clone())];
        if let (Some(img), Some(g)) = (&project.config.image, &git) {
            extra.push(("LBC_TAG", g.tag()));
            extra.push(("LBC_IMAGE", format!("{}:{}", img.repository, g.tag())));
        }
        let mut env = lbc_env(project, &extra);
        env.extend(task.env.iter().map(|(k, v)| EnvVar::plain(k, v)));
        let purpose = task
            .description
            .clone()
            .map(|d| format!("{name}: {d}"))
            .unwrap_or_else(|| format!("Run task `{name}`"));

        let container_image = match (&task.stage, &task.image) {
            (Some(stage), _) => {
                tools::find("docker")?;
                let (exec, reference) = build::stage_build(project, stage)?;
                if !built_stages.contains(stage) {
                    built_stages.push(stage.clone());
                    owners.push(None);
                    plan.push(Step::exec(
                        format!("Build the `{stage}` stage for tasks"),
                        exec,
                    ));
                }
                Some(reference)
            }
            (None, Some(image)) => {
                tools::find("docker")?;
                Some(catalog.as_ref().expect("loaded above").resolve(image)?)
            }
            (None, None) => None,
        };
        let command: Vec<String> = match &task.run {
            TaskCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            TaskCommand::Argv(a) => a.clone(),
        };
        let exec = match container_image {
            None => Exec::new(command, &project.root).envs(env),
            Some(image) => {
                // `--init`: the task is not PID 1, so SIGINT and SIGTERM (forwarded by
                // `docker run`) stop it within seconds; the name lets lbc remove the
                // container if `docker run` itself is gone (issue #9).
                let cname = task_container(project.project(), name);
                containers.push(cname.clone());
                let mut argv: Vec<String> = vec![
                    "docker".into(),
                    "run".into(),
                    "--rm".into(),
                    "--init".into(),
                    format!("--name={cname}"),
                ];
                if std::io::stdin().is_terminal() {
                    argv.push("--interactive".into());
                    if std::io::stdout().is_terminal() && !ctx.settings.json {
                        argv.push("--tty".into());
                    }
                }
                argv.extend([
                    "--volume".into(),
                    format!("{}:{WORKSPACE}", project.root.display()),
                    "--workdir".into(),
                    WORKSPACE.into(),
                ]);
                let uid = nix::unistd::getuid();
                if !uid.is_root() {
                    // Files the task writes in the mounted repository stay the user's.
                    argv.extend([
                        "--user".into(),
                        format!("{}:{}", uid, nix::unistd::getgid()),
                        "--env".into(),
                        "HOME=/tmp".into(),
                    ]);
                }
                let mut in_env = env.clone();
                for v in &mut in_env {
                    if v.name == "LBC_ROOT" {
                        *v = EnvVar::plain("LBC_ROOT", WORKSPACE);
                    }
                }
                for v in &in_env {
                    // Only the name: docker reads the value from its own environment.
                    argv.push("--env".into());
                    argv.push(v.name.clone());
                }
                argv.push(image);
                argv.extend(command);
                docker::exec(argv.into_iter().skip(1), &project.root)
                    .envs(in_env)
                    .data()
            }
        };
        owners.push(Some(name.clone()));
        plan.push(Step::exec(purpose, exec));
    }
    Ok((plan, owners, containers))
}

/// The name of the container of a task run: unique per lbc process.
pub fn task_container(project: &str, task: &str) -> String {
    format!("lbc-task-{project}-{task}-{}", std::process::id())
}

pub fn run(ctx: &mut Ctx, verb: &Verb) -> Result<(), Error> {
    let (plan, owners, containers) = plan(ctx, verb)?;
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    let done_before = ctx.runner.results.len();
    let result = ctx.runner.run_plan(&plan);
    if matches!(result, Err(Error::Interrupted)) {
        // `docker run` forwarded the signal; if the container outlives it, stop it.
        for c in &containers {
            ctx.runner.cleanup(&docker::exec(
                ["rm", "--force", c.as_str()],
                &ctx.project.root,
            ));
        }
    }
    result.map_err(|e| {
        let failed = ctx.runner.results.len() - done_before;
        match (e, owners.get(failed).cloned().flatten()) {
            (Error::ChildFailed { code, .. }, Some(task)) => Error::ChildFailed {
                what: format!("task `{task}`"),
                code,
                hint: None,
            },
            (e, _) => build::build_failed(e),
        }
    })?;
    print_result(ctx.settings, ctx.runner, &plan.verb, serde_json::json!({}));
    Ok(())
}
