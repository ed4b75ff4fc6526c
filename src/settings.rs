//! Settings: command-line flags, `LBC_*` environment variables (read by clap) and
//! `lbc.toml`, merged once into one resolved value that every verb reads.

use std::path::PathBuf;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::config::{self, Loaded};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where lbc was asked to work (`-C DIR` or the current directory).
    pub cwd: PathBuf,
    pub dry_run: bool,
    pub json: bool,
    pub quiet: bool,
    /// Wait for another lbc's lock (the default) rather than fail with exit code 7.
    pub wait_lock: bool,
}

impl Settings {
    pub fn from_args(global: &GlobalArgs) -> Result<Self, Error> {
        let cwd = match &global.directory {
            Some(d) => {
                let d = if d.is_absolute() {
                    d.clone()
                } else {
                    std::env::current_dir()
                        .map_err(|e| Error::Io {
                            path: ".".into(),
                            source: e,
                        })?
                        .join(d)
                };
                if !d.is_dir() {
                    return Err(Error::usage(
                        format!("-C {}: no such directory", d.display()),
                        None,
                    ));
                }
                d
            }
            None => std::env::current_dir().map_err(|e| Error::Io {
                path: ".".into(),
                source: e,
            })?,
        };
        Ok(Settings {
            cwd,
            dry_run: global.dry_run,
            json: global.output == OutputFormat::Json,
            quiet: global.quiet,
            wait_lock: !global.no_wait_lock,
        })
    }

    /// Take the lock of `what` (`env-ENV`, `upgrade`) in the project at `root`, unless
    /// this is a dry run (which changes nothing, so needs no lock).
    pub fn lock(
        &self,
        root: &std::path::Path,
        what: &str,
        verb: &str,
    ) -> Result<Option<crate::lock::Lock>, Error> {
        if self.dry_run {
            return Ok(None);
        }
        crate::lock::acquire(root, what, verb, self.wait_lock).map(Some)
    }

    /// Find and load the project's `lbc.toml`.
    pub fn load_project(&self) -> Result<Loaded, Error> {
        let path = config::discover(&self.cwd)?;
        let loaded = config::load(&path)?;
        if loaded.declared_schema < config::CURRENT_SCHEMA {
            crate::ui::warn(&format!(
                "{} uses lbc.toml schema {} (read as schema {} in memory); `lbc upgrade` rewrites it",
                path.display(),
                loaded.declared_schema,
                config::CURRENT_SCHEMA
            ));
        }
        Ok(loaded)
    }
}
