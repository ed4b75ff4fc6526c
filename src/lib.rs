//! lbc: uniform build, test and deploy verbs for every repository.
//!
//! Layers: [`cli`] (flags), [`settings`] (flags + `LBC_*` + `lbc.toml` resolved once),
//! [`commands`] (one module per verb, each computing a [`plan::Plan`]), [`targets`] (one
//! module per kind of environment), [`execute`] (the one path from a plan to its
//! result), [`runner`] (the only place that starts child processes) and [`tools`]
//! (typed argument lists and output parsing for docker, helm, kubectl and git).

pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod detect;
pub mod dockerfile;
pub mod error;
pub mod execute;
pub mod fleet;
pub mod fsutil;
pub mod image;
pub mod lock;
pub mod manifests;
pub mod plan;
pub mod runner;
pub mod services;
pub mod settings;
pub mod state;
pub mod targets;
pub mod template;
pub mod tools;
pub mod transaction;
pub mod trust;
pub mod ui;
pub mod upgrade;
pub mod validate;
pub mod versions;
pub mod wait;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::error::{code, Error};
use crate::runner::Runner;
use crate::settings::Settings;

/// Parse the arguments, run the verb, and return the process exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            };
        }
    };
    ui::init(cli.global.no_color, cli.global.quiet);
    let settings = match Settings::from_args(&cli.global) {
        Ok(s) => s,
        Err(e) => return report(&e, None, cli.global.output == cli::OutputFormat::Json),
    };
    let mut runner = Runner::new(settings.json);
    let result = dispatch(cli.command, &settings, &mut runner);
    catalog::release_temp_files();
    match result {
        Ok(()) if runner::interrupted() => code::INTERRUPTED,
        Ok(()) => code::OK,
        Err(e) => report(&e, Some(&runner), settings.json),
    }
}

fn report(e: &Error, runner: Option<&Runner>, json: bool) -> u8 {
    let exit = e.exit_code();
    // `upgrade --check` said it on stdout already, and an upgrade with conflicts printed
    // its summary (or JSON document) with every conflicted file.
    let already_reported = matches!(
        e,
        Error::UpgradeAvailable
            | Error::Conflicts { .. }
            | Error::NotApproved { .. }
            | Error::Fleet { .. }
    );
    if matches!(e, Error::UpgradeAvailable) {
    } else if matches!(e, Error::Interrupted) {
        ui::error("interrupted", &[], None);
    } else {
        ui::error(&e.to_string(), &[], e.hint());
    }
    if json && !already_reported {
        ui::print_json(&serde_json::json!({
            "ok": false,
            "error": e.to_string(),
            "hint": e.hint(),
            "exit_code": exit,
            "steps": runner.map(Runner::results_json).unwrap_or(serde_json::json!([])),
        }));
    }
    exit
}

/// The lock of the environment a verb changes (deploy, destroy, rollback, promote,
/// restore), held
/// until the verb returns; `None` for the other verbs, a dry run, or an environment
/// lbc.toml does not declare (the verb reports that one).
fn environment_lock(
    command: &Command,
    settings: &Settings,
    project: &config::Loaded,
) -> Result<Option<lock::Lock>, Error> {
    let (verb, env) = match command {
        Command::Deploy(a) => ("deploy", &a.env),
        Command::Destroy(a) => ("destroy", &a.env),
        Command::Rollback(a) => ("rollback", &a.env),
        Command::Promote(a) => ("promote", &a.to),
        Command::Restore(a) => ("restore", &a.env),
        _ => return Ok(None),
    };
    if !project.config.env.contains_key(env) {
        return Ok(None);
    }
    settings.lock(
        &project.root,
        &format!("env-{env}"),
        &format!("{verb} {env}"),
    )
}

fn dispatch(command: Command, settings: &Settings, runner: &mut Runner) -> Result<(), Error> {
    // Verbs that need no project.
    match &command {
        Command::Schema => return commands::schema::run(),
        Command::Completions { shell } => return commands::completions::run(*shell),
        Command::Man => return commands::man::run(),
        Command::Catalog(args) => return commands::catalog::run(settings, runner, args),
        Command::Upgrade(args) => return commands::upgrade::run(settings, runner, args),
        Command::Fleet(args) => return commands::fleet::run(settings, runner, args),
        Command::Init(args) => return commands::init::run(settings, runner, args),
        Command::Doctor => return commands::doctor::run(settings, runner),
        _ => {}
    }
    let project = settings.load_project()?;
    if let Command::Config = command {
        return commands::config::run(settings, &project);
    }
    // One lock per project and environment for the verbs that change an environment
    // (issue #9): a second run waits (or, with --no-wait-lock, exits 8).
    let _lock = environment_lock(&command, settings, &project)?;
    let ctx = &mut Ctx {
        settings,
        project,
        runner,
    };
    match command {
        Command::Build(args) => commands::build::run(ctx, &args),
        Command::Test { kind } => commands::tasks::test(ctx, kind),
        Command::Security { kind } => commands::tasks::security(ctx, kind),
        Command::Style => commands::tasks::named(ctx, "style"),
        Command::Format => commands::tasks::named(ctx, "format"),
        Command::Complexity => commands::tasks::named(ctx, "complexity"),
        Command::Run => commands::tasks::named(ctx, "run"),
        Command::Watch => commands::tasks::named(ctx, "watch"),
        Command::Profile => commands::tasks::named(ctx, "profile"),
        Command::Task { name } => commands::tasks::named(ctx, &name),
        Command::Deploy(args) => commands::deploy::run(ctx, &args),
        Command::Render(args) => commands::render::run(ctx, &args),
        Command::Promote(args) => commands::promote::run(ctx, &args),
        Command::History(args) => commands::history::run(ctx, &args),
        Command::Rollback(args) => commands::rollback::run(ctx, &args),
        Command::Status(args) => commands::status::run(ctx, &args),
        Command::Logs(args) => commands::logs::run(ctx, &args),
        Command::Destroy(args) => commands::destroy::run(ctx, &args),
        Command::Backup(args) => commands::backup::run(ctx, &args),
        Command::Backups(args) => commands::backups::run(ctx, &args),
        Command::Restore(args) => commands::restore::run(ctx, &args),
        Command::Schema
        | Command::Completions { .. }
        | Command::Man
        | Command::Catalog(_)
        | Command::Upgrade(_)
        | Command::Fleet(_)
        | Command::Init(_)
        | Command::Doctor
        | Command::Config => unreachable!("handled above"),
    }
}
