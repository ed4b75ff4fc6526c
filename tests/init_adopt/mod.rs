//! `lbc init --adopt` on sample repositories of every stack (issue #3): the stack, name,
//! Dockerfile (stages, EXPOSE, catalogue base images) and chart are detected; only
//! lbc.toml is written, and lbc's own parser accepts it; an ambiguous repository fails
//! off a terminal, listing the candidates and the flag; existing lbc.toml is kept.

use std::collections::BTreeMap;
use std::path::Path;

use crate::init_support::{init, tree};
use crate::support::{docker_env, unique, Cleanup, Project};

const PY_DOCKERFILE: &str = "ARG PYTHON_IMAGE=python:3.12-slim-bookworm\nFROM ${PYTHON_IMAGE} AS base\nWORKDIR /app\nCOPY . .\nFROM base AS test\nFROM base AS runtime\nEXPOSE 9000\nHEALTHCHECK CMD python3 -c 'print(1)'\nCMD [\"python3\", \"app.py\"]\n";

/// Adopt `p`: every file it had is left as it was (issue #11: adoption writes only files
/// that do not exist yet); returns the parsed config, stderr and the new files' texts.
fn adopt(p: &Project, extra: &[&str]) -> (lbc::config::Config, String, BTreeMap<String, String>) {
    let before = tree(p.path());
    let mut args = vec!["init", "--adopt", "--yes"];
    args.extend_from_slice(extra);
    let out = p.lbc().args(&args).run().success();
    let after = tree(p.path());
    for (path, content) in &before {
        assert!(
            after.get(path) == Some(content),
            "--adopt changed the repository's own {path}"
        );
    }
    let new: BTreeMap<String, String> = after
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(k, (bytes, mode))| {
            assert_eq!(mode & 0o777, 0o644, "{k}");
            (k.clone(), String::from_utf8(bytes.clone()).unwrap())
        })
        .collect();
    let text = new.get("lbc.toml").expect("lbc.toml written");
    let loaded = lbc::config::parse(&p.path().join("lbc.toml"), text)
        .unwrap_or_else(|e| panic!("adopted lbc.toml does not parse: {e}\n{text}"));
    let config = p.lbc().args(["config"]).run().success();
    assert!(!config.stderr().contains("warning"), "{}", config.stderr());
    (loaded.config, out.stderr(), new)
}

/// The files every adoption of a stack family writes where the repository has none.
const CI: &[&str] = &[".github/workflows/lbc.yml", ".gitlab-ci.yml", "Jenkinsfile"];

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
    let (c, stderr, new) = adopt(&p, &[]);
    assert!(
        stderr.contains("stack: python (pyproject.toml, requirements.txt)"),
        "{stderr}"
    );
    // Its own Dockerfile and chart stay; the pipelines and the provenance are added, and
    // the provenance lists what the repository kept (issue #11).
    let mut expected: Vec<&str> = CI.to_vec();
    expected.extend([".lbc/template.toml", "lbc.toml"]);
    expected.sort();
    assert_eq!(new.keys().collect::<Vec<_>>(), expected);
    let prov = &new[".lbc/template.toml"];
    assert!(prov.contains("name = \"adopt-python\""), "{prov}");
    assert!(
        prov.contains("\"Dockerfile\"") && prov.contains("\"deploy/chart/values.yaml\""),
        "{prov}"
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
    assert!(
        c.env["staging"].set.is_empty(),
        "its own chart: no values of lbc's chart"
    );
    // The repository is still clean apart from the new files.
    assert_eq!(
        p.git(&["status", "--porcelain"]),
        "?? .github/\n?? .gitlab-ci.yml\n?? .lbc/\n?? Jenkinsfile\n?? lbc.toml"
    );
}

