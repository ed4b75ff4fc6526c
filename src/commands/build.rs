//! `lbc build [--push]`: tag from git, OCI labels, the no-op skip by inputs hash,
//! login with the password on stdin, push, and the build record later verbs use.

use std::path::{Path, PathBuf};

use crate::catalog::{self, Catalog};
use crate::cli::BuildArgs;
use crate::commands::Ctx;
use crate::config::{CaScope, Image, Loaded};
use crate::context;
use crate::error::Error;
use crate::execute::{self, Summary};
use crate::plan::{Plan, Step};
use crate::settings::Settings;
use crate::state::{self, BuildRecord, Builds};
use crate::tools::{self, docker, git::GitState};
use crate::ui;

/// What a build will produce.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    pub repository: String,
    pub tag: String,
    /// Every reference the image gets (`repo:tag`, and `repo:X.Y.Z` at a version tag).
    pub references: Vec<String>,
    pub inputs_hash: String,
    pub context_files: usize,
    /// The recorded build with the same inputs whose image still exists, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse: Option<BuildRecord>,
    /// Nothing to build or tag: every reference already points at the reused image.
    pub up_to_date: bool,
    #[serde(skip)]
    pub git: Option<GitState>,
    /// Every `FROM` image and what the catalogue made of it.
    pub bases: Vec<catalog::bases::ImageUse>,
}

/// The paths of the Dockerfile and context, checked to exist.
pub fn paths(project: &Loaded, image: &Image) -> Result<(PathBuf, PathBuf), Error> {
    let context = project.root.join(&image.context);
    if !context.is_dir() {
        return Err(project.error_at(
            &["image", "context"],
            &format!("build context {} is not a directory", context.display()),
            Some(
                "set `context` under [image] to a directory of the repository (default \".\")"
                    .into(),
            ),
        ));
    }
    let dockerfile = project.root.join(&image.dockerfile);
    if !dockerfile.is_file() {
        let message = if dockerfile.exists() {
            format!(
                "Dockerfile {} is not a regular file (lbc never opens pipes or devices)",
                dockerfile.display()
            )
        } else {
            format!("Dockerfile not found: {}", dockerfile.display())
        };
        let hint = Some(format!(
            "create {}, or set `dockerfile = \"PATH\"` under [image] in {}",
            image.dockerfile,
            project.path.display()
        ));
        return Err(if project.raw.contains("dockerfile") {
            project.error_at(&["image", "dockerfile"], &message, hint)
        } else {
            Error::usage(message, hint)
        });
    }
    // lbc.toml's paths are checked at load; a symlink can still lead out (issue #9).
    for (key, path) in [("context", &context), ("dockerfile", &dockerfile)] {
        if let Err(why) = context::checked_context(&project.root, path) {
            return Err(project.error_at(
                &["image", key],
                &format!("{key} {} is not usable: {why}", path.display()),
                Some(format!(
                    "point `{key}` under [image] at a path inside the repository"
                )),
            ));
        }
    }
    Ok((dockerfile, context))
}

/// Build arguments: `[image.args]` as written, `[image.bases]` resolved by the catalogue.
pub fn build_args(image: &Image, settings: &Settings) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = image
        .args
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (arg, logical) in &image.bases {
        out.push((arg.clone(), settings.catalog()?.resolve(logical)?));
    }
    out.sort();
    Ok(out)
}

/// The hint of a failed `docker build` that fits most first builds.
pub const BUILD_HINT: &str = "docker's output above says why; when a base image cannot be pulled, `lbc catalog` shows which images lbc asks for, and LBC_CATALOG (or ~/.config/lbc/catalog.toml) points them at images you can reach";

