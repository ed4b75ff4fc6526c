//! Snapshot tests (issue #8): the `--dry-run --output json` plan of every verb on fixture
//! projects — local Docker, Helm, kubectl, kustomize, promote, rollback, destroy, build
//! and `build --push`, tasks on the host and in containers, init, upgrade — so that any
//! change of an argv, a step or a note shows in review as a diff of
//! `tests/snapshots/snapshots/*.snap`.
//!
//! Planning reads real state: the Docker engine (is the image there, does the
//! container exist) and the cluster (is the release installed, does the namespace
//! exist). Each test makes that state itself — its own project name for Docker objects,
//! its own Kubernetes API emulator — so nothing another test runs changes a snapshot.
//! What differs between machines and runs is replaced before snapshotting (see
//! [`Redact`]): the temporary directories, the unique project name, git SHAs (the
//! project name is in the committed lbc.toml), ports, image IDs and deploy hashes.
//!
//! On a mismatch the test fails (in CI insta writes nothing; elsewhere it leaves a
//! `.snap.new` beside the snapshot, ignored by git). Review and accept changes with
//! `cargo insta review` (cargo-insta), or `INSTA_UPDATE=always cargo test --test cli
//! snapshots::` and `git diff`. The Kubernetes snapshots assume helm v4 (v3 plans
//! `--atomic` instead of `--rollback-on-failure`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{
    docker_env, docker_ok, free_port, kube_env, unique, Cleanup, Cluster, KubeEnv, Lbc, Project,
};

// ---------------------------------------------------------------------------------
// Normalisation

/// Replaces what depends on the machine or the run by placeholders, in every string of
/// a JSON document.
struct Redact {
    /// (value, placeholder), applied longest value first.
    subs: Vec<(String, String)>,
}

impl Redact {
    fn new() -> Self {
        let mut r = Redact { subs: Vec::new() };
        // Only as a directory of paths: `HOME=/tmp` stays.
        let tmp = std::env::temp_dir();
        r.add(format!("{}/", tmp.display()), "[TMP]/");
        if let Ok(c) = tmp.canonicalize() {
            r.add(format!("{}/", c.display()), "[TMP]/");
        }
        r
    }

