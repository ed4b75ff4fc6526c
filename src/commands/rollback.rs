//! `lbc rollback ENV [REVISION]`: back to the previous (or a given) revision.

use crate::cli::RollbackArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &RollbackArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.rollback(ctx, args.revision, args.yes)
}
