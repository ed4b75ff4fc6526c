//! A plan is what a verb will do: ordered steps, each an argv with its environment,
//! working directory and one-line purpose, or a wait lbc performs itself. Plans are
//! computed without side effects; `--dry-run` prints them and the runner executes them.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// An environment variable given to a child. Secret values never reach any output.
#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(skip)]
    secret_value: Option<String>,
}

impl EnvVar {
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            secret: false,
            secret_value: None,
        }
    }
    /// A secret: the value is registered for redaction and never serialized.
    pub fn secret(name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        crate::ui::register_secret(&value);
        EnvVar {
            name: name.into(),
            value: None,
            secret: true,
            secret_value: Some(value),
        }
    }
    pub fn real_value(&self) -> &str {
        self.secret_value
            .as_deref()
            .or(self.value.as_deref())
            .unwrap_or("")
    }
}

/// What a child reads on standard input.
#[derive(Debug, Clone, Default)]
pub enum Stdin {
    /// The terminal or whatever lbc's own stdin is.
    #[default]
    Inherit,
    /// Nothing (`/dev/null`).
    Null,
    /// A secret, written to the child's stdin and never printed.
    Secret(String),
    /// Data lbc produced (rendered manifests), written to the child's stdin.
    Data(String),
    /// A file's bytes (a backup lbc copies into a pod, issue #10): the file is opened
    /// when the step runs; the plan shows its path.
    File(PathBuf),
}

impl Serialize for Stdin {
    /// A string, except data lbc produced, which is shown (it is no secret, and a review
    /// of the plan should see it: helm's values, the manifests): `{"data": "..."}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Stdin::Data(d) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("data", d)?;
                m.end()
            }
            Stdin::File(p) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("file", p)?;
                m.end()
            }
            Stdin::Inherit => s.serialize_str("inherit"),
            Stdin::Null => s.serialize_str("null"),
            Stdin::Secret(_) => s.serialize_str("secret (redacted)"),
        }
    }
}

/// A child process to run.
#[derive(Debug, Clone, Serialize)]
pub struct Exec {
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub cwd: PathBuf,
    #[serde(skip_serializing_if = "is_inherit")]
    pub stdin: Stdin,
    /// Capture stdout (for lbc to read) instead of streaming it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub capture: bool,
    /// The child's stdout is progress (a tool's chatter), not data: it goes to stderr so
    /// that lbc's stdout keeps only lbc's own result.
    #[serde(skip)]
    pub progress: bool,
    /// Arguments that come from an earlier step's output: each non-empty line of the
    /// capture of that name is appended to `argv` when the step runs; with none, the step
    /// does not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_from: Option<String>,
}

fn is_inherit(s: &Stdin) -> bool {
    matches!(s, Stdin::Inherit)
}

impl Exec {
    pub fn new<I, S>(argv: I, cwd: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: cwd.into(),
            stdin: Stdin::Inherit,
            capture: false,
            progress: false,
            args_from: None,
        }
    }
    /// Append the lines of an earlier step's capture to the argv when this runs.
    pub fn args_from(mut self, capture: impl Into<String>) -> Self {
        self.args_from = Some(capture.into());
        self
    }
    pub fn env(mut self, var: EnvVar) -> Self {
        self.env.push(var);
        self
    }
    pub fn envs(mut self, vars: impl IntoIterator<Item = EnvVar>) -> Self {
        self.env.extend(vars);
        self
    }
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        if let Stdin::Secret(s) = &stdin {
            crate::ui::register_secret(s);
        }
        self.stdin = stdin;
        self
    }
    /// Mark the child's stdout as progress output (see [`Exec::progress`]).
    pub fn progress(mut self) -> Self {
        self.progress = true;
        self
    }
    /// The child's stdout is data for the user (`docker logs`): keep it on stdout.
    pub fn data(mut self) -> Self {
        self.progress = false;
        self
    }
    pub fn capture(mut self) -> Self {
        self.capture = true;
        self
    }
    /// The command as one line a person can read (and paste); secrets are redacted by
    /// the printer.
    pub fn display(&self) -> String {
        let mut line = self
            .argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(c) = &self.args_from {
            line.push_str(&format!(" <lines of `{c}`>"));
        }
        if let Stdin::File(p) = &self.stdin {
            line.push_str(&format!(" < {}", shell_quote(&p.display().to_string())));
        }
        line
    }
}

/// What a step does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Run a child process.
    Exec(Exec),
    /// Poll an HTTP URL until it answers 200, while a container keeps running.
    WaitHttp {
        url: String,
        container: String,
        #[serde(serialize_with = "ser_secs")]
        timeout: Duration,
    },
    /// Wait until a container's HEALTHCHECK reports healthy (or, without one, it runs).
    WaitHealthy {
        container: String,
        #[serde(serialize_with = "ser_secs")]
        timeout: Duration,
    },
    /// Run a probe (`docker exec C pg_isready ...`) until it succeeds while a container
    /// keeps running: a backing service that really accepts connections (issue #10).
    WaitCommand {
        /// What is waited for, named in messages ("service `db`").
        what: String,
        container: String,
        probe: Exec,
        #[serde(serialize_with = "ser_secs")]
        timeout: Duration,
    },
    /// A replica on the local load balancer (issue #14), through its statistics page.
    Balancer {
        op: BalancerOp,
        /// The balancer's container.
        balancer: String,
        /// The replica's container (its address on `network` names its server slot).
        replica: String,
        network: String,
        #[serde(serialize_with = "ser_secs")]
        timeout: Duration,
    },
}

