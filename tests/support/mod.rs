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
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
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

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Start building an `lbc` invocation in this project.
    pub fn lbc(&self) -> Lbc {
        Lbc::new().current_dir(self.path())
    }
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
        Lbc { cmd, stdin: None }
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