/// `docker build` of the project's `[image]` (its Dockerfile, context and platform).
fn docker_build(
    project: &Loaded,
    image: &Image,
    dockerfile: &str,
    args: &[(String, String)],
    tags: &[String],
    target: Option<&str>,
    labels: &[(&str, String)],
) -> crate::plan::Exec {
    docker::build(
        &project.root,
        &docker::Build {
            dockerfile,
            build_args: args,
            pass_args: &crate::trust::proxy_env(),
            platform: image.platform.as_deref(),
            tags,
            target,
            labels,
            context: &image.context,
        },
    )
}

/// The `docker build` of one stage, for tasks that run inside it: the steps (logins to
/// the catalogue's registries when a base needs one, then the build) and the reference.
pub fn stage_build(
    project: &Loaded,
    settings: &Settings,
    stage: &str,
) -> Result<(Vec<Step>, String), Error> {
    let image = project.image()?;
    paths(project, image)?;
    let args = build_args(image, settings)?;
    let catalog = settings.catalog()?;
    // An image for tasks never ships: every stage trusts the CA bundle.
    let trust = match image.ca_certificates {
        CaScope::None => None,
        _ => settings
            .ca_bundle()?
            .map(|bundle| catalog::bases::Trust::All { bundle }),
    };
    let bases = catalog_bases(catalog, project, image, &args, true, trust)?;
    for w in catalog::bases::warnings(catalog, &bases.bases) {
        ui::warn(&w);
    }
    let reference = format!("lbc-task/{}:{stage}", project.project());
    let mut exec = docker_build(
        project,
        image,
        &bases.dockerfile,
        &args,
        std::slice::from_ref(&reference),
        Some(stage),
        &[],
    );
    let mut steps = Vec::new();
    let logins = catalog::bases::registry_logins(catalog, &bases.bases, &project.root, true)?;
    if let Some((logins, cfg)) = logins {
        steps.extend(logins);
        exec = exec.env(cfg.clone());
        steps.extend(derive_steps(settings, None, project, &bases, true, Some(&cfg))?.0);
    } else {
        steps.extend(derive_steps(settings, None, project, &bases, true, None)?.0);
    }
    steps.push(Step::exec(format!("Build the `{stage}` stage for tasks"), exec).hint(BUILD_HINT));
    Ok((steps, reference))
}