#[test]
fn node_go_rust_java_and_static_repos() {
    // (stack, files, flags, expected name, image of test-unit)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a str,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "node",
            &[("package.json", "{\"name\": \"@acme/web-shop\", \"scripts\": {\"test\": \"node --test\"}}")],
            &["--set", "start=node server.js", "--set", "port=3000"],
            "web-shop",
            "",
        ),
        (
            "go",
            &[
                ("go.mod", "module github.com/acme/inventory/v2\n\ngo 1.22\n"),
                ("Dockerfile", "FROM golang:1.23-bookworm\nEXPOSE 8081\n"),
            ],
            &[],
            "inventory",
            "go-builder",
        ),
        (
            "rust",
            &[
                ("Cargo.toml", "[package]\nname = \"ledger\"\nversion = \"0.1.0\"\n"),
                ("src/main.rs", "fn main() {}\n"),
            ],
            &["--set", "port=7000"],
            "ledger",
            "",
        ),
        (
            "java",
            &[(
                "pom.xml",
                "<project><parent><artifactId>acme-parent</artifactId></parent><artifactId>orders</artifactId></project>",
            )],
            &["--set", "start=java -jar target/orders.jar", "--set", "port=8080"],
            "orders",
            "",
        ),
        (
            "java",
            &[
                ("settings.gradle", "rootProject.name = 'payments'\n"),
                ("build.gradle", "plugins { id 'java' }\n"),
                ("gradlew", "#!/bin/sh\n"),
            ],
            &["--set", "start=java -jar build/libs/payments.jar", "--set", "port=8080"],
            "payments",
            "",
        ),
        ("static", &[("public/index.html", "<title>x</title>\n")], &[], "", ""),
    ];
    for (stack, files, flags, name, test_image) in cases {
        let p = Project::with(files);
        let (c, stderr, new) = adopt(&p, flags);
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
        if *stack == "static" {
            // No family template: lbc.toml only, as before.
            assert_eq!(new.keys().collect::<Vec<_>>(), ["lbc.toml"]);
            assert!(!c.env.contains_key("production"), "no chart, no clusters");
            assert!(stderr.contains("no Dockerfile"), "{stderr}");
            continue;
        }
        // Every entry point: the chart with its three environments, the pipelines, and
        // a Dockerfile unless the repository has one.
        for f in CI
            .iter()
            .chain(&["deploy/chart/Chart.yaml", ".lbc/template.toml"])
        {
            assert!(new.contains_key(*f), "{stack}: no {f}: {:?}", new.keys());
        }
        assert!(c.env["production"].protected, "{stack}");
        assert_eq!(
            c.deploy.as_ref().unwrap().chart.as_deref(),
            Some("deploy/chart")
        );
        let own = files.iter().any(|(f, _)| *f == "Dockerfile");
        assert_eq!(new.contains_key("Dockerfile"), !own, "{stack}");
        if !own {
            let d = &new["Dockerfile"];
            assert!(
                d.contains("USER 65532:65532") && d.contains("HEALTHCHECK"),
                "{d}"
            );
            let image = c.image.as_ref().unwrap();
            assert_eq!(image.target.as_deref(), Some("runtime"));
            assert_eq!(
                c.tasks["test-unit"].stage.as_deref(),
                Some("test"),
                "{stack}"
            );
            let port = c.env["local"].container_port.unwrap();
            assert!(d.contains(&format!("EXPOSE {port}")), "{d}");
            assert_eq!(c.env["staging"].set["containerPort"], port.to_string());
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
    // Without a start command, nothing is written and the flags are named (issue #11).
    p.lbc()
        .args(["init", "--adopt", "--stack", "node"])
        .run()
        .code_is(2)
        .stderr_has("could not determine the start command (--set start=COMMAND) and the port (--set port=PORT); nothing was written");
    assert_eq!(tree(p.path()), before, "something was written");
    let (c, _, new) = adopt(
        &p,
        &[
            "--stack",
            "node",
            "--set",
            "start=node main.js",
            "--set",
            "port=4000",
        ],
    );
    assert_eq!(c.tasks["style"].image.as_deref(), Some("node"));
    assert!(new["Dockerfile"].contains("CMD [\"node\",\"main.js\"]"));
    assert!(new["Dockerfile"].contains("EXPOSE 4000"));
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
    q.lbc()
        .args([
            "init", "--adopt", "--force", "--set", "start=x", "--set", "port=80",
        ])
        .run()
        .success();
    assert!(q.read("lbc.toml").contains("name = \"x\""));

    // Dry run: the file's text on stdout, nothing written.
    let r = Project::with(&[("Cargo.toml", "[package]\nname = \"dry\"\n")]);
    r.lbc()
        .args(["init", "--adopt", "--dry-run"])
        .run()
        .success()
        .stdout_has("create       lbc.toml")
        .stdout_has("undetermined Dockerfile (needs the start command (--set start=COMMAND)")
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
    let (c, _, _) = adopt(
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
    // Every file it would write, and its text (issue #11).
    let files = doc["files"].as_array().unwrap();
    let action = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["action"].as_str().unwrap().to_owned())
    };
    for f in [
        "lbc.toml",
        "Dockerfile",
        ".dockerignore",
        "deploy/chart/values-production.yaml",
        ".lbc/template.toml",
        ".gitlab-ci.yml",
    ] {
        assert_eq!(action(f).as_deref(), Some("create"), "{f}: {files:?}");
    }
    assert_eq!(doc["template"], "adopt-python 1.1.0");
    let dockerfile = doc["contents"]["Dockerfile"].as_str().unwrap();
    // The dependencies in a layer before the code; the detected start command and port.
    let deps = dockerfile
        .find("RUN pip install -r requirements.txt")
        .unwrap();
    let code = dockerfile.find("COPY . .").unwrap();
    assert!(deps < code, "{dockerfile}");
    assert!(
        dockerfile.contains("ARG BUILDER_IMAGE=")
            && dockerfile.contains("FROM ${BUILDER_IMAGE} AS deps")
    );
    assert!(dockerfile
        .contains("CMD [\"gunicorn\",\"mysite.wsgi:application\",\"--bind\",\"0.0.0.0:8000\"]"));
    assert!(dockerfile.contains("EXPOSE 8000\n") && dockerfile.contains("USER 65532:65532"));
    let toml = doc["lbc_toml"].as_str().unwrap();
    let c = lbc::config::parse(&p.path().join("lbc.toml"), toml)
        .unwrap()
        .config;
    let unit = &c.tasks["test-unit"];
    // The Dockerfile's test stage has the dependencies: the project's own command, with
    // its database.
    assert_eq!(
        unit.run,
        lbc::config::TaskCommand::Argv(vec!["python3".into(), "manage.py".into(), "test".into()])
    );
    assert_eq!(unit.stage.as_deref(), Some("test"));
    assert_eq!(unit.services.as_deref(), Some(&["db".to_owned()][..]));
    assert_eq!(c.env["local"].container_port, Some(8000));
    // The database, wired to the variables Django's settings read; the migration.
    let db = &c.services["db"];
    assert_eq!(db.kind.as_str(), "postgres");
    assert_eq!(db.env["POSTGRES_HOST"], "{host}");
    assert_eq!(db.env["POSTGRES_PASSWORD"], "{password}");
    assert_eq!(
        c.tasks["migrate"].run,
        lbc::config::TaskCommand::Argv(
            ["python3", "manage.py", "migrate", "--noinput"]
                .map(String::from)
                .to_vec()
        )
    );
    assert_eq!(c.env["staging"].set["containerPort"], "8000");
    assert_eq!(c.env["staging"].set["probes.path"], "/");

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
        lbc::config::TaskCommand::Argv(vec!["php".into(), "artisan".into(), "test".into()])
    );
    let php = doc["contents"]["Dockerfile"].as_str().unwrap();
    assert!(php.contains("composer install --no-dev"), "{php}");
    assert!(php.contains("CMD [\"php\",\"artisan\",\"serve\""), "{php}");

    // A test stage: the detected command as an argv; uv's runner when no stage (its own
    // Dockerfile has none).
    let f = fixture_project("fastapi");
    f.write("Dockerfile", "FROM python:3.12-slim\nEXPOSE 8000\n");
    let (c, stderr, _) = adopt(&f, &[]);
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
    let (c, _, _) = adopt(&s, &[]);
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

