//! Every stack for real (issue #3): `lbc init` -> `lbc build` -> `lbc test unit` ->
//! `lbc deploy local` -> GET /healthz = 200 -> `lbc destroy local`, with nothing but
//! Docker and the base images of the catalogue (`LBC_CATALOG` from the test environment).
//! Plus the checks that run offline in the stack's own images (`lbc format` for go,
//! `lbc style` for java), and a failing unit test that must fail `lbc test unit`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::init_support::init;
use crate::support::{docker, docker_env, docker_ok, free_port, unique, Cleanup, Project, TestEnv};

struct Generated {
    _parent: Project,
    dir: std::path::PathBuf,
    name: String,
    port: u16,
    clean: Cleanup,
}

fn generate(env: &TestEnv, stack: &str) -> Generated {
    let parent = Project::empty();
    let name = unique(&format!("init-{stack}"));
    let port = free_port();
    let registry = format!("{}/lbc-tests/{name}", env.registry);
    let dir = init(
        &parent,
        &name,
        stack,
        &[
            "--set",
            &format!("registry={registry}"),
            "--set",
            &format!("local_port={port}"),
        ],
    );
    let mut clean = Cleanup::new();
    clean.containers.push(format!("lbc-{name}-local"));
    clean.images.push(format!("lbc-task/{name}:test"));
    Generated {
        _parent: parent,
        dir,
        name,
        port,
        clean,
    }
}

fn lbc(g: &Generated, env: &TestEnv) -> crate::support::Lbc {
    crate::support::Lbc::new()
        .current_dir(&g.dir)
        .env("LBC_CATALOG", &env.catalog)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    eprintln!("{what}: {:.1}s", t.elapsed().as_secs_f64());
    r
}

/// The whole path for one stack.
fn full_path(stack: &str) {
    let test = format!("stack_{stack}_builds_tests_deploys_and_answers_healthz");
    let Some(env) = docker_env(&test) else {
        return;
    };
    let mut g = generate(&env, stack);
    let image = timed(&format!("{stack}: lbc build"), || {
        lbc(&g, &env)
            .args(["build"])
            .run()
            .success()
            .stdout()
            .trim()
            .to_owned()
    });
    g.clean.images.push(image.clone());
    assert!(
        image.starts_with(&format!("{}/lbc-tests/{}:", env.registry, g.name)),
        "{image}"
    );
    // The runtime image: a non-root numeric user and a HEALTHCHECK.
    assert_eq!(
        docker_ok(&["image", "inspect", "--format", "{{.Config.User}}", &image]),
        "65532:65532"
    );
    assert_ne!(
        docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Healthcheck}}",
            &image
        ]),
        "null"
    );

    let out = timed(&format!("{stack}: lbc test unit"), || {
        lbc(&g, &env).args(["test", "unit"]).run().success()
    });
    let text = format!("{}{}", out.stdout(), out.stderr());
    let ran = ["PASS", "passed", "OK", "pass 5", "0 failed", "ok  "]
        .iter()
        .any(|m| text.contains(m));
    assert!(ran, "{stack}: no test result in the output:\n{text}");

    let url = timed(&format!("{stack}: lbc deploy local"), || {
        lbc(&g, &env)
            .args(["deploy", "local"])
            .run()
            .success()
            .stdout()
            .trim()
            .to_owned()
    });
    assert_eq!(url, format!("http://127.0.0.1:{}", g.port));
    let code = lbc::wait::http_status(&format!("{url}/healthz"), Duration::from_secs(5)).unwrap();
    assert_eq!(code, 200, "{stack}: GET /healthz");
    if stack != "static" {
        let root = lbc::wait::http_status(&format!("{url}/"), Duration::from_secs(5)).unwrap();
        assert_eq!(root, 200, "{stack}: GET /");
    }
    // The image's own HEALTHCHECK works with what the runtime image has.
    let container = format!("lbc-{}-local", g.name);
    wait_healthy(&container, stack);

    lbc(&g, &env).args(["destroy", "local"]).run().success();
    assert!(
        !docker(&["container", "inspect", &container])
            .status
            .success(),
        "{stack}: container left behind"
    );
}

