//! `lbc rollback ENV [REVISION]`: back to the previous (or a given) revision.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(
    ctx: &mut Ctx,
    env: &str,
    revision: Option<u32>,
    yes: bool,
    flags: &TargetArgs,
) -> Result<(), Error> {
    targets::resolve(ctx, env, flags)?.rollback(ctx, revision, yes)
}
