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

/// `argv` as one POSIX shell line: words of plain characters as they are (`=` too, but
/// not in the first word, where it would make an assignment), others quoted by shlex.
pub fn sh_join(argv: &[String]) -> Option<String> {
    let plain = |w: &str, first: bool| {
        !w.is_empty()
            && w.chars().all(|c| {
                c.is_ascii_alphanumeric() || "_-./:@%+,".contains(c) || (c == '=' && !first)
            })
    };
    let mut out = Vec::new();
    for (i, w) in argv.iter().enumerate() {
        if plain(w, i == 0) {
            out.push(w.clone());
        } else {
            out.push(shlex::try_quote(w).ok()?.into_owned());
        }
    }
    Some(out.join(" "))
}

fn cmd(v: &[String]) -> String {
    sh_join(v).unwrap_or_default()
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
            sh_join(&pm.install)?,
            sh_join(&self.in_env(&test.command))?
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{detect, Options};

    fn fixture(name: &str) -> Report {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adopt");
        detect(&root.join(name), &Options::default()).unwrap()
    }

    #[test]
    fn test_task_installs_with_the_projects_manager_outside_a_test_stage() {
        let nest = fixture("nestjs");
        assert_eq!(
            nest.test_run(false),
            Some(TestRun::Shell(
                "corepack enable && pnpm install --frozen-lockfile && pnpm test".into()
            ))
        );
        assert_eq!(
            nest.test_run(true),
            Some(TestRun::Argv(vec!["pnpm".into(), "test".into()]))
        );
        let flask = fixture("flask");
        assert_eq!(
            flask.test_run(false),
            Some(TestRun::Shell(
                "pip install -q pipenv && pipenv install --deploy --dev && pipenv run python3 -m pytest".into()
            ))
        );
        // Go fetches its modules itself.
        assert_eq!(
            fixture("go").test_run(false),
            Some(TestRun::Argv(vec![
                "go".into(),
                "test".into(),
                "./...".into()
            ]))
        );
        assert_eq!(fixture("nextjs").test_run(false), None);
    }

    #[test]
    fn shell_lines_quote_only_what_needs_it() {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            sh_join(&v(&["php", "artisan", "serve", "--host=0.0.0.0"])).unwrap(),
            "php artisan serve --host=0.0.0.0"
        );
        assert_eq!(
            sh_join(&v(&["A=b", "x y", "$(id)", "it's", ""])).unwrap(),
            "'A=b' 'x y' '$(id)' \"it's\" ''"
        );
    }

    #[test]
    fn summary_names_choices_and_flags() {
        let s = fixture("laravel").summary();
        assert_eq!(s[0], "framework: laravel");
        assert_eq!(
            s[1],
            "start: `php artisan serve --host=0.0.0.0 --port=8000` (a choice: --set start=artisan-serve|php-fpm)"
        );
        assert_eq!(s[2], "port: 8000 (default)");
        assert!(
            s.contains(&"migration: `php artisan migrate --force`".to_owned()),
            "{s:?}"
        );
        let s = fixture("spring-gradle").summary();
        assert!(
            s.contains(&"migration: flyway at the application's start".to_owned()),
            "{s:?}"
        );
    }
}
