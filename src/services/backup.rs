//! Backups and restores of backing services (issue #10), for docker environments.
//!
//! A backup is one file per service, a consistent dump taken by the server's own tool
//! inside its container (`pg_dump --format=custom`, `mariadb-dump --single-transaction`,
//! `redis-cli --rdb`), copied out with `docker cp` to a temporary name in the backup
//! directory and renamed into place (mode 0600) once complete. Its name says what it
//! is: `PROJECT_ENV_SERVICE_20261129T201500Z_postgres-15.20.dump`. The directory is
//! `--backup-dir` (`LBC_BACKUP_DIR`), else `$XDG_DATA_HOME/lbc/backups/PROJECT`
//! (default `~/.local/share/lbc/backups/PROJECT`): outside the repository.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::Ctx;
use crate::error::Error;
use crate::plan::{Action, Plan, Step};
use crate::services::credentials::{create_private_dir, Store};
use crate::services::kinds::Kind;
use crate::services::local::container_name;
use crate::services::Service;
use crate::tools::docker;
use crate::tools::docker_objects as objects;

/// The default backup directory of a project.
pub fn default_dir(project: &str) -> Result<PathBuf, Error> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::usage(
                    "neither XDG_DATA_HOME nor HOME is set: lbc has no default backup directory",
                    Some("pass --backup-dir DIR (or set LBC_BACKUP_DIR)".to_owned()),
                )
                })?;
            Path::new(&home).join(".local/share")
        }
    };
    Ok(base.join("lbc/backups").join(project))
}

/// One backup file, parsed from its name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Backup {
    pub file: PathBuf,
    pub project: String,
    pub env: String,
    pub service: String,
    /// `20261129T201500Z`.
    pub time: String,
    /// `postgres-15.20`.
    pub server: String,
    pub bytes: u64,
}

impl Backup {
    pub fn name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    /// The kind of server that wrote it, from `server`.
    pub fn kind(&self) -> Option<Kind> {
        match self.server.split('-').next()? {
            "postgres" => Some(Kind::Postgres),
            "mariadb" | "mysql" => Some(Kind::Mysql),
            "redis" => Some(Kind::Redis),
            _ => None,
        }
    }
}

/// `PROJECT_ENV_SERVICE_TIME_SERVER.EXT`: none of the parts can hold a '_'.
pub fn parse_name(path: &Path) -> Option<Backup> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if !["dump", "sql", "rdb"].contains(&ext) {
        return None;
    }
    // The server part holds dots (`postgres-15.20`): split it off the stem first.
    let parts: Vec<&str> = stem.splitn(5, '_').collect();
    let [project, env, service, time, server] = parts.as_slice() else {
        return None;
    };
    if time.len() != 16 || !time.ends_with('Z') || server.is_empty() {
        return None;
    }
    Some(Backup {
        file: path.to_owned(),
        project: (*project).to_owned(),
        env: (*env).to_owned(),
        service: (*service).to_owned(),
        time: (*time).to_owned(),
        server: (*server).to_owned(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    })
}

/// The backups of a project's environment in `dir`, oldest first.
pub fn list(dir: &Path, project: &str, env: &str) -> Result<Vec<Backup>, Error> {
    let entries = match fs_err::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            })
        }
    };
    let mut out: Vec<Backup> = entries
        .filter_map(Result::ok)
        .filter_map(|e| parse_name(&e.path()))
        .filter(|b| b.project == project && b.env == env)
        .collect();
    out.sort_by(|a, b| (&a.time, &a.service).cmp(&(&b.time, &b.service)));
    Ok(out)
}

/// `20261129T201500Z` from RFC 3339.
fn compact_time() -> String {
    crate::state::now_rfc3339().replace(['-', ':'], "")
}

/// The services a verb acts on: `--service NAME`, or all of them.
fn selected<'a>(
    ctx: &'a Ctx,
    service: Option<&str>,
) -> Result<Vec<(&'a String, &'a Service)>, Error> {
    let l = &ctx.project;
    if l.config.services.is_empty() {
        return Err(Error::usage(
            format!(
                "{} declares no [services]: there is nothing to back up or restore",
                l.path.display()
            ),
            Some("declare one, e.g.\n  [services.db]\n  type = \"postgres\"".to_owned()),
        ));
    }
    let all = crate::services::ordered(l);
    match service {
        None => Ok(all),
        Some(s) => {
            crate::services::local::logs_container(l, "", s)?;
            Ok(all.into_iter().filter(|(n, _)| n.as_str() == s).collect())
        }
    }
}

