//! Issue #9, input beyond lbc.toml: special files and symlinks in the build context,
//! template variables that try to add to generated files, flags that look like
//! options, and a closed stdout.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Lbc, Project};

const TOML: &str =
    "[project]\nname = \"hello\"\n[image]\nrepository = \"registry.example.com/hello\"\n";

fn project() -> Project {
    let p = Project::with(&[
        ("lbc.toml", TOML),
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("app.txt", "hi\n"),
    ]);
    p.git_init();
    p
}

/// Run `lbc build --dry-run` and fail if it takes more than 20 s (it hung before).
fn dry_build(p: &Project) -> crate::support::Run {
    let started = Instant::now();
    let mut cmd = p
        .lbc()
        .args(["build", "--dry-run"])
        .env("DOCKER_HOST", "unix:///nonexistent/lbc-inputs.sock")
        .command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("lbc build --dry-run hangs on a special file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::support::Run(child.wait_with_output().unwrap())
}

/// Issue #9: a FIFO or a socket in the build context is never opened.
#[test]
fn special_files_in_the_context_are_not_opened_issue_9() {
    let p = project();
    nix::unistd::mkfifo(
        &p.path().join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(p.path().join("sock")).unwrap();
    let first = dry_build(&p).success().stdout();
    // The hash counts them (by name and kind): the same tree plans the same tag.
    assert_eq!(dry_build(&p).success().stdout(), first);
    // A FIFO named .dockerignore is refused, not read.
    std::fs::remove_file(p.path().join("pipe")).unwrap();
    nix::unistd::mkfifo(
        &p.path().join(".dockerignore"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    dry_build(&p)
        .code_is(2)
        .stderr_has(".dockerignore is not a regular file");
}

/// Issue #9: a context that leads out of the repository through a symlink is refused.
#[test]
fn a_context_symlinked_out_of_the_repository_is_refused_issue_9() {
    let p = project();
    std::os::unix::fs::symlink("/", p.path().join("root")).unwrap();
    p.write("lbc.toml", &format!("{TOML}context = \"root\"\n"));
    dry_build(&p)
        .code_is(2)
        .stderr_has("outside the repository")
        .stderr_has("lbc.toml:5:11");
    p.write(
        "lbc.toml",
        &format!("{TOML}context = \".\"\ndockerfile = \"root/etc/hostname\"\n"),
    );
    dry_build(&p)
        .code_is(2)
        .stderr_has("outside the repository");
}

/// Issue #9: a template variable cannot add a table to the generated lbc.toml: a
/// newline is refused, quotes are escaped.
#[test]
fn template_variables_cannot_inject_into_generated_files_issue_9() {
    let parent = Project::empty();
    parent
        .lbc()
        .args([
            "init",
            "a",
            "--stack",
            "python",
            "--yes",
            "--set",
            "kube_context_production=prod\"\n[tasks.pwn]\nrun = \"touch /tmp/pwned\"",
        ])
        .run()
        .code_is(2)
        .stderr_has("control character");
    assert!(!parent.path().join("a").exists());
    parent
        .lbc()
        .args([
            "init",
            "b",
            "--stack",
            "python",
            "--yes",
            "--set",
            "kube_context_production=prod\" x = \"y",
            "--set",
            "description=it's \"quoted\" \\ and: # not a comment",
        ])
        .run()
        .success();
    let dir = parent.path().join("b");
    let toml: toml::Table = toml::from_str(&std::fs::read_to_string(dir.join("lbc.toml")).unwrap())
        .expect("the generated lbc.toml parses");
    assert_eq!(
        toml["env"]["production"]["context"].as_str(),
        Some("prod\" x = \"y")
    );
    assert!(toml["env"]["production"].get("x").is_none());
    assert_eq!(
        toml["project"]["description"].as_str(),
        Some("it's \"quoted\" \\ and: # not a comment")
    );
    // And lbc reads it back.
    Lbc::new()
        .current_dir(&dir)
        .args(["config"])
        .run()
        .success();
}

/// Issue #9: flags are values, never options.
#[test]
fn flag_values_that_look_like_options_are_refused_issue_9() {
    let p = Project::with(&[(
        "lbc.toml",
        "[project]\nname = \"hello\"\n[env.local]\nkind = \"docker\"\n",
    )]);
    for args in [
        vec!["deploy", "local", "--image", "-v/:/host"],
        vec!["deploy", "local", "--image=--privileged"],
        vec!["deploy", "local", "--tag", "-x"],
        vec!["deploy", "local", "--namespace", "--all"],
        vec!["deploy", "local", "--context=-x"],
        vec!["upgrade", "--to=--upload-pack=touch /tmp/x"],
        vec!["init", "x", "--template=--upload-pack=x"],
    ] {
        p.lbc().args(&args).run().code_is(2).stderr_has("error:");
    }
}

/// Issue #9: output verbs end quietly with exit 0 when the reader closes the pipe.
#[test]
fn a_closed_stdout_ends_output_verbs_quietly_issue_9() {
    let p = project();
    for args in [
        vec!["man"],
        vec!["schema"],
        vec!["config"],
        vec!["completions", "bash"],
        vec!["catalog"],
    ] {
        // A pipe whose reader is gone before lbc writes: every write fails with EPIPE.
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let mut cmd = p.lbc().args(&args).command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}
