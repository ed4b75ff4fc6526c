//! `lbc render ENV`: the manifests a deploy would apply.

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets;

pub fn run(ctx: &mut Ctx, env: &str, image: Option<&str>, flags: &TargetArgs) -> Result<(), Error> {
    targets::resolve(ctx, env, flags)?.render(ctx, image)
}
