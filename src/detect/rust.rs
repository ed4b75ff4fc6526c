//! Rust: binary crates and workspaces (several binaries are a choice: `--set binary=NAME`).

use super::evidence::{find_re, line_of, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    dep_line, resolve_port, strs, Choice, Command, Ctx, Dep, Migration, PackageManager, PortSource,
    Report, Strength,
};

const FRAMEWORKS: &[&str] = &["axum", "actix-web", "rocket", "warp", "poem"];

/// A package of the workspace: its directory, name and manifest text.
struct Pkg {
    dir: String,
    name: String,
    manifest: String,
    text: String,
}

fn package(ctx: &Ctx, dir: &str) -> Option<Pkg> {
    let manifest = if dir.is_empty() {
        "Cargo.toml".to_owned()
    } else {
        format!("{dir}/Cargo.toml")
    };
    let text = ctx.repo.read(&manifest)?;
    let v: toml::Value = toml::from_str(&text).ok()?;
    let name = v.get("package")?.get("name")?.as_str()?.to_owned();
    Some(Pkg {
        dir: dir.to_owned(),
        name,
        manifest,
        text,
    })
}

/// (binary name, evidence) of a package.
fn bins(ctx: &Ctx, p: &Pkg) -> Vec<(String, Evidence)> {
    let mut out = Vec::new();
    let v: toml::Value = toml::from_str(&p.text).unwrap_or(toml::Value::Integer(0));
    let join = |f: &str| {
        if p.dir.is_empty() {
            f.to_owned()
        } else {
            format!("{}/{f}", p.dir)
        }
    };
    if let Some(a) = v.get("bin").and_then(|b| b.as_array()) {
        for b in a {
            if let Some(n) = b.get("name").and_then(|n| n.as_str()) {
                let l = super::evidence::line_of(&p.text, &format!("\"{n}\"")).unwrap_or(1);
                out.push((
                    n.to_owned(),
                    Evidence::at(&p.manifest, l, format!("[[bin]] {n}")),
                ));
            }
        }
    }
    if ctx.repo.is_file(&join("src/main.rs")) && !out.iter().any(|(n, _)| *n == p.name) {
        out.push((
            p.name.clone(),
            Evidence::file(&join("src/main.rs"), "binary crate"),
        ));
    }
    for f in ctx.repo.list(&join("src/bin")) {
        let name = f.trim_end_matches(".rs").to_owned();
        let path = join(&format!("src/bin/{f}"));
        if (f.ends_with(".rs") || ctx.repo.is_file(&format!("{path}/main.rs")))
            && !out.iter().any(|(n, _)| *n == name)
        {
            out.push((name, Evidence::file(&path, "binary target")));
        }
    }
    out
}

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let text = repo.read("Cargo.toml")?;
    let v: toml::Value = match toml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let mut r = Report::new(
                "rust",
                Strength::Manifest,
                vec![Evidence::file("Cargo.toml", "Cargo manifest")],
            );
            r.notes
                .push(format!("Cargo.toml does not parse: {}", e.message()));
            r.port = resolve_port(ctx, None);
            return Some(r);
        }
    };
    let mut evidence = vec![Evidence::file("Cargo.toml", "Cargo manifest")];
    let mut report = Report::new("rust", Strength::Manifest, Vec::new());
    let mut pkgs: Vec<Pkg> = package(ctx, "").into_iter().collect();
    let workspace = v.get("workspace").is_some();
    if let Some(members) = v
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
    {
        let l = super::evidence::line_of(&text, "members").unwrap_or(1);
        evidence.push(Evidence::at("Cargo.toml", l, "Cargo workspace"));
        for m in members.iter().filter_map(|m| m.as_str()) {
            if let Some(parent) = m.strip_suffix("/*") {
                for d in repo.list(parent) {
                    pkgs.extend(package(ctx, &format!("{parent}/{d}")));
                }
            } else {
                pkgs.extend(package(ctx, m.trim_end_matches('/')));
            }
        }
    }
    report.package_manager = Some(PackageManager {
        name: "cargo".into(),
        lockfile: repo.is_file("Cargo.lock").then(|| "Cargo.lock".to_owned()),
        install: strs(&["cargo", "fetch", "--locked"]),
        run: Vec::new(),
        evidence: vec![if repo.is_file("Cargo.lock") {
            Evidence::file("Cargo.lock", "cargo lockfile")
        } else {
            Evidence::file("Cargo.toml", "no Cargo.lock")
        }],
    });
    // Dependencies (features decide the database of sqlx, diesel, sea-orm).
    let mut found = Found::default();
    let mut deps: Vec<Dep> = Vec::new();
    let mut texts: Vec<(String, String)> = vec![("Cargo.toml".into(), text.clone())];
    texts.extend(
        pkgs.iter()
            .filter(|p| !p.dir.is_empty())
            .map(|p| (p.manifest.clone(), p.text.clone())),
    );
    for (file, t) in &texts {
        let Ok(v) = toml::from_str::<toml::Value>(t) else {
            continue;
        };
        let tables = [
            v.get("dependencies"),
            v.get("workspace").and_then(|w| w.get("dependencies")),
        ];
        for table in tables.into_iter().flatten().filter_map(|t| t.as_table()) {
            for (name, spec) in table {
                let line = dep_line(t, name, line_of(t, "dependencies").map_or(0, |l| l - 1));
                let features: Vec<String> = spec
                    .get("features")
                    .and_then(|f| f.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let ev = |what: &str| Evidence::at(file, line, what.to_owned());
                let has_f = |x: &str| {
                    features
                        .iter()
                        .any(|f| f == x || f.ends_with(&format!("-{x}")))
                };
                match name.as_str() {
                    "sqlx" | "diesel" | "sea-orm" => {
                        if has_f("postgres") {
                            found.add(
                                ServiceKind::Postgres,
                                ev(&format!("{name} with feature postgres")),
                            );
                        }
                        if has_f("mysql") {
                            found.add(
                                ServiceKind::Mysql,
                                ev(&format!("{name} with feature mysql")),
                            );
                        }
                    }
                    "tokio-postgres" | "postgres" | "deadpool-postgres" => found.add(
                        ServiceKind::Postgres,
                        ev(&format!("dependency {name} (postgres)")),
                    ),
                    "mysql" | "mysql_async" => found.add(
                        ServiceKind::Mysql,
                        ev(&format!("dependency {name} (mysql)")),
                    ),
                    "redis" | "deadpool-redis" | "bb8-redis" | "fred" => found.add(
                        ServiceKind::Redis,
                        ev(&format!("dependency {name} (redis)")),
                    ),
                    _ => {}
                }
                deps.push(Dep {
                    name: name.clone(),
                    file: file.clone(),
                    line,
                    dev: false,
                });
            }
        }
    }
    if let Some(d) = FRAMEWORKS
        .iter()
        .find_map(|f| deps.iter().find(|d| d.name == *f))
    {
        report.framework = Some(d.name.clone());
        evidence.push(super::dep_evidence(d, "dependency"));
    }
    // Binaries.
    let mut all: Vec<(String, String, Evidence)> = Vec::new(); // (bin, package dir, evidence)
    for p in &pkgs {
        for (b, e) in bins(ctx, p) {
            all.push((b, p.dir.clone(), e));
        }
    }
    if !all.is_empty() {
        report.strength = Strength::Application;
    }
    evidence.extend(all.iter().map(|(_, _, e)| e.clone()));
    report.binaries = all.iter().map(|(b, _, _)| b.clone()).collect();
    let locked: &[&str] = if repo.is_file("Cargo.lock") {
        &["--locked"]
    } else {
        &[]
    };
    let build_of = |b: &str| {
        let mut v = strs(&["cargo", "build", "--release"]);
        v.extend(strs(locked));
        v.extend(strs(&["--bin", b]));
        v
    };
    let chosen = match (all.len(), &ctx.opts.binary) {
        (0, _) => {
            report.start.flag = Some("--set start=COMMAND".into());
            report
                .notes
                .push("no binary target (src/main.rs, src/bin/, [[bin]]): a library".into());
            None
        }
        (1, _) => Some(0),
        (_, Some(b)) => {
            let i = all.iter().position(|(n, _, _)| n == b);
            if i.is_none() {
                report.notes.push(format!(
                    "--set binary={b}: no such binary (the binaries are {})",
                    report.binaries.join(", ")
                ));
            }
            i
        }
        _ => None,
    };
    if all.len() > 1 {
        report.start.choices = all
            .iter()
            .map(|(b, d, _)| Choice {
                name: b.clone(),
                command: vec![format!("target/release/{b}")],
                note: format!("in {}", if d.is_empty() { "the root package" } else { d }),
            })
            .collect();
        if chosen.is_none() {
            report.start.flag = Some("--set binary=NAME".into());
        }
    }
    let mut port_found = None;
    if let Some(i) = chosen {
        let (b, dir, e) = &all[i];
        report.build = Some(Command {
            command: build_of(b),
            evidence: vec![e.clone()],
        });
        report.start.command = Some(vec![format!("target/release/{b}")]);
        report.start.evidence = vec![e.clone()];
        let src = if dir.is_empty() {
            "src".to_owned()
        } else {
            format!("{dir}/src")
        };
        let res = [
            regex::Regex::new(r#"(?i)(?:bind|listen|serve|addr)[^\n]*?"(?:0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\])?:(\d{2,5})""#)
                .expect("valid regex"),
            regex::Regex::new(r"\[0,\s*0,\s*0,\s*0\],\s*(\d{2,5})").expect("valid regex"),
        ];
        'outer: for f in repo.walk(&src, 3, &[".rs"]) {
            let Some(t) = repo.read(&f) else { continue };
            for re in &res {
                if let Some((l, p)) = find_re(&t, re) {
                    if let Ok(p) = p.parse::<u16>() {
                        port_found = Some((
                            p,
                            PortSource::Code,
                            Evidence::at(&f, l, format!("listens on {p}")),
                        ));
                        break 'outer;
                    }
                }
            }
        }
    }
    report.port = resolve_port(ctx, port_found);
    let mut test = strs(&["cargo", "test"]);
    test.extend(strs(locked));
    if workspace {
        test.push("--workspace".into());
    }
    report.test = Some(Command {
        command: test,
        evidence: vec![Evidence::file("Cargo.toml", "cargo's test runner")],
    });
    if repo.is_dir("migrations") && deps.iter().any(|d| d.name == "sqlx") {
        let at_start = pkgs.iter().any(|p| {
            let src = if p.dir.is_empty() {
                "src".to_owned()
            } else {
                format!("{}/src", p.dir)
            };
            repo.walk(&src, 3, &[".rs"])
                .iter()
                .any(|f| repo.read(f).is_some_and(|t| t.contains("sqlx::migrate!")))
        });
        report.migration = Some(Migration {
            tool: "sqlx".into(),
            command: (!at_start).then(|| strs(&["sqlx", "migrate", "run"])),
            at_start,
            evidence: vec![Evidence::file(
                "migrations",
                if at_start {
                    "sqlx::migrate! runs them at start"
                } else {
                    "sqlx migrations"
                },
            )],
        });
    } else if repo.is_file("diesel.toml") {
        report.migration = Some(Migration {
            tool: "diesel".into(),
            command: Some(strs(&["diesel", "migration", "run"])),
            at_start: false,
            evidence: vec![Evidence::file("diesel.toml", "Diesel configuration")],
        });
    }
    report.evidence = evidence;
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| {
        services::declared_or_url(k, &env)
    });
    Some(report)
}
