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

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::commands::Ctx;
use crate::error::Error;
use crate::plan::{Action, EnvVar, Plan, Step};
use crate::services::credentials::{create_private_dir, Store};
use crate::services::kinds::Kind;
use crate::services::local::container_name;
use crate::services::Service;
use crate::settings::Settings;
use crate::tools::docker;
use crate::tools::rclone::{self, S3};

/// `[backup]` of lbc.toml: where `lbc backup` writes (`--backup-dir` wins).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// A directory (relative to the project root, or absolute), or `s3://BUCKET/PREFIX` for
    /// an S3-compatible bucket (uploaded with rclone). Default:
    /// `~/.local/share/lbc/backups/PROJECT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The S3 API endpoint, e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO/Ceph URL
    /// (default: AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The bucket's region (default `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Name of the variable holding the access key id (default `AWS_ACCESS_KEY_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_env: Option<String>,
    /// Name of the variable holding the secret key (default `AWS_SECRET_ACCESS_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
}

/// Where backups are kept.
pub enum Destination {
    Dir(PathBuf),
    S3(S3),
}

/// `s3://BUCKET/PREFIX` as (bucket, prefix), or why not.
pub fn parse_s3(url: &str) -> Option<Result<(String, String), String>> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Some(Err(format!(
            "`{bucket}` is not a bucket name (3-63 lowercase letters, digits, '.' and '-')"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == ".." || p == ".") {
        return Some(Err("the prefix must not hold `.` or `..`".into()));
    }
    Some(Ok((bucket.to_owned(), prefix.to_owned())))
}

/// Checks of `[backup]` at load time.
pub fn validate(l: &crate::config::Loaded) -> Result<(), Error> {
    let Some(b) = &l.config.backup else {
        return Ok(());
    };
    if let Some(d) = &b.destination {
        if d.trim().is_empty() {
            return Err(l.error_at(
                &["backup", "destination"],
                "the backup destination is empty",
                Some("give a directory, or `s3://BUCKET/PREFIX`".into()),
            ));
        }
        if let Some(Err(why)) = parse_s3(d) {
            return Err(l.error_at(
                &["backup", "destination"],
                &why,
                Some("write it like `s3://team-backups/shop`".into()),
            ));
        }
    }
    if let Some(e) = &b.endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://"))
            || e.contains(char::is_whitespace)
        {
            return Err(l.error_at(
                &["backup", "endpoint"],
                &format!("`{e}` is not an http(s) URL"),
                Some("write it like `https://s3.example.com`".into()),
            ));
        }
    }
    for (key, v) in [
        ("access_key_env", &b.access_key_env),
        ("secret_key_env", &b.secret_key_env),
    ] {
        if let Some(v) = v {
            if !crate::config::is_env_name(v) {
                return Err(l.error_at(
                    &["backup", key],
                    &format!("`{v}` is not an environment variable name: `{key}` names the variable that holds the credential, never the credential itself"),
                    Some(format!("set `{key} = \"BACKUP_{}\"` and export that variable", if key == "access_key_env" { "ACCESS_KEY" } else { "SECRET_KEY" })),
                ));
            }
        }
    }
    Ok(())
}

