//! `lbc logs ENV`: the logs of what runs in an environment.

use crate::cli::LogsArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &LogsArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.logs(
        ctx,
        args.follow,
        args.tail,
        args.service.as_deref(),
    )
}
