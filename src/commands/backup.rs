//! `lbc backup ENV`, `lbc backups ENV`, `lbc restore ENV --from BACKUP|ENV`: dumps of an
//! environment's backing services and their restores (issue #10; docker environments).

use std::path::PathBuf;

use crate::cli::{BackupArgs, BackupsArgs, RestoreArgs};
use crate::commands::{guard_protected, print_plan, print_result, Ctx};
use crate::config::EnvKind;
use crate::error::Error;
use crate::services::backup::{self, Backup};
use crate::tools::{self, docker};
use crate::ui;

fn docker_env(ctx: &Ctx, env_name: &str) -> Result<crate::config::Environment, Error> {
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind != EnvKind::Docker {
        return Err(Error::usage(
            format!("`{env_name}` is a kubernetes environment: lbc backs up the services of docker environments only, so far"),
            Some("back up a Kubernetes database with your platform's tools".to_owned()),
        ));
    }
    tools::find("docker")?;
    Ok(env)
}

fn dir(ctx: &Ctx, flag: Option<&PathBuf>) -> Result<PathBuf, Error> {
    match flag {
        Some(d) if d.is_absolute() => Ok(d.clone()),
        Some(d) => Ok(ctx.settings.cwd.join(d)),
        None => backup::default_dir(ctx.project.project()),
    }
}

pub fn backup(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
    docker_env(ctx, &args.env)?;
    let dir = dir(ctx, args.backup_dir.as_ref())?;
    docker::daemon_version(ctx.runner, &ctx.project.root)?;
    let (plan, pending) = backup::plan_backup(ctx, &args.env, args.service.as_deref(), &dir)?;
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    backup::prepare_dir(&dir)?;
    for n in &plan.notes {
        ui::info(n);
    }
    if let Err(e) = ctx.runner.run_plan(&plan) {
        backup::discard(&pending);
        return Err(e);
    }
    if let Err(e) = backup::finish_backup(&pending) {
        backup::discard(&pending);
        return Err(e);
    }
    let files: Vec<String> = pending
        .iter()
        .map(|p| p.file.display().to_string())
        .collect();
    ui::success(&format!(
        "backed up {} service(s) of `{}`",
        files.len(),
        args.env
    ));
    if ctx.settings.json {
        print_result(
            ctx.settings,
            ctx.runner,
            &plan.verb,
            serde_json::json!({"environment": args.env, "files": files}),
        );
    } else {
        ui::data(&files.join("\n"));
    }
    Ok(())
}

pub fn backups(ctx: &mut Ctx, args: &BackupsArgs) -> Result<(), Error> {
    ctx.project.environment(&args.env)?;
    let dir = dir(ctx, args.backup_dir.as_ref())?;
    let list = backup::list(&dir, ctx.project.project(), &args.env)?;
    if ctx.settings.json {
        ui::print_json(&serde_json::json!({
            "environment": args.env,
            "directory": dir,
            "backups": list,
        }));
        return Ok(());
    }
    if list.is_empty() {
        ui::info(&format!(
            "no backups of `{}` in {} (`lbc backup {}` takes one)",
            args.env,
            dir.display(),
            args.env
        ));
        return Ok(());
    }
    let mut out = String::new();
    for b in &list {
        out.push_str(&format!(
            "{}  {:<12} {:<18} {:>10}  {}\n",
            b.time,
            b.service,
            b.server,
            b.bytes,
            b.file.display()
        ));
    }
    ui::data(&out);
    Ok(())
}

pub fn restore(ctx: &mut Ctx, args: &RestoreArgs) -> Result<(), Error> {
    let env = docker_env(ctx, &args.env)?;
    let dir = dir(ctx, args.backup_dir.as_ref())?;
    docker::daemon_version(ctx.runner, &ctx.project.root)?;
    let from = backup::resolve_from(ctx, &args.from, &dir, args.service.as_deref())?;
    let plan = backup::plan_restore(ctx, &args.env, &env, &from, args.overwrite)?;
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    if env.protected {
        let names: Vec<String> = from.iter().map(Backup::name).collect();
        guard_protected(
            &args.env,
            "restore its services",
            &[("from", names.join(", "))],
            args.yes,
        )?;
    }
    for n in &plan.notes {
        ui::info(n);
    }
    ctx.runner.run_plan(&plan)?;
    ui::success(&format!(
        "restored {} into `{}`",
        from.iter().map(Backup::name).collect::<Vec<_>>().join(", "),
        args.env
    ));
    print_result(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        serde_json::json!({"environment": args.env, "from": from}),
    );
    Ok(())
}
