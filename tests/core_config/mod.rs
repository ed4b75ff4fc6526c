//! lbc.toml, the CLI surface and bad input (issue #2): no tools needed.

use crate::support::{Lbc, Project};

const MINIMAL: &str = "schema = 1\n[project]\nname = \"hello\"\n";

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    lbc::cli::Cli::command().debug_assert();
}

/// Issue #17: a task that runs lbc itself must not have its nested lbc read the values
/// lbc handed to the task as flags. So no flag's environment form (`LBC_<FLAG>`) may be
/// one of the names lbc sets for tasks, in any subcommand.
#[test]
fn no_flag_reads_a_variable_that_lbc_sets_for_tasks() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: String, found: &mut Vec<(String, String)>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                found.push((
                    format!(
                        "{path} --{}",
                        arg.get_long().unwrap_or(arg.get_id().as_str())
                    ),
                    env.to_string_lossy().into_owned(),
                ));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut flags = Vec::new();
    walk(&lbc::cli::Cli::command(), "lbc".into(), &mut flags);
    assert!(
        flags.iter().any(|(_, env)| env == "LBC_TAG"),
        "the walk sees the subcommands' flags: {flags:?}"
    );
    let task_vars = lbc::commands::task_vars::ALL;
    let clashes: Vec<_> = flags
        .iter()
        .filter(|(_, env)| task_vars.contains(&env.as_str()))
        .collect();
    assert!(
        clashes.is_empty(),
        "flags whose environment form is a variable lbc sets for tasks: {clashes:?}"
    );
    // The renamed ones are really flag variables now, and their replacements are set.
    for (old, new) in lbc::commands::task_vars::RENAMED {
        assert!(flags.iter().any(|(_, env)| env == old), "{old}");
        assert!(task_vars.contains(new), "{new}");
    }
}

#[test]
fn committed_schema_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/lbc.schema.json"))
            .expect("docs/lbc.schema.json is committed");
    let out = Lbc::new().args(["schema"]).run().success();
    assert!(
        out.stdout() == committed,
        "docs/lbc.schema.json is stale: run `cargo run -q -- schema > docs/lbc.schema.json`"
    );
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let p = Project::with(&[("lbc.toml", "[project]\nname = \"hello\n")]);
    let out = p.lbc().args(["config"]).run().code_is(2);
    let file = p.path().join("lbc.toml");
    out.stderr_has(&format!("{}:2:", file.display()))
        .stderr_has("error:");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[image]\nrepositroy = \"r/hello\"\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has(":4:1")
        .stderr_has("unknown field `repositroy`")
        .stderr_has("hint: did you mean `repository`?");
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[env.local]\nkind = \"docker\"\nport = \"eighty\"\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has(":5:8")
        .stderr_has("invalid type");
}

#[test]
fn missing_required_key_is_named() {
    let p = Project::with(&[("lbc.toml", "[project]\ndescription = \"no name\"\n")]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("missing field `name`");
}

#[test]
fn invalid_project_name_gets_a_suggestion() {
    let p = Project::with(&[("lbc.toml", "[project]\nname = \"Hello_World\"\n")]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has(":2:8")
        .stderr_has("hint: use a name like `hello-world`");
}

#[test]
fn schema_newer_than_the_binary_says_lbc_is_too_old() {
    let p = Project::with(&[("lbc.toml", "schema = 7\n[project]\nname = \"x\"\n")]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("this lbc is too old");
}

#[test]
fn no_lbc_toml_anywhere() {
    let p = Project::empty();
    p.lbc()
        .args(["build"])
        .run()
        .code_is(2)
        .stderr_has("no lbc.toml")
        .stderr_has("hint:");
}

#[test]
fn found_in_a_parent_directory_and_with_dash_c() {
    let p = Project::with(&[("lbc.toml", MINIMAL), ("sub/dir/.keep", "")]);
    p.lbc()
        .current_dir(&p.path().join("sub/dir"))
        .args(["config"])
        .run()
        .success()
        .stdout_has("name = \"hello\"");
    Lbc::new()
        .args(["-C".as_ref(), p.path().as_os_str(), "config".as_ref()])
        .run()
        .success()
        .stdout_has("name = \"hello\"");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[image]\nrepository = \"r/hello\"\n[env.local]\nkind = \"docker\"\n[env.staging]\ncontext = \"s\"\nnamespace = \"n\"\n",
    )]);
    p.lbc()
        .args(["deploy", "prod"])
        .run()
        .code_is(2)
        .stderr_has("unknown environment `prod`")
        .stderr_has("known environments: local, staging");
}

#[test]
fn docker_keys_in_a_kubernetes_environment_are_refused() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[env.staging]\nkind = \"kubernetes\"\nport = 80\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has(":5:8")
        .stderr_has("hint: add `kind = \"docker\"` to [env.staging], or remove `port`");
}

