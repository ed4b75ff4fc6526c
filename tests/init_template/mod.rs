//! `lbc init` without Docker (issue #3): the generated tree, determinism, provenance, the
//! generated lbc.toml read by lbc's own parser, `--dry-run`, `--list`, the template format
//! (only `.jinja` rendered, path names rendered, conditions), custom templates from a
//! directory and from git at a tag, and bad inputs that must fail with exit 2 and write
//! nothing.

use std::path::Path;

use crate::init_support::{init, paths, templates_dir, tree, STACKS};
use crate::support::Project;

fn provenance(dir: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(dir.join(".lbc/template.toml")).unwrap()).unwrap()
}

#[test]
fn init_twice_gives_identical_trees_for_every_stack() {
    for stack in STACKS {
        let a = Project::empty();
        let b = Project::empty();
        let da = init(
            &a,
            "svc",
            stack,
            &["--set", "registry=registry.example.com/t/svc"],
        );
        let db = init(
            &b,
            "svc",
            stack,
            &["--set", "registry=registry.example.com/t/svc"],
        );
        let (ta, tb) = (tree(&da), tree(&db));
        assert!(ta.len() > 20, "{stack}: {:?}", paths(&ta));
        assert_eq!(paths(&ta), paths(&tb), "{stack}");
        for (path, content) in &ta {
            assert_eq!(
                content, &tb[path],
                "{stack}: {path} differs between two runs"
            );
        }
    }
}

#[test]
fn every_stack_generates_the_contract_files_and_a_valid_lbc_toml() {
    let bases = [
        ("python", &["python", "python-runtime"][..]),
        ("node", &["node", "node-runtime"][..]),
        ("go", &["go-builder", "go-runtime"][..]),
        ("rust", &["rust-builder", "rust-runtime"][..]),
        ("java", &["java-builder", "java-runtime"][..]),
        ("static", &["static-runtime"][..]),
    ];
    for (stack, names) in bases {
        let p = Project::empty();
        let dir = init(&p, "my-svc", stack, &[]);
        for f in [
            "lbc.toml",
            "Dockerfile",
            ".dockerignore",
            ".gitignore",
            "README.md",
            ".lbc/template.toml",
            ".gitlab-ci.yml",
            ".github/workflows/lbc.yml",
            "Jenkinsfile",
            "deploy/chart/Chart.yaml",
            "deploy/chart/values.yaml",
            "deploy/chart/values-qualification.yaml",
            "deploy/chart/values-staging.yaml",
            "deploy/chart/values-production.yaml",
            "deploy/chart/templates/deployment.yaml",
            "deploy/chart/templates/service.yaml",
            "deploy/chart/templates/ingress.yaml",
            "deploy/chart/templates/hpa.yaml",
            "deploy/chart/templates/pdb.yaml",
            "deploy/chart/templates/serviceaccount.yaml",
            "deploy/chart/templates/servicemonitor.yaml",
        ] {
            assert!(dir.join(f).is_file(), "{stack}: {f} missing");
        }
        // lbc's own parser and validation accept it.
        let raw = std::fs::read_to_string(dir.join("lbc.toml")).unwrap();
        let loaded = lbc::config::parse(&dir.join("lbc.toml"), &raw)
            .unwrap_or_else(|e| panic!("{stack}: generated lbc.toml is invalid: {e}"));
        let c = &loaded.config;
        // The newest schema this lbc knows: no "older schema" warning on every verb.
        assert_eq!(
            loaded.declared_schema,
            lbc::config::CURRENT_SCHEMA,
            "{stack}: update `schema` in templates/*/lbc.toml.jinja"
        );
        assert_eq!(c.project.name, "my-svc");
        let image = c.image.as_ref().unwrap();
        assert_eq!(image.repository, "registry.example.com/my-svc");
        assert_eq!(image.target.as_deref(), Some("runtime"));
        let mut got: Vec<&str> = image.bases.values().map(String::as_str).collect();
        got.sort();
        let mut want = names.to_vec();
        want.sort();
        assert_eq!(got, want, "{stack}: [image.bases]");
        for b in image.bases.keys() {
            let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
            assert!(
                df.contains(&format!("ARG {b}=")),
                "{stack}: Dockerfile lacks ARG {b}"
            );
        }
        let unit = &c.tasks["test-unit"];
        assert_eq!(unit.stage.as_deref(), Some("test"), "{stack}");
        assert!(
            c.tasks.contains_key("style") && c.tasks.contains_key("format"),
            "{stack}"
        );
        if stack != "static" {
            for t in ["complexity", "security-sast", "security-dependency-scan"] {
                assert!(c.tasks.contains_key(t), "{stack}: no {t} task");
            }
        }
        let local = &c.env["local"];
        assert_eq!(local.kind, lbc::config::EnvKind::Docker);
        assert_eq!(local.health.as_deref(), Some("/healthz"));
        for env in ["qualification", "staging", "production"] {
            let e = &c.env[env];
            assert_eq!(e.kind, lbc::config::EnvKind::Kubernetes);
            assert!(e.context.is_some(), "{stack}: {env} context");
            assert_eq!(e.namespace.as_deref(), Some(&*format!("my-svc-{env}")));
            assert_eq!(e.values, [format!("deploy/chart/values-{env}.yaml")]);
            assert!(dir.join(&e.values[0]).is_file());
        }
        assert!(c.env["production"].protected);
        assert_eq!(c.env["production"].promote_from.as_deref(), Some("staging"));
        assert!(!c.env["staging"].protected);
        assert_eq!(
            c.deploy.as_ref().unwrap().chart.as_deref(),
            Some("deploy/chart")
        );
        // The binary agrees, without a warning.
        let out = crate::init_support::lbc_in(&dir)
            .args(["config", "--output", "json"])
            .run()
            .success();
        assert!(
            !out.stderr().contains("warning"),
            "{stack}: {}",
            out.stderr()
        );
        // Runtime images run as a non-root numeric user, with a HEALTHCHECK.
        let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        assert!(df.contains("USER 65532:65532"), "{stack}");
        assert!(df.contains("HEALTHCHECK"), "{stack}");
        assert!(df.contains(" AS test"), "{stack}");
        assert!(df.contains(" AS runtime"), "{stack}");
    }
}