/// A newer release of an adoption template, for the upgrade test: the Dockerfile gains a
/// STOPSIGNAL, the GitLab pipeline a comment.
/// A version newer than any the families will have for long, whatever their current one.
const NEWER: &str = "99.0.0";

struct Newer;

impl lbc::commands::upgrade::Templates for Newer {
    fn load(
        &mut self,
        recorded: &lbc::template::provenance::Recorded,
        version: Option<&str>,
    ) -> Result<lbc::template::Template, lbc::error::Error> {
        let current = lbc::template::Template::builtin(&recorded.name)?;
        if version == Some(recorded.version.as_str()) {
            return Ok(current);
        }
        let mut t = current.clone();
        t.manifest.template.version = NEWER.into();
        t.identity = "sha256:newer".into();
        for f in &mut t.files {
            if let lbc::template::source::Content::File { bytes, .. } = &mut f.content {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let text = match f.path.as_str() {
                    "Dockerfile.jinja" => {
                        text.replace("CMD {{ start }}", "STOPSIGNAL SIGTERM\nCMD {{ start }}")
                    }
                    ".gitlab-ci.yml" => format!("{text}# newer\n"),
                    _ => text,
                };
                *bytes = text.into_bytes();
            }
        }
        Ok(t)
    }
    fn newest(
        &mut self,
        _: &lbc::template::provenance::Recorded,
    ) -> Result<Option<String>, lbc::error::Error> {
        Ok(Some(NEWER.into()))
    }
}

