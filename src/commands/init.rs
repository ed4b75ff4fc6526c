//! `lbc init`: generate a service from a built-in stack or a custom template, or (with
//! `--adopt`) write an lbc.toml for an existing repository.
//!
//! Plan first: read the template, resolve the variables, render every file into memory
//! and compare with the destination. `--dry-run` prints that plan (the files and what
//! happens to each); otherwise lbc writes the files itself (no child process) through a
//! temporary directory, so an error leaves nothing half-written.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::InitArgs;
use crate::error::Error;
use crate::runner::Runner;
use crate::settings::Settings;
use crate::template::answers::{self, Answers, Inputs};
use crate::template::source::{self, Template};
use crate::template::write::{self, Action, Planned};
use crate::template::{builtin, generate, manifest::VarType};
use crate::ui;

pub fn run(settings: &Settings, runner: &mut Runner, args: &InitArgs) -> Result<(), Error> {
    if args.list {
        return list(settings);
    }
    if args.adopt {
        return super::adopt::run(settings, args);
    }
    let dest = settings.destination(args.dir.as_deref());
    let sets = parse_sets(args)?;
    // A killed `lbc init` left files behind: undo them first, and say so (issue #9).
    if !settings.dry_run {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for dir in [dest.as_path(), parent] {
            let undone = write::recover_interrupted(dir)?;
            if !undone.is_empty() {
                ui::warn(&format!(
                    "an earlier `lbc init` into {} was killed before it finished; lbc undid what it had written: {}",
                    dir.display(),
                    undone.join(", ")
                ));
            }
        }
    }
    // Refuse a non-empty directory before asking anything.
    let existing = write::existing_entries(&dest)?;
    if !existing.is_empty() && !args.force {
        return Err(non_empty(&dest, &existing));
    }
    let interactive = interactive(args);
    let template = load_template(settings, runner, args, interactive)?;
    let dir_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let answers = answers::resolve(
        &template,
        &Inputs {
            set: &sets,
            interactive,
            dir_name: dir_name.clone(),
        },
    )?;
    let generated = generate::generate(&template, &dir_name, &answers)?;
    let planned = write::compare(&dest, &generated.files)?;
    let recorded = &generated.provenance.template;

    if settings.dry_run {
        print_plan(settings, &dest, &generated, &answers, &planned);
        return Ok(());
    }
    let overwrites: Vec<&Planned> = planned
        .iter()
        .filter(|p| p.action == Action::Overwrite)
        .collect();
    if !overwrites.is_empty() {
        // --force: say what will be replaced before anything is written.
        let mut msg = format!(
            "--force: {} existing file{} in {} differ{} from the template and will be overwritten:",
            overwrites.len(),
            if overwrites.len() == 1 { "" } else { "s" },
            dest.display(),
            if overwrites.len() == 1 { "s" } else { "" }
        );
        for p in &overwrites {
            msg.push_str(&format!("\n  {}", p.path));
        }
        ui::warn(&msg);
    }
    // From here a Ctrl-C is noted rather than fatal: the files (a few milliseconds of
    // work) go into place, then lbc exits 130; one that came earlier stops lbc here.
    crate::runner::sleep(std::time::Duration::ZERO)?;
    write::apply(&dest, &generated.files, &planned, settings.init_hooks())?;
    let written = planned
        .iter()
        .filter(|p| p.action != Action::Unchanged)
        .count();
    ui::success(&format!(
        "generated {} from template {} {} in {} ({written} file{} written)",
        answers
            .get("name")
            .map(|v| format!("`{}`", v.display()))
            .unwrap_or_else(|| "a project".into()),
        recorded.name,
        recorded.version,
        dest.display(),
        if written == 1 { "" } else { "s" },
    ));
    if generated
        .files
        .iter()
        .any(|f| f.path == crate::config::FILE_NAME)
    {
        let cd = if dest == settings.cwd {
            String::new()
        } else {
            format!(
                "cd {} && ",
                crate::plan::shell_quote(&dest.display().to_string())
            )
        };
        ui::info(&format!(
            "next: {cd}git init && lbc build && lbc test unit && lbc deploy local"
        ));
    }
    if settings.json {
        ui::print_json(&serde_json::json!({
            "verb": "init",
            "ok": true,
            "dir": dest,
            "template": recorded,
            "answers": answers.to_json(),
            "files": planned,
        }));
    } else {
        ui::data(&dest.display().to_string());
    }
    Ok(())
}