#[test]
fn missing_dockerfile_is_a_clear_error() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[image]\nrepository = \"r/hello\"\n",
    )]);
    p.lbc()
        .args(["build", "--dry-run"])
        .run()
        .code_is(2)
        .stderr_has("Dockerfile not found")
        .stderr_has("hint: create Dockerfile");
}

#[test]
fn missing_docker_binary_exits_4() {
    let p = Project::with(&[
        (
            "lbc.toml",
            "[project]\nname = \"hello\"\n[image]\nrepository = \"r/hello\"\n",
        ),
        ("Dockerfile", "FROM scratch\n"),
    ]);
    p.lbc()
        .env("PATH", "/nonexistent")
        .args(["build"])
        .run()
        .code_is(4)
        .stderr_has("`docker` was not found")
        .stderr_has("hint: install the Docker engine");
}

#[test]
fn unreachable_daemon_exits_4_and_writes_nothing() {
    if which::which("docker").is_err() {
        eprintln!("skipped: needs the docker client");
        return;
    }
    let p = Project::with(&[
        (
            "lbc.toml",
            "[project]\nname = \"hello\"\n[image]\nrepository = \"r/hello\"\n",
        ),
        ("Dockerfile", "FROM scratch\nCOPY lbc.toml /\n"),
    ]);
    p.git_init();
    p.lbc()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["build"])
        .run()
        .code_is(4)
        .stderr_has("Docker daemon is not reachable")
        .stderr_has("hint: start it");
    assert!(!p.path().join(".lbc").exists(), "nothing recorded");
}

#[test]
fn every_flag_reads_an_lbc_environment_variable() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[tasks]\ntest-unit = \"touch ran\"\n",
    )]);
    let out = p
        .lbc()
        .env("LBC_DRY_RUN", "true")
        .env("LBC_OUTPUT", "json")
        .args(["test", "unit"])
        .run()
        .success();
    assert_eq!(out.json()["dry_run"], true);
    assert!(!p.path().join("ran").exists(), "dry run ran the task");
}

#[test]
fn completions_and_man_page() {
    Lbc::new()
        .args(["completions", "bash"])
        .run()
        .success()
        .stdout_has("_lbc()");
    Lbc::new()
        .args(["man"])
        .run()
        .success()
        .stdout_has(".TH lbc");
}

#[test]
fn config_prints_defaults_filled_in() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[image]\nrepository = \"r/hello\"\n",
    )]);
    let out = p.lbc().args(["config", "--output", "json"]).run().success();
    let j = out.json();
    assert_eq!(j["config"]["image"]["dockerfile"], "Dockerfile");
    assert_eq!(j["config"]["image"]["context"], ".");
    assert_eq!(j["config"]["schema"], 2);
}

#[test]
fn catalog_lists_defaults_and_overrides() {
    let p = Project::with(&[(
        "catalog.toml",
        "[images]\npython = \"registry.corp/approved/python:3.12\"\n",
    )]);
    let out = Lbc::new()
        .env("LBC_CATALOG", p.path().join("catalog.toml"))
        .args(["catalog", "--output", "json"])
        .run()
        .success();
    let images = out.json()["images"].as_array().unwrap().clone();
    let python = images.iter().find(|e| e["name"] == "python").unwrap();
    assert_eq!(python["image"], "registry.corp/approved/python:3.12");
    let go = images.iter().find(|e| e["name"] == "go-builder").unwrap();
    assert_eq!(go["source"], "default");
}

#[test]
fn schema_1_is_read_with_its_own_default_kind_and_a_hint() {
    // Schema 1: an environment without `kind` is kubernetes, whatever its keys.
    let p = Project::with(&[(
        "lbc.toml",
        "schema = 1\n[project]\nname = \"x\"\n[env.staging]\nport = 80\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("`port` applies to docker environments");
    let p = Project::with(&[(
        "lbc.toml",
        "schema = 1\n[project]\nname = \"x\"\n[env.staging]\ncontext = \"c\"\n",
    )]);
    let out = p.lbc().args(["config", "--output", "json"]).run().success();
    let out = out.stderr_has(
        "uses lbc.toml schema 1 (read as schema 2 in memory); `lbc upgrade` rewrites it",
    );
    assert_eq!(out.json()["config"]["env"]["staging"]["kind"], "kubernetes");
}

#[test]
fn schema_2_infers_the_kind_of_an_environment() {
    let p = Project::with(&[(
        "lbc.toml",
        "schema = 2\n[project]\nname = \"x\"\n[env.local]\nport = 8081\n[env.staging]\nnamespace = \"n\"\n",
    )]);
    let j = p
        .lbc()
        .args(["config", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(j["config"]["env"]["local"]["kind"], "docker");
    assert_eq!(j["config"]["env"]["staging"]["kind"], "kubernetes");
    let p = Project::with(&[(
        "lbc.toml",
        "schema = 2\n[project]\nname = \"x\"\n[env.qa]\ntimeout = \"1m\"\n",
    )]);
    p.lbc()
        .args(["config"])
        .run()
        .code_is(2)
        .stderr_has("environment `qa` does not say what it is")
        .stderr_has(":4:1");
}
