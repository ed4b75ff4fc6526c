//! Backing services (issue #10): a database or a cache beside the app, declared in
//! `[services.NAME]` of lbc.toml, provisioned per environment, with the connection given
//! to the app (and to tasks) as environment variables.
//!
//! - [`kinds`]: what lbc knows about each type (image, port, data path, probes, dumps);
//! - [`credentials`]: passwords generated once per environment, kept outside the
//!   repository with owner-only permissions;
//! - [`local`]: the Docker side (network, volumes, containers, readiness, migrations);
//! - [`kube`]: the Kubernetes side (provisioned or external services, the chart's
//!   `services.env`, the migration hook's command, the scheduled backup);
//! - [`backup`]: dumps and restores.

pub mod backup;
pub mod credentials;
pub mod kinds;
pub mod kube;
pub mod local;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{is_env_name, Loaded};
use crate::error::Error;
use crate::plan::EnvVar;

pub use kinds::Kind;

/// One backing service of `[services.NAME]`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `postgres`, `mysql` (MariaDB; `mariadb` is accepted too) or `redis`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Server version, the tag looked up in the catalogue (default: postgres 15,
    /// mysql 10.11, redis 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// An image reference (or a catalogue name) instead of the catalogue's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Database name (postgres, mysql; default: the project name with '-' as '_').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The user the app connects as (postgres, mysql; default: like `database`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The variables the app gets, by name, each a template of `{host}`, `{port}`,
    /// `{database}`, `{user}`, `{password}` and `{url}`. Without it: `DATABASE_URL`
    /// (postgres, mysql) or `REDIS_URL` (redis), prefixed by the service's name
    /// (`CACHE_REDIS_URL`) for a second service of the same kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Service {
    pub fn version(&self) -> &str {
        self.version
            .as_deref()
            .unwrap_or_else(|| self.kind.default_version())
    }
    pub fn database(&self, project: &str) -> String {
        match self.kind {
            Kind::Redis => "0".into(),
            _ => self
                .database
                .clone()
                .unwrap_or_else(|| project.replace('-', "_")),
        }
    }
    pub fn user(&self, project: &str) -> String {
        match self.kind {
            Kind::Redis => "default".into(),
            _ => self
                .user
                .clone()
                .unwrap_or_else(|| project.replace('-', "_")),
        }
    }
}

/// The placeholders a variable's template may use.
pub const PLACEHOLDERS: &[&str] = &["host", "port", "database", "user", "password", "url"];

/// How the app reaches one service.
#[derive(Debug, Clone)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
}

impl Connection {
    pub fn url(&self, kind: Kind) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let (user, pw, db) = (
            encode(&self.user),
            encode(&self.password),
            encode(&self.database),
        );
        match kind {
            Kind::Postgres => format!("postgresql://{user}:{pw}@{host}:{}/{db}", self.port),
            Kind::Mysql => format!("mysql://{user}:{pw}@{host}:{}/{db}", self.port),
            Kind::Redis => format!("redis://{user}:{pw}@{host}:{}/{db}", self.port),
        }
    }

    fn value(&self, kind: Kind, placeholder: &str) -> String {
        match placeholder {
            "host" => self.host.clone(),
            "port" => self.port.to_string(),
            "database" => self.database.clone(),
            "user" => self.user.clone(),
            "password" => self.password.clone(),
            "url" => self.url(kind),
            _ => unreachable!("validated at load"),
        }
    }
}

/// Percent-encode a URL's user, password or path part (RFC 3986 unreserved kept).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pieces of a template: literal text and placeholders, or the first unknown name.
pub(crate) fn template_parts(t: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        if i > 0 {
            parts.push((false, &rest[..i]));
        }
        let after = &rest[i + 1..];
        let Some(j) = after.find('}') else {
            return Err("a `{` without its `}`".into());
        };
        let name = &after[..j];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("`{{{name}}}` is not a placeholder"));
        }
        parts.push((true, name));
        rest = &after[j + 1..];
    }
    if !rest.is_empty() {
        parts.push((false, rest));
    }
    Ok(parts)
}

