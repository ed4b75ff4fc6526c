//! `lbc watch` (alias `lbc dev`, issue #14): the inner loop of Skaffold's `dev` and
//! Tilt. It watches the repository (what `.dockerignore` excludes from the build
//! context, `.git` and `.lbc` never count), waits until the changes settle (debounce),
//! then builds and deploys a docker environment (`local`), and streams the app's logs.
//! A failed build or deploy is reported and the loop goes on; Ctrl-C stops the logs and
//! removes what the loop deployed (`lbc destroy ENV`, never the services' data;
//! `--no-cleanup` keeps it running). A `watch` task in lbc.toml wins: gazr's convention,
//! as for every task verb.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::DebounceEventResult;

use crate::cli::{BuildArgs, TargetArgs, WatchArgs};
use crate::commands::Ctx;
use crate::config::EnvKind;
use crate::context::DockerIgnore;
use crate::error::Error;
use crate::execute;
use crate::plan::{Plan, Step};
use crate::runner::{self, Background};
use crate::targets::{self, DeployRequest};
use crate::tools::docker;
use crate::ui;

/// The task that takes precedence over the loop.
const TASK: &str = "watch";

pub fn run(ctx: &mut Ctx, args: &WatchArgs) -> Result<(), Error> {
    if ctx.project.config.tasks.contains_key(TASK) {
        return crate::commands::tasks::named(ctx, TASK);
    }
    let env_name = args.env.as_str();
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind != EnvKind::Docker {
        return Err(Error::usage(
            format!("`lbc watch` deploys to a docker environment, and `{env_name}` is not one"),
            Some("use `--env local` (a `[env.local]` with `kind = \"docker\"`), or declare a `watch` task".to_owned()),
        ));
    }
    if env.protected {
        return Err(Error::usage(
            format!(
                "`{env_name}` is protected: `lbc watch` deploys every saved change and asks no one"
            ),
            Some("watch an unprotected docker environment (`--env local`)".to_owned()),
        ));
    }
    let root = ctx.root().to_owned();
    let Some(image) = &ctx.project.config.image else {
        return Err(Error::usage(
            format!(
                "{} declares no [image], so there is nothing to build on a change",
                ctx.project.path.display()
            ),
            Some(
                "add an [image] table (see docs/lbc-toml.md), or declare a `watch` task".to_owned(),
            ),
        ));
    };
    let context = root.join(&image.context);
    let dockerfile = root.join(&image.dockerfile);
    let mut ignore = DockerIgnore::load(&context)?;
    let mut plan = Plan::new("watch");
    plan.note(format!(
        "watch {} (without what .dockerignore excludes, .git and .lbc); changes settle for {}",
        root.display(),
        humantime::format_duration(args.debounce)
    ));
    plan.note(format!(
        "at the start and on each change: `lbc build`, then `lbc deploy {env_name}`; a failure is shown and the loop goes on"
    ));
    plan.push(Step::exec(
        "Stream the app's logs (each container of the deploy)",
        docker::logs(
            &root,
            &format!("lbc-{}-{env_name}", ctx.project.project()),
            20,
            true,
        )
        .data(),
    ));
    if args.no_cleanup {
        plan.note("on Ctrl-C: stop; what was deployed keeps running (--no-cleanup)");
    } else {
        plan.note(format!(
            "on Ctrl-C: `lbc destroy {env_name}` (the services' volumes are kept)"
        ));
    }
    if ctx.settings.dry_run {
        execute::print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }

    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = notify_debouncer_full::new_debouncer(args.debounce, None, tx)
        .map_err(|e| Error::failed(format!("could not watch {}: {e}", root.display()), None))?;
    debouncer
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| {
            Error::failed(
                format!("could not watch {}: {e}", root.display()),
                Some(
                    "raise fs.inotify.max_user_watches, or add large directories to .dockerignore"
                        .to_owned(),
                ),
            )
        })?;

    let mut logs: Vec<Background> = Vec::new();
    let mut round = 0u32;
    let mut changed: Vec<String> = Vec::new();
    loop {
        round += 1;
        if round > 1 {
            ui::step(&format!("change: {}", summary(&changed)));
        }
        for l in logs.drain(..) {
            l.stop();
        }
        match build_and_deploy(ctx, env_name) {
            Ok(()) => logs = follow_logs(ctx, &root, env_name),
            Err(Error::Interrupted) => break,
            Err(e) => {
                ui::error(&e.to_string(), &[], e.hint());
                ui::info("waiting for the next change");
            }
        }
        if runner::interrupted() {
            break;
        }
        // An edited .dockerignore counts from the next change on.
        if let Ok(i) = DockerIgnore::load(&context) {
            ignore = i;
        }
        match next_change(&rx, &root, &context, &dockerfile, &ignore) {
            Some(paths) => changed = paths,
            None => break,
        }
    }
    for l in logs.drain(..) {
        l.stop();
    }
    drop(debouncer);
    if !args.no_cleanup {
        ui::step(&format!("stopping: removing what runs in `{env_name}`"));
        runner::after_interrupt(|| {
            let target = targets::resolve(ctx, env_name, &TargetArgs::default())?;
            target.destroy(ctx, false, false)
        })?;
    }
    Ok(())
}