/// A running service's container and its secrets, or an error saying how to get it.
fn running(
    ctx: &Ctx,
    env_name: &str,
    name: &str,
    store: &Store,
) -> Result<(String, crate::services::kinds::Secrets), Error> {
    let cname = container_name(ctx.project.project(), env_name, name);
    let info = docker::container_inspect(ctx.runner, &ctx.project.root, &cname)?;
    if info.as_ref().map(|c| c.state.status.as_str()) != Some("running") {
        return Err(Error::failed(
            format!("service `{name}` of `{env_name}` is not running (container {cname})"),
            Some(format!("start it with `lbc deploy {env_name}`")),
        ));
    }
    let secrets = store.services.get(name).cloned().ok_or_else(|| {
        Error::failed(
            format!(
                "the credentials of service `{name}` are not in {}",
                store.path.display()
            ),
            Some("put back your copy of that file".to_owned()),
        )
    })?;
    Ok((cname, secrets))
}

/// A backup in progress: where `docker cp` writes, and the name it gets when complete.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub service: String,
    pub partial: PathBuf,
    pub file: PathBuf,
}

/// Plan `lbc backup ENV`: per service, dump inside the container, copy out, clean up.
pub fn plan_backup(
    ctx: &Ctx,
    env_name: &str,
    service: Option<&str>,
    dir: &Path,
) -> Result<(Plan, Vec<Pending>), Error> {
    let l = &ctx.project;
    let root = l.root.clone();
    let project = l.project();
    let mut plan = Plan::new(format!("backup {env_name}"));
    plan.note(format!("backup directory: {}", dir.display()));
    let store = Store::load(project, env_name)?;
    let time = compact_time();
    let mut pending = Vec::new();
    for (name, s) in selected(ctx, service)? {
        let (cname, secrets) = running(ctx, env_name, name, &store)?;
        let (user, database) = (s.user(project), s.database(project));
        let out = ctx.runner.query(&objects::exec_in(
            &cname,
            s.kind.client_env(&secrets),
            s.kind.version_query(&user, &database),
            &root,
        ))?;
        let server = s.kind.parse_version(&out.stdout).ok_or_else(|| {
            Error::failed(
                format!(
                    "could not read the server version of service `{name}`: {}",
                    format!("{}{}", out.stdout, out.stderr).trim()
                ),
                Some(format!(
                    "`lbc logs {env_name} --service {name}` shows its log"
                )),
            )
        })?;
        let file_name = format!(
            "{project}_{env_name}_{name}_{time}_{server}.{}",
            s.kind.dump_extension()
        );
        let file = dir.join(&file_name);
        let partial = dir.join(format!(".{file_name}.partial"));
        let inside = format!(
            "/tmp/lbc-backup-{}.{}",
            std::process::id(),
            s.kind.dump_extension()
        );
        plan.push(Step::exec(
            format!("Dump service `{name}` ({server}) inside {cname}"),
            objects::exec_in(
                &cname,
                s.kind.client_env(&secrets),
                s.kind.dump(&user, &database, &inside),
                &root,
            )
            .capture(),
        ));
        plan.push(Step::exec(
            format!("Copy the dump out to {}", partial.display()),
            objects::cp(
                &format!("{cname}:{inside}"),
                &partial.display().to_string(),
                &root,
            )
            .capture(),
        ));
        plan.push(Step::exec(
            format!("Remove the dump from {cname}"),
            objects::exec_in(
                &cname,
                Vec::new(),
                vec!["rm".into(), "-f".into(), inside],
                &root,
            )
            .capture(),
        ));
        plan.note(format!("service `{name}` -> {}", file.display()));
        pending.push(Pending {
            service: name.clone(),
            partial,
            file,
        });
    }
    Ok((plan, pending))
}

