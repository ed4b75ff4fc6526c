//! One module per verb. Each computes a [`Plan`] first; `--dry-run` prints it and
//! stops, otherwise the runner executes it.

pub mod adopt;
pub mod build;
pub mod doctor;
pub mod info;
pub mod init;
pub mod kube;
pub mod local;
pub mod tasks;
pub mod upgrade;

use std::collections::BTreeMap;

use crate::config::Loaded;
use crate::error::Error;
use crate::plan::{EnvVar, Plan};
use crate::runner::Runner;
use crate::settings::Settings;
use crate::ui;

/// What every verb that works on a project gets.
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub project: Loaded,
    pub runner: &'a mut Runner,
}

impl Ctx<'_> {
    pub fn root(&self) -> &std::path::Path {
        &self.project.root
    }
}

/// The image a deploy targets.
pub enum Chosen {
    /// `--image REF` as given, or `--tag TAG` of the project's repository never built here.
    Reference(String),
    /// A recorded build: `--tag TAG`'s, or the last one.
    Build(crate::state::BuildRecord),
}

/// `--image` wins; else the build recorded for `--tag` (or that tag of the project's
/// repository); else the last build. `build_hint` says how to get one.
pub fn chosen_image(
    ctx: &Ctx,
    image: Option<&str>,
    tag: Option<&str>,
    build_hint: &str,
) -> Result<Chosen, Error> {
    if let Some(i) = image {
        crate::validate::image_reference(i).map_err(|why| {
            Error::usage(
                format!("--image `{}` is not an image reference: {why}", crate::validate::excerpt(i)),
                Some("give a reference like `registry.example.com/team/app:1.2.3` or `app@sha256:...`".into()),
            )
        })?;
        return Ok(Chosen::Reference(i.to_owned()));
    }
    let builds = crate::state::Builds::load(ctx.root())?;
    if let Some(t) = tag {
        crate::validate::tag_name(t).map_err(|why| {
            Error::usage(
                format!(
                    "--tag `{}` is not a tag: {why}",
                    crate::validate::excerpt(t)
                ),
                Some(
                    "give a tag like `1.2.3` or `a1b2c3d` (`lbc history ENV` lists deployed ones)"
                        .into(),
                ),
            )
        })?;
        return Ok(match builds.by_tag(t) {
            Some(b) => Chosen::Build(b.clone()),
            None => Chosen::Reference(format!("{}:{t}", ctx.project.image()?.repository)),
        });
    }
    builds.last().cloned().map(Chosen::Build).ok_or_else(|| {
        Error::usage(
            format!(
                "no image has been built for `{}` yet",
                ctx.project.project()
            ),
            Some(format!("{build_hint}, or pass `--image REF`")),
        )
    })
}

/// Print a plan for `--dry-run`: the human rendering, or JSON.
pub fn print_plan(settings: &Settings, plan: &Plan) {
    if settings.json {
        ui::print_json(&serde_json::json!({
            "dry_run": true,
            "plan": plan,
        }));
    } else {
        ui::data(&plan.render_human());
    }
}

/// Print the result of a verb that ran: JSON with the executed steps, or nothing extra.
pub fn print_result(settings: &Settings, runner: &Runner, verb: &str, extra: serde_json::Value) {
    if settings.json {
        let mut doc = serde_json::json!({
            "verb": verb,
            "ok": true,
            "steps": runner.results_json(),
        });
        if let (Some(d), serde_json::Value::Object(e)) = (doc.as_object_mut(), extra) {
            d.extend(e);
        }
        ui::print_json(&doc);
    }
}

/// The `LBC_*` variables lbc gives to tasks and hooks: values reach them only through
/// the environment, never spliced into a command's text.
pub fn lbc_env(project: &Loaded, extra: &[(&str, String)]) -> Vec<EnvVar> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("LBC_PROJECT".into(), project.project().to_owned());
    vars.insert("LBC_ROOT".into(), project.root.display().to_string());
    if let Some(img) = &project.config.image {
        vars.insert("LBC_IMAGE_REPOSITORY".into(), img.repository.clone());
    }
    for (k, v) in extra {
        vars.insert((*k).to_owned(), v.clone());
    }
    vars.into_iter().map(|(k, v)| EnvVar::plain(k, v)).collect()
}

/// Ask for confirmation before acting on a protected environment: the user types its
/// name on a terminal; elsewhere only `--yes` lets lbc go on.
pub fn guard_protected(
    env_name: &str,
    what: &str,
    details: &[(&str, String)],
    yes: bool,
) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Refused {
            message: format!("environment `{env_name}` is protected: refusing to {what} without confirmation"),
            hint: "run it from a terminal to confirm, or pass --yes (e.g. in a CI job that is itself guarded)".into(),
        });
    }
    for (k, v) in details {
        ui::info(&format!("  {k}: {v}"));
    }
    let typed: String = dialoguer::Input::new()
        .with_prompt(format!(
            "`{env_name}` is protected. Type its name to {what}"
        ))
        .allow_empty(true)
        .interact_text()
        .map_err(|_| Error::Interrupted)?;
    if typed.trim() == env_name {
        Ok(())
    } else {
        Err(Error::Refused {
            message: format!("confirmation did not match `{env_name}`: nothing was changed"),
            hint: format!("type `{env_name}` exactly, or pass --yes"),
        })
    }
}
