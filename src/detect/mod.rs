//! The detection engine of `lbc init --adopt`: what an existing repository is (stack,
//! framework, package manager), how it starts (command and port), how its own tools test
//! it, which backing services it needs (with the variables the framework reads) and how
//! it migrates them — every conclusion with the file and line that support it.
//!
//! Detection is a pure function of the directory: it starts no process, reads at most
//! [`evidence::MAX_READ`] bytes of any file, never follows a symbolic link and never
//! enters dependency or build directories ([`evidence::SKIP_DIRS`]). The rules and the
//! precedence between stacks are documented in docs/adopt.md.

pub mod evidence;
mod go;
mod java;
mod node;
mod php;
mod python;
mod rust;
pub mod services;
mod summary;

use serde::Serialize;

pub use evidence::{Evidence, Repo};
pub use services::{Service, ServiceKind};
pub use summary::{sh_join, TestRun};

use std::path::Path;

/// The stacks the engine knows.
pub const STACKS: &[&str] = &["go", "java", "node", "php", "python", "rust"];

/// What the user already decided (flags); detection reports the rest.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--stack`: look only for this stack.
    pub stack: Option<String>,
    /// `--set port=PORT`.
    pub port: Option<u16>,
    /// `--set binary=NAME`: which of several binaries (Go `cmd/`, Rust bins) is the service.
    pub binary: Option<String>,
    /// `--set start=NAME`: which of several ways to start (Laravel: `artisan-serve`, `php-fpm`).
    pub start: Option<String>,
}

/// How strongly a stack claims the repository; the strongest claim wins (docs/adopt.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// Only a manifest (dependencies, tooling).
    Manifest,
    /// A runnable application: an entry point, a start script, a main package, a binary.
    Application,
    /// A web framework the engine knows.
    Framework,
}

/// A command (argv) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub command: Vec<String>,
    pub evidence: Vec<Evidence>,
}

impl Command {
    pub fn new(argv: &[&str], evidence: Vec<Evidence>) -> Self {
        Command {
            command: argv.iter().map(|s| (*s).to_owned()).collect(),
            evidence,
        }
    }
}

/// The dependency manager, from its lockfile or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageManager {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<String>,
    /// Installs the locked dependencies (what a Dockerfile's dependency layer runs).
    pub install: Vec<String>,
    /// Runs a command in the project's environment (`uv run`, `poetry run`); empty when
    /// the dependencies are installed on PATH.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// One of several ways the service could start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub name: String,
    pub command: Vec<String>,
    pub note: String,
}

/// The start command: found, chosen among `choices`, or undetermined (then `flag` sets it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Start {
    pub command: Option<Vec<String>>,
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// The flag that decides, when the engine did not (or chose a default among choices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// Where the port came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortSource {
    Flag,
    Dockerfile,
    Settings,
    EnvExample,
    Code,
    /// The default of the framework or of the start command lbc chose.
    Default,
    Undetermined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub value: Option<u16>,
    pub source: PortSource,
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// How the schema of a database is brought up to date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub tool: String,
    /// The command to run before the new version starts; `None` when the application
    /// migrates by itself at start (`at_start`).
    pub command: Option<Vec<String>>,
    pub at_start: bool,
    pub evidence: Vec<Evidence>,
}

/// A stack found beside the one chosen, and why it is not the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlsoFound {
    pub stack: String,
    pub role: String,
    pub evidence: Vec<Evidence>,
}

