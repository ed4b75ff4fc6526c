//! Domain errors and the one place that maps them to lbc's documented exit codes
//! (see `docs/exit-codes.md`).

use std::fmt;
use std::path::PathBuf;

/// Exit codes are a public contract: scripts and CI jobs branch on them.
pub mod code {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONFLICT: u8 = 3;
    pub const TOOL: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const UPGRADE_AVAILABLE: u8 = 6;
    pub const FLEET_BEHIND: u8 = 7;
    /// Another lbc holds the lock and `--no-wait-lock` was given.
    pub const LOCKED: u8 = 8;
    /// `lbc chaos`: the availability was below `--slo` (issue #14).
    pub const BELOW_SLO: u8 = 9;
    pub const INTERRUPTED: u8 = 130;
}

/// An error that knows its exit code and, where there is one, the fix to suggest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad `lbc.toml`: already rendered with file, line, column and the offending line.
    #[error("{rendered}")]
    Config {
        rendered: String,
        hint: Option<String>,
    },
    /// Wrong use of the command line or of a value that is not in a file.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// A required external tool is not installed.
    #[error("`{tool}` was not found on PATH")]
    ToolMissing { tool: String, hint: String },
    /// The Docker daemon (or another service lbc needs) does not answer.
    #[error("{message}")]
    Unreachable { message: String, hint: String },
    /// A child process failed; its exit code is passed through.
    #[error("{what} failed with exit code {code}")]
    ChildFailed {
        what: String,
        code: i32,
        hint: Option<String>,
    },
    /// A child process was killed by a signal.
    #[error("{what} was killed by signal {signal}")]
    ChildKilled { what: String, signal: i32 },
    /// Something lbc checks itself failed (health check, port taken, ...).
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },
    /// A guard refused the action; nothing was changed.
    #[error("{message}")]
    Refused { message: String, hint: String },
    /// `lbc upgrade` wrote conflict markers (or `.lbc-new` files) that need a person.
    #[error("the upgrade left conflicts in {} file{}: {}", files.len(), if files.len() == 1 { "" } else { "s" }, files.join(", "))]
    Conflicts { files: Vec<String> },
    /// `lbc catalog check`: images the catalogue does not approve (each already listed).
    #[error("{count} image{} of the repository {} not approved by the image catalogue", if *count == 1 { "" } else { "s" }, if *count == 1 { "is" } else { "are" })]
    NotApproved { count: usize },
    /// `lbc fleet`: the report is on stdout already; this says why the exit code is not 0
    /// (repositories behind with `--fail-on-behind`, unreachable, failed or conflicted).
    #[error("{message}")]
    Fleet {
        message: String,
        hint: Option<String>,
        code: u8,
    },
    /// `lbc upgrade --check`: the repository is behind its template or schema.
    #[error("an upgrade is available")]
    UpgradeAvailable,
    /// Another lbc holds the lock of this environment (or upgrade), and `--no-wait-lock`
    /// said not to wait.
    #[error("{message}")]
    Locked { message: String, hint: String },
    /// `lbc chaos`: fewer requests were answered than the SLO asks (the report is
    /// printed first).
    #[error("{message}")]
    BelowSlo { message: String, hint: String },
    /// The user interrupted lbc (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// An I/O error on a file lbc reads or writes.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Failed {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. } | Error::Usage { .. } => code::USAGE,
            Error::ToolMissing { .. } | Error::Unreachable { .. } => code::TOOL,
            Error::ChildFailed { code: c, .. } => {
                if (1..=255).contains(c) {
                    *c as u8
                } else {
                    code::FAILURE
                }
            }
            Error::ChildKilled { .. } | Error::Failed { .. } | Error::Io { .. } => code::FAILURE,
            Error::Refused { .. } | Error::NotApproved { .. } => code::REFUSED,
            Error::Locked { .. } => code::LOCKED,
            Error::BelowSlo { .. } => code::BELOW_SLO,
            Error::Conflicts { .. } => code::CONFLICT,
            Error::Fleet { code: c, .. } => *c,
            Error::UpgradeAvailable => code::UPGRADE_AVAILABLE,
            Error::Interrupted => code::INTERRUPTED,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Config { hint, .. }
            | Error::Usage { hint, .. }
            | Error::ChildFailed { hint, .. }
            | Error::Failed { hint, .. }
            | Error::Fleet { hint, .. } => hint.as_deref(),
            Error::ToolMissing { hint, .. }
            | Error::Unreachable { hint, .. }
            | Error::Refused { hint, .. }
            | Error::Locked { hint, .. }
            | Error::BelowSlo { hint, .. } => Some(hint),
            Error::Conflicts { .. } => Some("resolve the conflict markers (<<<<<<< local ... >>>>>>> template) and any FILE.lbc-new, then commit; `git diff` shows everything the upgrade changed"),
            Error::UpgradeAvailable => Some("run `lbc upgrade` (`--dry-run` shows the diff first)"),
            Error::NotApproved { .. } => Some("use approved images (`lbc catalog` lists them), or ask the platform team for the entries listed above"),
            Error::ChildKilled { .. } | Error::Interrupted | Error::Io { .. } => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Find the `lbc::Error` inside an anyhow chain, if any, for exit code and hint.
pub fn classify(err: &anyhow::Error) -> (u8, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return (e.exit_code(), e.hint().map(str::to_owned));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::Interrupted {
                return (code::INTERRUPTED, None);
            }
        }
    }
    (code::FAILURE, None)
}

/// A short human name for a command line, used in messages ("docker build").
pub struct CommandName<'a>(pub &'a [String]);

impl fmt::Display for CommandName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prog = self
            .0
            .first()
            .map(|p| {
                std::path::Path::new(p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.clone())
            })
            .unwrap_or_default();
        match self.0.get(1) {
            Some(sub) if !sub.starts_with('-') && !sub.contains(' ') && sub.len() < 24 => {
                write!(f, "`{prog} {sub}`")
            }
            _ => write!(f, "`{prog}`"),
        }
    }
}
