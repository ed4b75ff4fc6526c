//! `lbc backup ENV`: one consistent dump per backing service of an environment (issue
//! #10): docker containers, or the pods of a kubernetes environment's provisioned
//! services; kept in a directory or an S3-compatible bucket.

use crate::cli::BackupArgs;
use crate::commands::Ctx;
use crate::config::EnvKind;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::plan::Step;
use crate::services::backup::{self, Destination};
use crate::targets::kube::Kube;
use crate::tools::{docker, rclone};
use crate::ui;

/// A docker environment needs docker on PATH.
fn docker_env(ctx: &Ctx, env_name: &str) -> Result<(), Error> {
    ctx.project.environment(env_name)?;
    crate::runner::find("docker")?;
    Ok(())
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

/// A kubernetes environment's cluster (its provisioned services are backed up with
/// kubectl), or `None` for a docker environment.
pub fn kube_env(ctx: &Ctx, env_name: &str) -> Result<Option<Kube>, Error> {
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind != EnvKind::Kubernetes {
        docker_env(ctx, env_name)?;
        return Ok(None);
    }
    let k = Kube::resolve(ctx, env_name, env, &crate::cli::TargetArgs::default())?;
    crate::runner::find(&k.kubectl_bin)?;
    Ok(Some(k))
}

/// The plan of a backup into `dir`: docker or kubernetes.
fn plan_for(
    ctx: &Ctx,
    kube: Option<&Kube>,
    args: &BackupArgs,
    dir: &std::path::Path,
) -> Result<(crate::plan::Plan, Vec<backup::Pending>), Error> {
    match kube {
        Some(k) => crate::services::kube::plan_backup(ctx, k, args.service.as_deref(), dir),
        None => backup::plan_backup(ctx, &args.env, args.service.as_deref(), dir),
    }
}

pub fn run(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
    // An instance's services are its own (issue #12).
    crate::instances::with_instance(ctx, &args.env, args.instance.as_deref(), |ctx| {
        run_plain(ctx, args)
    })
}

fn run_plain(ctx: &mut Ctx, args: &BackupArgs) -> Result<(), Error> {
    let kube = kube_env(ctx, &args.env)?;
    let dest = backup::destination(ctx, args.backup_dir.as_deref())?;
    if kube.is_none() {
        docker::daemon_version(ctx.runner, &ctx.project.root)?;
    }
    let dir = match dest {
        Destination::Dir(d) => d,
        Destination::S3(s3) => return backup_s3(ctx, args, &s3, kube.as_ref()),
    };
    let (mut plan, pending) = plan_for(ctx, kube.as_ref(), args, &dir)?;
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
fn backup_s3(
    ctx: &mut Ctx,
    args: &BackupArgs,
    s3: &rclone::S3,
    kube: Option<&Kube>,
) -> Result<(), Error> {
    crate::runner::find("rclone")?;
    // Reading the bucket checks the endpoint and the credentials before any dump.
    let existing = backup::list_s3(ctx, s3, &args.env)?;
    let stage = staging()?;
    let (mut plan, pending) = plan_for(ctx, kube, args, stage.path())?;
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
