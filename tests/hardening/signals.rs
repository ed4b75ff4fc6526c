//! Issue #9, interruptions and concurrency, against real processes and containers:
//! `init` and `upgrade` all or nothing under SIGINT, SIGTERM and SIGHUP; the leftovers
//! of a SIGKILL found (and undone) by the next run; container tasks stopped within
//! seconds; one lock per environment; two `lbc deploy local` at once leave a container
//! running.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{
    docker, docker_env, docker_ok, free_port, git_in, unique, Cleanup, Lbc, Project,
};

/// Start lbc with stderr piped; wait until it prints a line containing `marker` (a
/// test hook's "pausing"), send `sig`, and return (exit code, all of stderr).
fn signal_when(mut cmd: Command, marker: &str, sig: Signal) -> (Option<i32>, String) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child: Child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(marker) => {
                seen = true;
                break;
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    if seen {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    }
    let started = Instant::now();
    let status = child.wait().unwrap();
    let all = reader.join().unwrap();
    assert!(seen, "lbc never printed {marker:?}:\n{all}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "lbc took {:?} to stop after {sig}",
        started.elapsed()
    );
    (status.code(), all)
}

/// Every path under `dir` (relative, sorted), `.git` left out.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            out.push(rel);
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A python-stack repository at template 1.0.0, committed: `lbc upgrade` has work.
fn old_repo(parent: &Project) -> std::path::PathBuf {
    parent
        .lbc()
        .args([
            "init",
            "svc",
            "--yes",
            "--set",
            "ci=none",
            "--stack",
            "python",
            "--template-version",
            "1.0.0",
        ])
        .run()
        .success();
    let dir = parent.path().join("svc");
    git_in(&dir, &["init", "-q", "-b", "main"]);
    git_in(&dir, &["add", "-A"]);
    git_in(&dir, &["commit", "-q", "-m", "generated"]);
    dir
}

