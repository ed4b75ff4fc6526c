//! What lbc knows about each type of service. The contract is the official images'
//! (postgres:15, mariadb:10.11, redis:7): their environment variables, data paths, ports
//! and client tools, so that the upstream images and an organisation's approved ones
//! (built the same way) behave alike.
//!
//! Every command that runs inside a service's container is an argv. Where the client's
//! name differs between images (`mariadb-dump` or `mysqldump`), a constant `sh -c`
//! script picks it and every value arrives as a positional argument (`"$1"`), never
//! spliced into the script.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::EnvVar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// PostgreSQL (catalogue name `postgres`).
    Postgres,
    /// MySQL protocol, served by MariaDB (catalogue name `mariadb`).
    #[serde(alias = "mariadb")]
    Mysql,
    /// Redis (catalogue name `redis`).
    Redis,
}

/// Passwords of one service (see `credentials`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Secrets {
    /// The app user's password (redis: `requirepass`).
    pub password: String,
    /// MySQL's root password, kept for backups and restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
}

/// The server's environment for one service and the user/database the app uses.
pub struct ServerSpec<'a> {
    pub user: &'a str,
    pub database: &'a str,
    pub secrets: &'a Secrets,
}

/// Constant scripts (values only as `"$1"`, `"$2"`...).
const MYSQL_ADMIN_PING: &str = "p=$(command -v mariadb-admin || command -v mysqladmin) && exec \"$p\" ping --host=127.0.0.1 --protocol=tcp --user=root --silent";
const MYSQL_CLIENT: &str = "p=$(command -v mariadb || command -v mysql) && exec \"$p\" \"$@\"";
const MYSQL_DUMP: &str =
    "p=$(command -v mariadb-dump || command -v mysqldump) && exec \"$p\" \"$@\"";
const MYSQL_RESTORE: &str =
    "p=$(command -v mariadb || command -v mysql) && exec \"$p\" --user=root \"$1\" < \"$2\"";