/// Compute the build: target, and the plan of `docker build` (or `docker tag`, or nothing).
pub fn plan(ctx: &Ctx, force: bool) -> Result<(Plan, Target), Error> {
    let project = &ctx.project;
    let image = project.image()?;
    let (dockerfile, context_dir) = paths(project, image)?;
    crate::runner::find("docker")?;
    let args = build_args(image, ctx.settings)?;
    let catalog = ctx.settings.catalog()?;
    let trust = match image.ca_certificates {
        CaScope::None => None,
        CaScope::Build => ctx
            .settings
            .ca_bundle()?
            .map(|bundle| catalog::bases::Trust::Build {
                bundle,
                target: image.target.as_deref(),
            }),
        CaScope::Image => ctx
            .settings
            .ca_bundle()?
            .map(|bundle| catalog::bases::Trust::All { bundle }),
    };
    let bases = catalog_bases(catalog, project, image, &args, !ctx.settings.dry_run, trust)?;

    let git = tools::git::inspect(&project.root);
    let mut plan = Plan::new("build");
    for n in bases.notes(catalog) {
        plan.note(n);
    }
    if let Some(b) = ctx
        .settings
        .ca_bundle()?
        .filter(|_| !bases.derived.is_empty())
    {
        plan.note(format!(
            "build stages trust the CA certificates of {} ({}, {} certificate{}){}",
            b.path.display(),
            b.source,
            b.certificates,
            if b.certificates == 1 { "" } else { "s" },
            if image.ca_certificates == CaScope::Image {
                ", the final image too"
            } else {
                "; the final image does not carry them"
            }
        ));
    }
    for (line, run) in &bases.untrusted_downloads {
        plan.note(format!(
            "{}:{line}: `{run}` downloads in a stage of the shipped image, which does not trust the CA certificates: if it fails with CERTIFICATE_VERIFY_FAILED, download in a builder stage or set `ca_certificates = \"image\"` under [image] (docs/network.md)",
            image.dockerfile
        ));
    }
    let proxies = crate::trust::proxies();
    if !proxies.is_empty() {
        plan.note(format!(
            "the build gets {} from this environment",
            proxies.join(", ")
        ));
    }
    if !ctx.settings.dry_run {
        for w in catalog::bases::warnings(catalog, &bases.bases) {
            ui::warn(&w);
        }
    }
    let (tag, extra_tags, revision) = match &git {
        Some(g) => {
            let mut extra = Vec::new();
            if let Some(v) = &g.version {
                extra.push(v.clone());
            }
            if g.dirty.is_some() {
                plan.note("the working tree has uncommitted changes: the tag carries -dirty-<hash of the changes>");
            }
            (g.tag(), extra, Some(g.sha.clone()))
        }
        None => {
            plan.note(
                "not a git repository (or no commit yet): the tag is derived from the inputs hash",
            );
            (String::new(), Vec::new(), None)
        }
    };

    let mut extra_inputs: Vec<String> = args.iter().map(|(k, v)| format!("arg {k}={v}")).collect();
    extra_inputs.push(format!("target {}", image.target.as_deref().unwrap_or("")));
    extra_inputs.push(format!(
        "platform {}",
        image.platform.as_deref().unwrap_or("")
    ));
    extra_inputs.push(format!("dockerfile {}", image.dockerfile));
    extra_inputs.extend(bases.inputs());
    let (inputs_hash, files) = context::inputs_hash(&context_dir, &dockerfile, &extra_inputs)?;
    let tag = if tag.is_empty() {
        format!("inputs-{}", &inputs_hash[..12])
    } else {
        tag
    };
    let repository = image.repository.clone();
    let mut references = vec![format!("{repository}:{tag}")];
    references.extend(extra_tags.iter().map(|t| format!("{repository}:{t}")));

    // The no-op skip: same inputs as a recorded build whose image still exists. Each
    // probe also proves the daemon answers (an unreachable one is exit 4 before anything
    // runs; in a dry run, a note).
    let mut reuse = None;
    let mut up_to_date = false;
    let mut missing_refs = references.clone();
    let probe = (|| -> Result<(), Error> {
        let builds = Builds::load(&project.root)?;
        let Some(rec) = builds.by_inputs(&inputs_hash).filter(|_| !force) else {
            docker::daemon_version(ctx.runner, &project.root)?;
            return Ok(());
        };
        let mut missing = Vec::new();
        for r in &references {
            match docker::image_inspect(ctx.runner, &project.root, r)? {
                Some(info) if info.id == rec.image_id => {}
                _ => missing.push(r.clone()),
            }
        }
        if missing.is_empty()
            || docker::image_inspect(ctx.runner, &project.root, &rec.image_id)?.is_some()
        {
            up_to_date = missing.is_empty();
            missing_refs = missing;
            reuse = Some(rec.clone());
        }
        Ok(())
    })();
    match probe {
        Ok(()) => {}
        Err(e @ Error::Unreachable { .. }) if ctx.settings.dry_run => {
            plan.note(format!("{e}: cannot tell whether the image is up to date"));
        }
        Err(e) => return Err(e),
    }

    let created = match &git {
        Some(g) if g.dirty.is_none() => state::rfc3339(g.commit_time),
        _ => state::now_rfc3339(),
    };
    match &reuse {
        Some(_) if up_to_date => {
            plan.note(format!(
                "{} is up to date: its inputs (context, Dockerfile, build args, target) did not change",
                references[0]
            ));
        }
        Some(rec) => {
            plan.note(format!(
                "inputs unchanged since {}: tagging that image instead of building",
                rec.image
            ));
            for r in &missing_refs {
                plan.push(Step::exec(
                    format!("Tag the existing image as {r}"),
                    docker::tag(&project.root, &rec.image_id, r),
                ));
            }
        }
        None => {
            let mut labels = vec![
                (
                    "org.opencontainers.image.title",
                    project.project().to_owned(),
                ),
                ("org.opencontainers.image.created", created),
                (
                    "org.opencontainers.image.version",
                    extra_tags.first().cloned().unwrap_or_else(|| tag.clone()),
                ),
            ];
            if let Some(rev) = &revision {
                labels.push(("org.opencontainers.image.revision", rev.clone()));
            }
            labels.push((
                "org.opencontainers.image.source",
                git.as_ref()
                    .and_then(|g| g.source.clone())
                    .unwrap_or_else(|| project.root.display().to_string()),
            ));
            let folded = catalog::bases::fold_labels(
                &bases,
                &project.root,
                &image.dockerfile,
                image.target.as_deref(),
                &labels,
                !ctx.settings.dry_run,
            )?;
            if let Some(label) = &folded {
                plan.note(format!(
                    "the OCI labels are one instruction at the end of the built stage in the Dockerfile's copy (one build step, not one per --label): {label}"
                ));
            }
            let mut exec = docker_build(
                project,
                image,
                &bases.dockerfile,
                &args,
                &references,
                image.target.as_deref(),
                if folded.is_some() { &[] } else { &labels },
            );
            let logins = catalog::bases::registry_logins(
                catalog,
                &bases.bases,
                &project.root,
                !ctx.settings.dry_run,
            )?;
            let cfg = logins.as_ref().map(|(_, cfg)| cfg.clone());
            if let Some((logins, cfg)) = logins {
                logins.into_iter().for_each(|s| plan.push(s));
                exec = exec.env(cfg);
            }
            let (derive, notes) = derive_steps(
                ctx.settings,
                Some(ctx.runner),
                project,
                &bases,
                !ctx.settings.dry_run,
                cfg.as_ref(),
            )?;
            notes.into_iter().for_each(|n| plan.note(n));
            derive.into_iter().for_each(|s| plan.push(s));
            plan.push(
                Step::exec(
                    format!("Build {} ({files} files in the context)", references[0]),
                    exec,
                )
                .hint(BUILD_HINT),
            );
        }
    }

    Ok((
        plan,
        Target {
            repository,
            tag,
            references,
            inputs_hash,
            context_files: files,
            reuse,
            up_to_date,
            git,
            bases: bases.bases,
        },
    ))
}

