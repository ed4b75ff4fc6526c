//! `lbc init --adopt` on sample repositories of every stack (issue #3): the stack, name,
//! Dockerfile (stages, EXPOSE, catalogue base images) and chart are detected; only
//! lbc.toml is written, and lbc's own parser accepts it; an ambiguous repository fails
//! off a terminal, listing the candidates and the flag; existing lbc.toml is kept.

use std::path::Path;

use crate::init_support::{init, tree};
use crate::support::{docker_env, unique, Cleanup, Project};

const PY_DOCKERFILE: &str = "ARG PYTHON_IMAGE=python:3.12-slim-bookworm\nFROM ${PYTHON_IMAGE} AS base\nWORKDIR /app\nCOPY . .\nFROM base AS test\nFROM base AS runtime\nEXPOSE 9000\nHEALTHCHECK CMD python3 -c 'print(1)'\nCMD [\"python3\", \"app.py\"]\n";

/// Adopt `p` and check that only lbc.toml appeared; returns the parsed config.
fn adopt(p: &Project, extra: &[&str]) -> (lbc::config::Config, String) {
    let before = tree(p.path());
    let mut args = vec!["init", "--adopt", "--yes"];
    args.extend_from_slice(extra);
    let out = p.lbc().args(&args).run().success();
    let mut after = tree(p.path());
    let (text, mode) = after.remove("lbc.toml").expect("lbc.toml written");
    assert_eq!(
        after, before,
        "--adopt touched something else than lbc.toml"
    );
    assert_eq!(mode & 0o777, 0o644);
    let text = String::from_utf8(text).unwrap();
    let loaded = lbc::config::parse(&p.path().join("lbc.toml"), &text)
        .unwrap_or_else(|e| panic!("adopted lbc.toml does not parse: {e}\n{text}"));
    let config = p.lbc().args(["config"]).run().success();
    assert!(!config.stderr().contains("warning"), "{}", config.stderr());
    (loaded.config, out.stderr())
}

#[test]
fn python_repo_with_dockerfile_and_chart() {
    let p = Project::with(&[
        (
            "pyproject.toml",
            "[project]\nname = \"Billing_API\"\nversion = \"1\"\n",
        ),
        ("requirements.txt", "pytest==8.0\n"),
        ("app.py", "print('hi')\n"),
        ("Dockerfile", PY_DOCKERFILE),
        (
            "charts/billing/Chart.yaml",
            "apiVersion: v2\nname: billing\nversion: 0.1.0\n",
        ),
        ("charts/billing/values-staging.yaml", "replicaCount: 2\n"),
    ]);
    p.git_init();
    let (c, stderr) = adopt(&p, &[]);
    assert!(
        stderr.contains("stack: python (pyproject.toml, requirements.txt)"),
        "{stderr}"
    );
    assert_eq!(c.project.name, "billing-api");
    let image = c.image.unwrap();
    assert_eq!(image.repository, "registry.example.com/billing-api");
    assert_eq!(image.target.as_deref(), Some("runtime"));
    assert_eq!(image.bases["PYTHON_IMAGE"], "python");
    let unit = &c.tasks["test-unit"];
    assert_eq!(unit.stage.as_deref(), Some("test"));
    assert_eq!(
        unit.run,
        lbc::config::TaskCommand::Argv(vec!["python3".into(), "-m".into(), "pytest".into()])
    );
    assert_eq!(c.env["local"].container_port, Some(9000));
    assert_eq!(c.deploy.unwrap().chart.as_deref(), Some("charts/billing"));
    assert_eq!(
        c.env["staging"].values,
        ["charts/billing/values-staging.yaml"]
    );
    assert!(c.env["qualification"].values.is_empty(), "no such file");
    assert!(c.env["production"].protected);
    assert_eq!(c.env["production"].promote_from.as_deref(), Some("staging"));
    // The repository is still clean apart from the new file.
    assert_eq!(p.git(&["status", "--porcelain"]), "?? lbc.toml");
}