/// The destination: `--backup-dir` (`LBC_BACKUP_DIR`), else `[backup] destination`, else
/// the default directory.
pub fn destination(ctx: &Ctx, flag: Option<&Path>) -> Result<Destination, Error> {
    let l = &ctx.project;
    let cfg = l.config.backup.clone().unwrap_or_default();
    let (value, from_file) = match (flag, &cfg.destination) {
        (Some(f), _) => (f.to_string_lossy().into_owned(), false),
        (None, Some(d)) => (d.clone(), true),
        (None, None) => return Ok(Destination::Dir(default_dir(ctx.settings, l.project())?)),
    };
    let Some(s3) = parse_s3(&value) else {
        let p = PathBuf::from(&value);
        let base = if from_file {
            &l.root
        } else {
            &ctx.settings.cwd
        };
        return Ok(Destination::Dir(if p.is_absolute() {
            p
        } else {
            base.join(p)
        }));
    };
    let (bucket, prefix) = s3.map_err(|why| Error::usage(why, None))?;
    let key_env = cfg.access_key_env.as_deref().unwrap_or("AWS_ACCESS_KEY_ID");
    let secret_env = cfg
        .secret_key_env
        .as_deref()
        .unwrap_or("AWS_SECRET_ACCESS_KEY");
    let get = |name: &str| {
        crate::settings::env_var(name).ok_or_else(|| {
            Error::usage(
                format!("`{name}` is not set: lbc needs it to reach the bucket {bucket}"),
                Some(format!(
                    "export {name} (its name comes from `[backup]` of {}, default AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
                    l.path.display()
                )),
            )
        })
    };
    let mut env = vec![
        EnvVar::plain(
            "RCLONE_S3_PROVIDER",
            if cfg.endpoint.is_some() {
                "Other"
            } else {
                "AWS"
            },
        ),
        EnvVar::plain(
            "RCLONE_S3_REGION",
            cfg.region.clone().unwrap_or_else(|| "us-east-1".into()),
        ),
        EnvVar::secret("RCLONE_S3_ACCESS_KEY_ID", get(key_env)?),
        EnvVar::secret("RCLONE_S3_SECRET_ACCESS_KEY", get(secret_env)?),
    ];
    if let Some(e) = &cfg.endpoint {
        env.push(EnvVar::plain("RCLONE_S3_ENDPOINT", e));
    }
    // Behind a TLS-inspecting proxy AWS_CA_BUNDLE names the organisation's CA; the S3
    // SDK inside rclone fails on it ("unsupported transport"), rclone's own --ca-cert
    // does the same job.
    let ca_cert = crate::settings::env_var("AWS_CA_BUNDLE");
    if ca_cert.is_some() {
        env.push(EnvVar::plain("AWS_CA_BUNDLE", ""));
    }
    Ok(Destination::S3(S3 {
        bucket,
        prefix,
        env,
        ca_cert,
    }))
}

/// The backups of a project's environment in a bucket, oldest first (a read-only query);
/// an unreachable bucket is the destination's fault (exit 2).
pub fn list_s3(ctx: &Ctx, s3: &S3, env: &str) -> Result<Vec<Backup>, Error> {
    let out = ctx.runner.query(&rclone::list(s3, &ctx.project.root))?;
    if !out.ok() {
        let why = out
            .stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no answer")
            .trim();
        // rclone starts its lines with `2026/11/29 20:35:10 `.
        let why = match why.split_once(' ').and_then(|(d, rest)| {
            (d.len() == 10 && d.as_bytes()[4] == b'/').then(|| rest.split_once(' '))?
        }) {
            Some((_, msg)) => msg.to_owned(),
            None => why.to_owned(),
        };
        let message = format!(
            "the backup destination {} cannot be read: {why}",
            s3.url("")
        );
        let hint =
            "check the bucket, `endpoint` and the credentials' variables under [backup]".to_owned();
        return Err(
            match ctx
                .project
                .config
                .backup
                .as_ref()
                .and_then(|b| b.destination.as_ref())
            {
                Some(_) => ctx
                    .project
                    .error_at(&["backup", "destination"], &message, Some(hint)),
                None => Error::usage(message, Some(hint)),
            },
        );
    }
    let objects = rclone::parse_list(&out.stdout)
        .map_err(|e| Error::failed(format!("could not read `rclone lsjson` output: {e}"), None))?;
    let mut v: Vec<Backup> = objects
        .into_iter()
        .filter_map(|o| {
            let mut b = parse_name(Path::new(&o.name))?;
            b.file = PathBuf::from(s3.url(&o.name));
            b.bytes = u64::try_from(o.size).unwrap_or(0);
            Some(b)
        })
        .filter(|b| b.project == ctx.project.project() && b.env == env)
        .collect();
    v.sort_by(|a, b| (&a.time, &a.service).cmp(&(&b.time, &b.service)));
    Ok(v)
}

