//! Where a verb acts: one module per kind of environment, behind one interface (as
//! Skaffold's deployers): the local Docker engine ([`local`]), Helm ([`helm`]) and
//! kubectl with plain manifests or kustomize ([`kubectl`]); [`kube`] holds what the two
//! Kubernetes kinds share (the cluster's resolution, workloads, diagnosis).
//!
//! A target is resolved once, from lbc.toml and the flags, by [`resolve`]. The verbs in
//! `commands/` only call the [`Target`] methods; adding a kind of environment is one
//! new module here and one arm in [`resolve`].

pub mod gitops;
pub mod helm;
pub mod kube;
pub mod kube_chaos;
pub mod kubectl;
pub mod local;
pub mod local_ha;

use crate::cli::TargetArgs;
use crate::commands::Ctx;
use crate::config::EnvKind;
use crate::error::Error;
use crate::image::ImageRef;

/// What a deploy asks of a target.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub image: ImageRef,
    /// `--yes`: confirm a protected environment.
    pub yes: bool,
    /// `--allow-dirty`.
    pub allow_dirty: bool,
    /// `--force`: past `promote_from`.
    pub force: bool,
    /// Set by `lbc promote`.
    pub promotion: Option<Promotion>,
    /// `--replicas N` (docker environments: containers behind a local load balancer,
    /// issue #14); wins over the environment's `replicas`.
    pub replicas: Option<u32>,
}

/// Where a promoted image came from, recorded on the release.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub from: String,
    pub revision: u64,
}

/// What runs in an environment, for promotion.
#[derive(Debug, Clone)]
pub struct Running {
    pub image: ImageRef,
    /// The release revision, when the kind has revisions (else 0).
    pub revision: u64,
}

/// A kind of environment. Every method computes a plan and runs it through
/// [`crate::execute`]; `--dry-run` stops after printing it.
pub trait Target {
    /// The image a deploy uses: `--image`, `--tag`'s build, else the last build; by
    /// digest when the build was pushed (what a cluster pulls).
    fn choose_image(
        &self,
        ctx: &Ctx,
        image: Option<&str>,
        tag: Option<&str>,
    ) -> Result<ImageRef, Error> {
        kube::image_to_deploy(ctx, image, tag)
    }
    fn deploy(&self, ctx: &mut Ctx, req: DeployRequest) -> Result<(), Error>;
    /// The manifests a deploy would apply.
    fn render(&self, ctx: &mut Ctx, image: Option<&str>) -> Result<(), Error>;
    fn status(&self, ctx: &mut Ctx) -> Result<(), Error>;
    /// `status --wait`: wait until the cluster reconciled what was delivered (the kinds
    /// that deliver asynchronously: gitops); the others wait in their deploy.
    fn wait_reconciled(&self, _ctx: &mut Ctx) -> Result<(), Error> {
        Err(Error::usage(
            "`--wait` applies to gitops environments; this one is deployed directly and its deploy already waits for the rollout",
            Some("drop --wait".to_owned()),
        ))
    }
    /// The logs of the app, or of a backing service (`--service`, docker kinds only).
    fn logs(
        &self,
        ctx: &mut Ctx,
        follow: bool,
        tail: u32,
        service: Option<&str>,
    ) -> Result<(), Error>;
    /// `volumes`: also the backing services' data (`--volumes`, docker kinds only).
    fn destroy(&self, ctx: &mut Ctx, yes: bool, volumes: bool) -> Result<(), Error>;
    fn history(&self, ctx: &mut Ctx) -> Result<(), Error>;
    fn rollback(&self, ctx: &mut Ctx, revision: Option<u32>, yes: bool) -> Result<(), Error>;
    /// What runs there now (`None`: nothing).
    fn running(&self, ctx: &Ctx) -> Result<Option<Running>, Error>;
    /// `lbc chaos`: probe the service while killing replicas (issue #14).
    fn chaos(
        &self,
        _ctx: &mut Ctx,
        _req: crate::commands::chaos::ChaosRequest,
    ) -> Result<(), Error> {
        Err(Error::usage(
            "`lbc chaos` applies to docker environments and Kubernetes environments deployed directly",
            Some("run it against the environment's cluster directly, or against `local`".to_owned()),
        ))
    }
}

/// Resolve an environment of lbc.toml (with the flags) into its target.
pub fn resolve(ctx: &Ctx, env_name: &str, flags: &TargetArgs) -> Result<Box<dyn Target>, Error> {
    let env = ctx.project.environment(env_name)?.clone();
    match env.kind {
        EnvKind::Docker => Ok(Box::new(local::Local::resolve(ctx, env_name, env)?)),
        EnvKind::Kubernetes if env.is_gitops() => Ok(Box::new(gitops::GitOps::resolve(
            ctx, env_name, env, flags,
        )?)),
        EnvKind::Kubernetes => {
            let k = kube::Kube::resolve(ctx, env_name, env, flags)?;
            Ok(match k.source {
                kube::Source::Chart(_) => Box::new(helm::HelmTarget(k)),
                kube::Source::Manifests(_) | kube::Source::Kustomize(_) => {
                    Box::new(kubectl::KubectlTarget(k))
                }
            })
        }
    }
}

/// The guards of a deploy, before anything changes, shared by the kinds that deploy an
/// image: `promote_from` (the image must be what runs, or is committed, in that
/// environment, unless `--force`) and a dirty tree for a protected environment (unless
/// `--allow-dirty`). Notes go to the plan.
pub fn check_deploy(
    ctx: &Ctx,
    env_name: &str,
    env: &crate::config::Environment,
    root: &std::path::Path,
    req: &DeployRequest,
    plan: &mut crate::plan::Plan,
) -> Result<(), Error> {
    let image = &req.image;
    if let Some(from) = &env.promote_from {
        let from_target = resolve(ctx, from, &TargetArgs::default())?;
        // A gitops environment holds what is committed; the others what runs.
        let (there, nothing) = if ctx.project.environment(from)?.is_gitops() {
            ("committed there", "nothing is deployed in it")
        } else {
            ("running there", "nothing runs in it")
        };
        match from_target.running(ctx)?.map(|r| r.image) {
            Some(r) if r.same_as(image) => {
                plan.note(format!("{} runs in `{from}` too", image.reference()))
            }
            other if !req.force => {
                return Err(Error::Refused {
                    message: format!(
                        "`{env_name}` only takes images that run in `{from}`, and {} {}",
                        image.reference(),
                        match other {
                            Some(r) => format!("is not the image {there} ({})", r.reference()),
                            None => format!("cannot be found there ({nothing})"),
                        }
                    ),
                    hint: format!(
                        "promote what runs there: `lbc promote {from} {env_name}`; or pass --force"
                    ),
                })
            }
            _ => plan.note(format!(
                "--force: {} does not run in `{from}`",
                image.reference()
            )),
        }
    }
    if env.protected && !req.allow_dirty && crate::tools::git::is_dirty(root) {
        return Err(Error::Refused {
            message: format!("`{env_name}` is protected and the git tree has uncommitted changes"),
            hint: "commit or stash them first, or pass --allow-dirty".into(),
        });
    }
    Ok(())
}