#[test]
fn provenance_records_source_version_identity_and_answers() {
    let p = Project::empty();
    let dir = init(
        &p,
        "prov",
        "go",
        &[
            "--set",
            "module=example.org/prov",
            "--set",
            "local_port=9123",
        ],
    );
    let v = provenance(&dir);
    let t = &v["template"];
    assert_eq!(t["source"].as_str(), Some("builtin:go"));
    assert_eq!(t["kind"].as_str(), Some("builtin"));
    assert_eq!(t["name"].as_str(), Some("go"));
    assert_eq!(t["version"].as_str(), Some("1.2.0"));
    let identity = t["identity"].as_str().unwrap();
    assert!(
        identity.starts_with("sha256:") && identity.len() == 71,
        "{identity}"
    );
    assert_eq!(v["answers"]["module"].as_str(), Some("example.org/prov"));
    assert_eq!(v["answers"]["local_port"].as_integer(), Some(9123));
    assert_eq!(v["answers"]["name"].as_str(), Some("prov"));
    // The values go fixes for its family's Dockerfile are not answers (issue #11): an
    // upgrade renders each version with its own.
    for fixed in ["start", "binary", "healthcheck", "go_sum", "port"] {
        assert!(v["answers"].get(fixed).is_none(), "{fixed} recorded");
    }
    // The identity is the one `lbc init --list` reports for the embedded stack.
    let list = p
        .lbc()
        .args(["init", "--list", "--output", "json"])
        .run()
        .success()
        .json();
    let go = list["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == "go")
        .unwrap();
    assert_eq!(go["identity"].as_str(), Some(identity));
    // The answers took effect.
    assert!(std::fs::read_to_string(dir.join("go.mod"))
        .unwrap()
        .starts_with("module example.org/prov\n"));
    assert!(std::fs::read_to_string(dir.join("lbc.toml"))
        .unwrap()
        .contains("port = 9123"));
}

#[test]
fn list_shows_every_stack_and_its_variables() {
    let out = crate::support::Lbc::new()
        .args(["init", "--list"])
        .run()
        .success();
    for s in STACKS {
        out.stdout()
            .lines()
            .find(|l| l.starts_with(s))
            .unwrap_or_else(|| panic!("{s} not listed"));
    }
    let out = out
        .stdout_has("registry")
        .stdout_has("choice [all|gitlab|github|jenkins|none]");
    assert!(out.stdout().contains("package"), "java's package variable");
    // The fixed variables of the stacks (their family's Dockerfile, issue #11) are not
    // listed: nothing to choose.
    for fixed in ["start", "healthcheck", "manager", "code"] {
        assert!(
            !out.stdout()
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{fixed} "))),
            "{fixed} listed:\n{}",
            out.stdout()
        );
    }
}

/// A stack's fixed variables (its family's Dockerfile, issue #11) cannot be set: a value
/// such as `--chown=0` would become an option of a COPY instruction. Exit 2, nothing
/// written.
#[test]
fn fixed_variables_are_refused_by_set() {
    let p = Project::empty();
    p.lbc()
        .args([
            "init",
            "svc",
            "--stack",
            "python",
            "--yes",
            "--set",
            "code=--chown=0",
        ])
        .run()
        .code_is(2)
        .stderr_has("variable `code` of template `python` is fixed by the template")
        .stderr_has("edit the generated file instead");
    assert!(!p.path().join("svc").exists());
}

#[test]
fn dry_run_lists_the_files_and_writes_nothing() {
    let p = Project::empty();
    let out = p
        .lbc()
        .args(["init", "svc", "--stack", "python", "--dry-run"])
        .run()
        .success()
        .stdout_has("plan for `lbc init`")
        .stdout_has("create    lbc.toml")
        .stdout_has("create    .lbc/template.toml")
        .stdout_has("template python 1.3.0");
    assert!(out
        .stdout()
        .contains("deploy/chart/templates/deployment.yaml"));
    assert!(!p.path().join("svc").exists(), "dry run wrote something");
    let j = p
        .lbc()
        .args([
            "init",
            "svc",
            "--stack",
            "rust",
            "--dry-run",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(j["dry_run"], true);
    let files = j["files"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|f| f["path"] == "Cargo.toml" && f["action"] == "create"));
    assert_eq!(j["template"]["name"], "rust");
    assert_eq!(j["answers"]["name"], "svc");
    assert!(!p.path().join("svc").exists());
}

#[test]
fn ci_choice_includes_only_the_chosen_pipeline() {
    let p = Project::empty();
    let dir = init(&p, "gl", "node", &["--set", "ci=gitlab"]);
    assert!(dir.join(".gitlab-ci.yml").is_file());
    assert!(!dir.join(".github").exists());
    assert!(!dir.join("Jenkinsfile").exists());
    let dir = init(&p, "none", "node", &["--set", "ci=none"]);
    assert!(!dir.join(".gitlab-ci.yml").exists() && !dir.join("Jenkinsfile").exists());
}

#[test]
fn java_package_becomes_the_source_path() {
    let p = Project::empty();
    let dir = init(&p, "pay-api", "java", &["--set", "package=org.acme.pay"]);
    let app = dir.join("src/main/java/org/acme/pay/App.java");
    assert!(app.is_file(), "{:?}", paths(&tree(&dir)));
    assert!(std::fs::read_to_string(app)
        .unwrap()
        .starts_with("package org.acme.pay;\n"));
    assert!(std::fs::read_to_string(dir.join("Dockerfile"))
        .unwrap()
        .contains("\"org.acme.pay.App\""));
}

#[test]
fn charts_and_pipelines_are_copied_byte_for_byte() {
    // Not .jinja: Helm's {{ }} and GitHub's ${{ }} reach the repository untouched.
    let p = Project::empty();
    let dir = init(&p, "raw", "python", &[]);
    for f in [
        "deploy/chart/templates/deployment.yaml",
        "deploy/chart/templates/_helpers.tpl",
        ".github/workflows/lbc.yml",
    ] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(templates_dir().join("_shared").join(f)).unwrap(),
            "{f}"
        );
    }
    let wf = std::fs::read_to_string(dir.join(".github/workflows/lbc.yml")).unwrap();
    assert!(wf.contains("${{ secrets.REGISTRY_PASSWORD }}"));
}

