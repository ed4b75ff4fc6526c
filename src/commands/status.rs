//! `lbc status ENV`: what runs in an environment.

use crate::cli::StatusArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &StatusArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.status(ctx)
}
