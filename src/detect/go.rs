//! Go: modules, a main package at the root or one per `cmd/NAME` (several binaries are a
//! choice: `--set binary=NAME`).

use super::evidence::{find_re, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    resolve_port, strs, Choice, Command, Ctx, Dep, PackageManager, PortSource, Report, Strength,
};

const SERVICE_DEPS: &[(&str, ServiceKind)] = &[
    ("github.com/lib/pq", ServiceKind::Postgres),
    ("github.com/jackc/pgx", ServiceKind::Postgres),
    ("gorm.io/driver/postgres", ServiceKind::Postgres),
    ("github.com/go-sql-driver/mysql", ServiceKind::Mysql),
    ("gorm.io/driver/mysql", ServiceKind::Mysql),
    ("github.com/redis/go-redis", ServiceKind::Redis),
    ("github.com/go-redis/redis", ServiceKind::Redis),
    ("github.com/gomodule/redigo", ServiceKind::Redis),
];

const FRAMEWORKS: &[(&str, &str)] = &[
    ("github.com/gin-gonic/gin", "gin"),
    ("github.com/labstack/echo", "echo"),
    ("github.com/go-chi/chi", "chi"),
    ("github.com/gofiber/fiber", "fiber"),
];

/// `example.com/x/v2` -> `example.com/x`.
fn strip_major(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((head, last))
            if last.len() > 1
                && last.starts_with('v')
                && last[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            head.to_owned()
        }
        _ => path.to_owned(),
    }
}

