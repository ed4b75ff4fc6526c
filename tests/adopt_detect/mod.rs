//! The detection engine of `lbc init --adopt` (issue #11) on fixture repositories laid
//! out as real projects of each framework are (tests/fixtures/adopt/, written for this):
//! the whole report is snapshotted, and its key conclusions asserted, so a change of a
//! rule shows as a reviewed diff.

use std::path::{Path, PathBuf};

use lbc::detect::{detect, DetectError, Options, PortSource, Report};

use crate::support::Project;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/adopt")
        .join(name)
}

fn report_with(name: &str, opts: &Options) -> Report {
    detect(&fixture(name), opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn report(name: &str) -> Report {
    let r = report_with(name, &Options::default());
    insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!(format!("detect_{name}"), r);
    });
    r
}

fn argv(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| (*s).to_owned()).collect())
}

fn test_cmd(r: &Report) -> Option<Vec<String>> {
    r.test.as_ref().map(|t| t.command.clone())
}

fn migration(r: &Report) -> Option<Vec<String>> {
    r.migration.as_ref().and_then(|m| m.command.clone())
}

/// (type, variables) of each service.
fn services(r: &Report) -> Vec<(&'static str, Vec<&str>)> {
    r.services
        .iter()
        .map(|s| (s.kind.as_str(), s.env.iter().map(String::as_str).collect()))
        .collect()
}

fn framework(r: &Report) -> (&str, Option<&str>) {
    (r.stack.as_str(), r.framework.as_deref())
}

#[test]
fn django_with_requirements_and_psycopg() {
    let r = report("django");
    assert_eq!(framework(&r), ("python", Some("django")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "pip");
    assert_eq!(
        r.start.command,
        argv(&[
            "gunicorn",
            "mysite.wsgi:application",
            "--bind",
            "0.0.0.0:8000"
        ])
    );
    assert_eq!(r.port.value, Some(8000));
    assert_eq!(test_cmd(&r), argv(&["python3", "manage.py", "test"]));
    assert_eq!(
        migration(&r),
        argv(&["python3", "manage.py", "migrate", "--noinput"])
    );
    // No dj-database-url: the names the settings read.
    assert_eq!(
        services(&r),
        [(
            "postgres",
            vec![
                "POSTGRES_DB",
                "POSTGRES_USER",
                "POSTGRES_PASSWORD",
                "POSTGRES_HOST",
                "POSTGRES_PORT"
            ]
        )]
    );
    let ev = &r.services[0].evidence;
    assert!(
        ev.iter()
            .any(|e| e.file == "requirements.txt" && e.line == Some(2)),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.file == "mysite/settings.py" && e.line.is_some()),
        "{ev:?}"
    );
}

#[test]
fn fastapi_with_uv_and_alembic() {
    let r = report("fastapi");
    assert_eq!(framework(&r), ("python", Some("fastapi")));
    let pm = r.package_manager.as_ref().unwrap();
    assert_eq!(
        (pm.name.as_str(), pm.lockfile.as_deref()),
        ("uv", Some("uv.lock"))
    );
    assert_eq!(
        r.start.command,
        argv(&[
            "uvicorn",
            "app.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8000"
        ])
    );
    assert!(r
        .evidence
        .iter()
        .any(|e| e.file == "app/main.py" && e.line == Some(6)));
    assert_eq!(test_cmd(&r), argv(&["python3", "-m", "pytest"]));
    assert_eq!(
        r.in_env(&test_cmd(&r).unwrap()),
        argv(&["uv", "run", "python3", "-m", "pytest"]).unwrap()
    );
    assert_eq!(migration(&r), argv(&["alembic", "upgrade", "head"]));
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("redis", vec!["REDIS_URL"])
        ]
    );
}

#[test]
fn flask_with_pipenv_factory_and_flask_migrate() {
    let r = report("flask");
    assert_eq!(framework(&r), ("python", Some("flask")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "pipenv");
    assert_eq!(
        r.start.command,
        argv(&[
            "flask",
            "--app",
            "shop:create_app()",
            "run",
            "--host",
            "0.0.0.0",
            "--port",
            "5000"
        ])
    );
    assert_eq!(test_cmd(&r), argv(&["python3", "-m", "pytest"]));
    assert_eq!(
        migration(&r),
        argv(&["flask", "--app", "shop", "db", "upgrade"])
    );
    assert_eq!(services(&r), [("mysql", vec!["DATABASE_URL"])]);
}

#[test]
fn express_with_npm_compose_and_env_example() {
    let r = report("express");
    assert_eq!(framework(&r), ("node", Some("express")));
    let pm = r.package_manager.as_ref().unwrap();
    assert_eq!(pm.install, argv(&["npm", "ci"]).unwrap());
    assert_eq!(r.start.command, argv(&["npm", "start"]));
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(3000), PortSource::EnvExample)
    );
    assert_eq!(test_cmd(&r), argv(&["npm", "test"]));
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("redis", vec!["REDIS_URL"])
        ]
    );
    // Dependency, .env.example and compose file all count.
    let files: Vec<&str> = r.services[0]
        .evidence
        .iter()
        .map(|e| e.file.as_str())
        .collect();
    assert_eq!(
        files,
        ["package.json", ".env.example", "docker-compose.yml"]
    );
}

