//! `lbc logs ENV`: the logs of what runs in an environment.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(
    ctx: &mut Ctx,
    env: &str,
    follow: bool,
    tail: u32,
    flags: &TargetArgs,
) -> Result<(), Error> {
    targets::resolve(ctx, env, flags)?.logs(ctx, follow, tail)
}
