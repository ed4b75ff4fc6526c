//! `lbc backup ENV`: one consistent dump per backing service of a docker environment
//! (issue #10), kept in a directory or an S3-compatible bucket.

use crate::cli::BackupArgs;
use crate::commands::Ctx;
use crate::config::EnvKind;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::plan::Step;
use crate::services::backup::{self, Destination};
use crate::tools::{docker, rclone};
use crate::ui;

/// The environment, which must be of kind docker (with docker on PATH).
pub fn docker_env(ctx: &Ctx, env_name: &str) -> Result<crate::config::Environment, Error> {
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind != EnvKind::Docker {
        return Err(Error::usage(
            format!("`{env_name}` is a kubernetes environment: lbc backs up the services of docker environments only, so far"),
            Some("back up a Kubernetes database with your platform's tools".to_owned()),
        ));
    }
    crate::runner::find("docker")?;
    Ok(env)
}

/// A private local directory for dumps on their way to or from a bucket.
pub fn staging() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("lbc-backup-")
        .tempdir()
        .map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            source: e,
        })
}

pub fn run(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
    // An instance's services are its own (issue #12).
    crate::instances::with_instance(ctx, &args.env, args.instance.as_deref(), |ctx| {
        run_plain(ctx, args)
    })
}

fn run_plain(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
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
    if !ctx.settings.dry_run {
        backup::prepare_dir(ctx, &dir, args.backup_dir.is_some())?;
    }
    let ran = match execute::execute(ctx.settings, ctx.runner, &plan, None) {
        Ok(ran) => ran,
        Err(e) => {
            backup::discard(&pending);
            return Err(e);
        }
    };
    if ran.is_none() {
        return Ok(());
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
    report(ctx, &args.env, &plan.verb, files);
    Ok(())
}

/// Dump into a private staging directory, then upload each file with rclone (an object
/// appears whole or not at all).
fn backup_s3(ctx: &mut Ctx, args: &BackupArgs, s3: &rclone::S3) -> Result<(), Error> {
    crate::runner::find("rclone")?;
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
    if execute::execute(ctx.settings, ctx.runner, &plan, None)?.is_some() {
        report(ctx, &args.env, &plan.verb, urls);
    }
    Ok(())
}

fn report(ctx: &Ctx, env: &str, verb: &str, files: Vec<String>) {
    let data = files.join("\n");
    execute::finish(
        ctx.settings,
        ctx.runner,
        verb,
        Summary {
            success: Some(format!("backed up {} service(s) of `{env}`", files.len())),
            data: Some(data),
            json: serde_json::json!({"environment": env, "files": files}),
        },
    );
}
