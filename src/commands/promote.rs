//! `lbc promote FROM TO`: the image that runs in FROM, pinned by digest, deployed to TO
//! with the source recorded on the release.

use crate::cli::{PromoteArgs, TargetArgs};
use crate::commands::Ctx;
use crate::error::Error;
use crate::state::Builds;
use crate::targets::{self, DeployRequest, Promotion};
use crate::ui;

pub fn run(ctx: &mut Ctx, args: &PromoteArgs) -> Result<(), Error> {
    if args.instances.instance.is_some() || args.instances.all_instances {
        return crate::instances::batch::promote_command(ctx, args);
    }
    let from = targets::resolve(ctx, &args.from, &TargetArgs::default())?;
    let to = targets::resolve(ctx, &args.to, &TargetArgs::default())?;
    let running = from.running(ctx)?.ok_or_else(|| {
        Error::usage(
            format!("nothing runs in `{}` to promote", args.from),
            Some(format!("deploy it first: `lbc deploy {}`", args.from)),
        )
    })?;
    let image = pinned(ctx, running.image)?;
    ui::info(&format!(
        "promoting {} from `{}` to `{}`",
        image.reference(),
        args.from,
        args.to
    ));
    to.deploy(
        ctx,
        DeployRequest {
            image,
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: false,
            promotion: Some(Promotion {
                from: args.from.clone(),
                revision: running.revision,
            }),
            replicas: None,
        },
    )
}

/// The image pinned by digest: a tag can move, a digest cannot.
pub fn pinned(ctx: &Ctx, image: crate::image::ImageRef) -> Result<crate::image::ImageRef, Error> {
    let running = crate::targets::Running { image, revision: 0 };
    Ok(if running.image.digest.is_some() {
        running.image
    } else {
        let tag = running.image.tag.clone().unwrap_or_default();
        match Builds::load(ctx.root())?
            .by_tag(&tag)
            .and_then(|b| b.digest.clone())
        {
            Some(d) => running.image.with_digest(&d),
            None => {
                ui::warn(&format!(
                    "{} carries no digest and lbc has no record of one: promoting it by tag",
                    running.image.reference()
                ));
                running.image
            }
        }
    })
}