/// The services in the order of the file (the first of a kind gets the unprefixed name).
pub fn ordered(l: &Loaded) -> Vec<(&String, &Service)> {
    let mut v: Vec<_> = l.config.services.iter().collect();
    v.sort_by_key(|(name, _)| {
        crate::config::locate(&l.raw, &["services", name], false)
            .map(|r| r.start)
            .unwrap_or(usize::MAX)
    });
    v
}

/// The variables each service gives the app, as (service, variable, template), file order.
pub fn variables(l: &Loaded) -> Vec<(String, String, String)> {
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, s) in ordered(l) {
        if s.env.is_empty() {
            let base = s.kind.default_variable();
            let n = seen.entry(base).or_insert(0);
            let var = if *n == 0 {
                base.to_owned()
            } else {
                format!("{}_{base}", name.to_ascii_uppercase().replace('-', "_"))
            };
            *n += 1;
            out.push((name.clone(), var, "{url}".to_owned()));
        } else {
            for (var, t) in &s.env {
                out.push((name.clone(), var.clone(), t.clone()));
            }
        }
    }
    out
}

/// The environment the app (or a task) gets for these services: secret when the value
/// carries the password.
pub fn connection_env(l: &Loaded, conns: &BTreeMap<String, Connection>) -> Vec<EnvVar> {
    let mut out = Vec::new();
    for (service, var, template) in variables(l) {
        let Some(conn) = conns.get(&service) else {
            continue;
        };
        let kind = l.config.services[&service].kind;
        let parts = template_parts(&template).expect("validated at load");
        let mut value = String::new();
        let mut secret = false;
        for (is_ph, text) in parts {
            if is_ph {
                secret |= matches!(text, "password" | "url");
                value.push_str(&conn.value(kind, text));
            } else {
                value.push_str(text);
            }
        }
        out.push(if secret {
            EnvVar::secret(var, value)
        } else {
            EnvVar::plain(var, value)
        });
    }
    out
}