/// The default backup directory of a project.
pub fn default_dir(settings: &Settings, project: &str) -> Result<PathBuf, Error> {
    let base = settings.data_home.clone().ok_or_else(|| {
        Error::usage(
            "neither XDG_DATA_HOME nor HOME is set: lbc has no default backup directory",
            Some("pass --backup-dir DIR (or set LBC_BACKUP_DIR)".to_owned()),
        )
    })?;
    Ok(base.join("backups").join(project))
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
pub(crate) fn compact_time() -> String {
    crate::state::now_rfc3339().replace(['-', ':'], "")
}

/// The services a verb acts on: `--service NAME`, or all of them.
pub(crate) fn selected<'a>(
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

/// The backups of `services` beyond the `keep` newest of each (`list` is oldest first
/// and already holds the new ones).
pub fn expired(list: &[Backup], services: &[String], keep: u32) -> Vec<Backup> {
    let mut out = Vec::new();
    for s in services {
        let of: Vec<&Backup> = list.iter().filter(|b| &b.service == s).collect();
        let extra = of.len().saturating_sub(keep as usize);
        out.extend(of.into_iter().take(extra).cloned());
    }
    out
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
    let store = Store::load(ctx.settings, project, env_name)?;
    let time = compact_time();
    let mut pending = Vec::new();
    for (name, s) in selected(ctx, service)? {
        let (cname, secrets) = running(ctx, env_name, name, &store)?;
        let (user, database) = (s.user(project), s.database(project));
        let out = ctx.runner.query(&docker::exec_in(
            &root,
            &cname,
            s.kind.client_env(&secrets),
            s.kind.version_query(&user, &database),
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
            docker::exec_in(
                &root,
                &cname,
                s.kind.client_env(&secrets),
                s.kind.dump(&user, &database, &inside),
            )
            .capture(),
        ));
        plan.push(Step::exec(
            format!("Copy the dump out to {}", partial.display()),
            docker::cp(
                &root,
                &format!("{cname}:{inside}"),
                &partial.display().to_string(),
            )
            .capture(),
        ));
        plan.push(remove_dump(&root, &cname, inside));
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

/// Make sure the backup directory exists (0700 when lbc creates it) and is writable; if
/// not, exit 2 pointing at `[backup] destination` when that is where it came from.
pub fn prepare_dir(ctx: &Ctx, dir: &Path, flag_given: bool) -> Result<(), Error> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        let message = format!("the backup directory {} {what}: {e}", dir.display());
        let from_file = ctx
            .project
            .config
            .backup
            .as_ref()
            .is_some_and(|b| b.destination.is_some())
            && !flag_given;
        if from_file {
            ctx.project.error_at(
                &["backup", "destination"],
                &message,
                Some("choose a writable directory (or --backup-dir DIR)".to_owned()),
            )
        } else {
            Error::usage(
                message,
                Some(
                    "choose a writable directory with --backup-dir DIR (or LBC_BACKUP_DIR)"
                        .to_owned(),
                ),
            )
        }
    };
    create_private_dir(dir).map_err(|e| fail("cannot be created", &e))?;
    tempfile::Builder::new()
        .prefix(".lbc-write-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| fail("is not writable", &e))
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
        return latest_of_each(ctx, service, &all, from, &dir.display().to_string());
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

/// What `--from` names in a bucket: an object name, or an environment whose latest
/// backups are taken.
pub fn resolve_from_s3(
    ctx: &Ctx,
    s3: &S3,
    from: &str,
    service: Option<&str>,
) -> Result<Vec<Backup>, Error> {
    let l = &ctx.project;
    if let Some(b) = parse_name(Path::new(from)) {
        if from.contains('/') {
            return Err(Error::usage(
                format!("give the backup's name, not a path: `{}`", b.name()),
                None,
            ));
        }
        let all = list_s3(ctx, s3, &b.env)?;
        let found = all.into_iter().find(|x| x.name() == from).ok_or_else(|| {
            Error::usage(
                format!("there is no backup {from} in {}", s3.url("")),
                Some(format!("`lbc backups {}` lists them", b.env)),
            )
        })?;
        if service.is_some_and(|s| s != found.service) {
            return Err(Error::usage(
                format!("{from} is a backup of service `{}`", found.service),
                None,
            ));
        }
        return Ok(vec![found]);
    }
    if !l.config.env.contains_key(from) {
        return Err(Error::usage(
            format!("`{from}` is neither a backup's name nor an environment"),
            Some(format!(
                "`lbc backups ENV` lists the backups in {}",
                s3.url("")
            )),
        ));
    }
    let all = list_s3(ctx, s3, from)?;
    latest_of_each(ctx, service, &all, from, &s3.url(""))
}

/// The newest backup of each selected service among `all` (oldest first) of environment
/// `from`, kept in `place` (a directory or a bucket, for the message).
fn latest_of_each(
    ctx: &Ctx,
    service: Option<&str>,
    all: &[Backup],
    from: &str,
    place: &str,
) -> Result<Vec<Backup>, Error> {
    selected(ctx, service)?
        .into_iter()
        .map(|(name, _)| {
            all.iter()
                .rev()
                .find(|b| &b.service == name)
                .cloned()
                .ok_or_else(|| {
                    Error::usage(
                        format!("there is no backup of service `{name}` of `{from}` in {place}"),
                        Some(format!("take one with `lbc backup {from}`")),
                    )
                })
        })
        .collect()
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
    let store = Store::load(ctx.settings, project, env_name)?;
    let timeout = env.timeout_or(crate::targets::local::DEFAULT_TIMEOUT);
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
        let probe = docker::exec_in(
            &root,
            &cname,
            s.kind.client_env(&secrets),
            s.kind.data_query(&user, &database),
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
                docker::stop(&root, std::slice::from_ref(&cname)),
            ));
            plan.push(Step::exec(
                format!("Copy {} in as its RDB file", b.name()),
                docker::cp(
                    &root,
                    &host_file,
                    &format!("{cname}:{}/dump.rdb", s.kind.data_path()),
                )
                .capture(),
            ));
            plan.push(Step::exec(
                format!("Start service `{name}`"),
                docker::start(&root, &cname),
            ));
            plan.push(Step::new(
                format!("Wait until service `{name}` accepts connections"),
                Action::WaitCommand {
                    what: format!("service `{name}`"),
                    container: cname.clone(),
                    probe: docker::exec_in(
                        &root,
                        &cname,
                        s.kind.client_env(&secrets),
                        s.kind.ready_probe(&user, &database),
                    ),
                    timeout,
                },
            ));
        } else {
            let inside = format!(
                "/tmp/lbc-restore-{}.{}",
                std::process::id(),
                s.kind.dump_extension()
            );
            plan.push(Step::exec(
                format!("Copy {} into {cname}", b.name()),
                docker::cp(&root, &host_file, &format!("{cname}:{inside}")).capture(),
            ));
            plan.push(Step::exec(
                format!("Load it into service `{name}` ({})", s.kind.as_str()),
                docker::exec_in(
                    &root,
                    &cname,
                    s.kind.client_env(&secrets),
                    s.kind.restore(&user, &database, &inside),
                )
                .capture(),
            ));
            plan.push(remove_dump(&root, &cname, inside));
        }
    }
    Ok(plan)
}

/// The step that removes a dump from inside the service's container: it runs even when
/// an earlier step failed, so no copy of the data stays behind there.
fn remove_dump(root: &std::path::Path, cname: &str, inside: String) -> Step {
    Step::exec(
        format!("Remove the dump from {cname}"),
        docker::exec_in(
            root,
            cname,
            Vec::new(),
            vec!["rm".into(), "-f".into(), inside],
        )
        .capture(),
    )
    .always()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest_of_each_service() {
        let b = |s: &str, t: &str| Backup {
            file: PathBuf::from(format!("{s}{t}")),
            project: "p".into(),
            env: "e".into(),
            service: s.into(),
            time: t.into(),
            server: "redis-7".into(),
            bytes: 1,
        };
        let list = vec![b("db", "1"), b("cache", "1"), b("db", "2"), b("db", "3")];
        let gone: Vec<String> = expired(&list, &["db".to_owned()], 2)
            .iter()
            .map(|x| format!("{}{}", x.service, x.time))
            .collect();
        assert_eq!(gone, vec!["db1"]);
        assert!(expired(&list, &["cache".to_owned()], 1).is_empty());
    }

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
