//! `lbc render ENV`: the manifests a deploy would apply.

use crate::cli::RenderArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, args: &RenderArgs) -> Result<(), Error> {
    targets::resolve(ctx, &args.env, &args.target)?.render(ctx, args.image.as_deref())
}
