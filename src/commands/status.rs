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
    target.status(ctx)
}
