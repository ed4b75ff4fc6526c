//! Backing services an application needs (PostgreSQL, MySQL/MariaDB, Redis): from its
//! dependencies, its `.env.example`, its `docker-compose.yml` and its settings, each with
//! the environment variables the framework reads. Values of `.env` files are read only
//! to learn a URL's scheme or a driver's name; no value is ever reported.

use std::collections::BTreeMap;

use serde::Serialize;

use super::evidence::{line_of, Evidence, Repo};
use super::{Dep, Report};

/// The kinds of service lbc provides (`[services.NAME] type` in lbc.toml); `mysql`
/// covers MariaDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Postgres,
    Mysql,
    Redis,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "postgres",
            ServiceKind::Mysql => "mysql",
            ServiceKind::Redis => "redis",
        }
    }
    fn is_database(self) -> bool {
        self != ServiceKind::Redis
    }
}

/// A service the application needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    #[serde(rename = "type")]
    pub kind: ServiceKind,
    /// The variables the application reads to reach it.
    pub env: Vec<String>,
    /// The URL scheme the example environment file gives a variable when it names a
    /// driver (`DATABASE_URL=mysql+pymysql://...`, SQLAlchemy's form): the application
    /// loads that driver only with that scheme, so adoption keeps it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub schemes: BTreeMap<String, String>,
    pub evidence: Vec<Evidence>,
}

/// A variable of an example environment file: its value is kept for detection only.
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub file: String,
    pub line: usize,
}

/// The example environment files a repository documents its variables in.
pub const ENV_EXAMPLES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.dist",
    ".env.template",
    "example.env",
];

pub fn parse_env(file: &str, text: &str) -> Vec<EnvVar> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        let l = l.strip_prefix("export ").unwrap_or(l);
        if l.starts_with('#') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let v = v.split(" #").next().unwrap_or(v).trim();
        out.push(EnvVar {
            name: k.to_owned(),
            value: v.trim_matches(|c| c == '"' || c == '\'').to_owned(),
            file: file.to_owned(),
            line: i + 1,
        });
    }
    out
}

/// The variables of the first example environment file.
pub fn env_example(repo: &Repo) -> Vec<EnvVar> {
    ENV_EXAMPLES
        .iter()
        .find_map(|f| repo.read(f).map(|t| parse_env(f, &t)))
        .unwrap_or_default()
}

/// The services found so far, with their evidence.
#[derive(Debug, Default)]
pub(crate) struct Found {
    kinds: BTreeMap<ServiceKind, Vec<Evidence>>,
}

impl Found {
    pub fn add(&mut self, kind: ServiceKind, e: Evidence) {
        let v = self.kinds.entry(kind).or_default();
        if !v.contains(&e) {
            v.push(e);
        }
    }

    /// Services named by dependencies: `table` maps a normalised dependency name to a kind.
    pub fn add_deps(&mut self, deps: &[Dep], table: &[(&str, ServiceKind)]) {
        for d in deps.iter().filter(|d| !d.dev) {
            if let Some((_, k)) = table.iter().find(|(n, _)| *n == d.name) {
                self.add(
                    *k,
                    Evidence::at(
                        &d.file,
                        d.line,
                        format!("dependency {} ({})", d.name, k.as_str()),
                    ),
                );
            }
        }
    }

    /// Services named by an example environment file: a database URL's scheme,
    /// Laravel's `DB_CONNECTION`, a Redis URL or a cache/queue/session driver `redis`.
    /// `REDIS_HOST` alone is not evidence: Laravel's .env.example has it whether or
    /// not the application uses Redis.
    pub fn add_env(&mut self, env: &[EnvVar]) {
        for v in env {
            let val = v.value.to_ascii_lowercase();
            let e = |what: String| Evidence::at(&v.file, v.line, what);
            let url_kind = |val: &str| {
                let scheme = val.split("://").next().unwrap_or("");
                let scheme = scheme.split('+').next().unwrap_or(scheme);
                match scheme {
                    "postgres" | "postgresql" | "pgsql" => Some(ServiceKind::Postgres),
                    "mysql" | "mariadb" | "mysql2" => Some(ServiceKind::Mysql),
                    "redis" | "rediss" => Some(ServiceKind::Redis),
                    _ => None,
                }
            };
            let name = v.name.as_str();
            if name.ends_with("_URL") || name.ends_with("_URI") || name.ends_with("_DSN") {
                if val.contains("://") {
                    if let Some(k) = url_kind(&val) {
                        self.add(
                            k,
                            e(format!(
                                "{name} is a {} URL",
                                val.split("://").next().unwrap_or("")
                            )),
                        );
                    }
                } else if name == "REDIS_URL" {
                    self.add(ServiceKind::Redis, e(format!("{name} is declared")));
                }
            }
            match (name, val.as_str()) {
                ("DB_CONNECTION", "pgsql" | "postgres" | "postgresql") => {
                    self.add(ServiceKind::Postgres, e(format!("DB_CONNECTION={val}")))
                }
                ("DB_CONNECTION", "mysql" | "mariadb") => {
                    self.add(ServiceKind::Mysql, e(format!("DB_CONNECTION={val}")))
                }
                (
                    "CACHE_DRIVER"
                    | "CACHE_STORE"
                    | "QUEUE_CONNECTION"
                    | "SESSION_DRIVER"
                    | "BROADCAST_DRIVER"
                    | "BROADCAST_CONNECTION",
                    "redis",
                ) => self.add(ServiceKind::Redis, e(format!("{name}=redis"))),
                _ => {}
            }
        }
    }