#[test]
fn node_go_rust_java_and_static_repos() {
    // (stack, files, expected name, image of test-unit)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            "node",
            &[("package.json", "{\"name\": \"@acme/web-shop\", \"scripts\": {\"test\": \"node --test\"}}")],
            "web-shop",
            "node",
        ),
        (
            "go",
            &[
                ("go.mod", "module github.com/acme/inventory/v2\n\ngo 1.22\n"),
                ("Dockerfile", "FROM golang:1.23-bookworm\nEXPOSE 8081\n"),
            ],
            "inventory",
            "go-builder",
        ),
        (
            "rust",
            &[("Cargo.toml", "[package]\nname = \"ledger\"\nversion = \"0.1.0\"\n")],
            "ledger",
            "rust-builder",
        ),
        (
            "java",
            &[(
                "pom.xml",
                "<project><parent><artifactId>acme-parent</artifactId></parent><artifactId>orders</artifactId></project>",
            )],
            "orders",
            "maven:3-eclipse-temurin-21",
        ),
        (
            "java",
            &[
                ("settings.gradle", "rootProject.name = 'payments'\n"),
                ("build.gradle", "plugins { id 'java' }\n"),
                ("gradlew", "#!/bin/sh\n"),
            ],
            "payments",
            "java-builder",
        ),
        ("static", &[("public/index.html", "<title>x</title>\n")], "", ""),
    ];
    for (stack, files, name, test_image) in cases {
        let p = Project::with(files);
        let (c, stderr) = adopt(&p, &[]);
        assert!(
            stderr.contains(&format!("stack: {stack} (")),
            "{stack}: {stderr}"
        );
        if !name.is_empty() {
            assert_eq!(c.project.name, *name, "{stack}");
        }
        if !test_image.is_empty() {
            assert_eq!(
                c.tasks["test-unit"].image.as_deref(),
                Some(*test_image),
                "{stack}"
            );
        }
        assert!(c.env.contains_key("local"), "{stack}");
        assert!(
            !c.env.contains_key("production"),
            "{stack}: no chart, no clusters"
        );
        if !files.iter().any(|(f, _)| *f == "Dockerfile") {
            assert!(stderr.contains("no Dockerfile"), "{stack}: {stderr}");
        }
    }
}

#[test]
fn ambiguous_repository_fails_listing_candidates_and_the_flag() {
    let p = Project::with(&[
        ("go.mod", "module example.com/amb\n\ngo 1.22\n"),
        ("package.json", "{\"name\": \"amb\"}"),
    ]);
    let before = tree(p.path());
    p.lbc()
        .args(["init", "--adopt"])
        .run()
        .code_is(2)
        .stderr_has("holds more than one stack: go (go.mod); node (package.json)")
        .stderr_has("hint: choose one with --stack, e.g. `lbc init --adopt --stack go`");
    assert_eq!(tree(p.path()), before, "something was written");
    let (c, _) = adopt(&p, &["--stack", "node"]);
    assert_eq!(c.tasks["test-unit"].image.as_deref(), Some("node"));
}

