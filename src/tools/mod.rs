//! Wrappers for the external tools lbc drives. Each builds argument lists and parses
//! the tool's output; none starts a process itself (the runner does, and finds the
//! programs: [`crate::runner::find`]). The read-only probes take the runner to run a
//! query through it.

pub mod docker;
pub mod docker_api;
pub mod git;
pub mod git_cli;
pub mod haproxy;
pub mod helm;
pub mod kubectl;
pub mod rclone;

/// When positional values get an end-of-options `--` before them.
#[derive(Debug, Clone, Copy)]
pub enum Dash {
    /// Whenever there are any (the tool accepts `--` everywhere).
    Always,
    /// Only when one of them starts with `-` (the tool refuses `--` in some commands,
    /// and its names never start with `-`).
    WhenNeeded,
}

/// `BIN SUB... FLAGS... [--] ARGS...`: flags first, every value after them.
pub fn argv(
    bin: &str,
    sub: &[&str],
    flags: Vec<String>,
    args: &[String],
    dash: Dash,
) -> Vec<String> {
    let mut argv = vec![bin.to_owned()];
    argv.extend(sub.iter().map(|s| (*s).to_owned()));
    argv.extend(flags);
    let needed = match dash {
        Dash::Always => !args.is_empty(),
        Dash::WhenNeeded => args.iter().any(|a| a.starts_with('-')),
    };
    if needed {
        argv.push("--".into());
    }
    argv.extend(args.iter().cloned());
    argv
}
