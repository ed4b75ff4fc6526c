//! Per-customer instances (issue #12): one release of the project per customer, each in
//! its own namespace, on its own host `NAME.DOMAIN` (the environment's wildcard domain),
//! with its own values, services and backup schedule.
//!
//! Instances are declared in the repository, one file each (`instances/NAME.toml`,
//! reviewed like code), and validated when loaded, with errors that name the file and
//! line as lbc.toml's do. [`batch`] deploys (and promotes to) many of them at once with
//! bounded parallelism; [`report`] shows them (`lbc status ENV`).

pub mod batch;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Environment, Loaded};
use crate::error::Error;
use crate::image::ImageRef;
use crate::validate;

/// The directory of the instance files, under the project root.
pub const DIR: &str = "instances";

/// The label lbc puts on an instance's release (and reads back in `lbc status`).
pub const INSTANCE_LABEL: &str = "lbc-instance";

/// One `instances/NAME.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The environments the instance runs in (default: every environment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Kubernetes namespace (default `PROJECT-NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The host it is served at (default `NAME.DOMAIN`, DOMAIN being the environment's
    /// `domain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When its backups run: a cron expression of five fields (the chart's
    /// `backup.schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_schedule: Option<String>,
    /// Docker environments: the host port (default: the environment's port + 1 + the
    /// instance's position in the sorted list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Helm values of this instance, over the environment's `set` (same syntax).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Docker environments: variables of the container, over the environment's `vars`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

/// An instance, loaded.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub path: PathBuf,
    raw: String,
    pub spec: Spec,
}

impl Instance {
    /// Its namespace: `namespace`, else `PROJECT-NAME`.
    pub fn namespace(&self, project: &str) -> String {
        self.spec
            .namespace
            .clone()
            .unwrap_or_else(|| format!("{project}-{}", self.name))
    }

    /// Its host in an environment: `host`, else `NAME.DOMAIN` when the environment has
    /// a `domain`.
    pub fn host(&self, env: &Environment) -> Option<String> {
        self.spec
            .host
            .clone()
            .or_else(|| env.domain.as_ref().map(|d| format!("{}.{d}", self.name)))
    }

    /// Its URL in an environment (https: the chart asks cert-manager for a certificate).
    pub fn url(&self, env: &Environment) -> Option<String> {
        self.host(env).map(|h| format!("https://{h}"))
    }

    /// Whether it runs in `env_name`.
    pub fn in_env(&self, env_name: &str) -> bool {
        self.spec.environments.is_empty() || self.spec.environments.iter().any(|e| e == env_name)
    }

    /// The values lbc gives the chart for this instance, as one document: the
    /// environment's `set`, the instance's `set` over it, then its host
    /// (`ingress.host`), backup schedule (`backup.schedule`) and the image.
    pub fn values(
        &self,
        env: &Environment,
        image: Option<&ImageRef>,
        services: Option<&serde_json::Value>,
    ) -> String {
        let mut set = env.set.clone();
        set.extend(self.spec.set.clone());
        if let Some(h) = self.host(env) {
            set.insert("ingress.host".into(), h);
        }
        if let Some(s) = &self.spec.backup_schedule {
            set.insert("backup.schedule".into(), s.clone());
        }
        crate::targets::helm::lbc_values(&set, image, services)
    }

    /// A configuration error pointing at `key` in the instance's file.
    pub fn error_at(&self, key: &[&str], message: &str, hint: Option<String>) -> Error {
        let span = crate::config::locate(&self.raw, key, false);
        Error::Config {
            rendered: crate::config::render_at(&self.path, &self.raw, span, message),
            hint,
        }
    }
}

/// Every instance of a project, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Instances {
    pub list: Vec<Instance>,
    pub dir: PathBuf,
}

impl Instances {
    /// The named instance, or exit 2 listing the known ones.
    pub fn get(&self, name: &str) -> Result<&Instance, Error> {
        self.list
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| unknown(name, &self.names()))
    }

    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|i| i.name.as_str()).collect()
    }

    /// The instances that run in an environment.
    pub fn for_env(&self, env_name: &str) -> Vec<&Instance> {
        self.list.iter().filter(|i| i.in_env(env_name)).collect()
    }

    /// Its position among all instances (for a docker environment's default port).
    pub fn position(&self, name: &str) -> usize {
        self.list.iter().position(|i| i.name == name).unwrap_or(0)
    }
}

