//! `lbc history ENV`: the releases (or rollout revisions) of an environment.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, env: &str, flags: &TargetArgs) -> Result<(), Error> {
    targets::resolve(ctx, env, flags)?.history(ctx)
}
