//! `lbc init --adopt`: give an existing repository an lbc.toml, and touch nothing else.
//!
//! lbc detects the stack from the files at the root (pyproject.toml or requirements.txt,
//! package.json, go.mod, Cargo.toml, pom.xml or build.gradle, else a static site),
//! reads an existing Dockerfile (its stages, EXPOSE and the base images given as build
//! arguments) and finds an existing Helm chart, then writes an lbc.toml that uses them.
//! The text is checked with lbc's own parser before it is written. A repository with more
//! than one stack is asked about on a terminal; elsewhere lbc fails, listing the
//! candidates and the flag that chooses.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::catalog;
use crate::cli::InitArgs;
use crate::commands::scaffold;
use crate::config::{self, check_dns_label, suggest_dns_label};
use crate::error::Error;
use crate::settings::Settings;
use crate::template::builtin;
use crate::template::render::{OutContent, OutFile};
use crate::template::write;
use crate::ui;

/// A stack lbc found evidence for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    pub stack: String,
    /// The files that point at it.
    pub evidence: Vec<String>,
}

/// What the Dockerfile says.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DockerfileInfo {
    pub path: String,
    pub stages: Vec<String>,
    pub expose: Option<u16>,
    pub healthcheck: bool,
    /// Build arguments used in FROM whose default is a catalogue default: (arg, name).
    pub bases: Vec<(String, String)>,
    /// The test stage installs PHP's packages in /workspace/vendor (the PHP family's
    /// Dockerfile): the tasks take that directory from the image (`from_image`).
    pub vendor_in_workspace: bool,
}

impl DockerfileInfo {
    /// The `from_image` line of a task in the test stage: PHP's packages of the image
    /// over the repository's, when this Dockerfile installs them in /workspace/vendor.
    fn task_vendor_line(&self) -> &'static str {
        if self.vendor_in_workspace {
            "from_image = [\"vendor\"]\n"
        } else {
            ""
        }
    }
    fn stage(&self, names: &[&str]) -> Option<&str> {
        self.stages
            .iter()
            .find(|s| names.contains(&s.to_ascii_lowercase().as_str()))
            .map(String::as_str)
    }
    pub fn runtime_stage(&self) -> Option<&str> {
        self.stage(&["runtime", "production", "prod", "release", "final"])
    }
    pub fn test_stage(&self) -> Option<&str> {
        self.stage(&["test", "tests", "testing", "unit-test"])
    }
}

/// What `--adopt` found, and the lbc.toml it makes of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Adoption {
    pub stack: String,
    pub name: String,
    pub dockerfile: Option<DockerfileInfo>,
    pub chart: Option<String>,
    pub notes: Vec<String>,
    pub text: String,
    /// What the detection engine found (docs/adopt.md); `None` for a static site or a
    /// stack chosen with --stack that the engine does not find.
    pub detection: Option<crate::detect::Report>,
    /// The Dockerfile, chart and pipelines of the stack's family (`None`: static site).
    #[serde(skip)]
    pub scaffold: Option<scaffold::Scaffold>,
}

const KEYS: &[&str] = &[
    "registry",
    "local_port",
    "kube_context",
    "kube_context_production",
    "port",
    "binary",
    "start",
    "health",
    "domain",
    "ci",
];

