//! Test support: a fluent builder that drives the real `lbc` binary, fixture projects in
//! temporary git repositories, and the test environment (real Docker engine and
//! registry) provisioned by `scripts/test-env.sh`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const LBC: &str = env!("CARGO_BIN_EXE_lbc");

/// The real tools, as `scripts/test-env.sh` set them up.
#[derive(Debug, Clone)]
pub struct TestEnv {
    pub registry: String,
    pub user: String,
    pub password: String,
    pub catalog: String,
}

/// The Docker engine and registry, or `None` (with one line saying what is missing)
/// on a laptop without them. Where the test environment is expected (`CI` set or
/// `LBC_TEST_ENV=1`), anything missing fails the test instead of skipping it.
pub fn docker_env(test: &str) -> Option<TestEnv> {
    let expected = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("LBC_TEST_ENV").is_some();
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let daemon = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let env = (|| {
        Some(TestEnv {
            registry: get("LBC_TEST_REGISTRY")?,
            user: get("LBC_TEST_REGISTRY_USER")?,
            password: get("LBC_TEST_REGISTRY_PASSWORD")?,
            catalog: get("LBC_CATALOG")?,
        })
    })();
    match (daemon, env) {
        (true, Some(e)) => Some(e),
        (d, e) => {
            let missing = if !d {
                "a running Docker engine"
            } else if e.is_none() {
                "the registry variables of scripts/test-env.sh (LBC_TEST_REGISTRY, ...)"
            } else {
                unreachable!()
            };
            if expected {
                panic!("{test}: the test environment is expected here but {missing} is missing; run `bash scripts/test-env.sh`");
            }
            eprintln!(
                "skipped {test}: needs {missing} (run `bash scripts/test.sh` to provision them)"
            );
            None
        }
    }
}

/// A fixture project in a temporary directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty directory.
    pub fn empty() -> Self {
        Project {
            dir: tempfile::Builder::new()
                .prefix("lbc-test-")
                .tempdir()
                .unwrap(),
        }
    }

    /// A directory holding these files.
    pub fn with(files: &[(&str, &str)]) -> Self {
        let p = Self::empty();
        for (path, content) in files {
            p.write(path, content);
        }
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let full = self.path().join(rel);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// `git init` and one commit, with fixed dates so that SHAs are reproducible.
    pub fn git_init(&self) -> &Self {
        self.git(&["init", "-q", "-b", "main"]);
        self.commit("initial");
        self
    }

    pub fn commit(&self, msg: &str) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        self
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Start building an `lbc` invocation in this project.
    pub fn lbc(&self) -> Lbc {
        Lbc::new().current_dir(self.path())
    }
}

