//! One module per verb. Each computes a [`crate::plan::Plan`] (through a
//! [`crate::targets::Target`] for the verbs on environments) and hands it to
//! [`crate::execute`], which prints it for `--dry-run` or runs it.

pub mod adopt;
pub mod backup;
pub mod backups;
pub mod build;
pub mod catalog;
pub mod chaos;
pub mod completions;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod doctor;
pub mod fleet;
pub mod history;
pub mod init;
pub mod instance;
pub mod logs;
pub mod man;
pub mod promote;
pub mod render;
pub mod restore;
pub mod rollback;
pub mod scaffold;
pub mod schema;
pub mod status;
pub mod tasks;
pub mod upgrade;
pub mod watch;

use std::collections::BTreeMap;

use crate::config::Loaded;
use crate::error::Error;
use crate::plan::EnvVar;
use crate::runner::Runner;
use crate::settings::Settings;

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
        // The one image-reference type (#8) decides, as for lbc.toml.
        crate::image::ImageRef::parse(i)?;
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

/// The names of the variables lbc hands to tasks (docs/lbc-toml.md, "Tasks").
///
/// They never share a name with the environment form of a flag (`LBC_<FLAG>`, see
/// `cli.rs`): a task that runs lbc itself (`lbc build && lbc deploy local`) would otherwise
/// have its nested lbc read them as flags (issue #17). A test over clap's definitions keeps
/// the two sets apart.
pub mod task_vars {
    pub const PROJECT: &str = "LBC_PROJECT";
    pub const ROOT: &str = "LBC_ROOT";
    pub const TASK: &str = "LBC_TASK";
    pub const IMAGE_REPOSITORY: &str = "LBC_IMAGE_REPOSITORY";
    /// The tag `lbc build` gives the tree when the task starts (was `LBC_TAG`, which is
    /// the environment form of `lbc deploy --tag`).
    pub const BUILD_TAG: &str = "LBC_BUILD_TAG";
    /// `repository:tag` of that build (was `LBC_IMAGE`, the form of `--image`).
    pub const BUILD_IMAGE: &str = "LBC_BUILD_IMAGE";
    pub const ALL: &[&str] = &[
        PROJECT,
        ROOT,
        TASK,
        IMAGE_REPOSITORY,
        BUILD_TAG,
        BUILD_IMAGE,
    ];
    /// The names tasks got before issue #17, with their replacements: a task whose
    /// command still reads one of them is told (it would now see the flag's variable).
    pub const RENAMED: &[(&str, &str)] = &[("LBC_TAG", BUILD_TAG), ("LBC_IMAGE", BUILD_IMAGE)];
}

/// The `LBC_*` variables lbc gives to tasks and hooks: values reach them only through
/// the environment, never spliced into a command's text.
pub fn lbc_env(project: &Loaded, extra: &[(&str, String)]) -> Vec<EnvVar> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert(task_vars::PROJECT.into(), project.project().to_owned());
    vars.insert(task_vars::ROOT.into(), project.root.display().to_string());
    if let Some(img) = &project.config.image {
        vars.insert(task_vars::IMAGE_REPOSITORY.into(), img.repository.clone());
    }
    for (k, v) in extra {
        debug_assert!(task_vars::ALL.contains(k), "{k} is not in task_vars::ALL");
        vars.insert((*k).to_owned(), v.clone());
    }
    vars.into_iter().map(|(k, v)| EnvVar::plain(k, v)).collect()
}