/// Checks of `[services]` at load time (exit 2 with file, line, column and a fix).
pub fn validate(l: &Loaded) -> Result<(), Error> {
    let c = &l.config;
    for (name, s) in &c.services {
        if let Err(why) = crate::config::check_dns_label(name) {
            return Err(l.error_at_key(
                &["services", name],
                &format!("service name `{name}` is not valid: {why}"),
                Some(format!(
                    "use lowercase letters, digits and '-', like `{}` (it is the service's host name on the environment's network)",
                    crate::config::suggest_dns_label(name)
                )),
            ));
        }
        if let Some(v) = &s.version {
            if !is_tag(v) {
                return Err(l.error_at(
                    &["services", name, "version"],
                    &format!("version `{v}` is not a valid image tag"),
                    Some(format!(
                        "write it like `version = \"{}\"`",
                        s.kind.default_version()
                    )),
                ));
            }
        }
        if let Some(i) = &s.image {
            // The one image-reference type (#8), which also refuses an option (#9).
            if let Err(e) = crate::image::ImageRef::parse(i) {
                return Err(l.error_at(
                    &["services", name, "image"],
                    &format!("`{}` is not an image reference: {}", crate::validate::excerpt(i), e.reason),
                    Some(format!(
                        "give a reference like `registry.example.com/approved/{}:{}`, or remove `image` to use the catalogue",
                        s.kind.catalog_name(),
                        s.version()
                    )),
                ));
            }
        }
        for (key, v) in [("database", &s.database), ("user", &s.user)] {
            if let Some(v) = v {
                if s.kind == Kind::Redis {
                    return Err(l.error_at(
                        &["services", name, key],
                        &format!("`{key}` does not apply to a redis service"),
                        Some(format!("remove `{key}` from [services.{name}]")),
                    ));
                }
                if !is_sql_name(v) {
                    return Err(l.error_at(
                        &["services", name, key],
                        &format!("{key} name `{v}` is not valid"),
                        Some(
                            "use letters, digits and '_', starting with a letter (at most 63)"
                                .into(),
                        ),
                    ));
                }
                if key == "user" && s.kind == Kind::Mysql && v == "root" {
                    return Err(l.error_at(
                        &["services", name, key],
                        "the app cannot connect as `root`: lbc keeps root for backups and restores",
                        Some("choose another user name, or remove `user`".into()),
                    ));
                }
            }
        }
        for (var, t) in &s.env {
            if !is_env_name(var) {
                return Err(l.error_at(
                    &["services", name, "env", var],
                    &format!("`{var}` is not an environment variable name"),
                    Some(
                        "use letters, digits and '_', not starting with a digit, e.g. `DB_HOST`"
                            .into(),
                    ),
                ));
            }
            if let Err(why) = template_parts(t) {
                return Err(l.error_at(
                    &["services", name, "env", var],
                    &format!("the value of `{var}` is not a valid template: {why}"),
                    Some(format!(
                        "use the placeholders {}, e.g. `{var} = \"{{host}}\"`",
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ));
            }
        }
    }
    // One variable, one source.
    let vars = variables(l);
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (service, var, _) in &vars {
        if let Some(first) = owner.insert(var, service) {
            let key: Vec<&str> = if c.services[service.as_str()].env.is_empty() {
                vec!["services", service]
            } else {
                vec!["services", service, "env", var]
            };
            return Err(l.error_at(
                &key,
                &format!("services `{first}` and `{service}` both set `{var}`"),
                Some(format!(
                    "name the variables of one of them, e.g.\n  [services.{service}.env]\n  {}_URL = \"{{url}}\"",
                    service.to_ascii_uppercase().replace('-', "_")
                )),
            ));
        }
        for (env_name, env) in &c.env {
            if env.vars.contains_key(var) {
                return Err(l.error_at(
                    &["env", env_name, "vars", var],
                    &format!("`{var}` is set both here and by service `{service}`"),
                    Some(format!(
                        "remove it from [env.{env_name}.vars] (lbc sets it from the service), or name the service's variables under [services.{service}.env]"
                    )),
                ));
            }
        }
        if var.starts_with("LBC_") {
            return Err(l.error_at(
                &["services", service],
                &format!("`{var}` starts with LBC_, which lbc keeps for its own variables"),
                Some(format!("name it otherwise under [services.{service}.env]")),
            ));
        }
    }
    backup::validate(l)?;
    kube::validate(l)?;
    for (name, task) in &c.tasks {
        for s in task.services.iter().flatten() {
            if !c.services.contains_key(s) {
                return Err(l.error_at(
                    &["tasks", name, "services"],
                    &format!("task `{name}` lists service `{s}`, which is not declared"),
                    Some(if c.services.is_empty() {
                        format!("declare it, e.g.\n  [services.{s}]\n  type = \"postgres\"")
                    } else {
                        format!(
                            "declared services: {}",
                            c.services.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }),
                ));
            }
        }
    }
    Ok(())
}

fn is_tag(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_sql_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 63
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Kubernetes environments deployed from plain manifests or a kustomization do not get
/// the services (they reach the app through a Helm chart's values): say so rather than
/// let the app start without its connection variables.
pub fn warn_kubernetes(l: &Loaded, env_name: &str) {
    if l.config.services.is_empty() {
        return;
    }
    let vars: Vec<String> = variables(l).into_iter().map(|(_, v, _)| v).collect();
    crate::ui::warn(&format!(
        "[services] are provisioned for docker environments and Kubernetes environments deployed with a Helm chart: `{env_name}` (manifests or kustomize) gets neither the services nor {} from lbc; give them to the app in your manifests (e.g. from a Secret your platform manages)",
        vars.join(", ")
    ));
}

/// The services a task runs with: those it lists; `test-integration` gets every service
/// unless it says otherwise.
pub fn for_task<'a>(l: &'a Loaded, task_name: &str, listed: Option<&'a [String]>) -> Vec<String> {
    match listed {
        Some(v) => v.to_vec(),
        None if task_name == "test-integration" => l.config.services.keys().cloned().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(s: &str) -> Result<Loaded, Error> {
        crate::config::parse(Path::new("/repo/lbc.toml"), s)
    }

    #[test]
    fn default_variables_follow_the_file_order() {
        // issue #10: the first service of a kind gets DATABASE_URL, the next is prefixed.
        let l = load(
            "[project]\nname = \"shop\"\n[services.zdb]\ntype = \"postgres\"\n[services.audit]\ntype = \"mysql\"\n[services.cache]\ntype = \"redis\"\n",
        )
        .unwrap();
        let v: Vec<(String, String)> = variables(&l).into_iter().map(|(s, v, _)| (s, v)).collect();
        assert_eq!(
            v,
            vec![
                ("zdb".into(), "DATABASE_URL".into()),
                ("audit".into(), "AUDIT_DATABASE_URL".into()),
                ("cache".into(), "REDIS_URL".into()),
            ]
        );
    }

    #[test]
    fn templates_shape_values_and_mark_secrets() {
        let l = load(
            "[project]\nname = \"shop\"\n[services.db]\ntype = \"postgres\"\n[services.db.env]\nDB_HOST = \"{host}\"\nDB_PORT = \"{port}\"\nDB_NAME = \"{database}\"\nDB_USER = \"{user}\"\nDB_PASSWORD = \"{password}\"\nDATABASE_URL = \"{url}?sslmode=disable\"\n",
        )
        .unwrap();
        let mut conns = BTreeMap::new();
        conns.insert(
            "db".to_owned(),
            Connection {
                host: "db".into(),
                port: 5432,
                database: "shop".into(),
                user: "shop".into(),
                password: "p@ss".into(),
            },
        );
        let env = connection_env(&l, &conns);
        let get = |n: &str| env.iter().find(|v| v.name == n).unwrap();
        assert_eq!(get("DB_HOST").value.as_deref(), Some("db"));
        assert_eq!(get("DB_PORT").value.as_deref(), Some("5432"));
        assert!(get("DB_PASSWORD").secret);
        assert!(get("DATABASE_URL").secret);
        assert_eq!(
            get("DATABASE_URL").real_value(),
            "postgresql://shop:p%40ss@db:5432/shop?sslmode=disable"
        );
    }

    #[test]
    fn test_integration_gets_every_service_unless_it_lists_its_own() {
        // issue #10: `lbc test integration` runs with the services up.
        let l = load(
            "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[services.cache]\ntype = \"redis\"\n",
        )
        .unwrap();
        let mut all = for_task(&l, "test-integration", None);
        all.sort();
        assert_eq!(all, vec!["cache", "db"]);
        assert!(for_task(&l, "test-integration", Some(&[])).is_empty());
        assert!(for_task(&l, "test-unit", None).is_empty());
        assert_eq!(for_task(&l, "x", Some(&["db".to_owned()])), vec!["db"]);
    }

    #[test]
    fn bad_services_point_at_the_line() {
        // issue #10: unknown type, bad names, clashes: exit 2 with file:line:column.
        let cases = [
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"oracle\"\n",
                "/repo/lbc.toml:4:8",
            ),
            (
                "[project]\nname = \"x\"\n[services.Db_1]\ntype = \"redis\"\n",
                "/repo/lbc.toml:3",
            ),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[services.db.env]\n\"1X\" = \"{host}\"\n",
                "/repo/lbc.toml:6",
            ),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[services.db.env]\nX = \"{hots}\"\n",
                "/repo/lbc.toml:6:5",
            ),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[env.local]\nkind = \"docker\"\nvars = { DATABASE_URL = \"x\" }\n",
                "/repo/lbc.toml:7",
            ),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[services.db2]\ntype = \"postgres\"\n[services.db2.env]\nDATABASE_URL = \"{url}\"\n",
                "/repo/lbc.toml:8",
            ),
            (
                "[project]\nname = \"x\"\n[services.db]\ntype = \"postgres\"\n[tasks.t]\nrun = \"true\"\nservices = [\"cache\"]\n",
                "/repo/lbc.toml:7",
            ),
        ];
        for (toml, at) in cases {
            let err = load(toml).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{toml}");
            let text = err.to_string();
            assert!(text.contains(at), "{toml}\n---\n{text}");
            assert!(err.hint().is_some(), "{toml}");
        }
    }
}