fn upgrade_interrupted_by(sig: Signal) {
    let parent = Project::empty();
    let repo = old_repo(&parent);
    let before = tree(&repo);
    let cmd = Lbc::new()
        .current_dir(&repo)
        .args(["upgrade"])
        .env("LBC_UPGRADE_PAUSE_AFTER", "2")
        .command();
    let (code, stderr) = signal_when(cmd, "pausing", sig);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(git_in(&repo, &["status", "--porcelain"]), "", "{stderr}");
    let after: Vec<String> = tree(&repo)
        .into_iter()
        .filter(|p| !p.starts_with(".lbc/state"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|p| !p.starts_with(".lbc/state"))
        .collect();
    assert_eq!(after, before);
    // No backup or lock holder is left that the next run would trip on.
    Lbc::new()
        .current_dir(&repo)
        .args(["upgrade"])
        .run()
        .success();
}

#[test]
fn upgrade_is_all_or_nothing_under_sigint_issue_9() {
    upgrade_interrupted_by(Signal::SIGINT);
}

#[test]
fn upgrade_is_all_or_nothing_under_sigterm_issue_9() {
    upgrade_interrupted_by(Signal::SIGTERM);
}

#[test]
fn upgrade_is_all_or_nothing_under_sighup_issue_9() {
    upgrade_interrupted_by(Signal::SIGHUP);
}

/// Issue #9: after a SIGKILL mid-upgrade, the next run names the backup and the two ways
/// out; `--recover` puts the tree back, `--discard` keeps it.
#[test]
fn a_killed_upgrade_is_named_then_recovered_or_discarded_issue_9() {
    for way in ["--recover", "--discard"] {
        let parent = Project::empty();
        let repo = old_repo(&parent);
        let cmd = Lbc::new()
            .current_dir(&repo)
            .args(["upgrade"])
            .env("LBC_UPGRADE_PAUSE_AFTER", "2")
            .command();
        let (code, _) = signal_when(cmd, "pausing", Signal::SIGKILL);
        assert_eq!(code, None, "killed");
        assert_ne!(
            git_in(&repo, &["status", "--porcelain"]),
            "",
            "half-applied"
        );
        Lbc::new()
            .current_dir(&repo)
            .args(["upgrade"])
            .run()
            .code_is(5)
            .stderr_has("was killed before it finished")
            .stderr_has(".lbc/state/upgrade-backup-")
            .stderr_has("lbc upgrade --recover")
            .stderr_has("lbc upgrade --discard");
        Lbc::new()
            .current_dir(&repo)
            .args(["upgrade", way])
            .run()
            .success();
        let status = git_in(&repo, &["status", "--porcelain"]);
        if way == "--recover" {
            assert_eq!(status, "", "recovered to the commit");
        } else {
            assert_ne!(status, "", "the half-applied files are kept");
            assert!(!status.contains(".lbc-tmp-"), "{status}");
        }
        assert!(
            std::fs::read_dir(repo.join(".lbc/state"))
                .unwrap()
                .flatten()
                .all(|e| !e
                    .file_name()
                    .to_string_lossy()
                    .starts_with("upgrade-backup-")),
            "the backup is gone"
        );
    }
}

/// Issue #9: a provenance whose identity does not match its version is reported.
#[test]
fn a_wrong_identity_in_the_provenance_is_reported_issue_9() {
    let parent = Project::empty();
    let repo = old_repo(&parent);
    let prov = repo.join(".lbc/template.toml");
    let text = std::fs::read_to_string(&prov).unwrap();
    let line = text.lines().find(|l| l.starts_with("identity")).unwrap();
    std::fs::write(&prov, text.replace(line, "identity = \"sha256:0000\"")).unwrap();
    git_in(&repo, &["commit", "-q", "-am", "edited"]);
    Lbc::new()
        .current_dir(&repo)
        .args(["upgrade"])
        .run()
        .code_is(2)
        .stderr_has("does not match")
        .stderr_has("sha256:0000");
}

fn init_interrupted_by(sig: Signal) {
    let parent = Project::empty();
    let dest = parent.path().join("empty");
    std::fs::create_dir(&dest).unwrap();
    let cmd = Lbc::new()
        .current_dir(parent.path())
        .args(["init", "empty", "--stack", "python", "--yes"])
        .env("LBC_INIT_PAUSE_AFTER", "3")
        .command();
    let (code, stderr) = signal_when(cmd, "pausing", sig);
    if sig == Signal::SIGKILL {
        assert_eq!(code, None);
        assert!(!tree(&dest).is_empty(), "a SIGKILL leaves files behind");
        // The next init undoes them, says so, and writes the whole tree.
        let out = Lbc::new()
            .current_dir(parent.path())
            .args(["init", "empty", "--stack", "python", "--yes"])
            .run()
            .success()
            .stderr_has("was killed before it finished");
        assert!(dest.join("lbc.toml").is_file(), "{}", out.stderr());
        assert!(
            tree(&dest).iter().all(|p| !p.contains(".lbc-init-")),
            "{:?}",
            tree(&dest)
        );
    } else {
        assert_eq!(code, Some(130), "{stderr}");
        assert_eq!(tree(&dest), Vec::<String>::new(), "{stderr}");
        // Nothing is left next to it either.
        assert_eq!(tree(parent.path()), vec!["empty".to_owned()]);
    }
}

#[test]
fn init_into_an_empty_dir_is_all_or_nothing_under_sigint_issue_9() {
    init_interrupted_by(Signal::SIGINT);
}

#[test]
fn init_into_an_empty_dir_is_all_or_nothing_under_sigterm_issue_9() {
    init_interrupted_by(Signal::SIGTERM);
}

#[test]
fn init_into_an_empty_dir_is_all_or_nothing_under_sighup_issue_9() {
    init_interrupted_by(Signal::SIGHUP);
}

#[test]
fn init_after_a_sigkill_undoes_the_leftovers_issue_9() {
    init_interrupted_by(Signal::SIGKILL);
}

/// Issue #9: a task in a container stops within seconds on SIGINT and SIGTERM, and its
/// container is gone.
#[test]
fn container_tasks_stop_within_seconds_issue_9() {
    let Some(env) = docker_env("container_tasks_stop_within_seconds_issue_9") else {
        return;
    };
    let base =
        std::env::var("LBC_TEST_BASE_IMAGE").unwrap_or_else(|_| "lbc-test/debian:bookworm".into());
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let name = unique("sigtask");
        // `sleep` as PID 1 would ignore both signals: --init makes the difference.
        let p = Project::with(&[(
            "lbc.toml",
            &format!(
                "[project]\nname = \"{name}\"\n[tasks.watch]\nrun = \"echo sta''rted >&2; exec sleep 120\"\nimage = \"{base}\"\n"
            ),
        )]);
        let cmd = p
            .lbc()
            .env("LBC_CATALOG", &env.catalog)
            .args(["watch"])
            .command();
        let (code, stderr) = signal_when(cmd, "started", sig);
        assert_eq!(code, Some(130), "{sig}: {stderr}");
        let left = docker_ok(&[
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("name=lbc-task-{name}-"),
        ]);
        assert_eq!(left, "", "{sig}: the task's container is still there");
    }
}