/// The Dockerfile's `FROM` images through the catalogue (a rewritten copy outside the
/// repository when one changes; refused under `enforce`).
fn catalog_bases(
    catalog: &Catalog,
    project: &Loaded,
    image: &Image,
    args: &[(String, String)],
    materialize: bool,
    trust: Option<catalog::bases::Trust>,
) -> Result<catalog::bases::Prepared, Error> {
    let prepared = catalog::bases::prepare(
        catalog,
        &project.root,
        &image.dockerfile,
        args,
        materialize,
        trust,
    )?;
    Ok(prepared)
}

/// The builds of the derived images that trust the CA bundle (issue #11), one per base
/// the catalogue's rewrite replaced, and a note for each that is up to date (checked
/// when `runner` is given: a build's plan; the image of tasks always builds);
/// `docker_config`: the registry logins of the bases.
fn derive_steps(
    settings: &Settings,
    runner: Option<&crate::runner::Runner>,
    project: &Loaded,
    bases: &catalog::bases::Prepared,
    materialize: bool,
    docker_config: Option<&crate::plan::EnvVar>,
) -> Result<(Vec<Step>, Vec<String>), Error> {
    let Some(bundle) = settings.ca_bundle()? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut notes = Vec::new();
    let mut steps = Vec::new();
    for (base, tag) in &bases.derived {
        if runner.is_some_and(|r| crate::trust::derived_is_current(r, &project.root, base, tag)) {
            notes.push(format!("{tag} (derived from {base}) is up to date"));
            continue;
        }
        let mut step = crate::trust::derive_step(&project.root, base, tag, bundle, materialize)?;
        if let (Some(cfg), crate::plan::Action::Exec(e)) = (docker_config, &mut step.action) {
            *e = e.clone().env(cfg.clone());
        }
        steps.push(step);
    }
    Ok((steps, notes))
}

