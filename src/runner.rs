//! The one runner: every child process lbc starts goes through here.
//!
//! - argv vectors only, resolved once on PATH; never a shell string built from values;
//! - each command is echoed (secrets redacted) before it runs; output streams through,
//!   with a child's stdout sent to stderr when lbc's own stdout carries JSON;
//! - SIGINT: a foreground child on a terminal got it already, so lbc waits for it; off a
//!   terminal each child runs in a process group of its own and lbc forwards SIGINT to
//!   that group. SIGTERM and SIGHUP are forwarded (to the child on a terminal, to its
//!   group elsewhere). lbc exits 130 after an interrupt;
//! - the child's exit code is passed through.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{CommandName, Error};
use crate::plan::{Exec, Stdin};
use crate::ui;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CHILD_PID: AtomicI32 = AtomicI32::new(0);
static SIGNALS: OnceLock<()> = OnceLock::new();
/// Inside a critical section (writing a tree all or nothing), SIGTERM and SIGHUP are
/// noted like SIGINT instead of ending lbc at once, so that the writer can notice the
/// interrupt, put everything back, and exit 130 (issue #9).
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// Off a terminal children get a process group of their own, and signals go to the whole
/// group, so that `sh -c "a; b"` and the programs it started all stop.
static OWN_GROUP: OnceLock<bool> = OnceLock::new();

fn own_group() -> bool {
    *OWN_GROUP.get_or_init(|| !std::io::stdin().is_terminal())
}

/// True once the user pressed Ctrl-C or lbc got SIGTERM/SIGHUP.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fail with [`Error::Interrupted`] if an interrupt arrived; loops call this.
pub fn check_interrupt() -> Result<(), Error> {
    if interrupted() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// What a signal does while lbc runs: note the interrupt, forward it to the child (or
/// its group), and stop at once when no child is running and it is not SIGINT (loops
/// notice SIGINT through [`check_interrupt`] and clean up).
fn on_signal(sig: i32) {
    use signal_hook::consts::SIGINT;
    INTERRUPTED.store(true, Ordering::SeqCst);
    let pid = CHILD_PID.load(Ordering::SeqCst);
    let group = *OWN_GROUP.get().unwrap_or(&false);
    // On a terminal the child is in our foreground process group and got SIGINT from
    // the terminal already: sending it again would double it.
    if pid > 0 && (sig != SIGINT || group) {
        if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
            // A negative pid names the child's whole process group.
            let target = if group { -pid } else { pid };
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(target), s);
        }
    }
    if pid == 0 && sig != SIGINT && CRITICAL.load(Ordering::SeqCst) == 0 {
        signal_hook::low_level::exit(i32::from(crate::error::code::INTERRUPTED));
    }
}

/// A critical section: while the guard lives, SIGINT, SIGTERM and SIGHUP only set the
/// interrupt flag, which the writer checks between operations ([`check_interrupt`]).
pub struct Critical(());

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Enter a critical section (see [`Critical`]); installs the signal handlers.
pub fn critical() -> Critical {
    install_signal_handlers();
    CRITICAL.fetch_add(1, Ordering::SeqCst);
    Critical(())
}

/// Is the process `pid` still running? (A killed lbc leaves its pid in the files it
/// was writing; the next run checks it before touching them.)
pub fn process_alive(pid: i32) -> bool {
    pid > 0
        && !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

// A handler instead of a thread that waits for signals: it costs no thread start-up
// on every run, which matters for short tasks (see docs/performance.md).
#[allow(unsafe_code)]
fn install_signal_handlers() {
    SIGNALS.get_or_init(|| {
        own_group();
        for sig in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            // SAFETY: `on_signal` only touches atomics and calls kill(2) or _exit(2),
            // all async-signal-safe; it allocates nothing and takes no lock (OWN_GROUP
            // is initialised just above, before any handler can run).
            let _ = unsafe { signal_hook::low_level::register(sig, move || on_signal(sig)) };
        }
    });
}