pub fn run(settings: &Settings, args: &InitArgs) -> Result<(), Error> {
    let root = settings.destination(args.dir.as_deref());
    if !root.is_dir() {
        return Err(Error::usage(
            format!("{}: no such directory to adopt", root.display()),
            Some("run `lbc init --adopt` in an existing repository, or pass its directory".into()),
        ));
    }
    let target = root.join(config::FILE_NAME);
    let exists = target.exists();
    if exists && !args.force {
        return Err(Error::usage(
            format!("{} already exists: nothing was written", target.display()),
            Some("`lbc config` shows what it declares; pass --force to replace it with a detected one".into()),
        ));
    }
    let mut sets = Vec::new();
    for s in &args.set {
        let Some((k, v)) = s.split_once('=') else {
            return Err(Error::usage(format!("--set {s}: expected KEY=VALUE"), None));
        };
        if !KEYS.contains(&k) {
            return Err(Error::usage(
                format!("--adopt has no variable `{k}`"),
                Some(format!("with --adopt, --set takes: {}", KEYS.join(", "))),
            ));
        }
        sets.push((k.to_owned(), v.to_owned()));
    }
    let interactive =
        !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let adoption = adopt(
        &root,
        args.stack.as_deref(),
        args.name.as_deref(),
        &sets,
        interactive,
    )?;
    let action = if exists { "overwrite" } else { "create" };
    let mut plan = vec![scaffold::FilePlan {
        path: config::FILE_NAME.to_owned(),
        action,
        bytes: adoption.text.len(),
        needs: None,
    }];
    let mut files = vec![OutFile {
        path: config::FILE_NAME.to_owned(),
        content: OutContent::File {
            bytes: adoption.text.clone().into_bytes(),
            executable: false,
        },
        source: String::new(),
    }];
    if let Some(s) = &adoption.scaffold {
        plan.extend(s.plan.iter().cloned());
        files.extend(s.files.iter().cloned());
    }
    plan.sort_by(|a, b| a.path.cmp(&b.path));
    let missing = adoption
        .scaffold
        .as_ref()
        .map(|s| s.missing.clone())
        .unwrap_or_default();

    if settings.dry_run {
        let mut notes = adoption.notes.clone();
        if let Some(s) = &adoption.scaffold {
            notes.push(format!("template {}", s.template));
        }
        for m in &missing {
            notes.push(format!(
                "undetermined: {m}: no Dockerfile is written without it"
            ));
        }
        if settings.json {
            ui::print_json(&serde_json::json!({
                "dry_run": true,
                "plan": {"verb": "init --adopt", "notes": notes, "steps": []},
                "dir": root,
                "stack": adoption.stack,
                "template": adoption.scaffold.as_ref().map(|s| s.template.clone()),
                "files": plan,
                "lbc_toml": adoption.text,
                "contents": files.iter().filter_map(|f| match &f.content {
                    OutContent::File { bytes, .. } => Some((f.path.clone(), String::from_utf8_lossy(bytes).into_owned())),
                    OutContent::Link { .. } => None,
                }).collect::<std::collections::BTreeMap<_, _>>(),
                "detection": adoption.detection,
            }));
        } else {
            let mut out = String::from("plan for `lbc init --adopt`\n");
            for n in &notes {
                out.push_str(&format!("  note: {n}\n"));
            }
            let writes = plan
                .iter()
                .filter(|p| p.action == "create" || p.action == "overwrite")
                .count();
            out.push_str(&format!(
                "write {writes} file{} into {} (lbc writes them itself; the repository's own files are kept):\n",
                if writes == 1 { "" } else { "s" },
                root.display(),
            ));
            for p in &plan {
                let extra = match (&p.needs, p.action) {
                    (Some(n), _) => format!(" (needs {n})"),
                    (None, "keep") => " (the repository's own)".to_owned(),
                    _ => format!(" ({} bytes)", p.bytes),
                };
                out.push_str(&format!("  {:12} {}{extra}\n", p.action, p.path));
            }
            out.push_str(&format!("\n{}", adoption.text));
            ui::data(&out);
        }
        return Ok(());
    }
    if !missing.is_empty() {
        return Err(Error::usage(
            format!(
                "lbc cannot write the Dockerfile of {}: it could not determine {}; nothing was written",
                root.display(),
                missing.join(" and ")
            ),
            Some("pass the values with the flags above (`lbc init --adopt --dry-run` shows what was detected), or run on a terminal to be asked".into()),
        ));
    }
    for n in &adoption.notes {
        ui::info(n);
    }
    // All or nothing, through lbc's one transactional writer (as `lbc init`).
    let planned = write::compare(&root, &files)?;
    write::apply(&root, &files, &planned, settings.init_hooks())?;
    let written: Vec<&str> = plan
        .iter()
        .filter(|p| p.action == "create" || p.action == "overwrite")
        .map(|p| p.path.as_str())
        .collect();
    let kept: Vec<&str> = plan
        .iter()
        .filter(|p| p.action == "keep")
        .map(|p| p.path.as_str())
        .collect();
    ui::success(&format!(
        "adopted `{}` ({} stack): wrote {} file{}{}",
        adoption.name,
        adoption.stack,
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        if kept.is_empty() {
            "; no existing file was touched".to_owned()
        } else {
            format!("; kept the repository's own {}", kept.join(", "))
        }
    ));
    if settings.json {
        ui::print_json(&serde_json::json!({
            "verb": "init --adopt",
            "ok": true,
            "dir": root,
            "stack": adoption.stack,
            "name": adoption.name,
            "template": adoption.scaffold.as_ref().map(|s| s.template.clone()),
            "files": plan,
        }));
    } else {
        ui::data(&target.display().to_string());
    }
    Ok(())
}