const REDIS_PING: &str = "[ \"$(redis-cli -h 127.0.0.1 ping)\" = PONG ]";
/// Redis takes its password as an option: the value comes from the container's
/// environment, through the image's own entrypoint (which drops root).
const REDIS_SERVER: &str =
    "exec docker-entrypoint.sh redis-server --requirepass \"$REDIS_PASSWORD\"";

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Redis => "redis",
        }
    }
    pub fn default_version(self) -> &'static str {
        match self {
            Kind::Postgres => "15",
            Kind::Mysql => "10.11",
            Kind::Redis => "7",
        }
    }
    /// The catalogue's name for the type's image (`NAME-VERSION` is looked up first).
    pub fn catalog_name(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mariadb",
            Kind::Redis => "redis",
        }
    }
    pub fn default_variable(self) -> &'static str {
        match self {
            Kind::Postgres | Kind::Mysql => "DATABASE_URL",
            Kind::Redis => "REDIS_URL",
        }
    }
    pub fn port(self) -> u16 {
        match self {
            Kind::Postgres => 5432,
            Kind::Mysql => 3306,
            Kind::Redis => 6379,
        }
    }
    /// Where the image keeps its data (the volume's mount point).
    pub fn data_path(self) -> &'static str {
        match self {
            Kind::Postgres => "/var/lib/postgresql/data",
            Kind::Mysql => "/var/lib/mysql",
            Kind::Redis => "/data",
        }
    }
    pub fn needs_root_password(self) -> bool {
        self == Kind::Mysql
    }
    /// Backup file extension.
    pub fn dump_extension(self) -> &'static str {
        match self {
            Kind::Postgres => "dump",
            Kind::Mysql => "sql",
            Kind::Redis => "rdb",
        }
    }

    /// The variables the image reads on its first start.
    pub fn server_env(self, spec: &ServerSpec) -> Vec<EnvVar> {
        let pw = spec.secrets.password.clone();
        match self {
            Kind::Postgres => vec![
                EnvVar::plain("POSTGRES_USER", spec.user),
                EnvVar::plain("POSTGRES_DB", spec.database),
                EnvVar::secret("POSTGRES_PASSWORD", pw),
            ],
            Kind::Mysql => {
                let root = spec.secrets.root_password.clone().unwrap_or_default();
                // MARIADB_* for mariadb images, MYSQL_* for mysql ones (mariadb reads both).
                vec![
                    EnvVar::plain("MARIADB_USER", spec.user),
                    EnvVar::plain("MARIADB_DATABASE", spec.database),
                    EnvVar::secret("MARIADB_PASSWORD", pw.clone()),
                    EnvVar::secret("MARIADB_ROOT_PASSWORD", root.clone()),
                    EnvVar::plain("MYSQL_USER", spec.user),
                    EnvVar::plain("MYSQL_DATABASE", spec.database),
                    EnvVar::secret("MYSQL_PASSWORD", pw),
                    EnvVar::secret("MYSQL_ROOT_PASSWORD", root),
                ]
            }
            Kind::Redis => vec![EnvVar::secret("REDIS_PASSWORD", pw)],
        }
    }

    /// The container's command (after the image), when the image's default is not enough.
    pub fn server_command(self) -> Vec<String> {
        match self {
            Kind::Redis => vec!["sh".into(), "-c".into(), REDIS_SERVER.into()],
            _ => Vec::new(),
        }
    }

    /// The environment `docker exec` passes into the container for client commands
    /// (by name; the values are in lbc's child environment).
    pub fn client_env(self, secrets: &Secrets) -> Vec<EnvVar> {
        match self {
            Kind::Postgres => Vec::new(),
            Kind::Mysql => vec![EnvVar::secret(
                "MYSQL_PWD",
                secrets.root_password.clone().unwrap_or_default(),
            )],
            Kind::Redis => vec![EnvVar::secret("REDISCLI_AUTH", secrets.password.clone())],
        }
    }

    /// A command (inside the container) that succeeds once the server accepts
    /// connections over TCP: the init servers of the official images listen on a socket
    /// only, so this tells the real server from the one that sets the data up.
    pub fn ready_probe(self, user: &str, database: &str) -> Vec<String> {
        match self {
            Kind::Postgres => vec![
                "pg_isready".into(),
                "--quiet".into(),
                "--host=127.0.0.1".into(),
                format!("--port={}", self.port()),
                format!("--username={user}"),
                format!("--dbname={database}"),
            ],
            Kind::Mysql => vec!["sh".into(), "-c".into(), MYSQL_ADMIN_PING.into()],
            Kind::Redis => vec!["sh".into(), "-c".into(), REDIS_PING.into()],
        }
    }

    /// A query printing the server's version.
    pub fn version_query(self, user: &str, database: &str) -> Vec<String> {
        match self {
            Kind::Postgres => psql(user, database, "SHOW server_version"),
            Kind::Mysql => mysql_query(database, "SELECT VERSION()"),
            Kind::Redis => vec![
                "redis-cli".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "INFO".into(),
                "server".into(),
            ],
        }
    }

    /// `mariadb-10.11.19`, `postgres-15.20`, `redis-7.0.15` from the version query's output.
    pub fn parse_version(self, out: &str) -> Option<String> {
        let v = match self {
            Kind::Redis => out
                .lines()
                .find_map(|l| l.trim().strip_prefix("redis_version:"))?
                .trim()
                .to_owned(),
            _ => out.split_whitespace().next()?.to_owned(),
        };
        let clean: String = match self {
            Kind::Mysql => v.split('-').next().unwrap_or(&v).to_owned(),
            _ => v.clone(),
        };
        if clean.is_empty() || !clean.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return None;
        }
        let name = match self {
            Kind::Mysql if !v.contains("MariaDB") => "mysql",
            k => k.catalog_name(),
        };
        Some(format!("{name}-{clean}"))
    }

    /// A query printing something non-empty and non-zero when the database holds data.
    pub fn data_query(self, user: &str, database: &str) -> Vec<String> {
        match self {
            Kind::Postgres => psql(
                user,
                database,
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            ),
            Kind::Mysql => mysql_query(
                database,
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
            ),
            Kind::Redis => vec![
                "redis-cli".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "INFO".into(),
                "keyspace".into(),
            ],
        }
    }

    /// Whether the data query's output says the database holds data.
    pub fn has_data(self, out: &str) -> bool {
        match self {
            Kind::Redis => out.lines().any(|l| l.starts_with("db")),
            _ => out.trim().parse::<u64>().map(|n| n > 0).unwrap_or(true),
        }
    }

    /// A consistent dump written to `file` inside the container.
    pub fn dump(self, user: &str, database: &str, file: &str) -> Vec<String> {
        match self {
            Kind::Postgres => vec![
                "pg_dump".into(),
                "--format=custom".into(),
                format!("--username={user}"),
                format!("--dbname={database}"),
                format!("--file={file}"),
            ],
            Kind::Mysql => vec![
                "sh".into(),
                "-c".into(),
                MYSQL_DUMP.into(),
                "sh".into(),
                "--user=root".into(),
                "--single-transaction".into(),
                "--routines".into(),
                "--triggers".into(),
                "--events".into(),
                format!("--result-file={file}"),
                database.into(),
            ],
            Kind::Redis => vec![
                "redis-cli".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "--rdb".into(),
                file.into(),
            ],
        }
    }

    /// Load a dump from `file` inside the container (postgres, mysql; redis is restored
    /// by replacing its RDB file while the server is stopped).
    pub fn restore(self, user: &str, database: &str, file: &str) -> Vec<String> {
        match self {
            Kind::Postgres => vec![
                "pg_restore".into(),
                "--clean".into(),
                "--if-exists".into(),
                "--no-owner".into(),
                "--no-privileges".into(),
                "--single-transaction".into(),
                "--exit-on-error".into(),
                format!("--username={user}"),
                format!("--dbname={database}"),
                file.into(),
            ],
            Kind::Mysql => vec![
                "sh".into(),
                "-c".into(),
                MYSQL_RESTORE.into(),
                "sh".into(),
                database.into(),
                file.into(),
            ],
            Kind::Redis => Vec::new(),
        }
    }
}

