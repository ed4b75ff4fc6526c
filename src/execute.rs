//! The one execute path of every verb's plan: `--dry-run` printing (human or JSON), the
//! notes, the guard of protected environments, running the steps in order (with the
//! named captures and the on-failure steps), and the result (a human summary, or the
//! JSON document with every executed step).
//!
//! A verb computes a [`Plan`], calls [`execute`], and when that ran (not a dry run)
//! hands its summary to [`finish`].

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::Error;
use crate::plan::{Action, Plan, Step};
use crate::runner::{Runner, StepResult};
use crate::settings::Settings;
use crate::ui;

/// The confirmation a protected environment asks for before anything changes.
#[derive(Debug, Clone)]
pub struct Guard {
    pub env: String,
    /// What lbc is about to do, as in "refusing to WHAT without confirmation".
    pub what: String,
    /// Where lbc acts, shown before the prompt.
    pub details: Vec<(&'static str, String)>,
    /// `--yes`.
    pub yes: bool,
}

impl Guard {
    /// The guard of environment `env` when it is protected (`None` otherwise): `what` lbc
    /// is about to do and `details` of where, shown before the prompt.
    pub fn when_protected(
        protected: bool,
        env: &str,
        what: &str,
        details: Vec<(&'static str, String)>,
        yes: bool,
    ) -> Option<Guard> {
        protected.then(|| Guard {
            env: env.to_owned(),
            what: what.to_owned(),
            details,
            yes,
        })
    }
}

/// What a plan that ran left for the verb: the named captures of its steps.
#[derive(Debug, Default)]
pub struct Outcome {
    pub captures: BTreeMap<String, String>,
}

impl Outcome {
    /// The non-empty lines of a capture.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.captures
            .get(name)
            .map(|s| {
                s.lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Print the plan of `--dry-run` (and return `None`), or print its notes, ask the guard
/// (when given) and run it.
pub fn execute(
    settings: &Settings,
    runner: &mut Runner,
    plan: &Plan,
    guard: Option<&Guard>,
) -> Result<Option<Outcome>, Error> {
    match execute_keeping(settings, runner, plan, guard)? {
        None => Ok(None),
        Some(ran) => ran.result.map(|()| Some(ran.outcome)),
    }
}

/// [`execute`], then, when the plan ran (not a dry run), [`finish`] with the summary the
/// verb makes of it (it may ask the cluster what is running now).
pub fn execute_and_finish(
    settings: &Settings,
    runner: &mut Runner,
    plan: &Plan,
    guard: Option<&Guard>,
    summary: impl FnOnce(&Runner, &Outcome) -> Summary,
) -> Result<(), Error> {
    if let Some(outcome) = execute(settings, runner, plan, guard)? {
        let s = summary(runner, &outcome);
        finish(settings, runner, &plan.verb, s);
    }
    Ok(())
}

/// A plan that ran, with what it captured even when a step failed.
pub struct Ran {
    pub outcome: Outcome,
    pub result: Result<(), Error>,
}

/// [`execute`], keeping the captures of a run that failed (the kubectl path records
/// what it applied before a rollout wait failed).
pub fn execute_keeping(
    settings: &Settings,
    runner: &mut Runner,
    plan: &Plan,
    guard: Option<&Guard>,
) -> Result<Option<Ran>, Error> {
    if settings.dry_run {
        print_plan(settings, plan);
        return Ok(None);
    }
    for n in &plan.notes {
        ui::info(n);
    }
    if let Some(g) = guard {
        guard_protected(g)?;
    }
    Ok(Some(run_keeping(runner, plan)))
}

/// Run every step in order and stop at the first failure; then run the on-failure steps
/// that cover the failed step, then the steps that always run (both best effort), and
/// return the first failure.
pub fn run(runner: &mut Runner, plan: &Plan) -> Result<Outcome, Error> {
    let ran = run_keeping(runner, plan);
    ran.result.map(|()| ran.outcome)
}

fn run_keeping(runner: &mut Runner, plan: &Plan) -> Ran {
    let mut outcome = Outcome::default();
    let regular: Vec<(usize, &Step)> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.on_failure.is_none() && !s.always)
        .map(|(i, s)| (i + 1, s))
        .collect();
    let total = regular.len();
    let mut failure = None;
    for (i, (number, step)) in regular.into_iter().enumerate() {
        if total > 1 {
            ui::step(&format!("[{}/{}] {}", i + 1, total, step.purpose));
        } else {
            ui::step(&step.purpose);
        }
        if let Err(e) = run_step(runner, step, &mut outcome) {
            failure = Some((number, e));
            break;
        }
    }
    let interrupted = matches!(failure, Some((_, Error::Interrupted)));
    if let Some((failed, _)) = &failure {
        if !interrupted {
            for step in plan
                .steps
                .iter()
                .filter(|s| s.on_failure.is_some_and(|from| from <= *failed))
            {
                ui::step(&format!("[on failure] {}", step.purpose));
                if let Err(cleanup) = run_step(runner, step, &mut outcome) {
                    ui::warn(&format!("{}: {cleanup}", step.purpose));
                }
            }
        }
    }
    if !interrupted {
        for step in plan.steps.iter().filter(|s| s.always) {
            ui::step(&step.purpose);
            if let Err(cleanup) = run_step(runner, step, &mut outcome) {
                ui::warn(&format!("{}: {cleanup}", step.purpose));
            }
        }
    }
    Ran {
        outcome,
        result: match failure {
            Some((_, e)) => Err(e),
            None => Ok(()),
        },
    }
}

/// Run a single step outside a plan of the verb's own (fetching a template).
pub fn run_one(runner: &mut Runner, step: Step) -> Result<(), Error> {
    let mut plan = Plan::new(step.purpose.clone());
    plan.push(step);
    run(runner, &plan).map(|_| ())
}

fn run_step(runner: &mut Runner, step: &Step, outcome: &mut Outcome) -> Result<(), Error> {
    let started = Instant::now();
    let mut argv = None;
    let result = match &step.action {
        Action::Exec(exec) => {
            let mut exec = exec.clone();
            if let Some(from) = &exec.args_from {
                let extra = outcome.lines(from);
                if extra.is_empty() {
                    // Nothing to act on (the step that would have named it did not run
                    // or printed nothing): the step has nothing to do.
                    return Ok(());
                }
                exec.argv.extend(extra);
                exec.args_from = None;
            }
            argv = Some(exec.argv.clone());
            runner.run_exec(&exec).map(|out| (out.code, out.stdout))
        }
        Action::WaitHttp {
            url,
            container,
            timeout,
        } => {
            crate::wait::wait_http(runner, url, container, *timeout).map(|()| (None, String::new()))
        }
        Action::WaitHealthy { container, timeout } => {
            crate::wait::wait_healthy(runner, container, *timeout).map(|()| (None, String::new()))
        }
        Action::WaitCommand {
            what,
            container,
            probe,
            timeout,
        } => crate::wait::wait_command(runner, what, container, probe, *timeout)
            .map(|()| (None, String::new())),
        Action::Balancer {
            op,
            balancer,
            replica,
            network,
            timeout,
        } => crate::wait::balancer(runner, *op, balancer, replica, network, *timeout)
            .map(|()| (None, String::new())),
    };
    let (code, stdout) = result.map_err(|e| name_failure(step, e))?;
    if let Some(name) = &step.capture_as {
        outcome.captures.insert(name.clone(), stdout);
    }
    runner.record(StepResult {
        purpose: step.purpose.clone(),
        argv,
        duration_ms: started.elapsed().as_millis() as u64,
        exit_code: code,
        on_failure: step.on_failure.is_some(),
    });
    Ok(())
}

/// A failed step named as the verb wants it (`task `unit``) and with its hint. A wait
/// that failed keeps its own hint and gets the step's after it (a service that is not
/// ready: "the running app still serves").
fn name_failure(step: &Step, e: Error) -> Error {
    match e {
        Error::ChildFailed { what, code, hint } => Error::ChildFailed {
            what: step.what.clone().unwrap_or(what),
            code,
            hint: hint.or_else(|| step.hint.clone()),
        },
        Error::Failed { message, hint } if step.hint.is_some() => Error::Failed {
            message,
            hint: match (hint, &step.hint) {
                (Some(h), Some(s)) => Some(format!("{h}; {s}")),
                (h, s) => h.or_else(|| s.clone()),
            },
        },
        e => e,
    }
}

/// The result of a verb that ran.
#[derive(Debug, Default)]
pub struct Summary {
    /// A line for the person at the terminal (stderr).
    pub success: Option<String>,
    /// The verb's result on stdout (an image reference, a URL) when the output is human.
    pub data: Option<String>,
    /// More keys of the JSON document.
    pub json: serde_json::Value,
}

/// Print a verb's result: the summary lines, or one JSON document with the executed steps.
pub fn finish(settings: &Settings, runner: &Runner, verb: &str, summary: Summary) {
    if let Some(s) = &summary.success {
        ui::success(s);
    }
    if settings.json {
        let mut doc = serde_json::json!({
            "verb": verb,
            "ok": true,
            "steps": runner.results_json(),
        });
        if let (Some(d), serde_json::Value::Object(e)) = (doc.as_object_mut(), summary.json) {
            d.extend(e);
        }
        ui::print_json(&doc);
    } else if let Some(d) = &summary.data {
        ui::data(d);
    }
}

/// Print a plan for `--dry-run`: the human rendering, or JSON.
pub fn print_plan(settings: &Settings, plan: &Plan) {
    if settings.json {
        let mut doc = serde_json::json!({
            "dry_run": true,
            "plan": plan,
        });
        if let Some(d) = doc.as_object_mut() {
            d.extend(plan.dry_run_extra.clone());
        }
        ui::print_json(&doc);
    } else {
        ui::data(&plan.render_human());
    }
}

/// Ask for confirmation before acting on a protected environment: the user types its
/// name on a terminal; elsewhere only `--yes` lets lbc go on.
pub fn guard_protected(g: &Guard) -> Result<(), Error> {
    if g.yes {
        return Ok(());
    }
    let env_name = &g.env;
    let what = &g.what;
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Refused {
            message: format!("environment `{env_name}` is protected: refusing to {what} without confirmation"),
            hint: "run it from a terminal to confirm, or pass --yes (e.g. in a CI job that is itself guarded)".into(),
        });
    }
    for (k, v) in &g.details {
        ui::info(&format!("  {k}: {v}"));
    }
    let typed: String = dialoguer::Input::new()
        .with_prompt(format!(
            "`{env_name}` is protected. Type its name to {what}"
        ))
        .allow_empty(true)
        .interact_text()
        .map_err(|_| Error::Interrupted)?;
    if typed.trim() == env_name {
        Ok(())
    } else {
        Err(Error::Refused {
            message: format!("confirmation did not match `{env_name}`: nothing was changed"),
            hint: format!("type `{env_name}` exactly, or pass --yes"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Exec;

    /// #8: a later step takes its arguments from an earlier step's capture, and the
    /// on-failure steps run only after a failure, which they do not hide.
    #[test]
    fn captures_feed_later_steps_and_on_failure_steps_run_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let out_s = out.display().to_string();
        let mut plan = Plan::new("test");
        plan.push(
            Step::exec("list", Exec::new(["printf", "a\\nb\\n"], dir.path())).capture_as("names"),
        );
        plan.push(Step::exec(
            "write",
            Exec::new(
                ["sh", "-c", "echo \"$@\" > \"$0\"", out_s.as_str()],
                dir.path(),
            )
            .args_from("names"),
        ));
        plan.push(Step::exec("undo", Exec::new(["touch", "never"], dir.path())).on_failure_from(1));
        let mut runner = Runner::new(true);
        let outcome = run(&mut runner, &plan).unwrap();
        assert_eq!(outcome.lines("names"), ["a", "b"]);
        assert_eq!(fs_err::read_to_string(&out).unwrap(), "a b\n");
        assert!(!dir.path().join("never").exists());

        let mut failing = Plan::new("test");
        failing.push(Step::exec("ok", Exec::new(["true"], dir.path())));
        failing.push(Step::exec("fail", Exec::new(["false"], dir.path())).what("task `x`"));
        failing.push(Step::exec(
            "skipped",
            Exec::new(["touch", "skipped"], dir.path()),
        ));
        failing.push(
            Step::exec("undo", Exec::new(["touch", "undone"], dir.path())).on_failure_from(2),
        );
        failing.push(
            Step::exec("not covered", Exec::new(["touch", "uncovered"], dir.path()))
                .on_failure_from(3),
        );
        let e = run(&mut runner, &failing).unwrap_err();
        assert!(
            matches!(&e, Error::ChildFailed { what, .. } if what == "task `x`"),
            "{e}"
        );
        assert!(dir.path().join("undone").exists());
        // #9: a step fed by a capture that holds nothing does not run at all (the
        // container a failed `docker run` never started is not removed by name).
        let mut empty = Plan::new("test");
        empty.push(Step::exec("nothing", Exec::new(["true"], dir.path())).capture_as("ids"));
        empty.push(Step::exec(
            "would fail",
            Exec::new(["false"], dir.path()).args_from("ids"),
        ));
        run(&mut runner, &empty).unwrap();
        assert!(!dir.path().join("uncovered").exists());
        assert!(!dir.path().join("skipped").exists());
        let human = failing.render_human();
        assert!(
            human.contains("4. undo [only if step 2 or a later one fails]"),
            "{human}"
        );
        assert!(plan.render_human().contains("3. undo [only on failure]"));
        let json = serde_json::to_value(&failing).unwrap();
        assert_eq!(json["steps"][3]["on_failure_from_step"], 2);
    }

    /// #10: steps that always run do so after the others, failed or not, and their own
    /// failure does not hide the first one.
    #[test]
    fn always_steps_run_after_success_and_after_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut runner = Runner::new(true);
        let mut ok = Plan::new("test");
        ok.push(Step::exec("clean", Exec::new(["touch", "cleaned-ok"], dir.path())).always());
        ok.push(Step::exec(
            "work",
            Exec::new(["touch", "worked"], dir.path()),
        ));
        run(&mut runner, &ok).unwrap();
        assert!(dir.path().join("worked").exists());
        assert!(dir.path().join("cleaned-ok").exists());

        let mut failing = Plan::new("test");
        failing.push(Step::exec("fail", Exec::new(["false"], dir.path())).what("task `x`"));
        failing.push(Step::exec(
            "skipped",
            Exec::new(["touch", "skipped"], dir.path()),
        ));
        failing.push(Step::exec("broken clean", Exec::new(["false"], dir.path())).always());
        failing.push(Step::exec("clean", Exec::new(["touch", "cleaned"], dir.path())).always());
        let e = run(&mut runner, &failing).unwrap_err();
        assert!(
            matches!(&e, Error::ChildFailed { what, .. } if what == "task `x`"),
            "{e}"
        );
        assert!(dir.path().join("cleaned").exists());
        assert!(!dir.path().join("skipped").exists());
        assert!(failing
            .render_human()
            .contains("4. clean [always, even after a failure]"));
        let json = serde_json::to_value(&failing).unwrap();
        assert_eq!(json["steps"][3]["always"], true);
        assert!(json["steps"][0].get("always").is_none());
    }
}