fn is_main_dir(ctx: &Ctx, dir: &str) -> Option<(String, usize)> {
    for f in ctx.repo.walk(dir, 0, &[".go"]) {
        if f.ends_with("_test.go") {
            continue;
        }
        let text = ctx.repo.read(&f)?;
        if let Some(l) = text
            .lines()
            .position(|l| l.trim() == "package main")
            .map(|i| i + 1)
        {
            return Some((f, l));
        }
    }
    None
}

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let text = repo.read("go.mod")?;
    let module = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"').to_owned())
        .unwrap_or_default();
    let mut deps = Vec::new();
    let mut in_block = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with("require (") {
            in_block = true;
            continue;
        }
        if in_block && t == ")" {
            in_block = false;
            continue;
        }
        let spec = if in_block {
            Some(t)
        } else {
            t.strip_prefix("require ")
        };
        if let Some(spec) = spec {
            if let Some(path) = spec.split_whitespace().next().filter(|p| p.contains('.')) {
                deps.push(Dep {
                    name: strip_major(path),
                    file: "go.mod".into(),
                    line: i + 1,
                    // `// indirect`: a dependency of a dependency (gorm's dialect
                    // drivers), not evidence of what the application connects to.
                    dev: spec.contains("// indirect"),
                });
            }
        }
    }
    let mut evidence = vec![Evidence::at("go.mod", 1, format!("Go module {module}"))];
    let mut report = Report::new("go", Strength::Manifest, Vec::new());
    report.package_manager = Some(PackageManager {
        name: "go".into(),
        lockfile: repo.is_file("go.sum").then(|| "go.sum".to_owned()),
        install: strs(&["go", "mod", "download"]),
        run: Vec::new(),
        evidence: vec![Evidence::file("go.mod", "Go modules")],
    });
    if let Some((fw, d)) = FRAMEWORKS
        .iter()
        .find_map(|(p, fw)| deps.iter().find(|d| d.name == *p).map(|d| (*fw, d)))
    {
        report.framework = Some(fw.into());
        evidence.push(super::dep_evidence(d, "dependency"));
    }

    // Binaries: the root's main package, and one per cmd/NAME.
    let base = module
        .rsplit('/')
        .next()
        .map(|_| strip_major(&module))
        .and_then(|m| m.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "server".into());
    let mut bins: Vec<(String, String, Evidence)> = Vec::new(); // (name, package dir, evidence)
    if let Some((f, l)) = is_main_dir(ctx, "") {
        bins.push((
            base.clone(),
            ".".into(),
            Evidence::at(&f, l, "package main"),
        ));
    }
    for d in repo.list("cmd") {
        let dir = format!("cmd/{d}");
        if repo.is_dir(&dir) {
            if let Some((f, l)) = is_main_dir(ctx, &dir) {
                bins.push((
                    d.clone(),
                    format!("./{dir}"),
                    Evidence::at(&f, l, "package main"),
                ));
            }
        }
    }
    if !bins.is_empty() {
        report.strength = Strength::Application;
    }
    for (_, _, e) in &bins {
        evidence.push(e.clone());
    }
    report.binaries = bins.iter().map(|(n, _, _)| n.clone()).collect();
    let build_of = |(name, dir, _): &(String, String, Evidence)| {
        (
            strs(&["go", "build", "-o", &format!("bin/{name}"), dir]),
            vec![format!("bin/{name}")],
        )
    };
    let chosen = match (bins.len(), &ctx.opts.binary) {
        (0, _) => {
            report.start.flag = Some("--set start=COMMAND".into());
            report
                .notes
                .push("no main package at the root or in cmd/*: nothing to start".into());
            None
        }
        (1, _) => Some(0),
        (_, Some(b)) => match bins.iter().position(|(n, _, _)| n == b) {
            Some(i) => Some(i),
            None => {
                report.notes.push(format!(
                    "--set binary={b}: no such binary (the binaries are {})",
                    report.binaries.join(", ")
                ));
                None
            }
        },
        _ => None,
    };
    if bins.len() > 1 {
        report.start.choices = bins
            .iter()
            .map(|b| Choice {
                name: b.0.clone(),
                command: build_of(b).1,
                note: format!("built from {}", b.1),
            })
            .collect();
        if chosen.is_none() {
            report.start.flag = Some("--set binary=NAME".into());
        }
    }
    let mut port_files: Vec<String> = Vec::new();
    if let Some(i) = chosen {
        let (build, start) = build_of(&bins[i]);
        report.build = Some(Command {
            command: build,
            evidence: vec![bins[i].2.clone()],
        });
        report.start.command = Some(start);
        report.start.evidence = vec![bins[i].2.clone()];
        let dir = bins[i].1.trim_start_matches("./").trim_start_matches('.');
        port_files = repo.walk(dir, if dir.is_empty() { 0 } else { 2 }, &[".go"]);
    }
    port_files.extend(repo.walk("internal", 3, &[".go"]).into_iter().take(200));
    // A literal address where the server listens (not any "host:port" string: a
    // database's address is not the service's port), or a `port` variable's default.
    let res = [
        regex::Regex::new(
            r#"(?:Listen\w*\(|Addr\s*:|\.Run\(|\.Start\()[^\n]*?"[\w.\-\[\]]*:(\d{2,5})""#,
        )
        .expect("valid regex"),
        regex::Regex::new(r#"(?i)\bport\s*(?::=|=)\s*":?(\d{2,5})""#).expect("valid regex"),
    ];
    let mut port_found = None;
    for f in port_files.iter().filter(|f| !f.ends_with("_test.go")) {
        if let Some(t) = repo.read(f) {
            if let Some((l, p)) = res.iter().find_map(|re| find_re(&t, re)) {
                if let Ok(p) = p.parse::<u16>() {
                    port_found = Some((
                        p,
                        PortSource::Code,
                        Evidence::at(f, l, format!("listens on :{p}")),
                    ));
                    break;
                }
            }
        }
    }
    report.port = resolve_port(ctx, port_found);
    report.test = Some(Command::new(
        &["go", "test", "./..."],
        vec![Evidence::file("go.mod", "Go's test runner")],
    ));
    let mut found = Found::default();
    found.add_deps(&deps, SERVICE_DEPS);
    report.evidence = evidence;
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| {
        services::declared_or_url(k, &env)
    });
    Some(report)
}