/// The files adoption wrote are recorded in the provenance: a newer family template is
/// three-way-merged into them, keeping local edits; the files the repository already
/// had are never touched by the upgrade (issue #11).
#[test]
fn upgrade_merges_adopted_files_and_never_touches_the_repositorys_own() {
    let p = fixture_project("django");
    let own_ci = "# the team's own pipeline\nstages: [test]\n";
    p.write(".gitlab-ci.yml", own_ci);
    let (_, _, new) = adopt(&p, &[]);
    assert!(!new.contains_key(".gitlab-ci.yml"));
    let prov = &new[".lbc/template.toml"];
    assert!(prov.contains("kept = [\".gitlab-ci.yml\"]"), "{prov}");
    p.git_init();
    p.lbc()
        .args(["upgrade", "--check"])
        .run()
        .success()
        .stdout_has("up to date");
    // A local edit of the adopted Dockerfile.
    let dockerfile = p.read("Dockerfile");
    let edited = dockerfile.replacen("ARG RUNTIME_IMAGE", "# our own note\nARG RUNTIME_IMAGE", 1);
    p.write("Dockerfile", &edited);

    let root = p.path().to_owned();
    let read = |rel: &str| lbc::commands::upgrade::read_ours(&root, rel);
    let dir_name = root.file_name().unwrap().to_string_lossy().into_owned();
    let view = lbc::commands::upgrade::RepoView {
        root: &root,
        dir_name: &dir_name,
        read: &read,
    };
    let prepared = lbc::commands::upgrade::prepare(&view, None, &mut Newer).unwrap();
    let outcome = |path: &str| {
        prepared
            .changes
            .iter()
            .find(|c| c.path == path)
            .map(|c| c.outcome)
    };
    assert_eq!(
        outcome("Dockerfile"),
        Some(lbc::upgrade::files::Outcome::Merged)
    );
    assert_eq!(outcome(".gitlab-ci.yml"), None, "the repository's own file");
    assert!(prepared.conflicts().is_empty());
    lbc::commands::upgrade::write(&root, &prepared, Default::default()).unwrap();
    let merged = p.read("Dockerfile");
    assert!(merged.contains("# our own note\n"), "{merged}");
    assert!(
        merged.contains("STOPSIGNAL SIGTERM\nCMD [\"gunicorn\""),
        "{merged}"
    );
    assert_eq!(p.read(".gitlab-ci.yml"), own_ci);
    let prov = p.read(".lbc/template.toml");
    assert!(prov.contains(&format!("version = \"{NEWER}\"")), "{prov}");
    assert!(prov.contains("kept = [\".gitlab-ci.yml\"]"), "{prov}");
}

/// One HTTP/1.0 request to 127.0.0.1:`port`: (status, body).
fn http(port: u16, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    if let Some((kind, b)) = body {
        req.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some((_, b)) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A request of an end-to-end case: (path, content type, body).
type Write<'a> = (&'a str, &'a str, &'a str);

/// One fixture repository of tests/fixtures (`fixture`), adopted, built (its
/// dependencies installed from the package registry through the machine's CA), started
/// with its database by `lbc deploy local` (the service comes up, the migration runs)
/// and answering a request that writes to the database (`write`) and one that reads it
/// back (`read`, whose answer contains `expected`). `check` looks at the adopted
/// lbc.toml and files first. The app and its services are destroyed afterwards.
fn adopt_build_deploy_and_ask(
    env: &crate::support::TestEnv,
    fixture: &str,
    write: Write,
    read: &str,
    expected: &str,
    check: impl Fn(&lbc::config::Config, &BTreeMap<String, String>, &str),
) {
    let (write_path, kind, body) = write;
    let p = Project::empty();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture),
        p.path(),
    );
    let name = unique("adopt-e2e");
    let port = crate::support::free_port();
    p.git_init();
    let started = std::time::Instant::now();
    let (c, stderr, new) = adopt(
        &p,
        &[
            "--name",
            &name,
            "--set",
            &format!("registry={}/lbc-tests/{name}", env.registry),
            "--set",
            &format!("local_port={port}"),
        ],
    );
    assert!(new.contains_key("Dockerfile"), "{fixture}");
    let migrates = c.tasks.contains_key("migrate");
    check(&c, &new, &stderr);
    p.commit("adopted by lbc");
    let mut clean = Cleanup::new();
    clean.containers.push(format!("lbc-{name}-local"));
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
    let deploy = p
        .lbc()
        .env("LBC_CATALOG", &env.catalog)
        .args(["deploy", "local"])
        .run();
    let result = std::panic::catch_unwind(|| {
        let deploy = deploy.success();
        if migrates {
            assert!(
                deploy.stderr().contains("migrate"),
                "{fixture}: {}",
                deploy.stderr()
            );
        }
        let (status, answer) = http(port, "POST", write_path, Some((kind, body)));
        assert!(
            (200..300).contains(&status),
            "{fixture}: POST {write_path}: {status} {answer}"
        );
        let (status, answer) = http(port, "GET", read, None);
        assert_eq!(status, 200, "{fixture}: {answer}");
        assert!(answer.contains(expected), "{fixture}: {answer}");
    });
    p.lbc()
        .args(["destroy", "local", "--volumes", "--yes"])
        .run()
        .success();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    // What the case adds to CI's time (docs/adopt.md); a figure, never an assertion.
    eprintln!("{fixture}: end to end in {:.1?}", started.elapsed());
}

