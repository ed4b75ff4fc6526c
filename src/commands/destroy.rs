//! `lbc destroy ENV`: remove what lbc deployed in an environment.

use crate::cli::DestroyArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &DestroyArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.destroy(ctx, args.yes, args.volumes)
}
