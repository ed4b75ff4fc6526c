//! The gazr verbs (`test`, `style`, `format`, `complexity`, `security`, `run`, `watch`,
//! `profile`) and `lbc task NAME`: each runs tasks of `[tasks]`, on the host or inside a
//! container with the repository mounted at `/workspace`.

use std::io::IsTerminal;

use crate::cli::{SecurityKind, TestKind};
use crate::commands::{build, lbc_env, task_vars, Ctx};
use crate::config::{Task, TaskCommand};
use crate::error::Error;
use crate::execute::{self, Summary};
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

/// `lbc test [KIND]`.
pub fn test(ctx: &mut Ctx, kind: Option<TestKind>) -> Result<(), Error> {
    let verb = match kind {
        None => Verb::composite("test", &["unit", "functional", "integration"]),
        Some(TestKind::Unit) => Verb::single("test-unit"),
        Some(TestKind::Functional) => Verb::single("test-functional"),
        Some(TestKind::Integration) => Verb::single("test-integration"),
    };
    run(ctx, &verb)
}

/// `lbc security [KIND]`.
pub fn security(ctx: &mut Ctx, kind: Option<SecurityKind>) -> Result<(), Error> {
    let verb = match kind {
        None => Verb::composite("security", &["sast", "dependency-scan"]),
        Some(SecurityKind::Sast) => Verb::single("security-sast"),
        Some(SecurityKind::DependencyScan) => Verb::single("security-dependency-scan"),
    };
    run(ctx, &verb)
}

/// A verb that runs the task of its name (`style`, `run`, `lbc task NAME`, ...).
pub fn named(ctx: &mut Ctx, name: &str) -> Result<(), Error> {
    run(ctx, &Verb::single(name))
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

/// The plan of one verb's tasks: each step names its task, so that a failure says which.
pub fn plan(ctx: &Ctx, verb: &Verb) -> Result<Plan, Error> {
    let selected = select(ctx, verb)?;
    let mut plan = Plan::new(verb.name.replace('-', " "));
    let services = crate::services::local::TaskServices::plan(ctx, &selected)?;
    let project = &ctx.project;
    let needs_tag = project.config.image.is_some();
    let git = if needs_tag {
        tools::git::inspect_tag(&project.root)
    } else {
        None
    };
    let mut built_stages: Vec<String> = Vec::new();
    // The tasks' backing services start first (issue #10); their clean-up steps always
    // run, after the tasks, whatever happened to them.
    for step in services.iter().flat_map(|s| s.start.iter()) {
        plan.push(step.clone());
    }
    for (name, task) in selected {
        let mut extra = vec![(task_vars::TASK, name.clone())];
        if let (Some(img), Some(g)) = (&project.config.image, &git) {
            extra.push((task_vars::BUILD_TAG, g.tag()));
            extra.push((
                task_vars::BUILD_IMAGE,
                format!("{}:{}", img.repository, g.tag()),
            ));
        }
        if let Some(note) = renamed_variable_note(name, task) {
            plan.note(note);
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
                crate::runner::find("docker")?;
                let (steps, reference) = build::stage_build(project, ctx.settings, stage)?;
                if !built_stages.contains(stage) {
                    built_stages.push(stage.clone());
                    for s in steps {
                        plan.push(s);
                    }
                }
                Some(reference)
            }
            (None, Some(image)) => {
                crate::runner::find("docker")?;
                Some(crate::catalog::bases::task_image(
                    ctx.settings.catalog()?,
                    name,
                    image,
                )?)
            }
            (None, None) => None,
        };
        let (service_env, service_network) = services
            .as_ref()
            .map(|s| s.for_task(project, name, task, container_image.is_some()))
            .unwrap_or_default();
        env.extend(service_env);
        let command: Vec<String> = match &task.run {
            TaskCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            TaskCommand::Argv(a) => a.clone(),
        };
        let exec = match container_image {
            None => Exec::new(command, &project.root).envs(env),
            Some(image) => {
                let interactive = std::io::stdin().is_terminal();
                let uid = nix::unistd::getuid();
                // The organisation's network (issue #11): the CA bundle mounted with
                // the variables that point the clients at it, and the proxies.
                let bundle = ctx.settings.ca_bundle()?;
                // The task's own variables come last and win.
                let mut all = crate::trust::proxy_env();
                if bundle.is_some() {
                    all.extend(crate::trust::ca_env());
                }
                all.extend(env);
                let in_env = all
                    .into_iter()
                    .map(|v| {
                        if v.name == task_vars::ROOT {
                            EnvVar::plain(task_vars::ROOT, WORKSPACE)
                        } else {
                            v
                        }
                    })
                    .collect();
                docker::run_task(
                    &project.root,
                    &docker::TaskRun {
                        // The name lets lbc remove the container when `docker run`
                        // itself is gone after an interrupt (issue #9).
                        name: task_container(project.project(), name),
                        interactive,
                        tty: interactive && std::io::stdout().is_terminal() && !ctx.settings.json,
                        volume: format!("{}:{WORKSPACE}", project.root.display()),
                        // `from_image`: anonymous volumes over the repository, filled
                        // by Docker from the image (PHP's vendor/ of the test stage).
                        mounts: bundle
                            .into_iter()
                            .map(crate::trust::mount)
                            .chain(task.from_image.iter().map(|p| format!("{WORKSPACE}/{p}")))
                            .collect(),
                        workdir: WORKSPACE,
                        user: (!uid.is_root())
                            .then(|| format!("{}:{}", uid, nix::unistd::getgid())),
                        env: in_env,
                        network: service_network,
                        image: &image,
                        command: &command,
                    },
                )
            }
        };
        plan.push(Step::exec(purpose, exec).what(format!("task `{name}`")));
    }
    for step in services.into_iter().flat_map(|s| s.cleanup) {
        plan.push(step);
    }
    Ok(plan)
}