    /// Services of a compose file, by the image of each of its services.
    pub fn add_compose(&mut self, repo: &Repo) {
        let re = regex::Regex::new(r#"^\s*image:\s*["']?([^\s"'#]+)"#).expect("valid regex");
        for f in [
            "docker-compose.yml",
            "docker-compose.yaml",
            "compose.yml",
            "compose.yaml",
            "docker-compose.dev.yml",
            "docker-compose.override.yml",
        ] {
            let Some(text) = repo.read(f) else { continue };
            for (i, l) in text.lines().enumerate() {
                let Some(c) = re.captures(l) else { continue };
                let image = c[1].to_ascii_lowercase();
                let last = image.rsplit('/').next().unwrap_or(&image);
                let name = last.split([':', '@']).next().unwrap_or(last);
                let kind = if name.contains("postgres") || name == "postgis" {
                    ServiceKind::Postgres
                } else if name.contains("mysql") || name.contains("mariadb") {
                    ServiceKind::Mysql
                } else if name.contains("redis") || name.contains("valkey") {
                    ServiceKind::Redis
                } else {
                    continue;
                };
                self.add(kind, Evidence::at(f, i + 1, format!("image {image}")));
            }
        }
    }

    /// The report's services, each with the variables `vars` gives for its kind.
    pub fn finish(self, vars: impl Fn(ServiceKind) -> Vec<String>) -> Vec<Service> {
        self.kinds
            .into_iter()
            .map(|(kind, evidence)| Service {
                kind,
                env: vars(kind),
                schemes: BTreeMap::new(),
                evidence,
            })
            .collect()
    }
}

/// The variables of `kind` an example environment file declares (in its order), else
/// the conventional `DATABASE_URL` or `REDIS_URL`: for frameworks with no fixed names.
pub(crate) fn declared_or_url(kind: ServiceKind, env: &[EnvVar]) -> Vec<String> {
    let db_prefixes = ["DATABASE_", "DB_", "POSTGRES_", "PG", "MYSQL_", "MARIADB_"];
    let names: Vec<String> = env
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| {
            if kind.is_database() {
                let other = if kind == ServiceKind::Postgres {
                    ["MYSQL_", "MARIADB_"].iter().any(|p| n.starts_with(p))
                } else {
                    ["POSTGRES_", "PG"].iter().any(|p| n.starts_with(p))
                };
                !other && (db_prefixes.iter().any(|p| n.starts_with(p)) || *n == "DATABASE_URL")
            } else {
                n.starts_with("REDIS_")
            }
        })
        .map(str::to_owned)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        out.push(
            if kind.is_database() {
                "DATABASE_URL"
            } else {
                "REDIS_URL"
            }
            .to_owned(),
        );
    }
    out
}

/// Adds to `report` the services of the `.env.example` and compose file, after those
/// of its dependencies (`found`), with the variables of `vars`.
pub(crate) fn complete(
    report: &mut Report,
    mut found: Found,
    ctx: &super::Ctx,
    vars: impl Fn(ServiceKind) -> Vec<String>,
) {
    found.add_env(&ctx.env);
    found.add_compose(ctx.repo);
    report.services = found.finish(vars);
    for s in &mut report.services {
        s.schemes = driver_schemes(s.kind, &s.env, &ctx.env);
    }
    let dbs: Vec<&str> = report
        .services
        .iter()
        .filter(|s| s.kind.is_database())
        .map(|s| s.kind.as_str())
        .collect();
    if dbs.len() > 1 {
        // Applications that support several databases (a driver each, a profile or a
        // setting choosing) need only one: say so instead of silently keeping both.
        report.notes.push(format!(
            "several databases found ({}): the application probably uses one, chosen by its configuration; keep the one it uses",
            dbs.join(", ")
        ));
    }
}

/// The schemes with a driver (`postgresql+psycopg`, `mysql+pymysql`) that the example
/// environment file gives the URL variables of a service of `kind` among `vars`.
fn driver_schemes(kind: ServiceKind, vars: &[String], env: &[EnvVar]) -> BTreeMap<String, String> {
    let bases: &[&str] = match kind {
        ServiceKind::Postgres => &["postgresql", "postgres"],
        ServiceKind::Mysql => &["mysql", "mariadb"],
        ServiceKind::Redis => &[],
    };
    let mut out = BTreeMap::new();
    for v in env.iter().filter(|v| vars.contains(&v.name)) {
        let Some((scheme, _)) = v.value.split_once("://") else {
            continue;
        };
        let scheme = scheme.to_ascii_lowercase();
        let Some((base, driver)) = scheme.split_once('+') else {
            continue;
        };
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if bases.contains(&base) && word(driver) {
            out.entry(v.name.clone()).or_insert(scheme);
        }
    }
    out
}

