//! The detection report in the forms adoption uses: one line per conclusion for the
//! human plan, and how the adopted lbc.toml runs the detected test command.

use super::Report;

/// How the `test-unit` task runs the detected test command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRun {
    /// In the Dockerfile's test stage, or where the tool fetches its own dependencies.
    Argv(Vec<String>),
    /// A shell line that installs the locked dependencies first; every word is quoted.
    Shell(String),
}

fn cmd(v: &[String]) -> String {
    shlex::try_join(v.iter().map(String::as_str)).unwrap_or_default()
}

impl Report {
    /// One line per conclusion, for the human plan.
    pub fn summary(&self) -> Vec<String> {
        let r = self;
        let mut out = Vec::new();
        if let Some(f) = &r.framework {
            out.push(format!("framework: {f}"));
        }
        match (&r.start.command, &r.start.flag) {
            (Some(c), None) => out.push(format!("start: `{}`", cmd(c))),
            (Some(c), Some(flag)) => out.push(format!("start: `{}` (a choice: {flag})", cmd(c))),
            (None, flag) => out.push(format!(
                "start: undetermined (set it with {})",
                flag.as_deref().unwrap_or("--set start=COMMAND")
            )),
        }
        match r.port.value {
            Some(p) => out.push(format!(
                "port: {p} ({})",
                serde_json::to_value(r.port.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )),
            None => out.push("port: undetermined (set it with --set port=PORT)".into()),
        }
        if let Some(t) = &r.test {
            out.push(format!("test: `{}`", cmd(&t.command)));
        }
        for s in &r.services {
            out.push(format!(
                "service: {} ({})",
                s.kind.as_str(),
                s.env.join(", ")
            ));
        }
        if let Some(m) = &r.migration {
            match &m.command {
                Some(c) => out.push(format!("migration: `{}`", cmd(c))),
                None => out.push(format!("migration: {} at the application's start", m.tool)),
            }
        }
        out.extend(r.notes.iter().cloned());
        out
    }

    /// The detected test command as the adopted `test-unit` task runs it: as an argv in
    /// the Dockerfile's test stage (the dependencies are there); elsewhere, in the stack's
    /// builder image, after installing the locked dependencies with the project's own
    /// manager (Go, cargo, Gradle and Maven fetch theirs themselves).
    pub fn test_run(&self, in_stage: bool) -> Option<TestRun> {
        let test = self.test.as_ref()?;
        let pm = self.package_manager.as_ref();
        let installs = pm.is_some_and(|p| {
            [
                "pip", "uv", "poetry", "pipenv", "npm", "pnpm", "yarn", "composer",
            ]
            .contains(&p.name.as_str())
        });
        if in_stage || !installs {
            return Some(TestRun::Argv(test.command.clone()));
        }
        let pm = pm?;
        let bootstrap = match pm.name.as_str() {
            n @ ("uv" | "poetry" | "pipenv") => format!("pip install -q {n} && "),
            "pnpm" | "yarn" => "corepack enable && ".to_owned(),
            _ => String::new(),
        };
        Some(TestRun::Shell(format!(
            "{bootstrap}{} && {}",
            shlex::try_join(pm.install.iter().map(String::as_str)).ok()?,
            shlex::try_join(self.in_env(&test.command).iter().map(String::as_str)).ok()?
        )))
    }
}