/// What lbc does with a replica on the load balancer of a local environment (issue #14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancerOp {
    /// Wait until the balancer sends the replica requests (its health check passed),
    /// while the replica keeps running.
    WaitServing,
    /// Stop sending it new requests and wait until its open requests are answered.
    Drain,
    /// Clear the drained state of the slots of replicas that were removed, so that a
    /// new replica found in a slot gets requests.
    Release,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}s", d.as_secs()))
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub purpose: String,
    #[serde(flatten)]
    pub action: Action,
    /// Keep the step's stdout under this name, for lbc and for later steps' arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_as: Option<String>,
    /// Runs only when step N (1-based, as the plan shows it) or a later one failed: a
    /// rollback, a clean-up. Its own failure does not hide the first one.
    #[serde(
        rename = "on_failure_from_step",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_failure: Option<usize>,
    /// Runs after the other steps whatever happened to them (a clean-up of what the plan
    /// started for its own use: the services of a run of tasks). Its failure is a
    /// warning and never hides the first one. An interrupted run skips it (the next run
    /// removes what was left).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
    /// How a failure of this step is named (`task `unit``) instead of its argv.
    #[serde(skip)]
    pub what: Option<String>,
    /// The hint of a failure of this step.
    #[serde(skip)]
    pub hint: Option<String>,
}

impl Step {
    pub fn new(purpose: impl Into<String>, action: Action) -> Self {
        Step {
            purpose: purpose.into(),
            action,
            capture_as: None,
            on_failure: None,
            always: false,
            what: None,
            hint: None,
        }
    }
    pub fn exec(purpose: impl Into<String>, exec: Exec) -> Self {
        Step::new(purpose, Action::Exec(exec))
    }
    /// Keep the stdout under `name` (see [`Step::capture_as`]).
    pub fn capture_as(mut self, name: impl Into<String>) -> Self {
        if let Action::Exec(e) = &mut self.action {
            e.capture = true;
        }
        self.capture_as = Some(name.into());
        self
    }
    /// Run this step only when step `from` (1-based) or a later one failed (see
    /// [`Step::on_failure`]).
    pub fn on_failure_from(mut self, from: usize) -> Self {
        self.on_failure = Some(from.max(1));
        self
    }
    /// Run this step after the others, whether they succeeded or not (see
    /// [`Step::always`]).
    pub fn always(mut self) -> Self {
        self.always = true;
        self
    }
    pub fn what(mut self, what: impl Into<String>) -> Self {
        self.what = Some(what.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn argv(&self) -> Option<&[String]> {
        match &self.action {
            Action::Exec(e) => Some(&e.argv),
            _ => None,
        }
    }
}

/// The ordered steps of a verb, plus what lbc decided while planning.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub verb: String,
    /// Decisions and facts found while planning ("image is up to date", the target...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
    /// More keys of the `--dry-run --output json` document (the build's target).
    #[serde(skip)]
    pub dry_run_extra: serde_json::Map<String, serde_json::Value>,
}

impl Plan {
    pub fn new(verb: impl Into<String>) -> Self {
        Plan {
            verb: verb.into(),
            ..Plan::default()
        }
    }
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }
    /// Put `steps` before the plan's own (the downloads of a restore), keeping the
    /// numbers the on-failure steps refer to.
    pub fn prepend(&mut self, steps: Vec<Step>) {
        let n = steps.len();
        for s in &mut self.steps {
            if let Some(from) = &mut s.on_failure {
                *from += n;
            }
        }
        self.steps.splice(0..0, steps);
    }
    /// The number the next step gets (1-based, as the plan shows it).
    pub fn next_number(&self) -> usize {
        self.steps.len() + 1
    }
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The human rendering of `--dry-run`.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("plan for `lbc {}`", self.verb));
        if self.steps.is_empty() {
            out.push_str(": nothing to do");
        }
        out.push('\n');
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for (i, s) in self.steps.iter().enumerate() {
            let marks = match (&s.capture_as, s.on_failure) {
                _ if s.always => " [always, even after a failure]".to_owned(),
                (_, Some(1)) => " [only on failure]".to_owned(),
                (_, Some(n)) => format!(" [only if step {n} or a later one fails]"),
                (Some(c), None) => format!(" [output kept as `{c}`]"),
                (None, None) => String::new(),
            };
            out.push_str(&format!("{}. {}{marks}\n", i + 1, s.purpose));
            match &s.action {
                Action::Exec(e) => {
                    out.push_str(&format!("   $ {}\n", e.display()));
                    out.push_str(&format!("     cwd: {}\n", e.cwd.display()));
                    if !e.env.is_empty() {
                        let names: Vec<String> = e
                            .env
                            .iter()
                            .map(|v| {
                                if v.secret {
                                    format!("{} (secret)", v.name)
                                } else {
                                    v.name.clone()
                                }
                            })
                            .collect();
                        out.push_str(&format!("     env: {}\n", names.join(", ")));
                    }
                    match &e.stdin {
                        Stdin::Secret(_) => out.push_str("     stdin: secret (redacted)\n"),
                        // Short data (helm's values) is shown; long data (manifests) by size.
                        Stdin::Data(d) if d.lines().count() <= 20 => {
                            out.push_str("     stdin:\n");
                            for l in d.lines() {
                                out.push_str(&format!("       | {l}\n"));
                            }
                        }
                        Stdin::Data(d) => out.push_str(&format!(
                            "     stdin: {} lines from lbc (`lbc render` shows them)\n",
                            d.lines().count()
                        )),
                        Stdin::File(p) => {
                            out.push_str(&format!("     stdin: the file {}\n", p.display()))
                        }
                        Stdin::Inherit | Stdin::Null => {}
                    }
                }
                Action::WaitHttp {
                    url,
                    container,
                    timeout,
                } => out.push_str(&format!(
                    "   wait for GET {url} = 200 while {container} runs (timeout {}s)\n",
                    timeout.as_secs()
                )),
                Action::WaitHealthy { container, timeout } => out.push_str(&format!(
                    "   wait for {container} to be healthy (timeout {}s)\n",
                    timeout.as_secs()
                )),
                Action::WaitCommand {
                    what,
                    container,
                    probe,
                    timeout,
                } => out.push_str(&format!(
                    "   wait until {what} accepts connections: $ {} succeeds while {container} runs (timeout {}s)\n",
                    probe.display(),
                    timeout.as_secs()
                )),
                Action::Balancer {
                    op,
                    balancer,
                    replica,
                    timeout,
                    ..
                } => out.push_str(&match op {
                    BalancerOp::WaitServing => format!(
                        "   wait until {balancer} sends requests to {replica} (health check passed; timeout {}s)\n",
                        timeout.as_secs()
                    ),
                    BalancerOp::Drain => format!(
                        "   {balancer}: drain {replica} (no new requests) and wait for its open requests (at most {}s)\n",
                        timeout.as_secs()
                    ),
                    BalancerOp::Release => format!(
                        "   {balancer}: make the slot {replica} held ready for a new replica\n"
                    ),
                }),
            }
        }
        out
    }
}

