//! `lbc destroy ENV`: remove what lbc deployed in an environment.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, env: &str, yes: bool, flags: &TargetArgs) -> Result<(), Error> {
    targets::resolve(ctx, env, flags)?.destroy(ctx, yes)
}