/// Issue #9: with --no-wait-lock, a second run fails at once with exit 8, naming the
/// holder; without it, it waits and then runs.
#[test]
fn a_second_run_waits_for_the_lock_or_fails_with_8_issue_9() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"locked\"\n[env.local]\nkind = \"docker\"\n",
    )]);
    let held = lbc::lock::acquire(p.path(), "env-local", "deploy local", false).unwrap();
    p.lbc()
        .args(["destroy", "local", "--no-wait-lock"])
        .env("DOCKER_HOST", "unix:///nonexistent/lbc-lock-test.sock")
        .run()
        .code_is(8)
        .stderr_has("holds the lock")
        .stderr_has("deploy local");
    // A waiting run: it says why it waits, and goes on once the lock is released.
    let mut cmd = p
        .lbc()
        .args(["destroy", "local"])
        .env("DOCKER_HOST", "unix:///nonexistent/lbc-lock-test.sock")
        .command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    drop(held);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("waiting for another lbc"), "{stderr}");
    // It ran past the lock: the unreachable daemon is what stops it now.
    assert_eq!(out.status.code(), Some(4), "{stderr}");
}

/// Issue #9: two `lbc deploy local` at once both succeed (one waits for the other) and
/// leave the environment with a running container.
#[test]
fn two_deploys_at_once_leave_a_running_container_issue_9() {
    let Some(_env) = docker_env("two_deploys_at_once_leave_a_running_container_issue_9") else {
        return;
    };
    let base =
        std::env::var("LBC_TEST_BASE_IMAGE").unwrap_or_else(|_| "lbc-test/debian:bookworm".into());
    let name = unique("twodeploys");
    let image = format!("lbc-tests/{name}:1");
    let ctx = Project::with(&[(
        "Dockerfile",
        &format!("FROM {base}\nCMD [\"sleep\", \"infinity\"]\n"),
    )]);
    let mut clean = Cleanup::new();
    clean.images.push(image.clone());
    clean.containers.push(format!("lbc-{name}-local"));
    docker_ok(&[
        "build",
        "--quiet",
        "--tag",
        &image,
        &ctx.path().display().to_string(),
    ]);
    let p = Project::with(&[(
        "lbc.toml",
        &format!(
            "[project]\nname = \"{name}\"\n[env.local]\nkind = \"docker\"\nport = {}\n",
            free_port()
        ),
    )]);
    for round in 0..3 {
        let spawn = || {
            let mut c = p
                .lbc()
                .args(["deploy", "local", "--image", &image])
                .command();
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let state = docker(&[
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            &format!("lbc-{name}-local"),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&state.stdout).trim(),
            "running",
            "round {round}: {}",
            String::from_utf8_lossy(&state.stderr)
        );
    }
}
