//! The gazr verbs and tasks on the host (issue #2): argv, `sh -c`, LBC_* variables,
//! exit codes passed through, interrupts.

use std::time::{Duration, Instant};

use crate::support::Project;

fn project(tasks: &str) -> Project {
    let p = Project::with(&[(
        "lbc.toml",
        &format!("[project]\nname = \"hello\"\n[image]\nrepository = \"registry.example.com/team/hello\"\n[tasks]\n{tasks}"),
    )]);
    p.git_init();
    p
}

#[test]
fn test_runs_every_test_task_in_order() {
    let p = project(
        "test-unit = \"echo unit >> log\"\ntest-functional = [\"sh\", \"-c\", \"echo functional >> log\"]\ntest-integration = \"echo integration >> log\"\n",
    );
    p.lbc().args(["test"]).run().success();
    assert_eq!(p.read("log"), "unit\nfunctional\nintegration\n");
    p.lbc().args(["test", "functional"]).run().success();
    assert_eq!(p.read("log"), "unit\nfunctional\nintegration\nfunctional\n");
}

#[test]
fn a_failing_task_passes_its_exit_code_through_and_stops() {
    let p = project("test-unit = \"exit 7\"\ntest-integration = \"touch should-not-run\"\n");
    p.lbc()
        .args(["test"])
        .run()
        .code_is(7)
        .stderr_has("error: task `test-unit` failed with exit code 7");
    assert!(!p.path().join("should-not-run").exists());
}

#[test]
fn a_verb_without_a_task_says_how_to_declare_it() {
    let p = project("style = \"true\"\n");
    p.lbc()
        .args(["security"])
        .run()
        .code_is(2)
        .stderr_has("no `security` or `security-sast` or `security-dependency-scan` task")
        .stderr_has("hint: declare it under [tasks]");
    p.lbc().args(["style"]).run().success();
}

#[test]
fn values_reach_tasks_only_as_environment_variables() {
    // The project name and tag are values lbc supplies: they must arrive in the
    // environment, and the task's text runs exactly as written.
    let p =
        project("run = 'printf \"%s|%s|%s|%s\" \"$LBC_PROJECT\" \"$LBC_BUILD_TAG\" \"$LBC_TASK\" \"$LBC_BUILD_IMAGE\" > out'\n");
    p.lbc().args(["run"]).run().success();
    let sha = p.head();
    let tag = &sha[..12];
    assert_eq!(
        p.read("out"),
        format!("hello|{tag}|run|registry.example.com/team/hello:{tag}")
    );
}

/// Issue #17: the tree's tag reaches tasks as LBC_BUILD_TAG, never under the names that
/// are the environment forms of `lbc deploy --tag/--image`; a task still reading the old
/// names is told, and sees only what its caller exported.
#[test]
fn tasks_get_the_tag_under_a_name_no_flag_reads() {
    let p = project(
        "run = 'printf \"[%s][%s][%s]\" \"${LBC_TAG:-unset}\" \"${LBC_IMAGE:-unset}\" \"$LBC_BUILD_TAG\" > out'\nformat = \"true\"\n",
    );
    p.write(".gitignore", "out\n").commit("ignore the output");
    let tag = &p.head()[..12];
    p.lbc()
        .args(["run"])
        .run()
        .success()
        .stderr_has("task `run` reads a variable lbc no longer sets for tasks: `LBC_TAG` is now `LBC_BUILD_TAG`, `LBC_IMAGE` is now `LBC_BUILD_IMAGE`");
    assert_eq!(p.read("out"), format!("[unset][unset][{tag}]"));
    // What the caller exported still passes through, as for any variable.
    p.lbc().env("LBC_TAG", "mine").args(["run"]).run().success();
    assert_eq!(p.read("out"), format!("[mine][unset][{tag}]"));
    // A task that does not read them gets no note.
    p.lbc()
        .args(["format"])
        .run()
        .success()
        .nowhere("no longer sets");
    // The dry run shows the note too.
    p.lbc()
        .args(["run", "--dry-run"])
        .run()
        .success()
        .stdout_has("note: task `run` reads a variable lbc no longer sets");
}

#[test]
fn argv_tasks_are_not_interpreted_by_a_shell() {
    let p = project("task-x = [\"touch\", \"$(echo injected)\"]\n");
    p.lbc().args(["task", "task-x"]).run().success();
    assert!(p.path().join("$(echo injected)").exists());
    assert!(!p.path().join("injected").exists());
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let p = project("test-unit = \"touch ran\"\n");
    let out = p
        .lbc()
        .args(["test", "unit", "--dry-run", "--output", "json"])
        .run()
        .success();
    let plan = &out.json()["plan"];
    let step = &plan["steps"][0];
    assert_eq!(step["argv"], serde_json::json!(["sh", "-c", "touch ran"]));
    assert_eq!(step["cwd"], p.path().display().to_string());
    let names: Vec<&str> = step["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"LBC_PROJECT") && names.contains(&"LBC_BUILD_TAG"),
        "{names:?}"
    );
    assert!(!p.path().join("ran").exists());
    p.lbc()
        .args(["test", "unit", "--dry-run"])
        .run()
        .success()
        .stdout_has("1. Run task `test-unit`")
        .stdout_has("$ sh -c 'touch ran'");
}

#[test]
fn json_output_reports_each_step() {
    let p = project("format = [\"true\"]\n");
    let out = p.lbc().args(["format", "--output", "json"]).run().success();
    let j = out.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["steps"][0]["argv"], serde_json::json!(["true"]));
    assert_eq!(j["steps"][0]["exit_code"], 0);
    assert!(j["steps"][0]["duration_ms"].is_u64());
}

#[test]
fn json_output_on_failure_is_still_one_document() {
    let p = project("format = \"exit 3\"\n");
    let out = p
        .lbc()
        .args(["format", "--output", "json"])
        .run()
        .code_is(3);
    let j = out.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 3);
}

fn interrupted_by(sig: nix::sys::signal::Signal) {
    let p = project("watch = \"sleep 30\"\n");
    let mut cmd = p.lbc().args(["watch"]).command();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Let lbc start its child before the signal arrives.
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the child was not stopped: lbc waited for the whole sleep"
    );
}

#[test]
fn sigint_stops_the_task_and_exits_130() {
    interrupted_by(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_is_forwarded_and_exits_130() {
    interrupted_by(nix::sys::signal::Signal::SIGTERM);
}