/// Django, FastAPI with Alembic and Express with Knex (tests/fixtures/adopt/django,
/// tests/fixtures/adopt-e2e/*), each adopted, built, deployed with PostgreSQL, migrated
/// and asked to write a row and read it back (issue #11).
#[test]
fn adopted_fixtures_build_deploy_migrate_and_answer_from_their_database() {
    let Some(env) =
        docker_env("adopted_fixtures_build_deploy_migrate_and_answer_from_their_database")
    else {
        return;
    };
    // (fixture, write request, read path, what the read answers)
    type Case<'a> = (&'a str, Write<'a>, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            "adopt/django",
            ("/", "application/x-www-form-urlencoded", "text=from-lbc"),
            "/",
            "\"from-lbc\"",
        ),
        (
            "adopt-e2e/fastapi-notes",
            ("/notes", "application/json", "{\"text\": \"from-lbc\"}"),
            "/notes",
            "\"text\":\"from-lbc\"",
        ),
        (
            "adopt-e2e/express-todo",
            ("/todos", "application/json", "{\"title\": \"from-lbc\"}"),
            "/todos",
            "\"title\":\"from-lbc\"",
        ),
    ];
    for (fixture, write, read, expected) in cases {
        adopt_build_deploy_and_ask(&env, fixture, *write, read, expected, |c, _, _| {
            assert_eq!(c.services["db"].kind.as_str(), "postgres", "{fixture}");
        });
    }
}

/// Flask with Flask-SQLAlchemy, Flask-Migrate and gunicorn on MariaDB, its dependencies
/// locked by pip-compile with hashes (tests/fixtures/adopt-e2e/flask-bookshelf): adopted,
/// built, deployed, `flask db upgrade` run, a book written and read back (issue #11).
/// Its `.env.example` names PyMySQL in the URL (`mysql+pymysql://`): lbc's own `{url}`
/// (`mysql://`) made SQLAlchemy load MySQLdb, which is not installed, so adoption keeps
/// the example's scheme.
#[test]
fn adopted_flask_on_mariadb_builds_deploys_migrates_and_answers() {
    let Some(env) = docker_env("adopted_flask_on_mariadb_builds_deploys_migrates_and_answers")
    else {
        return;
    };
    adopt_build_deploy_and_ask(
        &env,
        "adopt-e2e/flask-bookshelf",
        ("/books", "application/json", "{\"title\": \"from-lbc\"}"),
        "/books",
        "\"title\":\"from-lbc\"",
        |c, new, _| {
            assert_eq!(c.services["db"].kind.as_str(), "mysql");
            let toml = &new["lbc.toml"];
            assert!(
                toml.contains(
                    "DATABASE_URL = \"mysql+pymysql://{user}:{password}@{host}:{port}/{database}\""
                ),
                "{toml}"
            );
            let docker = &new["Dockerfile"];
            assert!(
                docker.contains(
                    "CMD [\"gunicorn\",\"--bind\",\"0.0.0.0:8000\",\"bookshelf:create_app()\"]"
                ),
                "{docker}"
            );
            assert!(
                matches!(&c.tasks["migrate"].run, lbc::config::TaskCommand::Argv(a)
                    if a == &["flask", "--app", "bookshelf", "db", "upgrade"]),
                "{toml}"
            );
        },
    );
}

/// A TypeScript Fastify service (tests/fixtures/adopt-e2e/fastify-links: npm lockfile,
/// `tsc` build, Knex migrations written in TypeScript and run compiled from dist/) on
/// PostgreSQL with a view counter in Redis: adopted, `npm run build` run in the image,
/// deployed with both services, migrated, a link written and read back with the
/// counter Redis keeps (issue #11).
#[test]
fn adopted_typescript_fastify_builds_in_the_image_and_answers_from_postgres_and_redis() {
    let Some(env) = docker_env(
        "adopted_typescript_fastify_builds_in_the_image_and_answers_from_postgres_and_redis",
    ) else {
        return;
    };
    adopt_build_deploy_and_ask(
        &env,
        "adopt-e2e/fastify-links",
        (
            "/links",
            "application/json",
            "{\"url\": \"https://example.com/\", \"title\": \"from-lbc\"}",
        ),
        "/links",
        // The row from PostgreSQL, then the first view counted by Redis.
        "\"title\":\"from-lbc\"}],\"views\":1}",
        |c, new, _| {
            assert_eq!(c.services["db"].kind.as_str(), "postgres");
            assert_eq!(c.services["cache"].kind.as_str(), "redis");
            let docker = &new["Dockerfile"];
            assert!(docker.contains("RUN npm run build"), "{docker}");
            assert!(docker.contains("CMD [\"npm\",\"start\"]"), "{docker}");
            assert!(
                matches!(&c.tasks["migrate"].run, lbc::config::TaskCommand::Argv(a)
                    if a == &["npx", "knex", "migrate:latest"]),
                "{}",
                new["lbc.toml"]
            );
        },
    );
}