fn interactive(args: &InitArgs) -> bool {
    !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn parse_sets(args: &InitArgs) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for s in &args.set {
        let Some((k, v)) = s.split_once('=') else {
            return Err(Error::usage(
                format!("--set {s}: expected KEY=VALUE"),
                Some("e.g. --set registry=registry.example.com/team/hello".into()),
            ));
        };
        out.push((k.trim().to_owned(), v.to_owned()));
    }
    if let Some(n) = &args.name {
        out.push(("name".to_owned(), n.clone()));
    }
    if let Some(d) = &args.database {
        out.push(("database".to_owned(), d.clone()));
    }
    Ok(out)
}

fn non_empty(dest: &Path, existing: &[String]) -> Error {
    let shown: Vec<&str> = existing.iter().take(5).map(String::as_str).collect();
    Error::usage(
        format!(
            "{} is not empty ({}{}): nothing was written",
            dest.display(),
            shown.join(", "),
            if existing.len() > shown.len() {
                format!(", and {} more", existing.len() - shown.len())
            } else {
                String::new()
            }
        ),
        Some("generate into a new or empty directory, pass --force to write into this one (files that differ are listed first), or use `lbc init --adopt` to add only an lbc.toml to an existing repository".into()),
    )
}

fn load_template(
    settings: &Settings,
    runner: &mut Runner,
    args: &InitArgs,
    interactive: bool,
) -> Result<Template, Error> {
    if let Some(src) = &args.template {
        if source::is_url(src) {
            return Template::git(src, args.template_version.as_deref(), runner);
        }
        let path = settings.cwd.join(src);
        if args.template_version.is_some() {
            return Template::git(
                &path.display().to_string(),
                args.template_version.as_deref(),
                runner,
            );
        }
        if !path.is_dir() {
            return Err(Error::usage(
                format!("template {src}: no such directory"),
                Some("--template takes a directory or a git repository (path or URL); add --template-version REF to read a repository at a tag, branch or commit".into()),
            ));
        }
        return Template::directory(&path);
    }
    if let Some(stack) = &args.stack {
        if stack.starts_with(builtin::ADOPT_PREFIX) {
            return Err(Error::usage(
                format!("`{stack}` is the template of `lbc init --adopt`, not a stack"),
                Some(format!(
                    "run `lbc init --adopt` in the existing repository; the stacks are: {}",
                    builtin::names().join(", ")
                )),
            ));
        }
        let current = Template::builtin(stack)?;
        return match &args.template_version {
            None => Ok(current),
            // An earlier release of a built-in stack, as this binary carries it.
            Some(v) => Template::builtin_release(stack, v).ok_or_else(|| {
                let mut known = builtin::versions(stack);
                known.push(&current.manifest.template.version);
                Error::usage(
                    format!("this lbc does not carry version {v} of the `{stack}` stack"),
                    Some(format!("versions it carries: {}", known.join(", "))),
                )
            }),
        };
    }
    let names = builtin::names();
    if interactive {
        let items: Vec<String> = names
            .iter()
            .map(|n| {
                let t = Template::builtin(n).expect("built-in stacks parse");
                format!(
                    "{n:8} {}",
                    t.manifest.template.description.unwrap_or_default()
                )
            })
            .collect();
        let i = dialoguer::Select::new()
            .with_prompt("Stack")
            .items(&items)
            .default(0)
            .interact()
            .map_err(|_| Error::Interrupted)?;
        return Template::builtin(names[i]);
    }
    Err(Error::usage(
        "no stack given, and lbc cannot ask for one here",
        Some(format!(
            "pass --stack STACK ({}), or --template SRC for your own; `lbc init --list` describes the stacks",
            names.join(", ")
        )),
    ))
}