/// What one executed step did, for `--output json` and summaries.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// A step that ran only because an earlier one failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub on_failure: bool,
}

/// The output of a read-only query (a probe lbc runs while planning).
#[derive(Debug, Clone)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

pub struct Runner {
    /// lbc's stdout carries one JSON document: children's stdout goes to stderr.
    json: bool,
    results: Vec<StepResult>,
    resolved: Mutex<HashMap<String, PathBuf>>,
}

impl Runner {
    pub fn new(json: bool) -> Self {
        Runner {
            json,
            results: Vec::new(),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    fn resolve(&self, prog: &str) -> Result<PathBuf, Error> {
        if let Some(p) = self.resolved.lock().unwrap().get(prog) {
            return Ok(p.clone());
        }
        let p = find(prog)?;
        self.resolved
            .lock()
            .unwrap()
            .insert(prog.to_owned(), p.clone());
        Ok(p)
    }

    /// Run a child as a step of a plan: echoed, stdout captured when asked, a non-zero
    /// exit is an error naming the command.
    pub fn run_exec(&self, exec: &Exec) -> Result<Output, Error> {
        // Before the echo: a signal sent on seeing it must find the handlers.
        install_signal_handlers();
        ui::echo_command(&exec.display());
        self.spawn(exec, exec.capture)
    }

    /// Record what a step did, for `--output json`.
    pub fn record(&mut self, result: StepResult) {
        self.results.push(result);
    }

    /// Run a read-only query: not echoed, output captured, a non-zero exit is not an
    /// error (the caller reads `code`).
    pub fn query(&self, exec: &Exec) -> Result<Output, Error> {
        self.run_child(exec, true, true)
    }

    /// Run a clean-up command even after an interrupt (stopping a container the
    /// interrupted step started); its outcome is ignored.
    pub fn cleanup(&self, exec: &Exec) {
        let was = INTERRUPTED.swap(false, Ordering::SeqCst);
        let _ = self.run_child(exec, true, true);
        if was {
            INTERRUPTED.store(true, Ordering::SeqCst);
        }
    }

    fn spawn(&self, exec: &Exec, capture: bool) -> Result<Output, Error> {
        let out = self.run_child(exec, capture, false)?;
        match out.code {
            Some(0) => Ok(out),
            Some(code) => {
                if capture && !out.stderr.trim().is_empty() {
                    ui::info(out.stderr.trim_end());
                }
                Err(Error::ChildFailed {
                    what: CommandName(&exec.argv).to_string(),
                    code,
                    hint: None,
                })
            }
            None => Err(Error::ChildKilled {
                what: CommandName(&exec.argv).to_string(),
                signal: 0,
            }),
        }
    }

    fn run_child(&self, exec: &Exec, capture: bool, quiet_stderr: bool) -> Result<Output, Error> {
        check_interrupt()?;
        install_signal_handlers();
        let prog = self.resolve(&exec.argv[0])?;
        let mut expr = duct::cmd(prog, &exec.argv[1..]).dir(&exec.cwd).unchecked();
        if own_group() {
            expr = expr.before_spawn(|cmd| {
                use std::os::unix::process::CommandExt;
                cmd.process_group(0);
                Ok(())
            });
        }
        for v in &exec.env {
            expr = expr.env(&v.name, v.real_value());
        }
        expr = match &exec.stdin {
            Stdin::Inherit => expr,
            Stdin::Null => expr.stdin_null(),
            Stdin::Secret(s) | Stdin::Data(s) => expr.stdin_bytes(s.as_bytes().to_vec()),
            // Opened here, so that a missing file is named as such (not as a failed start).
            Stdin::File(p) => expr.stdin_file(std::fs::File::open(p).map_err(|e| Error::Io {
                path: p.clone(),
                source: e,
            })?),
        };
        if capture {
            expr = expr.stdout_capture();
            if quiet_stderr {
                expr = expr.stderr_capture();
            }
        } else if self.json || exec.progress {
            expr = expr.stdout_to_stderr();
        }
        let handle = expr.start().map_err(|e| {
            Error::failed(
                format!("could not start {}: {e}", CommandName(&exec.argv)),
                None,
            )
        })?;
        if let Some(pid) = handle.pids().first() {
            CHILD_PID.store(*pid as i32, Ordering::SeqCst);
        }
        let waited = handle.wait();
        CHILD_PID.store(0, Ordering::SeqCst);
        let output = waited.map_err(|e| {
            Error::failed(
                format!("waiting for {} failed: {e}", CommandName(&exec.argv)),
                None,
            )
        })?;
        check_interrupt()?;
        Ok(Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Start a child that runs beside lbc until [`Background::stop`] (the logs `lbc
    /// watch` streams, issue #14): echoed, its stdout on lbc's stdout (stderr with
    /// `--output json`), in a process group of its own off a terminal.
    pub fn background(&self, exec: &Exec) -> Result<Background, Error> {
        install_signal_handlers();
        ui::echo_command(&exec.display());
        let prog = self.resolve(&exec.argv[0])?;
        let mut expr = duct::cmd(prog, &exec.argv[1..])
            .dir(&exec.cwd)
            .unchecked()
            .stdin_null();
        if own_group() {
            expr = expr.before_spawn(|cmd| {
                use std::os::unix::process::CommandExt;
                cmd.process_group(0);
                Ok(())
            });
        }
        if self.json || exec.progress {
            expr = expr.stdout_to_stderr();
        }
        let handle = expr.start().map_err(|e| {
            Error::failed(
                format!("could not start {}: {e}", CommandName(&exec.argv)),
                None,
            )
        })?;
        Ok(Background(handle))
    }

    /// Results as JSON, for `--output json`.
    pub fn results_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.results).expect("serializable")
    }
}

/// A child started by [`Runner::background`].
pub struct Background(duct::Handle);

impl Background {
    /// Stop it (SIGKILL) and reap it.
    pub fn stop(self) {
        let _ = self.0.kill();
    }
}

/// Run `f` (a clean-up after an interrupt, such as `lbc watch` removing what it
/// deployed) with the interrupt cleared, so that its steps run; a new interrupt stops
/// it. lbc still exits 130 afterwards.
pub fn after_interrupt<T>(f: impl FnOnce() -> T) -> T {
    let was = INTERRUPTED.swap(false, Ordering::SeqCst);
    let out = f();
    if was {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    out
}

/// Sleep in small slices so that an interrupt is noticed quickly.
pub fn sleep(d: Duration) -> Result<(), Error> {
    install_signal_handlers();
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupt()?;
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    check_interrupt()
}

/// How to get a tool, shown when it is missing.
pub fn install_hint(tool: &str) -> String {
    match tool {
        "docker" => "install the Docker engine (Debian/Ubuntu: `apt-get install docker.io`), then start it (`systemctl start docker`, or `dockerd &` as root)".into(),
        "helm" => "install helm v3 or v4 (https://helm.sh/docs/intro/install/), or name another binary with `helm = \"PATH\"` in the environment's table of lbc.toml".into(),
        "kubectl" => "install kubectl (https://kubernetes.io/docs/tasks/tools/), or name another binary (e.g. `oc`) with `kubectl = \"PATH\"` in the environment's table of lbc.toml".into(),
        "git" => "install git (Debian/Ubuntu: `apt-get install git`)".into(),
        other => format!("install `{other}` and make sure it is on PATH"),
    }
}

/// Find a program once: a path is checked as given, a bare name is looked up on PATH.
pub fn find(prog: &str) -> Result<PathBuf, Error> {
    let found = if prog.contains('/') {
        let p = Path::new(prog);
        p.is_file().then(|| p.to_owned())
    } else {
        which::which(prog).ok()
    };
    found.ok_or_else(|| Error::ToolMissing {
        tool: prog.to_owned(),
        hint: install_hint(
            Path::new(prog)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(prog),
        ),
    })
}