/// Next.js 15 with the app router (tests/fixtures/adopt-e2e/nextjs-guestbook: npm
/// lockfile, TypeScript, `pg`, node-pg-migrate) on PostgreSQL: adopted, a real
/// `next build` in the image, deployed, `node-pg-migrate up` run, an entry written
/// through the route handler and read back in the page the server renders (issue #11).
/// Ignored in the suite for CI's time: the build alone took 4 min 15 s here with an
/// empty cache (two `npm ci` of Next.js and its SWC binary, then `next build`); run it
/// with `cargo test --test cli adopted_nextjs -- --ignored` (docs/adopt.md has the
/// result).
#[test]
#[ignore = "CI time: the Next.js build takes about 4 minutes with an empty cache; run it by hand"]
fn adopted_nextjs_builds_in_the_image_and_renders_from_postgres() {
    let Some(env) = docker_env("adopted_nextjs_builds_in_the_image_and_renders_from_postgres")
    else {
        return;
    };
    adopt_build_deploy_and_ask(
        &env,
        "adopt-e2e/nextjs-guestbook",
        (
            "/api/entries",
            "application/json",
            "{\"name\": \"lbc\", \"message\": \"from-lbc\"}",
        ),
        // The page, rendered on the server from the database.
        "/",
        "from-lbc</li>",
        |c, new, _| {
            assert_eq!(c.services["db"].kind.as_str(), "postgres");
            let docker = &new["Dockerfile"];
            assert!(docker.contains("RUN npm run build"), "{docker}");
            assert!(
                matches!(&c.tasks["migrate"].run, lbc::config::TaskCommand::Argv(a)
                    if a == &["npx", "node-pg-migrate", "up"]),
                "{}",
                new["lbc.toml"]
            );
        },
    );
}

