//! Python: Django (manage.py and its settings), FastAPI/Starlette (the module assigning
//! `FastAPI()`), Flask; requirements files, Poetry, Pipenv, uv and plain pyproject.

use super::evidence::{find_re, line_of, Evidence};
use super::services::{self, Found, ServiceKind};
use super::{
    dep_line, find_dep, resolve_port, strs, Command, Ctx, Dep, Migration, PackageManager,
    PortSource, Report, Start, Strength,
};

const SERVICE_DEPS: &[(&str, ServiceKind)] = &[
    ("psycopg", ServiceKind::Postgres),
    ("psycopg-binary", ServiceKind::Postgres),
    ("psycopg2", ServiceKind::Postgres),
    ("psycopg2-binary", ServiceKind::Postgres),
    ("asyncpg", ServiceKind::Postgres),
    ("pg8000", ServiceKind::Postgres),
    ("mysqlclient", ServiceKind::Mysql),
    ("pymysql", ServiceKind::Mysql),
    ("aiomysql", ServiceKind::Mysql),
    ("asyncmy", ServiceKind::Mysql),
    ("mysql-connector-python", ServiceKind::Mysql),
    ("mariadb", ServiceKind::Mysql),
    ("redis", ServiceKind::Redis),
    ("django-redis", ServiceKind::Redis),
    ("aioredis", ServiceKind::Redis),
];

fn norm(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The name at the start of a requirement (`Django[argon2]>=4.2 ; python_version>"3"`).
fn req_name(s: &str) -> Option<String> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(s.len());
    let n = &s[..end];
    (!n.is_empty() && n.starts_with(|c: char| c.is_ascii_alphanumeric())).then(|| norm(n))
}

fn is_dev_name(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    ["dev", "test", "lint", "doc", "local", "ci", "typing"]
        .iter()
        .any(|w| s.contains(w))
}