#[test]
fn nothing_detected_or_lbc_toml_present_is_refused() {
    let p = Project::with(&[("README.md", "# hi\n")]);
    p.lbc()
        .args(["init", "--adopt"])
        .run()
        .code_is(2)
        .stderr_has("lbc found no stack")
        .stderr_has("found: README.md")
        .stderr_has("choose one with --stack");
    // An unsupported stack is named (issue #11).
    let rb = Project::with(&[("Gemfile", "gem 'rails'\n"), ("config.ru", "run App\n")]);
    rb.lbc()
        .args(["init", "--adopt"])
        .run()
        .code_is(2)
        .stderr_has("; found: Gemfile (ruby)");
    assert!(!rb.path().join("lbc.toml").exists());
    assert!(!p.path().join("lbc.toml").exists());

    let q = Project::with(&[
        ("go.mod", "module x\n"),
        ("lbc.toml", "[project]\nname = \"mine\"\n"),
    ]);
    q.lbc()
        .args(["init", "--adopt"])
        .run()
        .code_is(2)
        .stderr_has("lbc.toml already exists: nothing was written");
    assert_eq!(q.read("lbc.toml"), "[project]\nname = \"mine\"\n");
    q.lbc().args(["init", "--adopt", "--force"]).run().success();
    assert!(q.read("lbc.toml").contains("name = \"x\""));

    // Dry run: the file's text on stdout, nothing written.
    let r = Project::with(&[("Cargo.toml", "[package]\nname = \"dry\"\n")]);
    r.lbc()
        .args(["init", "--adopt", "--dry-run"])
        .run()
        .success()
        .stdout_has("create    lbc.toml")
        .stdout_has("name = \"dry\"");
    assert!(!r.path().join("lbc.toml").exists());
    r.lbc()
        .args(["init", "--adopt", "--set", "colour=blue"])
        .run()
        .code_is(2)
        .stderr_has("--adopt has no variable `colour`");
}

/// A repository that `lbc init` made, stripped of its lbc.toml and provenance, adopted
/// and then built and tested for real through the Dockerfile it already has.
#[test]
fn adopted_repository_builds_and_tests_for_real() {
    let Some(env) = docker_env("adopted_repository_builds_and_tests_for_real") else {
        return;
    };
    let parent = Project::empty();
    let name = unique("adopt");
    let dir = init(&parent, &name, "python", &[]);
    std::fs::remove_file(dir.join("lbc.toml")).unwrap();
    std::fs::remove_dir_all(dir.join(".lbc")).unwrap();
    let p = Project {
        dir: tempfile::Builder::new()
            .prefix("lbc-adopt-")
            .tempdir()
            .unwrap(),
    };
    copy_tree(&dir, p.path());
    // pyproject's name wins over the directory's.
    let toml = p.read("pyproject.toml").replace(
        &format!("name = \"{name}\""),
        &format!("name = \"{name}-x\""),
    );
    p.write("pyproject.toml", &toml);
    let (c, _) = adopt(
        &p,
        &[
            "--set",
            &format!("registry={}/lbc-tests/{name}", env.registry),
        ],
    );
    assert_eq!(c.project.name, format!("{name}-x"));
    assert_eq!(c.image.as_ref().unwrap().bases["BUILDER_IMAGE"], "python");
    assert_eq!(
        c.deploy.as_ref().unwrap().chart.as_deref(),
        Some("deploy/chart")
    );
    let mut clean = Cleanup::new();
    clean.images.push(format!("lbc-task/{name}-x:test"));
    // The python stack installs its locked requirements from PyPI (#11).
    let image = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["build"])
        .run()
        .success()
        .stdout()
        .trim()
        .to_owned();
    clean.images.push(image);
    p.lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["test", "unit"])
        .run()
        .success();
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, (bytes, _)) in tree(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
}

/// Copies a fixture repository of tests/fixtures/adopt into a fresh directory.
fn fixture_project(name: &str) -> Project {
    let p = Project::empty();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/adopt")
            .join(name),
        p.path(),
    );
    p
}