/// Credentials for the push, read from the variables `[registry]` names.
struct Credentials {
    server: String,
    username: String,
    password: String,
}

fn credentials(project: &Loaded, repository: &str) -> Result<Option<Credentials>, Error> {
    let Some(reg) = &project.config.registry else {
        return Ok(None);
    };
    let get = |name: &str, key: &str| {
        crate::settings::env_var(name).ok_or_else(|| {
            Error::usage(
                format!("environment variable {name} is not set; [registry] {key} in {} names it as holding the registry {}",
                    project.path.display(),
                    if key == "username_env" { "user name" } else { "password" }),
                Some(format!("export {name}=... before `lbc build --push` (in CI, from a masked secret variable)")),
            )
        })
    };
    let username = get(&reg.username_env, "username_env")?;
    let password = get(&reg.password_env, "password_env")?;
    ui::register_secret(&password);
    Ok(Some(Credentials {
        server: reg
            .server
            .clone()
            .unwrap_or_else(|| crate::image::ImageRef::registry_of(repository)),
        username,
        password,
    }))
}

/// The prefix of the temporary docker configs of `build --push` (made by
/// [`crate::fsutil::private_temp_dir`]); the pid follows.
pub const DOCKER_CONFIG_PREFIX: &str = "lbc-docker-config-";