/// Quote an argument for display so that it can be pasted into a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | '@' | ',' | '+' | '%')
        })
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_literal() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(
            shell_quote("$(touch /tmp/x); echo"),
            "'$(touch /tmp/x); echo'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    /// #8: data lbc gives a tool on stdin (helm's values) shows in the plan.
    #[test]
    fn data_on_stdin_shows_in_the_plan() {
        let mut plan = Plan::new("deploy x");
        plan.push(Step::exec(
            "helm",
            Exec::new(["helm", "upgrade", "--values=-"], "/")
                .stdin(Stdin::Data("{\"image\": {\"tag\": \"1.0\"}}\n".into())),
        ));
        assert!(plan
            .render_human()
            .contains("       | {\"image\": {\"tag\": \"1.0\"}}\n"));
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(
            json["steps"][0]["stdin"]["data"],
            "{\"image\": {\"tag\": \"1.0\"}}\n"
        );
    }

    /// #10: a file given on stdin (a backup copied into a pod) is named in the plan, and
    /// steps put before a plan's own keep its on-failure steps pointing at theirs.
    #[test]
    fn a_file_on_stdin_shows_and_prepended_steps_keep_the_numbers() {
        let mut plan = Plan::new("restore x");
        plan.push(Step::exec(
            "copy",
            Exec::new(["kubectl", "exec", "--stdin"], "/").stdin(Stdin::File("/b/x.rdb".into())),
        ));
        plan.push(Step::exec("undo", Exec::new(["true"], "/")).on_failure_from(1));
        plan.prepend(vec![Step::exec("download", Exec::new(["rclone"], "/"))]);
        let human = plan.render_human();
        assert!(
            human.contains("kubectl exec --stdin < /b/x.rdb\n"),
            "{human}"
        );
        assert!(human.contains("stdin: the file /b/x.rdb\n"), "{human}");
        assert!(
            human.contains("[only if step 2 or a later one fails]"),
            "{human}"
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["steps"][1]["stdin"]["file"], "/b/x.rdb");
        assert_eq!(json["steps"][2]["on_failure_from_step"], 2);
    }

    #[test]
    fn secrets_never_serialize() {
        let e = Exec::new(["docker", "login"], "/")
            .env(EnvVar::secret("PW", "hunter2-very-secret"))
            .stdin(Stdin::Secret("hunter2-very-secret".into()));
        let json = serde_json::to_string(&Step::exec("login", e)).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("secret (redacted)"));
    }
}
