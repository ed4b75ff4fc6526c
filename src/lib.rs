//! lbc: uniform build, test and deploy verbs for every repository.
//!
//! Layers: [`cli`] (flags), [`settings`] (flags + `LBC_*` + `lbc.toml` resolved once),
//! [`commands`] (one module per verb, each computing a [`plan::Plan`]), [`runner`] (the
//! only place that starts child processes) and [`tools`] (argument lists and output
//! parsing for docker, helm, kubectl and git).

pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod error;
pub mod lock;
pub mod plan;
pub mod runner;
pub mod settings;
pub mod state;
pub mod template;
pub mod tools;
pub mod ui;
pub mod upgrade;
pub mod validate;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, Command, SecurityKind, TestKind};
use crate::commands::tasks::Verb;
use crate::commands::Ctx;
use crate::config::EnvKind;
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
    let already_reported = matches!(e, Error::UpgradeAvailable | Error::Conflicts { .. });
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

fn dispatch(command: Command, settings: &Settings, runner: &mut Runner) -> Result<(), Error> {
    // Verbs that need no project.
    match &command {
        Command::Schema => return commands::info::schema(),
        Command::Completions { shell } => return commands::info::completions(*shell),
        Command::Man => return commands::info::man(),
        Command::Catalog => return commands::info::catalog(settings),
        Command::Upgrade(args) => return commands::upgrade::run(settings, runner, args),
        Command::Init(args) => return commands::init::run(settings, runner, args),
        Command::Doctor => {
            let project = settings.load_project().ok();
            return commands::doctor::run(settings, runner, project.as_ref());
        }
        _ => {}
    }
    let project = settings.load_project()?;
    if let Command::Config = command {
        return commands::info::config(settings, &project);
    }
    // One lock per project and environment for the verbs that change an environment
    // (issue #9): a second run waits (or, with --no-wait-lock, exits 7).
    let locked_env = match &command {
        Command::Deploy(a) => Some(("deploy", a.env.clone())),
        Command::Destroy { env, .. } => Some(("destroy", env.clone())),
        Command::Rollback { env, .. } => Some(("rollback", env.clone())),
        Command::Promote(a) => Some(("promote", a.to.clone())),
        _ => None,
    };
    let _lock = match locked_env {
        Some((verb, env)) => {
            // Only declared environments have a lock; the verb reports the others.
            if project.config.env.contains_key(&env) {
                settings.lock(
                    &project.root,
                    &format!("env-{env}"),
                    &format!("{verb} {env}"),
                )?
            } else {
                None
            }
        }
        None => None,
    };
    let mut ctx = Ctx {
        settings,
        project,
        runner,
    };
    match command {
        Command::Build(args) => commands::build::run(&mut ctx, &args),
        Command::Test { kind } => {
            let verb = match kind {
                None => Verb::composite("test", &["unit", "functional", "integration"]),
                Some(TestKind::Unit) => Verb::single("test-unit"),
                Some(TestKind::Functional) => Verb::single("test-functional"),
                Some(TestKind::Integration) => Verb::single("test-integration"),
            };
            commands::tasks::run(&mut ctx, &verb)
        }
        Command::Security { kind } => {
            let verb = match kind {
                None => Verb::composite("security", &["sast", "dependency-scan"]),
                Some(SecurityKind::Sast) => Verb::single("security-sast"),
                Some(SecurityKind::DependencyScan) => Verb::single("security-dependency-scan"),
            };
            commands::tasks::run(&mut ctx, &verb)
        }
        Command::Style => commands::tasks::run(&mut ctx, &Verb::single("style")),
        Command::Format => commands::tasks::run(&mut ctx, &Verb::single("format")),
        Command::Complexity => commands::tasks::run(&mut ctx, &Verb::single("complexity")),
        Command::Run => commands::tasks::run(&mut ctx, &Verb::single("run")),
        Command::Watch => commands::tasks::run(&mut ctx, &Verb::single("watch")),
        Command::Profile => commands::tasks::run(&mut ctx, &Verb::single("profile")),
        Command::Task { name } => commands::tasks::run(&mut ctx, &Verb::single(&name)),
        Command::Deploy(args) => {
            let env = ctx.project.environment(&args.env)?.clone();
            match env.kind {
                EnvKind::Docker => commands::local::deploy(&mut ctx, &args.env, &env, &args),
                EnvKind::Kubernetes => commands::kube::deploy(&mut ctx, &args),
            }
        }
        Command::Render { env, image, target } => {
            commands::kube::render(&mut ctx, &env, image.as_deref(), &target)
        }
        Command::Promote(args) => commands::kube::promote(&mut ctx, &args),
        Command::History { env, target } => commands::kube::history(&mut ctx, &env, &target),
        Command::Rollback {
            env,
            revision,
            yes,
            target,
        } => commands::kube::rollback(&mut ctx, &env, revision, yes, &target),
        Command::Status { env: name, target } => {
            let env = ctx.project.environment(&name)?.clone();
            match env.kind {
                EnvKind::Docker => commands::local::status(&mut ctx, &name, &env),
                EnvKind::Kubernetes => commands::kube::status(&mut ctx, &name, &target),
            }
        }
        Command::Logs {
            env: name,
            follow,
            tail,
            target,
        } => {
            let env = ctx.project.environment(&name)?.clone();
            match env.kind {
                EnvKind::Docker => commands::local::logs(&mut ctx, &name, follow, tail),
                EnvKind::Kubernetes => commands::kube::logs(&mut ctx, &name, follow, tail, &target),
            }
        }
        Command::Destroy {
            env: name,
            yes,
            target,
        } => {
            let env = ctx.project.environment(&name)?.clone();
            match env.kind {
                EnvKind::Docker => commands::local::destroy(&mut ctx, &name, &env, yes),
                EnvKind::Kubernetes => commands::kube::destroy(&mut ctx, &name, yes, &target),
            }
        }
        Command::Schema
        | Command::Completions { .. }
        | Command::Man
        | Command::Catalog
        | Command::Upgrade(_)
        | Command::Init(_)
        | Command::Doctor
        | Command::Config => unreachable!("handled above"),
    }
}