#[test]
fn nestjs_with_pnpm_and_typescript_build() {
    let r = report("nestjs");
    assert_eq!(framework(&r), ("node", Some("nestjs")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "pnpm");
    assert_eq!(
        r.build.as_ref().map(|b| b.command.clone()),
        argv(&["pnpm", "run", "build"])
    );
    assert!(r
        .build
        .as_ref()
        .unwrap()
        .evidence
        .iter()
        .any(|e| e.file == "tsconfig.json"));
    assert_eq!(r.start.command, argv(&["pnpm", "run", "start:prod"]));
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(3000), PortSource::Code)
    );
    assert_eq!(test_cmd(&r), argv(&["pnpm", "test"]));
    assert_eq!(
        services(&r),
        [(
            "mysql",
            vec![
                "DB_HOST",
                "DB_PORT",
                "DB_USERNAME",
                "DB_PASSWORD",
                "DB_DATABASE"
            ]
        )]
    );
}

#[test]
fn nextjs_with_yarn_and_prisma() {
    let r = report("nextjs");
    assert_eq!(framework(&r), ("node", Some("nextjs")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "yarn");
    assert_eq!(r.start.command, argv(&["yarn", "start"]));
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(3000), PortSource::Default)
    );
    assert_eq!(r.port.flag.as_deref(), Some("--set port=PORT"));
    assert_eq!(test_cmd(&r), None, "no test script: none invented");
    assert!(r.notes.iter().any(|n| n.contains("no `test` script")));
    assert_eq!(
        migration(&r),
        argv(&["yarn", "prisma", "migrate", "deploy"])
    );
    assert_eq!(services(&r), [("postgres", vec!["POSTGRES_PRISMA_URL"])]);
    // `prisma` is a devDependency: absent from the image the migration runs in.
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("prisma is a devDependency")),
        "{:?}",
        r.notes
    );
}

/// The end-to-end fixtures' conclusions (tests/fixtures/adopt-e2e, whose full runs are in
/// init_adopt): node-pg-migrate as Next.js's migration, a TypeScript build step, Knex
/// beside a Redis counter, a driver named in a SQLAlchemy URL (issue #11).
#[test]
fn end_to_end_fixtures_are_detected() {
    let e2e = |name: &str| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/adopt-e2e")
            .join(name);
        detect(&dir, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let r = e2e("nextjs-guestbook");
    assert_eq!(framework(&r), ("node", Some("nextjs")));
    assert_eq!(r.start.command, argv(&["npm", "start"]));
    assert_eq!(
        r.build.as_ref().map(|b| b.command.clone()),
        argv(&["npm", "run", "build"])
    );
    assert_eq!(migration(&r), argv(&["npx", "node-pg-migrate", "up"]));
    assert_eq!(services(&r), [("postgres", vec!["DATABASE_URL"])]);
    assert!(
        r.notes.iter().all(|n| !n.contains("devDependency")),
        "{:?}",
        r.notes
    );

    let r = e2e("fastify-links");
    assert_eq!(framework(&r), ("node", Some("fastify")));
    assert_eq!(
        r.build.as_ref().map(|b| b.command.clone()),
        argv(&["npm", "run", "build"])
    );
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(3000), PortSource::EnvExample)
    );
    assert_eq!(migration(&r), argv(&["npx", "knex", "migrate:latest"]));
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("redis", vec!["REDIS_URL"])
        ]
    );

    let r = e2e("flask-bookshelf");
    assert_eq!(framework(&r), ("python", Some("flask")));
    assert_eq!(
        migration(&r),
        argv(&["flask", "--app", "bookshelf", "db", "upgrade"])
    );
    assert_eq!(services(&r), [("mysql", vec!["DATABASE_URL"])]);
    assert_eq!(
        r.services[0]
            .schemes
            .get("DATABASE_URL")
            .map(String::as_str),
        Some("mysql+pymysql")
    );
}