fn wait_healthy(container: &str, stack: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = docker_ok(&["inspect", "--format", "{{.State.Health.Status}}", container]);
        match status.as_str() {
            "healthy" => return,
            "unhealthy" => panic!("{stack}: the image's HEALTHCHECK reports unhealthy"),
            _ if Instant::now() > deadline => {
                panic!("{stack}: HEALTHCHECK still `{status}` after 90s")
            }
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

#[test]
fn stack_python_builds_tests_deploys_and_answers_healthz() {
    full_path("python");
}

#[test]
fn stack_node_builds_tests_deploys_and_answers_healthz() {
    full_path("node");
}

#[test]
fn stack_go_builds_tests_deploys_and_answers_healthz() {
    full_path("go");
}

#[test]
fn stack_rust_builds_tests_deploys_and_answers_healthz() {
    full_path("rust");
}

#[test]
fn stack_java_builds_tests_deploys_and_answers_healthz() {
    full_path("java");
}

/// The seventh stack (issue #11): Debian's PHP, no Composer package.
#[test]
fn stack_php_builds_tests_deploys_and_answers_healthz() {
    full_path("php");
}

#[test]
fn stack_static_builds_tests_deploys_and_answers_healthz() {
    full_path("static");
}

/// Break the unit tests of a generated service: `lbc test unit` must fail.
#[test]
fn a_broken_unit_test_fails_lbc_test_unit() {
    let Some(env) = docker_env("a_broken_unit_test_fails_lbc_test_unit") else {
        return;
    };
    let g = generate(&env, "python");
    let t = g.dir.join("tests/test_service.py");
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, text.replace("(200, \"ok\\n\")", "(500, \"ok\\n\")")).unwrap();
    let out = lbc(&g, &env).args(["test", "unit"]).run();
    assert_ne!(out.code(), 0, "a failing test passed:\n{}", out.stdout());
    assert!(
        out.stderr().contains("task `test-unit` failed"),
        "{}",
        out.stderr()
    );
}

/// The checks that need nothing but the stack's own images run for real.
#[test]
fn offline_checks_pass_on_the_generated_code() {
    let Some(env) = docker_env("offline_checks_pass_on_the_generated_code") else {
        return;
    };
    // gofmt leaves the generated Go code as it is.
    let g = generate(&env, "go");
    let before = crate::init_support::tree(&g.dir);
    lbc(&g, &env).args(["format"]).run().success();
    assert_eq!(
        crate::init_support::tree(&g.dir),
        before,
        "gofmt changed the generated code"
    );
    // javac with every lint warning as an error accepts the generated Java code.
    let j = generate(&env, "java");
    lbc(&j, &env).args(["style"]).run().success();
}

/// With the host's newer toolchains where present (rustc/clippy/rustfmt stable, node), the
/// generated code builds, passes its tests and is lint- and format-clean: the upstream
/// side of "old Debian toolchains and current upstream ones".
#[test]
fn generated_code_passes_on_the_hosts_current_toolchains() {
    let have = |prog: &str| {
        std::process::Command::new(prog)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let p = Project::empty();
    if have("cargo") {
        let dir = init(&p, "host-rust", "rust", &[]);
        for args in [
            &["test", "--offline", "--locked"][..],
            &[
                "clippy",
                "--offline",
                "--locked",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ][..],
            &["fmt", "--check"][..],
        ] {
            run_in(&dir, "cargo", args);
        }
    } else {
        eprintln!("skipped the rust part: no cargo on the host");
    }
    if have("node") {
        let dir = init(&p, "host-node", "node", &[]);
        run_in(&dir, "node", &["--test"]);
    } else {
        eprintln!("skipped the node part: no node on the host");
    }
    if have("python3") {
        let dir = init(&p, "host-python", "python", &[]);
        run_in(
            &dir,
            "python3",
            &["-m", "unittest", "discover", "-s", "tests", "-t", "."],
        );
    }
}

fn run_in(dir: &Path, prog: &str, args: &[&str]) {
    let out = std::process::Command::new(prog)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?} in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
