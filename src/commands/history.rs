//! `lbc history ENV`: the releases (or rollout revisions) of an environment.

use crate::cli::HistoryArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &HistoryArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.history(ctx)
}