/// After the plan ran: owner-only, renamed into place.
pub fn finish_backup(pending: &[Pending]) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    for p in pending {
        let io = |e: std::io::Error| Error::Io {
            path: p.partial.clone(),
            source: std::io::Error::new(e.kind(), e.to_string()),
        };
        fs_err::set_permissions(&p.partial, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        if p.file.exists() {
            return Err(Error::failed(
                format!(
                    "{} exists already: lbc does not overwrite it",
                    p.file.display()
                ),
                Some(format!("the new dump is in {}", p.partial.display())),
            ));
        }
        fs_err::rename(&p.partial, &p.file).map_err(io)?;
    }
    Ok(())
}

/// Remove what an interrupted or failed backup left.
pub fn discard(pending: &[Pending]) {
    for p in pending {
        let _ = std::fs::remove_file(&p.partial);
    }
}

/// Make sure the backup directory exists (0700 when lbc creates it) and is writable.
pub fn prepare_dir(dir: &Path) -> Result<(), Error> {
    create_private_dir(dir).map_err(|e| {
        Error::usage(
            format!(
                "the backup directory {} cannot be created: {e}",
                dir.display()
            ),
            Some(
                "choose a writable directory with --backup-dir DIR (or LBC_BACKUP_DIR)".to_owned(),
            ),
        )
    })?;
    tempfile::Builder::new()
        .prefix(".lbc-write-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            Error::usage(
                format!(
                    "the backup directory {} is not writable: {e}",
                    dir.display()
                ),
                Some(
                    "choose a writable directory with --backup-dir DIR (or LBC_BACKUP_DIR)"
                        .to_owned(),
                ),
            )
        })
}