#[test]
fn shared_files_are_the_same_in_every_stack() {
    // Issue #8: the chart and the pipelines live once, in templates/_shared/, and build.rs
    // assembles every stack from that layer plus the stack's own files (an own file with
    // the same path replaces the shared one). Every stack generates the shared files —
    // byte for byte those that are not rendered — except the few it replaces.
    let shared = tree(&templates_dir().join("_shared"));
    for f in [
        ".gitlab-ci.yml",
        ".github/workflows/lbc.yml",
        "Jenkinsfile",
        "deploy/chart/.helmignore",
        "deploy/chart/Chart.yaml.jinja",
        "deploy/chart/values-qualification.yaml",
        "deploy/chart/values-staging.yaml",
        "deploy/chart/templates/deployment.yaml",
    ] {
        assert!(shared.contains_key(f), "templates/_shared/{f} is missing");
    }
    let p = Project::empty();
    for stack in STACKS {
        let own = tree(&templates_dir().join(stack));
        let dir = init(&p, stack, stack, &[]);
        for (f, (bytes, _)) in &shared {
            if own.contains_key(f) {
                continue;
            }
            match f.strip_suffix(".jinja") {
                Some(out) => assert!(dir.join(out).is_file(), "{stack}: {out} not generated"),
                None => assert_eq!(
                    &std::fs::read(dir.join(f)).unwrap(),
                    bytes,
                    "{stack}: {f} differs from templates/_shared/{f}"
                ),
            }
        }
    }
    // The stacks' own copies of shared paths: only where the content really differs
    // (build.rs refuses an identical copy).
    let overrides: Vec<String> = STACKS
        .iter()
        .flat_map(|s| {
            tree(&templates_dir().join(s))
                .into_keys()
                .filter(|k| shared.contains_key(k))
                .map(move |k| format!("{s}/{k}"))
        })
        .collect();
    assert_eq!(
        overrides,
        [
            "java/deploy/chart/values-production.yaml.jinja",
            "java/deploy/chart/values.yaml.jinja",
            "static/deploy/chart/values.yaml.jinja",
        ]
    );
    // And the other way round: a file that every stack carries with the same bytes
    // belongs in the shared layer.
    let first = tree(&templates_dir().join(STACKS[0]));
    let everywhere: Vec<&String> = first
        .iter()
        .filter(|(f, content)| {
            STACKS[1..]
                .iter()
                .all(|s| tree(&templates_dir().join(s)).get(*f) == Some(content))
        })
        .map(|(f, _)| f)
        .collect();
    assert!(
        everywhere.is_empty(),
        "identical in every stack, move them to templates/_shared/: {everywhere:?}"
    );
}

