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
        })
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
