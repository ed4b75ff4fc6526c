//! The gazr verbs (`test`, `style`, `format`, `complexity`, `security`, `run`, `watch`,
//! `profile`) and `lbc task NAME`: each runs tasks of `[tasks]`, on the host or inside a
//! container with the repository mounted at `/workspace`.

use std::io::IsTerminal;

use crate::catalog::Catalog;
use crate::commands::{build, lbc_env, print_plan, print_result, task_vars, Ctx};
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
/// The last `usize` steps remove the services started for the tasks (issue #10).
pub fn plan(ctx: &Ctx, verb: &Verb) -> Result<(Plan, Vec<Option<String>>, usize), Error> {
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
    let mut owners: Vec<Option<String>> = Vec::new();
    for step in services.iter().flat_map(|s| s.start.iter()) {
        plan.push(step.clone());
        owners.push(None);
    }
    let catalog = if selected.iter().any(|(_, t)| t.image.is_some()) {
        Some(Catalog::load()?)
    } else {
        None
    };
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
        let (service_env, service_args) = services
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
                let mut argv: Vec<String> = vec!["docker".into(), "run".into(), "--rm".into()];
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
                argv.extend(service_args);
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
                    if v.name == task_vars::ROOT {
                        *v = EnvVar::plain(task_vars::ROOT, WORKSPACE);
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
    let cleanup = services.map(|s| s.cleanup).unwrap_or_default();
    let cleanup_len = cleanup.len();
    plan.steps.extend(cleanup);
    Ok((plan, owners, cleanup_len))
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

pub fn run(ctx: &mut Ctx, verb: &Verb) -> Result<(), Error> {
    let (plan, owners, cleanup) = plan(ctx, verb)?;
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        crate::ui::warn(n);
    }
    let done_before = ctx.runner.results.len();
    crate::services::local::run_with_cleanup(ctx.runner, &plan, cleanup).map_err(|e| {
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