/// Detect and build the lbc.toml (no writes).
pub fn adopt(
    root: &Path,
    stack: Option<&str>,
    name: Option<&str>,
    sets: &[(String, String)],
    interactive: bool,
) -> Result<Adoption, Error> {
    let candidates = detect(root);
    let get = |k: &str| {
        sets.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let mut opts = crate::detect::Options {
        stack: stack.map(str::to_owned),
        port: match get("port") {
            Some(p) => Some(p.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                Error::usage(
                    format!("bad value for `port`: `{p}`: expected a port number"),
                    None,
                )
            })?),
            None => None,
        },
        binary: get("binary"),
        start: get("start"),
    };
    // What the engine saw when it found no stack it knows, for the error.
    let mut unsupported: Vec<String> = Vec::new();
    let mut detection = match crate::detect::detect(root, &opts) {
        Ok(r) => Some(r),
        Err(crate::detect::DetectError::Ambiguous { candidates, .. })
            if interactive && stack.is_none() =>
        {
            let items: Vec<String> = candidates.iter().map(ToString::to_string).collect();
            let i = dialoguer::Select::new()
                .with_prompt("This repository holds more than one stack; which one does lbc build?")
                .items(&items)
                .default(0)
                .interact()
                .map_err(|_| Error::Interrupted)?;
            opts.stack = Some(candidates[i].stack.clone());
            crate::detect::detect(root, &opts).ok()
        }
        Err(e @ crate::detect::DetectError::Ambiguous { .. }) if stack.is_none() => {
            return Err(Error::usage(e.to_string(), Some(e.hint())));
        }
        Err(crate::detect::DetectError::Unsupported { found, .. }) => {
            unsupported = found;
            None
        }
        Err(_) => None,
    };
    if detection
        .as_ref()
        .is_some_and(|r| stack.is_some_and(|s| s != r.stack))
    {
        detection = None;
    }
    // What detection left open, asked on a terminal when lbc writes the Dockerfile
    // (elsewhere the plan names the flag, and nothing is guessed).
    if interactive && find_dockerfile(root).is_none() {
        if let Some(r) = detection.clone() {
            let mut again = false;
            if r.start.command.is_none() {
                if !r.start.choices.is_empty() {
                    let items: Vec<String> = r
                        .start
                        .choices
                        .iter()
                        .map(|c| format!("{} ({})", c.name, c.note))
                        .collect();
                    let i = dialoguer::Select::new()
                        .with_prompt("Which one is the service?")
                        .items(&items)
                        .default(0)
                        .interact()
                        .map_err(|_| Error::Interrupted)?;
                    let chosen = r.start.choices[i].name.clone();
                    if r.start
                        .flag
                        .as_deref()
                        .is_some_and(|f| f.contains("binary"))
                    {
                        opts.binary = Some(chosen);
                    } else {
                        opts.start = Some(chosen);
                    }
                } else {
                    let cmd: String = dialoguer::Input::new()
                        .with_prompt(
                            "The command that starts the service (it must listen on 0.0.0.0)",
                        )
                        .interact_text()
                        .map_err(|_| Error::Interrupted)?;
                    opts.start = Some(cmd);
                }
                again = true;
            }
            if r.port.value.is_none() {
                let port: u16 = dialoguer::Input::new()
                    .with_prompt("The port the service listens on")
                    .validate_with(|p: &u16| {
                        if *p > 0 {
                            Ok(())
                        } else {
                            Err("a port from 1 to 65535")
                        }
                    })
                    .interact_text()
                    .map_err(|_| Error::Interrupted)?;
                opts.port = Some(port);
                again = true;
            }
            if again {
                detection = crate::detect::detect(root, &opts).ok().or(detection);
            }
        }
    }
    let stack = match stack.or(detection.as_ref().map(|r| r.stack.as_str())) {
        Some(s) => {
            if !builtin::names().contains(&s) && !crate::detect::STACKS.contains(&s) {
                return Err(Error::usage(
                    format!("unknown stack `{s}`"),
                    Some(format!(
                        "the stacks are: {}",
                        builtin::names().join(", ")
                    )),
                ));
            }
            s.to_owned()
        }
        None => match candidates.as_slice() {
            [one] => one.stack.clone(),
            [] => {
                return Err(Error::usage(
                    format!(
                        "lbc found no stack in {} (no pyproject.toml, requirements.txt, package.json, go.mod, Cargo.toml, pom.xml, build.gradle, composer.json or index.html at its root){}",
                        root.display(),
                        if unsupported.is_empty() {
                            String::new()
                        } else {
                            format!("; found: {}", unsupported.join(", "))
                        }
                    ),
                    Some(format!(
                        "choose one with --stack ({})",
                        builtin::names().join(", ")
                    )),
                ))
            }
            many if interactive => {
                let items: Vec<String> = many
                    .iter()
                    .map(|c| format!("{:8} ({})", c.stack, c.evidence.join(", ")))
                    .collect();
                let i = dialoguer::Select::new()
                    .with_prompt("This repository holds more than one stack; which one does lbc build?")
                    .items(&items)
                    .default(0)
                    .interact()
                    .map_err(|_| Error::Interrupted)?;
                many[i].stack.clone()
            }
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|c| format!("{} ({})", c.stack, c.evidence.join(", ")))
                    .collect();
                return Err(Error::usage(
                    format!(
                        "{} holds more than one stack: {}",
                        root.display(),
                        list.join("; ")
                    ),
                    Some(format!(
                        "choose one with --stack, e.g. `lbc init --adopt --stack {}`",
                        many[0].stack
                    )),
                ));
            }
        },
    };
    let dir_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match name {
        Some(n) => {
            check_dns_label(n).map_err(|why| {
                Error::usage(
                    format!("bad value for `name`: `{n}`: {why}"),
                    Some(format!("use a name like `{}`", suggest_dns_label(n))),
                )
            })?;
            n.to_owned()
        }
        None => suggest_dns_label(&project_name(root, &stack).unwrap_or(dir_name)),
    };
    let registry = get("registry").unwrap_or_else(|| format!("registry.example.com/{name}"));
    let local_port: u16 = match get("local_port") {
        Some(p) => p.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
            Error::usage(
                format!("bad value for `local_port`: `{p}`: expected a port number"),
                None,
            )
        })?,
        None => 8080,
    };
    let context = get("kube_context").unwrap_or_else(|| "nonprod".into());
    let context_prod = get("kube_context_production").unwrap_or_else(|| "prod".into());

    let mut notes = vec![format!("stack: {stack}")];
    if let Some(r) = &detection {
        notes[0].push_str(&format!(" ({})", r.files().join(", ")));
        notes.extend(r.summary());
    } else if let Some(c) = candidates.iter().find(|c| c.stack == stack) {
        notes[0].push_str(&format!(" ({})", c.evidence.join(", ")));
    }
    let own_dockerfile = find_dockerfile(root);
    let own_chart = find_chart(root);
    let mut common = vec![
        ("name".to_owned(), name.clone()),
        ("registry".to_owned(), registry.clone()),
        ("local_port".to_owned(), local_port.to_string()),
        ("kube_context".to_owned(), context.clone()),
        ("kube_context_production".to_owned(), context_prod.clone()),
    ];
    for k in ["domain", "ci"] {
        if let Some(v) = get(k) {
            common.push((k.to_owned(), v));
        }
    }
    let health = get("health").unwrap_or_else(|| "/".to_owned());
    let scaffold = scaffold::plan(&scaffold::Want {
        root,
        stack: &stack,
        report: detection.as_ref(),
        dockerfile: own_dockerfile.as_ref(),
        chart: own_chart.as_deref(),
        common,
        health: health.clone(),
        start_set: get("start").is_some(),
    })?;
    if let Some(s) = &scaffold {
        notes.extend(s.notes.iter().cloned());
    }
    let written_dockerfile = scaffold.as_ref().and_then(|s| s.dockerfile.clone());
    let dockerfile = own_dockerfile.clone().or(written_dockerfile.clone());
    let chart = own_chart
        .clone()
        .or(scaffold.as_ref().and_then(|s| s.chart.clone()));
    let planned = |p: &str| {
        root.join(p).is_file()
            || scaffold
                .as_ref()
                .is_some_and(|s| s.files.iter().any(|f| f.path == p))
    };
    let mut t = String::new();
    t.push_str(&format!(
        "# lbc.toml of {name}, written by `lbc init --adopt` for an existing {stack} repository.\n\
         # Every key is documented in lbc's docs/lbc-toml.md; `lbc config` shows the result.\n\
         schema = {}\n\n[project]\nname = \"{name}\"\n\n[image]\nrepository = {}\n",
        config::CURRENT_SCHEMA,
        quote(&registry)
    ));
    match &dockerfile {
        Some(d) => {
            if d.path != "Dockerfile" {
                t.push_str(&format!("dockerfile = {}\n", quote(&d.path)));
            }
            if let Some(s) = d.runtime_stage() {
                t.push_str(&format!("target = {}\n", quote(s)));
            }
            if written_dockerfile.is_some() {
                notes.push(format!(
                    "writes a Dockerfile (stages {}; base images {} and {} from the catalogue)",
                    d.stages.join(", "),
                    d.bases[0].1,
                    d.bases[1].1
                ));
            } else {
                notes.push(format!(
                    "uses {} (stages: {}{})",
                    d.path,
                    if d.stages.is_empty() {
                        "none named".to_owned()
                    } else {
                        d.stages.join(", ")
                    },
                    d.runtime_stage()
                        .map(|s| format!("; target `{s}`"))
                        .unwrap_or_default()
                ));
            }
            if !d.bases.is_empty() {
                t.push_str("\n# Build arguments resolved through the base-image catalogue (`lbc catalog`).\n[image.bases]\n");
                for (arg, logical) in &d.bases {
                    t.push_str(&format!("{arg} = {}\n", quote(logical)));
                }
            }
        }
        None if scaffold.as_ref().is_some_and(|s| !s.missing.is_empty()) => {
            t.insert_str(
                t.find("[image]").unwrap_or(0),
                "# No Dockerfile yet: `lbc init --adopt` writes one once it knows how the service\n# starts (see the notes of `lbc init --adopt --dry-run`).\n",
            );
        }
        None => {
            t.insert_str(
                t.find("[image]").unwrap_or(0),
                "# No Dockerfile was found: `lbc build` needs one (`lbc init --stack STACK` in an\n# empty directory shows one for this stack).\n",
            );
            notes.push(format!(
                "no Dockerfile: `lbc build` and `lbc deploy local` need one (the `{stack}` template of `lbc init` has an example)"
            ));
        }
    }
    let (services_text, service_names) = match &detection {
        Some(r) => services_toml(r, &mut notes),
        None => (String::new(), Vec::new()),
    };
    t.push('\n');
    t.push_str(
        tasks(
            root,
            &stack,
            dockerfile.as_ref(),
            detection.as_ref(),
            &service_names,
        )
        .trim_end(),
    );
    t.push('\n');
    if let Some(m) = detection.as_ref().and_then(|r| r.migration.as_ref()) {
        match &m.command {
            Some(argv) => {
                let run =
                    toml::Value::Array(argv.iter().cloned().map(toml::Value::String).collect());
                t.push_str(&format!(
                    "\n# `lbc deploy local` runs it in the new image before the app is replaced.\n[tasks.migrate]\nrun = {run}\n{}{}description = {}\n",
                    if dockerfile.as_ref().and_then(DockerfileInfo::test_stage).is_some() {
                        format!(
                            "stage = {}\n{}",
                            quote(dockerfile.as_ref().and_then(DockerfileInfo::test_stage).unwrap_or("test")),
                            dockerfile.as_ref().map_or("", |d| d.task_vendor_line())
                        )
                    } else {
                        String::new()
                    },
                    if service_names.is_empty() {
                        String::new()
                    } else {
                        format!("services = {}\n", toml::Value::Array(service_names.iter().cloned().map(toml::Value::String).collect()))
                    },
                    quote(&format!("database migrations ({}, detected)", m.tool))
                ));
            }
            None => notes.push(format!(
                "migration: {} runs when the application starts: no migrate task",
                m.tool
            )),
        }
    }
    t.push_str(&services_text);
    let container_port = detection
        .as_ref()
        .and_then(|r| r.port.value)
        .or(dockerfile.as_ref().and_then(|d| d.expose))
        .unwrap_or(8080);
    t.push_str(&format!(
        "\n# `lbc deploy local`: this machine's Docker engine, no cluster needed.\n[env.local]\nkind = \"docker\"\nport = {local_port}\ncontainer_port = {container_port}\n"
    ));
    if dockerfile.as_ref().is_some_and(|d| d.healthcheck) {
        t.push_str(
            "# Without `health`, lbc waits for the image's HEALTHCHECK.\n# health = \"/healthz\"\n",
        );
    } else {
        t.push_str("# Without `health` (an HTTP path answering 200), lbc waits until the container runs.\n# health = \"/healthz\"\n");
    }
    // The chart adoption writes listens where the Dockerfile does, and probes the health path.
    let chart_set = if own_chart.is_none() && chart.is_some() {
        format!(
            "set = {{ containerPort = {}, \"probes.path\" = {} }}\n",
            quote(&container_port.to_string()),
            quote(&health)
        )
    } else {
        String::new()
    };
    match &chart {
        Some(c) => {
            if own_chart.is_some() {
                notes.push(format!("uses the Helm chart in {c}"));
            } else {
                notes.push(format!(
                    "writes the Helm chart in {c} with values for qualification, staging and production"
                ));
            }
            for (env, ctx, extra) in [
                ("qualification", &context, ""),
                ("staging", &context, ""),
                (
                    "production",
                    &context_prod,
                    "protected = true\npromote_from = \"staging\"\n",
                ),
            ] {
                let values_file = format!("{c}/values-{env}.yaml");
                let values = if planned(&values_file) {
                    format!("values = [{}]\n", quote(&values_file))
                } else {
                    String::new()
                };
                t.push_str(&format!(
                    "\n[env.{env}]\nkind = \"kubernetes\"\ncontext = {}\nnamespace = {}\n{values}{chart_set}{extra}",
                    quote(ctx),
                    quote(&format!("{name}-{env}"))
                ));
            }
            t.push_str(&format!("\n[deploy]\nchart = {}\n", quote(c)));
        }
        None => {
            notes.push("no Helm chart found: only the `local` environment is declared".into());
            t.push_str(
                "\n# No Helm chart was found (deploy/chart, chart, charts/*, helm): add one and\n\
                 # [env.NAME] tables for your clusters (docs/lbc-toml.md).\n",
            );
        }
    }
    // Never write what lbc itself would refuse to read.
    config::parse(&root.join(config::FILE_NAME), &t).map_err(|e| {
        Error::failed(
            format!("the detected lbc.toml does not validate (a defect of lbc): {e}"),
            Some("pass --stack, --name or --set registry=... to steer detection".into()),
        )
    })?;
    Ok(Adoption {
        stack,
        name,
        dockerfile,
        chart,
        notes,
        text: t,
        detection,
        scaffold,
    })
}