fn print_plan(
    settings: &Settings,
    dest: &Path,
    generated: &generate::Generated,
    answers: &Answers,
    planned: &[Planned],
) {
    let t = &generated.provenance.template;
    let notes = vec![
        format!(
            "template {} {} ({}, {})",
            t.name, t.version, t.source, t.identity
        ),
        format!(
            "answers: {}",
            answers
                .shown()
                .map(|(k, v)| format!("{k}={}", v.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    if settings.json {
        ui::print_json(&serde_json::json!({
            "dry_run": true,
            "plan": {"verb": "init", "notes": notes, "steps": []},
            "dir": dest,
            "template": t,
            "answers": answers.to_json(),
            "files": planned,
        }));
        return;
    }
    let mut out = String::from("plan for `lbc init`\n");
    for n in &notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    let changes = planned
        .iter()
        .filter(|p| p.action != Action::Unchanged)
        .count();
    out.push_str(&format!(
        "write {changes} file{} into {} (lbc writes them itself):\n",
        if changes == 1 { "" } else { "s" },
        dest.display()
    ));
    for p in planned {
        let extra = match (&p.link, p.executable) {
            (Some(l), _) => format!(" -> {l}"),
            (None, true) => format!(" ({} bytes, executable)", p.bytes),
            (None, false) => format!(" ({} bytes)", p.bytes),
        };
        out.push_str(&format!("  {:9} {}{extra}\n", p.action.as_str(), p.path));
    }
    ui::data(&out);
}

/// `lbc init --list`: the built-in stacks and their variables.
fn list(settings: &Settings) -> Result<(), Error> {
    let mut stacks = Vec::new();
    for n in builtin::names() {
        stacks.push(Template::builtin(n)?);
    }
    if settings.json {
        let docs: Vec<serde_json::Value> = stacks
            .iter()
            .map(|t| {
                let m = &t.manifest;
                serde_json::json!({
                    "stack": m.template.name,
                    "version": m.template.version,
                    "description": m.template.description,
                    "identity": t.identity,
                    "variables": m.variables.iter().filter(|v| !v.is_fixed()).map(|v| serde_json::json!({
                        "name": v.name,
                        "type": v.kind.as_str(),
                        "default": v.default.as_ref().map(|d| serde_json::to_value(d).unwrap_or_default()),
                        "prompt": v.prompt,
                        "help": v.help,
                        "choices": v.choices,
                        "pattern": v.pattern,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        ui::print_json(&serde_json::json!({ "stacks": docs }));
        return Ok(());
    }
    let mut out = String::new();
    for t in &stacks {
        let m = &t.manifest;
        out.push_str(&format!(
            "{}  {}  {}\n",
            m.template.name,
            m.template.version,
            m.template.description.as_deref().unwrap_or("")
        ));
        let listed: Vec<_> = m.variables.iter().filter(|v| !v.is_fixed()).collect();
        let width = listed.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in listed {
            let ty = match v.kind {
                VarType::Choice => format!("choice [{}]", v.choices.join("|")),
                k => k.as_str().to_owned(),
            };
            let default = match &v.default {
                Some(toml::Value::String(s)) => format!("default {s:?}"),
                Some(d) => format!("default {d}"),
                None => "required".into(),
            };
            out.push_str(&format!(
                "    {:width$}  {ty}, {default}{}\n",
                v.name,
                v.help
                    .as_ref()
                    .map(|h| format!(": {h}"))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str("\nlbc init DIR --stack STACK [--name NAME] [--set KEY=VALUE]... [--yes]\n");
    ui::data(&out);
    Ok(())
}