/// A note for a task whose command (or its `env`) still reads a variable that lbc used
/// to hand to tasks under a name that is now only a flag's environment form.
fn renamed_variable_note(name: &str, task: &Task) -> Option<String> {
    let mut texts: Vec<&str> = match &task.run {
        TaskCommand::Shell(s) => vec![s.as_str()],
        TaskCommand::Argv(a) => a.iter().map(String::as_str).collect(),
    };
    texts.extend(task.env.values().map(String::as_str));
    let found: Vec<String> = task_vars::RENAMED
        .iter()
        .filter(|(old, _)| texts.iter().any(|t| reads_variable(t, old)))
        .map(|(old, new)| format!("`{old}` is now `{new}`"))
        .collect();
    (!found.is_empty()).then(|| {
        format!(
            "task `{name}` reads a variable lbc no longer sets for tasks: {} (the old names are the environment forms of `lbc deploy --tag/--image`; docs/lbc-toml.md)",
            found.join(", ")
        )
    })
}

/// Whether `text` mentions `$NAME` or `${NAME...}` as a whole variable name.
fn reads_variable(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(name) {
        let start = from + i;
        let end = start + name.len();
        let before = text[..start].trim_end_matches('{');
        let dollar = before.ends_with('$');
        let whole_after = bytes
            .get(end)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
        if dollar && whole_after {
            return true;
        }
        from = end;
    }
    false
}

/// The name of the container of a task run: unique per lbc process (issue #9).
pub fn task_container(project: &str, task: &str) -> String {
    format!("lbc-task-{project}-{task}-{}", std::process::id())
}

pub fn run(ctx: &mut Ctx, verb: &Verb) -> Result<(), Error> {
    let plan = plan(ctx, verb)?;
    let result =
        execute::execute_and_finish(ctx.settings, ctx.runner, &plan, None, |_, _| Summary {
            json: serde_json::json!({}),
            ..Summary::default()
        });
    if matches!(result, Err(Error::Interrupted)) {
        // `docker run` forwarded the signal and `--init` stops the task; if a container
        // outlives its `docker run`, remove it by the name this run gave it (issue #9).
        for name in docker::task_containers(&plan) {
            ctx.runner
                .cleanup(&docker::remove(&ctx.project.root, &name));
        }
        // The steps that run whatever happened (the tasks' services and their network,
        // issue #10) run after an interrupt too.
        for step in plan.steps.iter().filter(|s| s.always) {
            if let crate::plan::Action::Exec(e) = &step.action {
                ctx.runner.cleanup(e);
            }
        }
    }
    result
}
