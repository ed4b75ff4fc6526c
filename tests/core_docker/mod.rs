//! The whole Docker path against the real engine and registry (issue #2): build, labels
//! and tags, the no-op skip, push with the password on stdin and pull back by digest,
//! tasks in containers, `deploy local` with its health wait, status, logs, destroy, and
//! the bad inputs that need the engine.

use crate::support::{docker, docker_env, docker_ok, free_port, unique, Cleanup, Project, TestEnv};

const APP: &str = r#"import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz" and os.path.exists("/tmp/unhealthy"):
            self.send_response(500); self.end_headers(); return
        self.send_response(200); self.end_headers()
        self.wfile.write(open("/app/greeting").read().encode())
    def log_message(self, *a):
        print("request", self.path, flush=True)
HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

const DOCKERFILE: &str = r#"ARG BASE
FROM ${BASE} AS base
WORKDIR /app
COPY app.py .
ARG GREETING=hello
RUN printf '%s' "$GREETING" > /app/greeting

FROM base AS test
COPY . /src

FROM base AS runtime
USER 65532:65532
EXPOSE 8080
CMD ["python3", "/app/app.py"]
"#;

/// A small Python service whose image is built from the catalogue's `python` image.
fn service(env: &TestEnv, name: &str, port: u16, extra: &str) -> Project {
    let toml = format!(
        r#"schema = 1
[project]
name = "{name}"
[image]
repository = "{registry}/lbc-tests/{name}"
target = "runtime"
[image.bases]
BASE = "python"
[registry]
username_env = "LBC_T_USER"
password_env = "LBC_T_PASSWORD"
[env.local]
kind = "docker"
port = {port}
container_port = 8080
health = "/healthz"
timeout = "40s"
{extra}"#,
        registry = env.registry
    );
    let p = Project::with(&[
        ("lbc.toml", &toml),
        ("Dockerfile", DOCKERFILE),
        ("app.py", APP),
        (".dockerignore", ".git\n"),
    ]);
    p.git_init();
    p
}

fn lbc_env(p: &Project, env: &TestEnv) -> crate::support::Lbc {
    p.lbc()
        .env("LBC_CATALOG", &env.catalog)
        .env("LBC_T_USER", &env.user)
        .env("LBC_T_PASSWORD", &env.password)
}

#[test]
fn build_tags_labels_and_skips_unchanged_builds() {
    let Some(env) = docker_env("build_tags_labels_and_skips_unchanged_builds") else {
        return;
    };
    let name = unique("build");
    let p = service(&env, &name, free_port(), "");
    let mut clean = Cleanup::new();
    let sha = p.head();
    let repo = format!("{}/lbc-tests/{name}", env.registry);
    let image = format!("{repo}:{}", &sha[..12]);
    clean.images.push(image.clone());

    let out = lbc_env(&p, &env)
        .args(["build", "--output", "json"])
        .run()
        .success();
    let j = out.json();
    assert_eq!(j["image"], image);
    assert_eq!(j["up_to_date"], false);
    let labels: serde_json::Value = serde_json::from_str(&docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &image,
    ]))
    .unwrap();
    assert_eq!(labels["org.opencontainers.image.revision"], sha);
    assert_eq!(labels["org.opencontainers.image.title"], name);
    assert_eq!(labels["org.opencontainers.image.version"], &sha[..12]);
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2026-01-02T03:04:05Z"
    );
    assert!(labels["org.opencontainers.image.source"].is_string());

    // Nothing changed: no docker build at all.
    let again = lbc_env(&p, &env)
        .args(["build", "--output", "json"])
        .run()
        .success();
    let j = again.json();
    assert_eq!(j["up_to_date"], true);
    assert_eq!(j["steps"].as_array().unwrap().len(), 0, "{j}");
    assert!(again.stderr().contains("is up to date"));

    // A dirty tree never reuses the clean tag.
    p.write("app.py", &format!("{APP}\n# local change\n"));
    let dirty = lbc_env(&p, &env)
        .args(["build", "--output", "json"])
        .run()
        .success()
        .json();
    let dirty_image = dirty["image"].as_str().unwrap().to_owned();
    clean.images.push(dirty_image.clone());
    let tag = dirty_image.rsplit(':').next().unwrap();
    assert!(tag.starts_with(&format!("{}-dirty-", &sha[..12])), "{tag}");
    assert_eq!(tag.len(), 12 + "-dirty-".len() + 8);

    // Committed and tagged vX.Y.Z: also tagged X.Y.Z.
    p.commit("change");
    p.git(&["tag", "v1.2.3"]);
    let sha2 = p.head();
    let rel = lbc_env(&p, &env)
        .args(["build", "--output", "json"])
        .run()
        .success()
        .json();
    let refs: Vec<String> = rel["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    clean.images.extend(refs.clone());
    assert_eq!(
        refs,
        vec![format!("{repo}:{}", &sha2[..12]), format!("{repo}:1.2.3")]
    );
}

