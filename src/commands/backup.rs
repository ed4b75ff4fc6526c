//! `lbc backup ENV`, `lbc backups ENV`, `lbc restore ENV --from BACKUP|ENV`: dumps of an
//! environment's backing services and their restores (issue #10; docker environments),
//! kept in a directory or an S3-compatible bucket.

use std::path::PathBuf;

use crate::cli::{BackupArgs, BackupsArgs, RestoreArgs};
use crate::commands::{guard_protected, print_plan, print_result, Ctx};
use crate::config::EnvKind;
use crate::error::Error;
use crate::plan::Step;
use crate::services::backup::{self, Backup, Destination};
use crate::tools::{self, docker, rclone};
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

/// A private local directory for dumps on their way to or from a bucket.
fn staging() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("lbc-backup-")
        .tempdir()
        .map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            source: e,
        })
}

pub fn backup(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
    docker_env(ctx, &args.env)?;
    let dest = backup::destination(ctx, args.backup_dir.as_deref())?;
    docker::daemon_version(ctx.runner, &ctx.project.root)?;
    let dir = match dest {
        Destination::Dir(d) => d,
        Destination::S3(s3) => return backup_s3(ctx, args, &s3),
    };
    let (mut plan, pending) = backup::plan_backup(ctx, &args.env, args.service.as_deref(), &dir)?;
    if let Some(keep) = args.keep {
        plan.note(format!(
            "then only the {keep} newest backups of each service are kept (older ones are deleted)"
        ));
    }
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    backup::prepare_dir(ctx, &dir)?;
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
    if let Some(keep) = args.keep {
        let services: Vec<String> = pending.iter().map(|p| p.service.clone()).collect();
        let list = backup::list(&dir, ctx.project.project(), &args.env)?;
        for old in backup::expired(&list, &services, keep) {
            fs_err::remove_file(&old.file).map_err(|e| Error::Io {
                path: old.file.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            })?;
            ui::info(&format!("removed {} (--keep {keep})", old.file.display()));
        }
    }
    report_backup(ctx, &args.env, &plan.verb, files);
    Ok(())
}

/// Dump into a private staging directory, then upload each file with rclone (an object
/// appears whole or not at all).
fn backup_s3(ctx: &mut Ctx, args: &BackupArgs, s3: &rclone::S3) -> Result<(), Error> {
    tools::find("rclone")?;
    // Reading the bucket checks the endpoint and the credentials before any dump.
    let existing = backup::list_s3(ctx, s3, &args.env)?;
    let stage = staging()?;
    let (mut plan, pending) =
        backup::plan_backup(ctx, &args.env, args.service.as_deref(), stage.path())?;
    plan.notes.retain(|n| !n.starts_with("backup directory"));
    plan.notes
        .insert(0, format!("backup destination: {}", s3.url("")));
    let root = ctx.project.root.clone();
    let mut urls = Vec::new();
    for p in &pending {
        let name = p.file.file_name().expect("a file name").to_string_lossy();
        plan.push(Step::exec(
            format!("Upload it to {}", s3.url(&name)),
            rclone::upload(s3, &p.partial, &name, &root),
        ));
        urls.push(s3.url(&name));
    }
    if let Some(keep) = args.keep {
        // The new objects count among the `keep`; deletions run only after every upload.
        let services: Vec<String> = pending.iter().map(|p| p.service.clone()).collect();
        for old in backup::expired(&existing, &services, keep.saturating_sub(1)) {
            plan.push(Step::exec(
                format!("Delete {} (--keep {keep})", old.file.display()),
                rclone::delete(s3, &old.name(), &root),
            ));
        }
    }
    if ctx.settings.dry_run {
        print_plan(ctx.settings, &plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    ctx.runner.run_plan(&plan)?;
    report_backup(ctx, &args.env, &plan.verb, urls);
    Ok(())
}

fn report_backup(ctx: &Ctx, env: &str, verb: &str, files: Vec<String>) {
    ui::success(&format!("backed up {} service(s) of `{env}`", files.len()));
    if ctx.settings.json {
        print_result(
            ctx.settings,
            ctx.runner,
            verb,
            serde_json::json!({"environment": env, "files": files}),
        );
    } else {
        ui::data(&files.join("\n"));
    }
}

pub fn backups(ctx: &mut Ctx, args: &BackupsArgs) -> Result<(), Error> {
    ctx.project.environment(&args.env)?;
    let (dir, list) = match backup::destination(ctx, args.backup_dir.as_deref())? {
        Destination::Dir(dir) => {
            let list = backup::list(&dir, ctx.project.project(), &args.env)?;
            (dir.display().to_string(), list)
        }
        Destination::S3(s3) => {
            tools::find("rclone")?;
            (s3.url(""), backup::list_s3(ctx, &s3, &args.env)?)
        }
    };
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
            "no backups of `{}` in {dir} (`lbc backup {}` takes one)",
            args.env, args.env
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
    let dest = backup::destination(ctx, args.backup_dir.as_deref())?;
    docker::daemon_version(ctx.runner, &ctx.project.root)?;
    // Kept until the restore is over: the downloaded dumps live there.
    let mut _stage: Option<tempfile::TempDir> = None;
    // Where each backup comes from, for the report (a bucket's URL, not the staging copy).
    let mut sources: Vec<Backup> = Vec::new();
    let (from, downloads) = match &dest {
        Destination::Dir(dir) => (
            backup::resolve_from(ctx, &args.from, dir, args.service.as_deref())?,
            Vec::new(),
        ),
        Destination::S3(s3) => {
            tools::find("rclone")?;
            let stage = staging()?;
            let chosen = backup::resolve_from_s3(ctx, s3, &args.from, args.service.as_deref())?;
            let root = ctx.project.root.clone();
            let mut steps = Vec::new();
            let mut local = Vec::new();
            for b in chosen {
                let target: PathBuf = stage.path().join(b.name());
                steps.push(Step::exec(
                    format!("Download {}", b.file.display()),
                    rclone::download(s3, &b.name(), &target, &root),
                ));
                sources.push(b.clone());
                local.push(Backup { file: target, ..b });
            }
            _stage = Some(stage);
            (local, steps)
        }
    };
    let mut plan = backup::plan_restore(ctx, &args.env, &env, &from, args.overwrite)?;
    plan.steps.splice(0..0, downloads);
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
        serde_json::json!({
            "environment": args.env,
            "from": if sources.is_empty() { &from } else { &sources },
        }),
    );
    Ok(())
}
