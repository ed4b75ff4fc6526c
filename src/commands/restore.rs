//! `lbc restore ENV --from BACKUP|ENV`: load backups into the backing services of a
//! docker environment, or into the provisioned services of a kubernetes one (issue
//! #10); data is replaced only with `--overwrite`, a protected environment only after
//! its guard.

use std::path::PathBuf;

use crate::cli::RestoreArgs;
use crate::commands::backup::{kube_env, staging};
use crate::commands::Ctx;
use crate::error::Error;
use crate::execute::{self, Guard, Summary};
use crate::plan::Step;
use crate::services::backup::{self, Backup, Destination};
use crate::tools::{docker, rclone};

pub fn run(ctx: &mut Ctx, args: &RestoreArgs) -> Result<(), Error> {
    // An instance's services are its own (issue #12).
    crate::instances::with_instance(ctx, &args.env, args.instance.as_deref(), |ctx| {
        run_plain(ctx, args)
    })
}

fn run_plain(ctx: &mut Ctx, args: &RestoreArgs) -> Result<(), Error> {
    let kube = kube_env(ctx, &args.env)?;
    let env = ctx.project.environment(&args.env)?.clone();
    let dest = backup::destination(ctx, args.backup_dir.as_deref())?;
    if kube.is_none() {
        docker::daemon_version(ctx.runner, &ctx.project.root)?;
    }
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
            crate::runner::find("rclone")?;
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
    let mut plan = match &kube {
        Some(k) => crate::services::kube::plan_restore(ctx, k, &from, args.overwrite)?,
        None => backup::plan_restore(ctx, &args.env, &env, &from, args.overwrite)?,
    };
    plan.prepend(downloads);
    let names: Vec<String> = from.iter().map(Backup::name).collect();
    let guard = Guard::when_protected(
        env.protected,
        &args.env,
        "restore its services",
        vec![("from", names.join(", "))],
        args.yes,
    );
    let from_json = if sources.is_empty() { &from } else { &sources };
    execute::execute_and_finish(ctx.settings, ctx.runner, &plan, guard.as_ref(), |_, _| {
        Summary {
            success: Some(format!("restored {} into `{}`", names.join(", "), args.env)),
            data: None,
            json: serde_json::json!({
                "environment": args.env,
                "from": from_json,
            }),
        }
    })
}