#[test]
fn build_arguments_pass_through_literally() {
    let Some(env) = docker_env("build_arguments_pass_through_literally") else {
        return;
    };
    let name = unique("args");
    let marker = std::env::temp_dir().join(format!("{name}-injected"));
    let value = format!("$(touch {}); echo", marker.display());
    let p = service(&env, &name, free_port(), "");
    let toml = p.read("lbc.toml").replace(
        "[image.bases]",
        &format!("[image.args]\nGREETING = '{value}'\n[image.bases]"),
    );
    p.write("lbc.toml", &toml);
    p.commit("args");
    let mut clean = Cleanup::new();
    clean.paths.push(marker.clone());
    let out = lbc_env(&p, &env)
        .args(["build", "--output", "json"])
        .run()
        .success();
    let image = out.json()["image"].as_str().unwrap().to_owned();
    clean.images.push(image.clone());
    assert!(
        !marker.exists(),
        "a build argument was evaluated by a shell on the host"
    );
    let inside = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        &image,
        "/app/greeting",
    ]);
    assert_eq!(inside, value);
}

#[test]
fn push_logs_in_with_stdin_and_pulls_back_by_digest() {
    let Some(env) = docker_env("push_logs_in_with_stdin_and_pulls_back_by_digest") else {
        return;
    };
    let name = unique("push");
    let p = service(&env, &name, free_port(), "");
    let mut clean = Cleanup::new();
    let home = tempfile::tempdir().unwrap();
    let out = lbc_env(&p, &env)
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .args(["build", "--push", "--output", "json"])
        .run()
        .success()
        .nowhere(&env.password);
    let j = out.json();
    let image = j["image"].as_str().unwrap().to_owned();
    clean.images.push(image.clone());
    let digest = j["digest"]
        .as_str()
        .expect("a digest after push")
        .to_owned();
    assert!(digest.starts_with("sha256:"));
    // The login went to a temporary config, not to the user's ~/.docker.
    assert!(!home.path().join(".docker/config.json").exists());
    let login = j["steps"][1]["argv"].as_array().unwrap();
    assert!(login.iter().any(|a| a == "--password-stdin"));
    assert!(!serde_json::to_string(&j).unwrap().contains(&env.password));
    // The record keeps the digest for later verbs.
    let record = p.read(".lbc/state/builds.json");
    assert!(record.contains(&digest) && !record.contains(&env.password));

    // Pull back by digest, from a clean slate.
    let repo = format!("{}/lbc-tests/{name}", env.registry);
    let by_digest = format!("{repo}@{digest}");
    docker_ok(&["rmi", "-f", &image]);
    let cfg = tempfile::tempdir().unwrap();
    let mut login = std::process::Command::new("docker");
    login
        .args([
            "--config",
            cfg.path().to_str().unwrap(),
            "login",
            &env.registry,
            "-u",
            &env.user,
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(env.password.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let pulled = docker(&["--config", cfg.path().to_str().unwrap(), "pull", &by_digest]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    clean.images.push(by_digest);
}

#[test]
fn wrong_registry_credentials_fail_without_printing_them() {
    let Some(env) = docker_env("wrong_registry_credentials_fail_without_printing_them") else {
        return;
    };
    let name = unique("badcreds");
    let p = service(&env, &name, free_port(), "");
    let mut clean = Cleanup::new();
    let bad = "definitely-Wrong-pass-1234";
    let out = lbc_env(&p, &env)
        .env("LBC_T_PASSWORD", bad)
        .args(["build", "--push"])
        .run()
        .code_is(1)
        .stderr_has("error: `docker login` failed")
        .stderr_has("hint: check the credentials in LBC_T_USER and LBC_T_PASSWORD")
        .nowhere(bad);
    clean.images.push(out.stdout().trim().to_owned());
    clean.images.push(format!(
        "{}/lbc-tests/{name}:{}",
        env.registry,
        &p.head()[..12]
    ));

    // A missing variable is refused before anything runs.
    lbc_env(&p, &env)
        .env_remove("LBC_T_PASSWORD")
        .args(["build", "--push"])
        .run()
        .code_is(2)
        .stderr_has("environment variable LBC_T_PASSWORD is not set");
}

#[test]
fn deploy_local_runs_waits_replaces_and_destroys() {
    let Some(env) = docker_env("deploy_local_runs_waits_replaces_and_destroys") else {
        return;
    };
    let name = unique("deploy");
    let port = free_port();
    let p = service(&env, &name, port, "");
    let mut clean = Cleanup::new();
    let container = format!("lbc-{name}-local");
    clean.containers.push(container.clone());

    // Never built: a clear error, nothing started.
    lbc_env(&p, &env)
        .args(["deploy", "local"])
        .run()
        .code_is(2)
        .stderr_has("no image has been built")
        .stderr_has("hint: run `lbc build` first");

    let image = lbc_env(&p, &env)
        .args(["build"])
        .run()
        .success()
        .stdout()
        .trim()
        .to_owned();
    clean.images.push(image.clone());
    let out = lbc_env(&p, &env).args(["deploy", "local"]).run().success();
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(out.stdout().trim(), url);
    assert_eq!(
        lbc::wait::http_status(&format!("{url}/healthz"), std::time::Duration::from_secs(5))
            .unwrap(),
        200
    );

    let status = lbc_env(&p, &env)
        .args(["status", "local", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(status["state"], "running");
    assert_eq!(status["image"], image);
    let first_id = docker_ok(&["inspect", "--format", "{{.Id}}", &container]);

    // Deploying again replaces the container.
    lbc_env(&p, &env).args(["deploy", "local"]).run().success();
    let second_id = docker_ok(&["inspect", "--format", "{{.Id}}", &container]);
    assert_ne!(first_id, second_id);

    lbc_env(&p, &env)
        .args(["logs", "local"])
        .run()
        .success()
        .stdout_has("request /healthz");

    lbc_env(&p, &env).args(["destroy", "local"]).run().success();
    assert!(
        !docker(&["inspect", &container]).status.success(),
        "container removed"
    );
    lbc_env(&p, &env)
        .args(["status", "local"])
        .run()
        .success()
        .stdout_has("not deployed");
}

#[test]
fn deploy_local_refuses_a_taken_port_and_leaves_nothing() {
    let Some(env) = docker_env("deploy_local_refuses_a_taken_port_and_leaves_nothing") else {
        return;
    };
    let name = unique("port");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let p = service(&env, &name, port, "");
    let mut clean = Cleanup::new();
    let container = format!("lbc-{name}-local");
    clean.containers.push(container.clone());
    let image = lbc_env(&p, &env)
        .args(["build"])
        .run()
        .success()
        .stdout()
        .trim()
        .to_owned();
    clean.images.push(image);
    lbc_env(&p, &env)
        .args(["deploy", "local"])
        .run()
        .code_is(1)
        .stderr_has(&format!("port {port} on 127.0.0.1 is already in use"))
        .stderr_has("hint: stop what listens there, or choose another port");
    assert!(
        !docker(&["inspect", &container]).status.success(),
        "no stray container"
    );
    drop(holder);
}

#[test]
fn deploy_local_that_never_gets_healthy_is_removed() {
    let Some(env) = docker_env("deploy_local_that_never_gets_healthy_is_removed") else {
        return;
    };
    let name = unique("unhealthy");
    let p = service(&env, &name, free_port(), "");
    let toml = p
        .read("lbc.toml")
        .replace("timeout = \"40s\"", "timeout = \"3s\"")
        .replace("health = \"/healthz\"", "health = \"/missing\"");
    // /missing answers 200 too; make the service unhealthy by marking it at start.
    p.write(
        "lbc.toml",
        &toml.replace(
            "health = \"/missing\"",
            "health = \"/healthz\"\nvars = { UNUSED = \"1\" }",
        ),
    );
    p.write(
        "Dockerfile",
        &DOCKERFILE.replace(
            "USER 65532:65532",
            "RUN touch /tmp/unhealthy\nUSER 65532:65532",
        ),
    );
    p.commit("unhealthy");
    let mut clean = Cleanup::new();
    let container = format!("lbc-{name}-local");
    clean.containers.push(container.clone());
    let image = lbc_env(&p, &env)
        .args(["build"])
        .run()
        .success()
        .stdout()
        .trim()
        .to_owned();
    clean.images.push(image);
    lbc_env(&p, &env)
        .args(["deploy", "local"])
        .run()
        .code_is(1)
        .stderr_has("did not answer 200 within 3s (last: HTTP 500)")
        .stderr_has("last log lines");
    assert!(
        !docker(&["inspect", &container]).status.success(),
        "failed container removed"
    );
}

#[test]
fn tasks_run_in_a_stage_or_an_image_with_the_repository_mounted() {
    let Some(env) = docker_env("tasks_run_in_a_stage_or_an_image_with_the_repository_mounted")
    else {
        return;
    };
    let name = unique("ctask");
    let extra = r#"
[tasks.test-unit]
run = "test -f /src/app.py && test -f /workspace/lbc.toml && printf '%s' \"$LBC_PROJECT\" > /workspace/from-stage"
stage = "test"
[tasks.style]
run = ["python3", "-c", "import os; open('/workspace/from-image', 'w').write(os.environ['LBC_ROOT'])"]
image = "python"
"#;
    let p = service(&env, &name, free_port(), extra);
    let mut clean = Cleanup::new();
    clean.images.push(format!("lbc-task/{name}:test"));
    lbc_env(&p, &env).args(["test", "unit"]).run().success();
    assert_eq!(p.read("from-stage"), name);
    lbc_env(&p, &env).args(["style"]).run().success();
    assert_eq!(p.read("from-image"), "/workspace");
    let plan = lbc_env(&p, &env)
        .args(["style", "--dry-run", "--output", "json"])
        .run()
        .success()
        .json();
    let argv: Vec<String> = plan["plan"]["steps"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(argv[..3], ["docker", "run", "--rm"]);
    assert!(
        argv.contains(&"lbc-test/python:bookworm".to_owned()),
        "catalogue resolved: {argv:?}"
    );
    // values travel as names only: `--env=NAME`, never NAME=value in argv
    assert!(
        argv.iter().any(|a| a == "--env=LBC_PROJECT")
            && !argv.iter().any(|a| a.contains("LBC_PROJECT="))
    );
}

/// Issue #17: a task that runs `lbc build` then `lbc deploy local` (a `watch` task, a CI
/// step wrapped in a task) deploys the build it just made, not the image of the tree as it
/// was when the task started.
#[test]
fn a_task_that_builds_and_deploys_deploys_the_new_image() {
    let Some(env) = docker_env("a_task_that_builds_and_deploys_deploys_the_new_image") else {
        return;
    };
    let name = unique("nested");
    let port = free_port();
    let extra = r#"
[tasks]
redeploy = "printf changed > greeting.txt && lbc build && lbc deploy local"
"#;
    let p = service(&env, &name, port, extra);
    p.write(
        "Dockerfile",
        "ARG BASE\nFROM ${BASE} AS runtime\nCOPY app.py /app/app.py\nCOPY greeting.txt /app/greeting\nEXPOSE 8080\nCMD [\"python3\", \"/app/app.py\"]\n",
    )
    .write("greeting.txt", "first")
    .commit("greeting from a file");
    let mut clean = Cleanup::new();
    clean.containers.push(format!("lbc-{name}-local"));
    let first = lbc_env(&p, &env)
        .args(["build"])
        .run()
        .success()
        .stdout()
        .trim()
        .to_owned();
    clean.images.push(first.clone());
    lbc_env(&p, &env).args(["deploy", "local"]).run().success();
    let url = format!("http://127.0.0.1:{port}/");
    let body = || {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode(),end='')",
                &url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(body(), "first");

    // The task changes the tree, then builds and deploys through a nested lbc found on PATH.
    let bin = std::path::Path::new(crate::support::LBC).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    lbc_env(&p, &env)
        .env("PATH", path)
        .args(["task", "redeploy"])
        .run()
        .success();
    let deployed = docker_ok(&[
        "inspect",
        "--format",
        "{{.Config.Image}}",
        &format!("lbc-{name}-local"),
    ]);
    clean.images.push(deployed.clone());
    assert_ne!(deployed, first, "the nested deploy used the new build");
    assert!(deployed.contains("-dirty-"), "{deployed}");
    assert_eq!(body(), "changed");
}

#[test]
fn dry_run_builds_and_deploys_nothing() {
    let Some(env) = docker_env("dry_run_builds_and_deploys_nothing") else {
        return;
    };
    let name = unique("dry");
    let p = service(&env, &name, free_port(), "");
    let out = lbc_env(&p, &env)
        .args(["build", "--push", "--dry-run", "--output", "json"])
        .run()
        .success()
        .nowhere(&env.password);
    let j = out.json();
    let kinds: Vec<String> = j["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"][1].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["build", "login", "push"]);
    assert_eq!(j["plan"]["steps"][1]["stdin"], "secret (redacted)");
    let image = j["image"].as_str().unwrap();
    assert!(
        !docker(&["image", "inspect", image]).status.success(),
        "dry run built nothing"
    );
    assert!(!p.path().join(".lbc").exists(), "dry run recorded nothing");
}

#[test]
fn a_base_image_that_cannot_be_pulled_points_at_the_catalogue() {
    let Some(_env) = docker_env("a_base_image_that_cannot_be_pulled_points_at_the_catalogue")
    else {
        return;
    };
    let name = unique("nobase");
    let p = Project::with(&[
        (
            "lbc.toml",
            &format!("[project]\nname = \"{name}\"\n[image]\nrepository = \"127.0.0.1:1/{name}\"\n[image.bases]\nBASE = \"lbc-test/never-built:none\"\n"),
        ),
        ("Dockerfile", "ARG BASE\nFROM ${BASE}\n"),
    ]);
    p.git_init();
    p.lbc()
        .args(["build"])
        .run()
        .code_is(1)
        .stderr_has("error: `docker build` failed")
        .stderr_has("hint: docker's output above says why; when a base image cannot be pulled, `lbc catalog`");
    assert!(
        !p.path().join(".lbc/state/builds.json").exists(),
        "no record of a failed build"
    );
}