/// What `--from` names: one backup file, or an environment whose latest backups are taken.
pub fn resolve_from(
    ctx: &Ctx,
    from: &str,
    dir: &Path,
    service: Option<&str>,
) -> Result<Vec<Backup>, Error> {
    let l = &ctx.project;
    let as_path = Path::new(from);
    let candidate = if as_path.is_file() {
        Some(as_path.to_owned())
    } else if !from.contains('/') && dir.join(from).is_file() {
        Some(dir.join(from))
    } else {
        None
    };
    if let Some(path) = candidate {
        let b = parse_name(&path).ok_or_else(|| {
            Error::usage(
                format!(
                    "{} is not named like an lbc backup (PROJECT_ENV_SERVICE_TIME_SERVER.EXT)",
                    path.display()
                ),
                Some(format!(
                    "`lbc backups ENV` lists the backups in {}",
                    dir.display()
                )),
            )
        })?;
        if let Some(s) = service {
            if s != b.service {
                return Err(Error::usage(
                    format!(
                        "{} is a backup of service `{}`, not `{s}`",
                        b.name(),
                        b.service
                    ),
                    None,
                ));
            }
        }
        return Ok(vec![b]);
    }
    if l.config.env.contains_key(from) {
        let all = list(dir, l.project(), from)?;
        let mut out = Vec::new();
        for (name, _) in selected(ctx, service)? {
            match all.iter().rev().find(|b| &b.service == name) {
                Some(b) => out.push(b.clone()),
                None => {
                    return Err(Error::usage(
                        format!(
                            "there is no backup of service `{name}` of `{from}` in {}",
                            dir.display()
                        ),
                        Some(format!("take one with `lbc backup {from}`")),
                    ))
                }
            }
        }
        return Ok(out);
    }
    Err(Error::usage(
        format!("`{from}` is neither a backup file nor an environment"),
        Some(format!(
            "give a file listed by `lbc backups ENV` (in {}), or an environment name ({})",
            dir.display(),
            l.config.env.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
    ))
}

/// Plan `lbc restore ENV`: refuse to overwrite a database that holds data unless
/// `overwrite`; copy each dump in and load it with the server's own tool.
pub fn plan_restore(
    ctx: &Ctx,
    env_name: &str,
    env: &crate::config::Environment,
    backups: &[Backup],
    overwrite: bool,
) -> Result<Plan, Error> {
    let l = &ctx.project;
    let root = l.root.clone();
    let project = l.project();
    let mut plan = Plan::new(format!("restore {env_name}"));
    let store = Store::load(project, env_name)?;
    let timeout = env
        .timeout
        .as_deref()
        .map(crate::config::parse_duration)
        .transpose()
        .map_err(|e| Error::usage(e, None))?
        .unwrap_or(std::time::Duration::from_secs(60));
    for b in backups {
        let Some(s) = l.config.services.get(&b.service) else {
            return Err(Error::usage(
                format!(
                    "{} is a backup of service `{}`, which {} does not declare",
                    b.name(),
                    b.service,
                    l.path.display()
                ),
                None,
            ));
        };
        if b.kind() != Some(s.kind) {
            return Err(Error::usage(
                format!(
                    "{} was written by {}, but service `{}` is {}",
                    b.name(),
                    b.server,
                    b.service,
                    s.kind.as_str()
                ),
                None,
            ));
        }
        let name = &b.service;
        let (cname, secrets) = running(ctx, env_name, name, &store)?;
        let (user, database) = (s.user(project), s.database(project));
        let probe = objects::exec_in(
            &cname,
            s.kind.client_env(&secrets),
            s.kind.data_query(&user, &database),
            &root,
        );
        let out = ctx.runner.query(&probe)?;
        if !out.ok() {
            return Err(Error::failed(
                format!(
                    "could not tell whether service `{name}` holds data: {}",
                    out.stderr.trim()
                ),
                None,
            ));
        }
        if s.kind.has_data(&out.stdout) {
            if !overwrite {
                return Err(Error::Refused {
                    message: format!(
                        "service `{name}` of `{env_name}` holds data: refusing to overwrite it with {}",
                        b.name()
                    ),
                    hint: format!(
                        "pass --overwrite to replace it (take `lbc backup {env_name} --service {name}` first if you may want it back)"
                    ),
                });
            }
            plan.note(format!(
                "service `{name}` holds data: --overwrite replaces it"
            ));
        }
        let host_file = b.file.display().to_string();
        if s.kind == Kind::Redis {
            // Redis loads its RDB file at start: swap it while the server is stopped.
            plan.push(Step::exec(
                format!("Stop service `{name}` to replace its data"),
                objects::stop(std::slice::from_ref(&cname), &root),
            ));
            plan.push(Step::exec(
                format!("Copy {} in as its RDB file", b.name()),
                objects::cp(
                    &host_file,
                    &format!("{cname}:{}/dump.rdb", s.kind.data_path()),
                    &root,
                )
                .capture(),
            ));
            plan.push(Step::exec(
                format!("Start service `{name}`"),
                objects::start(&cname, &root),
            ));
            plan.push(Step {
                purpose: format!("Wait until service `{name}` accepts connections"),
                action: Action::WaitCommand {
                    what: format!("service `{name}`"),
                    container: cname.clone(),
                    probe: objects::exec_in(
                        &cname,
                        s.kind.client_env(&secrets),
                        s.kind.ready_probe(&user, &database),
                        &root,
                    ),
                    timeout,
                },
            });
        } else {
            let inside = format!(
                "/tmp/lbc-restore-{}.{}",
                std::process::id(),
                s.kind.dump_extension()
            );
            plan.push(Step::exec(
                format!("Copy {} into {cname}", b.name()),
                objects::cp(&host_file, &format!("{cname}:{inside}"), &root).capture(),
            ));
            plan.push(Step::exec(
                format!("Load it into service `{name}` ({})", s.kind.as_str()),
                objects::exec_in(
                    &cname,
                    s.kind.client_env(&secrets),
                    s.kind.restore(&user, &database, &inside),
                    &root,
                )
                .capture(),
            ));
            plan.push(Step::exec(
                format!("Remove the dump from {cname}"),
                objects::exec_in(
                    &cname,
                    Vec::new(),
                    vec!["rm".into(), "-f".into(), inside],
                    &root,
                )
                .capture(),
            ));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        // issue #10: a backup is named by project, environment, service, time and server.
        let b = parse_name(Path::new(
            "/b/shop_local_db_20261129T201500Z_postgres-15.20.dump",
        ))
        .unwrap();
        assert_eq!(
            (b.project.as_str(), b.env.as_str(), b.service.as_str()),
            ("shop", "local", "db")
        );
        assert_eq!(b.time, "20261129T201500Z");
        assert_eq!(b.server, "postgres-15.20");
        assert_eq!(b.kind(), Some(Kind::Postgres));
        assert!(parse_name(Path::new(
            "/b/.shop_local_db_20261129T201500Z_x.dump.partial"
        ))
        .is_none());
        assert!(parse_name(Path::new("/b/notes.txt")).is_none());
        assert_eq!(compact_time().len(), 16);
    }
}