fn psql(user: &str, database: &str, sql: &str) -> Vec<String> {
    vec![
        "psql".into(),
        "--no-psqlrc".into(),
        "--tuples-only".into(),
        "--no-align".into(),
        format!("--username={user}"),
        format!("--dbname={database}"),
        format!("--command={sql}"),
    ]
}

fn mysql_query(database: &str, sql: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        MYSQL_CLIENT.into(),
        "sh".into(),
        "--user=root".into(),
        "--batch".into(),
        "--skip-column-names".into(),
        format!("--database={database}"),
        format!("--execute={sql}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            Kind::Postgres
                .parse_version("15.20 (Debian 15.20-0+deb12u1)\n")
                .as_deref(),
            Some("postgres-15.20")
        );
        assert_eq!(
            Kind::Mysql
                .parse_version("10.11.19-MariaDB-0+deb12u1\n")
                .as_deref(),
            Some("mariadb-10.11.19")
        );
        assert_eq!(
            Kind::Mysql.parse_version("8.0.36\n").as_deref(),
            Some("mysql-8.0.36")
        );
        assert_eq!(
            Kind::Redis
                .parse_version("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n")
                .as_deref(),
            Some("redis-7.0.15")
        );
        assert_eq!(Kind::Postgres.parse_version("../../x"), None);
    }

    #[test]
    fn data_detection() {
        assert!(Kind::Postgres.has_data("3\n"));
        assert!(!Kind::Postgres.has_data("0\n"));
        assert!(Kind::Redis.has_data("# Keyspace\r\ndb0:keys=1,expires=0\r\n"));
        assert!(!Kind::Redis.has_data("# Keyspace\r\n"));
    }
}
