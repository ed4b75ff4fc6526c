//! Settings: command-line flags, `LBC_*` environment variables (read by clap) and
//! `lbc.toml`, merged once into one resolved value that every verb reads. The
//! environment variables lbc reads besides clap's are read here too (the catalogue's
//! file, the user's config, cache, state and data directories, the registry credentials
//! named in lbc.toml or the catalogue, the test hook of `lbc upgrade`), and the
//! base-image catalogue is loaded once, when a verb first needs it.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use crate::catalog::Catalog;
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
    /// `LBC_CATALOG`: the catalogue file that overrides the defaults.
    pub catalog_file: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`, else `~/.config`.
    pub config_home: Option<PathBuf>,
    /// `XDG_CACHE_HOME`, else `~/.cache` (the git catalogue's clones).
    pub cache_home: Option<PathBuf>,
    /// Test hook (`LBC_UPGRADE_FAIL_AFTER=N`): `lbc upgrade` fails after moving N files
    /// into place, to prove that it puts everything back.
    pub upgrade_fail_after: Option<usize>,
    /// `LBC_UPGRADE_PAUSE_AFTER` / `LBC_INIT_PAUSE_AFTER`: test hooks that pause the
    /// writer before change N, for a test to send it a signal (issue #9).
    pub upgrade_pause_after: Option<usize>,
    pub init_pause_after: Option<usize>,
    /// Wait for another lbc's lock (the default) rather than fail with exit code 8.
    pub wait_lock: bool,
    /// `$XDG_STATE_HOME/lbc`, else `~/.local/state/lbc`: the backing services'
    /// credentials (issue #10).
    pub state_home: Option<PathBuf>,
    /// `$XDG_DATA_HOME/lbc`, else `~/.local/share/lbc`: the default backup directory.
    pub data_home: Option<PathBuf>,
    catalog: OnceLock<Catalog>,
    /// `LBC_CA_CERTIFICATES`: the CA bundle handed to containers, or `none` (issue #11).
    pub ca_certificates: Option<String>,
    trust: OnceLock<Option<crate::trust::Bundle>>,
}

/// A non-empty environment variable: the one function through which lbc reads one
/// outside clap (the settings, the UI's NO_COLOR/CI, the Docker endpoint's DOCKER_*).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    pub fn from_args(global: &GlobalArgs) -> Result<Self, Error> {
        let cwd = match &global.directory {
            Some(d) => {
                let d = if d.is_absolute() {
                    d.clone()
                } else {
                    std::env::current_dir()
                        .map_err(|e| crate::fsutil::io_err(Path::new("."), e))?
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
            None => {
                std::env::current_dir().map_err(|e| crate::fsutil::io_err(Path::new("."), e))?
            }
        };
        Ok(Settings {
            cwd,
            dry_run: global.dry_run,
            json: global.output == OutputFormat::Json,
            quiet: global.quiet,
            wait_lock: !global.no_wait_lock,
            ..Settings::from_env()
        })
    }

    /// The settings that come from the environment alone (flags at their defaults).
    pub fn from_env() -> Self {
        Settings {
            cwd: PathBuf::from("."),
            dry_run: false,
            json: false,
            quiet: false,
            catalog_file: env_var("LBC_CATALOG").map(PathBuf::from),
            config_home: env_var("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| env_var("HOME").map(|h| Path::new(&h).join(".config"))),
            cache_home: env_var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| env_var("HOME").map(|h| Path::new(&h).join(".cache"))),
            upgrade_fail_after: env_var("LBC_UPGRADE_FAIL_AFTER").and_then(|v| v.parse().ok()),
            upgrade_pause_after: env_var("LBC_UPGRADE_PAUSE_AFTER").and_then(|v| v.parse().ok()),
            init_pause_after: env_var("LBC_INIT_PAUSE_AFTER").and_then(|v| v.parse().ok()),
            wait_lock: true,
            state_home: env_var("XDG_STATE_HOME")
                .map(PathBuf::from)
                .or_else(|| env_var("HOME").map(|h| Path::new(&h).join(".local/state")))
                .map(|d| d.join("lbc")),
            data_home: env_var("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| env_var("HOME").map(|h| Path::new(&h).join(".local/share")))
                .map(|d| d.join("lbc")),
            catalog: OnceLock::new(),
            ca_certificates: env_var("LBC_CA_CERTIFICATES"),
            trust: OnceLock::new(),
        }
    }

    /// Take the lock of `what` (`env-ENV`, `upgrade`) in the project at `root`, unless
    /// this is a dry run (which changes nothing, so needs no lock).
    pub fn lock(
        &self,
        root: &Path,
        what: &str,
        verb: &str,
    ) -> Result<Option<crate::lock::Lock>, Error> {
        if self.dry_run {
            return Ok(None);
        }
        crate::lock::acquire(root, what, verb, self.wait_lock).map(Some)
    }

    /// The test hooks of `lbc upgrade`'s writer.
    pub fn upgrade_hooks(&self) -> crate::transaction::Hooks {
        crate::transaction::Hooks {
            verb: "upgrade",
            fail_after: self.upgrade_fail_after,
            pause_after: self.upgrade_pause_after,
        }
    }

    /// The test hooks of `lbc init`'s writer.
    pub fn init_hooks(&self) -> crate::transaction::Hooks {
        crate::transaction::Hooks {
            verb: "init",
            fail_after: None,
            pause_after: self.init_pause_after,
        }
    }

    /// The base-image catalogue, loaded on first use.
    pub fn catalog(&self) -> Result<&Catalog, Error> {
        if let Some(c) = self.catalog.get() {
            return Ok(c);
        }
        let c = Catalog::load(
            self.catalog_file.as_deref(),
            self.config_home.as_deref(),
            self.cache_home.as_deref(),
        )?;
        Ok(self.catalog.get_or_init(|| c))
    }

    /// The CA bundle that containers lbc builds and runs trust (`crate::trust`), found
    /// once per run.
    pub fn ca_bundle(&self) -> Result<Option<&crate::trust::Bundle>, Error> {
        if let Some(b) = self.trust.get() {
            return Ok(b.as_ref());
        }
        let b = crate::trust::find(
            self.ca_certificates.as_deref(),
            self.catalog()?.network.ca_certificates.as_ref(),
        )?;
        Ok(self.trust.get_or_init(|| b).as_ref())
    }

    /// DIR relative to where lbc works, without `.` and `..` components.
    pub fn destination(&self, dir: Option<&Path>) -> PathBuf {
        let joined = match dir {
            Some(d) if d.is_absolute() => d.to_owned(),
            Some(d) => self.cwd.join(d),
            None => self.cwd.clone(),
        };
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other.as_os_str()),
            }
        }
        out
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
