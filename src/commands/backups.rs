//! `lbc backups ENV`: the backups of an environment's backing services (issue #10), in
//! the backup directory or bucket.

use crate::cli::BackupsArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::services::backup::{self, Destination};
use crate::ui;

pub fn run(ctx: &mut Ctx, args: &BackupsArgs) -> Result<(), Error> {
    // An instance's services are its own (issue #12).
    crate::instances::with_instance(ctx, &args.env, args.instance.as_deref(), |ctx| {
        run_plain(ctx, args)
    })
}

fn run_plain(ctx: &mut Ctx, args: &BackupsArgs) -> Result<(), Error> {
    ctx.project.environment(&args.env)?;
    let (dir, list) = match backup::destination(ctx, args.backup_dir.as_deref())? {
        Destination::Dir(dir) => {
            let list = backup::list(&dir, ctx.project.project(), &args.env)?;
            (dir.display().to_string(), list)
        }
        Destination::S3(s3) => {
            crate::runner::find("rclone")?;
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