/// Two misses of docs/adopt.md's table of real applications (issue #11): a Prisma schema
/// named by package.json (an Nx layout keeps it in src/) declares the database and the
/// migration; a FastAPI module in a sub-project with its own manifest (a monorepo's
/// root) is not adopted at the root, and the plan says where to adopt it; a Go module's
/// `// indirect` drivers (gorm's dialects) are not the application's database.
#[test]
fn prisma_schema_in_src_a_monorepo_root_and_indirect_go_drivers() {
    let g = Project::with(&[
        (
            "go.mod",
            "module example.com/shop\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1\n\tgithub.com/lib/pq v1.10.0 // indirect\n)\n",
        ),
        ("main.go", "package main\n\nfunc main() {}\n"),
    ]);
    let doc = g
        .lbc()
        .args(["init", "--adopt", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(doc["detection"]["framework"], "gin");
    assert_eq!(doc["detection"]["services"], serde_json::json!([]));

    let p = Project::with(&[
        (
            "package.json",
            r#"{"name": "api", "scripts": {"start": "node main.js"}, "prisma": {"schema": "src/prisma/schema.prisma"}, "dependencies": {"express": "4", "@prisma/client": "4"}}"#,
        ),
        (
            "src/prisma/schema.prisma",
            "datasource db {\n  provider = \"postgresql\"\n  url      = env(\"DATABASE_URL\")\n}\n",
        ),
        ("main.js", "require('express')().listen(3000)\n"),
    ]);
    let doc = p
        .lbc()
        .args(["init", "--adopt", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    let d = &doc["detection"];
    assert_eq!(d["services"][0]["type"], "postgres", "{d}");
    assert_eq!(
        d["services"][0]["evidence"][0]["file"],
        "src/prisma/schema.prisma"
    );
    assert_eq!(
        d["migration"]["command"],
        serde_json::json!(["npx", "prisma", "migrate", "deploy"])
    );

    let m = Project::with(&[
        (
            "pyproject.toml",
            "[tool.uv.workspace]\nmembers = [\"backend\"]\n",
        ),
        (
            "backend/pyproject.toml",
            "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"uvicorn\"]\n",
        ),
        (
            "backend/app/main.py",
            "from fastapi import FastAPI\n\napp = FastAPI()\n",
        ),
    ]);
    m.lbc()
        .args(["init", "--adopt", "--dry-run"])
        .run()
        .success()
        .stdout_has("undetermined Dockerfile (needs the application's root: the start module is in the sub-project backend/");
    let before = tree(m.path());
    m.lbc()
        .args(["init", "--adopt"])
        .run()
        .code_is(2)
        .stderr_has("`lbc init --adopt backend`");
    assert_eq!(tree(m.path()), before, "something was written");
    // Adopted where the application is, it is right.
    let doc = m
        .lbc()
        .args([
            "init",
            "--adopt",
            "backend",
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(
        doc["detection"]["start"]["command"],
        serde_json::json!([
            "uvicorn",
            "app.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8000"
        ])
    );
}

const PINNED: &str = "tests/fixtures/adopt-templates.txt";

/// `adopt-FAMILY VERSION IDENTITY`, one line per adoption template this binary carries
/// (the current version and the frozen releases).
fn adoption_templates() -> String {
    let mut out = String::new();
    for (stack, _) in lbc::template::builtin::STACKS {
        if let Some(family) = stack.strip_prefix(lbc::template::builtin::ADOPT_PREFIX) {
            let t = lbc::template::Template::builtin(stack).unwrap();
            let v = &t.manifest.template.version;
            for old in lbc::template::builtin::versions(stack) {
                let r = lbc::template::Template::builtin_release(stack, old).unwrap();
                out.push_str(&format!("adopt-{family} {old} {}\n", r.identity));
            }
            out.push_str(&format!("adopt-{family} {v} {}\n", t.identity));
        }
    }
    out
}

/// The templates adoption records in a repository's provenance are pinned (issue #11):
/// `lbc upgrade` re-renders the recorded version as the merge base, so a version's files
/// must never change. A change of templates/_dockerfiles/ or templates/_shared/ needs the
/// family frozen (`scripts/assemble-stack.sh adopt-FAMILY templates/.releases/...`) and
/// its version bumped; then regenerate with
/// `cargo test --test cli init_adopt::regenerate_pins -- --ignored` and check that only
/// new lines appear.
#[test]
fn adoption_templates_are_pinned() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PINNED);
    let pinned = std::fs::read_to_string(&path).unwrap();
    let now = adoption_templates();
    for line in pinned.lines() {
        assert!(
            now.lines().any(|l| l == line),
            "{line}: this version of an adoption template changed (or is gone); freeze it and bump the version (see the doc comment)\nnow:\n{now}"
        );
    }
}

#[test]
#[ignore = "regenerates tests/fixtures/adopt-templates.txt after a deliberate, versioned change"]
fn regenerate_pins() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PINNED);
    std::fs::write(path, adoption_templates()).unwrap();
}

/// On a terminal, what detection left open is asked (issue #11): which of the binaries of
/// `cmd/` is the service (a list), and the port. `script` gives lbc a terminal; the keys
/// are typed ahead (down arrow, Enter, then the port).
#[test]
fn on_a_terminal_lbc_asks_for_the_binary_and_the_port() {
    use std::io::Write;
    let p = fixture_project("go");
    let lbc = env!("CARGO_BIN_EXE_lbc");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("'{lbc}' init --adopt"), "/dev/null"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs lbc on a terminal");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\x1b[B\r9000\r")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Which one is the service?"), "{shown}");
    assert!(shown.contains("The port the service listens on"), "{shown}");
    let dockerfile = p.read("Dockerfile");
    assert!(dockerfile.contains("EXPOSE 9000\n"), "{dockerfile}");
    assert!(
        dockerfile.contains("CMD [\"/usr/local/bin/worker\"]"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("go build -trimpath -ldflags=\"-s -w\" -o /out/worker ./cmd/worker"),
        "{dockerfile}"
    );
}

/// One fixture of tests/fixtures/adopt-e2e/ proven end to end.
struct E2eCase<'a> {
    fixture: &'a str,
    /// The service lbc.toml declares: (name, type).
    service: (&'a str, &'a str),
    /// A `[tasks.migrate]` is written (else the note adoption prints instead, if any).
    migrates: Result<(), Option<&'a str>>,
    /// POST (path, JSON body), then GET path answers 200 with `expected` in its body.
    write: (&'a str, &'a str),
    read: &'a str,
    expected: &'a str,
}

/// One case of tests/fixtures/adopt-e2e/ through [`adopt_build_deploy_and_ask`]: the
/// service it declares, and its migrate task or the note adoption prints instead.
fn adopt_case(env: &crate::support::TestEnv, case: &E2eCase) {
    let fixture = case.fixture;
    adopt_build_deploy_and_ask(
        env,
        &format!("adopt-e2e/{fixture}"),
        (case.write.0, "application/json", case.write.1),
        case.read,
        case.expected,
        |c, new, stderr| {
            match case.migrates {
                Ok(()) => assert!(
                    c.tasks.contains_key("migrate"),
                    "{fixture}: no migrate task"
                ),
                Err(note) => {
                    assert!(
                        !c.tasks.contains_key("migrate"),
                        "{fixture}: a migrate task"
                    );
                    if let Some(note) = note {
                        assert!(stderr.contains(note), "{fixture}: {stderr}");
                    }
                }
            }
            let (service, kind) = case.service;
            assert_eq!(
                c.services.get(service).map(|s| s.kind.as_str()),
                Some(kind),
                "{fixture}: {:?}",
                new.get("lbc.toml")
            );
        },
    );
}

/// Fixture repositories of Go and PHP written for this (tests/fixtures/adopt-e2e/), laid
/// out as real projects are, each adopted, built, started by `lbc deploy local` with the
/// service it declares (migrated when it has a migration) and answering a request that
/// writes to it and one that reads it back (issue #11). Go: the standard library only,
/// Redis through its wire protocol (the Go module proxy is not reachable here). PHP: PDO
/// on PostgreSQL with Debian's extensions and a composer.json without packages
/// (Packagist is not reachable), migrated by its `composer migrate` script. Rust: the
/// ignored test below.
#[test]
fn adopted_go_php_rust_fixtures_build_deploy_and_answer_from_their_database() {
    let Some(env) =
        docker_env("adopted_go_php_rust_fixtures_build_deploy_and_answer_from_their_database")
    else {
        return;
    };
    let cases = [
        E2eCase {
            fixture: "go-notes",
            service: ("cache", "redis"),
            migrates: Err(None),
            write: ("/notes", "{\"text\": \"from-lbc\"}"),
            read: "/notes",
            expected: "\"text\":\"from-lbc\"",
        },
        E2eCase {
            fixture: "php-guestbook",
            service: ("db", "postgres"),
            migrates: Ok(()),
            write: ("/entries", "{\"name\": \"lbc\", \"message\": \"from-lbc\"}"),
            read: "/entries",
            expected: "\"message\":\"from-lbc\"",
        },
    ];
    for case in &cases {
        adopt_case(&env, case);
    }
}

/// The Rust fixture (axum, sqlx on PostgreSQL, `sqlx::migrate!` at start) the same way
/// (issue #11): its dependencies come from crates.io through the machine's CA. Ignored
/// because its release build alone takes minutes on these 2-core machines; docs/adopt.md
/// records the result of running it by hand.
#[test]
#[ignore = "the release build of axum and sqlx takes ~3.5 min here; run it by hand: cargo test --test cli init_adopt::adopted_rust -- --ignored"]
fn adopted_rust_fixture_builds_deploys_and_answers_from_its_database() {
    let Some(env) = docker_env("adopted_rust_fixture_builds_deploys_and_answers_from_its_database")
    else {
        return;
    };
    adopt_case(
        &env,
        &E2eCase {
            fixture: "rust-links",
            service: ("db", "postgres"),
            migrates: Err(Some("migration: sqlx runs when the application starts")),
            write: (
                "/links",
                "{\"url\": \"https://example.com/\", \"title\": \"from-lbc\"}",
            ),
            read: "/links",
            expected: "\"title\":\"from-lbc\"",
        },
    );
}

/// A PHP application's tasks run in the test stage with the repository mounted at
/// /workspace, which used to hide the packages and the autoloader Composer installed in
/// the image: `require vendor/autoload.php` failed. The PHP family's test stage installs
/// them in /workspace/vendor and the adopted tasks take that directory from the image
/// (`from_image = ["vendor"]`, an anonymous volume Docker fills from the image), so
/// `lbc task migrate` runs against its PostgreSQL (issue #11).
#[test]
fn adopted_php_tasks_find_the_images_packages_under_the_mounted_repository() {
    let Some(env) =
        docker_env("adopted_php_tasks_find_the_images_packages_under_the_mounted_repository")
    else {
        return;
    };
    let p = Project::empty();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adopt-e2e/php-guestbook"),
        p.path(),
    );
    let name = unique("adopt-php-task");
    p.git_init();
    let (c, _, new) = adopt(
        &p,
        &[
            "--name",
            &name,
            "--set",
            &format!("registry={}/lbc-tests/{name}", env.registry),
        ],
    );
    let migrate = &c.tasks["migrate"];
    assert_eq!(
        migrate.stage.as_deref(),
        Some("test"),
        "{:?}",
        new.get("lbc.toml")
    );
    assert_eq!(migrate.from_image, vec!["vendor".to_owned()]);
    assert!(
        new["Dockerfile"].contains("ENV COMPOSER_VENDOR_DIR=/workspace/vendor"),
        "{}",
        new["Dockerfile"]
    );
    p.commit("adopted by lbc");
    let out = p
        .lbc()
        .trusting_host()
        .env("LBC_CATALOG", &env.catalog)
        .args(["task", "migrate"])
        .run();
    let image = format!("lbc-task/{name}:test");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", "--force", &image])
        .output();
    let out = out.success();
    let text = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        text.contains("migrate: applied 001_create_entries"),
        "{text}"
    );
    assert!(text.contains("--volume=/workspace/vendor"), "{text}");
}