/// The error of an unknown instance: exit 2, listing the known ones.
pub fn unknown(name: &str, known: &[&str]) -> Error {
    Error::usage(
        format!("unknown instance `{}`", validate::excerpt(name)),
        Some(if known.is_empty() {
            format!(
                "no instance is declared yet: `lbc instance add {}` writes {DIR}/NAME.toml",
                validate::excerpt(name)
            )
        } else {
            format!("known instances: {}", known.join(", "))
        }),
    )
}

/// An instance name: a DNS label (it becomes part of a namespace and of a host name).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    crate::config::check_dns_label(name)
}

/// A cron expression of five fields (minute hour day month weekday), each of digits,
/// `*`, `,`, `-` and `/` (or names like `mon`, `jan`); `@hourly`-style macros too.
pub fn check_schedule(s: &str) -> Result<(), &'static str> {
    const MACROS: [&str; 7] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    if MACROS.contains(&s) {
        return Ok(());
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err("a cron schedule has five fields: minute hour day-of-month month day-of-week");
    }
    if fields.iter().any(|f| {
        !f.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
    }) {
        return Err("a cron field holds digits, names, '*', ',', '-' and '/'");
    }
    Ok(())
}

/// Load `instances/*.toml` of the project (none when the directory does not exist),
/// validated: names are DNS labels, environments exist, namespaces are valid, unique,
/// and never an environment's own namespace.
pub fn load(project: &Loaded) -> Result<Instances, Error> {
    let dir = project.root.join(DIR);
    let mut list = Vec::new();
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)
            .map_err(|e| crate::fsutil::io_err(&dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            list.push(load_one(project, &path)?);
        }
    }
    let instances = Instances { list, dir };
    check_all(project, &instances)?;
    Ok(instances)
}

fn load_one(project: &Loaded, path: &Path) -> Result<Instance, Error> {
    let bytes = fs_err::read(path).map_err(|e| crate::fsutil::io_err(path, e))?;
    let raw = crate::config::decode(path, bytes)?;
    parse_one(project, path, raw)
}

/// An instance from the text of its file (named by the file's stem), validated alone.
pub fn parse_one(project: &Loaded, path: &Path, raw: String) -> Result<Instance, Error> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if let Err(why) = check_name(&name) {
        return Err(Error::Config {
            rendered: format!(
                "{}: `{}` is not a valid instance name: {why}",
                path.display(),
                validate::excerpt(&name)
            ),
            hint: Some(format!(
                "rename the file: an instance name is a DNS label like `acme` ({DIR}/acme.toml)"
            )),
        });
    }
    let spec: Spec = toml::from_str(&raw).map_err(|e| Error::Config {
        rendered: crate::config::render_at(path, &raw, e.span(), e.message().trim()),
        hint: Some(
            "the keys of an instance are environments, namespace, host, backup_schedule, port, [set] and [vars] (docs/instances.md)"
                .into(),
        ),
    })?;
    let inst = Instance {
        name,
        path: path.to_owned(),
        raw,
        spec,
    };
    check_one(project, &inst)?;
    Ok(inst)
}

fn check_one(project: &Loaded, inst: &Instance) -> Result<(), Error> {
    let known: Vec<&str> = project.config.env.keys().map(String::as_str).collect();
    for e in &inst.spec.environments {
        if !project.config.env.contains_key(e) {
            return Err(inst.error_at(
                &["environments"],
                &format!(
                    "environment `{}` is not declared in {}",
                    validate::excerpt(e),
                    project.path.display()
                ),
                Some(format!("known environments: {}", known.join(", "))),
            ));
        }
    }
    let ns = inst.namespace(project.project());
    if let Err(why) = validate::namespace(&ns) {
        return Err(inst.error_at(
            &["namespace"],
            &format!(
                "namespace `{}` of instance `{}` is not valid: {why}",
                validate::excerpt(&ns),
                inst.name
            ),
            Some("set `namespace` to a DNS label of at most 63 characters".into()),
        ));
    }
    if let Some(h) = &inst.spec.host {
        if let Err(why) = validate::hostname(h) {
            return Err(inst.error_at(
                &["host"],
                &format!("host `{}` is not valid: {why}", validate::excerpt(h)),
                Some("write a host name like `acme.apps.example.com`, or remove `host` to get NAME.DOMAIN".into()),
            ));
        }
    }
    if let Some(s) = &inst.spec.backup_schedule {
        if let Err(why) = check_schedule(s) {
            return Err(inst.error_at(
                &["backup_schedule"],
                &format!(
                    "backup schedule `{}` is not valid: {why}",
                    validate::excerpt(s)
                ),
                Some("write a cron schedule like `0 * * * *` (hourly) or `@daily`".into()),
            ));
        }
    }
    for key in inst.spec.set.keys() {
        if let Err(why) = validate::helm_key(key) {
            return Err(inst.error_at(
                &["set", key],
                &format!(
                    "value path `{}` is not valid: {why}",
                    validate::excerpt(key)
                ),
                Some("write a Helm value path like `image.pullPolicy`".into()),
            ));
        }
    }
    for key in inst.spec.vars.keys() {
        if let Err(why) = validate::env_name(key) {
            return Err(inst.error_at(
                &["vars", key],
                &format!(
                    "variable name `{}` is not valid: {why}",
                    validate::excerpt(key)
                ),
                Some("use letters, digits and '_', not starting with a digit".into()),
            ));
        }
    }
    Ok(())
}

