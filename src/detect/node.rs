//! Node: NestJS, Next.js, Fastify, Express; npm, yarn and pnpm by lockfile; a build
//! step (TypeScript from tsconfig.json and a `build` script).

use super::evidence::{find_re, line_of, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    dep_evidence, find_dep, resolve_port, strs, Command, Ctx, Dep, Migration, PackageManager,
    PortSource, Report, Start, Strength,
};

const SERVICE_DEPS: &[(&str, ServiceKind)] = &[
    ("pg", ServiceKind::Postgres),
    ("postgres", ServiceKind::Postgres),
    ("pg-promise", ServiceKind::Postgres),
    ("@vercel/postgres", ServiceKind::Postgres),
    ("mysql", ServiceKind::Mysql),
    ("mysql2", ServiceKind::Mysql),
    ("mariadb", ServiceKind::Mysql),
    ("redis", ServiceKind::Redis),
    ("ioredis", ServiceKind::Redis),
    ("@redis/client", ServiceKind::Redis),
    ("bullmq", ServiceKind::Redis),
];

/// npm's placeholder `test` script.
const NO_TEST: &str = "no test specified";

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let text = repo.read("package.json")?;
    let pkg: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let mut r = Report::new(
                "node",
                Strength::Manifest,
                vec![Evidence::file("package.json", "Node manifest")],
            );
            r.notes.push(format!("package.json does not parse: {e}"));
            r.port = resolve_port(ctx, None);
            return Some(r);
        }
    };
    let mut deps: Vec<Dep> = Vec::new();
    for (section, dev) in [
        ("dependencies", false),
        ("devDependencies", true),
        ("optionalDependencies", false),
    ] {
        let Some(obj) = pkg.get(section).and_then(|d| d.as_object()) else {
            continue;
        };
        let after = line_of(&text, &format!("\"{section}\"")).unwrap_or(0);
        for k in obj.keys() {
            let line = super::dep_line(&text, &format!("\"{k}\""), after);
            deps.push(Dep {
                name: k.to_ascii_lowercase(),
                file: "package.json".into(),
                line,
                dev,
            });
        }
    }
    let script = |name: &str| -> Option<(String, usize)> {
        let s = pkg.get("scripts")?.get(name)?.as_str()?.to_owned();
        Some((s, line_of(&text, &format!("\"{name}\"")).unwrap_or(1)))
    };
    let mut evidence = vec![Evidence::file("package.json", "Node manifest")];
    let mut report = Report::new("node", Strength::Manifest, Vec::new());

    // Package manager: the lockfile decides; several lockfiles are reported.
    let locks: Vec<(&str, &str)> = [
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("package-lock.json", "npm"),
        ("npm-shrinkwrap.json", "npm"),
    ]
    .into_iter()
    .filter(|(f, _)| repo.is_file(f))
    .collect();
    if locks.len() > 1 {
        report.notes.push(format!(
            "several lockfiles ({}): lbc uses {}",
            locks.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", "),
            locks[0].0
        ));
    }
    let declared = pkg
        .get("packageManager")
        .and_then(|v| v.as_str())
        .map(|s| s.split('@').next().unwrap_or(s).to_owned());
    let (pm, lock, pm_ev) = match (locks.first(), &declared) {
        (Some((f, pm)), _) => (*pm, Some(*f), Evidence::file(f, format!("{pm} lockfile"))),
        (None, Some(d)) if ["pnpm", "yarn", "npm"].contains(&d.as_str()) => (
            match d.as_str() {
                "pnpm" => "pnpm",
                "yarn" => "yarn",
                _ => "npm",
            },
            None,
            super::services::settings_evidence(
                "package.json",
                &text,
                "\"packageManager\"",
                "packageManager field",
            ),
        ),
        _ => (
            "npm",
            None,
            Evidence::file("package.json", "no lockfile: npm"),
        ),
    };
    let install = match (pm, lock) {
        ("pnpm", _) => strs(&["pnpm", "install", "--frozen-lockfile"]),
        ("yarn", _) if repo.is_file(".yarnrc.yml") => strs(&["yarn", "install", "--immutable"]),
        ("yarn", _) => strs(&["yarn", "install", "--frozen-lockfile"]),
        (_, Some(_)) => strs(&["npm", "ci"]),
        _ => strs(&["npm", "install"]),
    };
    report.package_manager = Some(PackageManager {
        name: pm.into(),
        lockfile: lock.map(str::to_owned),
        install,
        run: Vec::new(),
        evidence: vec![pm_ev],
    });

    if pkg.get("workspaces").is_some() || repo.is_file("pnpm-workspace.yaml") {
        report.notes.push(
            "a monorepo (workspaces): lbc adopts the root package; adopt a service's own directory for it".into(),
        );
    }
    // Framework.
    let frameworks = [
        ("@nestjs/core", "nestjs"),
        ("next", "nextjs"),
        ("fastify", "fastify"),
        ("express", "express"),
    ];
    let fw = frameworks
        .iter()
        .find_map(|(dep, fw)| find_dep(&deps, &[dep]).filter(|d| !d.dev).map(|d| (*fw, d)));
    if let Some((fw, d)) = fw {
        report.framework = Some(fw.into());
        report.strength = Strength::Framework;
        evidence.push(dep_evidence(d, "dependency"));
    }

    // Build step.
    let tsconfig = repo.is_file("tsconfig.json");
    if let Some((b, l)) = script("build") {
        let mut ev = vec![Evidence::at(
            "package.json",
            l,
            format!("build script `{b}`"),
        )];
        if tsconfig {
            ev.push(Evidence::file("tsconfig.json", "TypeScript"));
        }
        report.build = Some(Command {
            command: strs(&[pm, "run", "build"]),
            evidence: ev,
        });
    } else if tsconfig {
        report
            .notes
            .push("tsconfig.json without a `build` script: lbc found no build step to run".into());
    }

    // Start.
    let main = pkg.get("main").and_then(|v| v.as_str()).map(str::to_owned);
    let start_prod = (report.framework.as_deref() == Some("nestjs"))
        .then(|| script("start:prod"))
        .flatten();
    let start = script("start");
    let mut start_script_text = None;
    if let Some((s, l)) = start_prod {
        report.start = Start {
            command: Some(strs(&[pm, "run", "start:prod"])),
            evidence: vec![Evidence::at(
                "package.json",
                l,
                format!("start:prod script `{s}`"),
            )],
            ..Start::default()
        };
        start_script_text = Some(s);
    } else if let Some((s, l)) = start {
        report.start = Start {
            command: Some(strs(&[pm, "start"])),
            evidence: vec![Evidence::at(
                "package.json",
                l,
                format!("start script `{s}`"),
            )],
            ..Start::default()
        };
        start_script_text = Some(s);
    } else if report.framework.as_deref() == Some("nextjs") {
        report.start = Start {
            command: Some(strs(&["npx", "next", "start"])),
            evidence: evidence.last().cloned().into_iter().collect(),
            ..Start::default()
        };
    } else if let Some(m) = main.as_ref().filter(|m| repo.is_file(m)) {
        report.start = Start {
            command: Some(strs(&["node", m])),
            evidence: vec![super::services::settings_evidence(
                "package.json",
                &text,
                "\"main\"",
                &format!("main {m}"),
            )],
            ..Start::default()
        };
    } else if let Some(f) = ["server.js", "index.js", "app.js"]
        .into_iter()
        .find(|f| repo.is_file(f))
    {
        report.start = Start {
            command: Some(strs(&["node", f])),
            evidence: vec![Evidence::file(f, "entry file")],
            ..Start::default()
        };
    } else {
        report.start.flag = Some("--set start=COMMAND".into());
    }
    // npm and yarn (not pnpm) run `preSCRIPT` before SCRIPT: a compile there (old NestJS
    // projects' `prestart:prod: tsc`, lujakob/nestjs-realworld-example-app) would run at
    // every start, in the container, as a user who cannot write the application's
    // directory.
    if let Some(script_name) = report
        .start
        .command
        .as_ref()
        .and_then(|c| c.iter().find(|w| w.starts_with("start")))
        .filter(|_| pm != "pnpm")
    {
        if let Some((pre, l)) = script(&format!("pre{script_name}")) {
            report.notes.push(format!(
                "package.json:{l}: `pre{script_name}` (`{pre}`) runs before `{script_name}` on every start of the container, as a non-root user who cannot write /app; a compile belongs in the `build` script, which the image runs"
            ));
        }
    }
    if report.start.command.is_some() && report.strength < Strength::Application {
        report.strength = Strength::Application;
    }

    // Port: the start script's -p/--port, then the code.
    let mut port_found: Option<(u16, PortSource, Evidence)> = None;
    if let Some(s) = &start_script_text {
        let re = regex::Regex::new(r"(?:-p|--port)[ =](\d{2,5})").expect("valid regex");
        if let Some(c) = re.captures(s) {
            if let Ok(p) = c[1].parse() {
                port_found = Some((p, PortSource::Settings, report.start.evidence[0].clone()));
            }
        }
    }
    if port_found.is_none() {
        let mut files: Vec<String> = main.iter().cloned().collect();
        files.extend(
            [
                "server.js",
                "index.js",
                "app.js",
                "bin/www",
                "src/main.ts",
                "src/index.ts",
                "src/server.ts",
                "src/app.ts",
                "src/main.js",
                "src/index.js",
                "src/server.js",
                "src/app.js",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        files.extend(
            repo.walk("src", 3, &[".js", ".ts", ".mjs", ".cjs"])
                .into_iter()
                .take(300),
        );
        let res = [
            regex::Regex::new(r"PORT\s*(?:\|\||\?\?)\s*['\x22]?(\d{2,5})").expect("valid regex"),
            regex::Regex::new(r"\.listen\(\s*(\d{2,5})").expect("valid regex"),
            regex::Regex::new(r"listen\(\s*\{[^}]*?port:\s*(?:[^,}]*?(?:\|\||\?\?)\s*)?(\d{2,5})")
                .expect("valid regex"),
            regex::Regex::new(r"(?i)\bconst\s+port\s*=\s*(\d{2,5})").expect("valid regex"),
        ];
        'outer: for f in &files {
            let Some(t) = repo.read(f) else { continue };
            for re in &res {
                if let Some((l, p)) = find_re(&t, re) {
                    if let Ok(p) = p.parse() {
                        port_found = Some((
                            p,
                            PortSource::Code,
                            Evidence::at(f, l, format!("listens on {p}")),
                        ));
                        break 'outer;
                    }
                }
            }
        }
    }
    if port_found.is_none() && report.framework.as_deref() == Some("nextjs") {
        port_found = Some((
            3000,
            PortSource::Default,
            Evidence::file("package.json", "next start's default port"),
        ));
    }
    report.port = resolve_port(ctx, port_found);

    // Test.
    match script("test") {
        Some((s, l)) if !s.contains(NO_TEST) => {
            report.test = Some(Command {
                command: strs(&[pm, "test"]),
                evidence: vec![Evidence::at(
                    "package.json",
                    l,
                    format!("test script `{s}`"),
                )],
            });
        }
        Some(_) => report
            .notes
            .push("the `test` script is npm's placeholder: no test command".into()),
        None => report
            .notes
            .push("package.json has no `test` script: no test command".into()),
    }

    // Services and migrations.
    let mut found = Found::default();
    found.add_deps(&deps, SERVICE_DEPS);
    let mut prisma_var = None;
    let exec: Vec<String> = match pm {
        "pnpm" => strs(&["pnpm", "exec"]),
        "yarn" => strs(&["yarn"]),
        _ => strs(&["npx"]),
    };
    // package.json's `prisma.schema` first (Nx and other monorepos keep it in src/).
    let declared = pkg
        .get("prisma")
        .and_then(|p| p.get("schema"))
        .and_then(|s| s.as_str())
        .map(|s| s.trim_start_matches("./").to_owned())
        .filter(|s| !s.starts_with('/') && !s.split('/').any(|c| c == ".."));
    let schema = declared
        .into_iter()
        .chain(
            [
                "prisma/schema.prisma",
                "schema.prisma",
                "src/prisma/schema.prisma",
            ]
            .map(str::to_owned),
        )
        .find(|f| repo.is_file(f));
    if let Some(schema) = schema.as_deref() {
        let t = repo.read(schema).unwrap_or_default();
        let pre = regex::Regex::new(r#"provider\s*=\s*"(postgresql|postgres|mysql|cockroachdb)""#)
            .expect("valid regex");
        if let Some((l, p)) = find_re(&t, &pre) {
            let kind = if p == "mysql" {
                ServiceKind::Mysql
            } else {
                ServiceKind::Postgres
            };
            found.add(
                kind,
                Evidence::at(schema, l, format!("Prisma datasource {p}")),
            );
        }
        let ure = regex::Regex::new(r#"url\s*=\s*env\("(\w+)"\)"#).expect("valid regex");
        prisma_var = find_re(&t, &ure).map(|(_, v)| v);
        if find_dep(&deps, &["prisma", "@prisma/client"]).is_some() {
            let mut cmd = exec.clone();
            cmd.extend(strs(&["prisma", "migrate", "deploy"]));
            report.migration = Some(Migration {
                tool: "prisma".into(),
                command: Some(cmd),
                at_start: false,
                evidence: vec![Evidence::file(schema, "Prisma schema")],
            });
        }
    }
    if report.migration.is_none() {
        if let Some(f) = ["knexfile.js", "knexfile.ts"]
            .into_iter()
            .find(|f| repo.is_file(f))
        {
            let mut cmd = exec.clone();
            cmd.extend(strs(&["knex", "migrate:latest"]));
            report.migration = Some(Migration {
                tool: "knex".into(),
                command: Some(cmd),
                at_start: false,
                evidence: vec![Evidence::file(f, "Knex configuration")],
            });
        }
    }
    if report.migration.is_none() {
        // node-pg-migrate reads DATABASE_URL and runs migrations/ by default.
        if let Some(d) = find_dep(&deps, &["node-pg-migrate"]) {
            let mut cmd = exec.clone();
            cmd.extend(strs(&["node-pg-migrate", "up"]));
            report.migration = Some(Migration {
                tool: "node-pg-migrate".into(),
                command: Some(cmd),
                at_start: false,
                evidence: vec![dep_evidence(d, "dependency")],
            });
        }
    }
    if let Some(m) = &report.migration {
        // `lbc deploy` runs the migration in the application's image, which keeps the
        // production dependencies only: a tool among the devDependencies alone is absent
        // there (Prisma's own guide puts `prisma` there).
        // The tools' packages have the tools' names.
        let package = ["prisma", "knex", "node-pg-migrate"]
            .into_iter()
            .find(|t| *t == m.tool);
        if let Some(d) = package.and_then(|n| deps.iter().find(|d| d.name == n)) {
            if d.dev && !deps.iter().any(|o| o.name == d.name && !o.dev) {
                report.notes.push(format!(
                    "{}:{}: {} is a devDependency: the image keeps the production dependencies only, so the migration cannot run in it; move it to \"dependencies\"",
                    d.file, d.line, d.name
                ));
            }
        }
    }
    if let Some(fw) = report.framework.clone() {
        // Another server framework among the dependencies is reported, never ignored
        // (NestJS runs on Express or Fastify: those are its platform, not a second app).
        for (dep, other) in frameworks {
            let platform = fw == "nestjs" && (other == "express" || other == "fastify");
            if other != fw && !platform {
                if let Some(d) = find_dep(&deps, &[dep]).filter(|d| !d.dev) {
                    report.notes.push(format!(
                        "{}:{}: {dep} is a dependency too; lbc treats the repository as a {fw} application",
                        d.file, d.line
                    ));
                }
            }
        }
    }
    report.evidence = evidence;
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| match (&prisma_var, k) {
        (Some(v), ServiceKind::Postgres | ServiceKind::Mysql) => vec![v.clone()],
        _ => services::declared_or_url(k, &env),
    });
    Some(report)
}