#[test]
fn go_with_two_binaries_is_a_choice() {
    let r = report("go");
    assert_eq!(framework(&r), ("go", None));
    assert_eq!(r.binaries, ["api", "worker"]);
    assert_eq!(r.start.command, None, "never a silent pick");
    assert_eq!(r.start.flag.as_deref(), Some("--set binary=NAME"));
    assert_eq!(r.port.source, PortSource::Undetermined);
    assert_eq!(test_cmd(&r), argv(&["go", "test", "./..."]));
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("redis", vec!["REDIS_URL"])
        ]
    );
    let api = report_with(
        "go",
        &Options {
            binary: Some("api".into()),
            ..Options::default()
        },
    );
    assert_eq!(api.start.command, argv(&["bin/api"]));
    assert_eq!(
        api.build.as_ref().map(|b| b.command.clone()),
        argv(&["go", "build", "-o", "bin/api", "./cmd/api"])
    );
    assert_eq!(
        (api.port.value, api.port.source),
        (Some(8080), PortSource::Code)
    );
    assert_eq!(api.port.evidence[0].place(), "cmd/api/main.go:17");
}

#[test]
fn rust_workspace_with_two_binaries_and_sqlx() {
    let r = report("rust-workspace");
    assert_eq!(framework(&r), ("rust", Some("axum")));
    assert_eq!(r.binaries, ["admin", "api"]);
    assert_eq!(r.start.flag.as_deref(), Some("--set binary=NAME"));
    assert_eq!(
        test_cmd(&r),
        argv(&["cargo", "test", "--locked", "--workspace"])
    );
    let m = r.migration.as_ref().unwrap();
    assert!(m.at_start && m.command.is_none(), "{m:?}");
    assert_eq!(services(&r), [("postgres", vec!["DATABASE_URL"])]);
    let api = report_with(
        "rust-workspace",
        &Options {
            binary: Some("api".into()),
            ..Options::default()
        },
    );
    assert_eq!(api.start.command, argv(&["target/release/api"]));
    assert_eq!(
        (api.port.value, api.port.source),
        (Some(3000), PortSource::Code)
    );
}

#[test]
fn spring_boot_with_gradle_wrapper_and_flyway() {
    let r = report("spring-gradle");
    assert_eq!(framework(&r), ("java", Some("spring-boot")));
    assert_eq!(
        r.start.command,
        argv(&["java", "-jar", "build/libs/inventory-0.0.1-SNAPSHOT.jar"])
    );
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(8081), PortSource::Settings)
    );
    assert_eq!(test_cmd(&r), argv(&["./gradlew", "test", "--no-daemon"]));
    let m = r.migration.as_ref().unwrap();
    assert_eq!((m.tool.as_str(), m.at_start), ("flyway", true));
    assert_eq!(
        services(&r),
        [(
            "postgres",
            vec![
                "SPRING_DATASOURCE_URL",
                "SPRING_DATASOURCE_USERNAME",
                "SPRING_DATASOURCE_PASSWORD"
            ]
        )]
    );
}

#[test]
fn spring_boot_with_maven_wrapper_redis_and_liquibase() {
    let r = report("spring-maven");
    assert_eq!(framework(&r), ("java", Some("spring-boot")));
    assert_eq!(
        r.start.command,
        argv(&["java", "-jar", "target/catalog-1.2.0.jar"])
    );
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(9090), PortSource::Settings)
    );
    assert_eq!(test_cmd(&r), argv(&["./mvnw", "-B", "test"]));
    assert_eq!(r.migration.as_ref().unwrap().tool, "liquibase");
    assert_eq!(
        services(&r).iter().map(|s| s.0).collect::<Vec<_>>(),
        ["mysql", "redis"]
    );
}

#[test]
fn laravel_with_package_json_is_php_not_node() {
    let r = report("laravel");
    assert_eq!(framework(&r), ("php", Some("laravel")));
    assert_eq!(r.also_found.len(), 1);
    assert_eq!(r.also_found[0].stack, "node");
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("also found node (package.json)")));
    assert_eq!(
        r.start.command,
        argv(&["php", "artisan", "serve", "--host=0.0.0.0", "--port=8000"])
    );
    assert_eq!(
        r.start.flag.as_deref(),
        Some("--set start=artisan-serve|php-fpm")
    );
    assert_eq!(r.start.choices.len(), 2);
    assert_eq!(test_cmd(&r), argv(&["php", "artisan", "test"]));
    assert_eq!(
        migration(&r),
        argv(&["php", "artisan", "migrate", "--force"])
    );
    assert_eq!(
        services(&r),
        [
            (
                "postgres",
                vec![
                    "DB_CONNECTION",
                    "DB_HOST",
                    "DB_PORT",
                    "DB_DATABASE",
                    "DB_USERNAME",
                    "DB_PASSWORD"
                ]
            ),
            ("redis", vec!["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"])
        ]
    );
    let fpm = report_with(
        "laravel",
        &Options {
            start: Some("php-fpm".into()),
            ..Options::default()
        },
    );
    assert_eq!(fpm.start.command, argv(&["php-fpm"]));
    assert_eq!((fpm.port.value, fpm.start.flag), (Some(9000), None));
}