/// What no single file can check: two instances in one namespace, or an instance in an
/// environment's own namespace (its release would replace the environment's).
pub fn check_all(project: &Loaded, instances: &Instances) -> Result<(), Error> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for inst in &instances.list {
        let ns = inst.namespace(project.project());
        if let Some(other) = seen.insert(ns.clone(), &inst.name) {
            return Err(inst.error_at(
                &["namespace"],
                &format!(
                    "instance `{}` uses namespace `{ns}`, as instance `{other}` does",
                    inst.name
                ),
                Some("give each instance a namespace of its own".into()),
            ));
        }
        for (env_name, env) in &project.config.env {
            if env.namespace.as_deref() == Some(ns.as_str()) {
                return Err(inst.error_at(
                    &["namespace"],
                    &format!(
                        "instance `{}` would use namespace `{ns}`, the namespace of environment `{env_name}`: its release would replace the environment's",
                        inst.name
                    ),
                    Some("set another `namespace` in the instance's file".into()),
                ));
            }
        }
    }
    Ok(())
}

/// Run `f` on the project as instance `name` sees it in a docker environment (issue
/// #12): the project named `PROJECT-NAME`, so that its container, network, volumes,
/// credentials and backups are its own; its port (`port`, else the environment's port +
/// 1 + its position); its `vars` over the environment's. Without a name, `f` runs on
/// the project as it is.
pub fn with_instance<R>(
    ctx: &mut crate::commands::Ctx,
    env_name: &str,
    name: Option<&str>,
    f: impl FnOnce(&mut crate::commands::Ctx) -> Result<R, Error>,
) -> Result<R, Error> {
    let Some(name) = name else {
        return f(ctx);
    };
    let instances = load(&ctx.project)?;
    let inst = instances.get(name)?;
    let env = ctx.project.environment(env_name)?.clone();
    if env.kind == crate::config::EnvKind::Kubernetes {
        // Its release in its own namespace, its services' objects named as the
        // environment's, its backups named after the instance.
        let project = kube_project(&ctx.project, env_name, inst);
        crate::ui::info(&format!(
            "instance {}: namespace {}, backups named {}",
            inst.name,
            inst.namespace(ctx.project.project()),
            project.project(),
        ));
        let mut ictx = crate::commands::Ctx {
            settings: ctx.settings,
            project,
            runner: &mut *ctx.runner,
        };
        return f(&mut ictx);
    }
    let mut project = ctx.project.clone();
    project.config.project.name = format!("{}-{}", project.project(), inst.name);
    let e = project
        .config
        .env
        .get_mut(env_name)
        .expect("the environment exists");
    e.container_port = Some(env.container_port());
    e.port = Some(inst.spec.port.unwrap_or_else(|| {
        let offset = u16::try_from(instances.position(name) + 1).unwrap_or(u16::MAX);
        env.host_port().saturating_add(offset)
    }));
    e.vars.extend(inst.spec.vars.clone());
    let port = e.port.unwrap_or_default();
    crate::ui::info(&format!(
        "instance {}: project name {}, port {port}",
        inst.name,
        project.project(),
    ));
    let mut ictx = crate::commands::Ctx {
        settings: ctx.settings,
        project,
        runner: &mut *ctx.runner,
    };
    f(&mut ictx)
}

/// The project as a Kubernetes instance sees it: its namespace in `env_name`, the
/// release (and so the names of its services' objects) of the environment, the name
/// `PROJECT-INSTANCE` (its backups' names, in a shared bucket too) and its
/// `backup_schedule` for the scheduled backup.
pub fn kube_project(l: &Loaded, env_name: &str, inst: &Instance) -> Loaded {
    let mut project = l.clone();
    let release = l
        .config
        .deploy
        .as_ref()
        .and_then(|d| d.release.clone())
        .unwrap_or_else(|| l.project().to_owned());
    project
        .config
        .deploy
        .get_or_insert_with(Default::default)
        .release = Some(release);
    project.config.project.name = format!("{}-{}", l.project(), inst.name);
    if let Some(e) = project.config.env.get_mut(env_name) {
        e.namespace = Some(inst.namespace(l.project()));
        if let Some(s) = &inst.spec.backup_schedule {
            e.backup.get_or_insert_with(Default::default).schedule = Some(s.clone());
        }
    }
    project
}