/// The detection report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub stack: String,
    pub framework: Option<String>,
    pub strength: Strength,
    /// Why this stack and framework.
    pub evidence: Vec<Evidence>,
    pub package_manager: Option<PackageManager>,
    /// A build step before start (TypeScript, `go build`, `cargo build`, a Boot jar).
    pub build: Option<Command>,
    /// Binaries the repository has when there are several (Go `cmd/`, Rust workspaces).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
    pub start: Start,
    pub port: Port,
    pub test: Option<Command>,
    pub services: Vec<Service>,
    pub migration: Option<Migration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_found: Vec<AlsoFound>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report of `stack`, to be filled by its detector.
    fn new(stack: &str, strength: Strength, evidence: Vec<Evidence>) -> Self {
        Report {
            stack: stack.to_owned(),
            framework: None,
            strength,
            evidence,
            package_manager: None,
            build: None,
            binaries: Vec::new(),
            start: Start::default(),
            port: Port {
                value: None,
                source: PortSource::Undetermined,
                evidence: Vec::new(),
                flag: None,
            },
            test: None,
            services: Vec::new(),
            migration: None,
            also_found: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// `argv` as it runs in the project's environment: behind the package manager's
    /// runner (`uv run`, `poetry run`, `pipenv run`) when it has one. The report's own
    /// commands are written for an environment where the dependencies are on PATH.
    pub fn in_env(&self, argv: &[String]) -> Vec<String> {
        let prefix = self.package_manager.as_ref().map(|p| p.run.clone());
        prefix
            .unwrap_or_default()
            .into_iter()
            .chain(argv.iter().cloned())
            .collect()
    }

    /// The distinct files of the stack's evidence, in order.
    pub fn files(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.evidence {
            if !out.contains(&e.file) {
                out.push(e.file.clone());
            }
        }
        out
    }
}

/// A stack that claims the repository, when detection cannot decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub stack: String,
    pub framework: Option<String>,
    pub strength: Strength,
    pub files: Vec<String>,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.stack, self.files.join(", "))?;
        if let Some(fw) = &self.framework {
            write!(f, " [{fw}]")?;
        }
        Ok(())
    }
}

/// Why detection gave no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// Several stacks claim the repository equally.
    #[error("{} holds more than one stack: {}", root, candidates.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Ambiguous {
        root: String,
        candidates: Vec<Candidate>,
    },
    /// No stack the engine supports; `found` lists what is there.
    #[error("lbc found no supported stack in {root}{}", if found.is_empty() { String::new() } else { format!(" (found: {})", found.join(", ")) })]
    Unsupported { root: String, found: Vec<String> },
}

impl DetectError {
    pub fn hint(&self) -> String {
        match self {
            DetectError::Ambiguous { candidates, .. } => format!(
                "choose one with --stack, e.g. `lbc init --adopt --stack {}`",
                candidates.first().map_or("python", |c| c.stack.as_str())
            ),
            DetectError::Unsupported { .. } => format!(
                "lbc detects {}; choose a stack with --stack",
                STACKS.join(", ")
            ),
        }
    }
}

/// Detection context shared by the stack detectors: what every stack reads the same way.
pub(crate) struct Ctx<'a> {
    pub repo: &'a Repo,
    pub opts: &'a Options,
    pub env: Vec<services::EnvVar>,
    pub expose: Option<(u16, Evidence)>,
}