/// The test-unit task's `run` (a TOML value) from the detected test command, and the
/// command as shown in its description.
fn detected_test(r: &crate::detect::Report, in_stage: bool) -> Option<(String, String)> {
    use crate::detect::TestRun;
    let shown = crate::detect::sh_join(&r.test.as_ref()?.command)?;
    let run = match r.test_run(in_stage)? {
        TestRun::Argv(v) => {
            toml::Value::Array(v.into_iter().map(toml::Value::String).collect()).to_string()
        }
        TestRun::Shell(line) => quote(&line),
    };
    Some((run, shown))
}

/// The `[services.NAME]` tables of the services detection found, each wired to the
/// variables the framework reads; the names, for the tasks that need them.
fn services_toml(r: &crate::detect::Report, notes: &mut Vec<String>) -> (String, Vec<String>) {
    use crate::detect::ServiceKind;
    let mut t = String::new();
    let mut names = Vec::new();
    let mut database: Option<ServiceKind> = None;
    let mut redis = false;
    for svc in &r.services {
        let name = match svc.kind {
            ServiceKind::Redis if !redis => {
                redis = true;
                "cache"
            }
            ServiceKind::Redis => continue,
            kind => match database {
                None => {
                    database = Some(kind);
                    "db"
                }
                Some(first) => {
                    notes.push(format!(
                        "a {} database was found too ({}): the application uses one of them; lbc.toml declares {} (change `type` to switch)",
                        kind.as_str(),
                        svc.evidence.first().map(|e| e.file.as_str()).unwrap_or("?"),
                        first.as_str()
                    ));
                    continue;
                }
            },
        };
        let found = svc
            .evidence
            .iter()
            .map(|e| match e.line {
                Some(l) => format!("{}:{l}", e.file),
                None => e.file.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        t.push_str(&format!(
            "\n# Found in {found}.\n[services.{name}]\ntype = {}\n",
            quote(svc.kind.as_str())
        ));
        let vars: Vec<(String, String)> = svc
            .env
            .iter()
            .filter_map(|v| {
                let tpl = match svc.schemes.get(v) {
                    // The driver the example's URL names (`mysql+pymysql`): `{url}`'s
                    // plain scheme would load another one.
                    Some(scheme) => {
                        format!("{scheme}://{{user}}:{{password}}@{{host}}:{{port}}/{{database}}")
                    }
                    None => service_var(svc.kind, v)?,
                };
                Some((v.clone(), tpl))
            })
            .collect();
        if !vars.is_empty() {
            t.push_str(&format!("\n[services.{name}.env]\n"));
            for (v, tpl) in vars {
                t.push_str(&format!("{v} = {}\n", quote(&tpl)));
            }
        }
        names.push(name.to_owned());
    }
    (t, names)
}

/// The value of a variable the application reads to reach a service, as a template of
/// `[services.NAME.env]` (`None`: lbc cannot tell what it holds).
fn service_var(kind: crate::detect::ServiceKind, var: &str) -> Option<String> {
    use crate::detect::ServiceKind;
    let v = var.to_ascii_uppercase();
    let has = |w: &str| v.contains(w);
    if v == "DB_CONNECTION" {
        return Some(
            if kind == ServiceKind::Postgres {
                "pgsql"
            } else {
                "mysql"
            }
            .to_owned(),
        );
    }
    if v.ends_with("_URL") || v.ends_with("_URI") || v.ends_with("_DSN") {
        if v.starts_with("SPRING_DATASOURCE") {
            let scheme = if kind == ServiceKind::Postgres {
                "postgresql"
            } else {
                "mysql"
            };
            return Some(format!("jdbc:{scheme}://{{host}}:{{port}}/{{database}}"));
        }
        return Some("{url}".to_owned());
    }
    if has("HOST") {
        Some("{host}".to_owned())
    } else if has("PORT") {
        Some("{port}".to_owned())
    } else if has("PASSWORD") || v.ends_with("_PASS") || v.ends_with("_PWD") {
        Some("{password}".to_owned())
    } else if has("USER") {
        Some("{user}".to_owned())
    } else if kind != ServiceKind::Redis && (has("NAME") || has("DATABASE") || v.ends_with("_DB")) {
        Some("{database}".to_owned())
    } else {
        None
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The stacks the files at `root` point at.
pub fn detect(root: &Path) -> Vec<Candidate> {
    let found = |stack: &str, files: &[&str]| {
        let evidence: Vec<String> = files
            .iter()
            .filter(|f| root.join(f).is_file())
            .map(|f| (*f).to_owned())
            .collect();
        (!evidence.is_empty()).then(|| Candidate {
            stack: stack.to_owned(),
            evidence,
        })
    };
    let mut out: Vec<Candidate> = [
        found("go", &["go.mod"]),
        found(
            "java",
            &[
                "pom.xml",
                "build.gradle",
                "build.gradle.kts",
                "settings.gradle",
                "settings.gradle.kts",
            ],
        ),
        found("node", &["package.json"]),
        found(
            "python",
            &[
                "pyproject.toml",
                "requirements.txt",
                "setup.py",
                "setup.cfg",
                "Pipfile",
            ],
        ),
        found("rust", &["Cargo.toml"]),
    ]
    .into_iter()
    .flatten()
    .collect();
    if out.is_empty() {
        out.extend(found(
            "static",
            &[
                "index.html",
                "public/index.html",
                "site/index.html",
                "www/index.html",
                "dist/index.html",
            ],
        ));
    }
    out
}

fn read(root: &Path, rel: &str) -> Option<String> {
    fs_err::read_to_string(root.join(rel)).ok()
}

/// The project's own name, from its manifest.
fn project_name(root: &Path, stack: &str) -> Option<String> {
    match stack {
        "node" => {
            let v: serde_json::Value = serde_json::from_str(&read(root, "package.json")?).ok()?;
            let n = v.get("name")?.as_str()?;
            Some(n.rsplit('/').next().unwrap_or(n).to_owned())
        }
        "php" => {
            let v: serde_json::Value = serde_json::from_str(&read(root, "composer.json")?).ok()?;
            let n = v.get("name")?.as_str()?;
            Some(n.rsplit('/').next().unwrap_or(n).to_owned())
        }
        "rust" => {
            let v: toml::Value = toml::from_str(&read(root, "Cargo.toml")?).ok()?;
            Some(v.get("package")?.get("name")?.as_str()?.to_owned())
        }
        "python" => {
            let v: toml::Value = toml::from_str(&read(root, "pyproject.toml")?).ok()?;
            let project = v.get("project").and_then(|p| p.get("name"));
            let poetry = v
                .get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("name"));
            Some(project.or(poetry)?.as_str()?.to_owned())
        }
        "go" => {
            let text = read(root, "go.mod")?;
            let module = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("module "))?
                .trim()
                .trim_matches('"');
            let last = module.rsplit('/').next()?;
            // example.com/x/v2: the name is the element before the major version.
            let is_major = last.len() > 1
                && last.starts_with('v')
                && last[1..].chars().all(|c| c.is_ascii_digit());
            if is_major {
                module.rsplit('/').nth(1).map(str::to_owned)
            } else {
                Some(last.to_owned())
            }
        }
        "java" => {
            if let Some(pom) = read(root, "pom.xml") {
                let without_parent = regex::Regex::new(r"(?s)<parent>.*?</parent>")
                    .expect("valid regex")
                    .replace(&pom, "");
                let re = regex::Regex::new(r"<artifactId>\s*([^<\s]+)\s*</artifactId>")
                    .expect("valid regex");
                return re.captures(&without_parent).map(|c| c[1].to_owned());
            }
            let settings =
                read(root, "settings.gradle").or_else(|| read(root, "settings.gradle.kts"))?;
            let re = regex::Regex::new(r#"rootProject\.name\s*=\s*['"]([^'"]+)['"]"#)
                .expect("valid regex");
            re.captures(&settings).map(|c| c[1].to_owned())
        }
        _ => None,
    }
}

/// The first Dockerfile at the usual places, parsed.
pub fn find_dockerfile(root: &Path) -> Option<DockerfileInfo> {
    let path = [
        "Dockerfile",
        "Containerfile",
        "docker/Dockerfile",
        "build/Dockerfile",
    ]
    .into_iter()
    .find(|p| root.join(p).is_file())?;
    let text = read(root, path)?;
    Some(parse_dockerfile(path, &text))
}

/// Stages, EXPOSE, HEALTHCHECK and catalogue base images of a Dockerfile.
pub fn parse_dockerfile(path: &str, text: &str) -> DockerfileInfo {
    // Join continuation lines, drop comments.
    let mut lines = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let l = raw.trim();
        if l.starts_with('#') && cur.is_empty() {
            continue;
        }
        if let Some(stripped) = l.strip_suffix('\\') {
            cur.push_str(stripped);
            cur.push(' ');
        } else {
            cur.push_str(l);
            lines.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    let mut info = DockerfileInfo {
        path: path.to_owned(),
        vendor_in_workspace: lines
            .iter()
            .any(|l| l.starts_with("ENV ") && l.contains("COMPOSER_VENDOR_DIR=/workspace/vendor")),
        ..DockerfileInfo::default()
    };
    let mut global_args: Vec<(String, String)> = Vec::new();
    let mut seen_from = false;
    // Image -> logical name; the first name wins (`python` before `python-runtime`).
    let mut defaults: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (n, i) in catalog::DEFAULTS {
        defaults.entry(*i).or_insert(*n);
    }
    for line in &lines {
        let mut words = line.split_whitespace();
        let Some(instr) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        match instr.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for a in &rest {
                    if let Some((k, v)) = a.split_once('=') {
                        global_args.push((k.to_owned(), v.trim_matches('"').to_owned()));
                    }
                }
            }
            "FROM" => {
                seen_from = true;
                let args: Vec<&str> = rest
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                if let Some(image) = args.first() {
                    let var = image
                        .trim_start_matches('$')
                        .trim_start_matches('{')
                        .trim_end_matches('}');
                    if image.starts_with('$') {
                        if let Some((_, default)) = global_args.iter().find(|(k, _)| k == var) {
                            // Prefer the runtime name for a runtime stage when both map.
                            if let Some(logical) = defaults.get(default.as_str()) {
                                let logical = (*logical).to_owned();
                                if !info.bases.iter().any(|(a, _)| a == var) {
                                    info.bases.push((var.to_owned(), logical));
                                }
                            }
                        }
                    }
                }
                if args.len() >= 3 && args[1].eq_ignore_ascii_case("as") {
                    info.stages.push(args[2].to_owned());
                }
            }
            "EXPOSE" if info.expose.is_none() => {
                info.expose = rest
                    .first()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok());
            }
            "HEALTHCHECK" => {
                info.healthcheck = !rest.first().is_some_and(|w| w.eq_ignore_ascii_case("none"));
            }
            _ => {}
        }
    }
    info
}

/// The first Helm chart at the usual places (the directory holding Chart.yaml).
pub fn find_chart(root: &Path) -> Option<String> {
    for p in ["deploy/chart", "chart", "helm", "deploy/helm"] {
        if root.join(p).join("Chart.yaml").is_file() {
            return Some(p.to_owned());
        }
    }
    for parent in ["charts", "helm", "deploy/helm", "deploy/charts", "deploy"] {
        let Ok(entries) = fs_err::read_dir(root.join(parent)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("Chart.yaml").is_file())
            .collect();
        found.sort();
        if let Some(f) = found.first() {
            let name = f.file_name()?.to_string_lossy().into_owned();
            return Some(format!("{parent}/{name}"));
        }
    }
    None
}

/// The [tasks] of an adopted repository: tests in the Dockerfile's test stage when there
/// is one, else in the catalogue's builder image; linters and formatters in containers.
fn tasks(
    root: &Path,
    stack: &str,
    dockerfile: Option<&DockerfileInfo>,
    detection: Option<&crate::detect::Report>,
    services: &[String],
) -> String {
    let services_line = if services.is_empty() {
        String::new()
    } else {
        format!(
            "services = {}\n",
            toml::Value::Array(services.iter().cloned().map(toml::Value::String).collect())
        )
    };
    let test_stage = dockerfile.and_then(DockerfileInfo::test_stage);
    let detected = detection.and_then(|r| detected_test(r, test_stage.is_some()));
    // PHP's packages of the test stage, over the repository's (none, usually).
    let vendor = match (test_stage, dockerfile) {
        (Some(_), Some(d)) => d.task_vendor_line(),
        _ => "",
    };
    let has = |p: &str| root.join(p).exists();
    let where_ = |image: &str| match test_stage {
        Some(s) => format!("stage = {}\n", quote(s)),
        None => format!("image = {}\n", quote(image)),
    };
    let mut t = String::new();
    let mut hint = "";
    let mut task = |name: &str, run: &str, place: &str, description: &str| {
        // The project's own test command, when detection found one.
        let (run, description) = match (&detected, name) {
            (Some((run, shown)), "test-unit") => (
                run.as_str(),
                format!(
                    "{} (`{shown}`, detected){}",
                    description.split(" (").next().unwrap_or(description),
                    description
                        .split_once(") ")
                        .map(|(_, rest)| format!(" {rest}"))
                        .unwrap_or_default()
                ),
            ),
            _ => (run, description.to_owned()),
        };
        t.push_str(&format!(
            "[tasks.{name}]\nrun = {run}\n{place}{}description = {}\n\n",
            if name == "test-unit" {
                services_line.as_str()
            } else {
                ""
            },
            quote(&description)
        ));
    };
    let in_container = if test_stage.is_some() {
        "in the Dockerfile's test stage"
    } else {
        "in the builder image"
    };
    match stack {
        "python" => {
            let text = [
                "pyproject.toml",
                "requirements.txt",
                "requirements-dev.txt",
                "setup.cfg",
            ]
            .iter()
            .filter_map(|f| read(root, f))
            .collect::<String>();
            let (run, what) = if text.contains("pytest") {
                (r#"["python3", "-m", "pytest"]"#, "pytest")
            } else if has("tests") {
                (
                    r#"["python3", "-m", "unittest", "discover", "-s", "tests", "-v"]"#,
                    "unittest",
                )
            } else {
                (
                    r#"["python3", "-m", "unittest", "discover", "-v"]"#,
                    "unittest",
                )
            };
            task(
                "test-unit",
                run,
                &where_("python"),
                &format!("unit tests ({what}) {in_container}"),
            );
            task(
                "style",
                r#""pip install -q --root-user-action=ignore --target /tmp/tools ruff==0.8.4 && /tmp/tools/bin/ruff check --no-cache .""#,
                "image = \"python\"\n",
                "lint with ruff (installed in the container; needs network access)",
            );
            task(
                "format",
                r#""pip install -q --root-user-action=ignore --target /tmp/tools ruff==0.8.4 && /tmp/tools/bin/ruff format --no-cache .""#,
                "image = \"python\"\n",
                "format with ruff (installed in the container; needs network access)",
            );
        }
        "node" => {
            let run = if test_stage.is_some() {
                r#"["npm", "test"]"#
            } else {
                r#""npm ci && npm test""#
            };
            task(
                "test-unit",
                run,
                &where_("node"),
                &format!("unit tests (npm test) {in_container}"),
            );
            task(
                "style",
                r#"["npx", "--yes", "eslint@9.17.0", "."]"#,
                "image = \"node\"\n",
                "lint with ESLint (fetched by npx; needs network access)",
            );
            task(
                "format",
                r#"["npx", "--yes", "prettier@3.4.2", "--write", "."]"#,
                "image = \"node\"\n",
                "format with Prettier (fetched by npx; needs network access)",
            );
        }
        "go" => {
            task(
                "test-unit",
                r#"["go", "test", "./..."]"#,
                &where_("go-builder"),
                &format!("unit tests (go test) {in_container}"),
            );
            task(
                "style",
                r#"["golangci-lint", "run", "./..."]"#,
                "image = \"golangci/golangci-lint:v1.62.2\"\n",
                "lint with golangci-lint",
            );
            task(
                "format",
                r#"["gofmt", "-l", "-w", "."]"#,
                "image = \"go-builder\"\n",
                "format with gofmt",
            );
        }
        "rust" => {
            task(
                "test-unit",
                r#"["cargo", "test", "--locked"]"#,
                &where_("rust-builder"),
                &format!("unit tests (cargo test) {in_container}"),
            );
            task(
                "style",
                r#""rustup component add clippy >/dev/null 2>&1; cargo clippy --locked --all-targets -- -D warnings""#,
                "image = \"rust-builder\"\n",
                "lint with clippy",
            );
            task(
                "format",
                r#""rustup component add rustfmt >/dev/null 2>&1; cargo fmt --all""#,
                "image = \"rust-builder\"\n",
                "format with rustfmt",
            );
        }
        "java" => {
            if has("pom.xml") {
                let place = match test_stage {
                    Some(s) => format!("stage = {}\n", quote(s)),
                    None => "image = \"maven:3-eclipse-temurin-21\"\n".to_owned(),
                };
                task(
                    "test-unit",
                    r#"["mvn", "-B", "test"]"#,
                    &place,
                    &format!(
                        "unit tests (Maven) {}",
                        if test_stage.is_some() {
                            in_container
                        } else {
                            "in a Maven image"
                        }
                    ),
                );
            } else if has("gradlew") {
                task(
                    "test-unit",
                    r#"["./gradlew", "test", "--no-daemon"]"#,
                    &where_("java-builder"),
                    &format!("unit tests (Gradle wrapper) {in_container}"),
                );
            } else {
                let place = match test_stage {
                    Some(s) => format!("stage = {}\n", quote(s)),
                    None => "image = \"gradle:8-jdk21\"\n".to_owned(),
                };
                task(
                    "test-unit",
                    r#"["gradle", "test", "--no-daemon"]"#,
                    &place,
                    "unit tests (Gradle)",
                );
            }
        }
        "php" if detection.is_some() && detected.is_none() => {
            // No PHPUnit, Pest or framework test command: none is invented.
            hint = "# No test command was found (PHPUnit, Pest, `php artisan test`): declare yours, e.g.\n# [tasks.test-unit]\n# run = [\"vendor/bin/phpunit\"]\n\n";
        }
        "php" => {
            // No catalogue image has PHP yet: Composer's own image has php and composer.
            task(
                "test-unit",
                r#"["vendor/bin/phpunit"]"#,
                &format!("{}{vendor}", where_("composer:2")),
                &format!(
                    "unit tests (PHPUnit) {}",
                    if test_stage.is_some() {
                        in_container
                    } else {
                        "in Composer's image"
                    }
                ),
            );
        }
        _ => {
            if test_stage.is_some() {
                hint = "# The Dockerfile has a test stage: declare what runs in it, e.g.\n# [tasks.test-unit]\n# run = [\"sh\", \"tests/check.sh\"]\n# stage = \"test\"\n\n";
            }
            task(
                "style",
                r#"["npx", "--yes", "htmlhint@1.1.4", "."]"#,
                "image = \"node\"\n",
                "lint the HTML with HTMLHint (fetched by npx; needs network access)",
            );
        }
    }
    format!("{hint}{t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_variables_get_the_value_their_name_says() {
        use crate::detect::ServiceKind::{Mysql, Postgres, Redis};
        let cases = [
            (Postgres, "DATABASE_URL", Some("{url}")),
            (Postgres, "POSTGRES_HOST", Some("{host}")),
            (Postgres, "DB_PORT", Some("{port}")),
            (Postgres, "DB_DATABASE", Some("{database}")),
            (Postgres, "POSTGRES_DB", Some("{database}")),
            (Mysql, "DB_USERNAME", Some("{user}")),
            (Mysql, "DB_PASSWORD", Some("{password}")),
            (Mysql, "DB_CONNECTION", Some("mysql")),
            (Postgres, "DB_CONNECTION", Some("pgsql")),
            (
                Postgres,
                "SPRING_DATASOURCE_URL",
                Some("jdbc:postgresql://{host}:{port}/{database}"),
            ),
            (Redis, "REDIS_URL", Some("{url}")),
            (Redis, "REDIS_HOST", Some("{host}")),
            (Redis, "REDIS_NAME", None),
            (Postgres, "PGSSLMODE", None),
        ];
        for (kind, var, want) in cases {
            assert_eq!(service_var(kind, var).as_deref(), want, "{var}");
        }
    }

    #[test]
    fn dockerfile_stages_and_bases() {
        let d = parse_dockerfile(
            "Dockerfile",
            "# syntax\nARG PYTHON_IMAGE=python:3.12-slim-bookworm\nARG OTHER=acme/base:1\nFROM ${PYTHON_IMAGE} AS base\nFROM base AS test\nFROM $OTHER as runtime\nEXPOSE 9000/tcp\nHEALTHCHECK \\\n  CMD true\n",
        );
        assert_eq!(d.stages, ["base", "test", "runtime"]);
        assert_eq!(d.expose, Some(9000));
        assert!(d.healthcheck);
        assert_eq!(d.bases, [("PYTHON_IMAGE".to_owned(), "python".to_owned())]);
        assert_eq!(d.runtime_stage(), Some("runtime"));
        assert_eq!(d.test_stage(), Some("test"));
    }
}