/// Run git in `dir` with a fixed identity and fixed dates (reproducible SHAs) and no
/// user configuration; panics with git's message when it fails.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "lbc test")
        .env("GIT_AUTHOR_EMAIL", "test@lbc.invalid")
        .env("GIT_COMMITTER_NAME", "lbc test")
        .env("GIT_COMMITTER_EMAIL", "test@lbc.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fluent builder for one run of the real binary.
pub struct Lbc {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Lbc {
    pub fn new() -> Self {
        let mut cmd = Command::new(LBC);
        cmd.env_remove("LBC_DRY_RUN")
            .env_remove("LBC_OUTPUT")
            .env_remove("LBC_IMAGE")
            .env_remove("LBC_TAG")
            .env("NO_COLOR", "1");
        // Plans must not depend on the machine's CA bundle or proxies (issue #11): a
        // test that builds or runs something that downloads calls `trusting_host`.
        cmd.env("LBC_CA_CERTIFICATES", "none");
        for v in lbc::trust::PROXY_VARS {
            cmd.env_remove(v);
        }
        Lbc { cmd, stdin: None }
    }
    /// Hand containers the host's CA bundle (lbc's default outside the tests): for
    /// builds and tasks that reach PyPI, npm or crates.io, which on these machines answer
    /// only through the host's certificate authority.
    pub fn trusting_host(mut self) -> Self {
        self.cmd.env_remove("LBC_CA_CERTIFICATES");
        self
    }
    pub fn current_dir(mut self, d: &Path) -> Self {
        self.cmd.current_dir(d);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }
    pub fn command(self) -> Command {
        self.cmd
    }
    pub fn run(mut self) -> Run {
        use std::io::Write;
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("lbc starts");
        if let Some(bytes) = self.stdin.take() {
            child.stdin.take().unwrap().write_all(&bytes).unwrap();
        }
        Run(child.wait_with_output().unwrap())
    }
}

/// The outcome of one run, with assertions that print everything on failure.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    #[track_caller]
    pub fn success(self) -> Self {
        self.code_is(0)
    }
    #[track_caller]
    pub fn code_is(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout()
        );
        self
    }
    #[track_caller]
    pub fn nowhere(self, needle: &str) -> Self {
        assert!(
            !self.stdout().contains(needle) && !self.stderr().contains(needle),
            "{needle:?} was printed:\n{}\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Run docker directly (for checking what lbc did).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A unique lowercase name for images and containers of one test.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Removes containers and images a test made, even when it fails.
pub struct Cleanup {
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub paths: Vec<PathBuf>,
}

impl Cleanup {
    pub fn new() -> Self {
        Cleanup {
            containers: vec![],
            images: vec![],
            paths: vec![],
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        for i in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The Kubernetes side of the test environment: helm, kubectl and the API emulator
/// (or a real cluster named by `LBC_TEST_KUBECONFIG`).
#[derive(Debug, Clone)]
pub struct KubeEnv {
    pub helm: PathBuf,
    pub kubectl: PathBuf,
    pub python: Option<PathBuf>,
    /// A real cluster's kubeconfig and context(s), instead of emulators.
    pub real: Option<(PathBuf, String, Option<String>)>,
    /// Repository of the images deployed (`:1.0`, `:2.0` must run; `:broken` must not).
    pub repository: String,
}

pub fn kube_env(test: &str) -> Option<KubeEnv> {
    let expected = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("LBC_TEST_ENV").is_some();
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let helm = get("LBC_TEST_HELM")
        .map(PathBuf::from)
        .or_else(|| which::which("helm").ok());
    let kubectl = get("LBC_TEST_KUBECTL")
        .map(PathBuf::from)
        .or_else(|| which::which("kubectl").ok());
    let real = get("LBC_TEST_KUBECONFIG").map(|k| {
        (
            PathBuf::from(k),
            get("LBC_TEST_KUBE_CONTEXT")
                .expect("LBC_TEST_KUBE_CONTEXT names the context to test in"),
            get("LBC_TEST_KUBE_CONTEXT_B"),
        )
    });
    let python = get("LBC_TEST_PYTHON").map(PathBuf::from);
    let missing = match (&helm, &kubectl, &python, &real) {
        (None, _, _, _) => Some("helm"),
        (_, None, _, _) => Some("kubectl"),
        (_, _, None, None) => Some("the emulator's python (LBC_TEST_PYTHON)"),
        _ => None,
    };
    if let Some(m) = missing {
        if expected {
            panic!("{test}: the test environment is expected here but {m} is missing; run `bash scripts/test-env.sh`");
        }
        eprintln!("skipped {test}: needs {m} (run `bash scripts/test.sh` to provision it)");
        return None;
    }
    Some(KubeEnv {
        helm: helm.unwrap(),
        kubectl: kubectl.unwrap(),
        python,
        real,
        repository: get("LBC_TEST_IMAGE_REPOSITORY")
            .unwrap_or_else(|| "registry.example.com/team/hello".into()),
    })
}

/// One Kubernetes API emulator on 127.0.0.1 (stopped by its PID when dropped), or a
/// context of the real cluster.
pub struct Cluster {
    child: Option<std::process::Child>,
    pub context: String,
}

impl Cluster {
    /// Start an emulator whose context `context` is merged into `kubeconfig`.
    pub fn start(env: &KubeEnv, kubeconfig: &Path, context: &str, second: bool) -> Option<Cluster> {
        if let Some((_, a, b)) = &env.real {
            let ctx = if second { b.clone()? } else { a.clone() };
            return Some(Cluster {
                child: None,
                context: ctx,
            });
        }
        let dir = kubeconfig.parent().unwrap();
        let port_file = dir.join(format!("{context}.port"));
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/kube-emulator/emulator.py");
        let log = std::fs::File::create(dir.join(format!("{context}.log"))).unwrap();
        let child = Command::new(env.python.as_ref().unwrap())
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--kubeconfig-out")
            .arg(kubeconfig)
            .args(["--context", context, "--progress-deadline", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the emulator starts");
        let mut cluster = Cluster {
            child: Some(child),
            context: context.to_owned(),
        };
        for _ in 0..300 {
            if std::fs::read_to_string(&port_file).is_ok_and(|p| !p.trim().is_empty()) {
                // The kubeconfig is merged right after the port file is written.
                for _ in 0..100 {
                    if std::fs::read_to_string(kubeconfig).is_ok_and(|k| k.contains(context)) {
                        return Some(cluster);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            if let Some(Ok(Some(status))) = cluster.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "the emulator exited ({status}); see {}",
                    dir.join(format!("{context}.log")).display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the emulator did not start within 15 s");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }
}
