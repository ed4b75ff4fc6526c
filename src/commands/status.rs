//! `lbc status ENV`: what runs in an environment.

use crate::cli::StatusArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &StatusArgs) -> Result<(), Error> {
    let target = targets::resolve(ctx, &args.env, &args.target)?;
    if args.wait {
        target.wait_reconciled(ctx)?;
    }
    // An environment with instances (issue #12): its own release, then every instance.
    if crate::instances::report::status(ctx, &args.env, &args.target)? {
        return Ok(());
    }
    target.status(ctx)
}