/// The line of a needle in a file, for a settings evidence.
pub(crate) fn settings_evidence(file: &str, text: &str, needle: &str, what: &str) -> Evidence {
    match line_of(text, needle) {
        Some(l) => Evidence::at(file, l, what.to_owned()),
        None => Evidence::file(file, what.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &Found) -> Vec<(ServiceKind, Vec<String>)> {
        f.kinds
            .iter()
            .map(|(k, v)| (*k, v.iter().map(Evidence::place).collect()))
            .collect()
    }

    #[test]
    fn env_files_name_services_by_scheme_and_driver_never_by_redis_host() {
        let env = parse_env(
            ".env.example",
            "# comment\nexport DATABASE_URL=\"postgresql+psycopg://u:p@db/x\" # inline\nREDIS_HOST=127.0.0.1\nCACHE_URL=redis://cache:6379\nSENTRY_DSN=https://k@sentry.io/1\nDB_CONNECTION=sqlite\nbad line\n",
        );
        assert_eq!(
            env.iter()
                .map(|v| (v.name.as_str(), v.line))
                .collect::<Vec<_>>(),
            [
                ("DATABASE_URL", 2),
                ("REDIS_HOST", 3),
                ("CACHE_URL", 4),
                ("SENTRY_DSN", 5),
                ("DB_CONNECTION", 6)
            ]
        );
        assert_eq!(env[0].value, "postgresql+psycopg://u:p@db/x");
        let mut f = Found::default();
        f.add_env(&env);
        assert_eq!(
            kinds(&f),
            [
                (ServiceKind::Postgres, vec![".env.example:2".to_owned()]),
                (ServiceKind::Redis, vec![".env.example:4".to_owned()])
            ]
        );
        // No value appears in the evidence.
        assert!(f.kinds.values().flatten().all(|e| !e.note.contains("u:p")));
    }

    /// A driver named in the example's URL is kept (#11: the Flask fixture's
    /// `mysql+pymysql`); a bare scheme, another kind's, or an undeclared variable is not.
    #[test]
    fn driver_schemes_of_the_example_urls() {
        let env = parse_env(
            ".env.example",
            "DATABASE_URL=mysql+pymysql://u:p@db/x\nOTHER_URL=postgresql+psycopg://u:p@db/y\nREPLICA_URL=mysql://u:p@db/x\nCACHE_URL=redis+sentinel://c\n",
        );
        let vars = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            driver_schemes(
                ServiceKind::Mysql,
                &vars(&["DATABASE_URL", "REPLICA_URL", "OTHER_URL"]),
                &env
            ),
            BTreeMap::from([("DATABASE_URL".to_owned(), "mysql+pymysql".to_owned())])
        );
        assert_eq!(
            driver_schemes(ServiceKind::Postgres, &vars(&["OTHER_URL"]), &env),
            BTreeMap::from([("OTHER_URL".to_owned(), "postgresql+psycopg".to_owned())])
        );
        assert!(driver_schemes(ServiceKind::Redis, &vars(&["CACHE_URL"]), &env).is_empty());
        assert!(driver_schemes(ServiceKind::Postgres, &vars(&["DATABASE_URL"]), &env).is_empty());
    }

    #[test]
    fn compose_images_with_registries_and_tags() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("compose.yaml"),
            "services:\n  db:\n    image: \"docker.io/bitnami/postgresql:16\"\n  q:\n    image: mariadb@sha256:abc\n  c:\n    image: valkey/valkey:8 # cache\n  web:\n    image: nginx\n",
        )
        .unwrap();
        let mut f = Found::default();
        f.add_compose(&Repo::new(d.path()));
        assert_eq!(
            kinds(&f),
            [
                (ServiceKind::Postgres, vec!["compose.yaml:3".to_owned()]),
                (ServiceKind::Mysql, vec!["compose.yaml:5".to_owned()]),
                (ServiceKind::Redis, vec!["compose.yaml:7".to_owned()])
            ]
        );
    }

    #[test]
    fn declared_variables_win_over_the_conventional_url() {
        let env = parse_env(
            "e",
            "DB_HOST=x\nMYSQL_USER=y\nPOSTGRES_DB=z\nREDIS_PORT=1\n",
        );
        assert_eq!(
            declared_or_url(ServiceKind::Postgres, &env),
            ["DB_HOST", "POSTGRES_DB"]
        );
        assert_eq!(
            declared_or_url(ServiceKind::Mysql, &env),
            ["DB_HOST", "MYSQL_USER"]
        );
        assert_eq!(declared_or_url(ServiceKind::Redis, &env), ["REDIS_PORT"]);
        assert_eq!(declared_or_url(ServiceKind::Redis, &[]), ["REDIS_URL"]);
        assert_eq!(
            declared_or_url(ServiceKind::Postgres, &[]),
            ["DATABASE_URL"]
        );
    }
}
