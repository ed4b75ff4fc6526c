//! `lbc deploy ENV`: the chosen image (`--image`, `--tag`, the last build) to an
//! environment, whatever its kind.

use crate::cli::DeployArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::targets::{self, DeployRequest};

pub fn run(ctx: &mut Ctx, args: &DeployArgs) -> Result<(), Error> {
    if args.instances.instance.is_some() || args.instances.all_instances {
        return crate::instances::batch::deploy_command(ctx, args);
    }
    let target = targets::resolve(ctx, &args.env, &args.target)?;
    if args.replicas.is_some()
        && ctx.project.environment(&args.env)?.kind != crate::config::EnvKind::Docker
    {
        return Err(Error::usage(
            "--replicas applies to docker environments (a local load balancer, issue #14)",
            Some("on Kubernetes, set the chart's replica count: `set` or `values` in lbc.toml (`replicaCount`)".to_owned()),
        ));
    }
    let image = target.choose_image(ctx, args.image.as_deref(), args.tag.as_deref())?;
    target.deploy(
        ctx,
        DeployRequest {
            image,
            yes: args.yes,
            allow_dirty: args.allow_dirty,
            force: args.force,
            promotion: None,
            replicas: args.replicas,
        },
    )
}