#[test]
fn symfony_with_doctrine_and_committed_env() {
    let r = report("symfony");
    assert_eq!(framework(&r), ("php", Some("symfony")));
    assert_eq!(test_cmd(&r), argv(&["php", "bin/phpunit"]));
    assert_eq!(
        migration(&r),
        argv(&[
            "php",
            "bin/console",
            "doctrine:migrations:migrate",
            "--no-interaction"
        ])
    );
    assert_eq!(services(&r), [("postgres", vec!["DATABASE_URL"])]);
    // The commented-out MySQL URL is not a service.
    assert_eq!(r.services[0].evidence[0].place(), ".env:7");
}

/// Precedence and refusals, on repositories generated here.
#[test]
fn ambiguity_is_reported_never_guessed() {
    let p = Project::with(&[
        (
            "manage.py",
            "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n",
        ),
        ("requirements.txt", "django\n"),
        ("package.json", "{\"dependencies\": {\"express\": \"4\"}}"),
    ]);
    let e = detect(p.path(), &Options::default()).unwrap_err();
    let DetectError::Ambiguous { candidates, .. } = &e else {
        panic!("{e}")
    };
    let names: Vec<_> = candidates.iter().map(|c| c.stack.as_str()).collect();
    assert_eq!(names, ["node", "python"]);
    assert!(
        e.to_string().contains(
            "node (package.json) [express]; python (requirements.txt, manage.py) [django]"
        ),
        "{e}"
    );
    assert_eq!(
        e.hint(),
        "choose one with --stack, e.g. `lbc init --adopt --stack node`"
    );
    // --stack decides.
    let r = detect(
        p.path(),
        &Options {
            stack: Some("python".into()),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(r.framework.as_deref(), Some("django"));

    // A framework beats a bare manifest, and says so.
    let q = Project::with(&[
        ("go.mod", "module example.com/tools\n"),
        (
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\"flask\"]\n",
        ),
        (
            "x/app.py",
            "from flask import Flask\napp = Flask(__name__)\n",
        ),
    ]);
    let r = detect(q.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("python", Some("flask")));
    assert_eq!(
        r.start.command,
        argv(&["flask", "--app", "x.app", "run", "--host", "0.0.0.0", "--port", "5000"])
    );
    assert_eq!(r.also_found[0].stack, "go");
}

#[test]
fn unsupported_repository_lists_what_was_found() {
    let p = Project::with(&[
        ("Gemfile", "source 'https://rubygems.org'\ngem 'rails'\n"),
        ("config.ru", "run Rails.application\n"),
    ]);
    let e = detect(p.path(), &Options::default()).unwrap_err();
    assert!(matches!(e, DetectError::Unsupported { .. }));
    assert!(e.to_string().contains("(found: Gemfile (ruby))"), "{e}");
}

#[test]
fn links_and_dependency_directories_are_not_read() {
    let outside = Project::with(&[("main.py", "from fastapi import FastAPI\napi = FastAPI()\n")]);
    let p = Project::with(&[
        ("requirements.txt", "fastapi\n"),
        (
            "node_modules/pkg/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
        (".venv/lib/site.py", "app = FastAPI()\n"),
        (
            "src/app/web.py",
            "from fastapi import FastAPI\nweb = FastAPI()\n",
        ),
    ]);
    std::os::unix::fs::symlink(outside.path(), p.path().join("linked")).unwrap();
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(
        r.start.command,
        argv(&[
            "uvicorn",
            "app.web:web",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--app-dir",
            "src"
        ])
    );
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("uvicorn is not among the dependencies")));
}

#[test]
fn flags_and_dockerfile_set_the_port() {
    let p = Project::with(&[
        ("requirements.txt", "flask\ngunicorn\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ("Dockerfile", "FROM python:3.12\nEXPOSE 7000\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(7000), PortSource::Dockerfile)
    );
    assert_eq!(
        r.start.command,
        argv(&["gunicorn", "--bind", "0.0.0.0:7000", "app:app"])
    );
    let r = detect(
        p.path(),
        &Options {
            port: Some(9999),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(9999), PortSource::Flag)
    );
    assert_eq!(
        r.start.command,
        argv(&["gunicorn", "--bind", "0.0.0.0:9999", "app:app"])
    );
}

#[test]
fn django_variants_settings_package_src_layout_and_database_url() {
    let p = Project::with(&[
        ("src/manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.production')\n"),
        ("src/config/settings/__init__.py", ""),
        ("src/config/settings/base.py", "import dj_database_url\nDATABASES = {'default': dj_database_url.config()}\nCACHES = {'default': {'BACKEND': 'django.core.cache.backends.redis.RedisCache', 'LOCATION': os.environ['REDIS_CACHE_URL']}}\n"),
        ("src/config/settings/production.py", "from .base import *\nASGI_APPLICATION = 'config.asgi.application'\n"),
        ("src/config/asgi.py", "application = get_asgi_application()\n"),
        ("pyproject.toml", "[project]\nname = \"site\"\ndependencies = [\"Django>=5\", \"dj-database-url\", \"psycopg2-binary\", \"uvicorn\", \"redis\"]\n\n[project.optional-dependencies]\ntest = [\"pytest-django\"]\n"),
        ("poetry.lock", "# lock\n"),
        ("pytest.ini", "[pytest]\nDJANGO_SETTINGS_MODULE = config.settings.test\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("python", Some("django")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "poetry");
    assert_eq!(
        r.start.command,
        argv(&[
            "uvicorn",
            "config.asgi:application",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--app-dir",
            "src"
        ])
    );
    assert_eq!(
        test_cmd(&r),
        argv(&["python3", "-m", "pytest"]),
        "pytest.ini wins over manage.py test"
    );
    assert_eq!(
        migration(&r),
        argv(&["python3", "src/manage.py", "migrate", "--noinput"])
    );
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("redis", vec!["REDIS_CACHE_URL"])
        ]
    );
    // Evidence names the module of the settings package that says it, at its own line.
    assert_eq!(
        r.start.evidence[0].place(),
        "src/config/settings/production.py:2"
    );
    assert!(
        r.services[1]
            .evidence
            .iter()
            .any(|e| e.place() == "src/config/settings/base.py:3"),
        "{:?}",
        r.services[1].evidence
    );
}

#[test]
fn node_edge_cases_placeholder_test_lockfiles_workspaces() {
    let p = Project::with(&[
        ("package.json", "{\"name\": \"x\", \"workspaces\": [\"packages/*\"], \"main\": \"index.js\", \"scripts\": {\"test\": \"echo \\\"Error: no test specified\\\" && exit 1\"}, \"dependencies\": {\"fastify\": \"4\"}}"),
        ("index.js", "fastify.listen({ port: process.env.PORT || 4000, host: '0.0.0.0' })\n"),
        ("yarn.lock", ""),
        ("package-lock.json", "{}"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("node", Some("fastify")));
    assert_eq!(r.package_manager.as_ref().unwrap().name, "yarn");
    assert_eq!(r.start.command, argv(&["node", "index.js"]));
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(4000), PortSource::Code)
    );
    assert_eq!(test_cmd(&r), None);
    let notes = r.notes.join("\n");
    assert!(
        notes.contains("several lockfiles (yarn.lock, package-lock.json): lbc uses yarn.lock"),
        "{notes}"
    );
    assert!(notes.contains("npm's placeholder"), "{notes}");
    assert!(notes.contains("monorepo"), "{notes}");
}

/// An old NestJS layout (lujakob/nestjs-realworld-example-app, docs/adopt.md's table):
/// the compile is `prestart:prod`, which npm runs at every start of the container; it
/// is noted, and no build step is invented (issue #11).
#[test]
fn a_compile_before_the_start_script_is_noted() {
    let p = Project::with(&[
        ("package.json", "{\"name\": \"x\", \"scripts\": {\"prestart:prod\": \"tsc\", \"start:prod\": \"node dist/main.js\"}, \"dependencies\": {\"@nestjs/core\": \"7\"}}"),
        ("package-lock.json", "{}"),
        ("tsconfig.json", "{}"),
        ("src/main.ts", "app.listen(3000);\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("node", Some("nestjs")));
    assert_eq!(r.start.command, argv(&["npm", "run", "start:prod"]));
    assert!(r.build.is_none());
    let notes = r.notes.join("\n");
    assert!(
        notes.contains("package.json:1: `prestart:prod` (`tsc`) runs before `start:prod`"),
        "{notes}"
    );
}

#[test]
fn go_root_binary_and_plain_php() {
    let g = Project::with(&[
        ("go.mod", "module example.com/shop/v3\n\ngo 1.22\n\nrequire github.com/go-sql-driver/mysql v1.8.1\n"),
        ("main.go", "package main\n\nfunc main() { http.ListenAndServe(\"0.0.0.0:8090\", nil) }\n"),
        ("main_test.go", "package main\n"),
    ]);
    let r = detect(g.path(), &Options::default()).unwrap();
    assert_eq!(r.binaries, ["shop"]);
    assert_eq!(r.start.command, argv(&["bin/shop"]));
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(8090), PortSource::Code)
    );
    assert_eq!(services(&r), [("mysql", vec!["DATABASE_URL"])]);

    let php = Project::with(&[
        ("composer.json", "{\"require\": {\"slim/slim\": \"^4\", \"ext-pdo_pgsql\": \"*\"}, \"require-dev\": {\"phpunit/phpunit\": \"^10\"}}"),
        ("public/index.php", "<?php\n"),
        ("package.json", "{\"scripts\": {\"start\": \"node server.js\"}}"),
        (".env.example", "DATABASE_URL=mysql://u@db/x\n"),
    ]);
    let r = detect(php.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("php", None));
    assert_eq!(
        r.also_found[0].stack, "node",
        "package.json beside composer.json"
    );
    assert_eq!(
        r.start.command,
        argv(&["php", "-S", "0.0.0.0:8000", "-t", "public"])
    );
    assert_eq!(test_cmd(&r), argv(&["vendor/bin/phpunit"]));
    assert_eq!(
        services(&r),
        [
            ("postgres", vec!["DATABASE_URL"]),
            ("mysql", vec!["DATABASE_URL"])
        ]
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("several databases found (postgres, mysql)")),
        "{:?}",
        r.notes
    );
}

#[test]
fn tests_building_an_app_are_not_the_service() {
    let p = Project::with(&[
        ("requirements.txt", "fastapi\nuvicorn\n"),
        (
            "tests/test_api.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
        ("conftest.py", "app = FastAPI()\n"),
        (
            "service/api/server.py",
            "from fastapi import FastAPI\napi = FastAPI(title='x')\n",
        ),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(
        r.start.command,
        argv(&[
            "uvicorn",
            "service.api.server:api",
            "--host",
            "0.0.0.0",
            "--port",
            "8000"
        ])
    );
}

/// Gradle's Kotlin DSL with a version catalogue, as `spring init` and many real projects
/// lay it out: the plugin and the coordinates live in gradle/libs.versions.toml.
#[test]
fn spring_boot_with_kotlin_dsl_and_a_version_catalogue() {
    let p = Project::with(&[
        ("settings.gradle.kts", "rootProject.name = \"ledger\"\n"),
        ("build.gradle.kts", "plugins {\n    java\n    alias(libs.plugins.spring.boot)\n}\n\nversion = \"2.0.0\"\n\ndependencies {\n    implementation(libs.spring.boot.starter.web)\n    runtimeOnly(libs.postgresql)\n    testImplementation(libs.spring.boot.starter.test)\n}\n"),
        ("gradle/libs.versions.toml", "[versions]\nboot = \"3.3.1\"\n\n[libraries]\nspring-boot-starter-web = { module = \"org.springframework.boot:spring-boot-starter-web\" }\npostgresql = { module = \"org.postgresql:postgresql\", version = \"42.7.3\" }\n\n[plugins]\nspring-boot = { id = \"org.springframework.boot\", version.ref = \"boot\" }\n"),
        ("gradlew", "#!/bin/sh\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(framework(&r), ("java", Some("spring-boot")));
    assert!(
        r.evidence
            .iter()
            .any(|e| e.place() == "gradle/libs.versions.toml:9"),
        "{:?}",
        r.evidence
    );
    assert_eq!(
        r.start.command,
        argv(&["java", "-jar", "build/libs/ledger-2.0.0.jar"])
    );
    assert_eq!(
        (r.port.value, r.port.source),
        (Some(8080), PortSource::Default)
    );
    assert_eq!(services(&r)[0].0, "postgres");
    assert_eq!(
        r.services[0].evidence[0].place(),
        "gradle/libs.versions.toml:6"
    );
}

/// A Spring Boot application supporting two databases by profile (as spring-petclinic
/// does): both are reported, each with its profile, and a note says only one is used.
#[test]
fn spring_profiles_with_two_databases_are_reported_not_chosen() {
    let p = Project::with(&[
        ("pom.xml", "<project><parent><artifactId>spring-boot-starter-parent</artifactId></parent><artifactId>clinic</artifactId><version>3.0</version><dependencies><dependency><groupId>com.mysql</groupId><artifactId>mysql-connector-j</artifactId><scope>runtime</scope></dependency><dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId><scope>runtime</scope></dependency></dependencies></project>"),
        ("src/main/resources/application.properties", "database=h2\n"),
        ("src/main/resources/application-mysql.properties", "spring.datasource.url=${MYSQL_URL:jdbc:mysql://localhost/clinic}\n"),
        ("src/main/resources/application-postgres.properties", "\nspring.datasource.url=${POSTGRES_URL:jdbc:postgresql://localhost/clinic}\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(
        services(&r).iter().map(|s| s.0).collect::<Vec<_>>(),
        ["postgres", "mysql"]
    );
    let pg: Vec<String> = r.services[0]
        .evidence
        .iter()
        .map(|e| format!("{} {}", e.place(), e.note))
        .collect();
    assert!(pg.contains(&"src/main/resources/application-postgres.properties:2 datasource jdbc:postgresql: (profile postgres)".to_owned()), "{pg:?}");
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("several databases found")),
        "{:?}",
        r.notes
    );
    assert_eq!(
        r.start.command,
        argv(&["java", "-jar", "target/clinic-3.0.jar"])
    );
}

#[test]
fn dependency_lines_are_found_in_the_dependency_tables() {
    let p = Project::with(&[
        (
            "pyproject.toml",
            "[project]\nname = \"x\"\ndescription = \"A FastAPI service on Redis\"\ndependencies = [\n  \"FastAPI>=0.1\",\n  \"redis\",\n]\n",
        ),
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert!(
        r.evidence.iter().any(|e| e.place() == "pyproject.toml:5"),
        "{:?}",
        r.evidence
    );
    assert_eq!(r.services[0].evidence[0].place(), "pyproject.toml:6");
}

/// A database's address in the code is not the service's port.
#[test]
fn only_listening_addresses_give_the_port() {
    let g = Project::with(&[
        ("go.mod", "module example.com/svc\n"),
        ("main.go", "package main\n\nvar db = \"localhost:5432\"\n\nfunc main() {\n\tport := os.Getenv(\"PORT\")\n\tif port == \"\" {\n\t\tport = \"8088\"\n\t}\n\thttp.ListenAndServe(\":\"+port, nil)\n}\n"),
    ]);
    let r = detect(g.path(), &Options::default()).unwrap();
    assert_eq!(
        (r.port.value, r.port.evidence[0].place()),
        (Some(8088), "main.go:8".to_owned())
    );

    let rs = Project::with(&[
        ("Cargo.toml", "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n"),
        ("src/main.rs", "const DB: &str = \"127.0.0.1:5432\";\nfn main() {\n    let l = std::net::TcpListener::bind(\"0.0.0.0:7070\").unwrap();\n}\n"),
    ]);
    let r = detect(rs.path(), &Options::default()).unwrap();
    assert_eq!(
        (r.port.value, r.port.evidence[0].place()),
        (Some(7070), "src/main.rs:3".to_owned())
    );

    let py = Project::with(&[
        ("requirements.txt", "flask\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\nDB = dict(host='db', port=5432)\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5005)\n"),
    ]);
    let r = detect(py.path(), &Options::default()).unwrap();
    assert_eq!(
        (r.port.value, r.port.evidence[0].place()),
        (Some(5005), "app.py:5".to_owned())
    );
    assert_eq!(
        r.start.command,
        argv(&["flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "5005"])
    );
}

#[test]
fn a_second_framework_among_the_dependencies_is_noted() {
    let p = Project::with(&[
        (
            "manage.py",
            "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"s.settings\")\n",
        ),
        ("requirements.txt", "django\nflask\n"),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(r.framework.as_deref(), Some("django"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("requirements.txt:2: flask is a dependency too")),
        "{:?}",
        r.notes
    );
    let n = Project::with(&[(
        "package.json",
        "{\"dependencies\": {\"next\": \"14\", \"express\": \"4\"}}",
    )]);
    let r = detect(n.path(), &Options::default()).unwrap();
    assert_eq!(r.framework.as_deref(), Some("nextjs"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("express is a dependency too")),
        "{:?}",
        r.notes
    );
}

/// A Procfile's web process is the project's own start command (issue #11).
#[test]
fn procfile_web_process_wins_and_the_derived_command_stays_a_choice() {
    let p = Project::with(&[
        ("requirements.txt", "flask\ngunicorn\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        (
            "Procfile",
            "release: flask db upgrade\nweb: gunicorn app:app --bind 0.0.0.0:$PORT --workers 3\n",
        ),
    ]);
    let r = detect(p.path(), &Options::default()).unwrap();
    assert_eq!(
        r.start.command,
        argv(&[
            "sh",
            "-c",
            "gunicorn app:app --bind 0.0.0.0:$PORT --workers 3"
        ])
    );
    assert_eq!(r.start.evidence[0].place(), "Procfile:2");
    let names: Vec<&str> = r.start.choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["procfile", "detected"]);
    let chosen = detect(
        p.path(),
        &Options {
            start: Some("detected".into()),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        chosen.start.command,
        argv(&["gunicorn", "--bind", "0.0.0.0:8000", "app:app"])
    );
}

/// A manifest that does not parse is said, never silently skipped.
#[test]
fn broken_manifests_are_reported() {
    let rs = Project::with(&[("Cargo.toml", "[package\nname = \"x\"\n")]);
    let r = detect(rs.path(), &Options::default()).unwrap();
    assert_eq!(r.stack, "rust");
    assert!(
        r.notes[0].starts_with("Cargo.toml does not parse"),
        "{:?}",
        r.notes
    );
    let py = Project::with(&[("pyproject.toml", "[project\n")]);
    let r = detect(py.path(), &Options::default()).unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("pyproject.toml does not parse")),
        "{:?}",
        r.notes
    );
    let php = Project::with(&[("composer.json", "{\"require\": ")]);
    let r = detect(php.path(), &Options::default()).unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("composer.json does not parse")),
        "{:?}",
        r.notes
    );
    let node = Project::with(&[("package.json", "{,}")]);
    let r = detect(node.path(), &Options::default()).unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("package.json does not parse")),
        "{:?}",
        r.notes
    );
}

#[test]
fn setup_py_alone_installs_with_pip() {
    let p = Project::with(&[(
        "setup.py",
        "from setuptools import setup\nsetup(name='x')\n",
    )]);
    let r = detect(p.path(), &Options::default()).unwrap();
    let pm = r.package_manager.as_ref().unwrap();
    assert_eq!(
        (pm.name.as_str(), pm.install.join(" ")),
        ("pip", "pip install .".to_owned())
    );
    assert_eq!(pm.evidence[0].file, "setup.py");
    assert_eq!(r.start.flag.as_deref(), Some("--set start=COMMAND"));
}

/// A PHP application without Laravel or Symfony migrates the way small ones do
/// (issue #11): its own Composer script (`"migrate": "@php bin/migrate.php"`, run as
/// `php bin/migrate.php`: the image has PHP, not Composer), else Phinx with its
/// configuration; a script lbc cannot run without a shell is a note, never a guess.
#[test]
fn plain_php_migrates_by_its_composer_script_or_phinx() {
    let script = Project::with(&[
        ("composer.json", "{\n  \"require\": {\"ext-pdo_pgsql\": \"*\"},\n  \"scripts\": {\n    \"test\": \"phpunit\",\n    \"migrate\": \"@php bin/migrate.php --all\"\n  }\n}\n"),
        ("public/index.php", "<?php\n"),
        ("bin/migrate.php", "<?php\n"),
    ]);
    let r = detect(script.path(), &Options::default()).unwrap();
    assert_eq!(migration(&r), argv(&["php", "bin/migrate.php", "--all"]));
    let m = r.migration.as_ref().unwrap();
    assert_eq!(m.tool, "composer-script");
    assert_eq!(m.evidence[0].place(), "composer.json:5");

    let phinx = Project::with(&[
        (
            "composer.json",
            "{\"require\": {\"robmorgan/phinx\": \"^0.16\", \"ext-pdo_mysql\": \"*\"}}",
        ),
        ("phinx.php", "<?php return [];\n"),
        ("index.php", "<?php\n"),
    ]);
    let r = detect(phinx.path(), &Options::default()).unwrap();
    assert_eq!(migration(&r), argv(&["vendor/bin/phinx", "migrate"]));

    // Phinx without its configuration, and a script that needs a shell: no migration.
    let shell = Project::with(&[
        ("composer.json", "{\"require\": {\"robmorgan/phinx\": \"^0.16\"}, \"scripts\": {\"migrate\": \"php bin/migrate.php && php bin/seed.php\"}}"),
        ("public/index.php", "<?php\n"),
    ]);
    let r = detect(shell.path(), &Options::default()).unwrap();
    assert_eq!(r.migration, None);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("the Composer script `migrate` is not one `php FILE`")),
        "{:?}",
        r.notes
    );
}