    fn add(&mut self, value: impl Into<String>, placeholder: &str) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.subs.push((value, placeholder.to_owned()));
            self.subs.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        }
        self
    }

    /// A directory, as given and canonical (`/tmp` may be a link).
    fn path(&mut self, p: &Path, placeholder: &str) -> &mut Self {
        self.add(p.display().to_string(), placeholder);
        if let Ok(c) = p.canonicalize() {
            self.add(c.display().to_string(), placeholder);
        }
        self
    }

    /// The HEAD commit of a fixture repository: its SHA and the 12-character tag.
    fn git_head(&mut self, repo: &Project) -> &mut Self {
        let sha = repo.head();
        self.add(&sha[..12], "[GIT_TAG]");
        self.add(sha, "[GIT_SHA]")
    }

    fn string(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (value, placeholder) in &self.subs {
            out = out.replace(value.as_str(), placeholder);
        }
        // Image IDs and digests, and the hash of everything a deploy applies (it covers
        // the release name, which is the unique project name).
        let digest = regex::Regex::new(r"sha256:[0-9a-f]{64}").unwrap();
        let out = digest.replace_all(&out, "sha256:[DIGEST]");
        let deploy = regex::Regex::new(r"lbc-deploy-hash=[0-9a-f]{40}").unwrap();
        let out = deploy.replace_all(&out, "lbc-deploy-hash=[DEPLOY_HASH]");
        // A task container's name ends with the pid of lbc (#9).
        let task = regex::Regex::new(r"^(--name=lbc-task-.+)-[0-9]+$").unwrap();
        task.replace_all(&out, "$1-[PID]").into_owned()
    }

    fn apply(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(items) => {
                let mut items: Vec<Value> = items.iter().map(|i| self.apply(i)).collect();
                strip_user(&mut items);
                Value::Array(items)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.string(k), self.apply(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `docker run` of a task gets `--user UID:GID --env HOME=/tmp` when lbc does not run as
/// root, so that files written in the mounted repository stay the user's. Checked here
/// for the user running the tests, then removed: the snapshots are the same for root
/// and for anyone else.
fn strip_user(argv: &mut Vec<Value>) {
    let is_task_run =
        argv.len() > 3 && argv[0] == "docker" && argv[1] == "run" && argv[2] == "--rm";
    if !is_task_run {
        return;
    }
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        assert!(
            !argv.iter().any(|a| a == "--user"),
            "as root, a task's container needs no --user: {argv:?}"
        );
        return;
    }
    let want = [
        Value::from("--user"),
        Value::from(format!("{uid}:{}", nix::unistd::getgid())),
        Value::from("--env"),
        Value::from("HOME=/tmp"),
    ];
    let at = argv
        .windows(4)
        .position(|w| w == want)
        .unwrap_or_else(|| panic!("a task's container must run as {want:?}: {argv:?}"));
    argv.drain(at..at + 4);
}

/// A build's inputs hash covers lbc.toml (which holds the unique project name and port),
/// and a recorded build carries the time it ran.
fn build_values(mut doc: Value) -> Value {
    let hash = doc
        .pointer("/target/inputs_hash")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(h) = hash {
        let mut r = Redact { subs: Vec::new() };
        // Outside git, the tag is `inputs-` and the hash's first 12 characters.
        r.add(&h[..12.min(h.len())], "[INPUTS_HASH_12]");
        r.add(h, "[INPUTS_HASH]");
        doc = r.apply(&doc);
    }
    if let Some(created) = doc.pointer_mut("/target/reuse/created") {
        *created = Value::String("[BUILD_TIME]".into());
    }
    doc
}

/// Assert the snapshot `name` of `doc`, described by the command that printed it.
fn snapshot(name: &str, command: &str, doc: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("lbc {command}"));
    settings.bind(|| insta::assert_json_snapshot!(name, doc));
}

/// The manifests `lbc render` prints for the kubectl path (text, not a plan: they are
/// what `kubectl apply` reads on stdin), with the project's image substituted.
fn snap_render(name: &str, p: &KubeProject, image: &str) {
    let args = ["render", "staging", "--image", image];
    let run = p.lbc().args(args).run().success();
    let text = p.redact.string(&run.stdout());
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!("lbc {}", args.join(" ")));
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Run `lbc ARGS --output json` (with `--dry-run` when asked), check the exit code and
/// snapshot the redacted document.
fn snap(
    name: &str,
    lbc: Lbc,
    args: &[&str],
    dry_run: bool,
    code: i32,
    redact: &Redact,
) -> crate::support::Run {
    let mut all: Vec<&str> = args.to_vec();
    if dry_run {
        all.push("--dry-run");
    }
    all.extend(["--output", "json"]);
    let run = lbc.args(&all).run().code_is(code);
    let doc = redact.apply(&build_values(run.json()));
    snapshot(name, &all.join(" "), &doc);
    run
}

// ---------------------------------------------------------------------------------
// Fixtures

/// A base-image catalogue of the tests' own, so that the resolved images do not depend
/// on the machine's (`LBC_CATALOG` of the test environment, `~/.config/lbc`).
const CATALOG: &str = r#"[images]
python = "registry.example.com/approved/python:3.12"
python-runtime = "registry.example.com/approved/python:3.12-slim"
"#;

/// A project with an image, tasks of every kind and a local Docker environment.
struct Service {
    project: Project,
    name: String,
    port: u16,
    redact: Redact,
}

impl Service {
    fn new() -> Service {
        let name = unique("snap");
        let port = free_port();
        let project = Project::with(&[
            (
                "lbc.toml",
                &format!(
                    r#"schema = 2

[project]
name = "{name}"
description = "the fixture of the snapshot tests"

[image]
repository = "registry.example.com/team/{name}"
target = "runtime"

[image.args]
GREETING = "hi there"

[image.bases]
BASE_IMAGE = "python"

[registry]
username_env = "SNAP_REGISTRY_USER"
password_env = "SNAP_REGISTRY_PASSWORD"

[tasks]
format = ["fmt-tool", "--check", "."]
run = "python3 app.py --port \"$PORT\""
complexity = ["radon", "cc", "-a", "."]
watch = "watchexec -r -- python3 app.py"
profile = ["python3", "-m", "cProfile", "app.py"]
security-sast = ["bandit", "-r", "."]

[tasks.security-dependency-scan]
run = ["pip-audit"]
image = "python"
description = "known vulnerabilities of the dependencies"

[tasks.test-unit]
run = ["python3", "-m", "unittest"]
stage = "test"
description = "unit tests in the image's test stage"

[tasks.test-integration]
run = "./integration.sh"
stage = "test"
env = {{ DATABASE_URL = "sqlite://" }}

[tasks.style]
run = ["ruff", "check", "."]
image = "registry.example.com/tools/ruff:0.6"

[env.local]
kind = "docker"
port = {port}
container_port = 8080
health = "/healthz"
timeout = "30s"
vars = {{ GREETING = "hello" }}
"#
                ),
            ),
            (
                "Dockerfile",
                "ARG BASE_IMAGE=scratch\nFROM scratch AS test\nCOPY app.txt /\n\
                 FROM scratch AS runtime\nCOPY app.txt /\nCMD [\"/app\"]\n",
            ),
            ("app.txt", "the snapshot fixture\n"),
            (".gitignore", ".lbc/state/\n"),
            (".dockerignore", ".git\n.lbc\n"),
            ("catalog.toml", CATALOG),
        ]);
        project.git_init();
        let mut redact = Redact::new();
        redact
            .path(project.path(), "[ROOT]")
            .add(&name, "[PROJECT]")
            .add(format!("127.0.0.1:{port}"), "127.0.0.1:[PORT]")
            .git_head(&project);
        Service {
            project,
            name,
            port,
            redact,
        }
    }

    fn lbc(&self) -> Lbc {
        self.project
            .lbc()
            .env("LBC_CATALOG", self.project.path().join("catalog.toml"))
    }

    fn snap(&self, name: &str, args: &[&str]) {
        snap(name, self.lbc(), args, true, 0, &self.redact);
    }
}

/// The Kubernetes side: a Kubernetes API emulator of the test's own (or the real
/// cluster of `LBC_TEST_KUBECONFIG`), and the tools' caches in a temporary directory.
struct Kube {
    env: KubeEnv,
    state: tempfile::TempDir,
    cluster: Cluster,
}

impl Kube {
    fn start(test: &str) -> Option<Kube> {
        let env = kube_env(test)?;
        let state = tempfile::Builder::new()
            .prefix("lbc-snap-kube-")
            .tempdir()
            .unwrap();
        let kubeconfig = Self::kubeconfig_path(&env, &state);
        let cluster = Cluster::start(&env, &kubeconfig, "snap-cluster", false)?;
        Some(Kube {
            env,
            state,
            cluster,
        })
    }

    fn kubeconfig_path(env: &KubeEnv, state: &tempfile::TempDir) -> PathBuf {
        match &env.real {
            Some((k, _, _)) => k.clone(),
            None => state.path().join("kubeconfig"),
        }
    }

    fn tool_env(&self) -> Vec<(String, String)> {
        let s = self.state.path();
        let path = format!(
            "{}:{}:{}",
            self.env.helm.parent().unwrap().display(),
            self.env.kubectl.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let dir = |d: &str| s.join(d).display().to_string();
        vec![
            (
                "KUBECONFIG".into(),
                Self::kubeconfig_path(&self.env, &self.state)
                    .display()
                    .to_string(),
            ),
            ("HELM_CACHE_HOME".into(), dir("helm-cache")),
            ("HELM_CONFIG_HOME".into(), dir("helm-config")),
            ("HELM_DATA_HOME".into(), dir("helm-data")),
            ("KUBECACHEDIR".into(), dir("kube-cache")),
            ("PATH".into(), path),
        ]
    }

    /// A project deploying `deploy` (a `[deploy]` line) to `staging` and to a protected
    /// `production` that takes only what runs in staging, both in this cluster.
    fn project(&self, deploy: &str, files: &[(&str, &str)]) -> KubeProject {
        let name = unique("snap");
        let ctx = &self.cluster.context;
        let toml = format!(
            r#"schema = 2

[project]
name = "{name}"

[image]
repository = "registry.example.com/team/hello"

[deploy]
{deploy}

[env.staging]
context = "{ctx}"
namespace = "snap-staging"
values = ["deploy/values-staging.yaml"]
set = {{ "ingress.host" = "hello.staging.example.com" }}
timeout = "40s"

[env.production]
context = "{ctx}"
namespace = "snap-production"
timeout = "40s"
protected = true
promote_from = "staging"
"#
        );
        let mut all: Vec<(&str, &str)> = vec![
            ("lbc.toml", &toml),
            (".gitignore", ".lbc/state/\n"),
            ("deploy/values-staging.yaml", "replicaCount: 2\n"),
        ];
        all.extend_from_slice(files);
        let project = Project::with(&all.iter().map(|(p, c)| (*p, *c)).collect::<Vec<_>>());
        for f in files {
            if f.1.contains("{NAME}") {
                project.write(f.0, &f.1.replace("{NAME}", &name));
            }
        }
        project.git_init();
        let mut redact = Redact::new();
        redact
            .path(project.path(), "[ROOT]")
            .path(self.state.path(), "[KUBE_STATE]")
            .add(&name, "[PROJECT]")
            .add(ctx.clone(), "[CONTEXT]");
        KubeProject {
            project,
            tool_env: self.tool_env(),
            redact,
        }
    }
}

struct KubeProject {
    project: Project,
    tool_env: Vec<(String, String)>,
    redact: Redact,
}

impl KubeProject {
    fn lbc(&self) -> Lbc {
        let mut l = self.project.lbc();
        for (k, v) in &self.tool_env {
            l = l.env(k, v);
        }
        l
    }

    fn snap(&self, name: &str, args: &[&str]) {
        snap(name, self.lbc(), args, true, 0, &self.redact);
    }

    /// A real deploy (not a snapshot): the state later plans read.
    fn deploy(&self, env: &str, image: &str) {
        self.lbc()
            .args(["deploy", env, "--image", image, "--yes"])
            .run()
            .success();
    }
}

/// A Deployment labelled as lbc selects a release's workloads.
const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/instance: {NAME}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/instance: {NAME}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {NAME}
    spec:
      containers:
        - name: web
          image: registry.example.com/team/hello:latest
          ports:
            - containerPort: 8080
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app.kubernetes.io/instance: {NAME}
  ports:
    - port: 80
      targetPort: 8080
"#;

const CHART_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#;

// ---------------------------------------------------------------------------------
// Local Docker, build, tasks

#[test]
fn local_docker_build_and_tasks() {
    let Some(_env) = docker_env("snapshots::local_docker_build_and_tasks") else {
        return;
    };
    let s = Service::new();
    let mut cleanup = Cleanup::new();
    let container = format!("lbc-{}-local", s.name);
    cleanup.containers.push(container.clone());

    // build: nothing built yet; with --push, the login (password on stdin) and pushes.
    s.snap("build", &["build"]);
    let password = "s3cret-snapshot-password";
    snap(
        "build_push",
        s.lbc()
            .env("SNAP_REGISTRY_USER", "snap-user")
            .env("SNAP_REGISTRY_PASSWORD", password),
        &["build", "--push"],
        true,
        0,
        &s.redact,
    )
    .nowhere(password);

    // A real build, then the no-op plan of the same inputs.
    s.lbc().args(["build"]).run().success();
    let image = format!(
        "registry.example.com/team/{}:{}",
        s.name,
        &s.project.head()[..12]
    );
    cleanup.images.push(image.clone());
    s.snap("build_up_to_date", &["build"]);
    s.snap("build_force", &["build", "--force"]);

    // deploy local: the last build, on a free port, waiting for /healthz.
    s.snap("deploy_local", &["deploy", "local"]);
    s.snap(
        "deploy_local_image",
        &["deploy", "local", "--image", &image],
    );
    s.snap("destroy_local_absent", &["destroy", "local"]);
    // An earlier container of the environment is replaced, and is what destroy removes.
    docker_ok(&["create", "--name", &container, &image]);
    s.snap("deploy_local_replaces", &["deploy", "local"]);
    s.snap("destroy_local", &["destroy", "local"]);
    s.snap("status_local", &["status", "local"]);
    s.snap("logs_local", &["logs", "local", "--tail", "20"]);

    // Tasks on the host (argv and `sh -c`), in the image's test stage, in an image.
    s.snap("test", &["test"]);
    s.snap("test_unit", &["test", "unit"]);
    s.snap("style", &["style"]);
    s.snap("format", &["format"]);
    s.snap("complexity", &["complexity"]);
    s.snap("security", &["security"]);
    s.snap("security_dependency_scan", &["security", "dependency-scan"]);
    s.snap("run", &["run"]);
    s.snap("watch", &["watch"]);
    s.snap("profile", &["profile"]);
    s.snap("task", &["task", "security-sast"]);

    // The effective configuration (not a plan; `port` is the free port of this run).
    let mut config = s
        .lbc()
        .args(["config", "--output", "json"])
        .run()
        .success()
        .json();
    assert_eq!(config["config"]["env"]["local"]["port"], s.port);
    config["config"]["env"]["local"]["port"] = Value::String("[PORT]".into());
    snapshot("config", "config --output json", &s.redact.apply(&config));
    snap("catalog", s.lbc(), &["catalog"], false, 0, &s.redact);
}

// ---------------------------------------------------------------------------------
// Kubernetes

#[test]
fn helm_deploy_promote_rollback_destroy() {
    let Some(kube) = Kube::start("snapshots::helm_deploy_promote_rollback_destroy") else {
        return;
    };
    let p = kube.project(
        r#"chart = "deploy/chart""#,
        &[
            (
                "deploy/chart/Chart.yaml",
                "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
            ),
            (
                "deploy/chart/values.yaml",
                "replicaCount: 1\nimage:\n  repository: registry.example.com/team/hello\n  tag: latest\n  digest: \"\"\ningress:\n  host: \"\"\n",
            ),
            ("deploy/chart/templates/deployment.yaml", CHART_DEPLOYMENT),
        ],
    );
    let v1 = "registry.example.com/team/hello:1.0";
    p.snap("helm_render", &["render", "staging", "--image", v1]);
    p.snap("helm_deploy", &["deploy", "staging", "--image", v1]);
    p.snap(
        "helm_deploy_digest",
        &[
            "deploy",
            "staging",
            "--image",
            "registry.example.com/team/hello:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
    );
    p.snap("helm_destroy_absent", &["destroy", "staging"]);
    // #8: `--image` is parsed by the one image-reference type: a reference Docker
    // rejects is a usage error before any plan, for deploy and render alike.
    for verb in ["deploy", "render"] {
        p.lbc()
            .args([
                verb,
                "staging",
                "--image",
                "registry.example.com/team/Hello:1.0",
                "--dry-run",
            ])
            .run()
            .code_is(2)
            .stderr_has("`registry.example.com/team/Hello:1.0` is not an image reference");
    }

    p.deploy("staging", v1);
    p.snap(
        "helm_deploy_up_to_date",
        &["deploy", "staging", "--image", v1],
    );
    p.snap("helm_promote", &["promote", "staging", "production"]);
    // production takes only what runs in staging: refused, nothing planned.
    snap(
        "helm_deploy_refused",
        p.lbc(),
        &[
            "deploy",
            "production",
            "--image",
            "registry.example.com/team/hello:2.0",
        ],
        true,
        5,
        &p.redact,
    );
    p.snap("helm_history", &["history", "staging"]);
    p.snap("helm_rollback", &["rollback", "staging"]);
    p.snap("helm_rollback_revision", &["rollback", "staging", "1"]);
    p.snap("helm_logs", &["logs", "staging"]);
    p.snap("helm_destroy", &["destroy", "staging"]);
}

#[test]
fn kubectl_deploy_rollback_destroy() {
    let Some(kube) = Kube::start("snapshots::kubectl_deploy_rollback_destroy") else {
        return;
    };
    let p = kube.project(
        r#"manifests = "deploy/k8s""#,
        &[
            ("deploy/k8s/deployment.yaml", DEPLOYMENT),
            ("deploy/k8s/service.yaml", SERVICE),
        ],
    );
    let v1 = "registry.example.com/team/hello:1.0";
    snap_render("kubectl_render", &p, v1);
    p.snap("kubectl_deploy", &["deploy", "staging", "--image", v1]);
    p.snap("kubectl_destroy_absent", &["destroy", "staging"]);
    p.deploy("staging", v1);
    p.snap(
        "kubectl_deploy_again",
        &[
            "deploy",
            "staging",
            "--image",
            "registry.example.com/team/hello:2.0",
        ],
    );
    p.snap("kubectl_history", &["history", "staging"]);
    p.snap("kubectl_rollback", &["rollback", "staging"]);
    p.snap("kubectl_rollback_revision", &["rollback", "staging", "1"]);
    p.snap("kubectl_promote", &["promote", "staging", "production"]);
    p.snap("kubectl_destroy", &["destroy", "staging"]);

    // #8: without `[image]` (and no build), render shows the manifests as written.
    let toml = p.project.read("lbc.toml").replace(
        "[image]\nrepository = \"registry.example.com/team/hello\"\n",
        "",
    );
    assert!(!toml.contains("[image]"));
    p.project.write("lbc.toml", &toml);
    let out = p.lbc().args(["render", "staging"]).run().success().stdout();
    assert!(
        out.contains("image: registry.example.com/team/hello:latest"),
        "{out}"
    );
}

#[test]
fn kustomize_deploy() {
    let Some(kube) = Kube::start("snapshots::kustomize_deploy") else {
        return;
    };
    let p = kube.project(
        r#"kustomize = "deploy/kustomize/{env}""#,
        &[
            ("deploy/kustomize/base/deployment.yaml", DEPLOYMENT),
            (
                "deploy/kustomize/base/kustomization.yaml",
                "resources:\n  - deployment.yaml\n",
            ),
            (
                "deploy/kustomize/staging/kustomization.yaml",
                "resources:\n  - ../base\nnamePrefix: staging-\n",
            ),
        ],
    );
    snap_render(
        "kustomize_render",
        &p,
        "registry.example.com/team/hello:1.0",
    );
    p.snap(
        "kustomize_deploy",
        &[
            "deploy",
            "staging",
            "--image",
            "registry.example.com/team/hello:1.0",
        ],
    );
}

// ---------------------------------------------------------------------------------
// init, upgrade

#[test]
fn init_adopt_upgrade() {
    let parent = Project::empty();
    let mut redact = Redact::new();
    redact.path(parent.path(), "[ROOT]");
    snap(
        "init_python",
        parent.lbc(),
        &["init", "hello", "--stack", "python", "--yes"],
        true,
        0,
        &redact,
    );
    snap(
        "init_static_gitlab",
        parent.lbc(),
        &[
            "init",
            "site",
            "--stack",
            "static",
            "--name",
            "site",
            "--set",
            "ci=gitlab",
            "--set",
            "registry=registry.example.com/team/site",
            "--yes",
        ],
        true,
        0,
        &redact,
    );

    // An existing repository: only an lbc.toml.
    parent.write("existing/package.json", r#"{"name": "shop-front"}"#);
    parent.write(
        "existing/Dockerfile",
        "ARG NODE_IMAGE=node:22-bookworm-slim\nFROM ${NODE_IMAGE} AS runtime\nEXPOSE 3000\n",
    );
    snap(
        "init_adopt",
        Lbc::new().current_dir(&parent.path().join("existing")),
        &["init", "--adopt"],
        true,
        0,
        &redact,
    );

    // A repository generated from python 1.0.0, with a local edit, upgraded to the
    // newest version.
    parent
        .lbc()
        .args([
            "init",
            "svc",
            "--stack",
            "python",
            "--template-version",
            "1.0.0",
            "--yes",
            "--set",
            "ci=none",
        ])
        .run()
        .success();
    let repo = parent.path().join("svc");
    let readme = repo.join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(&readme, format!("{text}\nLocal notes.\n")).unwrap();
    crate::support::git_in(&repo, &["init", "-q", "-b", "main"]);
    crate::support::git_in(&repo, &["add", "-A"]);
    crate::support::git_in(&repo, &["commit", "-q", "-m", "generated"]);
    snap(
        "upgrade",
        Lbc::new().current_dir(&repo),
        &["upgrade"],
        true,
        0,
        &redact,
    );
    // `--check` (CI): the same summary, exit 6.
    snap(
        "upgrade_check",
        Lbc::new().current_dir(&repo),
        &["upgrade", "--check"],
        false,
        6,
        &redact,
    );

    // --force into a generated directory: what is overwritten, created, unchanged.
    parent
        .lbc()
        .args([
            "init",
            "forced",
            "--stack",
            "go",
            "--yes",
            "--set",
            "ci=github",
        ])
        .run()
        .success();
    parent.write("forced/README.md", "edited by hand\n");
    std::fs::remove_file(parent.path().join("forced/Dockerfile")).unwrap();
    snap(
        "init_force",
        parent.lbc(),
        &[
            "init",
            "forced",
            "--stack",
            "go",
            "--yes",
            "--set",
            "ci=github",
            "--force",
        ],
        true,
        0,
        &redact,
    );
}

#[test]
fn redaction_keeps_what_matters() {
    // The normalisation must not hide the plan itself: only the listed values change.
    let mut r = Redact::new();
    r.add("/work/x/lbc-test-abc", "[ROOT]")
        .add("snap-1-0", "[PROJECT]");
    let mut argv = vec!["docker", "run", "--rm"];
    let user = format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid());
    if !nix::unistd::getuid().is_root() {
        argv.extend(["--user", &user, "--env", "HOME=/tmp"]);
    }
    argv.extend([
        "--volume",
        "/work/x/lbc-test-abc:/workspace",
        "--env",
        "HOME=/tmp",
        "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]);
    let doc = serde_json::json!({
        "argv": argv,
        "name": "lbc-snap-1-0-local",
        "labels": "lbc-deploy-hash=0123456789abcdef0123456789abcdef01234567,other=1",
        "port": 8080,
    });
    assert_eq!(
        r.apply(&doc),
        serde_json::json!({
            "argv": ["docker", "run", "--rm", "--volume", "[ROOT]:/workspace", "--env", "HOME=/tmp",
                     "img@sha256:[DIGEST]"],
            "name": "lbc-[PROJECT]-local",
            "labels": "lbc-deploy-hash=[DEPLOY_HASH],other=1",
            "port": 8080,
        })
    );
    // Nothing else is touched.
    let plain = serde_json::json!({"argv": ["helm", "upgrade", "--install", "--user", "bob"]});
    assert_eq!(r.apply(&plain), plain);
}

#[test]
fn no_pending_snapshot_is_committed() {
    // A `.snap.new` is a rejected or unreviewed change: it must never be committed
    // (.gitignore keeps it out) and must not stay beside the accepted snapshots in CI.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/snapshots");
    let out = Command::new("git")
        .args(["ls-files", "--", "*.snap.new", "*.pending-snap"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
}

/// `lbc build` with a CA bundle and proxies (issue #11): the derived image of the base
/// of each stage but the final image's, the proxy variables passed by name (the one with
/// a password redacted), and the notes that say so.
#[test]
fn build_with_the_organisations_ca_and_proxy() {
    let name = unique("snap-trust");
    let project = Project::with(&[
        (
            "lbc.toml",
            &format!(
                "[project]\nname = \"{name}\"\n[image]\nrepository = \"registry.example.com/team/{name}\"\n[image.bases]\nBASE = \"python\"\n"
            ),
        ),
        (
            "Dockerfile",
            "ARG BASE\nFROM ${BASE} AS deps\nRUN pip install --target=/deps requests\nFROM ${BASE} AS runtime\nCOPY --from=deps /deps /deps\n",
        ),
        ("catalog.toml", CATALOG),
        (".dockerignore", ".git\n"),
        (
            "ca.pem",
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/ca/unrelated-ca.pem"
            ))
            .unwrap(),
        ),
    ]);
    project.git_init();
    let mut redact = Redact::new();
    redact
        .path(project.path(), "[ROOT]")
        .add(&name, "[PROJECT]")
        .git_head(&project);
    let password = "proxy-pass-w0rd";
    snap(
        "build_trust",
        project
            .lbc()
            .env("LBC_CATALOG", project.path().join("catalog.toml"))
            .env("LBC_CA_CERTIFICATES", project.path().join("ca.pem"))
            .env(
                "HTTPS_PROXY",
                format!("http://user:{password}@proxy.corp.invalid:3128"),
            )
            .env("NO_PROXY", "localhost,.corp.invalid"),
        &["build"],
        true,
        0,
        &redact,
    )
    .nowhere(password);
}
