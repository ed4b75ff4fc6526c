//! `lbc chaos ENV` (issue #14): probe the service continuously while replicas are
//! killed, then report the requests, the failures, the availability, the longest outage
//! and how long each killed replica took to serve again; below `--slo` the verb fails
//! (exit 9, docs/exit-codes.md).
//!
//! The target says what a replica is and how one is killed (a local container: `docker
//! kill`, then `docker start` as a controller would; a Kubernetes pod of the release:
//! `kubectl delete pod`, never more than the PodDisruptionBudget allows). The probe is a
//! thread of plain HTTP GETs, one after the other; the kills run through the runner, as
//! every child process does, so they show on stderr and in the JSON document's steps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::ChaosArgs;
use crate::commands::Ctx;
use crate::error::Error;
use crate::execute::{self, Guard};
use crate::plan::Plan;
use crate::runner::{self, Runner};
use crate::targets;
use crate::ui;

/// What `lbc chaos` asks of a target.
#[derive(Debug, Clone)]
pub struct ChaosRequest {
    pub duration: Duration,
    pub kill_every: Duration,
    /// Percent of requests that must be answered (99.9).
    pub slo: f64,
    pub yes: bool,
    /// `--url`: what to probe, instead of the environment's own address.
    pub url: Option<String>,
}

/// The replicas of an environment, as a chaos run sees them.
pub trait Victims {
    /// The URL the probe GETs (the health path, else `/`).
    fn url(&self) -> &str;
    /// The replica to kill now, or why none may be killed now (the disruption budget
    /// allows none; the reason goes to `skipped`).
    fn pick(&mut self, runner: &Runner, random: u64) -> Result<Pick, Error>;
    /// The steps that kill `victim` (and, where nothing else does, bring it back).
    fn kill_plan(&self, victim: &str) -> Plan;
    /// Does the replica (or the one that replaced it) serve again?
    fn recovered(&mut self, runner: &Runner, victim: &str) -> Result<bool, Error>;
    /// After an interrupt or a failure: bring back a victim that nothing else will
    /// (best effort; a cluster's controller needs nothing).
    fn repair(&self, _runner: &Runner, _victim: &str) {}
}

/// The choice of a victim.
pub enum Pick {
    Victim(String),
    /// None may be killed now: why.
    Skip(String),
}

/// One GET of the probe.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: u64,
    ok: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
struct Kill {
    replica: String,
    at_ms: u64,
    /// From the kill until it served again (absent: not within the run's end plus the
    /// grace period).
    recovered_ms: Option<u64>,
}

pub fn run(ctx: &mut Ctx, args: &ChaosArgs) -> Result<(), Error> {
    if !(0.0..=100.0).contains(&args.slo) {
        return Err(Error::usage(
            format!("--slo {} is not a percentage", args.slo),
            Some("give a value between 0 and 100, e.g. --slo 99.9".to_owned()),
        ));
    }
    if args.kill_every.is_zero() || args.duration.is_zero() {
        return Err(Error::usage(
            "--duration and --kill-every must be longer than 0s",
            Some("e.g. --duration 30s --kill-every 5s".to_owned()),
        ));
    }
    let target = targets::resolve(ctx, &args.env, &args.target)?;
    target.chaos(
        ctx,
        ChaosRequest {
            duration: args.duration,
            kill_every: args.kill_every,
            slo: args.slo,
            yes: args.yes,
            url: args.url.clone(),
        },
    )
}

/// A random number (no dependency for it: the standard library's hasher keys are
/// random per process).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The human lines of a chaos plan's loop (its notes).
pub fn describe(plan: &mut Plan, req: &ChaosRequest, url: &str, what: &str) {
    plan.note(format!(
        "probe: GET {url} one request after the other for {}",
        humantime::format_duration(req.duration)
    ));
    plan.note(format!(
        "every {}: kill {what} (the steps below, for one victim chosen at random)",
        humantime::format_duration(req.kill_every)
    ));
    plan.note(format!(
        "then: the availability must be at least {}% (else exit 9)",
        req.slo
    ));
}

