//! Terminal output: data to stdout, progress and logs to stderr, no colour or spinners
//! when stderr is not a terminal or when `NO_COLOR` or `CI` is set. Every line that could
//! carry a secret goes through [`redact`].

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FANCY: OnceLock<bool> = OnceLock::new();
static QUIET: OnceLock<bool> = OnceLock::new();

/// Register a secret value: from now on it is replaced by `***` in everything lbc prints.
pub fn register_secret(value: &str) {
    if value.len() >= 3 {
        SECRETS.lock().unwrap().push(value.to_owned());
    }
}

/// Replace every registered secret in `text` by `***`.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS.lock().unwrap();
    let mut out = text.to_owned();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// Decide once whether colour and spinners are allowed.
pub fn init(no_color_flag: bool, quiet: bool) {
    let fancy = !no_color_flag
        && crate::settings::env_var("NO_COLOR").is_none()
        && crate::settings::env_var("CI").is_none_or(|v| v == "false")
        && std::io::stderr().is_terminal();
    let _ = FANCY.set(fancy);
    let _ = QUIET.set(quiet);
    console::set_colors_enabled_stderr(fancy);
    console::set_colors_enabled(fancy && std::io::stdout().is_terminal());
}

pub fn fancy() -> bool {
    *FANCY.get().unwrap_or(&false)
}

pub fn quiet() -> bool {
    *QUIET.get().unwrap_or(&false)
}

/// A progress line: a step is starting.
pub fn step(msg: &str) {
    if quiet() {
        return;
    }
    let msg = redact(msg);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} {}", console::style("==>").cyan().bold(), msg);
}

/// An informational line.
pub fn info(msg: &str) {
    if quiet() {
        return;
    }
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(msg));
}

/// The command line about to run, shown before it runs.
pub fn echo_command(line: &str) {
    if quiet() {
        return;
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        console::style(format!("$ {}", redact(line))).dim()
    );
}

pub fn warn(msg: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} {}",
        console::style("warning:").yellow().bold(),
        redact(msg)
    );
}

pub fn success(msg: &str) {
    if quiet() {
        return;
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} {}",
        console::style("ok:").green().bold(),
        redact(msg)
    );
}

/// Print an error once: `error: ...`, its causes, then a `hint:` line.
pub fn error(msg: &str, causes: &[String], hint: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} {}",
        console::style("error:").red().bold(),
        redact(msg)
    );
    for c in causes {
        let _ = writeln!(err, "  caused by: {}", redact(c));
    }
    if let Some(h) = hint {
        let _ = writeln!(
            err,
            "{} {}",
            console::style("hint:").cyan().bold(),
            redact(h)
        );
    }
}

/// A spinner on a terminal; nothing otherwise (the caller prints plain lines).
pub fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    if !fancy() || quiet() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb.set_message(redact(msg));
    pb.enable_steady_tick(Duration::from_millis(100));
    Some(pb)
}

/// Print one JSON document on stdout.
pub fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("serializable");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", redact(&text));
}

/// Print raw data on stdout. A reader that closed the pipe early (`lbc man | head`)
/// is not an error: the rest is dropped quietly, as `cat` would.
pub fn data_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Print data on stdout (errors such as a closed pipe are ignored: see [`data_bytes`]).
pub fn data(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", redact(text));
    if !text.ends_with('\n') {
        let _ = writeln!(out);
    }
}