/// The text of a new instance file (`lbc instance add`).
pub fn new_file(spec: &Spec) -> String {
    let mut s = String::from(
        "# An instance of the project (docs/instances.md): its own release, namespace,\n# host and values in each of its environments.\n",
    );
    s.push_str(&toml::to_string(spec).expect("an instance serializes"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(extra: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lbc.toml");
        fs_err::write(
            &path,
            format!(
                "[project]\nname = \"hello\"\n[env.production]\ncontext = \"c\"\nnamespace = \"hello-prod\"\ndomain = \"apps.example.com\"\n{extra}"
            ),
        )
        .unwrap();
        let mut l = crate::config::load(&path).unwrap();
        l.root = dir.path().to_owned();
        (dir, l)
    }

    fn write(dir: &Path, name: &str, text: &str) {
        fs_err::create_dir_all(dir.join(DIR)).unwrap();
        fs_err::write(dir.join(DIR).join(format!("{name}.toml")), text).unwrap();
    }

    /// #12: defaults (namespace PROJECT-NAME, host NAME.DOMAIN) and the values given
    /// to the chart (instance over environment, the image last).
    #[test]
    fn defaults_and_values() {
        let (dir, l) = project("set = { replicaCount = \"3\", \"a.b\" = \"env\" }\n");
        write(
            dir.path(),
            "acme",
            "backup_schedule = \"0 * * * *\"\n[set]\n\"a.b\" = \"acme\"\n",
        );
        let all = load(&l).unwrap();
        let acme = all.get("acme").unwrap();
        assert_eq!(acme.namespace("hello"), "hello-acme");
        let env = l.environment("production").unwrap();
        assert_eq!(acme.host(env).as_deref(), Some("acme.apps.example.com"));
        let v: serde_json::Value = serde_json::from_str(&acme.values(env, None, None)).unwrap();
        assert_eq!(v["a"]["b"], "acme");
        assert_eq!(v["replicaCount"], "3");
        assert_eq!(v["ingress"]["host"], "acme.apps.example.com");
        assert_eq!(v["backup"]["schedule"], "0 * * * *");
    }

    #[test]
    fn schedules() {
        for ok in [
            "0 * * * *",
            "*/15 2-4 1,15 jan mon-fri",
            "@hourly",
            "@daily",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
        for bad in ["hourly", "0 * * *", "0 * * * * *", "0 * * * $(x)", ""] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    /// #12: bad input names the file and line; an unknown instance lists the known ones.
    #[test]
    fn bad_instances_are_refused_with_file_and_line() {
        let (dir, l) = project("");
        write(
            dir.path(),
            "acme",
            "environments = [\"production\"]\nport = \"x\"\n",
        );
        let e = load(&l).unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e}");
        assert!(e.to_string().contains("acme.toml:2:"), "{e}");

        write(dir.path(), "acme", "environments = [\"nope\"]\n");
        let e = load(&l).unwrap_err().to_string();
        assert!(e.contains("acme.toml:1:") && e.contains("`nope`"), "{e}");

        write(dir.path(), "acme", "namespace = \"hello-prod\"\n");
        let e = load(&l).unwrap_err().to_string();
        assert!(e.contains("namespace of environment `production`"), "{e}");

        write(dir.path(), "acme", "namespace = \"shared\"\n");
        write(dir.path(), "beta", "\n\nnamespace = \"shared\"\n");
        let e = load(&l).unwrap_err().to_string();
        assert!(
            e.contains("beta.toml:3:") && e.contains("as instance `acme`"),
            "{e}"
        );

        fs_err::remove_file(dir.path().join("instances/beta.toml")).unwrap();
        write(dir.path(), "Bad_Name", "");
        let e = load(&l).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("not a valid instance name"), "{e}");

        fs_err::remove_file(dir.path().join("instances/Bad_Name.toml")).unwrap();
        write(dir.path(), "beta", "backup_schedule = \"hourly\"\n");
        let e = load(&l).unwrap_err().to_string();
        assert!(e.contains("five fields"), "{e}");

        write(dir.path(), "beta", "");
        let all = load(&l).unwrap();
        let e = all.get("gamma").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.hint(), Some("known instances: acme, beta"));
    }
}