/// `--dry-run --output json` carries the detection report, and the test task of the
/// lbc.toml is the project's own test command (issue #11).
#[test]
fn dry_run_json_has_the_detection_report_and_the_detected_test_task() {
    let p = fixture_project("django");
    let before = tree(p.path());
    let doc = p
        .lbc()
        .args(["init", "--adopt", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(tree(p.path()), before, "a dry run wrote something");
    let d = &doc["detection"];
    assert_eq!(d["stack"], "python");
    assert_eq!(d["framework"], "django");
    assert_eq!(
        d["test"]["command"],
        serde_json::json!(["python3", "manage.py", "test"])
    );
    assert_eq!(d["services"][0]["type"], "postgres");
    assert_eq!(d["migration"]["command"][2], "migrate");
    assert_eq!(d["evidence"][1]["file"], "manage.py");
    assert_eq!(d["evidence"][1]["line"], 8);
    assert_eq!(doc["files"][0]["path"], "lbc.toml");
    let toml = doc["lbc_toml"].as_str().unwrap();
    let c = lbc::config::parse(&p.path().join("lbc.toml"), toml)
        .unwrap()
        .config;
    let unit = &c.tasks["test-unit"];
    assert_eq!(
        unit.run,
        lbc::config::TaskCommand::Shell(
            "pip install -r requirements.txt && python3 manage.py test".into()
        )
    );
    assert_eq!(unit.image.as_deref(), Some("python"));
    assert_eq!(c.env["local"].container_port, Some(8000));

    // A Laravel application with a package.json is adopted as PHP, its tests run with
    // artisan after composer install.
    let l = fixture_project("laravel");
    let doc = l
        .lbc()
        .args(["init", "--adopt", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(doc["stack"], "php");
    assert!(
        doc["lbc_toml"]
            .as_str()
            .unwrap()
            .contains("name = \"tickets\""),
        "composer.json's name"
    );
    assert_eq!(doc["detection"]["also_found"][0]["stack"], "node");
    let c = lbc::config::parse(
        &l.path().join("lbc.toml"),
        doc["lbc_toml"].as_str().unwrap(),
    )
    .unwrap()
    .config;
    assert_eq!(
        c.tasks["test-unit"].run,
        lbc::config::TaskCommand::Shell(
            "composer install --no-interaction --prefer-dist && php artisan test".into()
        )
    );

    // A test stage: the detected command as an argv; uv's runner when no stage.
    let f = fixture_project("fastapi");
    let (c, stderr) = adopt(&f, &[]);
    assert!(stderr.contains("framework: fastapi"), "{stderr}");
    assert!(stderr.contains("test: `python3 -m pytest`"), "{stderr}");
    assert_eq!(
        c.tasks["test-unit"].run,
        lbc::config::TaskCommand::Shell(
            "pip install -q uv && uv sync --frozen && uv run python3 -m pytest".into()
        )
    );
    let s = fixture_project("express");
    s.write(
        "Dockerfile",
        "FROM node:22 AS test\nRUN npm ci\nFROM node:22 AS runtime\nEXPOSE 3000\n",
    );
    let (c, _) = adopt(&s, &[]);
    assert_eq!(c.tasks["test-unit"].stage.as_deref(), Some("test"));
    assert_eq!(
        c.tasks["test-unit"].run,
        lbc::config::TaskCommand::Argv(vec!["npm".into(), "test".into()])
    );
}

/// Several binaries: the plan says which flag chooses; `--set binary=` and `--set port=`
/// are accepted by --adopt and reach the report (issue #11).
#[test]
fn undetermined_values_name_their_flag() {
    let p = fixture_project("go");
    p.lbc()
        .args(["init", "--adopt", "--dry-run"])
        .run()
        .success()
        .stdout_has("note: start: undetermined (set it with --set binary=NAME)")
        .stdout_has("note: port: undetermined (set it with --set port=PORT)");
    let doc = p
        .lbc()
        .args([
            "init",
            "--adopt",
            "--dry-run",
            "--output",
            "json",
            "--set",
            "binary=worker",
            "--set",
            "port=9000",
        ])
        .run()
        .success()
        .json();
    assert_eq!(
        doc["detection"]["start"]["command"],
        serde_json::json!(["bin/worker"])
    );
    assert_eq!(doc["detection"]["port"]["value"], 9000);
    assert_eq!(doc["detection"]["port"]["source"], "flag");
    p.lbc()
        .args(["init", "--adopt", "--set", "port=http"])
        .run()
        .code_is(2)
        .stderr_has("bad value for `port`: `http`");
}