/// Remove the temporary docker configs (with credentials) that a killed lbc of this
/// user left in `tmp`: their pid is no longer running.
pub fn remove_stale_docker_configs(tmp: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return removed;
    };
    let me = nix::unistd::getuid().as_raw();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DOCKER_CONFIG_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let ours = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && !crate::runner::process_alive(pid) && std::fs::remove_dir_all(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// The login and push steps. `docker_config` isolates the login: credentials go to a
/// temporary DOCKER_CONFIG that lbc deletes afterwards, never to ~/.docker.
fn push_steps(
    project: &Loaded,
    target: &Target,
    creds: Option<&Credentials>,
    docker_config: &Path,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(c) = creds {
        let reg = project.config.registry.as_ref();
        steps.push(
            Step::exec(
                format!("Log in to {} as {}", c.server, c.username),
                docker::login(
                    &project.root,
                    &c.server,
                    &c.username,
                    &c.password,
                    docker_config,
                ),
            )
            .hint(format!(
                "check the credentials in {} and {} for {}",
                reg.map(|r| r.username_env.as_str()).unwrap_or("?"),
                reg.map(|r| r.password_env.as_str()).unwrap_or("?"),
                c.server,
            )),
        );
    }
    for r in &target.references {
        steps.push(
            Step::exec(
                format!("Push {r}"),
                docker::push(&project.root, r, creds.is_some().then_some(docker_config)),
            )
            .hint("check that the repository exists and that these credentials may push to it"),
        );
    }
    steps
}

pub fn run(ctx: &mut Ctx, args: &BuildArgs) -> Result<(), Error> {
    if !ctx.settings.dry_run {
        for p in remove_stale_docker_configs(&std::env::temp_dir()) {
            ui::info(&format!(
                "removed {}, the temporary docker config of an lbc that was killed",
                p.display()
            ));
        }
    }
    let (mut plan, target) = plan(ctx, args.force)?;
    let project = ctx.project.clone();

    // The login goes to a private, temporary docker config, removed when this returns.
    let creds = if args.push {
        match credentials(&project, &target.repository) {
            Ok(c) => c,
            Err(e) if ctx.settings.dry_run => {
                plan.note(e.to_string());
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let (cfg_path, docker_config) = crate::fsutil::private_temp_dir(
        "docker-config",
        args.push && creds.is_some() && !ctx.settings.dry_run,
    )?;
    if args.push {
        plan.verb = "build --push".into();
        for s in push_steps(&project, &target, creds.as_ref(), &cfg_path) {
            plan.push(s);
        }
    }
    plan.dry_run_extra
        .insert("image".into(), serde_json::json!(target.references[0]));
    plan.dry_run_extra.insert(
        "target".into(),
        serde_json::to_value(&target).expect("serializable"),
    );

    if execute::execute(ctx.settings, ctx.runner, &plan, None)?.is_none() {
        return Ok(());
    }

    let image_id = match (&target.reuse, target.up_to_date) {
        (Some(rec), true) => rec.image_id.clone(),
        _ => {
            docker::image_inspect(ctx.runner, &project.root, &target.references[0])?
                .ok_or_else(|| {
                    Error::failed(
                        format!("{} is missing after the build", target.references[0]),
                        None,
                    )
                })?
                .id
        }
    };
    let digest = if args.push {
        docker::image_inspect(ctx.runner, &project.root, &target.references[0])?
            .and_then(|i| i.digest_in(&target.repository))
    } else {
        None
    };

    let record = BuildRecord {
        image: target.references[0].clone(),
        repository: target.repository.clone(),
        tag: target.tag.clone(),
        tags: target.references.clone(),
        image_id: image_id.clone(),
        digest: digest.clone().or_else(|| {
            target
                .reuse
                .as_ref()
                .filter(|r| r.image_id == image_id && !args.push)
                .and_then(|r| r.digest.clone())
        }),
        inputs_hash: target.inputs_hash.clone(),
        revision: target.git.as_ref().map(|g| g.sha.clone()),
        created: state::now_rfc3339(),
    };
    let mut builds = Builds::load(&project.root)?;
    builds.record(record.clone());
    builds.save(&project.root)?;

    if target.up_to_date {
        ui::success(&format!("{} is up to date (no build needed)", record.image));
    } else {
        ui::success(&format!(
            "built {} ({})",
            record.image,
            short_id(&record.image_id)
        ));
    }
    execute::finish(
        ctx.settings,
        ctx.runner,
        &plan.verb,
        Summary {
            success: digest
                .as_ref()
                .map(|d| format!("pushed {}@{d}", target.repository)),
            data: Some(record.image.clone()),
            json: serde_json::json!({
                "image": record.image,
                "references": record.tags,
                "image_id": record.image_id,
                "digest": record.digest,
                "inputs_hash": record.inputs_hash,
                "up_to_date": target.up_to_date,
            }),
        },
    );
    drop(docker_config);
    Ok(())
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..(id.len() - hex.len() + 12.min(hex.len()))]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #9: the docker config that receives the login is the owner's only, and the
    /// one of a killed lbc is removed by the next run.
    #[test]
    fn the_docker_config_is_owner_only_and_stale_ones_go() {
        use std::os::unix::fs::PermissionsExt;
        let (path, d) = crate::fsutil::private_temp_dir("docker-config", true).unwrap();
        let d = d.unwrap();
        assert_eq!(d.path(), path);
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let name = d.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!("{DOCKER_CONFIG_PREFIX}{}-", std::process::id())));
        let tmp = tempfile::tempdir().unwrap();
        let live = tmp
            .path()
            .join(format!("{DOCKER_CONFIG_PREFIX}{}-a", std::process::id()));
        let dead = tmp
            .path()
            .join(format!("{DOCKER_CONFIG_PREFIX}999999999-b"));
        std::fs::create_dir(&live).unwrap();
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("config.json"), "{}").unwrap();
        assert_eq!(remove_stale_docker_configs(tmp.path()), vec![dead.clone()]);
        assert!(live.exists() && !dead.exists());
    }
}