/// Detects the repository at `root`.
pub fn detect(root: &Path, opts: &Options) -> Result<Report, DetectError> {
    let repo = Repo::new(root);
    let ctx = Ctx {
        repo: &repo,
        opts,
        env: services::env_example(&repo),
        expose: dockerfile_expose(&repo),
    };
    type Detector = fn(&Ctx) -> Option<Report>;
    let detectors: [(&str, Detector); 6] = [
        ("go", go::detect),
        ("java", java::detect),
        ("node", node::detect),
        ("php", php::detect),
        ("python", python::detect),
        ("rust", rust::detect),
    ];
    let mut found: Vec<Report> = detectors
        .iter()
        .filter(|(s, _)| opts.stack.as_deref().is_none_or(|w| w == *s))
        .filter_map(|(_, d)| d(&ctx))
        .collect();
    let root_s = root.display().to_string();
    if found.is_empty() {
        return Err(DetectError::Unsupported {
            root: root_s,
            found: unsupported_markers(&repo),
        });
    }
    let mut also = Vec::new();
    // A package.json beside composer.json is the asset build of the PHP application
    // (Laravel's Vite, Symfony's Encore) unless it declares a server framework itself.
    if found.iter().any(|r| r.stack == "php") {
        if let Some(i) = found
            .iter()
            .position(|r| r.stack == "node" && r.strength < Strength::Framework)
        {
            let n = found.remove(i);
            also.push(AlsoFound {
                stack: n.stack,
                role: "front-end assets of the PHP application (package.json beside composer.json, no Node server framework)".into(),
                evidence: n.evidence,
            });
        }
    }
    let best = found.iter().map(|r| r.strength).max().expect("not empty");
    let (top, rest): (Vec<Report>, Vec<Report>) =
        found.into_iter().partition(|r| r.strength == best);
    if top.len() > 1 {
        return Err(DetectError::Ambiguous {
            root: root_s,
            candidates: top
                .iter()
                .map(|r| Candidate {
                    stack: r.stack.clone(),
                    framework: r.framework.clone(),
                    strength: r.strength,
                    files: r.files(),
                })
                .collect(),
        });
    }
    let mut report = top.into_iter().next().expect("one");
    procfile(&repo, &mut report);
    if let Some(want) = &opts.start {
        // `--set start=NAME` picks one of the choices; anything else is the command itself.
        if let Some(c) = report.start.choices.iter().find(|c| c.name == *want) {
            report.start.command = Some(c.command.clone());
        } else if let Some(argv) = shlex::split(want).filter(|a| !a.is_empty()) {
            report.start.command = Some(argv);
            report.start.evidence = Vec::new();
        }
        report.start.flag = None;
    }
    for r in rest {
        let role = match (r.stack.as_str(), report.strength) {
            ("node", _) => "front-end assets or tooling (no Node server framework)".to_owned(),
            _ => format!(
                "{} only, weaker than the {} of {}",
                strength_words(r.strength),
                strength_words(report.strength),
                report.stack
            ),
        };
        also.push(AlsoFound {
            stack: r.stack,
            role,
            evidence: r.evidence,
        });
    }
    for a in &also {
        report.notes.push(format!(
            "also found {} ({}): {}",
            a.stack,
            a.evidence
                .iter()
                .map(|e| e.file.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            a.role
        ));
    }
    report.also_found = also;
    Ok(report)
}

fn strength_words(s: Strength) -> &'static str {
    match s {
        Strength::Manifest => "a manifest",
        Strength::Application => "an application",
        Strength::Framework => "a web framework",
    }
}

/// The port of a report, by the precedence of docs/adopt.md: the flag, the Dockerfile's
/// EXPOSE, then what the detector found (settings, `.env.example`, code, a default).
pub(crate) fn resolve_port(ctx: &Ctx, found: Option<(u16, PortSource, Evidence)>) -> Port {
    if let Some(p) = ctx.opts.port {
        return Port {
            value: Some(p),
            source: PortSource::Flag,
            evidence: Vec::new(),
            flag: None,
        };
    }
    if let Some((p, e)) = &ctx.expose {
        return Port {
            value: Some(*p),
            source: PortSource::Dockerfile,
            evidence: vec![e.clone()],
            flag: None,
        };
    }
    for name in ["PORT", "APP_PORT", "SERVER_PORT", "HTTP_PORT"] {
        if let Some(v) = ctx.env.iter().find(|v| v.name == name) {
            if let Ok(p) = v.value.parse::<u16>() {
                if found
                    .as_ref()
                    .is_none_or(|(_, s, _)| *s != PortSource::Settings)
                {
                    return Port {
                        value: Some(p),
                        source: PortSource::EnvExample,
                        evidence: vec![Evidence::at(&v.file, v.line, format!("{name}={p}"))],
                        flag: None,
                    };
                }
            }
        }
    }
    match found {
        Some((p, source, e)) => Port {
            value: Some(p),
            source,
            evidence: vec![e],
            flag: (source == PortSource::Default).then(|| "--set port=PORT".to_owned()),
        },
        None => Port {
            value: None,
            source: PortSource::Undetermined,
            evidence: Vec::new(),
            flag: Some("--set port=PORT".to_owned()),
        },
    }
}