// ---- bad inputs: exit 2, a clear message, nothing written --------------------------

#[test]
fn unknown_stack_fails_and_writes_nothing() {
    let p = Project::empty();
    p.lbc()
        .args(["init", "svc", "--stack", "pyhton", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("error: unknown stack `pyhton`")
        .stderr_has("did you mean `python`?");
    assert!(!p.path().join("svc").exists());
}

#[test]
fn no_stack_off_a_terminal_says_how_to_choose() {
    let p = Project::empty();
    p.lbc()
        .args(["init", "svc"])
        .run()
        .code_is(2)
        .stderr_has("no stack given")
        .stderr_has("--stack STACK (go, java, node, php, python, rust, static)");
    assert!(!p.path().join("svc").exists());
}

#[test]
fn bad_variable_values_fail_and_write_nothing() {
    let p = Project::empty();
    for (args, needle) in [
        (
            vec!["--name", "Bad_Name"],
            "bad value for `name`: `Bad_Name`",
        ),
        (
            vec!["--set", "local_port=eighty"],
            "bad value for `local_port`: `eighty`: expected an integer",
        ),
        (
            vec!["--set", "ci=travis"],
            "expected one of: all, gitlab, github, jenkins, none",
        ),
        (
            vec!["--set", "registry=Registry/Upper"],
            "bad value for `registry`",
        ),
        (
            vec!["--set", "colour=blue"],
            "template `python` has no variable `colour`",
        ),
        (
            vec!["--set", "novalue"],
            "--set novalue: expected KEY=VALUE",
        ),
    ] {
        let mut a = vec!["init", "svc", "--stack", "python", "--yes"];
        a.extend(args);
        p.lbc().args(&a).run().code_is(2).stderr_has(needle);
        assert!(!p.path().join("svc").exists(), "{needle}");
    }
    // A directory whose name is no DNS label still gets a valid default name.
    p.lbc()
        .args(["init", "42", "--stack", "python", "--yes"])
        .run()
        .success();
    assert!(p.read("42/lbc.toml").contains("name = \"my-service\""));
}

#[test]
fn non_empty_directory_is_refused_without_force_and_listed_with_it() {
    let p = Project::with(&[
        ("svc/Dockerfile", "FROM scratch\n"),
        ("svc/notes.txt", "mine\n"),
    ]);
    let before = tree(&p.path().join("svc"));
    p.lbc()
        .args(["init", "svc", "--stack", "go", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("is not empty (Dockerfile, notes.txt): nothing was written")
        .stderr_has("--force");
    assert_eq!(tree(&p.path().join("svc")), before, "something was written");

    // --force: the differing file is listed first, unrelated files are kept.
    let out = p
        .lbc()
        .args(["init", "svc", "--stack", "go", "--yes", "--force"])
        .run()
        .success()
        .stderr_has("1 existing file in")
        .stderr_has("will be overwritten:\n  Dockerfile");
    let listed_at = out.stderr().find("will be overwritten").unwrap();
    let ok_at = out.stderr().find("ok: generated").unwrap();
    assert!(listed_at < ok_at, "listed after writing:\n{}", out.stderr());
    assert_eq!(p.read("svc/notes.txt"), "mine\n");
    assert!(p.read("svc/Dockerfile").contains("AS runtime"));
    // No staging directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(p.path().join("svc"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".lbc-init-"))
        .collect();
    assert!(leftovers.is_empty());
    // A directory holding only .git counts as empty.
    let g = Project::empty();
    std::fs::create_dir_all(g.path().join("svc/.git")).unwrap();
    g.lbc()
        .args(["init", "svc", "--stack", "static", "--yes"])
        .run()
        .success();
}

// ---- custom templates ---------------------------------------------------------------

/// A small custom template exercising the format.
fn custom_template(p: &Project) {
    p.write(
        "tpl/template.toml",
        r#"[template]
name = "acme"
version = "2.1.0"
exclude = ["NOTES.md"]

[variables.name]
default = "{{ dir_name | dns_label }}"
pattern = "[a-z][-a-z0-9]*"

[variables.team]
prompt = "Team"
default = "platform"

[variables.docs]
type = "bool"
default = false

[[files]]
paths = ["docs"]
when = "docs"
"#,
    );
    p.write("tpl/NOTES.md", "for template authors only\n");
    p.write(
        "tpl/README.md.jinja",
        "# {{ name }} by {{ team }}\n{{ template.name }} {{ template.version }}\n",
    );
    p.write("tpl/chart.yaml", "name: {{ .Chart.Name }}\n");
    p.write(
        "tpl/{{ team }}/{{ name }}.txt.jinja",
        "{{ name | upper }}\n",
    );
    p.write("tpl/docs/index.md", "docs\n");
}

#[test]
fn custom_directory_template_renders_only_jinja_and_path_names() {
    let p = Project::empty();
    custom_template(&p);
    p.lbc()
        .args([
            "init",
            "out",
            "--template",
            "tpl",
            "--yes",
            "--set",
            "team=payments",
        ])
        .run()
        .success();
    let dir = p.path().join("out");
    assert_eq!(p.read("out/README.md"), "# out by payments\nacme 2.1.0\n");
    assert_eq!(p.read("out/chart.yaml"), "name: {{ .Chart.Name }}\n");
    assert_eq!(p.read("out/payments/out.txt"), "OUT\n");
    assert!(!dir.join("NOTES.md").exists(), "excluded");
    assert!(!dir.join("template.toml").exists());
    assert!(!dir.join("docs").exists(), "condition false");
    let v = provenance(&dir);
    assert_eq!(v["template"]["kind"].as_str(), Some("directory"));
    assert_eq!(v["template"]["version"].as_str(), Some("2.1.0"));
    assert!(v["template"]["identity"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(v["answers"]["docs"].as_bool(), Some(false));

    p.lbc()
        .args([
            "init",
            "out2",
            "--template",
            "tpl",
            "--yes",
            "--set",
            "docs=true",
        ])
        .run()
        .success();
    assert_eq!(p.read("out2/docs/index.md"), "docs\n");
}

#[test]
fn escaping_paths_in_a_custom_template_are_rejected_and_nothing_is_written() {
    let p = Project::empty();
    custom_template(&p);
    // A variable that climbs out of the destination.
    p.lbc()
        .args([
            "init",
            "out",
            "--template",
            "tpl",
            "--yes",
            "--set",
            "team=../../escaped",
        ])
        .run()
        .code_is(2)
        .stderr_has("which escapes the destination with `..`")
        .stderr_has("hint: a template may only write inside the directory it generates");
    assert!(!p.path().join("out").exists());
    assert!(!p.path().join("escaped").exists());
    p.lbc()
        .args([
            "init",
            "out",
            "--template",
            "tpl",
            "--yes",
            "--set",
            "team=/tmp",
        ])
        .run()
        .code_is(2)
        .stderr_has("an absolute path");
    p.lbc()
        .args([
            "init",
            "out",
            "--template",
            "tpl",
            "--yes",
            "--set",
            "team=.git/hooks",
        ])
        .run()
        .code_is(2)
        .stderr_has("inside .git");
    assert!(!p.path().join("out").exists());

    // A link that points outside.
    let q = Project::empty();
    custom_template(&q);
    std::os::unix::fs::symlink("/etc/passwd", q.path().join("tpl/passwd")).unwrap();
    q.lbc()
        .args(["init", "out", "--template", "tpl", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("is a link to `/etc/passwd`, outside the generated directory");
    assert!(!q.path().join("out").exists());

    // An existing link in the destination is not written through.
    let r = Project::empty();
    custom_template(&r);
    std::fs::create_dir_all(r.path().join("out")).unwrap();
    std::fs::create_dir_all(r.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(r.path().join("elsewhere"), r.path().join("out/platform")).unwrap();
    r.lbc()
        .args(["init", "out", "--template", "tpl", "--yes", "--force"])
        .run()
        .code_is(2)
        .stderr_has("is a symbolic link: lbc will not write through it");
    assert!(tree(&r.path().join("elsewhere")).is_empty());
    assert!(!r.path().join("out/README.md").exists());
}

#[test]
fn undefined_variables_and_bad_manifests_fail_with_the_place() {
    let p = Project::empty();
    custom_template(&p);
    p.write("tpl/broken.txt.jinja", "line one\nhello {{ nobody }}\n");
    p.lbc()
        .args(["init", "out", "--template", "tpl", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("broken.txt.jinja:2")
        .stderr_has("2 | hello {{ nobody }}")
        .stderr_has("must be declared in template.toml");
    assert!(!p.path().join("out").exists());

    let q = Project::empty();
    q.write("tpl/template.toml", "[template]\nname = \"x\"\nversion = \"1\"\n[variables.port]\ntype = \"integer\"\ndefault = \"eighty\"\n");
    q.lbc()
        .args(["init", "out", "--template", "tpl", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("template.toml:6:")
        .stderr_has("the default of `port` does not fit its type (integer)");
    q.lbc()
        .args(["init", "out", "--template", "missing-dir", "--yes"])
        .run()
        .code_is(2)
        .stderr_has("template missing-dir: no such directory");
    assert!(!q.path().join("out").exists());
}

#[test]
fn git_template_is_read_at_a_tag_with_its_commit_recorded() {
    let p = Project::empty();
    custom_template(&p);
    let repo = Project {
        dir: tempfile::Builder::new()
            .prefix("lbc-tpl-git-")
            .tempdir()
            .unwrap(),
    };
    for (path, (bytes, _)) in tree(&p.path().join("tpl")) {
        repo.write(&path, std::str::from_utf8(&bytes).unwrap());
    }
    repo.git_init();
    repo.git(&["tag", "v1.0.0"]);
    let v1 = repo.head();
    repo.write("README.md.jinja", "# {{ name }} v2\n");
    repo.write(
        "template.toml",
        &repo.read("template.toml").replace("2.1.0", "3.0.0"),
    );
    repo.commit("v2");
    let src = repo.path().display().to_string();

    p.lbc()
        .args([
            "init",
            "at-tag",
            "--template",
            &src,
            "--template-version",
            "v1.0.0",
            "--yes",
        ])
        .run()
        .success();
    assert_eq!(
        p.read("at-tag/README.md"),
        "# at-tag by platform\nacme 2.1.0\n"
    );
    let v = provenance(&p.path().join("at-tag"));
    assert_eq!(v["template"]["kind"].as_str(), Some("git"));
    assert_eq!(v["template"]["ref"].as_str(), Some("v1.0.0"));
    assert_eq!(v["template"]["identity"].as_str(), Some(v1.as_str()));
    assert_eq!(
        v["template"]["source"].as_str(),
        Some(
            std::fs::canonicalize(repo.path())
                .unwrap()
                .to_str()
                .unwrap()
        )
    );

    // A file:// URL, at a branch: the newest commit.
    p.lbc()
        .args([
            "init",
            "at-main",
            "--template",
            &format!("file://{src}"),
            "--template-version",
            "main",
            "--yes",
        ])
        .run()
        .success();
    assert_eq!(p.read("at-main/README.md"), "# at-main v2\n");
    assert_eq!(
        provenance(&p.path().join("at-main"))["template"]["identity"].as_str(),
        Some(repo.head().as_str())
    );

    // A ref that does not exist: exit 2, the tags listed, nothing written.
    p.lbc()
        .args([
            "init",
            "bad-ref",
            "--template",
            &src,
            "--template-version",
            "v9",
            "--yes",
        ])
        .run()
        .code_is(2)
        .stderr_has("no tag, branch or commit `v9`")
        .stderr_has("tags: v1.0.0");
    assert!(!p.path().join("bad-ref").exists());
}

/// Drives `lbc init` on a pseudo-terminal (Python's `pty`, from the standard library):
/// each answer is sent once its prompt appears.
pub const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
lbc, args, script = sys.argv[1], sys.argv[2].split("\x1f"), sys.argv[3].split("\x1f")
pid, fd = pty.fork()
if pid == 0:
    os.environ["NO_COLOR"] = "1"
    os.execv(lbc, ["lbc"] + args)
out = b""
def read_until(needle, timeout=20):
    global out
    end = time.time() + timeout
    while needle.encode() not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            out += data
for i in range(0, len(script), 2):
    read_until(script[i])
    out = out.replace(script[i].encode(), b"<seen>", 1)
    os.write(fd, script[i + 1].encode() + b"\r")
read_until("\x00", timeout=5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn prompts_on_a_terminal_ask_in_order_show_defaults_and_validate() {
    let python = ["python3", "python"].into_iter().find(|p| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        assert!(
            !crate::init_support::expected(),
            "python3 is needed to drive a terminal"
        );
        eprintln!("skipped prompts test: no python3 to drive a pseudo-terminal");
        return;
    };
    let p = Project::empty();
    let dir = p.path().join("svc");
    let args = [
        "init",
        dir.to_str().unwrap(),
        "--stack",
        "go",
        "--set",
        "ci=gitlab",
    ]
    .join("\x1f");
    // prompt fragment, answer; "" takes the shown default.
    let script = [
        "Service name [svc]",
        "my-svc",
        "description [A tiny HTTP service]",
        "",
        "[registry.example.com/my-svc]",
        "", // the default uses the answer before it
        "Wildcard DNS domain",
        "apps.test",
        "non-production cluster [nonprod]",
        "",
        "production cluster [prod]",
        "",
        "[8080]",
        "eighty", // refused, asked again
        "expected an integer",
        "9090",
        "Go module path [example.com/my-svc]",
        "",
        // `lbc init --database` on a terminal (#11): a choice, picked with the arrow keys
        // (none, postgres, mysql, redis).
        "Database beside the service",
        "\x1b[B\x1b[B\x1b[B",
    ]
    .join("\x1f");
    let out = std::process::Command::new(python)
        .args(["-c", PTY_DRIVER, crate::support::LBC, &args, &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("CI pipelines"),
        "a --set variable was asked:\n{text}"
    );
    let v = provenance(&dir);
    assert_eq!(v["answers"]["name"].as_str(), Some("my-svc"));
    assert_eq!(
        v["answers"]["registry"].as_str(),
        Some("registry.example.com/my-svc")
    );
    assert_eq!(v["answers"]["domain"].as_str(), Some("apps.test"));
    assert_eq!(v["answers"]["local_port"].as_integer(), Some(9090));
    assert_eq!(v["answers"]["module"].as_str(), Some("example.com/my-svc"));
    assert_eq!(v["answers"]["ci"].as_str(), Some("gitlab"));
    assert_eq!(v["answers"]["database"].as_str(), Some("redis"));
    let toml = std::fs::read_to_string(dir.join("lbc.toml")).unwrap();
    assert!(toml.contains("[services.db]\ntype = \"redis\""), "{toml}");
}