/// Run the chaos loop: `plan` (with the guard) is what `--dry-run` prints.
pub fn execute(
    ctx: &mut Ctx,
    env_name: &str,
    plan: &Plan,
    guard: Option<&Guard>,
    req: &ChaosRequest,
    victims: &mut dyn Victims,
) -> Result<(), Error> {
    if ctx.settings.dry_run {
        execute::print_plan(ctx.settings, plan);
        return Ok(());
    }
    for n in &plan.notes {
        ui::info(n);
    }
    if let Some(g) = guard {
        execute::guard_protected(g)?;
    }
    let url = victims.url().to_owned();
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let probe = {
        let samples = Arc::clone(&samples);
        let stop = Arc::clone(&stop);
        let url = url.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let start_ms = t0.elapsed().as_millis() as u64;
                let ok = matches!(
                    crate::wait::http_status(&url, Duration::from_secs(2)),
                    Ok(200..=399)
                );
                if let Ok(mut s) = samples.lock() {
                    s.push(Sample { start_ms, ok });
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut kills = Vec::new();
    let mut skipped = Vec::new();
    let result = chaos_loop(ctx.runner, req, victims, t0, &mut kills, &mut skipped);
    stop.store(true, Ordering::Relaxed);
    let _ = probe.join();
    if let Err(e) = result {
        // Interrupted between a kill and the start that follows it: start it again.
        runner::after_interrupt(|| {
            for k in kills.iter().filter(|k| k.recovered_ms.is_none()) {
                victims.repair(ctx.runner, &k.replica);
            }
        });
        return Err(e);
    }
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    report(ctx, env_name, &url, req, &samples, &kills, &skipped)
}

fn chaos_loop(
    runner: &mut Runner,
    req: &ChaosRequest,
    victims: &mut dyn Victims,
    t0: Instant,
    kills: &mut Vec<Kill>,
    skipped: &mut Vec<String>,
) -> Result<(), Error> {
    // The first kill after one period: the probe sees the healthy service first.
    let mut next = req.kill_every;
    // After the run, killed replicas get this long to come back.
    let grace = Duration::from_secs(30);
    loop {
        runner::check_interrupt()?;
        let now = t0.elapsed();
        if now >= req.duration
            && (now >= req.duration + grace || kills.iter().all(|k| k.recovered_ms.is_some()))
        {
            break;
        }
        for k in kills.iter_mut().filter(|k| k.recovered_ms.is_none()) {
            if victims.recovered(runner, &k.replica)? {
                k.recovered_ms = Some((t0.elapsed().as_millis() as u64).saturating_sub(k.at_ms));
            }
        }
        if now >= next && now < req.duration {
            next += req.kill_every;
            match victims.pick(runner, random())? {
                Pick::Victim(v) => {
                    let at_ms = t0.elapsed().as_millis() as u64;
                    let plan = victims.kill_plan(&v);
                    kills.push(Kill {
                        replica: v,
                        at_ms,
                        recovered_ms: None,
                    });
                    execute::run(runner, &plan)?;
                }
                Pick::Skip(why) => {
                    ui::info(&format!("no kill at {}s: {why}", now.as_secs()));
                    skipped.push(format!("{}s: {why}", now.as_secs()));
                }
            }
        }
        runner::sleep(Duration::from_millis(100))?;
    }
    Ok(())
}

/// The longest run of failed requests: from the first failure's start to the next
/// success's start (or the last request's).
fn longest_outage(samples: &[Sample]) -> u64 {
    let mut longest = 0;
    let mut since: Option<u64> = None;
    for s in samples {
        match (s.ok, since) {
            (false, None) => since = Some(s.start_ms),
            (true, Some(from)) => {
                longest = longest.max(s.start_ms - from);
                since = None;
            }
            _ => {}
        }
    }
    if let (Some(from), Some(last)) = (since, samples.last()) {
        longest = longest.max(last.start_ms.saturating_sub(from).max(1));
    }
    longest
}

fn report(
    ctx: &Ctx,
    env_name: &str,
    url: &str,
    req: &ChaosRequest,
    samples: &[Sample],
    kills: &[Kill],
    skipped: &[String],
) -> Result<(), Error> {
    let requests = samples.len() as u64;
    let failures = samples.iter().filter(|s| !s.ok).count() as u64;
    let availability = if requests == 0 {
        0.0
    } else {
        100.0 * (requests - failures) as f64 / requests as f64
    };
    let outage = longest_outage(samples);
    let recovery = kills.iter().filter_map(|k| k.recovered_ms).max();
    let unrecovered: Vec<&str> = kills
        .iter()
        .filter(|k| k.recovered_ms.is_none())
        .map(|k| k.replica.as_str())
        .collect();
    let passed = requests > 0 && availability >= req.slo;
    if ctx.settings.json {
        ui::print_json(&serde_json::json!({
            "verb": format!("chaos {env_name}"),
            "ok": passed,
            "environment": env_name,
            "url": url,
            "duration_s": req.duration.as_secs_f64(),
            "kill_every_s": req.kill_every.as_secs_f64(),
            "slo": req.slo,
            "requests": requests,
            "failures": failures,
            "availability": availability,
            "longest_outage_ms": outage,
            "recovery_ms": recovery,
            "kills": kills,
            "skipped": skipped,
            "unrecovered": unrecovered,
            "steps": ctx.runner.results_json(),
        }));
    } else {
        let mut text = format!(
            "chaos {env_name}: {requests} requests to {url}, {failures} failed\n  availability: {availability:.3}% (SLO {}%)\n  longest outage: {}\n  kills: {}\n",
            req.slo,
            ms(outage),
            kills.len()
        );
        for k in kills {
            text.push_str(&format!(
                "    {} at {}: {}\n",
                k.replica,
                ms(k.at_ms),
                k.recovered_ms
                    .map(|r| format!("serving again after {}", ms(r)))
                    .unwrap_or_else(|| "did not serve again".into())
            ));
        }
        if let Some(r) = recovery {
            text.push_str(&format!("  recovery time (longest): {}\n", ms(r)));
        }
        for s in skipped {
            text.push_str(&format!("  no kill at {s}\n"));
        }
        ui::data(text.trim_end());
    }
    if passed {
        ui::success(&format!(
            "{availability:.3}% of requests answered (SLO {}%)",
            req.slo
        ));
        Ok(())
    } else {
        Err(Error::BelowSlo {
            message: format!(
                "availability {availability:.3}% is below the SLO of {}% ({failures} of {requests} requests failed; longest outage {})",
                req.slo,
                ms(outage)
            ),
            hint: "run more replicas (`replicas` in lbc.toml, `lbc deploy ENV --replicas N`), add a health check, or make the service start faster".to_owned(),
        })
    }
}

fn ms(v: u64) -> String {
    if v >= 1000 {
        format!("{:.2}s", v as f64 / 1000.0)
    } else {
        format!("{v}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_outage_runs_from_the_first_failure_to_the_next_success() {
        let s = |start_ms, ok| Sample { start_ms, ok };
        let v = [
            s(0, true),
            s(10, false),
            s(20, false),
            s(70, true),
            s(80, false),
            s(90, true),
        ];
        assert_eq!(longest_outage(&v), 60);
        assert_eq!(longest_outage(&[s(0, true), s(5, true)]), 0);
        assert_eq!(longest_outage(&[s(0, true), s(5, false), s(50, false)]), 45);
    }
}

#[cfg(test)]
mod random_tests {
    /// The victims are spread: every replica of three is chosen in 60 draws.
    #[test]
    fn draws_spread_over_the_replicas() {
        let mut seen = [0u32; 3];
        for _ in 0..60 {
            seen[(super::random() % 3) as usize] += 1;
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }
}