fn build_and_deploy(ctx: &mut Ctx, env_name: &str) -> Result<(), Error> {
    crate::commands::build::run(
        ctx,
        &BuildArgs {
            push: false,
            force: false,
        },
    )?;
    let target = targets::resolve(ctx, env_name, &TargetArgs::default())?;
    let image = target.choose_image(ctx, None, None)?;
    target.deploy(
        ctx,
        DeployRequest {
            image,
            yes: false,
            allow_dirty: true,
            force: false,
            promotion: None,
            replicas: None,
        },
    )
}

/// `docker logs --follow` of each container of the environment's app.
fn follow_logs(ctx: &Ctx, root: &Path, env_name: &str) -> Vec<Background> {
    let project = ctx.project.project();
    let single = crate::targets::local::container_name(project, env_name);
    let mut names = Vec::new();
    if matches!(
        docker::container_inspect(ctx.runner, root, &single),
        Ok(Some(_))
    ) {
        names.push(single);
    } else if let Ok(r) = crate::targets::local_ha::running(ctx, root, project, env_name) {
        names.extend(r.replicas.into_iter().map(|r| r.name));
    }
    names
        .iter()
        .filter_map(|n| {
            ctx.runner
                .background(&docker::logs(root, n, 20, true).data())
                .map_err(|e| ui::warn(&format!("could not stream the logs of {n}: {e}")))
                .ok()
        })
        .collect()
}

/// Wait for the next change that matters (the changed paths), or `None` on Ctrl-C.
fn next_change(
    rx: &mpsc::Receiver<DebounceEventResult>,
    root: &Path,
    context: &Path,
    dockerfile: &Path,
    ignore: &DockerIgnore,
) -> Option<Vec<String>> {
    loop {
        if runner::interrupted() {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(events)) => {
                let mut paths: Vec<String> = events
                    .iter()
                    .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                    .flat_map(|e| e.event.paths.iter())
                    .filter(|p| *p == dockerfile || matters(p, root, context, ignore))
                    .filter_map(|p| p.strip_prefix(root).ok())
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                paths.sort();
                paths.dedup();
                if !paths.is_empty() {
                    return Some(paths);
                }
            }
            Ok(Err(errors)) => {
                for e in errors {
                    ui::warn(&format!("watching: {e}"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// Does a change of `path` call for a new build? Not under `.git` or `.lbc`, and not
/// what `.dockerignore` keeps out of the context (a file outside the context, such as
/// lbc.toml next to a `context = "app"`, does; so does the Dockerfile, even when
/// `.dockerignore` lists it, which Docker allows).
pub fn matters(path: &Path, root: &Path, context: &Path, ignore: &DockerIgnore) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy());
    if matches!(first.as_deref(), Some(".git" | ".lbc")) {
        return false;
    }
    match path.strip_prefix(context) {
        Ok(in_ctx) => {
            let rel: PathBuf = in_ctx.to_path_buf();
            let rel = rel.to_string_lossy().replace('\\', "/");
            rel.is_empty() || !ignore.excluded(&rel)
        }
        Err(_) => true,
    }
}

fn summary(paths: &[String]) -> String {
    match paths.len() {
        0 => "(none)".into(),
        1..=3 => paths.join(", "),
        n => format!("{}, and {} more", paths[..3].join(", "), n - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #14: what .dockerignore excludes, .git and .lbc never trigger a rebuild.
    #[test]
    fn changes_that_matter() {
        let root = Path::new("/r");
        let ig = DockerIgnore::parse("*.md\nbuild/\n");
        let m = |p: &str| matters(Path::new(p), root, root, &ig);
        assert!(m("/r/app.py"));
        assert!(m("/r/src/x.py"));
        assert!(!m("/r/README.md"));
        assert!(!m("/r/build/out.o"));
        assert!(!m("/r/.git/index"));
        assert!(!m("/r/.lbc/state/builds.json"));
        assert!(!m("/elsewhere/a.py"));
        // Outside a sub-directory context: lbc.toml still counts.
        let ctx = Path::new("/r/app");
        assert!(matters(Path::new("/r/lbc.toml"), root, ctx, &ig));
        assert!(!matters(Path::new("/r/app/notes.md"), root, ctx, &ig));
    }
}