/// Every dependency of the requirements files, pyproject.toml and Pipfile.
fn deps(ctx: &Ctx, req_files: &[String]) -> Vec<Dep> {
    let repo = ctx.repo;
    let mut out = Vec::new();
    for f in req_files {
        let Some(text) = repo.read(f) else { continue };
        let dev = is_dev_name(f);
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.starts_with('#') || l.starts_with('-') {
                continue;
            }
            if let Some(name) = req_name(l) {
                out.push(Dep {
                    name,
                    file: f.clone(),
                    line: i + 1,
                    dev,
                });
            }
        }
    }
    if let Some(text) = repo.read("pyproject.toml") {
        if let Ok(v) = toml::from_str::<toml::Value>(&text) {
            // Names are looked for from the first dependency table on, not in a description.
            let deps_at = line_of(&text, "dependencies").map_or(0, |l| l - 1);
            let mut push = |name: String, dev: bool| {
                let line = dep_line(&text, &name, deps_at);
                out.push(Dep {
                    name,
                    file: "pyproject.toml".into(),
                    line,
                    dev,
                });
            };
            let list = |v: Option<&toml::Value>| -> Vec<String> {
                v.and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().and_then(req_name))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let project = v.get("project");
            for n in list(project.and_then(|p| p.get("dependencies"))) {
                push(n, false);
            }
            if let Some(t) = project
                .and_then(|p| p.get("optional-dependencies"))
                .and_then(|t| t.as_table())
            {
                for (k, a) in t {
                    for n in list(Some(a)) {
                        push(n, is_dev_name(k));
                    }
                }
            }
            if let Some(t) = v.get("dependency-groups").and_then(|t| t.as_table()) {
                for a in t.values() {
                    for n in list(Some(a)) {
                        push(n, true);
                    }
                }
            }
            let tool = v.get("tool");
            for n in list(
                tool.and_then(|t| t.get("uv"))
                    .and_then(|u| u.get("dev-dependencies")),
            ) {
                push(n, true);
            }
            let poetry = tool.and_then(|t| t.get("poetry"));
            let keys = |t: Option<&toml::Value>| -> Vec<String> {
                t.and_then(|t| t.as_table())
                    .map(|t| {
                        t.keys()
                            .filter(|k| *k != "python")
                            .map(|k| norm(k))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for n in keys(poetry.and_then(|p| p.get("dependencies"))) {
                push(n, false);
            }
            for n in keys(poetry.and_then(|p| p.get("dev-dependencies"))) {
                push(n, true);
            }
            if let Some(groups) = poetry
                .and_then(|p| p.get("group"))
                .and_then(|g| g.as_table())
            {
                for (g, t) in groups {
                    for n in keys(t.get("dependencies")) {
                        push(n, g != "main");
                    }
                }
            }
        }
    }
    if let Some(text) = repo.read("Pipfile") {
        let mut section = "";
        for (i, l) in text.lines().enumerate() {
            let t = l.trim();
            if t.starts_with('[') {
                section = if t == "[packages]" {
                    "packages"
                } else if t == "[dev-packages]" {
                    "dev"
                } else {
                    ""
                };
                continue;
            }
            if section.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"');
                if let Some(name) = req_name(k) {
                    out.push(Dep {
                        name,
                        file: "Pipfile".into(),
                        line: i + 1,
                        dev: section == "dev",
                    });
                }
            }
        }
    }
    out
}

/// `a/b/c.py` -> (`a.b.c`, None); `src/a/c.py` -> (`a.c`, Some("src")).
fn module_of(file: &str) -> (String, Option<String>) {
    let stem = file.trim_end_matches(".py");
    let (dir, rest) = match stem.strip_prefix("src/") {
        Some(r) => (Some("src".to_owned()), r),
        None => (None, stem),
    };
    let rest = rest.strip_suffix("/__init__").unwrap_or(rest);
    (rest.replace('/', "."), dir)
}

/// A note for each directory the application's code creates relative to its working
/// directory (`os.mkdir('logs')`, as miguelgrinberg/microblog does): the image's code
/// belongs to root and the service runs as a non-root user, so that fails at start
/// (issue #11, found on the real applications of docs/adopt.md).
fn relative_dirs_note(repo: &super::evidence::Repo, notes: &mut Vec<String>) {
    let re = regex::Regex::new(r#"\bos\.(?:mkdir|makedirs)\(\s*['"]([A-Za-z0-9_][\w.\-]*)['"]"#)
        .expect("valid regex");
    let mut found = Vec::new();
    for f in repo.walk("", 4, &[".py"]).iter().take(400) {
        let name = f.rsplit('/').next().unwrap_or(f);
        if f.starts_with("tests/") || f.contains("/tests/") || name.starts_with("test") {
            continue;
        }
        let Some(text) = repo.read(f) else { continue };
        if let Some((line, dir)) = find_re(&text, &re) {
            found.push(format!("{f}:{line} (`{dir}`)"));
        }
    }
    if !found.is_empty() {
        notes.push(format!(
            "the code creates a directory in its working directory: {}; the image runs as a non-root user who cannot write there: point it elsewhere by a setting, or give it a volume",
            found.join(", ")
        ));
    }
}

pub fn detect(ctx: &Ctx) -> Option<Report> {
    let repo = ctx.repo;
    let mut req_files: Vec<String> = [
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-test.txt",
        "requirements_dev.txt",
        "dev-requirements.txt",
        "requirements.in",
    ]
    .iter()
    .filter(|f| repo.is_file(f))
    .map(|f| (*f).to_owned())
    .collect();
    for f in repo.list("requirements") {
        if f.ends_with(".txt") && repo.is_file(&format!("requirements/{f}")) {
            req_files.push(format!("requirements/{f}"));
        }
    }
    let manifests: Vec<String> = ["pyproject.toml", "Pipfile", "setup.py", "setup.cfg"]
        .iter()
        .filter(|f| repo.is_file(f))
        .map(|f| (*f).to_owned())
        .chain(req_files.iter().cloned())
        .collect();
    let manage = [
        "manage.py",
        "src/manage.py",
        "app/manage.py",
        "backend/manage.py",
    ]
    .into_iter()
    .find(|f| repo.is_file(f));
    if manifests.is_empty() && manage.is_none() {
        return None;
    }
    let mut evidence: Vec<Evidence> = manifests
        .iter()
        .map(|f| Evidence::file(f, "Python project manifest"))
        .collect();
    let deps = deps(ctx, &req_files);
    let has = |names: &[&str]| find_dep(&deps, names);
    let pyproject = repo.read("pyproject.toml").unwrap_or_default();

    // The package manager, by lockfile first.
    let pm = if repo.is_file("uv.lock") {
        Some((
            "uv",
            Some("uv.lock"),
            strs(&["uv", "sync", "--frozen"]),
            strs(&["uv", "run"]),
        ))
    } else if repo.is_file("poetry.lock") || pyproject.contains("[tool.poetry") {
        Some((
            "poetry",
            repo.is_file("poetry.lock").then_some("poetry.lock"),
            strs(&["poetry", "install", "--no-root"]),
            strs(&["poetry", "run"]),
        ))
    } else if repo.is_file("Pipfile") {
        Some((
            "pipenv",
            repo.is_file("Pipfile.lock").then_some("Pipfile.lock"),
            strs(&["pipenv", "install", "--deploy", "--dev"]),
            strs(&["pipenv", "run"]),
        ))
    } else if let Some(f) = req_files.first() {
        Some(("pip", None, strs(&["pip", "install", "-r", f]), Vec::new()))
    } else if ["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .any(|f| repo.is_file(f))
    {
        Some(("pip", None, strs(&["pip", "install", "."]), Vec::new()))
    } else {
        None
    };
    let package_manager = pm.map(|(name, lock, install, run)| PackageManager {
        name: name.into(),
        lockfile: lock.map(str::to_owned),
        install,
        run,
        evidence: vec![match lock {
            Some(l) => Evidence::file(l, format!("{name} lockfile")),
            None if name == "poetry" => services::settings_evidence(
                "pyproject.toml",
                &pyproject,
                "[tool.poetry",
                "[tool.poetry] in pyproject.toml",
            ),
            None if name == "pipenv" => Evidence::file("Pipfile", "Pipfile without a lockfile"),
            None => Evidence::file(
                req_files
                    .first()
                    .map(String::as_str)
                    .or_else(|| {
                        ["pyproject.toml", "setup.py", "setup.cfg"]
                            .into_iter()
                            .find(|f| repo.is_file(f))
                    })
                    .unwrap_or("pyproject.toml"),
                "no lockfile: pip",
            ),
        }],
    });

    // The framework.
    let mut report = Report::new("python", Strength::Manifest, Vec::new());
    if !pyproject.is_empty() {
        if let Err(e) = toml::from_str::<toml::Value>(&pyproject) {
            report
                .notes
                .push(format!("pyproject.toml does not parse: {}", e.message()));
        }
    }
    let mut found = Found::default();
    found.add_deps(&deps, SERVICE_DEPS);
    let mut default_port: Option<(u16, Evidence)> = None;
    let mut code_port: Option<(u16, Evidence)> = None;
    let uvicorn = has(&["uvicorn"]).is_some();
    let gunicorn = has(&["gunicorn"]).is_some();
    let pytest_conf = pytest_configured(ctx, &deps);
    let mut settings_text: Option<(String, String)> = None;

    if let Some(manage) = manage {
        let mtext = repo.read(manage).unwrap_or_default();
        let dir = manage.trim_end_matches("manage.py").trim_end_matches('/');
        let re = regex::Regex::new(r#"DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']"#)
            .expect("valid regex");
        let module = find_re(&mtext, &re);
        let django = has(&["django"]);
        if module.is_some() || django.is_some() {
            report.framework = Some("django".into());
            report.strength = Strength::Framework;
            match &module {
                Some((l, m)) => evidence.push(Evidence::at(
                    manage,
                    *l,
                    format!("Django's manage.py (settings {m})"),
                )),
                None => evidence.push(Evidence::file(manage, "Django's manage.py")),
            }
            if let Some(d) = django {
                evidence.push(super::dep_evidence(d, "dependency"));
            }
            let settings = module.as_ref().and_then(|(_, m)| {
                let base = m.replace('.', "/");
                let base = if dir.is_empty() {
                    base
                } else {
                    format!("{dir}/{base}")
                };
                [format!("{base}.py"), format!("{base}/__init__.py")]
                    .into_iter()
                    .find(|f| repo.is_file(f))
            });
            let run_manage = |args: &[&str]| -> Vec<String> {
                let mut v = strs(&["python3", manage]);
                v.extend(strs(args));
                v
            };
            let mut start_ev = Vec::new();
            let mut wsgi: Option<String> = None;
            let mut asgi: Option<String> = None;
            if let Some(s) = &settings {
                let files = settings_read(ctx, s);
                evidence.push(Evidence::file(s, "Django settings"));
                let wre = regex::Regex::new(r#"(?m)^WSGI_APPLICATION\s*=\s*["']([\w.]+)["']"#)
                    .expect("valid regex");
                let are = regex::Regex::new(r#"(?m)^ASGI_APPLICATION\s*=\s*["']([\w.]+)["']"#)
                    .expect("valid regex");
                // The first file of the settings package that says it, with its own line.
                let first = |re: &regex::Regex| {
                    files
                        .iter()
                        .find_map(|(f, t)| find_re(t, re).map(|(l, v)| (f.clone(), l, v)))
                };
                if let Some((f, l, w)) = first(&wre) {
                    start_ev.push(Evidence::at(&f, l, format!("WSGI_APPLICATION {w}")));
                    wsgi = Some(w);
                }
                if let Some((f, l, a)) = first(&are) {
                    start_ev.push(Evidence::at(&f, l, format!("ASGI_APPLICATION {a}")));
                    asgi = Some(a);
                }
                for (f, t) in &files {
                    django_settings_services(&mut found, f, t);
                }
                let text: String = files.iter().map(|(_, t)| format!("{t}\n")).collect();
                settings_text = Some((s.clone(), text));
            }
            let project = module
                .as_ref()
                .map(|(_, m)| m.rsplit_once('.').map_or(m.as_str(), |(a, _)| a).to_owned());
            let asgi_file = project.as_ref().and_then(|p| {
                let f = format!(
                    "{}{}/asgi.py",
                    if dir.is_empty() {
                        String::new()
                    } else {
                        format!("{dir}/")
                    },
                    p.replace('.', "/")
                );
                repo.is_file(&f)
                    .then_some((f, format!("{p}.asgi:application")))
            });
            let chdir: Vec<String> = if dir.is_empty() {
                Vec::new()
            } else {
                strs(&["--chdir", dir])
            };
            let port = "8000";
            let bind = format!(
                "0.0.0.0:{}",
                ctx.opts.port.map_or(port.to_owned(), |p| p.to_string())
            );
            let p_str = ctx.opts.port.map_or(port.to_owned(), |p| p.to_string());
            let cmd: Vec<String> = if gunicorn && wsgi.is_some() {
                let w = wsgi.clone().unwrap_or_default();
                let (m, obj) = w.rsplit_once('.').unwrap_or((&w, "application"));
                start_ev.push(super::dep_evidence(
                    has(&["gunicorn"]).expect("gunicorn"),
                    "dependency",
                ));
                let mut v = strs(&["gunicorn"]);
                v.extend(chdir.clone());
                v.extend([format!("{m}:{obj}"), "--bind".into(), bind.clone()]);
                v
            } else if uvicorn && (asgi.is_some() || asgi_file.is_some()) {
                start_ev.push(super::dep_evidence(
                    has(&["uvicorn"]).expect("uvicorn"),
                    "dependency",
                ));
                let target = match (&asgi, &asgi_file) {
                    (Some(a), _) => {
                        let (m, obj) = a.rsplit_once('.').unwrap_or((a, "application"));
                        format!("{m}:{obj}")
                    }
                    (None, Some((f, t))) => {
                        start_ev.push(Evidence::file(f, "Django's ASGI module"));
                        t.clone()
                    }
                    _ => unreachable!(),
                };
                let mut v = strs(&["uvicorn", &target, "--host", "0.0.0.0", "--port", &p_str]);
                if !dir.is_empty() {
                    v.extend(strs(&["--app-dir", dir]));
                }
                v
            } else {
                start_ev.push(Evidence::file(
                    manage,
                    "no gunicorn or uvicorn among the dependencies: Django's own server",
                ));
                run_manage(&["runserver", &bind])
            };
            report.start = Start {
                command: Some(cmd),
                evidence: start_ev,
                ..Start::default()
            };
            default_port = Some((
                8000,
                Evidence::file(manage, "the port of the start command lbc chose"),
            ));
            report.test = Some(if let Some(p) = &pytest_conf {
                Command {
                    command: strs(&["python3", "-m", "pytest"]),
                    evidence: vec![p.clone()],
                }
            } else {
                Command {
                    command: run_manage(&["test"]),
                    evidence: vec![Evidence::file(manage, "Django's test runner")],
                }
            });
            report.migration = Some(Migration {
                tool: "django".into(),
                command: Some(run_manage(&["migrate", "--noinput"])),
                at_start: false,
                evidence: vec![Evidence::file(manage, "Django migrations")],
            });
        }
    }

    if report.framework.is_none() {
        let files = repo.walk("", 4, &[".py"]);
        let mut apps: Vec<(&str, String, usize, String)> = Vec::new(); // (framework, file, line, var)
        let fre = regex::Regex::new(
            r"(?m)^(\w+)\s*(?::\s*[\w.]+\s*)?=\s*(?:fastapi\.)?(FastAPI|Starlette|Flask)\(",
        )
        .expect("valid regex");
        let pre = regex::Regex::new(r"\brun\([^\n]*\bport\s*=\s*(\d{2,5})\b").expect("valid regex");
        let factory = regex::Regex::new(r"(?m)^def (create_app|make_app)\(").expect("valid regex");
        // Test modules build throw-away applications: they are not the service.
        let is_test = |f: &str| {
            let name = f.rsplit('/').next().unwrap_or(f);
            f.starts_with("tests/")
                || f.contains("/tests/")
                || f.starts_with("test/")
                || name.starts_with("test_")
                || name.ends_with("_test.py")
                || name == "conftest.py"
        };
        for f in files.iter().filter(|f| !is_test(f)).take(400) {
            let Some(text) = repo.read(f) else { continue };
            for c in fre.captures_iter(&text) {
                let fw = match &c[2] {
                    "FastAPI" => "fastapi",
                    "Starlette" => "starlette",
                    _ => "flask",
                };
                let line = super::evidence::line_at(&text, c.get(0).expect("match").start());
                apps.push((fw, f.clone(), line, c[1].to_owned()));
            }
            if text.contains("Flask(") {
                if let Some(c) = factory.captures(&text) {
                    let line = super::evidence::line_at(&text, c.get(0).expect("match").start());
                    apps.push(("flask", f.clone(), line, format!("{}()", &c[1])));
                }
            }
            if code_port.is_none() && (text.contains(".run(") || text.contains("uvicorn.run")) {
                if let Some((l, p)) = find_re(&text, &pre) {
                    if let Ok(p) = p.parse() {
                        code_port = Some((p, Evidence::at(f, l, format!("port={p}"))));
                    }
                }
            }
        }
        let rank = |fw: &str| match fw {
            "fastapi" => 0,
            "starlette" => 1,
            _ => 2,
        };
        // Prefer the framework by dependency, then the shallowest file.
        let by_dep = ["fastapi", "starlette", "flask"]
            .into_iter()
            .find(|n| has(&[n]).is_some());
        apps.sort_by_key(|(fw, f, l, _)| {
            (
                by_dep.is_some_and(|d| d != *fw),
                rank(fw),
                f.matches('/').count(),
                f.clone(),
                *l,
            )
        });
        if let Some((fw, file, line, var)) = apps.first().cloned() {
            let same: Vec<_> = apps
                .iter()
                .filter(|(f2, _, _, v)| *f2 == fw && !v.ends_with("()"))
                .collect();
            if same.len() > 1 {
                report.notes.push(format!(
                    "{} {fw} applications: {}; lbc starts the first (--set start=COMMAND for another)",
                    same.len(),
                    same.iter()
                        .map(|(_, f, l, _)| format!("{f}:{l}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            report.framework = Some(fw.into());
            report.strength = Strength::Framework;
            if let Some(d) = has(&[fw]) {
                evidence.push(super::dep_evidence(d, "dependency"));
            }
            let what = if var.ends_with("()") {
                format!("application factory {var}")
            } else {
                format!(
                    "{var} = {}(...)",
                    match fw {
                        "fastapi" => "FastAPI",
                        "starlette" => "Starlette",
                        _ => "Flask",
                    }
                )
            };
            evidence.push(Evidence::at(&file, line, what.clone()));
            let (module, app_dir) = module_of(&file);
            let start_ev = vec![Evidence::at(&file, line, what)];
            let p = |d: u16| ctx.opts.port.unwrap_or(d).to_string();
            if fw == "flask" {
                let mut ev = start_ev.clone();
                let cmd = if gunicorn {
                    ev.push(super::dep_evidence(
                        has(&["gunicorn"]).expect("gunicorn"),
                        "dependency",
                    ));
                    default_port = Some((
                        8000,
                        Evidence::file(&file, "the port of the start command lbc chose"),
                    ));
                    let mut v = strs(&["gunicorn", "--bind", &format!("0.0.0.0:{}", p(8000))]);
                    if let Some(d) = &app_dir {
                        v.extend(strs(&["--chdir", d]));
                    }
                    v.push(format!("{module}:{var}"));
                    v
                } else {
                    default_port = Some((5000, Evidence::file(&file, "flask run's default port")));
                    let target = if var.ends_with("()") {
                        format!("{module}:{var}")
                    } else {
                        module.clone()
                    };
                    strs(&[
                        "flask",
                        "--app",
                        &target,
                        "run",
                        "--host",
                        "0.0.0.0",
                        "--port",
                        &p(5000),
                    ])
                };
                report.start = Start {
                    command: Some(cmd),
                    evidence: ev,
                    ..Start::default()
                };
                if let Some(d) = has(&["flask-migrate"]) {
                    report.migration = Some(Migration {
                        tool: "flask-migrate".into(),
                        command: Some(strs(&["flask", "--app", &module, "db", "upgrade"])),
                        at_start: false,
                        evidence: vec![super::dep_evidence(d, "dependency")],
                    });
                }
            } else {
                let mut ev = start_ev.clone();
                match has(&["uvicorn"]) {
                    Some(d) => ev.push(super::dep_evidence(d, "dependency")),
                    None => report.notes.push(format!(
                        "uvicorn is not among the dependencies: the image must install it to run `uvicorn {module}:{var}`"
                    )),
                }
                let mut v = strs(&[
                    "uvicorn",
                    &format!("{module}:{var}"),
                    "--host",
                    "0.0.0.0",
                    "--port",
                    &p(8000),
                ]);
                if let Some(d) = &app_dir {
                    v.extend(strs(&["--app-dir", d]));
                }
                default_port = Some((
                    8000,
                    Evidence::file(&file, "the port of the start command lbc chose"),
                ));
                report.start = Start {
                    command: Some(v),
                    evidence: ev,
                    ..Start::default()
                };
            }
        }
    }

    if report.framework.is_none() {
        for f in ["app.py", "main.py", "server.py", "src/main.py"] {
            if let Some(text) = repo.read(f) {
                if let Some(l) = line_of(&text, "__name__ == \"__main__\"")
                    .or_else(|| line_of(&text, "__name__ == '__main__'"))
                {
                    report.strength = Strength::Application;
                    evidence.push(Evidence::at(f, l, "a Python entry point"));
                    report.start = Start {
                        command: Some(strs(&["python3", f])),
                        evidence: vec![Evidence::at(f, l, "a Python entry point")],
                        ..Start::default()
                    };
                    break;
                }
            }
        }
        if report.start.command.is_none() {
            report.start.flag = Some("--set start=COMMAND".into());
        }
        report.test = Some(match &pytest_conf {
            Some(e) => Command {
                command: strs(&["python3", "-m", "pytest"]),
                evidence: vec![e.clone()],
            },
            None if repo.is_dir("tests") => Command {
                command: strs(&["python3", "-m", "unittest", "discover", "-s", "tests", "-v"]),
                evidence: vec![Evidence::file(
                    "tests",
                    "no pytest configured: unittest discovers tests/",
                )],
            },
            None => Command {
                command: strs(&["python3", "-m", "unittest", "discover", "-v"]),
                evidence: vec![],
            },
        });
    } else if report.test.is_none() {
        report.test = Some(match &pytest_conf {
            Some(e) => Command {
                command: strs(&["python3", "-m", "pytest"]),
                evidence: vec![e.clone()],
            },
            None => Command {
                command: strs(&["python3", "-m", "unittest", "discover", "-v"]),
                evidence: vec![],
            },
        });
    }
    if report.migration.is_none() {
        if repo.is_file("alembic.ini") {
            report.migration = Some(Migration {
                tool: "alembic".into(),
                command: Some(strs(&["alembic", "upgrade", "head"])),
                at_start: false,
                evidence: vec![Evidence::file("alembic.ini", "Alembic configuration")],
            });
        } else if let Some(d) = has(&["alembic"]) {
            report.migration = Some(Migration {
                tool: "alembic".into(),
                command: Some(strs(&["alembic", "upgrade", "head"])),
                at_start: false,
                evidence: vec![super::dep_evidence(d, "dependency")],
            });
        }
    }
    let port_found = code_port
        .map(|(p, e)| (p, PortSource::Code, e))
        .or(default_port.map(|(p, e)| (p, PortSource::Default, e)));
    report.port = resolve_port(ctx, port_found);
    if let Some(cmd) = &mut report.start.command {
        // The start command listens on the port the report gives.
        if let (Some(p), Some(i)) = (report.port.value, cmd.iter().position(|a| a == "--port")) {
            cmd[i + 1] = p.to_string();
        }
        if let Some(p) = report.port.value {
            for a in cmd.iter_mut() {
                if let Some(rest) = a.strip_prefix("0.0.0.0:") {
                    if rest.parse::<u16>().is_ok() {
                        *a = format!("0.0.0.0:{p}");
                    }
                }
            }
        }
    }
    if let Some(fw) = report.framework.clone() {
        // Another web framework among the dependencies is reported, never ignored.
        for other in ["django", "fastapi", "starlette", "flask"] {
            let implied = fw == "fastapi" && other == "starlette";
            if other != fw && !implied {
                if let Some(d) = deps.iter().find(|d| d.name == other && !d.dev) {
                    report.notes.push(format!(
                        "{}:{}: {other} is a dependency too; lbc treats the repository as a {fw} application (--set start=COMMAND for another entry point)",
                        d.file, d.line
                    ));
                }
            }
        }
    }
    if report.framework.is_some() {
        relative_dirs_note(repo, &mut report.notes);
    }
    report.evidence = evidence;
    report.package_manager = package_manager;
    let env_uses_url = has(&["dj-database-url", "django-environ"]).is_some()
        || settings_text
            .as_ref()
            .is_some_and(|(_, t)| t.contains("dj_database_url") || t.contains("env.db("));
    let settings_names = settings_text
        .as_ref()
        .map(|(_, t)| env_names(t))
        .unwrap_or_default();
    let django = report.framework.as_deref() == Some("django");
    let env = ctx.env.clone();
    services::complete(&mut report, found, ctx, |k| {
        if django {
            let want: &[&str] = if k == ServiceKind::Redis {
                &["REDIS", "CACHE_URL", "CELERY_BROKER"]
            } else {
                &["DB_", "DATABASE", "POSTGRES", "MYSQL", "PG", "SQL_"]
            };
            if k != ServiceKind::Redis && env_uses_url {
                return vec!["DATABASE_URL".into()];
            }
            let names: Vec<String> = settings_names
                .iter()
                .filter(|n| want.iter().any(|w| n.starts_with(w) || n.contains(w)))
                .cloned()
                .collect();
            if names.is_empty() {
                services::declared_or_url(k, &env)
            } else {
                names
            }
        } else {
            services::declared_or_url(k, &env)
        }
    });
    Some(report)
}

/// The settings file and, for a settings package (`settings/__init__.py`, or
/// `settings/production.py` importing `base`), its sibling modules: (file, text), the
/// named file first.
fn settings_read(ctx: &Ctx, file: &str) -> Vec<(String, String)> {
    let mut out = vec![(file.to_owned(), ctx.repo.read(file).unwrap_or_default())];
    let dir = file.strip_suffix("/__init__.py").or_else(|| {
        file.rsplit_once('/')
            .map(|(d, _)| d)
            .filter(|d| d.ends_with("settings"))
    });
    if let Some(dir) = dir {
        for f in ctx.repo.walk(dir, 0, &[".py"]) {
            if f != file {
                let t = ctx.repo.read(&f).unwrap_or_default();
                out.push((f, t));
            }
        }
    }
    out
}

/// Environment variables read by Python code (`os.environ[...]`, `os.environ.get`,
/// `os.getenv`, django-environ's `env(...)`, python-decouple's `config(...)`), in order.
fn env_names(text: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r#"(?:os\.environ\.get|os\.getenv|os\.environ\[|\benv(?:\.\w+)?\(|\bconfig\()\s*\(?\s*["']([A-Z][A-Z0-9_]*)["']"#,
    )
    .expect("valid regex");
    let mut out: Vec<String> = Vec::new();
    for c in re.captures_iter(text) {
        let n = c[1].to_owned();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Services named in Django settings: the database ENGINE, a Redis cache, a Celery broker.
fn django_settings_services(found: &mut Found, file: &str, text: &str) {
    for (needle, kind) in [
        ("django.db.backends.postgresql", ServiceKind::Postgres),
        (
            "django.contrib.gis.db.backends.postgis",
            ServiceKind::Postgres,
        ),
        ("django.db.backends.mysql", ServiceKind::Mysql),
        ("django.core.cache.backends.redis", ServiceKind::Redis),
        ("django_redis.cache", ServiceKind::Redis),
        ("CELERY_BROKER_URL", ServiceKind::Redis),
    ] {
        if let Some(l) = line_of(text, needle) {
            if needle == "CELERY_BROKER_URL"
                && !text.lines().nth(l - 1).unwrap_or("").contains("redis")
            {
                continue;
            }
            found.add(kind, Evidence::at(file, l, format!("settings: {needle}")));
        }
    }
}

/// Where pytest is configured, if it is.
fn pytest_configured(ctx: &Ctx, deps: &[Dep]) -> Option<Evidence> {
    let repo = ctx.repo;
    if repo.is_file("pytest.ini") {
        return Some(Evidence::file("pytest.ini", "pytest configuration"));
    }
    for (f, needle) in [
        ("pyproject.toml", "[tool.pytest.ini_options]"),
        ("setup.cfg", "[tool:pytest]"),
        ("tox.ini", "[pytest]"),
    ] {
        if let Some(text) = repo.read(f) {
            if let Some(l) = line_of(&text, needle) {
                return Some(Evidence::at(
                    f,
                    l,
                    format!("{needle}: pytest configuration"),
                ));
            }
        }
    }
    for f in ["conftest.py", "tests/conftest.py", "src/conftest.py"] {
        if repo.is_file(f) {
            return Some(Evidence::file(f, "pytest conftest.py"));
        }
    }
    find_dep(deps, &["pytest", "pytest-django"]).map(|d| super::dep_evidence(d, "dependency"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// miguelgrinberg/microblog's `os.mkdir('logs')` (docs/adopt.md's table, #11) is
    /// noted; an absolute path, a variable and the tests' directories are not.
    #[test]
    fn directories_created_in_the_working_directory_are_noted() {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "app/__init__.py",
            "import os\nif True:\n    os.mkdir('logs')\n",
        );
        w("app/other.py", "os.makedirs('/var/x')\nos.makedirs(path)\n");
        w("tests/test_x.py", "os.mkdir('tmp')\n");
        let mut notes = Vec::new();
        relative_dirs_note(&super::super::evidence::Repo::new(d.path()), &mut notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("app/__init__.py:3 (`logs`)"), "{notes:?}");
        assert!(!notes[0].contains("tmp"), "{notes:?}");
    }
}