/// The first EXPOSE of the Dockerfile at the usual places.
fn dockerfile_expose(repo: &Repo) -> Option<(u16, Evidence)> {
    let re = regex::Regex::new(r"(?im)^\s*EXPOSE\s+(\d+)").expect("valid regex");
    for f in [
        "Dockerfile",
        "Containerfile",
        "docker/Dockerfile",
        "build/Dockerfile",
    ] {
        if let Some(text) = repo.read(f) {
            if let Some((line, p)) = evidence::find_re(&text, &re) {
                if let Ok(p) = p.parse() {
                    return Some((p, Evidence::at(f, line, format!("EXPOSE {p}"))));
                }
            }
        }
    }
    None
}

/// A Procfile's `web:` process is the project's own start command: it wins over the
/// engine's, which stays a choice. It runs with `sh -c` as written (it may use `$PORT`).
fn procfile(repo: &Repo, report: &mut Report) {
    let Some(text) = repo.read("Procfile") else {
        return;
    };
    let Some((line, cmd)) = text.lines().enumerate().find_map(|(i, l)| {
        l.trim()
            .strip_prefix("web:")
            .map(|c| (i + 1, c.trim().to_owned()))
    }) else {
        return;
    };
    if cmd.is_empty() {
        return;
    }
    if let Some(c) = report.start.command.take() {
        if !report.start.choices.iter().any(|x| x.command == c) {
            report.start.choices.push(Choice {
                name: "detected".into(),
                command: c,
                note: "the start command the engine derived from the framework".into(),
            });
        }
    }
    let argv = strs(&["sh", "-c", &cmd]);
    report.start.choices.insert(
        0,
        Choice {
            name: "procfile".into(),
            command: argv.clone(),
            note: "the Procfile's web process".into(),
        },
    );
    report.start.command = Some(argv);
    report.start.evidence = vec![Evidence::at("Procfile", line, "web process")];
    report.start.flag = None;
}

/// Files that name a stack the engine does not support, and else the files at the root.
fn unsupported_markers(repo: &Repo) -> Vec<String> {
    let known: &[(&str, &str)] = &[
        ("Gemfile", "ruby"),
        ("mix.exs", "elixir"),
        ("build.sbt", "scala"),
        ("pubspec.yaml", "dart"),
        ("Package.swift", "swift"),
        ("deno.json", "deno"),
        ("CMakeLists.txt", "c/c++"),
        ("Makefile", "make"),
        ("stack.yaml", "haskell"),
        ("rebar.config", "erlang"),
        ("project.clj", "clojure"),
        ("index.html", "static site"),
    ];
    let names = repo.list("");
    let mut out: Vec<String> = Vec::new();
    for n in &names {
        if let Some((_, what)) = known.iter().find(|(f, _)| f == n) {
            out.push(format!("{n} ({what})"));
        } else if n.ends_with(".csproj") || n.ends_with(".sln") || n.ends_with(".fsproj") {
            out.push(format!("{n} (.NET)"));
        }
    }
    if out.is_empty() {
        out = names
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .take(20)
            .collect();
    }
    out
}

/// A dependency named in a manifest, with where.
#[derive(Debug, Clone)]
pub(crate) struct Dep {
    /// Normalised (lower case; Python `_` and `.` as `-`).
    pub name: String,
    pub file: String,
    pub line: usize,
    /// Only in development or test groups.
    pub dev: bool,
}

pub(crate) fn find_dep<'a>(deps: &'a [Dep], names: &[&str]) -> Option<&'a Dep> {
    names
        .iter()
        .find_map(|n| deps.iter().find(|d| d.name == *n))
}

pub(crate) fn dep_evidence(d: &Dep, what: &str) -> Evidence {
    Evidence::at(&d.file, d.line, format!("{} {what}", d.name))
}

/// The 1-based line where a dependency named `name` appears as a whole word, after
/// the line `after` (a section header), else anywhere.
pub(crate) fn dep_line(text: &str, name: &str, after: usize) -> usize {
    let re = regex::Regex::new(&format!(
        r#"(?i)(^|[^A-Za-z0-9_.\-/]){}([^A-Za-z0-9_\-/]|$)"#,
        regex::escape(name)
    ))
    .expect("valid regex");
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .skip(after)
        .chain(lines.iter().enumerate())
        .find(|(_, l)| re.is_match(l))
        .map_or(1, |(i, _)| i + 1)
}

pub(crate) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}
